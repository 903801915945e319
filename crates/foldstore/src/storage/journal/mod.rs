//! The folder backend in foldstore's own, faster "journal" layout.
//!
//! # Layout
//! - `STORE/foldstore-journal.json`: the format marker, `{"format":"foldstore-journal",
//!   "version":2}`, published whole when the store is made (temporary file, sync, no-clobber
//!   rename); a blank marker beside segments that hold nothing means "not created yet". A
//!   folder with the marker is a journal; a folder with the marker *and* `<n>.log` commit
//!   files is refused as mixed.
//! - `STORE/journal/<first>.jsonl`: segments, named by the number of their first commit
//!   (20 digits, so that names sort by number, and never `<n>.log`). Each commit is one record:
//!
//!   ```text
//!   {"n":7,"len":92,"crc32":"1c291ca3","commit":{"headers":{...},"events":[...]}}
//!   ```
//!
//!   `len` is the length in bytes of the commit document that follows `"commit":`, kept byte
//!   for byte, and `crc32` its CRC-32 (IEEE). A record ends with `}` and a newline. Records are
//!   framed by their length, not by newlines, so any document is kept exactly; documents that
//!   are compact JSON (all that foldstore and the original package write) make every line a
//!   JSON value for `jq`. A segment may end with free space (spaces): a space where a record
//!   would start ends the segment's records. Synced writers extend the last segment with it
//!   (1 MiB at a time), so that the syncs of later records carry no size change.
//! - `STORE/journal/journal.lock`: the lock writers take, with `flock`, to append.
//! - `STORE/journal/sync.lock`: the lock the syncs of processes writing at once take in turn,
//!   holding a mark of what the last one covered (see `sync_mark`).
//! - `STORE/journal/closed-segments.json`: a hint kept by writers, where the last record of each
//!   closed segment on the chain lies; checked against the segments before any of it is used.
//! - Snapshots: `STORE/k.m-snapshot`, exactly as in the loose layout.
//!
//! # Writing
//! Writers of one process queue their commits; one of them (the leader) takes the lock, catches
//! up with what other processes appended, writes every queued record with one write, releases
//! the lock and makes them durable with one `fdatasync` (group commit), then tells each writer
//! its outcome. Syncing outside the lock lets the writers of other processes write while it
//! runs, so that their syncs overlap: a sync makes durable every record written into the file
//! before it, whoever wrote it, so no commit is acknowledged before those ahead of it in its
//! segment are durable. A new segment is started when the current one has reached the segment
//! size; the segment it follows is synced first (its last records may be another process's,
//! whose sync is still running). Bytes after the last
//! whole record that a writer finds while holding the lock were left by a writer that died in
//! the middle of a write: they are copied into `STORE/foldstore-quarantine/`, synced, and cut
//! off before anything is appended. Free space ends the records only when nothing else follows
//! it (a machine crash can leave the later part of an unsynced write without the earlier
//! part): other bytes after it are damage inside or a torn tail, judged as any other.
//!
//! Every file is opened through the file-system seam of local stores (`storage/local`): never
//! through a symbolic link, never anything but a regular file. A write that fails is undone and
//! "not written"; a failure after its records reached the segment is [`Error::OutcomeUnknown`].
//!
//! # Reading
//! The log is the chain of segments from commit 1, each named by the commit after the last of
//! the one before; segments off the chain are ignored (and listed as suspicious). Damage
//! inside a segment costs exactly the commits it covers: readers go on at the next whole
//! record, and reading a damaged commit fails naming the segment and byte.
//!
//! Readers take no lock. A record is only seen when it is whole and its checksum matches, so a
//! write in progress is invisible until it is complete. Positions of every 32nd commit are kept
//! in memory, so a read by number scans at most 31 records; batch reads go through a segment
//! sequentially.
//!
//! # The modules
//! This file holds the backend and the [`Storage`] impl; each concern has a module of its own:
//! `record` (a record's encoding and parsing), `segment` (a segment as this process knows it,
//! and its damage), `scan` (walking records, and the searches after damage and from a
//! segment's end), `hint` (the hint of the closed segments, which spares a new process the
//! walk along the chain), `chain` (reading the log: finding commits and its end), `marker` (the
//! format marker and the layout's checks), `queue` (taking turns to write: group commit and
//! the lock), `plan` (checking a batch's conditional appends and numbering its commits),
//! `writer` (writing a batch) and `recovery` (torn tails and what a crash leaves).

mod chain;
mod group_sync;
mod hint;
mod marker;
mod plan;
mod queue;
pub(crate) mod record;
mod recovery;
mod scan;
mod segment;
mod sync_mark;
mod writer;

