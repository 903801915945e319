//! A segment of the journal (`journal/<first>.jsonl`) as this process knows it: its name, the
//! positions of commits found in it, where its records end, its free space, the writer's handle
//! and size, and the damage found inside it; scans that remember what they passed, and the
//! search for its last record from its end.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::record::{parse_record, Parsed, FREE};
use super::scan::{plausible, read_full_at, scan_file, Scanned, Tail, INDEX_EVERY};
use crate::error::{Error, Result};
use crate::storage::local::fs::{FileSystem, Handle, Open};
use crate::storage::MAX_COMMIT_NUMBER;

/// A stretch of a segment where records are damaged: commits `first..until` cannot be read.
#[derive(Clone, Debug)]
pub(super) struct Damage {
    pub(super) first: u64,
    pub(super) until: u64,
    /// Where commit `first` belongs.
    pub(super) offset: u64,
    /// Where the records go on (commit `until`), or the segment's size when they go on in the
    /// next segment.
    pub(super) resume: u64,
    pub(super) problem: String,
}

impl Damage {
    pub(super) fn error(&self, number: u64, path: &Path) -> Error {
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

#[derive(Debug)]
pub(super) struct Segment {
    pub(super) path: PathBuf,
    pub(super) file: Option<Arc<dyn Handle>>,
    /// Known positions: commit number → offset of its record. Holds the segment's start, every
    /// [`INDEX_EVERY`]th commit seen, and the end of the whole records known (the position of
    /// the next commit).
    pub(super) positions: BTreeMap<u64, u64>,
    /// The number after the last whole record known, and the offset where it would start.
    pub(super) end: Option<(u64, u64)>,
    /// Where the last read stopped: the next commit and its offset.
    pub(super) cursor: Option<(u64, u64)>,
    /// The last whole record known: its commit and offset (what a writer's look back reads).
    pub(super) last: Option<(u64, u64)>,
    /// The segment opened for writing, by this process's writers.
    pub(super) writer: Option<Arc<dyn Handle>>,
    /// Where the records ended when `writer` was opened.
    pub(super) writer_since: u64,
    /// The segment's size as this process's writer knows it: records, then free space.
    pub(super) allocated: u64,
    /// An offset from which nothing but free space follows, as this process last checked or
    /// wrote it: a scan that stops there at free space need not check the rest again.
    pub(super) free_from: Option<u64>,
    /// Whether this process's writers read the segment from its start (see
    /// [`JournalStorage::refresh_last_segment`]): its end is then never taken from its last
    /// bytes.
    pub(super) from_start: bool,
    /// Damage found inside the segment, by its first commit.
    pub(super) damage: BTreeMap<u64, Damage>,
}

impl Segment {
    pub(super) fn new(path: PathBuf, first: u64) -> Self {
        Segment {
            path,
            file: None,
            positions: BTreeMap::from([(first, 0)]),
            end: None,
            cursor: None,
            last: None,
            writer: None,
            writer_since: 0,
            allocated: 0,
            free_from: None,
            from_start: false,
            damage: BTreeMap::new(),
        }
    }

    /// Forgets everything this process learnt of the segment (positions, end, damage, the
    /// writer's handle and size), so that it is read again from its start; the reading handle
    /// is kept.
    pub(super) fn forget(&mut self) {
        let mut fresh = Segment::new(self.path.clone(), self.first());
        fresh.file = self.file.take();
        fresh.from_start = true;
        *self = fresh;
    }

    /// The segment's first commit.
    pub(super) fn first(&self) -> u64 {
        *self
            .positions
            .keys()
            .next()
            .expect("a segment knows its start")
    }

    /// The damage that commit `number` lies in, if any.
    pub(super) fn damage_at(&self, number: u64) -> Option<&Damage> {
        self.damage
            .range(..=number)
            .next_back()
            .map(|(_, damage)| damage)
            .filter(|damage| number < damage.until)
    }

    /// Records damage: commits `first..until` from `offset`, the records going on at `resume`.
    pub(super) fn add_damage(
        &mut self,
        first: u64,
        until: u64,
        offset: u64,
        resume: u64,
        problem: String,
    ) {
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

    pub(super) fn file(&mut self, fs: &dyn FileSystem) -> io::Result<Arc<dyn Handle>> {
        if let Some(file) = &self.file {
            return Ok(Arc::clone(file));
        }
        let file = fs.open(&self.path, Open::Read)?;
        self.file = Some(Arc::clone(&file));
        Ok(file)
    }

    pub(super) fn note(&mut self, number: u64, offset: u64) {
        if number % INDEX_EVERY == 0 {
            self.positions.insert(number, offset);
        }
    }

    /// Remembers the positions a scan passed, and the free space it checked.
    pub(super) fn absorb(&mut self, scanned: &Scanned) {
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

    pub(super) fn note_end(&mut self, next: u64, offset: u64) {
        if self.end.is_none_or(|(known, _)| next >= known) {
            self.end = Some((next, offset));
        }
    }

    /// The nearest known position at or before commit `number`: where a scan for it starts.
    pub(super) fn start_for(&self, number: u64) -> (u64, u64) {
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
    pub(super) fn furthest(&self) -> (u64, u64) {
        self.start_for(u64::MAX)
    }
}

/// [`scan_file`] on a segment, which remembers the positions passed.
pub(super) fn scan_segment(
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

/// Finds the last whole record of a segment by reading its end, not all of it: the number and
/// offset of that record, or `None` when the end holds no record start (then scan instead).
/// The positions of the index's grid among the records read are kept, so that reading the
/// segment's last commits starts near them.
///
/// The record taken is the last of the records that follow each other without a gap from the
/// first record start in the window: when a gap lies after it with whole records behind it
/// (what a machine crash can leave in an unsynced write over free space), the scan from it
/// finds the gap and reports it, as a reader that came from the segment's start does. (A gap
/// before the window is not seen here; a writer reads the segment from its start before its
/// first write.)
pub(super) fn find_last_record(
    fs: &dyn FileSystem,
    segment: &mut Segment,
) -> Result<Option<(u64, u64)>> {
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
    // The whole record with a valid checksum at `at`, numbered `first` or later, no further
    // than a commit number goes nor than the bytes before it can have held: its number and
    // length.
    let whole = |at: usize| match parse_record(&buf[at..]) {
        Parsed::Whole {
            number,
            document,
            length,
            crc,
        } if number >= first
            && number <= MAX_COMMIT_NUMBER
            && plausible(first, number, start + at as u64)
            && crc32fast::hash(&buf[at..][document.clone()]) == crc =>
        {
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
        if last.is_some_and(|(previous, _): (u64, u64)| previous.checked_add(1) != Some(number)) {
            break;
        }
        last = Some((number, start + at as u64));
        // Positions of the index's grid among them: a read of the segment's last commits
        // then starts near them, not at the segment's start.
        segment.note(number, start + at as u64);
        at += length;
    }
    Ok(last)
}

pub(super) fn segment_name(first: u64) -> String {
    format!("{first:020}.jsonl")
}

pub(super) fn segment_first(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".jsonl")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|first| *first > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_names_are_never_commit_names() {
        assert_eq!(segment_name(1), "00000000000000000001.jsonl");
        assert_eq!(segment_first(&segment_name(12345)), Some(12345));
        assert_eq!(segment_first("1.log"), None);
        assert_eq!(segment_first("00000000000000000000.jsonl"), None);
    }
}
