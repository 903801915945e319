//! Several processes writing to one journal at once, and writers killed with SIGKILL.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;
use std::thread;
use std::time::Duration;

use crate::common::counter::{Counter, CounterEvent};
use crate::common::journal_store;
use crate::common::workers::{env_number_or_none, KillableWorker, Rng};
use crate::format::{
    all_records, assert_no_loose_files, parse_segment, quarantine, segment_files, temp, trim_free,
};
use crate::worker::{
    probe, run_workers, worker, DEFAULT_KILLS, DEFAULT_SEED, KILLS, KILL_SEGMENT_BYTES, SEED,
    SEGMENT_BYTES,
};
use foldstore::{Event, Store};
use serde_json::json;

/// Four processes whose models have read the new, empty journal, then race.
///
/// Guards against a bug once found here (see
/// `backends_that_saw_the_journal_empty_do_not_overwrite_each_others_first_commit`): several
/// workers were told they created commit 1.
#[test]
fn read_write_instances_from_four_processes_on_a_new_journal() {
    let temp = temp();
    let path = temp.path().join("store");
    journal_store(&path);
    read_write_instances_from_four_processes(&path, BTreeMap::new());
}

/// The same on a journal that holds a commit already (so every worker knows its segment).
#[test]
fn read_write_instances_from_four_processes_on_a_journal_with_commits() {
    let temp = temp();
    let path = temp.path().join("store");
    let store = journal_store(&path);
    assert_eq!(store.log(&CounterEvent::Incremented { by: 7 }).unwrap(), 1);
    read_write_instances_from_four_processes(&path, BTreeMap::from([(1, 7)]));
}

fn read_write_instances_from_four_processes(path: &Path, mut acked: BTreeMap<u64, i64>) {
    const WORKERS_: u64 = 4;
    const CALLS_: u64 = 25;
    let path = path.to_path_buf();
    let before = acked.len() as u64;
    let outputs = run_workers("rw", &path, WORKERS_, CALLS_);

    let mut failed = 0;
    for lines in &outputs {
        for line in lines {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["ack", n, by] => {
                    let previous = acked.insert(n.parse().unwrap(), by.parse().unwrap());
                    assert!(
                        previous.is_none(),
                        "commit {n} acknowledged to two workers (see \
                         backends_that_saw_the_journal_empty_do_not_overwrite_each_others_first_commit)"
                    );
                }
                ["fail", _] => failed += 1,
                _ => {}
            }
        }
    }
    let successes = acked.len() as u64;
    assert_eq!(successes - before + failed, WORKERS_ * CALLS_);
    assert!(successes > 0);
    assert_eq!(
        acked.keys().copied().collect::<Vec<_>>(),
        (1..=successes).collect::<Vec<_>>(),
        "the commits are contiguous"
    );
    let store = Store::open(&path).unwrap();
    assert_eq!(store.tip().unwrap(), successes);
    for commit in store.commits(..) {
        let commit = commit.unwrap();
        assert_eq!(
            commit.events(),
            [Event::with_data(
                "incremented",
                json!({"by": acked[&commit.number()]})
            )],
            "commit {}",
            commit.number()
        );
    }
    let data = store
        .define_model(Counter)
        .unwrap()
        .aggregator_data()
        .unwrap();
    assert_eq!(*data, acked.values().sum::<i64>());
    assert_eq!(data.position(), successes);
    assert_eq!(all_records(&path).len() as u64, successes);
    assert_no_loose_files(&path);
    assert!(store.verify(|_, _| {}).unwrap().is_sound());
}

#[test]
fn appends_from_four_processes_on_one_journal_land_once_each() {
    const WORKERS_: u64 = 4;
    const CALLS_: u64 = 50;
    let temp = temp();
    let path = temp.path().join("store");
    journal_store(&path);
    let outputs = run_workers("log", &path, WORKERS_, CALLS_);
    let mut acked: BTreeMap<u64, String> = BTreeMap::new();
    for lines in &outputs {
        for line in lines {
            if let ["ack", n, id] = line.split_whitespace().collect::<Vec<_>>().as_slice() {
                assert!(acked.insert(n.parse().unwrap(), (*id).to_owned()).is_none());
            }
        }
    }
    let total = WORKERS_ * CALLS_;
    assert_eq!(
        acked.keys().copied().collect::<Vec<_>>(),
        (1..=total).collect::<Vec<_>>()
    );
    let store = Store::open(&path).unwrap();
    let mut ids = BTreeSet::new();
    for commit in store.commits(..) {
        let commit = commit.unwrap();
        let data = commit.events()[0].data().unwrap();
        let id = format!("{}-{}", data["worker"], data["seq"]);
        assert_eq!(acked[&commit.number()], id);
        assert!(ids.insert(id));
    }
    assert_eq!(ids.len() as u64, total);
    assert_eq!(all_records(&path).len() as u64, total);
}

// ---------------------------------------------------------------------------------------------
// 10. kill -9
// ---------------------------------------------------------------------------------------------

/// Starts a worker in the kill test.
fn spawn_killable(folder: &Path, number: u64) -> KillableWorker {
    KillableWorker::spawn(&mut worker(
        "kill",
        folder,
        number,
        &[(SEGMENT_BYTES, KILL_SEGMENT_BYTES.to_string())],
    ))
}

