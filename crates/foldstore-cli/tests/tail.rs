//! `foldstore tail` and `tail -f`, following a store while other processes append to it.

mod util;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use util::{append, five_commit_store, foldstore, run_on, write_commit, TestDir};

/// How long a test waits for something that should happen within milliseconds.
const PATIENCE: Duration = Duration::from_secs(60);

/// The commit numbers of `tail --json` lines.
fn numbers(lines: &[Value]) -> Vec<u64> {
    lines
        .iter()
        .map(|l| l["commit"].as_u64().expect("a commit number"))
        .collect()
}

#[test]
fn tail_shows_the_last_commits() {
    let dir = TestDir::new();
    let store = dir.join("s");
    for k in 1..=12 {
        write_commit(
            &store,
            k,
            Some(&format!("2026-11-27T15:03:{k:02}.000Z")),
            json!([{"name": format!("e{k}")}]),
        );
    }
    let outcome = run_on("tail", &store, &["--json"]);
    outcome.expect_code(0);
    assert_eq!(numbers(&outcome.json_lines()), (3..=12).collect::<Vec<_>>());
    let outcome = run_on("tail", &store, &["-n", "2", "--json"]);
    assert_eq!(numbers(&outcome.json_lines()), [11, 12]);
    let outcome = run_on("tail", &store, &["-n", "100", "--json"]);
    assert_eq!(numbers(&outcome.json_lines()), (1..=12).collect::<Vec<_>>());
    let outcome = run_on("tail", &store, &["-n", "0", "--json"]);
    outcome.expect_code(0);
    assert_eq!(outcome.stdout, "");

    // The table is log's.
    let tail = run_on("tail", &store, &["-n", "3"]);
    let log = run_on("log", &store, &["--from", "10"]);
    tail.expect_code(0);
    assert_eq!(tail.stdout, log.stdout);
}

#[test]
fn tail_of_an_empty_or_missing_store() {
    let dir = TestDir::new();
    let empty = dir.join("empty");
    std::fs::create_dir(&empty).expect("create a folder");
    let outcome = run_on("tail", &empty, &["--json"]);
    outcome.expect_code(0);
    assert_eq!(outcome.stdout, "");
    let missing = dir.join("missing");
    for args in [&[][..], &["-f"]] {
        run_on("tail", &missing, args)
            .expect_code(1)
            .expect_stderr_contains(&["no store at", &missing.display().to_string()]);
    }
    assert!(!missing.exists());
}

/// A running `foldstore tail -f --json` (or `events -f`), its output read line by line by a
/// thread.
struct Follower {
    child: Child,
    lines: Receiver<String>,
}

impl Follower {
    fn start(store: &Path, args: &[&str]) -> Follower {
        Follower::spawn("tail", store, &[&["--json"], args].concat())
    }

    /// Starts `foldstore VERB STORE -f ARGS...`.
    fn spawn(verb: &str, store: &Path, args: &[&str]) -> Follower {
        let mut child = foldstore()
            .args([verb.as_ref(), store.as_os_str(), "-f".as_ref()])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start foldstore tail -f");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (sender, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Follower { child, lines }
    }

    /// The next `n` lines, parsed; panics if they do not come in time.
    fn next_lines(&self, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + PATIENCE;
        (0..n)
            .map(|i| {
                let left = deadline.saturating_duration_since(Instant::now());
                let line = self
                    .lines
                    .recv_timeout(left)
                    .unwrap_or_else(|e| panic!("line {} of {n} did not come: {e}", i + 1));
                serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line:?}: {e}"))
            })
            .collect()
    }

    /// Waits for the process to end by itself; its exit code and standard error.
    fn wait(&mut self) -> (Option<i32>, String) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().expect("look at the child") {
                let mut stderr = String::new();
                if let Some(mut pipe) = self.child.stderr.take() {
                    std::io::Read::read_to_string(&mut pipe, &mut stderr).expect("read stderr");
                }
                return (status.code(), stderr);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("foldstore tail -f did not end");
            }
            thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        // Ends the child if a failed assertion left it running.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(unix)]
fn interrupt(child: &Child) {
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
}

