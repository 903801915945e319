//! What several test files share: a counter model whose only event adds to it, and a memory
//! backend that counts what is asked of it.

// Each test file uses part of it.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use std::time::Duration;

use foldstore::storage::Listing;
use foldstore::{Conflict, EventContext, MemoryStorage, ModelDefinition, Storage, View, Watch};
use serde::{Deserialize, Serialize};

/// The counter's only event: add `by`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", content = "data", rename_all = "camelCase")]
pub enum CounterEvent {
    /// Adds `by` to the counter.
    Incremented {
        /// How much to add.
        by: i64,
    },
}

/// A counter: its data is the sum of its events; its domain model is the view itself.
pub struct Counter;

impl ModelDefinition for Counter {
    type Data = i64;
    type Event = CounterEvent;
    type Error = String;
    type Domain<V: View<Self>> = V;

    fn initial_data(&self) -> i64 {
        0
    }

    fn apply(
        &self,
        data: &mut i64,
        event: CounterEvent,
        _: &EventContext<'_>,
    ) -> Result<(), String> {
        match event {
            CounterEvent::Incremented { by } => *data += by,
        }
        Ok(())
    }

    fn domain<V: View<Self>>(&self, view: V) -> V {
        view
    }
}

/// A memory backend that counts its live watches (one per live subscription: a subscriber's
/// or follower's thread holds one until it ends) and records every read and write.
#[derive(Clone, Debug, Default)]
pub struct Counted {
    /// The backend it counts for (clones share it).
    pub inner: MemoryStorage,
    live_watches: Arc<AtomicUsize>,
    /// Every read or write of the backend (watches aside), with the thread that made it.
    calls: Arc<Mutex<Vec<(&'static str, ThreadId)>>>,
}

impl Counted {
    /// The watches alive now.
    pub fn live_watches(&self) -> usize {
        self.live_watches.load(Ordering::SeqCst)
    }

    /// Every call recorded so far.
    pub fn calls(&self) -> Vec<&'static str> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .map(|(call, _)| *call)
            .collect()
    }

    /// How many times the backend was read (listed, or a commit read or looked for).
    pub fn reads(&self) -> usize {
        self.calls()
            .iter()
            .filter(|call| matches!(**call, "list" | "read_commit" | "commit_exists"))
            .count()
    }

    fn record(&self, call: &'static str) {
        self.calls
            .lock()
            .unwrap()
            .push((call, std::thread::current().id()));
    }

    /// The calls made on `thread`.
    pub fn calls_on(&self, thread: ThreadId) -> Vec<&'static str> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, on)| *on == thread)
            .map(|(call, _)| *call)
            .collect()
    }
}

struct CountedWatch {
    inner: Box<dyn Watch>,
    live: Arc<AtomicUsize>,
}

impl Watch for CountedWatch {
    fn wait(&mut self, timeout: Duration) -> bool {
        self.inner.wait(timeout)
    }
}

impl Drop for CountedWatch {
    fn drop(&mut self) {
        self.live.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Storage for Counted {
    fn ensure_created(&self) -> foldstore::Result<()> {
        self.inner.ensure_created()
    }

    fn exists(&self) -> foldstore::Result<bool> {
        self.inner.exists()
    }

    fn list(&self) -> foldstore::Result<Listing> {
        self.record("list");
        self.inner.list()
    }

    fn read_commit(&self, number: u64) -> foldstore::Result<Option<Vec<u8>>> {
        self.record("read_commit");
        self.inner.read_commit(number)
    }

    fn commit_exists(&self, number: u64) -> foldstore::Result<bool> {
        self.record("commit_exists");
        self.inner.commit_exists(number)
    }

    fn create_commit(
        &self,
        number: u64,
        document: &[u8],
    ) -> foldstore::Result<Result<(), Conflict>> {
        self.record("create_commit");
        self.inner.create_commit(number, document)
    }

    fn read_snapshot(&self, name: &str, commit: u64) -> foldstore::Result<Option<Vec<u8>>> {
        self.record("read_snapshot");
        self.inner.read_snapshot(name, commit)
    }

    fn create_snapshot(
        &self,
        name: &str,
        commit: u64,
        document: &[u8],
    ) -> foldstore::Result<Result<(), Conflict>> {
        self.record("create_snapshot");
        self.inner.create_snapshot(name, commit, document)
    }

    fn watch(&self) -> foldstore::Result<Option<Box<dyn Watch>>> {
        Ok(self.inner.watch()?.map(|inner| {
            self.live_watches.fetch_add(1, Ordering::SeqCst);
            Box::new(CountedWatch {
                inner,
                live: Arc::clone(&self.live_watches),
            }) as Box<dyn Watch>
        }))
    }

    fn commit_location(&self, number: u64) -> String {
        self.inner.commit_location(number)
    }

    fn snapshot_location(&self, name: &str, commit: u64) -> String {
        self.inner.snapshot_location(name, commit)
    }
}

/// The mark before a worker process's result line, for [`run_workers`] to find it.
const WORKER_RESULT_MARK: &str = "FOLDSTORE_WORKER_RESULT ";

/// Prints a worker process's result, as JSON on a line of its own (the test harness has printed
/// "test NAME ... " already), for [`run_workers`].
pub fn print_worker_result<T: Serialize>(result: &T) {
    let json = serde_json::to_string(result).expect("a worker's result as JSON");
    println!("\n{WORKER_RESULT_MARK}{json}");
}

/// Runs `workers` copies of this test binary at once, each running only the test
/// `worker_test`, with its environment set by `configure(worker, command)`; waits for all of
/// them and returns their results (printed by [`print_worker_result`]) in worker order. A
/// worker that fails or prints no result fails the test, with the worker's output.
pub fn run_workers<T: serde::de::DeserializeOwned>(
    worker_test: &str,
    workers: u64,
    configure: impl Fn(u64, &mut std::process::Command),
) -> Vec<T> {
    use std::process::{Command, Stdio};
    let exe = std::env::current_exe().expect("the test binary");
    let children: Vec<_> = (0..workers)
        .map(|worker| {
            let mut command = Command::new(&exe);
            command
                .args(["--exact", worker_test, "--nocapture", "--test-threads", "1"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            configure(worker, &mut command);
            command.spawn().expect("start a worker process")
        })
        .collect();
    children
        .into_iter()
        .map(|child| {
            let output = child.wait_with_output().expect("wait for a worker");
            let stdout = String::from_utf8_lossy(&output.stdout);
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(
                output.status.success(),
                "a worker failed ({}):\n{stdout}\n{stderr}",
                output.status
            );
            let line = stdout
                .lines()
                .find_map(|line| line.split_once(WORKER_RESULT_MARK).map(|(_, json)| json))
                .unwrap_or_else(|| panic!("no result from a worker:\n{stdout}\n{stderr}"));
            serde_json::from_str(line).expect("a worker's result")
        })
        .collect()
}