#[cfg(test)]
mod conditional_tests;
#[cfg(test)]
mod crash_tests;
#[cfg(test)]
mod fault_tests;
#[cfg(test)]
mod hint_tests;
#[cfg(test)]
mod probe_tests;
#[cfg(test)]
mod race_tests;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::SystemTime;

use self::group_sync::GroupSync;
use self::queue::{Kind, Queue};
use self::scan::Tail;
use self::segment::{segment_name, Segment};
use crate::error::{Error, Result};
use crate::storage::local::fs::{FileSystem, Handle, OsFs};
use crate::storage::local::store_folder::StoreFolder;
use crate::storage::local::{absolute, Durability};
use crate::storage::{
    check_commit_number, check_document_size, CommitCheck, Conflict, Created, Leftover, Listing,
    SnapshotsFound, Storage,
};

pub use crate::storage::names::JOURNAL_MARKER;

/// The folder of the segments, in the store's folder.
pub const SEGMENT_FOLDER: &str = "journal";

/// The version of the journal format this code reads and writes. Version 2 added free space
/// at the end of segments; journals of version 1 are read and written as they are (without
/// free space, which their writers would take for a torn end).
pub const JOURNAL_VERSION: u64 = 2;

/// The first version whose segments may end with free space.
const FREE_SPACE_VERSION: u64 = 2;

/// The size at which a segment is closed and the next one started (64 MiB).
pub const DEFAULT_SEGMENT_BYTES: u64 = 64 << 20;

/// The lock file, in the segment folder.
const LOCK_FILE: &str = "journal.lock";

/// Synced writes extend the last segment by this much at a time (at most the segment size),
/// written as free space and synced with the records: later records then overwrite space the
/// file already has, and their sync carries only data, not a new file size.
const PREALLOCATE: u64 = 1 << 20;

/// A store kept in a folder in the journal layout: commits as checksummed records appended to
/// segment files, written by group commit. The repository's `docs/design.md` ("The journal
/// layout") describes the format and its reading rules precisely.
///
/// It keeps every guarantee of the [`Storage`] contract, with one difference: the journal is
/// contiguous by construction, so creating a commit beyond the end of the log plus one is
/// refused (the store never does it; only a backend-level caller could).
#[derive(Clone, Debug)]
pub struct JournalStorage {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    /// The file system, the operating system's but in tests.
    fs: Arc<dyn FileSystem>,
    path: PathBuf,
    segments: PathBuf,
    durability: Durability,
    segment_bytes: u64,
    /// The store's folder: snapshots and the quarantine are kept as in the loose layout.
    folder: StoreFolder,
    view: Mutex<View>,
    /// The lock file, opened once.
    lock_file: Mutex<Option<Arc<dyn Handle>>>,
    queue: Mutex<Queue>,
    turn: Condvar,
    /// This process's syncs of written batches, one at a time.
    syncs: GroupSync,
    /// The lock file of the syncs of every process (`sync_mark`), opened once.
    sync_lock: Mutex<Option<Arc<dyn Handle>>>,
    /// Taken around every sync of a segment and every use of `sync_lock`'s `flock` (which
    /// the threads of a process share), holding the failure of a sync of this process, if
    /// one failed (`sync_mark::SyncTurn`).
    sync_turn: Mutex<Option<String>>,
    /// Whether a sync of this process failed: it writes nothing more.
    sync_failed: AtomicBool,
    /// Whether this process warned that the synced mark cannot be used.
    mark_warned: AtomicBool,
    /// The last commit this process's writers wrote (0: none yet).
    last_written: AtomicU64,
    /// When this process last found that another process wrote, as `sync_mark::now` (0:
    /// never): its syncs go through the synced mark for a while after.
    others_seen: AtomicU64,
    /// Whether this backend's writers looked for temporary files left by interrupted writes
    /// (of the marker, or of snapshots) yet: once, on the first write.
    swept: AtomicBool,
    /// How many times a view found segments removed by archiving in another process.
    removals_noticed: AtomicU64,
}

/// What readers know of the segments.
#[derive(Debug, Default)]
struct View {
    /// Whether the segment folder was listed (and the layout checked) yet.
    loaded: bool,
    /// The journal's format version, from its marker.
    version: u64,
    segments: BTreeMap<u64, Segment>,
    /// The last segment known to be on the chain from commit 1 (each segment named by the
    /// commit after the last of the one before): where the search for the log's end goes on.
    chain_end: Option<u64>,
    /// The closed segments on the chain from its first segment (`anchor`) whose last records
    /// are known, in order: what the hint of the closed segments holds (see `hint`).
    links: Vec<hint::Link>,
    /// The first commit of the chain's first segment: 1, or, in an archived journal, that of
    /// the segment holding the log's start (0 until known: taken as 1).
    anchor: u64,
    /// How many of them the hint held when this process last read or wrote it.
    hinted: usize,
    /// Names in the segment folder that look like segments but are not (`*.jsonl` without a
    /// first commit number from 1 to u64::MAX in 20 digits).
    odd_names: BTreeSet<String>,
}