/// Kills a worker with SIGKILL; returns its lines.
fn kill(mut worker: KillableWorker) -> Vec<String> {
    if let Err(why) = worker.kill() {
        panic!("a worker {why}");
    }
    worker.finish().0
}

/// The ids of the events of every commit, read back; checks that the log is contiguous.
fn read_ids(path: &Path) -> Vec<Vec<String>> {
    let store = Store::open(path).unwrap();
    let mut commits = Vec::new();
    for commit in store.commits(..) {
        let commit = commit.unwrap_or_else(|e| panic!("after a kill: {e}"));
        assert_eq!(commit.number(), commits.len() as u64 + 1);
        commits.push(
            commit
                .events()
                .iter()
                .map(|event| {
                    let data = event.data().unwrap();
                    format!("{}-{}", data["worker"], data["seq"])
                })
                .collect(),
        );
    }
    assert_eq!(store.tip().unwrap(), commits.len() as u64);
    commits
}

/// The bytes after the last whole record of the last segment.
fn torn_tail(path: &Path) -> Vec<u8> {
    let Some(last) = segment_files(path).pop() else {
        return Vec::new();
    };
    let bytes = fs::read(last).unwrap();
    let (_, end) = parse_segment(&bytes);
    trim_free(&bytes[end..]).to_vec()
}

#[test]
fn writers_killed_with_sigkill_lose_no_acknowledged_commit() {
    const PER_ROUND: u64 = 2;
    let kills = env_number_or_none(KILLS).unwrap_or(DEFAULT_KILLS);
    let seed = env_number_or_none(SEED).unwrap_or(DEFAULT_SEED);
    let mut rng = Rng::from_state(seed | 1);
    let temp = temp();
    let path = temp.path().join("store");
    journal_store(&path);

    let mut acked: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    let mut torn_seen: Vec<Vec<u8>> = Vec::new();
    let mut worker = 0;
    let mut killed = 0;
    while killed < kills {
        let mut round: Vec<KillableWorker> = (0..PER_ROUND)
            .map(|_| {
                worker += 1;
                spawn_killable(&path, worker)
            })
            .collect();
        for w in &mut round {
            if let Err(why) = w.wait_ready(Duration::from_secs(60)) {
                panic!("a worker did not start: {why}");
            }
        }
        thread::sleep(Duration::from_micros(rng.below(40_000)));
        for w in round {
            thread::sleep(Duration::from_micros(rng.below(3_000)));
            for line in kill(w) {
                let words: Vec<&str> = line.split_whitespace().collect();
                if let ["ack", n, ids @ ..] = words.as_slice() {
                    let n: u64 = n.parse().unwrap();
                    let ids: Vec<String> = ids.iter().map(|s| (*s).to_owned()).collect();
                    assert!(
                        acked.insert(n, ids).is_none(),
                        "commit {n} acknowledged twice"
                    );
                }
            }
            killed += 1;
        }
        // After every round: the log can be read (in a child first: a reader that never
        // returns fails the test instead of hanging it), is contiguous, and holds every
        // acknowledged commit.
        if let Err(e) = probe(&path) {
            panic!(
                "after {killed} kills (seed {seed}): {e}; the last segment is {:?} \
                 bytes long",
                segment_files(&path)
                    .last()
                    .map(|f| fs::metadata(f).unwrap().len())
            );
        }
        let commits = read_ids(&path);
        for (n, ids) in &acked {
            assert_eq!(
                commits.get(*n as usize - 1),
                Some(ids),
                "acknowledged commit {n} (seed {seed})"
            );
        }
        let all: Vec<&String> = commits.iter().flatten().collect();
        let unique: BTreeSet<&String> = all.iter().copied().collect();
        assert_eq!(unique.len(), all.len(), "an event in two commits");
        let torn = torn_tail(&path);
        if !torn.is_empty() {
            torn_seen.push(torn);
        }
    }
    assert!(
        acked.len() as u64 > kills,
        "too few commits to mean anything"
    );

    // One more write cuts any torn tail off into the quarantine; the journal verifies.
    let store = Store::open(&path).unwrap();
    let tip = store.tip().unwrap();
    let n = store
        .log(&Event::with_data("tagged", json!({"worker": 0, "seq": 1})))
        .unwrap();
    assert_eq!(n, tip + 1);
    assert!(torn_tail(&path).is_empty());
    let quarantined: Vec<Vec<u8>> = quarantine(&path).into_values().collect();
    for torn in &torn_seen {
        assert!(
            quarantined.contains(torn),
            "torn bytes not in the quarantine: {:?}",
            String::from_utf8_lossy(torn)
        );
    }
    assert_eq!(quarantined.len(), torn_seen.len(), "seed {seed}");
    let report = store.verify(|_, _| {}).unwrap();
    assert!(report.is_sound(), "{report:?}");
    assert_eq!((report.tip, report.sound_commits), (n, n));
    assert_eq!(all_records(&path).len() as u64, n);
    assert_no_loose_files(&path);
    eprintln!(
        "{killed} kills, {} commits acknowledged of {n}, {} torn tails (seed {seed})",
        acked.len(),
        torn_seen.len()
    );
}
