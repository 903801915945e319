//! Checks run on every kind of object store (memory, local file system, S3): the folder layout with
//! exact bytes, racing appends, URLs.

use std::collections::BTreeSet;
use std::sync::{Arc, Barrier, Mutex};

use crate::wrapper::{runtime, with_id};
use foldstore::Listing;
use foldstore::{Conflict, LooseStorage, ObjectStorage, Storage};
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

/// An object storage under test, with direct access to its objects.
pub(crate) struct Subject {
    pub(crate) storage: ObjectStorage,
    /// Says what it is, for messages.
    pub(crate) name: String,
}

impl Subject {
    pub(crate) fn memory() -> Self {
        Subject {
            storage: ObjectStorage::new(Arc::new(InMemory::new()), Path::from("stores/one")),
            name: "memory".into(),
        }
    }

    pub(crate) fn local(dir: &std::path::Path) -> Self {
        let store = LocalFileSystem::new_with_prefix(dir).expect("a local object store");
        Subject {
            storage: ObjectStorage::new(Arc::new(store), Path::from("store")),
            name: format!("local file system at {}", dir.display()),
        }
    }

    pub(crate) fn s3() -> Option<Self> {
        let url = crate::s3_server::fresh_url()?;
        Some(Subject {
            storage: ObjectStorage::from_url(&url).expect("open the S3 storage"),
            name: url,
        })
    }

    /// The raw bytes of the object `name` under the prefix, read around the backend.
    pub(crate) fn raw(&self, name: &str) -> Option<Vec<u8>> {
        let store = Arc::clone(self.storage.object_store());
        let path = name
            .split('/')
            .fold(self.storage.prefix().clone(), |path, part| path.join(part));
        runtime().block_on(async move {
            match store.get(&path).await {
                Ok(found) => Some(found.bytes().await.expect("bytes").to_vec()),
                Err(object_store::Error::NotFound { .. }) => None,
                Err(e) => panic!("get {path}: {e}"),
            }
        })
    }

    /// Puts the object `name` under the prefix, around the backend.
    pub(crate) fn put_raw(&self, name: &str, bytes: &[u8]) {
        let store = Arc::clone(self.storage.object_store());
        let path = self.storage.prefix().clone().join(name);
        let payload = PutPayload::from(bytes.to_vec());
        runtime()
            .block_on(async move { store.put(&path, payload).await })
            .expect("put");
    }

    /// The names of every object under the prefix, at any depth.
    pub(crate) fn names(&self) -> BTreeSet<String> {
        let store = Arc::clone(self.storage.object_store());
        let prefix = self.storage.prefix().clone();
        let listed = runtime().block_on(async move {
            use futures_util::TryStreamExt;
            store.list(Some(&prefix)).try_collect::<Vec<_>>().await
        });
        let prefix = format!("{}/", self.storage.prefix());
        listed
            .expect("list")
            .into_iter()
            .map(|meta| {
                meta.location
                    .as_ref()
                    .strip_prefix(&prefix)
                    .expect("under the prefix")
                    .to_owned()
            })
            .collect()
    }
}

