//! Archived logs: the marker that says where a live store's log starts (`marker`), the chunks
//! an archive keeps commits in (`chunk`), and [`ArchivedStorage`], the layer every store reads
//! and writes through, which routes the commits before the log's start to the archive (or says
//! clearly that they are archived, and where), and keeps the numbers below it taken.

pub(crate) mod chunk;
pub(crate) mod marker;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub(crate) use marker::{Chunk, Manifest, Marker};

use crate::error::{Error, Result};
use crate::storage::{
    CommitCheck, Conflict, Created, Leftover, Listing, NewCommit, SnapshotsFound, Storage, Watch,
    ARCHIVED_MARKER,
};

/// The archive at `address`: a URL of a backend foldstore was built with (`s3://...`,
/// `postgres://...`), or a folder, which holds the archive's files beside each other
/// (`foldstore-archive-*`).
///
/// # Errors
/// An address that names a backend this build lacks, or that cannot be parsed.
pub(crate) fn open_at(address: &std::path::Path) -> Result<Arc<dyn Storage>> {
    Ok(match crate::storage::address(address)? {
        Some(remote) => remote,
        None => Arc::new(crate::storage::LooseStorage::new(address)),
    })
}

/// The first commit of `storage`'s log: 1, or what its archive marker says.
///
/// # Errors
/// When the marker cannot be read, or is not a marker.
pub(crate) fn start_of(storage: &dyn Storage) -> Result<u64> {
    Ok(marker_of(storage)?.map_or(1, |marker| marker.start))
}

/// The archive marker of `storage`, if it has one.
pub(crate) fn marker_of(storage: &dyn Storage) -> Result<Option<Marker>> {
    match storage.read_meta(ARCHIVED_MARKER)? {
        None => Ok(None),
        Some(bytes) => Marker::parse(&bytes, &marker_location(storage)).map(Some),
    }
}

/// Where a store's archive marker is, for messages.
pub(crate) fn marker_location(storage: &dyn Storage) -> String {
    format!(
        "the archive marker {}",
        storage.meta_location(ARCHIVED_MARKER)
    )
}

/// The manifest `marker` names, read from `archive` and checked: its bytes hash to what the
/// marker records, and it holds commits 1 to the one before the marker's start.
///
/// # Errors
/// [`Error::Layout`] naming the manifest and the archive the marker expects.
pub(crate) fn read_manifest(archive: &dyn Storage, marker: &Marker) -> Result<Manifest> {
    let location = format!(
        "the archive's manifest {}",
        archive.meta_location(&marker.manifest)
    );
    let refused = |problem: String| Error::Layout {
        path: location.clone().into(),
        problem,
    };
    let Some(bytes) = archive.read_meta(&marker.manifest)? else {
        return Err(refused(format!(
            "is missing: the store's marker says its commits 1 to {} are in the archive at {}; is this that archive?",
            marker.start - 1,
            marker.archive
        )));
    };
    if blake3::hash(&bytes).to_hex().as_str() != marker.manifest_blake3 {
        return Err(refused(format!(
            "does not match the store's marker (its BLAKE3 hash differs): it is another archive's, or was altered; the store's archive is at {}",
            marker.archive
        )));
    }
    let manifest = Manifest::parse(&bytes, &location)?;
    if manifest.last + 1 != marker.start {
        return Err(refused(format!(
            "holds commits 1 to {}, and the store's log starts at commit {}",
            manifest.last, marker.start
        )));
    }
    Ok(manifest)
}

