//! Helpers for running the real `foldstore` binary in temporary folders (after ripgrep's
//! `tests/util.rs`).

// Each test file uses its own share of these helpers.
#![allow(dead_code)]

pub mod server;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// The path of the `foldstore` binary built for these tests.
pub const FOLDSTORE: &str = env!("CARGO_BIN_EXE_foldstore");

/// A temporary folder, removed when dropped, in which stores are made.
pub struct TestDir {
    dir: tempfile::TempDir,
}

impl TestDir {
    /// A new, empty temporary folder.
    pub fn new() -> TestDir {
        let dir = tempfile::Builder::new()
            .prefix("foldstore-cli-test-")
            .tempdir()
            .expect("create a temporary folder");
        TestDir { dir }
    }

    /// A path inside the temporary folder (which need not exist).
    pub fn join(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }
}

/// A `foldstore` command, not yet run.
pub fn foldstore() -> Command {
    Command::new(FOLDSTORE)
}

/// What a run of `foldstore` did.
#[derive(Debug)]
pub struct Outcome {
    /// The exit status's code (`None` when killed by a signal).
    pub code: Option<i32>,
    /// Standard output, as text.
    pub stdout: String,
    /// Standard error, as text.
    pub stderr: String,
}

impl Outcome {
    fn from_output(output: Output) -> Outcome {
        Outcome {
            code: output.status.code(),
            stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
        }
    }

    /// Panics, showing everything the command printed, unless it exited with `code`.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code,
            Some(code),
            "expected exit status {code}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// Panics unless standard error contains every one of `parts`.
    #[track_caller]
    pub fn expect_stderr_contains(&self, parts: &[&str]) -> &Self {
        for part in parts {
            assert!(
                self.stderr.contains(part),
                "stderr lacks {part:?}\n--- stderr ---\n{}",
                self.stderr
            );
        }
        self
    }

    /// Panics unless standard output contains every one of `parts`.
    #[track_caller]
    pub fn expect_stdout_contains(&self, parts: &[&str]) -> &Self {
        for part in parts {
            assert!(
                self.stdout.contains(part),
                "stdout lacks {part:?}\n--- stdout ---\n{}",
                self.stdout
            );
        }
        self
    }

    /// Standard output read as JSON lines.
    #[track_caller]
    pub fn json_lines(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|line| {
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?} is not JSON: {e}"))
            })
            .collect()
    }
}

/// Runs `foldstore` with `args` and an empty standard input.
pub fn run<I, S>(args: I) -> Outcome
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let output = foldstore()
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run foldstore");
    Outcome::from_output(output)
}

/// The names of every event of `store`, as `foldstore events` prints them.
#[track_caller]
pub fn event_names(store: &Path) -> Vec<Value> {
    let events = run_on("events", store, &[]);
    events.expect_code(0);
    events
        .json_lines()
        .iter()
        .map(|line| line["name"].clone())
        .collect()
}

/// Runs `foldstore VERB STORE ARGS...` with an empty standard input.
pub fn run_on(verb: &str, store: &Path, args: &[&str]) -> Outcome {
    run([OsStr::new(verb), store.as_os_str()]
        .into_iter()
        .chain(args.iter().map(OsStr::new)))
}

/// The (commit, name) pairs of the lines `events ARGS` prints, which must succeed.
pub fn events(store: &Path, args: &[&str]) -> Vec<(u64, String)> {
    let outcome = run_on("events", store, args);
    outcome.expect_code(0);
    outcome
        .json_lines()
        .iter()
        .map(|l| {
            (
                l["commit"].as_u64().expect("a number"),
                l["name"].as_str().expect("a name").to_owned(),
            )
        })
        .collect()
}

/// Runs `foldstore` with `args` and the environment variables `env` set (and `NO_COLOR`,
/// `CLICOLOR_FORCE` and `CLICOLOR` removed unless given).
pub fn run_with_env<I, S>(args: I, env: &[(&str, &str)]) -> Outcome
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut command = foldstore();
    for name in ["NO_COLOR", "CLICOLOR_FORCE", "CLICOLOR"] {
        command.env_remove(name);
    }
    command.envs(env.iter().copied());
    let output = command
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run foldstore");
    Outcome::from_output(output)
}

