//! `foldstore events`: every event as one JSON line, with filters; by name or tag through the
//! store's event index.

use std::io::{self, BufWriter, StdoutLock, Write};
use std::process::ExitCode;

use foldstore::{Event, Headers, Query, Store};
use serde_json::{Map, Value};

use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::access::{resolve_range, Backwards};
use crate::cli::RangeArgs;
use crate::cmd::tail::{follow_log, stop_on_ctrl_c, POLL_INTERVAL};
use crate::condition::lookup;
use crate::filter::Selection;
use crate::output::{
    escape_json, header_text, printable, stdout_is_a_file, write_pretty_json, Palette,
};
use crate::progress::Progress;
use crate::template::{write_csv_record, Template};

/// Prints the events of the commits in `range` that `selection` selects, one JSON line each
/// (or indented JSON, tab- or comma-separated values, or lines of a template, as `style`
/// says), oldest first (with `reverse`: newest first, the last event of the last commit
/// first). With a `query` (names or tags given), only the events it
/// matches, read through [`Store::events_matching`]; without one, every event of the range.
///
/// # Errors
/// A range beyond the log; a damaged or missing commit (after printing what precedes it, when
/// reading the whole range).
pub fn run(
    store: &Store,
    range: RangeArgs,
    selection: &Selection,
    query: Option<&Query>,
    style: Style,
    follow: bool,
    reverse: bool,
) -> anyhow::Result<ExitCode> {
    let (from, to) = resolve_range(store, range)?;
    let mut lines = Lines::new(style)?;
    if to.is_some_and(|to| to < from) {
        // `--from` one past the end, and `--to` cut there: nothing to print.
        return Ok(ExitCode::SUCCESS);
    }
    if follow {
        follow_events(store, from, selection, query, &mut lines)?;
        return Ok(ExitCode::SUCCESS);
    }
    match query {
        Some(query) if reverse => {
            // The index answers oldest first: every match is gathered, then turned round.
            let mut matches = Vec::new();
            for matched in store.events_matching(query, from - 1)? {
                if to.is_some_and(|to| matched.commit > to) {
                    break;
                }
                if selection.headers_match(&matched.headers)
                    && selection.event_matches(matched.commit, &matched.headers, &matched.event)
                {
                    matches.push(matched);
                }
            }
            for matched in matches.iter().rev() {
                if selection.limit_reached(lines.printed) {
                    break;
                }
                lines.write(matched.commit, &matched.headers, &matched.event)?;
            }
        }
        Some(query) => {
            // Commit `from - 1` is the position read: the events after it.
            for matched in store.events_matching(query, from - 1)? {
                if to.is_some_and(|to| matched.commit > to)
                    || selection.limit_reached(lines.printed)
                {
                    break;
                }
                // The index matches names by the original's rule; --exact-names narrows it.
                if selection.headers_match(&matched.headers)
                    && selection.event_matches(matched.commit, &matched.headers, &matched.event)
                {
                    lines.write(matched.commit, &matched.headers, &matched.event)?;
                }
            }
        }
        None if reverse => {
            let last = to.unwrap_or(store.tip()?);
            'newest: for found in Backwards::new(store, from, last) {
                let (commit, _) = found?;
                if !selection.commit_headers_match(&commit) {
                    continue;
                }
                for event in commit.events().iter().rev() {
                    if selection.limit_reached(lines.printed) {
                        break 'newest;
                    }
                    if selection.event_matches(commit.number(), commit.headers(), event) {
                        lines.write(commit.number(), commit.headers(), event)?;
                    }
                }
            }
        }
        None => {
            let mut replay = store.replay().from(from);
            if let Some(to) = to {
                replay = replay.to(to);
            }
            let last = to.unwrap_or(store.tip()?);
            let mut progress = Progress::when(
                stdout_is_a_file(),
                "reading",
                (last + 1).saturating_sub(from),
            );
            'commits: for commit in replay.commits() {
                let commit = commit?;
                progress.inc();
                if !selection.commit_headers_match(&commit) {
                    continue;
                }
                for event in commit.events() {
                    if selection.limit_reached(lines.printed) {
                        break 'commits;
                    }
                    if selection.event_matches(commit.number(), commit.headers(), event) {
                        lines.write(commit.number(), commit.headers(), event)?;
                    }
                }
            }
        }
    }
    lines.out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Prints the events `selection` and `query` select of every commit from `from` on, and then
