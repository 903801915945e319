//! `foldstore export` and `foldstore import`: a round trip of commits as JSON lines, run as the
//! real binary.

mod util;

use std::fs;
use std::path::{Path, PathBuf};

use util::{
    commit_text, file_names, five_commit_store, run, run_on, run_with_stdin, six_commit_store,
    store_files, Outcome, TestDir,
};

/// A store the original package wrote (a fixture of the library's tests).
fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../foldstore/tests/fixtures")
        .join(name)
        .join("store")
}

/// `foldstore export STORE ARGS...`, which must succeed; its output.
#[track_caller]
fn export(store: &Path, args: &[&str]) -> String {
    let outcome = run_on("export", store, args);
    outcome.expect_code(0);
    assert_eq!(outcome.stderr, "");
    outcome.stdout
}

/// `foldstore import STORE ARGS...` reading `input` on standard input.
fn import(store: &Path, args: &[&str], input: &str) -> Outcome {
    run_with_stdin(
        ["import".as_ref(), store.as_os_str()]
            .into_iter()
            .chain(args.iter().map(|a| a.as_ref())),
        input,
    )
}

#[test]
fn export_prints_one_line_a_commit_with_its_text_as_stored() {
    let dir = TestDir::new();
    let store = six_commit_store(&dir);
    let lines = export(&store, &["--from", "5"]);
    // Commit 5 as `append` wrote it; commit 6 pretty-printed by hand, its members in their
    // order and its number spelled as written.
    let five = commit_text(&store, 5);
    assert_eq!(
        lines,
        format!(
            "{{\"commit\":5,{}\n{{\"commit\":6,\"events\":[{{\"data\":1.50,\"name\":\"pretty\"}}],\"headers\":{{}}}}\n",
            &five[1..]
        )
    );
    // --to cuts the range; a range past the end prints nothing.
    assert_eq!(
        export(&store, &["--from", "2", "--to", "2"])
            .lines()
            .count(),
        1
    );
    assert_eq!(export(&store, &["--from", "7"]), "");
    run_on("export", &store, &["--from", "3", "--to", "2"]).expect_code(2);
}

#[test]
fn export_then_import_then_export_gives_the_same_lines_on_stores_the_original_wrote() {
    for name in ["node-memberlist", "handwritten"] {
        let dir = TestDir::new();
        let exported = export(&fixture(name), &[]);
        let copy = dir.join("copy");
        let outcome = import(&copy, &[], &exported);
        outcome.expect_code(0);
        let n = exported.lines().count();
        assert!(n > 3, "{name}: {n} commits");
        assert_eq!(
            outcome.stdout,
            format!("imported {n} commits (commits 1-{n})\n"),
            "{name}"
        );
        assert_eq!(export(&copy, &[]), exported, "{name}");
        // The events, headers and commit boundaries are those of the original.
        assert_eq!(
            run_on("events", &copy, &[]).stdout,
            run_on("events", &fixture(name), &[]).stdout,
            "{name}"
        );
        run_on("verify", &copy, &[]).expect_code(0);
        // Into the journal layout too.
        let journal = dir.join("journal");
        import(&journal, &["--layout", "journal"], &exported).expect_code(0);
        assert!(journal.join("foldstore-journal.json").exists());
        assert_eq!(export(&journal, &[]), exported, "{name}");
    }
}

#[test]
fn importing_an_export_twice_writes_nothing_the_second_time() {
    let dir = TestDir::new();
    let exported = export(&six_commit_store(&dir), &[]);
    let file = dir.join("members.jsonl");
    fs::write(&file, &exported).expect("write the export");
    let copy = dir.join("copy");
    run(["import".as_ref(), copy.as_os_str(), file.as_os_str()]).expect_code(0);
    let before = store_files(&copy);
    let again = run(["import".as_ref(), copy.as_os_str(), file.as_os_str()]);
    again.expect_code(0);
    assert_eq!(
        again.stdout,
        "imported nothing; 6 commits in the store already\n"
    );
    assert_eq!(store_files(&copy), before);
}

