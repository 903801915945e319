//! The hint of the chain of closed segments, `journal/closed-segments.json`: where each closed
//! segment's last record lies, kept by writers, so that a new process finds the log's end
//! without reading the end of every segment.
//!
//! The hint is never trusted: every link it names is checked against the segment before it is
//! used (the segment is listed, and a whole record with a matching checksum, numbered one
//! before the next segment's first commit, ends exactly at the segment's size), and the links
//! are taken only as far as they check out from the chain's first segment (commit 1's, or, in
//! an archived journal, that of the segment holding the log's start: the links before it,
//! whose segments archiving removed, are passed over). A missing, unreadable, malformed,
//! stale or hostile hint thus costs only the walk that it would have saved: the chain is then
//! followed from the first link that did not check out, reading the segments' ends as before.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::record::{parse_record, Parsed};
use super::scan::{plausible, read_full_at};
use super::segment::Segment;
use super::{JournalStorage, View};
use crate::storage::local::fs::{FileSystem, Open};
use crate::storage::{MAX_COMMIT_NUMBER, MAX_DOCUMENT_BYTES};

/// The hint's name, in the segment folder (not a segment's name: it does not end in `.jsonl`).
pub(super) const HINT_FILE: &str = "closed-segments.json";

/// The name the hint is written under before it is renamed into place (by one writer at a
/// time: only the holder of the writers' lock writes it). A temporary file's name, which
/// `foldstore gc` removes when a writer stopped before renaming it.
const HINT_TEMPORARY: &str = ".foldstore-tmp-closed-segments.json";

/// The most bytes a hint is read of: about 250,000 closed segments (16 TiB of the default
/// segment size); a journal with more is opened by walking the segments after them.
const HINT_MOST: u64 = 16 << 20;

/// The hint's `format` member.
const HINT_FORMAT: &str = "foldstore-journal-closed-segments";

/// A closed segment on the chain from commit 1: its first commit, its last, and the offset of
/// its last record, which ends at the segment's size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Link {
    pub(super) first: u64,
    pub(super) last: u64,
    pub(super) at: u64,
}

/// The hint as it is stored: `{"format":…,"segments":[[first, last, offset of last], …]}`.
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Stored {
    format: String,
    segments: Vec<(u64, u64, u64)>,
}

/// The first commit of the segment after the links (`anchor`, the chain's first segment's,
/// when there is none).
pub(super) fn after(links: &[Link], anchor: u64) -> Option<u64> {
    links
        .last()
        .map_or(Some(anchor.max(1)), |link| link.last.checked_add(1))
}

/// The segment's size, when its last record is a whole record with a matching checksum,
/// numbered `link.last`, that starts at `link.at` and ends at that size (`None` otherwise).
fn check_link(fs: &dyn FileSystem, segment: &mut Segment, link: Link) -> Option<u64> {
    let file = segment.file(fs).ok()?;
    let size = file.len().ok()?;
    // A record holds a document of at most MAX_DOCUMENT_BYTES and a short header.
    let length = match size.checked_sub(link.at) {
        Some(length) if length > 0 && length <= MAX_DOCUMENT_BYTES + 128 => length,
        _ => return None,
    };
    // The record's header first: a link naming a long record is read whole only when the
    // header says it is that long.
    let mut head = vec![0; usize::try_from(length.min(HEADER_READ)).unwrap_or(0)];
    if read_full_at(&*file, &mut head, link.at).ok() != Some(head.len()) {
        return None;
    }
    let claimed = record_length(&head)?;
    if claimed != length {
        return None;
    }
    let mut record = head;
    if length > HEADER_READ {
        record.resize(usize::try_from(length).ok()?, 0);
        let rest = &mut record[usize::try_from(HEADER_READ).ok()?..];
        if read_full_at(&*file, rest, link.at + HEADER_READ).ok() != Some(rest.len()) {
            return None;
        }
    }
    match parse_record(&record) {
        Parsed::Whole {
            number,
            document,
            length,
            crc,
        } if number == link.last
            && length == record.len()
            && crc32fast::hash(&record[document.clone()]) == crc =>
        {
            Some(size)
        }
        _ => None,
    }
}

/// What [`check_link`] reads first of a record: more than any record's header.
const HEADER_READ: u64 = 4096;

/// The whole length (header, document and newline) that the record starting `head` claims,
/// read from its header (`None`: not a record's header, or cut off before its length).
fn record_length(head: &[u8]) -> Option<u64> {
    match parse_record(head) {
        Parsed::Whole { length, .. } => Some(length as u64),
        Parsed::Short { needed } => Some(needed as u64),
        Parsed::Invalid(_) => None,
    }
}

impl JournalStorage {
    fn hint_path(&self) -> PathBuf {
        self.shared.segments.join(HINT_FILE)
    }

