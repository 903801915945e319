//! The rounds of kills, what the parent knows of the store, and the checks of the store after each
//! round.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::thread::{self};
use std::time::{Duration, Instant};

use crate::common::workers::{env_number_or_none, Rng};
use crate::model::{
    durability_name, event_id, Tally, TallyData, TallyEvent, DEFAULT_KILLS, DEFAULT_SEED,
    FULL_CHECK_BELOW, KILLS, MAX_DELAY_MICROS, SEED, SNAPSHOT_NAME, TEMP_PREFIX, WORKERS_PER_ROUND,
};
use crate::parent::{Said, Worker};
use foldstore::{Durability, Store};
use serde_json::json;

/// What the parent has learned about the store, round after round.
#[derive(Default)]
struct Ledger {
    /// The ids of the events of commit k, at index k - 1, as read back.
    commits: Vec<Vec<String>>,
    /// Events in commits 1..=k, at index k (index 0: 0).
    prefix_events: Vec<u64>,
    /// The commit of every event id.
    owner: HashMap<String, u64>,
    /// The acknowledged commits and the ids acknowledged for them.
    acked: BTreeMap<u64, Vec<String>>,
    /// Ids of read-write instances that gave up: they must never appear.
    failed: HashSet<String>,
    /// Acknowledged snapshot labels.
    acked_snapshots: BTreeSet<u64>,
    /// Snapshots present and checked.
    checked_snapshots: BTreeSet<u64>,
    /// Read-write instances that gave up.
    failed_instances: u64,
    /// Acknowledged commits found missing or different: must stay 0.
    lost: u64,
    /// Temporary files left in the folder after the last round (killed writes).
    temporaries: u64,
    /// The tip at the last full check (verify of every commit, a fold from nothing).
    last_full_check: u64,
    /// Rounds that ended with the full checks.
    full_checks: u64,
}

impl Ledger {
    fn tip(&self) -> u64 {
        self.commits.len() as u64
    }

    /// Reads the commits that appeared since the last round, checking that no event id is in
    /// two commits.
    fn read_new_commits(&mut self, store: &Store, tip: u64) {
        if self.prefix_events.is_empty() {
            self.prefix_events.push(0);
        }
        for number in self.tip() + 1..=tip {
            let commit = store
                .read_commit(number)
                .unwrap_or_else(|e| panic!("read commit {number}: {e}"));
            assert!(!commit.events().is_empty(), "commit {number} has no events");
            let ids: Vec<String> = commit
                .events()
                .iter()
                .map(|e| event_id(e, number))
                .collect();
            for event in &ids {
                if let Some(other) = self.owner.insert(event.clone(), number) {
                    panic!("event {event} is in commit {other} and in commit {number}");
                }
            }
            let before = *self.prefix_events.last().unwrap();
            self.prefix_events.push(before + ids.len() as u64);
            self.commits.push(ids);
        }
    }

