//! `--where` conditions, `--format` templates and `--csv` on `foldstore events` and `foldstore
//! log`, run as the real binary.

mod util;

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use util::{logged, run_on, write_commit, TestDir};

/// Payments and moves, with amounts of several kinds (integers, fractions, a string, one
/// missing) and nested addresses.
fn payments_store(dir: &TestDir) -> PathBuf {
    let store = dir.join("payments");
    let commits = [
        json!([{"name": "paid", "data": {"amount": 5, "by": "arjan"}}]),
        json!([{"name": "paid", "data": {"amount": 12.5, "by": "marit"}},
               {"name": "moved", "data": {"address": {"city": "Oslo", "street": "Storgata 1"}}}]),
        json!([{"name": "moved", "data": {"address": {"city": "Bergen"}}}]),
        json!([{"name": "paid", "data": {"amount": "10", "by": "arjan"}}]),
        json!([{"name": "paid", "data": {"amount": 10, "by": "per"}, "tags": ["vip"]}]),
        json!([{"name": "paid", "data": {"by": "nobody"}}]),
        json!([]),
    ];
    for (index, events) in commits.into_iter().enumerate() {
        let time = format!("2026-11-27T15:0{index}:00.000Z");
        write_commit(&store, index as u64 + 1, Some(&time), events);
    }
    store
}

/// `(commit, name)` of each event `foldstore events ARGS` prints.
fn events(store: &Path, args: &[&str]) -> Vec<(u64, String)> {
    let outcome = run_on("events", store, args);
    outcome.expect_code(0);
    outcome
        .json_lines()
        .iter()
        .map(|line| {
            (
                line["commit"].as_u64().expect("a commit"),
                line["name"].as_str().expect("a name").to_owned(),
            )
        })
        .collect()
}

fn paid(commits: &[u64]) -> Vec<(u64, String)> {
    commits.iter().map(|&c| (c, "paid".to_owned())).collect()
}