    /// The hint's bytes, if it is a regular file of at most [`HINT_MOST`] bytes (a larger one
    /// is passed over, as a hint that does not check out is).
    fn read_hint(&self) -> Option<Vec<u8>> {
        let path = self.hint_path();
        let file = self.shared.fs.open(&path, Open::Read).ok()?;
        let size = file.len().ok()?;
        if size > HINT_MOST {
            tracing::debug!(hint = %path.display(), size, "journal hint ignored: larger than any hint");
            return None;
        }
        let mut bytes = vec![0; usize::try_from(size).ok()?];
        (read_full_at(&*file, &mut bytes, 0).ok()? == bytes.len()).then_some(bytes)
    }

    /// Takes the links of the hint that check out, from the chain's first segment
    /// (`view.anchor`) on, into `view` (which knows
    /// no chain yet), and sets the chain's end to the last of them, whose end is then known.
    /// Returns whether any did.
    pub(super) fn follow_hint(&self, view: &mut View) -> bool {
        let fs = &*self.shared.fs;
        let Some(bytes) = self.read_hint() else {
            return false;
        };
        let Ok(stored) = serde_json::from_slice::<Stored>(&bytes) else {
            tracing::debug!(hint = %self.hint_path().display(), "journal hint ignored: not a hint");
            return false;
        };
        if stored.format != HINT_FORMAT {
            return false;
        }
        let mut links: Vec<Link> = Vec::new();
        let mut checked_size = 0;
        let anchor = view.anchor.max(1);
        // Links before the chain's first segment (removed by archiving) are passed over.
        let from = stored
            .segments
            .iter()
            .position(|(first, _, _)| *first >= anchor);
        for &(first, last, at) in &stored.segments[from.unwrap_or(stored.segments.len())..] {
            let link = Link { first, last, at };
            // Each link continues the one before; the records of its segment go from its
            // first commit to its last.
            // No further than a commit number can go, and no more records before the last
            // than its offset can have held.
            if after(&links, anchor) != Some(first)
                || last < first
                || last > MAX_COMMIT_NUMBER
                || !plausible(first, last, at)
            {
                break;
            }
            let Some(segment) = view.segments.get_mut(&first) else {
                break;
            };
            let Some(size) = check_link(fs, segment, link) else {
                break;
            };
            links.push(link);
            checked_size = size;
        }
        let Some(&last) = links.last() else {
            return false;
        };
        let segment = view.segments.get_mut(&last.first).expect("checked");
        // The size the last link was checked against: the file may have grown since (a
        // segment another process still writes, which a hostile hint may name).
        let size = checked_size;
        segment.note_end(last.last + 1, size);
        segment.last = Some((last.last, last.at));
        // Nothing follows the last record: it ends at the segment's size.
        segment.free_from = Some(size);
        view.chain_end = Some(last.first);
        view.hinted = links.len();
        view.links = links;
        true
    }

    /// Adds the segment starting at `first`, which the chain follows with the segment
    /// starting at `next`, to the links known, when it continues them and its last record
    /// (commit `next - 1`) is known to end at the segment's size.
    pub(super) fn add_link(&self, view: &mut View, first: u64, next: u64) {
        if after(&view.links, view.anchor) != Some(first) {
            return;
        }
        let fs = &*self.shared.fs;
        let Some(segment) = view.segments.get_mut(&first) else {
            return;
        };
        let (Some((last, at)), Some((end_next, end))) = (segment.last, segment.end) else {
            return;
        };
        if last.checked_add(1) != Some(next) || end_next != next {
            return;
        }
        if segment.file(fs).and_then(|file| file.len()).ok() != Some(end) {
            return;
        }
        view.links.push(Link { first, last, at });
    }

    /// Writes the links known into the hint, when they go further than the hint as this
    /// process last read or wrote it. Called by a writer holding the writers' lock. A hint
    /// that cannot be written only costs later readers a longer walk: the failure is logged.
    pub(super) fn write_hint(&self, view: &mut View) {
        if view.links.len() <= view.hinted {
            return;
        }
        view.hinted = view.links.len();
        let stored = Stored {
            format: HINT_FORMAT.to_owned(),
            segments: view
                .links
                .iter()
                .map(|link| (link.first, link.last, link.at))
                .collect(),
        };
        let bytes = serde_json::to_vec(&stored).expect("numbers and a string");
        if bytes.len() as u64 > HINT_MOST {
            // Readers would pass it over; the hint there names the first segments still.
            return;
        }
        let fs = &*self.shared.fs;
        let temporary = self.shared.segments.join(HINT_TEMPORARY);
        // Left by a writer that stopped between writing and renaming it.
        let _ = fs.remove(&temporary);
        let written = fs
            .write_new(&temporary, &bytes, false)
            .and_then(|()| fs.rename(&temporary, &self.hint_path()));
        if let Err(e) = written {
            let _ = fs.remove(&temporary);
            tracing::warn!(hint = %self.hint_path().display(), error = %e, "could not write the journal's hint of its closed segments; new processes read the end of each segment instead");
        }
    }
}
