//! Writing a batch: under the lock, the log's end found (a torn tail cut off first), numbers
//! given to the requests, records written by segment (starting and closing segments), and
//! undone when a write fails; then, with the lock released, made durable with one sync.
//!
//! The sync of a batch's last part happens after the lock is released, so that other
//! processes write their records while it runs. That keeps every guarantee: a sync of a file
//! makes every record written into it before durable (whichever process wrote it), so a
//! commit is acknowledged only once everything before it in its segment is durable too; and a
//! writer that closes a segment syncs it before the first record of the next, which may hold
//! records of a writer whose own sync has not finished. Within a process, syncs take turns
//! ([`group_sync`]): the batches written while one runs share the next. Processes writing at
//! once take turns too, and share them through the mark of [`sync_mark`].
//!
//! [`group_sync`]: super::group_sync
//! [`sync_mark`]: super::sync_mark

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, MutexGuard};

use super::group_sync::Covers;
use super::plan::{Outcome, Part};
use super::queue::{Request, Unlock};
use super::record::FREE;
use super::scan::Tail;
use super::segment::{segment_name, Segment};
use super::{JournalStorage, View, FREE_SPACE_VERSION, LOCK_FILE, PREALLOCATE};
use crate::error::{Error, Result};
use crate::storage::local::fs::{Handle, Kind as PathKind, Open};
use crate::storage::local::{Durability, STALE_TEMPORARY_AGE};
use crate::storage::Storage;

