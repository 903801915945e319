//! Group commit across processes: the synced mark.
//!
//! Once a process has seen another one write lately, its syncs of a segment (one at a time
//! within the process, see `group_sync`) take the lock of `journal/sync.lock`, so that the
//! processes writing at once sync one after the other, and each leaves in that file a mark of
//! what its sync covered: the last whole record in the segment when the sync started, found by
//! reading on from the process's own last record. A process whose records the mark covers
//! returns without a sync of its own: while one process syncs, the others write their records
//! and wait for the lock, and the next of them syncs for all of them.
//!
//! A mark is written only after its sync succeeded, and names only records that were whole
//! before the sync started. It is trusted for a batch only when:
//! - it was written in the machine's current boot (the file is never synced: what it said
//!   before a power loss or a restart says nothing now);
//! - it names the batch's segment, by its first commit and by its file's identity (device and
//!   inode);
//! - the batch's last record is at or before the last record the mark covered, and that
//!   record is still where it was, whole, with the same number, length and checksum;
//! - the batch was written after the file the marking process synced was opened: the kernel
//!   reports a failure to write a file's data back to the disk to the files open when it
//!   happens (each once), so a sync through a file opened later could succeed although the
//!   batch's records never reach the disk.
//!
//! Whoever cuts records off a segment (a write undone, a torn end cut, a repair) blanks the
//! mark first, under its lock: records written again in their place are not those the sync
//! covered. A mark that is missing, damaged, blank or foreign only costs a sync. A
//! `sync.lock` that is not a regular file of its own (a folder, a FIFO, a symbolic link, a
//! file with other names or longer than a mark) is never written: the process then syncs on
//! its own, as a process that writes alone does, and says so once.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::group_sync::{Covers, Registered, SyncOutcome};
use super::queue::Unlock;
use super::record::{parse_record, Parsed};
use super::scan::{read_full_at, scan};
use super::JournalStorage;
use crate::storage::local::fs::{FileId, Handle, Open};

/// The file whose lock the syncs of a journal's processes take, holding the mark.
pub(super) const SYNC_LOCK_FILE: &str = "sync.lock";

/// The mark's first word, and its format's version.
const MAGIC: &str = "foldstore-sync-mark 1";

/// The bytes a mark takes in the file (padded with spaces): a shorter mark written over a
/// longer one leaves nothing of it.
const MARK_BYTES: usize = 256;

/// The longest last record a mark is checked against (read whole to check it); a longer one
/// is not marked.
const MOST_CHECKED: u64 = 64 << 10;

/// How long after it last found another process's commits a process shares syncs, in
/// milliseconds.
const SHARED_FOR_MS: u64 = 5_000;

/// Milliseconds since this process first asked, plus one (0 means never).
fn now() -> u64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let start = START.get_or_init(std::time::Instant::now);
    u64::try_from(start.elapsed().as_millis())
        .unwrap_or(u64::MAX - 1)
        .saturating_add(1)
}

/// What a sync of a segment covered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Mark {
    /// The boot of the machine the sync ran in.
    pub(super) boot: String,
    /// The segment's first commit.
    pub(super) segment: u64,
    /// The segment file's identity.
    pub(super) file: FileId,
    /// Where the segment's records ended when the synced file was opened.
    pub(super) since: u64,
    /// The last record covered: its commit, offset, length and checksum (as its header says).
    pub(super) number: u64,
    pub(super) offset: u64,
    pub(super) length: u64,
    pub(super) crc: u32,
}

impl Mark {
    /// The mark as the file holds it: one line of fields and their checksum, padded.
    pub(super) fn encode(&self) -> Vec<u8> {
        let mut line = format!(
            "{MAGIC} {} {} {} {} {} {} {} {} {:08x}",
            self.boot,
            self.segment,
            self.file.device,
            self.file.inode,
            self.since,
            self.number,
            self.offset,
            self.length,
            self.crc
        );
        let checksum = crc32fast::hash(line.as_bytes());
        let _ = write!(line, " {checksum:08x}");
        let mut bytes = line.into_bytes();
        if bytes.len() < MARK_BYTES - 1 {
            bytes.resize(MARK_BYTES - 1, b' ');
        }
        bytes.push(b'\n');
        bytes
    }

    /// The mark in `bytes` (the file's first bytes), if they hold one whose checksum matches.
    pub(super) fn decode(bytes: &[u8]) -> Option<Mark> {
        let line = bytes.split(|b| *b == b'\n').next()?;
        let line = std::str::from_utf8(line).ok()?.trim_end_matches(' ');
        let (fields, checksum) = line.rsplit_once(' ')?;
        if checksum.len() != 8
            || u32::from_str_radix(checksum, 16).ok()? != crc32fast::hash(fields.as_bytes())
        {
            return None;
        }
        let rest = fields.strip_prefix(MAGIC)?.strip_prefix(' ')?;
        let words: Vec<&str> = rest.split(' ').collect();
        let [boot, segment, device, inode, since, number, offset, length, crc] = words[..] else {
            return None;
        };
        let number_of = |word: &str| word.parse::<u64>().ok();
        Some(Mark {
            boot: boot.to_owned(),
            segment: number_of(segment)?,
            file: FileId {
                device: number_of(device)?,
                inode: number_of(inode)?,
            },
            since: number_of(since)?,
            number: number_of(number)?,
            offset: number_of(offset)?,
            length: number_of(length)?,
            crc: u32::from_str_radix(crc, 16).ok()?,
        })
    }

