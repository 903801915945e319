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
//!   WAL `synchronous=FULL`, a transaction per commit (baseline), and against the disk's limit:
//!   a bare loop writing the same records in place into a file filled and synced beforehand,
//!   `pwrite` and `fdatasync` each (target: the journal at least 90% of it).
//! - (e) synced appends, 8 writer threads sharing one `Store` (group commit), against the same
//!   single-connection SQLite (baseline); SQLite with 8 connections for information.
//! - (f) replay of a journal of `--replay-commits` commits (1,000,000; 100,000 with `--quick`)
//!   against a SQLite scan of the same documents (baseline), and a new model with the guide's
//!   typed events folding the same journal (target: at least 80% of the replay's rate).
//! - (g) the peak memory of replaying that journal and one of 10,000 commits (baseline), each
//!   in a new process (this program, with a hidden `--replay-peak STORE`).
//! - (h) opening a new store and a model restored from a snapshot at the tip, on that journal
//!   and on one of 1,000 commits (baseline).
//! - (i) decisions under contention (`--decisions`, 2,000; 500 with `--quick`): read-write
//!   instances of a model scoped to one account, on a durable journal of 10,000 commits, each
//!   decider (a thread) about its own 64 accounts: one thread (baseline), 8 threads, 4
//!   processes (this program, with a hidden `--decide-worker STORE`) of 1 and of 2 threads.
//!   The decisions that ran out of attempts and the attempts per decision are reported, and
//!   every account's balance in the log is checked against what its decider computed.
//!
//! Each program runs `--rounds` times per workload, the programs taking turns, with the file
//! system synced before each run (no program pays for the writeback another left behind); the
//! median is reported, and each ratio is the median of the rounds' ratios. Without Node.js and
//! npm the original's rows are skipped, with a message.

/// Every program measured in this process (foldstore, SQLite through rusqlite, the bare loops)
/// allocates through mimalloc: the system allocator slows down when threads free what others
/// allocated, as a replay that decodes on two threads does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod bare;
mod decisions;
mod machine;
mod original;
mod ours;
mod processes;
mod report;
mod sqlite;
mod tables;
mod workload;

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use serde_json::json;