    /// The checks after a round, with `said` what the killed workers acknowledged.
    fn check_round(
        &mut self,
        folder: &Path,
        durability: Durability,
        said: Vec<Said>,
        final_round: bool,
    ) {
        // (a) The store opens.
        let store = Store::builder(folder)
            .durability(durability)
            .open()
            .expect("the store opens after a kill");

        // (b) It verifies: a torn commit cannot happen with the publish-by-rename protocol,
        // so any problem at all is a failure, and so is a warning (a file mistaken for one).
        // Verify reads every commit; once the log is large, it runs each time the log has
        // grown by a quarter (so thousands of kills stay affordable), and the commits new
        // since the last round are read and decoded every round below.
        let full = final_round
            || self.tip() < FULL_CHECK_BELOW
            || self.tip() >= self.last_full_check + self.last_full_check / 4;
        if full {
            self.last_full_check = self.tip();
            self.full_checks += 1;
            let report = store.verify(|_, _| {}).expect("verify runs");
            assert!(
                report.is_sound(),
                "verify found problems: {:#?}",
                report.problems
            );
            assert!(
                report.warnings.is_empty(),
                "verify warned: {:#?}",
                report.warnings
            );
            let tip = store.tip().expect("tip");
            assert_eq!(report.tip, tip);
            assert_eq!(report.sound_commits, tip);
        }

        // (c) Commits are contiguous, and what the backend lists is exactly the commit files:
        // temporary files are never taken for commits.
        let listing = store.storage().list().expect("list");
        let tip = listing.commits.last().copied().unwrap_or(0);
        assert_eq!(
            listing.commits,
            (1..=tip).collect::<Vec<_>>(),
            "commits are not 1..=tip"
        );
        assert!(
            tip >= self.tip(),
            "the log shrank from {} to {tip}",
            self.tip()
        );
        assert!(listing.suspicious.is_empty(), "{:?}", listing.suspicious);
        self.temporaries = check_folder_entries(folder, &listing.commits, listing.snapshots.len());
        assert_eq!(store.tip().expect("tip"), tip);

        // (e) No event in two commits (new commits read once, and kept).
        self.read_new_commits(&store, tip);

        // (d) Every acknowledged commit is there, holding exactly the acknowledged events.
        let mut lost = Vec::new();
        for said in &said {
            for (commit, ids) in &said.acks {
                let found = usize::try_from(*commit)
                    .ok()
                    .and_then(|k| k.checked_sub(1))
                    .and_then(|i| self.commits.get(i));
                if found != Some(ids) {
                    lost.push(format!(
                        "commit {commit}: acknowledged {ids:?}, found {found:?}"
                    ));
                }
                if let Some(earlier) = self.acked.insert(*commit, ids.clone()) {
                    panic!("commit {commit} acknowledged twice: {earlier:?} and {ids:?}");
                }
            }
            for event in said.fails.iter().flatten() {
                if let Some(commit) = self.owner.get(event) {
                    panic!("event {event} of an instance that gave up is in commit {commit}");
                }
                self.failed.insert(event.clone());
            }
            self.failed_instances += said.fails.len() as u64;
            self.acked_snapshots.extend(&said.snaps);
        }
        self.lost += lost.len() as u64;
        assert!(
            lost.is_empty(),
            "acknowledged commits lost or changed:\n{}",
            lost.join("\n")
        );
        // Ids of instances that gave up never show up later either.
        for event in &self.failed {
            assert!(
                !self.owner.contains_key(event),
                "event {event} of an instance that gave up is in the log"
            );
        }

        // (f) Every snapshot present (acknowledged or not) loads and holds the fold of the
        // commits up to its label; every acknowledged one is present.
        let present: BTreeSet<u64> = listing
            .snapshots
            .iter()
            .map(|(name, label)| {
                assert_eq!(name, SNAPSHOT_NAME, "unexpected snapshot");
                *label
            })
            .collect();
        for label in &self.acked_snapshots {
            assert!(
                present.contains(label),
                "acknowledged snapshot {label} is missing"
            );
        }
        let unchecked: Vec<u64> = present
            .difference(&self.checked_snapshots)
            .copied()
            .collect();
        for label in unchecked {
            let snapshot = store
                .read_snapshot(SNAPSHOT_NAME, label)
                .unwrap_or_else(|e| panic!("snapshot {label}: {e}"))
                .unwrap_or_else(|| panic!("snapshot {label} vanished"));
            let data: TallyData = serde_json::from_value(
                snapshot
                    .data
                    .unwrap_or_else(|| panic!("snapshot {label} has no data")),
            )
            .unwrap_or_else(|e| panic!("snapshot {label} does not load: {e}"));
            assert_eq!(snapshot.headers.get("version"), Some(&json!(1)));
            assert!(label <= tip, "snapshot {label} is beyond the tip {tip}");
            assert_eq!(data.commits, label, "snapshot {label}: commits folded");
            assert_eq!(data.last_commit, label, "snapshot {label}: last commit");
            assert_eq!(
                data.events, self.prefix_events[label as usize],
                "snapshot {label}: events folded"
            );
            self.checked_snapshots.insert(label);
        }

        // (g) A fresh model folds the whole log without error, from the newest snapshot and
        // (with the full checks) from nothing, and gets the same data.
        let total = *self.prefix_events.last().unwrap();
        let mut datas = Vec::new();
        let ways: &[bool] = if full { &[false, true] } else { &[true] };
        for &snapshots in ways {
            let model = store
                .define_model(Tally { snapshots })
                .expect("define the model");
            let data = model
                .aggregator_data()
                .unwrap_or_else(|e| panic!("a fresh model (snapshots: {snapshots}) fails: {e}"));
            assert_eq!(data.position(), tip);
            assert_eq!(data.events, total);
            assert_eq!(data.commits, tip);
            let report = model.report();
            assert!(
                report.skipped_snapshots.is_empty(),
                "{:?}",
                report.skipped_snapshots
            );
            datas.push(data.clone());
        }
        if let [from_nothing, from_snapshot] = &datas[..] {
            assert_eq!(
                from_nothing, from_snapshot,
                "folding from a snapshot differs"
            );
        }
    }

    /// The last checks: every commit read back again is unchanged, every acknowledgement
    /// still holds, and the store still takes writes after all the kills.
    fn check_end(&mut self, folder: &Path, durability: Durability) {
        let store = Store::builder(folder)
            .durability(durability)
            .open()
            .expect("open");
        let tip = store.tip().expect("tip");
        assert_eq!(tip, self.tip());
        for commit in store.commits(..) {
            let commit = commit.expect("read a commit");
            let ids: Vec<String> = commit
                .events()
                .iter()
                .map(|e| event_id(e, commit.number()))
                .collect();
            assert_eq!(
                ids,
                self.commits[commit.number() as usize - 1],
                "commit {} changed",
                commit.number()
            );
        }
        for (commit, ids) in &self.acked {
            assert_eq!(&self.commits[*commit as usize - 1], ids);
        }
        let next = store
            .log(&TallyEvent::Tagged {
                worker: u64::MAX,
                seq: 1,
            })
            .expect("the store takes writes after the kills");
        assert_eq!(next, tip + 1);
        assert!(store.verify(|_, _| {}).expect("verify").is_sound());
    }
}

