//! What a crash leaves, and how it is mended: the last segment read again from its start by a
//! writer, a torn tail copied into the quarantine and cut off, and the gap a machine crash
//! leaves in an unsynced write (found for repair, and moved aside by it).

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::queue::Unlock;
use super::record::FREE;
use super::scan::read_full_at;
use super::segment::Damage;
use super::{JournalStorage, View, LOCK_FILE, PREALLOCATE};
use crate::error::{Error, Result};
use crate::storage::local::fs::Open;
use crate::storage::{Leftover, Storage, MAX_DOCUMENT_BYTES};

impl JournalStorage {
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
    pub(super) fn refresh_last_segment(&self, view: &mut View) -> bool {
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

    /// Copies the bytes of `segment` from `offset` on into the quarantine, then cuts them off.
    /// When they cannot be kept (a full disk), nothing is cut and nothing is left behind in the
    /// quarantine: the write that needed the cut fails, and the next one tries again.
    pub(super) fn cut_torn_tail(
        &self,
        segment: &Path,
        offset: u64,
        problem: &str,
    ) -> Result<Option<PathBuf>> {
        let cut = self.cut_tail(segment, offset, problem);
        // Then the synced mark is blanked (still under the writers' lock): records written
        // in the place of what was cut must never pass for records a sync covered.
        self.blank_sync_mark();
        cut
    }

    /// [`cut_torn_tail`](Self::cut_torn_tail) but for the synced mark.
    fn cut_tail(&self, segment: &Path, offset: u64, problem: &str) -> Result<Option<PathBuf>> {
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
            let folder = self.shared.folder.quarantine_folder()?;
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
    /// most [`MAX_DOCUMENT_BYTES`](MAX_DOCUMENT_BYTES)) and the free space after them.
    pub(super) fn torn_tail_limit(&self) -> u64 {
        self.shared.segment_bytes + MAX_DOCUMENT_BYTES + PREALLOCATE + 4096
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

    /// What a machine crash left at the end of the log (see [`Storage::crash_leftover`]).
    pub(super) fn crash_leftover_found(&self) -> Result<Option<Leftover>> {
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
        Ok(Some(Leftover {
            first: damage.first,
            location,
            problem,
        }))
    }

    /// Moves what a machine crash left at the end of the journal aside: commit `number`, a
    /// torn write behind a gap (see [`Storage::crash_leftover`]), and everything after it in
    /// the last segment, into the quarantine. Anything else is refused.
    pub(super) fn quarantine_leftover(&self, number: u64) -> Result<String> {
        let location = self.commit_location(number);
        let refused = |problem: String| Error::RepairRefused {
            location: location.clone(),
            problem,
        };
        // This process's writers wait: the file lock does not keep them apart.
        let _leading = self.take_turn();
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
}
