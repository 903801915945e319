//! Faults at every file-system operation of the commit and snapshot protocols (loose layout).
//!
//! A scenario of commits (single events and blocks) and snapshots runs on the simulated file
//! system behind [`FaultFs`]. For every operation index `i` of the scenario and every error a
//! full or failing disk gives (`ENOSPC`, `EDQUOT`, `EIO`), the fault is injected at operation
//! `i` (instead of it, and, for operations that change something, also after it did its work),
//! and the scenario runs to its end (later operations succeed: the disk was freed). Then a fresh
//! store on the same folder checks that the errors told the truth:
//! - every acknowledged commit is present exactly once, byte for byte, at its number;
//! - no commit whose write returned a plain error is present; one that returned
//!   [`Error::OutcomeUnknown`] may be, at the number the error gave;
//! - the log has no gap, and readers read all of it (`verify` finds it sound);
//! - acknowledged snapshots are there, and a snapshot whose write failed plainly is not;
//! - a write after the fault succeeds.

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use serde_json::{json, Value};

use super::LooseStorage;
use crate::error::Error;
use crate::event::Event;
use crate::event::Headers;
use crate::format::encode_commit;
use crate::storage::local::faults::{disk_errors, Fault, FaultFs, Op, When};
use crate::storage::local::fs::{FileSystem, Handle, Kind, Open};
use crate::storage::local::sim::SimFs;
use crate::storage::local::Durability;
use crate::storage::test_kit::{forward_fs, log_events};
use crate::store::Store;

const TIME: &str = "2026-01-01T00:00:00.000Z";

enum Step {
    Log(Event),
    Block(Vec<Event>),
    Snapshot(&'static str, u64),
}

fn scenario() -> Vec<Step> {
    vec![
        Step::Log(Event::with_data("opened", json!({"account": "a"}))),
        Step::Block(vec![
            Event::with_data("withdrawn", json!({"amount": 3})),
            Event::with_data("deposited", json!({"amount": 3})),
        ]),
        Step::Snapshot("accounts", 1),
        Step::Log(Event::with_data("heartbeat", json!(1))),
        Step::Block(vec![
            Event::with_data("closed", json!(null)),
            Event::new("audited"),
        ]),
        Step::Snapshot("accounts", 2),
        Step::Log(Event::with_data("heartbeat", json!(2))),
    ]
}

fn headers() -> Headers {
    let mut headers = Headers::new();
    headers.insert("time".to_owned(), Value::String(TIME.to_owned()));
    headers
}

/// The document a commit step writes (the headers are fixed, so it is known byte for byte).
fn document(step: &Step) -> Option<Vec<u8>> {
    match step {
        Step::Log(event) => {
            Some(encode_commit(&headers(), std::slice::from_ref(event)).expect("encode"))
        }
        Step::Block(events) => Some(encode_commit(&headers(), events).expect("encode")),
        Step::Snapshot(..) => None,
    }
}

/// What a write call returned.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    /// Acknowledged: the commit's number (the snapshot's label).
    Done(u64),
    /// A plain error: certainly not written.
    Failed(String),
    /// Error::OutcomeUnknown, with the number it gave.
    Unknown(u64),
}

fn store_on(fs: Arc<dyn FileSystem>, folder: &Path) -> Store {
    Store::builder(folder)
        .storage(LooseStorage::with_file_system(
            folder,
            Durability::Immediate,
            fs,
        ))
        .headers(headers)
        .open()
        .expect("open the store")
}

fn outcome(result: crate::error::Result<u64>) -> Outcome {
    match result {
        Ok(number) => Outcome::Done(number),
        Err(Error::OutcomeUnknown {
            commit, location, ..
        }) => {
            assert!(location.starts_with("/store/"), "{location}");
            Outcome::Unknown(commit)
        }
        Err(e) => {
            let message = e.to_string();
            assert!(
                message.contains("/store"),
                "the error names no file: {message}"
            );
            Outcome::Failed(message)
        }
    }
}

