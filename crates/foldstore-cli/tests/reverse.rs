//! `--reverse` on `log` and `events`, `show --raw` and `log`/`events --tsv`, run as the real
//! binary.

mod util;

use std::fs;

use serde_json::json;

use util::{
    append, commit_text, events, five_commit_store, logged, many_commit_store, run_on,
    write_commit, TestDir,
};

#[test]
fn log_reverse_lists_newest_first_across_stretches() {
    let dir = TestDir::new();
    // More commits than one stretch read backwards (256).
    let store = many_commit_store(&dir, "s", 600);
    let all: Vec<u64> = (1..=600).rev().collect();
    assert_eq!(logged(&store, &["--reverse"]), all);
    assert_eq!(logged(&store, &["-r", "-n", "3"]), [600, 599, 598]);
    assert_eq!(
        logged(&store, &["-r", "--from", "250", "--to", "260"]),
        (250..=260).rev().collect::<Vec<u64>>()
    );
    assert_eq!(
        logged(
            &store,
            &["-r", "--from", "255", "--to", "258", "--name", "e256"]
        ),
        [256]
    );
    // The table too, with its heading first.
    let table = run_on("log", &store, &["-r", "-n", "2"]);
    table.expect_code(0);
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert_eq!(lines.len(), 3);
    assert!(lines[0].starts_with("COMMIT"));
    assert!(lines[1].trim_start().starts_with("600 ") && lines[2].trim_start().starts_with("599 "));
}

#[test]
fn events_reverse_prints_the_lines_in_reverse_order() {
    let dir = TestDir::new();
    let store = five_commit_store(&dir);
    let forward = events(&store, &[]);
    let mut backward = forward.clone();
    backward.reverse();
    assert_eq!(events(&store, &["--reverse"]), backward);
    assert_eq!(events(&store, &["-r", "-n", "2"]), backward[..2].to_vec());
    assert_eq!(
        events(&store, &["-r", "--name", "a", "--name", "b"]),
        [(4, "b".to_owned()), (4, "a".to_owned())]
    );
    // Through the index (--tag).
    let bank = dir.join("bank");
    for (name, tag) in [
        ("opened", "account:7"),
        ("deposited", "account:7"),
        ("other", "x"),
        ("closed", "account:7"),
    ] {
        append(&bank, &[name, "--tag", tag]);
    }
    assert_eq!(
        events(&bank, &["--tag", "account:7", "-r", "-n", "2"]),
        [(4, "closed".to_owned()), (2, "deposited".to_owned())]
    );
    run_on("events", &store, &["-r", "-f"]).expect_code(2);
}

#[test]
fn show_raw_prints_the_stored_bytes_even_of_a_damaged_commit() {
    let dir = TestDir::new();
    let store = dir.join("s");
    fs::create_dir_all(&store).expect("create");
    fs::write(
        store.join("1.log"),
        "\n{ \"events\" : [ {\"name\":\"x\",\"data\":1.50} ] }\n",
    )
    .expect("write");
    write_commit(
        &store,
        2,
        Some("2026-11-27T15:03:30.380Z"),
        json!([{"name": "y"}]),
    );
    fs::write(store.join("3.log"), b"{\"headers\":{},\"events\":[\x1b[2J").expect("write");
    let shown = run_on("show", &store, &["1", "--raw"]);
    shown.expect_code(0);
    assert_eq!(shown.stdout, commit_text(&store, 1));
    assert_eq!(
        run_on("show", &store, &["-2", "--raw"]).stdout,
        commit_text(&store, 2)
    );
    let damaged = run_on("show", &store, &["last", "--raw"]);
    damaged.expect_code(0);
    assert_eq!(
        damaged.stdout.as_bytes(),
        fs::read(store.join("3.log")).expect("read")
    );
    // Without --raw the damage is reported.
    run_on("show", &store, &["3"]).expect_code(1);
    run_on("show", &store, &["4", "--raw"])
        .expect_code(1)
        .expect_stderr_contains(&["commit 4 does not exist"]);
    fs::remove_file(store.join("2.log")).expect("remove");
    run_on("show", &store, &["2", "--raw"])
        .expect_code(1)
        .expect_stderr_contains(&["2.log"]);
    run_on("show", &store, &["1", "--raw", "--json"]).expect_code(2);
}

#[test]
fn tsv_prints_one_escaped_line_a_commit_or_event() {
    let dir = TestDir::new();
    let store = dir.join("s");
    write_commit(
        &store,
        1,
        Some("2026-11-27T15:03:30.380Z"),
        json!([{"name": "tab\there", "data": {"text": "a\tb\nc"}}, {"name": "plain"}]),
    );
    write_commit(&store, 2, None, json!([]));
    let size = fs::metadata(store.join("1.log")).expect("stat").len();
    let log = run_on("log", &store, &["--tsv"]);
    log.expect_code(0);
    assert_eq!(
        log.stdout,
        format!(
            "commit\ttime\tbytes\tevents\n1\t2026-11-27T15:03:30.380Z\t{size}\ttab\\there,plain\n2\t\t{}\t\n",
            fs::metadata(store.join("2.log")).expect("stat").len()
        )
    );
    let events = run_on("events", &store, &["--tsv"]);
    events.expect_code(0);
    assert_eq!(
        events.stdout,
        "commit\ttime\tname\tdata\n\
         1\t2026-11-27T15:03:30.380Z\ttab\\there\t{\"text\":\"a\\tb\\nc\"}\n\
         1\t2026-11-27T15:03:30.380Z\tplain\t\n"
    );
    // Every line has the heading's four fields.
    for line in events.stdout.lines().chain(log.stdout.lines()) {
        assert_eq!(line.split('\t').count(), 4, "{line:?}");
    }
    run_on("events", &store, &["--tsv", "--pretty"]).expect_code(2);
    run_on("log", &store, &["--tsv", "--json"]).expect_code(2);
}
