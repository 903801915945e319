//! Durable projections ([`Projection`]): a handler run over every commit after its checkpoint,
//! recording how far it got, so that a restarted projection resumes exactly where it stopped.
//!
//! `writer_worker` is a writer process for [`run_handles_every_commit_once_while_threads_and_a_process_write`]:
//! it does nothing unless its parent started it (see `common/workers.rs`).

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use common::workers::{run_writer, spawn_writer, test_name, worker_result};
use foldstore::{Checkpoint, Commit, Error, Event, FileCheckpoint, Projection, Store};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Only to fail a test that hangs.
const HANG: Duration = Duration::from_secs(60);

/// A handler's error, or the store's.
#[derive(Debug)]
enum HandlerError {
    Store(#[expect(dead_code, reason = "read through Debug, in failure messages")] Error),
    Refused(u64),
}

impl From<Error> for HandlerError {
    fn from(e: Error) -> Self {
        HandlerError::Store(e)
    }
}

fn folder_store() -> (tempfile::TempDir, Store) {
    let temp = tempfile::tempdir().unwrap();
    let store = Store::open(temp.path().join("store")).unwrap();
    store.ensure_folder().unwrap();
    (temp, store)
}

fn log_n(store: &Store, from: u64, to: u64) {
    for i in from..=to {
        store
            .log(&Event::with_data("numbered", json!({"i": i})))
            .unwrap();
    }
}

/// The value of the event a commit holds, as logged by [`log_n`].
fn value_of(commit: &Commit) -> u64 {
    commit.events()[0].data().unwrap()["i"].as_u64().unwrap()
}

// ---------------------------------------------------------------------------------------------
// FileCheckpoint

#[test]
fn a_missing_checkpoint_file_is_position_zero() {
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join("members.position");
    let mut checkpoint = FileCheckpoint::new(&path);
    assert_eq!(checkpoint.path(), path);
    assert_eq!(checkpoint.load().unwrap(), 0);
    assert!(!path.exists(), "loading creates nothing");
}

#[test]
fn a_checkpoint_file_round_trips() {
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join("members.position");
    let mut checkpoint = FileCheckpoint::new(&path);
    checkpoint.save(7).unwrap();
    assert_eq!(checkpoint.load().unwrap(), 7);
    // Another checkpoint on the same file (a restarted process) reads it.
    assert_eq!(FileCheckpoint::new(&path).load().unwrap(), 7);
    checkpoint.save(12).unwrap();
    assert_eq!(FileCheckpoint::new(&path).load().unwrap(), 12);
    checkpoint.save(u64::MAX).unwrap();
    assert_eq!(checkpoint.load().unwrap(), u64::MAX);
    // Only the checkpoint file remains: the temporary file was renamed over it.
    let names: Vec<String> = fs::read_dir(temp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, ["members.position"]);
}

#[test]
fn a_checkpoint_file_with_garbage_is_a_clear_error_naming_it() {
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join("members.position");
    for garbage in ["seven", "", "-3", "12abc", "1.5"] {
        fs::write(&path, garbage).unwrap();
        let error = FileCheckpoint::new(&path)
            .load()
            .expect_err(&format!("{garbage:?} is not a position"));
        let message = error.to_string();
        assert!(
            message.contains(&path.display().to_string()),
            "names the file: {message}"
        );
        assert!(
            message.contains(&format!("{garbage:?}")),
            "quotes what it found: {message}"
        );
    }
    // A position that is not a file.
    let folder = temp.path().join("a-folder");
    fs::create_dir(&folder).unwrap();
    let message = FileCheckpoint::new(&folder).load().unwrap_err().to_string();
    assert!(message.contains("a-folder"), "{message}");
    // Saving where there is no folder fails, naming the file.
    let nowhere = temp.path().join("missing").join("x.position");
    let message = FileCheckpoint::new(&nowhere)
        .save(3)
        .unwrap_err()
        .to_string();
    assert!(message.contains("x.position"), "{message}");
}

// ---------------------------------------------------------------------------------------------
// catch_up

/// A file checkpoint that also records every save.
struct Recording {
    file: FileCheckpoint,
    saves: Arc<Mutex<Vec<u64>>>,
}

impl Checkpoint for Recording {
    fn load(&mut self) -> foldstore::Result<u64> {
        self.file.load()
    }

