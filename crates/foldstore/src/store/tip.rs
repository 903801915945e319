//! The tip cache: what a store remembers of where its log ends, shared by its clones.
//!
//! Only this module touches the remembered number. Writers note the commits they make,
//! readers the commits they read, repairs ask for a new listing, and a model adopts the end a
//! listing of snapshots found; everyone else asks [`Store::tip`](super::Store::tip).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::error::{Error, Result};
use crate::storage::Storage;
use crate::storage::MAX_COMMIT_NUMBER;

/// The most commits [`Tip::current`] probes for one by one before it asks the backend for its
/// last commit instead.
const MOST_PROBES: u64 = 1 << 16;

/// The highest commit number known to exist (a hint: other writers may have gone further),
/// found by listing the backend once, then kept up by what the store writes and reads.
pub(crate) struct Tip {
    storage: Arc<dyn Storage>,
    /// The highest commit number known to exist.
    known: AtomicU64,
    /// Whether `known` has been initialized from a listing of the backend.
    listed: AtomicBool,
    /// A listing started ahead of need on another thread (see [`Tip::list_ahead`]).
    listing_ahead: Mutex<Option<JoinHandle<Result<u64>>>>,
}

impl Tip {
    /// A cache that knows nothing yet: the first question lists `storage`.
    pub(super) fn new(storage: Arc<dyn Storage>) -> Tip {
        Tip {
            storage,
            known: AtomicU64::new(0),
            listed: AtomicBool::new(false),
            listing_ahead: Mutex::new(None),
        }
    }

    /// The number remembered now, without asking the backend (for `Debug`).
    pub(super) fn remembered(&self) -> u64 {
        self.known.load(Ordering::Relaxed)
    }

    /// The number of the last commit, including commits made by other processes since the
    /// store last looked: the remembered end, then a probe for the commits after it.
    pub(super) fn current(&self) -> Result<u64> {
        let mut tip = self.known()?;
        // `known` is at most MAX_COMMIT_NUMBER; the probe stops there too.
        let mut probes = 0;
        while tip < MAX_COMMIT_NUMBER && self.storage.commit_exists(tip + 1)? {
            tip += 1;
            probes += 1;
            if probes == MOST_PROBES {
                // Far behind (or a backend that says every number exists): the backend's own
                // way to the end, which is checked against the largest commit number.
                tip = tip.max(self.checked(self.storage.last_commit()?)?);
                break;
            }
        }
        self.note(tip);
        Ok(tip)
    }

    /// The highest commit number known to exist, listing the backend the first time.
    pub(crate) fn known(&self) -> Result<u64> {
        if !self.listed.load(Ordering::Acquire) {
            let ahead = self
                .listing_ahead
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take();
            let last = match ahead.map(JoinHandle::join) {
                Some(Ok(listed)) => listed?,
                // A panicked listing thread: list here instead.
                Some(Err(_)) | None => self.storage.last_commit()?,
            };
            tracing::debug!(tip = last, "found the log's end by listing");
            self.note(last);
            self.listed.store(true, Ordering::Release);
        }
        self.checked(self.known.load(Ordering::Acquire))
    }

    /// Refuses a log end beyond [`MAX_COMMIT_NUMBER`], which a backend can only report from a
    /// name or row that no writer made (and past which no number can be counted).
    fn checked(&self, tip: u64) -> Result<u64> {
        if tip > MAX_COMMIT_NUMBER {
            return Err(Error::Backend {
                backend: "store",
                message: format!(
                    "{}: the log's last commit is reported as commit {tip}, beyond {MAX_COMMIT_NUMBER} (2^53 - 1), the largest commit number foldstore and the original package write; run 'foldstore verify' on the store",
                    self.storage.commit_location(tip)
                ),
                source: None,
            });
        }
        Ok(tip)
    }

    /// Starts listing the backend on another thread, if the store has not listed it yet, so
    /// that a replay's reads overlap the listing it needs at the end of the log.
    pub(crate) fn list_ahead(&self) {
        if self.listed.load(Ordering::Acquire) {
            return;
        }
        let mut ahead = self.listing_ahead.lock().unwrap_or_else(|e| e.into_inner());
        if ahead.is_some() {
            return;
        }
        let storage = Arc::clone(&self.storage);
        // If no thread can be started, `known` lists when it needs to.
        *ahead = std::thread::Builder::new()
            .name("foldstore-listing".to_owned())
            .spawn(move || storage.last_commit())
            .ok();
    }

    /// Takes the log's end found by a listing made elsewhere, so that the store need not list
    /// the backend again to find it.
    pub(crate) fn adopt(&self, last: u64) {
        self.note(last);
        self.listed.store(true, Ordering::Release);
    }

    /// Records that commit `number` exists.
    pub(crate) fn note(&self, number: u64) {
        self.known.fetch_max(number, Ordering::AcqRel);
    }

    /// Finds the end of the log by listing again: commits the store knew of are gone (moved
    /// aside by a repair, in this process or another).
    pub(crate) fn relist(&self) -> Result<u64> {
        let last = self.checked(self.storage.last_commit()?)?;
        tracing::info!(
            tip = last,
            "commits were moved aside: the log's end found again"
        );
        self.known.store(last, Ordering::Release);
        self.listed.store(true, Ordering::Release);
        Ok(last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{Created, Listing};
    use std::sync::atomic::AtomicUsize;

    /// A backend (another program's server, say) that answers that every commit exists, and
    /// whose last commit is the largest u64.
    #[derive(Debug, Default)]
    struct EveryNumber {
        probes: AtomicUsize,
    }

    impl Storage for EveryNumber {
        fn ensure_created(&self) -> Result<()> {
            Ok(())
        }
        fn exists(&self) -> Result<bool> {
            Ok(true)
        }
        fn list(&self) -> Result<Listing> {
            Ok(Listing::default())
        }
        fn read_commit(&self, _: u64) -> Result<Option<Vec<u8>>> {
            Ok(None)
        }
        fn last_commit(&self) -> Result<u64> {
            Ok(u64::MAX)
        }
        fn commit_exists(&self, _: u64) -> Result<bool> {
            self.probes.fetch_add(1, Ordering::SeqCst);
            Ok(true)
        }
        fn create_commit(&self, _: u64, _: &[u8]) -> Created {
            Ok(Ok(()))
        }
        fn read_snapshot(&self, _: &str, _: u64) -> Result<Option<Vec<u8>>> {
            Ok(None)
        }
        fn create_snapshot(&self, _: &str, _: u64, _: &[u8]) -> Created {
            Ok(Ok(()))
        }
        fn commit_location(&self, number: u64) -> String {
            format!("commit {number}")
        }
        fn snapshot_location(&self, name: &str, commit: u64) -> String {
            format!("snapshot {name} at {commit}")
        }
    }

    #[test]
    fn a_backend_that_says_every_commit_exists_is_probed_a_bounded_number_of_times() {
        let storage = Arc::new(EveryNumber::default());
        let tip = Tip::new(storage.clone());
        tip.adopt(5);
        let error = tip
            .current()
            .expect_err("a log end beyond any commit number");
        assert!(error.to_string().contains("beyond"), "{error}");
        assert_eq!(storage.probes.load(Ordering::SeqCst) as u64, MOST_PROBES);
    }
}
