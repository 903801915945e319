//! Faults injected into the journal's file operations, at the file-system seam.
//!
//! A scenario (a journal with a torn tail, then commits with segment rollover and free space,
//! and a snapshot) runs on the simulated file system through [`Faulty`], which fails one
//! operation of the run (the `n`th `write_all_at`, `sync_data`, `set_len`, `open`,
//! `write_new`, `rename` or `sync_dir`) with ENOSPC, EIO or EDQUOT; every later operation
//! succeeds. A failed `write_all_at` writes the first half of its bytes first, as a write cut
//! short by a full disk does. For every operation of the scenario and every errno, each call's
//! result is recorded, then a fresh store on the same (unfaulted) file system checks that the
//! errors told the truth: every acknowledged commit is there once, byte for byte; no commit
//! whose call failed plainly ("not written") is there; a commit whose outcome was reported
//! unknown may be either way; the log reads whole (damage is only allowed where an outcome was
//! unknown); a write after the fault succeeds; and the quarantine holds only the torn tail the
//! journal started with, once.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use serde_json::json;

use super::record::FREE;
use super::SEGMENT_FOLDER;
use crate::error::Error;
use crate::event::Event;
use crate::storage::local::fs::{FileSystem, Handle, Kind, Open};
use crate::storage::local::sim::{Recovery, SimFs};
use crate::storage::names::QUARANTINE_FOLDER;
use crate::storage::test_kit::{
    folder, forward_fs, forward_handle, journal_on, log_events, read_in_order,
};
use crate::storage::Durability;
use crate::store::Store;

/// The errors injected.
fn errnos() -> [(&'static str, rustix::io::Errno); 3] {
    use rustix::io::Errno;
    [
        ("ENOSPC", Errno::NOSPC),
        ("EIO", Errno::IO),
        ("EDQUOT", Errno::DQUOT),
    ]
}

/// The operations a fault can hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Op {
    WriteAllAt,
    SyncData,
    SetLen,
    Open,
    WriteNew,
    Rename,
    SyncDir,
}

/// Which operation fails, and with what.
#[derive(Debug)]
struct Plan {
    /// The index (among the operations above, counted from 0) of the one that fails.
    fail_at: Option<u64>,
    errno: i32,
    /// Also fail this one every time (for the specific tests): the predicate on the
    /// operation and the bytes written.
    always: Option<fn(Op, &[u8]) -> bool>,
}

/// What the faulty file system did.
#[derive(Debug, Default)]
struct Log {
    /// Operations counted.
    count: u64,
    /// The operations that were failed.
    failed: Vec<Op>,
    /// Operations counted, by kind.
    by_kind: BTreeMap<Op, u64>,
    /// Each operation counted, and the path it concerned.
    ops: Vec<(Op, PathBuf)>,
}

/// The simulated file system, failing as [`Plan`] says.
#[derive(Debug)]
struct Faulty {
    sim: Arc<SimFs>,
    state: Arc<(Mutex<Plan>, Mutex<Log>)>,
}

#[derive(Debug)]
struct FaultyHandle {
    inner: Arc<dyn Handle>,
    path: PathBuf,
    state: Arc<(Mutex<Plan>, Mutex<Log>)>,
}

/// Counts an operation; the error to fail it with, if it is the one.
fn fault(
    state: &(Mutex<Plan>, Mutex<Log>),
    op: Op,
    path: &Path,
    bytes: &[u8],
) -> Option<io::Error> {
    let plan = state.0.lock().unwrap();
    let mut log = state.1.lock().unwrap();
    let index = log.count;
    log.count += 1;
    *log.by_kind.entry(op).or_default() += 1;
    log.ops.push((op, path.to_path_buf()));
    let hit = plan.fail_at == Some(index) || plan.always.is_some_and(|always| always(op, bytes));
    hit.then(|| {
        log.failed.push(op);
        io::Error::from_raw_os_error(plan.errno)
    })
}

