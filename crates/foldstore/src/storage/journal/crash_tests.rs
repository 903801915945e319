//! Power loss at every point of the journal's writes, on the simulated file system.
//!
//! A scenario of commits (single events and blocks, one thread, then several threads at once so
//! that their commits are written as group commits), snapshots and segment rollover (segments
//! of [`SEGMENT_BYTES`](crate::storage::test_kit::SEGMENT_BYTES)), with free space (journal version 2, [`Durability::Immediate`]), runs
//! with the power going off after 0, 1, 2, ... changes to the file system, until it runs whole.
//! After each cut, every image a restart can find is checked: each way the unsynced state can
//! come out ([`Recovery::ALL`]), and images in which the disk wrote only alternate blocks of the
//! unsynced data ([`SimFs::recover_torn`]). A new store must find every acknowledged commit and
//! snapshot, byte for byte, exactly once; no commit the scenario did not write; no torn commit
//! readable. Then a new writer appends (cutting a torn tail into the quarantine), and the log
//! reads whole from commit 1 to its end.
//!
//! [`Durability::None`] makes the weaker promise: after a power loss nothing acknowledged need
//! be there (after a crash of the process alone, everything is), but what is read is the
//! scenario's, once, damage is reported as such, and a writer goes on.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde_json::json;

use super::segment::segment_name;
use super::{JOURNAL_MARKER, SEGMENT_FOLDER};
use crate::error::Error;
use crate::event::Event;
use crate::storage::local::fs::{FileSystem, Handle, Kind, Open};
use crate::storage::local::sim::{Recovery, SimFs};
use crate::storage::names::{QUARANTINE_FOLDER, TEMP_PREFIX};
use crate::storage::test_kit::{
    assert_acknowledged_kept, folder, forward_fs, forward_handle, grouped, journal_on, log_events,
    possible_commits, read_in_order, scenario, Step, PER_THREAD, THREADS,
};
use crate::storage::{Durability, Storage};
use crate::store::Store;

/// The file system of the scenario's runs: the simulated one, whose writers' lock waits a
/// little while the group step runs, so that the other threads queue their commits meanwhile
/// and the next leader writes them as one batch (group commit). It changes nothing else.
#[derive(Debug)]
struct Grouping {
    sim: Arc<SimFs>,
    slow_lock: Arc<AtomicBool>,
    /// Writes that carried more than one record (group commits).
    batches: Arc<AtomicU64>,
}

#[derive(Debug)]
struct GroupingHandle {
    inner: Arc<dyn Handle>,
    slow_lock: Arc<AtomicBool>,
    batches: Arc<AtomicU64>,
}

impl FileSystem for Grouping {
    forward_fs!(
        sim: read, kind, modified, list, create_dir_all, write_new, rename_noreplace, rename,
        is_link, remove, sync_dir, boot_id
    );
    fn open(&self, path: &Path, mode: Open) -> io::Result<Arc<dyn Handle>> {
        let inner = self.sim.open(path, mode)?;
        Ok(Arc::new(GroupingHandle {
            inner,
            slow_lock: Arc::clone(&self.slow_lock),
            batches: Arc::clone(&self.batches),
        }))
    }
}

impl Handle for GroupingHandle {
    forward_handle!(inner: read_at, len, set_len, sync_data, modified, unlock, identity);
    fn write_all_at(&self, bytes: &[u8], offset: u64) -> io::Result<()> {
        let records = bytes.windows(5).filter(|w| w == b"{\"n\":").count();
        let result = self.inner.write_all_at(bytes, offset);
        if records > 1 && result.is_ok() {
            self.batches.fetch_add(1, Ordering::SeqCst);
        }
        result
    }
    fn lock(&self) -> io::Result<()> {
        if self.slow_lock.load(Ordering::SeqCst) {
            // Not a timing assertion: only gives the other threads time to queue.
            std::thread::sleep(Duration::from_millis(2));
        }
        self.inner.lock()
    }
}

