//! Dispatch: typed, by variant, the first-letter rule, the fallback, data that does not fit,
//! untyped models.

use crate::fixtures::{document, incremented, log_increments, store_with_user};
use crate::models::{Counter, Untyped};
use foldstore::{Dispatch, Error, Event, MemoryStorage, Storage, Store, View};
use serde_json::{json, Value};

#[test]
fn typed_events_reach_their_handler_by_variant_with_headers_and_commit_number() {
    let storage = MemoryStorage::new();
    let store = store_with_user(&storage, "ann");
    // 1: [+1, Incremented +2]; 2: [doubled]; 3: [Doubled, INCREMENTED, heartbeat, ping(null)].
    store
        .log_block(|block| {
            block.log(&Event::with_data("incremented", json!({"by": 1})))?;
            block.log(&Event::with_data("Incremented", json!({"by": 2})))?;
            block.mark_as_complete();
            Ok::<_, Error>(())
        })
        .unwrap();
    store.log(&Event::new("doubled")).unwrap();
    store
        .log_block(|block| {
            block.log(&Event::new("Doubled"))?;
            block.log(&Event::with_data("INCREMENTED", json!({"by": 100})))?;
            block.log(&Event::new("heartbeat"))?;
            block.log(&Event::with_data("ping", Value::Null))?;
            block.mark_as_complete();
            Ok::<_, Error>(())
        })
        .unwrap();

    let model = Store::with_storage(storage.clone())
        .define_model(Counter::default())
        .unwrap();
    let data = model.aggregator_data().unwrap();
    assert_eq!(data.position(), 3);
    assert_eq!(data.value, 12, "((1 + 2) * 2) * 2, in order, by variant");
    assert_eq!(
        data.seen,
        vec![
            json!({"commit": 1, "index": 0, "user": "ann"}),
            json!({"commit": 1, "index": 1, "user": "ann"}),
            json!({"commit": 2, "index": 0, "user": "ann"}),
            json!({"commit": 3, "index": 0, "user": "ann"}),
        ]
    );
    // Only the first letter's case may differ: `INCREMENTED` is unknown. The fallback gets the
    // raw name and data (absent and null kept apart) and the headers.
    assert_eq!(
        data.unknown,
        vec![
            json!({"name": "INCREMENTED", "data": {"by": 100}, "hasData": true, "commit": 3, "index": 1, "user": "ann"}),
            json!({"name": "heartbeat", "data": null, "hasData": false, "commit": 3, "index": 2, "user": "ann"}),
            json!({"name": "ping", "data": null, "hasData": true, "commit": 3, "index": 3, "user": "ann"}),
        ]
    );
}

#[test]
fn unknown_names_are_ignored_when_there_is_no_fallback() {
    let store = Store::memory();
    store
        .log(&Event::with_data("incremented", json!({"by": 5})))
        .unwrap();
    store.log(&Event::new("heartbeat")).unwrap();
    store
        .log(&Event::with_data("INCREMENTED", json!({"by": 100})))
        .unwrap();
    store.log(&Event::new("doubled")).unwrap();
    // The common counter is typed and has no fallback handler.
    let model = store.define_model(crate::common::counter::Counter).unwrap();
    let data = model.aggregator_data().unwrap();
    assert_eq!(*data, 10);
    assert_eq!(data.position(), 4);
}

#[test]
fn a_known_name_with_data_that_does_not_fit_is_an_error_naming_commit_and_event() {
    let cases = [
        Event::with_data("incremented", json!({"by": "two"})),
        Event::with_data("Incremented", json!("not an object")),
        Event::new("incremented"),
    ];
    for bad in cases {
        let store = Store::memory();
        log_increments(&store, &[1]);
        store
            .log_block(|block| {
                block.log(&incremented(2))?;
                block.log(&bad)?;
                block.mark_as_complete();
                Ok::<_, Error>(())
            })
            .unwrap();
        let model = store.define_model(Counter::default()).unwrap();
        match model.aggregator_data() {
            Err(Error::EventData {
                commit,
                index,
                name,
                message,
                ..
            }) => {
                assert_eq!((commit, index), (2, 1), "{bad:?}");
                assert_eq!(name, bad.name());
                assert!(!message.is_empty());
            }
            other => panic!("{bad:?}: expected EventData, got {other:?}"),
        }
        // Not a fallback: nothing reached it, and the error is stable.
        assert!(matches!(
            model.aggregator_data(),
            Err(Error::EventData { commit: 2, .. })
        ));
        // The model holds commit 1 whole, and nothing of commit 2.
        let at_1 = model.at_commit(1).unwrap();
        assert_eq!(at_1.data().value, 1);
        assert!(at_1.data().unknown.is_empty());
    }
}

#[test]
fn untyped_definitions_get_every_event_as_it_was_written() {
    let storage = MemoryStorage::new();
    storage
        .create_commit(
            1,
            &document(
                json!({"time": "2020-01-01T00:00:00.000Z"}),
                json!([
                    {"name": "anything", "data": {"x": 1}},
                    {"name": "Anything", "extra": true},
                    {"name": "third", "data": null},
                ]),
            ),
        )
        .unwrap()
        .unwrap();
    let store = Store::with_storage(storage);
    let model = store.define_model(Untyped).unwrap();
    let data = model.aggregator_data().unwrap();
    assert_eq!(
        *data,
        vec![
            json!({"commit": 1, "index": 0, "event": {"name": "anything", "data": {"x": 1}}}),
            json!({"commit": 1, "index": 1, "event": {"name": "Anything", "extra": true}}),
            json!({"commit": 1, "index": 2, "event": {"name": "third", "data": null}}),
        ],
        "every name reaches apply, never the fallback"
    );

    // Untyped read-write instances dispatch untyped events.
    let outcome = model
        .with_read_write_instance(
            |view, flag| {
                view.dispatch(Event::with_data("added", json!([1, 2])))?;
                flag.ready_to_commit();
                Ok::<_, Error>(view.data().len())
            },
            1,
        )
        .unwrap();
    assert_eq!((outcome.value, outcome.commit), (4, Some(2)));
    let committed = store.read_commit(2).unwrap();
    assert_eq!(
        committed.events(),
        [Event::with_data("added", json!([1, 2]))]
    );

    // An untyped handler's refusal while folding is a Handler error.
    store.log(&Event::new("bad")).unwrap();
    assert!(matches!(
        model.aggregator_data(),
        Err(Error::Handler { commit: 3, index: 0, ref name, .. }) if name == "bad"
    ));
}