/// The documents of `chunk`, read from `archive` and checked: its size and BLAKE3 hash are
/// the manifest's, and its records are whole, in order, with matching CRC-32s.
///
/// # Errors
/// [`Error::CorruptCommit`] naming the chunk and the commits it holds.
pub(crate) fn read_chunk(archive: &dyn Storage, chunk: &Chunk) -> Result<Vec<Vec<u8>>> {
    let damaged = |problem: String| {
        Error::CorruptCommit {
        commit: chunk.first,
        location: format!(
            "the archive chunk {}",
            archive.meta_location(&chunk.name)
        ),
        problem: format!(
            "{problem}: the archived commits {} to {} cannot be read; restore the archive from a copy",
            chunk.first, chunk.last
        ),
    }
    };
    let bytes = archive
        .read_meta(&chunk.name)?
        .ok_or_else(|| damaged("is missing".to_owned()))?;
    if bytes.len() as u64 != chunk.bytes {
        return Err(damaged(format!(
            "holds {} bytes, and the manifest says {}",
            bytes.len(),
            chunk.bytes
        )));
    }
    if blake3::hash(&bytes).to_hex().as_str() != chunk.blake3 {
        return Err(damaged(
            "does not have the BLAKE3 hash the manifest gives".to_owned(),
        ));
    }
    chunk::decode(&bytes, chunk.first, chunk.last).map_err(damaged)
}

/// An archive opened for reading: its storage, the manifest the marker names (read and checked
/// on first use), and the chunks read last.
struct Archive {
    storage: Arc<dyn Storage>,
    /// The manifest the marker names, once read and checked, with the hash the marker gives
    /// it.
    manifest: Mutex<Option<(String, Arc<Manifest>)>>,
    /// The chunks read last, newest last, as (first commit, documents).
    chunks: Mutex<Vec<(u64, Documents)>>,
}

/// A chunk's documents, decoded.
type Documents = Arc<Vec<Vec<u8>>>;

/// How many decoded chunks an archive keeps (a replay reads one after the other; two let a
/// read that straddles chunks go on without reading one again).
const CACHED_CHUNKS: usize = 2;

/// What the live backend gave for a commit asked for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Given {
    /// The commit's document.
    Commit,
    /// No commit.
    Nothing,
    /// An empty document: an archived commit's row, emptied (PostgreSQL).
    Emptied,
    /// A file not found (a segment archiving removed, in a journal).
    NotFound,
    /// Another error (a server unreachable, ...): the marker is not read again for it.
    Failed,
}

/// What a read that failed with `error` gave.
fn failed(error: &Error) -> Given {
    match error {
        Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            Given::NotFound
        }
        _ => Given::Failed,
    }
}

/// What a read of one commit gave.
fn given(read: &Result<Option<Vec<u8>>>) -> Given {
    match read {
        Ok(Some(document)) if document.is_empty() => Given::Emptied,
        Ok(Some(_)) => Given::Commit,
        Ok(None) => Given::Nothing,
        Err(error) => failed(error),
    }
}

/// The layer between a store and its backend for archived logs (see the module's docs).
pub(crate) struct ArchivedStorage {
    live: Arc<dyn Storage>,
    archive: Option<Archive>,
    /// The log's first commit, 0 until the marker was read.
    start: AtomicU64,
    /// The marker as last installed.
    marker: Mutex<Option<Marker>>,
    /// Held while the marker is read and installed, so that a slower read never installs an
    /// older marker over a newer one.
    reloading: Mutex<()>,
    /// When a read that found no commit last read the marker again (see
    /// [`archived_meanwhile_after`](Self::archived_meanwhile_after)).
    looked: Mutex<Option<Instant>>,
    /// The highest commit the live backend has given: a commit found missing at or below it
    /// is not the end of the log.
    given: AtomicU64,
    /// The live backend's count of removals it noticed, when the marker was last read for it.
    removals: AtomicU64,
}

/// How often, at most, reads that find no commit (at the end of the log, most often) read the
/// marker again to learn of archiving by another process. Reads that fail, or that find an
/// archived commit's emptied row, read it again every time.
const NOTHING_FOUND_RECHECK: Duration = Duration::from_secs(1);

impl fmt::Debug for ArchivedStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.live.fmt(f)
    }
}

impl ArchivedStorage {
    /// `live`, reading the commits before its log's start from `archive` when given.
    pub(crate) fn new(live: Arc<dyn Storage>, archive: Option<Arc<dyn Storage>>) -> Self {
        ArchivedStorage {
            live,
            archive: archive.map(|storage| Archive {
                storage,
                manifest: Mutex::new(None),
                chunks: Mutex::new(Vec::new()),
            }),
            start: AtomicU64::new(0),
            marker: Mutex::new(None),
            reloading: Mutex::new(()),
            looked: Mutex::new(None),
            given: AtomicU64::new(0),
            removals: AtomicU64::new(0),
        }
    }