impl FileSystem for Faulty {
    forward_fs!(sim: read, kind, modified, list, create_dir_all, is_link, remove);
    fn write_new(&self, path: &Path, bytes: &[u8], sync: bool) -> io::Result<()> {
        // A failed write_new leaves nothing behind (as the operating system's does).
        match fault(&self.state, Op::WriteNew, path, bytes) {
            Some(e) => Err(e),
            None => self.sim.write_new(path, bytes, sync),
        }
    }
    fn rename_noreplace(&self, from: &Path, to: &Path) -> io::Result<()> {
        match fault(&self.state, Op::Rename, to, &[]) {
            Some(e) => Err(e),
            None => self.sim.rename_noreplace(from, to),
        }
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        match fault(&self.state, Op::Rename, to, &[]) {
            Some(e) => Err(e),
            None => self.sim.rename(from, to),
        }
    }
    fn sync_dir(&self, folder: &Path) -> io::Result<()> {
        match fault(&self.state, Op::SyncDir, folder, &[]) {
            Some(e) => Err(e),
            None => self.sim.sync_dir(folder),
        }
    }
    fn open(&self, path: &Path, mode: Open) -> io::Result<Arc<dyn Handle>> {
        if let Some(e) = fault(&self.state, Op::Open, path, &[]) {
            return Err(e);
        }
        let inner = self.sim.open(path, mode)?;
        Ok(Arc::new(FaultyHandle {
            inner,
            path: path.to_path_buf(),
            state: Arc::clone(&self.state),
        }))
    }
}

impl Handle for FaultyHandle {
    forward_handle!(inner: read_at, len, modified, lock, unlock);
    fn write_all_at(&self, bytes: &[u8], offset: u64) -> io::Result<()> {
        match fault(&self.state, Op::WriteAllAt, &self.path, bytes) {
            Some(e) => {
                // Cut short: the first half reached the file.
                self.inner.write_all_at(&bytes[..bytes.len() / 2], offset)?;
                Err(e)
            }
            None => self.inner.write_all_at(bytes, offset),
        }
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        match fault(&self.state, Op::SetLen, &self.path, &[]) {
            Some(e) => Err(e),
            None => self.inner.set_len(len),
        }
    }
    fn sync_data(&self) -> io::Result<()> {
        match fault(&self.state, Op::SyncData, &self.path, &[]) {
            Some(e) => Err(e),
            None => self.inner.sync_data(),
        }
    }
}

fn numbered(i: u64) -> Event {
    Event::with_data("numbered", json!({ "i": i }))
}

/// Commits in the journal before the scenario, when it starts with a torn tail.
const BEFORE: u64 = 3;

/// How the journal looks before the scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Start {
    /// No store yet (the folder exists): the first write makes the journal.
    Empty,
    /// A journal of [`BEFORE`] commits whose last segment ends with a torn record (half of
    /// one, over the free space): what a writer that died in the middle of a write leaves.
    TornTail,
}

impl Start {
    /// The commits before the scenario.
    fn before(self) -> u64 {
        match self {
            Start::Empty => 0,
            Start::TornTail => BEFORE,
        }
    }

    /// The files the quarantine holds once the scenario is through.
    fn quarantined(self) -> usize {
        match self {
            Start::Empty => 0,
            Start::TornTail => 1,
        }
    }
}

fn base(start: Start) -> SimFs {
    let fs = Arc::new(SimFs::with_folder(&folder()));
    if start == Start::Empty {
        return fs.recover(Recovery::ALL[3]);
    }
    let store = Store::with_storage(journal_on(fs.clone(), Durability::Immediate));
    for i in 1..=BEFORE {
        assert_eq!(store.log(&numbered(i)).unwrap(), i);
    }
    drop(store);
    let segments = folder().join(SEGMENT_FOLDER);
    let (name, bytes) = fs
        .files(&segments)
        .into_iter()
        .rfind(|(name, _)| name.ends_with(".jsonl"))
        .unwrap();
    let end = bytes.iter().rposition(|b| *b != FREE).unwrap() + 1;
    let torn = br#"{"n":4,"len":90,"crc32":"00000000","commit":{"headers":{"#;
    fs.open(&segments.join(name), Open::Write)
        .unwrap()
        .write_all_at(torn, end as u64)
        .unwrap();
    fs.recover(Recovery::ALL[3])
}

/// What a call of the scenario returned.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Outcome {
    Written(u64),
    NotWritten(String),
    Unknown(u64),
}

fn outcome(result: crate::error::Result<u64>) -> Outcome {
    match result {
        Ok(n) => Outcome::Written(n),
        Err(Error::OutcomeUnknown { commit, .. }) => Outcome::Unknown(commit),
        Err(e) => Outcome::NotWritten(e.to_string()),
    }
}

/// The scenario's commits (each one distinct), as events.
fn scenario_commits() -> Vec<Vec<Event>> {
    let mut commits: Vec<Vec<Event>> = (BEFORE + 1..=BEFORE + 10)
        .map(|i| vec![numbered(i)])
        .collect();
    commits.insert(
        2,
        vec![
            Event::with_data("withdrawn", json!({"account": "a", "amount": 3})),
            Event::with_data("deposited", json!({"account": "b", "amount": 3})),
        ],
    );
    commits
}

