//! Commit numbers read from hostile file names (loose layout): no work grows with a number
//! read from a name, no name makes anything panic or overflow, and a writer never acknowledges
//! a commit that readers cannot reach from commit 1.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use foldstore::{Event, Store};
use tempfile::TempDir;

/// The bound of the watchdog: far more than any of these operations takes, so that only a
/// hang (work growing with a number read from a name) trips it.
const WATCHDOG: Duration = Duration::from_secs(60);

/// Runs `work` on another thread and fails the test if it does not return within
/// [`WATCHDOG`] (the thread is then left behind; the test process ends with the test).
fn within_bound<T: Send + 'static>(what: &str, work: impl FnOnce() -> T + Send + 'static) -> T {
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = send.send(work());
    });
    match receive.recv_timeout(WATCHDOG) {
        Ok(value) => value,
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("{what} did not return within {WATCHDOG:?}")
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("{what} panicked"),
    }
}

/// A folder store holding commits 1..=count.
fn store_with(count: u64) -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let folder = dir.path().join("store");
    let store = Store::open(&folder).expect("open");
    store.ensure_folder().expect("ensure_folder");
    for n in 1..=count {
        assert_eq!(store.log(&Event::new(format!("e{n}"))).expect("log"), n);
    }
    (dir, folder)
}

/// Puts a copy of commit 1 under `name`.
fn plant(folder: &Path, name: &str) -> PathBuf {
    let path = folder.join(name);
    fs::copy(folder.join("1.log"), &path).expect("plant a hostile name");
    path
}

#[test]
fn verify_reports_a_huge_gap_as_one_range_without_walking_it() {
    let (_dir, folder) = store_with(3);
    let far = plant(&folder, "17179869184.log");
    let store = Store::open(&folder).expect("open");
    let (report, calls) = within_bound("verify", move || {
        let mut calls = Vec::new();
        let report = store.verify(|done, total| calls.push((done, total)));
        (report, calls)
    });
    let report = report.expect("verify");
    // Progress is called for the four commits present, not for the numbers between them.
    let far_number = 17_179_869_184;
    assert_eq!(
        calls,
        [
            (1, far_number),
            (2, far_number),
            (3, far_number),
            (far_number, far_number)
        ]
    );
    assert_eq!(report.tip, 17_179_869_184);
    assert_eq!(report.sound_commits, 4);
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    let gap = &report.problems[0];
    assert_eq!(gap.location, folder.join("4.log").display().to_string());
    assert!(gap.problem.contains("4 to 17179869183"), "{gap:?}");
    assert!(far.exists());
}

#[test]
fn verify_reports_a_gap_before_the_first_commit() {
    let (_dir, folder) = store_with(3);
    fs::remove_file(folder.join("1.log")).expect("remove");
    fs::remove_file(folder.join("2.log")).expect("remove");
    let report = Store::open(&folder)
        .expect("open")
        .verify(|_, _| {})
        .expect("verify");
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert_eq!(
        report.problems[0].location,
        folder.join("1.log").display().to_string()
    );
    assert!(report.problems[0].problem.contains("1 to 2"));
    assert_eq!((report.tip, report.sound_commits), (3, 1));
}
