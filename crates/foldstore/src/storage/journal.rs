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
//! - Snapshots: `STORE/k.m-snapshot`, exactly as in the loose layout.
//!
//! # Writing
//! Writers of one process queue their commits; one of them (the leader) takes the lock, catches
//! up with what other processes appended, writes every queued record with one write and makes
//! them durable with one `fdatasync` (group commit), then tells each writer its outcome. A new
//! segment is started when the current one has reached the segment size. Bytes after the last
//! whole record that a writer finds while holding the lock were left by a writer that died in
//! the middle of a write: they are copied into `STORE/foldstore-quarantine/`, synced, and cut
//! off before anything is appended. Free space ends the records only when nothing else follows
//! it (a machine crash can leave the later part of an unsynced write without the earlier
//! part): other bytes after it are damage inside or a torn tail, judged as any other.
//!
//! Every file is opened through the folder backends' file-system seam: never through a
//! symbolic link, never anything but a regular file. A write that fails is undone and "not
//! written"; a failure after its records reached the segment is [`Error::OutcomeUnknown`].
//!
//! # Reading
//! The log is the chain of segments from commit 1, each named by the commit after the last of
//! the one before; segments off the chain are ignored (and listed as suspicious). Damage
//! inside a segment costs exactly the commits it covers: readers go on at the next whole
//! record, and reading a damaged commit fails naming the segment and byte.
//!
//! Readers take no lock. A record is only seen when it is whole and its checksum matches, so a
//! write in progress is invisible until it is complete. Positions of every 256th commit are kept
//! in memory, so a read by number scans at most 255 records; batch reads go through a segment
//! sequentially.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::SystemTime;

use super::folder::fs::{FileSystem, Handle, Kind as PathKind, Open, OsFs};
use super::{check_commit_number, Conflict, Durability, FolderStorage, Listing, Storage};
use crate::error::{Error, Result};

/// The format marker's file name, in the store's folder.
pub const JOURNAL_MARKER: &str = "foldstore-journal.json";

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

/// One position in memory per this many commits.
const INDEX_EVERY: u64 = 256;

/// How much of a segment is read at a time when scanning.
const CHUNK: usize = 1 << 20;

/// The byte of the free space at the end of a segment: a space, which is JSON whitespace, so
/// that a segment with free space still reads with `jq`. A record never starts with it: at a
/// record's start, it marks the end of the segment's records.
const FREE: u8 = b' ';

/// Synced writes extend the last segment by this much at a time (at most the segment size),
/// written as free space and synced with the records: later records then overwrite space the
/// file already has, and their sync carries only data, not a new file size.
const PREALLOCATE: u64 = 1 << 20;

/// A store kept in a folder in the journal layout. See the [module documentation](self) for
/// the format.
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
    /// Snapshots and the quarantine are kept as in the loose layout.
    loose: FolderStorage,
    view: Mutex<View>,
    /// The lock file, opened once.
    lock_file: Mutex<Option<Arc<dyn Handle>>>,
    queue: Mutex<Queue>,
    turn: Condvar,
    /// Whether this backend's writers looked for temporary files left by interrupted writes
    /// (of the marker, or of snapshots) yet: once, on the first write.
    swept: std::sync::atomic::AtomicBool,
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
    /// Names in the segment folder that look like segments but are not (`*.jsonl` without a
    /// first commit number from 1 to u64::MAX in 20 digits).
    odd_names: std::collections::BTreeSet<String>,
}

/// A stretch of a segment where records are damaged: commits `first..until` cannot be read.
#[derive(Clone, Debug)]
struct Damage {
    first: u64,
    until: u64,
    /// Where commit `first` belongs.
    offset: u64,
    /// Where the records go on (commit `until`), or the segment's size when they go on in the
    /// next segment.
    resume: u64,
    problem: String,
}

impl Damage {
    fn error(&self, number: u64, path: &Path) -> Error {
        let stretch = if self.until - self.first == 1 {
            format!("commit {}", self.first)
        } else {
            format!("commits {} to {}", self.first, self.until - 1)
        };
        Error::CorruptCommit {
            commit: number,
            location: format!("{} at byte {}", path.display(), self.offset),
            problem: format!(
                "is damaged: {} ({stretch} cannot be read; the journal goes on with commit {} at byte {}); only a backup can mend it ('foldstore copy --force' copies everything else, and the damaged bytes as they are)",
                self.problem, self.until, self.resume
            ),
        }
    }
}

/// What follows where a scan of a segment stopped.
enum After {
    /// Damage, now recorded in the segment: scan again.
    Damage,
    /// The log goes on in the segment starting at this commit.
    Segment(u64),
    /// The end of the log, clean or torn.
    End(Tail),
}

#[derive(Debug)]
struct Segment {
    path: PathBuf,
    file: Option<Arc<dyn Handle>>,
    /// Known positions: commit number → offset of its record. Holds the segment's start, every
    /// [`INDEX_EVERY`]th commit seen, and the end of the whole records known (the position of
    /// the next commit).
    positions: BTreeMap<u64, u64>,
    /// The number after the last whole record known, and the offset where it would start.
    end: Option<(u64, u64)>,
    /// Where the last read stopped: the next commit and its offset.
    cursor: Option<(u64, u64)>,
    /// The last whole record known: its commit and offset (what a writer's look back reads).
    last: Option<(u64, u64)>,
    /// The segment opened for writing, by this process's writers.
    writer: Option<Arc<dyn Handle>>,
    /// The segment's size as this process's writer knows it: records, then free space.
    allocated: u64,
    /// An offset from which nothing but free space follows, as this process last checked or
    /// wrote it: a scan that stops there at free space need not check the rest again.
    free_from: Option<u64>,
    /// Whether this process's writers read the segment from its start (see
    /// [`JournalStorage::check_from_start`]): its end is then never taken from its last bytes.
    from_start: bool,
    /// Damage found inside the segment, by its first commit.
    damage: BTreeMap<u64, Damage>,
}

impl Segment {
    fn new(path: PathBuf, first: u64) -> Self {
        Segment {
            path,
            file: None,
            positions: BTreeMap::from([(first, 0)]),
            end: None,
            cursor: None,
            last: None,
            writer: None,
            allocated: 0,
            free_from: None,
            from_start: false,
            damage: BTreeMap::new(),
        }
    }

    /// Forgets everything this process learnt of the segment (positions, end, damage, the
    /// writer's handle and size), so that it is read again from its start; the reading handle
    /// is kept.
    fn forget(&mut self) {
        let mut fresh = Segment::new(self.path.clone(), self.first());
        fresh.file = self.file.take();
        fresh.from_start = true;
        *self = fresh;
    }

    /// The segment's first commit.
    fn first(&self) -> u64 {
        *self
            .positions
            .keys()
            .next()
            .expect("a segment knows its start")
    }

    /// The damage that commit `number` lies in, if any.
    fn damage_at(&self, number: u64) -> Option<&Damage> {
        self.damage
            .range(..=number)
            .next_back()
            .map(|(_, damage)| damage)
            .filter(|damage| number < damage.until)
    }

    /// Records damage: commits `first..until` from `offset`, the records going on at `resume`.
    fn add_damage(&mut self, first: u64, until: u64, offset: u64, resume: u64, problem: String) {
        tracing::debug!(segment = %self.path.display(), first, until, offset, "damage inside a journal segment");
        self.positions.insert(until, resume);
        self.damage.insert(
            first,
            Damage {
                first,
                until,
                offset,
                resume,
                problem,
            },
        );
    }

    fn file(&mut self, fs: &dyn FileSystem) -> io::Result<Arc<dyn Handle>> {
        if let Some(file) = &self.file {
            return Ok(Arc::clone(file));
        }
        let file = fs.open(&self.path, Open::Read)?;
        self.file = Some(Arc::clone(&file));
        Ok(file)
    }

    fn note(&mut self, number: u64, offset: u64) {
        if number % INDEX_EVERY == 0 {
            self.positions.insert(number, offset);
        }
    }

    /// Remembers the positions a scan passed, and the free space it checked.
    fn absorb(&mut self, scanned: &Scanned) {
        if scanned.free_at.is_some() {
            self.free_from = scanned.free_at;
        }
        for &(n, at) in &scanned.grid {
            self.note(n, at);
        }
        if let Some((n, at)) = scanned.last {
            if self.last.is_none_or(|(known, _)| n > known) {
                self.last = Some((n, at));
            }
        }
    }

    fn note_end(&mut self, next: u64, offset: u64) {
        if self.end.is_none_or(|(known, _)| next >= known) {
            self.end = Some((next, offset));
        }
    }

    /// The nearest known position at or before commit `number`: where a scan for it starts.
    fn start_for(&self, number: u64) -> (u64, u64) {
        let grid = self
            .positions
            .range(..=number)
            .next_back()
            .map(|(n, at)| (*n, *at))
            .expect("a segment knows its start");
        [self.end, self.cursor, self.last]
            .into_iter()
            .flatten()
            .filter(|(n, _)| *n <= number)
            .fold(
                grid,
                |best, known| if known.0 > best.0 { known } else { best },
            )
    }

    /// The position furthest along that is known.
    fn furthest(&self) -> (u64, u64) {
        self.start_for(u64::MAX)
    }
}

/// Writers waiting for the leader.
#[derive(Debug, Default)]
struct Queue {
    pending: Vec<Request>,
    leading: bool,
    next_ticket: u64,
    done: HashMap<u64, Result<Result<u64, Conflict>>>,
}

#[derive(Debug)]
struct Request {
    ticket: u64,
    kind: Kind,
    document: Vec<u8>,
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Create(u64),
    Append(u64),
}

/// A record parsed from a segment's bytes.
enum Parsed {
    /// A whole record: its number, where its document lies in the buffer, its total length.
    Whole {
        number: u64,
        document: std::ops::Range<usize>,
        length: usize,
        crc: u32,
    },
    /// The buffer ends inside the record: `needed` bytes in all are needed to judge it.
    Short { needed: usize },
    /// Not a record.
    Invalid(String),
}

