//! The store: one totally ordered log of commits, and its write-only operations.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::SystemTime;

use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::event::{Event, Headers};
use crate::format::encode_commit;
use crate::storage::{Durability, FolderStorage, JournalStorage, MemoryStorage, Storage};

/// The largest commit number: 2^53 - 1, JavaScript's `Number.MAX_SAFE_INTEGER`, the largest the
/// original package counts exactly. Folder and object stores ignore names numbered beyond it
/// (`verify` warns of them), and no commit is written beyond it.
pub(crate) const MAX_COMMIT_NUMBER: u64 = (1 << 53) - 1;

/// A function that makes headers for each commit, added to the default `time` header.
pub type HeaderFactory = dyn Fn() -> Headers + Send + Sync;

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
    storage: Arc<dyn Storage>,
    path: Option<PathBuf>,
    headers: Option<Arc<HeaderFactory>>,
    /// The highest commit number known to exist (a hint: other writers may have gone further).
    tip: AtomicU64,
    /// Whether `tip` has been initialized from a listing of the backend.
    tip_listed: AtomicBool,
    /// A listing started ahead of need on another thread (see [`Store::list_ahead`]).
    listing_ahead: Mutex<Option<JoinHandle<Result<u64>>>>,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("storage", &self.inner.storage)
            .field("known_tip", &self.inner.tip.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// Options for opening a [`Store`]; made by [`Store::builder`].
#[must_use]
pub struct StoreBuilder {
    path: PathBuf,
    storage: Option<Arc<dyn Storage>>,
    durability: Durability,
    layout: Option<Layout>,
    headers: Option<Arc<HeaderFactory>>,
}

/// How a folder store lays out its commits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Layout {
    /// The original package's layout: commit `k` is the file `k.log`. The original package
    /// can read and write it beside foldstore. The default for new stores.
    #[default]
    Loose,
    /// foldstore's own journal: commits as records of append-only segment files, written
    /// with one sync for many concurrent commits. Much faster to write and replay; the
    /// original package cannot read it. See [`JournalStorage`].
    Journal,
}

impl Layout {
    /// The layout of the folder store at `path`: `Some(Journal)` when it holds a journal
    /// marker, `Some(Loose)` when it holds commit files, `None` when it holds neither (an empty
    /// or missing folder).
    ///
    /// # Errors
    /// When the folder cannot be listed.
    pub fn detect(path: impl AsRef<Path>) -> Result<Option<Layout>> {
        let path = path.as_ref();
        if crate::storage::journal::is_journal(path) {
            return Ok(Some(Layout::Journal));
        }
        let listing = FolderStorage::new(path).list()?;
        Ok((!listing.commits.is_empty()).then_some(Layout::Loose))
    }

    /// The layout's name, as `foldstore --layout` takes it: `loose` or `journal`.
    pub fn name(self) -> &'static str {
        match self {
            Layout::Loose => "loose",
            Layout::Journal => "journal",
        }
    }
}

impl fmt::Debug for StoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreBuilder")
            .field("path", &self.path)
            .field("storage", &self.storage)
            .field("durability", &self.durability)
            .field("layout", &self.layout)
            .field("headers", &self.headers.as_ref().map(|_| "<factory>"))
            .finish()
    }
}

impl StoreBuilder {
    /// The header factory: its headers are added to the default `{"time": ...}` of every commit,
    /// and may override `time`. Default: none, so headers are just `{"time": ...}`.
    pub fn headers<F>(mut self, factory: F) -> Self
    where
        F: Fn() -> Headers + Send + Sync + 'static,
    {
        self.headers = Some(Arc::new(factory));
        self
    }

    /// The durability of the folder backend. Default: [`Durability::Immediate`], every commit
    /// survives power loss once the write call returns. Ignored when
    /// [`storage`](Self::storage) gives another backend (which has its own setting).
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// The layout of a new folder store. An existing store keeps its layout, which is detected
    /// (asking for the other one is an error: `foldstore copy` converts between layouts).
    /// Default: [`Layout::Loose`] for new stores.
    pub fn layout(mut self, layout: Layout) -> Self {
        self.layout = Some(layout);
        self
    }

    /// Another storage backend instead of the folder at the builder's path (which is then only
    /// used in messages). Default: a [`FolderStorage`] at that path.
    pub fn storage(mut self, storage: impl Storage + 'static) -> Self {
        self.storage = Some(Arc::new(storage));
        self
    }