/// Whether the folder at `path` holds a journal (its marker exists, whatever it is: a marker
/// that is not a regular file is then refused with its own error).
pub(crate) fn is_journal(path: &Path) -> bool {
    std::fs::symlink_metadata(path.join(JOURNAL_MARKER)).is_ok()
}

impl JournalStorage {
    /// A journal store at `path` (which need not exist yet), with [`Durability::Immediate`].
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self::with_durability(path, Durability::default())
    }

    /// A journal store at `path` with the given durability.
    pub fn with_durability(path: impl Into<PathBuf>, durability: Durability) -> Self {
        Self::with_segment_bytes(path, durability, DEFAULT_SEGMENT_BYTES)
    }

    /// A journal store whose segments are closed once they hold `segment_bytes` (at least one
    /// commit per segment whatever the size).
    pub fn with_segment_bytes(
        path: impl Into<PathBuf>,
        durability: Durability,
        segment_bytes: u64,
    ) -> Self {
        Self::with_file_system(
            absolute(path.into()),
            durability,
            segment_bytes,
            Arc::new(OsFs),
        )
    }

    /// A journal store on the given file system (tests simulate power loss and inject faults
    /// through it).
    pub(crate) fn with_file_system(
        path: impl Into<PathBuf>,
        durability: Durability,
        segment_bytes: u64,
        fs: Arc<dyn FileSystem>,
    ) -> Self {
        let path = path.into();
        JournalStorage {
            shared: Arc::new(Shared {
                segments: path.join(SEGMENT_FOLDER),
                folder: StoreFolder::new(path.clone(), durability, Arc::clone(&fs))
                    .inside_journal(),
                fs,
                path,
                durability,
                segment_bytes: segment_bytes.max(1),
                view: Mutex::default(),
                lock_file: Mutex::default(),
                queue: Mutex::default(),
                turn: Condvar::new(),
                syncs: GroupSync::default(),
                sync_lock: Mutex::default(),
                sync_turn: Mutex::default(),
                sync_failed: AtomicBool::new(false),
                mark_warned: AtomicBool::new(false),
                last_written: AtomicU64::new(0),
                others_seen: AtomicU64::new(0),
                swept: AtomicBool::new(false),
                removals_noticed: AtomicU64::new(0),
            }),
        }
    }

    /// The store's folder.
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// The durability this backend writes with.
    pub fn durability(&self) -> Durability {
        self.shared.durability
    }

    fn view(&self) -> MutexGuard<'_, View> {
        self.shared.view.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn layout_error(&self, problem: impl Into<String>) -> Error {
        Error::Layout {
            path: self.shared.path.clone(),
            problem: problem.into(),
        }
    }
}

impl Storage for JournalStorage {
    fn ensure_created(&self) -> Result<()> {
        self.shared.folder.ensure_created()?;
        self.check_segment_folder()?;
        let segments = &self.shared.segments;
        self.shared
            .fs
            .create_dir_all(segments)
            .map_err(|e| Error::io("create the folder", segments, e))?;
        self.create_marker()?;
        let mut view = self.view();
        view.loaded = false;
        self.load(&mut view)
    }

    fn exists(&self) -> Result<bool> {
        self.shared.folder.exists()
    }

