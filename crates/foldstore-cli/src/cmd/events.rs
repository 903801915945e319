//! `foldstore events`: every event as one JSON line, with filters.

use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use foldstore::{Commit, Event, Store};
use serde_json::{Map, Value};

use crate::access::resolve_range;
use crate::cli::RangeArgs;
use crate::filter::Selection;
use crate::output::{stdout_is_a_file, write_pretty_json, Palette};
use crate::progress::Progress;

/// Prints the events of the commits in `range` that `selection` selects, one JSON line each
/// (or indented JSON when `pretty`).
///
/// # Errors
/// A range beyond the log; a damaged or missing commit (after printing what precedes it).
pub fn run(
    store: &Store,
    range: RangeArgs,
    selection: &Selection,
    pretty: bool,
) -> anyhow::Result<ExitCode> {
    let (from, to) = resolve_range(store, range)?;
    let mut replay = store.replay().from(from);
    if let Some(to) = to {
        replay = replay.to(to);
    }
    let palette = if pretty {
        Palette::stdout()
    } else {
        Palette::default()
    };
    let last = to.unwrap_or(store.tip()?);
    let mut progress = Progress::when(
        stdout_is_a_file(),
        "reading",
        (last + 1).saturating_sub(from),
    );
    let mut out = BufWriter::new(io::stdout().lock());
    for commit in replay.commits() {
        let commit = commit?;
        progress.inc();
        if !selection.time_matches(&commit) {
            continue;
        }
        for event in commit.events() {
            if !selection.name_matches(event) {
                continue;
            }
            let line = event_line(&commit, event);
            if pretty {
                write_pretty_json(&mut out, &line, &palette, 0)?;
            } else {
                serde_json::to_writer(&mut out, &line)?;
            }
            out.write_all(b"\n")?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// One line of `foldstore events`: the commit number and headers, then the event's members.
pub fn event_line(commit: &Commit, event: &Event) -> Value {
    let mut line = Map::new();
    line.insert("commit".into(), commit.number().into());
    line.insert("headers".into(), Value::Object(commit.headers().clone()));
    line.insert("name".into(), event.name().into());
    if let Some(data) = event.data() {
        line.insert("data".into(), data.clone());
    }
    for (key, value) in event.extra() {
        line.entry(key.clone()).or_insert_with(|| value.clone());
    }
    Value::Object(line)
}