/// Runs the whole scenario, whatever fails, and returns what each step returned.
fn run(store: &Store) -> Vec<Outcome> {
    let mut outcomes = Vec::new();
    for step in scenario() {
        let result = match step {
            Step::Log(event) => store.log(&event),
            Step::Block(events) => {
                log_events(store, &events).map(|n| n.expect("a complete block is written"))
            }
            Step::Snapshot(name, stamp) => {
                // The snapshot of the last commit that exists (an unknown outcome's commit
                // may be there): found by the store, not by the scenario.
                store.tip().and_then(|tip| {
                    if tip == 0 {
                        return Ok(0);
                    }
                    store
                        .save_snapshot(name, tip, &json!({ "stamp": stamp }))
                        .map(|()| tip)
                })
            }
        };
        outcomes.push(outcome(result));
    }
    outcomes
}

/// Checks the folder after a run with a fault (see the module's docs).
fn check(sim: &Arc<SimFs>, folder: &Path, outcomes: &[Outcome], what: &str) {
    let store = store_on(Arc::clone(sim) as Arc<dyn FileSystem>, folder);
    let listing = store.storage().list().expect("list");
    let tip = listing.commits.len() as u64;
    assert_eq!(
        listing.commits,
        (1..=tip).collect::<Vec<_>>(),
        "{what}: a gap ({outcomes:?})"
    );
    let steps = scenario();
    // Which step each commit present is, byte for byte; none is there twice or invented.
    let mut found_at: Vec<Option<u64>> = vec![None; steps.len()];
    for number in 1..=tip {
        let bytes = store
            .storage()
            .read_commit(number)
            .expect("read")
            .expect("listed");
        let step = steps
            .iter()
            .position(|step| document(step).as_deref() == Some(bytes.as_slice()))
            .unwrap_or_else(|| panic!("{what}: commit {number} was never written"));
        assert!(
            found_at[step].replace(number).is_none(),
            "{what}: step {step} is there twice"
        );
    }
    for (index, (step, outcome)) in steps.iter().zip(outcomes).enumerate() {
        match (step, outcome) {
            (Step::Snapshot(name, stamp), Outcome::Done(label)) if *label > 0 => {
                let snapshot = store
                    .read_snapshot(name, *label)
                    .expect("read the snapshot")
                    .unwrap_or_else(|| panic!("{what}: acknowledged snapshot {label} lost"));
                // An earlier snapshot at the same label counts as success too.
                assert!(snapshot.data.is_some(), "{what}: snapshot {label} {stamp}");
            }
            (Step::Snapshot(..), _) => {}
            (_, Outcome::Done(number)) => assert_eq!(
                found_at[index],
                Some(*number),
                "{what}: acknowledged step {index} is not commit {number}"
            ),
            (_, Outcome::Failed(message)) => assert_eq!(
                found_at[index], None,
                "{what}: step {index} failed ({message}) but is in the store"
            ),
            (_, Outcome::Unknown(number)) => {
                if let Some(found) = found_at[index] {
                    assert_eq!(found, *number, "{what}: step {index}");
                }
            }
        }
    }
    // A snapshot whose write failed plainly is not there with its own data.
    for (step, outcome) in steps.iter().zip(outcomes) {
        if let (Step::Snapshot(name, stamp), Outcome::Failed(_)) = (step, outcome) {
            for label in store.snapshot_labels(name).expect("labels") {
                let data = store
                    .read_snapshot(name, label)
                    .expect("read")
                    .and_then(|s| s.data);
                assert_ne!(
                    data,
                    Some(json!({ "stamp": stamp })),
                    "{what}: a failed snapshot is there"
                );
            }
        }
    }
    // Readers read it all.
    let mut read = 0;
    for commit in store.commits(..) {
        commit.unwrap_or_else(|e| panic!("{what}: {e}"));
        read += 1;
    }
    assert_eq!(read, tip, "{what}");
    let report = store.verify(|_, _| {}).expect("verify");
    assert!(report.is_sound(), "{what}: {:?}", report.problems);
    // A write after the fault succeeds, at the end of the log.
    let next = store
        .log(&Event::new("after the fault"))
        .expect("a write after the fault");
    assert_eq!(next, tip + 1, "{what}");
}

