//! The event index saved beside the log (in `foldstore-index/` of a folder store, both
//! layouts): a new process restores it instead of reading the whole log, extends it with the
//! commits made since, and never trusts a copy that is damaged, hostile, or of another log.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use foldstore::{
    CommitCheck, Conflict, Created, Durability, Event, JournalStorage, Listing, LooseStorage,
    Query, Storage, Store,
};
use tempfile::TempDir;

#[path = "common/backends.rs"]
mod backends;

/// A backend that counts the commits read through it.
#[derive(Debug)]
struct Counting {
    inner: Box<dyn Storage>,
    read: Arc<AtomicU64>,
}

impl Storage for Counting {
    fn ensure_created(&self) -> foldstore::Result<()> {
        self.inner.ensure_created()
    }
    fn exists(&self) -> foldstore::Result<bool> {
        self.inner.exists()
    }
    fn list(&self) -> foldstore::Result<Listing> {
        self.inner.list()
    }
    fn read_commit(&self, number: u64) -> foldstore::Result<Option<Vec<u8>>> {
        self.read.fetch_add(1, Ordering::SeqCst);
        self.inner.read_commit(number)
    }
    fn read_commits(&self, first: u64, max: usize) -> foldstore::Result<Vec<Vec<u8>>> {
        let commits = self.inner.read_commits(first, max)?;
        self.read.fetch_add(commits.len() as u64, Ordering::SeqCst);
        Ok(commits)
    }
    fn last_commit(&self) -> foldstore::Result<u64> {
        self.inner.last_commit()
    }
    fn commit_exists(&self, number: u64) -> foldstore::Result<bool> {
        self.inner.commit_exists(number)
    }
    fn create_commit(&self, number: u64, document: &[u8]) -> Created {
        self.inner.create_commit(number, document)
    }
    fn append_commit(&self, first: u64, document: &[u8]) -> foldstore::Result<u64> {
        self.inner.append_commit(first, document)
    }
    fn append_commit_if(
        &self,
        first: u64,
        document: &[u8],
        identified: bool,
        check: Arc<CommitCheck>,
    ) -> foldstore::Result<Result<u64, Conflict>> {
        self.inner
            .append_commit_if(first, document, identified, check)
    }
    fn read_derived(&self, name: &str) -> foldstore::Result<Option<Vec<u8>>> {
        self.inner.read_derived(name)
    }
    fn write_derived(&self, name: &str, bytes: &[u8]) -> foldstore::Result<()> {
        self.inner.write_derived(name, bytes)
    }
    fn read_snapshot(&self, name: &str, commit: u64) -> foldstore::Result<Option<Vec<u8>>> {
        self.inner.read_snapshot(name, commit)
    }
    fn create_snapshot(&self, name: &str, commit: u64, document: &[u8]) -> Created {
        self.inner.create_snapshot(name, commit, document)
    }
    fn commit_location(&self, number: u64) -> String {
        self.inner.commit_location(number)
    }
    fn snapshot_location(&self, name: &str, commit: u64) -> String {
        self.inner.snapshot_location(name, commit)
    }
}