#[test]
fn where_compares_numbers_strings_and_nested_members() {
    let dir = TestDir::new();
    let store = payments_store(&dir);
    // Numbers by value; the string "10" is not a number to order, and a missing amount never
    // matches.
    assert_eq!(events(&store, &["--where", "data.amount>5"]), paid(&[2, 5]));
    assert_eq!(
        events(&store, &["--where", "data.amount>=10"]),
        paid(&[2, 5])
    );
    assert_eq!(events(&store, &["--where", "data.amount<10"]), paid(&[1]));
    // = takes 10 as the number 10 and the string "10" alike; "10" in quotes only the string
    // (and numbers never by text).
    assert_eq!(
        events(&store, &["--where", "data.amount=10"]),
        paid(&[4, 5])
    );
    // 10.0 is the number 10, but not the text "10".
    assert_eq!(events(&store, &["--where", "data.amount=10.0"]), paid(&[5]));
    assert_eq!(
        events(&store, &["--where", r#"data.amount="10""#]),
        paid(&[4])
    );
    assert_eq!(
        events(&store, &["--where", "data.amount!=10"]),
        paid(&[1, 2])
    );
    assert_eq!(
        events(&store, &["--where", "data.address.city=Oslo"]),
        [(2, "moved".to_owned())]
    );
    assert_eq!(
        events(&store, &["--where", "data.address.street ~ gata"]),
        [(2, "moved".to_owned())]
    );
    assert_eq!(events(&store, &["--where", "tags~vip"]), paid(&[5]));
    assert_eq!(
        events(&store, &["--where", "headers.time>=2026-11-27T15:05"]),
        paid(&[6])
    );
    assert_eq!(
        events(&store, &["--where", "commit<=2", "--where", "name=paid"]),
        paid(&[1, 2])
    );
    // Repeated: all must hold, of one event.
    assert_eq!(
        events(
            &store,
            &["--where", "data.by=arjan", "--where", "data.amount<7"]
        ),
        paid(&[1])
    );
    // With the index (--name) and the other filters, and backwards.
    assert_eq!(
        events(
            &store,
            &["--name", "paid", "--where", "data.by=arjan", "--reverse"]
        ),
        paid(&[4, 1])
    );
    assert_eq!(
        events(&store, &["--where", "data.by~r", "-n", "2", "--from", "2"]),
        paid(&[2, 4])
    );
}

#[test]
fn log_lists_the_commits_holding_an_event_that_meets_every_condition() {
    let dir = TestDir::new();
    let store = payments_store(&dir);
    assert_eq!(logged(&store, &["--where", "data.amount>=10"]), [2, 5]);
    assert_eq!(logged(&store, &["--where", "data.address.city~e"]), [3]);
    // Both conditions by one event: no event of commit 2 is both paid and in Oslo.
    assert_eq!(
        logged(
            &store,
            &["--where", "name=paid", "--where", "data.address.city=Oslo"]
        ),
        Vec::<u64>::new()
    );
    assert_eq!(
        logged(&store, &["--where", "data.by=arjan", "--reverse"]),
        [4, 1]
    );
    let table = run_on("log", &store, &["--where", "data.by=per"]);
    table.expect_code(0);
    assert_eq!(table.stdout.lines().count(), 2, "{}", table.stdout);
}

#[test]
fn a_bad_condition_is_a_command_line_mistake() {
    let dir = TestDir::new();
    let store = payments_store(&dir);
    for verb in ["events", "log"] {
        for (bad, words) in [
            ("data.amount", "has no operator"),
            ("=5", "has no path"),
            ("data..amount>1", "an empty part"),
            ("data.amount!5", "'!' without '='"),
        ] {
            let outcome = run_on(verb, &store, &["--where", bad]);
            outcome
                .expect_code(2)
                .expect_stderr_contains(&[words, "PATH OP VALUE"]);
            assert_eq!(outcome.stdout, "");
        }
    }
    // Hostile values are text, not a crash: JSON too deep to read, huge numbers.
    let deep = format!("data.amount={}", "[".repeat(100_000));
    assert_eq!(events(&store, &["--where", &deep]), []);
    // Too large for a number: the text "1e400", which only strings are ordered against.
    assert_eq!(
        events(&store, &["--where", "data.amount<1e400"]),
        paid(&[4])
    );
    let huge: Value = json!(u64::MAX);
    assert_eq!(
        events(&store, &["--where", &format!("data.amount<{huge}")]),
        paid(&[1, 2, 5])
    );
}

/// A store whose names, headers and data hold what CSV must quote and control characters
/// people must not see raw.
fn awkward_store(dir: &TestDir) -> PathBuf {
    let store = dir.join("awkward");
    write_commit(
        &store,
        1,
        Some("2026-11-27T15:00:00.000Z"),
        json!([{"name": "paid", "data": {"amount": 5, "note": "a \"quoted\", text"}},
               {"name": "tab\there\u{1b}[2J", "data": "line\nbreak"}]),
    );
    write_commit(&store, 2, None, json!([{"name": "moved"}]));
    store
}

/// Text that reorders what follows it on a terminal (U+202E) is escaped in data, in every
/// format for people, as control characters are.
#[test]
fn characters_that_reorder_text_are_escaped_in_tsv_csv_and_templates() {
    let dir = TestDir::new();
    let store = dir.join("bidi");
    write_commit(
        &store,
        1,
        Some("2026-11-27T15:00:00.000Z"),
        json!([{"name": "paid", "data": {"note": "abc\u{202e}fed"}}]),
    );
    for format in [
        &["--tsv"][..],
        &["--csv"],
        &["--format", "{data}|{data.note}"],
    ] {
        let outcome = run_on("events", &store, format);
        outcome.expect_code(0);
        assert!(
            !outcome.stdout.contains('\u{202e}'),
            "{format:?}: {}",
            outcome.stdout
        );
        assert!(
            outcome.stdout.contains("\\u202e") || outcome.stdout.contains("\\u{202e}"),
            "{format:?}: {}",
            outcome.stdout
        );
    }
}

#[test]
fn format_fills_templates_and_leaves_missing_fields_empty() {
    let dir = TestDir::new();
    let store = awkward_store(&dir);
    let outcome = run_on(
        "events",
        &store,
        &[
            "--format",
            r"{commit}\t{time}\t{name}\t{data.amount}|{data}|{{x}}",
        ],
    );
    outcome.expect_code(0);
    assert_eq!(
        outcome.stdout,
        "1\t2026-11-27T15:00:00.000Z\tpaid\t5|{\"amount\":5,\"note\":\"a \\\"quoted\\\", text\"}|{x}\n\
         1\t2026-11-27T15:00:00.000Z\ttab\\there\\u{1b}[2J\t|line\\nbreak|{x}\n\
         2\t\tmoved\t||{x}\n"
    );
    // With --where and the other filters.
    let outcome = run_on(
        "events",
        &store,
        &["--format", "{name}", "--where", "data.amount=5"],
    );
    assert_eq!(outcome.stdout, "paid\n");
    let log = run_on(
        "log",
        &store,
        &[
            "--format",
            r"{commit} {bytes} {events} [{time}] {headers.time}{nothing}",
        ],
    );
    log.expect_code(0);
    let bytes = |n: u64| {
        std::fs::metadata(store.join(format!("{n}.log")))
            .expect("a commit")
            .len()
    };
    assert_eq!(
        log.stdout,
        format!(
            "1 {} paid,tab\\there\\u{{1b}}[2J [2026-11-27T15:00:00.000Z] 2026-11-27T15:00:00.000Z\n\
             2 {} moved [] \n",
            bytes(1),
            bytes(2)
        )
    );
    // The headers whole, as JSON; none for a commit without any.
    for verb in ["events", "log"] {
        let outcome = run_on(verb, &store, &["--format", "{headers}", "--from", "2"]);
        outcome.expect_code(0);
        assert_eq!(outcome.stdout, "{}\n", "{verb}");
    }
    let outcome = run_on("log", &store, &["--format", "{headers}", "--to", "1"]);
    assert_eq!(outcome.stdout, "{\"time\":\"2026-11-27T15:00:00.000Z\"}\n");
    for (verb, bad, words) in [
        ("events", "{commit", "not closed"),
        ("log", "commit}", "no '{' opened"),
        ("events", "{}", "empty field"),
        ("log", "{headers..x}", "empty part"),
    ] {
        let outcome = run_on(verb, &store, &["--format", bad]);
        outcome.expect_code(2).expect_stderr_contains(&[words]);
        assert_eq!(outcome.stdout, "");
    }
    run_on("events", &store, &["--format", "{name}", "--tsv"]).expect_code(2);
    run_on("log", &store, &["--format", "{commit}", "--json"]).expect_code(2);
}

/// Reads CSV as RFC 4180 says: fields in quotes may hold commas, doubled quotes and line
/// breaks; records end in CRLF.
fn read_csv(text: &str) -> Vec<Vec<String>> {
    assert!(text.ends_with("\r\n"), "{text:?}");
    let mut records = vec![vec![String::new()]];
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let record = records.last_mut().expect("a record");
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                record.last_mut().expect("a field").push('"');
            }
            '"' => quoted = !quoted,
            ',' if !quoted => record.push(String::new()),
            '\r' if !quoted => {
                assert_eq!(chars.next(), Some('\n'), "CR without LF in {text:?}");
                records.push(vec![String::new()]);
            }
            c => record.last_mut().expect("a field").push(c),
        }
    }
    records.pop();
    records
}

