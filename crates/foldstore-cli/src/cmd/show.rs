//! `foldstore show`: one commit, for people (or as its JSON document).

use std::io::{self, BufWriter, IsTerminal, Write};
use std::process::ExitCode;

use anstyle::Style;
use anyhow::bail;
use foldstore::{Commit, Error, Store};
use serde_json::{json, Value};

use crate::access::read_once;
use crate::cli::CommitArg;
use crate::output::{
    header_text, human_size, plural, printable, styled, write_pretty_json, Palette,
};

/// Prints the commit `commit` names: its file, size, headers and events with their data
/// pretty-printed, or with `json` the commit document on one line, or with `raw` the bytes
/// stored.
///
/// # Errors
/// A commit beyond the log (or before its start, counting from the end), missing (a gap) or
/// damaged.
pub fn run(store: &Store, commit: CommitArg, json: bool, raw: bool) -> anyhow::Result<ExitCode> {
    let number = match commit {
        CommitArg::Number(number) => number,
        CommitArg::FromEnd(back) => {
            let tip = store.tip()?;
            if back > tip {
                bail!(
                    "there is no commit -{back}: the log holds {}",
                    plural(tip, "commit")
                );
            }
            tip - back + 1
        }
    };
    if raw {
        return write_raw(store, number);
    }
    let found = match store.raw_commits(number..=number)?.next() {
        Some(scanned) => read_once(store, scanned, Some(number))?,
        None => None,
    };
    // A range with an end never ends quietly: this is only for a scan that found nothing.
    let Some((commit, bytes)) = found else {
        return Err(Error::OutOfRange {
            requested: number,
            tip: store.tip()?,
        }
        .into());
    };
    let mut out = BufWriter::new(io::stdout().lock());
    if json {
        let events: Vec<Value> = commit.events().iter().map(|e| e.to_value()).collect();
        serde_json::to_writer(
            &mut out,
            &json!({"headers": commit.headers(), "events": events}),
        )?;
        out.write_all(b"\n")?;
    } else {
        write_commit(&mut out, store, &commit, bytes, &Palette::stdout())?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Writes the bytes stored for commit `number`, whatever they hold (a damaged commit too):
/// exactly, or on a terminal as text with control characters escaped and a final newline.
///
/// # Errors
/// A commit that does not exist (beyond the log, or a gap); errors of reading.
fn write_raw(store: &Store, number: u64) -> anyhow::Result<ExitCode> {
    let Some(bytes) = store.storage().read_commit(number)? else {
        let tip = store.tip()?;
        if number < tip {
            return Err(Error::MissingCommit {
                commit: number,
                location: store.storage().commit_location(number),
                next: tip,
            }
            .into());
        }
        return Err(Error::OutOfRange {
            requested: number,
            tip,
        }
        .into());
    };
    let mut out = io::stdout().lock();
    if out.is_terminal() {
        writeln!(out, "{}", printable(&String::from_utf8_lossy(&bytes)))?;
    } else {
        out.write_all(&bytes)?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn write_commit(
    out: &mut dyn Write,
    store: &Store,
    commit: &Commit,
    bytes: u64,
    p: &Palette,
) -> io::Result<()> {
    let events = commit.events();
    writeln!(
        out,
        "{} {}  {}",
        styled(p.label, "commit"),
        styled(p.commit, commit.number()),
        styled(
            p.dim,
            format!(
                "{}, {}, {}",
                printable(&store.storage().commit_location(commit.number())),
                human_size(bytes),
                plural(events.len() as u64, "event")
            )
        ),
    )?;
    let width = commit
        .headers()
        .keys()
        .map(|key| printable(key).chars().count())
        .max()
        .unwrap_or(0);
    for (key, value) in commit.headers() {
        let style = if key == "time" {
            p.time
        } else {
            Style::default()
        };
        writeln!(
            out,
            "  {} {}",
            styled(
                p.label,
                format!(
                    "{:<width$}",
                    format!("{}:", printable(key)),
                    width = width + 1
                )
            ),
            styled(style, header_text(value)),
        )?;
    }
    if commit.headers().is_empty() {
        writeln!(out, "  {}", styled(p.dim, "(no headers)"))?;
    }
    for (index, event) in events.iter().enumerate() {
        writeln!(out)?;
        writeln!(
            out,
            "{} {}",
            styled(p.dim, format!("#{}", index + 1)),
            styled(p.name, printable(event.name()))
        )?;
        match event.data() {
            Some(data) => {
                write!(out, "  ")?;
                write_pretty_json(out, data, p, 2)?;
                writeln!(out)?;
            }
            None => writeln!(out, "  {}", styled(p.dim, "(no data)"))?,
        }
        for (key, value) in event.extra() {
            write!(out, "  {} ", styled(p.key, format!("{}:", printable(key))))?;
            write_pretty_json(out, value, p, 2)?;
            writeln!(out)?;
        }
    }
    Ok(())
}
