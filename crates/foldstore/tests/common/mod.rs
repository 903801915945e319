//! What several test files share: a counter model whose only event adds to it, a backend that
//! counts what is asked of it, new journal stores, worker processes, and the original Node.js
//! package installed for the live tests with it.

// Each test file uses part of it.
#![allow(dead_code)]

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Once, OnceLock};
use std::thread::ThreadId;
use std::time::{Duration, SystemTime};

use foldstore::storage::Listing;
use foldstore::{
    Conflict, Event, EventContext, Layout, MemoryStorage, ModelDefinition, Storage, Store, View,
    Watch,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

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

/// A memory backend that counts its live watches and records every read and write: see
/// [`CountedOn`].
pub type Counted = CountedOn<MemoryStorage>;

/// A backend that counts its live watches (one per live subscription: a subscriber's or
/// follower's thread holds one until it ends) and records every read and write, with the
/// commit read.
#[derive(Clone, Debug, Default)]
pub struct CountedOn<S> {
    /// The backend it counts for (clones of a memory backend share it).
    pub inner: S,
    live_watches: Arc<AtomicUsize>,
    /// Every read or write of the backend (watches aside), with the commit it read (for
    /// `read_commit`) and the thread that made it.
    calls: Arc<Mutex<Vec<Call>>>,
}

/// A call on a [`CountedOn`] backend: its name, the commit it read (for `read_commit`) and the
/// thread that made it.
type Call = (&'static str, Option<u64>, ThreadId);

impl<S> CountedOn<S> {
    /// Counts for `inner`.
    pub fn new(inner: S) -> Self {
        CountedOn {
            inner,
            live_watches: Arc::default(),
            calls: Arc::default(),
        }
    }

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
            .map(|(call, _, _)| *call)
            .collect()
    }

    /// How many times the backend was read (listed, or a commit read or looked for).
    pub fn reads(&self) -> usize {
        self.calls()
            .iter()
            .filter(|call| matches!(**call, "list" | "read_commit" | "commit_exists"))
            .count()
    }

    /// How many times commit `number` was read.
    pub fn reads_of_commit(&self, number: u64) -> usize {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(call, commit, _)| *call == "read_commit" && *commit == Some(number))
            .count()
    }

    fn record(&self, call: &'static str) {
        self.record_on(call, None);
    }

    fn record_on(&self, call: &'static str, commit: Option<u64>) {
        self.calls
            .lock()
            .unwrap()
            .push((call, commit, std::thread::current().id()));
    }

    /// The calls made on `thread`.
    pub fn calls_on(&self, thread: ThreadId) -> Vec<&'static str> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, _, on)| *on == thread)
            .map(|(call, _, _)| *call)
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

impl<S: Storage> Storage for CountedOn<S> {
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
        self.record_on("read_commit", Some(number));
        self.inner.read_commit(number)
    }

    fn commit_exists(&self, number: u64) -> foldstore::Result<bool> {
        self.record("commit_exists");
        self.inner.commit_exists(number)
    }

    fn commit_modified(&self, number: u64) -> foldstore::Result<Option<SystemTime>> {
        self.inner.commit_modified(number)
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

/// A new journal store at `path`, created.
pub fn journal_store(path: &Path) -> Store {
    let store = Store::builder(path).layout(Layout::Journal).open().unwrap();
    store.ensure_folder().unwrap();
    store
}

/// An event `numbered` with data `{"i": i}`.
pub fn numbered(i: u64) -> Event {
    Event::with_data("numbered", json!({ "i": i }))
}

/// The original Node.js package, which the live tests run beside foldstore.
pub const ORIGINAL_PACKAGE: &str = "@scriptabuild/eventstore";

/// The folder of the helper scripts for the original package and of the `package.json` that
/// pins its version.
pub fn node_scripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/node")
}

/// The `node_modules` folder holding the original package, or `None` when the test should be
/// skipped: without Node.js and npm, or when the install fails, unless the environment
/// variable `CI` is `true` (then the test fails). `tests` names the tests that need it, for
/// the message that says they were skipped (once a test binary).
///
/// The package is installed from the npm registry once a test binary, into the cargo target
/// folder (`<target>/tmp/node-interop`, shared by every test file), with the `package.json`
/// of `tests/node/`, and reused while the version it pins is there.
pub fn original_package(tests: &str) -> Option<&'static Path> {
    static INSTALLED: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match INSTALLED.get_or_init(install_original) {
        Ok(modules) => Some(modules),
        Err(why) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!(
                "CI is true, and {tests} cannot run without Node.js and {ORIGINAL_PACKAGE}: {why}"
            )
        }
        Err(why) => {
            static SAID: Once = Once::new();
            // Straight to the stderr handle: libtest captures `eprintln!` of passing tests.
            SAID.call_once(|| {
                let bang = "!".repeat(100);
                let _ = writeln!(
                    io::stderr(),
                    "\n{bang}\n!!! SKIPPED: {tests}, with the original Node.js package.\
                     \n!!! {why}\n!!! With CI=true this fails instead.\n{bang}\n"
                );
            });
            None
        }
    }
}