    /// The backend underneath.
    pub(crate) fn live(&self) -> &Arc<dyn Storage> {
        &self.live
    }

    /// The first commit of the live log (1 unless archived), read from the marker once.
    pub(crate) fn start(&self) -> Result<u64> {
        match self.start.load(Ordering::Acquire) {
            0 => self.reload(),
            start => Ok(start),
        }
    }

    /// Reads the marker again (after this process archived, or to learn of another process's
    /// archiving), one thread at a time. A start that goes back (a store folder restored from
    /// before an archiving) is taken, and logged.
    pub(crate) fn reload(&self) -> Result<u64> {
        let _one_at_a_time = self.reloading.lock().unwrap_or_else(|e| e.into_inner());
        let marker = marker_of(&*self.live)?;
        let start = marker.as_ref().map_or(1, |marker| marker.start);
        let changed = {
            let mut known = self.marker.lock().unwrap_or_else(|e| e.into_inner());
            let before = self.start.load(Ordering::Acquire);
            if before > start {
                tracing::warn!(before, start, marker = %marker_location(&*self.live), "the archived log's start went back: the store was replaced or restored");
            }
            let changed = *known != marker;
            *known = marker;
            self.start.store(start, Ordering::Release);
            changed
        };
        if let (Some(archive), true) = (&self.archive, changed) {
            // Another run archived more: the chunks are read afresh (the manifest kept is
            // checked against the marker each time it is used).
            archive
                .chunks
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clear();
        }
        Ok(start)
    }

    /// The marker, as last read.
    pub(crate) fn marker(&self) -> Result<Option<Marker>> {
        self.start()?;
        Ok(self
            .marker
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone())
    }

    /// Whether the store was given its archive.
    pub(crate) fn has_archive(&self) -> bool {
        self.archive.is_some()
    }

    /// The error for needing archived commit `number` without the archive.
    pub(crate) fn archived_error(&self, number: u64) -> Error {
        self.archived(number, self.start.load(Ordering::Acquire).max(1))
    }

    /// The error for reading archived commit `number` without the archive.
    fn archived(&self, number: u64, start: u64) -> Error {
        let archive = self
            .marker
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map_or_else(String::new, |marker| marker.archive.clone());
        Error::Archived {
            commit: number,
            start,
            archive,
        }
    }

    /// The archive's manifest that the marker names, read and checked against the marker on
    /// first use (kept with the hash the marker gives it, so that a manifest read for an
    /// older marker is never used for a newer one).
    pub(crate) fn manifest(&self) -> Result<Option<Arc<Manifest>>> {
        let Some(archive) = &self.archive else {
            return Ok(None);
        };
        let Some(marker) = self.marker()? else {
            return Ok(None);
        };
        if let Some((hash, manifest)) = &*archive.manifest.lock().unwrap_or_else(|e| e.into_inner())
        {
            if *hash == marker.manifest_blake3 {
                return Ok(Some(Arc::clone(manifest)));
            }
        }
        let manifest = Arc::new(read_manifest(&*archive.storage, &marker)?);
        *archive.manifest.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((marker.manifest_blake3.clone(), Arc::clone(&manifest)));
        Ok(Some(manifest))
    }

    /// After the live backend did not give commit `number` (at or after the log's start as
    /// last read): the new start when the log now starts after `number` (another process
    /// archived past it since the marker was read), else `None` (the live backend's answer
    /// stands). The marker is read again for a file not found (a removed segment) or an
    /// emptied row every time; for a commit found missing, at once when another thread has
    /// not already, or when the backend gave a later commit before (so that it is not the
    /// end of the log); at the end of the log, which every poll reaches, at most once per
    /// [`NOTHING_FOUND_RECHECK`]. Other failures (a server unreachable) are left as they are,
    /// and so is the backend's answer when the marker cannot be read (logged).
    fn archived_meanwhile_after(&self, number: u64, given: Given) -> Option<u64> {
        match given {
            Given::Commit | Given::Failed => return None,
            _ if number == 0 || !self.live.can_be_archived() => return None,
            Given::Nothing | Given::Emptied | Given::NotFound => {}
        }
        let known = self.start.load(Ordering::Acquire);
        if number < known {
            // Another thread read the marker meanwhile.
            return Some(known);
        }
        let removals = self.live.removals_noticed();
        let noticed = self.removals.swap(removals, Ordering::AcqRel) != removals;
        if given == Given::Nothing && !noticed && number > self.given.load(Ordering::Relaxed) {
            let mut looked = self.looked.lock().unwrap_or_else(|e| e.into_inner());
            if looked.is_some_and(|at| at.elapsed() < NOTHING_FOUND_RECHECK) {
                return None;
            }
            *looked = Some(Instant::now());
        }
        match self.reload() {
            Ok(start) => (number < start).then_some(start),
            Err(e) => {
                tracing::warn!(commit = number, error = %e, "cannot read the archive marker again");
                None
            }
        }
    }