fn parse_number(buf: &[u8], at: &mut usize, what: &str) -> Result<Option<u64>, String> {
    let start = *at;
    while *at < buf.len() && buf[*at].is_ascii_digit() {
        *at += 1;
    }
    if *at == buf.len() {
        return Ok(None);
    }
    if *at == start || *at - start > 20 {
        return Err(format!("{what} is not a number"));
    }
    buf[start..*at]
        .iter()
        .try_fold(0u64, |value, digit| {
            value.checked_mul(10)?.checked_add(u64::from(digit - b'0'))
        })
        .map(Some)
        .ok_or_else(|| format!("{what} is not a number"))
}

fn expect(buf: &[u8], at: &mut usize, literal: &[u8]) -> Result<bool, String> {
    let available = buf.len().saturating_sub(*at).min(literal.len());
    if buf[*at..*at + available] != literal[..available] {
        return Err(format!(
            "expected {:?}",
            String::from_utf8_lossy(literal).as_ref()
        ));
    }
    *at += available;
    Ok(available == literal.len())
}

/// Parses the record at the start of `buf`.
fn parse_record(buf: &[u8]) -> Parsed {
    let mut at = 0;
    let mut inner = || -> Result<Option<Parsed>, String> {
        if !expect(buf, &mut at, b"{\"n\":")? {
            return Ok(None);
        }
        let Some(number) = parse_number(buf, &mut at, "the commit number")? else {
            return Ok(None);
        };
        if !expect(buf, &mut at, b",\"len\":")? {
            return Ok(None);
        }
        let Some(len) = parse_number(buf, &mut at, "the length")? else {
            return Ok(None);
        };
        if !expect(buf, &mut at, b",\"crc32\":\"")? {
            return Ok(None);
        }
        if buf.len() < at + 8 {
            return Ok(None);
        }
        let crc = std::str::from_utf8(&buf[at..at + 8])
            .ok()
            .and_then(|hex| u32::from_str_radix(hex, 16).ok())
            .ok_or("the checksum is not 8 hexadecimal digits")?;
        at += 8;
        if !expect(buf, &mut at, b"\",\"commit\":")? {
            return Ok(None);
        }
        if len > super::MAX_DOCUMENT_BYTES {
            return Err(format!(
                "the length ({len} bytes) is larger than any document ({} bytes at most)",
                super::MAX_DOCUMENT_BYTES
            ));
        }
        let len = usize::try_from(len).map_err(|_| "the length is too large".to_owned())?;
        let start = at;
        let end = start.checked_add(len).ok_or("the length is too large")?;
        let length = end + 2;
        if buf.len() < length {
            return Ok(Some(Parsed::Short { needed: length }));
        }
        if &buf[end..length] != b"}\n" {
            return Err("the record does not end where its length says".to_owned());
        }
        Ok(Some(Parsed::Whole {
            number,
            document: start..end,
            length,
            crc,
        }))
    };
    match inner() {
        Ok(Some(parsed)) => parsed,
        // The header itself is cut short: ask for a little more than there is.
        Ok(None) => Parsed::Short {
            needed: buf.len() + 64,
        },
        Err(problem) => Parsed::Invalid(problem),
    }
}