/// What a run recorded.
#[derive(Debug, Default)]
struct Run {
    /// Each scenario commit's outcome.
    outcomes: Vec<(Vec<Event>, Outcome)>,
    snapshot: Option<u64>,
}

/// Runs the scenario on `fs` (through the faulty file system) to its end.
fn run(fs: Arc<dyn FileSystem>) -> Run {
    let store = Store::with_storage(journal_on(fs, Durability::Immediate));
    let mut run = Run::default();
    for (index, events) in scenario_commits().into_iter().enumerate() {
        let result = if events.len() == 1 {
            store.log(&events[0])
        } else {
            log_events(&store, &events).map(|n| n.expect("a block of events"))
        };
        run.outcomes.push((events, outcome(result)));
        if index == 6 {
            let tip = store.tip().unwrap_or(0);
            if store
                .save_snapshot("accounts", tip, &json!({ "tip": tip }))
                .is_ok()
            {
                run.snapshot = Some(tip);
            }
        }
    }
    run
}

/// Figures of the checks.
#[derive(Debug, Default)]
struct Figures {
    runs: u64,
    faults_injected: u64,
    faults_by_operation: BTreeMap<String, u64>,
    written: u64,
    not_written: u64,
    unknown: u64,
    unknown_present: u64,
    lost: u64,
    /// Checks that found damage (after an unknown outcome).
    damaged_after_unknown: u64,
}

/// Checks the store on `fs` after a run that returned `run`.
fn check(fs: &Arc<SimFs>, start: Start, run: &Run, what: &str, figures: &mut Figures) {
    let before = start.before();
    let store = Store::with_storage(journal_on(fs.clone(), Durability::Immediate));
    let tip = store
        .tip()
        .unwrap_or_else(|e| panic!("{what}: the end of the log: {e}"));
    let listing = store.storage().list().unwrap();
    assert_eq!(
        listing.commits,
        (1..=tip).collect::<Vec<_>>(),
        "{what}: a gap"
    );
    assert!(
        listing.suspicious.is_empty(),
        "{what}: {:?}",
        listing.suspicious
    );
    let unknown = run
        .outcomes
        .iter()
        .any(|(_, outcome)| matches!(outcome, Outcome::Unknown(_)));
    let mut found: BTreeMap<u64, Vec<Event>> = BTreeMap::new();
    for number in 1..=tip {
        match store.read_commit(number) {
            Ok(commit) => {
                found.insert(number, commit.events().to_vec());
            }
            Err(Error::CorruptCommit { .. }) if unknown => {}
            Err(e) => panic!("{what}: commit {number} of {tip}: {e}"),
        }
    }
    for i in 1..=before {
        assert_eq!(
            found.get(&i),
            Some(&vec![numbered(i)]),
            "{what}: commit {i}"
        );
    }
    for (events, outcome) in &run.outcomes {
        let present: Vec<u64> = found
            .iter()
            .filter(|(_, found)| *found == events)
            .map(|(n, _)| *n)
            .collect();
        assert!(
            present.len() <= 1,
            "{what}: {events:?} is there twice: {present:?}"
        );
        match outcome {
            Outcome::Written(n) => {
                figures.written += 1;
                if present != [*n] {
                    figures.lost += 1;
                }
                assert_eq!(
                    present,
                    [*n],
                    "{what}: acknowledged commit {n} ({events:?})"
                );
            }
            Outcome::NotWritten(error) => {
                figures.not_written += 1;
                assert!(
                    present.is_empty(),
                    "{what}: {events:?} failed ({error}) and is there as commit {present:?}"
                );
            }
            Outcome::Unknown(n) => {
                figures.unknown += 1;
                if !present.is_empty() {
                    figures.unknown_present += 1;
                    assert_eq!(present, [*n], "{what}: outcome unknown for {n}");
                }
            }
        }
    }
    assert_eq!(
        found.len() as u64,
        before
            + run
                .outcomes
                .iter()
                .filter(|(events, _)| found.values().any(|f| f == events))
                .count() as u64,
        "{what}: a commit that is not the scenario's: {found:?}"
    );
    if let Some(label) = run.snapshot {
        let snapshot = store
            .read_snapshot("accounts", label)
            .unwrap_or_else(|e| panic!("{what}: {e}"))
            .unwrap_or_else(|| panic!("{what}: acknowledged snapshot {label} lost"));
        assert_eq!(snapshot.data, Some(json!({ "tip": label })), "{what}");
    }

    // A write after the fault succeeds, and the log reads whole.
    let next = store.log(&Event::new("after the fault"));
    let next = next.unwrap_or_else(|e| panic!("{what}: a write after the fault: {e}"));
    assert_eq!(next, tip + 1, "{what}");
    let reader = Store::with_storage(journal_on(fs.clone(), Durability::Immediate));
    // Only an unknown outcome may leave damage.
    let read = read_in_order(&reader, unknown, what, "reading the log");
    let report = reader.verify(|_, _| {}).unwrap();
    if read == tip + 1 {
        assert!(report.is_sound(), "{what}: {:?}", report.problems);
    } else {
        figures.damaged_after_unknown += 1;
    }
    // The torn tail the journal started with is in the quarantine, once: failures add nothing.
    let quarantine = fs.files(&folder().join(QUARANTINE_FOLDER));
    assert_eq!(
        quarantine.len(),
        start.quarantined(),
        "{what}: the quarantine holds {:?}",
        quarantine.keys()
    );
    assert!(
        quarantine
            .values()
            .all(|bytes| bytes.starts_with(b"{\"n\":4,")),
        "{what}: {quarantine:?}"
    );
}

