//! `foldstore verify`: read every commit and snapshot, and list every problem found.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use foldstore::{ChainCheckpoint, ChainReport, CheckpointPublicKey, Finding, Store, VerifyReport};
use serde_json::{json, Value};

use crate::cmd::gc::temporary_files;
use crate::output::{
    error_text, finding_text, findings_json, plural, printable, styled, write_finding, Palette,
};
use crate::progress::Progress;

/// What `verify --chain` checks beyond the plain verification.
#[derive(Debug)]
pub struct ChainArgs {
    /// A checkpoint file and the public key file of its signer.
    pub checkpoint: Option<(PathBuf, PathBuf)>,
}

/// Verifies `store` (and its chain, with `chain`) and prints what was found; status 1 when
/// it has problems.
///
/// # Errors
/// When the store cannot be listed, the output written, or (with a checkpoint) the
/// checkpoint or key cannot be read or the key did not sign the checkpoint.
pub fn run(store: &Store, json: bool, chain: Option<ChainArgs>) -> anyhow::Result<ExitCode> {
    let checkpoint = match chain.as_ref().and_then(|chain| chain.checkpoint.as_ref()) {
        Some((checkpoint, key)) => Some((
            ChainCheckpoint::read(checkpoint)?,
            CheckpointPublicKey::read(key)?,
        )),
        None => None,
    };
    let mut progress = Progress::new("verifying", 0);
    let update = |done, total| progress.update(done, total);
    let mut report = match (&chain, &checkpoint) {
        (_, Some((checkpoint, key))) => store.verify_chain_from(checkpoint, key, update)?,
        (Some(_), None) => store.verify_chain(update)?,
        (None, None) => store.verify(update)?,
    };
    drop(progress);
    if let Some(finding) = not_a_store(store, &report) {
        report.problems.push(finding);
    }
    report.warnings.extend(temporaries(store));
    let mut out = BufWriter::new(io::stdout().lock());
    if json {
        serde_json::to_writer(&mut out, &to_json(&report))?;
        out.write_all(b"\n")?;
    } else {
        write_text(&mut out, &report, &Palette::stdout())?;
        if let Some(chain) = &report.chain {
            write_chain(&mut out, chain, checkpoint.as_ref().map(|(c, _)| c))?;
        }
    }
    out.flush()?;
    Ok(if report.is_sound() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// What `verify --json` prints, found without showing progress.
///
/// # Errors
/// When the store cannot be listed.
pub fn report(store: &Store) -> anyhow::Result<Value> {
    let mut report = store.verify(|_, _| {})?;
    if let Some(finding) = not_a_store(store, &report) {
        report.problems.push(finding);
    }
    Ok(to_json(&report))
}

/// How many of a folder's other entries a finding names.
const NAMED_ENTRIES: usize = 3;

/// The finding for a folder that is most likely not a store: it holds no commit and no
/// snapshot (and nothing else wrong was found), but entries of other kinds, none of them
/// foldstore's own (its names start with `foldstore-` or `.foldstore-`). An empty folder is an
/// empty store.
fn not_a_store(store: &Store, report: &VerifyReport) -> Option<Finding> {
    let path = store.path()?;
    let empty = report.tip == 0 && report.sound_snapshots == 0;
    if !empty || !report.problems.is_empty() || !report.warnings.is_empty() {
        return None;
    }
    // A folder that cannot be listed has been reported by the verification already.
    let mut others: Vec<String> = std::fs::read_dir(path)
        .ok()?
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| !name.starts_with("foldstore-") && !name.starts_with(".foldstore-"))
        .collect();
    if others.is_empty() {
        return None;
    }
    others.sort();
    let mut named = others[..others.len().min(NAMED_ENTRIES)].join(", ");
    if others.len() > NAMED_ENTRIES {
        named.push_str(", ...");
    }
    Some(Finding {
        location: path.display().to_string(),
        problem: format!(
            "is most likely not a store: it holds no commits and no snapshots, but {} other {} ({named}); check the path",
            others.len(),
            if others.len() == 1 { "entry" } else { "entries" }
        ),
    })
}

/// A warning for each temporary file in a folder store: a write at work, or a leftover of one
/// that stopped (a killed `copy`, a crash), which `foldstore gc` removes.
fn temporaries(store: &Store) -> Vec<Finding> {
    let Some(path) = store.path() else {
        return Vec::new();
    };
    let found = match temporary_files(path) {
        Ok(found) => found,
        Err(e) => {
            return vec![Finding {
                location: path.display().to_string(),
                problem: format!("cannot be searched for temporary files: {}", error_text(&e)),
            }]
        }
    };
    found
        .into_iter()
        .map(|temporary| {
            let problem = if temporary.is_stale() {
                format!(
                    "is a {}; 'foldstore gc --apply' removes it",
                    temporary.why()
                )
            } else {
                "is a temporary file less than an hour old: a write at work, or one that \
                 stopped (a killed 'copy' leaves such files); 'foldstore gc --apply' removes \
                 it once it is an hour old"
                    .to_owned()
            };
            Finding {
                location: temporary.path.display().to_string(),
                problem,
            }
        })
        .collect()
}

/// The chain's summary line of `verify --chain`.
fn write_chain(
    out: &mut dyn Write,
    chain: &ChainReport,
    checkpoint: Option<&ChainCheckpoint>,
) -> io::Result<()> {
    let Some(start) = chain.started else {
        return Ok(());
    };
    write!(
        out,
        "chain: {} from commit {start}",
        plural(chain.chained, "commit")
    )?;
    match (&chain.broken, &chain.last) {
        (Some(broken), _) => write!(out, ", broken at commit {}", broken.commit)?,
        (None, Some((last, hash))) => write!(out, " linked; commit {last} hashes to {hash}")?,
        (None, None) => {}
    }
    if let (Some(checkpoint), None) = (checkpoint, &chain.broken) {
        write!(
            out,
            "; extends the checkpoint of commit {} taken at {}",
            checkpoint.commit,
            printable(&checkpoint.time)
        )?;
    }
    writeln!(out)
}

fn chain_json(chain: &ChainReport) -> Value {
    json!({
        "started": chain.started,
        "chained": chain.chained,
        "last": chain.last.map(|(commit, hash)| json!({"commit": commit, "hash": hash.to_string()})),
        "broken": chain.broken.as_ref().map(|broken| json!({
            "commit": broken.commit,
            "location": broken.location,
            "kind": broken.kind.name(),
            "problem": broken.problem,
        })),
    })
}

fn to_json(report: &VerifyReport) -> Value {
    let mut value = to_json_plain(report);
    if let (Some(chain), Some(object)) = (&report.chain, value.as_object_mut()) {
        object.insert("chain".to_owned(), chain_json(chain));
    }
    value
}

fn to_json_plain(report: &VerifyReport) -> Value {
    json!({
        "sound": report.is_sound(),
        "tip": report.tip,
        "sound_commits": report.sound_commits,
        "events": report.events,
        "sound_snapshots": report.sound_snapshots,
        "log_start": report.log_start,
        "problems": findings_json(&report.problems),
        "warnings": findings_json(&report.warnings),
    })
}

fn write_text(out: &mut dyn Write, report: &VerifyReport, p: &Palette) -> io::Result<()> {
    for finding in &report.problems {
        writeln!(out, "{}", finding_text(finding, p.bad))?;
    }
    for finding in &report.warnings {
        write_finding(out, p.warn, "warning:", finding)?;
    }
    let mut summary = format!(
        "{} ({}) and {} read",
        plural(report.sound_commits, "commit"),
        plural(report.events, "event"),
        plural(report.sound_snapshots, "snapshot")
    );
    if report.log_start > 1 {
        summary.push_str(&format!(
            " (the log starts at commit {}: those before are archived, and were checked when archived)",
            report.log_start
        ));
    }
    if report.is_sound() {
        writeln!(
            out,
            "{} {summary}; the store is sound",
            styled(p.good, "ok:")
        )
    } else {
        writeln!(
            out,
            "{} {summary} without problems",
            styled(
                p.bad,
                format!("{} found;", plural(report.problems.len() as u64, "problem"))
            )
        )
    }
}