/// Encodes one record.
fn encode_record(out: &mut Vec<u8>, number: u64, document: &[u8]) {
    let crc = crc32fast::hash(document);
    out.extend_from_slice(
        format!(
            "{{\"n\":{number},\"len\":{},\"crc32\":\"{crc:08x}\",\"commit\":",
            document.len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(document);
    out.extend_from_slice(b"}\n");
}

/// What a scan of a segment found after its last whole record.
#[derive(Debug, PartialEq, Eq)]
enum Tail {
    /// The segment ends after a whole record.
    Clean,
    /// Bytes that are not (yet) a whole record: a write in progress, or torn by a crash.
    Unfinished { offset: u64, problem: String },
}

/// Fills `buf` from `offset` as far as the file goes; returns how much was read.
fn read_full_at(file: &dyn Handle, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read_at(&mut buf[filled..], offset + filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// A buffer for [`scan`], kept by each thread between scans (unless it grew very large for a
/// huge record) and given back when dropped.
struct ScanBuffer(Vec<u8>);

thread_local! {
    static SCAN_BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl ScanBuffer {
    fn take() -> Self {
        ScanBuffer(SCAN_BUFFER.with(|kept| std::mem::take(&mut *kept.borrow_mut())))
    }

    fn grow(&mut self, size: usize) {
        if self.0.len() < size {
            self.0.resize(size, 0);
        }
    }
}

impl Drop for ScanBuffer {
    fn drop(&mut self) {
        if self.0.len() <= 4 * CHUNK {
            let buf = std::mem::take(&mut self.0);
            SCAN_BUFFER.with(|kept| *kept.borrow_mut() = buf);
        }
    }
}

/// Reads the records of a segment from `offset` (where commit `number` starts) on, calling
/// `found(number, offset, record bytes, document range)` for each whole record with a valid
/// checksum, until `found` returns `false` or the records end. Returns the number and offset
/// after the last record passed to `found`, what follows it (`Clean` when `found` ended the
/// scan), and, when the records end at free space or at the end of the file, where that is.
///
/// Free space where a record would start ends the records only when nothing but free space
/// follows it to the end of the file (checked, unless it starts at `free_from`, which the
/// caller knows to be so): other bytes after it make the records end there `Unfinished`, as
/// damage does, so that every reader, whether it came from the segment's start or from its
/// end, finds the same end or the same damage.
fn scan(
    file: &dyn Handle,
    mut number: u64,
    mut offset: u64,
    free_from: Option<u64>,
    mut found: impl FnMut(u64, u64, &[u8], std::ops::Range<usize>) -> bool,
) -> io::Result<(u64, u64, Tail, Option<u64>)> {
    // The thread's buffer, reused: a replay scans once per batch.
    let mut buf = ScanBuffer::take();
    // Small first, so that reading one record reads little; larger as the scan goes on.
    let mut size = 16 << 10;
    buf.grow(size);
    loop {
        let filled = read_full_at(file, &mut buf.0[..size], offset)?;
        if filled == 0 {
            return Ok((number, offset, Tail::Clean, Some(offset)));
        }
        let mut at = 0;
        while at < filled {
            if buf.0[at] == FREE {
                if free_from == Some(offset) {
                    return Ok((number, offset, Tail::Clean, Some(offset)));
                }
                let tail = match other_than_free(file, &mut buf.0[..size], at, filled, offset)? {
                    None => return Ok((number, offset, Tail::Clean, Some(offset))),
                    Some(other) => Tail::Unfinished {
                        offset,
                        problem: format!(
                            "free space where commit {number} belongs is followed by other bytes (at byte {other})"
                        ),
                    },
                };
                return Ok((number, offset, tail, None));
            }
            match parse_record(&buf.0[at..filled]) {
                Parsed::Whole {
                    number: n,
                    document,
                    length,
                    crc,
                } => {
                    let absolute = at + document.start..at + document.end;
                    if n != number {
                        let problem = format!("holds commit {n} where commit {number} belongs");
                        return Ok((number, offset, Tail::Unfinished { offset, problem }, None));
                    }
                    if crc32fast::hash(&buf.0[absolute]) != crc {
                        let problem = format!("commit {number}'s checksum does not match");
                        return Ok((number, offset, Tail::Unfinished { offset, problem }, None));
                    }
                    let more = found(number, offset, &buf.0[at..at + length], document);
                    number = number.saturating_add(1);
                    offset += length as u64;
                    if !more {
                        return Ok((number, offset, Tail::Clean, None));
                    }
                    at += length;
                }
                Parsed::Short { needed } => {
                    if filled < size {
                        // The file ends inside this record.
                        let problem = format!("commit {number}'s record is cut short");
                        return Ok((number, offset, Tail::Unfinished { offset, problem }, None));
                    }
                    if at == 0 {
                        size = needed.max(size * 2);
                    } else if size < CHUNK {
                        size *= 2;
                    }
                    buf.grow(size);
                    break;
                }
                Parsed::Invalid(problem) => {
                    let problem = format!("not a record where commit {number} belongs: {problem}");
                    return Ok((number, offset, Tail::Unfinished { offset, problem }, None));
                }
            }
        }
    }
}

/// The offset of the first byte other than free space in `file` from `offset` on (where
/// `buf[at..filled]` was read from), or `None` when only free space follows to its end.
fn other_than_free(
    file: &dyn Handle,
    buf: &mut [u8],
    at: usize,
    filled: usize,
    offset: u64,
) -> io::Result<Option<u64>> {
    if let Some(other) = buf[at..filled].iter().position(|b| *b != FREE) {
        return Ok(Some(offset + other as u64));
    }
    if filled < buf.len() {
        return Ok(None);
    }
    let mut from = offset + (filled - at) as u64;
    loop {
        let read = read_full_at(file, buf, from)?;
        if let Some(other) = buf[..read].iter().position(|b| *b != FREE) {
            return Ok(Some(from + other as u64));
        }
        if read < buf.len() {
            return Ok(None);
        }
        from += read as u64;
    }
}

/// What a [`scan`] found: where it stopped and what follows, with the positions it passed
/// that a segment keeps (see [`Segment::absorb`]).
struct Scanned {
    next: u64,
    end: u64,
    tail: Tail,
    /// Where the records ended at free space (or at the end of the file) that was checked.
    free_at: Option<u64>,
    /// Positions of the commits on the grid ([`INDEX_EVERY`]).
    grid: Vec<(u64, u64)>,
    /// The last whole record passed.
    last: Option<(u64, u64)>,
}

/// [`scan`] with the errors naming the segment, keeping the positions a segment remembers.
fn scan_file(
    file: &dyn Handle,
    path: &Path,
    number: u64,
    offset: u64,
    free_from: Option<u64>,
    mut found: impl FnMut(u64, u64, &[u8], std::ops::Range<usize>) -> bool,
) -> Result<Scanned> {
    let mut grid = Vec::new();
    let mut last = None;
    let (next, end, tail, free_at) = scan(
        file,
        number,
        offset,
        free_from,
        |n, at, record, document| {
            if n % INDEX_EVERY == 0 {
                grid.push((n, at));
            }
            last = Some((n, at));
            found(n, at, record, document)
        },
    )
    .map_err(|e| Error::io("read", path, e))?;
    Ok(Scanned {
        next,
        end,
        tail,
        free_at,
        grid,
        last,
    })
}

/// [`scan_file`] on a segment, which remembers the positions passed.
fn scan_segment(
    fs: &dyn FileSystem,
    segment: &mut Segment,
    number: u64,
    offset: u64,
    found: impl FnMut(u64, u64, &[u8], std::ops::Range<usize>) -> bool,
) -> Result<(u64, u64, Tail)> {
    let file = segment
        .file(fs)
        .map_err(|e| Error::io("open", &segment.path, e))?;
    let scanned = scan_file(
        &*file,
        &segment.path,
        number,
        offset,
        segment.free_from,
        found,
    )?;
    segment.absorb(&scanned);
    Ok((scanned.next, scanned.end, scanned.tail))
}

/// The fewest bytes a record takes (`{"n":1,"len":2,"crc32":"…","commit":{}}` and a newline
/// take 47): a stretch of damage cannot have held more records than its bytes allow.
const MIN_RECORD: u64 = 40;

/// Whether the commits `first..until` can have occupied `bytes` bytes.
fn plausible(first: u64, until: u64, bytes: u64) -> bool {
    (until - first).saturating_mul(MIN_RECORD) <= bytes
}

/// The first whole record with a valid checksum after `offset` in `file` (at the start of a
/// line) that is numbered after `number` and no further than the bytes before it can have held
/// ([`plausible`]): its number and offset. It proves that the bytes at `offset` (where commit
/// `number` belongs) are damage inside the segment, not an end torn by a crash or a write in
/// progress, and it is where the records go on after the damage. Reads the file a window at
/// a time, at most 256 MiB from `offset`.
fn record_after(file: &dyn Handle, offset: u64, number: u64) -> io::Result<Option<(u64, u64)>> {
    const MOST: u64 = 256 << 20;
    let end = file.len()?.min(offset.saturating_add(MOST));
    // What records longer than a window may cost to read, in all: hostile lines that each claim
    // a long record must not make the search read the same bytes over and over.
    let budget = std::cell::Cell::new(MOST);
    // The number of the record that `buf` (read at `at`) starts with, if it is the proof.
    let whole = |buf: &[u8], at: u64| -> Option<u64> {
        let proof = |buf: &[u8]| match parse_record(buf) {
            Parsed::Whole {
                number: n,
                document,
                crc,
                ..
            } if n > number
                && plausible(number, n, at - offset)
                && crc32fast::hash(&buf[document.clone()]) == crc =>
            {
                Ok(Some(n))
            }
            Parsed::Short { needed } => Err(needed),
            _ => Ok(None),
        };
        match proof(buf) {
            Ok(found) => found,
            // Longer than the window: read it whole (a length is at most MAX_DOCUMENT_BYTES).
            Err(needed) if at + needed as u64 <= end && needed as u64 <= budget.get() => {
                budget.set(budget.get() - needed as u64);
                let mut record = vec![0; needed];
                let filled = read_full_at(file, &mut record, at).ok()?;
                proof(&record[..filled]).ok().flatten()
            }
            Err(_) => None,
        }
    };
    let mut buf = vec![0; CHUNK];
    let mut window = offset;
    while window < end {
        let filled = read_full_at(file, &mut buf, window)?;
        let filled = filled.min(usize::try_from(end - window).unwrap_or(usize::MAX));
        if filled == 0 {
            break;
        }
        // Record starts in this window: after each newline (the record at `offset` itself is
        // the damaged one).
        let mut at = 0;
        while let Some(found) = buf[at..filled].iter().position(|b| *b == b'\n') {
            let start = at + found + 1;
            let absolute = window + start as u64;
            if absolute >= end {
                break;
            }
            if let Some(n) = whole(&buf[start..filled], absolute) {
                return Ok(Some((n, absolute)));
            }
            at = start;
        }
        window += filled as u64;
    }
    Ok(None)
}

/// How many newlines (record ends) `file` holds from `offset` to `size`, counted over at most
/// 256 MiB.
fn record_ends(file: &dyn Handle, offset: u64, size: u64) -> io::Result<u64> {
    const MOST: u64 = 256 << 20;
    let end = size.min(offset.saturating_add(MOST));
    let mut buf = vec![0; CHUNK];
    let (mut at, mut ends) = (offset, 0u64);
    while at < end {
        let want = usize::try_from(end - at).unwrap_or(CHUNK).min(CHUNK);
        let filled = read_full_at(file, &mut buf[..want], at)?;
        if filled == 0 {
            break;
        }
        ends += buf[..filled].iter().filter(|b| **b == b'\n').count() as u64;
        at += filled as u64;
    }
    Ok(ends)
}

/// Finds the last whole record of a segment by reading its end, not all of it: the number and
/// offset of that record, or `None` when the end holds no record start (then scan instead).
///
/// The record taken is the last of the records that follow each other without a gap from the
/// first record start in the window: when a gap lies after it with whole records behind it
/// (what a machine crash can leave in an unsynced write over free space), the scan from it
/// finds the gap and reports it, as a reader that came from the segment's start does. (A gap
/// before the window is not seen here; a writer reads the segment from its start before its
/// first write.)
fn find_last_record(fs: &dyn FileSystem, segment: &mut Segment) -> Result<Option<(u64, u64)>> {
    const WINDOW: u64 = 64 << 10;
    let file = segment
        .file(fs)
        .map_err(|e| Error::io("open", &segment.path, e))?;
    let mut size = file
        .len()
        .map_err(|e| Error::io("look at", &segment.path, e))?;
    let window = usize::try_from(WINDOW).unwrap_or(usize::MAX);
    let mut buf = vec![0; window];
    // Back over the free space at the end, to where the last bytes of something else end.
    let (data_end, read_from) = loop {
        if size <= WINDOW * 4 {
            return Ok(None);
        }
        let start = size - WINDOW;
        let filled = read_full_at(&*file, &mut buf, start)
            .map_err(|e| Error::io("read", &segment.path, e))?;
        match buf[..filled].iter().rposition(|b| *b != FREE) {
            Some(last) => break (start + last as u64 + 1, start),
            None => size = start,
        }
    };
    if data_end <= WINDOW * 4 {
        return Ok(None);
    }
    // The window that ends where the data ends (already read when no free space follows).
    let start = data_end - WINDOW;
    if start != read_from {
        let filled = read_full_at(&*file, &mut buf, start)
            .map_err(|e| Error::io("read", &segment.path, e))?;
        buf.truncate(filled);
    }
    let first = *segment
        .positions
        .keys()
        .next()
        .expect("a segment knows its start");
    // The whole record with a valid checksum at `at`, numbered `first` or later: its number
    // and length.
    let whole = |at: usize| match parse_record(&buf[at..]) {
        Parsed::Whole {
            number,
            document,
            length,
            crc,
        } if number >= first && crc32fast::hash(&buf[at..][document.clone()]) == crc => {
            Some((number, length))
        }
        _ => None,
    };
    // The first record start in the window, then the records that follow it.
    let Some(mut at) = buf
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .map(|(at, _)| at + 1)
        .find(|&at| whole(at).is_some())
    else {
        return Ok(None);
    };
    let mut last = None;
    while let Some((number, length)) = whole(at) {
        if last.is_some_and(|(previous, _)| number != previous + 1) {
            break;
        }
        last = Some((number, start + at as u64));
        at += length;
    }
    Ok(last)
}

fn segment_name(first: u64) -> String {
    format!("{first:020}.jsonl")
}

fn segment_first(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".jsonl")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|first| *first > 0)
}

/// Whether the folder at `path` holds a journal (its marker exists, whatever it is: a marker
/// that is not a regular file is then refused with its own error).
pub(crate) fn is_journal(path: &Path) -> bool {
    std::fs::symlink_metadata(path.join(JOURNAL_MARKER)).is_ok()
}

fn marker_document() -> String {
    format!("{{\"format\":\"foldstore-journal\",\"version\":{JOURNAL_VERSION}}}\n")
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
        Self::with_file_system(path, durability, segment_bytes, Arc::new(OsFs))
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
                loose: FolderStorage::with_file_system(path.clone(), durability, Arc::clone(&fs))
                    .inside_journal(),
                fs,
                path,
                durability,
                segment_bytes: segment_bytes.max(1),
                view: Mutex::default(),
                lock_file: Mutex::default(),
                queue: Mutex::default(),
                turn: Condvar::new(),
                swept: std::sync::atomic::AtomicBool::new(false),
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

    /// Checks the marker and lists the segments, once.
    fn load(&self, view: &mut View) -> Result<()> {
        if view.loaded {
            return Ok(());
        }
        // Not created yet: an empty store.
        let Some(version) = self.read_marker()? else {
            return Ok(());
        };
        self.refuse_mixed()?;
        self.list_segments(view)?;
        view.version = version;
        view.loaded = true;
        Ok(())
    }

    /// The journal's format version, from its marker; `None` when the journal is not created
    /// yet: no marker, or a blank one beside segments that hold nothing (what a crash while
    /// an older foldstore wrote the marker in place left behind; markers are now published
    /// whole).
    fn read_marker(&self) -> Result<Option<u64>> {
        let marker = self.shared.path.join(JOURNAL_MARKER);
        let bytes = match self.shared.fs.read(&marker) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("read", marker, e)),
        };
        if bytes.iter().all(u8::is_ascii_whitespace) && !self.holds_records()? {
            return Ok(None);
        }
        let text = String::from_utf8_lossy(&bytes);
        let version = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .filter(|v| v["format"] == "foldstore-journal")
            .and_then(|v| v["version"].as_u64())
            .ok_or_else(|| {
                let shown: String = text.trim().chars().take(200).collect();
                self.layout_error(format!(
                    "{} is not a journal format marker ({shown:?}); it should hold {}",
                    marker.display(),
                    marker_document().trim()
                ))
            })?;
        if version > JOURNAL_VERSION {
            return Err(self.layout_error(format!(
                "the journal has format version {version}, and this foldstore reads version {JOURNAL_VERSION} and older: use a newer foldstore"
            )));
        }
        Ok(Some(version))
    }

    /// Whether any segment holds anything but free space at its start.
    fn holds_records(&self) -> Result<bool> {
        let fs = &*self.shared.fs;
        let segments = &self.shared.segments;
        let names = match fs.list(segments) {
            Ok(names) => names,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(Error::io("list", segments, e)),
        };
        for name in names {
            if name.to_str().and_then(segment_first).is_none() {
                continue;
            }
            let path = segments.join(&name);
            let file = fs
                .open(&path, Open::Read)
                .map_err(|e| Error::io("open", &path, e))?;
            let mut first = [0u8; 1];
            if read_full_at(&*file, &mut first, 0).map_err(|e| Error::io("read", &path, e))? > 0
                && first[0] != FREE
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Publishes the marker whole: written to a temporary file and synced, then given its name
    /// without replacing a marker another process published first (a blank one is replaced).
    fn create_marker(&self) -> Result<()> {
        let fs = &*self.shared.fs;
        let marker = self.shared.path.join(JOURNAL_MARKER);
        let document = marker_document();
        let temporary = self.shared.path.join(format!(
            "{}marker-{}-{}",
            super::folder::TEMP_PREFIX,
            std::process::id(),
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        let blank = match fs.read(&marker) {
            Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => true,
            // Made already (checked by `load`).
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => false,
            Err(e) => return Err(Error::io("read", marker, e)),
        };
        fs.write_new(&temporary, document.as_bytes(), true)
            .map_err(|e| Error::io("write", &temporary, e))?;
        let published = if blank {
            fs.rename(&temporary, &marker)
        } else {
            fs.rename_noreplace(&temporary, &marker)
        };
        match published {
            Ok(()) => {}
            // Another process published it first.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let _ = fs.remove(&temporary);
                return Ok(());
            }
            Err(e) => {
                let _ = fs.remove(&temporary);
                return Err(Error::io("create", marker, e));
            }
        }
        self.refuse_mixed()?;
        fs.sync_dir(&self.shared.path)
            .map_err(|e| Error::io("sync the folder", &self.shared.path, e))
    }

    /// Refuses a segment folder that is a symbolic link: segments are written through it.
    fn check_segment_folder(&self) -> Result<()> {
        let segments = &self.shared.segments;
        match self.shared.fs.is_link(segments) {
            Ok(false) => Ok(()),
            Ok(true) => Err(self.layout_error(format!(
                "{} is a symbolic link: foldstore never follows a symbolic link inside a store (the journal's segments would be read and written elsewhere); replace it with the folder it points to",
                segments.display()
            ))),
            Err(e) => Err(Error::io("look at", segments, e)),
        }
    }

    /// Refuses a folder that holds loose-layout commit files beside the journal.
    fn refuse_mixed(&self) -> Result<()> {
        let loose = self.shared.loose.list()?;
        if let Some(first) = loose.commits.first() {
            return Err(self.layout_error(format!(
                "the folder holds a journal ({JOURNAL_MARKER}) and also loose commit files ({} and {} more): a store has one layout; move one of them elsewhere ('foldstore copy' converts between layouts)",
                self.shared.loose.commit_location(*first),
                loose.commits.len() - 1
            )));
        }
        Ok(())
    }

    fn list_segments(&self, view: &mut View) -> Result<()> {
        self.check_segment_folder()?;
        let segments = &self.shared.segments;
        let names = match self.shared.fs.list(segments) {
            Ok(names) => names,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::io("list", segments, e)),
        };
        for name in names {
            if let Some(first) = name.to_str().and_then(segment_first) {
                view.segments
                    .entry(first)
                    .or_insert_with(|| Segment::new(segments.join(&name), first));
            } else if name.to_string_lossy().ends_with(".jsonl") {
                view.odd_names
                    .insert(segments.join(&name).display().to_string());
            }
        }
        Ok(())
    }

    /// Looks for a segment starting at `first` that another writer made, and adds it.
    fn discover(&self, view: &mut View, first: u64) -> bool {
        if view.segments.contains_key(&first) {
            return true;
        }
        let path = self.shared.segments.join(segment_name(first));
        if self.shared.fs.kind(&path).ok().flatten().is_some() {
            view.segments.insert(first, Segment::new(path, first));
            true
        } else {
            false
        }
    }

    /// Finds where commit `number` starts: the segment's first number and the offset, or
    /// `None` when there is no such commit (yet). Learns of other writers' appends. A commit
    /// inside damage is [`Error::CorruptCommit`].
    fn locate(&self, view: &mut View, number: u64) -> Result<Option<(u64, u64)>> {
        self.load(view)?;
        if view.segments.is_empty() {
            // Another process may have written the first commit since this one looked.
            self.list_segments(view)?;
        }
        let fs = &*self.shared.fs;
        loop {
            let Some((&first, _)) = view.segments.range(..=number).next_back() else {
                return Ok(None);
            };
            let segment = view.segments.get_mut(&first).expect("just found");
            if let Some(damage) = segment.damage_at(number) {
                return Err(damage.error(number, &segment.path));
            }
            let (from, offset) = segment.start_for(number);
            let mut found = None;
            let (next, end, tail) = scan_segment(fs, segment, from, offset, |n, at, _, _| {
                if n == number {
                    found = Some(at);
                    return false;
                }
                true
            })?;
            if let Some(at) = found {
                segment.cursor = Some((number, at));
                return Ok(Some((first, at)));
            }
            segment.note_end(next, end);
            match self.after_scan(view, first, next, tail)? {
                // Damage was found and recorded: look again.
                After::Damage => continue,
                After::Segment(later) if later <= number => continue,
                After::Segment(_) | After::End(_) => return Ok(None),
            }
        }
    }

    /// What follows where a scan of the segment starting at `first` stopped (commit `next`,
    /// followed by `tail`): damage inside the journal (recorded in the segment, with where the
    /// records go on), the next segment, or the end of the log.
    fn after_scan(&self, view: &mut View, first: u64, next: u64, tail: Tail) -> Result<After> {
        let fs = &*self.shared.fs;
        if let Tail::Unfinished { offset, problem } = tail {
            let segment = view.segments.get_mut(&first).expect("scanned");
            let path = segment.path.clone();
            let file = segment.file(fs).map_err(|e| Error::io("open", &path, e))?;
            let size = file.len().map_err(|e| Error::io("look at", &path, e))?;
            let proof = match record_after(&*file, offset, next)
                .map_err(|e| Error::io("read", &path, e))?
            {
                Some((until, resume)) => Some((until, resume, None)),
                // No whole record after it in this segment: a later segment with records shows
                // it is damage too, else it is the torn end of the log.
                None => self
                    .later_segment_with_records(view, first, next, || {
                        record_ends(&*file, offset, size).map_err(|e| Error::io("read", &path, e))
                    })?
                    .map(|later| (later, size, Some(later))),
            };
            let Some((until, resume, later)) = proof else {
                if size - offset > self.torn_tail_limit() {
                    // Not what an interrupted write leaves: never taken for the log's end.
                    return Err(Error::CorruptCommit {
                        commit: next,
                        location: format!("{} at byte {offset}", path.display()),
                        problem: format!(
                            "is followed by {} bytes that are not records ({problem}): far more than an interrupted write leaves (at most {} bytes); if the file is not a journal segment, move it out of the store",
                            size - offset,
                            self.torn_tail_limit()
                        ),
                    });
                }
                return Ok(After::End(Tail::Unfinished { offset, problem }));
            };
            // A write in progress (readers take no lock) can look like damage followed by the
            // records it wrote after it: what is at `offset` now decides. The later records
            // were read after it, and a write lands in order, so a write in progress that
            // made them whole has made the record at `offset` whole too.
            let (after, _, _, _) = scan(&*file, next, offset, None, |_, _, _, _| false)
                .map_err(|e| Error::io("read", &path, e))?;
            if after > next {
                return Ok(After::Damage);
            }
            let segment = view.segments.get_mut(&first).expect("scanned");
            segment.add_damage(next, until, offset, resume, problem);
            return Ok(match later {
                Some(later) => After::Segment(later),
                None => After::Damage,
            });
        }
        // A segment without records (its writer died before writing) has no successor.
        if next > first && self.discover(view, next) {
            return Ok(After::Segment(next));
        }
        Ok(After::End(Tail::Clean))
    }

    /// The first segment after the one starting at `first` that holds records, when it can
    /// be where the log goes on after damage at commit `next` with `ends()` record ends
    /// (newlines) left in the segment: it starts with the header of a record numbered as its
    /// name, and the damaged commits before it can have been those records. Segments a writer
    /// left empty when it died do not count; other segments are strays, never taken for the
    /// log.
    fn later_segment_with_records(
        &self,
        view: &mut View,
        first: u64,
        next: u64,
        ends: impl FnOnce() -> Result<u64>,
    ) -> Result<Option<u64>> {
        self.list_segments(view)?;
        let fs = &*self.shared.fs;
        let later: Vec<u64> = view
            .segments
            .range(first.saturating_add(1)..)
            .map(|(n, _)| *n)
            .collect();
        for candidate in later {
            let segment = view.segments.get_mut(&candidate).expect("listed");
            let file = segment
                .file(fs)
                .map_err(|e| Error::io("open", &segment.path, e))?;
            let size = file
                .len()
                .map_err(|e| Error::io("look at", &segment.path, e))?;
            if size == 0 {
                continue;
            }
            // Counted only when there is a candidate (a torn tail usually has none).
            if candidate <= next || candidate - next > ends()? + 1 {
                return Ok(None);
            }
            // A writer starts it with a record of its first commit (torn, perhaps, by a crash).
            let header = format!("{{\"n\":{candidate},");
            let mut start = vec![0; header.len()];
            let filled = read_full_at(&*file, &mut start, 0)
                .map_err(|e| Error::io("read", &segment.path, e))?;
            return Ok((start[..filled] == *header.as_bytes()).then_some(candidate));
        }
        Ok(None)
    }

    /// Scans the log to its end, following the chain of segments from the last one known on
    /// it (each segment is named by the commit after the last of the one before), past damage
    /// inside. Returns the number the next commit takes, and the tail the scan found. Segments
    /// that are not on the chain are not the log's: a writer never appends after them.
    fn find_end(&self, view: &mut View) -> Result<(u64, Tail)> {
        self.load(view)?;
        if view.segments.is_empty() {
            // Another process may have written the first commit since this one looked.
            self.list_segments(view)?;
        }
        let fs = &*self.shared.fs;
        let mut current = match view.chain_end {
            Some(first) => first,
            None => match view.segments.keys().next() {
                None => return Ok((1, Tail::Clean)),
                Some(&1) => 1,
                Some(&other) => {
                    return Err(Error::CorruptCommit {
                        commit: 1,
                        location: self.shared.segments.join(segment_name(1)).display().to_string(),
                        problem: format!(
                            "is missing: the journal's first segment is {}, so commits 1 to {} are missing (a gap in the log); restore the missing segments from a backup",
                            segment_name(other),
                            other - 1
                        ),
                    })
                }
            },
        };
        loop {
            view.chain_end = Some(current);
            let segment = view.segments.get_mut(&current).expect("on the chain");
            // Cut shorter since this process looked (another process's repair, or a torn
            // tail cut by another writer): what it knew of the end is gone.
            let known = segment.furthest().1;
            if known > 0
                && segment
                    .file(fs)
                    .and_then(|file| file.len())
                    .is_ok_and(|len| len < known)
            {
                segment.forget();
            }
            let (from, offset) = match segment.furthest() {
                (n, 0)
                    if n == segment.first() && !segment.from_start && segment.damage.is_empty() =>
                {
                    find_last_record(fs, segment)?.unwrap_or((n, 0))
                }
                known => known,
            };
            let (next, end, tail) = scan_segment(fs, segment, from, offset, |_, _, _, _| true)?;
            segment.note_end(next, end);
            match self.after_scan(view, current, next, tail)? {
                After::Damage => {}
                After::Segment(later) => current = later,
                After::End(tail) => return Ok((next, tail)),
            }
        }
    }

    /// Reads up to `max` commits from `number` on, in order, stopping at the end of the log
    /// or before damage (a read that starts at damage fails with it).
    /// The segments are read without holding the view's lock, so that readers on several
    /// threads read at once.
    fn read_from(&self, number: u64, max: usize) -> Result<Vec<Vec<u8>>> {
        let fs = &*self.shared.fs;
        let mut commits = Vec::new();
        let mut next = number;
        while commits.len() < max {
            let located = {
                let mut view = self.view();
                match self.locate(&mut view, next) {
                    Ok(Some((first, offset))) => {
                        let segment = view.segments.get_mut(&first).expect("located");
                        let file = segment
                            .file(fs)
                            .map_err(|e| Error::io("open", &segment.path, e))?;
                        (first, offset, file, segment.path.clone(), segment.free_from)
                    }
                    Ok(None) => break,
                    // Damage after commits read: they are returned, the damage is met next.
                    Err(Error::CorruptCommit { .. }) if !commits.is_empty() => break,
                    Err(e) => return Err(e),
                }
            };
            let (first, offset, file, path, free_from) = located;
            let before = commits.len();
            let scanned = scan_file(
                &*file,
                &path,
                next,
                offset,
                free_from,
                |_, _, record, document| {
                    commits.push(record[document].to_vec());
                    commits.len() < max
                },
            )?;
            let read = (commits.len() - before) as u64;
            let mut view = self.view();
            if let Some(segment) = view.segments.get_mut(&first) {
                segment.absorb(&scanned);
                if read > 0 {
                    // Where the next read goes on.
                    segment.cursor = Some((scanned.next, scanned.end));
                }
            }
            if read == 0 {
                break;
            }
            next += read;
        }
        Ok(commits)
    }

    /// The stored bytes of commit `number`, also when the journal knows them to be damaged:
    /// the document of a record whose checksum does not match, or the bytes of a damaged
    /// stretch (for its first commit; later commits of the same stretch are empty). For
    /// copying a damaged store as it is.
    fn read_damaged(&self, number: u64) -> Result<Option<Vec<u8>>> {
        let damage = {
            let mut view = self.view();
            match self.locate(&mut view, number) {
                Ok(_) => None,
                Err(Error::CorruptCommit { .. }) => {
                    let (&first, _) = view.segments.range(..=number).next_back().expect("located");
                    let segment = view.segments.get_mut(&first).expect("located");
                    segment.damage_at(number).cloned().map(|damage| {
                        (segment.file(&*self.shared.fs), segment.path.clone(), damage)
                    })
                }
                Err(e) => return Err(e),
            }
        };
        let Some((file, path, damage)) = damage else {
            return self.read_commit(number);
        };
        if number != damage.first {
            return Ok(Some(Vec::new()));
        }
        let file = file.map_err(|e| Error::io("open", &path, e))?;
        // At most a document's worth: damage that runs to the end of a huge file is carried
        // by its start.
        let length = (damage.resume - damage.offset).min(super::MAX_DOCUMENT_BYTES);
        let mut bytes = vec![0; usize::try_from(length).unwrap_or(0)];
        let filled = read_full_at(&*file, &mut bytes, damage.offset)
            .map_err(|e| Error::io("read", &path, e))?;
        bytes.truncate(filled);
        if let Parsed::Whole { document, .. } = parse_record(&bytes) {
            if damage.until == number + 1 {
                return Ok(Some(bytes[document].to_vec()));
            }
        }
        let kept = bytes
            .iter()
            .rposition(|b| *b != FREE)
            .map_or(0, |at| at + 1);
        bytes.truncate(kept);
        Ok(Some(bytes))
    }

    /// Writes the queued requests as one batch, under the lock; returns each one's outcome, or
    /// an error that concerns them all (nothing of the batch was written).
    fn write_batch(&self, batch: &[Request]) -> Result<Vec<Result<Result<u64, Conflict>>>> {
        let lock = match self.lock_handle() {
            // A journal asked for in a folder that exists: made on its first write, as a loose
            // store's folder needs nothing to be written into.
            Err(Error::StoreMissing { .. })
                if self.shared.fs.kind(&self.shared.path).ok().flatten()
                    == Some(PathKind::Folder) =>
            {
                self.ensure_created()?;
                self.lock_handle()?
            }
            other => other?,
        };
        let lock_path = self.shared.segments.join(LOCK_FILE);
        lock.lock().map_err(|e| Error::io("lock", &lock_path, e))?;
        let _unlock = Unlock(&*lock);
        let mut view = self.view();
        self.load(&mut view)?;
        if !view.loaded {
            // The marker is blank: a creation was interrupted. Made now, under the lock.
            drop(view);
            self.ensure_created()?;
            view = self.view();
            self.load(&mut view)?;
            if !view.loaded {
                return Err(Error::StoreMissing {
                    path: self.shared.path.clone(),
                });
            }
        }
        if !self
            .shared
            .swept
            .swap(true, std::sync::atomic::Ordering::AcqRel)
        {
            self.shared
                .loose
                .remove_stale_temporaries(super::folder::STALE_TEMPORARY_AGE);
        }
        // Find the end of the log. Holding the lock, nobody else is writing: bytes after the
        // last whole record were left by an interrupted write. The last segment is read from
        // its start by a process's first write, and again whenever damage was seen in it (by
        // a reader racing a write, or before another process's repair).
        let (mut next, mut tail) = self.find_end(&mut view)?;
        if self.refresh_last_segment(&mut view) {
            (next, tail) = self.find_end(&mut view)?;
        }
        if let Tail::Unfinished { offset, problem } = tail {
            let first = view.chain_end.expect("a tail is in a segment");
            let segment = view.segments.get_mut(&first).expect("the last segment");
            let path = segment.path.clone();
            self.cut_torn_tail(&path, offset, &problem)?;
            segment.allocated = offset;
            segment.free_from = Some(offset);
            segment.writer = None;
        }
        // Damage inside the last segment may be what a machine crash left of an unsynced
        // batch (records behind a gap): nothing is appended after it, so that it stays what
        // it is for a person (or 'foldstore repair') to judge.
        if let Some(damage) = view
            .chain_end
            .and_then(|first| view.segments.get(&first))
            .and_then(|segment| {
                segment
                    .damage
                    .values()
                    .next()
                    .map(|d| (d.clone(), segment.path.clone()))
            })
        {
            let (damage, path) = damage;
            return Err(match damage.error(damage.first, &path) {
                Error::CorruptCommit {
                    commit,
                    location,
                    problem,
                } => Error::CorruptCommit {
                    commit,
                    location,
                    problem: format!(
                        "{problem}; nothing is appended after damage in the journal's last segment (nothing was written): 'foldstore repair --dry-run' says whether it is what a machine crash leaves, which repair moves aside"
                    ),
                },
                other => other,
            });
        }
        let (first, end) = match view.chain_end {
            Some(first) => (first, view.segments[&first].end.map_or(0, |(_, end)| end)),
            None => (0, 0),
        };
        // Journals older than free space are written without it, as their writers expect.
        let preallocate = view.version >= FREE_SPACE_VERSION;
        let plan = self.plan_batch(batch, next, first, end)?;
        let mut outcomes: Vec<Option<Result<Result<u64, Conflict>>>> =
            plan.conflicts.into_iter().collect();
        let mut failed: Option<Error> = None;
        for part in plan.parts {
            let numbers: Vec<u64> = part.written.iter().map(|w| w.number).collect();
            if let Some(error) = &failed {
                // An earlier part failed: nothing more is written.
                for written in &part.written {
                    outcomes[written.request] = Some(Err(Error::Backend {
                        backend: "journal",
                        message: format!(
                            "commit not written: an earlier write of the same batch failed ({error})"
                        ),
                        source: None,
                    }));
                }
                continue;
            }
            let (guard, result) = self.write_part(view, &part, preallocate);
            view = guard;
            match result {
                Ok(()) => {
                    for written in &part.written {
                        outcomes[written.request] = Some(Ok(Ok(written.number)));
                    }
                }
                Err(PartError::NotWritten(e)) => {
                    tracing::warn!(commits = ?numbers, error = %e, "journal write failed; nothing of it was kept");
                    for written in &part.written {
                        outcomes[written.request] = Some(Err(Error::Backend {
                            backend: "journal",
                            message: format!("commit not written: {e}"),
                            source: None,
                        }));
                    }
                    failed = Some(e);
                }
                Err(PartError::Unknown { action, error }) => {
                    tracing::error!(commits = ?numbers, error = %error, "journal write failed after its records reached the segment: outcome unknown");
                    let location = part.path.display().to_string();
                    let message = error.to_string();
                    for written in &part.written {
                        outcomes[written.request] = Some(Err(Error::OutcomeUnknown {
                            commit: written.number,
                            location: format!("{location} (commit {})", written.number),
                            problem: format!("{action} failed after the commit was written into the segment ({message})"),
                            source: None,
                        }));
                    }
                    failed = Some(Error::OutcomeUnknown {
                        commit: numbers.first().copied().unwrap_or(0),
                        location,
                        problem: format!("{action} failed"),
                        source: Some(error),
                    });
                }
            }
        }
        drop(view);
        Ok(outcomes
            .into_iter()
            .map(|outcome| outcome.expect("every request has an outcome"))
            .collect())
    }

    /// Assigns numbers to the requests of a batch, and splits their records by segment.
    fn plan_batch(&self, batch: &[Request], mut next: u64, first: u64, end: u64) -> Result<Plan> {
        let mut plan = Plan {
            conflicts: Vec::with_capacity(batch.len()),
            parts: Vec::new(),
        };
        let mut part: Option<Part> = (first != 0).then(|| Part {
            first,
            start: end,
            new_segment: false,
            close: None,
            path: self.shared.segments.join(segment_name(first)),
            records: Vec::new(),
            written: Vec::new(),
        });
        for (index, request) in batch.iter().enumerate() {
            let number = match request.kind {
                Kind::Create(number) if number < next => {
                    plan.conflicts
                        .push(Some(Ok(Err(Conflict { commit: number }))));
                    continue;
                }
                Kind::Create(number) | Kind::Append(number) if number > next => {
                    return Err(self.layout_error(format!(
                        "the journal keeps its commits contiguous: commit {number} cannot be created while the log ends at commit {}",
                        next - 1
                    )));
                }
                Kind::Create(number) => number,
                Kind::Append(_) => next,
            };
            if number == u64::MAX {
                return Err(self.layout_error(
                    "the journal has reached the largest commit number; nothing was written",
                ));
            }
            plan.conflicts.push(None);
            let full = part
                .as_ref()
                .is_none_or(|p| p.start + p.records.len() as u64 >= self.shared.segment_bytes);
            if full {
                let close = part
                    .as_ref()
                    .map(|p| (p.first, p.start + p.records.len() as u64));
                if let Some(done) = part.take() {
                    if !done.written.is_empty() || done.close.is_some() || done.new_segment {
                        plan.parts.push(done);
                    }
                }
                part = Some(Part {
                    first: number,
                    start: 0,
                    new_segment: true,
                    close,
                    path: self.shared.segments.join(segment_name(number)),
                    records: Vec::new(),
                    written: Vec::new(),
                });
            }
            let current = part.as_mut().expect("a part");
            let at = current.start + current.records.len() as u64;
            encode_record(&mut current.records, number, &request.document);
            current.written.push(Written {
                request: index,
                number,
                at,
            });
            next = number + 1;
        }
        if let Some(done) = part {
            if !done.written.is_empty() {
                plan.parts.push(done);
            }
        }
        Ok(plan)
    }

    /// Writes one part of a batch: starts its segment if it is new (closing the one before),
    /// writes its records, makes them durable if configured, and updates the view.
    fn write_part<'v>(
        &'v self,
        mut view: MutexGuard<'v, View>,
        part: &Part,
        preallocate: bool,
    ) -> (MutexGuard<'v, View>, Result<(), PartError>) {
        if let Some((closed, end)) = part.close {
            self.close_segment(&mut view, closed, end);
        }
        if part.new_segment {
            if let Err(e) = self.start_segment(&mut view, part.first) {
                return (view, Err(PartError::NotWritten(e)));
            }
            view.chain_end = Some(part.first);
        }
        let first = part.first;
        let (file, path, allocated) = match self.writer_for(&mut view, first) {
            Ok(found) => found,
            Err(e) => return (view, Err(PartError::NotWritten(e))),
        };
        // Only free space followed the records (checked by `find_end`'s scan): it still does
        // after the records written over its start.
        let free = view.segments.get(&first).and_then(|s| s.free_from) == Some(part.start);
        // Written and synced without holding the view, so that this process's readers, and
        // writers joining the queue for the next batch, are not held up by the sync.
        drop(view);
        let allocated = self.write_records(
            &*file,
            &path,
            part.start,
            &part.records,
            allocated,
            preallocate,
        );
        let mut view = self.view();
        let end = part.start + part.records.len() as u64;
        let segment = view.segments.get_mut(&first).expect("the segment written");
        match &allocated {
            Ok(size) => segment.allocated = *size,
            // Whatever the failure left, the next write looks again.
            Err(_) => {
                segment.writer = None;
                segment.free_from = None;
                segment.end = None;
                segment.cursor = None;
                segment.last = None;
                segment.positions.retain(|n, _| *n == first);
                segment.from_start = false;
            }
        }
        if let Err(e) = allocated {
            return (view, Err(e));
        }
        if free {
            segment.free_from = Some(end);
        }
        for written in &part.written {
            segment.note(written.number, written.at);
            segment.last = Some((written.number, written.at));
        }
        let next = part.written.last().map_or(first, |w| w.number + 1);
        segment.note_end(next, end);
        (view, Ok(()))
    }

    /// The file writers lock, opened once.
    fn lock_handle(&self) -> Result<Arc<dyn Handle>> {
        let mut handle = self
            .shared
            .lock_file
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(file) = &*handle {
            return Ok(Arc::clone(file));
        }
        self.check_segment_folder()?;
        let lock_path = self.shared.segments.join(LOCK_FILE);
        let file = match self.shared.fs.open(&lock_path, Open::ReadWriteCreate) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if self.read_marker()?.is_some() {
                    return Err(Error::io("open", lock_path, e));
                }
                return Err(Error::StoreMissing {
                    path: self.shared.path.clone(),
                });
            }
            Err(e) => return Err(Error::io("open", lock_path, e)),
        };
        *handle = Some(Arc::clone(&file));
        Ok(file)
    }

    /// The segment starting at `first`, opened for writing (once), and its size as known.
    fn writer_for(&self, view: &mut View, first: u64) -> Result<(Arc<dyn Handle>, PathBuf, u64)> {
        let fs = &*self.shared.fs;
        let segment = view.segments.get_mut(&first).expect("the segment written");
        if segment.writer.is_none() {
            let file = fs
                .open(&segment.path, Open::Write)
                .map_err(|e| Error::io("open", &segment.path, e))?;
            segment.allocated = file
                .len()
                .map_err(|e| Error::io("look at", &segment.path, e))?;
            segment.writer = Some(file);
        }
        let file = segment.writer.as_ref().expect("just opened");
        Ok((Arc::clone(file), segment.path.clone(), segment.allocated))
    }

    /// Writes `records` at `end` of a segment of `allocated` bytes, durably if configured;
    /// returns the segment's size after the write. Synced writes that reach past the segment's
    /// size then extend it with free space ([`PREALLOCATE`]), if `preallocate`: at best, as
    /// a failure to extend (a full disk) changes nothing of the records written.
    ///
    /// A failed write of the records is undone (their place is cut off, or given back to
    /// free space) and is [`PartError::NotWritten`]; when the undo fails too, or the sync
    /// fails, the records may be read: [`PartError::Unknown`].
    fn write_records(
        &self,
        file: &dyn Handle,
        path: &Path,
        end: u64,
        records: &[u8],
        allocated: u64,
        preallocate: bool,
    ) -> Result<u64, PartError> {
        let reach = end + records.len() as u64;
        let synced = self.shared.durability == Durability::Immediate;
        // Space for the records is reserved first (a MiB at a time), so that a full disk fails
        // the write before any record lands, where readers could see it.
        let block = PREALLOCATE;
        if reach > allocated && (end % block == 0 || end / block != (reach - 1) / block) {
            let to = reach.div_ceil(block) * block;
            if let Err(e) = file.reserve(end, to - end) {
                return Err(PartError::NotWritten(Error::io(
                    "reserve space in",
                    path,
                    e,
                )));
            }
        }
        if let Err(e) = file.write_all_at(records, end) {
            let undone = if reach > allocated {
                // Cut off what the write added past the old size, then give back to free
                // space what it overwrote of it.
                file.set_len(allocated.max(end)).and_then(|()| {
                    if allocated > end {
                        file.write_all_at(
                            &vec![FREE; usize::try_from(allocated - end).unwrap_or(0)],
                            end,
                        )
                    } else {
                        Ok(())
                    }
                })
            } else {
                file.write_all_at(&vec![FREE; records.len()], end)
            };
            return match undone {
                Ok(()) => Err(PartError::NotWritten(Error::io("append to", path, e))),
                Err(undo) => {
                    tracing::error!(segment = %path.display(), error = %undo, "could not undo a failed journal write");
                    Err(PartError::Unknown {
                        action: "writing into the segment",
                        error: e,
                    })
                }
            };
        }
        let mut size = allocated.max(reach);
        if synced && preallocate && reach > allocated {
            let step = PREALLOCATE.min(self.shared.segment_bytes).max(1);
            let target = reach.div_ceil(step) * step;
            let space = vec![FREE; usize::try_from(target - reach).unwrap_or(0)];
            match file.write_all_at(&space, reach) {
                Ok(()) => size = target,
                Err(e) => {
                    // Part of the space may be there: only spaces, read as free space.
                    size = file.len().unwrap_or(reach).max(reach);
                    tracing::debug!(segment = %path.display(), error = %e, "could not extend the segment with free space; the commit is written without it");
                }
            }
        }
        if synced {
            file.sync_data().map_err(|error| PartError::Unknown {
                action: "syncing the segment",
                error,
            })?;
        }
        Ok(size)
    }

    /// Makes a writer read the last segment of the chain from its start, forgetting what this
    /// process's readers learnt of it, when it has not yet (a process's first write) or when
    /// damage was recorded in it; returns whether it did. Found from the segment's last bytes
    /// (as readers find it), the end could lie after a gap a machine crash left in an unsynced
    /// write, with records of that write after it: a writer must not append after them. Read
    /// from the start, the gap is found, and it is damage inside (reported) or a torn tail (cut
    /// off). Damage a reader recorded may have been a write it raced, or have been moved aside
    /// by another process's repair since: a writer judges it again under the lock. Segments
    /// started later were written by live writers: a crash since would have ended this process
    /// too.
    fn refresh_last_segment(&self, view: &mut View) -> bool {
        let Some(first) = view
            .chain_end
            .or_else(|| view.segments.keys().next_back().copied())
        else {
            return false;
        };
        let Some(segment) = view.segments.get_mut(&first) else {
            return false;
        };
        if segment.from_start && segment.damage.is_empty() {
            return false;
        }
        segment.forget();
        true
    }

    /// Cuts the free space off the end of the segment starting at `first`, whose records end
    /// at `end`, now that the next segment takes the commits after them. Only a matter of disk
    /// space: a failure is logged, and the free space left is read as such.
    fn close_segment(&self, view: &mut View, first: u64, end: u64) {
        let fs = &*self.shared.fs;
        let Some(segment) = view.segments.get_mut(&first) else {
            return;
        };
        let file = match &segment.writer {
            Some(file) => Arc::clone(file),
            None => match fs.open(&segment.path, Open::Write) {
                Ok(file) => file,
                Err(_) => return,
            },
        };
        // Made by any writer, this process's or another's. Cut even when the size is already
        // right: that also gives back the space reserved past the end for records that went
        // into the next segment.
        if file.len().is_ok_and(|len| len < end) {
            return;
        }
        match file.set_len(end) {
            Ok(()) => {
                segment.allocated = end;
                segment.free_from = Some(end);
            }
            Err(e) => tracing::warn!(
                segment = %segment.path.display(),
                error = %e,
                "could not cut the free space off a closed journal segment; it stays, read as free space"
            ),
        }
    }

    /// Creates the segment whose first commit is `first`.
    fn start_segment(&self, view: &mut View, first: u64) -> Result<()> {
        let fs = &*self.shared.fs;
        let path = self.shared.segments.join(segment_name(first));
        match fs.open(&path, Open::CreateNew) {
            Ok(_) => {}
            // Left empty by a writer that died right after creating it: written from its start.
            // Anything else there means this writer's view of the end is wrong: never write
            // over it.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let size = fs
                    .open(&path, Open::Read)
                    .and_then(|file| file.len())
                    .map_err(|e| Error::io("look at", &path, e))?;
                if size > 0 {
                    return Err(Error::CorruptCommit {
                        commit: first,
                        location: path.display().to_string(),
                        problem: format!(
                            "already holds {size} bytes, although the journal's end was found before it; nothing was written over it (run 'foldstore verify')"
                        ),
                    });
                }
            }
            Err(e) => return Err(Error::io("create", path, e)),
        }
        if self.shared.durability == Durability::Immediate {
            // A failure leaves an empty segment, which the next writer takes over.
            fs.sync_dir(&self.shared.segments)
                .map_err(|e| Error::io("sync the folder", &self.shared.segments, e))?;
        }
        tracing::debug!(segment = %path.display(), "started a journal segment");
        let mut segment = Segment::new(path, first);
        // Empty, made (or found empty) by this writer.
        segment.free_from = Some(0);
        segment.from_start = true;
        view.segments.insert(first, segment);
        Ok(())
    }

    /// Copies the bytes of `segment` from `offset` on into the quarantine, then cuts them off.
    /// When they cannot be kept (a full disk), nothing is cut and nothing is left behind in the
    /// quarantine: the write that needed the cut fails, and the next one tries again.
    fn cut_torn_tail(&self, segment: &Path, offset: u64, problem: &str) -> Result<Option<PathBuf>> {
        let fs = &*self.shared.fs;
        let file = fs
            .open(segment, Open::Write)
            .map_err(|e| Error::io("open", segment, e))?;
        // Only the bytes from `offset` on: the segment before them may be large.
        let size = file.len().map_err(|e| Error::io("look at", segment, e))?;
        if size - offset.min(size) > self.torn_tail_limit() {
            return Err(self.layout_error(format!(
                "{} holds {} bytes after its last whole record, from byte {offset} ({problem}): far more than an interrupted write leaves (at most {} bytes), so it is not cut off and nothing was written; if the file is not a journal segment, move it out of the store",
                segment.display(),
                size - offset,
                self.torn_tail_limit()
            )));
        }
        let mut bytes = vec![0; usize::try_from(size.saturating_sub(offset)).unwrap_or(0)];
        let filled =
            read_full_at(&*file, &mut bytes, offset).map_err(|e| Error::io("read", segment, e))?;
        bytes.truncate(filled);
        // Without the free space at its end.
        let torn = &bytes[..bytes
            .iter()
            .rposition(|b| *b != FREE)
            .map_or(0, |at| at + 1)];
        if !torn.is_empty() {
            let folder = self.shared.loose.quarantine_folder()?;
            let stamp = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis());
            let name = segment
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
            static COPIES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            let to = folder.join(format!(
                "{name}.torn-at-{offset}.{stamp}.{}-{}",
                std::process::id(),
                COPIES.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            ));
            // Removed again if it cannot be written whole.
            fs.write_new(&to, torn, true)
                .map_err(|e| Error::io("keep the torn end of the journal in", &to, e))?;
            let cut = fs
                .sync_dir(&folder)
                .map_err(|e| Error::io("sync the folder", &folder, e))
                .and_then(|()| {
                    file.set_len(offset)
                        .and_then(|()| file.sync_data())
                        .map_err(|e| Error::io("cut the torn end of", segment, e))
                });
            if let Err(e) = cut {
                // While the tail is still in the segment, it is kept again by the write that
                // cuts it: the copy made for this attempt goes, so that failures do not pile
                // up. Once cut, the copy is all there is of it, and stays.
                if file.len().map_or(true, |len| len > offset) {
                    if let Err(removed) = fs.remove(&to) {
                        tracing::warn!(copy = %to.display(), error = %removed, "could not remove the copy of a torn journal end whose cut failed");
                    }
                }
                return Err(e);
            }
            tracing::warn!(
                segment = %segment.display(),
                offset,
                bytes = torn.len(),
                quarantine = %to.display(),
                problem,
                "cut off the torn end of a journal segment (a write was interrupted: a writer died, or the machine stopped); the bytes are kept in the quarantine"
            );
            return Ok(Some(to));
        }
        // Only free space: nothing to keep.
        file.set_len(offset)
            .and_then(|()| file.sync_data())
            .map_err(|e| Error::io("cut the torn end of", segment, e))?;
        Ok(None)
    }

    /// The most bytes an interrupted write can leave after a segment's last whole record: one
    /// batch's records in one segment (up to the segment size, and one record past it, of at
    /// most [`MAX_DOCUMENT_BYTES`](super::MAX_DOCUMENT_BYTES)) and the free space after them.
    fn torn_tail_limit(&self) -> u64 {
        self.shared.segment_bytes + super::MAX_DOCUMENT_BYTES + PREALLOCATE + 4096
    }

    /// The damage in the last segment that a machine crash left, if it is what one leaves: a
    /// gap (free space or zeros where a record starts: a later part of an unsynced write
    /// reached the disk, an earlier one did not), with nothing but that write after it. Its
    /// segment's first commit and the damage.
    fn leftover(&self, view: &mut View) -> Result<Option<(u64, Damage)>> {
        self.find_end(view)?;
        let fs = &*self.shared.fs;
        let Some(first) = view.chain_end else {
            return Ok(None);
        };
        let segment = view.segments.get_mut(&first).expect("on the chain");
        let Some(damage) = segment.damage.values().next().cloned() else {
            return Ok(None);
        };
        let file = segment
            .file(fs)
            .map_err(|e| Error::io("open", &segment.path, e))?;
        let mut head = [0u8; 1];
        let read = read_full_at(&*file, &mut head, damage.offset)
            .map_err(|e| Error::io("read", &segment.path, e))?;
        let gap = read == 1 && (head[0] == FREE || head[0] == 0);
        Ok(gap.then_some((first, damage)))
    }

    /// Queues a request and waits for its outcome; writes batches while leading.
    fn submit(&self, kind: Kind, document: &[u8]) -> Result<Result<u64, Conflict>> {
        let shared = &self.shared;
        let mut queue = shared.queue.lock().unwrap_or_else(|e| e.into_inner());
        let ticket = queue.next_ticket;
        queue.next_ticket += 1;
        queue.pending.push(Request {
            ticket,
            kind,
            document: document.to_vec(),
        });
        loop {
            if let Some(outcome) = queue.done.remove(&ticket) {
                return outcome;
            }
            if !queue.leading {
                queue.leading = true;
                let batch = std::mem::take(&mut queue.pending);
                drop(queue);
                let mut leading = Leading {
                    shared,
                    tickets: batch.iter().map(|r| r.ticket).collect(),
                    finished: false,
                };
                let outcomes = self.write_batch(&batch);
                leading.finished = true;
                queue = shared.queue.lock().unwrap_or_else(|e| e.into_inner());
                match outcomes {
                    Ok(outcomes) => {
                        for (request, outcome) in batch.iter().zip(outcomes) {
                            queue.done.insert(request.ticket, outcome);
                        }
                    }
                    Err(e) => {
                        let message = e.to_string();
                        let mut own = Some(e);
                        for request in &batch {
                            let error = if request.ticket == ticket {
                                own.take().expect("once")
                            } else {
                                Error::Backend {
                                    backend: "journal",
                                    message: message.clone(),
                                    source: None,
                                }
                            };
                            queue.done.insert(request.ticket, Err(error));
                        }
                    }
                }
                queue.leading = false;
                shared.turn.notify_all();
                continue;
            }
            queue = shared.turn.wait(queue).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// The leader's turn: if the leader stops without finishing (a panic), its batch is told the
/// outcome is unknown and another writer may lead, instead of every writer waiting for ever.
struct Leading<'s> {
    shared: &'s Shared,
    tickets: Vec<u64>,
    finished: bool,
}

impl Drop for Leading<'_> {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let mut queue = self.shared.queue.lock().unwrap_or_else(|e| e.into_inner());
        for ticket in &self.tickets {
            queue.done.entry(*ticket).or_insert_with(|| {
                Err(Error::Backend {
                    backend: "journal",
                    message: "outcome unknown: the writer of this commit's batch stopped while writing it; read the log's end before writing it again".to_owned(),
                    source: None,
                })
            });
        }
        queue.leading = false;
        self.shared.turn.notify_all();
    }
}

