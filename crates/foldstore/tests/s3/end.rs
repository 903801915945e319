//! The log's end, found by probing.

use std::sync::Arc;

use crate::wrapper::Wrapper;
use foldstore::{ObjectStorage, Storage, Store};
use object_store::memory::InMemory;
use object_store::path::Path;

#[test]
fn the_last_commit_is_found_with_a_logarithmic_number_of_requests() {
    let wrapper = Wrapper::new(Arc::new(InMemory::new()));
    let storage = ObjectStorage::new(wrapper.clone(), Path::from("p"));
    let mut created = 0;
    for tip in [
        0_u64, 1, 2, 3, 4, 5, 7, 8, 9, 100, 127, 128, 129, 1000, 1023, 1024, 1025, 2000,
    ] {
        while created < tip {
            created += 1;
            assert_eq!(
                storage.create_commit(created, b"c").expect("create"),
                Ok(())
            );
        }
        wrapper.take_requests();
        assert_eq!(storage.last_commit().expect("last"), tip, "tip {tip}");
        let requests = wrapper.take_requests();
        assert!(
            requests.iter().all(|request| *request == "head"),
            "only head requests: {requests:?}"
        );
        // 1 + (doubling up to the first missing power of two) + (bisection of that range).
        let bound = if tip == 0 {
            1
        } else {
            2 * (u64::BITS - tip.leading_zeros()) as usize + 1
        };
        assert!(
            requests.len() <= bound,
            "tip {tip}: {} requests, more than {bound}",
            requests.len()
        );
    }
    // With 2000 commits, a listing-free probe takes about 2 log2(2000) = 22 requests.
    assert!(created == 2000);
}

#[test]
fn an_append_far_behind_the_end_skips_the_numbers_taken_after_one_listing() {
    let wrapper = Wrapper::new(Arc::new(InMemory::new()));
    let storage = ObjectStorage::new(wrapper.clone(), Path::from("p"));
    for number in (1..=300).filter(|number| *number != 120) {
        assert_eq!(storage.create_commit(number, b"c").expect("create"), Ok(()));
    }
    wrapper.take_requests();
    // The lowest free number, even below others taken.
    assert_eq!(storage.append_commit(1, b"a").expect("append"), 120);
    assert_eq!(storage.append_commit(1, b"b").expect("append"), 301);
    assert_eq!(storage.append_commit(301, b"c").expect("append"), 302);
    let requests = wrapper.take_requests();
    let lists = requests.iter().filter(|r| **r == "list").count();
    assert_eq!(lists, 2, "{requests:?}");
    // Per append far behind: 3 conflicts, 16 looks ahead at once, 1 listing, 1 create; and
    // the last append: 1 conflict, 1 create.
    assert!(
        requests.len() <= 2 * 21 + 2,
        "{} requests: {requests:?}",
        requests.len()
    );
    assert_eq!(storage.read_commit(120).expect("read"), Some(b"a".to_vec()));
    assert_eq!(storage.read_commit(302).expect("read"), Some(b"c".to_vec()));
}

#[test]
fn a_store_on_objects_finds_its_end_without_listing() {
    let wrapper = Wrapper::new(Arc::new(InMemory::new()));
    let storage = ObjectStorage::new(wrapper.clone(), Path::from("p"));
    for number in 1..=300 {
        assert_eq!(
            storage
                .create_commit(number, b"{\"events\":[]}")
                .expect("create"),
            Ok(())
        );
    }
    wrapper.take_requests();
    let store = Store::with_storage(ObjectStorage::new(wrapper.clone(), Path::from("p")));
    assert_eq!(store.tip().expect("tip"), 300);
    let requests = wrapper.take_requests();
    assert!(!requests.contains(&"list"), "{requests:?}");
    assert!(
        requests.len() < 40,
        "{} requests: {requests:?}",
        requests.len()
    );
}
