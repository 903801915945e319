//! What looking for the log's end costs a reader: the free space preallocated after the last
//! record is checked once, not again each time another writer's records move the end.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::event::{Event, Headers};
use crate::format::encode_commit;
use crate::storage::local::fs::FileSystem;
use crate::storage::local::sim::SimFs;
use crate::storage::test_kit::{folder, Counting};
use crate::storage::{Durability, JournalStorage, Storage};

/// A journal in the default segment size (its free space preallocated by the megabyte).
fn journal(fs: Arc<dyn FileSystem>) -> JournalStorage {
    JournalStorage::with_file_system(folder(), Durability::Immediate, 64 << 20, fs)
}

fn document(n: u64) -> Vec<u8> {
    encode_commit(&Headers::new(), &[Event::new(format!("commit {n}"))]).expect("encodes")
}

#[test]
fn probes_of_the_end_do_not_read_the_free_space_again() {
    let sim = Arc::new(SimFs::with_folder(&folder()));
    let writer = journal(sim.clone());
    writer.ensure_created().expect("create");
    for n in 1..=3 {
        writer.append_commit(n, &document(n)).expect("append");
    }
    let read = Arc::new(AtomicU64::new(0));
    let reader = journal(Arc::new(Counting {
        sim,
        read: Arc::clone(&read),
    }));
    // The first look checks the free space after commit 3, once.
    assert!(!reader.commit_exists(4).expect("probe"));
    let first = read.swap(0, Ordering::SeqCst);
    assert!(
        first > 512 << 10,
        "the free space was checked: {first} bytes"
    );
    for round in 0..5 {
        // Another writer's commits move the end; the reader looks for it as `Store::tip` does.
        let next = 4 + 2 * round;
        for n in next..next + 2 {
            writer.append_commit(n, &document(n)).expect("append");
        }
        for n in next..next + 2 {
            assert!(reader.commit_exists(n).expect("probe"), "commit {n}");
        }
        assert!(!reader.commit_exists(next + 2).expect("probe"));
        assert!(!reader.commit_exists(next + 2).expect("probe"));
        let bytes = read.swap(0, Ordering::SeqCst);
        assert!(
            bytes <= 64 << 10,
            "round {round}: {bytes} bytes read to find 2 new commits"
        );
    }
}