    /// Notes that the live backend gave commits up to `last`.
    fn note_given(&self, last: u64) {
        if last > self.given.load(Ordering::Relaxed) {
            self.given.fetch_max(last, Ordering::Relaxed);
        }
    }

    /// The archived commits from `number` on (at most `max`, and none from `start` on).
    fn read_archived(&self, number: u64, max: usize, start: u64) -> Result<Vec<Vec<u8>>> {
        let (Some(archive), Some(manifest)) = (&self.archive, self.manifest()?) else {
            return Err(self.archived(number, start));
        };
        let mut commits = Vec::new();
        let mut next = number;
        while commits.len() < max && next < start {
            // The manifest was checked to cover 1..start.
            let Some(chunk) = manifest.chunk_of(next) else {
                return Err(self.archived(next, start));
            };
            let documents = self.chunk(archive, chunk)?;
            let from = usize::try_from(next - chunk.first).unwrap_or(usize::MAX);
            let taken = documents
                .get(from..)
                .unwrap_or_default()
                .iter()
                .take(max - commits.len());
            let before = commits.len();
            commits.extend(taken.cloned());
            if commits.len() == before {
                break;
            }
            next += (commits.len() - before) as u64;
        }
        Ok(commits)
    }

    /// The documents of `chunk`, from the cache or read and checked.
    fn chunk(&self, archive: &Archive, chunk: &Chunk) -> Result<Documents> {
        {
            let cached = archive.chunks.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((_, documents)) = cached.iter().find(|(first, _)| *first == chunk.first) {
                return Ok(Arc::clone(documents));
            }
        }
        let documents = Arc::new(read_chunk(&*archive.storage, chunk)?);
        let mut cached = archive.chunks.lock().unwrap_or_else(|e| e.into_inner());
        if cached.len() >= CACHED_CHUNKS {
            cached.remove(0);
        }
        cached.push((chunk.first, Arc::clone(&documents)));
        Ok(documents)
    }
}

impl Storage for ArchivedStorage {
    fn ensure_created(&self) -> Result<()> {
        self.live.ensure_created()
    }

    fn exists(&self) -> Result<bool> {
        self.live.exists()
    }

    /// The live backend's listing, without the commits before the log's start (those a crash
    /// left while they were removed).
    fn list(&self) -> Result<Listing> {
        let mut listing = self.live.list()?;
        let start = self.start()?;
        if start > 1 {
            listing.commits.retain(|n| *n >= start);
            // (The manifest, checked first, holds every archived commit listed here.)
            if self.manifest()?.is_some() {
                // Read through the archive: a copy or a verification covers them too.
                let mut all: Vec<u64> = (1..start).collect();
                all.append(&mut listing.commits);
                listing.commits = all;
            }
        }
        Ok(listing)
    }

    fn snapshots(&self) -> Result<SnapshotsFound> {
        let (snapshots, last) = self.live.snapshots()?;
        let start = self.start()?;
        Ok((snapshots, last.map(|last| last.max(start - 1))))
    }

    fn read_commit(&self, number: u64) -> Result<Option<Vec<u8>>> {
        let mut start = self.start()?;
        if number >= start || number == 0 {
            let read = self.live.read_commit(number);
            let given = given(&read);
            if given == Given::Commit {
                self.note_given(number);
            }
            match self.archived_meanwhile_after(number, given) {
                Some(fresh) => start = fresh,
                None => return read,
            }
        }
        Ok(self.read_archived(number, 1, start)?.pop())
    }

