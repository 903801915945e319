//! `demo` and `--help`.

use serde_json::json;

use crate::util::{commit_names, event_names, file_names, run, TestDir};

#[test]
fn demo_leaves_a_store_that_passes_verify() {
    let dir = TestDir::new();
    let store = dir.join("new/demo-store");
    let outcome = run(["demo".as_ref(), store.as_os_str()]);
    outcome.expect_code(0).expect_stdout_contains(&[
        "commit 1: registered arjan einbu, marit winge, peter pan",
        "is already a member; nothing was written",
        "commit 2: marit winge has moved",
        "an instance that ended arjan einbu's membership but never called ready_to_commit wrote nothing",
        "snapshot saved at commit 2",
        "At commit 1 the list had 3 members; now 3 members after 2 commits.",
        "foldstore events",
    ]);
    assert_eq!(outcome.stderr, "");
    let mut expected = commit_names(2);
    expected.insert("2.memberlist-snapshot".to_owned());
    assert_eq!(file_names(&store), expected);

    run(["verify".as_ref(), store.as_os_str()])
        .expect_code(0)
        .expect_stdout_contains(&["ok: 2 commits (4 events) and 1 snapshot read"]);
    assert_eq!(
        event_names(&store),
        [
            json!("newMemberRegistered"),
            json!("newMemberRegistered"),
            json!("newMemberRegistered"),
            json!("memberHasMoved")
        ]
    );

    // A second run goes on from the store's state: the model refuses duplicates, so it
    // registers nobody again and writes nothing new.
    let again = run(["demo".as_ref(), store.as_os_str()]);
    again.expect_code(0).expect_stdout_contains(&[
        "everyone is registered already",
        "the snapshot at commit 2 (2.memberlist-snapshot) is there already",
    ]);
    assert!(!again.stdout.contains("saved"), "{}", again.stdout);
    assert_eq!(file_names(&store), expected);
}

#[test]
fn demo_refuses_a_store_it_did_not_write() {
    let dir = TestDir::new();
    // A store the original package wrote, a demo store with a commit more, a folder of files.
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../foldstore/tests/fixtures/handwritten/store");
    let copied = dir.join("copied");
    run(["copy".as_ref(), fixture.as_os_str(), copied.as_os_str()]).expect_code(0);
    let grown = dir.join("grown");
    run(["demo".as_ref(), grown.as_os_str()]).expect_code(0);
    crate::util::append(&grown, &["heartbeat"]);
    let files = dir.join("files");
    std::fs::create_dir(&files).expect("create a folder");
    std::fs::write(files.join("notes.txt"), "text").expect("write a file");
    for (store, problem) in [
        (&copied, "holds commits the demo did not write"),
        (&grown, "holds commits the demo did not write"),
        (&files, "is not empty (it holds files, but no commits)"),
    ] {
        let before = crate::util::folder_bytes(store);
        run(["demo".as_ref(), store.as_os_str()])
            .expect_code(1)
            .expect_stderr_contains(&[problem, "nothing was written"]);
        assert_eq!(crate::util::folder_bytes(store), before);
    }
}

#[test]
fn help_of_every_verb_shows_an_example() {
    for verb in ["append", "events", "verify", "demo"] {
        let outcome = run([verb, "--help"]);
        outcome
            .expect_code(0)
            .expect_stdout_contains(&["Example", &format!("foldstore {verb} ./")]);
    }
    run(["append", "--help"])
        .expect_stdout_contains(&["--stdin", "foldstore append ./members heartbeat"]);
    run(["events", "--help"]).expect_stdout_contains(&["--from", "--to"]);
}

#[test]
fn help_lists_the_exit_codes() {
    let outcome = run(["--help"]);
    outcome.expect_code(0).expect_stdout_contains(&[
        "Exit status",
        "append",
        "events",
        "verify",
        "demo",
    ]);
    let codes: Vec<&str> = outcome
        .stdout
        .lines()
        .filter_map(|line| line.trim_start().split_once("  ").map(|(code, _)| code))
        .filter(|code| ["0", "1", "2"].contains(code))
        .collect();
    assert_eq!(codes, ["0", "1", "2"], "{}", outcome.stdout);
}
