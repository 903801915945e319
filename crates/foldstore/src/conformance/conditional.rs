//! Conditional appends (contract 4, [`Storage::append_commit_if`]) and derived data
//! ([`Storage::read_derived`], [`Storage::write_derived`]), on the backend alone.

use std::collections::BTreeSet;
use std::sync::{Arc, Barrier, Mutex};
use std::thread;

use super::{commits, doc, THREADS};
use crate::error::Error;
use crate::storage::{CommitCheck, Conflict, Storage};

/// A check that finds a conflict in every commit whose bytes start with `prefix`.
fn starting_with(prefix: &str) -> Arc<CommitCheck> {
    let prefix = prefix.as_bytes().to_vec();
    Arc::new(move |_, bytes| Ok(bytes.starts_with(&prefix)))
}

/// Contract 4: a conditional append checks every commit from its first number to the one it
/// creates, refuses (naming the first conflict, writing nothing) when one conflicts, and
/// reports a commit it cannot judge as damage of that commit, writing nothing.
pub fn append_commit_if_checks_the_commits_since_its_position(storage: &dyn Storage) {
    for text in ["a", "b", "b"] {
        storage.append_commit(1, &doc(text)).expect("append");
    }
    let appended = |first, text: &str, check| {
        storage
            .append_commit_if(first, &doc(text), false, check)
            .expect("a conditional append")
    };
    assert_eq!(
        appended(2, "x", starting_with("a")),
        Ok(4),
        "commits 2 and 3 hold no `a`: the next free number"
    );
    assert_eq!(
        appended(2, "y", starting_with("b")),
        Err(Conflict { commit: 2 }),
        "commit 2 holds `b`"
    );
    assert_eq!(
        appended(5, "z", starting_with("")),
        Ok(5),
        "nothing after the position: nothing to check"
    );
    let unjudged: Arc<CommitCheck> = Arc::new(|number, _| {
        if number == 3 {
            Err("cannot be judged".to_owned())
        } else {
            Ok(false)
        }
    });
    match storage.append_commit_if(1, &doc("w"), false, unjudged) {
        Err(Error::CorruptCommit { commit: 3, .. }) => {}
        other => panic!("a commit that cannot be judged must be reported as damage: {other:?}"),
    }
    assert_eq!(
        commits(storage),
        [1, 2, 3, 4, 5],
        "nothing else was written"
    );
    for (number, text) in [(4, "x"), (5, "z")] {
        assert_eq!(
            storage.read_commit(number).expect("read"),
            Some(doc(text)),
            "commit {number}"
        );
    }
}

/// Contracts 4 and 8: writers racing with conditional appends. Those whose checks find no
/// conflict in each other's commits all land, each once; of those that all conflict with each
/// other, one wins and every other names a commit that conflicts.
pub fn racing_conditional_appends_are_checked_against_every_winner(storage: &dyn Storage) {
    const EACH: usize = 10;
    let barrier = Barrier::new(THREADS);
    thread::scope(|scope| {
        for writer in 0..THREADS {
            let barrier = &barrier;
            scope.spawn(move || {
                let own = format!("writer {writer}:");
                let mut after = 0;
                barrier.wait();
                for k in 0..EACH {
                    let check = starting_with(&own);
                    let document = doc(&format!("{own} {k}"));
                    match storage.append_commit_if(after + 1, &document, false, check) {
                        Ok(Ok(number)) => after = number,
                        other => panic!("{own} {k}: only its own commits conflict: {other:?}"),
                    }
                }
            });
        }
    });
    let landed = commits(storage);
    assert_eq!(landed, (1..=(THREADS * EACH) as u64).collect::<Vec<_>>());
    let documents: BTreeSet<Vec<u8>> = landed
        .iter()
        .map(|&n| storage.read_commit(n).expect("read").expect("listed"))
        .collect();
    assert_eq!(documents.len(), THREADS * EACH, "every document once");

    let first = landed.len() as u64 + 1;
    let outcomes = Mutex::new(Vec::new());
    thread::scope(|scope| {
        for writer in 0..THREADS {
            let (barrier, outcomes) = (&barrier, &outcomes);
            scope.spawn(move || {
                barrier.wait();
                let document = doc(&format!("shared by {writer}"));
                let outcome = storage
                    .append_commit_if(first, &document, false, starting_with("shared"))
                    .expect("a conditional append");
                outcomes.lock().expect("lock").push(outcome);
            });
        }
    });
    let outcomes = outcomes.into_inner().expect("lock");
    let won: Vec<u64> = outcomes.iter().filter_map(|o| o.ok()).collect();
    assert_eq!(won, [first], "exactly one winner: {outcomes:?}");
    for outcome in &outcomes {
        if let Err(Conflict { commit }) = outcome {
            assert_eq!(*commit, first, "the losers name the winner's commit");
        }
    }
    assert_eq!(commits(storage).last(), Some(&first));
}

/// Derived data: a backend keeps none (it reads back nothing) or gives back what was saved
/// last under each name, apart from the log (never listed, never a commit).
pub fn derived_data_is_kept_apart_from_the_log(storage: &dyn Storage) {
    storage.append_commit(1, &doc("the log")).expect("append");
    assert_eq!(storage.read_derived("index").expect("read"), None);
    let large: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let mut kept = None;
    for bytes in [&b"first"[..], &[0, 255, b'\n', b'\r'][..], &large[..]] {
        storage.write_derived("index", bytes).expect("write");
        let read = storage.read_derived("index").expect("read");
        assert!(
            read.is_none() || read.as_deref() == Some(bytes),
            "derived data reads back as it was last saved, or not at all"
        );
        kept = kept
            .or(Some(read.is_some()))
            .filter(|&k| k == read.is_some());
        assert!(
            kept.is_some(),
            "a backend keeps derived data always or never"
        );
    }
    assert_eq!(storage.read_derived("other").expect("read"), None);
    let listing = storage.list().expect("list");
    assert_eq!(listing.commits, [1]);
    assert!(listing.suspicious.is_empty(), "{:?}", listing.suspicious);
    assert_eq!(storage.read_commit(2).expect("read"), None);
}
