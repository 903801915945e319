//! Archiving under power loss, on the simulated file system: the power goes off after each
//! change an archiving run makes, in turn, and every image a restart can find (unsynced folder
//! entries and file data lost or kept, unsynced writes torn) must hold every commit, byte for
//! byte, either all in the live store (the old state) or split at the marker's start between
//! the archive and the live store (the new state); a run acknowledged must have left the new
//! state; and a second run on any image must finish the archiving.

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use serde_json::json;

use crate::error::Error;
use crate::event::Event;
use crate::storage::local::fs::{FileSystem, Handle, Kind, Open};
use crate::storage::local::sim::{Recovery, SimFs};
use crate::storage::test_kit::{folder, forward_fs, journal_on};
use crate::storage::{Durability, LooseStorage, Storage};
use crate::store::{Layout, Store};
use crate::{ArchiveOptions, ArchiveUpTo};

/// Commits in the store, and the last one archived.
const COMMITS: u64 = 24;
const UP_TO: u64 = 17;

fn archive_folder() -> PathBuf {
    PathBuf::from("/archive")
}

fn open(fs: &Arc<SimFs>, layout: Layout, with_archive: bool) -> Store {
    try_open(fs, layout, with_archive).unwrap()
}

fn try_open(fs: &Arc<SimFs>, layout: Layout, with_archive: bool) -> crate::error::Result<Store> {
    let storage: Arc<dyn Storage> = match layout {
        Layout::Journal => Arc::new(journal_on(fs.clone(), Durability::Immediate)),
        _ => Arc::new(LooseStorage::with_file_system(
            folder(),
            Durability::Immediate,
            fs.clone(),
        )),
    };
    let builder = Store::builder(folder()).shared_storage(storage);
    let builder = if with_archive {
        builder.shared_archive(archive(fs))
    } else {
        builder
    };
    builder.open()
}

fn archive(fs: &Arc<SimFs>) -> Arc<dyn Storage> {
    Arc::new(LooseStorage::with_file_system(
        archive_folder(),
        Durability::Immediate,
        fs.clone(),
    ))
}

fn options(fs: &Arc<SimFs>) -> ArchiveOptions {
    ArchiveOptions::new(archive(fs), "/archive", ArchiveUpTo::Commit(UP_TO))
}

/// A store of [`COMMITS`] commits on a new file system, and their bytes.
fn setup(layout: Layout) -> (Arc<SimFs>, Vec<Vec<u8>>) {
    let fs = Arc::new(SimFs::with_folder(&folder()));
    let store = open(&fs, layout, false);
    store.ensure_folder().unwrap();
    for i in 0..COMMITS {
        store
            .log(&Event::with_data(
                "numbered",
                json!({ "i": i, "pad": "x".repeat(40) }),
            ))
            .unwrap();
    }
    let bytes = (1..=COMMITS)
        .map(|n| store.storage().read_commit(n).unwrap().unwrap())
        .collect();
    (fs, bytes)
}

/// Every image a restart can find after the power loss on `fs`.
fn images(fs: &SimFs) -> Vec<(SimFs, String)> {
    let mut images: Vec<(SimFs, String)> = Recovery::ALL
        .iter()
        .map(|recovery| (fs.recover(*recovery), format!("{recovery:?}")))
        .collect();
    for keep_even in [true, false] {
        let recovery = Recovery {
            unsynced_entries_survive: true,
            unsynced_data_survives: true,
        };
        images.push((
            fs.recover_torn(recovery, keep_even),
            format!("torn, even blocks kept: {keep_even}"),
        ));
    }
    images
}

/// Every commit of `store` is `bytes`, read through the archive; the log starts at 1 or after
/// the archived commits; returns where.
fn check_whole(store: &Store, bytes: &[Vec<u8>], what: &str) -> u64 {
    let start = store.log_start().unwrap();
    assert!(
        start == 1 || start == UP_TO + 1,
        "{what}: the log starts at {start}"
    );
    assert_eq!(store.tip().unwrap(), COMMITS, "{what}");
    for (n, expected) in (1..).zip(bytes) {
        let read = store.storage().read_commit(n);
        assert_eq!(read.unwrap().as_ref(), Some(expected), "{what}: commit {n}");
    }
    let mut replayed = 0;
    store.replay_event_stream(|_, _| replayed += 1).unwrap();
    assert_eq!(replayed, COMMITS, "{what}");
    start
}

fn power_loss_at_every_step(layout: Layout) {
    let (fs, _) = setup(layout);
    let before = fs.changes();
    open(&fs, layout, false)
        .archive(&options(&fs), |_, _, _| {})
        .unwrap();
    let changes = fs.changes() - before;
    assert!(changes > 6, "{changes} changes");
    for step in 0..=changes {
        let (fs, bytes) = setup(layout);
        fs.power_off_after(step);
        let outcome = try_open(&fs, layout, false)
            .and_then(|store| store.archive(&options(&fs), |_, _, _| {}));
        for (image, what) in images(&fs) {
            let what = format!("{layout:?}, power off after {step} of {changes} changes, {what}");
            let image = Arc::new(image);
            let start = check_whole(&open(&image, layout, true), &bytes, &what);
            if outcome.is_ok() {
                assert_eq!(start, UP_TO + 1, "{what}: acknowledged, then lost");
            }
            if start == 1 {
                // The old state: the live store alone holds every commit.
                let alone = open(&image, layout, false);
                assert_eq!(
                    alone.storage().read_commit(1).unwrap().as_ref(),
                    Some(&bytes[0]),
                    "{what}"
                );
            }
            // A second run finishes it.
            let report = open(&image, layout, false)
                .archive(&options(&image), |_, _, _| {})
                .unwrap_or_else(|e| panic!("{what}: archiving again: {e}"));
            assert_eq!(report.start, UP_TO + 1, "{what}");
            let start = check_whole(&open(&image, layout, true), &bytes, &what);
            assert_eq!(start, UP_TO + 1, "{what}");
            let alone = open(&image, layout, false);
            assert!(matches!(
                alone.storage().read_commit(UP_TO),
                Err(Error::Archived { .. })
            ));
            let live = alone.storage().read_commit(UP_TO + 1).unwrap();
            assert_eq!(live.as_ref(), Some(&bytes[UP_TO as usize]), "{what}");
        }
    }
}

