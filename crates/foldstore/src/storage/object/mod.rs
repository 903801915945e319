//! The object-storage backend: a store kept as objects under a prefix of any
//! [`object_store::ObjectStore`] (AWS S3 and S3-compatible servers such as MinIO, R2 or moto, the
//! local file system, memory, ...), in the folder's ("loose") layout.
//!
//! See [`ObjectStorage`] for the layout and the commit protocol. This file holds the type and
//! its [`Storage`] implementation; the work is done in one module per concern:
//! - `url`: `s3://` URLs, their time limits, and what to check when a server does not answer;
//! - `requests`: the runtime requests run on, reads, probes and listings;
//! - `create`: exclusive creates and appends, and the outcome of a create that failed;
//! - `errors`: the errors, with their causes shown once.

mod create;
mod errors;
mod requests;
mod url;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};

use self::requests::{
    get_object, head_object, list_objects, percent_decode, probe_last_commit, spelled_as_written,
};
use super::{check_commit_number, validate_snapshot_name, Created, Listing, Storage};
use crate::error::Result;
use crate::storage::names::{classify as classify_name, Entry};

/// The backend's name in [`Error::Backend`].
const BACKEND: &str = "object storage";

/// After this many conflicts in a row, [`ObjectStorage::append_commit`] looks ahead before
/// trying again: it asks for the next [`LOOK_AHEAD`] numbers at once and skips those taken,
/// or lists the prefix when all of them are.
const CONFLICTS_BEFORE_LOOKING: u32 = 3;

/// How many numbers [`ObjectStorage::append_commit`] looks at at once (see
/// [`CONFLICTS_BEFORE_LOOKING`]).
const LOOK_AHEAD: u64 = 16;

/// How many objects [`ObjectStorage::read_commits`] fetches at once, at most.
const READ_AHEAD: usize = 16;

/// The time limit on making a connection to an S3 server, when neither the URL's
/// `connect_timeout` nor `AWS_CONNECT_TIMEOUT` sets one.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The time limit on one request to an S3 server, retries included, when neither the URL's
/// `timeout` nor `AWS_TIMEOUT` sets one.
const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What the marker object holds.
const MARKER_CONTENT: &[u8] = b"{\"foldstore\":\"store\",\"layout\":\"loose\"}\n";

/// A store kept as objects under a prefix of an object store.
///
/// # Layout
/// Under the store's prefix:
/// - commit `k` is the object `k.log`, holding the exact bytes of the commit document;
/// - the snapshot of model `m` at commit `k` is the object `k.m-snapshot`;
/// - the object [`ObjectStorage::MARKER_NAME`] marks a store made by
///   [`ensure_created`](Storage::ensure_created);
/// - repair moves damaged commits under [`ObjectStorage::QUARANTINE_FOLDER`]`/`.
///
/// Other objects are ignored; names that look like commits but are not canonical (`007.log`)
/// are reported as suspicious, as in a folder.
///
/// # The commit protocol
/// A commit (or snapshot) is created with one conditional put ([`PutMode::Create`], on S3 the
/// header `If-None-Match: *`): the server creates the object whole, or refuses because it
/// exists. Object stores make a new object visible atomically, so a reader sees all of it or
/// nothing, and nothing is ever overwritten.
///
/// # Writes with an unknown outcome
/// The client retries some failed requests (a server error, a dropped connection), so a put that
/// in fact succeeded on its first try can come back as "already exists", and a timeout leaves
/// the outcome unknown. This backend therefore asks for a unique `commitId` header in every
/// commit ([`Storage::needs_commit_ids`]), and when a create fails that way it reads the object
/// back: if it holds exactly the bytes sent and those carry a `commitId`, the commit is ours
/// and the create succeeded; if it holds other bytes, another writer won; if it is absent after
/// an error whose outcome is unknown, the error is returned (the put may still land later; its
/// id then tells it apart). Since the id is unique to one commit, a document with an id that is
/// found already in place, byte for byte, is that same commit, whichever of its puts created it:
/// creating it is idempotent. Without an id, equal bytes prove nothing, and an existing object is
/// always a conflict.
///
/// The writer says which documents carry an id by writing them with
/// [`create_identified_commit`](Storage::create_identified_commit),
/// [`append_identified_commit`](Storage::append_identified_commit) and
/// [`create_identified_snapshot`](Storage::create_identified_snapshot). A document written with
/// the plain methods is searched for the `"commitId"` key instead, byte for byte, for writers
/// that do not say so yet.
///
/// # Requests
/// The log's end is found by probing commits 1, 2, 4, 8, ... with `head` requests and then
/// bisecting (O(log n) requests, never a listing); [`read_commits`](Storage::read_commits)
/// fetches up to 16 commits at once; an append that finds its number taken tries the next
/// ones, and after a few conflicts in a row looks at the next 16 numbers at once to skip those
/// taken (or, when all are, lists the prefix once).
///
/// # Blocking
/// [`Storage`] is synchronous and `object_store` is async: every call runs its requests on a
/// small runtime shared by all object storages of the process (two worker threads, named
/// `foldstore-object-io`) and blocks the calling thread until they finish. Call it from
/// ordinary threads, or from async code through `tokio::task::spawn_blocking` (or foldstore's
/// async API, which does so); do not call it from inside an async task, where it would block
/// one of the runtime's worker threads for the length of a request.
///
/// # Existence
/// Object stores have no folders: a prefix exists as soon as one object has it. A store
/// [`exists`](Storage::exists) when its marker object [`ObjectStorage::MARKER_NAME`] or its
/// commit 1 exists; [`ensure_created`](Storage::ensure_created) creates the marker (it does not
/// create the bucket, which must exist). Reading a store that does not exist finds nothing, and
/// commits can be created without the marker.
///
/// # Time limits
/// A store made by [`from_url`](ObjectStorage::from_url) gives up on a request that gets no
/// answer: making a connection may take 10 s, and a request 30 s, retries of failed attempts
/// included (a server that accepts connections and never answers then fails each operation
/// after about 30 s). The URL's `connect_timeout` and `timeout` parameters, or the
/// `AWS_CONNECT_TIMEOUT` and `AWS_TIMEOUT` environment variables, set other limits (see
/// [`from_url`](ObjectStorage::from_url)).
///
/// # Subscriptions
/// Object stores cannot notify: [`watch`](Storage::watch) returns `None` and subscribers poll.
#[derive(Clone, Debug)]
pub struct ObjectStorage {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
    /// What the object keys are relative to, for messages: `s3://bucket`, or the object
    /// store's own description.
    base: String,
    /// What to check when a request fails without an answer from the server (S3 stores made
    /// from a URL), for messages.
    check: Option<String>,
    /// Held by an append: the threads of one process take turns instead of racing each other
    /// for the same numbers over the network (each lost race costs a put and a read back). It
    /// holds the last append's first number and the number it landed at: every number from
    /// the one to the other was taken then, so a later append from a first number in between
    /// starts after it.
    appending: Arc<std::sync::Mutex<Option<(u64, u64)>>>,
}