/// What the writers were told had succeeded before the power went.
#[derive(Debug, Default)]
struct Acknowledged {
    commits: BTreeMap<u64, Vec<Event>>,
    snapshots: Vec<u64>,
    /// Whether every step succeeded.
    whole: bool,
    /// Writes of more than one record (group commits).
    group_batches: u64,
}

/// Runs the scenario until its end or the first failure (the power going off).
fn run(fs: &Arc<SimFs>, durability: Durability) -> Acknowledged {
    let slow_lock = Arc::new(AtomicBool::new(false));
    let batches = Arc::new(AtomicU64::new(0));
    let grouping = Arc::new(Grouping {
        sim: Arc::clone(fs),
        slow_lock: Arc::clone(&slow_lock),
        batches: Arc::clone(&batches),
    });
    let store = Store::with_storage(journal_on(grouping, durability));
    let acknowledged = Mutex::new(Acknowledged::default());
    let ack = |number: u64, events: Vec<Event>| {
        let previous = acknowledged.lock().unwrap().commits.insert(number, events);
        assert!(previous.is_none(), "commit {number} acknowledged twice");
    };
    let mut group = 0;
    for step in scenario(true) {
        let ok = match step {
            Step::Log(event) => store.log(&event).map(|n| ack(n, vec![event])).is_ok(),
            Step::Block(events) => log_events(&store, &events)
                .map(|n| {
                    if let Some(n) = n {
                        ack(n, events);
                    }
                })
                .is_ok(),
            Step::Group => {
                slow_lock.store(true, Ordering::SeqCst);
                let failed = AtomicBool::new(false);
                std::thread::scope(|scope| {
                    for thread in 0..THREADS {
                        let (store, failed, ack) = (&store, &failed, &ack);
                        scope.spawn(move || {
                            for i in 0..PER_THREAD {
                                let event = grouped(group * THREADS + thread, i);
                                match store.log(&event) {
                                    Ok(n) => ack(n, vec![event]),
                                    Err(_) => {
                                        failed.store(true, Ordering::SeqCst);
                                        break;
                                    }
                                }
                            }
                        });
                    }
                });
                slow_lock.store(false, Ordering::SeqCst);
                group += 1;
                !failed.load(Ordering::SeqCst)
            }
            Step::Snapshot(name) => {
                let tip = acknowledged
                    .lock()
                    .unwrap()
                    .commits
                    .keys()
                    .max()
                    .copied()
                    .unwrap_or(0);
                let data = json!({ "commits": tip });
                store
                    .save_snapshot(name, tip, &data)
                    .map(|()| acknowledged.lock().unwrap().snapshots.push(tip))
                    .is_ok()
            }
        };
        if !ok {
            let mut acknowledged = acknowledged.into_inner().unwrap();
            acknowledged.group_batches = batches.load(Ordering::SeqCst);
            return acknowledged;
        }
    }
    let mut acknowledged = acknowledged.into_inner().unwrap();
    acknowledged.whole = true;
    acknowledged.group_batches = batches.load(Ordering::SeqCst);
    acknowledged
}

/// The files of the quarantine folder.
fn quarantined(image: &SimFs) -> usize {
    image.files(&folder().join(QUARANTINE_FOLDER)).len()
}

/// Figures of a restart, summed over all.
#[derive(Debug, Default)]
struct Figures {
    restarts: u64,
    /// Restarts whose writer cut a torn tail into the quarantine.
    torn_tails_cut: u64,
    /// Commits found (before the new writer's), summed.
    commits_found: u64,
    /// Commits reported as damaged (only without syncs).
    damaged: u64,
    /// Unacknowledged commits found whole (written, not yet acknowledged when the power went).
    unacknowledged_found: u64,
    /// Runs (cut points) whose writes included a group commit.
    runs_with_group_commits: u64,
    /// Temporary files (of the marker) left in the store's folder after the new writer.
    temporaries_left: u64,
}

