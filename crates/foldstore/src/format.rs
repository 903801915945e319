//! The commit and snapshot documents, as the original package writes and reads them.
//!
//! A commit is `{"headers": {...}, "events": [...]}` and a snapshot `{"headers": {...},
//! "snapshot": <data>}`, written as compact JSON. Reading accepts any valid JSON of that shape
//! (pretty-printed, with leading whitespace, with members in any order).
//!
//! Documents may be nested up to [`MAX_NESTING`] levels of arrays and objects, for readers and
//! writers alike: a writer refuses a deeper document (nothing is written), a reader reports one
//! as damaged. Deep documents are read and written on a stack grown as needed, so that no depth
//! overflows a thread's stack.

use std::time::SystemTime;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::Error;
use crate::event::{describe, Event, Headers};

/// The deepest nesting of arrays and objects that foldstore reads and writes in a commit or
/// snapshot document, counting the document's own levels: a commit's event data starts 3 levels
/// down (the document, its `events` array, the event), so data may be nested up to
/// `MAX_NESTING - 3` levels.
///
/// The original package sets no limit of its own: it writes with `JSON.stringify`, which is
/// recursive and throws a `RangeError` once V8's default stack is used up, and reads with
/// `JSON.parse`, which is not. Measured with `node -e` on Node.js 20.20 (x86-64 Linux):
/// `JSON.stringify` manages 4,173 levels of nested arrays or objects at the top of a script,
/// and `store.log` of @scriptabuild/eventstore 1.3.0 writes event data nested at most 4,113
/// levels (a document of 4,116); `JSON.parse` reads 10,000,000 levels of nested arrays (the
/// most tried). 5,000 levels take every document the original can write, with room to spare.
pub const MAX_NESTING: usize = 5_000;

/// Below this much stack left, deep recursion goes on in a new stack segment.
const RED_ZONE: usize = 64 * 1024;

/// The size of the stack segments that deep recursion grows into.
const STACK_SEGMENT: usize = 1024 * 1024;

/// The stack given to reading a document nested `depth` levels when it is not read by the fast
/// path: values partly built when a document turns out damaged are dropped where the parser
/// stands, which may take a recursion as deep as the document (a few hundred bytes a level).
pub(crate) fn slow_path_stack(depth: usize) -> usize {
    256 * 1024 + depth.saturating_mul(4 * 1024)
}

