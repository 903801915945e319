//! `foldstore-compare`: foldstore against the original Node.js package, SQLite and bare
//! file-system loops, on the same workload, in one run, as ratios.
//!
//! ```sh
//! cargo run --release -p foldstore-compare -- [--commits 10000] [--quick] [--json]
//! ```
//!
//! Workloads (every event is the same `memberHasMoved` event, one event per commit):
//! - (a) appends without syncs, into a new store, at 2,000 commits and at `--commits`: the
//!   original package (`store.log`), foldstore with `Durability::None`, SQLite in WAL mode with
//!   `synchronous=OFF`. Baseline: the original.
//! - (b) synced appends (`--synced-commits`, 2,000 by default: each costs a disk sync): foldstore
//!   with `Durability::Immediate`, the bare loop (temporary file, write, fdatasync, hard link to
//!   `k.log`, unlink, folder fsync), SQLite WAL with `synchronous=FULL`, one transaction per
//!   commit. Baseline: the bare loop.
//! - (c) replay of a store of `--commits` commits written by foldstore: foldstore's
//!   `replay_event_stream`, the bare loop reading each `k.log` and parsing it into a
//!   `serde_json::Value`, a SQLite scan of the same documents parsed the same way, the
//!   original's `replayEventStream`. Baseline: the bare loop.
//!
//! Each program runs `--rounds` times per workload, the programs taking turns, and the median
//! is reported. Without Node.js and npm the original's rows are skipped, with a message.

mod bare;
mod machine;
mod original;
mod ours;
mod report;
mod sqlite;
mod workload;

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Parser;
use foldstore::Durability;
use serde_json::json;

use crate::machine::Machine;
use crate::original::Original;
use crate::ours::{LAYOUTS, LOOSE};
use crate::report::{thousands, Ratio, Row, Table, Target};
use crate::sqlite::Synchronous;
use crate::workload::{check_folder, Events, Measured};

/// The smaller of the two sizes of the appends without syncs (the issue's figures for the
/// original are at 2,000 and 10,000 commits).
const SMALL_APPEND: u64 = 2_000;

/// Compares foldstore with the original Node.js package, SQLite and bare file-system loops,
/// on the same workload in one run, and prints the ratios against the issue's targets.
#[derive(Debug, Parser)]
#[command(name = "foldstore-compare")]
struct Args {
    /// Commits of the largest append run without syncs, and of the replayed store.
    #[arg(long, value_name = "N", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1000..))]
    commits: u64,
    /// Commits of the synced append runs (default 2000; 500 with --quick).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(100..))]
    synced_commits: Option<u64>,
    /// Timed runs of each program on each workload; the median is reported (default 3; 1 with
    /// --quick).
    #[arg(long, value_name = "R", value_parser = clap::value_parser!(u64).range(1..=99))]
    rounds: Option<u64>,
    /// A first look: one round, and 500 synced commits.
    #[arg(long)]
    quick: bool,
    /// Print the report as one JSON object instead of tables.
    #[arg(long)]
    json: bool,
    /// Work in a new folder inside DIR, removed afterwards (default: the system's temporary
    /// folder). The file system measured is DIR's.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> anyhow::Result<()> {
    let rounds = args.rounds.unwrap_or(if args.quick { 1 } else { 3 });
    let synced = args
        .synced_commits
        .unwrap_or(if args.quick { 500 } else { 2_000 });
    let base = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    let work = tempfile::Builder::new()
        .prefix("foldstore-compare-")
        .tempdir_in(&base)
        .with_context(|| format!("cannot create a work folder in {}", base.display()))?;
    let machine = Machine::describe(work.path());
    let original = Original::install();
    if let Err(why) = &original {
        eprintln!("the original package's rows are skipped: {why}");
    }
    let events = Events::new(args.commits.max(synced), work.path().join("events.jsonl"))?;
    let bench = Bench {
        work: work.path(),
        rounds,
        original: original.as_ref().map_err(String::clone),
        events: &events,
    };

    let mut tables = Vec::new();
    let mut sizes = vec![SMALL_APPEND.min(args.commits), args.commits];
    sizes.dedup();
    for commits in sizes {
        tables.push(bench.append_no_sync(commits)?);
    }
    tables.push(bench.append_synced(synced)?);
    tables.push(bench.replay(args.commits)?);

