//! Decoding a commit document straight into events, without building a `serde_json::Value`
//! of the whole document first (the careful path in the parent module handles what this
//! path refuses, and gives the error message).

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::FoundSealed;
use crate::event::{Data, Event, Headers};
use crate::forget::{is_sealed_form, read_data_text, DataText, SealedMembers, SEALED_MEMBER};
use crate::json::RAW_VALUE_NAME;

/// A well-formed commit document: any other input is an error, without a useful message.
/// With `LAZY`, each event's data is kept as its text, to be parsed when asked for (see
/// `event/data.rs`); else it is parsed into a `Value` now. With `SEALED` (a replay's reading
/// threads, which open sealed data), sealed data is neither kept nor parsed: its form is read from the text into
/// `sealed`, to be opened from there, and the event holds `null` until then; data that might
/// be a sealed form written otherwise makes the document one this path refuses.
pub(super) struct Document<'de, const LAZY: bool, const SEALED: bool> {
    pub(super) headers: Headers,
    pub(super) events: Vec<Event>,
    /// The sealed forms found, with their event's index.
    pub(super) sealed: FoundSealed<'de>,
}

impl<'de, const LAZY: bool, const SEALED: bool> Deserialize<'de> for Document<'de, LAZY, SEALED> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(DocumentVisitor::<LAZY, SEALED>)
    }
}

struct DocumentVisitor<const LAZY: bool, const SEALED: bool>;

impl<'de, const LAZY: bool, const SEALED: bool> Visitor<'de> for DocumentVisitor<LAZY, SEALED> {
    type Value = Document<'de, LAZY, SEALED>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a commit document")
    }

    fn visit_map<A: MapAccess<'de>>(
        self,
        mut map: A,
    ) -> Result<Document<'de, LAZY, SEALED>, A::Error> {
        let mut headers = None;
        let mut events = None;
        while let Some(key) = map.next_key_seed(Key::seed(&["headers", "events"], false))? {
            // A repeated member counts with its last value, as when parsing into a Value.
            match key {
                Key::Known(0) => headers = Some(map.next_value::<Headers>()?),
                Key::Known(_) => events = Some(map.next_value::<Events<'de, LAZY, SEALED>>()?),
                Key::Other(_) => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let events = events.ok_or_else(|| de::Error::missing_field("events"))?;
        Ok(Document {
            headers: headers.unwrap_or_default(),
            events: events.events,
            sealed: events.sealed,
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

struct Events<'de, const LAZY: bool, const SEALED: bool> {
    events: Vec<Event>,
    sealed: FoundSealed<'de>,
}

impl<'de, const LAZY: bool, const SEALED: bool> Deserialize<'de> for Events<'de, LAZY, SEALED> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_seq(EventsVisitor::<LAZY, SEALED>)
    }
}

struct EventsVisitor<const LAZY: bool, const SEALED: bool>;

impl<'de, const LAZY: bool, const SEALED: bool> Visitor<'de> for EventsVisitor<LAZY, SEALED> {
    type Value = Events<'de, LAZY, SEALED>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of events")
    }

    fn visit_seq<A: SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> Result<Events<'de, LAZY, SEALED>, A::Error> {
        let mut events = Vec::with_capacity(seq.size_hint().unwrap_or(1));
        let mut sealed = FoundSealed::default();
        while let Some(FastEvent::<'de, LAZY, SEALED>(event, form)) = seq.next_element()? {
            if let Some(form) = form {
                sealed.push(events.len(), form);
            }
            events.push(event);
        }
        Ok(Events { events, sealed })
    }
}

/// An event, and its sealed form when it was read from the text (see [`Document`]).
struct FastEvent<'de, const LAZY: bool, const SEALED: bool>(Event, Option<SealedMembers<'de>>);

impl<'de, const LAZY: bool, const SEALED: bool> Deserialize<'de> for FastEvent<'de, LAZY, SEALED> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(EventVisitor::<LAZY, SEALED>)
    }
}

struct EventVisitor<const LAZY: bool, const SEALED: bool>;

impl<'de, const LAZY: bool, const SEALED: bool> Visitor<'de> for EventVisitor<LAZY, SEALED> {
    type Value = FastEvent<'de, LAZY, SEALED>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an event")
    }

    fn visit_map<A: MapAccess<'de>>(
        self,
        mut map: A,
    ) -> Result<FastEvent<'de, LAZY, SEALED>, A::Error> {
        let mut name = None;
        let mut data = None;
        let mut sealed = None;
        let mut extra = Map::new();
        while let Some(key) = map.next_key_seed(Key::seed(&["name", "data"], true))? {
            match key {
                Key::Known(0) => name = Some(map.next_value::<String>()?),
                // Read in one pass: what is not sealed is read as it is without a key store.
                Key::Known(_) if SEALED && !LAZY => {
                    (data, sealed) = match map.next_value_seed(SealedOrValue)? {
                        DataRead::Sealed(form) => (Some(Data::Value(Value::Null)), Some(form)),
                        DataRead::Value(value) => (Some(Data::Value(value)), None),
                    };
                }
                Key::Known(_) if SEALED => {
                    let text = map.next_value::<&'de RawValue>()?.get();
                    (data, sealed) = read_kept_data(text)?;
                }
                // The data's text is checked here (each time the member is written, as a
                // value is) and parsed when it is asked for.
                Key::Known(_) if LAZY => {
                    let text = map.next_value::<&'de RawValue>()?;
                    data = Some(Data::from_checked_text(text.get()).map_err(de::Error::custom)?);
                }
                Key::Known(_) => data = Some(Data::Value(map.next_value::<Value>()?)),
                Key::Other(key) => {
                    let value = map.next_value::<Value>()?;
                    extra.insert(key, value);
                }
            }
        }
        let name = name.ok_or_else(|| de::Error::missing_field("name"))?;
        Ok(FastEvent(Event::from_data_parts(name, data, extra), sealed))
    }
}