    /// Opens the store. Nothing is created: a folder that does not exist is an empty store
    /// until [`Store::ensure_folder`] or a write makes it.
    ///
    /// # Errors
    /// [`Error::NotAFolder`] when the path exists and is not a folder; I/O errors from looking.
    pub fn open(self) -> Result<Store> {
        let address = crate::storage::address(&self.path)?;
        let (storage, path): (Arc<dyn Storage>, _) = match (self.storage, address) {
            (Some(storage), _) => (storage, None),
            (None, Some(remote)) => (remote, None),
            (None, None) => {
                // Only a journal store is told by its marker; a loose one is only listed (once)
                // when the journal is asked for, so that opening a large loose store stays cheap.
                let layout = if crate::storage::journal::is_journal(&self.path) {
                    Layout::Journal
                } else if self.layout == Some(Layout::Journal) {
                    Layout::detect(&self.path)?.unwrap_or(Layout::Journal)
                } else {
                    Layout::Loose
                };
                if let Some(asked) = self.layout.filter(|asked| *asked != layout) {
                    return Err(Error::Layout {
                        path: self.path,
                        problem: format!(
                            "the store has the {} layout, and the {} layout was asked for; convert it with 'foldstore copy --layout {} FROM TO'",
                            layout.name(),
                            asked.name(),
                            asked.name()
                        ),
                    });
                }
                let storage: Arc<dyn Storage> = match layout {
                    Layout::Loose => Arc::new(FolderStorage::with_durability(
                        self.path.clone(),
                        self.durability,
                    )),
                    Layout::Journal => Arc::new(JournalStorage::with_durability(
                        self.path.clone(),
                        self.durability,
                    )),
                };
                (storage, Some(self.path))
            }
        };
        storage.exists()?;
        Ok(Store::from_parts(storage, path, self.headers))
    }
}

impl Store {
    /// Opens the store at `path`, with the defaults of [`Store::builder`].
    ///
    /// `path` is a folder, or the URL of a store on a server when foldstore is built with the
    /// backend's feature: `postgres://user@host:port/db[?table=name]` (feature `postgres`)
    /// or `s3://bucket/prefix` (feature `s3`; endpoint, region and credentials from the usual
    /// `AWS_*` environment variables).
    ///
    /// # Errors
    /// As [`StoreBuilder::open`].
    pub fn open(path: impl AsRef<Path>) -> Result<Store> {
        Store::builder(path).open()
    }

    /// Options for a store at `path` (a folder or a URL, see [`Store::open`]): headers,
    /// durability, layout, or another storage backend.
    pub fn builder(path: impl AsRef<Path>) -> StoreBuilder {
        StoreBuilder {
            path: path.as_ref().to_path_buf(),
            storage: None,
            durability: Durability::default(),
            layout: None,
            headers: None,
        }
    }

    /// A new, empty store held in memory.
    pub fn memory() -> Store {
        Store::with_storage(MemoryStorage::new())
    }

    /// A store on any storage backend, with default options.
    pub fn with_storage(storage: impl Storage + 'static) -> Store {
        Store::from_parts(Arc::new(storage), None, None)
    }

    fn from_parts(
        storage: Arc<dyn Storage>,
        path: Option<PathBuf>,
        headers: Option<Arc<HeaderFactory>>,
    ) -> Store {
        Store {
            inner: Arc::new(Inner {
                storage,
                path,
                headers,
                tip: AtomicU64::new(0),
                tip_listed: AtomicBool::new(false),
                listing_ahead: Mutex::new(None),
            }),
        }
    }

    /// The storage backend.
    pub fn storage(&self) -> &dyn Storage {
        &*self.inner.storage
    }

