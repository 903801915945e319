//! Threads of one process writing to one journal at once.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Barrier};
use std::thread;

use crate::common::journal_store;
use crate::format::{all_records, temp};
use foldstore::{Conflict, Event, JournalStorage, Storage, Store};
use serde_json::json;

#[test]
fn eight_threads_logging_get_every_number_once() {
    const THREADS: u64 = 8;
    const CALLS: u64 = 200;
    let temp = temp();
    let path = temp.path().join("store");
    let store = journal_store(&path);
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let store = store.clone();
            thread::spawn(move || {
                (0..CALLS)
                    .map(|i| {
                        let event = Event::with_data("tagged", json!({"t": t, "i": i}));
                        (store.log(&event).unwrap(), t, i)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut acknowledged: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
    for handle in handles {
        let mut last = 0;
        for (n, t, i) in handle.join().unwrap() {
            assert!(n > last, "a thread's commits are in its order");
            last = n;
            assert!(acknowledged.insert(n, (t, i)).is_none(), "commit {n} twice");
        }
    }
    let total = THREADS * CALLS;
    assert_eq!(
        acknowledged.keys().copied().collect::<Vec<_>>(),
        (1..=total).collect::<Vec<_>>()
    );
    for reader in [store.clone(), Store::open(&path).unwrap()] {
        assert_eq!(reader.tip().unwrap(), total);
        let mut seen = BTreeSet::new();
        for commit in reader.commits(..) {
            let commit = commit.unwrap();
            let data = commit.events()[0].data().unwrap();
            let tagged = (data["t"].as_u64().unwrap(), data["i"].as_u64().unwrap());
            assert_eq!(acknowledged[&commit.number()], tagged);
            assert!(seen.insert(tagged));
        }
        assert_eq!(seen.len() as u64, total);
    }
    assert_eq!(all_records(&path).len() as u64, total);
    assert!(store.verify(|_, _| {}).unwrap().is_sound());
}

fn raced_document(instance: usize, number: u64) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "headers": {"time": "2024-01-01T00:00:00.000Z"},
        "events": [{"name": "raced", "data": {"instance": instance, "n": number}}]
    }))
    .unwrap()
}

#[test]
fn journal_backends_on_one_folder_racing_for_each_number_have_one_winner() {
    const INSTANCES: usize = 4;
    const NUMBERS: u64 = 60;
    let temp = temp();
    let path = temp.path().join("store");
    journal_store(&path);
    let barrier = Arc::new(Barrier::new(INSTANCES));
    let handles: Vec<_> = (0..INSTANCES)
        .map(|instance| {
            // Each backend its own view and queue, as in another process.
            let storage = JournalStorage::new(&path);
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                let mut won = Vec::new();
                for n in 1..=NUMBERS {
                    barrier.wait();
                    match storage
                        .create_commit(n, &raced_document(instance, n))
                        .unwrap()
                    {
                        Ok(()) => won.push(n),
                        Err(conflict) => assert_eq!(conflict, Conflict { commit: n }),
                    }
                }
                (instance, won)
            })
        })
        .collect();
    let mut winner = BTreeMap::new();
    for handle in handles {
        let (instance, won) = handle.join().unwrap();
        for n in won {
            assert!(
                winner.insert(n, instance).is_none(),
                "commit {n} was won twice"
            );
        }
    }
    assert_eq!(
        winner.keys().copied().collect::<Vec<_>>(),
        (1..=NUMBERS).collect::<Vec<_>>()
    );
    for reader in (0..2).map(|_| JournalStorage::new(&path)) {
        for (&n, &instance) in &winner {
            assert_eq!(
                reader.read_commit(n).unwrap(),
                Some(raced_document(instance, n)),
                "commit {n}"
            );
        }
        assert_eq!(reader.last_commit().unwrap(), NUMBERS);
    }
    assert_eq!(all_records(&path).len() as u64, NUMBERS);
    assert!(Store::open(&path)
        .unwrap()
        .verify(|_, _| {})
        .unwrap()
        .is_sound());
}

/// Two backends (as two processes) that have both read the journal while it was empty: the
/// second to create commit 1 must lose, and an append must take number 2.
///
/// Guards against a bug once found here: a backend lists the segment folder once (`load`, then
/// `view.loaded`). With no segment known, `JournalStorage::find_end` returns `(1, Clean)`
/// without looking at the disk again (it only `discover`s a segment named after the end of a
/// segment it scanned), so under the lock `write_batch` believes the log is empty; then
/// `start_segment(1)` meets the segment the other process created, takes `AlreadyExists` for
/// "left empty by a writer that died", and `append_records` writes at offset 0, over the other
/// process's acknowledged commit 1. Both writers are told they created commit 1; the first one's
/// commit is gone (and, when the second record is shorter, the rest of the first record is left
/// behind as a torn tail).
#[test]
fn backends_that_saw_the_journal_empty_do_not_overwrite_each_others_first_commit() {
    let temp = temp();
    let path = temp.path().join("store");
    journal_store(&path);
    let first = JournalStorage::new(&path);
    let second = JournalStorage::new(&path);
    let third = JournalStorage::new(&path);
    for storage in [&first, &second, &third] {
        assert_eq!(storage.last_commit().unwrap(), 0);
    }
    let a = raced_document(1, 1);
    assert_eq!(first.create_commit(1, &a).unwrap(), Ok(()));
    let b = raced_document(2, 1);
    let created = second.create_commit(1, &b).unwrap();
    let appended = third.append_commit(1, &raced_document(3, 1)).unwrap();
    let now = JournalStorage::new(&path).read_commit(1).unwrap();
    assert!(
        created == Err(Conflict { commit: 1 }) && appended == 2 && now.as_ref() == Some(&a),
        "after one backend created commit 1, a second backend that had seen the \
         journal empty was told {created:?} for creating commit 1, a third appended at {appended}, \
         and commit 1 now reads {:?} (the first backend's was {:?})",
        now.map(|d| String::from_utf8_lossy(&d).into_owned()),
        String::from_utf8_lossy(&a)
    );
}