/// An event's data from its text `text`, for a replay that keeps data as text (see
/// [`Document`]): a sealed form as its parts (the data `null` until it is
/// opened), other data kept as text as it would be without a key store.
#[allow(clippy::type_complexity)]
fn read_kept_data<'de, E: de::Error>(
    text: &'de str,
) -> Result<(Option<Data>, Option<SealedMembers<'de>>), E> {
    let data = match read_data_text(text) {
        DataText::Sealed(form) => return Ok((Some(Data::Value(Value::Null)), Some(form))),
        DataText::Unsure => return Err(de::Error::custom("data read the careful way")),
        DataText::Plain => Data::from_checked_text(text).map_err(de::Error::custom)?,
    };
    // The sealed member's name written with escapes shows in the value only (text with
    // escapes is not kept, but parsed).
    if let Data::Value(value) = &data {
        if is_sealed_form(value) {
            return Err(de::Error::custom("data read the careful way"));
        }
    }
    Ok((Some(data), None))
}

/// An event's data read in one pass, for a replay's reading threads: the sealed form's parts,
/// or any other data as a `Value`, exactly as `Value` reads it. An object whose first member
/// is the sealed member is the sealed form only when it has no other member and its member
/// holds exactly the four parts as strings without escapes (every byte of it then read and
/// checked); otherwise it is an error, and the document is read the careful way, which
/// decides what it is.
enum DataRead<'de> {
    Sealed(SealedMembers<'de>),
    Value(Value),
}

/// Reads [`DataRead`].
struct SealedOrValue;

impl<'de> DeserializeSeed<'de> for SealedOrValue {
    type Value = DataRead<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<DataRead<'de>, D::Error> {
        deserializer.deserialize_any(self)
    }
}

/// The member names [`SealedOrValue`] looks for first: the sealed member, and those with
/// which serde_json hands a `Value` something other than an object: JSON text held in a
/// string (its `raw_value` feature, see `json::raw_value_token`), and a number as its text
/// (its `arbitrary_precision` feature, which a program using foldstore may turn on). Data
/// starting with the latter two is read the careful way, by `Value` itself.
const FIRST_MEMBERS: [&str; 3] = [
    SEALED_MEMBER,
    RAW_VALUE_NAME,
    "$serde_json::private::Number",
];

impl<'de> Visitor<'de> for SealedOrValue {
    type Value = DataRead<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("event data")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<DataRead<'de>, A::Error> {
        let careful = || de::Error::custom("data read the careful way");
        let first = map.next_key_seed(Key::seed(&FIRST_MEMBERS, true))?;
        let mut object = Map::new();
        match first {
            None => return Ok(DataRead::Value(Value::Object(object))),
            Some(Key::Known(0)) => {
                // Strings with escapes are not read as borrowed ones: an error here too.
                let form = map.next_value::<SealedMembers<'de>>()?;
                if form.has_others() || map.next_key::<IgnoredAny>()?.is_some() {
                    return Err(careful());
                }
                return Ok(DataRead::Sealed(form));
            }
            Some(Key::Known(_)) => return Err(careful()),
            Some(Key::Other(name)) => {
                object.insert(name, map.next_value::<Value>()?);
            }
        }
        while let Some(name) = map.next_key::<String>()? {
            object.insert(name, map.next_value::<Value>()?);
        }
        // (No sealed form: its only member would be the first one.)
        Ok(DataRead::Value(Value::Object(object)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<DataRead<'de>, A::Error> {
        Value::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(DataRead::Value)
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<DataRead<'de>, E> {
        Ok(DataRead::Value(Value::Bool(value)))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<DataRead<'de>, E> {
        Ok(DataRead::Value(Value::from(value)))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<DataRead<'de>, E> {
        Ok(DataRead::Value(Value::from(value)))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<DataRead<'de>, E> {
        Ok(DataRead::Value(Value::from(value)))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<DataRead<'de>, E> {
        Ok(DataRead::Value(Value::String(value.to_owned())))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<DataRead<'de>, E> {
        Ok(DataRead::Value(Value::String(value)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<DataRead<'de>, E> {
        Ok(DataRead::Value(Value::Null))
    }
}
