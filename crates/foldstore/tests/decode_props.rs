//! Property tests of the commit and snapshot decoders, the in-suite counterpart of the fuzz
//! targets in `fuzz/`: arbitrary JSON of every shape, and arbitrary bytes, never make a decoder
//! panic; documents of the commit's shape decode, round-trip through encoding, and everything
//! else is refused with a reason.

use foldstore::{Commit, Snapshot};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

/// Any JSON value, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1e300f64..1e300).prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((".{0,8}", inner), 0..6)
                .prop_map(|members| Value::Object(members.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A well-formed event: a string name, data absent or any JSON, maybe extra members.
fn event() -> impl Strategy<Value = Value> {
    (
        ".{0,16}",
        prop::option::of(any_json()),
        prop::collection::vec(("[a-z]{1,6}", any_json()), 0..3),
    )
        .prop_map(|(name, data, extra)| {
            let mut event = Map::new();
            event.insert("name".into(), Value::String(name));
            if let Some(data) = data {
                event.insert("data".into(), data);
            }
            for (key, value) in extra {
                if key != "name" && key != "data" {
                    event.insert(key, value);
                }
            }
            Value::Object(event)
        })
}

/// A well-formed commit document.
fn commit_document() -> impl Strategy<Value = Value> {
    (
        prop::collection::vec(event(), 0..5),
        prop::option::of(prop::collection::vec(("[a-z]{1,6}", any_json()), 0..4)),
    )
        .prop_map(|(events, headers)| {
            let mut document = Map::new();
            if let Some(headers) = headers {
                document.insert(
                    "headers".into(),
                    Value::Object(headers.into_iter().collect()),
                );
            }
            document.insert("events".into(), Value::Array(events));
            Value::Object(document)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn well_formed_commits_decode_and_round_trip(document in commit_document(), pretty in any::<bool>()) {
        let bytes = if pretty {
            serde_json::to_vec_pretty(&document).unwrap()
        } else {
            serde_json::to_vec(&document).unwrap()
        };
        let commit = Commit::decode(9, &bytes).expect("a well-formed commit decodes");
        prop_assert_eq!(commit.number(), 9);
        prop_assert_eq!(commit.events().len(), document["events"].as_array().unwrap().len());
        for (event, written) in commit.events().iter().zip(document["events"].as_array().unwrap()) {
            prop_assert_eq!(&event.to_value(), written);
        }
        let again = Commit::decode(9, &commit.encode()).expect("an encoded commit decodes");
        prop_assert_eq!(again, commit);
    }

    #[test]
    fn any_json_that_is_not_a_commit_is_refused_with_a_reason(value in any_json()) {
        let is_commit = value.as_object().is_some_and(|object| {
            object.get("events").and_then(Value::as_array).is_some_and(|events| {
                events.iter().all(|e| e.get("name").is_some_and(Value::is_string))
            }) && object.get("headers").is_none_or(Value::is_object)
        });
        let decoded = Commit::decode(1, &serde_json::to_vec(&value).unwrap());
        prop_assert_eq!(decoded.is_ok(), is_commit, "{:?}", decoded);
        if let Err(e) = decoded {
            prop_assert!(!e.problem().is_empty());
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = Commit::decode(1, &bytes);
        let _ = Snapshot::decode("members", 1, &bytes);
    }

    #[test]
    fn damaged_commits_are_refused_or_still_whole(
        document in commit_document(),
        cut in any::<prop::sample::Index>(),
        flip in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut bytes = serde_json::to_vec(&document).unwrap();
        let at = flip.index(bytes.len());
        bytes[at] = byte;
        bytes.truncate(cut.index(bytes.len() + 1));
        // Either refused, or a whole commit of its own (a damage that is still valid JSON).
        if let Ok(commit) = Commit::decode(1, &bytes) {
            prop_assert_eq!(Commit::decode(1, &commit.encode()).unwrap(), commit);
        }
    }

    #[test]
    fn snapshots_keep_their_data(data in prop::option::of(any_json())) {
        let mut document = json!({"headers": {"time": "2026-11-27T15:03:30.380Z"}});
        if let Some(data) = &data {
            document["snapshot"] = data.clone();
        }
        let snapshot = Snapshot::decode("members", 4, &serde_json::to_vec(&document).unwrap()).unwrap();
        prop_assert_eq!(snapshot.data, data);
        prop_assert_eq!(snapshot.commit, 4);
    }
}
