//! Conditional appends in the journal's group commit: one batch's appends checked against the
//! commits written before it (by another process) and against each other, each refused alone.

use std::sync::Arc;

use super::queue::{Kind, Request};
use super::JournalStorage;
use crate::error::Error;
use crate::event::{Event, Headers};
use crate::format::{decode_commit, encode_commit};
use crate::storage::local::sim::SimFs;
use crate::storage::test_kit::{folder, journal_on};
use crate::storage::{CommitCheck, Conflict, Durability, Storage};

/// A commit of one event tagged `tag`.
fn document(tag: &str) -> Vec<u8> {
    encode_commit(&Headers::new(), &[Event::new("moved").tagged([tag])]).expect("encodes")
}

/// A check that finds a conflict in every commit holding an event tagged `tag`.
fn holding(tag: &'static str) -> Arc<CommitCheck> {
    Arc::new(move |number, bytes| {
        let commit = decode_commit(number, bytes)?;
        Ok(commit.events().iter().any(|e| e.has_tag(tag)))
    })
}

fn request(ticket: u64, kind: Kind, tag: &str, check: Option<Arc<CommitCheck>>) -> Request {
    Request {
        ticket,
        kind,
        document: document(tag),
        check,
    }
}

/// The tags of the first event of every commit, in order.
fn tags(journal: &JournalStorage) -> Vec<String> {
    let last = journal.last_commit().expect("last");
    (1..=last)
        .map(|n| {
            let bytes = journal.read_commit(n).expect("read").expect("present");
            decode_commit(n, &bytes).expect("decodes").events()[0]
                .tags()
                .next()
                .expect("a tag")
                .to_owned()
        })
        .collect()
}

#[test]
fn one_batch_of_conditional_appends_is_checked_against_the_log_and_itself() {
    let fs = Arc::new(SimFs::with_folder(&folder()));
    let journal = journal_on(fs.clone(), Durability::Immediate);
    journal.ensure_created().expect("create");
    // Another process (its own journal object, its own view) writes commits 1 and 2.
    let other = journal_on(fs, Durability::Immediate);
    assert_eq!(other.append_commit(1, &document("a")).expect("append"), 1);
    assert_eq!(other.append_commit(2, &document("b")).expect("append"), 2);

    // Fails on commit 2: its bytes cannot be judged.
    let unreadable: Arc<CommitCheck> = Arc::new(|number, _| {
        if number == 2 {
            Err("not a commit this check can read".to_owned())
        } else {
            Ok(false)
        }
    });
    let batch = [
        // Decided before commit 1: commit 1 holds `a`.
        request(0, Kind::AppendIf(1), "a", Some(holding("a"))),
        // Decided after commit 1: commit 2 holds `b`, not `a`: written as commit 3.
        request(1, Kind::AppendIf(2), "a", Some(holding("a"))),
        // Commit 3 (the one above, in this batch) holds `a`, not `c`: commit 4.
        request(2, Kind::AppendIf(3), "c", Some(holding("c"))),
        // Commit 3 holds `a`: refused, although it is not written yet.
        request(3, Kind::AppendIf(3), "a", Some(holding("a"))),
        // Cannot judge commit 2: an error for this request alone.
        request(4, Kind::AppendIf(2), "d", Some(unreadable)),
        // A plain append goes on after every accepted one.
        request(5, Kind::Append(1), "e", None),
        // From the log's end: nothing to check but commits 3 to 5 of this batch, none `b`.
        request(6, Kind::AppendIf(3), "b", Some(holding("b"))),
    ];
    let outcomes = journal.write_batch(&batch).expect("the batch");
    let outcomes: Vec<String> = outcomes
        .into_iter()
        .map(|outcome| match outcome {
            Ok(Ok(number)) => format!("commit {number}"),
            Ok(Err(Conflict { commit })) => format!("conflict {commit}"),
            Err(Error::CorruptCommit { commit, .. }) => format!("cannot judge {commit}"),
            Err(e) => format!("error {e}"),
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            "conflict 1",
            "commit 3",
            "commit 4",
            "conflict 3",
            "cannot judge 2",
            "commit 5",
            "commit 6"
        ]
    );
    assert_eq!(tags(&journal), ["a", "b", "a", "c", "e", "b"]);
    assert_eq!(tags(&other), ["a", "b", "a", "c", "e", "b"], "another view");
}

/// The trait method as the store calls it: a conditional append from a position that other
/// writers have left behind is decided by what they wrote.
#[test]
fn append_commit_if_checks_what_others_wrote_since_the_position() {
    let fs = Arc::new(SimFs::with_folder(&folder()));
    let journal = journal_on(fs.clone(), Durability::Immediate);
    journal.ensure_created().expect("create");
    let other = journal_on(fs, Durability::Immediate);
    for tag in ["a", "b", "b"] {
        other.append_commit(1, &document(tag)).expect("append");
    }
    let appended = |first, tag: &'static str| {
        journal
            .append_commit_if(first, &document(tag), false, holding(tag))
            .expect("no error")
    };
    assert_eq!(appended(2, "a"), Ok(4), "commits 2 and 3 hold `b`");
    assert_eq!(appended(2, "b"), Err(Conflict { commit: 2 }));
    assert_eq!(appended(5, "b"), Ok(5), "nothing to check");
    assert_eq!(tags(&other), ["a", "b", "b", "a", "b"]);
}
