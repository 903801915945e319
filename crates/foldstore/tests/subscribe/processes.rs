//! Many processes: writer processes (this test binary run again) and subscribers that see every
//! commit once.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use crate::common::workers::{
    env_number, print_worker_result, test_name, wait_until, worker_command, worker_result,
};
use crate::fixtures::{
    CHILD_EVENTS, CHILD_FOLDER, CHILD_GATE, CHILD_ID, CHILD_PAUSE_AFTER, HANG, WORKER_TEST,
};
use foldstore::{Commit, Error, Event, Start, Store, Subscription};
use serde_json::json;

/// The id of event `seq` of writer `writer`.
fn event_id(writer: u64, seq: u64) -> String {
    format!("w{writer}-{seq}")
}

/// A writer process: runs only when started by one of the cross-process tests. Writer 2 logs
/// its events two to a commit; the others one to a commit.
#[test]
fn writer_worker() {
    let Some(folder) = std::env::var_os(CHILD_FOLDER) else {
        return;
    };
    let writer = env_number(CHILD_ID);
    let events = env_number(CHILD_EVENTS);
    let pause = std::env::var_os(CHILD_GATE)
        .map(|gate| (env_number(CHILD_PAUSE_AFTER), PathBuf::from(gate)));
    let per_commit = if writer == 2 { 2 } else { 1 };
    let store = Store::open(PathBuf::from(folder)).unwrap();

    let mut seq = 0;
    while seq < events {
        if let Some((after, gate)) = &pause {
            if seq == *after {
                assert!(
                    wait_until(Duration::from_secs(120), Duration::from_millis(5), || {
                        gate.exists()
                    }),
                    "writer {writer}: the gate never opened"
                );
            }
        }
        let mut end = (seq + per_commit).min(events);
        if let Some((after, _)) = &pause {
            if seq < *after {
                end = end.min(*after);
            }
        }
        store
            .log_block(|block| {
                for s in seq..end {
                    block.log(&Event::with_data(
                        "written",
                        json!({"writer": writer, "seq": s, "id": event_id(writer, s)}),
                    ))?;
                }
                block.mark_as_complete();
                Ok::<_, Error>(())
            })
            .unwrap()
            .expect("a complete block commits");
        seq = end;
    }
    print_worker_result(&(writer, events));
}

/// Writer processes, killed if the test fails before they finish.
struct Writers {
    children: Vec<Child>,
}

impl Writers {
    fn spawn(folder: &Path, writers: u64, events: u64, pause: Option<(u64, &Path)>) -> Writers {
        let children = (0..writers)
            .map(|writer| {
                let mut command = worker_command(&test_name(module_path!(), WORKER_TEST));
                command
                    .env(CHILD_FOLDER, folder)
                    .env(CHILD_ID, writer.to_string())
                    .env(CHILD_EVENTS, events.to_string());
                if let Some((after, gate)) = pause {
                    command
                        .env(CHILD_PAUSE_AFTER, after.to_string())
                        .env(CHILD_GATE, gate);
                }
                command.spawn().expect("start a writer process")
            })
            .collect();
        Writers { children }
    }

    /// Waits for every writer and checks that each one did all its work.
    fn finish(mut self) {
        for child in std::mem::take(&mut self.children) {
            let (_writer, _events): (u64, u64) = worker_result(child, None);
        }
    }
}

impl Drop for Writers {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn event_count(commits: &[Commit]) -> usize {
    commits.iter().map(|c| c.events().len()).sum()
}

/// Takes commits from `subscription` until `commits` hold `events` events in all.
fn collect_until(
    subscription: &mut Subscription,
    commits: &mut Vec<Commit>,
    events: usize,
    deadline: Instant,
) {
    while event_count(commits) < events {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "hung: {} of {events} events after {HANG:?}, last commit {:?}",
            event_count(commits),
            commits.last().map(Commit::number)
        );
        if let Some(commit) = subscription.next_timeout(left).unwrap() {
            commits.push(commit);
        }
    }
}