use crate::machine::Machine;
use crate::original::Original;
use crate::ours::{JOURNAL, LOOSE};
use crate::report::{thousands, Bound, Target};
use crate::tables::{
    Bench, Writers, BARE_IN_PLACE, BUILD_THREADS, JOURNAL_THREADS, LONG, MODEL_ROUNDS, ON_DEMAND,
    SMALL_MODEL, SMALL_REPLAY, TYPED_FOLD, WRITER_THREADS,
};
use crate::workload::Events;

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
    /// Commits of the journal of the long replay, its peak memory, the model opening and the
    /// tail read (default 1000000; 100000 with --quick).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(20_000..))]
    replay_commits: Option<u64>,
    /// Decisions of the decisions table (default 2000; 500 with --quick).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(8..))]
    decisions: Option<u64>,
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
    /// journal_model_open, journal_tail_read, journal_decisions); default: all.
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
    /// (Used by the program itself.) The first event --append-worker appends, or the first
    /// decider of --decide-worker.
    #[arg(long, value_name = "N", hide = true, default_value_t = 0)]
    worker_first: u64,
    /// (Used by the program itself.) How many events --append-worker appends, or how many
    /// deciders (threads) --decide-worker runs.
    #[arg(long, value_name = "N", hide = true, default_value_t = 0)]
    worker_count: u64,
    /// (Used by the program itself.) Makes decisions on the journal at STORE, as one of
    /// several decider processes.
    #[arg(long, value_name = "STORE", hide = true)]
    decide_worker: Option<PathBuf>,
    /// (Used by the program itself.) The deciders of every --decide-worker together.
    #[arg(long, value_name = "N", hide = true, default_value_t = 1)]
    worker_deciders: u64,
    /// (Used by the program itself.) The decisions of every --decide-worker together.
    #[arg(long, value_name = "N", hide = true, default_value_t = 0)]
    worker_decisions: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let outcome = match (&args.replay_peak, &args.append_worker, &args.decide_worker) {
        (Some(store), _, _) => replay_peak(store),
        (None, Some(store), _) => processes::worker(
            args.worker_kind,
            store,
            args.worker_first,
            args.worker_count,
        ),
        (None, None, Some(store)) => {
            let plan = decisions::Plan {
                deciders: args.worker_deciders,
                decisions: args.worker_decisions,
            };
            decisions::worker(store, plan, args.worker_first, args.worker_count)
        }
        (None, None, None) => run(&args),
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
    let decisions = args
        .decisions
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
            tables.push(bench.measure(bench.append_no_sync(commits)?)?);
        }
    }
    if wanted("append_synced") {
        tables.push(bench.measure(bench.append_synced(synced)?)?);
    }
    if wanted("replay") {
        tables.push(bench.measure(bench.replay(args.commits)?)?);
    }
    if wanted("journal_synced_single") {
        tables.push(bench.measure(bench.journal_synced(Writers::One, synced)?)?);
    }
    if wanted("journal_synced_threads") {
        tables.push(bench.measure(bench.journal_synced(Writers::Threads, synced)?)?);
    }
    if wanted("journal_synced_processes") {
        tables.push(bench.measure(bench.journal_synced(Writers::Processes, synced)?)?);
    }
    if wanted("journal_decisions") {
        tables.push(bench.measure(bench.journal_decisions(decisions)?)?);
    }
    let long_tables = [
        "journal_replay_long",
        "journal_replay_memory",
        "journal_model_open",
        "journal_tail_read",
    ];
    if long_tables.iter().any(|id| wanted(id)) {
        let long = bench.work.join("long-journal");
        eprintln!(
            "making a journal of {} commits",
            thousands(replay_commits as f64)
        );
        ours::build_journal(&long, replay_commits, BUILD_THREADS)?;
        if wanted("journal_replay_long") {
            tables.push(bench.measure(bench.journal_replay_long(&long, replay_commits)?)?);
        }
        if wanted("journal_replay_memory") {
            tables.push(bench.measure(bench.journal_replay_memory(&long, replay_commits)?)?);
        }
        if wanted("journal_model_open") {
            tables.push(bench.measure(bench.journal_model_open(&long, replay_commits)?)?);
        }
        if wanted("journal_tail_read") {
            tables.push(bench.measure(bench.journal_tail_read(&long, replay_commits)?)?);
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
                "decisions": decisions,
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
             every figure: the median of {rounds} run(s) ({MODEL_ROUNDS} at least for the model openings), the programs taking turns, the file system synced before each; every ratio: the median of the rounds' ratios; one event per commit, the same events for every program; every program in this process allocates through mimalloc",
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
            against: None,
            bound: Bound::AtLeast(20.0),
        },
        Target {
            what: "synced appends: foldstore / the bare loop".to_owned(),
            table: "append_synced".to_owned(),
            row: LOOSE.id,
            against: None,
            bound: Bound::AtLeast(0.9),
        },
        Target {
            what: "replay: foldstore / the bare read-and-parse loop".to_owned(),
            table: "replay".to_owned(),
            row: LOOSE.id,
            against: None,
            bound: Bound::AtLeast(0.9),
        },
        Target {
            what: "journal, synced, single writer: foldstore / SQLite synchronous=FULL".to_owned(),
            table: "journal_synced_single".to_owned(),
            row: JOURNAL.id,
            against: None,
            bound: Bound::AtLeast(1.0),
        },
        Target {
            what: "journal, synced, single writer: foldstore / the bare in-place write loop"
                .to_owned(),
            table: "journal_synced_single".to_owned(),
            row: JOURNAL.id,
            against: Some(BARE_IN_PLACE),
            bound: Bound::AtLeast(0.9),
        },
        Target {
            what: format!(
                "journal, synced, {WRITER_THREADS} writer threads: foldstore / SQLite synchronous=FULL, one connection"
            ),
            table: "journal_synced_threads".to_owned(),
            row: JOURNAL_THREADS,
            against: None,
            bound: Bound::AtLeast(3.0),
        },
        Target {
            what: format!(
                "journal replay of {} commits: foldstore / SQLite scan and parse",
                thousands(replay_commits as f64)
            ),
            table: "journal_replay_long".to_owned(),
            row: JOURNAL.id,
            against: None,
            bound: Bound::AtLeast(1.5),
        },
        Target {
            what: format!(
                "journal replay of {} commits, data parsed on demand: foldstore / SQLite scan and parse",
                thousands(replay_commits as f64)
            ),
            table: "journal_replay_long".to_owned(),
            row: ON_DEMAND,
            against: None,
            bound: Bound::AtLeast(3.0),
        },
        Target {
            what: format!(
                "typed model fold of {} commits: / foldstore's own replay of them",
                thousands(replay_commits as f64)
            ),
            table: "journal_replay_long".to_owned(),
            row: TYPED_FOLD,
            against: Some(JOURNAL.id),
            bound: Bound::AtLeast(0.8),
        },
        Target {
            what: format!(
                "journal replay peak memory: {} commits / {} commits",
                thousands(replay_commits as f64),
                thousands(SMALL_REPLAY as f64)
            ),
            table: "journal_replay_memory".to_owned(),
            row: LONG,
            against: None,
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
            against: None,
            bound: Bound::AtMost(2.0),
        },
        Target {
            what: format!(
                "journal tail read, a new store and its last {} commits: time at {} commits / at {} commits",
                ours::TAIL,
                thousands(replay_commits as f64),
                thousands(SMALL_MODEL as f64)
            ),
            table: "journal_tail_read".to_owned(),
            row: LONG,
            against: None,
            bound: Bound::AtMost(2.0),
        },
        Target {
            what: "journal decisions, 8 threads, each its own accounts: / one thread".to_owned(),
            table: "journal_decisions".to_owned(),
            row: "threads-8",
            against: None,
            bound: Bound::AtLeast(3.0),
        },
        Target {
            what: "journal decisions, 4 processes, each its own accounts: / one thread"
                .to_owned(),
            table: "journal_decisions".to_owned(),
            row: "processes-4",
            against: None,
            bound: Bound::AtLeast(3.0),
        },
    ]
}

/// The tables `--only` can name (the appends without syncs are one name for both sizes).
const TABLE_IDS: [&str; 11] = [
    "append_no_sync",
    "append_synced",
    "replay",
    "journal_synced_single",
    "journal_synced_threads",
    "journal_synced_processes",
    "journal_replay_long",
    "journal_replay_memory",
    "journal_model_open",
    "journal_tail_read",
    "journal_decisions",
];

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
