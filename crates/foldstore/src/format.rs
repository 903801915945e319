//! The commit and snapshot documents, as the original package writes and reads them.
//!
//! A commit is `{"headers": {...}, "events": [...]}` and a snapshot `{"headers": {...},
//! "snapshot": <data>}`, written as compact JSON. Reading accepts any valid JSON of that shape
//! (pretty-printed, with leading whitespace, with members in any order).

use std::time::SystemTime;

use serde::Serialize;
use serde_json::Value;

use crate::event::{describe, Event, Headers};

/// One commit of the log: its number, its headers and its events, in the order they were logged.
#[derive(Clone, Debug, PartialEq)]
pub struct Commit {
    number: u64,
    headers: Headers,
    events: Vec<Event>,
}

impl Commit {
    /// The commit's number: 1 for the first commit of a store.
    pub fn number(&self) -> u64 {
        self.number
    }

    /// The commit's headers.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// The commit's events.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// The commit's events, by value.
    pub fn into_events(self) -> Vec<Event> {
        self.events
    }

    /// Reads a commit document (the content of a file `k.log`) as commit `number`.
    ///
    /// Accepts any valid JSON of the commit's shape (pretty-printed, members in any order).
    ///
    /// # Errors
    /// [`DecodeError`] saying what is wrong: not JSON, not an object, no `events` array, an
    /// event without a string `name`, `headers` not an object.
    pub fn decode(number: u64, bytes: &[u8]) -> Result<Commit, DecodeError> {
        decode_commit(number, bytes).map_err(DecodeError)
    }

    /// The commit document as the original package writes it: compact JSON, `headers` first.
    pub fn encode(&self) -> Vec<u8> {
        encode_commit(&self.headers, &self.events)
    }

    /// The `time` header read as an RFC 3339 time, when it is present and readable.
    pub fn time(&self) -> Option<SystemTime> {
        let text = self.headers.get("time")?.as_str()?;
        humantime::parse_rfc3339_weak(text).ok()
    }
}

/// What is wrong with a document that is not a commit or snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError(String);

impl DecodeError {
    pub(crate) fn new(problem: String) -> Self {
        DecodeError(problem)
    }

    /// The problem, phrased to follow the document's name (`commit 3 (3.log) <problem>`).
    pub fn problem(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the document {}", self.0)
    }
}

impl std::error::Error for DecodeError {}

#[derive(Serialize)]
struct CommitDocument<'a> {
    headers: &'a Headers,
    events: &'a [Event],
}

#[derive(Serialize)]
struct SnapshotDocument<'a> {
    headers: &'a Headers,
    snapshot: &'a Value,
}

/// Encodes a commit document as compact JSON, the way the original writes it.
pub(crate) fn encode_commit(headers: &Headers, events: &[Event]) -> Vec<u8> {
    // Serializing maps with string keys and JSON values cannot fail.
    serde_json::to_vec(&CommitDocument { headers, events }).unwrap_or_default()
}

/// Encodes a snapshot document as compact JSON, the way the original writes it.
pub(crate) fn encode_snapshot(headers: &Headers, snapshot: &Value) -> Vec<u8> {
    serde_json::to_vec(&SnapshotDocument { headers, snapshot }).unwrap_or_default()
}

/// Decodes a commit document; the error says what is wrong, phrased to follow "commit N (path)".
pub(crate) fn decode_commit(number: u64, bytes: &[u8]) -> Result<Commit, String> {
    // The fast path reads the document straight into headers and events; it accepts exactly
    // the documents the careful path below accepts, which runs only to say what is wrong.
    // Checking the whole document is UTF-8 at once is quicker than checking each string.
    let text = std::str::from_utf8(bytes);
    if let Ok(fast::Document { headers, events }) = text.map_or_else(
        |_| Err(()),
        |text| serde_json::from_str(text).map_err(|_| ()),
    ) {
        return Ok(Commit {
            number,
            headers,
            events,
        });
    }
    let mut object = parse_object(bytes)?;
    let headers = take_headers(&mut object)?;
    let events = match object.shift_remove("events") {
        Some(Value::Array(events)) => events,
        Some(other) => {
            return Err(format!(
                "has an `events` member that is {}, not an array",
                describe(&other)
            ))
        }
        None => return Err("has no `events` array".to_owned()),
    };
    let events = events
        .into_iter()
        .enumerate()
        .map(|(index, value)| {
            Event::from_value(value)
                .map_err(|problem| format!("has an event (#{index}) that {problem}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Commit {
        number,
        headers,
        events,
    })
}

/// A decoded snapshot document.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct SnapshotDoc {
    pub(crate) headers: Headers,
    /// `None` when the document has no `snapshot` member (the original often writes those).
    pub(crate) snapshot: Option<Value>,
}

/// Decodes a snapshot document; the error says what is wrong, phrased to follow its path.
pub(crate) fn decode_snapshot(bytes: &[u8]) -> Result<SnapshotDoc, String> {
    let mut object = parse_object(bytes)?;
    let headers = take_headers(&mut object)?;
    let snapshot = object.shift_remove("snapshot");
    Ok(SnapshotDoc { headers, snapshot })
}

fn parse_object(bytes: &[u8]) -> Result<serde_json::Map<String, Value>, String> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(if bytes.is_empty() {
            "is empty".to_owned()
        } else {
            "holds only whitespace".to_owned()
        });
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(other) => Err(format!("is {}, not a JSON object", describe(&other))),
        Err(e) if e.is_eof() => Err(format!(
            "is not valid JSON: it ends too early ({e}); it may be a write that was cut short"
        )),
        Err(e) => Err(format!("is not valid JSON ({e})")),
    }
}

