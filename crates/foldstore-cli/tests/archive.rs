//! `foldstore archive`: a dry run first, then the archiving; reading an archived store with and
//! without `--archive`; a loose folder refused without `--unreadable-by-original`; run as the
//! real binary.

mod util;

use std::fs;

use util::server::{get, numbers, Server};
use util::{events, many_commit_store, run, run_on, run_with_env, TestDir};

#[test]
fn a_dry_run_changes_nothing_and_apply_archives() {
    let dir = TestDir::new();
    let loose = many_commit_store(&dir, "members", 30);
    let store = dir.join("journal");
    run([
        "copy".as_ref(),
        loose.as_os_str(),
        store.as_os_str(),
        "--layout".as_ref(),
        "journal".as_ref(),
    ])
    .expect_code(0);
    let archive = dir.join("archive");
    let archive_arg = archive.to_str().unwrap();

    run_on("archive", &store, &["--to", archive_arg, "--up-to", "20"])
        .expect_code(0)
        .expect_stdout_contains(&[
            "would archive commits 1 to 20",
            "nothing was written: run again with --apply",
        ]);
    assert!(!archive.exists());
    assert!(!store.join("foldstore-archived.json").exists());

    let outcome = run_on(
        "archive",
        &store,
        &["--to", archive_arg, "--up-to", "20", "--apply", "--json"],
    );
    outcome.expect_code(0);
    let report = &outcome.json_lines()[0];
    assert_eq!(report["first"], 1);
    assert_eq!(report["last"], 20);
    assert_eq!(report["logStart"], 21);
    assert_eq!(report["dryRun"], false);
    assert!(store.join("foldstore-archived.json").exists());

    // Without the archive: the newer commits read; older ones are named as archived.
    assert_eq!(events(&store, &["--from", "21"]).len(), 10);
    run_on("log", &store, &["--from", "1"])
        .expect_code(1)
        .expect_stderr_contains(&["commit 1 is archived", archive_arg, "--archive"]);
    run_on("verify", &store, &[])
        .expect_code(0)
        .expect_stdout_contains(&["starts at commit 21"]);
    let tail = run_on("tail", &store, &["-n", "15", "--json"]);
    tail.expect_code(0);
    assert_eq!(tail.json_lines().len(), 10, "the live commits");
    run_on("log", &store, &[])
        .expect_code(0)
        .expect_stderr_contains(&["commits 1 to 20 are archived", "--archive"]);
    // With it (the flag, or the environment): everything, in order.
    let all = events(&store, &["--archive", archive_arg]);
    assert_eq!(all.len(), 30);
    assert_eq!(all[0], (1, "e1".to_owned()));
    let outcome = run_with_env(
        ["events".as_ref(), store.as_os_str()],
        &[("FOLDSTORE_ARCHIVE", archive_arg)],
    );
    outcome.expect_code(0);
    assert_eq!(outcome.json_lines().len(), 30);

    // Nothing more to do.
    run_on(
        "archive",
        &store,
        &["--to", archive_arg, "--up-to", "20", "--apply"],
    )
    .expect_code(0)
    .expect_stdout_contains(&["nothing to archive"]);
}

/// Archives the loose folder `store` up to commit `up_to` into `archive`, which must succeed.
fn archive_loose(store: &std::path::Path, archive: &str, up_to: &str) -> util::Outcome {
    let outcome = run_on(
        "archive",
        store,
        &[
            "--to",
            archive,
            "--up-to",
            up_to,
            "--apply",
            "--unreadable-by-original",
        ],
    );
    outcome.expect_code(0);
    outcome
}

#[test]
fn a_loose_folder_needs_the_flag_that_says_the_original_cannot_read_it_afterwards() {
    let dir = TestDir::new();
    let store = many_commit_store(&dir, "members", 12);
    let archive = dir.join("archive");
    let archive_arg = archive.to_str().unwrap();
    run_on(
        "archive",
        &store,
        &["--to", archive_arg, "--up-to", "5", "--apply"],
    )
    .expect_code(1)
    .expect_stderr_contains(&["--unreadable-by-original", "journal"]);
    assert!(store.join("1.log").exists());
    archive_loose(&store, archive_arg, "5")
        .expect_stdout_contains(&["archived commits 1 to 5", "starts at commit 6"]);
    assert!(!store.join("5.log").exists());
    assert!(store.join("6.log").exists());
    let names: Vec<String> = fs::read_dir(&archive)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().any(|n| n.ends_with(".jsonl")), "{names:?}");
    // The point to archive up to is required, and one only.
    run_on("archive", &store, &["--to", archive_arg]).expect_code(2);
}

#[test]
fn serve_reads_an_archived_store_from_its_start_or_through_its_archive() {
    let dir = TestDir::new();
    let store = many_commit_store(&dir, "members", 12);
    let archive = dir.join("archive");
    let archive_arg = archive.to_str().unwrap();
    archive_loose(&store, archive_arg, "8");
    let server = Server::start(&store, &[], None);
    let (status, page) = get(&server, "/api/commits");
    assert_eq!(status, 200, "{page}");
    assert_eq!(numbers(&page), [9, 10, 11, 12]);
    let (status, body) = get(&server, "/api/commits?from=1");
    assert_ne!(status, 200, "{body}");
    assert!(body.to_string().contains("archived"), "{body}");
    // Events and the schema from the log's start too, which they say.
    let events = |server: &Server| {
        let (status, page) = get(server, "/api/events?name=e2&name=e10");
        assert_eq!(status, 200, "{page}");
        page["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["commit"].as_u64().unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(events(&server), [10]);
    let (status, schema) = get(&server, "/api/schema");
    assert_eq!(status, 200, "{schema}");
    assert_eq!(
        (schema["first"].as_u64(), schema["commits"].as_u64()),
        (Some(9), Some(4))
    );
    drop(server);
    let server = Server::start(&store, &["--archive", archive_arg], None);
    let (status, page) = get(&server, "/api/commits");
    assert_eq!(status, 200, "{page}");
    assert_eq!(numbers(&page), (1..=12).collect::<Vec<_>>());
    assert_eq!(events(&server), [2, 10]);
    let (status, schema) = get(&server, "/api/schema");
    assert_eq!(status, 200, "{schema}");
    assert_eq!(
        (schema["first"].as_u64(), schema["commits"].as_u64()),
        (Some(1), Some(12))
    );
    drop(server);
    // The command says where it read from.
    let without = run_on("schema", &store, &["--json"]);
    without.expect_code(0);
    assert!(
        without.stderr.contains("commits 1 to 8 are archived"),
        "{}",
        without.stderr
    );
    let with = run_on("schema", &store, &["--json", "--archive", archive_arg]);
    with.expect_code(0);
    assert!(with.stdout.contains("\"first\":1"), "{}", with.stdout);
}
