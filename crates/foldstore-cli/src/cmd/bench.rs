//! `foldstore bench`: appends and replays measured on a folder store, printed as one JSON object.
//!
//! The figures are meant to be read as ratios against baselines measured in the same run on
//! the same machine (the comparison program, `crates/foldstore-compare`, measures those):
//! absolute figures from shared, noisy machines say little on their own.

use std::fs;
use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{anyhow, bail, Context};
use foldstore::{Durability, Error, Event, Layout, Store};
use serde_json::{json, Value};

use crate::access::open_existing;
use crate::cli::{BenchDurability, BenchWorkload, LayoutArg};
use crate::output::{plural, styled, Palette};

/// The size of the store `bench replay` makes when none is given.
const DEFAULT_REPLAY_COMMITS: u64 = 10_000;

/// Runs a workload and prints its figures.
///
/// # Errors
/// Bad parameters (a `--dir` that holds files, more writers than commits, a STORE that does
/// not exist or holds no commits), errors of the store, and a store that does not hold the
/// commits written once the writers are done.
pub fn run(workload: BenchWorkload) -> anyhow::Result<ExitCode> {
    let report = match workload {
        BenchWorkload::Append {
            commits,
            events_per_commit,
            writers,
            durability,
            dir,
            layout,
            chain,
        } => append(
            commits,
            events_per_commit,
            writers,
            durability,
            dir,
            layout,
            chain,
        )?,
        BenchWorkload::Replay {
            store,
            commits,
            events_per_commit,
            layout,
        } => replay(store, commits, events_per_commit, layout)?,
        BenchWorkload::Serve(options) => crate::serve::bench::run(&options)?,
    };
    let mut out = io::stdout().lock();
    serde_json::to_writer(&mut out, &report.json)?;
    out.write_all(b"\n")?;
    out.flush()?;
    if io::stderr().is_terminal() {
        let p = Palette::stderr();
        // Only a courtesy for people: the JSON on standard output is the result.
        let _ = writeln!(
            io::stderr(),
            "{} {}",
            styled(
                p.label,
                format!("{}:", report.json["workload"].as_str().unwrap_or("bench"))
            ),
            report.summary
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// A workload's figures: the JSON object to print and a line for people.
#[derive(Debug)]
pub(crate) struct Report {
    /// The figures.
    pub json: Value,
    /// A line for people.
    pub summary: String,
}

/// Event number `index` (from 0) of every benchmark: a `memberHasMoved` event with about 100
/// bytes of data, the shape the comparison program writes too.
pub(crate) fn member_has_moved(index: u64) -> Event {
    Event::with_data(
        "memberHasMoved",
        json!({
            "name": format!("member {index}"),
            "address": {"street": format!("{index} Rykkinnveien"), "city": "Rykkinn"},
        }),
    )
}

/// Appends `count` commits of `events_per_commit` events each: the commits numbered (in
/// workload order, not necessarily in the log's) `first`, `first + step`, ...
pub(crate) fn write_commits(
    store: &Store,
    first: u64,
    step: u64,
    count: u64,
    events_per_commit: u64,
) -> foldstore::Result<()> {
    for j in 0..count {
        let commit = first + j * step;
        if events_per_commit == 1 {
            store.log(&member_has_moved(commit))?;
        } else {
            let events = commit * events_per_commit..(commit + 1) * events_per_commit;
            store.log_block(|block| {
                for index in events {
                    block.log(&member_has_moved(index))?;
                }
                block.mark_as_complete();
                Ok::<_, Error>(())
            })?;
        }
    }
    Ok(())
}

/// `bench append`: the figures of appending `commits` commits from `writers` threads.
pub(crate) fn append(
    commits: u64,
    events_per_commit: u64,
    writers: u64,
    durability: BenchDurability,
    dir: Option<PathBuf>,
    layout: LayoutArg,
    chain: bool,
) -> anyhow::Result<Report> {
    if writers > commits {
        bail!("--writers {writers} is more than --commits {commits}: each writer needs at least one commit to write");
    }
    let folder = match dir {
        Some(dir) => BenchFolder::given(dir)?,
        None => BenchFolder::temporary()?,
    };
    let store = Store::builder(&folder.path)
        .durability(match durability {
            BenchDurability::Immediate => Durability::Immediate,
            BenchDurability::None => Durability::None,
        })
        .layout(layout.into())
        .chain(chain)
        .open()?;
    store.ensure_folder()?;

    let started = Instant::now();
    thread::scope(|scope| -> anyhow::Result<()> {
        let handles: Vec<_> = (0..writers)
            .map(|writer| {
                let share = commits / writers + u64::from(writer < commits % writers);
                let store = store.clone();
                scope
                    .spawn(move || write_commits(&store, writer, writers, share, events_per_commit))
            })
            .collect();
        for handle in handles {
            handle
                .join()
                .map_err(|_| anyhow!("a writer thread panicked"))??;
        }
        Ok(())
    })?;
    let elapsed = started.elapsed();

    let tip = Store::open(&folder.path)?.tip()?;
    if tip != commits {
        bail!(
            "{} holds {tip} commits after {commits} were appended: another program wrote to it, or commits were lost",
            foldstore::shown_address(&folder.path)
        );
    }
    let durability = match durability {
        BenchDurability::Immediate => "immediate",
        BenchDurability::None => "none",
    };
    let events = commits * events_per_commit;
    let rates = Rates::new(elapsed, commits, events);
    let layout = Layout::from(layout).name();
    let mut json = json!({
        "workload": "append",
        "layout": layout,
        "store": foldstore::shown_address(&folder.path),
        "kept": folder.keep,
        "commits": commits,
        "events_per_commit": events_per_commit,
        "events": events,
        "writers": writers,
        "durability": durability,
        "chain": chain,
    });
    rates.add_to(&mut json);
    let summary = format!(
        "{} of {}, {}, durability {durability}{}: {} ({} layout, {})",
        plural(commits, "commit"),
        plural(events_per_commit, "event"),
        plural(writers, "writer"),
        if chain { ", chained" } else { "" },
        rates.text(),
        layout,
        folder.describe(),
    );
    Ok(Report { json, summary })
}

fn replay(
    store: Option<PathBuf>,
    commits: Option<u64>,
    events_per_commit: Option<u64>,
    layout: Option<LayoutArg>,
) -> anyhow::Result<Report> {
    let (folder, made) = match store {
        Some(path) => {
            open_existing(&path)?;
            (BenchFolder { path, keep: true }, None)
        }
        None => {
            let commits = commits.unwrap_or(DEFAULT_REPLAY_COMMITS);
            let events_per_commit = events_per_commit.unwrap_or(1);
            let folder = BenchFolder::temporary()?;
            // Made without syncs: only the replay is measured.
            let maker = Store::builder(&folder.path)
                .durability(Durability::None)
                .layout(layout.unwrap_or(LayoutArg::Loose).into())
                .open()?;
            maker.ensure_folder()?;
            write_commits(&maker, 0, 1, commits, events_per_commit)?;
            (folder, Some(events_per_commit))
        }
    };

    let started = Instant::now();
    let store = Store::open(&folder.path)?;
    // Every event is looked at, as a handler would.
    let mut name_bytes = 0usize;
    let summary = store.replay_event_stream(|event, _headers| {
        name_bytes += event.name().len();
    })?;
    let elapsed = started.elapsed();
    std::hint::black_box(name_bytes);
    if summary.commits == 0 {
        bail!(
            "{} holds no commits: there is nothing to replay",
            foldstore::shown_address(&folder.path)
        );
    }

    let rates = Rates::new(elapsed, summary.commits, summary.events);
    let layout = Layout::detect(&folder.path)?.map_or("none", Layout::name);
    let mut json = json!({
        "workload": "replay",
        "layout": layout,
        "store": foldstore::shown_address(&folder.path),
        "kept": folder.keep,
        "made": made.is_some(),
        "commits": summary.commits,
        "events_per_commit": made,
        "events": summary.events,
    });
    rates.add_to(&mut json);
    let summary = format!(
        "{} ({}): {} ({} layout, {})",
        plural(summary.commits, "commit"),
        plural(summary.events, "event"),
        rates.text(),
        layout,
        folder.describe(),
    );
    Ok(Report { json, summary })
}

/// The elapsed time of a workload and its rates.
#[derive(Clone, Copy, Debug)]
struct Rates {
    seconds: f64,
    commits_per_second: f64,
    events_per_second: f64,
}

impl Rates {
    fn new(elapsed: Duration, commits: u64, events: u64) -> Rates {
        let seconds = elapsed.as_secs_f64();
        // A workload always takes some time; the floor only keeps the division finite.
        let divisor = seconds.max(1e-9);
        Rates {
            seconds,
            commits_per_second: commits as f64 / divisor,
            events_per_second: events as f64 / divisor,
        }
    }

    fn add_to(self, json: &mut Value) {
        json["elapsed_seconds"] = json!(self.seconds);
        json["commits_per_second"] = json!(self.commits_per_second);
        json["events_per_second"] = json!(self.events_per_second);
    }

    fn text(self) -> String {
        format!(
            "{:.3} s, {:.0} commits/s, {:.0} events/s",
            self.seconds, self.commits_per_second, self.events_per_second
        )
    }
}

/// The folder of the store a workload uses: one the user gave (kept), or a temporary one
/// (removed when the workload is done, also when it fails).
#[derive(Debug)]
pub(crate) struct BenchFolder {
    /// The folder.
    pub path: PathBuf,
    keep: bool,
}

impl BenchFolder {
    /// A new folder in the system's temporary folder.
    pub(crate) fn temporary() -> anyhow::Result<BenchFolder> {
        let base = std::env::temp_dir();
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        for attempt in 0..100 {
            let path = base.join(format!(
                "foldstore-bench-{}-{nanos}-{attempt}",
                std::process::id()
            ));
            match fs::create_dir(&path) {
                Ok(()) => return Ok(BenchFolder { path, keep: false }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => {
                    return Err(e).with_context(|| {
                        format!("cannot create a temporary folder in {}", base.display())
                    })
                }
            }
        }
        bail!(
            "cannot find a free name for a temporary folder in {}",
            base.display()
        )
    }

    /// The folder given with `--dir`, which must not exist or be empty, so that the workload
    /// starts from an empty store.
    fn given(path: PathBuf) -> anyhow::Result<BenchFolder> {
        // A server's address is no folder: the workload would write into a live store there.
        if path.to_str().is_some_and(|text| text.contains("://")) {
            bail!(
                "{} is an address, not a folder: 'foldstore bench append' writes its commits into a new folder store (give a new or empty folder)",
                foldstore::shown_address(&path)
            );
        }
        match fs::read_dir(&path) {
            Ok(mut entries) => {
                if entries.next().is_some() {
                    bail!(
                        "{} is not empty: 'foldstore bench append' measures appends to a new store (give a new or empty folder)",
                        path.display()
                    );
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(e).with_context(|| {
                    format!(
                        "cannot use {} for the store (is it a folder?)",
                        path.display()
                    )
                })
            }
        }
        Ok(BenchFolder { path, keep: true })
    }

    fn describe(&self) -> String {
        if self.keep {
            self.path.display().to_string()
        } else {
            format!("{}, removed", self.path.display())
        }
    }
}

impl Drop for BenchFolder {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        if let Err(e) = fs::remove_dir_all(&self.path) {
            // Nothing more can be done if standard error is closed too.
            let _ = writeln!(
                io::stderr(),
                "warning: cannot remove the benchmark's temporary folder {}: {e}",
                self.path.display()
            );
        }
    }
}
