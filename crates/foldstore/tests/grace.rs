//! The grace period readers give a commit that another program may still be writing in place
//! (the original package creates `k.log`, then writes it): bounded whatever the file's
//! modification time says, given whatever commits follow it, and not given to damage that is
//! old or cannot be a write in progress; and repair, which never moves a commit that decodes.
//!
//! A test that waits runs its work on a thread and fails if that takes longer than [`BOUND`]
//! (a grace period is 2 s), so that a hang fails instead of hanging the suite.

mod common;

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use common::assert_refused_as_a_write_in_progress;
use common::counted::CountedOn;
use common::node::{node, original_package};
use foldstore::{Error, Event, LooseStorage, Start, Store, IN_PROGRESS_GRACE};

/// How long work that may wait out grace periods may take before it counts as hanging.
const BOUND: Duration = Duration::from_secs(30);

/// Runs `work` on a thread and returns its result; fails the test when it takes longer than
/// [`BOUND`] (it hangs), and passes its panic on.
fn within<T: Send + 'static>(what: &str, work: impl FnOnce() -> T + Send + 'static) -> T {
    let (send, receive) = mpsc::channel();
    let worker = thread::spawn(move || {
        let _ = send.send(work());
    });
    match receive.recv_timeout(BOUND) {
        Ok(result) => result,
        Err(RecvTimeoutError::Timeout) => panic!("{what} still runs after {BOUND:?}: it hangs"),
        Err(RecvTimeoutError::Disconnected) => match worker.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(()) => panic!("{what} ended without a result"),
        },
    }
}

/// A loose folder store with commits 1 to `n` (events `e1`, `e2`, ...), in a new temporary
/// folder.
fn store_with(n: u64) -> (tempfile::TempDir, PathBuf, Store) {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("store");
    let store = Store::open(&folder).unwrap();
    store.ensure_folder().unwrap();
    for i in 1..=n {
        assert_eq!(store.log(&Event::new(format!("e{i}"))).unwrap(), i);
    }
    (dir, folder, store)
}

fn set_modified(path: &Path, time: SystemTime) {
    File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(time)
        .unwrap();
}

/// An hour from now: a clock that jumped, or a file copied from another machine.
fn in_an_hour() -> SystemTime {
    SystemTime::now() + Duration::from_secs(3600)
}

/// An hour ago: long past any grace period.
fn an_hour_ago() -> SystemTime {
    SystemTime::now() - Duration::from_secs(3600)
}

