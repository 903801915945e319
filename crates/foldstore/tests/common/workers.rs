//! Worker processes: a test binary runs itself again, filtered to one test (the worker), which
//! does nothing unless the environment variables its parent set are there. What the workers
//! and their parents share: the worker's test name, the command that starts it, its
//! environment numbers, its lines and result to the parent, a start gate, a deadline on its
//! end, a worker that writes events, a worker killed with SIGKILL, and a small seeded random
//! number generator.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use foldstore::Store;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The name of test `test` of module `module_path` (`module_path!()` there), as `--exact` wants
/// it: the module path without the test binary's name. A test target that is a folder of
/// modules names its tests `topic::test`.
pub fn test_name(module_path: &str, test: &str) -> String {
    match module_path.split_once("::") {
        Some((_, modules)) => format!("{modules}::{test}"),
        None => test.to_owned(),
    }
}

/// A command that runs this test binary again as a worker: only the test `worker_test` (see
/// [`test_name`]), its output uncaptured, on one thread, with no stdin and its stdout and
/// stderr piped to the parent.
pub fn worker_command(worker_test: &str) -> Command {
    let mut command = Command::new(std::env::current_exe().expect("the test binary"));
    command
        .args(["--exact", worker_test, "--nocapture", "--test-threads", "1"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// The number in the environment variable `name`, if it is set; a number that does not parse
/// fails the test.
pub fn env_number_or_none(name: &str) -> Option<u64> {
    let text = std::env::var(name).ok()?;
    Some(
        text.trim()
            .parse()
            .unwrap_or_else(|e| panic!("{name}={text:?}: {e}")),
    )
}

/// The number in the environment variable `name`, which the parent must have set.
pub fn env_number(name: &str) -> u64 {
    env_number_or_none(name).unwrap_or_else(|| panic!("{name} is not set"))
}

/// Writes one line to the parent and flushes it: the parent learns of a call only once it has
/// returned.
pub fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").expect("write to the parent");
    out.flush().expect("flush to the parent");
}

/// Checks `done` every `poll` until it is true (`true`) or `within` has passed (`false`).
pub fn wait_until(within: Duration, poll: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if done() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        thread::sleep(poll);
    }
}

/// A start gate: worker `worker` says it is ready in the folder `gate`, then waits until all
/// `workers` have, so that they all start at once. Returns false if the others did not come
/// within a generous bound (a worker failed).
pub fn gate(gate: &Path, worker: u64, workers: u64) -> bool {
    std::fs::write(gate.join(format!("ready-{worker}")), b"").expect("say ready at the gate");
    wait_until(Duration::from_secs(120), Duration::from_millis(1), || {
        std::fs::read_dir(gate).expect("the gate").count() as u64 >= workers
    })
}

/// The mark before a worker process's result line, for [`worker_result`] to find it.
const WORKER_RESULT_MARK: &str = "FOLDSTORE_WORKER_RESULT ";

/// Prints a worker process's result, as JSON on a line of its own (the test harness has printed
/// "test NAME ... " already), for [`worker_result`].
pub fn print_worker_result<T: Serialize>(result: &T) {
    let json = serde_json::to_string(result).expect("a worker's result as JSON");
    println!("\n{WORKER_RESULT_MARK}{json}");
}

/// Waits for a worker to end (killing it, and failing the test, past `deadline` if there is
/// one) and returns the result it printed with [`print_worker_result`]. A worker that fails or
/// prints no result fails the test, with the worker's output.
pub fn worker_result<T: DeserializeOwned>(mut child: Child, deadline: Option<Instant>) -> T {
    let out = read_on_a_thread(child.stdout.take().expect("the worker's stdout"));
    let err = read_on_a_thread(child.stderr.take().expect("the worker's stderr"));
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for a worker") {
            break status;
        }
        if deadline.is_some_and(|deadline| Instant::now() > deadline) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("a worker did not finish before the deadline (hung?)");
        }
        thread::sleep(Duration::from_millis(5));
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    assert!(
        status.success(),
        "a worker failed ({status}):\n{stdout}\n{stderr}"
    );
    let line = stdout
        .lines()
        .find_map(|line| line.split_once(WORKER_RESULT_MARK).map(|(_, json)| json))
        .unwrap_or_else(|| panic!("no result from a worker:\n{stdout}\n{stderr}"));
    serde_json::from_str(line).expect("a worker's result")
}

/// Runs `workers` copies of this test binary at once, each running only the test
/// `worker_test`, with its environment set by `configure(worker, command)`; waits for all of
/// them and returns their results (printed by [`print_worker_result`]) in worker order.
pub fn run_workers<T: DeserializeOwned>(
    worker_test: &str,
    workers: u64,
    configure: impl Fn(u64, &mut Command),
) -> Vec<T> {
    let children: Vec<Child> = (0..workers)
        .map(|worker| {
            let mut command = worker_command(worker_test);
            configure(worker, &mut command);
            command.spawn().expect("start a worker process")
        })
        .collect();
    children
        .into_iter()
        .map(|child| worker_result(child, None))
        .collect()
}