    /// The store's folder, for a folder store opened by path.
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
        let mut tip = self.known_tip()?;
        // `known_tip` is at most MAX_COMMIT_NUMBER; the probe stops there too.
        while tip < MAX_COMMIT_NUMBER && self.inner.storage.commit_exists(tip + 1)? {
            tip += 1;
        }
        self.note_tip(tip);
        Ok(tip)
    }

    /// The highest commit number this store knows to exist, listing the backend the first time.
    pub(crate) fn known_tip(&self) -> Result<u64> {
        if !self.inner.tip_listed.load(Ordering::Acquire) {
            let ahead = self
                .inner
                .listing_ahead
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take();
            let last = match ahead.map(JoinHandle::join) {
                Some(Ok(listed)) => listed?,
                // A panicked listing thread: list here instead.
                Some(Err(_)) | None => last_commit(&*self.inner.storage)?,
            };
            tracing::debug!(tip = last, "found the log's end by listing");
            self.note_tip(last);
            self.inner.tip_listed.store(true, Ordering::Release);
        }
        self.checked_tip(self.inner.tip.load(Ordering::Acquire))
    }

    /// Refuses a log end beyond [`MAX_COMMIT_NUMBER`], which a backend can only report from a
    /// name or row that no writer made (and past which no number can be counted).
    fn checked_tip(&self, tip: u64) -> Result<u64> {
        if tip > MAX_COMMIT_NUMBER {
            return Err(Error::Backend {
                backend: "store",
                message: format!(
                    "{}: the log's last commit is reported as commit {tip}, beyond {MAX_COMMIT_NUMBER} (2^53 - 1), the largest commit number foldstore and the original package write; run 'foldstore verify' on the store",
                    self.inner.storage.commit_location(tip)
                ),
                source: None,
            });
        }
        Ok(tip)
    }

    /// Starts listing the backend on another thread, if this store has not listed it yet, so
    /// that a replay's reads overlap the listing it needs at the end of the log.
    pub(crate) fn list_ahead(&self) {
        if self.inner.tip_listed.load(Ordering::Acquire) {
            return;
        }
        let mut ahead = self
            .inner
            .listing_ahead
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if ahead.is_some() {
            return;
        }
        let storage = Arc::clone(&self.inner.storage);
        // If no thread can be started, `known_tip` lists when it needs to.
        *ahead = std::thread::Builder::new()
            .name("foldstore-listing".to_owned())
            .spawn(move || last_commit(&*storage))
            .ok();
    }

    /// Takes the log's end found by a listing made elsewhere, so that this store need not list
    /// the backend again to find it.
    pub(crate) fn adopt_tip(&self, last: u64) {
        self.note_tip(last);
        self.inner.tip_listed.store(true, Ordering::Release);
    }

    /// Records that commit `number` exists.
    pub(crate) fn note_tip(&self, number: u64) {
        self.inner.tip.fetch_max(number, Ordering::AcqRel);
    }

    /// Finds the end of the log by listing again: commits this store knew of are gone (moved
    /// aside by a repair, in this process or another).
    pub(crate) fn relist_tip(&self) -> Result<u64> {
        let last = self.checked_tip(last_commit(&*self.inner.storage)?)?;
        tracing::info!(
            tip = last,
            "commits were moved aside: the log's end found again"
        );
        self.inner.tip.store(last, Ordering::Release);
        self.inner.tip_listed.store(true, Ordering::Release);
        Ok(last)
    }

    /// Logs one event as one commit, at the next free number, and returns that number.
    ///
    /// `event` is an [`Event`] or any serde type whose JSON form is `{"name": string, "data":
    /// any}` (a `#[serde(tag = "name", content = "data")]` enum, say).
    ///
    /// # Errors
    /// [`Error::InvalidEvent`] when `event` has another shape, or when the commit would be nested
    /// deeper than [`Commit::MAX_NESTING`](crate::Commit::MAX_NESTING) levels (its data at most
    /// 3 fewer), which readers would not take; [`Error::InvalidHeaders`] when the header
    /// factory's headers are nested that deep; [`Error::StoreMissing`] when the folder does not
    /// exist; I/O errors. Nothing is written when it fails.
    pub fn log<E: Serialize + ?Sized>(&self, event: &E) -> Result<u64> {
        let event = Event::from_typed(event)?;
        self.commit(std::slice::from_ref(&event))
    }

    /// Logs a block of events as one commit, all or nothing.
    ///
    /// `action` logs events into the [`Block`] and calls [`Block::mark_as_complete`]; only then,
    /// and only if it logged at least one event, is the block written, as one commit at the
    /// next free number, which is returned. When `action` returns an error, or does not mark
    /// the block complete, or logs nothing, nothing is written and the result is `Ok(None)` (or
    /// the action's error).
    ///
    /// ```
    /// # fn main() -> Result<(), foldstore::Error> {
    /// use foldstore::{Event, Store};
    ///
    /// let store = Store::memory();
    /// let commit = store.log_block(|block| {
    ///     block.log(&Event::new("first"))?;
    ///     block.log(&Event::new("second"))?;
    ///     block.mark_as_complete();
    ///     Ok::<_, foldstore::Error>(())
    /// })?;
    /// assert_eq!(commit, Some(1));
    /// assert_eq!(store.log_block(|block| block.log(&Event::new("not marked")))?, None);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// The action's error, or the errors of [`Store::log`] converted into `E`.
    pub fn log_block<F, E>(&self, action: F) -> Result<Option<u64>, E>
    where
        F: FnOnce(&mut Block) -> Result<(), E>,
        E: From<Error>,
    {
        let mut block = Block::default();
        action(&mut block)?;
        if !block.complete {
            tracing::debug!(
                events = block.events.len(),
                "block not marked complete: nothing written"
            );
            return Ok(None);
        }
        if block.events.is_empty() {
            return Ok(None);
        }
        Ok(Some(self.commit(&block.events)?))
    }

    /// Writes `events` (at least one) as one commit at the next free number.
    pub(crate) fn commit(&self, events: &[Event]) -> Result<u64> {
        let headers = self.make_headers();
        // Refused, nothing written, when no reader could read it back.
        let document = encode_commit(&headers, events)?;
        let mut first = self.known_tip()? + 1;
        // One look back keeps the log gapless even when the known end is stale (a repair moved
        // the last commit aside since): a commit is only ever added after an existing one.
        if first > 1 && !self.inner.storage.commit_exists(first - 1)? {
            first = self.relist_tip()? + 1;
        }
        let number = self.inner.storage.append_commit(first, &document)?;
        self.note_tip(number);
        tracing::debug!(commit = number, events = events.len(), "committed");
        Ok(number)
    }

    /// The headers of a new commit: `time` now, then what the header factory adds.
    pub(crate) fn make_headers(&self) -> Headers {
        let mut headers = Headers::new();
        headers.insert("time".to_owned(), Value::String(now_iso8601()));
        if self.inner.storage.needs_commit_ids() {
            headers.insert(COMMIT_ID_HEADER.to_owned(), Value::String(unique_id()));
        }
        if let Some(factory) = &self.inner.headers {
            // `insert` keeps the position of a key that exists, so `time` stays first.
            headers.extend(factory());
        }
        headers
    }
}