fn take_headers(object: &mut serde_json::Map<String, Value>) -> Result<Headers, String> {
    match object.shift_remove("headers") {
        Some(Value::Object(headers)) => Ok(headers),
        None => Ok(Headers::new()),
        Some(other) => Err(format!(
            "has a `headers` member that is {}, not an object",
            describe(&other)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn encodes_like_json_stringify() {
        let mut headers = Headers::new();
        headers.insert("time".into(), json!("2026-11-27T15:03:30.380Z"));
        let events = [
            Event::with_data("a", json!({"x": "ø \"q\" \\ \n"})),
            Event::new("b"),
        ];
        assert_eq!(
            String::from_utf8(encode_commit(&headers, &events)).unwrap(),
            r#"{"headers":{"time":"2026-11-27T15:03:30.380Z"},"events":[{"name":"a","data":{"x":"ø \"q\" \\ \n"}},{"name":"b"}]}"#
        );
    }

    #[test]
    fn decodes_pretty_documents_in_any_member_order() {
        let text = "\n\t\t{ \"events\": [ {\"data\": null, \"name\": \"ping\"} ],\n \"headers\": {\"user\": \"a\"} }\n";
        let commit = decode_commit(7, text.as_bytes()).unwrap();
        assert_eq!(commit.number(), 7);
        assert_eq!(commit.headers()["user"], "a");
        assert_eq!(commit.events(), [Event::with_data("ping", Value::Null)]);
    }

    #[test]
    fn integers_stay_exact() {
        let text = r#"{"events":[{"name":"n","data":[18446744073709551615,-9223372036854775808,9007199254740993]}]}"#;
        let commit = decode_commit(1, text.as_bytes()).unwrap();
        let again = encode_commit(commit.headers(), commit.events());
        assert_eq!(
            String::from_utf8(again).unwrap(),
            r#"{"headers":{},"events":[{"name":"n","data":[18446744073709551615,-9223372036854775808,9007199254740993]}]}"#
        );
    }

    #[test]
    fn escaped_and_repeated_member_names_read_as_when_parsed_into_a_value() {
        let text = r#"{"h\u0065aders":{"a":1},"events":[{"n\u0061me":"x","d\u0061ta":2,"z\u0031":3,"name":"y"}],"other":[1]}"#;
        let commit = decode_commit(1, text.as_bytes()).unwrap();
        let value: Value = serde_json::from_str(text).unwrap();
        assert_eq!(commit.headers(), value["headers"].as_object().unwrap());
        assert_eq!(commit.events().len(), 1);
        assert_eq!(commit.events()[0].to_value(), value["events"][0]);
        assert_eq!(commit.events()[0].name(), "y");
        assert_eq!(commit.events()[0].extra().get("z1"), Some(&json!(3)));
        // Not UTF-8: refused, saying so.
        let problem = decode_commit(1, b"{\"events\":[{\"name\":\"\xff\"}]}").unwrap_err();
        assert!(problem.contains("not valid JSON"), "{problem}");
    }

    #[test]
    fn damage_is_described() {
        let cases: [(&[u8], &str); 9] = [
            (b"", "is empty"),
            (b"  \n", "holds only whitespace"),
            (b"[]", "is an array, not a JSON object"),
            (b"{\"events\":[", "it ends too early"),
            (b"{\"headers\":{}}", "has no `events` array"),
            (b"{\"events\":{}}", "`events` member that is an object"),
            (
                b"{\"events\":[],\"headers\":3}",
                "`headers` member that is a number",
            ),
            (
                b"{\"events\":[{\"name\":\"a\"},{\"data\":1}]}",
                "event (#1) that has no `name`",
            ),
            (b"{\"events\":[\"\xff\"]}", "is not valid JSON"),
        ];
        for (bytes, expected) in cases {
            let problem = decode_commit(1, bytes).unwrap_err();
            assert!(problem.contains(expected), "{problem:?} lacks {expected:?}");
        }
    }

    #[test]
    fn snapshots_without_data_are_told_apart() {
        let doc = decode_snapshot(br#"{"headers":{"time":"t"}}"#).unwrap();
        assert_eq!(doc.snapshot, None);
        let doc = decode_snapshot(br#"{"headers":{},"snapshot":null}"#).unwrap();
        assert_eq!(doc.snapshot, Some(Value::Null));
        let bytes = encode_snapshot(&Headers::new(), &json!({"a": 1}));
        assert_eq!(bytes, br#"{"headers":{},"snapshot":{"a":1}}"#);
    }
}

/// Decoding a commit document without building a `serde_json::Value` of it first.
mod fast {
    use std::fmt;

    use serde::de::{
        self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor,
    };
    use serde::Deserialize;
    use serde_json::{Map, Value};

    use crate::event::{Event, Headers};

    /// A well-formed commit document: any other input is an error, without a useful message.
    pub(super) struct Document {
        pub(super) headers: Headers,
        pub(super) events: Vec<Event>,
    }

    impl<'de> Deserialize<'de> for Document {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_map(DocumentVisitor)
        }
    }

    struct DocumentVisitor;

    impl<'de> Visitor<'de> for DocumentVisitor {
        type Value = Document;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a commit document")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Document, A::Error> {
            let mut headers = None;
            let mut events = None;
            while let Some(key) = map.next_key_seed(Key::seed(&["headers", "events"], false))? {
                // A repeated member counts with its last value, as when parsing into a Value.
                match key {
                    Key::Known(0) => headers = Some(map.next_value::<Headers>()?),
                    Key::Known(_) => events = Some(map.next_value::<Events>()?.0),
                    Key::Other(_) => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
            Ok(Document {
                headers: headers.unwrap_or_default(),
                events: events.ok_or_else(|| de::Error::missing_field("events"))?,
            })
        }
    }

    /// A member's name, compared with the names a visitor knows without being copied: only a
    /// name it does not know is kept (when the visitor keeps those).
    enum Key {
        /// The index of the name among the known ones.
        Known(usize),
        /// Another name: empty unless kept.
        Other(String),
    }

    impl Key {
        fn seed(known: &'static [&'static str], keep_others: bool) -> KeySeed {
            KeySeed { known, keep_others }
        }
    }

    struct KeySeed {
        known: &'static [&'static str],
        keep_others: bool,
    }

    impl<'de> DeserializeSeed<'de> for KeySeed {
        type Value = Key;

        fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Key, D::Error> {
            deserializer.deserialize_identifier(self)
        }
    }

    impl Visitor<'_> for KeySeed {
        type Value = Key;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a member name")
        }

        fn visit_str<E: de::Error>(self, name: &str) -> Result<Key, E> {
            Ok(match self.known.iter().position(|known| *known == name) {
                Some(index) => Key::Known(index),
                None if self.keep_others => Key::Other(name.to_owned()),
                None => Key::Other(String::new()),
            })
        }
    }

    struct Events(Vec<Event>);

    impl<'de> Deserialize<'de> for Events {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_seq(EventsVisitor)
        }
    }

    struct EventsVisitor;

    impl<'de> Visitor<'de> for EventsVisitor {
        type Value = Events;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an array of events")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Events, A::Error> {
            let mut events = Vec::with_capacity(seq.size_hint().unwrap_or(1));
            while let Some(FastEvent(event)) = seq.next_element()? {
                events.push(event);
            }
            Ok(Events(events))
        }
    }

    struct FastEvent(Event);

    impl<'de> Deserialize<'de> for FastEvent {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_map(EventVisitor)
        }
    }

    struct EventVisitor;

    impl<'de> Visitor<'de> for EventVisitor {
        type Value = FastEvent;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an event")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FastEvent, A::Error> {
            let mut name = None;
            let mut data = None;
            let mut extra = Map::new();
            while let Some(key) = map.next_key_seed(Key::seed(&["name", "data"], true))? {
                match key {
                    Key::Known(0) => name = Some(map.next_value::<String>()?),
                    Key::Known(_) => data = Some(map.next_value::<Value>()?),
                    Key::Other(key) => {
                        let value = map.next_value::<Value>()?;
                        extra.insert(key, value);
                    }
                }
            }
            let name = name.ok_or_else(|| de::Error::missing_field("name"))?;
            Ok(FastEvent(Event::from_parts(name, data, extra)))
        }
    }
}
