//! `foldstore append`: one event, or a block of events read from standard input, as one commit.

use std::io::{self, BufRead, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context};
use foldstore::{Error, Event, Store};

use crate::cli::LayoutArg;

/// Appends one event (`name` and optional JSON `data`), or the events on standard input, as
/// one commit, and prints its number.
///
/// Data and events may be nested as deeply as a commit can hold them (see
/// [`foldstore::Commit::MAX_NESTING`]); deeper input is refused before the store is touched.
///
/// # Errors
/// Bad JSON, or JSON nested too deep (nothing is written), errors of the store.
pub fn run(
    path: &Path,
    name: Option<String>,
    data: Option<&str>,
    stdin: bool,
    layout: Option<LayoutArg>,
) -> anyhow::Result<ExitCode> {
    let events = if stdin {
        read_events(io::stdin().lock())?
    } else {
        let name = name.ok_or_else(|| anyhow!("an event name is needed (or --stdin)"))?;
        let event = match data {
            None => Event::new(name),
            Some(text) => Event::with_data(name, read_data(text)?),
        };
        vec![event]
    };
    let mut builder = Store::builder(path);
    if let Some(layout) = layout {
        builder = builder.layout(layout.into());
    }
    let store = builder.open()?;
    store.ensure_folder()?;
    let commit = store.log_block(|block| {
        for event in &events {
            block.log(event)?;
        }
        block.mark_as_complete();
        Ok::<_, Error>(())
    })?;
    let commit = commit.ok_or_else(|| anyhow!("no events to write"))?;
    writeln!(io::stdout(), "{commit}")?;
    Ok(ExitCode::SUCCESS)
}

/// Reads the DATA argument: JSON nested no deeper than an event's data in a commit may be.
fn read_data(text: &str) -> anyhow::Result<serde_json::Value> {
    Event::data_from_json(text).map_err(|e| {
        let problem = match &e {
            Error::InvalidEvent { problem } => problem.strip_prefix("the data ").unwrap_or(problem),
            _ => "cannot be read",
        };
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
            let problem = match &e {
                Error::InvalidEvent { problem } => problem.as_str(),
                _ => "cannot be read",
            };
            anyhow!(
                "line {line_number} of standard input is not an event {{\"name\": ..., \"data\": ...}}: {problem}; nothing was written"
            )
        })?;
        events.push(event);
    }
    if events.is_empty() {
        bail!("standard input holds no events; nothing was written");
    }
    Ok(events)
}