    fn save(&mut self, position: u64) -> foldstore::Result<()> {
        self.saves.lock().unwrap().push(position);
        self.file.save(position)
    }
}

#[test]
fn catch_up_handles_the_existing_commits_and_saves_after_each() {
    let (temp, store) = folder_store();
    let path = temp.path().join("catch-up.position");
    let saves = Arc::new(Mutex::new(Vec::new()));
    let mut projection = Projection::new(
        &store,
        Recording {
            file: FileCheckpoint::new(&path),
            saves: Arc::clone(&saves),
        },
    );

    // An empty store: nothing to do.
    assert_eq!(
        projection
            .catch_up(|_| -> Result<(), Error> { panic!("no commits") })
            .unwrap(),
        0
    );

    log_n(&store, 1, 5);
    let mut handled = Vec::new();
    let position = projection
        .catch_up(|commit| {
            // When the handler sees commit k, the saved position is k - 1.
            assert_eq!(FileCheckpoint::new(&path).load()?, commit.number() - 1);
            handled.push((commit.number(), value_of(commit)));
            Ok::<_, Error>(())
        })
        .unwrap();
    assert_eq!(position, 5);
    assert_eq!(handled, (1..=5).map(|i| (i, i)).collect::<Vec<_>>());
    assert_eq!(*saves.lock().unwrap(), [1, 2, 3, 4, 5]);
    assert_eq!(FileCheckpoint::new(&path).load().unwrap(), 5);

    // Again with nothing new: the handler is not called.
    let again = projection
        .catch_up(|_| -> Result<(), Error> { panic!("nothing new") })
        .unwrap();
    assert_eq!(again, 5);

    // Only the new ones.
    log_n(&store, 6, 7);
    let mut handled = Vec::new();
    let position = projection
        .catch_up(|commit| {
            handled.push(commit.number());
            Ok::<_, Error>(())
        })
        .unwrap();
    assert_eq!(position, 7);
    assert_eq!(handled, [6, 7]);
    assert_eq!(*saves.lock().unwrap(), [1, 2, 3, 4, 5, 6, 7]);
    assert_eq!(projection.checkpoint().load().unwrap(), 7);
}

#[test]
fn a_handler_error_keeps_the_position_and_a_restart_resumes_at_the_failed_commit() {
    let (temp, store) = folder_store();
    let path = temp.path().join("members.position");
    log_n(&store, 1, 10);

    // Every commit a handler finished, over both runs.
    let mut finished = Vec::new();
    let mut first = Projection::new(&store, FileCheckpoint::new(&path));
    let result = first.catch_up(|commit| {
        if commit.number() == 6 {
            return Err(HandlerError::Refused(6));
        }
        finished.push(commit.number());
        Ok(())
    });
    assert!(
        matches!(result, Err(HandlerError::Refused(6))),
        "{result:?}"
    );
    assert_eq!(
        FileCheckpoint::new(&path).load().unwrap(),
        5,
        "the position stays at the commit before the failed one"
    );
    drop(first);

    // A restarted process: a new projection on the same file.
    let mut restarted = Projection::new(&store, FileCheckpoint::new(&path));
    let mut first_seen = None;
    let position = restarted
        .catch_up(|commit| {
            first_seen.get_or_insert(commit.number());
            finished.push(commit.number());
            Ok::<_, HandlerError>(())
        })
        .unwrap();
    assert_eq!(first_seen, Some(6), "resumes at the failed commit");
    assert_eq!(position, 10);
    assert_eq!(
        finished,
        (1..=10).collect::<Vec<_>>(),
        "every commit finished exactly once over both runs"
    );
    assert_eq!(FileCheckpoint::new(&path).load().unwrap(), 10);
}

/// A checkpoint that cannot save is an error of the projection, and the handler is not run
/// past it.
struct FailingSave {
    file: FileCheckpoint,
    fail_at: u64,
}

impl Checkpoint for FailingSave {
    fn load(&mut self) -> foldstore::Result<u64> {
        self.file.load()
    }

