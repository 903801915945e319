//! The tables as data: each workload is a [`Spec`], a table (what it measures, which row is its
//! baseline, how its figures and ratios read) with a program per row, and
//! [`Bench::measure`] runs any of them the same way.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use foldstore::Durability;
use serde_json::Value;

use crate::original::Original;
use crate::ours::{JOURNAL, LAYOUTS, LOOSE};
use crate::report::{thousands, Quantity, Ratio, Row, Table};
use crate::sqlite::Synchronous;
use crate::workload::{check_folder, check_folder_unordered, Events, Measured};
use crate::{bare, ours, processes, sqlite};

/// The writer threads of the journal's synced appends from many threads.
pub const WRITER_THREADS: usize = 8;

/// Writer processes of the multi-process table.
pub const WRITER_PROCESSES: u64 = 4;

/// The commits of the small journal the peak memory of a long replay is compared with.
pub const SMALL_REPLAY: u64 = 10_000;

/// The commits of the small journal the time to open a model on a long journal is compared
/// with.
pub const SMALL_MODEL: u64 = 1_000;

/// Threads writing the long journals made for the replay workloads.
pub const BUILD_THREADS: u64 = 4;

/// Timed runs of each program for the model openings, at least (each takes milliseconds).
pub const MODEL_ROUNDS: u64 = 7;

/// The row of the journal written by many threads.
pub const JOURNAL_THREADS: &str = "foldstore-journal-threads";

/// The row of the replay with data parsed on demand in the long journal replay's table.
pub const ON_DEMAND: &str = "foldstore-journal-on-demand";

/// The row of the typed model fold in the long journal replay's table.
pub const TYPED_FOLD: &str = "foldstore-journal-typed-fold";

/// The rows of the long and the short journal, in the tables that compare them.
pub const LONG: &str = "journal-long";
pub const SHORT: &str = "journal-short";
/// The row of the bare in-place write loop in the single synced writer's table.
pub const BARE_IN_PLACE: &str = "bare-in-place";

/// One timed run of a program, working in the fresh path it is given (which it may create as
/// a folder or a file).
pub type Runner<'a> = Box<dyn FnMut(&Path) -> anyhow::Result<Measured> + 'a>;

/// A row, and the program that makes its figures (`None`: the row is skipped).
pub type Program<'a> = (Row, Option<Runner<'a>>);

/// How a store written by a program is checked: it must hold these events (in order, or in
/// any order when writers raced).
type Check = fn(&Path, &[Value]) -> anyhow::Result<()>;

/// A row whose figures `run` makes.
pub fn program<'a>(
    row: Row,
    run: impl FnMut(&Path) -> anyhow::Result<Measured> + 'a,
) -> Program<'a> {
    (row, Some(Box::new(run)))
}

/// A row whose figures `write` makes, writing a store that `check` then finds holding `values`.
fn writing<'a>(
    row: Row,
    values: &'a [Value],
    check: Check,
    mut write: impl FnMut(&Path) -> anyhow::Result<Measured> + 'a,
) -> Program<'a> {
    program(row, move |path| {
        let measured = write(path)?;
        check(path, values)?;
        Ok(measured)
    })
}

/// SQLite in WAL mode appending `bytes`, one transaction per commit, with the given
/// `synchronous` setting: the row every append table compares with.
fn sqlite_row(bytes: &[Vec<u8>], synchronous: Synchronous) -> Program<'_> {
    let setting = match synchronous {
        Synchronous::Off => "OFF",
        Synchronous::Full => "FULL",
    };
    program(
        Row::new(
            "sqlite-wal",
            format!("SQLite WAL, synchronous={setting}, a transaction per commit"),
        ),
        move |path| {
            fs::create_dir(path)?;
            sqlite::append(&path.join("store.db"), bytes, synchronous)
        },
    )
}

/// How a table reads: the row the others are compared with, how the ratios show, and what
/// the figures are.
#[derive(Clone, Copy, Debug)]
pub struct Reading {
    baseline: &'static str,
    ratio: Ratio,
    quantity: Quantity,
}

impl Reading {
    /// The figures of `quantity`, against the short journal's, as multiples.
    fn against_short(quantity: Quantity) -> Reading {
        Reading {
            baseline: SHORT,
            ratio: Ratio::Times,
            quantity,
        }
    }

    /// Commits per second, against `baseline`, the ratios shown as `ratio`.
    pub fn rate(baseline: &'static str, ratio: Ratio) -> Reading {
        Reading {
            baseline,
            ratio,
            quantity: Quantity::Rate,
        }
    }
}

