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
//!   `replay_event_stream` (the journal layout replays a copy of the same commits), the bare
//!   loop reading each `k.log` and parsing it into a `serde_json::Value`, a SQLite scan of the
//!   same documents parsed the same way, the original's `replayEventStream`. Baseline: the
//!   bare loop.
//!
//! The journal layout's own targets:
//! - (d) synced appends, one writer: the journal with `Durability::Immediate` against SQLite
//!   WAL `synchronous=FULL`, a transaction per commit (baseline).
//! - (e) synced appends, 8 writer threads sharing one `Store` (group commit), against the same
//!   single-connection SQLite (baseline); SQLite with 8 connections for information.
//! - (f) replay of a journal of `--replay-commits` commits (1,000,000; 100,000 with `--quick`)
//!   against a SQLite scan of the same documents (baseline).
//! - (g) the peak memory of replaying that journal and one of 10,000 commits (baseline), each
//!   in a new process (this program, with a hidden `--replay-peak STORE`).
//! - (h) opening a new store and a model restored from a snapshot at the tip, on that journal
//!   and on one of 1,000 commits (baseline).
//!
//! Each program runs `--rounds` times per workload, the programs taking turns, and the median
//! is reported. Without Node.js and npm the original's rows are skipped, with a message.

/// Every program measured in this process (foldstore, SQLite through rusqlite, the bare loops)
/// allocates through mimalloc: the system allocator slows down when threads free what others
/// allocated, as a replay that decodes on two threads does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod bare;
mod machine;
mod original;
mod ours;
mod processes;
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
use crate::ours::{JOURNAL, LAYOUTS, LOOSE};
use crate::report::{thousands, Bound, Quantity, Ratio, Row, Table, Target};
use crate::sqlite::Synchronous;
use crate::workload::{check_folder, check_folder_unordered, Events, Measured};

/// The smaller of the two sizes of the appends without syncs (the issue's figures for the
/// original are at 2,000 and 10,000 commits).
const SMALL_APPEND: u64 = 2_000;

/// The writer threads of the journal's synced appends from many threads.
const WRITER_THREADS: usize = 8;

/// Writer processes of the multi-process table.
const WRITER_PROCESSES: u64 = 4;

/// The commits of the small journal the peak memory of a long replay is compared with.
const SMALL_REPLAY: u64 = 10_000;

/// The commits of the small journal the time to open a model on a long journal is compared
/// with.
const SMALL_MODEL: u64 = 1_000;

/// Threads writing the long journals made for the replay workloads.
const BUILD_THREADS: u64 = 4;

