//! Where the bytes live: the [`Storage`] trait and its backends.

pub(crate) mod address;
pub(crate) mod archive;
pub mod journal;
mod listing;
pub(crate) mod local;
mod loose;
mod memory;
pub(crate) mod names;
#[cfg(feature = "s3")]
mod object;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(test)]
pub(crate) mod test_kit;

pub use journal::JournalStorage;
pub use local::Durability;
#[allow(deprecated)]
pub use loose::FolderStorage;
pub use loose::LooseStorage;
pub use memory::MemoryStorage;
#[cfg(feature = "s3")]
pub use object::ObjectStorage;
#[cfg(feature = "postgres")]
pub use postgres::PostgresStorage;

pub(crate) use self::address::address;
pub(crate) use self::archive::ArchivedStorage;

use std::fmt;
use std::sync::Arc;

use crate::error::Result;

/// The largest commit number: 2^53 - 1, JavaScript's `Number.MAX_SAFE_INTEGER`, the largest the
/// original package counts exactly. Folder and object stores ignore names numbered beyond it
/// (`verify` warns of them), and no commit is written beyond it.
pub(crate) const MAX_COMMIT_NUMBER: u64 = (1 << 53) - 1;

/// Another writer created the commit (or snapshot) first.
///
/// This is not an error: it is the normal outcome of a lost race between writers, and the
/// caller decides what follows (take the next number, or catch up and try again).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conflict {
    /// The number that was already taken.
    pub commit: u64,
}

/// A commit to create together with others (see [`Storage::create_commits`]).
#[derive(Clone, Copy, Debug)]
pub struct NewCommit<'a> {
    /// Its number.
    pub number: u64,
    /// Its document.
    pub document: &'a [u8],
    /// Whether the document carries a unique id in its [`COMMIT_ID_HEADER`] header (as the
    /// `*_identified_*` methods).
    pub identified: bool,
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "commit {} was created by another writer first",
            self.commit
        )
    }
}

/// What creating a commit or a snapshot returns: `Ok(Ok(()))` when it was created,
/// `Ok(Err(Conflict))` when another writer had taken its number (nothing changed), `Err` for
/// any other failure.
pub type Created = Result<std::result::Result<(), Conflict>>;

/// The header that carries a commit's unique id, for backends that need one to resolve a write
/// whose outcome they could not learn (see [`Storage::needs_commit_ids`]).
pub const COMMIT_ID_HEADER: &str = "commitId";

/// What [`Storage::snapshots`] finds: the snapshots present, as (snapshot name, commit
/// number), sorted; and the last commit, when the same look finds it.
pub type SnapshotsFound = (Vec<(String, u64)>, Option<u64>);

/// The check of a conditional append ([`Storage::append_commit_if`]): given a commit's number
/// and stored bytes, whether it conflicts with the append (it holds an event the writer's
/// decision depends on). `Err` carries why the bytes could not be judged (they do not decode):
/// the backend reports it as damage of that commit, and writes nothing.
///
/// The store makes the check; a backend only calls it, and must call it for every commit
/// between the caller's position and the number it creates.
pub type CommitCheck = dyn Fn(u64, &[u8]) -> std::result::Result<bool, String> + Send + Sync;

/// What [`Storage::crash_leftover`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Leftover {
    /// Its first commit: it and every commit after it are moved aside.
    pub first: u64,
    /// Where it is.
    pub location: String,
    /// What is wrong there.
    pub problem: String,
}

/// What a backend holds, as found by one listing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Listing {
    /// Numbers of the commits present, in increasing order.
    pub commits: Vec<u64>,
    /// Snapshots present, as (snapshot name, commit number), sorted.
    pub snapshots: Vec<(String, u64)>,
    /// Entries that are not commits but look as if they were meant to be (e.g. `007.log`), as
    /// (location, what is odd about it). Other unrelated entries are not listed.
    pub suspicious: Vec<(String, String)>,
}

