//! Events: the `{"name": string, "data": any}` records a store logs.

use serde::de::{DeserializeOwned, Deserializer};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};
pub(crate) use data::Data;

use crate::json::{
    clone_deep, clone_map, from_slice_deep, hollow, hollow_map, nesting_depth, refuse_value_tokens,
    slow_path_stack, to_value_deep, Deep, MAX_NESTING,
};

mod data;
mod typed;
#[cfg(test)]
mod typed_tests;

/// The member of an event object that holds its tags (see [`Event::tags`]).
pub const TAGS_MEMBER: &str = "tags";

/// The member of an event object that holds the version of its shape (see [`Event::version`]).
pub const VERSION_MEMBER: &str = "version";

/// The headers of a commit: a JSON object, by default `{"time": "<ISO-8601 UTC>"}`.
pub type Headers = Map<String, Value>;

/// One untyped event: a name, optional JSON data, and any other members it was written with.
///
/// `data` that is absent and `data` that is `null` are different events, and stay different
/// through every read and write. Members other than `name` and `data` (written by other tools)
/// are kept. For typed events, use any serde type whose JSON form is `{"name": ..., "data": ...}`
/// (see the crate documentation) and convert with [`Event::from_typed`] and [`Event::to_typed`].
///
/// ```
/// use foldstore::Event;
/// use serde_json::json;
///
/// let moved = Event::with_data("memberHasMoved", json!({"name": "peter pan", "address": "london"}));
/// assert_eq!(moved.name(), "memberHasMoved");
/// assert_eq!(serde_json::to_string(&Event::new("heartbeat")).unwrap(), r#"{"name":"heartbeat"}"#);
/// ```
///
/// Data nested thousands of levels deep is copied and dropped without overflowing the stack;
/// a commit may be nested up to [`Commit::MAX_NESTING`](crate::Commit::MAX_NESTING) levels.
#[derive(Debug, PartialEq)]
pub struct Event {
    name: String,
    data: Option<Data>,
    extra: Map<String, Value>,
}

impl Clone for Event {
    fn clone(&self) -> Self {
        Event {
            name: self.name.clone(),
            data: self.data.clone(),
            extra: clone_map(&self.extra),
        }
    }
}

impl Drop for Event {
    fn drop(&mut self) {
        // `serde_json::Value` drops recursively: deep data is taken apart on a grown stack.
        if let Some(data) = &mut self.data {
            data.hollow();
        }
        hollow_map(&mut self.extra);
    }
}

impl Event {
    /// An event with a name and no `data` member.
    pub fn new(name: impl Into<String>) -> Self {
        Event {
            name: name.into(),
            data: None,
            extra: Map::new(),
        }
    }

    /// An event with a name and data (which may be `null`: that is not the same as no data).
    pub fn with_data(name: impl Into<String>, data: Value) -> Self {
        Event {
            name: name.into(),
            data: Some(Data::Value(data)),
            extra: Map::new(),
        }
    }

    /// The event's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The event's data: `None` when the event has no `data` member.
    ///
    /// The data of an event read from a store is parsed the first time it is asked for (and
    /// kept): readers that never look at it do not pay for it.
    pub fn data(&self) -> Option<&Value> {
        self.data.as_ref().map(Data::value)
    }

    /// The text of the event's data while it is kept as text, not parsed yet.
    pub(crate) fn unparsed_data_text(&self) -> Option<&str> {
        self.data.as_ref().and_then(Data::unparsed_text)
    }

    /// Replaces the data of an event that has data (opening sealed data), without parsing
    /// the old data if it is still text.
    pub(crate) fn replace_data(&mut self, data: Value) {
        if let Some(old) = &mut self.data {
            old.hollow();
            *old = Data::Value(data);
        }
    }

    /// Members of the event other than `name` and `data`, in the order they were written.
    pub fn extra(&self) -> &Map<String, Value> {
        &self.extra
    }