#[test]
fn csv_quotes_by_rfc_4180_and_escapes_control_characters() {
    let dir = TestDir::new();
    let store = awkward_store(&dir);
    let events = run_on("events", &store, &["--csv"]);
    events.expect_code(0);
    assert_eq!(
        read_csv(&events.stdout),
        [
            vec!["commit", "time", "name", "data"],
            vec![
                "1",
                "2026-11-27T15:00:00.000Z",
                "paid",
                r#"{"amount":5,"note":"a \"quoted\", text"}"#
            ],
            vec![
                "1",
                "2026-11-27T15:00:00.000Z",
                r"tab\there\u{1b}[2J",
                r#""line\nbreak""#
            ],
            vec!["2", "", "moved", ""],
        ]
    );
    // Each data field is the event's data as JSON.
    let data: Value = serde_json::from_str(&read_csv(&events.stdout)[1][3]).expect("JSON");
    assert_eq!(data["note"], "a \"quoted\", text");
    assert!(!events.stdout.contains('\u{1b}'));
    let log = run_on("log", &store, &["--csv", "--where", "data.amount>1"]);
    log.expect_code(0);
    let records = read_csv(&log.stdout);
    assert_eq!(records.len(), 2, "{}", log.stdout);
    assert_eq!(records[0], ["commit", "time", "bytes", "events"]);
    assert_eq!(records[1][3], r"paid,tab\there\u{1b}[2J");
    assert_eq!(records[1][0], "1");
    run_on("log", &store, &["--csv", "--tsv"]).expect_code(2);
    run_on("events", &store, &["--csv", "--pretty"]).expect_code(2);
}
