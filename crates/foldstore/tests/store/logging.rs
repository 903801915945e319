//! Opening a store, and logging events one commit each.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::fixture::{
    assert_time_format, headers, names, registered, replay_all, Fixture, MemberEvent,
};
use foldstore::{Commit, Durability, Error, Event};
use serde_json::{json, Value};

// Opening.

pub(crate) fn an_empty_store_has_nothing<F: Fixture>() {
    let fixture = F::new();
    let store = fixture.open();
    assert_eq!(store.tip().expect("tip"), 0);
    let summary = store
        .replay_event_stream(|event, _| panic!("an empty store replayed {event:?}"))
        .expect("replay");
    assert_eq!(summary.commits, 0);
    assert_eq!(summary.events, 0);
    assert_eq!(summary.last_commit, None);
    assert!(!summary.stopped);
    assert_eq!(store.commits(..).count(), 0);
    assert!(store.storage().list().expect("list").commits.is_empty());
    assert_eq!(store.load_snapshot("members", 10).expect("load"), None);
    let report = store.verify(|_, _| {}).expect("verify");
    assert!(report.is_sound());
    assert_eq!(report.tip, 0);
}

pub(crate) fn builder_header_factory_adds_headers_and_may_override_time<F: Fixture>() {
    let fixture = F::new();
    let counter = Arc::new(AtomicU64::new(0));
    let counted = Arc::clone(&counter);
    let store = fixture
        .builder()
        .headers(move || {
            let n = counted.fetch_add(1, Ordering::SeqCst) + 1;
            headers(&[("user", json!("arjan")), ("sequence", json!(n))])
        })
        .open()
        .expect("open");
    store.log(&Event::new("a")).expect("log");
    store.log(&Event::new("b")).expect("log");
    let seen = replay_all(&store);
    for (index, (_, headers)) in seen.iter().enumerate() {
        assert_eq!(
            headers.keys().collect::<Vec<_>>(),
            ["time", "user", "sequence"],
            "the default `time` first, then the factory's headers"
        );
        assert_eq!(headers["user"], "arjan");
        assert_eq!(headers["sequence"], json!(index + 1));
        assert_time_format(&headers["time"]);
    }

    let overriding = fixture
        .builder()
        .headers(|| {
            headers(&[
                ("user", json!("wendy")),
                ("time", json!("2000-01-01T00:00:00.000Z")),
            ])
        })
        .open()
        .expect("open");
    assert_eq!(overriding.log(&Event::new("c")).expect("log"), 3);
    let commit = overriding.read_commit(3).expect("read");
    assert_eq!(
        commit.headers(),
        &headers(&[
            ("time", json!("2000-01-01T00:00:00.000Z")),
            ("user", json!("wendy"))
        ])
    );
    assert_eq!(
        commit.time(),
        Some(SystemTime::UNIX_EPOCH + Duration::from_secs(946_684_800))
    );
}

pub(crate) fn builder_durability_is_accepted<F: Fixture>() {
    let fixture = F::new();
    let store = fixture
        .builder()
        .durability(Durability::None)
        .open()
        .expect("open");
    assert_eq!(store.log(&Event::new("fast")).expect("log"), 1);
    assert_eq!(names(&fixture.open()), ["fast"]);
}

// Logging.

pub(crate) fn log_writes_one_event_per_commit_numbered_from_one<F: Fixture>() {
    let fixture = F::new();
    let store = fixture.open();
    for (expected, name) in (1..).zip(["a", "b", "c"]) {
        assert_eq!(store.log(&Event::new(name)).expect("log"), expected);
        assert_eq!(store.tip().expect("tip"), expected);
    }
    let commits: Vec<Commit> = store
        .commits(..)
        .collect::<Result<_, _>>()
        .expect("commits");
    assert_eq!(commits.len(), 3);
    for (commit, (number, name)) in commits.iter().zip((1..).zip(["a", "b", "c"])) {
        assert_eq!(commit.number(), number);
        assert_eq!(commit.events(), [Event::new(name)]);
    }
    assert_eq!(store.storage().list().expect("list").commits, [1, 2, 3]);
}

