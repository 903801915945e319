//! `foldstore gc`: what a folder store no longer needs, listed and then removed, never a
//! commit; run as the real binary.

mod util;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use std::collections::BTreeMap;

use util::{file_names, run, run_on, write_old, TestDir};

/// Every file under `folder` (its subfolders too), by its path inside it, with its bytes.
fn folder_bytes(folder: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for name in file_names(folder) {
        let path = folder.join(&name);
        if path.is_dir() {
            for (inner, bytes) in folder_bytes(&path) {
                files.insert(format!("{name}/{inner}"), bytes);
            }
        } else {
            files.insert(name, fs::read(&path).expect("read a file"));
        }
    }
    files
}

/// A copy of a store the original package wrote (snapshots at commits 3 and 25), with what gc
/// looks at added: temporary files, quarantined files and more snapshots.
fn cluttered(dir: &TestDir) -> PathBuf {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../foldstore/tests/fixtures/node-memberlist/store");
    let store = dir.join("members");
    run(["copy".as_ref(), fixture.as_os_str(), store.as_os_str()]).expect_code(0);
    // Left by a killed copy an hour ago, and by a write that may be at work.
    write_old(
        &store.join(".foldstore-tmp-4242-0-000000001"),
        "{\"headers\"",
    );
    fs::write(store.join(".foldstore-tmp-4242-1-000000002"), "{").expect("write");
    // Moved aside by repair in 1970, and just now.
    let quarantine = store.join("foldstore-quarantine");
    fs::create_dir(&quarantine).expect("create the quarantine");
    fs::write(quarantine.join("28.log.1000"), "{\"head").expect("write");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970");
    fs::write(quarantine.join(format!("28.log.{}", now.as_millis())), "{").expect("write");
    // A damaged snapshot older than the newest sound one, and one newer.
    fs::write(store.join("2.memberlist-snapshot"), "not JSON").expect("write");
    fs::write(store.join("26.memberlist-snapshot"), "{").expect("write");
    // A model whose only snapshot is damaged: nothing to supersede it.
    fs::write(store.join("5.other-snapshot"), "{").expect("write");
    store
}

#[test]
fn gc_lists_first_then_removes_and_never_touches_a_commit() {
    let dir = TestDir::new();
    let store = cluttered(&dir);
    let events = run_on("events", &store, &[]).stdout;
    let before = folder_bytes(&store);
    let dry = run_on("gc", &store, &[]);
    dry.expect_code(0);
    let garbage = [
        ".foldstore-tmp-4242-0-000000001",
        "2.memberlist-snapshot",
        "3.memberlist-snapshot",
        "foldstore-quarantine/28.log.1000",
    ];
    for name in garbage {
        dry.expect_stdout_contains(&[&format!("would remove {}", store.join(name).display())]);
    }
    dry.expect_stdout_contains(&[
        "superseded by the snapshot at commit 25",
        "damaged, superseded",
        "temporary file of a write that stopped",
        "moved aside by repair",
        "kept",
        "26.memberlist-snapshot",
        ".foldstore-tmp-4242-1-000000002",
        "1 file moved aside less than 30 days ago",
        "dry run: 4 files",
        "nothing was removed",
    ]);
    assert!(!dry.stdout.contains("5.other-snapshot"), "{}", dry.stdout);
    assert!(
        !dry.stdout.contains(".log "),
        "a commit listed: {}",
        dry.stdout
    );
    assert_eq!(folder_bytes(&store), before, "a dry run changed the store");

    let applied = run_on("gc", &store, &["--apply"]);
    applied.expect_code(0);
    applied.expect_stdout_contains(&["done: removed 4 files", "no commit was touched"]);
    let mut expected = before.clone();
    for name in garbage {
        expected.remove(name);
        assert!(!store.join(name).exists(), "{name} is still there");
    }
    assert_eq!(folder_bytes(&store), expected);
    assert_eq!(file_names(&store.join("foldstore-quarantine")).len(), 1);
    // Every commit as it was; the models start from the snapshot kept.
    assert_eq!(run_on("events", &store, &[]).stdout, events);
    assert!(store.join("25.memberlist-snapshot").exists());

    let again = run_on("gc", &store, &["--apply"]);
    again.expect_code(0);
    again.expect_stdout_contains(&["nothing to remove"]);
    // All quarantined files, whatever their age.
    run_on("gc", &store, &["--apply", "--quarantine-older-than", "0s"]).expect_code(0);
    assert!(file_names(&store.join("foldstore-quarantine")).is_empty());
}

#[cfg(unix)]
#[test]
fn gc_removes_no_symbolic_link_and_nothing_outside_the_store() {
    let dir = TestDir::new();
    let store = dir.join("s");
    util::append(&store, &["hello"]);
    let outside = dir.join("precious.txt");
    fs::write(&outside, "keep me").expect("write");
    std::os::unix::fs::symlink(&outside, store.join(".foldstore-tmp-1-2-3")).expect("link");
    fs::create_dir(dir.join("elsewhere")).expect("create a folder");
    write_old(&dir.join("elsewhere/28.log.1000"), "x");
    std::os::unix::fs::symlink(dir.join("elsewhere"), store.join("foldstore-quarantine"))
        .expect("link");
    let outcome = run_on("gc", &store, &["--apply"]);
    outcome.expect_code(0);
    outcome.expect_stdout_contains(&["nothing to remove"]);
    assert_eq!(fs::read_to_string(&outside).expect("read"), "keep me");
    assert!(dir.join("elsewhere/28.log.1000").exists());
    assert!(store.join(".foldstore-tmp-1-2-3").exists());
}

#[test]
fn gc_needs_an_existing_store() {
    let dir = TestDir::new();
    run_on("gc", &dir.join("missing"), &[])
        .expect_code(1)
        .expect_stderr_contains(&["no store at"]);
}