impl ObjectStorage {
    /// The name of the marker object that [`ensure_created`](Storage::ensure_created) puts
    /// under the prefix.
    pub const MARKER_NAME: &'static str = "foldstore-store.json";

    /// The folder under the prefix where [`quarantine_commit`](Storage::quarantine_commit)
    /// moves damaged commits, as `k.log.<unix milliseconds>`.
    pub const QUARANTINE_FOLDER: &'static str = crate::storage::names::QUARANTINE_FOLDER;

    /// A store under `prefix` of `store` (an empty prefix is the store's root).
    ///
    /// Any [`ObjectStore`] will do, as long as it supports [`PutMode::Create`] (S3 with
    /// conditional puts, the local file system, memory, ...). Messages name objects after the
    /// store's own description (its `Display`).
    pub fn new(store: Arc<dyn ObjectStore>, prefix: Path) -> Self {
        let base = store.to_string();
        ObjectStorage {
            store,
            prefix,
            base,
            check: None,
            appending: Arc::default(),
        }
    }

    /// The prefix the store's objects are under.
    pub fn prefix(&self) -> &Path {
        &self.prefix
    }

    /// The object store the objects are kept in.
    pub fn object_store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// The object named `name` under the prefix.
    fn object(&self, name: &str) -> Path {
        self.prefix.clone().join(name)
    }

    fn commit_path(&self, number: u64) -> Path {
        self.object(&format!("{number}.log"))
    }

    fn snapshot_path(&self, name: &str, commit: u64) -> Path {
        self.object(&format!("{commit}.{name}-snapshot"))
    }

    /// Where the derived data `name` is kept.
    fn derived_path(&self, name: &str) -> Path {
        self.prefix
            .clone()
            .join(crate::storage::names::DERIVED_FOLDER)
            .join(name)
    }

    /// Where `path` is, for messages.
    fn location(&self, path: &Path) -> String {
        format!("{}/{path}", self.base.trim_end_matches('/'))
    }
}

impl Storage for ObjectStorage {
    fn ensure_created(&self) -> Result<()> {
        let marker = self.object(Self::MARKER_NAME);
        let store = Arc::clone(&self.store);
        let path = marker.clone();
        let put = self.run(async move {
            let payload = PutPayload::from_static(MARKER_CONTENT);
            store
                .put_opts(&path, payload, PutOptions::from(PutMode::Create))
                .await
        })?;
        match put {
            Ok(_) => {
                tracing::debug!(marker = %self.location(&marker), "object store created");
                Ok(())
            }
            Err(
                object_store::Error::AlreadyExists { .. }
                | object_store::Error::Precondition { .. },
            ) => Ok(()),
            Err(e) => Err(self.failure("create the marker object", &marker, e)),
        }
    }