pub(crate) fn typed_events_are_written_in_the_original_shape<F: Fixture>() {
    let fixture = F::new();
    let store = fixture.open();
    let events = [
        registered("peter pan"),
        MemberEvent::MemberHasMoved {
            name: "peter pan".to_owned(),
            address: "london".to_owned(),
        },
        MemberEvent::Heartbeat,
    ];
    for (number, event) in (1..).zip(&events) {
        assert_eq!(store.log(event).expect("log"), number);
    }
    let raw: Vec<Value> = (1..=3)
        .map(|n| {
            let bytes = store
                .storage()
                .read_commit(n)
                .expect("read")
                .expect("exists");
            let document: Value = serde_json::from_slice(&bytes).expect("JSON");
            document["events"][0].clone()
        })
        .collect();
    assert_eq!(
        raw,
        [
            json!({"name": "newMemberRegistered", "data": {"name": "peter pan", "address": "neverland"}}),
            json!({"name": "memberHasMoved", "data": {"name": "peter pan", "address": "london"}}),
            json!({"name": "heartbeat"}),
        ]
    );
    assert!(
        raw[2].get("data").is_none(),
        "a unit variant is written without data"
    );
    let replayed: Vec<MemberEvent> = replay_all(&store)
        .iter()
        .map(|(event, _)| event.to_typed().expect("typed"))
        .collect();
    assert_eq!(replayed, events);
    assert_eq!(replay_all(&store)[2].0.data(), None);
}

pub(crate) fn untyped_events_keep_null_data_apart_from_no_data<F: Fixture>() {
    let fixture = F::new();
    let store = fixture.open();
    store.log(&Event::new("absent")).expect("log");
    store
        .log(&Event::with_data("null", Value::Null))
        .expect("log");
    store
        .log(&Event::with_data(
            "value",
            json!({"b": 1, "a": [true, "x"]}),
        ))
        .expect("log");
    store
        .log(&json!({"name": "fromJson", "data": 5, "extra": "kept"}))
        .expect("log a JSON value of the event shape");
    let seen: Vec<Event> = replay_all(&store)
        .into_iter()
        .map(|(event, _)| event)
        .collect();
    assert_eq!(seen[0].data(), None);
    assert_eq!(seen[1].data(), Some(&Value::Null));
    assert_eq!(seen[2].data(), Some(&json!({"b": 1, "a": [true, "x"]})));
    assert_eq!(
        seen[2]
            .data()
            .and_then(Value::as_object)
            .map(|object| object.keys().cloned().collect::<Vec<_>>()),
        Some(vec!["b".to_owned(), "a".to_owned()])
    );
    assert_eq!(seen[3].name(), "fromJson");
    assert_eq!(seen[3].extra().get("extra"), Some(&json!("kept")));
}

pub(crate) fn values_that_are_not_events_are_refused_and_nothing_is_written<F: Fixture>() {
    let fixture = F::new();
    let store = fixture.open();
    let refused: Vec<Result<u64, Error>> = vec![
        store.log("just a string"),
        store.log(&json!({"data": {"no": "name"}})),
        store.log(&json!({"name": 42})),
        store.log(&json!({"name": null, "data": 1})),
        store.log(&json!(42)),
        store.log(&json!([{"name": "in an array"}])),
        store.log(&Value::Null),
        store.log(&BTreeMap::from([(vec![1_u8], 1)])),
    ];
    for result in refused {
        assert!(
            matches!(result, Err(Error::InvalidEvent { .. })),
            "{result:?}"
        );
    }
    let in_block = store.log_block(|block| {
        block.log(&Event::new("valid"))?;
        block.log("not an event")?;
        block.mark_as_complete();
        Ok::<_, Error>(())
    });
    assert!(
        matches!(in_block, Err(Error::InvalidEvent { .. })),
        "{in_block:?}"
    );
    assert_eq!(store.tip().expect("tip"), 0);
    assert!(store.storage().list().expect("list").commits.is_empty());
    assert_eq!(store.log(&Event::new("then valid")).expect("log"), 1);
}
