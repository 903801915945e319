//! Helpers for running the real `foldstore` binary in temporary folders (after ripgrep's
//! `tests/util.rs`).

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

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
