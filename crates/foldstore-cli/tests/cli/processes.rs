//! Several `append` processes at once on one store.

use std::collections::BTreeSet;
use std::thread;

use serde_json::{json, Value};

use crate::util::{append, commit_json, commit_names, file_names, run, TestDir};

#[test]
fn concurrent_append_processes_fill_every_number_exactly_once() {
    const WRITERS: u64 = 8;
    const EACH: u64 = 25;
    let dir = TestDir::new();
    let store = dir.join("shared");

    // Every writer spawns its processes one after another; the writers run at once.
    let results: Vec<Vec<(u64, Value)>> = thread::scope(|scope| {
        let handles: Vec<_> = (0..WRITERS)
            .map(|writer| {
                let store = &store;
                scope.spawn(move || {
                    (0..EACH)
                        .map(|seq| {
                            let payload = json!({"writer": writer, "seq": seq});
                            let number = append(store, &["written", &payload.to_string()]);
                            (number, payload)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a writer thread panicked"))
            .collect()
    });

    let total = WRITERS * EACH;
    // Exactly commits 1..=200, no gaps, no temporary files left over.
    assert_eq!(file_names(&store), commit_names(total));

    // Every process got its own number, and its commit holds its payload.
    let mut numbers = BTreeSet::new();
    for (number, payload) in results.iter().flatten() {
        assert!(numbers.insert(*number), "commit {number} printed twice");
        let commit = commit_json(&store, *number);
        assert_eq!(
            commit["events"],
            json!([{"name": "written", "data": payload}]),
            "commit {number}"
        );
    }
    assert_eq!(numbers, (1..=total).collect::<BTreeSet<_>>());

    // Every payload exactly once in the log.
    let events = run(["events".as_ref(), store.as_os_str()]);
    events.expect_code(0);
    let lines = events.json_lines();
    assert_eq!(lines.len() as u64, total);
    let mut payloads = BTreeSet::new();
    for (index, line) in lines.iter().enumerate() {
        assert_eq!(line["commit"], index as u64 + 1);
        assert!(payloads.insert(line["data"].to_string()), "{line} twice");
    }
    let expected: BTreeSet<String> = (0..WRITERS)
        .flat_map(|writer| {
            (0..EACH).map(move |seq| json!({"writer": writer, "seq": seq}).to_string())
        })
        .collect();
    assert_eq!(payloads, expected);

    run(["verify".as_ref(), store.as_os_str()])
        .expect_code(0)
        .expect_stdout_contains(&["ok: 200 commits (200 events)"]);
}