    fn exists(&self) -> Result<bool> {
        Ok(self.object_exists(&self.object(Self::MARKER_NAME))? || self.commit_exists(1)?)
    }

    fn list(&self) -> Result<Listing> {
        let store = Arc::clone(&self.store);
        let prefix = self.prefix.clone();
        let listed = self
            .run(async move { list_objects(&*store, &prefix).await })?
            .map_err(|e| self.failure("list", &self.prefix, e))?;
        let mut listing = Listing::default();
        for object in listed {
            // Names as the object store spells them, with `%XX` escapes.
            let Some(raw) = object.location.filename() else {
                continue;
            };
            let Some(name) = percent_decode(raw) else {
                continue;
            };
            match classify_name(&name) {
                // Another spelling of a commit's name (`%37.log` for `7.log`): not the commit,
                // which is read by its own name. (A snapshot's name may be escaped otherwise
                // by an object store, `%3A` for `:` on Windows, and is read back the same.)
                Entry::Commit(_) if !spelled_as_written(raw, &name) => {
                    listing.suspicious.push((
                        self.location(&object.location),
                        "is another spelling of a commit's name (escaped where foldstore does not escape): not a commit of the store; move it away".to_owned(),
                    ));
                }
                _ => listing.add_loose(&name, || self.location(&object.location)),
            }
        }
        Ok(listing.sorted())
    }

    fn read_commit(&self, number: u64) -> Result<Option<Vec<u8>>> {
        if number == 0 {
            return Ok(None);
        }
        self.read_object(&self.commit_path(number))
    }

    /// Fetches up to 16 commits at once (fewer at first, so that polling for a new commit
    /// costs few requests), in order, and stops at the first missing one.
    fn read_commits(&self, first: u64, max: usize) -> Result<Vec<Vec<u8>>> {
        let first = first.max(1);
        let store = Arc::clone(&self.store);
        let this = self.clone();
        let read = self.run(async move {
            let mut commits = Vec::new();
            let mut pending = VecDeque::new();
            let mut next = first;
            let mut window = 2;
            let mut failed = None;
            while commits.len() < max {
                // No commit lies past the largest number (and `next` never overflows).
                while pending.len() < window
                    && commits.len() + pending.len() < max
                    && next <= crate::storage::MAX_COMMIT_NUMBER
                {
                    let store = Arc::clone(&store);
                    let path = this.commit_path(next);
                    pending.push_back((
                        next,
                        tokio::spawn(async move { get_object(&*store, &path).await }),
                    ));
                    next += 1;
                }
                let Some((number, task)) = pending.pop_front() else {
                    break;
                };
                match task.await {
                    Ok(Ok(Some(bytes))) => commits.push(bytes),
                    Ok(Ok(None)) => break,
                    Ok(Err(e)) => {
                        failed = Some((number, e));
                        break;
                    }
                    Err(e) => {
                        failed = Some((number, object_store::Error::JoinError { source: e }));
                        break;
                    }
                }
                window = (window * 2).min(READ_AHEAD);
            }
            for (_, task) in pending {
                task.abort();
            }
            (commits, failed)
        })?;
        match read {
            (commits, None) => Ok(commits),
            (_, Some((number, e))) => Err(self.failure("read", &self.commit_path(number), e)),
        }
    }

    /// Probes with `head` requests instead of listing: O(log n) requests.
    fn last_commit(&self) -> Result<u64> {
        let store = Arc::clone(&self.store);
        let this = self.clone();
        self.run(
            async move { probe_last_commit(&*store, |number| this.commit_path(number)).await },
        )?
        .map_err(|e| self.failure("find the last commit under", &self.prefix, e))
    }

    /// Always true: see "Writes with an unknown outcome" in the type's docs.
    fn needs_commit_ids(&self) -> bool {
        true
    }

    fn commit_exists(&self, number: u64) -> Result<bool> {
        if number == 0 {
            return Ok(false);
        }
        self.object_exists(&self.commit_path(number))
    }

    fn commit_modified(&self, number: u64) -> Result<Option<SystemTime>> {
        if number == 0 {
            return Ok(None);
        }
        let path = self.commit_path(number);
        let store = Arc::clone(&self.store);
        let owned = path.clone();
        let meta = self
            .run(async move { head_object(&*store, &owned).await })?
            .map_err(|e| self.failure("look at", &path, e))?;
        Ok(meta.map(|meta| SystemTime::from(meta.last_modified)))
    }