    let targets = targets(args.commits);
    let checked = report::check(&targets, &tables);
    let mut out = io::stdout().lock();
    if args.json {
        let results = report::json(&tables, &checked);
        let value = json!({
            "machine": machine.to_json(),
            "node": original.as_ref().ok().map(|o| &o.node_version),
            "original_skipped": original.as_ref().err(),
            "parameters": {
                "commits": args.commits,
                "synced_commits": synced,
                "rounds": rounds,
                "work_folder": work.path().display().to_string(),
            },
            "tables": results["tables"],
            "targets": results["targets"],
        });
        serde_json::to_writer_pretty(&mut out, &value)?;
        writeln!(out)?;
    } else {
        let node = original.as_ref().map_or_else(
            |_| "no Node.js".to_owned(),
            |o| format!("Node {}", o.node_version),
        );
        let heading = format!(
            "{} CPUs ({}), Linux {}, {} ({}), SQLite {}, {node}, {}\n\
             every figure: the median of {rounds} run(s), the programs taking turns; one event per commit, the same events for every program",
            machine.cpus,
            machine.cpu_model,
            machine.kernel,
            machine.file_system,
            work.path().display(),
            machine.sqlite,
            machine.date,
        );
        write!(out, "{}", report::text(&heading, &tables, &checked))?;
    }
    out.flush()?;
    Ok(())
}

/// The issue's targets for the loose layout.
fn targets(commits: u64) -> Vec<Target> {
    vec![
        Target {
            what: format!(
                "appends at {} commits, no syncs: foldstore / the original",
                thousands(commits as f64)
            ),
            table: format!("append_no_sync_{commits}"),
            row: LOOSE.id,
            at_least: 20.0,
        },
        Target {
            what: "synced appends: foldstore / the bare loop".to_owned(),
            table: "append_synced".to_owned(),
            row: LOOSE.id,
            at_least: 0.8,
        },
        Target {
            what: "replay: foldstore / the bare read-and-parse loop".to_owned(),
            table: "replay".to_owned(),
            row: LOOSE.id,
            at_least: 0.9,
        },
    ]
}

/// One timed run of a program, working in the fresh path it is given (which it may create as
/// a folder or a file).
type Runner<'a> = Box<dyn FnMut(&Path) -> anyhow::Result<Measured> + 'a>;

/// What every workload shares.
struct Bench<'a> {
    work: &'a Path,
    rounds: u64,
    original: Result<&'a Original, String>,
    events: &'a Events,
}

