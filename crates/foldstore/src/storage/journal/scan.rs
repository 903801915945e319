//! Reading a segment file's records: the scanner that walks whole records from a known
//! position, and the search for a whole record after damage (which proves it is damage, not a
//! torn end).

use std::io;
use std::path::Path;

use super::record::{parse_record, Parsed, FREE};
use crate::error::{Error, Result};
use crate::storage::local::fs::Handle;

/// One position in memory per this many commits.
pub(super) const INDEX_EVERY: u64 = 32;

/// How much of a segment is read at a time when scanning.
const CHUNK: usize = 1 << 20;

/// What a scan of a segment found after its last whole record.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Tail {
    /// The segment ends after a whole record.
    Clean,
    /// Bytes that are not (yet) a whole record: a write in progress, or torn by a crash.
    Unfinished { offset: u64, problem: String },
}

/// Fills `buf` from `offset` as far as the file goes; returns how much was read.
pub(super) fn read_full_at(file: &dyn Handle, buf: &mut [u8], offset: u64) -> io::Result<usize> {
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
/// follows it to the end of the file (checked, unless the caller knows it to be so: it starts
/// at `free_from`, or records written over free space from there lead to it): other bytes
/// after it make the records end there `Unfinished`, as damage does, so that every reader,
/// whether it came from the segment's start or from its end, finds the same end or the same
/// damage.
pub(super) fn scan(
    file: &dyn Handle,
    mut number: u64,
    mut offset: u64,
    free_from: Option<u64>,
    mut found: impl FnMut(u64, u64, &[u8], std::ops::Range<usize>) -> bool,
) -> io::Result<(u64, u64, Tail, Option<u64>)> {
    // The thread's buffer, reused: a replay scans once per batch.
    let mut buf = ScanBuffer::take();
    // Small first, so that reading one record reads little; larger as the scan goes on.
    let mut size = 4 << 10;
    buf.grow(size);
    loop {
        let filled = read_full_at(file, &mut buf.0[..size], offset)?;
        if filled == 0 {
            return Ok((number, offset, Tail::Clean, Some(offset)));
        }
        let mut at = 0;
        while at < filled {
            if buf.0[at] == FREE {
                if written_over_free(free_from, offset) {
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

/// Whether free space met at `offset` is known to run to the end of the file: free space was
/// known to run to the end from `free_from`, and `offset` is not before it. A scan starts at a
/// record that the segment's reader reached through whole records, so whole records lie from
/// `free_from` to `offset`: writers append only where the records end, so they were written
/// over the start of that free space, and the rest is still free. (A write interrupted by a
/// process's death leaves its bytes in order, without gaps; what a machine crash leaves is
/// looked at by the next process, which knows no free space yet.)
fn written_over_free(free_from: Option<u64>, offset: u64) -> bool {
    free_from.is_some_and(|free| free <= offset)
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
pub(super) struct Scanned {
    pub(super) next: u64,
    pub(super) end: u64,
    pub(super) tail: Tail,
    /// Where the records ended at free space (or at the end of the file) that was checked.
    pub(super) free_at: Option<u64>,
    /// Positions of the commits on the grid ([`INDEX_EVERY`]).
    pub(super) grid: Vec<(u64, u64)>,
    /// The last whole record passed.
    pub(super) last: Option<(u64, u64)>,
}

/// [`scan`] with the errors naming the segment, keeping the positions a segment remembers.
pub(super) fn scan_file(
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

/// The fewest bytes a record takes (`{"n":1,"len":2,"crc32":"…","commit":{}}` and a newline
/// take 47): a stretch of damage cannot have held more records than its bytes allow.
const MIN_RECORD: u64 = 40;

/// Whether the commits `first..until` can have occupied `bytes` bytes.
pub(super) fn plausible(first: u64, until: u64, bytes: u64) -> bool {
    (until - first).saturating_mul(MIN_RECORD) <= bytes
}

/// The first whole record with a valid checksum after `offset` in `file` (at the start of a
/// line) that is numbered after `number` and no further than the bytes before it can have held
/// ([`plausible`]): its number and offset. It proves that the bytes at `offset` (where commit
/// `number` belongs) are damage inside the segment, not an end torn by a crash or a write in
/// progress, and it is where the records go on after the damage. Reads the file a window at
/// a time, at most 256 MiB from `offset`.
pub(super) fn record_after(
    file: &dyn Handle,
    offset: u64,
    number: u64,
) -> io::Result<Option<(u64, u64)>> {
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
pub(super) fn record_ends(file: &dyn Handle, offset: u64, size: u64) -> io::Result<u64> {
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