/// Restarts on `image` and checks it. `strict`: every commit found must read whole
/// (synced writes); otherwise damage may be reported for commits, never invented ones.
/// `keeps_acknowledged`: every acknowledged commit and snapshot must be there.
fn check(
    image: Arc<SimFs>,
    acknowledged: &Acknowledged,
    strict: bool,
    keeps_acknowledged: bool,
    what: &str,
    figures: &mut Figures,
) {
    figures.restarts += 1;
    let store = Store::with_storage(journal_on(image.clone(), Durability::Immediate));
    let tip = store
        .tip()
        .unwrap_or_else(|e| panic!("{what}: the end of the log: {e}"));
    figures.commits_found += tip;

    // Every commit present is one of the scenario's, whole, and none is there twice.
    let mut possible = possible_commits(true);
    for number in 1..=tip {
        match store.read_commit(number) {
            Ok(commit) => {
                let position = possible
                    .iter()
                    .position(|events| events.as_slice() == commit.events())
                    .unwrap_or_else(|| {
                        panic!(
                            "{what}: commit {number} ({:?}) is not one the scenario wrote, or is there twice",
                            commit.events()
                        )
                    });
                possible.remove(position);
                if !acknowledged.commits.contains_key(&number) {
                    figures.unacknowledged_found += 1;
                }
            }
            Err(Error::CorruptCommit { .. }) if !strict => figures.damaged += 1,
            Err(e) => panic!("{what}: commit {number} of {tip}: {e}"),
        }
    }
    let report = store.verify(|_, _| {}).unwrap();
    if strict {
        assert!(
            report.is_sound(),
            "{what}: {:?} {:?}",
            report.problems,
            report.warnings
        );
        assert_eq!(report.sound_commits, tip, "{what}");
    }
    if keeps_acknowledged {
        assert_acknowledged_kept(&store, &acknowledged.commits, &acknowledged.snapshots, what);
    }
    if let Ok(labels) = store.snapshot_labels("accounts") {
        for label in labels {
            match store.read_snapshot("accounts", label) {
                Ok(Some(snapshot)) => {
                    assert_eq!(snapshot.data, Some(json!({ "commits": label })), "{what}");
                }
                other if strict => panic!("{what}: snapshot {label}: {other:?}"),
                _ => {}
            }
        }
    }

    // A new writer goes on at the end, cutting a torn tail off into the quarantine.
    let before = quarantined(&image);
    let writer = Store::with_storage(journal_on(image.clone(), Durability::Immediate));
    let next = writer
        .log(&Event::new("after the restart"))
        .unwrap_or_else(|e| panic!("{what}: a new writer after the restart: {e}"));
    assert_eq!(next, tip + 1, "{what}");
    let after = quarantined(&image);
    assert!(after <= before + 1, "{what}: {before} → {after}");
    if after > before {
        figures.torn_tails_cut += 1;
    }

    // The log reads whole, from commit 1 to its end, for a new reader.
    let reader = Store::with_storage(journal_on(image.clone(), Durability::Immediate));
    assert_eq!(reader.tip().unwrap(), tip + 1, "{what}");
    let read = read_in_order(&reader, !strict, what, "reading the log after the restart");
    if strict {
        assert_eq!(read, tip + 1, "{what}");
    }
    let last = reader.read_commit(tip + 1).unwrap();
    assert_eq!(last.events(), [Event::new("after the restart")], "{what}");
    let temporaries = image
        .files(&folder())
        .into_keys()
        .filter(|name| name.starts_with(TEMP_PREFIX))
        .count();
    figures.temporaries_left += temporaries as u64;
    let listing = reader.storage().list().unwrap();
    assert_eq!(listing.commits, (1..=tip + 1).collect::<Vec<_>>(), "{what}");
    if strict {
        assert!(
            listing.suspicious.is_empty(),
            "{what}: {:?}",
            listing.suspicious
        );
    }
}