#[test]
fn every_fault_at_every_operation_is_reported_truthfully() {
    let folder = PathBuf::from("/store");
    // The scenario's operations, without faults.
    let clean = Arc::new(SimFs::with_folder(&folder));
    let counting = Arc::new(FaultFs::new(Arc::clone(&clean) as Arc<dyn FileSystem>));
    let store = store_on(Arc::clone(&counting) as Arc<dyn FileSystem>, &folder);
    counting.arm(None);
    let outcomes = run(&store);
    assert!(
        outcomes.iter().all(|o| matches!(o, Outcome::Done(_))),
        "{outcomes:?}"
    );
    let trace = counting.trace();
    // Every kind of write operation of the protocol is among them.
    for op in [
        Op::WriteNew,
        Op::RenameNoreplace,
        Op::SyncDir,
        Op::List,
        Op::Kind,
    ] {
        assert!(trace.iter().any(|(o, _)| *o == op), "{op:?}: {trace:?}");
    }

    let mut injected = 0;
    let mut unknown = 0;
    let mut failed = 0;
    for (index, (op, path)) in trace.iter().enumerate() {
        for (name, errno) in disk_errors() {
            let whens: &[When] = if op.changes() {
                &[When::Before, When::After]
            } else {
                &[When::Before]
            };
            for &when in whens {
                let sim = Arc::new(SimFs::with_folder(&folder));
                let faulty = Arc::new(FaultFs::new(Arc::clone(&sim) as Arc<dyn FileSystem>));
                let store = store_on(Arc::clone(&faulty) as Arc<dyn FileSystem>, &folder);
                faulty.arm(Some(Fault {
                    op: None,
                    index: index as u64,
                    errno,
                    when,
                }));
                let outcomes = run(&store);
                assert_eq!(faulty.injected(), 1, "the fault at {index} struck");
                injected += 1;
                unknown += outcomes
                    .iter()
                    .filter(|o| matches!(o, Outcome::Unknown(_)))
                    .count();
                failed += outcomes
                    .iter()
                    .filter(|o| matches!(o, Outcome::Failed(_)))
                    .count();
                let what = format!(
                    "{name} {when:?} operation {index} ({op:?} {}): {outcomes:?}",
                    path.display()
                );
                check(&sim, &folder, &outcomes, &what);
            }
        }
    }
    eprintln!(
        "loose layout: {injected} faults injected over {} operations; {failed} writes failed plainly, {unknown} had an unknown outcome",
        trace.len()
    );
    // Faults after a commit was published are reported as unknown outcomes, not failures.
    assert!(unknown > 0 && failed > 0);
}

#[test]
fn a_failed_folder_sync_after_publishing_is_an_unknown_outcome_naming_the_commit() {
    let folder = PathBuf::from("/store");
    let sim = Arc::new(SimFs::with_folder(&folder));
    let faulty = Arc::new(FaultFs::new(Arc::clone(&sim) as Arc<dyn FileSystem>));
    let store = store_on(Arc::clone(&faulty) as Arc<dyn FileSystem>, &folder);
    store.log(&Event::new("first")).expect("log");
    faulty.arm(Some(Fault {
        op: Some(Op::SyncDir),
        index: 0,
        errno: rustix::io::Errno::IO.raw_os_error(),
        when: When::After,
    }));
    match store.log(&Event::new("second")) {
        Err(error @ Error::OutcomeUnknown { .. }) => {
            let message = error.to_string();
            assert!(message.contains("commit 2"), "{message}");
            assert!(message.contains("/store/2.log"), "{message}");
            if let Error::OutcomeUnknown { commit, source, .. } = &error {
                assert_eq!(*commit, 2);
                assert_eq!(
                    source.as_ref().and_then(std::io::Error::raw_os_error),
                    Some(rustix::io::Errno::IO.raw_os_error())
                );
            }
        }
        other => panic!("expected OutcomeUnknown, got {other:?}"),
    }
    // It is visible: the next write goes on after it.
    assert!(sim.files(&folder).contains_key("2.log"));
    assert_eq!(store.log(&Event::new("third")).expect("log"), 3);
}