#[cfg(unix)]
#[test]
fn tail_follow_prints_commits_of_other_processes_once_each_and_ends_on_ctrl_c() {
    let dir = TestDir::new();
    let store = five_commit_store(&dir);
    let mut follower = Follower::start(&store, &["-n", "2"]);
    assert_eq!(numbers(&follower.next_lines(2)), [4, 5]);

    // Another process appends: the commit shows up.
    assert_eq!(append(&store, &["fromAnotherProcess", r#"{"k": 1}"#]), 6);
    let line = &follower.next_lines(1)[0];
    assert_eq!(line["commit"], 6);
    assert_eq!(line["events"], json!(["fromAnotherProcess"]));

    // Many processes at once: every commit once, in order.
    const WRITERS: u64 = 4;
    const EACH: u64 = 5;
    thread::scope(|scope| {
        for writer in 0..WRITERS {
            let store = &store;
            scope.spawn(move || {
                for seq in 0..EACH {
                    append(
                        store,
                        &[
                            "written",
                            &json!({"writer": writer, "seq": seq}).to_string(),
                        ],
                    );
                }
            });
        }
    });
    let total = 6 + WRITERS * EACH;
    let lines = follower.next_lines((WRITERS * EACH) as usize);
    assert_eq!(numbers(&lines), (7..=total).collect::<Vec<_>>());

    // A commit written by hand (as another program would) is followed too.
    write_commit(&store, total + 1, None, json!([{"name": "byHand"}]));
    assert_eq!(follower.next_lines(1)[0]["events"], json!(["byHand"]));

    interrupt(&follower.child);
    let (code, stderr) = follower.wait();
    // Nothing more was printed: the reader sees the end of the output.
    let lines_left: Vec<String> = follower.lines.iter().collect();
    assert_eq!(
        code,
        Some(0),
        "Ctrl-C ends tail -f with status 0; stderr: {stderr}"
    );
    assert_eq!(stderr, "");
    assert!(lines_left.is_empty(), "{lines_left:?}");
}

#[test]
fn tail_follow_ends_quietly_when_its_output_is_closed() {
    let dir = TestDir::new();
    let store = five_commit_store(&dir);
    let mut follower = Follower::start(&store, &["-n", "1"]);
    assert_eq!(numbers(&follower.next_lines(1)), [5]);
    // Close the reading end (the reader thread ends when its receiver is gone and it reads).
    let receiver = std::mem::replace(&mut follower.lines, mpsc::channel().1);
    drop(receiver);
    // The thread holding the pipe exits after the next line it reads; keep appending until
    // the follower notices the closed pipe.
    let mut appended = BTreeSet::new();
    let deadline = Instant::now() + PATIENCE;
    while follower
        .child
        .try_wait()
        .expect("look at the child")
        .is_none()
    {
        assert!(
            Instant::now() < deadline,
            "tail -f kept running into a closed pipe"
        );
        appended.insert(append(&store, &["more"]));
        thread::sleep(Duration::from_millis(50));
    }
    let (code, stderr) = follower.wait();
    assert_eq!(code, Some(0), "a closed pipe is not a failure: {stderr}");
    assert_eq!(stderr, "");
    assert!(!appended.is_empty());
}

#[cfg(unix)]
#[test]
fn events_follow_prints_the_events_of_new_commits_and_ends_on_ctrl_c() {
    let dir = TestDir::new();
    let store = five_commit_store(&dir);
    // From commit 4 on, events named b or fromAnotherProcess (the first letter's case aside).
    let mut follower = Follower::spawn(
        "events",
        &store,
        &["--from", "4", "--name", "b", "--name", "FromAnotherProcess"],
    );
    let names = |lines: &[Value]| -> Vec<String> {
        lines
            .iter()
            .map(|l| format!("{}:{}", l["commit"], l["name"].as_str().expect("a name")))
            .collect()
    };
    assert_eq!(names(&follower.next_lines(1)), ["4:b"]);
    assert_eq!(append(&store, &["other"]), 6);
    assert_eq!(append(&store, &["fromAnotherProcess", "1"]), 7);
    let line = &follower.next_lines(1)[0];
    assert_eq!(names(std::slice::from_ref(line)), ["7:fromAnotherProcess"]);
    assert_eq!(line["data"], 1);
    assert_eq!(line["headers"]["time"], util::commit_time(&store, 7));
    interrupt(&follower.child);
    let (code, stderr) = follower.wait();
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stderr, "");
    let left: Vec<String> = follower.lines.iter().collect();
    assert!(left.is_empty(), "{left:?}");

    // With --limit it ends by itself once that many lines are printed.
    let mut limited = Follower::spawn("events", &store, &["--from", "8", "-n", "2"]);
    assert_eq!(append(&store, &["x"]), 8);
    write_commit(&store, 9, None, json!([{"name": "y"}, {"name": "z"}]));
    assert_eq!(names(&limited.next_lines(2)), ["8:x", "9:y"]);
    let (code, stderr) = limited.wait();
    assert_eq!(code, Some(0), "{stderr}");
    let left: Vec<String> = limited.lines.iter().collect();
    assert!(left.is_empty(), "{left:?}");
}
