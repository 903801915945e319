//! The store: one totally ordered log of commits, and its write-only operations.
//!
//! The store's room: [`open`] (the builder and the folder layouts), [`commit`] (the one path
//! of every write, and commit headers), [`chained`] (chained commits, written at one number)
//! and [`tip`] (the cache of where the log ends).

mod chained;
mod commit;
mod index;
mod open;
mod tip;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::chain::ChainWriter;
use crate::error::{Error, Result};
use crate::forget::{open_commit, open_found, KeyStore, Keyring, Opener};
use crate::format::{Commit, FoundSealed};
use crate::storage::{ArchivedStorage, MemoryStorage, Storage};
use crate::upcast::Upcasters;

pub use commit::{Block, HeaderFactory};
pub(crate) use index::{EventIndex, Postings, SAVED_NAME};
pub use open::{Layout, StoreBuilder};
pub(crate) use tip::Tip;

/// An event store: a log of commits numbered 1, 2, 3, ... with no gaps, each holding one or more
/// events, kept by a [`Storage`] backend (a folder by default).
///
/// `Store` is cheap to clone; clones share one backend and one view of the log's end. Any
/// number of threads, and of processes on the same folder, may write at once: every commit
/// lands exactly once, under the next free number.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let folder = tempfile::tempdir()?;
/// use foldstore::{Event, Store};
/// use serde_json::json;
///
/// let store = Store::open(folder.path().join("members"))?;
/// store.ensure_folder()?;
/// let first = store.log(&Event::with_data("newMemberRegistered", json!({"member": {"name": "peter pan"}})))?;
/// assert_eq!(first, 1);
///
/// let mut names = Vec::new();
/// store.replay_event_stream(|event, _headers| names.push(event.name().to_owned()))?;
/// assert_eq!(names, ["newMemberRegistered"]);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    /// The backend, seen through the layer that routes archived commits (the same object as
    /// `archived`).
    storage: Arc<dyn Storage>,
    archived: Arc<ArchivedStorage>,
    path: Option<PathBuf>,
    headers: Option<Arc<HeaderFactory>>,
    /// Where the log ends, as far as this store and its clones know.
    tip: Tip,
    /// Which commits hold events of each name and tag, filled on first use.
    index: EventIndex,
    /// Applied to the events handed to callers (see [`StoreBuilder::upcasters`]).
    upcasters: Upcasters,
    /// The subjects' keys (see [`StoreBuilder::key_store`]).
    keyring: Option<Arc<Keyring>>,
    /// Whether commits are chained, and the last one this store wrote (see [`StoreBuilder::chain`]).
    chain: ChainWriter,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("storage", &self.inner.storage)
            .field("known_tip", &self.inner.tip.remembered())
            .finish_non_exhaustive()
    }
}

impl Store {
    /// A new, empty store held in memory.
    pub fn memory() -> Store {
        Store::with_storage(MemoryStorage::new())
    }

    /// A store on any storage backend, with default options.
    pub fn with_storage(storage: impl Storage + 'static) -> Store {
        Store::from_parts(Arc::new(storage), None, None, None)
    }

    /// A store on a backend given as a shared trait object (as the conformance harness and
    /// [`Store::builder`]'s address dispatch make them), with default options.
    pub fn with_shared_storage(storage: Arc<dyn Storage>) -> Store {
        Store::from_parts(storage, None, None, None)
    }

    pub(super) fn from_parts(
        storage: Arc<dyn Storage>,
        path: Option<PathBuf>,
        headers: Option<Arc<HeaderFactory>>,
        archive: Option<Arc<dyn Storage>>,
    ) -> Store {
        let archived = Arc::new(ArchivedStorage::new(storage, archive));
        let storage: Arc<dyn Storage> = archived.clone();
        Store {
            inner: Arc::new(Inner {
                tip: Tip::new(Arc::clone(&storage)),
                index: EventIndex::default(),
                storage,
                archived,
                path,
                headers,
                upcasters: Upcasters::new(),
                keyring: None,
                chain: ChainWriter::new(false),
            }),
        }
    }

