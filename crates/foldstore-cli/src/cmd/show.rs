//! `foldstore show`: one commit, for people (or as its JSON document).

use std::io::{self, BufWriter, IsTerminal, Write};
use std::process::ExitCode;

use anstyle::Style;
use anyhow::bail;
use foldstore::{Commit, Error, Store};
use serde_json::{json, Value};

use crate::access::read_once;
use crate::cli::{BadCommandLine, CommitArg, Commits};
use crate::output::{
    header_text, human_size, plural, printable, styled, write_pretty_json, Palette,
};

/// Prints the commits `commits` names: each one's file, size, headers and events with their
/// data pretty-printed, or with `json` each commit document on one line, or with `raw` the
/// bytes stored for one commit.
///
/// # Errors
/// A commit beyond the log (or before its start, counting from the end), missing (a gap) or
/// damaged; a range that starts beyond the commit after the log's end; `raw` with a range, or
/// a backwards range ([`BadCommandLine`]).
pub fn run(store: &Store, commits: Commits, json: bool, raw: bool) -> anyhow::Result<ExitCode> {
    let (first, last) = match commits {
        Commits::One(commit) => {
            let number = one(store, commit)?;
            if raw {
                return write_raw(store, number);
            }
            (number, number)
        }
        Commits::Range(..) if raw => {
            return Err(
                BadCommandLine("--raw shows one commit: name one, not a range".to_owned()).into(),
            )
        }
        Commits::Range(from, to) => match range(store, from, to)? {
            Some(range) => range,
            None => return Ok(ExitCode::SUCCESS),
        },
    };
    let mut out = BufWriter::new(io::stdout().lock());
    let palette = Palette::stdout();
    let mut shown = 0u64;
    for scanned in store.raw_commits(first..=last)? {
        // A range with an end never ends quietly: a commit missing is an error.
        let Some((commit, bytes)) = read_once(store, scanned, Some(last))? else {
            break;
        };
        if json {
            let events: Vec<Value> = commit.events().iter().map(|e| e.to_value()).collect();
            serde_json::to_writer(
                &mut out,
                &json!({"headers": commit.headers(), "events": events}),
            )?;
            out.write_all(b"\n")?;
        } else {
            if commit.number() > first {
                writeln!(out)?;
            }
            write_commit(&mut out, store, &commit, bytes, &palette)?;
        }
        shown += 1;
    }
    out.flush()?;
    // A scan that found nothing at all: the one commit named is beyond the log.
    if shown == 0 && matches!(commits, Commits::One(_)) {
        return Err(Error::OutOfRange {
            requested: first,
            tip: store.tip()?,
        }
        .into());
    }
    Ok(ExitCode::SUCCESS)
}

/// The number of one commit named on the command line.
///
/// # Errors
/// `-N` before the start of the log.
fn one(store: &Store, commit: CommitArg) -> anyhow::Result<u64> {
    match commit {
        CommitArg::Number(number) => Ok(number),
        CommitArg::FromEnd(back) => {
            let tip = store.tip()?;
            if back > tip {
                bail!(
                    "there is no commit -{back}: the log holds {}",
                    plural(tip, "commit")
                );
            }
            Ok(tip - back + 1)
        }
    }
}

/// The first and last commit of a range, as `log --from --to` takes them (an end beyond the
/// log cut at the end, a start counted back beyond the log's start cut at commit 1); `None`
/// when the range holds no commit of the log.
///
/// # Errors
/// A backwards range ([`BadCommandLine`]); a start beyond the commit after the end of the log
/// ([`Error::OutOfRange`]).
fn range(
    store: &Store,
    from: Option<CommitArg>,
    to: Option<CommitArg>,
) -> anyhow::Result<Option<(u64, u64)>> {
    let tip = store.tip()?;
    // Counted from the end: -1 is the tip, and -N beyond the start is before commit 1 (0).
    let resolve = |commit: CommitArg| match commit {
        CommitArg::Number(number) => number,
        CommitArg::FromEnd(back) => tip.saturating_add(1).saturating_sub(back),
    };
    let first = from.map_or(1, resolve);
    let last = to.map_or(tip, resolve);
    if from.is_some() && to.is_some() && last < first {
        return Err(BadCommandLine(format!(
            "the range ends at commit {last}, before its start at commit {first}: it holds no commit"
        ))
        .into());
    }
    let first = first.max(1);
    if first > tip.saturating_add(1) {
        return Err(Error::OutOfRange {
            requested: first,
            tip,
        }
        .into());
    }
    let last = last.min(tip);
    Ok((first <= last).then_some((first, last)))
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