    /// Whether the mark covers `covers` (records of the segment file `file`), in boot `boot`,
    /// its last record still as it was.
    fn covers(&self, boot: &str, file: &dyn Handle, id: FileId, covers: &Covers) -> bool {
        self.boot == boot
            && self.segment == covers.segment
            && self.file == id
            && covers.last <= self.number
            && self.written_after(covers)
            && self.length <= MOST_CHECKED
            && self.still_there(file)
    }

    /// Whether the records of `covers` were written after the marking process opened the
    /// file it synced (which then reports any failure to write them back to the disk).
    fn written_after(&self, covers: &Covers) -> bool {
        covers.start >= self.since
    }

    /// Whether the last record the mark covered is still in the file as it was: whole, its
    /// checksum matching its document.
    fn still_there(&self, file: &dyn Handle) -> bool {
        let Ok(length) = usize::try_from(self.length) else {
            return false;
        };
        let mut record = vec![0; length];
        if !matches!(read_full_at(file, &mut record, self.offset), Ok(n) if n == length) {
            return false;
        }
        match parse_record(&record) {
            Parsed::Whole {
                number,
                length: whole,
                crc,
                document,
            } => {
                number == self.number
                    && whole == length
                    && crc == self.crc
                    && crc32fast::hash(&record[document]) == crc
            }
            _ => false,
        }
    }
}

/// What a sync of one file must cover for two of its batches: the last record of the later
/// one, from the start of the earlier (every one of them must have been written after the
/// marking process opened the file); `None` when either is unknown.
fn merged(known: Option<Covers>, new: Option<Covers>) -> Option<Covers> {
    let (known, new) = (known?, new?);
    let latest = if new.last > known.last { new } else { known };
    Some(Covers {
        start: known.start.min(new.start),
        ..latest
    })
}

/// A blank mark: what a cut leaves (no mark).
fn blank() -> Vec<u8> {
    let mut bytes = vec![b' '; MARK_BYTES - 1];
    bytes.push(b'\n');
    bytes
}

/// This process's turn to sync a segment (or to use the `flock` of `sync.lock`): the syncs of
/// a process never run side by side, so that a failure the kernel reports to one of them
/// (once) is seen before any other sync is trusted. After a failed sync, this process syncs
/// and writes nothing more: what was written before it may not be on the disk, and a later
/// sync could succeed without it.
pub(super) struct SyncTurn<'a> {
    failure: std::sync::MutexGuard<'a, Option<String>>,
    failed: &'a std::sync::atomic::AtomicBool,
}

impl SyncTurn<'_> {
    /// Syncs `file`, unless a sync of this process failed before (then that failure).
    pub(super) fn sync(&mut self, file: &dyn Handle) -> std::io::Result<()> {
        if let Some(failure) = &*self.failure {
            return Err(std::io::Error::other(failed_before(failure)));
        }
        let synced = file.sync_data();
        if let Err(e) = &synced {
            *self.failure = Some(e.to_string());
            self.failed.store(true, Ordering::Release);
        }
        synced
    }
}

/// What a process says of a segment sync of its that failed before.
pub(super) fn failed_before(failure: &str) -> String {
    format!(
        "a sync of the journal's segments failed earlier in this process ({failure}): what was written before it may not be on the disk, and this process writes nothing more to the journal; check the disk, restart the process, and run 'foldstore verify'"
    )
}