/// The environment variable naming the store folder a writer worker writes to.
const WRITER_FOLDER: &str = "FOLDSTORE_WRITER_FOLDER";
/// The environment variable saying how many events a writer worker writes.
const WRITER_EVENTS: &str = "FOLDSTORE_WRITER_EVENTS";

/// The body of a writer worker (started by [`spawn_writer`]): opens the store in the folder
/// its parent named, calls `write(store, i)` for each `i` in `0..events`, and prints the number
/// of events as its result. Does nothing in a normal test run.
pub fn run_writer(mut write: impl FnMut(&Store, u64)) {
    let Some(folder) = std::env::var_os(WRITER_FOLDER) else {
        return;
    };
    let store = Store::open(PathBuf::from(folder)).expect("open the store");
    let events = env_number(WRITER_EVENTS);
    for i in 0..events {
        write(&store, i);
    }
    print_worker_result(&events);
}

/// Starts the writer worker `worker_test` (which calls [`run_writer`]) on the store in `folder`,
/// to write `events` events; [`worker_result`] waits for it.
pub fn spawn_writer(worker_test: &str, folder: &Path, events: u64) -> Child {
    worker_command(worker_test)
        .env(WRITER_FOLDER, folder)
        .env(WRITER_EVENTS, events.to_string())
        .spawn()
        .expect("start a writer process")
}

fn read_on_a_thread(mut from: impl Read + Send + 'static) -> JoinHandle<String> {
    thread::spawn(move || {
        let mut text = String::new();
        let _ = from.read_to_string(&mut text);
        text
    })
}

/// A running worker whose stdout lines arrive as they are written, to be killed with SIGKILL
/// at some instant; killed (and reaped) when dropped.
pub struct KillableWorker {
    child: Child,
    lines: Receiver<String>,
    stdout: Option<JoinHandle<()>>,
    stderr: Option<JoinHandle<String>>,
}

impl KillableWorker {
    /// Starts `command` (a [`worker_command`]).
    pub fn spawn(command: &mut Command) -> KillableWorker {
        let mut child = command.spawn().expect("start a worker process");
        let stdout = child.stdout.take().expect("the worker's stdout");
        let stderr = read_on_a_thread(child.stderr.take().expect("the worker's stderr"));
        let (send, lines) = mpsc::channel();
        let stdout = thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            loop {
                let mut line = Vec::new();
                match reader.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => return,
                    // A line cut short by the kill is not an acknowledgement (writes to a pipe
                    // of less than PIPE_BUF bytes are atomic, so this does not happen on Unix).
                    Ok(_) if !line.ends_with(b"\n") => return,
                    Ok(_) => {
                        let text = String::from_utf8_lossy(&line).trim_end().to_owned();
                        if send.send(text).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        KillableWorker {
            child,
            lines,
            stdout: Some(stdout),
            stderr: Some(stderr),
        }
    }

    /// Waits up to `within` for the worker's line `ready`; returns the lines before it (the test
    /// harness's), or why it did not come.
    pub fn wait_ready(&mut self, within: Duration) -> Result<Vec<String>, String> {
        let deadline = Instant::now() + within;
        let mut before = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line == "ready" => return Ok(before),
                Ok(line) => before.push(line),
                Err(RecvTimeoutError::Timeout) => {
                    return Err(format!("did not start in time: {before:?}"))
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(format!("ended before it was ready: {before:?}"))
                }
            }
        }
    }

    /// Kills the worker with SIGKILL and reaps it; `Err` if it had ended by itself.
    pub fn kill(&mut self) -> Result<(), String> {
        if let Ok(Some(status)) = self.child.try_wait() {
            return Err(format!("ended by itself ({status}) before it was killed"));
        }
        self.child.kill().expect("kill a worker");
        let status: ExitStatus = self.child.wait().expect("reap a worker");
        #[cfg(unix)]
        {
            use std::os::unix::process::ExitStatusExt;
            if status.signal() != Some(9) {
                return Err(format!("ended by itself ({status}), not by the kill"));
            }
        }
        #[cfg(not(unix))]
        let _ = status;
        Ok(())
    }

    /// The lines the worker printed that were not taken yet, once it has ended (it is killed
    /// first if it has not), and what it printed on stderr (once: empty afterwards).
    pub fn finish(&mut self) -> (Vec<String>, String) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if let Some(stdout) = self.stdout.take() {
            stdout.join().expect("the stdout reader");
        }
        let stderr = self
            .stderr
            .take()
            .map(|h| h.join().unwrap_or_default())
            .unwrap_or_default();
        (self.lines.try_iter().collect(), stderr)
    }
}

impl Drop for KillableWorker {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A tiny seeded random number generator (xorshift64), so that a failing run can be replayed.
pub struct Rng(u64);

impl Rng {
    /// A generator seeded by splitmix64 of `seed`: nearby seeds give unrelated sequences, and
    /// never state 0.
    pub fn new(seed: u64) -> Rng {
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Rng::from_state((z ^ (z >> 31)) | 1)
    }

    /// A generator in state `state` (not 0).
    pub fn from_state(state: u64) -> Rng {
        assert_ne!(state, 0, "xorshift64 stays at 0");
        Rng(state)
    }

    /// The next number.
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}