/// Checks every name in the folder: commits, snapshots and temporary files only, and the
/// commit files exactly those listed. Returns the number of temporary files.
fn check_folder_entries(folder: &Path, commits: &[u64], snapshots: usize) -> u64 {
    let mut commit_files = Vec::new();
    let mut snapshot_files = 0;
    let mut temporaries = 0;
    for entry in fs::read_dir(folder).expect("read the folder") {
        let name = entry.expect("a folder entry").file_name();
        let name = name.to_str().expect("a UTF-8 name");
        if name.starts_with(TEMP_PREFIX) {
            temporaries += 1;
        } else if let Some(stem) = name.strip_suffix(".log") {
            let number: u64 = stem
                .parse()
                .unwrap_or_else(|_| panic!("unexpected file {name}"));
            assert_eq!(format!("{number}.log"), name, "unexpected file {name}");
            commit_files.push(number);
        } else if let Some(label) = name.strip_suffix(&format!(".{SNAPSHOT_NAME}-snapshot")) {
            label
                .parse::<u64>()
                .unwrap_or_else(|_| panic!("unexpected file {name}"));
            snapshot_files += 1;
        } else {
            panic!("unexpected file {name} in the store's folder");
        }
    }
    commit_files.sort_unstable();
    assert_eq!(commit_files, commits, "the listing is not the commit files");
    assert_eq!(snapshot_files, snapshots);
    temporaries
}

/// Kills writers `FOLDSTORE_KILLS` times, [`WORKERS_PER_ROUND`] at a time, on one folder that
/// grows round after round, and checks the store after each round.
fn run_kills(durability: Durability) {
    let started = Instant::now();
    let kills_wanted = env_number_or_none(KILLS).unwrap_or(DEFAULT_KILLS).max(1);
    let seed = env_number_or_none(SEED).unwrap_or(DEFAULT_SEED);
    let rounds = kills_wanted.div_ceil(WORKERS_PER_ROUND);
    let mut rng = Rng::new(seed ^ durability_name(durability).len() as u64);

    let temp = tempfile::tempdir().expect("a temporary folder");
    let folder: PathBuf = temp.path().join("store");
    fs::create_dir(&folder).expect("create the store's folder");

    let mut ledger = Ledger::default();
    let mut kills = 0_u64;
    let mut acks = 0_u64;
    for round in 0..rounds {
        let mut workers: Vec<Worker> = (0..WORKERS_PER_ROUND)
            .map(|slot| Worker::spawn(&folder, round * WORKERS_PER_ROUND + slot, durability))
            .collect();
        for worker in &mut workers {
            worker.wait_ready();
        }
        // Each worker is killed at its own random instant after both started writing.
        let base = Instant::now();
        let mut order: Vec<(Duration, usize)> = (0..workers.len())
            .map(|i| {
                let delay = Duration::from_micros(rng.below(MAX_DELAY_MICROS + 1));
                (delay, i)
            })
            .collect();
        order.sort_unstable();
        for (delay, i) in order {
            thread::sleep((base + delay).saturating_duration_since(Instant::now()));
            workers[i].kill();
            kills += 1;
        }
        let said: Vec<Said> = workers.into_iter().map(Worker::said).collect();
        acks += said.iter().map(|s| s.acks.len() as u64).sum::<u64>();
        ledger.check_round(&folder, durability, said, round + 1 == rounds);
    }
    ledger.check_end(&folder, durability);

    let commits = ledger.tip();
    let acked = ledger.acked.len() as u64;
    assert_eq!(acked, acks, "every acknowledgement names its own commit");
    assert_eq!(ledger.lost, 0, "acknowledged commits were lost");
    assert!(commits >= acked);
    writeln!(
        std::io::stderr(),
        "crash_kill (durability {}): seed {seed}, {kills} kills in {rounds} rounds ({} with a full \
         verify), {commits} commits, \
         {acked} acknowledged, {} written but unacknowledged (killed before the ack), {} lost; \
         {} events; snapshots {} acknowledged, {} present; {} instances out of attempts; \
         {} temporary files left; {:.1} s",
        durability_name(durability),
        ledger.full_checks,
        commits - acked,
        ledger.lost,
        ledger.prefix_events.last().copied().unwrap_or(0),
        ledger.acked_snapshots.len(),
        ledger.checked_snapshots.len(),
        ledger.failed_instances,
        ledger.temporaries,
        started.elapsed().as_secs_f64(),
    )
    .expect("write to stderr");
    assert!(kills >= kills_wanted);
}

#[test]
fn kill_nine_while_appending_loses_nothing_acknowledged() {
    run_kills(Durability::Immediate);
}

#[test]
fn kill_nine_without_syncs_loses_nothing_acknowledged() {
    run_kills(Durability::None);
}
