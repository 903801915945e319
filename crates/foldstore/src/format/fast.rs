//! Decoding a commit document straight into events, without building a `serde_json::Value`
//! of the whole document first (the careful path in the parent module handles what this
//! path refuses, and gives the error message).

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::event::{Data, Event, Headers};

/// A well-formed commit document: any other input is an error, without a useful message.
/// With `LAZY`, each event's data is kept as its text, to be parsed when asked for (see
/// `event/data.rs`); else it is parsed into a `Value` now.
pub(super) struct Document<const LAZY: bool> {
    pub(super) headers: Headers,
    pub(super) events: Vec<Event>,
}

impl<'de, const LAZY: bool> Deserialize<'de> for Document<LAZY> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(DocumentVisitor::<LAZY>)
    }
}

struct DocumentVisitor<const LAZY: bool>;

impl<'de, const LAZY: bool> Visitor<'de> for DocumentVisitor<LAZY> {
    type Value = Document<LAZY>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a commit document")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Document<LAZY>, A::Error> {
        let mut headers = None;
        let mut events = None;
        while let Some(key) = map.next_key_seed(Key::seed(&["headers", "events"], false))? {
            // A repeated member counts with its last value, as when parsing into a Value.
            match key {
                Key::Known(0) => headers = Some(map.next_value::<Headers>()?),
                Key::Known(_) => events = Some(map.next_value::<Events<LAZY>>()?.0),
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

struct Events<const LAZY: bool>(Vec<Event>);

impl<'de, const LAZY: bool> Deserialize<'de> for Events<LAZY> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_seq(EventsVisitor::<LAZY>)
    }
}

struct EventsVisitor<const LAZY: bool>;

impl<'de, const LAZY: bool> Visitor<'de> for EventsVisitor<LAZY> {
    type Value = Events<LAZY>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of events")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Events<LAZY>, A::Error> {
        let mut events = Vec::with_capacity(seq.size_hint().unwrap_or(1));
        while let Some(FastEvent::<LAZY>(event)) = seq.next_element()? {
            events.push(event);
        }
        Ok(Events(events))
    }
}

struct FastEvent<const LAZY: bool>(Event);

impl<'de, const LAZY: bool> Deserialize<'de> for FastEvent<LAZY> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(EventVisitor::<LAZY>)
    }
}

struct EventVisitor<const LAZY: bool>;

impl<'de, const LAZY: bool> Visitor<'de> for EventVisitor<LAZY> {
    type Value = FastEvent<LAZY>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an event")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FastEvent<LAZY>, A::Error> {
        let mut name = None;
        let mut data = None;
        let mut extra = Map::new();
        while let Some(key) = map.next_key_seed(Key::seed(&["name", "data"], true))? {
            match key {
                Key::Known(0) => name = Some(map.next_value::<String>()?),
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
        Ok(FastEvent(Event::from_data_parts(name, data, extra)))
    }
}
