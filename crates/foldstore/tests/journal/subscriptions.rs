//! Subscriptions to a journal.

use crate::common::{journal_store, numbered};
use crate::format::temp;
use foldstore::Store;

/// A subscriber on a journal gets every commit, the old ones and then each new one written by
/// another store (another writer's backend) on the same folder, in order and once.
#[test]
fn a_subscription_on_a_journal_delivers_old_and_new_commits_in_order() {
    let temp = temp();
    let path = temp.path().join("store");
    let store = journal_store(&path);
    for i in 1..=3 {
        store.log(&numbered(i)).unwrap();
    }
    let mut subscription = Store::open(&path)
        .unwrap()
        .subscribe(foldstore::Start::Beginning)
        .unwrap();
    let writer = std::thread::spawn(move || {
        for i in 4..=40 {
            store.log(&numbered(i)).unwrap();
            if i % 10 == 0 {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
    });
    let mut seen = Vec::new();
    while seen.len() < 40 {
        let commit = subscription
            .next_timeout(std::time::Duration::from_secs(10))
            .unwrap()
            .expect("a commit within 10 s");
        assert_eq!(commit.number(), seen.len() as u64 + 1);
        seen.push(commit.events()[0].data().unwrap()["i"].as_u64().unwrap());
    }
    writer.join().unwrap();
    assert_eq!(seen, (1..=40).collect::<Vec<_>>());
    assert!(subscription
        .next_timeout(std::time::Duration::from_millis(50))
        .unwrap()
        .is_none());
}
