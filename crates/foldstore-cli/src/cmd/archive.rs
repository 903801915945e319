//! `foldstore archive`: moving old commits into an archive (`Store::archive`); a dry run
//! unless asked to apply, with progress on long work.

use std::path::Path;
use std::process::ExitCode;

use foldstore::{ArchiveOptions, ArchiveReport, ArchiveStage, ArchiveUpTo, Store};
use serde_json::json;

use crate::output::{human_size, plural, printable};
use crate::progress::Progress;

/// What to archive, and how.
pub struct Request<'a> {
    pub to: &'a Path,
    pub up_to: ArchiveUpTo,
    pub apply: bool,
    pub unreadable_by_original: bool,
    pub json: bool,
}

/// Archives (or, without `apply`, says what it would archive) and prints the report.
///
/// # Errors
/// Those of [`Store::archive`]: nothing in the store is changed then.
pub fn run(store: &Store, request: Request<'_>) -> anyhow::Result<ExitCode> {
    let options = ArchiveOptions::at(request.to, request.up_to)?
        .dry_run(!request.apply)
        .unreadable_by_original(request.unreadable_by_original);
    let mut bar: Option<(ArchiveStage, Progress)> = None;
    let report = store.archive(&options, |stage, done, total| {
        if bar.as_ref().is_none_or(|(shown, _)| *shown != stage) {
            let message = match stage {
                ArchiveStage::Looking => "looking for the commits before the time",
                ArchiveStage::Writing => "archiving",
                ArchiveStage::Checking => "checking the archive",
                _ => "removing archived commits",
            };
            bar = Some((stage, Progress::when(!request.json, message, total)));
        }
        if let Some((_, progress)) = bar.as_mut() {
            progress.update(done, total);
        }
    })?;
    drop(bar);
    print(&report, request.to, request.json);
    Ok(ExitCode::SUCCESS)
}

fn print(report: &ArchiveReport, to: &Path, json: bool) {
    let archive = to.to_string_lossy();
    let commits = if report.last >= report.first && report.last > 0 {
        report.last - report.first + 1
    } else {
        0
    };
    if json {
        let value = json!({
            "dryRun": report.dry_run,
            "archive": archive,
            "first": report.first,
            "last": report.last,
            "commits": commits,
            "documentBytes": report.document_bytes,
            "chunks": report.chunks,
            "logStart": report.start,
            "removed": report.removed,
            "olderSnapshots": report.older_snapshots.iter().map(|(name, commit)| json!({"model": name, "commit": commit})).collect::<Vec<_>>(),
        });
        println!("{value}");
        return;
    }
    let archive = printable(&archive);
    if report.last == 0 {
        println!(
            "nothing to archive: the log starts at commit {}, and nothing older is asked for (the last commit always stays){}",
            report.start,
            if report.removed > 0 {
                format!("; removed {} a crash left behind", plural(report.removed, "archived commit"))
            } else {
                String::new()
            }
        );
        return;
    }
    for (name, commit) in &report.older_snapshots {
        eprintln!(
            "warning: the newest snapshot of model {} is at commit {commit}, before commit {}: it will need the archive to open (save a newer snapshot first)",
            printable(name),
            report.last
        );
    }
    if report.dry_run {
        println!(
            "would archive commits {} to {} ({}, {}) into {archive}; the log would start at commit {}",
            report.first,
            report.last,
            plural(commits, "commit"),
            human_size(report.document_bytes),
            report.start
        );
        println!("nothing was written: run again with --apply to archive");
    } else {
        println!(
            "archived commits {} to {} ({}, {}, in {}) into {archive}, checked; the log starts at commit {}; removed {} from the store",
            report.first,
            report.last,
            plural(commits, "commit"),
            human_size(report.document_bytes),
            plural(report.chunks as u64, "chunk"),
            report.start,
            plural(report.removed, "commit"),
        );
        println!("models open from their snapshots; read older commits with --archive {archive}");
    }
}