/// A table to measure: the table, with no rows yet, and a program per row.
pub struct Spec<'a> {
    table: Table,
    programs: Vec<Program<'a>>,
    /// Timed runs of each program, when not `--rounds`.
    rounds: Option<u64>,
}

impl<'a> Spec<'a> {
    /// Table `id`, `title`d, of `commits` commits a run, read as `reading`, measured by
    /// `programs` (the baseline's among them).
    pub fn new(
        id: impl Into<String>,
        title: String,
        commits: u64,
        reading: Reading,
        programs: Vec<Program<'a>>,
    ) -> Spec<'a> {
        let table = Table {
            id: id.into(),
            title,
            commits,
            baseline: reading.baseline,
            ratio: reading.ratio,
            quantity: reading.quantity,
            rows: Vec::new(),
        };
        Spec {
            table,
            programs,
            rounds: None,
        }
    }
}

/// The rows that compare a short journal with a long one, each as (folder, commits): what each
/// run does to a journal, measured by `run`.
fn short_and_long<'a>(
    (short, short_commits): (PathBuf, u64),
    (long, commits): (&'a Path, u64),
    what: &str,
    run: fn(&Path) -> anyhow::Result<Measured>,
) -> Vec<Program<'a>> {
    let label = |n: u64| format!("journal of {} commits: {what}", thousands(n as f64));
    vec![
        program(
            Row::new(SHORT, label(short_commits)).with_commits(short_commits),
            move |_| run(&short),
        ),
        program(Row::new(LONG, label(commits)), move |_| run(long)),
    ]
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
    let figures: Value = serde_json::from_slice(&output.stdout).with_context(|| {
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

/// Who writes the journal in a synced-appends table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Writers {
    /// One thread.
    One,
    /// [`WRITER_THREADS`] threads sharing one store (group commit).
    Threads,
    /// [`WRITER_PROCESSES`] processes, a store each.
    Processes,
}

impl Writers {
    /// The table's id, its letter, who writes, and when each commit is durable.
    fn table(self) -> (&'static str, &'static str, String, &'static str) {
        let returns = "when its write returns";
        match self {
            Writers::One => (
                "journal_synced_single",
                "d",
                "single writer".to_owned(),
                "before the next",
            ),
            Writers::Threads => (
                "journal_synced_threads",
                "e",
                format!("{WRITER_THREADS} writer threads"),
                returns,
            ),
            Writers::Processes => (
                "journal_synced_processes",
                "e'",
                format!("{WRITER_PROCESSES} writer processes"),
                returns,
            ),
        }
    }

    /// What the journal's row says of its writers.
    fn ours(self) -> String {
        match self {
            Writers::One => "1 thread".to_owned(),
            Writers::Threads => format!("{WRITER_THREADS} threads, one Store"),
            Writers::Processes => format!("{WRITER_PROCESSES} processes, a Store each"),
        }
    }
}

/// What every workload shares.
pub struct Bench<'a> {
    pub work: &'a Path,
    pub rounds: u64,
    pub original: Result<&'a Original, String>,
    pub events: &'a Events,
}