/// The seam between a store and the place its bytes live.
///
/// A backend moves whole commit and snapshot documents as bytes: it knows nothing of events,
/// models or user types, and it never parses what it stores. The store builds everything else
/// (numbering, replay, headers) on these few operations.
///
/// # Contract
/// Every backend keeps these rules; the conformance suite checks them for each backend of this
/// crate (`tests/storage_conformance.rs`), and `foldstore::conformance` (the `conformance`
/// feature) publishes its checks for backends written elsewhere.
/// 0. Commits are numbered from 1: `read_commit(0)` and `commit_exists(0)` find nothing,
///    `create_commit(0, _)` is [`Error::InvalidCommitNumber`](crate::error::Error::InvalidCommitNumber),
///    and `append_commit(0, _)` starts at 1.
/// 1. `create_commit(n, doc)` creates commit `n` only if it does not exist, atomically: any
///    reader sees either no commit `n` or all of `doc`, byte for byte, never part of it, and
///    never a change to it afterwards. If commit `n` exists, it returns `Ok(Err(Conflict))` and
///    changes nothing. Only a lost race is a conflict: every other failure is an `Err`.
/// 2. When `create_commit` returns `Ok(Ok(()))`, the commit is as durable as the backend was
///    configured to make it (by default it survives power loss).
/// 3. `read_commit(n)` returns exactly the bytes that were created, or `None` if there is no
///    commit `n`.
/// 4. `append_commit(first, doc)` creates `doc` at the lowest free number `>= first` that it
///    finds by trying in order, and returns that number; it never overwrites anything.
///    A backend that keeps the log contiguous by construction (the journal) refuses, with an
///    error, to create a commit beyond the last one plus one; the store never asks it to.
///    `append_commit_if(first, doc, _, check)` creates `doc` at the lowest free number
///    `n >= first` only if `check` found no conflict in any of the commits `first..n`, and
///    returns `n`; otherwise it returns `Ok(Err(Conflict))` naming the first conflicting
///    commit, and writes nothing. Checking and creating are atomic: no commit appears between
///    the last one checked and `n`.
/// 5. Snapshots follow rules 1 to 3, keyed by (name, commit).
/// 6. `list` reports every commit and snapshot present. It may be slow; the store calls it
///    when it opens, never per commit.
/// 7. A backend that does not exist yet (a folder not created) is empty: reading and listing
///    succeed and find nothing. `ensure_created` makes it exist; creating a commit in a backend
///    that does not exist may fail with an error.
/// 8. The backend is shared by threads (`Send + Sync`), and other processes or machines may
///    write the same backend at the same time.
///
/// # Documents that carry a commit id
/// A backend that can fail to learn whether a create succeeded ([`needs_commit_ids`]) tells
/// its own document from another writer's by the unique id in its [`COMMIT_ID_HEADER`]
/// header. Backends never parse documents, so the writer says which documents carry one: it
/// writes them with [`create_identified_commit`], [`append_identified_commit`] and
/// [`create_identified_snapshot`] instead of the plain methods. These are provided methods
/// that default to the plain ones, so that a backend that does not care (most, and every
/// backend written before them) implements nothing more, and the plain methods keep their
/// signatures. A plain create is a promise of nothing: a backend must not take equal bytes
/// for its own write unless it was told the document is unique.
///
/// [`needs_commit_ids`]: Storage::needs_commit_ids
/// [`create_identified_commit`]: Storage::create_identified_commit
/// [`append_identified_commit`]: Storage::append_identified_commit
/// [`create_identified_snapshot`]: Storage::create_identified_snapshot
pub trait Storage: Send + Sync + fmt::Debug {
    /// Creates the backend's container (folder, table, bucket prefix) if it does not exist.
    ///
    /// # Errors
    /// When it cannot be created.
    fn ensure_created(&self) -> Result<()>;

    /// Whether the backend's container exists.
    ///
    /// # Errors
    /// When that cannot be found out.
    fn exists(&self) -> Result<bool>;

    /// Lists the commits and snapshots present.
    ///
    /// # Errors
    /// When the listing fails.
    fn list(&self) -> Result<Listing>;

