//! Typed events read in place give what deserializing the event's built JSON object gives:
//! the same value or the same error, for arbitrary events and many kinds of event types.

use std::collections::BTreeMap;
use std::fmt::Debug;

use proptest::prelude::*;
use serde::de::{DeserializeOwned, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::Event;
use crate::json::from_value_deep;

/// The guide's events.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", content = "data", rename_all = "camelCase")]
enum MemberEvent {
    NewMemberRegistered { name: String, address: Value },
    MemberHasMoved { name: String, address: Value },
    MembershipEnded { name: String },
}

/// Events with data of fixed shapes: numbers, options, sequences, a newtype and a unit.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", content = "data", rename_all = "camelCase")]
enum Shaped {
    Counted {
        count: u32,
        ratio: Option<f64>,
        labels: Vec<String>,
    },
    Wrapped(i64),
    Listed(Vec<Value>),
    Heartbeat,
}

/// Events that refuse members other than `name` and `data` (such as `tags` and `version`).
#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", content = "data", deny_unknown_fields)]
enum Strict {
    #[serde(rename = "a")]
    A(Value),
    #[serde(rename = "b")]
    B { x: bool },
}

/// An event type that is a struct rather than an enum.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Plain {
    name: Option<String>,
    data: Option<Value>,
    #[serde(default)]
    version: Option<u32>,
}

/// An event type that is a struct taking every member, flattened.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Flat {
    name: String,
    #[serde(flatten)]
    rest: BTreeMap<String, Value>,
}

/// An event type that is an untagged enum (serde buffers the object before choosing).
#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
enum Either {
    Named { name: String, data: i64 },
    Other(Value),
}