    fn save(&mut self, position: u64) -> foldstore::Result<()> {
        if position == self.fail_at {
            return Err(Error::Backend {
                backend: "test",
                message: format!("cannot save {position} (a simulated crash)"),
                source: None,
            });
        }
        self.file.save(position)
    }
}

/// At least once: with the results kept apart from the position, a crash after the handler
/// finished a commit and before its position was saved makes the restarted projection handle
/// that commit again.
#[test]
fn results_kept_apart_from_the_position_see_a_commit_again_after_a_crash() {
    let (temp, store) = folder_store();
    let path = temp.path().join("apart.position");
    log_n(&store, 1, 6);

    let mut applied = Vec::new();
    let mut crashing = Projection::new(
        &store,
        FailingSave {
            file: FileCheckpoint::new(&path),
            fail_at: 4,
        },
    );
    let result = crashing.catch_up(|commit| {
        applied.push(commit.number());
        Ok::<_, Error>(())
    });
    assert!(result.unwrap_err().to_string().contains("cannot save 4"));
    assert_eq!(
        applied,
        [1, 2, 3, 4],
        "no commit handled after the failed save"
    );
    assert_eq!(FileCheckpoint::new(&path).load().unwrap(), 3);

    let mut restarted = Projection::new(&store, FileCheckpoint::new(&path));
    restarted
        .catch_up(|commit| {
            applied.push(commit.number());
            Ok::<_, Error>(())
        })
        .unwrap();
    assert_eq!(
        applied,
        [1, 2, 3, 4, 4, 5, 6],
        "commit 4 twice: at least once"
    );
}

// ---------------------------------------------------------------------------------------------
// Exactly once: the position stored with the results

/// The projection's results and its position, in one file replaced atomically.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Ledger {
    /// The last commit whose results are in `applied`.
    position: u64,
    /// The value of every commit applied, in order.
    applied: Vec<u64>,
    /// How many times each commit was applied.
    times: BTreeMap<u64, u32>,
}

impl Ledger {
    fn load(path: &Path) -> Ledger {
        match fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ledger::default(),
            Err(e) => panic!("{e}"),
        }
    }

    /// Writes the results and the position together: a temporary file, synced, renamed.
    fn store(&self, path: &Path) -> std::io::Result<()> {
        let temporary = path.with_extension("tmp");
        fs::write(&temporary, serde_json::to_vec(self).unwrap())?;
        fs::File::open(&temporary)?.sync_all()?;
        fs::rename(&temporary, path)
    }
}

/// The checkpoint of the exactly-once pattern: the position is read from the results' own
/// storage, and `save` does nothing, because the handler stored the position with its results.
struct LedgerCheckpoint {
    path: PathBuf,
}

impl Checkpoint for LedgerCheckpoint {
    fn load(&mut self) -> foldstore::Result<u64> {
        Ok(Ledger::load(&self.path).position)
    }

    fn save(&mut self, _position: u64) -> foldstore::Result<()> {
        Ok(())
    }
}

/// Where a simulated crash strikes while handling a commit.
#[derive(Clone, Copy, PartialEq)]
enum Crash {
    /// Before the results of the commit are stored.
    BeforeStoring(u64),
    /// After they were stored, before the projection went on.
    AfterStoring(u64),
    Never,
}

/// Runs the ledger projection once, "crashing" (returning an error) as told.
fn run_ledger(store: &Store, path: &Path, crash: Crash) -> Result<u64, HandlerError> {
    let mut ledger = Ledger::load(path);
    let mut projection = Projection::new(
        store,
        LedgerCheckpoint {
            path: path.to_owned(),
        },
    );
    projection.catch_up(|commit| {
        if crash == Crash::BeforeStoring(commit.number()) {
            return Err(HandlerError::Refused(commit.number()));
        }
        assert_eq!(commit.number(), ledger.position + 1, "no gap, no repeat");
        ledger.applied.push(value_of(commit));
        *ledger.times.entry(commit.number()).or_default() += 1;
        ledger.position = commit.number();
        ledger.store(path).map_err(|e| Error::Io {
            action: "store the ledger",
            path: path.to_owned(),
            source: e,
        })?;
        if crash == Crash::AfterStoring(commit.number()) {
            return Err(HandlerError::Refused(commit.number()));
        }
        Ok(())
    })
}

