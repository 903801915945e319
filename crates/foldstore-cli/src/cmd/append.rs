//! `foldstore append`: one event, or a block of events read from standard input, as one commit;
//! tagged, on a condition (`--if-none-after`) or once per key (`--idempotency-key`).

use std::io::{self, BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context};
use foldstore::{AppendCondition, Commit, ConditionFailed, Error, Event, Headers, Query, Store};
use serde_json::Value;

use crate::cli::{BoundaryArgs, LayoutArg};
use crate::filter::{describe, query};
use crate::output::{event_problem, printable, styled, Palette};

/// The exit status when the condition of `--if-none-after` failed.
const CONDITION_FAILED: u8 = 3;

/// How `append` opens the store: the layout of a new one, the headers added to the commit's
/// `time`, and whether the commit is chained.
#[derive(Debug)]
pub struct StoreOptions {
    /// The layout of a new store.
    pub layout: Option<LayoutArg>,
    /// Headers added to the commit.
    pub headers: Vec<(String, String)>,
    /// Chain the commit (starting the store's chain if it has none).
    pub chain: bool,
}

/// Appends one event (`name` and optional JSON `data`), or the events on standard input, as
/// one commit with `headers` added to its `time`, tagged and written as `boundary` says
/// (chained when `chain`, starting the store's chain if it has none), and prints its number.
///
/// Data and events may be nested as deeply as a commit can hold them (see
/// [`foldstore::Commit::MAX_NESTING`]); deeper input is refused before the store is touched.
///
/// # Errors
/// Bad JSON, or JSON nested too deep (nothing is written), a condition without a query or with
/// a position beyond the log, errors of the store.
pub fn run(
    path: &Path,
    name: Option<String>,
    data: Option<&str>,
    stdin: bool,
    options: StoreOptions,
    boundary: &BoundaryArgs,
) -> anyhow::Result<ExitCode> {
    let StoreOptions {
        layout,
        headers,
        chain,
    } = options;
    let mut events = read_input(name, data, stdin)?;
    if !boundary.tag.is_empty() {
        events = events
            .into_iter()
            .map(|event| event.tagged(&boundary.tag))
            .collect();
    }
    let condition = boundary
        .if_none_after
        .map(|after| condition(boundary, after))
        .transpose()?;
    let mut builder = Store::builder(path).chain(chain);
    if let Some(layout) = layout {
        builder = builder.layout(layout.into());
    }
    if !headers.is_empty() {
        let headers: Headers = headers
            .into_iter()
            .map(|(key, value)| (key, Value::String(value)))
            .collect();
        builder = builder.headers(move || headers.clone());
    }
    let store = builder.open()?;
    store.ensure_folder()?;
    let commit = if let Some(key) = &boundary.idempotency_key {
        let appended = store.append_once(key, &events)?;
        if !appended.written {
            let p = Palette::stderr();
            writeln!(
                io::stderr(),
                "{} the idempotency key {key:?} is in commit {} already; nothing was written",
                styled(p.warn, "note:"),
                appended.commit
            )?;
        }
        appended.commit
    } else if let Some(condition) = condition {
        let tip = store.tip()?;
        if let Some(after) = condition.after.filter(|&after| after > tip) {
            return Err(Error::OutOfRange {
                requested: after,
                tip,
            })
            .context(
                "--if-none-after names a commit no decision can have read; nothing was written",
            );
        }
        match store.append_if(&events, &condition)? {
            Ok(commit) => commit,
            Err(failed) => return condition_failed(&condition, &failed),
        }
    } else {
        store
            .log_block(|block| {
                for event in &events {
                    block.log(event)?;
                }
                block.mark_as_complete();
                Ok::<_, Error>(())
            })?
            .ok_or_else(|| anyhow!("no events to write"))?
    };
    writeln!(io::stdout(), "{commit}")?;
    Ok(ExitCode::SUCCESS)
}

/// The condition of `--if-none-after after`: the query of `--query-tag` and `--query-name`, or
/// else the events of the `--tag` values.
fn condition(boundary: &BoundaryArgs, after: u64) -> anyhow::Result<AppendCondition> {
    let query: Query = if boundary.query_tag.is_empty() && boundary.query_name.is_empty() {
        if boundary.tag.is_empty() {
            bail!(
                "--if-none-after needs a query: --query-tag or --query-name, or the event's own \
                 --tag; nothing was written"
            );
        }
        query(&[], &boundary.tag)
    } else {
        query(&boundary.query_name, &boundary.query_tag)
    };
    Ok(AppendCondition::none_matching_after(query, after))
}