/// Commits and snapshots are objects `k.log` and `k.m-snapshot` holding exactly the bytes.
pub(crate) fn check_layout_and_exact_bytes(subject: &Subject) {
    let storage = &subject.storage;
    assert!(!storage.exists().expect("exists"), "{}", subject.name);
    assert_eq!(storage.list().expect("list"), Listing::default());
    storage.ensure_created().expect("ensure_created");
    storage.ensure_created().expect("ensure_created again");
    assert!(storage.exists().expect("exists"));
    assert_eq!(
        storage.list().expect("list"),
        Listing::default(),
        "the marker is not listed"
    );

    let document =
        b"{\r\n \"headers\": {},\r\n \"events\": [{\"name\": \"\xc3\xb8\"}]\r\n}".to_vec();
    assert_eq!(storage.create_commit(7, &document).expect("create"), Ok(()));
    assert_eq!(storage.append_commit(1, b"x").expect("append"), 1);
    assert_eq!(
        storage
            .create_snapshot("members", 7, b"\x00snap")
            .expect("create"),
        Ok(())
    );
    assert_eq!(subject.raw("7.log"), Some(document.clone()));
    assert_eq!(subject.raw("1.log"), Some(b"x".to_vec()));
    assert_eq!(
        subject.raw("7.members-snapshot"),
        Some(b"\x00snap".to_vec())
    );
    assert_eq!(
        subject.names(),
        [
            "1.log",
            "7.log",
            "7.members-snapshot",
            ObjectStorage::MARKER_NAME
        ]
        .map(str::to_owned)
        .into()
    );
    assert_eq!(storage.read_commit(7).expect("read"), Some(document));
    assert!(storage.commit_location(7).ends_with("/7.log"));
    assert!(storage
        .commit_location(7)
        .contains(storage.prefix().as_ref()));
    assert!(storage
        .snapshot_location("members", 7)
        .ends_with("/7.members-snapshot"));
    assert!(storage.commit_modified(7).expect("modified").is_some());
    assert_eq!(storage.commit_modified(8).expect("modified"), None);

    // Objects written by others: counted if they are commits, never overwritten; odd names
    // are reported, other names ignored.
    subject.put_raw("2.log", b"by another program");
    for name in ["007.log", "0.members-snapshot", "notes.json", "draft.log"] {
        subject.put_raw(name, b"{}");
    }
    assert_eq!(
        storage.create_commit(2, b"mine").expect("create"),
        Err(Conflict { commit: 2 })
    );
    assert_eq!(subject.raw("2.log"), Some(b"by another program".to_vec()));
    let listing = storage.list().expect("list");
    assert_eq!(listing.commits, [1, 2, 7]);
    assert_eq!(listing.snapshots, [("members".to_owned(), 7)]);
    let suspicious: Vec<&str> = listing
        .suspicious
        .iter()
        .map(|(location, _)| location.as_str())
        .collect();
    assert_eq!(suspicious.len(), 2, "{suspicious:?}");
    assert!(
        suspicious[0].ends_with("/0.members-snapshot"),
        "{suspicious:?}"
    );
    assert!(suspicious[1].ends_with("/007.log"), "{suspicious:?}");

    // Reads in batches stop before the first missing commit.
    let batch = storage.read_commits(1, 100).expect("read_commits");
    assert_eq!(batch, [b"x".to_vec(), b"by another program".to_vec()]);
    assert_eq!(storage.read_commits(1, 1).expect("read_commits").len(), 1);
    assert!(storage
        .read_commits(3, 100)
        .expect("read_commits")
        .is_empty());
    assert_eq!(storage.read_commits(7, 0).expect("read_commits").len(), 0);
    assert_eq!(storage.last_commit().expect("last"), 2);

    // A damaged last commit moves to the quarantine, bytes and all.
    let moved = storage.quarantine_commit(2).expect("quarantine");
    assert!(
        moved.contains(&format!("/{}/2.log.", ObjectStorage::QUARANTINE_FOLDER)),
        "{moved}"
    );
    assert!(!storage.commit_exists(2).expect("exists"));
    let quarantined: Vec<String> = subject
        .names()
        .into_iter()
        .filter(|name| name.starts_with(ObjectStorage::QUARANTINE_FOLDER))
        .collect();
    assert_eq!(quarantined.len(), 1, "{quarantined:?}");
    assert_eq!(
        subject.raw(&quarantined[0]),
        Some(b"by another program".to_vec())
    );
    assert_eq!(storage.list().expect("list").commits, [1, 7]);

    // Another spelling of commit 7's name, with an escape where foldstore writes none: not a
    // second commit 7, and named as suspicious.
    let store = Arc::clone(storage.object_store());
    let respelled = Path::parse(format!("{}/%37.log", storage.prefix().as_ref())).expect("a key");
    runtime()
        .block_on(async move {
            store
                .put(&respelled, PutPayload::from(b"{}".to_vec()))
                .await
        })
        .expect("put");
    let listing = storage.list().expect("list");
    assert_eq!(listing.commits, [1, 7]);
    assert!(
        listing
            .suspicious
            .iter()
            .any(|(location, why)| location.ends_with("/%37.log")
                && why.contains("another spelling")),
        "{:?}",
        listing.suspicious
    );
}