#[test]
fn import_continues_a_store_holding_the_first_commits() {
    let dir = TestDir::new();
    let store = six_commit_store(&dir);
    let copy = dir.join("copy");
    import(&copy, &[], &export(&store, &["--to", "4"])).expect_code(0);
    // The whole export: 1-4 are there already, 5 and 6 are new.
    let outcome = import(&copy, &["-"], &export(&store, &[]));
    outcome.expect_code(0);
    assert_eq!(
        outcome.stdout,
        "imported 2 commits (commits 5-6); 4 commits in the store already\n"
    );
    assert_eq!(export(&copy, &[]), export(&store, &[]));
    // Only commit 6 left out: then a part starting at 6 follows on.
    let part = dir.join("part");
    import(&part, &[], &export(&store, &["--to", "5"])).expect_code(0);
    let rest = import(&part, &[], &export(&store, &["--from", "6"]));
    rest.expect_code(0);
    assert_eq!(rest.stdout, "imported 1 commit (commit 6)\n");
}

#[test]
fn import_refuses_a_store_holding_other_commits_and_writes_nothing() {
    let dir = TestDir::new();
    let exported = export(&six_commit_store(&dir), &[]);
    let other = dir.join("other");
    util::append(&other, &["hello"]);
    let before = util::folder_bytes(&other);
    import(&other, &[], &exported)
        .expect_code(1)
        .expect_stderr_contains(&[
            "the store holds another commit 1 (",
            "than standard input line 1",
            "nothing was written",
        ]);
    assert_eq!(util::folder_bytes(&other), before);
}

#[test]
fn import_refuses_input_that_is_not_export_lines_before_writing_anything() {
    let dir = TestDir::new();
    let store = five_commit_store(&dir);
    let exported = export(&store, &[]);
    let target = dir.join("target");
    let refused = |input: &str, parts: &[&str]| {
        import(&target, &[], input)
            .expect_code(1)
            .expect_stderr_contains(parts);
        assert!(!target.exists(), "the import wrote something for {input:?}");
    };
    // A good line, then a bad one: not even the first commit is written.
    let first = exported.lines().next().expect("a line");
    refused(
        &format!("{first}\n{{\"commit\":2,\"headers\":{{}}}}\n"),
        &["standard input line 2: the document has no `events` array"],
    );
    // Pretty-printed.
    let value: serde_json::Value = serde_json::from_str(first).expect("JSON");
    let pretty = serde_json::to_string_pretty(&value).expect("JSON");
    refused(
        &pretty,
        &[
            "line 1 holds part of a JSON value",
            "pretty-printed JSON is not accepted",
            "jq -c",
        ],
    );
    // The lines of `foldstore events`.
    refused(
        &run_on("events", &store, &[]).stdout,
        &["line 1 is an event, as 'foldstore events' prints them, not a commit"],
    );
    // Numbers out of order, a gap before the store's end, a huge number, no number.
    refused(
        &format!(
            "{first}\n{}\n",
            first.replace("\"commit\":1", "\"commit\":3")
        ),
        &["line 2 is commit 3, where commit 2 was expected"],
    );
    refused(
        &first.replace("\"commit\":1", "\"commit\":2"),
        &[
            "line 1 is commit 2, but the store ends at commit 0",
            "would leave a gap",
        ],
    );
    let last = first.replace("\"commit\":1", "\"commit\":18446744073709551615");
    refused(
        &format!("{last}\n{last}"),
        &["where no commit was expected"],
    );
    refused(
        &first.replace("\"commit\":1", "\"commit\":1e400"),
        &["its \"commit\" member, 1e400, is not a commit number"],
    );
    refused(
        &first.replace("\"commit\":1", "\"commit\":-1"),
        &["its \"commit\" member, -1, is not a commit number"],
    );
    refused(
        "{\"headers\":{},\"events\":[]}",
        &["line 1 has no \"commit\" member"],
    );
    // An event name the original package cannot dispatch.
    refused(
        "{\"commit\":1,\"headers\":{},\"events\":[{\"name\":\"\"}]}",
        &["the event name \"\" is empty"],
    );
    refused("\n\n", &["standard input holds no commits"]);
    // A missing file.
    let missing = dir.join("missing.jsonl");
    run(["import".as_ref(), target.as_os_str(), missing.as_os_str()])
        .expect_code(1)
        .expect_stderr_contains(&["cannot read", "missing.jsonl"]);
    assert!(!file_names(&dir.join("")).contains("target"));
}