    /// The snapshots present, as (snapshot name, commit number), sorted; and the last commit
    /// when the same look finds it. Models call it when they first open. The default lists the
    /// backend (which finds both); backends whose listing of commits is costly override it.
    ///
    /// # Errors
    /// When the listing fails.
    fn snapshots(&self) -> Result<SnapshotsFound> {
        let listing = self.list()?;
        let last = listing.commits.last().copied().unwrap_or(0);
        Ok((listing.snapshots, Some(last)))
    }

    /// Reads the bytes of commit `number`, or `None` when there is no such commit.
    ///
    /// # Errors
    /// When the commit exists but cannot be read.
    fn read_commit(&self, number: u64) -> Result<Option<Vec<u8>>>;

    /// Reads the stored bytes of commit `number` even when the backend knows them to be
    /// damaged (and [`read_commit`](Storage::read_commit) fails with
    /// [`Error::CorruptCommit`](crate::error::Error::CorruptCommit)): for copying a damaged store as
    /// it is. The default is `read_commit`.
    ///
    /// # Errors
    /// As [`read_commit`](Storage::read_commit), but for damage the backend can carry.
    fn read_commit_raw(&self, number: u64) -> Result<Option<Vec<u8>>> {
        self.read_commit(number)
    }

    /// Reads up to `max` commits from `first` on (`first`, `first + 1`, ...), stopping before
    /// the first number that has no commit. A replay reads in such batches, so backends that
    /// can read a range in one request (a query, one read of a journal segment) override it;
    /// the default calls [`read_commit`](Storage::read_commit) for each.
    ///
    /// # Errors
    /// As [`read_commit`](Storage::read_commit).
    fn read_commits(&self, first: u64, max: usize) -> Result<Vec<Vec<u8>>> {
        let mut commits = Vec::new();
        let mut number = first.max(1);
        while commits.len() < max {
            match self.read_commit(number)? {
                Some(bytes) => commits.push(bytes),
                None => break,
            }
            number += 1;
        }
        Ok(commits)
    }

    /// The number of the last commit (0 when there is none). The store asks once, when it
    /// first needs the log's end, and then tracks it. The default lists the backend; backends
    /// override it when they can tell more cheaply (a `max()` query, a journal's index, probing
    /// for objects). Since commits are contiguous from 1, a backend may find it by probing
    /// numbers instead of listing everything.
    ///
    /// # Errors
    /// When that cannot be found out.
    fn last_commit(&self) -> Result<u64> {
        Ok(self.list()?.commits.last().copied().unwrap_or(0))
    }

    /// Whether documents written through this backend need a unique id in their headers
    /// ([`COMMIT_ID_HEADER`]), and to be written with the `*_identified_*` methods, because the
    /// backend can fail to learn whether a create succeeded (a lost acknowledgement, a client
    /// that retried a request that had in fact succeeded). Such a backend then reads the commit
    /// back and compares it with its own document to tell its
    /// own commit from another writer's (docs/design.md, guarantee 7). The default is `false`.
    fn needs_commit_ids(&self) -> bool {
        false
    }

    /// Makes everything written through this backend so far durable, for a backend written
    /// without a sync per commit ([`Durability::None`]) on purpose, e.g. by a bulk copy. The
    /// default does nothing (for backends whose every write is durable).
    ///
    /// # Errors
    /// When syncing fails.
    fn sync_all(&self) -> Result<()> {
        Ok(())
    }

    /// Whether commit `number` exists. The default reads it; backends override it when they
    /// can tell more cheaply.
    ///
    /// # Errors
    /// When that cannot be found out.
    fn commit_exists(&self, number: u64) -> Result<bool> {
        Ok(self.read_commit(number)?.is_some())
    }

    /// When commit `number` was last modified, where the backend can tell (`None` otherwise, or
    /// when it does not exist). Readers use it to tell a commit that another program (the
    /// original package writes in place) is still writing from a damaged one. The default
    /// cannot tell.
    ///
    /// # Errors
    /// When that cannot be found out.
    fn commit_modified(&self, number: u64) -> Result<Option<std::time::SystemTime>> {
        let _ = number;
        Ok(None)
    }

    /// Creates commit `number` holding `document`, unless it exists (see the contract).
    ///
    /// # Errors
    /// Any failure other than a lost race.
    fn create_commit(&self, number: u64, document: &[u8]) -> Created;