/// Many threads append to one storage: every document lands once, contiguously.
pub(crate) fn check_racing_appends(storage: &ObjectStorage) {
    const THREADS: usize = 6;
    const EACH: usize = 10;
    storage.ensure_created().expect("ensure_created");
    let barrier = Barrier::new(THREADS);
    let placed = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for writer in 0..THREADS {
            let (barrier, placed) = (&barrier, &placed);
            scope.spawn(move || {
                barrier.wait();
                for index in 0..EACH {
                    let document = with_id(&format!("{writer}-{index}"), "appended");
                    let number = storage
                        .append_identified_commit(1, &document)
                        .expect("append");
                    placed.lock().unwrap().push((number, document));
                }
            });
        }
    });
    let mut placed = placed.into_inner().unwrap();
    placed.sort();
    let numbers: Vec<u64> = placed.iter().map(|(number, _)| *number).collect();
    assert_eq!(numbers, (1..=(THREADS * EACH) as u64).collect::<Vec<_>>());
    for (number, document) in &placed {
        assert_eq!(
            storage.read_commit(*number).expect("read").as_ref(),
            Some(document)
        );
    }
    assert_eq!(
        storage.last_commit().expect("last"),
        (THREADS * EACH) as u64
    );
    let read = storage.read_commits(1, 1000).expect("read_commits");
    let expected: Vec<Vec<u8>> = placed.into_iter().map(|(_, document)| document).collect();
    assert_eq!(read, expected);
}

#[test]
fn memory_objects_hold_exact_bytes_in_the_folder_layout() {
    check_layout_and_exact_bytes(&Subject::memory());
    check_racing_appends(&Subject::memory().storage);
}

#[test]
fn s3_objects_hold_exact_bytes_in_the_folder_layout() {
    let Some(subject) = Subject::s3() else { return };
    assert!(subject
        .storage
        .commit_location(7)
        .starts_with(&format!("{}/", subject.name)));
    assert_eq!(
        subject.storage.commit_location(7),
        format!("{}/7.log", subject.name)
    );
    check_layout_and_exact_bytes(&subject);
    check_racing_appends(&Subject::s3().expect("configured").storage);
}

#[test]
fn local_file_system_store_passes_the_same_checks_and_is_a_folder_store() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    check_layout_and_exact_bytes(&Subject::local(dir.path()));
    // The same layout as the folder backend: a folder store reads what it wrote.
    let folder = LooseStorage::new(dir.path().join("store"));
    assert_eq!(folder.list().expect("list").commits, [1, 7]);
    assert_eq!(
        folder.read_commit(1).expect("read"),
        Some(b"x".to_vec()),
        "a folder store reads the object as a commit file"
    );
    // And exclusive creation holds on the file system too, identical bytes included.
    let storage = &Subject::local(dir.path()).storage;
    assert_eq!(
        storage.create_commit(1, b"x").expect("create"),
        Err(Conflict { commit: 1 })
    );
    let other = tempfile::tempdir().expect("a temporary folder");
    check_racing_appends(&Subject::local(other.path()).storage);
}

#[test]
fn a_bad_url_is_refused_with_a_clear_message() {
    for url in [
        "bucket/prefix",
        "http://bucket/prefix",
        "s3://",
        "s3:///prefix",
        "s3://Bad_Bucket/x",
    ] {
        let message = ObjectStorage::from_url(url)
            .expect_err("a bad URL")
            .to_string();
        assert!(message.contains(url), "{message}");
        assert!(message.contains("s3://bucket/prefix"), "{message}");
    }
    let message = ObjectStorage::from_url("s3://bucket/a//b")
        .expect_err("an empty segment")
        .to_string();
    assert!(message.contains("s3://bucket/a//b"), "{message}");
}

#[test]
fn time_limits_in_the_url_are_not_part_of_the_prefix() {
    let Some(url) = crate::s3_server::fresh_url() else {
        return;
    };
    let prefix = url
        .split_once("://")
        .map(|(_, rest)| rest)
        .unwrap_or_default();
    let prefix = prefix
        .split_once('/')
        .map(|(_, prefix)| prefix)
        .unwrap_or_default();
    let storage = ObjectStorage::from_url(&format!("{url}?timeout=20s&connect_timeout=5"))
        .expect("time limits in the URL");
    assert_eq!(storage.prefix().as_ref(), prefix);
    assert_eq!(
        storage
            .create_identified_commit(1, &with_id("a", "one"))
            .unwrap(),
        Ok(())
    );
    // The same objects through a URL without limits.
    let plain = ObjectStorage::from_url(&url).unwrap();
    assert_eq!(plain.read_commit(1).unwrap(), Some(with_id("a", "one")));
    assert_eq!(plain.last_commit().unwrap(), 1);
}