/// A listing that misses a name published while it ran (and shows a later one) is no gap: the
/// writer looks at the missing number, finds it, lists again and goes on.
#[test]
fn a_commit_missed_by_a_listing_is_not_taken_for_a_gap() {
    let folder = PathBuf::from("/store");
    let sim = Arc::new(SimFs::with_folder(&folder));
    let writer = store_on(Arc::clone(&sim) as Arc<dyn FileSystem>, &folder);
    for n in 1..=3 {
        assert_eq!(writer.log(&Event::new(format!("e{n}"))).unwrap(), n);
    }
    let faulty = Arc::new(FaultFs::new(Arc::clone(&sim) as Arc<dyn FileSystem>));
    // Missed by two listings in a row: the one that finds the end, and the next one.
    faulty.hide_from_listings("2.log", 2);
    let store = store_on(Arc::clone(&faulty) as Arc<dyn FileSystem>, &folder);
    assert_eq!(store.log(&Event::new("e4")).expect("no gap"), 4);

    // A real gap stays one, however often it is listed.
    let gap = Arc::new(SimFs::with_folder(&folder));
    let writer = store_on(Arc::clone(&gap) as Arc<dyn FileSystem>, &folder);
    for n in 1..=3 {
        assert_eq!(writer.log(&Event::new(format!("e{n}"))).unwrap(), n);
    }
    gap.remove(&folder.join("2.log")).unwrap();
    let store = store_on(Arc::clone(&gap) as Arc<dyn FileSystem>, &folder);
    assert!(matches!(
        store.log(&Event::new("e4")),
        Err(Error::MissingCommit {
            commit: 2,
            next: 3,
            ..
        })
    ));
}

/// The simulated file system, on which another process publishes commit `next` (a whole
/// commit of its own) just before the first move of a commit into the quarantine.
#[derive(Debug)]
struct PublishesBeforeTheMove {
    sim: Arc<SimFs>,
    next: PathBuf,
    done: std::sync::atomic::AtomicBool,
}

impl FileSystem for PublishesBeforeTheMove {
    forward_fs!(sim: read, kind, modified, list, create_dir_all, write_new, rename, is_link,
        remove, sync_dir);

    fn open(&self, path: &Path, mode: Open) -> io::Result<Arc<dyn Handle>> {
        self.sim.open(path, mode)
    }

    fn rename_noreplace(&self, from: &Path, to: &Path) -> io::Result<()> {
        let into_quarantine = to
            .components()
            .any(|part| part.as_os_str() == crate::storage::names::QUARANTINE_FOLDER);
        if into_quarantine && !self.done.swap(true, std::sync::atomic::Ordering::SeqCst) {
            let theirs = encode_commit(&Headers::new(), &[Event::new("theirs")]).expect("encodes");
            self.sim.write_new(&self.next, &theirs, true)?;
        }
        self.sim.rename_noreplace(from, to)
    }
}

#[test]
fn repair_puts_a_commit_back_when_another_process_published_the_next_while_it_was_moved() {
    let folder = crate::storage::test_kit::folder();
    let sim = Arc::new(SimFs::with_folder(&folder));
    let store = store_on(sim.clone(), &folder);
    for i in 0..3 {
        store.log(&Event::new(format!("e{i}"))).expect("log");
    }
    // Commit 3 damaged: repair plans to move it aside.
    let third = folder.join("3.log");
    sim.remove(&third).expect("remove");
    sim.write_new(&third, b"{\"events\": [", true)
        .expect("damage");
    let racing = Arc::new(PublishesBeforeTheMove {
        sim: sim.clone(),
        next: folder.join("4.log"),
        done: Default::default(),
    });
    let store = store_on(racing, &folder);
    let plan = store.plan_repair().expect("plan");
    assert!(plan.quarantine.is_some(), "{plan:?}");
    let error = store
        .repair(&plan)
        .expect_err("the next commit came meanwhile");
    assert!(error.to_string().contains("back in place"), "{error}");
    // Commit 3 is where it was, commit 4 (theirs) follows it: no gap.
    assert_eq!(
        sim.read(&third).expect("commit 3 is back"),
        b"{\"events\": [".to_vec()
    );
    assert!(sim.read(&folder.join("4.log")).is_ok());
}
