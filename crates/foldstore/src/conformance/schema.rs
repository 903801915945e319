//! Reading a whole log through a store on a backend: the shapes of its events
//! ([`Store::schema`]) count every event of every commit, in order, wherever the log is kept.

use std::sync::Arc;

use serde_json::{json, Value};

use crate::event::Event;
use crate::schema::{SchemaOptions, SchemaReport};
use crate::storage::Storage;
use crate::store::Store;

/// Commits written one by one: past the length at which replays start reading ahead.
const COMMITS: u64 = 150;

/// The shapes of `report`'s name `name`: (text, count, first commit, last commit).
fn shapes(report: &SchemaReport, name: &str) -> Vec<(String, u64, u64, u64)> {
    let found = report
        .names
        .iter()
        .find(|n| n.name == name)
        .unwrap_or_else(|| panic!("the schema has no name {name}: {report:?}"));
    found
        .shapes
        .iter()
        .map(|s| (s.shape.clone(), s.count, s.first.commit, s.last.commit))
        .collect()
}

/// The schema of a log written by two stores (one committing a block, one a document of its
/// own bytes with members in another order and no `time`) counts every event with its shape
/// and its first and last commit, read by a third store; `--name` keeps one name (either
/// spelling) and still counts every event.
pub fn schema_counts_every_event_by_shape_with_its_commits(storage: &Arc<dyn Storage>) {
    let writer = Store::with_shared_storage(Arc::clone(storage));
    for k in 0..COMMITS {
        let address: Value = if k % 3 == 0 {
            json!(format!("{k} Main Street, Oslo"))
        } else {
            json!({"street": format!("{k} Main Street"), "city": "Oslo"})
        };
        writer
            .log(&Event::with_data(
                "memberHasMoved",
                json!({"name": format!("member {k}"), "address": address}),
            ))
            .expect("log");
    }
    let other = Store::with_shared_storage(Arc::clone(storage));
    let block = other
        .log_block(|block| {
            block.log(&Event::new("heartbeat"))?;
            block.log(&Event::with_data(
                "MemberHasMoved",
                json!({"name": "x", "address": null}),
            ))?;
            block.mark_as_complete();
            Ok::<_, crate::error::Error>(())
        })
        .expect("log_block");
    assert_eq!(block, Some(COMMITS + 1));
    let own = br#"{"events":[{"data":{"address":{"city":"Bergen","street":"1 Fjord Lane"},"name":"y"},"name":"memberHasMoved"}]}"#;
    assert_eq!(
        storage.append_commit(1, own).expect("append_commit"),
        COMMITS + 2
    );

    let reader = Store::with_shared_storage(Arc::clone(storage));
    let mut progress = 0;
    let report = reader
        .schema(&SchemaOptions::new(), |done, _| progress = done)
        .expect("schema");
    assert_eq!(
        (report.commits, report.events, progress),
        (COMMITS + 2, COMMITS + 3, COMMITS + 2)
    );
    let names: Vec<(&str, u64)> = report
        .names
        .iter()
        .map(|n| (n.name.as_str(), n.events))
        .collect();
    assert_eq!(names, [("heartbeat", 1), ("memberHasMoved", COMMITS + 2)]);
    let strings = COMMITS.div_ceil(3);
    let last_string = (COMMITS - 1) / 3 * 3 + 1;
    assert_eq!(
        shapes(&report, "memberHasMoved"),
        [
            (
                "{address: string, name: string}".to_owned(),
                strings,
                1,
                last_string
            ),
            (
                "{address: {city: string, street: string}, name: string}".to_owned(),
                COMMITS - strings + 1,
                2,
                COMMITS + 2
            ),
            (
                "{address: null, name: string}".to_owned(),
                1,
                COMMITS + 1,
                COMMITS + 1
            ),
        ]
    );
    let moved = &report.names[1];
    assert_eq!(moved.spellings, ["memberHasMoved", "MemberHasMoved"]);
    assert!(moved.shapes[0].first.time.is_some(), "a time header");
    assert_eq!(
        moved.shapes[1].last.time, None,
        "the own document has no time"
    );
    assert_eq!(
        shapes(&report, "heartbeat"),
        [("absent".to_owned(), 1, COMMITS + 1, COMMITS + 1)]
    );

    let only = reader
        .schema(&SchemaOptions::new().name("HeartBeat"), |_, _| {})
        .expect("schema of one name");
    assert!(
        only.names.is_empty(),
        "only the first letter's case is free"
    );
    let only = reader
        .schema(&SchemaOptions::new().name("Heartbeat"), |_, _| {})
        .expect("schema of one name");
    assert_eq!((only.commits, only.events), (COMMITS + 2, COMMITS + 3));
    assert_eq!(only.names.len(), 1);
    assert_eq!(only.names[0].events, 1);
}
