//! `foldstore stats`: what a store holds, counted.

use std::collections::BTreeMap;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::process::ExitCode;

use anstyle::Style;
use foldstore::{same_name, Finding, RawCommit, Scanned, Snapshot, Store};
use serde_json::{json, Map, Value};

use crate::cmd::buckets::{Bucket, Buckets};
use crate::output::{
    error_text, finding_text, findings_json, header_text, human_size, plural, printable, styled,
    Palette,
};
use crate::progress::Progress;

/// A commit and its time header.
#[derive(Clone, Debug)]
struct Timed {
    commit: u64,
    time: Value,
}

/// What `stats` counts.
#[derive(Debug, Default)]
struct Stats {
    tip: u64,
    commits: u64,
    commit_bytes: u64,
    events: u64,
    by_name: BTreeMap<String, u64>,
    first: Option<Timed>,
    last: Option<Timed>,
    untimed: u64,
    /// Sound snapshots, their bytes and their models.
    snapshots: u64,
    snapshot_bytes: u64,
    /// Snapshots that cannot be used (not counted in `snapshots`; each is in `problems`).
    damaged_snapshots: u64,
    by_model: BTreeMap<String, u64>,
    problems: Vec<Finding>,
    /// Commits per hour or day, with `--by`.
    buckets: Option<Buckets>,
}

/// The events of one name, counted: by the original package's rule (`memberHasMoved` and
/// `MemberHasMoved` are one event), or one exact spelling.
#[derive(Debug)]
struct NameCount {
    /// The name shown: the most frequent spelling (the first in sorted order on a tie).
    name: String,
    /// The events of every spelling.
    total: u64,
    /// Each spelling seen and its events, in sorted order.
    spellings: Vec<(String, u64)>,
}

