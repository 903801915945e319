use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde_json::json;

use super::shapes::{Shapes, NULL};
use super::*;
use crate::error::Error;
use crate::storage::MemoryStorage;

/// A store in memory whose commits have the times `t1`, `t2`, ... (commit k has `tk`).
fn timed_store() -> Store {
    let clock = Arc::new(AtomicU64::new(0));
    Store::builder("memory")
        .storage(MemoryStorage::new())
        .headers(move || {
            let mut headers = Headers::new();
            let tick = clock.fetch_add(1, Ordering::Relaxed) + 1;
            headers.insert("time".into(), json!(format!("t{tick}")));
            headers
        })
        .open()
        .unwrap()
}

fn log(store: &Store, name: &str, data: Value) -> u64 {
    store.log(&Event::with_data(name, data)).unwrap()
}

fn schema(store: &Store) -> SchemaReport {
    store.schema(&SchemaOptions::new(), |_, _| {}).unwrap()
}

/// The shapes of the only name of `report`: (text, count, first commit, last commit).
fn shapes_of(report: &SchemaReport, name: &str) -> Vec<(String, u64, u64, u64)> {
    let found = report
        .names
        .iter()
        .find(|n| n.name == name)
        .unwrap_or_else(|| panic!("no name {name} in {report:?}"));
    found
        .shapes
        .iter()
        .map(|s| (s.shape.clone(), s.count, s.first.commit, s.last.commit))
        .collect()
}

fn seen(commit: u64, time: &str) -> Seen {
    Seen {
        commit,
        time: Some(time.to_owned()),
    }
}

#[test]
fn shapes_are_compared_by_structure_not_member_order_and_counted_with_first_and_last() {
    let store = timed_store();
    log(&store, "moved", json!({"name": "a", "address": "x"}));
    log(
        &store,
        "moved",
        json!({"address": {"street": "s", "city": "c"}, "name": "b"}),
    );
    log(&store, "moved", json!({"address": "y", "name": "c"}));
    log(
        &store,
        "moved",
        json!({"name": "d", "address": {"city": "c", "street": "s"}}),
    );
    log(
        &store,
        "moved",
        json!({"name": "e", "address": {"city": "c", "street": "s", "n": 1}}),
    );

    let report = schema(&store);
    assert_eq!(
        (report.commits, report.events, report.other_names),
        (5, 5, 0)
    );
    let moved = &report.names[0];
    assert_eq!((moved.events, moved.other_shapes), (5, 0));
    assert_eq!(
        moved.shapes,
        [
            ShapeSeen {
                shape: "{address: string, name: string}".into(),
                count: 2,
                first: seen(1, "t1"),
                last: seen(3, "t3"),
            },
            ShapeSeen {
                shape: "{address: {city: string, street: string}, name: string}".into(),
                count: 2,
                first: seen(2, "t2"),
                last: seen(4, "t4"),
            },
            ShapeSeen {
                shape: "{address: {city: string, n: number, street: string}, name: string}".into(),
                count: 1,
                first: seen(5, "t5"),
                last: seen(5, "t5"),
            },
        ]
    );
}

#[test]
fn numbers_are_one_type_and_null_absent_and_empty_values_are_their_own_shapes() {
    let store = Store::memory();
    for data in [
        json!(1),
        json!(-2.5),
        json!(u64::MAX),
        json!(i64::MIN),
        json!(1e300),
    ] {
        log(&store, "n", data);
    }
    store.log(&Event::new("n")).unwrap();
    log(&store, "n", Value::Null);
    log(&store, "n", json!({}));
    log(&store, "n", json!([]));
    log(&store, "n", json!(""));
    log(&store, "n", json!(false));
    assert_eq!(
        shapes_of(&schema(&store), "n"),
        [
            ("number".into(), 5, 1, 5),
            ("absent".into(), 1, 6, 6),
            ("null".into(), 1, 7, 7),
            ("{}".into(), 1, 8, 8),
            ("[]".into(), 1, 9, 9),
            ("string".into(), 1, 10, 10),
            ("boolean".into(), 1, 11, 11),
        ]
    );
}