    /// The event's tags: the strings of its `tags` member (an array), in order. Tags name what
    /// an event is about (`account:7`, `member:peter pan`), so that [`Query`](crate::Query)
    /// items can select it. The original package keeps the member and ignores it. Values of
    /// the array that are not strings, or a `tags` member that is not an array (written by
    /// another program for its own purposes), are not tags.
    pub fn tags(&self) -> impl Iterator<Item = &str> {
        self.extra
            .get(TAGS_MEMBER)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
    }

    /// Whether the event carries `tag`.
    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags().any(|t| t == tag)
    }

    /// The event with these tags added (each once; tags it has are kept, first). A `tags`
    /// member that is not an array of strings is replaced; an event given no tags and without
    /// a `tags` member is left as it is.
    ///
    /// ```
    /// use foldstore::Event;
    ///
    /// let event = Event::new("deposited").tagged(["account:7"]).tagged(["account:7", "eur"]);
    /// assert_eq!(event.tags().collect::<Vec<_>>(), ["account:7", "eur"]);
    /// assert_eq!(
    ///     serde_json::to_string(&event).unwrap(),
    ///     r#"{"name":"deposited","tags":["account:7","eur"]}"#
    /// );
    /// ```
    #[must_use]
    pub fn tagged<I, T>(mut self, tags: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        let mut all: Vec<String> = self.tags().map(str::to_owned).collect();
        for tag in tags {
            let tag = tag.into();
            if !all.contains(&tag) {
                all.push(tag);
            }
        }
        if all.is_empty() && !self.extra.contains_key(TAGS_MEMBER) {
            // No tags: no member, so the document stays what it was.
            return self;
        }
        let all = Value::Array(all.into_iter().map(Value::String).collect());
        self.extra.insert(TAGS_MEMBER.to_owned(), all);
        self
    }

    /// The version of the event's shape: its `version` member, an integer from 1 to
    /// `u32::MAX`. Events written without one (by the original package, or before a writer
    /// versioned its events) are version 1; so is an event whose `version` member is anything
    /// else (written by another program for its own purposes). The original package keeps the
    /// member and ignores it. [`Upcasters`](crate::Upcasters) turn older versions into newer
    /// ones when events are read.
    ///
    /// ```
    /// use foldstore::Event;
    ///
    /// assert_eq!(Event::new("memberHasMoved").version(), 1);
    /// let moved = Event::new("memberHasMoved").versioned(3);
    /// assert_eq!(moved.version(), 3);
    /// assert_eq!(serde_json::to_string(&moved).unwrap(), r#"{"name":"memberHasMoved","version":3}"#);
    /// ```
    pub fn version(&self) -> u32 {
        self.extra
            .get(VERSION_MEMBER)
            .and_then(Value::as_u64)
            .and_then(|version| u32::try_from(version).ok())
            .filter(|&version| version >= 1)
            .unwrap_or(1)
    }

    /// The event with its `version` member set to `version` (written as given, also 1; an
    /// event without the member reads as version 1 all the same). A `version` of 0 is stored
    /// as 1: versions start at 1.
    #[must_use]
    pub fn versioned(mut self, version: u32) -> Self {
        let version = version.max(1);
        self.extra
            .insert(VERSION_MEMBER.to_owned(), Value::from(version));
        self
    }

    /// Replaces the event's name (an upcaster renaming an event it upgrades).
    #[must_use]
    pub fn renamed(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Replaces the event's data (`None`: no `data` member).
    #[must_use]
    pub fn with_new_data(mut self, data: Option<Value>) -> Self {
        if let Some(old) = &mut self.data {
            old.hollow();
        }
        self.data = data.map(Data::Value);
        self
    }

    /// The event's data, to change in place (an upcaster reshaping it): `None` when the event
    /// has no `data` member.
    pub fn data_mut(&mut self) -> Option<&mut Value> {
        self.data.as_mut().map(Data::value_mut)
    }

    /// Converts a typed event (any serde type whose JSON form is an object with a string `name`
    /// and an optional `data`) into an untyped one.
    ///
    /// # Errors
    /// [`Error::InvalidEvent`] when the value does not serialize to that shape.
    pub fn from_typed<T: Serialize + ?Sized>(event: &T) -> Result<Self> {
        let value = to_value_deep(event).map_err(|e| Error::InvalidEvent {
            problem: format!("it cannot be serialized to JSON: {e}"),
        })?;
        Event::from_value(value).map_err(|problem| Error::InvalidEvent { problem })
    }

    /// Reads an event, `{"name": string, "data": any}`, from JSON text. It may be nested as
    /// deeply as an event of a commit may be: [`Commit::MAX_NESTING`](crate::Commit::MAX_NESTING)
    /// levels less the 2 of the commit around it.
    ///
    /// # Errors
    /// [`Error::InvalidEvent`] saying what is wrong: not JSON, nested too deep, not an event.
    pub fn from_json(text: &str) -> Result<Self> {
        let value = value_from_json(text, MAX_NESTING - 2, "an event").map_err(|problem| {
            Error::InvalidEvent {
                problem: format!("the text {problem}"),
            }
        })?;
        Event::from_value(value).map_err(|problem| Error::InvalidEvent {
            problem: format!("the text {problem}"),
        })
    }

    /// Reads event data (any JSON value) from JSON text. It may be nested as deeply as an
    /// event's data in a commit may be: [`Commit::MAX_NESTING`](crate::Commit::MAX_NESTING)
    /// levels less the 3 of the commit and event around it.
    ///
    /// # Errors
    /// [`Error::InvalidEvent`] saying what is wrong: not JSON, or nested too deep.
    pub fn data_from_json(text: &str) -> Result<Value> {
        value_from_json(text, MAX_NESTING - 3, "an event's data").map_err(|problem| {
            Error::InvalidEvent {
                problem: format!("the data {problem}"),
            }
        })
    }

    /// Converts this event into a typed event, e.g. a serde enum tagged `name` with content `data`.
    ///
    /// # Errors
    /// The serde error when the name is not one of the type's or the data does not fit it.
    ///
    /// The result (or error) is that of deserializing [`to_value`](Self::to_value), the
    /// event's JSON object, but the data is read in place, not copied into a new object first
    /// (for an event read from a store whose data was not looked at yet: from its text, where
    /// that reads the same; a visitor collecting every entry of an object that names a member
    /// twice sees both entries then, and the built object's last one otherwise).
    pub fn to_typed<T: DeserializeOwned>(&self) -> serde_json::Result<T> {
        typed::EventObject {
            name: &self.name,
            data: self.data.as_ref(),
            extra: Some(&self.extra),
            from_text: true,
            direct: false,
        }
        .decode()
    }

    /// As [`to_typed`](Self::to_typed), reading the event as if it were the object of `name`
    /// and the event's data alone (its other members left out).
    pub(crate) fn to_typed_as<T: DeserializeOwned>(&self, name: &str) -> serde_json::Result<T> {
        typed::EventObject {
            name,
            data: self.data.as_ref(),
            extra: None,
            from_text: true,
            direct: false,
        }
        .decode()
    }

    /// The event as a JSON object: `name`, then `data` when present, then the other members.
    pub fn to_value(&self) -> Value {
        let mut object = Map::with_capacity(2 + self.extra.len());
        object.insert("name".to_owned(), Value::String(self.name.clone()));
        if let Some(data) = self.data() {
            object.insert("data".to_owned(), clone_deep(data));
        }
        for (key, value) in &self.extra {
            object.insert(key.clone(), clone_deep(value));
        }
        Value::Object(object)
    }

    /// An event from its parts.
    #[cfg(test)]
    pub(crate) fn from_parts(name: String, data: Option<Value>, extra: Map<String, Value>) -> Self {
        Event {
            name,
            data: data.map(Data::Value),
            extra,
        }
    }

    /// An event read from a document, its data read as text ([`Data::from_checked_text`]).
    pub(crate) fn from_data_parts(
        name: String,
        data: Option<Data>,
        extra: Map<String, Value>,
    ) -> Self {
        Event { name, data, extra }
    }

    /// Reads an event from a JSON value, saying what is wrong when it is not an event.
    pub(crate) fn from_value(value: Value) -> std::result::Result<Self, String> {
        let mut object = match value {
            Value::Object(object) => object,
            mut other => {
                let kind = describe(&other);
                hollow(&mut other);
                return Err(format!("is {kind}, not an object"));
            }
        };
        let name = match object.shift_remove("name") {
            Some(Value::String(name)) => name,
            Some(mut other) => {
                let kind = describe(&other);
                hollow(&mut other);
                hollow_map(&mut object);
                return Err(format!("has a `name` that is {kind}, not a string"));
            }
            None => {
                hollow_map(&mut object);
                return Err("has no `name`".to_owned());
            }
        };
        let data = object.shift_remove("data");
        Ok(Event {
            name,
            data: data.map(Data::Value),
            extra: object,
        })
    }
}