impl JournalStorage {
    /// Writes the queued requests as one batch, under the lock, and syncs it after releasing
    /// the lock; returns each one's outcome, or an error that concerns them all (nothing of
    /// the batch was written).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(super) fn write_batch(&self, batch: &[Request]) -> Result<Vec<Outcome>> {
        let written = self.write_batch_unsynced(batch)?;
        Ok(self.sync_batch(written))
    }

    /// [`write_batch`](Self::write_batch) up to the sync, which is left to
    /// [`sync_batch`](Self::sync_batch): the lock is released when this returns, so that
    /// another batch (of this process or another) may be written while this one syncs.
    pub(super) fn write_batch_unsynced(&self, batch: &[Request]) -> Result<WrittenBatch> {
        self.refuse_after_a_failed_sync()?;
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
        let unlock = Unlock(&*lock);
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
        if self.ends_before_archived_start(&mut view, next)? {
            (next, tail) = self.find_end(&mut view)?;
            if self.ends_before_archived_start(&mut view, next)? {
                return Err(self.layout_error(format!(
                    "the journal's log ends at commit {}, before the archived log's start: archiving in another process is removing segments (try again), or a segment is missing after it; nothing was written",
                    next - 1
                )));
            }
        }
        // Another process wrote since this one did: share syncs with it for a while.
        self.note_log_end(next);
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
        // Where the records end, as found under the lock: the view may be looked at again
        // while it is not held (a failed sync of this process forgets what it knew of the
        // segment), and a write must never take a forgotten end for 0.
        let (first, end) = match view.chain_end {
            Some(first) => (first, view.segments[&first].end.map_or(0, |(_, end)| end)),
            None => (0, 0),
        };
        drop(view);
        let decided = self.check_commits_before(batch, next);
        let mut view = self.view();
        // A sync of this process failed meanwhile: nothing more is written (as when it failed
        // before this batch began).
        self.refuse_after_a_failed_sync()?;
        // Journals older than free space are written without it, as their writers expect.
        let preallocate = view.version >= FREE_SPACE_VERSION;
        let plan = self.plan_batch(batch, decided, next, first, end)?;
        let mut outcomes: Vec<Option<Outcome>> = plan.decided;
        let mut failed: Option<Error> = None;
        let parts = plan.parts.len();
        // The sync of the last part, done after the lock is released.
        let mut pending: Option<(Deferred, Part)> = None;
        for (index, part) in plan.parts.into_iter().enumerate() {
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
            let (guard, result) = self.write_part(view, &part, preallocate, index + 1 == parts);
            view = guard;
            match result {
                Ok(deferred) => {
                    for written in &part.written {
                        outcomes[written.request] = Some(Ok(Ok(written.number)));
                    }
                    if let Some(last) = part.written.last() {
                        self.note_written(last.number);
                    }
                    if let Some(deferred) = deferred {
                        pending = Some((deferred, part));
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
        // Still holding the lock: the hint has one writer at a time.
        self.write_hint(&mut view);
        drop(view);
        drop(unlock);
        Ok(WrittenBatch { outcomes, pending })
    }

    /// Refuses to write once a sync of this process failed (see `SyncTurn`): nothing is
    /// written.
    fn refuse_after_a_failed_sync(&self) -> Result<()> {
        match self.earlier_sync_failure() {
            Some(failure) => Err(Error::Backend {
                backend: "journal",
                message: format!(
                    "nothing was written to {}: {failure}",
                    self.shared.segments.display()
                ),
                source: None,
            }),
            None => Ok(()),
        }
    }

    /// Makes a batch written by [`write_batch_unsynced`](Self::write_batch_unsynced) durable
    /// (when the journal syncs); returns each request's outcome.
    pub(super) fn sync_batch(&self, written: WrittenBatch) -> Vec<Outcome> {
        let WrittenBatch {
            mut outcomes,
            pending,
        } = written;
        if let Some((deferred, part)) = pending {
            // One sync of this process at a time, covering every batch written before it,
            // unless another process's sync covered them (`sync_mark`).
            let covers = part.written.last().map(|last| Covers {
                segment: part.first,
                start: part.start,
                last: last.number,
                offset: last.at,
                since: deferred.since,
            });
            if let Err(error) = self
                .shared
                .syncs
                .sync(deferred.file, covers, |batches| self.sync_batches(batches))
            {
                if let Some(segment) = self.view().segments.get_mut(&part.first) {
                    look_again(segment, part.first);
                }
                tracing::error!(commits = ?part.written.iter().map(|w| w.number).collect::<Vec<_>>(), error = %error, "journal sync failed after its records reached the segment: outcome unknown");
                let location = part.path.display().to_string();
                for written in &part.written {
                    outcomes[written.request] = Some(Err(Error::OutcomeUnknown {
                        commit: written.number,
                        location: format!("{location} (commit {})", written.number),
                        problem: format!("syncing the segment failed after the commit was written into it ({error})"),
                        source: None,
                    }));
                }
            }
        }
        outcomes
            .into_iter()
            .map(|outcome| outcome.expect("every request has an outcome"))
            .collect()
    }

    /// Whether this view found the log's end in segments archiving removed since it last
    /// looked (a writer idle while another process appended past it and archived: its open
    /// handle still reads the removed segment, and the segment after it is gone too). The
    /// segment the end lies in is then full, and a new segment would be started below the
    /// log's start, where no reader looks: so the archive marker is read when that segment
    /// is full (a new segment is rare), and the segment folder listed again when the end is
    /// before the log's start (`true`: find the end again).
    ///
    /// # Errors
    /// When the marker cannot be read, or the end is before the log's start with the
    /// segment still there (nothing is written).
    fn ends_before_archived_start(&self, view: &mut View, next: u64) -> Result<bool> {
        let Some(first) = view.chain_end else {
            return Ok(false);
        };
        let end = view.segments[&first].end.map_or(0, |(_, end)| end);
        if end < self.shared.segment_bytes {
            return Ok(false);
        }
        let Some(start) = self.archived_start()? else {
            return Ok(false);
        };
        if next >= start {
            return Ok(false);
        }
        let path = view.segments[&first].path.clone();
        if self.relist_after_archiving(view) {
            return Ok(true);
        }
        Err(self.layout_error(format!(
            "the journal's log ends at commit {} in {}, before the archived log's start (commit {start}): a segment is missing after it; nothing was written",
            next - 1,
            path.display()
        )))
    }

    /// Writes one part of a batch: starts its segment if it is new (closing the one before),
    /// writes its records, makes them durable if configured, and updates the view. The sync
    /// of the `last` part is left to the caller, to be done once the lock is released: it is
    /// returned.
    fn write_part<'v>(
        &'v self,
        mut view: MutexGuard<'v, View>,
        part: &Part,
        preallocate: bool,
        last: bool,
    ) -> (MutexGuard<'v, View>, Result<Option<Deferred>, PartError>) {
        if let Some((closed, end)) = part.close {
            if let Err(e) = self.close_segment(&mut view, closed, end) {
                return (view, Err(PartError::NotWritten(e)));
            }
        }
        if part.new_segment {
            if let Err(e) = self.start_segment(&mut view, part.first) {
                return (view, Err(PartError::NotWritten(e)));
            }
            view.chain_end = Some(part.first);
            if let Some((closed, _)) = part.close {
                self.add_link(&mut view, closed, part.first);
            }
        }
        let first = part.first;
        let (file, since, path, allocated) = match self.writer_for(&mut view, first, part.start) {
            Ok(found) => found,
            Err(e) => return (view, Err(PartError::NotWritten(e))),
        };
        // Only free space followed the records (checked by `find_end`'s scan): it still does
        // after the records written over its start.
        let free = view.segments.get(&first).and_then(|s| s.free_from) == Some(part.start);
        // Written and synced without holding the view, so that this process's readers, and
        // writers joining the queue for the next batch, are not held up by the sync.
        drop(view);
        let defer = last && self.shared.durability == Durability::Immediate;
        let allocated = self.write_records(
            &file,
            &path,
            part.start,
            &part.records,
            allocated,
            preallocate,
            !defer,
        );
        let mut view = self.view();
        let end = part.start + part.records.len() as u64;
        let segment = view.segments.get_mut(&first).expect("the segment written");
        match &allocated {
            Ok(size) => segment.allocated = *size,
            Err(_) => look_again(segment, first),
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
        (view, Ok(defer.then_some(Deferred { file, since })))
    }

    /// The segment starting at `first`, opened for writing (once, before a write at `start`):
    /// the file, where the records ended when it was opened, its path, and its size as known.
    fn writer_for(
        &self,
        view: &mut View,
        first: u64,
        start: u64,
    ) -> Result<(Arc<dyn Handle>, u64, PathBuf, u64)> {
        let fs = &*self.shared.fs;
        let segment = view.segments.get_mut(&first).expect("the segment written");
        if segment.writer.is_none() {
            // Records from `start` on are written through this handle: a failure to write
            // any of them back to the disk is reported by its syncs (see `sync_mark`).
            segment.writer_since = start;
            let file = fs
                .open(&segment.path, Open::Write)
                .map_err(|e| Error::io("open", &segment.path, e))?;
            segment.allocated = file
                .len()
                .map_err(|e| Error::io("look at", &segment.path, e))?;
            segment.writer = Some(file);
        }
        let file = segment.writer.as_ref().expect("just opened");
        Ok((
            Arc::clone(file),
            segment.writer_since,
            segment.path.clone(),
            segment.allocated,
        ))
    }

    /// Writes `records` at `end` of a segment of `allocated` bytes, durably if configured;
    /// returns the segment's size after the write. Synced writes that reach past the segment's
    /// size then extend it with free space ([`PREALLOCATE`]), if `preallocate`: at best, as
    /// a failure to extend (a full disk) changes nothing of the records written.
    ///
    /// A failed write of the records is undone (their place is cut off, or given back to
    /// free space) and is [`PartError::NotWritten`]; when the undo fails too, or the sync
    /// fails, the records may be read: [`PartError::Unknown`]. Without `sync_now`, a synced
    /// journal's records are left for the caller to sync.
    #[allow(clippy::too_many_arguments)]
    fn write_records(
        &self,
        file: &Arc<dyn Handle>,
        path: &Path,
        end: u64,
        records: &[u8],
        allocated: u64,
        preallocate: bool,
        sync_now: bool,
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
            // Records of the failed write may have been whole, and named by another
            // process's synced mark: blanked once they are undone (still under the writers'
            // lock), so that records written again in their place never pass for them.
            self.blank_sync_mark();
            // A sync of the file (this process's, or another's) may have made them durable
            // meanwhile: the undo is synced too, or the outcome is unknown.
            let undone = undone.and_then(|()| {
                if synced {
                    self.sync_turn().sync(&**file)
                } else {
                    Ok(())
                }
            });
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
        if synced && sync_now {
            self.sync_turn()
                .sync(&**file)
                .map_err(|error| PartError::Unknown {
                    action: "syncing the segment",
                    error,
                })?;
        }
        Ok(size)
    }

    /// Cuts the free space off the end of the segment starting at `first`, whose records end
    /// at `end`, now that the next segment takes the commits after them. Only a matter of disk
    /// space: a failure is logged, and the free space left is read as such.
    ///
    /// A synced journal's segment is then synced: its last records may be another writer's
    /// whose sync, done after releasing the lock, has not finished, and none of the next
    /// segment's commits may be durable before them. An error when it cannot be synced.
    fn close_segment(&self, view: &mut View, first: u64, end: u64) -> Result<()> {
        let fs = &*self.shared.fs;
        let Some(segment) = view.segments.get_mut(&first) else {
            return Ok(());
        };
        let synced = self.shared.durability == Durability::Immediate;
        let file = match &segment.writer {
            Some(file) => Arc::clone(file),
            None => match fs.open(&segment.path, Open::Write) {
                Ok(file) => file,
                Err(e) if synced => return Err(Error::io("open", &segment.path, e)),
                Err(_) => return Ok(()),
            },
        };
        let sync = |segment: &Segment| {
            if synced {
                // After a failed sync of this process, none is trusted: the segment is not
                // closed over records that may not be on the disk (nothing is written).
                self.sync_turn()
                    .sync(&*file)
                    .map_err(|e| Error::io("sync the closed segment", &segment.path, e))
            } else {
                Ok(())
            }
        };
        // Made by any writer, this process's or another's. Cut even when the size is already
        // right: that also gives back the space reserved past the end for records that went
        // into the next segment.
        if file.len().is_ok_and(|len| len < end) {
            return sync(segment);
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
        sync(segment)
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

/// Forgets what this process knew of the segment starting at `first` beyond its start, after
/// a write or sync into it failed: whatever the failure left, the next write looks again.
fn look_again(segment: &mut Segment, first: u64) {
    segment.writer = None;
    segment.free_from = None;
    segment.end = None;
    segment.cursor = None;
    segment.last = None;
    segment.positions.retain(|n, _| *n == first);
    segment.from_start = false;
}

/// A batch written but not yet synced: each request's outcome as far as writing goes, and the
/// sync left to do.
pub(super) struct WrittenBatch {
    outcomes: Vec<Option<Outcome>>,
    pending: Option<(Deferred, Part)>,
}

/// The sync of a part's records, left to be done once the lock is released.
struct Deferred {
    file: Arc<dyn Handle>,
    /// Where the segment's records ended when this process opened `file` to write.
    since: u64,
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
