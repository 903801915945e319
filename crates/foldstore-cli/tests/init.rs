//! `foldstore init` and the default store of `FOLDSTORE_STORE`, run as the real binary.

mod util;

use std::fs;

use util::{append, file_names, run, run_on, run_with_env, TestDir};

#[test]
fn init_makes_an_empty_loose_store_and_leaves_a_store_as_it_is() {
    let dir = TestDir::new();
    let store = dir.join("nested/members");
    let made = run_on("init", &store, &[]);
    made.expect_code(0);
    assert_eq!(
        made.stdout,
        format!(
            "created an empty store at {} (loose layout: the original package can share it)\n",
            store.display()
        )
    );
    assert!(file_names(&store).is_empty());
    let again = run_on("init", &store, &[]);
    again.expect_code(0);
    assert!(again
        .stdout
        .contains("is an empty store already (loose layout); nothing was changed"));
    append(&store, &["hello"]);
    let full = run_on("init", &store, &[]);
    full.expect_code(0);
    assert!(
        full.stdout
            .contains("is a store already (loose layout, 1 commit); nothing was changed"),
        "{}",
        full.stdout
    );
    assert_eq!(file_names(&store), ["1.log".to_owned()].into());
}

#[test]
fn init_journal_makes_a_journal_store_that_later_writes_use() {
    let dir = TestDir::new();
    let store = dir.join("fast");
    run_on("init", &store, &["--layout", "journal"])
        .expect_code(0)
        .expect_stdout_contains(&["(journal layout: foldstore only"]);
    assert!(store.join("foldstore-journal.json").is_file());
    // A plain append (no --layout) finds the journal.
    append(&store, &["hello"]);
    assert!(!store.join("1.log").exists());
    run_on("init", &store, &["--layout", "journal"])
        .expect_code(0)
        .expect_stdout_contains(&["is a store already (journal layout, 1 commit)"]);
    run_on("init", &store, &["--layout", "loose"])
        .expect_code(1)
        .expect_stderr_contains(&[
            "the store has the journal layout",
            "foldstore copy --layout",
        ]);
}

#[test]
fn init_refuses_a_folder_of_other_files() {
    let dir = TestDir::new();
    let folder = dir.join("documents");
    fs::create_dir(&folder).expect("create a folder");
    fs::write(folder.join("notes.txt"), "text").expect("write a file");
    for layout in ["loose", "journal"] {
        run_on("init", &folder, &["--layout", layout])
            .expect_code(1)
            .expect_stderr_contains(&["holds 1 other entry but no store", "nothing was changed"]);
        assert_eq!(file_names(&folder), ["notes.txt".to_owned()].into());
    }
}

#[test]
fn foldstore_store_is_the_store_when_none_is_given_and_an_argument_wins() {
    let dir = TestDir::new();
    let store = dir.join("members");
    let other = dir.join("other");
    let env_store = store.to_str().expect("a UTF-8 path");
    run_with_env(["init"], &[("FOLDSTORE_STORE", env_store)]).expect_code(0);
    append(&store, &["hello"]);
    append(&other, &["bye"]);
    let log = run_with_env(["log", "--json"], &[("FOLDSTORE_STORE", env_store)]);
    log.expect_code(0);
    assert!(log.stdout.contains("\"hello\""), "{}", log.stdout);
    let explicit = run_with_env(
        ["events".as_ref(), other.as_os_str()],
        &[("FOLDSTORE_STORE", env_store)],
    );
    explicit.expect_code(0);
    assert!(explicit.stdout.contains("\"bye\"") && !explicit.stdout.contains("hello"));
    for verb in ["verify", "stats", "snapshots", "export", "tail"] {
        run_with_env([verb], &[("FOLDSTORE_STORE", env_store)]).expect_code(0);
    }
    // Without either, STORE is missing: a command-line mistake.
    run(["log"])
        .expect_code(2)
        .expect_stderr_contains(&["<STORE>"]);
    // Every verb that takes it says so in its help; the others say why not.
    for verb in [
        "init",
        "log",
        "events",
        "tail",
        "stats",
        "snapshots",
        "verify",
        "repair",
        "export",
        "demo",
    ] {
        run([verb, "--help"])
            .expect_code(0)
            .expect_stdout_contains(&["default: FOLDSTORE_STORE", "FOLDSTORE_STORE=]"]);
    }
    for verb in ["append", "show", "import"] {
        let help = run([verb, "--help"]);
        help.expect_stdout_contains(&["FOLDSTORE_STORE is not"]);
        assert!(!help.stdout.contains("FOLDSTORE_STORE=]"), "{verb}");
    }
}