/// Every image a restart can find after the power loss on `fs`, with its description.
fn images(fs: &SimFs) -> Vec<(SimFs, String)> {
    let mut images: Vec<(SimFs, String)> = Recovery::ALL
        .iter()
        .map(|recovery| (fs.recover(*recovery), format!("{recovery:?}")))
        .collect();
    for entries in [false, true] {
        for keep_even in [true, false] {
            let recovery = Recovery {
                unsynced_entries_survive: entries,
                unsynced_data_survives: true,
            };
            images.push((
                fs.recover_torn(recovery, keep_even),
                format!("torn (entries survive: {entries}, even blocks kept: {keep_even})"),
            ));
        }
    }
    images
}

/// The scenario once, whole: it makes what the scenario is meant to exercise.
fn check_whole_run(durability: Durability) -> u64 {
    let fs = Arc::new(SimFs::with_folder(&folder()));
    let acknowledged = run(&fs, durability);
    assert!(acknowledged.whole);
    assert_eq!(
        acknowledged.commits.len(),
        possible_commits(true).len(),
        "every commit acknowledged"
    );
    let marker = fs.read(&folder().join(JOURNAL_MARKER)).unwrap();
    assert!(
        String::from_utf8_lossy(&marker).contains("\"version\":2"),
        "{marker:?}"
    );
    let segments = fs.files(&folder().join(SEGMENT_FOLDER));
    let jsonl: Vec<&Vec<u8>> = segments
        .iter()
        .filter(|(name, _)| name.ends_with(".jsonl"))
        .map(|(_, bytes)| bytes)
        .collect();
    assert!(jsonl.len() >= 4, "segment rollover: {:?}", segments.keys());
    if durability == Durability::Immediate {
        let last = jsonl.last().unwrap();
        assert_eq!(
            last.last(),
            Some(&b' '),
            "the last segment ends with free space"
        );
    }
    fs.changes()
}

/// Cuts the power after every number of changes until the scenario runs whole; returns the
/// number of cuts and the figures of the restarts.
fn cut_everywhere(durability: Durability) -> (u64, Figures) {
    let whole_changes = check_whole_run(durability);
    let mut figures = Figures::default();
    let mut cut = 0;
    loop {
        let fs = Arc::new(SimFs::with_folder(&folder()));
        fs.power_off_after(cut);
        let acknowledged = run(&fs, durability);
        if acknowledged.group_batches > 0 {
            figures.runs_with_group_commits += 1;
        }
        for (image, recovery) in images(&fs) {
            let what = format!("{durability:?}, power off after {cut} changes, {recovery}");
            let process_crash =
                recovery.contains("unsynced_entries_survive: true, unsynced_data_survives: true");
            let synced = durability == Durability::Immediate;
            check(
                Arc::new(image),
                &acknowledged,
                synced,
                synced || process_crash,
                &what,
                &mut figures,
            );
        }
        if acknowledged.whole {
            break;
        }
        cut += 1;
        assert!(
            cut <= whole_changes * 4,
            "the scenario never ran whole ({cut} cuts, {whole_changes} changes when whole)"
        );
    }
    (cut + 1, figures)
}

#[test]
fn power_loss_at_every_change_of_the_journal_loses_no_acknowledged_commit() {
    let (cuts, figures) = cut_everywhere(Durability::Immediate);
    eprintln!(
        "journal power loss (Immediate): {cuts} cut points, {} restarts, {figures:?}",
        figures.restarts
    );
    assert_eq!(figures.damaged, 0);
    assert!(
        figures.torn_tails_cut > 0,
        "no torn tail was ever cut: {figures:?}"
    );
}

#[test]
fn without_syncs_a_power_loss_leaves_a_readable_journal_and_a_writer_goes_on() {
    let (cuts, figures) = cut_everywhere(Durability::None);
    eprintln!(
        "journal power loss (None): {cuts} cut points, {} restarts, {figures:?}",
        figures.restarts
    );
}