/// The parts of a batch: the outcome of each request that conflicts (`None` for the others),
/// and the records to write, by segment.
struct Plan {
    conflicts: Vec<Option<Result<Result<u64, Conflict>>>>,
    parts: Vec<Part>,
}

/// The records of a batch that go into one segment.
struct Part {
    /// The segment's first commit.
    first: u64,
    /// Where the records start in it.
    start: u64,
    /// Whether the segment is started by this part.
    new_segment: bool,
    /// The segment closed before this one starts, and where its records end.
    close: Option<(u64, u64)>,
    path: PathBuf,
    records: Vec<u8>,
    written: Vec<Written>,
}

/// One record of a [`Part`]: its request, its commit number, its offset.
struct Written {
    request: usize,
    number: u64,
    at: u64,
}

/// How writing a part failed.
#[derive(Debug)]
enum PartError {
    /// Nothing of the part is in the segment.
    NotWritten(Error),
    /// The records may be in the segment (and read), or not.
    Unknown {
        action: &'static str,
        error: io::Error,
    },
}

/// Releases the writers' lock when dropped.
struct Unlock<'f>(&'f dyn Handle);

impl Drop for Unlock<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.0.unlock() {
            tracing::warn!(error = %e, "cannot release the journal's lock");
        }
    }
}

