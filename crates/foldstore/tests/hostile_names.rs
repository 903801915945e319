//! Commit numbers read from hostile file names (loose layout): no work grows with a number
//! read from a name, no name makes anything panic or overflow, and a writer never acknowledges
//! a commit that readers cannot reach from commit 1.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use foldstore::{Error, Event, Store};
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

/// The names of the files in `folder`, sorted.
fn names(folder: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(folder)
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn names_beyond_two_to_the_53_are_ignored_with_a_warning() {
    for name in [
        "18446744073709551615.log",
        "18446744073709551616.log",
        "9007199254740992.log",
        "9007199254740993.log",
    ] {
        let (_dir, folder) = store_with(3);
        let planted = plant(&folder, name);
        let location = planted.display().to_string();
        let store = Store::open(&folder).expect("open");
        let report = within_bound("verify", {
            let store = store.clone();
            move || store.verify(|_, _| {})
        })
        .expect("verify");
        assert!(report.is_sound(), "{name}: {:?}", report.problems);
        assert_eq!(report.tip, 3, "{name}");
        let warning = report
            .warnings
            .iter()
            .find(|w| w.location == location)
            .unwrap_or_else(|| panic!("{name}: no warning in {:?}", report.warnings));
        assert!(warning.problem.contains("9007199254740991"), "{warning:?}");
        // Readers and writers agree: the log ends at 3, and the next commit is 4.
        assert_eq!(store.tip().expect("tip"), 3, "{name}");
        let mut seen = 0;
        store.replay_event_stream(|_, _| seen += 1).expect("replay");
        assert_eq!(seen, 3, "{name}");
        assert_eq!(store.log(&Event::new("next")).expect("log"), 4, "{name}");
        assert_eq!(
            Store::open(&folder)
                .expect("open")
                .log(&Event::new("after"))
                .expect("log"),
            5,
            "{name}"
        );
        assert!(planted.exists());
    }
}

#[test]
fn a_snapshot_named_beyond_two_to_the_53_is_a_warning() {
    let (_dir, folder) = store_with(1);
    let planted = folder.join("9007199254740993.members-snapshot");
    fs::write(&planted, "{}").expect("plant");
    let report = Store::open(&folder)
        .expect("open")
        .verify(|_, _| {})
        .expect("verify");
    assert!(report.is_sound(), "{:?}", report.problems);
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.location == planted.display().to_string()),
        "{:?}",
        report.warnings
    );
}

/// A writer refuses to append after a gap; the error names the gap and says what to do.
fn assert_refused(result: Result<u64, Error>, first: u64, next: u64, folder: &Path) {
    match &result {
        Err(
            error @ Error::MissingCommit {
                commit,
                location,
                next: found,
            },
        ) => {
            assert_eq!((*commit, *found), (first, next), "{error}");
            assert_eq!(
                location,
                &folder.join(format!("{first}.log")).display().to_string()
            );
            let message = error.to_string();
            assert!(message.contains("foldstore verify"), "{message}");
            assert!(message.contains("gap"), "{message}");
        }
        other => panic!("expected the gap {first}..{next} to be refused, got {other:?}"),
    }
}

#[test]
fn a_writer_refuses_to_append_after_a_far_commit_it_cannot_reach() {
    let (_dir, folder) = store_with(3);
    plant(&folder, "17179869184.log");
    let before = names(&folder);
    let store = Store::open(&folder).expect("open");
    assert_refused(store.log(&Event::new("x")), 4, 17_179_869_184, &folder);
    // And again (the refusal is not a one-off), by a block too.
    assert_refused(
        store
            .log_block(|block| {
                block.log(&Event::new("y"))?;
                block.mark_as_complete();
                Ok::<_, Error>(())
            })
            .map(|n| n.unwrap_or(0)),
        4,
        17_179_869_184,
        &folder,
    );
    assert_eq!(names(&folder), before, "nothing was written");

    // Once the stray file is gone, the same writer goes on at 4.
    fs::remove_file(folder.join("17179869184.log")).expect("remove");
    assert_eq!(store.log(&Event::new("x")).expect("log"), 4);
}

#[test]
fn a_writer_refuses_to_append_after_a_gap_in_the_middle() {
    let (_dir, folder) = store_with(5);
    fs::remove_file(folder.join("2.log")).expect("remove");
    fs::remove_file(folder.join("3.log")).expect("remove");
    let before = names(&folder);
    assert_refused(
        Store::open(&folder).expect("open").log(&Event::new("x")),
        2,
        4,
        &folder,
    );
    assert_eq!(
        names(&folder),
        before,
        "nothing was written, not into the gap either"
    );
}

#[test]
fn the_largest_commit_number_neither_overflows_nor_is_exceeded() {
    let (_dir, folder) = store_with(1);
    let max = (1_u64 << 53) - 1;
    plant(&folder, &format!("{max}.log"));
    let store = Store::open(&folder).expect("open");
    let report = store.verify(|_, _| {}).expect("verify");
    assert_eq!(report.tip, max);
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert!(report.problems[0]
        .problem
        .contains(&format!("2 to {}", max - 1)));
    assert_eq!(store.tip().expect("tip"), max);
    assert_refused(store.log(&Event::new("x")), 2, max, &folder);
    // No commit is created beyond the largest number, even when asked for directly.
    let error = store
        .storage()
        .create_commit(max + 1, b"{}")
        .expect_err("beyond the largest commit number");
    assert!(error.to_string().contains("9007199254740991"), "{error}");
    assert!(!folder.join(format!("{}.log", max + 1)).exists());
}