/// Runs `foldstore` with `args` and its standard output a pipe that is closed before it writes
/// anything, as `| head -0` would; returns the exit code and standard error.
pub fn run_into_closed_pipe<I, S>(args: I) -> (Option<i32>, String)
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut child = foldstore()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start foldstore");
    drop(child.stdout.take());
    let output = child.wait_with_output().expect("wait for foldstore");
    (
        output.status.code(),
        String::from_utf8(output.stderr).expect("stderr is UTF-8"),
    )
}

/// Runs `foldstore` with `args`, writing `input` to its standard input.
pub fn run_with_stdin<I, S>(args: I, input: &str) -> Outcome
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut child = foldstore()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start foldstore");
    let mut stdin = child.stdin.take().expect("stdin is piped");
    // The command may refuse its input before reading all of it; that is not this test's concern.
    let _ = stdin.write_all(input.as_bytes());
    drop(stdin);
    Outcome::from_output(child.wait_with_output().expect("wait for foldstore"))
}

/// Runs `foldstore append STORE ARGS...`, asserts it succeeded, and returns the commit number.
#[track_caller]
pub fn append(store: &Path, args: &[&str]) -> u64 {
    let outcome = run([OsStr::new("append"), store.as_os_str()]
        .into_iter()
        .chain(args.iter().map(OsStr::new)));
    outcome.expect_code(0);
    assert_eq!(outcome.stderr, "", "append wrote to stderr");
    outcome
        .stdout
        .strip_suffix('\n')
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("append printed {:?}, not a number", outcome.stdout))
}

/// The text of commit file `number.log` in `store`.
#[track_caller]
pub fn commit_text(store: &Path, number: u64) -> String {
    let path = store.join(format!("{number}.log"));
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Commit file `number.log` in `store`, parsed.
#[track_caller]
pub fn commit_json(store: &Path, number: u64) -> Value {
    let text = commit_text(store, number);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("commit {number} {text:?}: {e}"))
}

/// The `time` header of commit `number`, checked to look like JavaScript's `toISOString()`.
#[track_caller]
pub fn commit_time(store: &Path, number: u64) -> String {
    let commit = commit_json(store, number);
    let time = commit["headers"]["time"]
        .as_str()
        .unwrap_or_else(|| panic!("commit {number} has no time header: {commit}"))
        .to_owned();
    let bytes = time.as_bytes();
    assert!(
        bytes.len() == 24
            && bytes[4] == b'-'
            && bytes[10] == b'T'
            && bytes[19] == b'.'
            && bytes[23] == b'Z',
        "time {time:?} is not written like toISOString()"
    );
    time
}

/// The names of the entries of `folder`.
#[track_caller]
pub fn file_names(folder: &Path) -> BTreeSet<String> {
    fs::read_dir(folder)
        .unwrap_or_else(|e| panic!("list {}: {e}", folder.display()))
        .map(|entry| {
            entry
                .expect("read a folder entry")
                .file_name()
                .into_string()
                .expect("file name is UTF-8")
        })
        .collect()
}

/// `["1.log", ..., "n.log"]` as a set.
pub fn commit_names(n: u64) -> BTreeSet<String> {
    (1..=n).map(|k| format!("{k}.log")).collect()
}