impl Bench<'_> {
    /// The original package's row, `what` it does: measured by `run` when the package is
    /// installed, skipped (saying why) when it is not.
    fn original_row<'a>(
        &'a self,
        what: &str,
        run: impl FnOnce(&'a Original) -> Runner<'a>,
    ) -> Program<'a> {
        match &self.original {
            Ok(original) => {
                let label = format!(
                    "original {} (Node {}){what}",
                    original.version, original.node_version
                );
                (Row::new("original", label), Some(run(original)))
            }
            Err(why) => (
                Row::skipped("original", format!("original 1.3.0{what}"), why.clone()),
                None,
            ),
        }
    }

    /// Runs every program of `spec` its number of rounds, taking turns, each run in a fresh
    /// path on a settled file system ([`settle`]); checks that each run handled the table's
    /// number of commits. The first program is the baseline.
    pub fn measure(&self, spec: Spec<'_>) -> anyhow::Result<Table> {
        let Spec {
            mut table,
            mut programs,
            rounds,
        } = spec;
        let rounds = rounds.unwrap_or(self.rounds);
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
                settle(self.work)?;
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
                    "  round {round}/{rounds}: {figure:>9} {}  {}  {}",
                    table.quantity.unit(),
                    row.label,
                    measured.decisions_in_words()
                );
                row.runs.push(measured);
            }
        }
        table.rows = programs.into_iter().map(|(row, _)| row).collect();
        Ok(table)
    }

    /// (a): `commits` single-event commits into a new store, no syncs.
    pub fn append_no_sync(&self, commits: u64) -> anyhow::Result<Spec<'_>> {
        let n = usize::try_from(commits)?;
        let values = &self.events.values[..n];
        let bytes = &self.events.bytes[..n];
        let file = match self.original {
            Ok(_) => Some(self.events.prefix_file(n)?),
            Err(_) => None,
        };
        let mut programs = vec![self.original_row(": store.log", |original| {
            let file = file.unwrap_or_default();
            Box::new(move |path: &Path| {
                let measured = original.append(path, &file)?;
                check_folder(path, values)?;
                Ok(measured)
            })
        })];
        for layout in LAYOUTS {
            let events = &self.events.events[..n];
            programs.push(writing(
                Row::new(layout.id, format!("{}, Durability::None", layout.label)),
                values,
                check_folder,
                move |path| ours::append(layout, path, events, Durability::None),
            ));
        }
        programs.push(writing(
            Row::new(
                "bare-loop",
                "bare loop: tmp file, write, link to k.log, unlink",
            ),
            values,
            check_folder,
            move |path| bare::append(path, bytes, false),
        ));
        programs.push(sqlite_row(bytes, Synchronous::Off));
        let title = format!(
            "(a) appends without syncs: {} single-event commits into a new store",
            thousands(commits as f64)
        );
        let reading = Reading::rate("original", Ratio::Times);
        let id = format!("append_no_sync_{commits}");
        Ok(Spec::new(id, title, commits, reading, programs))
    }

    /// (b): `commits` single-event commits into a new store, each synced before the next.
    pub fn append_synced(&self, commits: u64) -> anyhow::Result<Spec<'_>> {
        let n = usize::try_from(commits)?;
        let values = &self.events.values[..n];
        let bytes = &self.events.bytes[..n];
        let mut programs = vec![writing(
            Row::new(
                "bare-loop",
                "bare loop: tmp file, write, fdatasync, link, unlink, fsync folder",
            ),
            values,
            check_folder,
            move |path| bare::append(path, bytes, true),
        )];
        for layout in LAYOUTS {
            let events = &self.events.events[..n];
            programs.push(writing(
                Row::new(
                    layout.id,
                    format!("{}, Durability::Immediate", layout.label),
                ),
                values,
                check_folder,
                move |path| ours::append(layout, path, events, Durability::Immediate),
            ));
        }
        programs.push(sqlite_row(bytes, Synchronous::Full));
        let title = format!(
            "(b) synced appends: {} single-event commits into a new store, each durable before the next (fewer commits: each costs a disk sync)",
            thousands(commits as f64)
        );
        let reading = Reading::rate("bare-loop", Ratio::Percent);
        let id = "append_synced";
        Ok(Spec::new(id, title, commits, reading, programs))
    }

    /// (c): every event of a store of `commits` single-event commits, from the operating
    /// system's cache.
    pub fn replay(&self, commits: u64) -> anyhow::Result<Spec<'_>> {
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

        let bare_folder = folder.clone();
        let mut programs = vec![program(
            Row::new(
                "bare-loop",
                "bare loop: read each k.log, parse it into a Value",
            ),
            move |_| bare::replay(&bare_folder, commits),
        )];
        for (layout, copy) in LAYOUTS.iter().zip(copies) {
            programs.push(program(
                Row::new(layout.id, format!("{}: replay_event_stream", layout.label)),
                move |_| ours::replay(layout, &copy),
            ));
        }
        programs.push(program(
            Row::new(
                "sqlite-wal",
                "SQLite WAL: scan, parse each document into a Value",
            ),
            move |_| sqlite::replay(&database),
        ));
        programs.push(self.original_row(": replayEventStream", |original| {
            Box::new(move |_: &Path| original.replay(&folder))
        }));
        let title = format!(
            "(c) replay: every event of a store of {} single-event commits, from the operating system's cache",
            thousands(commits as f64)
        );
        let reading = Reading::rate("bare-loop", Ratio::Percent);
        Ok(Spec::new("replay", title, commits, reading, programs))
    }

    /// (d), (e) and (e'): `commits` single-event commits into a new journal by `writers`,
    /// each durable when its write returns, against one SQLite connection syncing each
    /// transaction and (for information) SQLite written the same way as the journal.
    pub fn journal_synced(&self, writers: Writers, commits: u64) -> anyhow::Result<Spec<'_>> {
        let n = usize::try_from(commits)?;
        let values = &self.events.values[..n];
        let bytes = &self.events.bytes[..n];
        let events = &self.events.events[..n];
        let ours = format!(
            "{}, Durability::Immediate, {}",
            JOURNAL.label,
            writers.ours()
        );
        let mut programs = vec![sqlite_row(bytes, Synchronous::Full)];
        programs.push(match writers {
            Writers::One => writing(
                Row::new(JOURNAL.id, ours),
                values,
                check_folder,
                move |path| ours::append(&JOURNAL, path, events, Durability::Immediate),
            ),
            Writers::Threads => writing(
                Row::new(JOURNAL_THREADS, ours),
                values,
                check_folder_unordered,
                move |path| {
                    let durability = Durability::Immediate;
                    ours::append_threads(&JOURNAL, path, events, durability, WRITER_THREADS)
                },
            ),
            Writers::Processes => writing(
                Row::new("foldstore-journal-processes", ours),
                values,
                check_folder_unordered,
                move |path| {
                    let kind = processes::Kind::Journal;
                    processes::append(kind, path, commits, WRITER_PROCESSES)
                },
            ),
        });
        let sqlite = |id, who: String| {
            Row::new(
                id,
                format!("SQLite WAL, synchronous=FULL, {who}, a connection each, BEGIN IMMEDIATE"),
            )
        };
        match writers {
            Writers::One => programs.push(program(
                Row::new(
                    BARE_IN_PLACE,
                    "bare loop: pwrite + fdatasync into a preallocated file (the disk's limit)",
                ),
                move |path| bare::append_in_place(path, bytes),
            )),
            Writers::Threads => programs.push(program(
                sqlite("sqlite-wal-threads", format!("{WRITER_THREADS} threads")),
                move |path| {
                    fs::create_dir(path)?;
                    let database = path.join("store.db");
                    sqlite::append_threads(&database, bytes, Synchronous::Full, WRITER_THREADS)
                },
            )),
            Writers::Processes => programs.push(program(
                sqlite(
                    "sqlite-wal-processes",
                    format!("{WRITER_PROCESSES} processes"),
                ),
                move |path| {
                    fs::create_dir(path)?;
                    let (kind, database) = (processes::Kind::Sqlite, path.join("store.db"));
                    processes::append(kind, &database, commits, WRITER_PROCESSES)
                },
            )),
        }
        let (id, letter, who, durable) = writers.table();
        let title = format!(
            "({letter}) journal, synced, {who}: {} single-event commits into a new store, each durable {durable}",
            thousands(commits as f64)
        );
        let reading = Reading::rate("sqlite-wal", Ratio::Times);
        Ok(Spec::new(id, title, commits, reading, programs))
    }

    /// (f): every event of the journal at `journal` (`commits` single-event commits), against
    /// a SQLite scan of the same documents, both from the operating system's cache.
    pub fn journal_replay_long<'a>(
        &'a self,
        journal: &'a Path,
        commits: u64,
    ) -> anyhow::Result<Spec<'a>> {
        eprintln!("making the SQLite copy of the long journal");
        let database = self.work.join("long-journal.db");
        let store = (JOURNAL.open)(journal, Durability::None)?;
        sqlite::load_store(&database, &store, commits)?;
        drop(store);
        // Every program reads from the operating system's cache, the first one too.
        sqlite::replay(&database)?;
        ours::replay(&JOURNAL, journal)?;

        let programs = vec![
            program(
                Row::new(
                    "sqlite-wal",
                    "SQLite WAL: scan, parse each document into a Value",
                ),
                move |_| sqlite::replay(&database),
            ),
            program(
                Row::new(
                    JOURNAL.id,
                    format!("{}: replay_event_stream", JOURNAL.label),
                ),
                move |_| ours::replay(&JOURNAL, journal),
            ),
            program(
                Row::new(
                    ON_DEMAND,
                    format!(
                        "{}: replay, data parsed on demand (names looked at)",
                        JOURNAL.label
                    ),
                ),
                move |_| ours::replay_on_demand(&JOURNAL, journal),
            ),
            program(
                Row::new(
                    TYPED_FOLD,
                    format!(
                        "{}: typed model fold (the guide's serde enum)",
                        JOURNAL.label
                    ),
                ),
                move |_| ours::fold_typed(&JOURNAL, journal),
            ),
        ];
        let title = format!(
            "(f) journal replay: every event of a journal of {} single-event commits, from the operating system's cache",
            thousands(commits as f64)
        );
        let reading = Reading::rate("sqlite-wal", Ratio::Times);
        let id = "journal_replay_long";
        Ok(Spec::new(id, title, commits, reading, programs))
    }

    /// (g): the peak memory of a new process replaying the journal at `journal` (`commits`
    /// commits), against one replaying a journal of [`SMALL_REPLAY`] commits.
    pub fn journal_replay_memory<'a>(
        &'a self,
        journal: &'a Path,
        commits: u64,
    ) -> anyhow::Result<Spec<'a>> {
        let small = self.work.join("short-journal");
        ours::build_journal(&small, SMALL_REPLAY, BUILD_THREADS)?;
        let what = "replay in a new process";
        let programs = short_and_long((small, SMALL_REPLAY), (journal, commits), what, |path| {
            replay_in_child(path)
        });
        let title = format!(
            "(g) journal replay, peak memory (VmHWM) of a process replaying {} commits and one replaying {}",
            thousands(commits as f64),
            thousands(SMALL_REPLAY as f64)
        );
        let reading = Reading::against_short(Quantity::PeakBytes);
        let id = "journal_replay_memory";
        Ok(Spec::new(id, title, commits, reading, programs))
    }

    /// (h): the time to open a new store on the journal at `journal` (`commits` commits) and
    /// a model restored from a snapshot at its tip, and read the model's data, against the
    /// same on a journal of [`SMALL_MODEL`] commits with the same snapshot.
    pub fn journal_model_open<'a>(
        &'a self,
        journal: &'a Path,
        commits: u64,
    ) -> anyhow::Result<Spec<'a>> {
        eprintln!("taking the model snapshots");
        let small = self.work.join("model-journal");
        ours::build_journal(&small, SMALL_MODEL, 1)?;
        ours::snapshot_members(&small)?;
        ours::snapshot_members(journal)?;
        let what = "new Store and Model, aggregator_data";
        let programs = short_and_long((small, SMALL_MODEL), (journal, commits), what, |path| {
            ours::open_members(path)
        });
        let title = format!(
            "(h) journal, model open: a new store and a model of {} members restored from the same snapshot at the tip, on a journal of {} commits and on one of {}",
            thousands(ours::MODEL_MEMBERS as f64),
            thousands(commits as f64),
            thousands(SMALL_MODEL as f64)
        );
        let reading = Reading::against_short(Quantity::Seconds);
        let id = "journal_model_open";
        let mut spec = Spec::new(id, title, commits, reading, programs);
        spec.rounds = Some(self.rounds.max(MODEL_ROUNDS));
        Ok(spec)
    }

    /// (i): a new store reads the last ten commits of the long journal and of a short one.
    pub fn journal_tail_read<'a>(
        &'a self,
        journal: &'a Path,
        commits: u64,
    ) -> anyhow::Result<Spec<'a>> {
        let small = self.work.join("tail-journal");
        if !small.exists() {
            ours::build_journal(&small, SMALL_MODEL, 1)?;
        }
        let what = format!("new Store, its last {} commits read", ours::TAIL);
        let programs = short_and_long((small, SMALL_MODEL), (journal, commits), &what, |path| {
            ours::read_tail(path)
        });
        let title = format!(
            "(i) journal, the newest commits (what `foldstore log --from TIP-9` reads): a new store reads the last {} commits of a journal of {} commits and of one of {}",
            ours::TAIL,
            thousands(commits as f64),
            thousands(SMALL_MODEL as f64)
        );
        let reading = Reading::against_short(Quantity::Seconds);
        let mut spec = Spec::new("journal_tail_read", title, commits, reading, programs);
        spec.rounds = Some(self.rounds.max(MODEL_ROUNDS));
        Ok(spec)
    }
}

/// Waits until what earlier runs wrote to the work folder's file system is on the disk
/// (`syncfs`), so that no program pays, in its syncs or reads, for the writeback another
/// program left behind. Without it, in table (d), the journal measured 2,887 and 2,920
/// commits/s in the rounds where it ran right after SQLite and 5,922 where it ran first, and
/// SQLite 1,161 to 2,565; synced before each run, 5,734 to 7,304 and 4,758 to 5,917.
///
/// # Errors
/// The work folder cannot be opened or synced.
fn settle(work: &Path) -> anyhow::Result<()> {
    let folder = fs::File::open(work).with_context(|| format!("cannot open {}", work.display()))?;
    rustix::fs::syncfs(&folder)
        .with_context(|| format!("cannot sync the file system of {}", work.display()))?;
    Ok(())
}