/// The indices of the operations from the sync of the quarantine's folder (after the torn
/// tail was copied there) to the cut of the tail: a fault there meets the known bug.
fn quarantine_window(ops: &[(Op, PathBuf)]) -> Vec<u64> {
    let start = ops
        .iter()
        .position(|(op, path)| *op == Op::SyncDir && path.ends_with(QUARANTINE_FOLDER))
        .expect("the torn tail is copied into the quarantine");
    let end = start
        + ops[start..]
            .iter()
            .position(|(op, _)| *op == Op::SetLen)
            .expect("the torn tail is cut");
    (start as u64..=end as u64).collect()
}

fn faulty(sim: &Arc<SimFs>, fail_at: Option<u64>, errno: i32) -> Faulty {
    Faulty {
        sim: Arc::clone(sim),
        state: Arc::new((
            Mutex::new(Plan {
                fail_at,
                errno,
                always: None,
            }),
            Mutex::new(Log::default()),
        )),
    }
}

/// Fails every operation of the scenario from `start` in turn, with every errno.
fn fault_everywhere(start: Start) -> Figures {
    // The operations of a run without faults.
    let clean = Arc::new(base(start));
    let counting = Arc::new(faulty(&clean, None, 0));
    let whole = run(counting.clone());
    assert!(
        whole
            .outcomes
            .iter()
            .all(|(_, outcome)| matches!(outcome, Outcome::Written(_))),
        "{whole:?}"
    );
    let mut figures = Figures::default();
    check(&clean, start, &whole, "without faults", &mut figures);
    let log = counting.state.1.lock().unwrap();
    let (operations, by_kind) = (log.count, log.by_kind.clone());
    drop(log);
    assert!(
        clean.files(&folder().join(SEGMENT_FOLDER)).len() >= 4, // three segments and the lock
        "segment rollover"
    );
    for index in 0..operations {
        for (name, errno) in errnos() {
            let sim = Arc::new(base(start));
            let fs = Arc::new(faulty(&sim, Some(index), errno.raw_os_error()));
            let run = run(fs.clone());
            let failed = fs.state.1.lock().unwrap().failed.clone();
            // Each run is the clean one up to the fault: the operation at `index` is met.
            assert_eq!(failed.len(), 1, "operation {index} was not met: {run:?}");
            figures.runs += 1;
            figures.faults_injected += 1;
            *figures
                .faults_by_operation
                .entry(format!("{:?}", failed[0]))
                .or_default() += 1;
            let what = format!("{start:?}, {name} at operation {index} ({:?})", failed[0]);
            check(&sim, start, &run, &what, &mut figures);
        }
    }
    eprintln!(
        "journal fault injection from {start:?}: {operations} operations per run ({by_kind:?}), {} runs, {figures:?}",
        figures.runs
    );
    assert_eq!(figures.lost, 0);
    assert!(
        figures.not_written > 0 && figures.unknown > 0,
        "{figures:?}"
    );
    figures
}

#[test]
fn a_fault_at_any_file_operation_of_a_journal_with_a_torn_tail_is_reported_truthfully() {
    fault_everywhere(Start::TornTail);
}

#[test]
fn a_fault_at_any_file_operation_of_a_new_journal_is_reported_truthfully() {
    fault_everywhere(Start::Empty);
}

