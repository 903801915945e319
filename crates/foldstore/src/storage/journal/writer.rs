//! Writing a batch: under the lock, the log's end found (a torn tail cut off first), numbers
//! given to the requests, records written by segment (starting and closing segments), made
//! durable with one sync, and undone when a write fails.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, MutexGuard};

use super::queue::{Kind, Request, Unlock};
use super::record::{encode_record, FREE};
use super::scan::Tail;
use super::segment::{segment_name, Segment};
use super::{JournalStorage, View, FREE_SPACE_VERSION, LOCK_FILE, PREALLOCATE};
use crate::error::{Error, Result};
use crate::storage::local::fs::{Handle, Kind as PathKind, Open};
use crate::storage::local::{Durability, STALE_TEMPORARY_AGE};
use crate::storage::{check_commit, Conflict, Storage};

impl JournalStorage {
    /// Writes the queued requests as one batch, under the lock; returns each one's outcome, or
    /// an error that concerns them all (nothing of the batch was written).
    pub(super) fn write_batch(
        &self,
        batch: &[Request],
    ) -> Result<Vec<Result<Result<u64, Conflict>>>> {
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
                .folder
                .remove_stale_temporaries(STALE_TEMPORARY_AGE);
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
        // Conditional appends whose writers had not seen the log's end: the commits other
        // processes made since are checked now, still under the lock (read without holding the
        // view, as any reader does; nobody writes meanwhile).
        drop(view);
        let decided = self.check_commits_before(batch, next);
        let mut view = self.view();
        let (first, end) = match view.chain_end {
            Some(first) => (first, view.segments[&first].end.map_or(0, |(_, end)| end)),
            None => (0, 0),
        };
        // Journals older than free space are written without it, as their writers expect.
        let preallocate = view.version >= FREE_SPACE_VERSION;
        let plan = self.plan_batch(batch, decided, next, first, end)?;
        let mut outcomes: Vec<Option<Outcome>> = plan.decided;
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

    /// The outcomes that the commits before `next` decide for the batch's conditional appends
    /// (a conflict, or a commit that cannot be read or judged: nothing written); `None` for
    /// every other request. Commits are read in chunks, each checked by the appends that had
    /// not seen it.
    fn check_commits_before(&self, batch: &[Request], next: u64) -> Vec<Option<Outcome>> {
        let mut decided: Vec<Option<Outcome>> = batch.iter().map(|_| None).collect();
        let since = |request: &Request| match request.kind {
            Kind::AppendIf(first) if first < next => Some(first),
            _ => None,
        };
        let Some(mut number) = batch.iter().filter_map(since).min() else {
            return decided;
        };
        while number < next {
            let wanted = usize::try_from(next - number).map_or(CHECK_CHUNK, |n| n.min(CHECK_CHUNK));
            let commits = match self.read_from(number, wanted) {
                Ok(commits) if !commits.is_empty() => Ok(commits),
                Ok(_) => Err(Error::CorruptCommit {
                    commit: number,
                    location: self.commit_location(number),
                    problem: format!(
                        "the log ends before it, at commit {}, while it was seen under the lock",
                        number - 1
                    ),
                }),
                Err(e) => Err(e),
            }
            .map_err(|e| e.to_string());
            for (index, request) in batch.iter().enumerate() {
                let (Some(first), None) = (since(request), &decided[index]) else {
                    continue;
                };
                let Ok(commits) = &commits else {
                    let problem = commits.as_ref().err().cloned().unwrap_or_default();
                    decided[index] = Some(Err(Error::Backend {
                        backend: "journal",
                        message: format!("a conditional append could not check the commits written since its position; nothing was written: {problem}"),
                        source: None,
                    }));
                    continue;
                };
                for (at, bytes) in (number..).zip(commits) {
                    if at < first {
                        continue;
                    }
                    match check_commit(self, request.check.as_deref().expect("a check"), at, bytes)
                    {
                        Ok(false) => {}
                        Ok(true) => {
                            decided[index] = Some(Ok(Err(Conflict { commit: at })));
                            break;
                        }
                        Err(e) => {
                            decided[index] = Some(Err(e));
                            break;
                        }
                    }
                }
            }
            match commits {
                Ok(commits) => number += commits.len() as u64,
                Err(_) => break,
            }
        }
        decided
    }

    /// Checks a conditional append (from commit `from` on) against the commits of its batch
    /// numbered before it (`assigned`: number and request): its outcome when one conflicts
    /// (or cannot be judged), `None` when it may be written.
    fn check_within_batch(
        &self,
        batch: &[Request],
        request: &Request,
        from: u64,
        assigned: &[(u64, usize)],
    ) -> Option<Outcome> {
        let check = request
            .check
            .as_deref()
            .expect("a conditional append has a check");
        for &(number, earlier) in assigned.iter().filter(|(number, _)| *number >= from) {
            match check(number, &batch[earlier].document) {
                Ok(false) => {}
                Ok(true) => return Some(Ok(Err(Conflict { commit: number }))),
                Err(problem) => {
                    return Some(Err(Error::CorruptCommit {
                        commit: number,
                        location: format!(
                            "{} (commit {number}, in the batch being written)",
                            self.shared.segments.display()
                        ),
                        problem: format!("{problem}; the conditional append wrote nothing"),
                    }))
                }
            }
        }
        None
    }

    /// Assigns numbers to the requests of a batch (those not `decided` already), and splits
    /// their records by segment.
    fn plan_batch(
        &self,
        batch: &[Request],
        decided: Vec<Option<Outcome>>,
        mut next: u64,
        first: u64,
        end: u64,
    ) -> Result<Plan> {
        let mut plan = Plan {
            decided,
            parts: Vec::new(),
        };
        // The numbers given so far, with their requests.
        let mut assigned: Vec<(u64, usize)> = Vec::with_capacity(batch.len());
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
            if plan.decided[index].is_some() {
                continue;
            }
            let number = match request.kind {
                Kind::Create(number) if number < next => {
                    plan.decided[index] = Some(Ok(Err(Conflict { commit: number })));
                    continue;
                }
                Kind::Create(number) | Kind::Append(number) | Kind::AppendIf(number)
                    if number > next =>
                {
                    return Err(self.layout_error(format!(
                        "the journal keeps its commits contiguous: commit {number} cannot be created while the log ends at commit {}",
                        next - 1
                    )));
                }
                Kind::Create(number) => number,
                Kind::Append(_) => next,
                Kind::AppendIf(from) => {
                    match self.check_within_batch(batch, request, from, &assigned) {
                        Some(outcome) => {
                            plan.decided[index] = Some(outcome);
                            continue;
                        }
                        None => next,
                    }
                }
            };
            if number == u64::MAX {
                return Err(self.layout_error(
                    "the journal has reached the largest commit number; nothing was written",
                ));
            }
            assigned.push((number, index));
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
}

/// The parts of a batch: the outcome of each request that conflicts (`None` for the others),
/// and the records to write, by segment.
struct Plan {
    /// Each request's outcome when it is known before writing (a conflict); `None` for those
    /// written.
    decided: Vec<Option<Outcome>>,
    parts: Vec<Part>,
}

/// What a request of a batch comes to: its number, a conflict, or an error.
type Outcome = Result<Result<u64, Conflict>>;

/// How many commits written since a conditional append's position are read at a time to
/// check it.
const CHECK_CHUNK: usize = 256;

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