/// The commits are exactly 1..=tip, in order, and hold every writer's events once each, each
/// writer's in the order it wrote them.
fn check_everything_once(store: &Store, commits: &[Commit], writers: u64, events: u64) {
    let tip = store.tip().unwrap();
    let numbers: Vec<u64> = commits.iter().map(Commit::number).collect();
    assert_eq!(
        numbers,
        (1..=tip).collect::<Vec<_>>(),
        "in order, none missing or repeated"
    );

    let mut ids = BTreeMap::<String, u64>::new();
    let mut last_seq = BTreeMap::<u64, u64>::new();
    for commit in commits {
        for event in commit.events() {
            assert_eq!(event.name(), "written");
            let data = event.data().unwrap();
            let id = data["id"].as_str().unwrap().to_owned();
            let writer = data["writer"].as_u64().unwrap();
            let seq = data["seq"].as_u64().unwrap();
            assert_eq!(id, event_id(writer, seq));
            *ids.entry(id).or_default() += 1;
            if let Some(previous) = last_seq.insert(writer, seq) {
                assert_eq!(seq, previous + 1, "writer {writer}'s events in its order");
            }
        }
    }
    let expected: BTreeSet<String> = (0..writers)
        .flat_map(|w| (0..events).map(move |s| event_id(w, s)))
        .collect();
    assert_eq!(
        ids.keys().cloned().collect::<BTreeSet<_>>(),
        expected,
        "every id"
    );
    assert!(ids.values().all(|&n| n == 1), "every id once: {ids:?}");

    // What was delivered is what the store holds.
    let stored: Vec<Commit> = store.commits(..).map(Result::unwrap).collect();
    assert_eq!(commits, stored.as_slice());
}

const WRITERS: u64 = 3;
const EVENTS: u64 = 40;

fn subscriber_sees_every_commit_of_three_processes(
    configure: impl FnOnce(Subscription) -> Subscription,
    notices: bool,
) {
    let temp = tempfile::tempdir().unwrap();
    let folder = temp.path().join("store");
    let store = Store::open(&folder).unwrap();
    store.ensure_folder().unwrap();
    let mut subscription = configure(store.subscribe(Start::Beginning).unwrap());
    assert_eq!(subscription.has_notices(), notices);

    let deadline = Instant::now() + HANG;
    let writers = Writers::spawn(&folder, WRITERS, EVENTS, None);
    let mut commits = Vec::new();
    collect_until(
        &mut subscription,
        &mut commits,
        (WRITERS * EVENTS) as usize,
        deadline,
    );
    writers.finish();
    assert_eq!(
        subscription.try_next().unwrap(),
        None,
        "nothing beyond the writers' commits"
    );
    check_everything_once(&store, &commits, WRITERS, EVENTS);
    // Writers 0 and 1 log one event per commit, writer 2 two.
    assert_eq!(commits.len() as u64, EVENTS * 2 + EVENTS / 2);
}

/// With file-system notices only: the poll interval is an hour, so a commit noticed only by
/// polling would hang the test (and fail it at the deadline).
#[cfg(feature = "watch")]
#[test]
fn a_subscriber_sees_every_commit_of_three_processes_through_notices() {
    subscriber_sees_every_commit_of_three_processes(
        |s| s.with_poll_interval(Duration::from_secs(3600)),
        true,
    );
}

#[test]
fn a_subscriber_sees_every_commit_of_three_processes_by_polling() {
    subscriber_sees_every_commit_of_three_processes(
        |s| {
            s.without_notices()
                .with_poll_interval(Duration::from_millis(5))
        },
        false,
    );
}

/// The subscriber stops halfway; the writers write the rest while it is stopped (they wait
/// for a gate that opens only after it stopped); it resubscribes after the last commit it saw
/// and gets exactly the rest.
#[test]
fn a_stopped_subscriber_gets_exactly_the_commits_written_meanwhile() {
    const HALF: u64 = EVENTS / 2;
    let temp = tempfile::tempdir().unwrap();
    let folder = temp.path().join("store");
    let gate = temp.path().join("gate");
    let store = Store::open(&folder).unwrap();
    store.ensure_folder().unwrap();
    let deadline = Instant::now() + HANG;

    let mut subscription = store.subscribe(Start::Beginning).unwrap();
    let writers = Writers::spawn(&folder, WRITERS, EVENTS, Some((HALF, &gate)));
    let mut commits = Vec::new();
    collect_until(
        &mut subscription,
        &mut commits,
        (WRITERS * HALF) as usize,
        deadline,
    );
    let last = commits.last().unwrap().number();
    drop(subscription);

    fs::write(&gate, b"").unwrap();
    writers.finish();
    // Every second half was written while the subscriber was stopped.
    assert_eq!(
        store.tip().unwrap(),
        (EVENTS * 2 + EVENTS / 2),
        "all written"
    );
    let stopped_at = commits.len();

    let mut resumed = store.subscribe(Start::After(last)).unwrap();
    collect_until(
        &mut resumed,
        &mut commits,
        (WRITERS * EVENTS) as usize,
        deadline,
    );
    assert_eq!(resumed.try_next().unwrap(), None);
    assert!(commits.len() > stopped_at);
    for commit in &commits[stopped_at..] {
        for event in commit.events() {
            assert!(
                event.data().unwrap()["seq"].as_u64().unwrap() >= HALF,
                "{commit:?}"
            );
        }
    }
    check_everything_once(&store, &commits, WRITERS, EVENTS);
}
