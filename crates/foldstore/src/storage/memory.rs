//! A backend that keeps everything in memory, for tests and ephemeral stores.

use std::collections::BTreeMap;
use std::sync::{Arc, Condvar, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use super::{
    check_commit_number, validate_snapshot_name, Conflict, Created, Listing, Storage, Watch,
};
use crate::error::Result;

/// Commits and snapshots held in memory, gone when the last clone is dropped.
///
/// Clones share the same contents, so several [`Store`](crate::Store)s built on clones behave
/// like several processes on one folder.
#[derive(Clone, Debug, Default)]
pub struct MemoryStorage {
    inner: Arc<RwLock<Contents>>,
    /// How many commits were created, for watchers to wait on.
    created: Arc<(Mutex<u64>, Condvar)>,
}

#[derive(Debug, Default)]
struct Contents {
    commits: BTreeMap<u64, Arc<[u8]>>,
    snapshots: BTreeMap<(String, u64), Arc<[u8]>>,
    meta: BTreeMap<String, Arc<[u8]>>,
}

impl MemoryStorage {
    /// An empty memory backend.
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> RwLockReadGuard<'_, Contents> {
        // A panic while holding the lock cannot leave the maps half-changed (every change is
        // one insert), so a poisoned lock is still consistent.
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Contents> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }
}

impl Storage for MemoryStorage {
    fn ensure_created(&self) -> Result<()> {
        Ok(())
    }

    fn exists(&self) -> Result<bool> {
        Ok(true)
    }

    fn list(&self) -> Result<Listing> {
        let contents = self.read();
        Ok(Listing {
            commits: contents.commits.keys().copied().collect(),
            snapshots: contents.snapshots.keys().cloned().collect(),
            suspicious: Vec::new(),
        })
    }

    fn read_commit(&self, number: u64) -> Result<Option<Vec<u8>>> {
        Ok(self.read().commits.get(&number).map(|bytes| bytes.to_vec()))
    }

    fn create_commit(&self, number: u64, document: &[u8]) -> Created {
        check_commit_number(number)?;
        let mut contents = self.write();
        if contents.commits.contains_key(&number) {
            return Ok(Err(Conflict { commit: number }));
        }
        contents.commits.insert(number, Arc::from(document));
        drop(contents);
        let (count, changed) = &*self.created;
        *count.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        changed.notify_all();
        Ok(Ok(()))
    }

    fn read_snapshot(&self, name: &str, commit: u64) -> Result<Option<Vec<u8>>> {
        let contents = self.read();
        Ok(contents
            .snapshots
            .get(&(name.to_owned(), commit))
            .map(|bytes| bytes.to_vec()))
    }

    fn create_snapshot(&self, name: &str, commit: u64, document: &[u8]) -> Created {
        validate_snapshot_name(name)?;
        let mut contents = self.write();
        let key = (name.to_owned(), commit);
        if contents.snapshots.contains_key(&key) {
            return Ok(Err(Conflict { commit }));
        }
        contents.snapshots.insert(key, Arc::from(document));
        Ok(Ok(()))
    }

    fn can_be_archived(&self) -> bool {
        true
    }

    fn read_meta(&self, name: &str) -> Result<Option<Vec<u8>>> {
        crate::storage::validate_meta_name(name)?;
        Ok(self.read().meta.get(name).map(|bytes| bytes.to_vec()))
    }

    fn write_meta(&self, name: &str, bytes: &[u8]) -> Result<()> {
        crate::storage::validate_meta_name(name)?;
        self.write().meta.insert(name.to_owned(), Arc::from(bytes));
        Ok(())
    }

    fn remove_commits_below(&self, start: u64) -> Result<u64> {
        let mut contents = self.write();
        let kept = contents.commits.split_off(&start);
        let removed = contents.commits.len() as u64;
        contents.commits = kept;
        Ok(removed)
    }

    fn watch(&self) -> Result<Option<Box<dyn Watch>>> {
        let seen = *self.created.0.lock().unwrap_or_else(|e| e.into_inner());
        Ok(Some(Box::new(MemoryWatch {
            created: Arc::clone(&self.created),
            seen,
        })))
    }

    fn commit_location(&self, number: u64) -> String {
        format!("memory:{number}.log")
    }

    fn snapshot_location(&self, name: &str, commit: u64) -> String {
        format!("memory:{commit}.{name}-snapshot")
    }

    fn meta_location(&self, name: &str) -> String {
        format!("memory:foldstore-{name}")
    }
}

/// Waits on a [`MemoryStorage`]'s count of created commits.
struct MemoryWatch {
    created: Arc<(Mutex<u64>, Condvar)>,
    seen: u64,
}

impl Watch for MemoryWatch {
    fn wait(&mut self, timeout: Duration) -> bool {
        let (count, changed) = &*self.created;
        let count = count.lock().unwrap_or_else(|e| e.into_inner());
        let (count, _) = changed
            .wait_timeout_while(count, timeout, |count| *count == self.seen)
            .unwrap_or_else(|e| e.into_inner());
        let noticed = *count != self.seen;
        self.seen = *count;
        noticed
    }
}