    fn read_commit_raw(&self, number: u64) -> Result<Option<Vec<u8>>> {
        let start = self.start()?;
        if number >= start || number == 0 {
            let read = self.live.read_commit_raw(number);
            if self
                .archived_meanwhile_after(number, given(&read))
                .is_none()
            {
                return read;
            }
        }
        self.read_commit(number)
    }

    fn read_commits(&self, first: u64, max: usize) -> Result<Vec<Vec<u8>>> {
        let mut start = self.start()?;
        let first = first.max(1);
        if first >= start {
            let mut read = self.live.read_commits(first, max);
            if let Ok(commits) = &mut read {
                // An emptied row ends the run (read on its own, it is told apart).
                if let Some(emptied) = commits.iter().skip(1).position(Vec::is_empty) {
                    commits.truncate(emptied + 1);
                }
            }
            let given = match &read {
                _ if max == 0 => Given::Commit,
                Ok(commits) => match commits.first() {
                    Some(document) if document.is_empty() => Given::Emptied,
                    Some(_) => {
                        self.note_given(first + commits.len() as u64 - 1);
                        Given::Commit
                    }
                    None => Given::Nothing,
                },
                Err(error) => failed(error),
            };
            match self.archived_meanwhile_after(first, given) {
                Some(fresh) => start = fresh,
                None => return read,
            }
        }
        let mut commits = self.read_archived(first, max, start)?;
        let next = first + commits.len() as u64;
        if next == start && commits.len() < max {
            commits.extend(self.live.read_commits(start, max - commits.len())?);
        }
        Ok(commits)
    }

    fn last_commit(&self) -> Result<u64> {
        let last = self.live.last_commit()?;
        self.note_given(last);
        Ok(last.max(self.start()? - 1))
    }

    fn needs_commit_ids(&self) -> bool {
        self.live.needs_commit_ids()
    }

    fn sync_all(&self) -> Result<()> {
        self.live.sync_all()
    }

    fn commit_exists(&self, number: u64) -> Result<bool> {
        let start = self.start()?;
        if number >= start || number == 0 {
            let exists = self.live.commit_exists(number);
            // Not found: perhaps archived by another process meanwhile (a number taken).
            if matches!(exists, Ok(false))
                && self
                    .archived_meanwhile_after(number, Given::Nothing)
                    .is_some()
            {
                return Ok(true);
            }
            return exists;
        }
        Ok(true)
    }

    fn commit_modified(&self, number: u64) -> Result<Option<std::time::SystemTime>> {
        if number >= self.start()? {
            return self.live.commit_modified(number);
        }
        Ok(None)
    }

    /// Numbers before the log's start are taken (by the archived commits).
    fn create_commit(&self, number: u64, document: &[u8]) -> Created {
        if number != 0 && number < self.start()? {
            return Ok(Err(Conflict { commit: number }));
        }
        self.live.create_commit(number, document)
    }

    fn append_commit(&self, first: u64, document: &[u8]) -> Result<u64> {
        self.live.append_commit(first.max(self.start()?), document)
    }

    fn append_commit_if(
        &self,
        first: u64,
        document: &[u8],
        identified: bool,
        check: Arc<CommitCheck>,
    ) -> Result<std::result::Result<u64, Conflict>> {
        let mut number = first.max(1);
        let mut tries = 0;
        loop {
            let start = self.start()?;
            while number < start {
                // The archived commits after the caller's position are checked first.
                for bytes in self.read_archived(number, usize::MAX, start)? {
                    if crate::storage::check_commit(self, &*check, number, &bytes)? {
                        return Ok(Err(Conflict { commit: number }));
                    }
                    number += 1;
                }
            }
            match self
                .live
                .append_commit_if(number, document, identified, Arc::clone(&check))
            {
                // Another process archived past `number` meanwhile (see `append_by_creating`):
                // the commits archived since are checked, through the archive, and the append
                // goes on after them.
                // (On PostgreSQL, an archived commit's emptied row reads as a commit that
                // cannot be judged.)
                Err(Error::Archived { commit, .. } | Error::CorruptCommit { commit, .. })
                    if tries < 2 && commit >= number && self.reload()? > commit =>
                {
                    tries += 1;
                    number = commit;
                }
                appended => return appended,
            }
        }
    }

