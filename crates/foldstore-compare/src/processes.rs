//! Writers in separate processes: this program started again with `--append-worker`, each
//! process appending its share of the events to one store. The processes get ready (open the
//! store, make their events), say so, and start together when told, so that starting them is
//! not timed.

use std::ffi::OsStr;
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
    say("done")
}

/// Says "ready" on standard output, then waits for a line on standard input: a worker's
/// preparation is done, and its timed work starts when the parent says go.
///
/// # Errors
/// A parent that goes away.
pub fn ready_then_wait() -> anyhow::Result<()> {
    say("ready")?;
    let mut line = String::new();
    if io::stdin().lock().read_line(&mut line)? == 0 {
        bail!("the parent process went away before saying go");
    }
    Ok(())
}

/// Writes `line` to standard output, for the parent, at once.
///
/// # Errors
/// A parent that goes away.
pub fn say(line: &str) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()?;
    Ok(())
}

/// One worker process, and its pipes.
pub struct Worker {
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
}

impl Worker {
    /// Starts this program again with `args`, as a worker that says "ready", waits for go,
    /// then works and says "done" (and maybe more).
    ///
    /// # Errors
    /// A program that cannot be started.
    pub fn start<S: AsRef<OsStr>>(args: impl IntoIterator<Item = S>) -> anyhow::Result<Worker> {
        let program = std::env::current_exe().context("cannot find this program's path")?;
        let mut child = Command::new(&program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("cannot run {}", program.display()))?;
        let input = child.stdin.take().context("no pipe to the worker")?;
        let output = BufReader::new(child.stdout.take().context("no pipe from the worker")?);
        Ok(Worker {
            child,
            input,
            output,
        })
    }

    /// The worker's next line (without its end).
    ///
    /// # Errors
    /// A worker that said nothing more: its exit status is in the error.
    pub fn line(&mut self) -> anyhow::Result<String> {
        let mut line = String::new();
        if self.output.read_line(&mut line)? == 0 {
            let status = self.child.wait()?;
            bail!("a worker process ended early (it exited with {status}; its errors are above)");
        }
        Ok(line.trim_end().to_owned())
    }

    /// Reads the worker's next line, which must be `expected`.
    fn expect(&mut self, expected: &str) -> anyhow::Result<()> {
        let line = self.line()?;
        if line != expected {
            let status = self.child.wait()?;
            bail!(
                "a worker process said {line:?} instead of {expected:?} (it exited with {status}; its errors are above)"
            );
        }
        Ok(())
    }
}

/// Waits until every one of `workers` is ready, tells them all to go, and waits until each
/// says "done": the seconds from go to the last one done.
///
/// # Errors
/// A worker that fails or goes away.
pub fn together(workers: &mut [Worker]) -> anyhow::Result<f64> {
    for worker in workers.iter_mut() {
        worker.expect("ready")?;
    }
    let started = Instant::now();
    for worker in workers.iter_mut() {
        writeln!(worker.input, "go")?;
        worker.input.flush()?;
    }
    for worker in workers.iter_mut() {
        worker.expect("done")?;
    }
    Ok(started.elapsed().as_secs_f64())
}

/// Waits for each of `workers` to exit, which must be a success.
///
/// # Errors
/// A worker that failed.
pub fn finish(workers: Vec<Worker>) -> anyhow::Result<()> {
    for mut worker in workers {
        let status = worker.child.wait()?;
        if !status.success() {
            bail!("a worker process exited with {status}");
        }
    }
    Ok(())
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
    let share = commits.div_ceil(processes.max(1)).max(1);
    let mut workers = Vec::new();
    let mut first = 0;
    while first < commits {
        let count = share.min(commits - first);
        let (first_arg, count_arg) = (first.to_string(), count.to_string());
        let args: [&OsStr; 8] = [
            "--append-worker".as_ref(),
            path.as_ref(),
            "--worker-kind".as_ref(),
            kind.name().as_ref(),
            "--worker-first".as_ref(),
            first_arg.as_ref(),
            "--worker-count".as_ref(),
            count_arg.as_ref(),
        ];
        workers.push(Worker::start(args)?);
        first += count;
    }
    let seconds = together(&mut workers)?;
    finish(workers)?;
    if kind == Kind::Sqlite {
        sqlite::check_count(path, commits)?;
    }
    Ok(Measured::new(commits, commits, seconds))
}