#[test]
fn the_position_stored_with_the_results_makes_delivery_exactly_once() {
    let (temp, store) = folder_store();
    let path = temp.path().join("ledger.json");
    log_n(&store, 1, 10);

    assert!(matches!(
        run_ledger(&store, &path, Crash::BeforeStoring(4)),
        Err(HandlerError::Refused(4))
    ));
    assert_eq!(Ledger::load(&path).position, 3);
    assert!(matches!(
        run_ledger(&store, &path, Crash::AfterStoring(7)),
        Err(HandlerError::Refused(7))
    ));
    assert_eq!(Ledger::load(&path).position, 7);
    log_n(&store, 11, 12);
    assert_eq!(run_ledger(&store, &path, Crash::Never).unwrap(), 12);

    let ledger = Ledger::load(&path);
    assert_eq!(ledger.position, 12);
    assert_eq!(ledger.applied, (1..=12).collect::<Vec<_>>());
    assert!(
        ledger.times.values().all(|&n| n == 1),
        "every commit applied exactly once: {:?}",
        ledger.times
    );
    assert_eq!(ledger.times.len(), 12);
}

/// The same pattern with the results in memory behind a mutex (as one database transaction
/// would hold them), shared by a live projection in a thread.
#[derive(Default)]
struct Totals {
    position: u64,
    sum: u64,
    count: u64,
}

struct SharedCheckpoint(Arc<Mutex<Totals>>);

impl Checkpoint for SharedCheckpoint {
    fn load(&mut self) -> foldstore::Result<u64> {
        Ok(self.0.lock().unwrap().position)
    }

    fn save(&mut self, _position: u64) -> foldstore::Result<()> {
        Ok(())
    }
}

#[test]
fn a_live_projection_keeps_its_results_and_position_together() {
    let store = Store::memory();
    log_n(&store, 1, 20);
    let totals = Arc::new(Mutex::new(Totals::default()));
    let stop = Arc::new(AtomicBool::new(false));

    let run = |stop: Arc<AtomicBool>| {
        let store = store.clone();
        let totals = Arc::clone(&totals);
        std::thread::spawn(move || {
            let mut projection = Projection::new(&store, SharedCheckpoint(Arc::clone(&totals)))
                .with_poll_interval(Duration::from_millis(5));
            projection.run(&stop, |commit| {
                // One "transaction": the results and the position change together.
                let mut totals = totals.lock().unwrap();
                assert_eq!(commit.number(), totals.position + 1);
                totals.sum += value_of(commit);
                totals.count += 1;
                totals.position = commit.number();
                Ok::<_, Error>(())
            })
        })
    };
    let first = run(Arc::clone(&stop));
    log_n(&store, 21, 30);
    wait_until("the first run reaches 30", || {
        totals.lock().unwrap().position == 30
    });
    stop.store(true, Ordering::Release);
    assert_eq!(join_within_hang(first).unwrap(), 30);

    // Stopped: these are written while no projection runs.
    log_n(&store, 31, 40);
    let stop = Arc::new(AtomicBool::new(false));
    let second = run(Arc::clone(&stop));
    wait_until("the second run reaches 40", || {
        totals.lock().unwrap().position == 40
    });
    stop.store(true, Ordering::Release);
    assert_eq!(join_within_hang(second).unwrap(), 40);

    let totals = totals.lock().unwrap();
    assert_eq!(totals.count, 40, "each commit once");
    assert_eq!(totals.sum, (1..=40).sum::<u64>());
}

