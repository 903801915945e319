//! Reading the log: the chain of segments from commit 1, finding where a commit starts, judging
//! what follows where a scan stopped (damage inside, the next segment, or the end of the log),
//! finding the log's end, and reading commits (also damaged ones, as they are stored).

use std::io;

use super::record::{parse_record, Parsed, FREE};
use super::scan::{read_full_at, record_after, record_ends, scan, scan_file, Tail};
use super::segment::{find_last_record, scan_segment, segment_first, segment_name, Segment};
use super::{JournalStorage, View};
use crate::error::{Error, Result};
use crate::storage::{Storage, MAX_DOCUMENT_BYTES};

/// What follows where a scan of a segment stopped.
enum After {
    /// Damage, now recorded in the segment: scan again.
    Damage,
    /// The log goes on in the segment starting at this commit.
    Segment(u64),
    /// The end of the log, clean or torn.
    End(Tail),
}

impl JournalStorage {
    pub(super) fn list_segments(&self, view: &mut View) -> Result<()> {
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

    /// Whether commit `number` is the one after the log's end as this view knows it, and not
    /// written yet: free space where its record would start, and no segment named for it. A
    /// look at one byte, for the probes of the log's end that every `Store::tip` makes, which
    /// [`locate`](Self::locate) would answer by checking that only free space follows, to the
    /// end of the preallocated file, each time the end moved. (Whether damage lies behind the
    /// free space is found by the readers and writers that go on past it.)
    pub(super) fn not_written_yet(&self, view: &mut View, number: u64) -> Result<bool> {
        let Some(last) = view.chain_end else {
            return Ok(false);
        };
        let fs = &*self.shared.fs;
        let segment = view.segments.get_mut(&last).expect("on the chain");
        if segment.end.map(|(next, _)| next) != Some(number) || segment.first() == number {
            return Ok(false);
        }
        let offset = segment.end.map_or(0, |(_, offset)| offset);
        let file = segment
            .file(fs)
            .map_err(|e| Error::io("open", &segment.path, e))?;
        let mut byte = [0];
        let read = read_full_at(&*file, &mut byte, offset)
            .map_err(|e| Error::io("read", &segment.path, e))?;
        Ok(read == 1 && byte[0] == FREE && !self.discover(view, number))
    }

    /// Finds where commit `number` starts: the segment's first number and the offset, or
    /// `None` when there is no such commit (yet). Learns of other writers' appends. A commit
    /// inside damage is [`Error::CorruptCommit`].
    pub(super) fn locate(&self, view: &mut View, number: u64) -> Result<Option<(u64, u64)>> {
        match self.locate_once(view, number) {
            Err(e) if is_not_found(&e) && self.relist_after_archiving(view) => {
                tracing::debug!(error = %e, "segments removed by archiving; commit {number} is looked for again");
                self.locate_once(view, number)
            }
            found => found,
        }
    }

    fn locate_once(&self, view: &mut View, number: u64) -> Result<Option<(u64, u64)>> {
        self.load(view)?;
        if view.segments.is_empty() {
            // Another process may have written the first commit since this one looked.
            self.list_segments(view)?;
        }
        let fs = &*self.shared.fs;
        let mut looked_again = false;
        loop {
            let Some((&first, _)) = view.segments.range(..=number).next_back() else {
                return Ok(None);
            };
            let segment = view.segments.get_mut(&first).expect("just found");
            if let Some(damage) = segment.damage_at(number) {
                return Err(damage.error(number, &segment.path));
            }
            let (from, offset) = segment.start_for(number);
            // Where a record was seen whole (a position of the index, or the last record): not
            // the end, where a write in progress is no sign of anything.
            let from_record = offset != 0
                && (segment.positions.get(&from) == Some(&offset)
                    || segment.last == Some((from, offset)));
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
            // The record this process saw whole there is not there any more: another process
            // cut the segment and wrote it again (a repair), and what this one knew of it is
            // stale. Read it again from its start, once.
            if from_record
                && !looked_again
                && matches!(&tail, Tail::Unfinished { offset: at, .. } if *at == offset)
            {
                tracing::debug!(segment = %segment.path.display(), commit = from, "a known record moved; the segment is read again from its start");
                segment.forget();
                looked_again = true;
                continue;
            }
            let known_next = segment.end.map(|(next, _)| next);
            segment.note_end(next, end);
            let after = self.after_scan(view, first, next, tail)?;
            if matches!(after, After::End(Tail::Clean)) {
                self.still_there(view, first, known_next, (next, end), None)?;
            }
            match after {
                // Damage was found and recorded: look again.
                After::Damage => continue,
                After::Segment(later) if later <= number => continue,
                // Damage found just now, up to the segment's end, may cover it.
                After::Segment(_) if view.segments[&first].damage_at(number).is_some() => continue,
                After::Segment(_) | After::End(_) => return Ok(None),
            }
        }
    }

    /// Checks, when the log was found to end in the segment starting at `first` (its records
    /// ending at commit `next`, at byte `end`), that the segment is still there: archiving in
    /// another process may have removed it while this process kept it open (its handle still
    /// reads it). Archiving removes a segment only once the next one was made, and that one is
    /// missing, so a segment still there holds the log's end. Asked (without asking for the
    /// file's times, which would make its next write costlier) only when that can have
    /// happened since this process last looked:
    /// - the scan found records it did not know of (`known_next` before it: other writers
    ///   appended, perhaps up to closing the segment);
    /// - the segment is full by this process's segment size (the next one is due);
    /// - or no free space follows its records (`len`, the file's size, when the caller knows
    ///   it): how a writer leaves a segment it closed, whatever its own segment size. A
    ///   segment being written durably keeps free space after its records; one this process
    ///   writes without syncs has none, and is not asked for then.
    ///
    /// A look that fails otherwise than with "not found" is taken for "still there" (logged):
    /// it never turns an answer into an error.
    ///
    /// # Errors
    /// A file not found, naming the segment, when it is gone: the caller lists the segment
    /// folder again when the store was archived.
    fn still_there(
        &self,
        view: &mut View,
        first: u64,
        known_next: Option<u64>,
        (next, end): (u64, u64),
        len: Option<u64>,
    ) -> Result<()> {
        let fs = &*self.shared.fs;
        let segment = view.segments.get_mut(&first).expect("scanned");
        let moved = known_next.is_none_or(|known| next > known);
        // Unsynced writers keep no free space: a segment this process writes so, with nothing
        // new in it, is its own (see the caveat in docs/design.md, "Archiving").
        let unsynced_own = segment.writer.is_some()
            && self.shared.durability != crate::storage::Durability::Immediate;
        let ask = moved
            || end >= self.shared.segment_bytes
            || !unsynced_own
                && len
                    .or_else(|| segment.file(fs).and_then(|file| file.len()).ok())
                    .is_none_or(|len| len <= end);
        if !ask {
            return Ok(());
        }
        match fs.exists(&segment.path) {
            Ok(false) => Err(Error::io(
                "look at",
                &segment.path,
                io::Error::new(
                    io::ErrorKind::NotFound,
                    "the segment was removed while this process had it open: if no archiving removed it, restore it from a backup ('foldstore verify' names what is missing)",
                ),
            )),
            Ok(true) => Ok(()),
            Err(e) => {
                // Warned of once a process (it would repeat at every look), then logged.
                static WARNED: std::sync::atomic::AtomicBool =
                    std::sync::atomic::AtomicBool::new(false);
                if WARNED.swap(true, std::sync::atomic::Ordering::Relaxed) {
                    tracing::debug!(segment = %segment.path.display(), error = %e, "cannot tell whether a journal segment is still there; taken as there");
                } else {
                    tracing::warn!(segment = %segment.path.display(), error = %e, "cannot tell whether a journal segment is still there (archiving in another process removes segments); taken as there, and not warned of again");
                }
                Ok(())
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
    /// inside. A view that knows no chain yet starts from the last closed segment of the hint
    /// whose links check out (see `hint`), else from the first segment. Returns the number the next commit takes, and the tail the scan found. Segments
    /// that are not on the chain are not the log's: a writer never appends after them.
    pub(super) fn find_end(&self, view: &mut View) -> Result<(u64, Tail)> {
        match self.find_end_once(view) {
            Err(e) if is_not_found(&e) && self.relist_after_archiving(view) => {
                // Another process archived the segments this view walked from: the walk
                // starts again where the log now starts.
                tracing::debug!(error = %e, "segments removed by archiving; the log's end is looked for again");
                self.find_end_once(view)
            }
            found => found,
        }
    }

    /// After a walk or a search failed with a file not found: when the store is archived and
    /// segments this view knows before the log's start are gone (removed by archiving in
    /// another process), drops them (the chain's end too when it is one of them, so that the
    /// walk starts again from the segment holding the start), lists the segment folder again
    /// and returns `true`. `false` otherwise (the error stands): no marker, none of those
    /// gone (a segment missing at or after the start is a problem of its own), or no segment
    /// at or before the start left.
    pub(super) fn relist_after_archiving(&self, view: &mut View) -> bool {
        let Ok(Some(start)) = self.archived_start() else {
            return false;
        };
        let fs = &*self.shared.fs;
        // Gone, and before the start (archiving removes no other): another missing segment is
        // a problem of its own, whose error comes when it is read.
        let gone: Vec<u64> = view
            .segments
            .iter()
            .filter(|(first, segment)| {
                **first < start && matches!(fs.exists(&segment.path), Ok(false))
            })
            .map(|(first, _)| *first)
            .collect();
        if gone.is_empty() {
            return false;
        }
        for first in &gone {
            view.segments.remove(first);
        }
        if view.chain_end.is_some_and(|end| gone.contains(&end)) {
            // The walk starts again from the segment holding the start; a chain end still
            // there (a writer's, between its walk and its write) is kept.
            view.chain_end = None;
            view.links.clear();
            view.hinted = 0;
            view.anchor = 0;
        }
        self.shared
            .removals_noticed
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        if self.list_segments(view).is_err() {
            return false;
        }
        view.segments.range(..=start).next().is_some()
    }

    /// The log's start as the archive marker says (`None`: no marker).
    pub(super) fn archived_start(&self) -> Result<Option<u64>> {
        Ok(self.archived_marker()?.map(|marker| marker.start))
    }

    /// The archive marker (`None`: none).
    pub(super) fn archived_marker(&self) -> Result<Option<crate::storage::archive::Marker>> {
        let Some(bytes) = self
            .shared
            .folder
            .read_meta(crate::storage::ARCHIVED_MARKER)?
        else {
            return Ok(None);
        };
        // (Not `marker_location`: it would ask for the view this process holds.)
        let path = self
            .shared
            .folder
            .meta_path(crate::storage::ARCHIVED_MARKER)?;
        crate::storage::archive::Marker::parse(&bytes, &path.display().to_string()).map(Some)
    }

    fn find_end_once(&self, view: &mut View) -> Result<(u64, Tail)> {
        self.load(view)?;
        if view.segments.is_empty() {
            // Another process may have written the first commit since this one looked.
            self.list_segments(view)?;
        }
        let fs = &*self.shared.fs;
        let mut current = match view.chain_end {
            Some(first) => first,
            None => match view.segments.keys().next().copied() {
                None => return Ok((1, Tail::Clean)),
                // The links of the hint that check out, then the walk from the last of them.
                Some(1) if self.follow_hint(view) => view.chain_end.expect("followed"),
                Some(1) => 1,
                // An archived journal: its log starts in the segment holding the marker's
                // first commit (its records before it are the archive's).
                Some(other) => match self.archived_chain_start(view)? {
                    // The links of the hint from there on that check out, then the walk.
                    Some(first) => {
                        if view.anchor != first {
                            view.anchor = first;
                            view.links.clear();
                            view.hinted = 0;
                        }
                        if self.follow_hint(view) {
                            view.chain_end.expect("followed")
                        } else {
                            first
                        }
                    }
                    None => return Err(Error::CorruptCommit {
                        commit: 1,
                        location: self.shared.segments.join(segment_name(1)).display().to_string(),
                        problem: format!(
                            "is missing: the journal's first segment is {}, so commits 1 to {} are missing (a gap in the log); restore the missing segments from a backup",
                            segment_name(other),
                            other - 1
                        ),
                    }),
                },
            },
        };
        loop {
            view.chain_end = Some(current);
            let segment = view.segments.get_mut(&current).expect("on the chain");
            // Cut shorter since this process looked (another process's repair, or a torn
            // tail cut by another writer): what it knew of the end is gone.
            let known = segment.furthest().1;
            let len = if known > 0 {
                segment.file(fs).and_then(|file| file.len()).ok()
            } else {
                None
            };
            if len.is_some_and(|len| len < known) {
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
            let known_next = segment.end.map(|(next, _)| next);
            let (next, end, tail) = scan_segment(fs, segment, from, offset, |_, _, _, _| true)?;
            segment.note_end(next, end);
            let after = self.after_scan(view, current, next, tail)?;
            if matches!(after, After::End(Tail::Clean)) {
                self.still_there(view, current, known_next, (next, end), len)?;
            }
            match after {
                After::Damage => {}
                After::Segment(later) => {
                    self.add_link(view, current, later);
                    current = later;
                }
                After::End(tail) => return Ok((next, tail)),
            }
        }
    }

    /// The segment an archived journal's chain starts at, when the store has an archive marker
    /// and no first segment: the one holding the marker's start, which is the highest named
    /// at or before it that begins with its first commit's record. (Archiving removes the
    /// segments before it in order, each removal made durable before the next; those a crash
    /// left hold only archived commits, and a file another program left under a segment's
    /// name is not taken for the log's start.) When none begins so, the lowest at or before
    /// the start, whose walk then reports the damage.
    fn archived_chain_start(&self, view: &mut View) -> Result<Option<u64>> {
        let Some(start) = self.archived_start()? else {
            return Ok(None);
        };
        let candidates: Vec<u64> = view.segments.range(..=start).map(|(n, _)| *n).collect();
        for &candidate in candidates.iter().rev() {
            if self.begins_with_its_first_record(view, candidate)? {
                return Ok(Some(candidate));
            }
        }
        Ok(candidates.first().copied())
    }

    /// Whether segment `first`'s file begins as a record of commit `first` does.
    fn begins_with_its_first_record(&self, view: &mut View, first: u64) -> Result<bool> {
        let fs = &*self.shared.fs;
        let segment = view.segments.get_mut(&first).expect("listed");
        let file = segment
            .file(fs)
            .map_err(|e| Error::io("open", &segment.path, e))?;
        let header = format!("{{\"n\":{first},");
        let mut begins = vec![0; header.len()];
        let filled = read_full_at(&*file, &mut begins, 0)
            .map_err(|e| Error::io("read", &segment.path, e))?;
        Ok(begins[..filled] == *header.as_bytes())
    }

    /// Reads up to `max` commits from `number` on, in order, stopping at the end of the log
    /// or before damage (a read that starts at damage fails with it).
    /// The segments are read without holding the view's lock, so that readers on several
    /// threads read at once.
    pub(super) fn read_from(&self, number: u64, max: usize) -> Result<Vec<Vec<u8>>> {
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
    pub(super) fn read_damaged(&self, number: u64) -> Result<Option<Vec<u8>>> {
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
        let length = (damage.resume - damage.offset).min(MAX_DOCUMENT_BYTES);
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
}

/// Whether `error` is a file not found (a segment removed).
fn is_not_found(error: &Error) -> bool {
    matches!(error, Error::Io { source, .. } if source.kind() == io::ErrorKind::NotFound)
}
