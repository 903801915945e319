//! A backend's container (contract 7): made by `ensure_created`, idempotently; a backend not
//! created yet is empty, and writing to it fails or lands whole.

use std::path::PathBuf;

use super::{commits, doc};
use crate::error::Error;
use crate::storage::{Listing, Storage};

/// Contract 7: ensure_created makes the backend exist, and doing it again changes nothing.
pub fn ensure_created_is_idempotent_and_keeps_contents(storage: &dyn Storage) {
    assert!(storage.exists().expect("exists"));
    assert_eq!(storage.create_commit(1, b"one").expect("create"), Ok(()));
    assert_eq!(
        storage.create_snapshot("m", 1, b"snap").expect("create"),
        Ok(())
    );
    storage.ensure_created().expect("ensure_created again");
    storage.ensure_created().expect("and again");
    assert!(storage.exists().expect("exists"));
    assert_eq!(storage.read_commit(1).expect("read"), Some(doc("one")));
    assert_eq!(
        storage.read_snapshot("m", 1).expect("read"),
        Some(doc("snap"))
    );
    assert_eq!(commits(storage), [1]);
}

/// Contract 7, first half, on a backend not created yet: it is empty, and reading it (or
/// asking whether it exists) creates nothing. Returns what [`Storage::exists`] said, which
/// reading did not change. [`ensure_created_makes_an_empty_backend`] is the second half.
pub fn reading_a_backend_not_created_finds_nothing(storage: &dyn Storage) -> bool {
    let existed = storage.exists().expect("exists");
    assert_eq!(storage.list().expect("list"), Listing::default());
    assert_eq!(storage.read_commit(1).expect("read"), None);
    assert!(!storage.commit_exists(1).expect("exists"));
    assert_eq!(storage.read_snapshot("members", 1).expect("read"), None);
    assert_eq!(storage.exists().expect("exists"), existed);
    existed
}

/// Contract 7, second half: `ensure_created` makes the backend exist, idempotently, and
/// empty.
pub fn ensure_created_makes_an_empty_backend(storage: &dyn Storage) {
    storage.ensure_created().expect("ensure_created");
    assert!(storage.exists().expect("exists"));
    storage
        .ensure_created()
        .expect("ensure_created is idempotent");
    assert_eq!(storage.list().expect("list"), Listing::default());
}

/// Contract 7, on a backend not created yet: it is empty, reading does not create it, and
/// `ensure_created` does ([`reading_a_backend_not_created_finds_nothing`], then
/// [`ensure_created_makes_an_empty_backend`]).
pub fn a_backend_not_created_is_empty_and_reading_creates_nothing(storage: &dyn Storage) {
    reading_a_backend_not_created_finds_nothing(storage);
    ensure_created_makes_an_empty_backend(storage);
}

/// Contract 7, on a backend not created yet: creating a commit may fail with
/// [`Error::StoreMissing`] (and then so do appends and snapshots); if it does not, the commit
/// is there whole. Returns the path the refusal named, if it was refused, for the caller to
/// check that nothing was created there.
pub fn writing_to_a_backend_not_created_fails_or_lands_whole(
    storage: &dyn Storage,
) -> Option<PathBuf> {
    match storage.create_commit(1, b"one") {
        Ok(Ok(())) => {
            assert_eq!(storage.read_commit(1).expect("read"), Some(doc("one")));
            None
        }
        Err(Error::StoreMissing { path }) => {
            assert!(matches!(
                storage.append_commit(1, b"one"),
                Err(Error::StoreMissing { .. })
            ));
            assert!(matches!(
                storage.create_snapshot("members", 1, b"s"),
                Err(Error::StoreMissing { .. })
            ));
            Some(path)
        }
        other => panic!("unexpected outcome of a write to a backend not created: {other:?}"),
    }
}