impl Serialize for Event {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let len = 1 + usize::from(self.data.is_some()) + self.extra.len();
        let mut map = serializer.serialize_map(Some(len))?;
        map.serialize_entry("name", &self.name)?;
        if let Some(data) = self.data() {
            map.serialize_entry("data", &Deep(data))?;
        }
        for (key, value) in &self.extra {
            map.serialize_entry(key, &Deep(value))?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Event::from_value(value)
            .map_err(|problem| serde::de::Error::custom(format!("the event {problem}")))
    }
}

/// Reads a JSON value from text nested at most `limit` levels, the most that `what` may be in
/// a commit; the error says what is wrong, phrased to follow "the text".
fn value_from_json(text: &str, limit: usize, what: &str) -> std::result::Result<Value, String> {
    let depth = nesting_depth(text.as_bytes());
    if depth > limit {
        return Err(format!(
            "is nested too deep: {depth} levels of arrays and objects, more than the {limit} levels {what} may have (foldstore reads and writes commits nested up to {MAX_NESTING} levels)"
        ));
    }
    // Values partly read from text that is not JSON are dropped where the parser stands.
    let stack = slow_path_stack(depth);
    let value = stacker::maybe_grow(stack, stack, || {
        from_slice_deep::<Value>(text.as_bytes()).map_err(|e| format!("is not valid JSON ({e})"))
    })?;
    refuse_value_tokens(text.as_bytes())?;
    Ok(value)
}