/// The two folder layouts, as a backend on `path` (without syncs: the test needs none).
fn layouts(path: &Path) -> [(&'static str, Box<dyn Storage>); 2] {
    [
        (
            "loose",
            Box::new(LooseStorage::with_durability(path, Durability::None)),
        ),
        (
            "journal",
            Box::new(JournalStorage::with_durability(path, Durability::None)),
        ),
    ]
}

/// A store on `inner` that counts the commits it reads: a new process.
fn counted(path: &Path, inner: Box<dyn Storage>) -> (Store, Arc<AtomicU64>) {
    let read = Arc::new(AtomicU64::new(0));
    let storage = Counting {
        inner,
        read: Arc::clone(&read),
    };
    let store = Store::builder(path).storage(storage).open().unwrap();
    (store, read)
}

fn deposit(account: u64) -> Event {
    Event::new("deposited").tagged([format!("account:{account}")])
}

const COMMITS: u64 = 6000;

/// A store of [`COMMITS`] commits, one deposit each to 300 accounts in turn.
fn filled(layout: usize) -> (TempDir, &'static str) {
    let dir = tempfile::tempdir().unwrap();
    let (name, storage) = layouts(dir.path()).into_iter().nth(layout).unwrap();
    let (store, _) = counted(dir.path(), storage);
    store.ensure_folder().unwrap();
    for k in 0..COMMITS {
        store.log(&deposit(k % 300)).unwrap();
    }
    (dir, name)
}

fn commits_of(store: &Store, account: u64) -> Vec<u64> {
    let query = Query::tag(format!("account:{account}"));
    store
        .events_matching(&query, 0)
        .unwrap()
        .iter()
        .map(|m| m.commit)
        .collect()
}

fn expected(account: u64, through: u64) -> Vec<u64> {
    (1..=through).filter(|n| (n - 1) % 300 == account).collect()
}

#[test]
fn a_new_process_restores_the_saved_index_and_extends_it() {
    for layout in 0..2 {
        let (dir, name) = filled(layout);
        let path = dir.path();
        let storage = |path| layouts(path).into_iter().nth(layout).unwrap().1;

        // The first process reads the whole log once, and saves the index.
        let (first, read) = counted(path, storage(path));
        assert_eq!(commits_of(&first, 7), expected(7, COMMITS), "{name}");
        assert!(read.load(Ordering::SeqCst) >= COMMITS, "{name}");
        assert!(path.join("foldstore-index/events-v1").is_file(), "{name}");
        first.log(&deposit(7)).unwrap();
        drop(first);

        // The next reads what the account holds, and the commit made since the save.
        let (second, read) = counted(path, storage(path));
        let mut account_7 = expected(7, COMMITS);
        account_7.push(COMMITS + 1);
        assert_eq!(commits_of(&second, 7), account_7, "{name}");
        let reads = read.load(Ordering::SeqCst);
        assert!(
            reads <= 40,
            "{name}: {reads} commits read with the saved index"
        );
    }
}

#[test]
fn a_damaged_hostile_or_foreign_saved_index_is_never_trusted() {
    for layout in 0..2 {
        let (dir, name) = filled(layout);
        let path = dir.path();
        let storage = |path| layouts(path).into_iter().nth(layout).unwrap().1;
        let saved = path.join("foldstore-index/events-v1");
        let (first, _) = counted(path, storage(path));
        assert_eq!(commits_of(&first, 1), expected(1, COMMITS));
        drop(first);
        let good = std::fs::read(&saved).unwrap();

        // The index of another log of as many commits, in which account 1 has none.
        let other = tempfile::tempdir().unwrap();
        let (_, other_storage) = layouts(other.path()).into_iter().nth(layout).unwrap();
        let (foreign, _) = counted(other.path(), other_storage);
        foreign.ensure_folder().unwrap();
        for _ in 0..COMMITS {
            foreign.log(&deposit(2)).unwrap();
        }
        assert_eq!(commits_of(&foreign, 1), Vec::<u64>::new());
        let foreign_index = std::fs::read(other.path().join("foldstore-index/events-v1")).unwrap();

        let torn = good[..good.len() / 2].to_vec();
        let mut flipped = good.clone();
        flipped[good.len() / 3] ^= 1;
        for (what, bytes) in [
            ("torn", torn),
            ("flipped", flipped),
            ("empty", Vec::new()),
            ("foreign", foreign_index),
        ] {
            std::fs::write(&saved, bytes).unwrap();
            let (store, _) = counted(path, storage(path));
            assert_eq!(
                commits_of(&store, 1),
                expected(1, COMMITS),
                "{name}: {what}"
            );
        }

        // A symbolic link to a file outside the store, and a FIFO: not followed, not waited on.
        #[cfg(unix)]
        {
            let outside = tempfile::NamedTempFile::new().unwrap();
            std::fs::write(outside.path(), &good).unwrap();
            std::fs::remove_file(&saved).unwrap();
            std::os::unix::fs::symlink(outside.path(), &saved).unwrap();
            let (store, read) = counted(path, storage(path));
            assert_eq!(commits_of(&store, 1), expected(1, COMMITS), "{name}: link");
            assert!(
                read.load(Ordering::SeqCst) >= COMMITS,
                "{name}: link followed"
            );
            std::fs::remove_file(&saved).unwrap();
            let status = std::process::Command::new("mkfifo")
                .arg(&saved)
                .status()
                .unwrap();
            assert!(status.success());
            let (store, _) = counted(path, storage(path));
            assert_eq!(commits_of(&store, 1), expected(1, COMMITS), "{name}: fifo");

            // The folder itself a link to outside the store: nothing is written there.
            let elsewhere = tempfile::tempdir().unwrap();
            std::fs::remove_dir_all(path.join("foldstore-index")).unwrap();
            std::os::unix::fs::symlink(elsewhere.path(), path.join("foldstore-index")).unwrap();
            let (store, _) = counted(path, storage(path));
            assert_eq!(
                commits_of(&store, 1),
                expected(1, COMMITS),
                "{name}: folder"
            );
            assert_eq!(
                std::fs::read_dir(elsewhere.path()).unwrap().count(),
                0,
                "{name}: written through a link"
            );
        }
    }
}

/// Every backend that keeps derived data gives back what was saved last, keeps it out of the
/// log's listing, and reads nothing for a name never saved; the memory backend keeps none.
#[test]
fn derived_data_round_trips_on_every_backend() {
    for backend in backends::backends() {
        let name = backend.name;
        let store = backend.store();
        store.log(&deposit(1)).unwrap();
        let storage = store.storage();
        assert_eq!(storage.read_derived("events-v1").unwrap(), None, "{name}");
        let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        for bytes in [&b"first"[..], &[0, 255, 10, 13][..], &big[..]] {
            storage.write_derived("events-v1", bytes).unwrap();
            let other = backend.other_handle();
            let read = other.storage().read_derived("events-v1").unwrap();
            if name == "memory" {
                assert_eq!(read, None, "{name}");
            } else {
                assert_eq!(read.as_deref(), Some(bytes), "{name}");
            }
        }
        assert_eq!(storage.read_derived("other").unwrap(), None, "{name}");
        let listing = storage.list().unwrap();
        assert_eq!(listing.commits, [1], "{name}");
        assert!(
            listing.suspicious.is_empty(),
            "{name}: {:?}",
            listing.suspicious
        );
        assert_eq!(store.tip().unwrap(), 1, "{name}");
    }
}
