//! Writers in separate processes: this program started again with `--append-worker`, each
//! process appending its share of the events to one store. The processes get ready (open the
//! store, make their events), say so, and start together when told, so that starting them is
//! not timed.

use std::io::{self, BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context};
use foldstore::{Durability, Event};

use crate::ours::JOURNAL;
use crate::sqlite::{self, Synchronous};
use crate::workload::{member_has_moved, Measured};

/// What a worker process appends to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// A foldstore journal, `Durability::Immediate`, one `Store` per process.
    Journal,
    /// A SQLite database in WAL mode, `synchronous=FULL`, one connection per process,
    /// `BEGIN IMMEDIATE` transactions.
    Sqlite,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Journal => "journal",
            Kind::Sqlite => "sqlite",
        }
    }
}

/// The work of one worker process: events `first` to `first + count - 1` appended to the store
/// at `path`, one commit each, once the parent says go.
///
/// # Errors
/// The store's errors, and a parent that goes away.
pub fn worker(kind: Kind, path: &Path, first: u64, count: u64) -> anyhow::Result<()> {
    let values: Vec<serde_json::Value> = (first..first + count).map(member_has_moved).collect();
    match kind {
        Kind::Journal => {
            let store = (JOURNAL.open)(path, Durability::Immediate)?;
            let events = values
                .into_iter()
                .map(serde_json::from_value)
                .collect::<Result<Vec<Event>, _>>()?;
            ready_then_wait()?;
            for event in &events {
                store.log(event)?;
            }
        }
        Kind::Sqlite => {
            let bytes = values
                .iter()
                .map(serde_json::to_vec)
                .collect::<Result<Vec<_>, _>>()?;
            let mut connection = sqlite::open(path, Synchronous::Full)?;
            ready_then_wait()?;
            sqlite::append_immediate(&mut connection, &bytes)?;
        }
    }
    let mut out = io::stdout().lock();
    writeln!(out, "done")?;
    out.flush()?;
    Ok(())
}

/// Says "ready" on standard output, then waits for a line on standard input.
fn ready_then_wait() -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    writeln!(out, "ready")?;
    out.flush()?;
    let mut line = String::new();
    if io::stdin().lock().read_line(&mut line)? == 0 {
        bail!("the parent process went away before saying go");
    }
    Ok(())
}

/// One worker process, and its pipes.
struct Worker {
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
}

impl Worker {
    /// Reads the worker's next line, which must be `expected`.
    fn expect(&mut self, expected: &str) -> anyhow::Result<()> {
        let mut line = String::new();
        self.output.read_line(&mut line)?;
        if line.trim_end() != expected {
            let status = self.child.wait()?;
            bail!(
                "a worker process said {:?} instead of {expected:?} (it exited with {status}; its errors are above)",
                line.trim_end()
            );
        }
        Ok(())
    }
}

/// Appends `commits` events (the workload's first ones), one commit each, to the store at
/// `path` (made here) from `processes` processes, each appending its share; the time is from
/// the moment all are ready to the moment the last one is done.
///
/// # Errors
/// A worker that cannot be started or fails, and a store that does not hold every commit
/// afterwards (checked by the caller for a journal, here for SQLite).
pub fn append(kind: Kind, path: &Path, commits: u64, processes: u64) -> anyhow::Result<Measured> {
    match kind {
        Kind::Journal => (JOURNAL.open)(path, Durability::Immediate)?.ensure_folder()?,
        Kind::Sqlite => drop(sqlite::open(path, Synchronous::Full)?),
    }
    let program = std::env::current_exe().context("cannot find this program's path")?;
    let share = commits.div_ceil(processes.max(1)).max(1);
    let mut workers = Vec::new();
    let mut first = 0;
    while first < commits {
        let count = share.min(commits - first);
        let mut child = Command::new(&program)
            .arg("--append-worker")
            .arg(path)
            .args(["--worker-kind", kind.name()])
            .args(["--worker-first", &first.to_string()])
            .args(["--worker-count", &count.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("cannot run {}", program.display()))?;
        let input = child.stdin.take().context("no pipe to the worker")?;
        let output = BufReader::new(child.stdout.take().context("no pipe from the worker")?);
        workers.push(Worker {
            child,
            input,
            output,
        });
        first += count;
    }
    for worker in &mut workers {
        worker.expect("ready")?;
    }
    let started = Instant::now();
    for worker in &mut workers {
        writeln!(worker.input, "go")?;
        worker.input.flush()?;
    }
    for worker in &mut workers {
        worker.expect("done")?;
    }
    let seconds = started.elapsed().as_secs_f64();
    for mut worker in workers {
        let status = worker.child.wait()?;
        if !status.success() {
            bail!("a worker process exited with {status}");
        }
    }
    if kind == Kind::Sqlite {
        sqlite::check_count(path, commits)?;
    }
    Ok(Measured::new(commits, commits, seconds))
}
