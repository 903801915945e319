//! `--where` conditions on `foldstore events` and `foldstore log`, run as the real binary.

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