/// A short description of a JSON value's kind, for error messages.
pub(crate) fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn input_whose_members_json_readers_take_for_other_values_is_refused() {
        for text in [
            r#"{"$serde_json::private::RawValue":"[1]"}"#,
            r#"[{"a":1},{"$serde_json::private::RawValue":"{}"}]"#,
            r#"{"\u0024serde_json::private::RawValue":"[1]"}"#,
            r#"{"a":{"b":1,"$serde_json::private::RawValue":"1"}}"#,
        ] {
            let error = Event::data_from_json(text).unwrap_err().to_string();
            assert!(error.contains("serde_json::private::"), "{text}: {error}");
            let event = format!(r#"{{"name":"x","data":{text}}}"#);
            assert!(Event::from_json(&event).is_err(), "{event}");
        }
        // The name as a string, escapes elsewhere, or the name serde_json gives numbers with
        // a feature foldstore does not turn on: data as written.
        for text in [
            r#"{"note":"$serde_json::private::RawValue"}"#,
            r#"{"$serde_json::private::Number":"12","\u0041":1}"#,
            r#"["\u0041", {"$serde_json::private::":1}]"#,
        ] {
            let data = Event::data_from_json(text).unwrap();
            assert_eq!(data, serde_json::from_str::<Value>(text).unwrap(), "{text}");
        }
        assert_eq!(
            Event::data_from_json(r#"{"note":"$serde_json::private::RawValue"}"#).unwrap(),
            json!({"note": "$serde_json::private::RawValue"})
        );
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(tag = "name", content = "data", rename_all = "camelCase")]
    enum Membership {
        NewMemberRegistered { name: String },
        Heartbeat,
    }

    #[test]
    fn absent_data_and_null_data_differ() {
        let absent: Event = serde_json::from_str(r#"{"name":"a"}"#).unwrap();
        let null: Event = serde_json::from_str(r#"{"name":"a","data":null}"#).unwrap();
        assert_eq!(absent.data(), None);
        assert_eq!(null.data(), Some(&Value::Null));
        assert_eq!(serde_json::to_string(&absent).unwrap(), r#"{"name":"a"}"#);
        assert_eq!(
            serde_json::to_string(&null).unwrap(),
            r#"{"name":"a","data":null}"#
        );
    }

    #[test]
    fn no_tags_leave_the_event_as_it_was() {
        let event = Event::new("x").tagged(Vec::<String>::new());
        assert_eq!(serde_json::to_string(&event).unwrap(), r#"{"name":"x"}"#);
        let event = Event::new("x").tagged(["a"]).tagged(Vec::<String>::new());
        assert_eq!(event.tags().collect::<Vec<_>>(), ["a"]);
    }

    #[test]
    fn versions_round_trip_and_odd_members_read_as_version_1() {
        let text = r#"{"name":"a","data":{"x":1},"version":2}"#;
        let event: Event = serde_json::from_str(text).unwrap();
        assert_eq!(event.version(), 2);
        assert_eq!(serde_json::to_string(&event).unwrap(), text);
        for odd in [
            json!("2"),
            json!(0),
            json!(-3),
            json!(2.5),
            json!(u64::MAX),
            json!(u64::from(u32::MAX) + 1),
            json!(null),
            json!([2]),
        ] {
            let event = Event::from_value(json!({"name": "a", "version": odd})).unwrap();
            assert_eq!(event.version(), 1, "{odd}");
        }
        let top = Event::from_value(json!({"name": "a", "version": u32::MAX})).unwrap();
        assert_eq!(top.version(), u32::MAX);
        assert_eq!(Event::new("a").versioned(0).version(), 1);
        let renamed = Event::with_data("a", json!(1)).versioned(2).renamed("b");
        assert_eq!(
            serde_json::to_string(&renamed).unwrap(),
            r#"{"name":"b","data":1,"version":2}"#
        );
    }

    #[test]
    fn extra_members_are_kept_in_order() {
        let text = r#"{"name":"a","data":1,"z":true,"b":[1]}"#;
        let event: Event = serde_json::from_str(text).unwrap();
        assert_eq!(event.extra().keys().collect::<Vec<_>>(), ["z", "b"]);
        assert_eq!(serde_json::to_string(&event).unwrap(), text);
    }

    #[test]
    fn typed_events_round_trip() {
        let typed = Membership::NewMemberRegistered { name: "x".into() };
        let event = Event::from_typed(&typed).unwrap();
        assert_eq!(
            event,
            Event::with_data("newMemberRegistered", json!({"name": "x"}))
        );
        assert_eq!(event.to_typed::<Membership>().unwrap(), typed);
        let unit = Event::from_typed(&Membership::Heartbeat).unwrap();
        assert_eq!(unit, Event::new("heartbeat"));
        assert_eq!(
            unit.to_typed::<Membership>().unwrap(),
            Membership::Heartbeat
        );
    }

    #[test]
    fn shapes_that_are_not_events_are_refused() {
        for (value, problem) in [
            (json!(3), "is a number, not an object"),
            (json!({"data": 1}), "has no `name`"),
            (
                json!({"name": 1}),
                "has a `name` that is a number, not a string",
            ),
        ] {
            assert_eq!(Event::from_value(value).unwrap_err(), problem);
        }
        assert!(matches!(
            Event::from_typed(&"text"),
            Err(Error::InvalidEvent { .. })
        ));
    }
}
