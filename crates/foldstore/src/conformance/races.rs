//! Many writers at once (contract 8): racing creates, appends and snapshots, one winner each.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Barrier, Mutex};
use std::thread;

use super::{commits, doc};
use crate::storage::{Conflict, Storage};

/// How many writer threads the racing checks start.
pub const THREADS: usize = 8;

/// Contract 8 with contract 1: many writers racing for the same numbers, one winner each.
pub fn racing_creates_have_one_winner_per_number(storage: &dyn Storage) {
    const NUMBERS: u64 = 30;
    let barrier = Barrier::new(THREADS);
    let winners: Mutex<BTreeMap<u64, Vec<usize>>> = Mutex::new(BTreeMap::new());
    thread::scope(|scope| {
        for writer in 0..THREADS {
            let (barrier, winners) = (&barrier, &winners);
            scope.spawn(move || {
                barrier.wait();
                for number in 1..=NUMBERS {
                    let document = doc(&format!("writer {writer} at {number}"));
                    match storage.create_commit(number, &document).expect("create") {
                        Ok(()) => winners
                            .lock()
                            .expect("lock")
                            .entry(number)
                            .or_default()
                            .push(writer),
                        Err(conflict) => assert_eq!(conflict, Conflict { commit: number }),
                    }
                }
            });
        }
    });
    let winners = winners.into_inner().expect("lock");
    assert_eq!(winners.len(), usize::try_from(NUMBERS).expect("small"));
    for (number, won) in &winners {
        assert_eq!(won.len(), 1, "commit {number} was won by {won:?}");
        assert_eq!(
            storage.read_commit(*number).expect("read"),
            Some(doc(&format!("writer {} at {number}", won[0]))),
            "commit {number} holds the winner's bytes"
        );
    }
    assert_eq!(commits(storage), (1..=NUMBERS).collect::<Vec<_>>());
}

/// Contract 8 with contract 4: appends from many threads land once each, contiguously.
pub fn racing_appends_place_every_document_once_contiguously(storage: &dyn Storage) {
    const PER_THREAD: usize = 25;
    let barrier = Barrier::new(THREADS);
    let placed: Mutex<Vec<(u64, Vec<u8>)>> = Mutex::new(Vec::new());
    thread::scope(|scope| {
        for writer in 0..THREADS {
            let (barrier, placed) = (&barrier, &placed);
            scope.spawn(move || {
                barrier.wait();
                let mut previous = 0;
                for index in 0..PER_THREAD {
                    let document = doc(&format!("writer {writer} document {index}"));
                    let number = storage.append_commit(1, &document).expect("append");
                    // Every number below the last one taken stays taken, so each writer's
                    // documents land in increasing order.
                    assert!(number > previous, "{number} after {previous}");
                    previous = number;
                    placed.lock().expect("lock").push((number, document));
                }
            });
        }
    });
    let mut placed = placed.into_inner().expect("lock");
    placed.sort();
    let total = u64::try_from(THREADS * PER_THREAD).expect("small");
    let numbers: Vec<u64> = placed.iter().map(|(number, _)| *number).collect();
    assert_eq!(numbers, (1..=total).collect::<Vec<_>>());
    let documents: BTreeSet<&Vec<u8>> = placed.iter().map(|(_, document)| document).collect();
    assert_eq!(documents.len(), THREADS * PER_THREAD, "every document once");
    for (number, document) in &placed {
        assert_eq!(
            storage.read_commit(*number).expect("read").as_ref(),
            Some(document)
        );
    }
    assert_eq!(commits(storage), numbers);
}

/// Contract 8 with contract 5: writers racing for one snapshot, one winner.
pub fn racing_snapshot_creates_have_one_winner(storage: &dyn Storage) {
    let barrier = Barrier::new(THREADS);
    let winners = Mutex::new(Vec::new());
    thread::scope(|scope| {
        for writer in 0..THREADS {
            let (barrier, winners) = (&barrier, &winners);
            scope.spawn(move || {
                barrier.wait();
                let document = doc(&format!("snapshot by {writer}"));
                if storage
                    .create_snapshot("members", 7, &document)
                    .expect("create")
                    .is_ok()
                {
                    winners.lock().expect("lock").push(writer);
                }
            });
        }
    });
    let winners = winners.into_inner().expect("lock");
    assert_eq!(winners.len(), 1, "{winners:?}");
    assert_eq!(
        storage.read_snapshot("members", 7).expect("read"),
        Some(doc(&format!("snapshot by {}", winners[0])))
    );
}