/// of every commit as it lands, until interrupted (Ctrl-C, SIGTERM), the output is closed, or
/// `--limit` lines are printed. Every commit is read (the index is not used: it answers only
/// up to the moment it is asked).
///
/// # Errors
/// A damaged or missing commit; errors of writing other than a closed pipe.
fn follow_events(
    store: &Store,
    from: u64,
    selection: &Selection,
    query: Option<&Query>,
    lines: &mut Lines,
) -> anyhow::Result<()> {
    let stop = stop_on_ctrl_c()?;
    let done = Arc::clone(&stop);
    follow_log(store, from, POLL_INTERVAL, &stop, |commit| {
        if selection.commit_headers_match(commit) {
            for event in commit.events() {
                if selection.limit_reached(lines.printed) {
                    break;
                }
                if selection.event_matches(commit.number(), commit.headers(), event)
                    && query.is_none_or(|q| q.matches(event))
                {
                    lines.write(commit.number(), commit.headers(), event)?;
                }
            }
        }
        // Each commit's lines are seen as soon as it lands.
        lines.out.flush()?;
        if selection.limit_reached(lines.printed) {
            done.store(true, Ordering::SeqCst);
        }
        Ok(())
    })?;
    Ok(())
}

/// How `foldstore events` writes its lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Style {
    /// One JSON object a line.
    Json,
    /// Indented JSON, colored on a terminal.
    Pretty,
    /// Tab-separated values: `commit`, `time`, `name`, `data` (compact JSON, empty when the
    /// event has none), a heading line first.
    Tsv,
    /// The columns of `Tsv` as comma-separated values (RFC 4180), a heading line first.
    Csv,
    /// A `--format` template, filled from the event's line.
    Template(Template),
}

/// Where the lines go, and how they are written.
struct Lines {
    out: BufWriter<StdoutLock<'static>>,
    style: Style,
    palette: Palette,
    /// How many lines were written.
    printed: u64,
}

impl Lines {
    fn new(style: Style) -> anyhow::Result<Self> {
        let palette = if style == Style::Pretty {
            Palette::stdout()
        } else {
            Palette::default()
        };
        let mut out = BufWriter::new(io::stdout().lock());
        match &style {
            Style::Tsv => writeln!(out, "commit\ttime\tname\tdata")?,
            Style::Csv => write_csv_record(&mut out, &["commit", "time", "name", "data"])?,
            _ => {}
        }
        Ok(Lines {
            out,
            style,
            palette,
            printed: 0,
        })
    }

    /// Writes the line of `event`, of commit `commit` with `headers`.
    fn write(&mut self, commit: u64, headers: &Headers, event: &Event) -> anyhow::Result<()> {
        match &self.style {
            Style::Csv => {
                let data = event
                    .data()
                    .map(|data| escape_json(data.to_string()))
                    .unwrap_or_default();
                let time = headers.get("time").map(header_text).unwrap_or_default();
                write_csv_record(
                    &mut self.out,
                    &[&commit.to_string(), &time, &printable(event.name()), &data],
                )?;
                self.printed += 1;
                return Ok(());
            }
            Style::Template(template) => {
                template.write_line(&mut self.out, |path| lookup(path, commit, headers, event))?;
                self.printed += 1;
                return Ok(());
            }
            Style::Tsv => {
                // Compact JSON escapes every control character, tabs and newlines too; the
                // characters that reorder text are escaped as well.
                let data = event
                    .data()
                    .map(|data| escape_json(data.to_string()))
                    .unwrap_or_default();
                write!(
                    self.out,
                    "{commit}\t{}\t{}\t{data}",
                    headers.get("time").map(header_text).unwrap_or_default(),
                    printable(event.name())
                )?;
            }
            Style::Pretty => {
                let line = event_line(commit, headers, event);
                write_pretty_json(&mut self.out, &line, &self.palette, 0)?;
            }
            Style::Json => {
                serde_json::to_writer(&mut self.out, &event_line(commit, headers, event))?;
            }
        }
        self.out.write_all(b"\n")?;
        self.printed += 1;
        Ok(())
    }
}

/// One line of `foldstore events`: the commit number and headers, then the event's members
/// (its `tags` among them).
pub fn event_line(commit: u64, headers: &Headers, event: &Event) -> Value {
    let mut line = Map::new();
    line.insert("commit".into(), commit.into());
    line.insert("headers".into(), Value::Object(headers.clone()));
    line.insert("name".into(), event.name().into());
    if let Some(data) = event.data() {
        line.insert("data".into(), data.clone());
    }
    for (key, value) in event.extra() {
        line.entry(key.clone()).or_insert_with(|| value.clone());
    }
    Value::Object(line)
}