    fn list(&self) -> Result<Listing> {
        let mut listing = self.shared.folder.list()?;
        let mut view = self.view();
        let (next, tail) = self.find_end(&mut view)?;
        // From the chain's first segment: an archived journal's removed segments are not
        // listed (nor allocated for).
        let first = view.segments.keys().next().copied().unwrap_or(1).min(next);
        listing.commits = (first..next).collect();
        if let (Tail::Unfinished { offset, problem }, Some(first)) = (&tail, view.chain_end) {
            let segment = view.segments.get_mut(&first).expect("on the chain");
            let size = segment
                .file(&*self.shared.fs)
                .and_then(|file| file.len())
                .map_err(|e| Error::io("look at", &segment.path, e))?;
            let bytes = size - offset;
            let what = if bytes > self.torn_tail_limit() {
                format!(
                    "far more than an interrupted write leaves (at most {} bytes): writers refuse to append until it is moved out of the store",
                    self.torn_tail_limit()
                )
            } else {
                "what an interrupted write leaves: the next write moves them into the quarantine"
                    .to_owned()
            };
            listing.suspicious.push((
                segment.path.display().to_string(),
                format!(
                    "holds {bytes} bytes after its last whole record (commit {}), from byte {offset} ({problem}): {what}",
                    next - 1
                ),
            ));
        }
        // No commit, though a snapshot says there were some: segments removed or emptied (or,
        // written without syncs, lost in a power loss the snapshot outlived).
        if next == 1 {
            if let Some((name, commit)) = listing.snapshots.iter().max_by_key(|(_, c)| *c) {
                listing.suspicious.push((
                    self.shared.segments.join(segment_name(1)).display().to_string(),
                    format!(
                        "is missing or empty: the journal ({}) holds no commit, but the snapshot {} is labelled with commit {commit}: were its segments removed or emptied? Restore them from a backup before writing",
                        self.shared.segments.display(),
                        self.shared.folder.snapshot_location(name, *commit)
                    ),
                ));
            }
        }
        for odd in &view.odd_names {
            listing.suspicious.push((
                odd.clone(),
                "is named like a journal segment, but not '<first commit, 1 to 18446744073709551615, in 20 digits>.jsonl': foldstore ignores it".to_owned(),
            ));
        }
        // Segments off the chain from commit 1 are not the log's.
        let chain_end = view.chain_end.unwrap_or(0);
        for (first, segment) in view.segments.range(next.max(chain_end + 1)..) {
            listing.suspicious.push((
                segment.path.display().to_string(),
                format!(
                    "is a journal segment for commit {first} and on, but the log ends at commit {}: it is not reachable from commit 1, and foldstore ignores it (move it out of the store)",
                    next - 1
                ),
            ));
        }
        Ok(listing)
    }

    fn read_commit(&self, number: u64) -> Result<Option<Vec<u8>>> {
        if number == 0 {
            return Ok(None);
        }
        Ok(self.read_from(number, 1)?.pop())
    }

    fn read_commit_raw(&self, number: u64) -> Result<Option<Vec<u8>>> {
        if number == 0 {
            return Ok(None);
        }
        self.read_damaged(number)
    }

    fn snapshots(&self) -> Result<SnapshotsFound> {
        Ok((self.shared.folder.list()?.snapshots, None))
    }

    fn sync_all(&self) -> Result<()> {
        self.shared.folder.sync_all()
    }

    fn read_commits(&self, first: u64, max: usize) -> Result<Vec<Vec<u8>>> {
        self.read_from(first.max(1), max)
    }

    fn last_commit(&self) -> Result<u64> {
        let mut view = self.view();
        Ok(self.find_end(&mut view)?.0 - 1)
    }

    fn commit_exists(&self, number: u64) -> Result<bool> {
        if number == 0 {
            return Ok(false);
        }
        let mut view = self.view();
        if self.not_written_yet(&mut view, number)? {
            return Ok(false);
        }
        match self.locate(&mut view, number) {
            Ok(found) => Ok(found.is_some()),
            // Damaged, but there (as a damaged file of the loose layout is).
            Err(Error::CorruptCommit { .. }) => Ok(true),
            Err(e) => Err(e),
        }
    }

    fn commit_modified(&self, number: u64) -> Result<Option<SystemTime>> {
        let mut view = self.view();
        let first = match self.locate(&mut view, number) {
            Ok(Some((first, _))) => first,
            Ok(None) => return Ok(None),
            // Damaged: the segment it lies in.
            Err(Error::CorruptCommit { .. }) => match view.segments.range(..=number).next_back() {
                Some((first, _)) => *first,
                None => return Ok(None),
            },
            Err(e) => return Err(e),
        };
        let fs = &*self.shared.fs;
        let segment = view.segments.get_mut(&first).expect("located");
        segment
            .file(fs)
            .and_then(|file| file.modified())
            .map(Some)
            .map_err(|e| Error::io("look at", &segment.path, e))
    }

    fn create_commit(&self, number: u64, document: &[u8]) -> Created {
        check_commit_number(number)?;
        check_document_size(document)?;
        Ok(self
            .submit(Kind::Create(number), document, None)?
            .map(|_| ()))
    }

    fn append_commit(&self, first: u64, document: &[u8]) -> Result<u64> {
        check_document_size(document)?;
        match self.submit(Kind::Append(first.max(1)), document, None)? {
            Ok(number) => Ok(number),
            Err(conflict) => unreachable!("an append never conflicts: {conflict}"),
        }
    }