/// Timed runs of each program for the model openings, at least (each takes milliseconds).
const MODEL_ROUNDS: u64 = 7;

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
    /// Commits of the journal of the long replay, its peak memory and the model opening
    /// (default 1000000; 100000 with --quick).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(20_000..))]
    replay_commits: Option<u64>,
    /// Timed runs of each program on each workload; the median is reported (default 3; 1 with
    /// --quick).
    #[arg(long, value_name = "R", value_parser = clap::value_parser!(u64).range(1..=99))]
    rounds: Option<u64>,
    /// A first look: one round, 500 synced commits, and a long replay of 100,000 commits.
    #[arg(long)]
    quick: bool,
    /// Print the report as one JSON object instead of tables.
    #[arg(long)]
    json: bool,
    /// Run only these tables (comma-separated ids, as the JSON report names them:
    /// append_no_sync, append_synced, replay, journal_synced_single, journal_synced_threads,
    /// journal_synced_processes, journal_replay_long, journal_replay_memory,
    /// journal_model_open); default: all.
    #[arg(long, value_name = "IDS", value_delimiter = ',', value_parser = clap::builder::PossibleValuesParser::new(TABLE_IDS))]
    only: Vec<String>,
    /// Work in a new folder inside DIR, removed afterwards (default: the system's temporary
    /// folder). The file system measured is DIR's.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// (Used by the program itself.) Replays the journal at STORE and prints one JSON object:
    /// the commits, events and seconds of the replay, and the process's peak memory in bytes.
    #[arg(long, value_name = "STORE", hide = true)]
    replay_peak: Option<PathBuf>,
    /// (Used by the program itself.) Appends events --worker-first to --worker-first +
    /// --worker-count - 1 to the store at STORE, as one of several writer processes.
    #[arg(long, value_name = "STORE", hide = true)]
    append_worker: Option<PathBuf>,
    /// (Used by the program itself.) What --append-worker appends to.
    #[arg(long, value_name = "KIND", hide = true, default_value = "journal")]
    worker_kind: processes::Kind,
    /// (Used by the program itself.) The first event --append-worker appends.
    #[arg(long, value_name = "N", hide = true, default_value_t = 0)]
    worker_first: u64,
    /// (Used by the program itself.) How many events --append-worker appends.
    #[arg(long, value_name = "N", hide = true, default_value_t = 0)]
    worker_count: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let outcome = match (&args.replay_peak, &args.append_worker) {
        (Some(store), _) => replay_peak(store),
        (None, Some(store)) => processes::worker(
            args.worker_kind,
            store,
            args.worker_first,
            args.worker_count,
        ),
        (None, None) => run(&args),
    };
    match outcome {
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
    let wanted = |id: &str| args.only.is_empty() || args.only.iter().any(|only| only == id);
    // Only the appends without syncs and the loose replay run the original package.
    let original = if wanted("append_no_sync") || wanted("replay") {
        Original::install()
    } else {
        Err("not needed by the tables run".to_owned())
    };
    if let Err(why) = &original {
        eprintln!("the original package's rows are skipped: {why}");
    }
    let replay_commits =
        args.replay_commits
            .unwrap_or(if args.quick { 100_000 } else { 1_000_000 });
    let events = Events::new(args.commits.max(synced), work.path().join("events.jsonl"))?;
    let bench = Bench {
        work: work.path(),
        rounds,
        original: original.as_ref().map_err(String::clone),
        events: &events,
    };

    let mut tables = Vec::new();
    if wanted("append_no_sync") {
        let mut sizes = vec![SMALL_APPEND.min(args.commits), args.commits];
        sizes.dedup();
        for commits in sizes {
            tables.push(bench.append_no_sync(commits)?);
        }
    }
    if wanted("append_synced") {
        tables.push(bench.append_synced(synced)?);
    }
    if wanted("replay") {
        tables.push(bench.replay(args.commits)?);
    }
    if wanted("journal_synced_single") {
        tables.push(bench.journal_synced_single(synced)?);
    }
    if wanted("journal_synced_threads") {
        tables.push(bench.journal_synced_threads(synced)?);
    }
    if wanted("journal_synced_processes") {
        tables.push(bench.journal_synced_processes(synced)?);
    }
    let long_tables = [
        "journal_replay_long",
        "journal_replay_memory",
        "journal_model_open",
    ];
    if long_tables.iter().any(|id| wanted(id)) {
        let long = bench.work.join("long-journal");
        eprintln!(
            "making a journal of {} commits",
            thousands(replay_commits as f64)
        );
        ours::build_journal(&long, replay_commits, BUILD_THREADS)?;
        if wanted("journal_replay_long") {
            tables.push(bench.journal_replay_long(&long, replay_commits)?);
        }
        if wanted("journal_replay_memory") {
            tables.push(bench.journal_replay_memory(&long, replay_commits)?);
        }
        if wanted("journal_model_open") {
            tables.push(bench.journal_model_open(&long, replay_commits)?);
        }
    }

    let mut targets = targets(args.commits, replay_commits);
    // The targets of tables left out by --only are not listed.
    targets.retain(|target| tables.iter().any(|table| table.id == target.table));
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
                "replay_commits": replay_commits,
                "writer_threads": WRITER_THREADS,
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
             every figure: the median of {rounds} run(s) ({MODEL_ROUNDS} at least for the model openings), the programs taking turns; one event per commit, the same events for every program; every program in this process allocates through mimalloc",
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

/// The issue's targets: the loose layout's, then the journal's.
fn targets(commits: u64, replay_commits: u64) -> Vec<Target> {
    vec![
        Target {
            what: format!(
                "appends at {} commits, no syncs: foldstore / the original",
                thousands(commits as f64)
            ),
            table: format!("append_no_sync_{commits}"),
            row: LOOSE.id,
            bound: Bound::AtLeast(20.0),
        },
        Target {
            what: "synced appends: foldstore / the bare loop".to_owned(),
            table: "append_synced".to_owned(),
            row: LOOSE.id,
            bound: Bound::AtLeast(0.8),
        },
        Target {
            what: "replay: foldstore / the bare read-and-parse loop".to_owned(),
            table: "replay".to_owned(),
            row: LOOSE.id,
            bound: Bound::AtLeast(0.9),
        },
        Target {
            what: "journal, synced, single writer: foldstore / SQLite synchronous=FULL".to_owned(),
            table: "journal_synced_single".to_owned(),
            row: JOURNAL.id,
            bound: Bound::AtLeast(1.0),
        },
        Target {
            what: format!(
                "journal, synced, {WRITER_THREADS} writer threads: foldstore / SQLite synchronous=FULL, one connection"
            ),
            table: "journal_synced_threads".to_owned(),
            row: JOURNAL_THREADS,
            bound: Bound::AtLeast(3.0),
        },
        Target {
            what: format!(
                "journal replay of {} commits: foldstore / SQLite scan and parse",
                thousands(replay_commits as f64)
            ),
            table: "journal_replay_long".to_owned(),
            row: JOURNAL.id,
            bound: Bound::AtLeast(1.5),
        },
        Target {
            what: format!(
                "journal replay peak memory: {} commits / {} commits",
                thousands(replay_commits as f64),
                thousands(SMALL_REPLAY as f64)
            ),
            table: "journal_replay_memory".to_owned(),
            row: LONG,
            bound: Bound::AtMost(1.5),
        },
        Target {
            what: format!(
                "journal model open from a snapshot at the tip: time at {} commits / at {} commits",
                thousands(replay_commits as f64),
                thousands(SMALL_MODEL as f64)
            ),
            table: "journal_model_open".to_owned(),
            row: LONG,
            bound: Bound::AtMost(2.0),
        },
    ]
}

/// The tables `--only` can name (the appends without syncs are one name for both sizes).
const TABLE_IDS: [&str; 9] = [
    "append_no_sync",
    "append_synced",
    "replay",
    "journal_synced_single",
    "journal_synced_threads",
    "journal_synced_processes",
    "journal_replay_long",
    "journal_replay_memory",
    "journal_model_open",
];

/// The row of the journal written by many threads.
const JOURNAL_THREADS: &str = "foldstore-journal-threads";

/// The rows of the long and the short journal, in the tables that compare them.
const LONG: &str = "journal-long";
const SHORT: &str = "journal-short";

/// `--replay-peak STORE`: replays the journal at `store` and prints what it took, with the
/// process's peak memory, as one JSON object.
fn replay_peak(store: &Path) -> anyhow::Result<()> {
    let measured = ours::replay(&JOURNAL, store)?;
    let peak = ours::peak_rss_bytes()?;
    let mut out = io::stdout().lock();
    serde_json::to_writer(
        &mut out,
        &json!({
            "commits": measured.commits,
            "events": measured.events,
            "seconds": measured.seconds,
            "peak_bytes": peak,
        }),
    )?;
    writeln!(out)?;
    Ok(())
}

/// Runs this program with `--replay-peak store` in a new process, and reads what it printed.
fn replay_in_child(store: &Path) -> anyhow::Result<Measured> {
    let program = std::env::current_exe().context("cannot find this program's path")?;
    let output = std::process::Command::new(&program)
        .arg("--replay-peak")
        .arg(store)
        .output()
        .with_context(|| format!("cannot run {}", program.display()))?;
    if !output.status.success() {
        bail!(
            "{} --replay-peak {} failed ({}): {}",
            program.display(),
            store.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let figures: serde_json::Value = serde_json::from_slice(&output.stdout).with_context(|| {
        format!(
            "--replay-peak printed {:?}, not its figures",
            String::from_utf8_lossy(&output.stdout)
        )
    })?;
    match (
        figures["commits"].as_u64(),
        figures["events"].as_u64(),
        figures["seconds"].as_f64(),
        figures["peak_bytes"].as_u64(),
    ) {
        (Some(commits), Some(events), Some(seconds), Some(peak)) => Ok(Measured {
            peak_bytes: Some(peak),
            ..Measured::new(commits, events, seconds)
        }),
        _ => bail!("--replay-peak printed {figures}, not {{commits, events, seconds, peak_bytes}}"),
    }
}

/// One timed run of a program, working in the fresh path it is given (which it may create as
/// a folder or a file).
type Runner<'a> = Box<dyn FnMut(&Path) -> anyhow::Result<Measured> + 'a>;

/// SQLite in WAL mode appending `bytes`, one transaction per commit, with the given
/// `synchronous` setting: the row every append table compares with.
fn sqlite_row(bytes: &[Vec<u8>], synchronous: Synchronous) -> (Row, Option<Runner<'_>>) {
    let setting = match synchronous {
        Synchronous::Off => "OFF",
        Synchronous::Full => "FULL",
    };
    (
        Row::new(
            "sqlite-wal",
            format!("SQLite WAL, synchronous={setting}, a transaction per commit"),
        ),
        Some(Box::new(move |path: &Path| {
            fs::create_dir(path)?;
            sqlite::append(&path.join("store.db"), bytes, synchronous)
        })),
    )
}

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
        table: Table,
        programs: Vec<(Row, Option<Runner<'_>>)>,
    ) -> anyhow::Result<Table> {
        self.measure_rounds(table, programs, self.rounds)
    }

    /// [`measure`](Self::measure) with `rounds` rounds.
    fn measure_rounds(
        &self,
        mut table: Table,
        mut programs: Vec<(Row, Option<Runner<'_>>)>,
        rounds: u64,
    ) -> anyhow::Result<Table> {
        eprintln!("{}", table.title);
        let count = programs.len();
        for round in 1..=rounds {
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
                let expected = row.commits.unwrap_or(table.commits);
                if measured.commits != expected {
                    bail!(
                        "{}: {} handled {} commits, not {expected}",
                        table.title,
                        row.label,
                        measured.commits,
                    );
                }
                let figure = table
                    .quantity
                    .of(&measured)
                    .map_or_else(|| "-".to_owned(), |v| table.quantity.show(v));
                eprintln!(
                    "  round {round}/{rounds}: {figure:>9} {}  {}",
                    table.quantity.unit(),
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
        programs.push(sqlite_row(bytes, Synchronous::Off));
        let table = Table {
            id: format!("append_no_sync_{commits}"),
            title: format!(
                "(a) appends without syncs: {} single-event commits into a new store",
                thousands(commits as f64)
            ),
            commits,
            baseline: "original",
            ratio: Ratio::Times,
            quantity: Quantity::Rate,
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
        programs.push(sqlite_row(bytes, Synchronous::Full));
        let table = Table {
            id: "append_synced".to_owned(),
            title: format!(
                "(b) synced appends: {} single-event commits into a new store, each durable before the next (fewer commits: each costs a disk sync)",
                thousands(commits as f64)
            ),
            commits,
            baseline: "bare-loop",
            ratio: Ratio::Percent,
            quantity: Quantity::Rate,
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

        // A layout with another format replays a copy of the same commits, byte for byte.
        let mut copies = Vec::new();
        for layout in LAYOUTS {
            let copy = self.work.join(format!("replay-store-{}", layout.id));
            let copy = ours::copy_of_loose(layout, &folder, &copy, commits)?;
            check_folder(&copy, &self.events.values[..n])?;
            ours::replay(layout, &copy)?;
            copies.push(copy);
        }

        let (folder, database) = (folder.as_path(), database.as_path());
        let mut programs: Vec<(Row, Option<Runner<'_>>)> = vec![(
            Row::new(
                "bare-loop",
                "bare loop: read each k.log, parse it into a Value",
            ),
            Some(Box::new(move |_: &Path| bare::replay(folder, commits))),
        )];
        for (layout, copy) in LAYOUTS.iter().zip(&copies) {
            programs.push((
                Row::new(layout.id, format!("{}: replay_event_stream", layout.label)),
                Some(Box::new(move |_: &Path| ours::replay(layout, copy))),
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
            quantity: Quantity::Rate,
            rows: Vec::new(),
        };
        self.measure(table, programs)
    }

    /// (d): `commits` single-event commits into a new journal, each synced before the next,
    /// against SQLite syncing each transaction.
    fn journal_synced_single(&self, commits: u64) -> anyhow::Result<Table> {
        let n = usize::try_from(commits)?;
        let values = &self.events.values[..n];
        let bytes = &self.events.bytes[..n];
        let events = &self.events.events[..n];
        let programs: Vec<(Row, Option<Runner<'_>>)> = vec![
            sqlite_row(bytes, Synchronous::Full),
            (
                Row::new(
                    JOURNAL.id,
                    format!("{}, Durability::Immediate, 1 thread", JOURNAL.label),
                ),
                Some(Box::new(move |path: &Path| {
                    let measured = ours::append(&JOURNAL, path, events, Durability::Immediate)?;
                    check_folder(path, values)?;
                    Ok(measured)
                })),
            ),
        ];
        let table = Table {
            id: "journal_synced_single".to_owned(),
            title: format!(
                "(d) journal, synced, single writer: {} single-event commits into a new store, each durable before the next",
                thousands(commits as f64)
            ),
            commits,
            baseline: "sqlite-wal",
            ratio: Ratio::Times,
            quantity: Quantity::Rate,
            rows: Vec::new(),
        };
        self.measure(table, programs)
    }

    /// (e): `commits` single-event commits into a new journal from [`WRITER_THREADS`] threads
    /// sharing one store, each commit durable when its `log` returns; against one SQLite
    /// connection syncing each transaction, and (for information) SQLite from as many threads,
    /// each with its own connection.
    fn journal_synced_threads(&self, commits: u64) -> anyhow::Result<Table> {
        let n = usize::try_from(commits)?;
        let values = &self.events.values[..n];
        let bytes = &self.events.bytes[..n];
        let events = &self.events.events[..n];
        let programs: Vec<(Row, Option<Runner<'_>>)> = vec![
            sqlite_row(bytes, Synchronous::Full),
            (
                Row::new(
                    JOURNAL_THREADS,
                    format!(
                        "{}, Durability::Immediate, {WRITER_THREADS} threads, one Store",
                        JOURNAL.label
                    ),
                ),
                Some(Box::new(move |path: &Path| {
                    let measured = ours::append_threads(
                        &JOURNAL,
                        path,
                        events,
                        Durability::Immediate,
                        WRITER_THREADS,
                    )?;
                    check_folder_unordered(path, values)?;
                    Ok(measured)
                })),
            ),
            (
                Row::new(
                    "sqlite-wal-threads",
                    format!(
                        "SQLite WAL, synchronous=FULL, {WRITER_THREADS} threads, a connection each, BEGIN IMMEDIATE"
                    ),
                ),
                Some(Box::new(move |path: &Path| {
                    fs::create_dir(path)?;
                    sqlite::append_threads(
                        &path.join("store.db"),
                        bytes,
                        Synchronous::Full,
                        WRITER_THREADS,
                    )
                })),
            ),
        ];
        let table = Table {
            id: "journal_synced_threads".to_owned(),
            title: format!(
                "(e) journal, synced, {WRITER_THREADS} writer threads: {} single-event commits into a new store, each durable when its write returns",
                thousands(commits as f64)
            ),
            commits,
            baseline: "sqlite-wal",
            ratio: Ratio::Times,
            quantity: Quantity::Rate,
            rows: Vec::new(),
        };
        self.measure(table, programs)
    }

    /// (e'): the same commits written by [`WRITER_PROCESSES`] processes, each with its own
    /// store or connection, against one SQLite connection.
    fn journal_synced_processes(&self, commits: u64) -> anyhow::Result<Table> {
        let n = usize::try_from(commits)?;
        let values = &self.events.values[..n];
        let bytes = &self.events.bytes[..n];
        let programs: Vec<(Row, Option<Runner<'_>>)> = vec![
            sqlite_row(bytes, Synchronous::Full),
            (
                Row::new(
                    "foldstore-journal-processes",
                    format!(
                        "{}, Durability::Immediate, {WRITER_PROCESSES} processes, a Store each",
                        JOURNAL.label
                    ),
                ),
                Some(Box::new(move |path: &Path| {
                    let measured = processes::append(
                        processes::Kind::Journal,
                        path,
                        commits,
                        WRITER_PROCESSES,
                    )?;
                    check_folder_unordered(path, values)?;
                    Ok(measured)
                })),
            ),
            (
                Row::new(
                    "sqlite-wal-processes",
                    format!(
                        "SQLite WAL, synchronous=FULL, {WRITER_PROCESSES} processes, a connection each, BEGIN IMMEDIATE"
                    ),
                ),
                Some(Box::new(move |path: &Path| {
                    fs::create_dir(path)?;
                    processes::append(
                        processes::Kind::Sqlite,
                        &path.join("store.db"),
                        commits,
                        WRITER_PROCESSES,
                    )
                })),
            ),
        ];
        let table = Table {
            id: "journal_synced_processes".to_owned(),
            title: format!(
                "(e') journal, synced, {WRITER_PROCESSES} writer processes: {} single-event commits into a new store, each durable when its write returns",
                thousands(commits as f64)
            ),
            commits,
            baseline: "sqlite-wal",
            ratio: Ratio::Times,
            quantity: Quantity::Rate,
            rows: Vec::new(),
        };
        self.measure(table, programs)
    }

    /// (f): every event of the journal at `journal` (`commits` single-event commits), against
    /// a SQLite scan of the same documents, both from the operating system's cache.
    fn journal_replay_long(&self, journal: &Path, commits: u64) -> anyhow::Result<Table> {
        eprintln!("making the SQLite copy of the long journal");
        let database = self.work.join("long-journal.db");
        let store = (JOURNAL.open)(journal, Durability::None)?;
        sqlite::load_store(&database, &store, commits)?;
        drop(store);
        // Every program reads from the operating system's cache, the first one too.
        sqlite::replay(&database)?;
        ours::replay(&JOURNAL, journal)?;

        let database = database.as_path();
        let programs: Vec<(Row, Option<Runner<'_>>)> = vec![
            (
                Row::new(
                    "sqlite-wal",
                    "SQLite WAL: scan, parse each document into a Value",
                ),
                Some(Box::new(move |_: &Path| sqlite::replay(database))),
            ),
            (
                Row::new(
                    JOURNAL.id,
                    format!("{}: replay_event_stream", JOURNAL.label),
                ),
                Some(Box::new(move |_: &Path| ours::replay(&JOURNAL, journal))),
            ),
        ];
        let table = Table {
            id: "journal_replay_long".to_owned(),
            title: format!(
                "(f) journal replay: every event of a journal of {} single-event commits, from the operating system's cache",
                thousands(commits as f64)
            ),
            commits,
            baseline: "sqlite-wal",
            ratio: Ratio::Times,
            quantity: Quantity::Rate,
            rows: Vec::new(),
        };
        self.measure(table, programs)
    }

    /// (g): the peak memory of a new process replaying the journal at `journal` (`commits`
    /// commits), against one replaying a journal of [`SMALL_REPLAY`] commits.
    fn journal_replay_memory(&self, journal: &Path, commits: u64) -> anyhow::Result<Table> {
        let small = self.work.join("short-journal");
        ours::build_journal(&small, SMALL_REPLAY, BUILD_THREADS)?;
        let small = small.as_path();
        let programs: Vec<(Row, Option<Runner<'_>>)> = vec![
            (
                Row::new(
                    SHORT,
                    format!(
                        "journal of {} commits: replay in a new process",
                        thousands(SMALL_REPLAY as f64)
                    ),
                )
                .with_commits(SMALL_REPLAY),
                Some(Box::new(move |_: &Path| replay_in_child(small))),
            ),
            (
                Row::new(
                    LONG,
                    format!(
                        "journal of {} commits: replay in a new process",
                        thousands(commits as f64)
                    ),
                ),
                Some(Box::new(move |_: &Path| replay_in_child(journal))),
            ),
        ];
        let table = Table {
            id: "journal_replay_memory".to_owned(),
            title: format!(
                "(g) journal replay, peak memory (VmHWM) of a process replaying {} commits and one replaying {}",
                thousands(commits as f64),
                thousands(SMALL_REPLAY as f64)
            ),
            commits,
            baseline: SHORT,
            ratio: Ratio::Times,
            quantity: Quantity::PeakBytes,
            rows: Vec::new(),
        };
        self.measure(table, programs)
    }

    /// (h): the time to open a new store on the journal at `journal` (`commits` commits) and
    /// a model restored from a snapshot at its tip, and read the model's data, against the
    /// same on a journal of [`SMALL_MODEL`] commits with the same snapshot.
    fn journal_model_open(&self, journal: &Path, commits: u64) -> anyhow::Result<Table> {
        eprintln!("taking the model snapshots");
        let small = self.work.join("model-journal");
        ours::build_journal(&small, SMALL_MODEL, 1)?;
        ours::snapshot_members(&small)?;
        ours::snapshot_members(journal)?;
        let small = small.as_path();
        let label = |n: u64| {
            format!(
                "journal of {} commits: new Store and Model, aggregator_data",
                thousands(n as f64)
            )
        };
        let programs: Vec<(Row, Option<Runner<'_>>)> = vec![
            (
                Row::new(SHORT, label(SMALL_MODEL)).with_commits(SMALL_MODEL),
                Some(Box::new(move |_: &Path| ours::open_members(small))),
            ),
            (
                Row::new(LONG, label(commits)),
                Some(Box::new(move |_: &Path| ours::open_members(journal))),
            ),
        ];
        let table = Table {
            id: "journal_model_open".to_owned(),
            title: format!(
                "(h) journal, model open: a new store and a model of {} members restored from the same snapshot at the tip, on a journal of {} commits and on one of {}",
                thousands(ours::MODEL_MEMBERS as f64),
                thousands(commits as f64),
                thousands(SMALL_MODEL as f64)
            ),
            commits,
            baseline: SHORT,
            ratio: Ratio::Times,
            quantity: Quantity::Seconds,
            rows: Vec::new(),
        };
        self.measure_rounds(table, programs, self.rounds.max(MODEL_ROUNDS))
    }
}