/// The power went after the segment folder was made and before the marker was published (the
/// first write of a new journal store): the folder holds `journal/` and no marker. The next
/// write must make the journal, as it does in a folder that holds nothing.
#[test]

fn a_segment_folder_without_a_marker_is_made_a_journal_by_the_first_write() {
    let fs = Arc::new(SimFs::with_folder(&folder()));
    fs.create_dir_all(&folder().join(SEGMENT_FOLDER)).unwrap();
    let store = Store::with_storage(journal_on(fs.clone(), Durability::Immediate));
    assert_eq!(store.log(&Event::new("first")).unwrap(), 1);
    assert!(fs.read(&folder().join(JOURNAL_MARKER)).is_ok());
}

/// The commit before the end of the log is damaged, in a segment before the last (the last
/// holds only a torn record: what a power loss leaves of unsynced segments). The journal
/// appends after damage in an earlier segment (and cuts the torn record off); so must the
/// store, whose look back asks whether the commit before the end exists: a damaged commit
/// exists, as in the loose layout.
#[test]

fn a_damaged_commit_exists_for_a_writer_looking_back() {
    let fs = Arc::new(SimFs::with_folder(&folder()));
    let store = Store::with_storage(journal_on(fs.clone(), Durability::Immediate));
    let mut n = 0;
    let segment_count = |fs: &SimFs| {
        fs.files(&folder().join(SEGMENT_FOLDER))
            .keys()
            .filter(|name| name.ends_with(".jsonl"))
            .count()
    };
    while segment_count(&fs) < 2 {
        n = store
            .log(&Event::with_data("numbered", json!({ "i": n + 1 })))
            .unwrap();
    }
    drop(store);
    // `n` starts the last segment: damage the commit before it (the last of the segment
    // before), and tear the last segment's only record.
    let segments = folder().join(SEGMENT_FOLDER);
    let files = fs.files(&segments);
    let (before, bytes) = files
        .iter()
        .filter(|(name, _)| name.ends_with(".jsonl"))
        .nth_back(1)
        .unwrap();
    let text = String::from_utf8_lossy(bytes).into_owned();
    let at = text.rfind(&format!("\"i\":{}", n - 1)).unwrap() + 4;
    let file = fs.open(&segments.join(before), Open::Write).unwrap();
    file.write_all_at(if bytes[at] == b'9' { b"8" } else { b"9" }, at as u64)
        .unwrap();
    let last = fs
        .open(&segments.join(segment_name(n)), Open::Write)
        .unwrap();
    last.set_len(40).unwrap();

    let storage = journal_on(fs.clone(), Durability::Immediate);
    assert_eq!(storage.last_commit().unwrap(), n - 1);
    assert!(matches!(
        storage.read_commit(n - 1),
        Err(Error::CorruptCommit { .. })
    ));
    assert!(storage.commit_exists(n - 1).unwrap());
    let store = Store::with_storage(storage);
    assert_eq!(store.log(&Event::new("after the damage")).unwrap(), n);
}

/// The file system of a writer whose sync is overtaken by another process: the first time it
/// syncs once the first segment's records reach the segment size (its lock released, its sync
/// not yet done), `overtake` runs (another process's writes), and then the power goes.
struct Overtaken {
    sim: Arc<SimFs>,
    overtake: Overtake,
}

/// What runs when a writer's sync is overtaken (once).
type Overtake = Arc<Mutex<Option<Box<dyn FnOnce() + Send>>>>;

struct OvertakenHandle {
    inner: Arc<dyn Handle>,
    sim: Arc<SimFs>,
    overtake: Overtake,
}

impl std::fmt::Debug for Overtaken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Overtaken")
    }
}

impl std::fmt::Debug for OvertakenHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OvertakenHandle")
    }
}