#[test]
fn arrays_are_the_union_of_their_elements_shapes_mixed_types_included() {
    let store = Store::memory();
    log(&store, "a", json!([1, 2.5, 3]));
    log(
        &store,
        "a",
        json!([{"b": 1}, "x", [true], null, 7, {"c": "d"}, {"b": 2}, "y"]),
    );
    log(
        &store,
        "a",
        json!([null, "z", [false], {"c": "e"}, 8, {"b": 3}]),
    );
    log(&store, "a", json!([[], [[1]], [1, "x"]]));
    log(&store, "a", json!({"tags": [], "ids": [1, "two"]}));
    assert_eq!(
        shapes_of(&schema(&store), "a"),
        [
            ("[number]".into(), 1, 1, 1),
            (
                "[null | number | string | [boolean] | {b: number} | {c: string}]".into(),
                2,
                2,
                3
            ),
            ("[[] | [[number]] | [number | string]]".into(), 1, 4, 4),
            ("{ids: [number | string], tags: []}".into(), 1, 5, 5),
        ]
    );
}

#[test]
fn member_names_that_are_not_plain_words_are_quoted_so_none_passes_for_punctuation() {
    let store = Store::memory();
    log(
        &store,
        "q",
        json!({"a: number, b": 1, "": null, "$ok_1": true, "ø": "x"}),
    );
    log(&store, "q", json!({"line\nbreak \"quoted\"": [1]}));
    assert_eq!(
        shapes_of(&schema(&store), "q"),
        [
            (
                r#"{"": null, $ok_1: boolean, "a: number, b": number, ø: string}"#.into(),
                1,
                1,
                1
            ),
            (r#"{"line\nbreak \"quoted\"": [number]}"#.into(), 1, 2, 2),
        ]
    );
}

#[test]
fn names_are_grouped_by_the_original_rule_with_their_spellings_and_ordered() {
    let store = Store::memory();
    log(&store, "memberHasMoved", json!({"a": 1}));
    log(&store, "zebra", json!(1));
    log(&store, "MemberHasMoved", json!({"a": 2}));
    log(&store, "apple", json!(1));
    log(&store, "memberHasMoved", json!({"a": "3"}));

    let report = schema(&store);
    let names: Vec<(&str, &[String], u64)> = report
        .names
        .iter()
        .map(|n| (n.name.as_str(), n.spellings.as_slice(), n.events))
        .collect();
    assert_eq!(
        names,
        [
            ("apple", &["apple".to_owned()][..], 1),
            (
                "memberHasMoved",
                &["memberHasMoved".to_owned(), "MemberHasMoved".to_owned()][..],
                3
            ),
            ("zebra", &["zebra".to_owned()][..], 1),
        ]
    );
    assert_eq!(
        shapes_of(&report, "memberHasMoved"),
        [
            ("{a: number}".into(), 2, 1, 3),
            ("{a: string}".into(), 1, 5, 5)
        ]
    );

    let only = store
        .schema(&SchemaOptions::new().name("MemberHasMoved"), |_, _| {})
        .unwrap();
    assert_eq!((only.commits, only.events), (5, 5));
    assert_eq!(only.names.len(), 1);
    assert_eq!(only.names[0].events, 3);
    let none = store
        .schema(&SchemaOptions::new().name("nothing"), |_, _| {})
        .unwrap();
    assert_eq!((none.events, none.names.len()), (5, 0));
}

#[test]
fn times_are_those_of_the_commits_and_long_or_odd_ones_are_cut_or_left_out() {
    let headers = Arc::new(AtomicU64::new(0));
    let store = Store::builder("memory")
        .storage(MemoryStorage::new())
        .headers(move || {
            let mut h = Headers::new();
            match headers.fetch_add(1, Ordering::Relaxed) {
                0 => h.insert("time".into(), json!(7)),
                1 => h.insert("time".into(), json!(format!("{}é", "x".repeat(63)))),
                _ => h.insert("time".into(), json!("2026-11-27T15:03:30.380Z")),
            };
            h
        })
        .open()
        .unwrap();
    for _ in 0..3 {
        log(&store, "e", json!(1));
    }
    let shape = &schema(&store).names[0].shapes[0];
    assert_eq!(
        shape.first,
        Seen {
            commit: 1,
            time: None
        }
    );
    assert_eq!(shape.last, seen(3, "2026-11-27T15:03:30.380Z"));

    let store = timed_store();
    log(&store, "e", json!(1));
    store.log(&Event::with_data("e", json!(1))).unwrap();
    let report = schema(&store);
    assert_eq!(report.names[0].shapes[0].last, seen(2, "t2"));

    // The cut keeps whole characters: the 2-byte `é` would end at byte 65.
    let mut long = Seen {
        commit: 0,
        time: None,
    };
    let mut h = Headers::new();
    h.insert("time".into(), json!(format!("{}é", "x".repeat(63))));
    long.move_to(2, &h);
    assert_eq!(long.time, Some(format!("{}…", "x".repeat(63))));
}

#[test]
fn events_of_one_commit_count_that_commit_as_first_and_last() {
    let store = timed_store();
    store
        .log_block(|block| {
            block.log(&Event::with_data("e", json!({"a": 1})))?;
            block.log(&Event::with_data("E", json!({"a": 2})))?;
            block.log(&Event::new("e"))?;
            block.mark_as_complete();
            Ok::<_, Error>(())
        })
        .unwrap();
    log(&store, "e", json!({"a": 3}));
    assert_eq!(
        schema(&store).names[0].shapes,
        [
            ShapeSeen {
                shape: "{a: number}".into(),
                count: 3,
                first: seen(1, "t1"),
                last: seen(2, "t2"),
            },
            ShapeSeen {
                shape: "absent".into(),
                count: 1,
                first: seen(1, "t1"),
                last: seen(1, "t1"),
            },
        ]
    );
}

#[test]
fn an_empty_log_has_no_names_and_progress_counts_every_commit() {
    let store = Store::memory();
    assert_eq!(
        schema(&store),
        SchemaReport {
            first: 1,
            ..SchemaReport::default()
        }
    );
    for k in 0..5 {
        log(&store, "e", json!(k));
    }
    let mut calls = Vec::new();
    store
        .schema(&SchemaOptions::new(), |done, tip| calls.push((done, tip)))
        .unwrap();
    assert_eq!(calls, [(1, 5), (2, 5), (3, 5), (4, 5), (5, 5)]);
}

/// Data nested `levels` levels deep, alternating objects and arrays (`{"a": [{"a": [1]}]}`),
/// as JSON text; and its shape's text.
fn nested(levels: usize) -> (String, String) {
    let (mut open, mut close, mut shape_open) = (String::new(), String::new(), String::new());
    for level in 0..levels {
        if level % 2 == 0 {
            open.push_str(r#"{"a": "#);
            shape_open.push_str("{a: ");
            close.insert(0, '}');
        } else {
            open.push('[');
            shape_open.push('[');
            close.insert(0, ']');
        }
    }
    (
        format!("{open}1{close}"),
        format!("{shape_open}number{close}"),
    )
}

#[test]
fn data_nested_as_deep_as_a_commit_may_be_has_its_shape_without_recursion() {
    let store = Store::memory();
    let levels = crate::json::MAX_NESTING - 3;
    for depth in [levels, levels - 1, levels] {
        let event = format!(r#"{{"name": "deep", "data": {}}}"#, nested(depth).0);
        store.log(&Event::from_json(&event).unwrap()).unwrap();
    }
    let report = schema(&store);
    let shapes = &report.names[0].shapes;
    let found: Vec<(&str, u64)> = shapes.iter().map(|s| (s.shape.as_str(), s.count)).collect();
    assert_eq!(
        found,
        [
            (nested(levels).1.as_str(), 2),
            (nested(levels - 1).1.as_str(), 1)
        ]
    );
}

#[test]
fn beyond_the_shapes_kept_per_name_events_are_counted_not_kept() {
    let store = Store::memory();
    let distinct = 100_000;
    let events: Vec<Event> = (0..distinct)
        .map(|k| Event::with_data("many", json!({ format!("k{k}"): k })))
        .collect();
    for chunk in events.chunks(10_000) {
        store
            .log_block(|block| {
                for event in chunk {
                    block.log(event)?;
                }
                block.mark_as_complete();
                Ok::<_, Error>(())
            })
            .unwrap();
    }
    // Shapes seen before the name was full are still counted as theirs.
    log(&store, "many", json!({"k7": 0}));

    let report = schema(&store);
    let many = &report.names[0];
    assert_eq!(many.events, distinct + 1);
    assert_eq!(many.shapes.len(), MAX_SHAPES_PER_NAME);
    assert_eq!(many.other_shapes, distinct - MAX_SHAPES_PER_NAME as u64);
    assert_eq!(many.shapes[7].shape, "{k7: number}");
    assert_eq!((many.shapes[7].count, many.shapes[7].last.commit), (2, 11));
    assert_eq!(many.shapes[999].shape, "{k999: number}");
}

#[test]
fn beyond_the_names_kept_events_are_counted_not_kept() {
    let store = Store::memory();
    let names = MAX_NAMES + 5;
    store
        .log_block(|block| {
            for k in 0..names {
                block.log(&Event::new(format!("n{k:05}")))?;
            }
            block.log(&Event::new("n00000"))?;
            block.mark_as_complete();
            Ok::<_, Error>(())
        })
        .unwrap();
    let report = schema(&store);
    assert_eq!(report.names.len(), MAX_NAMES);
    assert_eq!(report.other_names, 5);
    assert_eq!(report.names[0].events, 2);
    assert_eq!(report.events, names as u64 + 1);
}

#[test]
fn a_huge_member_name_is_cut_in_the_shapes_text() {
    let store = Store::memory();
    let huge = "é".repeat(1 << 20);
    log(&store, "h", json!({ huge.clone(): 1 }));
    log(&store, "h", json!({ format!("\"{huge}"): 1 }));
    let report = schema(&store);
    let shapes = &report.names[0].shapes;
    assert_eq!(shapes.len(), 2);
    for shape in shapes {
        assert!(shape.shape.len() <= MAX_SHAPE_TEXT + '…'.len_utf8());
        assert!(shape.shape.ends_with('…'), "{}", &shape.shape[..40]);
    }
    assert!(shapes[0].shape.starts_with("{éé"));
    assert!(shapes[1].shape.starts_with("{\"\\\"éé"));
}

#[test]
fn the_memory_budget_bounds_what_is_learnt_and_keeps_what_was() {
    let mut shapes = Shapes::new(1_000);
    let known = shapes.of(&json!({"a": [1]}), true).unwrap();
    assert_eq!(shapes.of(&json!({"a": [2, 3]}), true), Some(known));
    assert_eq!(shapes.of(&json!(null), false), Some(NULL));
    assert_eq!(shapes.of(&json!({"b": 1}), false), None, "not learning");
    let mut learnt = 0;
    for k in 0..100 {
        if shapes.of(&json!({ format!("k{k}"): [k] }), true).is_some() {
            learnt += 1;
        }
    }
    assert!((1..10).contains(&learnt), "{learnt} shapes learnt");
    assert_eq!(shapes.of(&json!({"a": [4]}), true), Some(known));
    assert_eq!(shapes.render(known, 100), "{a: [number]}");
    assert_eq!(shapes.render(known, 5), "{a: […");
}
