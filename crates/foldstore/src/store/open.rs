//! Opening a store: the builder's options, and the layout of a folder store.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::commit::HeaderFactory;
use super::Store;
use crate::error::{Error, Result};
use crate::event::Headers;
use crate::forget::{KeyStore, Keyring};
use crate::storage::{Durability, JournalStorage, LooseStorage, Storage};
use crate::upcast::Upcasters;

/// Options for opening a [`Store`]; made by [`Store::builder`].
#[must_use]
pub struct StoreBuilder {
    path: PathBuf,
    storage: Option<Arc<dyn Storage>>,
    durability: Durability,
    layout: Option<Layout>,
    headers: Option<Arc<HeaderFactory>>,
    upcasters: Upcasters,
    keys: Option<Arc<dyn KeyStore>>,
    subject_tags: Vec<String>,
    chain: bool,
    archive: Option<Arc<dyn Storage>>,
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
        let listing = LooseStorage::new(path).list()?;
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
            .field("upcasters", &self.upcasters)
            .field("keys", &self.keys)
            .field("subject_tags", &self.subject_tags)
            .field("chain", &self.chain)
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

    /// The upcasters applied to every event the store hands to its caller: replays
    /// ([`Store::replay`], [`Store::commits`], [`Store::read_commit`]), subscriptions, and
    /// what is built on them (projections, the async API), and the events of
    /// [`Store::events_matching`] (which still match by what is stored). Default: none.
    ///
    /// Models do not use them: a model applies its own
    /// ([`ModelDefinition::upcasters`](crate::ModelDefinition::upcasters)), so that its
    /// snapshots' version covers everything that shapes its data. Nothing is written back:
    /// copies, `verify` and raw reads ([`Store::raw_commits`]) see the stored bytes.
    pub fn upcasters(mut self, upcasters: Upcasters) -> Self {
        self.upcasters = upcasters;
        self
    }

    /// The key store of the subjects' keys: the data of every event written with a tag that
    /// marks a subject (see [`subject_tags`](Self::subject_tags)) is sealed with the subject's
    /// key, and readers open it, or meet the [`Forgotten`](crate::Forgotten) placeholder once
    /// [`Store::forget`] destroyed the key. Default: none (nothing is sealed, and sealed data
    /// reads as forgotten). See "Forgettable data" in docs/design.md.
    ///
    /// ```
    /// # fn main() -> Result<(), foldstore::Error> {
    /// # let folder = tempfile::tempdir().unwrap();
    /// use foldstore::{Event, FolderKeyStore, Forgotten, MasterKey, Store};
    /// use serde_json::json;
    ///
    /// let keys = FolderKeyStore::open(folder.path().join("keys"), MasterKey::generate()?)?;
    /// let store = Store::builder(folder.path().join("members"))
    ///     .key_store(keys)
    ///     .subject_tags("member:")
    ///     .open()?;
    /// store.ensure_folder()?;
    /// store.log(&Event::with_data("newMemberRegistered", json!({"name": "peter pan"}))
    ///     .tagged(["member:peter pan"]))?;
    /// assert_eq!(store.read_commit(1)?.events()[0].data(), Some(&json!({"name": "peter pan"})));
    ///
    /// store.forget("member:peter pan")?;
    /// let data = store.read_commit(1)?.events()[0].data().cloned().unwrap();
    /// assert_eq!(Forgotten::in_data(&data).unwrap().subject(), "member:peter pan");
    /// # Ok(())
    /// # }
    /// ```
    pub fn key_store(mut self, keys: impl KeyStore + 'static) -> Self {
        self.keys = Some(Arc::new(keys));
        self
    }

    /// A tag prefix that marks subjects (may be given several times): an event tagged
    /// `member:peter pan` with the prefix `member:` belongs to the subject `member:peter pan`
    /// (the whole tag). Tags starting with `subject:` always mark subjects. An event may name
    /// one subject. Only used with a [`key_store`](Self::key_store).
    pub fn subject_tags(mut self, prefix: impl Into<String>) -> Self {
        self.subject_tags.push(prefix.into());
        self
    }