/// Reads every commit and snapshot of `store` and prints what it holds; event names are
/// counted by the original's first-letter rule unless `exact_names`. With `by`, prints
/// instead the commits and events of each hour or day.
///
/// # Errors
/// When the store cannot be listed, or the output written. Damage is reported, with status 1.
pub fn run(
    store: &Store,
    json: bool,
    exact_names: bool,
    by: Option<Bucket>,
) -> anyhow::Result<ExitCode> {
    let stats = count(store, by)?;
    let names = names_by_count(&stats, exact_names);
    let mut out = BufWriter::new(io::stdout().lock());
    if let Some(buckets) = &stats.buckets {
        if json {
            let mut report = buckets.to_json();
            report["problems"] = Value::from(findings_json(&stats.problems));
            serde_json::to_writer(&mut out, &report)?;
            out.write_all(b"\n")?;
        } else {
            buckets.write_text(&mut out, &Palette::stdout(), io::stdout().is_terminal())?;
            write_problems(&mut out, &stats, &Palette::stdout())?;
        }
    } else if json {
        serde_json::to_writer(&mut out, &to_json(store, &stats, &names))?;
        out.write_all(b"\n")?;
    } else {
        write_text(&mut out, store, &stats, &names, &Palette::stdout())?;
    }
    out.flush()?;
    Ok(if stats.problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// What `stats --json` prints (without `--by`): the store's counts, names by the original's
/// first-letter rule unless `exact_names`, and the problems found.
///
/// # Errors
/// When the store cannot be listed.
pub fn report(store: &Store, exact_names: bool) -> anyhow::Result<Value> {
    let stats = count(store, None)?;
    Ok(to_json(store, &stats, &names_by_count(&stats, exact_names)))
}

fn count(store: &Store, by: Option<Bucket>) -> anyhow::Result<Stats> {
    let storage = store.storage();
    let listing = storage.list()?;
    let mut stats = Stats {
        tip: listing.commits.last().copied().unwrap_or(0),
        buckets: by.map(Buckets::new),
        ..Stats::default()
    };
    let mut progress = Progress::new(
        "counting",
        listing.commits.len() as u64 + listing.snapshots.len() as u64,
    );
    for scanned in store.raw_commits_at(listing.commits.iter().copied()) {
        if !matches!(scanned, Scanned::Gap { .. }) {
            progress.inc();
        }
        let (number, bytes, commit) = match scanned {
            Scanned::Gap { first, next } => {
                stats
                    .problems
                    .push(Finding::gap(storage.commit_location(first), first, next));
                continue;
            }
            Scanned::Commit(RawCommit {
                number,
                bytes,
                commit,
            }) => (number, bytes, commit),
            // A backend that knows a commit to be damaged may still have its bytes.
            Scanned::Unreadable {
                number,
                error,
                bytes: Some(bytes),
            } => (number, bytes, Err(error)),
            Scanned::Unreadable { number, error, .. } => {
                stats.problems.push(Finding {
                    location: storage.commit_location(number),
                    problem: error_text(&anyhow::Error::from(error)),
                });
                continue;
            }
            Scanned::Absent { number } => {
                stats.problems.push(Finding {
                    location: storage.commit_location(number),
                    problem: "disappeared while being read".to_owned(),
                });
                continue;
            }
        };
        stats.commit_bytes += bytes.len() as u64;
        let commit = match commit {
            Ok(commit) => commit,
            Err(e) => {
                stats
                    .problems
                    .push(Finding::of_commit(storage.commit_location(number), e));
                continue;
            }
        };
        stats.commits += 1;
        stats.events += commit.events().len() as u64;
        if let Some(buckets) = &mut stats.buckets {
            buckets.count(commit.time(), commit.events().len() as u64);
        }
        for event in commit.events() {
            *stats.by_name.entry(event.name().to_owned()).or_default() += 1;
        }
        match (commit.time(), commit.headers().get("time")) {
            (Some(_), Some(time)) => {
                let timed = Timed {
                    commit: number,
                    time: time.clone(),
                };
                stats.first.get_or_insert_with(|| timed.clone());
                stats.last = Some(timed);
            }
            _ => stats.untimed += 1,
        }
    }
    for (name, commit) in &listing.snapshots {
        progress.inc();
        // Judged as `verify` judges them: a snapshot that does not decode, or that is
        // labelled beyond the log, is damaged.
        let problem = match storage.read_snapshot(name, *commit) {
            Ok(Some(bytes)) => match Snapshot::decode(name, *commit, &bytes) {
                Ok(_) if *commit > stats.tip => Some(format!(
                    "is labelled with commit {commit}, but the log ends at commit {}",
                    stats.tip
                )),
                Ok(_) => {
                    stats.snapshots += 1;
                    stats.snapshot_bytes += bytes.len() as u64;
                    *stats.by_model.entry(name.clone()).or_default() += 1;
                    None
                }
                Err(e) => Some(e.problem().to_owned()),
            },
            // Removed since the listing: not there any more.
            Ok(None) => None,
            Err(e) => Some(error_text(&anyhow::Error::from(e))),
        };
        if let Some(problem) = problem {
            stats.damaged_snapshots += 1;
            stats.problems.push(Finding {
                location: storage.snapshot_location(name, *commit),
                problem,
            });
        }
    }
    Ok(stats)
}

/// Event names with their counts, the most frequent first (then by name): spellings that
/// differ only in the case of their first letter counted as one name, unless `exact`.
fn names_by_count(stats: &Stats, exact: bool) -> Vec<NameCount> {
    let mut names: Vec<NameCount> = Vec::new();
    for (spelling, &n) in &stats.by_name {
        let group = if exact {
            None
        } else {
            names
                .iter_mut()
                .find(|group| same_name(&group.name, spelling))
        };
        match group {
            Some(group) => {
                group.total += n;
                group.spellings.push((spelling.clone(), n));
                let most = group.spellings.iter().map(|(_, n)| *n).max().unwrap_or(0);
                if let Some((name, _)) = group.spellings.iter().find(|(_, n)| *n == most) {
                    group.name.clone_from(name);
                }
            }
            None => names.push(NameCount {
                name: spelling.clone(),
                total: n,
                spellings: vec![(spelling.clone(), n)],
            }),
        }
    }
    names.sort_by(|a, b| b.total.cmp(&a.total).then(a.name.cmp(&b.name)));
    names
}

fn to_json(store: &Store, stats: &Stats, names: &[NameCount]) -> Value {
    let timed = |t: &Option<Timed>| {
        t.as_ref()
            .map_or(Value::Null, |t| json!({"commit": t.commit, "time": t.time}))
    };
    let by_name: Map<String, Value> = names
        .iter()
        .map(|group| (group.name.clone(), group.total.into()))
        .collect();
    // Only the names written in more than one way.
    let spellings: Map<String, Value> = names
        .iter()
        .filter(|group| group.spellings.len() > 1)
        .map(|group| {
            let counts: Map<String, Value> = group
                .spellings
                .iter()
                .map(|(spelling, n)| (spelling.clone(), (*n).into()))
                .collect();
            (group.name.clone(), Value::Object(counts))
        })
        .collect();
    json!({
        "store": store.path().map(|p| p.display().to_string()),
        "tip": stats.tip,
        "commits": stats.commits,
        "events": stats.events,
        "events_by_name": by_name,
        "name_spellings": spellings,
        "bytes": stats.commit_bytes,
        "first": timed(&stats.first),
        "last": timed(&stats.last),
        "untimed_commits": stats.untimed,
        "snapshots": {
            "count": stats.snapshots,
            "bytes": stats.snapshot_bytes,
            "by_model": stats.by_model,
            "damaged": stats.damaged_snapshots,
        },
        "problems": findings_json(&stats.problems),
    })
}

fn write_text(
    out: &mut dyn Write,
    store: &Store,
    stats: &Stats,
    names: &[NameCount],
    p: &Palette,
) -> io::Result<()> {
    let label = |text: &str| styled(p.label, format!("{text:<10}"));
    if let Some(path) = store.path() {
        writeln!(
            out,
            "{} {}",
            label("store"),
            printable(&path.display().to_string())
        )?;
    }
    writeln!(
        out,
        "{} {}  {}",
        label("commits"),
        stats.commits,
        styled(p.dim, human_size(stats.commit_bytes))
    )?;
    writeln!(out, "{} {}", label("events"), stats.events)?;
    for (text, timed) in [("first", &stats.first), ("last", &stats.last)] {
        if let Some(t) = timed {
            writeln!(
                out,
                "{} {}  {}",
                label(text),
                styled(p.time, header_text(&t.time)),
                styled(p.dim, format!("commit {}", t.commit))
            )?;
        }
    }
    if stats.untimed > 0 {
        writeln!(
            out,
            "{} {} without a readable time",
            label("untimed"),
            plural(stats.untimed, "commit")
        )?;
    }
    let models: Vec<String> = stats
        .by_model
        .iter()
        .map(|(name, n)| format!("{} {n}", printable(name)))
        .collect();
    write!(out, "{} {}", label("snapshots"), stats.snapshots)?;
    if stats.snapshots > 0 {
        write!(
            out,
            "  {}  ({})",
            styled(p.dim, human_size(stats.snapshot_bytes)),
            models.join(", ")
        )?;
    }
    if stats.damaged_snapshots > 0 {
        write!(
            out,
            "  {}",
            styled(
                p.bad,
                format!("(and {} damaged, listed below)", stats.damaged_snapshots)
            )
        )?;
    }
    writeln!(out)?;
    if !names.is_empty() {
        writeln!(out, "{}", styled(p.label, "events by name"))?;
        let width = names
            .first()
            .map_or(1, |group| group.total.to_string().len());
        for group in names {
            write!(
                out,
                "  {:>width$}  {}",
                group.total,
                styled(p.name, printable(&group.name))
            )?;
            if group.spellings.len() > 1 {
                let spellings: Vec<String> = group
                    .spellings
                    .iter()
                    .map(|(spelling, n)| format!("{} {n}", printable(spelling)))
                    .collect();
                write!(
                    out,
                    "  {}",
                    styled(p.dim, format!("(written {})", spellings.join(", ")))
                )?;
            }
            writeln!(out)?;
        }
    }
    write_problems(out, stats, p)
}

/// The problems found, when there are any.
fn write_problems(out: &mut dyn Write, stats: &Stats, p: &Palette) -> io::Result<()> {
    if !stats.problems.is_empty() {
        writeln!(
            out,
            "{}",
            styled(
                p.bad,
                format!(
                    "{} found (not counted above); run 'foldstore verify' for details",
                    plural(stats.problems.len() as u64, "problem")
                )
            )
        )?;
        for finding in &stats.problems {
            writeln!(out, "  {}", finding_text(finding, Style::new()))?;
        }
    }
    Ok(())
}
