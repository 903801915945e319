//! Consistency boundaries from the command line: tagged appends, `events --tag/--name/--after`
//! through the store's index, conditional appends (`--if-none-after`) and idempotent ones
//! (`--idempotency-key`).

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::util::{append, commit_json, run_on, run_with_stdin, TestDir};

/// A bank in `layout`: 1 opened 7, 2 opened 8, 3 deposited 7, 4 Withdrawn 7 (capitalized),
/// 5 deposited 8, 6 an event tagged with both accounts.
fn bank(dir: &TestDir, layout: &str) -> PathBuf {
    let store = dir.join(layout);
    let commits: [&[&str]; 6] = [
        &["opened", "--tag", "account:7", "--layout", layout],
        &["opened", "--tag", "account:8"],
        &["deposited", "5", "--tag", "account:7"],
        &["Withdrawn", "2", "--tag", "account:7"],
        &["deposited", "1", "--tag", "account:8"],
        &[
            "transferred",
            "1",
            "--tag",
            "account:7",
            "--tag",
            "account:8",
        ],
    ];
    for (k, args) in commits.iter().enumerate() {
        assert_eq!(append(&store, args), k as u64 + 1);
    }
    store
}

/// The (commit, name) of each line `events STORE ARGS` prints.
#[track_caller]
fn events(store: &Path, args: &[&str]) -> Vec<(u64, String)> {
    let outcome = run_on("events", store, args);
    outcome.expect_code(0);
    assert_eq!(outcome.stderr, "");
    outcome
        .json_lines()
        .iter()
        .map(|l| {
            let commit = l["commit"].as_u64().expect("a commit number");
            (commit, l["name"].as_str().expect("a name").to_owned())
        })
        .collect()
}

fn pairs(expected: &[(u64, &str)]) -> Vec<(u64, String)> {
    expected.iter().map(|&(n, s)| (n, s.to_owned())).collect()
}

#[test]
fn append_tag_writes_the_tags_member_the_original_ignores() {
    let dir = TestDir::new();
    let store = dir.join("s");
    append(
        &store,
        &[
            "opened",
            r#"{"owner": "ann"}"#,
            "--tag",
            "account:7",
            "--tag",
            "eur",
        ],
    );
    assert_eq!(
        commit_json(&store, 1)["events"][0],
        json!({"name": "opened", "data": {"owner": "ann"}, "tags": ["account:7", "eur"]})
    );
    // Without --tag no `tags` member is written.
    append(&store, &["plain"]);
    assert!(commit_json(&store, 2)["events"][0].get("tags").is_none());
    // With --stdin every event is tagged, after any tags of its own.
    let outcome = run_with_stdin(
        [
            "append".as_ref(),
            store.as_os_str(),
            "--stdin".as_ref(),
            "--tag".as_ref(),
            "t".as_ref(),
        ],
        "{\"name\": \"a\", \"tags\": [\"own\"]}\n{\"name\": \"b\"}\n",
    );
    outcome.expect_code(0);
    let events = &commit_json(&store, 3)["events"];
    assert_eq!(events[0]["tags"], json!(["own", "t"]));
    assert_eq!(events[1]["tags"], json!(["t"]));
}

#[test]
fn events_select_by_tag_and_name_on_both_layouts() {
    let dir = TestDir::new();
    for layout in ["loose", "journal"] {
        let store = bank(&dir, layout);
        // Tags: all must match.
        assert_eq!(
            events(&store, &["--tag", "account:7"]),
            pairs(&[
                (1, "opened"),
                (3, "deposited"),
                (4, "Withdrawn"),
                (6, "transferred")
            ]),
            "{layout}"
        );
        assert_eq!(
            events(&store, &["--tag", "account:7", "--tag", "account:8"]),
            pairs(&[(6, "transferred")])
        );
        // Names: any may match, by the original's first-letter rule.
        assert_eq!(
            events(
                &store,
                &[
                    "--tag",
                    "account:7",
                    "--name",
                    "deposited",
                    "--name",
                    "withdrawn"
                ]
            ),
            pairs(&[(3, "deposited"), (4, "Withdrawn")])
        );
        assert_eq!(
            events(&store, &["--name", "Deposited"]),
            pairs(&[(3, "deposited"), (5, "deposited")])
        );
        assert_eq!(events(&store, &["--tag", "account:9"]), []);
        // Positions: --after N (commits after N), --from and --to.
        assert_eq!(
            events(&store, &["--tag", "account:8", "--after", "2"]),
            pairs(&[(5, "deposited"), (6, "transferred")])
        );
        assert_eq!(events(&store, &["--tag", "account:8", "--after", "6"]), []);
        assert_eq!(
            events(&store, &["--tag", "account:7", "--from", "3", "--to", "4"]),
            pairs(&[(3, "deposited"), (4, "Withdrawn")])
        );
        // Without a query, --after slices the whole log.
        assert_eq!(
            events(&store, &["--after", "5"]),
            pairs(&[(6, "transferred")])
        );
    }
}

#[test]
fn events_by_tag_print_the_same_lines_as_a_full_read() {
    let dir = TestDir::new();
    let store = bank(&dir, "loose");
    let all = run_on("events", &store, &[]).json_lines();
    let outcome = run_on("events", &store, &["--tag", "account:8"]);
    outcome.expect_code(0);
    let tagged: Vec<Value> = all
        .into_iter()
        .filter(|l| {
            l["tags"]
                .as_array()
                .is_some_and(|t| t.contains(&json!("account:8")))
        })
        .collect();
    assert_eq!(outcome.json_lines(), tagged);
    let keys: Vec<&str> = tagged[1]
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["commit", "headers", "name", "data", "tags"]);
    // A time window applies to the indexed read too.
    assert_eq!(
        events(&store, &["--tag", "account:8", "--until", "2000-01-01"]),
        []
    );
    assert_eq!(
        events(&store, &["--tag", "account:8", "--since", "2000-01-01"]).len(),
        3
    );
}