/// The document the original package would write for one event named `name`.
fn document(name: &str) -> Vec<u8> {
    format!(r#"{{"headers":{{"time":"2026-12-04T20:00:00.000Z"}},"events":[{{"name":"{name}"}}]}}"#)
        .into_bytes()
}

/// What a reader meets while the original writes a commit in place: nothing yet, or the start
/// of the document.
fn unfinished() -> [(&'static str, Vec<u8>); 2] {
    [
        ("empty", Vec::new()),
        ("partial", document("late")[..30].to_vec()),
    ]
}

fn names(store: &Store) -> foldstore::Result<Vec<String>> {
    let mut names = Vec::new();
    store.replay_event_stream(|event, _| names.push(event.name().to_owned()))?;
    Ok(names)
}

fn assert_damaged<T: std::fmt::Debug>(result: foldstore::Result<T>, commit: u64, what: &str) {
    match result {
        Err(Error::CorruptCommit { commit: c, .. }) if c == commit => {}
        other => panic!("{what}: expected commit {commit} reported damaged, got {other:?}"),
    }
}

#[test]
fn an_unreadable_last_commit_dated_in_the_future_is_reported_after_a_bounded_wait() {
    for (kind, bytes) in unfinished() {
        let (_dir, folder, store) = store_with(2);
        let path = folder.join("3.log");
        fs::write(&path, &bytes).unwrap();
        set_modified(&path, in_an_hour());

        let reader = store.clone();
        let read = within("read_commit", move || reader.read_commit(3));
        assert_damaged(read, 3, &format!("read_commit of an {kind} commit"));

        let reader = store.clone();
        let (seen, replayed) = within("a replay", move || {
            let mut seen = Vec::new();
            let result = reader.replay_event_stream(|event, _| seen.push(event.name().to_owned()));
            (seen, result)
        });
        assert_eq!(seen, ["e1", "e2"], "{kind}");
        assert_damaged(replayed, 3, &format!("a replay of an {kind} commit"));

        let reader = store.clone();
        let report = within("verify", move || reader.verify(|_, _| {})).unwrap();
        assert_eq!(report.sound_commits, 2, "{kind}: {report:?}");
        assert_eq!(report.problems.len(), 1, "{kind}: {report:?}");
        assert!(
            report.problems[0].location.ends_with("3.log"),
            "{kind}: {report:?}"
        );
    }
}

#[test]
fn a_subscription_reports_an_unreadable_commit_dated_in_the_future_and_keeps_to_its_timeouts() {
    let (_dir, folder, store) = store_with(2);
    let path = folder.join("3.log");
    fs::write(&path, b"").unwrap();
    set_modified(&path, in_an_hour());
    let mut subscription = store.subscribe(Start::After(2)).unwrap();
    let (timeouts, result) = within("a subscription", move || {
        let mut timeouts = 0;
        loop {
            match subscription.next_timeout(IN_PROGRESS_GRACE / 20) {
                Ok(None) => timeouts += 1,
                other => return (timeouts, other),
            }
        }
    });
    assert_damaged(result, 3, "a subscription");
    // The grace period went on across calls that each kept to their timeout.
    assert!(timeouts > 0, "next_timeout waited out the grace period");
}

/// Creates `k.log` as the original does (exclusively, empty, or with the start of its
/// document), and writes the rest of `document("late")` into it after `delay`, on a thread.
fn write_in_place(path: &Path, start: usize, delay: Duration) -> thread::JoinHandle<()> {
    let whole = document("late");
    let mut file = File::options()
        .append(true)
        .create_new(true)
        .open(path)
        .unwrap();
    file.write_all(&whole[..start]).unwrap();
    thread::spawn(move || {
        thread::sleep(delay);
        file.write_all(&whole[start..]).unwrap();
    })
}

#[test]
fn a_replay_waits_for_a_commit_written_in_place_though_the_next_one_exists() {
    for (kind, start) in [("empty", 0), ("partial", 30)] {
        let (_dir, folder, store) = store_with(2);
        let writer = write_in_place(&folder.join("3.log"), start, Duration::from_millis(500));
        // Another writer takes the next number meanwhile.
        assert_eq!(store.log(&Event::new("e4")).unwrap(), 4);

        let reader = Store::open(&folder).unwrap();
        let seen = within("a replay", move || names(&reader));
        assert_eq!(
            seen.unwrap_or_else(|e| panic!("{kind}: {e}")),
            ["e1", "e2", "late", "e4"],
            "{kind}"
        );
        writer.join().unwrap();
    }
}

#[test]
fn an_iterator_over_commits_waits_for_a_commit_written_in_place_though_the_next_one_exists() {
    let (_dir, folder, store) = store_with(2);
    let writer = write_in_place(&folder.join("3.log"), 0, Duration::from_millis(500));
    assert_eq!(store.log(&Event::new("e4")).unwrap(), 4);
    let reader = Store::open(&folder).unwrap();
    let numbers = within("an iterator", move || {
        reader
            .commits(..)
            .map(|commit| commit.map(|c| c.number()))
            .collect::<foldstore::Result<Vec<_>>>()
    });
    assert_eq!(numbers.unwrap(), [1, 2, 3, 4]);
    writer.join().unwrap();
}

#[test]
fn a_subscription_waits_for_a_commit_written_in_place_though_the_next_one_exists() {
    for (kind, start) in [("empty", 0), ("partial", 30)] {
        let (_dir, folder, store) = store_with(2);
        let mut subscription = Store::open(&folder)
            .unwrap()
            .subscribe(Start::Beginning)
            .unwrap()
            .with_poll_interval(Duration::from_millis(20));
        assert_eq!(subscription.next_commit().unwrap().number(), 1);
        assert_eq!(subscription.next_commit().unwrap().number(), 2);
        let writer = write_in_place(&folder.join("3.log"), start, Duration::from_millis(500));
        assert_eq!(store.log(&Event::new("e4")).unwrap(), 4);
        let delivered = within("a subscription", move || {
            let mut delivered = Vec::new();
            while delivered.len() < 2 {
                let commit = subscription.next_timeout(Duration::from_millis(50))?;
                delivered.extend(commit.map(|c| c.events()[0].name().to_owned()));
            }
            Ok::<_, Error>(delivered)
        });
        assert_eq!(
            delivered.unwrap_or_else(|e| panic!("{kind}: {e}")),
            ["late", "e4"],
            "{kind}"
        );
        writer.join().unwrap();
    }
}

#[test]
fn a_subscription_gives_a_whole_grace_period_to_a_commit_written_after_one_it_waited_for_vanished()
{
    let (_dir, folder, store) = store_with(2);
    let path = folder.join("3.log");
    fs::write(&path, b"").unwrap();
    let mut subscription = store.subscribe(Start::After(2)).unwrap();
    assert!(subscription
        .next_timeout(Duration::from_millis(100))
        .unwrap()
        .is_none());
    // Moved aside (say, by repair), and written anew, in place, long after.
    fs::remove_file(&path).unwrap();
    assert!(subscription
        .next_timeout(Duration::from_millis(100))
        .unwrap()
        .is_none());
    thread::sleep(IN_PROGRESS_GRACE + Duration::from_millis(500));
    let writer = write_in_place(&path, 0, Duration::from_millis(500));
    let delivered = within("a subscription", move || loop {
        if let Some(commit) = subscription.next_timeout(Duration::from_millis(50))? {
            return Ok::<_, Error>(commit.number());
        }
    });
    assert_eq!(delivered.unwrap(), 3);
    writer.join().unwrap();
}

#[test]
fn try_next_waits_for_a_commit_written_in_place() {
    let (_dir, folder, store) = store_with(2);
    let mut subscription = store.subscribe(Start::After(2)).unwrap();
    let writer = write_in_place(&folder.join("3.log"), 0, Duration::from_millis(500));
    assert_eq!(store.log(&Event::new("e4")).unwrap(), 4);
    let delivered = within("try_next", move || {
        let third = subscription.try_next();
        let fourth = subscription.try_next();
        (third, fourth)
    });
    assert_eq!(delivered.0.unwrap().map(|c| c.number()), Some(3));
    assert_eq!(delivered.1.unwrap().map(|c| c.number()), Some(4));
    writer.join().unwrap();
}

/// Replays the store in `folder`, whose commit 2 is damaged, through a backend that counts
/// reads; returns how often commit 2 was read.
fn reads_of_commit_2_by_a_replay(folder: &Path) -> usize {
    let counted = CountedOn::new(LooseStorage::new(folder));
    let reader = Store::with_storage(counted.clone());
    let result = within("a replay", move || names(&reader));
    assert_damaged(result, 2, "a replay");
    counted.reads_of_commit(2)
}

#[test]
fn old_damage_and_damage_no_write_leaves_are_reported_without_waiting() {
    // Left by a crashed writer an hour ago: no write in progress.
    for (kind, bytes) in unfinished() {
        let (_dir, folder, _store) = store_with(3);
        let path = folder.join("2.log");
        fs::write(&path, &bytes).unwrap();
        set_modified(&path, an_hour_ago());
        assert_eq!(reads_of_commit_2_by_a_replay(&folder), 1, "{kind}");
    }
    // Written just now, but not the start of a document: no write in progress either.
    for bytes in [&b"[]"[..], b"{\"events\":3}", b"\0\0\0\0", b" "] {
        let (_dir, folder, _store) = store_with(3);
        fs::write(folder.join("2.log"), bytes).unwrap();
        assert_eq!(
            reads_of_commit_2_by_a_replay(&folder),
            1,
            "{:?}",
            String::from_utf8_lossy(bytes)
        );
    }
    // The measure tells a wait: an empty commit written just now is read again and again
    // during its grace period before it is reported.
    let (_dir, folder, _store) = store_with(3);
    fs::write(folder.join("2.log"), b"").unwrap();
    assert!(reads_of_commit_2_by_a_replay(&folder) > 1);
}

#[test]
fn repair_moves_nothing_that_decodes_by_the_time_it_would_move_it() {
    let (_dir, folder, store) = store_with(2);
    let path = folder.join("3.log");
    fs::write(&path, &document("late")[..30]).unwrap();
    set_modified(&path, an_hour_ago());
    let plan = store.plan_repair().unwrap();
    assert_eq!(plan.quarantine.as_ref().map(|q| q.commit), Some(3));
    assert!(plan.refused.is_empty(), "{plan:?}");
    // The writer finishes after all (a write in progress that was slow, or a plan shown to a
    // person who took a while to confirm).
    fs::write(&path, document("late")).unwrap();
    match store.repair(&plan) {
        Err(Error::RepairRefused { location, problem }) => {
            assert!(location.ends_with("3.log"), "{location}");
            assert!(problem.contains("decodes now"), "{problem}");
            assert!(problem.contains("plan the repair again"), "{problem}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(path.exists());
    assert!(!folder.join("foldstore-quarantine").exists());
    assert_eq!(names(&store).unwrap(), ["e1", "e2", "late"]);
}

#[test]
fn repair_moves_nothing_that_changed_since_the_plan() {
    let (_dir, folder, store) = store_with(2);
    let path = folder.join("3.log");
    fs::write(&path, b"").unwrap();
    set_modified(&path, an_hour_ago());
    let plan = store.plan_repair().unwrap();
    assert_eq!(plan.quarantine.as_ref().map(|q| q.commit), Some(3));
    // More of the document arrived since.
    fs::write(&path, &document("late")[..30]).unwrap();
    match store.repair(&plan) {
        Err(Error::RepairRefused { problem, .. }) => {
            assert!(problem.contains("changed since the plan"), "{problem}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(path.exists());
}

#[test]
fn a_damaged_last_commit_dated_in_the_future_is_not_refused_for_ever() {
    let (_dir, folder, store) = store_with(2);
    let path = folder.join("3.log");
    fs::write(&path, &document("late")[..30]).unwrap();
    set_modified(&path, in_an_hour());
    let planner = store.clone();
    let plan = within("plan_repair", move || planner.plan_repair()).unwrap();
    assert_eq!(plan.quarantine.as_ref().map(|q| q.commit), Some(3));
    assert!(plan.refused.is_empty(), "{plan:?}");
    let moved_to = store.repair(&plan).unwrap().expect("moved");
    assert!(!path.exists());
    assert_eq!(fs::read(moved_to).unwrap(), &document("late")[..30]);
    assert_eq!(names(&store).unwrap(), ["e1", "e2"]);
}

#[test]
fn a_last_commit_modified_a_moment_ago_is_still_refused() {
    let (_dir, folder, store) = store_with(2);
    // Cut short, and written just now: it may be a write in progress.
    fs::write(folder.join("3.log"), &document("late")[..30]).unwrap();
    let planner = store.clone();
    let plan = within("plan_repair", move || planner.plan_repair()).unwrap();
    assert_refused_as_a_write_in_progress(&store, &plan, &folder.join("3.log"));
}

// ---------------------------------------------------------------------------------------------
// Live, with the original package writing beside foldstore.

/// Writes commits with the original package for `ms` milliseconds, each holding one event
/// `{"name": "node", "data": {"writer": <id>, "n": <n>}}`, and prints how many it wrote. The
/// original does not retry a number another writer took (its exclusive create fails with
/// EEXIST): this loop does.
const NODE_WRITER: &str = r#"
"use strict";
const { defineStore } = require("@scriptabuild/eventstore");
(async () => {
    const [folder, ms, id] = process.argv.slice(1);
    const store = defineStore(folder);
    const until = Date.now() + Number(ms);
    let n = 0;
    while (Date.now() < until) {
        try {
            await store.log({ name: "node", data: { writer: id, n } });
            n++;
        } catch (error) {
            if (error.code !== "EEXIST") throw error;
        }
    }
    console.log(n);
})().catch((error) => {
    console.error(error);
    process.exit(1);
});
"#;

/// How long the writers of the live test write.
const LIVE_WRITING: Duration = Duration::from_secs(4);

#[test]
fn a_follower_and_readers_beside_writers_of_the_original_see_every_commit() {
    let Some(modules) = original_package("the live test of grace.rs") else {
        return;
    };
    let (_dir, folder, store) = store_with(0);
    let writing = LIVE_WRITING.as_millis().to_string();
    let node_writers: Vec<_> = (0..2)
        .map(|id| {
            node(modules)
                .args(["-e", NODE_WRITER])
                .arg(&folder)
                .arg(&writing)
                .arg(id.to_string())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("start node")
        })
        .collect();
    let writing_done = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let foldstore_writers: Vec<_> = (0..2)
        .map(|id| {
            let store = Store::open(&folder).unwrap();
            thread::spawn(move || {
                let mut written = 0_u64;
                while started.elapsed() < LIVE_WRITING {
                    store
                        .log(&Event::with_data(
                            "foldstore",
                            serde_json::json!({"writer": id}),
                        ))
                        .expect("log with foldstore");
                    written += 1;
                    thread::sleep(Duration::from_millis(1));
                }
                written
            })
        })
        .collect();
    // A follower, as `foldstore tail -f`: every commit, in order, as it lands.
    let follower = {
        let store = Store::open(&folder).unwrap();
        let writing_done = Arc::clone(&writing_done);
        thread::spawn(move || -> Result<Vec<u64>, String> {
            let mut subscription = store
                .subscribe(Start::Beginning)
                .map_err(|e| e.to_string())?
                .with_poll_interval(Duration::from_millis(50));
            let mut seen = Vec::new();
            let give_up = Instant::now() + BOUND * 2;
            loop {
                match subscription.next_timeout(Duration::from_millis(50)) {
                    Ok(Some(commit)) => seen.push(commit.number()),
                    Ok(None) if writing_done.load(Ordering::SeqCst) => {
                        let tip = store.tip().map_err(|e| e.to_string())?;
                        if seen.last().copied().unwrap_or(0) >= tip {
                            return Ok(seen);
                        }
                    }
                    Ok(None) => {}
                    Err(e) => return Err(format!("after {} commits: {e}", seen.len())),
                }
                if Instant::now() > give_up {
                    return Err(format!("still following after {:?}", BOUND * 2));
                }
            }
        })
    };
    // Readers, as `foldstore events`: whole replays, again and again, while the writers write.
    let replayer = {
        let store = Store::open(&folder).unwrap();
        let writing_done = Arc::clone(&writing_done);
        thread::spawn(move || -> Result<u64, String> {
            let mut replays = 0;
            while !writing_done.load(Ordering::SeqCst) {
                store
                    .replay_event_stream(|_, _| {})
                    .map_err(|e| format!("replay {replays}: {e}"))?;
                replays += 1;
            }
            Ok(replays)
        })
    };

    let mut node_written = 0;
    for child in node_writers {
        let out = child.wait_with_output().expect("wait for node");
        assert!(
            out.status.success(),
            "a node writer failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        node_written += String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse::<u64>()
            .expect("a count from node");
    }
    let foldstore_written: u64 = foldstore_writers
        .into_iter()
        .map(|writer| writer.join().unwrap())
        .sum();
    writing_done.store(true, Ordering::SeqCst);
    let (replays, seen) = match (replayer.join().unwrap(), follower.join().unwrap()) {
        (Ok(replays), Ok(seen)) => (replays, seen),
        (replays, followed) => {
            panic!("the replays: {replays:?}\nthe follower: {followed:?}")
        }
    };

    let total = node_written + foldstore_written;
    assert!(
        node_written > 0 && foldstore_written > 0,
        "{node_written} {foldstore_written}"
    );
    assert_eq!(seen, (1..=total).collect::<Vec<_>>());
    assert_eq!(store.tip().unwrap(), total);
    assert!(store.verify(|_, _| {}).unwrap().is_sound());
    eprintln!(
        "{node_written} commits by the original, {foldstore_written} by foldstore, followed; {replays} replays meanwhile"
    );
}

/// A verification of a store with many unreadable commits dated in the future waits one grace
/// period in all, not one per commit.
#[test]
fn verify_waits_one_grace_period_for_many_unreadable_commits_dated_in_the_future() {
    let (_dir, folder, store) = store_with(61);
    for n in (2..=60).step_by(2) {
        let path = folder.join(format!("{n}.log"));
        fs::write(&path, b"").unwrap();
        set_modified(&path, in_an_hour());
    }
    // One grace period is 2 s; one per unreadable commit would be a minute.
    let report = within("verify", move || store.verify(|_, _| {})).unwrap();
    assert_eq!(report.sound_commits, 31, "{report:?}");
    assert_eq!(report.problems.len(), 30, "{report:?}");
}