    /// Chains the store's commits: each commit's `chain` header holds the BLAKE3 hash of the
    /// previous commit's stored bytes, so that [`Store::verify_chain`] finds any commit edited,
    /// removed, swapped or inserted since. Default: off.
    ///
    /// Turning it on for a store whose log has no chain starts one at the store's next commit.
    /// Once the chain has started, every foldstore writer continues it, with this option or
    /// without (a writer reads the header of the commit before the one it writes). A chained
    /// commit is written at exactly the number its link was made for, so chained writers of
    /// one store take turns, and one that loses a number to another writer reads the commit
    /// that won before trying the next. The original package reads chained commits (the link
    /// is an ordinary header) but does not write one; docs/design.md has the format.
    ///
    /// ```
    /// # fn main() -> Result<(), foldstore::Error> {
    /// use foldstore::{Event, MemoryStorage, Store};
    ///
    /// let store = Store::builder("members").storage(MemoryStorage::new()).chain(true).open()?;
    /// store.log(&Event::new("first"))?;
    /// store.log(&Event::new("second"))?;
    /// let report = store.verify_chain(|_, _| {})?;
    /// assert_eq!(report.chain.as_ref().map(|chain| chain.chained), Some(2));
    /// assert!(report.is_sound());
    /// # Ok(())
    /// # }
    /// ```
    pub fn chain(mut self, on: bool) -> Self {
        self.chain = on;
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

    /// The archive that holds the commits archiving moved out of this store (see
    /// [`Store::archive`]): reads of commits before the log's start go there. Without it, such
    /// reads fail with [`Error::Archived`], naming where the archive is.
    pub fn archive(mut self, archive: impl Storage + 'static) -> Self {
        self.archive = Some(Arc::new(archive));
        self
    }

    /// [`archive`](Self::archive) at `address`: a folder, or a URL (`s3://bucket/prefix`, with
    /// the `s3` feature), as given to [`ArchiveOptions::at`](crate::ArchiveOptions::at).
    ///
    /// # Errors
    /// Those of [`open`](Self::open) and of opening the archive's backend.
    pub fn archive_at(self, address: impl AsRef<Path>) -> Result<Self> {
        let archive = crate::storage::archive::open_at(address.as_ref())?;
        Ok(self.shared_archive(archive))
    }

    /// [`archive`](Self::archive), given shared.
    pub fn shared_archive(mut self, archive: Arc<dyn Storage>) -> Self {
        self.archive = Some(archive);
        self
    }

    /// Another storage backend instead of the folder at the builder's path (which is then only
    /// used in messages). Default: a [`LooseStorage`] at that path.
    pub fn storage(mut self, storage: impl Storage + 'static) -> Self {
        self.storage = Some(Arc::new(storage));
        self
    }

    /// Another storage backend, given shared (as [`Store::with_shared_storage`] takes it), so
    /// that several stores with the builder's options can use one backend.
    pub fn shared_storage(mut self, storage: Arc<dyn Storage>) -> Self {
        self.storage = Some(storage);
        self
    }

    /// Opens the store. Nothing is created: a folder that does not exist is an empty store
    /// until [`Store::ensure_folder`] or a write makes it. A relative folder path is made
    /// absolute against the working folder now (without resolving symbolic links; see
    /// [`Store::path`]), so that the store stays where it was opened if the process changes
    /// its working folder later.
    ///
    /// # Errors
    /// [`Error::NotAFolder`] when the path exists and is not a folder; I/O errors from looking.
    pub fn open(self) -> Result<Store> {
        let address = crate::storage::address(&self.path)?;
        let (storage, path): (Arc<dyn Storage>, _) = match (self.storage, address) {
            (Some(storage), _) => (storage, None),
            (None, Some(remote)) => (remote, None),
            (None, None) => {
                // Made absolute now: the process may change its working folder later.
                let path = crate::storage::local::absolute(self.path);
                // Only a journal store is told by its marker; a loose one is only listed (once)
                // when the journal is asked for, so that opening a large loose store stays cheap.
                let layout = if crate::storage::journal::is_journal(&path) {
                    Layout::Journal
                } else if self.layout == Some(Layout::Journal) {
                    Layout::detect(&path)?.unwrap_or(Layout::Journal)
                } else {
                    Layout::Loose
                };
                if let Some(asked) = self.layout.filter(|asked| *asked != layout) {
                    return Err(Error::Layout {
                        path,
                        problem: format!(
                            "the store has the {} layout, and the {} layout was asked for; convert it with 'foldstore copy --layout {} FROM TO'",
                            layout.name(),
                            asked.name(),
                            asked.name()
                        ),
                    });
                }
                let storage: Arc<dyn Storage> = match layout {
                    Layout::Loose => {
                        Arc::new(LooseStorage::with_durability(path.clone(), self.durability))
                    }
                    Layout::Journal => Arc::new(JournalStorage::with_durability(
                        path.clone(),
                        self.durability,
                    )),
                };
                (storage, Some(path))
            }
        };
        storage.exists()?;
        let store = Store::from_parts(storage, path, self.headers, self.archive);
        let keyring = self.keys.map(|keys| Keyring::new(keys, self.subject_tags));
        Ok(store
            .upcast_with(self.upcasters)
            .seal_with(keyring)
            .chain_with(self.chain))
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
            upcasters: Upcasters::new(),
            keys: None,
            subject_tags: Vec::new(),
            chain: false,
            archive: None,
        }
    }
}
