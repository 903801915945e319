//! `foldstore copy`: a whole store, byte for byte, into another folder; resumable.

use std::collections::BTreeSet;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context};
use foldstore::{Durability, Error, Layout, Snapshot, Storage, Store};
use serde_json::json;

use crate::access::{open_existing, read_raw_commit, RawCommit};
use crate::cli::LayoutArg;
use crate::output::{human_size, plural, styled, Palette};
use crate::progress::Progress;

/// What a copy did.
#[derive(Debug, Default)]
struct CopyReport {
    /// The last commit of the source when the copy started (later ones are not copied).
    tip: u64,
    commits_copied: u64,
    commits_present: u64,
    snapshots_copied: u64,
    snapshots_present: u64,
    bytes_copied: u64,
    /// With `--force`: commits missing from the source, left missing.
    gaps: Vec<u64>,
    /// With `--force`: damaged files copied as they are.
    damaged: Vec<String>,
}

/// Copies the store at `from` into the folder `to`.
///
/// # Errors
/// A missing source; a destination that is the source, is not a folder, has other bytes for a
/// commit or snapshot, or has commits beyond the source's end; damage in the source (unless
/// `force`); I/O errors.
pub fn run(
    from: &Path,
    to: &Path,
    force: bool,
    json: bool,
    layout: Option<LayoutArg>,
) -> anyhow::Result<ExitCode> {
    let source = open_existing(from)?;
    // Without --layout: an existing destination keeps its own; a new one takes the source's.
    let layout = match layout {
        Some(layout) => Layout::from(layout),
        None => Layout::detect(to)?
            .or(Layout::detect(from)?)
            .unwrap_or_default(),
    };
    // Written without a sync per commit, and synced as a whole at the end: a copy that stops
    // half way is resumed by running it again.
    let destination = Store::builder(to)
        .layout(layout)
        .durability(Durability::None)
        .open()?;
    let destination = destination.storage();
    if let (Ok(a), Ok(b)) = (from.canonicalize(), to.canonicalize()) {
        if a == b {
            bail!(
                "{} and {} are the same folder: nothing to copy",
                from.display(),
                to.display()
            );
        }
    }
    let report = copy_store(&source, destination, force)?;
    destination.sync_all()?;
    let mut out = BufWriter::new(io::stdout().lock());
    if json {
        let value = json!({
            "from": from.display().to_string(),
            "to": to.display().to_string(),
            "tip": report.tip,
            "commits_copied": report.commits_copied,
            "commits_present": report.commits_present,
            "snapshots_copied": report.snapshots_copied,
            "snapshots_present": report.snapshots_present,
            "bytes_copied": report.bytes_copied,
            "gaps": report.gaps,
            "damaged_copied": report.damaged,
        });
        serde_json::to_writer(&mut out, &value)?;
        out.write_all(b"\n")?;
    } else {
        write_text(&mut out, &report, from, to, &Palette::stdout())?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Copies every commit (1 to the source's tip) and then every snapshot of `source` into
/// `destination`, skipping those already there with the same bytes. Works on any two
/// backends: it moves bytes through the [`Storage`] trait only.
fn copy_store(
    source: &Store,
    destination: &dyn Storage,
    force: bool,
) -> anyhow::Result<CopyReport> {
    let from = source.storage();
    let listing = from.list()?;
    let there = destination.list()?;
    let tip = listing.commits.last().copied().unwrap_or(0);
    if let Some(&beyond) = there.commits.iter().find(|&&n| n > tip) {
        bail!(
            "{} exists, but the log of the store being copied ends at commit {tip}: the destination is not a copy of it (copy into an empty folder, or move the destination aside); nothing was copied",
            destination.commit_location(beyond)
        );
    }
    destination.ensure_created()?;
    let mut report = CopyReport {
        tip,
        ..CopyReport::default()
    };
    let mut progress = Progress::new("copying", tip + listing.snapshots.len() as u64);
    let present: BTreeSet<u64> = listing.commits.iter().copied().collect();
    let already: BTreeSet<u64> = there.commits.iter().copied().collect();
    for number in 1..=tip {
        progress.inc();
        let location = from.commit_location(number);
        if !present.contains(&number) {
            if !force {
                return Err(Error::MissingCommit {
                    commit: number,
                    location,
                    next: tip,
                })
                .context(stopped(number));
            }
            report.gaps.push(number);
            continue;
        }
        let Some(RawCommit { bytes, commit }) = read_raw_commit(source, number)? else {
            bail!("{location} disappeared while being copied");
        };
        if let Err(e) = commit {
            if !force {
                return Err(e).context(stopped(number));
            }
            report.damaged.push(location.clone());
        }
        let created = if already.contains(&number) {
            Err(foldstore::Conflict { commit: number })
        } else {
            destination.create_commit(number, &bytes)?
        };
        match created {
            Ok(()) => {
                report.commits_copied += 1;
                report.bytes_copied += bytes.len() as u64;
            }
            Err(_) => {
                let theirs = destination.read_commit(number)?;
                same_bytes(
                    &bytes,
                    theirs.as_deref(),
                    &location,
                    &destination.commit_location(number),
                )?;
                report.commits_present += 1;
            }
        }
    }
    let snapshots_there: BTreeSet<&(String, u64)> = there.snapshots.iter().collect();
    for key in &listing.snapshots {
        let (name, commit) = (key.0.as_str(), key.1);
        progress.inc();
        let location = from.snapshot_location(name, commit);
        let Some(bytes) = from.read_snapshot(name, commit)? else {
            bail!("{location} disappeared while being copied");
        };
        let problem = match Snapshot::decode(name, commit, &bytes) {
            Err(e) => Some(format!("snapshot {location} {}", e.problem())),
            Ok(_) if commit > tip => Some(format!(
                "snapshot {location} is labelled with commit {commit}, but the log ends at commit {tip}"
            )),
            Ok(_) => None,
        };
        if let Some(problem) = problem {
            if !force {
                bail!("{problem}; every commit is in the destination, and the snapshots listed before this one (use --force to copy damaged files as they are)");
            }
            report.damaged.push(location.clone());
        }
        let created = if snapshots_there.contains(key) {
            Err(foldstore::Conflict { commit })
        } else {
            destination.create_snapshot(name, commit, &bytes)?
        };
        match created {
            Ok(()) => {
                report.snapshots_copied += 1;
                report.bytes_copied += bytes.len() as u64;
            }
            Err(_) => {
                let theirs = destination.read_snapshot(name, commit)?;
                same_bytes(
                    &bytes,
                    theirs.as_deref(),
                    &location,
                    &destination.snapshot_location(name, commit),
                )?;
                report.snapshots_present += 1;
            }
        }
    }
    Ok(report)
}

/// What the error of a copy stopped at commit `number` adds.
fn stopped(number: u64) -> String {
    format!(
        "the copy stopped at commit {number}: the commits before it are in the destination, nothing after it was copied (use --force to copy damaged files as they are)"
    )
}

/// Checks that the destination holds the same bytes as the source.
fn same_bytes(
    ours: &[u8],
    theirs: Option<&[u8]>,
    source: &str,
    destination: &str,
) -> anyhow::Result<()> {
    match theirs {
        Some(theirs) if theirs == ours => Ok(()),
        Some(theirs) => bail!(
            "{destination} holds other bytes than {source} ({} bytes there, {} here): copy never overwrites; move the destination aside and copy again",
            theirs.len(),
            ours.len()
        ),
        None => bail!("{destination} was there and then disappeared during the copy; copy again"),
    }
}

fn write_text(
    out: &mut dyn Write,
    report: &CopyReport,
    from: &Path,
    to: &Path,
    p: &Palette,
) -> io::Result<()> {
    writeln!(
        out,
        "{} {} and {} ({}) from {} to {}",
        styled(p.good, "copied"),
        plural(report.commits_copied, "commit"),
        plural(report.snapshots_copied, "snapshot"),
        human_size(report.bytes_copied),
        from.display(),
        to.display()
    )?;
    if report.commits_present + report.snapshots_present > 0 {
        writeln!(
            out,
            "{} and {} were there already, with the same bytes",
            plural(report.commits_present, "commit"),
            plural(report.snapshots_present, "snapshot")
        )?;
    }
    if !report.gaps.is_empty() {
        let gaps: Vec<String> = report.gaps.iter().map(u64::to_string).collect();
        writeln!(
            out,
            "{} missing from the source, left missing: {}",
            styled(p.warn, "warning:"),
            gaps.join(", ")
        )?;
    }
    for location in &report.damaged {
        writeln!(
            out,
            "{} {location} is damaged; copied as it is",
            styled(p.warn, "warning:")
        )?;
    }
    Ok(())
}