/// The last commit a listing of `storage` finds (0 when there is none).
fn last_commit(storage: &dyn Storage) -> Result<u64> {
    storage.last_commit()
}

/// The header that carries a commit's unique id, for backends that need one to resolve a write
/// whose outcome they could not learn (see [`Storage::needs_commit_ids`]).
pub const COMMIT_ID_HEADER: &str = "commitId";

/// An id that no other commit of any process or machine carries: 128 bits from the process's
/// randomly keyed hasher, the time, the process id and a counter.
pub(crate) fn unique_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static KEYS: std::sync::OnceLock<(
        std::collections::hash_map::RandomState,
        std::collections::hash_map::RandomState,
    )> = std::sync::OnceLock::new();
    let (a, b) = KEYS.get_or_init(|| (Default::default(), Default::default()));
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let half = |keys: &std::collections::hash_map::RandomState, salt: u64| {
        let mut hasher = keys.build_hasher();
        hasher.write_u64(salt);
        hasher.write_u128(nanos);
        hasher.write_u32(std::process::id());
        hasher.write_u64(count);
        hasher.finish()
    };
    format!("{:016x}{:016x}", half(a, 1), half(b, 2))
}

/// The current time as JavaScript's `Date.prototype.toISOString` writes it.
pub(crate) fn now_iso8601() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

/// The events of a block being logged by [`Store::log_block`].
#[derive(Debug, Default)]
pub struct Block {
    events: Vec<Event>,
    complete: bool,
}

impl Block {
    /// Adds an event to the block (an [`Event`] or a typed event, as for [`Store::log`]).
    ///
    /// # Errors
    /// [`Error::InvalidEvent`] when `event` does not have the shape of an event.
    pub fn log<E: Serialize + ?Sized>(&mut self, event: &E) -> Result<()> {
        self.events.push(Event::from_typed(event)?);
        Ok(())
    }

    /// Marks the block complete: it will be written when the action returns `Ok`.
    pub fn mark_as_complete(&mut self) {
        self.complete = true;
    }

    /// The events logged so far.
    pub fn events(&self) -> &[Event] {
        &self.events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_is_written_like_to_iso_string() {
        let time = now_iso8601();
        assert_eq!(time.len(), "2026-11-27T15:03:30.380Z".len(), "{time}");
        assert!(time.ends_with('Z') && time.as_bytes()[19] == b'.', "{time}");
    }

    #[test]
    fn header_factory_adds_and_may_override_time() {
        let store = Store::builder("unused")
            .storage(MemoryStorage::new())
            .headers(|| {
                let mut h = Headers::new();
                h.insert("user".into(), "arjan".into());
                h.insert("time".into(), "2000-01-01T00:00:00.000Z".into());
                h
            })
            .open()
            .unwrap();
        let headers = store.make_headers();
        assert_eq!(headers.keys().collect::<Vec<_>>(), ["time", "user"]);
        assert_eq!(headers["time"], "2000-01-01T00:00:00.000Z");
    }
}