/// Says on standard error which commits broke `condition`; the exit status for it.
fn condition_failed(
    condition: &AppendCondition,
    failed: &ConditionFailed,
) -> anyhow::Result<ExitCode> {
    let commits: Vec<String> = failed.conflicts.iter().map(u64::to_string).collect();
    let (noun, verb) = if commits.len() == 1 {
        ("commit", "holds")
    } else {
        ("commits", "hold")
    };
    let since = match condition.after.unwrap_or(0) {
        0 => "where none may be".to_owned(),
        after => format!("committed after commit {after}"),
    };
    let p = Palette::stderr();
    writeln!(
        io::stderr(),
        "{} the condition failed: {noun} {} {verb} {} {since}; nothing was written",
        styled(p.bad, "conflict:"),
        commits.join(", "),
        printable(&describe(&condition.query.items()[0])),
    )?;
    Ok(ExitCode::from(CONDITION_FAILED))
}

/// The events to write: one from `name` and `data`, or those on standard input.
fn read_input(name: Option<String>, data: Option<&str>, stdin: bool) -> anyhow::Result<Vec<Event>> {
    Ok(if stdin {
        let input = io::stdin().lock();
        if input.is_terminal() {
            // Someone typing: say how to finish, where the output stays clean.
            let p = Palette::stderr();
            writeln!(
                io::stderr(),
                "{} one event a line, as {{\"name\": ..., \"data\": ...}}; end with Ctrl-D (Ctrl-Z then Enter on Windows)",
                styled(p.label, "reading events from standard input:")
            )?;
        }
        // One commit's events: no more than a commit's document can hold is read.
        let limit = foldstore::MAX_DOCUMENT_BYTES;
        let mut bounded = io::Read::take(input, limit + 1);
        let events = read_events(&mut bounded);
        // (A line cut at the limit fails to parse: the size is the reason then.)
        if bounded.limit() == 0 {
            anyhow::bail!(
                "standard input holds more than {limit} bytes, more than one commit can hold; nothing was written (append in several commits, or use 'foldstore import')"
            );
        }
        events?
    } else {
        let name = name.ok_or_else(|| anyhow!("an event name is needed (or --stdin)"))?;
        let event = match data {
            None => Event::new(name),
            Some(text) => Event::with_data(name, read_data(text)?),
        };
        vec![event]
    })
}

/// Reads the DATA argument: JSON nested no deeper than an event's data in a commit may be.
fn read_data(text: &str) -> anyhow::Result<serde_json::Value> {
    Event::data_from_json(text).map_err(|e| {
        let problem = event_problem(&e);
        let problem = problem.strip_prefix("the data ").unwrap_or(&problem);
        if problem.starts_with("is not valid JSON") {
            anyhow!(
                "DATA {problem}: {text:?} (a string needs its quotes, e.g. '\"text\"'); nothing was written"
            )
        } else {
            // Too deep: the text itself is too long to show.
            anyhow!("DATA {problem}; nothing was written")
        }
    })
}

/// Reads events, one JSON object a line, skipping blank lines; refuses all of them on any error.
fn read_events(input: impl BufRead) -> anyhow::Result<Vec<Event>> {
    let mut events = Vec::new();
    for (index, line) in input.lines().enumerate() {
        let line_number = index + 1;
        let line = line.with_context(|| {
            format!("cannot read line {line_number} of standard input; nothing was written")
        })?;
        if line.trim().is_empty() {
            continue;
        }
        let event = Event::from_json(&line).map_err(|e| {
            anyhow!(
                "line {line_number} of standard input is not an event {{\"name\": ..., \"data\": ...}}: {}; nothing was written",
                event_problem(&e)
            )
        })?;
        Commit::check_event_name(event.name()).map_err(|e| {
            anyhow!(
                "line {line_number} of standard input: {}; nothing was written",
                event_problem(&e)
            )
        })?;
        events.push(event);
    }
    if events.is_empty() {
        bail!("standard input holds no events; nothing was written");
    }
    Ok(events)
}