#[test]
fn a_journal_archive_interrupted_by_power_loss_at_any_step_loses_nothing() {
    power_loss_at_every_step(Layout::Journal);
}

#[test]
fn a_loose_archive_interrupted_by_power_loss_at_any_step_loses_nothing() {
    power_loss_at_every_step(Layout::Loose);
}

#[test]
fn the_archive_folder_is_made_by_the_run() {
    let (fs, _) = setup(Layout::Journal);
    assert!(fs.kind(&archive_folder()).unwrap().is_none());
    open(&fs, Layout::Journal, false)
        .archive(&options(&fs), |_, _, _| {})
        .unwrap();
    assert!(fs.kind(&archive_folder()).unwrap().is_some());
}

/// The simulated file system, failing the `fail_at`-th sync (from 0) of the archive folder
/// with EIO after it was made (its flush lost), and counting those syncs.
#[derive(Debug)]
struct ArchiveSyncFails {
    sim: Arc<SimFs>,
    fail_at: Option<usize>,
    seen: std::sync::atomic::AtomicUsize,
}

impl FileSystem for ArchiveSyncFails {
    forward_fs!(sim: read, kind, modified, list, create_dir_all,
        write_new, rename_noreplace, rename, is_link, remove);

    fn open(&self, path: &Path, mode: Open) -> io::Result<Arc<dyn Handle>> {
        self.sim.open(path, mode)
    }

    fn sync_dir(&self, folder: &Path) -> io::Result<()> {
        if folder == archive_folder() {
            let seen = self.seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            if Some(seen) == self.fail_at {
                // Its flush lost: nothing of the folder is made durable.
                return Err(io::Error::from_raw_os_error(
                    rustix::io::Errno::IO.raw_os_error(),
                ));
            }
        }
        self.sim.sync_dir(folder)
    }
}

#[test]
fn a_second_run_after_a_failed_sync_of_the_archive_makes_it_durable_before_it_removes_commits() {
    for layout in [Layout::Journal, Layout::Loose] {
        // How many syncs of the archive folder a run makes: the last one (after the manifest)
        // fails in the first run.
        let (fs, _) = setup(layout);
        let counting = Arc::new(ArchiveSyncFails {
            sim: fs.clone(),
            fail_at: None,
            seen: Default::default(),
        });
        let store = Store::builder(folder())
            .shared_storage(storage_on(counting.clone(), layout))
            .open()
            .unwrap();
        let archive: Arc<dyn Storage> = Arc::new(LooseStorage::with_file_system(
            archive_folder(),
            Durability::Immediate,
            counting.clone(),
        ));
        store
            .archive(
                &ArchiveOptions::new(archive, "/archive", ArchiveUpTo::Commit(UP_TO)),
                |_, _, _| {},
            )
            .unwrap();
        let syncs = counting.seen.load(std::sync::atomic::Ordering::SeqCst);
        assert!(syncs > 0);

        let (fs, bytes) = setup(layout);
        let failing = Arc::new(ArchiveSyncFails {
            sim: fs.clone(),
            fail_at: Some(syncs - 1),
            seen: Default::default(),
        });
        let store = Store::builder(folder())
            .shared_storage(storage_on(failing.clone(), layout))
            .open()
            .unwrap();
        let archive: Arc<dyn Storage> = Arc::new(LooseStorage::with_file_system(
            archive_folder(),
            Durability::Immediate,
            failing.clone(),
        ));
        let failed = store.archive(
            &ArchiveOptions::new(archive, "/archive", ArchiveUpTo::Commit(UP_TO)),
            |_, _, _| {},
        );
        assert!(
            failed.is_err(),
            "{layout:?}: the first run reports its failed sync"
        );
        // The second run finds the archive's documents with the same bytes, and finishes.
        let report = open(&fs, layout, false)
            .archive(&options(&fs), |_, _, _| {})
            .unwrap();
        assert_eq!(report.start, UP_TO + 1);
        // Power loss: every image holds every commit (the archived ones in the archive).
        for (image, what) in images(&fs) {
            let what = format!("{layout:?}, {what}");
            let image = Arc::new(image);
            let start = check_whole(&open(&image, layout, true), &bytes, &what);
            assert_eq!(start, UP_TO + 1, "{what}");
        }
    }
}

/// The store's storage of `layout` on `fs`.
fn storage_on(fs: Arc<dyn FileSystem>, layout: Layout) -> Arc<dyn Storage> {
    match layout {
        Layout::Journal => Arc::new(crate::storage::JournalStorage::with_file_system(
            folder(),
            Durability::Immediate,
            crate::storage::test_kit::SEGMENT_BYTES,
            fs,
        )),
        _ => Arc::new(LooseStorage::with_file_system(
            folder(),
            Durability::Immediate,
            fs,
        )),
    }
}