#[test]
fn events_after_beyond_the_log_and_with_from_are_refused() {
    let dir = TestDir::new();
    let store = bank(&dir, "loose");
    run_on("events", &store, &["--tag", "account:7", "--after", "9"])
        .expect_code(1)
        .expect_stderr_contains(&["the log ends at commit 6"]);
    run_on("events", &store, &["--after", "1", "--from", "3"])
        .expect_code(2)
        .expect_stderr_contains(&["--after", "--from"]);
}

#[test]
fn a_conditional_append_writes_only_when_nothing_matching_came_after() {
    let dir = TestDir::new();
    let store = bank(&dir, "journal");
    // A withdrawal from account 8, decided on what was read up to commit `after`.
    let withdraw = |after: &str| {
        let args = [
            "withdrawn",
            "1",
            "--tag",
            "account:8",
            "--if-none-after",
            after,
        ];
        run_on("append", &store, &args)
    };
    // Decided at commit 6 (account 8's last): account 7's commit 7 does not get in the way.
    append(&store, &["deposited", "1", "--tag", "account:7"]);
    let outcome = withdraw("6");
    outcome.expect_code(0);
    assert_eq!(outcome.stdout, "8\n");
    // The same decision again: commit 8 conflicts; nothing is written, status 3.
    let outcome = withdraw("6");
    outcome.expect_code(3).expect_stderr_contains(&[
        "the condition failed: commit 8 holds events tagged account:8 committed after commit 6",
        "nothing was written",
    ]);
    assert_eq!(outcome.stdout, "");
    // Every conflicting commit is named.
    withdraw("2")
        .expect_code(3)
        .expect_stderr_contains(&["commits 5, 6, 8 hold events tagged account:8"]);
    assert_eq!(events(&store, &["--after", "8"]), []);
}

#[test]
fn a_condition_may_name_its_own_query() {
    let dir = TestDir::new();
    let store = bank(&dir, "loose");
    // Only withdrawals from account 7 matter: the deposit at 3 and transfer at 6 do not.
    let only_withdrawals = [
        "withdrawn",
        "1",
        "--tag",
        "account:7",
        "--query-tag",
        "account:7",
        "--query-name",
        "withdrawn",
        "--if-none-after",
    ];
    run_on("append", &store, &[&only_withdrawals[..], &["3"]].concat())
        .expect_code(3)
        .expect_stderr_contains(&["commit 4 holds events named withdrawn, tagged account:7"]);
    assert_eq!(append(&store, &[&only_withdrawals[..], &["4"]].concat()), 7);
}

#[test]
fn if_none_after_zero_guards_uniqueness() {
    let dir = TestDir::new();
    let store = dir.join("s");
    let register = [
        "registered",
        "--tag",
        "email:ann@example.com",
        "--if-none-after",
        "0",
    ];
    assert_eq!(append(&store, &register), 1);
    run_on("append", &store, &register)
        .expect_code(3)
        .expect_stderr_contains(&[
            "commit 1 holds events tagged email:ann@example.com where none may be",
        ]);
    assert_eq!(
        append(
            &store,
            &[
                "registered",
                "--tag",
                "email:bo@example.com",
                "--if-none-after",
                "0"
            ]
        ),
        2
    );
}

#[test]
fn condition_mistakes_are_refused_before_writing() {
    let dir = TestDir::new();
    let store = bank(&dir, "loose");
    // No query at all.
    run_on("append", &store, &["x", "--if-none-after", "1"])
        .expect_code(1)
        .expect_stderr_contains(&["--if-none-after needs a query", "nothing was written"]);
    // A position no read can have returned.
    run_on(
        "append",
        &store,
        &["x", "--tag", "t", "--if-none-after", "7"],
    )
    .expect_code(1)
    .expect_stderr_contains(&["the log ends at commit 6", "nothing was written"]);
    // A query without a condition; a condition and a key together.
    run_on("append", &store, &["x", "--query-tag", "t"]).expect_code(2);
    run_on(
        "append",
        &store,
        &[
            "x",
            "--if-none-after",
            "1",
            "--tag",
            "t",
            "--idempotency-key",
            "k",
        ],
    )
    .expect_code(2);
    assert_eq!(events(&store, &["--after", "6"]), []);
}

#[test]
fn an_idempotency_key_writes_once_and_names_the_commit_that_holds_it() {
    let dir = TestDir::new();
    let store = dir.join("s");
    let pay = [
        "invoicePaid",
        "100",
        "--tag",
        "invoice:17",
        "--idempotency-key",
        "req-8f2c",
    ];
    assert_eq!(append(&store, &pay), 1);
    append(&store, &["other"]);
    let again = run_on("append", &store, &pay);
    again
        .expect_code(0)
        .expect_stderr_contains(&["\"req-8f2c\" is in commit 1 already", "nothing was written"]);
    assert_eq!(again.stdout, "1\n");
    assert_eq!(
        commit_json(&store, 1)["events"][0]["tags"],
        json!(["invoice:17", "idempotency:req-8f2c"])
    );
    assert_eq!(
        append(&store, &["invoicePaid", "--idempotency-key", "req-9"]),
        3
    );
    assert_eq!(events(&store, &["--after", "3"]), []);
}