// ---------------------------------------------------------------------------------------------
// run, live, while others write

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + HANG;
    while !done() {
        assert!(Instant::now() < deadline, "hung: {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn join_within_hang<T: Send + 'static>(thread: std::thread::JoinHandle<T>) -> T {
    let (send, receive) = mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let _ = send.send(thread.join());
    });
    let result = receive
        .recv_timeout(HANG)
        .expect("hung: the projection did not stop");
    waiter.join().unwrap();
    result.unwrap()
}

/// A writer process: runs only when started by the test below.
#[test]
fn writer_worker() {
    run_writer(|store, i| {
        store
            .log(&Event::with_data(
                "numbered",
                json!({"i": 1000 + i, "by": "process"}),
            ))
            .unwrap();
    });
}

#[test]
fn run_handles_every_commit_once_while_threads_and_a_process_write() {
    const THREADS: u64 = 3;
    const PER_THREAD: u64 = 30;
    const BY_PROCESS: u64 = 30;
    let (temp, store) = folder_store();
    let folder = store.path().unwrap().to_owned();
    let path = temp.path().join("live.position");
    log_n(&store, 1, 5);

    let stop = Arc::new(AtomicBool::new(false));
    let handled = Arc::new(Mutex::new(Vec::<u64>::new()));
    let projection_thread = {
        let store = store.clone();
        let stop = Arc::clone(&stop);
        let handled = Arc::clone(&handled);
        let path = path.clone();
        std::thread::spawn(move || {
            let mut projection = Projection::new(&store, FileCheckpoint::new(&path))
                .with_poll_interval(Duration::from_millis(5));
            projection.run(&stop, |commit| {
                handled.lock().unwrap().push(commit.number());
                Ok::<_, Error>(())
            })
        })
    };

    let child = spawn_writer(
        &test_name(module_path!(), "writer_worker"),
        &folder,
        BY_PROCESS,
    );
    let writers: Vec<_> = (0..THREADS)
        .map(|t| {
            // Each writer its own store, as another process would have.
            let store = Store::open(&folder).unwrap();
            std::thread::spawn(move || {
                for i in 0..PER_THREAD {
                    store
                        .log(&Event::with_data(
                            "numbered",
                            json!({"i": 100 * (t + 1) + i}),
                        ))
                        .unwrap();
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
    let written: u64 = worker_result(child, None);
    assert_eq!(written, BY_PROCESS);

    let tip = store.tip().unwrap();
    assert_eq!(tip, 5 + THREADS * PER_THREAD + BY_PROCESS);
    wait_until("the projection reaches the tip", || {
        FileCheckpoint::new(&path).load().unwrap() == tip
    });
    stop.store(true, Ordering::Release);
    let position = join_within_hang(projection_thread).unwrap();
    assert_eq!(position, tip);
    assert_eq!(
        *handled.lock().unwrap(),
        (1..=tip).collect::<Vec<_>>(),
        "every commit handled exactly once, in order"
    );

    // Stopped, more is written; a new projection on the same checkpoint handles only that.
    log_n(&store, 1, 3);
    let mut next = Projection::new(&store, FileCheckpoint::new(&path));
    let mut more = Vec::new();
    assert_eq!(
        next.catch_up(|commit| {
            more.push(commit.number());
            Ok::<_, Error>(())
        })
        .unwrap(),
        tip + 3
    );
    assert_eq!(more, [tip + 1, tip + 2, tip + 3]);
}

/// `run` with the stop flag already set handles what exists and returns.
#[test]
fn run_with_the_stop_flag_set_returns_after_the_existing_commits() {
    let (temp, store) = folder_store();
    log_n(&store, 1, 4);
    let path = temp.path().join("stopped.position");
    let stop = Arc::new(AtomicBool::new(true));
    let thread = std::thread::spawn(move || {
        let mut handled = Vec::new();
        let mut projection = Projection::new(&store, FileCheckpoint::new(&path));
        let position = projection.run(&stop, |commit| {
            handled.push(commit.number());
            Ok::<_, Error>(())
        });
        (position.unwrap(), handled)
    });
    let (position, handled) = join_within_hang(thread);
    assert_eq!(position, 4);
    assert_eq!(handled, [1, 2, 3, 4]);
}