/// The version of [`ORIGINAL_PACKAGE`] that `tests/node/package.json` pins.
fn pinned_version() -> Result<String, String> {
    let path = node_scripts().join("package.json");
    let text = fs::read_to_string(&path).map_err(|e| format!("cannot read {path:?}: {e}"))?;
    let manifest: Value =
        serde_json::from_str(&text).map_err(|e| format!("cannot parse {path:?}: {e}"))?;
    manifest["dependencies"][ORIGINAL_PACKAGE]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("{path:?} does not pin {ORIGINAL_PACKAGE}"))
}

/// The version of [`ORIGINAL_PACKAGE`] installed in `modules`, if any.
fn installed_version(modules: &Path) -> Option<String> {
    let text = fs::read_to_string(modules.join(ORIGINAL_PACKAGE).join("package.json")).ok()?;
    let manifest: Value = serde_json::from_str(&text).ok()?;
    manifest["version"].as_str().map(str::to_owned)
}

/// Installs the original package (see [`original_package`]): its `node_modules` folder, or why
/// it cannot be had.
fn install_original() -> Result<PathBuf, String> {
    match Command::new("node").arg("--version").output() {
        Ok(out) if out.status.success() => {}
        Ok(out) => return Err(format!("`node --version` failed: {out:?}")),
        Err(e) => return Err(format!("cannot run `node` ({e}): install Node.js (v20)")),
    }
    let pinned = pinned_version()?;
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("node-interop");
    let modules = dir.join("node_modules");
    if installed_version(&modules).as_deref() == Some(pinned.as_str()) {
        return Ok(modules);
    }
    fs::create_dir_all(&dir).map_err(|e| format!("cannot create {dir:?}: {e}"))?;
    fs::copy(
        node_scripts().join("package.json"),
        dir.join("package.json"),
    )
    .map_err(|e| format!("cannot copy package.json into {dir:?}: {e}"))?;
    eprintln!("installing {ORIGINAL_PACKAGE}@{pinned} into {dir:?}");
    let npm = if cfg!(windows) { "npm.cmd" } else { "npm" };
    let out = Command::new(npm)
        .args(["install", "--no-audit", "--no-fund"])
        .current_dir(&dir)
        .output()
        .map_err(|e| format!("cannot run `npm` ({e}): install npm"))?;
    if !out.status.success() {
        return Err(format!(
            "`npm install` in {dir:?} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    match installed_version(&modules) {
        Some(version) if version == pinned => Ok(modules),
        other => Err(format!(
            "`npm install` in {dir:?} installed {ORIGINAL_PACKAGE} {other:?}, not {pinned}"
        )),
    }
}

/// A `node` command that finds the original package in `modules` (from [`original_package`]).
pub fn node(modules: &Path) -> Command {
    let mut command = Command::new("node");
    command.env("NODE_PATH", modules);
    command
}

/// Runs `command` (a [`node`] command) to its end and returns what it printed; fails the test,
/// with its output, when it fails.
pub fn node_output(command: &mut Command) -> String {
    let out = command.output().expect("run node");
    let stdout = String::from_utf8(out.stdout).expect("node prints UTF-8");
    assert!(
        out.status.success(),
        "node {:?} failed ({}):\n{}\nstdout:\n{stdout}",
        command.get_args().collect::<Vec<_>>(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}