impl JournalStorage {
    /// This process's turn to sync a segment.
    pub(super) fn sync_turn(&self) -> SyncTurn<'_> {
        SyncTurn {
            failure: self
                .shared
                .sync_turn
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
            failed: &self.shared.sync_failed,
        }
    }

    /// The failure of an earlier sync of this process, if one failed (then it writes nothing
    /// more).
    pub(super) fn earlier_sync_failure(&self) -> Option<String> {
        if !self.shared.sync_failed.load(Ordering::Acquire) {
            return None;
        }
        self.sync_turn().failure.as_deref().map(failed_before)
    }

    /// Syncs the files of `batches` (this process's batches registered since its last sync),
    /// each file once, through the synced mark where it can; returns each batch's outcome.
    pub(super) fn sync_batches(&self, batches: &[Registered]) -> Vec<SyncOutcome> {
        // Each file once, for the batch with its last record (or without the mark when a
        // batch of it says nothing of its records).
        let mut files: Vec<(&Arc<dyn Handle>, Option<Covers>, SyncOutcome)> = Vec::new();
        for batch in batches {
            match files
                .iter_mut()
                .find(|(file, _, _)| Arc::ptr_eq(file, &batch.file))
            {
                Some((_, covers, _)) => *covers = merged(*covers, batch.covers),
                None => files.push((&batch.file, batch.covers, Ok(()))),
            }
        }
        let mut turn = self.sync_turn();
        for (file, covers, outcome) in &mut files {
            *outcome = match covers {
                Some(covers) => self.sync_covering(&mut turn, &***file, covers),
                None => turn.sync(&***file).map_err(|e| e.to_string()),
            };
        }
        drop(turn);
        batches
            .iter()
            .map(|batch| {
                files
                    .iter()
                    .find(|(file, _, _)| Arc::ptr_eq(file, &batch.file))
                    .map_or_else(
                        || Err("the batch's file was not synced".to_owned()),
                        |(_, _, outcome)| outcome.clone(),
                    )
            })
            .collect()
    }

    /// Makes `file`'s records up to `covers` durable: nothing to do when another process's
    /// sync covered them (its mark says so), else a sync, and a mark of what it covered.
    fn sync_covering(
        &self,
        turn: &mut SyncTurn<'_>,
        file: &dyn Handle,
        covers: &Covers,
    ) -> SyncOutcome {
        // After a failed sync of this process, no batch of it is acknowledged, not even by
        // another process's mark (`sync` says so).
        let failed_already = turn.failure.is_some();
        let mut sync = || turn.sync(file).map_err(|e| e.to_string());
        if failed_already || !self.others_writing() {
            return sync();
        }
        let (Some(boot), Some(id)) = (self.shared.fs.boot_id(), file.identity()) else {
            return sync();
        };
        let Some(lock) = self.sync_lock() else {
            return sync();
        };
        if let Err(e) = lock.lock() {
            self.mark_unusable(&e.to_string());
            return sync();
        }
        let _unlock = Unlock(&*lock);
        if !self.may_write(&*lock) {
            return sync();
        }
        let mut bytes = [0; MARK_BYTES];
        if let Ok(read) = read_full_at(&*lock, &mut bytes, 0) {
            if Mark::decode(&bytes[..read]).is_some_and(|mark| mark.covers(&boot, file, id, covers))
            {
                return Ok(());
            }
        }
        // The last whole record now, from this process's last one on: what the sync covers.
        let mut last = None;
        let scanned = scan(
            file,
            covers.last,
            covers.offset,
            Some(covers.offset),
            |number, offset, record, _| {
                if let Parsed::Whole { crc, .. } = parse_record(record) {
                    last = Some((number, offset, record.len() as u64, crc));
                }
                true
            },
        );
        let mark = match (scanned, last) {
            (Ok(_), Some((number, offset, length, crc))) if length <= MOST_CHECKED => Some(Mark {
                boot,
                segment: covers.segment,
                file: id,
                since: covers.since,
                number,
                offset,
                length,
                crc,
            }),
            _ => None,
        };
        sync()?;
        if let Some(mark) = mark {
            if let Err(e) = lock.write_all_at(&mark.encode(), 0) {
                tracing::debug!(error = %e, "could not write the journal's synced mark; the next sync of every process is its own");
            }
        }
        Ok(())
    }

    /// Blanks the synced mark, under its lock, after records were cut off a segment or undone
    /// (the caller still holds the writers' lock): records written again in their place must
    /// not pass for those a sync covered. Nothing to do without a `sync.lock`; done even when
    /// this process no longer uses the mark. A failure is logged as an error, and this process
    /// stops using the mark; a mark another process left then stays until its next sync
    /// replaces it.
    pub(super) fn blank_sync_mark(&self) {
        let path = self.shared.segments.join(SYNC_LOCK_FILE);
        if !self.shared.fs.exists(&path).unwrap_or(true) {
            return;
        }
        // Another name for a file, or none at all: no process writes a mark into it.
        let Ok(lock) = self.open_sync_lock() else {
            return;
        };
        let blanked = {
            let _turn = self.sync_turn();
            lock.lock().map_err(|e| e.to_string()).and_then(|()| {
                let _unlock = Unlock(&*lock);
                match lock.len() {
                    Ok(len) if len <= MARK_BYTES as u64 => {
                        lock.write_all_at(&blank(), 0).map_err(|e| e.to_string())
                    }
                    // Not foldstore's: never written, so it holds no mark of ours.
                    Ok(_) => Ok(()),
                    Err(e) => Err(e.to_string()),
                }
            })
        };
        if let Err(why) = blanked {
            tracing::error!(file = %path.display(), problem = why, "could not blank the journal's synced mark after cutting records off a segment; a commit written again in their place could be taken for synced by another process: make sure the file can be written");
            self.mark_unusable(&why);
        }
    }

    /// Notes where the log ends (`next`), found under the writers' lock: elsewhere than
    /// after this process's last commit, another process wrote since.
    pub(super) fn note_log_end(&self, next: u64) {
        let own = self.shared.last_written.load(Ordering::Acquire);
        if own != 0 && next != own.saturating_add(1) {
            self.shared.others_seen.store(now(), Ordering::Release);
        }
    }

    /// Notes the last commit this process's writers wrote.
    pub(super) fn note_written(&self, last: u64) {
        self.shared.last_written.store(last, Ordering::Release);
    }

    /// Whether another process wrote lately ([`SHARED_FOR_MS`]): only then do this process's
    /// syncs go through the synced mark (alone, it would pay the lock and the mark for
    /// nothing).
    fn others_writing(&self) -> bool {
        let seen = self.shared.others_seen.load(Ordering::Acquire);
        seen != 0 && now().saturating_sub(seen) < SHARED_FOR_MS
    }

    /// The lock file of the syncs, opened once; `None` when it cannot be, or has other names
    /// (hard links: writing the mark would write into another file), or after it could not be
    /// used once (warned of once).
    fn sync_lock(&self) -> Option<Arc<dyn Handle>> {
        if self.shared.mark_warned.load(Ordering::Acquire) {
            return None;
        }
        match self.open_sync_lock() {
            Ok(file) => Some(file),
            Err(why) => {
                self.mark_unusable(&why);
                None
            }
        }
    }

    /// The lock file of the syncs, opened once, unless it has other names.
    fn open_sync_lock(&self) -> Result<Arc<dyn Handle>, String> {
        let mut handle = self
            .shared
            .sync_lock
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(file) = &*handle {
            return Ok(Arc::clone(file));
        }
        let path = self.shared.segments.join(SYNC_LOCK_FILE);
        match self.shared.fs.open(&path, Open::ReadWriteCreate) {
            Ok(file) if file.links().is_some_and(|links| links != 1) => Err(format!(
                "{}: it has other names (hard links)",
                path.display()
            )),
            Ok(file) => {
                *handle = Some(Arc::clone(&file));
                Ok(file)
            }
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    }

    /// Whether the locked `lock` file may be written: no longer than a mark (a larger file is
    /// not one foldstore wrote).
    fn may_write(&self, lock: &dyn Handle) -> bool {
        match lock.len() {
            Ok(len) if len <= MARK_BYTES as u64 => true,
            Ok(len) => {
                self.mark_unusable(&format!(
                    "{} holds {len} bytes, more than a mark",
                    self.shared.segments.join(SYNC_LOCK_FILE).display()
                ));
                false
            }
            Err(e) => {
                self.mark_unusable(&e.to_string());
                false
            }
        }
    }

    /// Warns, once a process, that the synced mark cannot be used: every sync is its own.
    fn mark_unusable(&self, why: &str) {
        if !self.shared.mark_warned.swap(true, Ordering::AcqRel) {
            tracing::warn!(problem = why, "the journal's sync lock cannot be used; this process syncs its commits without sharing syncs with other processes");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;
    use std::io;
    use std::path::Path;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::SystemTime;

    use super::*;
    use crate::event::{Event, Headers};
    use crate::format::{decode_commit, encode_commit};
    use std::sync::Mutex;

    use crate::error::Error;
    use crate::storage::journal::plan::Outcome;
    use crate::storage::journal::queue::{Kind as RequestKind, Request};
    use crate::storage::journal::SEGMENT_FOLDER;
    use crate::storage::local::fs::{FileSystem, Kind};
    use crate::storage::local::sim::{Recovery, SimFs};
    use crate::storage::test_kit::{folder, forward_fs, forward_handle};
    use crate::storage::{Durability, Storage};

    fn mark() -> Mark {
        Mark {
            boot: "0b5c8d3e-1111-4a2b-9c3d-123456789abc".to_owned(),
            segment: 1,
            file: FileId {
                device: 2049,
                inode: 131_077,
            },
            since: 4_096,
            number: 42,
            offset: 8_765,
            length: 214,
            crc: 0x0bad_cafe,
        }
    }

    #[test]
    fn a_mark_reads_back_as_written_and_nothing_else_reads_as_one() {
        let mark = mark();
        let bytes = mark.encode();
        assert_eq!(bytes.len(), MARK_BYTES);
        assert_eq!(Mark::decode(&bytes), Some(mark.clone()));
        // A shorter mark written over a longer one leaves nothing of it.
        let short = Mark {
            number: 1,
            offset: 0,
            ..mark.clone()
        };
        let mut file = mark.encode();
        file[..MARK_BYTES].copy_from_slice(&short.encode());
        assert_eq!(Mark::decode(&file), Some(short));
        // Any byte changed, the line cut short, another format: no mark.
        let line = bytes
            .iter()
            .rposition(|b| *b != b' ' && *b != b'\n')
            .expect("a line")
            + 1;
        for at in 0..=line {
            let mut changed = bytes.clone();
            changed[at] ^= 0x01;
            assert_eq!(Mark::decode(&changed), None, "byte {at} changed");
        }
        for len in [0, 1, 30, 100] {
            assert_eq!(Mark::decode(&bytes[..len]), None, "{len} bytes");
        }
        assert_eq!(Mark::decode(b"\0\0\0\0"), None);
        assert_eq!(Mark::decode(&[0xff; MARK_BYTES]), None);
        let other = String::from_utf8(bytes.clone())
            .unwrap()
            .replace("sync-mark 1", "sync-mark 2");
        assert_eq!(Mark::decode(other.as_bytes()), None);
    }

    /// A commit of one event named `name`.
    fn document(name: &str) -> Vec<u8> {
        encode_commit(&Headers::new(), &[Event::new(name)]).expect("encodes")
    }

    fn request(name: &str) -> Request {
        Request {
            ticket: 0,
            kind: RequestKind::Append(1),
            document: document(name),
            check: None,
        }
    }

    fn name_of(journal: &JournalStorage, number: u64) -> String {
        let bytes = journal.read_commit(number).expect("read").expect("present");
        decode_commit(number, &bytes).expect("decodes").events()[0]
            .name()
            .to_owned()
    }

    /// The simulated file system as another process sees it: the syncs of segment files
    /// through it are counted, and fail while `failing` is set; reads through it run the
    /// [`Interrupt`].
    #[derive(Debug, Default)]
    struct Segments {
        sim: Arc<SimFs>,
        syncs: Arc<AtomicU64>,
        failing: Arc<std::sync::atomic::AtomicBool>,
        interrupt: Arc<Interrupt>,
    }

    #[derive(Debug)]
    struct SegmentHandle {
        inner: Arc<dyn Handle>,
        /// The counter and the switch, for a segment file.
        segment: Option<(Arc<AtomicU64>, Arc<std::sync::atomic::AtomicBool>)>,
        interrupt: Arc<Interrupt>,
    }

    impl Segments {
        fn on(sim: &Arc<SimFs>) -> Self {
            Segments {
                sim: Arc::clone(sim),
                ..Segments::default()
            }
        }
    }

    impl FileSystem for Segments {
        forward_fs!(
            sim: read, kind, modified, list, create_dir_all, write_new, rename_noreplace, rename,
            is_link, remove, sync_dir, boot_id
        );
        fn open(&self, path: &Path, mode: Open) -> io::Result<Arc<dyn Handle>> {
            let segment = path.extension().is_some_and(|e| e == "jsonl");
            Ok(Arc::new(SegmentHandle {
                inner: self.sim.open(path, mode)?,
                segment: segment.then(|| (Arc::clone(&self.syncs), Arc::clone(&self.failing))),
                interrupt: Arc::clone(&self.interrupt),
            }))
        }
    }

    impl Handle for SegmentHandle {
        forward_handle!(inner: len, set_len, modified, lock, unlock, identity);
        fn write_all_at(&self, bytes: &[u8], offset: u64) -> io::Result<()> {
            self.inner.write_all_at(bytes, offset)
        }
        fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
            self.interrupt.run_if_the_view_is_free();
            self.inner.read_at(buf, offset)
        }
        fn sync_data(&self) -> io::Result<()> {
            if let Some((syncs, failing)) = &self.segment {
                syncs.fetch_add(1, Ordering::SeqCst);
                if failing.load(Ordering::SeqCst) {
                    return Err(io::Error::other("injected EIO"));
                }
            }
            self.inner.sync_data()
        }
    }

    /// What runs once, at a read of a segment made while the journal's view is not held (a
    /// batch checking the commits before a conditional append): another thread's work,
    /// waited for.
    #[derive(Default)]
    struct Interrupt {
        hook: Mutex<Option<Box<dyn FnOnce() + Send>>>,
        /// Whether the view is free now (set once the journal exists).
        view_free: Mutex<Option<Box<dyn Fn() -> bool + Send>>>,
    }

    impl std::fmt::Debug for Interrupt {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("Interrupt")
        }
    }

    impl Interrupt {
        /// Runs the hook, once, when the journal's view is free.
        fn run_if_the_view_is_free(&self) {
            let free = self
                .view_free
                .lock()
                .unwrap()
                .as_ref()
                .is_some_and(|free| free());
            if free {
                let hook = self.hook.lock().unwrap().take();
                if let Some(hook) = hook {
                    hook();
                }
            }
        }
    }

    #[test]
    fn a_sync_that_fails_while_another_batch_is_written_never_makes_that_batch_write_over_the_segment(
    ) {
        let sim = Arc::new(SimFs::with_folder(&folder()));
        let fs = Segments::on(&sim);
        let (failing, interrupt) = (Arc::clone(&fs.failing), Arc::clone(&fs.interrupt));
        let journal = Arc::new(journal(Arc::new(fs)));
        for number in 1..=3 {
            let name = format!("c{number}");
            assert_eq!(
                journal.append_commit(1, &document(&name)).expect("append"),
                number
            );
        }
        let weak = Arc::downgrade(&journal);
        *interrupt.view_free.lock().unwrap() = Some(Box::new(move || {
            weak.upgrade()
                .is_some_and(|journal| journal.shared.view.try_lock().is_ok())
        }));
        // Batch A (commit 4) written, its sync left to do; it will fail.
        let written = journal
            .write_batch_unsynced(&[request("a4")])
            .expect("written");
        failing.store(true, Ordering::SeqCst);
        // Batch B: a conditional append from commit 1, whose check reads the commits before
        // it without holding the view. While it reads, A's sync fails (and the journal
        // forgets what it knew of the segment).
        let (go, went) = std::sync::mpsc::channel::<()>();
        let (synced, done) = std::sync::mpsc::channel::<Vec<Outcome>>();
        let syncer = {
            let journal = Arc::clone(&journal);
            std::thread::spawn(move || {
                went.recv().expect("go");
                synced.send(journal.sync_batch(written)).expect("outcomes");
            })
        };
        let outcomes = Arc::new(Mutex::new(None));
        *interrupt.hook.lock().unwrap() = Some(Box::new({
            let outcomes = Arc::clone(&outcomes);
            move || {
                go.send(()).expect("go");
                *outcomes.lock().unwrap() = Some(done.recv().expect("outcomes"));
            }
        }));
        let check: Arc<crate::storage::CommitCheck> = Arc::new(|_, _| Ok(false));
        let b = journal.write_batch_unsynced(&[Request {
            ticket: 1,
            kind: RequestKind::AppendIf(1),
            document: document("b"),
            check: Some(check),
        }]);
        syncer.join().expect("the syncer");
        let a = outcomes
            .lock()
            .unwrap()
            .take()
            .expect("A's sync ran during B");
        assert!(
            matches!(a[..], [Err(Error::OutcomeUnknown { commit: 4, .. })]),
            "{a:?}"
        );
        assert!(
            b.is_err(),
            "B wrote after a failed sync: {:?}",
            b.map(|_| ())
        );
        // Every commit written before is as it was.
        failing.store(false, Ordering::SeqCst);
        let reader = super::super::JournalStorage::with_file_system(
            folder(),
            Durability::Immediate,
            1 << 20,
            sim.clone(),
        );
        for number in 1..=3 {
            assert_eq!(name_of(&reader, number), format!("c{number}"));
        }
    }

    /// A journal on `fs` whose segments hold every commit of these tests.
    fn journal(fs: Arc<dyn FileSystem>) -> JournalStorage {
        JournalStorage::with_file_system(folder(), Durability::Immediate, 1 << 20, fs)
    }

    /// Two processes' journals on one simulated file system: A's directly, B's counting the
    /// syncs of its segments. Each has written two commits (1 and 3, 2 and 4), so each has seen
    /// the other write and shares syncs; B synced its own.
    fn two_processes() -> (Arc<SimFs>, JournalStorage, JournalStorage, Arc<AtomicU64>) {
        let sim = Arc::new(SimFs::with_folder(&folder()));
        let b_fs = Segments::on(&sim);
        let syncs = Arc::clone(&b_fs.syncs);
        let a = journal(sim.clone());
        let b = journal(Arc::new(b_fs));
        for (number, journal) in [(1, &a), (2, &b), (3, &a), (4, &b)] {
            let name = format!("{}{number}", if number % 2 == 1 { "a" } else { "b" });
            assert_eq!(
                journal.append_commit(1, &document(&name)).expect("append"),
                number
            );
        }
        assert_eq!(syncs.load(Ordering::SeqCst), 2);
        (sim, a, b, syncs)
    }

    #[test]
    fn a_batch_another_process_synced_is_acknowledged_without_a_sync_and_survives_a_power_loss() {
        let (sim, a, b, b_syncs) = two_processes();
        // B's commit 5 is written; before B syncs it, A writes commit 6 and syncs, which
        // makes B's record durable too.
        let written = b.write_batch_unsynced(&[request("b5")]).expect("written");
        assert_eq!(a.append_commit(1, &document("a6")).expect("append"), 6);
        let outcomes = b.sync_batch(written);
        assert!(matches!(outcomes[..], [Ok(Ok(5))]), "{outcomes:?}");
        assert_eq!(
            b_syncs.load(Ordering::SeqCst),
            2,
            "A's sync covered B's commit"
        );
        sim.power_off_after(0);
        for recovery in Recovery::ALL {
            let image = journal(Arc::new(sim.recover(recovery)));
            assert_eq!(image.last_commit().expect("last"), 6, "{recovery:?}");
            assert_eq!(name_of(&image, 5), "b5", "{recovery:?}");
        }
    }

    #[test]
    fn a_batch_written_after_the_last_sync_began_is_synced_by_its_own_process() {
        let (_sim, a, b, b_syncs) = two_processes();
        // A's mark covers commit 5: B's next commit is after it.
        assert_eq!(a.append_commit(1, &document("a5")).expect("append"), 5);
        assert_eq!(b.append_commit(1, &document("b6")).expect("append"), 6);
        assert_eq!(b_syncs.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn a_process_alone_syncs_without_the_lock() {
        let sim = Arc::new(SimFs::with_folder(&folder()));
        let a = journal(sim.clone());
        for number in 1..=3 {
            assert_eq!(a.append_commit(1, &document("a")).expect("append"), number);
        }
        assert!(!sim
            .files(&folder().join(SEGMENT_FOLDER))
            .contains_key(SYNC_LOCK_FILE));
    }

    #[test]
    fn a_mark_whose_last_record_was_cut_off_and_written_again_covers_nothing() {
        let (sim, a, b, b_syncs) = two_processes();
        assert_eq!(a.append_commit(1, &document("a5")).expect("append"), 5);
        // Commit 5 cut off, as an undone write or a repair would, with the mark naming it
        // left as it was; then B writes another commit 5 there, of the same length.
        let name = super::super::segment::segment_name(1);
        let segments = folder().join(SEGMENT_FOLDER);
        let text = String::from_utf8_lossy(&sim.files(&segments)[&name]).into_owned();
        let at = text.find("{\"n\":5,").expect("commit 5") as u64;
        sim.open(&segments.join(&name), Open::Write)
            .expect("open")
            .set_len(at)
            .expect("cut");
        let written = b.write_batch_unsynced(&[request("b5")]).expect("written");
        let outcomes = b.sync_batch(written);
        assert!(matches!(outcomes[..], [Ok(Ok(5))]), "{outcomes:?}");
        assert_eq!(
            b_syncs.load(Ordering::SeqCst),
            3,
            "B synced its commit itself"
        );
        // Lost with the power, had B trusted the mark: the image keeps B's commit.
        sim.power_off_after(0);
        let image = journal(Arc::new(sim.recover(Recovery {
            unsynced_entries_survive: true,
            unsynced_data_survives: false,
        })));
        assert_eq!(name_of(&image, 5), "b5");
    }

    /// Two processes taking turns, each writing a commit while the other's sync runs, until
    /// the first failure (the power going off): the commits each was told were written, and
    /// how many of them were acknowledged without a sync of their process.
    fn take_turns(sim: &Arc<SimFs>) -> (Vec<(u64, String)>, u64, bool) {
        let processes = [journal(sim.clone()), journal(sim.clone())];
        let mut acknowledged = Vec::new();
        let mut covered = 0;
        for round in 0..6 {
            let (writer, syncer) = (&processes[round % 2], &processes[1 - round % 2]);
            let waiting = format!("w{round}");
            let Ok(written) = writer.write_batch_unsynced(&[request(&waiting)]) else {
                return (acknowledged, covered, false);
            };
            let synced = format!("s{round}");
            match syncer.append_commit(1, &document(&synced)) {
                Ok(number) => acknowledged.push((number, synced)),
                Err(_) => return (acknowledged, covered, false),
            }
            let changes = sim.changes();
            match writer.sync_batch(written)[..] {
                [Ok(Ok(number))] => {
                    // No change made: no sync of its own (the mark covered it).
                    if sim.changes() == changes {
                        covered += 1;
                    }
                    acknowledged.push((number, waiting));
                }
                _ => return (acknowledged, covered, false),
            }
        }
        (acknowledged, covered, true)
    }

    #[test]
    fn power_loss_at_every_change_of_processes_sharing_syncs_loses_no_acknowledged_commit() {
        let mut cut = 0;
        let mut covered_runs = 0;
        loop {
            let sim = Arc::new(SimFs::with_folder(&folder()));
            sim.power_off_after(cut);
            let (acknowledged, covered, whole) = take_turns(&sim);
            if covered > 0 {
                covered_runs += 1;
            }
            let mut images: Vec<SimFs> = Recovery::ALL.iter().map(|r| sim.recover(*r)).collect();
            images.push(sim.recover_torn(
                Recovery {
                    unsynced_entries_survive: true,
                    unsynced_data_survives: true,
                },
                true,
            ));
            for (index, image) in images.into_iter().enumerate() {
                let image = journal(Arc::new(image));
                for (number, name) in &acknowledged {
                    assert_eq!(
                        &name_of(&image, *number),
                        name,
                        "power off after {cut} changes, image {index}: commit {number}"
                    );
                }
            }
            if whole {
                assert!(covered > 0, "no commit was acknowledged through the mark");
                break;
            }
            cut += 1;
            assert!(cut < 1_000, "the scenario never ran whole");
        }
        assert!(
            covered_runs > 1,
            "{covered_runs} runs acknowledged through the mark"
        );
    }

    #[test]
    fn a_mark_made_through_a_file_opened_after_a_batch_was_written_does_not_cover_it() {
        let (sim, a, b, b_syncs) = two_processes();
        // B's commit 5 is written; then a third process, C, opens the segment to write its
        // first commit: a failure to write B's record back to the disk before that would not
        // be reported to C's file, so C's syncs say nothing of it.
        let written = b.write_batch_unsynced(&[request("b5")]).expect("written");
        let c = journal(sim.clone());
        assert_eq!(c.append_commit(1, &document("c6")).expect("append"), 6);
        assert_eq!(a.append_commit(1, &document("a7")).expect("append"), 7);
        // C has seen A write: its sync goes through the mark, and covers commits up to 8.
        assert_eq!(c.append_commit(1, &document("c8")).expect("append"), 8);
        let outcomes = b.sync_batch(written);
        assert!(matches!(outcomes[..], [Ok(Ok(5))]), "{outcomes:?}");
        assert_eq!(
            b_syncs.load(Ordering::SeqCst),
            3,
            "B synced its commit itself"
        );
    }

    #[test]
    fn batches_of_one_file_are_covered_from_the_earliest_start_to_the_latest_record() {
        let earlier = Covers {
            segment: 1,
            start: 100,
            last: 5,
            offset: 180,
            since: 0,
        };
        let later = Covers {
            start: 300,
            last: 7,
            offset: 390,
            ..earlier
        };
        let both = merged(Some(earlier), Some(later)).expect("both known");
        assert_eq!((both.start, both.last, both.offset), (100, 7, 390));
        assert_eq!(merged(Some(later), Some(earlier)), Some(both));
        assert_eq!(merged(Some(earlier), None), None);
        // A mark made through a file opened at 200 covers the later batch alone, not both.
        let mark = Mark {
            boot: "b".to_owned(),
            segment: 1,
            file: FileId {
                device: 0,
                inode: 0,
            },
            since: 200,
            number: 7,
            offset: 390,
            length: 0,
            crc: 0,
        };
        assert!(mark.written_after(&later) && !mark.written_after(&both));
    }

    #[test]
    fn after_a_failed_sync_a_process_writes_nothing_more() {
        let sim = Arc::new(SimFs::with_folder(&folder()));
        let a_fs = Segments::on(&sim);
        let failing = Arc::clone(&a_fs.failing);
        let a = journal(Arc::new(a_fs));
        assert_eq!(a.append_commit(1, &document("a1")).expect("append"), 1);
        failing.store(true, Ordering::SeqCst);
        let failed = a.append_commit(1, &document("a2"));
        assert!(
            matches!(
                failed,
                Err(crate::error::Error::OutcomeUnknown { commit: 2, .. })
            ),
            "{failed:?}"
        );
        // The disk syncs again, and a fresh handle would sync without error: this process
        // still writes nothing, since what failed may not be on the disk.
        failing.store(false, Ordering::SeqCst);
        let refused = a.append_commit(1, &document("a3")).expect_err("refused");
        assert!(
            refused
                .to_string()
                .contains("failed earlier in this process")
                && refused.to_string().contains("nothing was written"),
            "{refused}"
        );
        let other = journal(sim.clone());
        assert_eq!(other.last_commit().expect("last"), 2, "a3 was not written");
        // Another process (after a restart, say) writes on.
        assert_eq!(other.append_commit(1, &document("b3")).expect("append"), 3);
    }

    #[test]
    fn after_a_failed_sync_no_sync_of_the_process_is_trusted() {
        let sim = Arc::new(SimFs::with_folder(&folder()));
        let a_fs = Segments::on(&sim);
        let (syncs, failing) = (Arc::clone(&a_fs.syncs), Arc::clone(&a_fs.failing));
        let fs: Arc<dyn FileSystem> = Arc::new(a_fs);
        let a = journal(Arc::clone(&fs));
        let segments = folder().join(SEGMENT_FOLDER);
        fs.create_dir_all(&segments).expect("folder");
        let open = |first: u64| {
            fs.open(
                &segments.join(super::super::segment::segment_name(first)),
                Open::ReadWriteCreate,
            )
            .expect("open")
        };
        let (file, other) = (open(1), open(2));
        failing.store(true, Ordering::SeqCst);
        assert!(a
            .sync_turn()
            .sync(&*file)
            .is_err_and(|e| e.to_string().contains("injected EIO")));
        // The file would sync without error now (the kernel reports a failure once), and so
        // would another: neither is synced, both are told the earlier failure.
        failing.store(false, Ordering::SeqCst);
        for handle in [&file, &other] {
            let refused = a.sync_turn().sync(&**handle).expect_err("refused");
            assert!(
                refused
                    .to_string()
                    .contains("failed earlier in this process")
                    && refused.to_string().contains("injected EIO"),
                "{refused}"
            );
        }
        assert_eq!(
            syncs.load(Ordering::SeqCst),
            1,
            "synced once, the failed sync"
        );
        assert!(a.earlier_sync_failure().is_some());
    }

    #[test]
    fn a_cut_blanks_the_mark() {
        let (sim, a, _b, _) = two_processes();
        assert_eq!(a.append_commit(1, &document("a5")).expect("append"), 5);
        let lock_path = folder().join(SEGMENT_FOLDER).join(SYNC_LOCK_FILE);
        let read_mark = || Mark::decode(&sim.files(&folder().join(SEGMENT_FOLDER))[SYNC_LOCK_FILE]);
        assert!(read_mark().is_some(), "{}", lock_path.display());
        a.blank_sync_mark();
        assert_eq!(read_mark(), None);
    }

    #[test]
    fn a_sync_lock_with_another_name_is_never_written() {
        let dir = tempfile::tempdir().expect("a folder");
        let store = dir.path().join("store");
        let outside = dir.path().join("precious");
        std::fs::write(&outside, b"not foldstore's").expect("write");
        let open = || JournalStorage::with_durability(&store, Durability::Immediate);
        let (a, b) = (open(), open());
        a.ensure_created().expect("create");
        std::fs::hard_link(&outside, store.join(SEGMENT_FOLDER).join(SYNC_LOCK_FILE))
            .expect("link");
        for number in 1..=6 {
            let journal = if number % 2 == 1 { &a } else { &b };
            assert_eq!(
                journal.append_commit(1, &document("x")).expect("append"),
                number
            );
        }
        assert!(a.others_writing() && b.others_writing());
        assert_eq!(std::fs::read(&outside).expect("read"), b"not foldstore's");
    }

    #[cfg(unix)]
    #[test]
    fn processes_sharing_syncs_write_on_whatever_holds_the_sync_locks_name() {
        // Each kind of entry in the lock file's place: two processes take turns writing, each
        // seeing the other, and nothing outside the store changes.
        for kind in ["symlink", "fifo", "folder", "large"] {
            let dir = tempfile::tempdir().expect("a folder");
            let store = dir.path().join("store");
            let outside = dir.path().join("precious");
            std::fs::write(&outside, b"not foldstore's").expect("write");
            let open = || JournalStorage::with_durability(&store, Durability::Immediate);
            let (a, b) = (open(), open());
            a.ensure_created().expect("create");
            let lock = store.join(SEGMENT_FOLDER).join(SYNC_LOCK_FILE);
            match kind {
                "symlink" => std::os::unix::fs::symlink(&outside, &lock).expect("symlink"),
                "fifo" => rustix::fs::mknodat(
                    rustix::fs::CWD,
                    &lock,
                    rustix::fs::FileType::Fifo,
                    rustix::fs::Mode::from_raw_mode(0o644),
                    0,
                )
                .expect("fifo"),
                "folder" => std::fs::create_dir(&lock).expect("folder"),
                _ => std::fs::write(&lock, vec![b'x'; 4 * MARK_BYTES]).expect("large"),
            }
            for number in 1..=6 {
                let journal = if number % 2 == 1 { &a } else { &b };
                let appended = journal.append_commit(1, &document("x"));
                assert_eq!(appended.expect(kind), number, "{kind}");
            }
            assert!(a.others_writing() && b.others_writing(), "{kind}");
            assert_eq!(std::fs::read(&outside).expect("read"), b"not foldstore's");
            if kind == "large" {
                assert_eq!(
                    std::fs::read(&lock).expect("read"),
                    vec![b'x'; 4 * MARK_BYTES]
                );
            }
        }
    }

    #[test]
    fn a_mark_of_another_boot_segment_or_file_covers_nothing() {
        let (sim, a, _b, _) = two_processes();
        assert_eq!(a.append_commit(1, &document("a5")).expect("append"), 5);
        let segments = folder().join(SEGMENT_FOLDER);
        let file = sim
            .open(
                &segments.join(super::super::segment::segment_name(1)),
                Open::Write,
            )
            .expect("open");
        let lock = sim
            .open(&segments.join(SYNC_LOCK_FILE), Open::Write)
            .expect("open");
        let mut bytes = [0; MARK_BYTES];
        let read = super::super::scan::read_full_at(&*lock, &mut bytes, 0).expect("read");
        let mark = Mark::decode(&bytes[..read]).expect("A's sync left a mark");
        let boot = sim.boot_id().expect("a boot");
        let id = file.identity().expect("an identity");
        let covers = Covers {
            segment: 1,
            start: mark.since,
            last: 1,
            offset: 0,
            since: 0,
        };
        assert!(mark.covers(&boot, &*file, id, &covers));
        assert!(!mark.covers("another boot", &*file, id, &covers));
        assert!(!mark.covers(
            &boot,
            &*file,
            FileId {
                inode: id.inode + 1,
                ..id
            },
            &covers
        ));
        assert!(!mark.covers(
            &boot,
            &*file,
            id,
            &Covers {
                segment: 2,
                ..covers
            }
        ));
        assert!(!mark.covers(
            &boot,
            &*file,
            id,
            &Covers {
                last: mark.number + 1,
                ..covers
            }
        ));
        // After a power loss (a new boot), the mark says nothing.
        let image = sim.recover(Recovery::ALL[3]);
        assert_ne!(image.boot_id(), Some(boot));
    }
}