    fn create_identified_commit(&self, number: u64, document: &[u8]) -> Created {
        if number != 0 && number < self.start()? {
            return Ok(Err(Conflict { commit: number }));
        }
        self.live.create_identified_commit(number, document)
    }

    fn create_commits(
        &self,
        commits: &[NewCommit<'_>],
    ) -> Result<Vec<std::result::Result<(), Conflict>>> {
        let start = self.start()?;
        let archived = |commit: &NewCommit<'_>| commit.number != 0 && commit.number < start;
        if !commits.iter().any(archived) {
            return self.live.create_commits(commits);
        }
        let live: Vec<NewCommit<'_>> = commits.iter().filter(|c| !archived(c)).copied().collect();
        let mut created = self.live.create_commits(&live)?.into_iter();
        commits
            .iter()
            .map(|commit| {
                if archived(commit) {
                    Ok(Err(Conflict {
                        commit: commit.number,
                    }))
                } else {
                    created.next().ok_or_else(|| Error::Backend {
                        backend: "storage",
                        message: "the backend answered fewer creates than it was asked".to_owned(),
                        source: None,
                    })
                }
            })
            .collect()
    }

    fn append_identified_commit(&self, first: u64, document: &[u8]) -> Result<u64> {
        self.live
            .append_identified_commit(first.max(self.start()?), document)
    }

    fn read_snapshot(&self, name: &str, commit: u64) -> Result<Option<Vec<u8>>> {
        self.live.read_snapshot(name, commit)
    }

    fn create_snapshot(&self, name: &str, commit: u64, document: &[u8]) -> Created {
        self.live.create_snapshot(name, commit, document)
    }

    fn create_identified_snapshot(&self, name: &str, commit: u64, document: &[u8]) -> Created {
        self.live.create_identified_snapshot(name, commit, document)
    }

    fn read_derived(&self, name: &str) -> Result<Option<Vec<u8>>> {
        self.live.read_derived(name)
    }

    fn write_derived(&self, name: &str, bytes: &[u8]) -> Result<()> {
        self.live.write_derived(name, bytes)
    }

    fn read_meta(&self, name: &str) -> Result<Option<Vec<u8>>> {
        self.live.read_meta(name)
    }

    fn write_meta(&self, name: &str, bytes: &[u8]) -> Result<()> {
        self.live.write_meta(name, bytes)
    }

    fn can_be_archived(&self) -> bool {
        self.live.can_be_archived()
    }

    fn removals_noticed(&self) -> u64 {
        self.live.removals_noticed()
    }

    fn remove_commits_below(&self, start: u64) -> Result<u64> {
        self.live.remove_commits_below(start)
    }

    fn quarantine_commit(&self, number: u64) -> Result<String> {
        if number < self.start()? {
            return Err(self.archived(number, self.start()?));
        }
        self.live.quarantine_commit(number)
    }

    fn crash_leftover(&self) -> Result<Option<Leftover>> {
        self.live.crash_leftover()
    }

    fn watch(&self) -> Result<Option<Box<dyn Watch>>> {
        self.live.watch()
    }

    fn commit_location(&self, number: u64) -> String {
        match (self.start.load(Ordering::Acquire), &self.archive) {
            (start, Some(archive)) if number < start => {
                let chunk = archive
                    .manifest
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .as_ref()
                    .and_then(|(_, manifest)| manifest.chunk_of(number).map(|c| c.name.clone()))
                    .map_or_else(String::new, |name| format!(" (chunk {name})"));
                format!(
                    "archived commit {number}{chunk} beside {}",
                    archive.storage.commit_location(1)
                )
            }
            _ => self.live.commit_location(number),
        }
    }

    fn snapshot_location(&self, name: &str, commit: u64) -> String {
        self.live.snapshot_location(name, commit)
    }

    fn meta_location(&self, name: &str) -> String {
        self.live.meta_location(name)
    }
}