    /// Conditional appends join the batch of the other writers of this process: the leader
    /// checks them under the lock, against the commits other processes made since their
    /// writer's position and against the batch's commits before them, so that appends whose
    /// conditions do not conflict share one write and one sync.
    fn append_commit_if(
        &self,
        first: u64,
        document: &[u8],
        _identified: bool,
        check: Arc<CommitCheck>,
    ) -> Result<Result<u64, Conflict>> {
        check_document_size(document)?;
        self.submit(Kind::AppendIf(first.max(1)), document, Some(check))
    }

    fn read_derived(&self, name: &str) -> Result<Option<Vec<u8>>> {
        self.shared.folder.read_derived(name)
    }

    fn write_derived(&self, name: &str, bytes: &[u8]) -> Result<()> {
        self.shared.folder.write_derived(name, bytes)
    }

    fn can_be_archived(&self) -> bool {
        true
    }

    fn removals_noticed(&self) -> u64 {
        self.shared.removals_noticed.load(Ordering::Acquire)
    }

    fn read_meta(&self, name: &str) -> Result<Option<Vec<u8>>> {
        self.shared.folder.read_meta(name)
    }

    fn write_meta(&self, name: &str, bytes: &[u8]) -> Result<()> {
        self.shared.folder.write_meta(name, bytes)
    }

    /// Removes, lowest first, the segments that hold only commits below `start`: each one
    /// whose last record is followed by the next segment listed, itself starting at most at
    /// `start` (the first pair that does not check out, a stray file say, ends the removal).
    /// Each removal is made durable (the folder synced) before the next, so that a power loss
    /// leaves the lowest segment on the chain. The segment holding commit `start` stays whole,
    /// with its records before `start`.
    fn remove_commits_below(&self, start: u64) -> Result<u64> {
        let mut view = self.view();
        self.load(&mut view)?;
        self.list_segments(&mut view)?;
        let firsts: Vec<u64> = view.segments.keys().copied().collect();
        let fs = &*self.shared.fs;
        let mut removed = 0;
        for pair in firsts.windows(2) {
            let (first, next) = (pair[0], pair[1]);
            if next > start {
                break;
            }
            let segment = view.segments.get_mut(&first).expect("listed");
            // Where its records end: from its last 64 KiB, or read whole when it is short.
            let (from, offset) = segment::find_last_record(fs, segment)?.unwrap_or((first, 0));
            let (after, _, _) =
                segment::scan_segment(fs, segment, from, offset, |_, _, _, _| true)?;
            if after != next {
                tracing::warn!(
                    segment = %segment.path.display(),
                    next,
                    "archived segments are removed up to this one: it is not followed by the next segment listed"
                );
                break;
            }
            let path = self.shared.segments.join(segment_name(first));
            match fs.remove(&path) {
                Ok(()) => removed += next - first,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io("remove the archived segment", &path, e)),
            }
            fs.sync_dir(&self.shared.segments)
                .map_err(|e| Error::io("sync", &self.shared.segments, e))?;
            view.segments.remove(&first);
            if view.chain_end == Some(first) {
                // Followed again from the archived chain's start.
                view.chain_end = None;
            }
        }
        Ok(removed)
    }

    fn read_snapshot(&self, name: &str, commit: u64) -> Result<Option<Vec<u8>>> {
        self.shared.folder.read_snapshot(name, commit)
    }

    fn create_snapshot(&self, name: &str, commit: u64, document: &[u8]) -> Created {
        self.shared.folder.create_snapshot(name, commit, document)
    }

    fn crash_leftover(&self) -> Result<Option<Leftover>> {
        self.crash_leftover_found()
    }

    /// Moves what a machine crash left at the end of the journal aside: commit `number`, a
    /// torn write behind a gap (see [`Storage::crash_leftover`]), and everything after it in
    /// the last segment, into the quarantine. Anything else is refused.
    fn quarantine_commit(&self, number: u64) -> Result<String> {
        self.quarantine_leftover(number)
    }
    #[cfg(feature = "watch")]
    fn watch(&self) -> Result<Option<Box<dyn crate::storage::Watch>>> {
        self.shared.folder.watch_folder(&self.shared.segments)
    }

    fn commit_location(&self, number: u64) -> String {
        let view = self.view();
        let first = view
            .segments
            .range(..=number)
            .next_back()
            .map_or(1, |(first, _)| *first);
        format!(
            "{} (commit {number})",
            self.shared.segments.join(segment_name(first)).display()
        )
    }

    fn snapshot_location(&self, name: &str, commit: u64) -> String {
        self.shared.folder.snapshot_location(name, commit)
    }

    fn meta_location(&self, name: &str) -> String {
        self.shared.folder.meta_location(name)
    }
}