    /// Creates `document` at the lowest free number `>= first`, and returns that number.
    ///
    /// The default tries [`create_commit`](Storage::create_commit) at `first`, `first + 1`, ...
    /// Backends override it when they can do better (the folder keeps its written and synced
    /// temporary file across attempts).
    ///
    /// # Errors
    /// Any failure other than a lost race.
    fn append_commit(&self, first: u64, document: &[u8]) -> Result<u64> {
        let mut number = first.max(1);
        loop {
            match self.create_commit(number, document)? {
                Ok(()) => return Ok(number),
                Err(Conflict { .. }) => number += 1,
            }
        }
    }

    /// Creates `document` at the lowest free number `>= first`, on the condition that `check`
    /// finds no conflict in any commit from `first` up to that number: returns the number, or
    /// `Ok(Err(Conflict { commit }))` naming the first commit `check` found conflicting
    /// (nothing written). A conditional append: the caller has checked the commits before
    /// `first`, and the backend checks those that other writers created since, atomically
    /// with the create (contract rule 4). `identified` says that the document carries a unique
    /// id (as the `*_identified_*` methods).
    ///
    /// The default creates commit `first` exclusively; when another writer took it, it reads
    /// that commit, checks it, and tries the next number unless it conflicts. A commit created
    /// at `n` was thus checked against every commit below it, on any backend whose creates are
    /// exclusive (the contract's rule 1). A backend that batches writes (the journal) overrides
    /// it, so that conditional appends share a batch instead of racing for one number.
    ///
    /// # Errors
    /// Any failure other than a lost race or a conflict; [`Error::CorruptCommit`] when a commit
    /// to be checked cannot be read or judged (whether it conflicts cannot be known).
    ///
    /// [`Error::CorruptCommit`]: crate::error::Error::CorruptCommit
    fn append_commit_if(
        &self,
        first: u64,
        document: &[u8],
        identified: bool,
        check: Arc<CommitCheck>,
    ) -> Result<std::result::Result<u64, Conflict>> {
        append_by_creating(self, first, document, identified, &*check)
    }

    /// [`create_commit`](Storage::create_commit) for a document that carries a unique id in its
    /// [`COMMIT_ID_HEADER`] header (see "Documents that carry a commit id"). The default is
    /// `create_commit`.
    ///
    /// # Errors
    /// As [`create_commit`](Storage::create_commit).
    fn create_identified_commit(&self, number: u64, document: &[u8]) -> Created {
        self.create_commit(number, document)
    }