impl FileSystem for Overtaken {
    forward_fs!(
        sim: read, kind, modified, list, create_dir_all, write_new, rename_noreplace, rename,
        is_link, remove, sync_dir, boot_id
    );
    fn open(&self, path: &Path, mode: Open) -> io::Result<Arc<dyn Handle>> {
        Ok(Arc::new(OvertakenHandle {
            inner: self.sim.open(path, mode)?,
            sim: Arc::clone(&self.sim),
            overtake: Arc::clone(&self.overtake),
        }))
    }
}

impl Handle for OvertakenHandle {
    forward_handle!(inner: read_at, len, set_len, modified, unlock, identity);
    fn write_all_at(&self, bytes: &[u8], offset: u64) -> io::Result<()> {
        self.inner.write_all_at(bytes, offset)
    }
    fn lock(&self) -> io::Result<()> {
        self.inner.lock()
    }
    fn sync_data(&self) -> io::Result<()> {
        let segments = self.sim.files(&folder().join(SEGMENT_FOLDER));
        let first = segments.get(&segment_name(1)).cloned().unwrap_or_default();
        let records_end = first
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |at| at + 1);
        if records_end as u64 >= crate::storage::test_kit::SEGMENT_BYTES {
            let overtake = self.overtake.lock().unwrap().take();
            if let Some(overtake) = overtake {
                overtake();
                self.sim.power_off_after(0);
            }
        }
        self.inner.sync_data()
    }
}

#[test]
fn a_commit_acknowledged_in_a_new_segment_keeps_the_unsynced_commits_of_another_process_before_it()
{
    // Process A fills the first segment; its last commit's sync, done after releasing the lock,
    // is overtaken by process B, whose commit starts the next segment and is acknowledged;
    // then the power goes before A's sync. B's commit must survive, and with it A's before it
    // (the segment B closed was synced before B's commit was written).
    let fs = Arc::new(SimFs::with_folder(&folder()));
    let overtake: Overtake = Arc::default();
    let a = Store::with_storage(journal_on(
        Arc::new(Overtaken {
            sim: Arc::clone(&fs),
            overtake: Arc::clone(&overtake),
        }),
        Durability::Immediate,
    ));
    let b_acknowledged: Arc<Mutex<Option<u64>>> = Arc::default();
    let (b_fs, b_result) = (Arc::clone(&fs), Arc::clone(&b_acknowledged));
    *overtake.lock().unwrap() = Some(Box::new(move || {
        let b = Store::with_storage(journal_on(b_fs, Durability::Immediate));
        let number = b.log(&Event::new("b wrote this")).expect("B's commit");
        *b_result.lock().unwrap() = Some(number);
    }));
    let mut a_acknowledged = 0;
    let a_last = loop {
        match a.log(&Event::new(format!("a wrote {}", a_acknowledged + 1))) {
            Ok(number) => a_acknowledged = number,
            Err(Error::OutcomeUnknown { commit, .. }) => break commit,
            Err(e) => panic!("A's commit {}: {e}", a_acknowledged + 1),
        }
        assert!(a_acknowledged < 100, "the first segment never filled");
    };
    let b_number = b_acknowledged.lock().unwrap().expect("B overtook A's sync");
    assert_eq!(b_number, a_last + 1);
    assert!(
        fs.files(&folder().join(SEGMENT_FOLDER))
            .contains_key(&segment_name(b_number)),
        "B's commit started a segment"
    );

    for (image, recovery) in images(&fs) {
        let store = Store::with_storage(journal_on(Arc::new(image), Durability::Immediate));
        assert_eq!(store.tip().unwrap(), b_number, "{recovery}");
        assert_eq!(
            store.read_commit(b_number).unwrap().events(),
            [Event::new("b wrote this")],
            "{recovery}"
        );
        assert_eq!(
            store.read_commit(a_last).unwrap().events(),
            [Event::new(format!("a wrote {a_last}"))],
            "{recovery}"
        );
    }
}