/// Writes commit file `number.log` by hand: `time` as its `time` header (none when `None`), and
/// `events` (a JSON array) as its events.
#[track_caller]
pub fn write_commit(store: &Path, number: u64, time: Option<&str>, events: Value) {
    fs::create_dir_all(store).expect("create the store's folder");
    let headers = match time {
        Some(time) => json!({ "time": time }),
        None => json!({}),
    };
    let document = json!({"headers": headers, "events": events});
    let path = store.join(format!("{number}.log"));
    fs::write(&path, document.to_string())
        .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// A store `s` in `dir` holding commit 1 written by hand (see [`write_commit`]).
#[track_caller]
pub fn one_commit_store(dir: &TestDir, time: &str, events: Value) -> PathBuf {
    let store = dir.join("s");
    write_commit(&store, 1, Some(time), events);
    store
}

/// Every file of `folder` with its bytes.
#[track_caller]
pub fn folder_bytes(folder: &Path) -> BTreeMap<String, Vec<u8>> {
    file_names(folder)
        .into_iter()
        .map(|name| {
            let bytes = fs::read(folder.join(&name)).unwrap_or_else(|e| panic!("read {name}: {e}"));
            (name, bytes)
        })
        .collect()
}

/// Makes a store of 5 commits: a name only, object data, null data, a block of two, a string.
pub fn five_commit_store(dir: &TestDir) -> PathBuf {
    let store = dir.join("s");
    assert_eq!(append(&store, &["hello"]), 1);
    assert_eq!(append(&store, &["moved", r#"{"to": "oslo", "n": 1}"#]), 2);
    assert_eq!(append(&store, &["nothing", "null"]), 3);
    let block = run_with_stdin(
        ["append".as_ref(), store.as_os_str(), "--stdin".as_ref()],
        "{\"name\": \"a\", \"data\": 1}\n{\"name\": \"b\"}\n",
    );
    block.expect_code(0);
    assert_eq!(block.stdout, "4\n");
    assert_eq!(append(&store, &["text", r#""x""#]), 5);
    store
}

/// [`five_commit_store`], then a sixth commit pretty-printed by another program (another
/// member order, a number written `1.50`) and a snapshot `2.members-snapshot`.
pub fn six_commit_store(dir: &TestDir) -> PathBuf {
    let store = five_commit_store(dir);
    fs::write(
        store.join("6.log"),
        "\n{ \"events\": [ {\"data\": 1.50, \"name\": \"pretty\"} ],\n  \"headers\": {} }\n",
    )
    .expect("write 6.log");
    fs::write(
        store.join("2.members-snapshot"),
        r#"{"headers":{"time":"2026-11-27T15:03:31.000Z"},"snapshot":{"n":2}}"#,
    )
    .expect("write a snapshot");
    store
}

/// The commit and snapshot files of the loose store at `folder`, with their bytes.
#[track_caller]
pub fn store_files(folder: &Path) -> BTreeMap<String, Vec<u8>> {
    folder_bytes(folder)
        .into_iter()
        .filter(|(name, _)| name.ends_with(".log") || name.ends_with("-snapshot"))
        .collect()
}

/// The lines `foldstore events` should print for [`five_commit_store`], commit by commit.
pub fn expected_lines(store: &Path) -> Vec<Value> {
    let h = |n| json!({"time": commit_time(store, n)});
    vec![
        json!({"commit": 1, "headers": h(1), "name": "hello"}),
        json!({"commit": 2, "headers": h(2), "name": "moved", "data": {"to": "oslo", "n": 1}}),
        json!({"commit": 3, "headers": h(3), "name": "nothing", "data": null}),
        json!({"commit": 4, "headers": h(4), "name": "a", "data": 1}),
        json!({"commit": 4, "headers": h(4), "name": "b"}),
        json!({"commit": 5, "headers": h(5), "name": "text", "data": "x"}),
    ]
}

/// A store whose `events` output is far larger than a pipe's buffer: one commit of 4000 events.
pub fn big_store(dir: &TestDir) -> PathBuf {
    let store = dir.join("big");
    let pad = "p".repeat(400);
    let input: String = (0..4000)
        .map(|i| format!("{{\"name\":\"e{i}\",\"data\":{{\"i\":{i},\"pad\":\"{pad}\"}}}}\n"))
        .collect();
    let outcome = run_with_stdin(
        ["append".as_ref(), store.as_os_str(), "--stdin".as_ref()],
        &input,
    );
    outcome.expect_code(0);
    assert_eq!(outcome.stdout, "1\n");
    store
}

/// A store of `n` commits written by hand (fast), commit k holding one event `e{k}` and the
/// time 2026-11-27T15:00:00.000Z plus k milliseconds.
pub fn many_commit_store(dir: &TestDir, name: &str, n: u64) -> PathBuf {
    let store = dir.join(name);
    for k in 1..=n {
        let time = humantime::format_rfc3339_millis(
            humantime::parse_rfc3339("2026-11-27T15:00:00Z").expect("a time")
                + Duration::from_millis(k),
        )
        .to_string();
        write_commit(
            &store,
            k,
            Some(&time),
            json!([{"name": format!("e{k}"), "data": {"k": k}}]),
        );
    }
    store
}

/// Waits until `done` is true, checking every 10 ms, for at most `limit`; panics with `what`
/// if it never is.
#[track_caller]
pub fn wait_until(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < limit,
            "gave up waiting for {what} after {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `text` without ANSI escape sequences.
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Writes `bytes` to `path` dated an hour back: damage found later, not a write in progress
/// (which readers give a grace period of 2 s before they report it).
#[allow(dead_code)]
pub fn write_old(path: &std::path::Path, bytes: impl AsRef<[u8]>) {
    std::fs::write(path, bytes).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(path)
        .and_then(|file| file.set_modified(hour_ago))
        .unwrap_or_else(|e| panic!("date {} back: {e}", path.display()));
}

/// The verbs whose `--help` shows examples.
pub const VERBS_WITH_EXAMPLES: [&str; 11] = [
    "append",
    "events",
    "log",
    "show",
    "tail",
    "stats",
    "snapshots",
    "schema",
    "verify",
    "copy",
    "demo",
];

/// The commit numbers `log --json ARGS` lists.
#[track_caller]
pub fn logged(store: &Path, args: &[&str]) -> Vec<u64> {
    let outcome = run_on("log", store, &[&["--json"], args].concat());
    outcome.expect_code(0);
    outcome
        .json_lines()
        .iter()
        .map(|l| l["commit"].as_u64().expect("a number"))
        .collect()
}

/// Starts `foldstore VERB STORE` with its standard output piped, reads `lines` lines of it, and
/// closes the pipe (as `head` does) while foldstore has far more to write. Returns the lines read
/// and the output of the ended process.
#[track_caller]
pub fn read_lines_then_close(verb: &str, store: &Path, lines: usize) -> (Vec<String>, Output) {
    use std::io::{BufRead, BufReader};
    let mut child = foldstore()
        .args([verb.as_ref(), store.as_os_str()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start foldstore {verb}: {e}"));
    let mut reader = BufReader::new(child.stdout.take().expect("stdout is piped"));
    let read = (0..lines)
        .map(|_| {
            let mut line = String::new();
            reader.read_line(&mut line).expect("read a line");
            line
        })
        .collect();
    drop(reader);
    (read, child.wait_with_output().expect("wait for foldstore"))
}

/// What `foldstore VERB STORE | head -N` did: what head printed, and foldstore's standard
/// error and exit status.
#[derive(Debug)]
pub struct PipedIntoHead {
    /// What head printed.
    pub stdout: Vec<u8>,
    /// What foldstore printed on its standard error.
    pub stderr: String,
    /// foldstore's exit status, as `sh` prints it (`0\n`).
    pub status: String,
}

/// Runs `foldstore VERB STORE | head -LINES` in `sh`, with temporary files in `dir`.
#[track_caller]
pub fn piped_into_head(dir: &TestDir, verb: &str, store: &Path, lines: usize) -> PipedIntoHead {
    let stderr = dir.join("stderr.txt");
    let status = dir.join("status.txt");
    // POSIX sh has no pipefail: the command's status is written to a file from inside the pipe.
    let output = Command::new("sh")
        .arg("-c")
        .arg(format!(
            r#"{{ "$0" {verb} "$1" 2>"$2"; echo $? >"$3"; }} | head -{lines}"#
        ))
        .arg(FOLDSTORE)
        .arg(store)
        .arg(&stderr)
        .arg(&status)
        .output()
        .expect("run sh");
    assert!(output.status.success(), "{output:?}");
    PipedIntoHead {
        stdout: output.stdout,
        stderr: fs::read_to_string(&stderr).expect("read stderr.txt"),
        status: fs::read_to_string(&status).expect("read status.txt"),
    }
}
