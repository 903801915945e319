//! Writes with an unknown outcome, resolved by the commit id.

use std::collections::BTreeSet;
use std::sync::{Arc, Barrier};

use crate::wrapper::{with_id, Fault, Wrapper};
use foldstore::{Conflict, Event, ObjectStorage, Storage, Store, COMMIT_ID_HEADER};
use object_store::memory::InMemory;
use object_store::path::Path;
use serde_json::json;

#[test]
fn a_create_answered_exists_after_it_landed_is_recognised_by_its_commit_id() {
    let wrapper = Wrapper::new(Arc::new(InMemory::new()));
    let storage = ObjectStorage::new(wrapper.clone(), Path::from("p"));
    assert!(storage.needs_commit_ids());

    // It landed, the answer says "exists": the bytes and their id are ours.
    let mine = with_id("a", "mine");
    wrapper.queue(Fault::LandThenExists);
    assert_eq!(
        storage.create_identified_commit(1, &mine).expect("create"),
        Ok(())
    );
    assert_eq!(storage.read_commit(1).expect("read"), Some(mine.clone()));
    assert_eq!(
        wrapper.take_requests(),
        ["put", "get", "get"],
        "one put, one read back (and the check above)"
    );

    // The same document, id and all, is the same commit: sent again, it is found there.
    assert_eq!(
        storage.create_identified_commit(1, &mine).expect("create"),
        Ok(())
    );
    // Another document is another writer's: a conflict.
    assert_eq!(
        storage
            .create_identified_commit(1, &with_id("other", "mine"))
            .expect("create"),
        Err(Conflict { commit: 1 })
    );

    // Without an id, equal bytes prove nothing: a conflict.
    let anonymous = b"{\"events\":[]}".to_vec();
    wrapper.queue(Fault::LandThenExists);
    assert_eq!(
        storage.create_commit(2, &anonymous).expect("create"),
        Err(Conflict { commit: 2 })
    );
    assert_eq!(storage.read_commit(2).expect("read"), Some(anonymous));

    // A snapshot likewise.
    wrapper.queue(Fault::LandThenExists);
    assert_eq!(
        storage
            .create_identified_snapshot("m", 1, &with_id("s", "snapshot"))
            .expect("create"),
        Ok(())
    );
}

#[test]
fn a_create_that_timed_out_is_resolved_by_reading_back() {
    let wrapper = Wrapper::new(Arc::new(InMemory::new()));
    let storage = ObjectStorage::new(wrapper.clone(), Path::from("p"));

    // It landed: ours.
    let mine = with_id("b", "mine");
    wrapper.queue(Fault::LandThenTimeout);
    assert_eq!(
        storage.create_identified_commit(1, &mine).expect("create"),
        Ok(())
    );
    assert_eq!(storage.read_commit(1).expect("read"), Some(mine));

    // Another writer's commit is there: a conflict (ours can no longer land).
    wrapper.queue(Fault::LoseThenTimeout);
    assert_eq!(
        storage
            .create_identified_commit(1, &with_id("c", "other"))
            .expect("create"),
        Err(Conflict { commit: 1 })
    );

    // Nothing is there: the outcome stays unknown, and the error says so and where.
    wrapper.queue(Fault::LoseThenTimeout);
    let error = storage
        .create_identified_commit(2, &with_id("d", "lost"))
        .expect_err("unknown outcome");
    let message = error.to_string();
    assert!(message.contains("unknown"), "{message}");
    assert!(message.contains(&storage.commit_location(2)), "{message}");
    assert!(message.contains("timed out"), "{message}");
    assert_eq!(storage.read_commit(2).expect("read"), None);

    // It landed but carries no id: the outcome cannot be told, and the error says why.
    wrapper.queue(Fault::LandThenTimeout);
    let message = storage
        .create_commit(2, b"no id")
        .expect_err("unknown outcome")
        .to_string();
    assert!(message.contains("commitId"), "{message}");
}

#[test]
fn a_store_writes_commit_ids_and_survives_lost_acknowledgements() {
    let wrapper = Wrapper::new(Arc::new(InMemory::new()));
    *wrapper.every_commit.lock().unwrap() = Some(Fault::LandThenExists);
    let store = Store::with_storage(ObjectStorage::new(wrapper.clone(), Path::from("p")));
    store.ensure_folder().expect("ensure_created");
    let barrier = Barrier::new(4);
    std::thread::scope(|scope| {
        for writer in 0..4 {
            let (store, barrier) = (&store, &barrier);
            scope.spawn(move || {
                barrier.wait();
                for index in 0..10 {
                    store
                        .log(&Event::with_data("logged", json!([writer, index])))
                        .expect("log");
                }
            });
        }
    });
    let commits: Vec<_> = store.commits(..).map(|c| c.expect("commit")).collect();
    assert_eq!(
        commits.iter().map(|c| c.number()).collect::<Vec<_>>(),
        (1..=40).collect::<Vec<_>>(),
        "every acknowledged write once, contiguously"
    );
    let ids: BTreeSet<String> = commits
        .iter()
        .map(|c| {
            let id = c.headers().get(COMMIT_ID_HEADER).expect("a commit id");
            id.as_str().expect("a string id").to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 40, "unique ids");
    let events: BTreeSet<String> = commits
        .iter()
        .map(|c| c.events()[0].data().expect("data").to_string())
        .collect();
    assert_eq!(events.len(), 40, "no event written twice");
}