    /// Creates each of `commits` unless its number is taken, as
    /// [`create_commit`](Storage::create_commit) (or
    /// [`create_identified_commit`](Storage::create_identified_commit)) one after another
    /// would; the outcome of each, in order. What a copy into an empty store does.
    ///
    /// The default creates them one by one. PostgreSQL creates them in one transaction (a
    /// `COPY` into a temporary table, then one `INSERT`), one round trip and one flush instead
    /// of one each.
    ///
    /// # Errors
    /// As [`create_commit`](Storage::create_commit). The commits before the one that failed
    /// may have been created (by the default, one by one); creating them again finds them.
    fn create_commits(
        &self,
        commits: &[NewCommit<'_>],
    ) -> Result<Vec<std::result::Result<(), Conflict>>> {
        commits
            .iter()
            .map(|commit| {
                if commit.identified {
                    self.create_identified_commit(commit.number, commit.document)
                } else {
                    self.create_commit(commit.number, commit.document)
                }
            })
            .collect()
    }

    /// [`append_commit`](Storage::append_commit) for a document that carries a unique id in its
    /// [`COMMIT_ID_HEADER`] header (see "Documents that carry a commit id"). The default is
    /// `append_commit`.
    ///
    /// # Errors
    /// As [`append_commit`](Storage::append_commit).
    fn append_identified_commit(&self, first: u64, document: &[u8]) -> Result<u64> {
        self.append_commit(first, document)
    }

    /// Reads the snapshot of `name` labelled `commit`, or `None` when there is none.
    ///
    /// # Errors
    /// When it exists but cannot be read.
    fn read_snapshot(&self, name: &str, commit: u64) -> Result<Option<Vec<u8>>>;

    /// Creates the snapshot of `name` labelled `commit`, unless one exists.
    ///
    /// # Errors
    /// Any failure other than an existing snapshot.
    fn create_snapshot(&self, name: &str, commit: u64, document: &[u8]) -> Created;

    /// [`create_snapshot`](Storage::create_snapshot) for a document that carries a unique id in
    /// its [`COMMIT_ID_HEADER`] header (see "Documents that carry a commit id"). The default is
    /// `create_snapshot`.
    ///
    /// # Errors
    /// As [`create_snapshot`](Storage::create_snapshot).
    fn create_identified_snapshot(&self, name: &str, commit: u64, document: &[u8]) -> Created {
        self.create_snapshot(name, commit, document)
    }

    /// Reads the data derived from the log that the store saved as `name` (its event index),
    /// or `None` when there is none. Derived data is never the source of truth: the store
    /// checks it against the log before it uses it, and rebuilds it when it is missing, stale
    /// or damaged. The default keeps none.
    ///
    /// # Errors
    /// When it exists but cannot be read.
    fn read_derived(&self, name: &str) -> Result<Option<Vec<u8>>> {
        let _ = name;
        Ok(None)
    }

    /// Saves data derived from the log as `name`, replacing what was saved before (see
    /// [`read_derived`](Storage::read_derived)). It need not be durable, nor atomic: a lost or
    /// torn copy is found out and rebuilt. The default keeps nothing.
    ///
    /// # Errors
    /// When it cannot be saved (the store goes on without it).
    fn write_derived(&self, name: &str, bytes: &[u8]) -> Result<()> {
        let _ = (name, bytes);
        Ok(())
    }

    /// Reads the backend's own document `name` (see [`write_meta`](Storage::write_meta)), or
    /// `None` when there is none. The default keeps none.
    ///
    /// # Errors
    /// When it exists but cannot be read; [`Error::Backend`](crate::error::Error::Backend) for
    /// a name [`validate_meta_name`] refuses.
    fn read_meta(&self, name: &str) -> Result<Option<Vec<u8>>> {
        validate_meta_name(name)?;
        Ok(None)
    }

    /// Saves a document of the backend's own as `name`, replacing what was saved before,
    /// atomically (a reader finds the old bytes or the new ones, whole) and durably (it survives
    /// power loss once this returns `Ok`), whatever the backend's durability for commits. What
    /// archiving writes: the marker that says where a live store's log starts
    /// ([`ARCHIVED_MARKER`]), and an archive's manifest and chunks. Folder stores keep it as the
    /// file `foldstore-<name>`, object stores as the object of that name under the prefix,
    /// PostgreSQL as the row `meta:<name>` of the meta table. The default refuses: the backend
    /// cannot hold an archive or be archived.
    ///
    /// # Errors
    /// When it cannot be saved; nothing is replaced then.
    fn write_meta(&self, name: &str, bytes: &[u8]) -> Result<()> {
        let _ = bytes;
        validate_meta_name(name)?;
        Err(crate::error::Error::Backend {
            backend: "storage",
            message: format!(
                "this backend cannot keep the document {name:?}: it cannot hold an archive nor be archived"
            ),
            source: None,
        })
    }

    /// Whether the backend can be archived: it keeps documents of its own
    /// ([`write_meta`](Storage::write_meta)) and can remove commits
    /// ([`remove_commits_below`](Storage::remove_commits_below)). Archiving refuses a backend
    /// that cannot, before it writes anything. The default is `false`.
    fn can_be_archived(&self) -> bool {
        false
    }

    /// How many times this backend found commits it knew removed by archiving in another
    /// process (a journal's segments): when it changes, the store reads the archive marker
    /// again. The default is 0 (a backend that does not notice).
    fn removals_noticed(&self) -> u64 {
        0
    }

    /// Removes every commit numbered below `start` that the backend holds, once the store's
    /// marker says the log starts at `start` (archiving, after the archive was written and
    /// checked). A backend that cannot remove some of them exactly leaves them (a journal keeps
    /// the segment holding commit `start`, with the commits before it in that segment): they are
    /// never read again, the store routing reads below `start` to the archive. Returns how many
    /// it removed. It may be run again after a crash. The default refuses.
    ///
    /// # Errors
    /// When removing fails; what was removed stays removed, which is safe, the marker being
    /// written first.
    fn remove_commits_below(&self, start: u64) -> Result<u64> {
        Err(crate::error::Error::Backend {
            backend: "storage",
            message: format!(
                "this backend cannot remove commits: it cannot be archived (the log would start at {start})"
            ),
            source: None,
        })
    }

    /// Moves commit `number` out of the log into the backend's quarantine, without deleting
    /// anything, and returns where it went. Only repair calls it, for a damaged last commit.
    ///
    /// # Errors
    /// When the backend has no quarantine (the default), or the move fails.
    fn quarantine_commit(&self, number: u64) -> Result<String> {
        Err(crate::error::Error::Backend {
            backend: "storage",
            message: format!(
                "this backend cannot move commit {number} aside; {} must be mended by hand",
                self.commit_location(number)
            ),
            source: None,
        })
    }

    /// What a machine crash left at the end of the log that stops readers, where the backend
    /// can tell it from other damage (a journal: a write torn behind a gap in its last
    /// segment); `None` when there is none, and by default. Repair moves it aside, from its
    /// first commit to the end of the log, with [`quarantine_commit`](Storage::quarantine_commit).
    ///
    /// # Errors
    /// When the backend cannot be read.
    fn crash_leftover(&self) -> Result<Option<Leftover>> {
        Ok(None)
    }

    /// A way to wait for changes of the backend, for subscriptions; `None` when the backend
    /// cannot notify (subscribers then poll). The watch must be made before the subscriber
    /// reads, so that no change between its last read and its wait goes unnoticed.
    ///
    /// # Errors
    /// When the backend can notify but setting it up failed.
    fn watch(&self) -> Result<Option<Box<dyn Watch>>> {
        Ok(None)
    }

    /// Where commit `number` lives, for messages (a file path, a URL, a table row).
    fn commit_location(&self, number: u64) -> String;

    /// Where the snapshot of `name` at `commit` lives, for messages.
    fn snapshot_location(&self, name: &str, commit: u64) -> String;

    /// Where the store's own document `name` ([`read_meta`](Self::read_meta)) lives, for
    /// messages: a file, a row or an object. By default, named beside commit 1.
    fn meta_location(&self, name: &str) -> String {
        format!("foldstore-{name} beside {}", self.commit_location(1))
    }
}

/// The largest commit or snapshot document foldstore writes or reads: 1 GiB.
///
/// Writers refuse a larger document (nothing is written), so that every acknowledged commit
/// can be read back; readers refuse a larger file without reading it (a huge or sparse file
/// dropped into a store must not exhaust memory). The original package cannot produce such a
/// document either: V8's longest string is 2^29 - 24 characters.
pub const MAX_DOCUMENT_BYTES: u64 = 1 << 30;

/// Refuses a document larger than [`MAX_DOCUMENT_BYTES`] before anything is written.
pub(crate) fn check_document_size(document: &[u8]) -> Result<()> {
    if document.len() as u64 > MAX_DOCUMENT_BYTES {
        return Err(crate::error::Error::InvalidEvent {
            problem: format!(
                "the commit document would be {} bytes, more than foldstore reads ({MAX_DOCUMENT_BYTES} bytes); nothing was written",
                document.len()
            ),
        });
    }
    Ok(())
}

/// The default [`Storage::append_commit_if`]: creates the commit at `first`, and when another
/// writer took that number, checks the commit that won and tries the next number unless it
/// conflicts.
pub(crate) fn append_by_creating<S: Storage + ?Sized>(
    storage: &S,
    first: u64,
    document: &[u8],
    identified: bool,
    check: &CommitCheck,
) -> Result<std::result::Result<u64, Conflict>> {
    let mut number = first.max(1);
    loop {
        let created = if identified {
            storage.create_identified_commit(number, document)?
        } else {
            storage.create_commit(number, document)?
        };
        if created.is_ok() {
            return Ok(Ok(number));
        }
        // Another writer created it first: judge it. (Gone again, moved aside by a repair:
        // the same number is tried again; archived by another process meanwhile, so that it
        // is no longer the live log's: the caller reads the archive.)
        if let Some(bytes) = storage.read_commit(number)? {
            if check_commit(storage, check, number, &bytes)? {
                return Ok(Err(Conflict { commit: number }));
            }
            number += 1;
        } else if let Some(marker) = storage
            .read_meta(ARCHIVED_MARKER)?
            .map(|bytes| archive::Marker::parse(&bytes, &storage.meta_location(ARCHIVED_MARKER)))
            .transpose()?
            .filter(|marker| number < marker.start)
        {
            return Err(crate::error::Error::Archived {
                commit: number,
                start: marker.start,
                archive: marker.archive,
            });
        }
    }
}

/// Runs a conditional append's `check` on commit `number` of `storage`: whether it conflicts,
/// or the damage that keeps it from being judged.
pub(crate) fn check_commit<S: Storage + ?Sized>(
    storage: &S,
    check: &CommitCheck,
    number: u64,
    bytes: &[u8],
) -> Result<bool> {
    check(number, bytes).map_err(|problem| crate::error::Error::CorruptCommit {
        commit: number,
        location: storage.commit_location(number),
        problem: format!(
            "{problem}; a conditional append cannot tell whether it conflicts, and wrote nothing"
        ),
    })
}

/// Refuses commit number 0 (see the contract of [`Storage`]).
pub(crate) fn check_commit_number(number: u64) -> Result<()> {
    if number == 0 {
        Err(crate::error::Error::InvalidCommitNumber { number })
    } else {
        Ok(())
    }
}

/// The name of the document ([`Storage::write_meta`]) in which an archived store says where
/// its log starts and where the commits before lie: `foldstore-archived.json` in a folder.
pub const ARCHIVED_MARKER: &str = "archived.json";

/// Checks that `name` can name a document of a backend's own ([`Storage::write_meta`]): 1 to
/// 120 characters among `a-z`, `0-9`, `.` and `-`, starting with a letter or digit, so that it
/// is never a commit, snapshot or temporary name and never leaves the store's folder.
///
/// # Errors
/// [`Error::Backend`](crate::error::Error::Backend) saying why.
pub fn validate_meta_name(name: &str) -> Result<()> {
    let fine = (1..=120).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && name.as_bytes()[0].is_ascii_alphanumeric();
    if fine {
        Ok(())
    } else {
        Err(crate::error::Error::Backend {
            backend: "storage",
            message: format!(
                "{name:?} cannot name a document of the store's own: use 1 to 120 of a-z, 0-9, '.' and '-', starting with a letter or digit"
            ),
            source: None,
        })
    }
}

/// Notices of change from a backend; see [`Storage::watch`].
pub trait Watch: Send {
    /// Waits until the backend may have changed (a notice, possibly spurious, possibly for
    /// several changes at once) or `timeout` has passed. Returns whether a notice came.
    fn wait(&mut self, timeout: std::time::Duration) -> bool;
}

/// Checks that a snapshot name can be used in file and object names.
///
/// Names are refused when empty or when they contain `.`, `/`, `\` or NUL: the original only
/// compares the last extension, so a dot would make its snapshots unreachable, and the others
/// could reach outside the store's folder.
///
/// # Errors
/// [`Error::InvalidSnapshotName`](crate::error::Error::InvalidSnapshotName) saying why.
pub fn validate_snapshot_name(name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        "it is empty"
    } else if name.contains('.') {
        "it contains '.', which the original package's snapshot lookup cannot match"
    } else if name.contains(['/', '\\']) {
        "it contains a path separator"
    } else if name.contains('\0') {
        "it contains a NUL character"
    } else if name.chars().any(char::is_control) {
        "it contains a control character"
    } else {
        return Ok(());
    };
    Err(crate::error::Error::InvalidSnapshotName {
        name: name.to_owned(),
        reason,
    })
}