    fn create_commit(&self, number: u64, document: &[u8]) -> Created {
        check_commit_number(number)?;
        self.create_object(&self.commit_path(number), number, document, false)
    }

    fn create_identified_commit(&self, number: u64, document: &[u8]) -> Created {
        check_commit_number(number)?;
        self.create_object(&self.commit_path(number), number, document, true)
    }

    /// Tries `first`, `first + 1`, ... in turn (see `create`).
    fn append_commit(&self, first: u64, document: &[u8]) -> Result<u64> {
        self.append_object(first, document, false)
    }

    fn append_identified_commit(&self, first: u64, document: &[u8]) -> Result<u64> {
        self.append_object(first, document, true)
    }

    fn read_snapshot(&self, name: &str, commit: u64) -> Result<Option<Vec<u8>>> {
        validate_snapshot_name(name)?;
        self.read_object(&self.snapshot_path(name, commit))
    }

    /// `foldstore-index/<name>` under the prefix.
    fn read_derived(&self, name: &str) -> Result<Option<Vec<u8>>> {
        self.read_object(&self.derived_path(name))
    }

    /// One plain put of `foldstore-index/<name>` under the prefix, replacing it.
    fn write_derived(&self, name: &str, bytes: &[u8]) -> Result<()> {
        let path = self.derived_path(name);
        let store = Arc::clone(&self.store);
        let (target, payload) = (path.clone(), PutPayload::from(bytes.to_vec()));
        self.run(async move { store.put(&target, payload).await })?
            .map(|_| ())
            .map_err(|e| self.failure("write", &path, e))
    }

    /// The object `foldstore-<name>` under the prefix.
    fn read_meta(&self, name: &str) -> Result<Option<Vec<u8>>> {
        crate::storage::validate_meta_name(name)?;
        self.read_object(
            &self
                .prefix
                .clone()
                .join(format!("foldstore-{name}").as_str()),
        )
    }

    /// One put of the object `foldstore-<name>` under the prefix, replacing it: a put is
    /// atomic, and durable once acknowledged.
    fn write_meta(&self, name: &str, bytes: &[u8]) -> Result<()> {
        crate::storage::validate_meta_name(name)?;
        crate::storage::check_document_size(bytes)?;
        let path = self
            .prefix
            .clone()
            .join(format!("foldstore-{name}").as_str());
        let store = Arc::clone(&self.store);
        let (target, payload) = (path.clone(), PutPayload::from(bytes.to_vec()));
        self.run(async move { store.put(&target, payload).await })?
            .map(|_| ())
            .map_err(|e| self.failure("write", &path, e))
    }

    fn create_snapshot(&self, name: &str, commit: u64, document: &[u8]) -> Created {
        validate_snapshot_name(name)?;
        self.create_object(&self.snapshot_path(name, commit), commit, document, false)
    }

    fn create_identified_snapshot(&self, name: &str, commit: u64, document: &[u8]) -> Created {
        validate_snapshot_name(name)?;
        self.create_object(&self.snapshot_path(name, commit), commit, document, true)
    }

    /// Copies the commit to `foldstore-quarantine/k.log.<unix milliseconds>` under the prefix,
    /// then deletes the original.
    fn quarantine_commit(&self, number: u64) -> Result<String> {
        check_commit_number(number)?;
        let stamp = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let from = self.commit_path(number);
        let to = self
            .prefix
            .clone()
            .join(Self::QUARANTINE_FOLDER)
            .join(format!("{number}.log.{stamp}"));
        let store = Arc::clone(&self.store);
        let (source, target) = (from.clone(), to.clone());
        let moved = self.run(async move {
            store
                .copy(&source, &target)
                .await
                .map_err(|e| ("copy", e))?;
            store.delete(&source).await.map_err(|e| ("delete", e))
        })?;
        match moved {
            Ok(()) => {
                tracing::info!(from = %self.location(&from), to = %self.location(&to), "commit moved aside");
                Ok(self.location(&to))
            }
            Err(("copy", e)) => Err(self.failure_at(
                "copy",
                &format!("{} to {}", self.location(&from), self.location(&to)),
                &e,
            )),
            Err((_, e)) => Err(self.failure_at(
                "delete (after copying it to the quarantine)",
                &self.location(&from),
                &e,
            )),
        }
    }

    fn commit_location(&self, number: u64) -> String {
        self.location(&self.commit_path(number))
    }

    fn snapshot_location(&self, name: &str, commit: u64) -> String {
        self.location(&self.snapshot_path(name, commit))
    }

    fn meta_location(&self, name: &str) -> String {
        self.location(
            &self
                .prefix
                .clone()
                .join(format!("foldstore-{name}").as_str()),
        )
    }
}
