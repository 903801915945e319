//! Time travel: the model as it was at a commit or a time.

use crate::fixtures::{document, log_increments, snapshot_document, time};
use crate::models::{assert_folded, Counter};
use foldstore::{Error, MemoryStorage, Storage, Store};
use serde_json::json;

#[test]
fn at_commit_gives_the_model_as_of_that_commit() {
    let storage = MemoryStorage::new();
    let store = Store::with_storage(storage.clone());
    log_increments(&store, &[1, 1, 1, 1, 1]);
    let distinct = snapshot_document(json!({}), json!({"value": 300}));
    storage
        .create_snapshot("counter", 3, &distinct)
        .unwrap()
        .unwrap();

    let model = store.define_model(Counter::named("counter")).unwrap();
    // At 4: from the newest snapshot at or below 4 (3), then commit 4.
    let at_4 = model.at_commit(4).unwrap();
    assert_eq!((at_4.data().value, at_4.position()), (301, 4));
    // At 2: the snapshot at 3 is not used.
    let at_2 = model.at_commit(2).unwrap();
    assert_eq!((at_2.data().value, at_2.position()), (2, 2));
    assert_eq!(model.aggregator_data().unwrap().value, 302);
    // The model being at 5 changes nothing about the past, and the past nothing about it.
    assert_eq!(model.at_commit(2).unwrap().data().value, 2);
    assert_eq!(model.at_commit(3).unwrap().data().value, 300);
    assert_eq!(model.at_commit(5).unwrap().data().value, 302);
    let at_0 = model.at_commit(0).unwrap();
    assert_eq!((at_0.data().value, at_0.position()), (0, 0));
    assert!(matches!(
        model.at_commit(6),
        Err(Error::OutOfRange {
            requested: 6,
            tip: 5
        })
    ));
    assert_folded(&model, 302, 5);
    assert_eq!(
        at_2.with_read_instance(|counter| (counter.value(), counter.position())),
        (2, 2)
    );
}

#[test]
fn at_time_takes_the_longest_prefix_not_later_than_the_time() {
    let storage = MemoryStorage::new();
    let times = [
        json!({"time": "2020-01-01T00:00:00.000Z"}),
        json!({}),
        json!({"time": "not a time"}),
        json!({"time": "2020-01-03T00:00:00.000Z"}),
        json!({"time": "2020-01-02T00:00:00.000Z"}),
        json!({"time": "2020-01-04T00:00:00.000Z"}),
    ];
    for (i, headers) in times.into_iter().enumerate() {
        let commit = i as u64 + 1;
        let event = json!([{"name": "incremented", "data": {"by": 1_i64 << i}}]);
        storage
            .create_commit(commit, &document(headers, event))
            .unwrap()
            .unwrap();
    }
    let model = Store::with_storage(storage)
        .define_model(Counter::default())
        .unwrap();
    let cases = [
        ("2019-12-31T23:59:59Z", 0),
        ("2020-01-01T00:00:00Z", 3),
        ("2020-01-02T12:00:00Z", 3),
        ("2020-01-03T00:00:00Z", 5),
        ("2020-01-03T23:00:00Z", 5),
        ("2020-01-04T00:00:00Z", 6),
        ("2030-01-01T00:00:00Z", 6),
    ];
    for (at, position) in cases {
        let then = model.at_time(time(at)).unwrap();
        assert_eq!(then.position(), position, "at {at}");
        assert_eq!(then.data().value, (1_i64 << position) - 1, "at {at}");
    }
}
