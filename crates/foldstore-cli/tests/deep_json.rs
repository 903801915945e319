//! `foldstore append` takes data and events nested as deeply as a commit can hold them, and
//! refuses deeper input clearly, writing nothing; what it appends reads back.

mod util;

use foldstore::{Commit, Store};
use foldstore_testkit::nested_text;
use util::{file_names, run, run_on, run_with_stdin, TestDir};

/// The deepest a commit's event data may be nested (the document, its `events` array and the
/// event take 3 levels).
const DATA_LIMIT: usize = Commit::MAX_NESTING - 3;

/// How deep the data of each event of the store is nested (walked without recursion).
fn data_depths(store: &std::path::Path) -> Vec<usize> {
    let mut depths = Vec::new();
    Store::open(store)
        .unwrap()
        .replay_event_stream(|event, _| {
            let mut levels = 0;
            let mut value = event.data().expect("data");
            loop {
                value = match value {
                    serde_json::Value::Array(items) => &items[0],
                    serde_json::Value::Object(members) => &members["k"],
                    _ => break,
                };
                levels += 1;
            }
            depths.push(levels);
        })
        .unwrap();
    depths
}

#[test]
fn append_takes_data_nested_to_the_limit_and_it_reads_back() {
    let dir = TestDir::new();
    let store = dir.join("s");
    let data = nested_text(DATA_LIMIT);
    let outcome = run(["append", store.to_str().unwrap(), "deep", &data]);
    outcome.expect_code(0);
    assert_eq!(outcome.stdout.trim(), "1");
    // Then events on standard input, as deep.
    let line = format!("{{\"name\":\"deep\",\"data\":{data}}}\n");
    let outcome = run_with_stdin(
        ["append", store.to_str().unwrap(), "--stdin"],
        &format!("{line}{line}"),
    );
    outcome.expect_code(0);
    assert_eq!(outcome.stdout.trim(), "2");
    assert_eq!(data_depths(&store), [DATA_LIMIT; 3]);
    run_on("verify", &store, &[]).expect_code(0);
}

#[test]
fn append_refuses_data_nested_deeper_and_writes_nothing() {
    let dir = TestDir::new();
    let missing = dir.join("new/store");
    let deepest = (DATA_LIMIT + 1).to_string();
    let limit = DATA_LIMIT.to_string();
    // Far deeper too (within the length an argument may have).
    for levels in [DATA_LIMIT + 1, 25_000] {
        let data = nested_text(levels);
        let outcome = run(["append", missing.to_str().unwrap(), "deep", &data]);
        outcome.expect_code(1).expect_stderr_contains(&[
            "DATA is nested too deep",
            &limit,
            "nothing was written",
        ]);
        if levels == DATA_LIMIT + 1 {
            outcome.expect_stderr_contains(&[&deepest]);
        }
        // The text is not repeated back.
        assert!(outcome.stderr.len() < 1_000, "{}", outcome.stderr.len());
        assert_eq!(outcome.stdout, "");
        assert!(
            !dir.join("new").exists(),
            "{levels} levels created the folder"
        );
    }

    // Into an existing store, on standard input: no commit appears.
    let store = dir.join("s");
    run(["append", store.to_str().unwrap(), "ok"]).expect_code(0);
    let before = file_names(&store);
    for levels in [DATA_LIMIT + 1, 100_000] {
        let input = format!(
            "{{\"name\":\"fine\"}}\n{{\"name\":\"deep\",\"data\":{}}}\n",
            nested_text(levels)
        );
        let outcome = run_with_stdin(["append", store.to_str().unwrap(), "--stdin"], &input);
        outcome.expect_code(1).expect_stderr_contains(&[
            "line 2",
            "nested too deep",
            "nothing was written",
        ]);
        assert!(outcome.stderr.len() < 1_000, "{}", outcome.stderr.len());
        assert_eq!(file_names(&store), before, "{levels} levels");
    }
    run_on("verify", &store, &[]).expect_code(0);
}