/// Any JSON value, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (0u64..5).prop_map(Value::from),
        (-1e300f64..1e300).prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
        prop_oneof![Just("name"), Just("address"), Just("count"), Just("x")]
            .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        ".{0,8}".boxed(),
                        prop_oneof![
                            Just("name"),
                            Just("address"),
                            Just("count"),
                            Just("ratio"),
                            Just("labels"),
                            Just("x"),
                        ]
                        .prop_map(str::to_owned)
                        .boxed(),
                    ],
                    inner
                ),
                0..6
            )
            .prop_map(|members| Value::Object(members.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// An event: a name (often one the types know, in either case of its first letter), data
/// absent or any JSON, maybe other members (`tags`, `version` or others).
fn any_event() -> impl Strategy<Value = Event> {
    let names = prop_oneof![
        ".{0,10}".boxed(),
        prop_oneof![
            Just("newMemberRegistered"),
            Just("memberHasMoved"),
            Just("MemberHasMoved"),
            Just("membershipEnded"),
            Just("counted"),
            Just("wrapped"),
            Just("listed"),
            Just("heartbeat"),
            Just("a"),
            Just("b"),
            Just(""),
        ]
        .prop_map(str::to_owned)
        .boxed(),
    ];
    let extra_names = prop_oneof![
        Just("tags".to_owned()),
        Just("version".to_owned()),
        "[a-z]{1,6}".boxed()
    ];
    (
        names,
        prop::option::of(any_json()),
        prop::collection::vec((extra_names, any_json()), 0..3),
    )
        .prop_map(|(name, data, extra)| {
            let extra = extra
                .into_iter()
                .filter(|(key, _)| key != "name" && key != "data")
                .collect();
            Event::from_parts(name, data, extra)
        })
}

/// The result of deserializing `T` from a value, as a comparable text.
fn outcome<T: Debug>(result: serde_json::Result<T>) -> String {
    match result {
        Ok(value) => format!("Ok({value:?})"),
        Err(e) => format!("Err({e})"),
    }
}

/// What deserializing `T` gives from the event's built object, and from the object of
/// `other_name` and the event's data alone: what `to_typed` and `to_typed_as` must give.
fn expected<T: DeserializeOwned + Debug>(event: &Event, other_name: &str) -> (String, String) {
    let whole = outcome(from_value_deep::<T>(event.to_value()));
    let mut object = Map::new();
    object.insert("name".to_owned(), Value::String(other_name.to_owned()));
    if let Some(data) = event.data() {
        object.insert("data".to_owned(), data.clone());
    }
    (whole, outcome(from_value_deep::<T>(Value::Object(object))))
}

/// Checks that `to_typed` and `to_typed_as` give what the built objects give for `T`.
fn same_for<T: DeserializeOwned + Debug>(
    event: &Event,
    other_name: &str,
) -> Result<(), TestCaseError> {
    let (whole, as_other) = expected::<T>(event, other_name);
    prop_assert_eq!(
        outcome(event.to_typed::<T>()),
        whole,
        "to_typed, {:?}",
        event
    );
    prop_assert_eq!(
        outcome(event.to_typed_as::<T>(other_name)),
        as_other,
        "to_typed_as {:?}, {:?}",
        other_name,
        event
    );
    Ok(())
}

/// `event` as read from a commit document (compact or pretty-printed) with its data kept as
/// text, not parsed yet.
fn read_lazily(event: &Event, pretty: bool) -> Event {
    let document = json!({"headers": {}, "events": [event]});
    let text = if pretty {
        serde_json::to_string_pretty(&document).unwrap()
    } else {
        serde_json::to_string(&document).unwrap()
    };
    let commit = crate::format::decode_commit_lazy(1, text.as_bytes()).unwrap();
    commit.into_events().remove(0)
}

/// Checks that `to_typed` and `to_typed_as` of the event read with its data kept as text give
/// what the built objects of the event give for `T`, before anything parsed the text.
fn same_lazily<T: DeserializeOwned + Debug>(
    event: &Event,
    other_name: &str,
    pretty: bool,
) -> Result<(), TestCaseError> {
    let (whole, as_other) = expected::<T>(event, other_name);
    let lazy = read_lazily(event, pretty);
    prop_assert_eq!(
        outcome(lazy.to_typed::<T>()),
        whole,
        "to_typed, read lazily, {:?}",
        event
    );
    let lazy = read_lazily(event, pretty);
    prop_assert_eq!(
        outcome(lazy.to_typed_as::<T>(other_name)),
        as_other,
        "to_typed_as {:?}, read lazily, {:?}",
        other_name,
        event
    );
    // Once asked for, the data is the event's, and the event is equal to it.
    prop_assert_eq!(lazy.data(), event.data());
    prop_assert_eq!(&read_lazily(event, pretty), event);
    prop_assert_eq!(
        serde_json::to_string(&read_lazily(event, pretty)).unwrap(),
        serde_json::to_string(event).unwrap()
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn typed_events_read_from_their_text_are_those_of_the_built_object(
        event in any_event(),
        other_name in prop_oneof![Just("memberHasMoved".to_owned()), Just("counted".to_owned()), Just("b".to_owned()), ".{0,6}"],
        pretty in any::<bool>(),
    ) {
        same_lazily::<MemberEvent>(&event, &other_name, pretty)?;
        same_lazily::<Shaped>(&event, &other_name, pretty)?;
        same_lazily::<Strict>(&event, &other_name, pretty)?;
        same_lazily::<Plain>(&event, &other_name, pretty)?;
        same_lazily::<Flat>(&event, &other_name, pretty)?;
        same_lazily::<Either>(&event, &other_name, pretty)?;
        same_lazily::<Value>(&event, &other_name, pretty)?;
        same_lazily::<Event>(&event, &other_name, pretty)?;
        same_lazily::<BTreeMap<String, Value>>(&event, &other_name, pretty)?;
        same_lazily::<Option<MemberEvent>>(&event, &other_name, pretty)?;
        same_lazily::<(String, Value)>(&event, &other_name, pretty)?;
        same_lazily::<String>(&event, &other_name, pretty)?;
    }

    #[test]
    fn typed_events_read_in_place_are_those_of_the_built_object(
        event in any_event(),
        other_name in prop_oneof![Just("memberHasMoved".to_owned()), Just("counted".to_owned()), Just("b".to_owned()), ".{0,6}"],
    ) {
        same_for::<MemberEvent>(&event, &other_name)?;
        same_for::<Shaped>(&event, &other_name)?;
        same_for::<Strict>(&event, &other_name)?;
        same_for::<Plain>(&event, &other_name)?;
        same_for::<Flat>(&event, &other_name)?;
        same_for::<Either>(&event, &other_name)?;
        same_for::<Value>(&event, &other_name)?;
        same_for::<Event>(&event, &other_name)?;
        same_for::<BTreeMap<String, Value>>(&event, &other_name)?;
        same_for::<Option<MemberEvent>>(&event, &other_name)?;
        same_for::<(String, Value)>(&event, &other_name)?;
        same_for::<String>(&event, &other_name)?;
    }
}

#[test]
fn typed_events_keep_absent_and_null_data_apart_and_see_other_members() {
    let absent = Event::new("heartbeat");
    assert_eq!(absent.to_typed::<Shaped>().unwrap(), Shaped::Heartbeat);
    let null = Event::with_data("membershipEnded", Value::Null);
    let error = null.to_typed::<MemberEvent>().unwrap_err().to_string();
    assert!(error.contains("invalid type: null"), "{error}");
    let tagged = Event::with_data("a", json!(1)).tagged(["t"]);
    let error = tagged.to_typed::<Strict>().unwrap_err().to_string();
    assert!(
        error.contains(r#"string "tags", expected "name" or "data""#),
        "{error}"
    );
    assert_eq!(
        tagged.to_typed_as::<Strict>("a").unwrap(),
        Strict::A(json!(1))
    );
    let plain = Event::with_data("x", json!(2)).versioned(3);
    assert_eq!(
        plain.to_typed::<Plain>().unwrap(),
        Plain {
            name: Some("x".into()),
            data: Some(json!(2)),
            version: Some(3)
        }
    );
}

/// A string that records whether the deserializer lent it (read in place) or gave it away
/// (read from a copy the deserializer owned).
#[derive(Debug)]
struct Lent(bool);

impl<'de> Deserialize<'de> for Lent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Seen;
        impl Visitor<'_> for Seen {
            type Value = Lent;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E>(self, _: &str) -> Result<Lent, E> {
                Ok(Lent(true))
            }
            fn visit_string<E>(self, _: String) -> Result<Lent, E> {
                Ok(Lent(false))
            }
        }
        deserializer.deserialize_string(Seen)
    }
}

#[derive(Debug, Deserialize)]
#[serde(tag = "name", content = "data")]
enum Probe {
    #[serde(rename = "probe")]
    Probe { text: Lent },
}

#[test]
fn the_data_is_read_in_place_not_copied() {
    let event = Event::with_data(
        "probe",
        json!({"text": "a long enough string to be copied"}),
    );
    let Probe::Probe { text } = event.to_typed::<Probe>().unwrap();
    assert!(
        text.0,
        "the data's string was copied into a new value first"
    );
    let Probe::Probe { text } = event.to_typed_as::<Probe>("probe").unwrap();
    assert!(text.0);
    let lazy = read_lazily(&event, false);
    let Probe::Probe { text } = lazy.to_typed::<Probe>().unwrap();
    assert!(text.0, "the data's text was not read in place");
    assert!(
        lazy.data
            .as_ref()
            .and_then(super::Data::unparsed_text)
            .is_some(),
        "reading the typed event parsed the data into a value"
    );
}

#[test]
fn data_read_from_text_as_deep_as_it_is_kept_is_read_on_a_small_stack() {
    // Data is kept as text up to `KEPT_DEPTH` levels: the object and the address's arrays.
    let depth = super::data::KEPT_DEPTH - 1;
    let text = format!(
        r#"{{"events":[{{"name":"memberHasMoved","data":{{"name":"member 1","address":{}1{}}}}}]}}"#,
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let read = |text: &str| crate::format::decode_commit_lazy(1, text.as_bytes()).unwrap();
    let (typed_from, value_from) = (read(&text), read(&text));
    assert!(typed_from.events()[0]
        .data
        .as_ref()
        .unwrap()
        .unparsed_text()
        .is_some());
    let (typed, value) = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || {
            let typed = match typed_from.events()[0].to_typed::<MemberEvent>() {
                Ok(MemberEvent::MemberHasMoved { address, .. }) => address,
                other => panic!("{other:?}"),
            };
            (
                typed,
                value_from.events()[0].data().unwrap()["address"].clone(),
            )
        })
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(typed, value);
    let mut level = &value;
    let mut levels = 0;
    while let Value::Array(items) = level {
        levels += 1;
        level = &items[0];
    }
    assert_eq!(levels, depth);
}

#[test]
fn deep_data_is_read_without_overflowing_the_stack() {
    let depth = crate::json::MAX_NESTING - 4;
    let text = format!(
        r#"{{"name":"member 1","address":{}1{}}}"#,
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let data = Event::data_from_json(&text).unwrap();
    let event = Event::with_data("memberHasMoved", data);
    let typed = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || match event.to_typed::<MemberEvent>() {
            Ok(MemberEvent::MemberHasMoved { name, mut address }) => {
                let mut depth = 0;
                let mut level = &address;
                while let Value::Array(items) = level {
                    depth += 1;
                    level = &items[0];
                }
                // Deep values are taken apart on a grown stack.
                crate::json::hollow(&mut address);
                Ok((name, depth))
            }
            other => Err(format!("{other:?}")),
        })
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(typed, Ok(("member 1".to_owned(), depth)));
}