impl Bench<'_> {
    fn original_label(&self, what: &str) -> String {
        match &self.original {
            Ok(original) => format!(
                "original {} (Node {}){what}",
                original.version, original.node_version
            ),
            Err(_) => format!("original 1.3.0{what}"),
        }
    }

    /// Runs every program `rounds` times, taking turns, each run in a fresh path; checks that
    /// each run handled the table's number of commits. The first program is the baseline.
    fn measure(
        &self,
        mut table: Table,
        mut programs: Vec<(Row, Option<Runner<'_>>)>,
    ) -> anyhow::Result<Table> {
        eprintln!("{}", table.title);
        let count = programs.len();
        for round in 1..=self.rounds {
            // Each round starts with the next program, so that none always runs first (on a
            // file system just after other work) or always after another.
            for turn in 0..count {
                let round_index = usize::try_from(round)?;
                let (row, runner) = &mut programs[(turn + round_index - 1) % count];
                let Some(runner) = runner else { continue };
                let path = self.work.join(format!("{}-{}-{round}", table.id, row.id));
                // What a run wrote stays until the end of the whole run: on a file system that
                // avoids reusing recently freed inodes (ext4 without a journal), removing
                // thousands of files would slow the file creations of the next runs.
                let measured =
                    runner(&path).with_context(|| format!("{}: {}", table.title, row.label))?;
                if measured.commits != table.commits {
                    bail!(
                        "{}: {} handled {} commits, not {}",
                        table.title,
                        row.label,
                        measured.commits,
                        table.commits
                    );
                }
                eprintln!(
                    "  round {round}/{}: {:>9} commits/s  {}",
                    self.rounds,
                    thousands(measured.commits_per_second()),
                    row.label
                );
                row.runs.push(measured);
            }
        }
        table.rows = programs.into_iter().map(|(row, _)| row).collect();
        Ok(table)
    }

    /// (a): `commits` single-event commits into a new store, no syncs.
    fn append_no_sync(&self, commits: u64) -> anyhow::Result<Table> {
        let n = usize::try_from(commits)?;
        let values = &self.events.values[..n];
        let mut programs: Vec<(Row, Option<Runner<'_>>)> = Vec::new();
        let label = self.original_label(": store.log");
        match self.original {
            Ok(original) => {
                let file = self.events.prefix_file(n)?;
                programs.push((
                    Row::new("original", label),
                    Some(Box::new(move |path: &Path| {
                        let measured = original.append(path, &file)?;
                        check_folder(path, values)?;
                        Ok(measured)
                    })),
                ));
            }
            Err(ref why) => programs.push((Row::skipped("original", label, why.clone()), None)),
        }
        for layout in LAYOUTS {
            let events = &self.events.events[..n];
            programs.push((
                Row::new(layout.id, format!("{}, Durability::None", layout.label)),
                Some(Box::new(move |path: &Path| {
                    let measured = ours::append(layout, path, events, Durability::None)?;
                    check_folder(path, values)?;
                    Ok(measured)
                })),
            ));
        }
        let bytes = &self.events.bytes[..n];
        programs.push((
            Row::new(
                "bare-loop",
                "bare loop: tmp file, write, link to k.log, unlink",
            ),
            Some(Box::new(move |path: &Path| {
                let measured = bare::append(path, bytes, false)?;
                check_folder(path, values)?;
                Ok(measured)
            })),
        ));
        programs.push((
            Row::new(
                "sqlite-wal",
                "SQLite WAL, synchronous=OFF, a transaction per commit",
            ),
            Some(Box::new(move |path: &Path| {
                fs::create_dir(path)?;
                sqlite::append(&path.join("store.db"), bytes, Synchronous::Off)
            })),
        ));
        let table = Table {
            id: format!("append_no_sync_{commits}"),
            title: format!(
                "(a) appends without syncs: {} single-event commits into a new store",
                thousands(commits as f64)
            ),
            commits,
            baseline: "original",
            ratio: Ratio::Times,
            rows: Vec::new(),
        };
        self.measure(table, programs)
    }

    /// (b): `commits` single-event commits into a new store, each synced before the next.
    fn append_synced(&self, commits: u64) -> anyhow::Result<Table> {
        let n = usize::try_from(commits)?;
        let values = &self.events.values[..n];
        let bytes = &self.events.bytes[..n];
        let mut programs: Vec<(Row, Option<Runner<'_>>)> = vec![(
            Row::new(
                "bare-loop",
                "bare loop: tmp file, write, fdatasync, link, unlink, fsync folder",
            ),
            Some(Box::new(move |path: &Path| {
                let measured = bare::append(path, bytes, true)?;
                check_folder(path, values)?;
                Ok(measured)
            })),
        )];
        for layout in LAYOUTS {
            let events = &self.events.events[..n];
            programs.push((
                Row::new(
                    layout.id,
                    format!("{}, Durability::Immediate", layout.label),
                ),
                Some(Box::new(move |path: &Path| {
                    let measured = ours::append(layout, path, events, Durability::Immediate)?;
                    check_folder(path, values)?;
                    Ok(measured)
                })),
            ));
        }
        programs.push((
            Row::new(
                "sqlite-wal",
                "SQLite WAL, synchronous=FULL, a transaction per commit",
            ),
            Some(Box::new(move |path: &Path| {
                fs::create_dir(path)?;
                sqlite::append(&path.join("store.db"), bytes, Synchronous::Full)
            })),
        ));
        let table = Table {
            id: "append_synced".to_owned(),
            title: format!(
                "(b) synced appends: {} single-event commits into a new store, each durable before the next (fewer commits: each costs a disk sync)",
                thousands(commits as f64)
            ),
            commits,
            baseline: "bare-loop",
            ratio: Ratio::Percent,
            rows: Vec::new(),
        };
        self.measure(table, programs)
    }

    /// (c): every event of a store of `commits` single-event commits, from the operating
    /// system's cache.
    fn replay(&self, commits: u64) -> anyhow::Result<Table> {
        let n = usize::try_from(commits)?;
        eprintln!("making the store to replay");
        let folder = self.work.join("replay-store");
        let store = (LOOSE.open)(&folder, Durability::None)?;
        store.ensure_folder()?;
        for event in &self.events.events[..n] {
            store.log(event)?;
        }
        check_folder(&folder, &self.events.values[..n])?;
        let database = self.work.join("replay.db");
        sqlite::load_folder(&database, &folder, commits)?;
        // Every program reads from the operating system's cache, the first one too.
        bare::replay(&folder, commits)?;
        sqlite::replay(&database)?;

        let (folder, database) = (folder.as_path(), database.as_path());
        let mut programs: Vec<(Row, Option<Runner<'_>>)> = vec![(
            Row::new(
                "bare-loop",
                "bare loop: read each k.log, parse it into a Value",
            ),
            Some(Box::new(move |_: &Path| bare::replay(folder, commits))),
        )];
        // Every layout replays the store above: a layout with another format will replay a
        // copy of the same commits in its own folder.
        for layout in LAYOUTS {
            programs.push((
                Row::new(layout.id, format!("{}: replay_event_stream", layout.label)),
                Some(Box::new(move |_: &Path| ours::replay(layout, folder))),
            ));
        }
        programs.push((
            Row::new(
                "sqlite-wal",
                "SQLite WAL: scan, parse each document into a Value",
            ),
            Some(Box::new(move |_: &Path| sqlite::replay(database))),
        ));
        let label = self.original_label(": replayEventStream");
        match self.original {
            Ok(original) => programs.push((
                Row::new("original", label),
                Some(Box::new(move |_: &Path| original.replay(folder))),
            )),
            Err(ref why) => programs.push((Row::skipped("original", label, why.clone()), None)),
        }
        let table = Table {
            id: "replay".to_owned(),
            title: format!(
                "(c) replay: every event of a store of {} single-event commits, from the operating system's cache",
                thousands(commits as f64)
            ),
            commits,
            baseline: "bare-loop",
            ratio: Ratio::Percent,
            rows: Vec::new(),
        };
        self.measure(table, programs)
    }
}