    /// This new store with `upcasters` (before any clone is made).
    pub(super) fn upcast_with(mut self, upcasters: Upcasters) -> Store {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.upcasters = upcasters;
        }
        self
    }

    /// This new store with `keyring` (before any clone is made).
    pub(super) fn seal_with(mut self, keyring: Option<Keyring>) -> Store {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.keyring = keyring.map(Arc::new);
        }
        self
    }

    /// This new store with the chain on (before any clone is made).
    pub(super) fn chain_with(mut self, wanted: bool) -> Store {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.chain = ChainWriter::new(wanted);
        }
        self
    }

    /// The key store the store seals and opens subjects' data with (see
    /// [`StoreBuilder::key_store`]), if it was given one.
    pub fn key_store(&self) -> Option<&dyn KeyStore> {
        self.inner.keyring.as_deref().map(Keyring::key_store)
    }

    /// Forgets `subject`: destroys its key in the store's key store, durably. From then on its
    /// sealed data, in this store, its copies and its exports, is ciphertext no one can open,
    /// and readers meet the [`Forgotten`](crate::Forgotten) placeholder instead. Returns
    /// `false` when the subject had no key. A later event of the subject gets a new key.
    ///
    /// Model snapshots are not sealed: a snapshot saved before holds the subject's data as the
    /// model folded it. Remove the snapshots of models that hold such data after forgetting
    /// (models rebuild from the log, where the data now reads as forgotten).
    ///
    /// # Errors
    /// [`Error::Keys`] when the store has no key store; the key store's errors.
    pub fn forget(&self, subject: &str) -> Result<bool> {
        let keyring = self.inner.keyring.as_deref().ok_or_else(|| Error::Keys {
            location: self
                .path()
                .map_or_else(|| "the store".to_owned(), |p| p.display().to_string()),
            problem: "the store was opened without a key store: give it one (StoreBuilder::key_store, or --keys) to forget a subject".to_owned(),
        })?;
        let forgotten = keyring.forget(subject)?;
        tracing::info!(subject, forgotten, "subject forgotten");
        Ok(forgotten)
    }

    /// Opens the sealed data of a commit read as stored (by [`Store::raw_commits`], or decoded
    /// from its bytes): with the store's key store, the data it was sealed with; without, or
    /// for a forgotten subject, the [`Forgotten`](crate::Forgotten) placeholder. Replays,
    /// subscriptions, models and [`Store::events_matching`] do this themselves.
    ///
    /// # Errors
    /// [`Error::CorruptCommit`] when sealed data was changed (it does not open with its key);
    /// the key store's errors.
    pub fn open_sealed(&self, commit: &mut Commit) -> Result<()> {
        self.open_sealed_with(commit, &mut Opener::default())
    }

    /// [`open_sealed`](Self::open_sealed), keeping keys and buffers in `opener` from one
    /// commit to the next.
    pub(crate) fn open_sealed_with(&self, commit: &mut Commit, opener: &mut Opener) -> Result<()> {
        let number = commit.number();
        open_commit(
            self.inner.keyring.as_deref(),
            commit,
            &|| self.storage().commit_location(number),
            opener,
        )
    }

    /// Opens the sealed data a decoder found in `commit`'s bytes (see
    /// [`decode_commit_sealed`](crate::format::decode_commit_sealed)), or, when it found none
    /// because it decoded the commit otherwise (`None`), every sealed datum of the commit.
    pub(crate) fn open_decoded_with(
        &self,
        commit: &mut Commit,
        found: Option<FoundSealed<'_>>,
        opener: &mut Opener,
    ) -> Result<()> {
        let Some(found) = found else {
            return self.open_sealed_with(commit, opener);
        };
        let number = commit.number();
        open_found(
            self.inner.keyring.as_deref(),
            commit,
            found,
            &|| self.storage().commit_location(number),
            opener,
        )
    }

    /// The store's keyring, for the one write path.
    pub(crate) fn keyring(&self) -> Option<&Keyring> {
        self.inner.keyring.as_deref()
    }

    /// Whether this store writes chained commits: it was opened with
    /// [`StoreBuilder::chain`], or it has met a chained commit at the log's end (every writer
    /// continues a chain that has started).
    pub fn is_chained(&self) -> bool {
        self.inner.chain.is_on()
    }

    /// The upcasters applied to the events the store hands to its callers (see
    /// [`StoreBuilder::upcasters`]); none by default.
    pub fn upcasters(&self) -> &Upcasters {
        &self.inner.upcasters
    }

    /// The storage backend (seen through the layer that reads archived commits from the
    /// store's archive, see [`Store::archive`]).
    pub fn storage(&self) -> &dyn Storage {
        &*self.inner.storage
    }

    /// The archiving layer over the backend.
    pub(crate) fn archived(&self) -> &ArchivedStorage {
        &self.inner.archived
    }

    /// The first commit of the store's log: 1, or, once the store was archived, the first
    /// commit after those moved to the archive (see [`Store::archive`]).
    ///
    /// # Errors
    /// When the store's archive marker cannot be read or is not one.
    pub fn log_start(&self) -> Result<u64> {
        self.inner.archived.start()
    }

    /// The store's folder, for a folder store opened by path: made absolute when it was
    /// opened.
    pub fn path(&self) -> Option<&Path> {
        self.inner.path.as_deref()
    }

    /// Creates the store's folder and its parents if they do not exist (on every OS).
    ///
    /// # Errors
    /// When the folder cannot be created, or the path is a file.
    pub fn ensure_folder(&self) -> Result<()> {
        self.inner.storage.ensure_created()
    }

    /// Whether the store's folder (or other container) exists.
    ///
    /// # Errors
    /// When the path is not a folder, or looking fails.
    pub fn exists(&self) -> Result<bool> {
        self.inner.storage.exists()
    }

    /// The number of the last commit (0 for an empty store), including commits made by other
    /// processes since this store last looked.
    ///
    /// The first call lists the backend once; later calls only check for commits after the
    /// last one known.
    ///
    /// # Errors
    /// When the backend cannot be read.
    pub fn tip(&self) -> Result<u64> {
        self.inner.tip.current()
    }

    /// The index of event names and tags, for queries.
    pub(crate) fn event_index(&self) -> &EventIndex {
        &self.inner.index
    }

    /// The cache of the log's end, for the store's readers, repairs and models.
    pub(crate) fn tip_cache(&self) -> &Tip {
        &self.inner.tip
    }
}
