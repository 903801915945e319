//! `foldstore`: the command-line tool for foldstore event stores.

mod demo;

use std::io::{self, BufRead, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context};
use clap::{Parser, Subcommand};
use foldstore::{Commit, Error, Event, Store};
use serde_json::{Map, Value};

const EXIT_CODES: &str = "\
Exit status:
  0  success (for verify: the store is sound)
  1  failure: an error, or problems found by verify
  2  the command line is wrong

Environment:
  FOLDSTORE_LOG  what to log on standard error, e.g. debug or foldstore=trace (default: warn)";

/// Inspect, append to and verify foldstore event stores.
///
/// A store is a folder of numbered commits (1.log, 2.log, ...), in the format of the Node.js
/// package @scriptabuild/eventstore, which can share the folder.
#[derive(Debug, Parser)]
#[command(name = "foldstore", version, after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Append one event, or a block of events read from standard input, as one commit.
    ///
    /// Prints the new commit's number. Creates the store's folder if it does not exist.
    #[command(after_help = "Examples:
  foldstore append ./members newMemberRegistered '{\"member\": {\"name\": \"peter pan\"}}'
  foldstore append ./members heartbeat
  printf '%s\\n' '{\"name\": \"a\", \"data\": 1}' '{\"name\": \"b\"}' | foldstore append ./members --stdin")]
    Append {
        /// The store's folder.
        store: PathBuf,
        /// The event's name.
        #[arg(required_unless_present = "stdin")]
        name: Option<String>,
        /// The event's data, as JSON (a string needs its quotes: '"text"'); absent means no data.
        #[arg(allow_negative_numbers = true)]
        data: Option<String>,
        /// Read events from standard input, one JSON object {"name": ..., "data": ...} a line,
        /// and write them all as one commit.
        #[arg(long, conflicts_with_all = ["name", "data"])]
        stdin: bool,
    },
    /// Print every event as one JSON line: {"commit", "headers", "name", "data"}.
    ///
    /// `data` is absent when the event has none.
    #[command(after_help = "Examples:
  foldstore events ./members
  foldstore events ./members --from 10 --to 20")]
    Events {
        /// The store's folder.
        store: PathBuf,
        /// The first commit to print (default 1).
        #[arg(long, value_name = "N")]
        from: Option<u64>,
        /// The last commit to print (default: the last commit of the store).
        #[arg(long, value_name = "N")]
        to: Option<u64>,
    },
    /// Read every commit and snapshot, and list every problem found.
    ///
    /// Exits with status 0 when the store is sound, 1 when it has problems.
    #[command(after_help = "Example:
  foldstore verify ./members")]
    Verify {
        /// The store's folder.
        store: PathBuf,
    },
    /// Run the tutorial's membership database on a store: register, move and remove members
    /// through read-write instances, take a snapshot, and show the state.
    #[command(after_help = "Example:
  foldstore demo ./demo-store")]
    Demo {
        /// The store's folder (created if it does not exist).
        store: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let result = match cli.command {
        Command::Append {
            store,
            name,
            data,
            stdin,
        } => append(&store, name, data.as_deref(), stdin),
        Command::Events { store, from, to } => events(&store, from, to),
        Command::Verify { store } => verify(&store),
        Command::Demo { store } => demo(&store),
    };
    match result {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Sends the library's diagnostics (warnings by default) to standard error.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("FOLDSTORE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(io::stderr)
        .with_ansi(io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .with_target(false)
        .without_time()
        .init();
}

/// Whether an error comes from writing to a closed pipe (`foldstore events | head`).
fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        let kind = match cause.downcast_ref::<io::Error>() {
            Some(e) => Some(e.kind()),
            // serde_json's writer errors do not expose their io::Error as a source.
            None => cause
                .downcast_ref::<serde_json::Error>()
                .and_then(serde_json::Error::io_error_kind),
        };
        kind == Some(io::ErrorKind::BrokenPipe)
    })
}

/// Opens a store that must already exist, for the verbs that read.
fn open_existing(path: &Path) -> anyhow::Result<Store> {
    let store = Store::open(path)?;
    if !store.exists()? {
        bail!(
            "no store at {}: the folder does not exist (check the path; 'foldstore append' creates a store)",
            path.display()
        );
    }
    Ok(store)
}

fn append(
    path: &Path,
    name: Option<String>,
    data: Option<&str>,
    stdin: bool,
) -> anyhow::Result<ExitCode> {
    let events = if stdin {
        read_events(io::stdin().lock())?
    } else {
        let name = name.ok_or_else(|| anyhow!("an event name is needed (or --stdin)"))?;
        let event = match data {
            None => Event::new(name),
            Some(text) => Event::with_data(
                name,
                serde_json::from_str(text).with_context(|| {
                    format!(
                        "DATA is not valid JSON: {text:?} (a string needs its quotes, e.g. '\"text\"'); nothing was written"
                    )
                })?,
            ),
        };
        vec![event]
    };
    let store = Store::open(path)?;
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
        let event: Event = serde_json::from_str(&line).with_context(|| {
            format!(
                "line {line_number} of standard input is not an event {{\"name\": ..., \"data\": ...}}; nothing was written"
            )
        })?;
        events.push(event);
    }
    if events.is_empty() {
        bail!("standard input holds no events; nothing was written");
    }
    Ok(events)
}

fn events(path: &Path, from: Option<u64>, to: Option<u64>) -> anyhow::Result<ExitCode> {
    let store = open_existing(path)?;
    let from = from.unwrap_or(1).max(1);
    let tip = store.tip()?;
    if from > tip + 1 {
        return Err(Error::OutOfRange {
            requested: from,
            tip,
        }
        .into());
    }
    if let Some(to) = to {
        if to < from {
            bail!("--to {to} is before --from {from}: nothing to print");
        }
        if to > tip {
            return Err(Error::OutOfRange { requested: to, tip }.into());
        }
    }
    let mut replay = store.replay().from(from);
    if let Some(to) = to {
        replay = replay.to(to);
    }
    let mut out = BufWriter::new(io::stdout().lock());
    for commit in replay.commits() {
        let commit = commit?;
        for event in commit.events() {
            serde_json::to_writer(&mut out, &event_line(&commit, event))?;
            out.write_all(b"\n")?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// One line of `foldstore events`: the commit number and headers, then the event's members.
fn event_line(commit: &Commit, event: &Event) -> Value {
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

fn verify(path: &Path) -> anyhow::Result<ExitCode> {
    let store = open_existing(path)?;
    let report = store.verify(|_, _| {})?;
    let mut out = io::stdout().lock();
    for finding in &report.problems {
        writeln!(out, "{}: {}", finding.location, finding.problem)?;
    }
    for finding in &report.warnings {
        writeln!(out, "warning: {}: {}", finding.location, finding.problem)?;
    }
    let summary = format!(
        "{} commits ({} events) and {} snapshots read",
        report.sound_commits, report.events, report.sound_snapshots
    );
    if report.is_sound() {
        writeln!(out, "ok: {summary}; the store is sound")?;
        Ok(ExitCode::SUCCESS)
    } else {
        writeln!(
            out,
            "{} problem(s) found; {summary} without problems",
            report.problems.len()
        )?;
        Ok(ExitCode::FAILURE)
    }
}

fn demo(path: &Path) -> anyhow::Result<ExitCode> {
    let mut out = io::stdout().lock();
    demo::run(path, &mut out).map_err(|e| match e.downcast::<io::Error>() {
        Ok(e) => anyhow::Error::from(*e),
        Err(e) => anyhow!("{e}"),
    })?;
    Ok(ExitCode::SUCCESS)
}