impl Storage for JournalStorage {
    fn ensure_created(&self) -> Result<()> {
        self.shared.loose.ensure_created()?;
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
        self.shared.loose.exists()
    }

    fn list(&self) -> Result<Listing> {
        let mut listing = self.shared.loose.list()?;
        let mut view = self.view();
        let (next, tail) = self.find_end(&mut view)?;
        listing.commits = (1..next).collect();
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
                        self.shared.loose.snapshot_location(name, *commit)
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

    fn snapshots(&self) -> Result<super::SnapshotsFound> {
        Ok((self.shared.loose.list()?.snapshots, None))
    }

    fn sync_all(&self) -> Result<()> {
        super::folder::sync_file_system(&self.shared.path)
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

    fn create_commit(&self, number: u64, document: &[u8]) -> Result<Result<(), Conflict>> {
        check_commit_number(number)?;
        super::check_document_size(document)?;
        Ok(self.submit(Kind::Create(number), document)?.map(|_| ()))
    }

    fn append_commit(&self, first: u64, document: &[u8]) -> Result<u64> {
        super::check_document_size(document)?;
        match self.submit(Kind::Append(first.max(1)), document)? {
            Ok(number) => Ok(number),
            Err(conflict) => unreachable!("an append never conflicts: {conflict}"),
        }
    }

    fn read_snapshot(&self, name: &str, commit: u64) -> Result<Option<Vec<u8>>> {
        self.shared.loose.read_snapshot(name, commit)
    }

    fn create_snapshot(
        &self,
        name: &str,
        commit: u64,
        document: &[u8],
    ) -> Result<Result<(), Conflict>> {
        self.shared.loose.create_snapshot(name, commit, document)
    }

    fn crash_leftover(&self) -> Result<Option<super::Leftover>> {
        let mut view = self.view();
        self.load(&mut view)?;
        let Some((_, damage)) = self.leftover(&mut view)? else {
            return Ok(None);
        };
        let segment = &view.segments[&view.chain_end.expect("found")];
        let Error::CorruptCommit {
            location, problem, ..
        } = damage.error(damage.first, &segment.path)
        else {
            unreachable!("damage is a damaged commit")
        };
        Ok(Some(super::Leftover {
            first: damage.first,
            location,
            problem,
        }))
    }

    /// Moves what a machine crash left at the end of the journal aside: commit `number`, a
    /// torn write behind a gap (see [`Storage::crash_leftover`]), and everything after it in
    /// the last segment, into the quarantine. Anything else is refused.
    fn quarantine_commit(&self, number: u64) -> Result<String> {
        let location = self.commit_location(number);
        let refused = |problem: String| Error::RepairRefused {
            location: location.clone(),
            problem,
        };
        // This process's writers wait: the file lock does not keep them apart.
        let shared = &self.shared;
        let mut queue = shared.queue.lock().unwrap_or_else(|e| e.into_inner());
        while queue.leading {
            queue = shared.turn.wait(queue).unwrap_or_else(|e| e.into_inner());
        }
        queue.leading = true;
        drop(queue);
        let _leading = Leading {
            shared,
            tickets: Vec::new(),
            finished: false,
        };
        let lock = self.lock_handle()?;
        let lock_path = self.shared.segments.join(LOCK_FILE);
        lock.lock().map_err(|e| Error::io("lock", &lock_path, e))?;
        let _unlock = Unlock(&*lock);
        let mut view = self.view();
        self.load(&mut view)?;
        // Read again from the start, under the lock.
        self.find_end(&mut view)?;
        self.refresh_last_segment(&mut view);
        let Some((first, damage)) = self.leftover(&mut view)? else {
            return Err(refused(
                "is not what a machine crash leaves at the end of a journal (a gap where a record starts, in the last segment): only a backup can mend the journal; 'foldstore copy --force' copies what can be read".to_owned(),
            ));
        };
        if damage.first != number {
            return Err(refused(format!(
                "the damage a crash left starts at commit {}, not {number}: plan the repair again",
                damage.first
            )));
        }
        let segment = view.segments.get_mut(&first).expect("on the chain");
        let path = segment.path.clone();
        let moved = self.cut_torn_tail(&path, damage.offset, &damage.problem)?;
        // What this process knew of the segment from the damage on is gone.
        segment.forget();
        drop(view);
        Ok(moved.map_or_else(
            || format!("{} (only free space: nothing to keep)", path.display()),
            |to| to.display().to_string(),
        ))
    }

    #[cfg(feature = "watch")]
    fn watch(&self) -> Result<Option<Box<dyn super::Watch>>> {
        self.shared.loose.watch_folder(&self.shared.segments)
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
        self.shared.loose.snapshot_location(name, commit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_are_framed_by_length() {
        let mut out = Vec::new();
        encode_record(&mut out, 7, b"{\"a\":\n1}");
        match parse_record(&out) {
            Parsed::Whole {
                number, document, ..
            } => {
                assert_eq!(number, 7);
                assert_eq!(&out[document], b"{\"a\":\n1}");
            }
            _ => panic!("not parsed"),
        }
        for cut in 0..out.len() {
            assert!(
                matches!(parse_record(&out[..cut]), Parsed::Short { .. }),
                "cut at {cut}"
            );
        }
        assert!(matches!(parse_record(b"{\"x\":1}\n"), Parsed::Invalid(_)));
    }

    #[test]
    fn segment_names_are_never_commit_names() {
        assert_eq!(segment_name(1), "00000000000000000001.jsonl");
        assert_eq!(segment_first(&segment_name(12345)), Some(12345));
        assert_eq!(segment_first("1.log"), None);
        assert_eq!(segment_first("00000000000000000000.jsonl"), None);
    }
}

#[cfg(test)]
#[path = "journal_crash_tests.rs"]
mod crash_tests;

#[cfg(test)]
#[path = "journal_fault_tests.rs"]
mod fault_tests;

#[cfg(test)]
#[path = "journal_race_tests.rs"]
mod race_tests;