/// A full disk when free space is to be added after the records: the commit is written (its
/// records and their sync succeeded), so the append succeeds, and it is read back; later
/// appends too.
#[test]
fn free_space_that_cannot_be_added_does_not_fail_a_written_commit() {
    let sim = Arc::new(SimFs::with_folder(&folder()));
    let fs = Arc::new(faulty(&sim, None, rustix::io::Errno::NOSPC.raw_os_error()));
    fs.state.0.lock().unwrap().always = Some(|op, bytes| {
        op == Op::WriteAllAt && !bytes.is_empty() && bytes.iter().all(|b| *b == FREE)
    });
    let store = Store::with_storage(journal_on(fs.clone(), Durability::Immediate));
    for i in 1..=12 {
        assert_eq!(store.log(&numbered(i)).unwrap(), i);
    }
    let failed = fs.state.1.lock().unwrap().failed.len();
    assert!(failed > 0, "no extension of free space was tried");
    let reader = Store::with_storage(journal_on(sim.clone(), Durability::Immediate));
    assert_eq!(reader.tip().unwrap(), 12);
    for i in 1..=12 {
        assert_eq!(reader.read_commit(i).unwrap().events(), [numbered(i)]);
    }
    assert!(reader.verify(|_, _| {}).unwrap().is_sound());
    eprintln!("free space not added: {failed} extensions failed with ENOSPC, 12 commits written");
}

/// The torn tail was copied into the quarantine, and then the sync of the quarantine's folder
/// (or the cut of the tail) failed: the write fails, nothing was cut. The next write must cut
/// the tail and go on, without a second copy of it in the quarantine.
#[test]

fn a_torn_tail_kept_in_the_quarantine_is_kept_once_when_its_cut_fails() {
    let clean = Arc::new(base(Start::TornTail));
    let counting = Arc::new(faulty(&clean, None, 0));
    run(counting.clone());
    let window = quarantine_window(&counting.state.1.lock().unwrap().ops);
    for index in [window[0], *window.last().unwrap()] {
        let sim = Arc::new(base(Start::TornTail));
        let fs = Arc::new(faulty(
            &sim,
            Some(index),
            rustix::io::Errno::IO.raw_os_error(),
        ));
        let store = Store::with_storage(journal_on(fs.clone(), Durability::Immediate));
        assert!(store.log(&numbered(10)).is_err(), "the fault at {index}");
        assert_eq!(store.log(&numbered(11)).unwrap(), BEFORE + 1);
        let quarantine = sim.files(&folder().join(QUARANTINE_FOLDER));
        assert_eq!(quarantine.len(), 1, "{:?}", quarantine.keys());
    }
}

#[test]
fn a_journal_made_by_a_call_whose_folder_sync_failed_is_made_durable_by_the_next() {
    use crate::storage::local::faults::{Fault, FaultFs, Op, When};
    use crate::storage::Storage;
    let store_path = crate::storage::test_kit::folder();
    let syncs_of_the_store = |faults: &FaultFs| {
        faults
            .trace()
            .iter()
            .filter(|(op, path)| *op == Op::SyncDir && path == &store_path)
            .count()
    };
    // Which sync of the store folder publishes the marker: the last of a creation.
    let sim: Arc<SimFs> = Arc::new(SimFs::with_folder(&store_path));
    let faults = Arc::new(FaultFs::new(sim.clone()));
    faults.arm(None);
    let journal = super::JournalStorage::with_file_system(
        store_path.clone(),
        Durability::Immediate,
        1 << 20,
        faults.clone(),
    );
    journal.ensure_created().expect("create");
    let syncs = faults
        .trace()
        .iter()
        .filter(|(op, _)| *op == Op::SyncDir)
        .count() as u64;
    assert!(syncs_of_the_store(&faults) > 0);
    // Again, with that sync failing after its flush was lost (EIO): an error, the marker in
    // place; the next call must sync the folder before it says the journal is made.
    let sim: Arc<SimFs> = Arc::new(SimFs::with_folder(&store_path));
    let faults = Arc::new(FaultFs::new(sim.clone()));
    faults.arm(Some(Fault {
        op: Some(Op::SyncDir),
        index: syncs - 1,
        errno: libc_eio(),
        when: When::After,
    }));
    let journal = super::JournalStorage::with_file_system(
        store_path.clone(),
        Durability::Immediate,
        1 << 20,
        faults.clone(),
    );
    assert!(journal.ensure_created().is_err());
    assert_eq!(faults.injected(), 1);
    faults.arm(None);
    journal.ensure_created().expect("made");
    assert!(syncs_of_the_store(&faults) > 0, "{:?}", faults.trace());
}

/// `EIO`, as the faults give it.
fn libc_eio() -> i32 {
    rustix::io::Errno::IO.raw_os_error()
}
