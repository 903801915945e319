//! `foldstore snapshots`: each model's snapshots, with their commit, time and size.

use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use foldstore::{Snapshot, Store};
use serde_json::{json, Value};

use crate::output::{header_text, human_size, plural, printable, styled, Palette};

/// One snapshot file, as listed.
#[derive(Debug)]
struct Entry {
    model: String,
    commit: u64,
    location: String,
    bytes: u64,
    time: Option<Value>,
    /// Whether it has a `snapshot` member (models skip those that have none).
    has_data: bool,
    /// What is wrong with it, when it cannot be used.
    problem: Option<String>,
}

/// Lists the snapshots of every model of `store`.
///
/// # Errors
/// When the store cannot be listed, or the output written. Damaged snapshots are listed, with
/// status 1.
pub fn run(store: &Store, json: bool) -> anyhow::Result<ExitCode> {
    let (entries, tip) = entries(store)?;
    let mut out = BufWriter::new(io::stdout().lock());
    if json {
        serde_json::to_writer(&mut out, &to_json(&entries))?;
        out.write_all(b"\n")?;
    } else {
        write_text(&mut out, &entries, tip, &Palette::stdout())?;
    }
    out.flush()?;
    Ok(if entries.iter().any(|e| e.problem.is_some()) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// What `foldstore snapshots --json` prints.
///
/// # Errors
/// When the store cannot be listed.
pub fn report(store: &Store) -> anyhow::Result<Value> {
    Ok(to_json(&entries(store)?.0))
}

/// Every snapshot of the store, read and checked, and the log's last commit.
fn entries(store: &Store) -> anyhow::Result<(Vec<Entry>, u64)> {
    let storage = store.storage();
    let listing = storage.list()?;
    let tip = listing.commits.last().copied().unwrap_or(0);
    let mut entries = Vec::new();
    for (model, commit) in listing.snapshots {
        let location = storage.snapshot_location(&model, commit);
        let mut entry = Entry {
            model,
            commit,
            location,
            bytes: 0,
            time: None,
            has_data: false,
            problem: None,
        };
        match storage.read_snapshot(&entry.model, commit) {
            Ok(Some(bytes)) => {
                entry.bytes = bytes.len() as u64;
                match Snapshot::decode(&entry.model, commit, &bytes) {
                    Ok(snapshot) => {
                        entry.time = snapshot.headers.get("time").cloned();
                        entry.has_data = snapshot.data.is_some();
                        if commit > tip {
                            entry.problem = Some(format!(
                                "is labelled with commit {commit}, but the log ends at commit {tip}"
                            ));
                        }
                    }
                    Err(e) => entry.problem = Some(e.problem().to_owned()),
                }
            }
            // Removed since the listing: not there any more.
            Ok(None) => continue,
            Err(e) => entry.problem = Some(e.to_string()),
        }
        entries.push(entry);
    }
    Ok((entries, tip))
}

/// The entries grouped by model, in the listing's order (by name, then commit).
fn by_model(entries: &[Entry]) -> Vec<(&str, Vec<&Entry>)> {
    let mut models: Vec<(&str, Vec<&Entry>)> = Vec::new();
    for entry in entries {
        match models.last_mut() {
            Some((name, list)) if *name == entry.model => list.push(entry),
            _ => models.push((&entry.model, vec![entry])),
        }
    }
    models
}

fn to_json(entries: &[Entry]) -> Value {
    let models: Vec<Value> = by_model(entries)
        .into_iter()
        .map(|(name, list)| {
            let snapshots: Vec<Value> = list
                .into_iter()
                .map(|e| {
                    json!({
                        "commit": e.commit,
                        "time": e.time,
                        "bytes": e.bytes,
                        "location": e.location,
                        "has_data": e.has_data,
                        "problem": e.problem,
                    })
                })
                .collect();
            json!({"name": name, "snapshots": snapshots})
        })
        .collect();
    json!({ "models": models })
}

fn write_text(out: &mut dyn Write, entries: &[Entry], tip: u64, p: &Palette) -> io::Result<()> {
    if entries.is_empty() {
        return writeln!(out, "no snapshots");
    }
    let width = entries
        .iter()
        .map(|e| e.commit.to_string().len())
        .max()
        .unwrap_or(1)
        .max("COMMIT".len());
    let time_width = "2026-11-27T15:03:30.380Z".len();
    let size_width = "1023.9 KiB".len();
    for (index, (model, list)) in by_model(entries).into_iter().enumerate() {
        if index > 0 {
            writeln!(out)?;
        }
        writeln!(out, "{}", styled(p.name, printable(model)))?;
        writeln!(
            out,
            "  {}  {}  {}",
            styled(p.label, format!("{:>width$}", "COMMIT")),
            styled(p.label, format!("{:<time_width$}", "TIME")),
            styled(p.label, format!("{:>size_width$}", "SIZE")),
        )?;
        for e in list {
            let time = e.time.as_ref().map_or_else(|| "-".to_owned(), header_text);
            write!(
                out,
                "  {}  {}  {}",
                styled(p.commit, format!("{:>width$}", e.commit)),
                styled(p.time, format!("{time:<time_width$}")),
                styled(p.dim, format!("{:>size_width$}", human_size(e.bytes))),
            )?;
            if let Some(problem) = &e.problem {
                write!(
                    out,
                    "  {}",
                    styled(
                        p.bad,
                        format!("{}: {}", printable(&e.location), printable(problem))
                    )
                )?;
            } else if !e.has_data {
                write!(
                    out,
                    "  {}",
                    styled(p.warn, "no `snapshot` member: models skip it")
                )?;
            } else if e.commit < tip {
                write!(
                    out,
                    "  {}",
                    styled(
                        p.dim,
                        format!("{} behind", plural(tip - e.commit, "commit"))
                    )
                )?;
            }
            writeln!(out)?;
        }
    }
    Ok(())
}