/// The deepest nesting of arrays and objects in JSON text (0 for a scalar). Strings are
/// skipped; text that is not JSON gets a figure all the same (the openings not yet closed).
pub(crate) fn nesting_depth(bytes: &[u8]) -> usize {
    let mut depth = 0usize;
    let mut deepest = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &byte in bytes {
        if in_string {
            if escaped {
                escaped = false;
            } else if byte == b'\\' {
                escaped = true;
            } else if byte == b'"' {
                in_string = false;
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// The check readers and writers make of a document's nesting: its depth, or `Err(depth)` when
/// it is nested deeper than [`MAX_NESTING`].
pub(crate) fn check_nesting(bytes: &[u8]) -> Result<usize, usize> {
    let depth = nesting_depth(bytes);
    if depth > MAX_NESTING {
        Err(depth)
    } else {
        Ok(depth)
    }
}

/// What a reader says of a document nested `depth` levels, deeper than [`MAX_NESTING`].
pub(crate) fn too_deep_to_read(depth: usize) -> String {
    format!(
        "is nested too deep: {depth} levels of arrays and objects, beyond the recursion limit of {MAX_NESTING} levels that foldstore reads and writes"
    )
}

/// What a writer says of a document nested `depth` levels, deeper than [`MAX_NESTING`].
pub(crate) fn too_deep_to_write(what: &str, depth: usize) -> String {
    format!(
        "{what} nested too deep: {depth} levels of arrays and objects, beyond the recursion limit of {MAX_NESTING} levels that foldstore reads and writes (readers would report it as damaged); nothing was written: nest the data less deeply"
    )
}

/// Reads JSON text with no recursion limit, growing the stack as needed. The caller has
/// checked its nesting.
pub(crate) fn from_slice_deep<T: DeserializeOwned>(bytes: &[u8]) -> serde_json::Result<T> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    deserializer.disable_recursion_limit();
    let mut stacked = serde_stacker::Deserializer::new(&mut deserializer);
    stacked.red_zone = RED_ZONE;
    stacked.stack_size = STACK_SEGMENT;
    let value = T::deserialize(stacked)?;
    deserializer.end()?;
    Ok(value)
}

/// Writes compact JSON, growing the stack as needed.
pub(crate) fn to_vec_deep<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(128);
    let mut serializer = serde_json::Serializer::new(&mut out);
    let mut stacked = serde_stacker::Serializer::new(&mut serializer);
    stacked.red_zone = RED_ZONE;
    stacked.stack_size = STACK_SEGMENT;
    value.serialize(stacked)?;
    Ok(out)
}

/// Converts a value into a `serde_json::Value`, growing the stack as needed.
pub(crate) fn to_value_deep<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<Value> {
    let mut stacked = serde_stacker::Serializer::new(serde_json::value::Serializer);
    stacked.red_zone = RED_ZONE;
    stacked.stack_size = STACK_SEGMENT;
    value.serialize(stacked)
}

/// Reads a `serde_json::Value` into `T`, growing the stack as needed.
pub(crate) fn from_value_deep<T: DeserializeOwned>(value: Value) -> serde_json::Result<T> {
    let mut stacked = serde_stacker::Deserializer::new(value);
    stacked.red_zone = RED_ZONE;
    stacked.stack_size = STACK_SEGMENT;
    T::deserialize(stacked)
}

/// Whether a value holds other values (so that dropping or copying it recurses).
fn has_members(value: &Value) -> bool {
    match value {
        Value::Array(items) => !items.is_empty(),
        Value::Object(members) => !members.is_empty(),
        _ => false,
    }
}

/// Drops the members of `value` from the deepest up, on a stack grown as needed, so that
/// dropping `value` afterwards recurses at most two levels: `serde_json::Value` drops
/// recursively, which overflows a thread's stack for values nested some thousands of levels.
pub(crate) fn hollow(value: &mut Value) {
    fn hollow_member(member: &mut Value) {
        if has_members(member) {
            stacker::maybe_grow(RED_ZONE, STACK_SEGMENT, || hollow(member));
            // Its members hold nothing now: dropping it is shallow.
            *member = Value::Null;
        }
    }
    match value {
        Value::Array(items) => items.iter_mut().for_each(hollow_member),
        Value::Object(members) => members.values_mut().for_each(hollow_member),
        _ => {}
    }
}

/// As [`hollow`] for each value of a map.
pub(crate) fn hollow_map(map: &mut Map<String, Value>) {
    map.values_mut().for_each(hollow);
}

/// A copy of `value`, made on a stack grown as needed (`Value::clone` recurses).
pub(crate) fn clone_deep(value: &Value) -> Value {
    fn clone_member(member: &Value) -> Value {
        if has_members(member) {
            stacker::maybe_grow(RED_ZONE, STACK_SEGMENT, || clone_deep(member))
        } else {
            member.clone()
        }
    }
    match value {
        Value::Array(items) => Value::Array(items.iter().map(clone_member).collect()),
        Value::Object(members) => Value::Object(clone_map(members)),
        other => other.clone(),
    }
}

/// As [`clone_deep`] for a map.
pub(crate) fn clone_map(map: &Map<String, Value>) -> Map<String, Value> {
    map.iter()
        .map(|(key, member)| {
            let copy = if has_members(member) {
                stacker::maybe_grow(RED_ZONE, STACK_SEGMENT, || clone_deep(member))
            } else {
                member.clone()
            };
            (key.clone(), copy)
        })
        .collect()
}

/// One commit of the log: its number, its headers and its events, in the order they were logged.
#[derive(Debug, PartialEq)]
pub struct Commit {
    number: u64,
    headers: Headers,
    events: Vec<Event>,
}

impl Clone for Commit {
    fn clone(&self) -> Self {
        Commit {
            number: self.number,
            headers: clone_map(&self.headers),
            events: self.events.clone(),
        }
    }
}

impl Drop for Commit {
    fn drop(&mut self) {
        // The events drop their data safely themselves.
        hollow_map(&mut self.headers);
    }
}

impl Commit {
    /// The deepest nesting of arrays and objects that foldstore reads and writes in a commit
    /// or snapshot document, counting the document's own levels (a commit's event data starts
    /// 3 levels down). Writers refuse deeper documents; readers report them as damaged.
    ///
    /// The original package writes at most about 4,100 levels (the most Node.js's
    /// `JSON.stringify` manages with its default stack), so every commit it can write is read.
    pub const MAX_NESTING: usize = MAX_NESTING;

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
    pub fn into_events(mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    /// Reads a commit document (the content of a file `k.log`) as commit `number`.
    ///
    /// Accepts any valid JSON of the commit's shape (pretty-printed, members in any order).
    ///
    /// # Errors
    /// [`DecodeError`] saying what is wrong: not JSON, not an object, no `events` array, an
    /// event without a string `name`, `headers` not an object, nested deeper than
    /// [`Commit::MAX_NESTING`].
    pub fn decode(number: u64, bytes: &[u8]) -> Result<Commit, DecodeError> {
        decode_commit(number, bytes).map_err(DecodeError)
    }

    /// The commit document as the original package writes it: compact JSON, `headers` first.
    ///
    /// A commit nested deeper than [`Commit::MAX_NESTING`] (which no reader takes, and which
    /// a store never writes) is encoded all the same.
    pub fn encode(&self) -> Vec<u8> {
        // Serializing maps with string keys and JSON values cannot fail.
        to_vec_deep(&CommitDocument {
            headers: &self.headers,
            events: &self.events,
        })
        .unwrap_or_default()
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
///
/// # Errors
/// [`Error::InvalidHeaders`] or [`Error::InvalidEvent`] (whichever is nested too deep) when the
/// document would be nested deeper than [`MAX_NESTING`]: readers would not take it.
pub(crate) fn encode_commit(headers: &Headers, events: &[Event]) -> Result<Vec<u8>, Error> {
    // Serializing maps with string keys and JSON values cannot fail.
    let document = to_vec_deep(&CommitDocument { headers, events }).unwrap_or_default();
    // The readers' own check, on the very bytes they would read (a document shorter than the
    // limit cannot be nested deeper: each level takes a byte).
    if document.len() <= MAX_NESTING {
        return Ok(document);
    }
    check_nesting(&document).map_err(|depth| {
        // The headers are one level down in the document.
        let headers_depth = 1 + nesting_depth(&to_vec_deep(headers).unwrap_or_default());
        if headers_depth > MAX_NESTING {
            Error::InvalidHeaders {
                problem: too_deep_to_write("the commit (through its headers) would be", depth),
            }
        } else {
            Error::InvalidEvent {
                problem: too_deep_to_write("the commit would be", depth),
            }
        }
    })?;
    Ok(document)
}

/// Encodes a snapshot document as compact JSON, the way the original writes it.
///
/// # Errors
/// The document's depth when it would be nested deeper than [`MAX_NESTING`]: readers would not
/// take it.
pub(crate) fn encode_snapshot(headers: &Headers, snapshot: &Value) -> Result<Vec<u8>, usize> {
    let document = to_vec_deep(&SnapshotDocument { headers, snapshot }).unwrap_or_default();
    check_nesting(&document)?;
    Ok(document)
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
    // Not read by the fast path: deeper than serde_json's default limit of 128 levels, or
    // damaged. Read with no limit on a stack grown as needed, once the nesting is checked.
    let depth = check_nesting(bytes).map_err(too_deep_to_read)?;
    stacker::maybe_grow(slow_path_stack(depth), slow_path_stack(depth), || {
        decode_commit_slowly(number, bytes, text.is_ok())
    })
}

/// Decodes a commit document the fast path did not read, nested at most [`MAX_NESTING`] levels.
fn decode_commit_slowly(number: u64, bytes: &[u8], utf8: bool) -> Result<Commit, String> {
    if utf8 {
        if let Ok(fast::Document { headers, events }) = from_slice_deep(bytes) {
            return Ok(Commit {
                number,
                headers,
                events,
            });
        }
    }
    let mut object = parse_object_checked(bytes)?;
    let result = commit_from_object(number, &mut object);
    hollow_map(&mut object);
    result
}

/// Takes a commit out of a document read as an object, or says what is wrong with it.
fn commit_from_object(number: u64, object: &mut Map<String, Value>) -> Result<Commit, String> {
    let headers = take_headers(object)?;
    let events = match object.shift_remove("events") {
        Some(Value::Array(events)) => events,
        Some(mut other) => {
            let kind = describe(&other);
            hollow(&mut other);
            return Err(format!(
                "has an `events` member that is {kind}, not an array"
            ));
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

impl Drop for SnapshotDoc {
    fn drop(&mut self) {
        // A document only checked (by verify) is dropped here: deep data is taken apart on a
        // grown stack.
        hollow_map(&mut self.headers);
        if let Some(snapshot) = &mut self.snapshot {
            hollow(snapshot);
        }
    }
}

/// Decodes a snapshot document; the error says what is wrong, phrased to follow its path.
pub(crate) fn decode_snapshot(bytes: &[u8]) -> Result<SnapshotDoc, String> {
    let depth = check_nesting(bytes).map_err(too_deep_to_read)?;
    stacker::maybe_grow(slow_path_stack(depth), slow_path_stack(depth), || {
        let mut object = parse_object_checked(bytes)?;
        let result = take_headers(&mut object).map(|headers| {
            let snapshot = object.shift_remove("snapshot");
            SnapshotDoc { headers, snapshot }
        });
        hollow_map(&mut object);
        result
    })
}

/// Reads a document as a JSON object, with no recursion limit: the caller has checked that it
/// is nested at most [`MAX_NESTING`] levels, and gives it a stack for that depth.
fn parse_object_checked(bytes: &[u8]) -> Result<Map<String, Value>, String> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(if bytes.is_empty() {
            "is empty".to_owned()
        } else {
            "holds only whitespace".to_owned()
        });
    }
    match from_slice_deep::<Value>(bytes) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(mut other) => {
            let kind = describe(&other);
            hollow(&mut other);
            Err(format!("is {kind}, not a JSON object"))
        }
        Err(e) if e.is_eof() => Err(format!(
            "is not valid JSON: it ends too early ({e}); it may be a write that was cut short"
        )),
        Err(e) => Err(format!("is not valid JSON ({e})")),
    }
}

fn take_headers(object: &mut Map<String, Value>) -> Result<Headers, String> {
    match object.shift_remove("headers") {
        Some(Value::Object(headers)) => Ok(headers),
        None => Ok(Headers::new()),
        Some(mut other) => {
            let kind = describe(&other);
            hollow(&mut other);
            Err(format!(
                "has a `headers` member that is {kind}, not an object"
            ))
        }
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
            String::from_utf8(encode_commit(&headers, &events).unwrap()).unwrap(),
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
        let again = encode_commit(commit.headers(), commit.events()).unwrap();
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
    fn nesting_is_counted_outside_strings() {
        let cases: [(&[u8], usize); 7] = [
            (b"1", 0),
            (b"[]", 1),
            (b"{\"a\":[{},[[]]]}", 4),
            (b"[\"[[[{{{\"]", 1),
            (b"[\"\\\"[[[\"]", 1),
            (b"[\"\\\\\",[[]]]", 3),
            (b"[[[", 3),
        ];
        for (bytes, depth) in cases {
            assert_eq!(
                nesting_depth(bytes),
                depth,
                "{}",
                String::from_utf8_lossy(bytes)
            );
        }
    }

    #[test]
    fn snapshots_without_data_are_told_apart() {
        let doc = decode_snapshot(br#"{"headers":{"time":"t"}}"#).unwrap();
        assert_eq!(doc.snapshot, None);
        let doc = decode_snapshot(br#"{"headers":{},"snapshot":null}"#).unwrap();
        assert_eq!(doc.snapshot, Some(Value::Null));
        let bytes = encode_snapshot(&Headers::new(), &json!({"a": 1})).unwrap();
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
