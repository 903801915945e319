//! A reader racing a writer, made deterministic on the simulated file system: the reader's
//! scan meets a record half written, and the write completes before its next read.

use std::ffi::OsString;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use super::record::encode_record;
use super::segment::segment_name;
use super::SEGMENT_FOLDER;
use crate::event::Event;
use crate::storage::local::fs::{FileSystem, Handle, Kind, Open};
use crate::storage::local::sim::SimFs;
use crate::storage::test_kit::{folder, forward_fs, forward_handle, journal_on};
use crate::storage::{Durability, Storage};
use crate::store::Store;

/// The rest of a write in progress, run once.
type Pending = Arc<Mutex<Option<Box<dyn FnOnce() + Send>>>>;

/// The simulated file system, whose handles run `pending` (the rest of a write in progress)
/// just before their `at`th read or size lookup.
struct Completing {
    sim: Arc<SimFs>,
    reads: Arc<AtomicUsize>,
    at: usize,
    pending: Pending,
}

impl std::fmt::Debug for Completing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Completing")
    }
}

impl FileSystem for Completing {
    forward_fs!(sim: read, kind, modified, list, create_dir_all, write_new, rename_noreplace,
        rename, is_link, remove, sync_dir);

    fn open(&self, path: &Path, mode: Open) -> io::Result<Arc<dyn Handle>> {
        let inner = self.sim.open(path, mode)?;
        Ok(Arc::new(CompletingHandle {
            inner,
            reads: Arc::clone(&self.reads),
            at: self.at,
            pending: Arc::clone(&self.pending),
        }))
    }
}

struct CompletingHandle {
    inner: Arc<dyn Handle>,
    reads: Arc<AtomicUsize>,
    at: usize,
    pending: Pending,
}

impl std::fmt::Debug for CompletingHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CompletingHandle")
    }
}

impl Handle for CompletingHandle {
    forward_handle!(inner: set_len, sync_data, modified, lock, unlock);

    fn len(&self) -> io::Result<u64> {
        self.step();
        self.inner.len()
    }

    fn write_all_at(&self, bytes: &[u8], offset: u64) -> io::Result<()> {
        self.inner.write_all_at(bytes, offset)
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.step();
        self.inner.read_at(buf, offset)
    }
}

impl CompletingHandle {
    fn step(&self) {
        if self.reads.fetch_add(1, Ordering::SeqCst) + 1 == self.at {
            if let Some(complete) = self.pending.lock().unwrap().take() {
                complete();
            }
        }
    }
}

/// A reader whose scan meets commit 4 half written, and whose next read (the search for a
/// whole record after it) finds the write completed with commit 5 after it, must not take
/// commit 4 for damage (nor keep it as such).
#[test]
fn a_reader_that_meets_a_write_in_progress_records_no_damage() {
    let sim = Arc::new(SimFs::with_folder(&folder()));
    let writer = Store::with_storage(journal_on(sim.clone(), Durability::None));
    for i in 1..=3 {
        writer.log(&Event::new(format!("commit {i}"))).unwrap();
    }
    drop(writer);
    let segment = folder().join(SEGMENT_FOLDER).join(segment_name(1));
    let end = sim.open(&segment, Open::Read).unwrap().len().unwrap();
    let mut records = Vec::new();
    for n in [4u64, 5] {
        let document = crate::format::encode_commit(
            &crate::event::Headers::new(),
            &[Event::new(format!("commit {n}"))],
        )
        .unwrap();
        encode_record(&mut records, n, &document);
    }
    // The write in progress: the first half of commit 4's record is there.
    let half = 20;
    let file = sim.open(&segment, Open::Write).unwrap();
    file.write_all_at(&records[..half], end).unwrap();
    let rest = records[half..].to_vec();
    let fs = Arc::new(Completing {
        sim: sim.clone(),
        reads: Arc::new(AtomicUsize::new(0)),
        // The reader's first look (the segment's size, for its end) and its scan's reads (the
        // bytes, then the end of the file) meet the half record; the write completes before it
        // looks any further (the segment's size again, then a whole record after the half one).
        at: 4,
        pending: Arc::new(Mutex::new(Some(Box::new(move || {
            file.write_all_at(&rest, end + half as u64).unwrap();
        })))),
    });
    let storage = journal_on(fs.clone(), Durability::None);
    assert_eq!(storage.last_commit().unwrap(), 5);
    assert!(
        fs.pending.lock().unwrap().is_none(),
        "the write did not complete mid-read"
    );
    let reader = Store::with_storage(storage);
    for n in 1..=5 {
        let commit = reader
            .read_commit(n)
            .unwrap_or_else(|e| panic!("commit {n}: {e}"));
        assert_eq!(commit.events()[0].name(), format!("commit {n}"));
    }
    assert_eq!(reader.log(&Event::new("commit 6")).unwrap(), 6);
}
