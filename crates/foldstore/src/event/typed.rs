//! Typed events read straight from an untyped event's parts.
//!
//! A typed event is deserialized from a view of the event as the JSON object
//! [`Event::to_value`](super::Event::to_value) builds (`name`, then `data` when present, then
//! the other members), without building it: the data and the other members are read in place
//! instead of being copied into a new object first. The view behaves as that object would
//! wherever a typed event's `Deserialize` looks at it (as a map or a struct, the way serde's
//! derived types do); any other request (an enum, an option, a newtype, ...) is answered by
//! the object itself, built for that rare case, so the results and errors are the same as
//! deserializing the built object in every case.
//!
//! Data not parsed yet (an event read from a store, see [`Data`]) is read straight from its
//! text, without a `Value` in between, when that gives what its value gives for every type
//! (see `Scan::exact` in `data.rs`: no fraction, escape, whitespace, `-0` or long integer). Should that fail, the event is decoded again from the
//! parsed data, so that the error is the one deserializing the built object gives (the
//! parser's errors on text name a line and column, and text with a member written twice is
//! refused by derived types where the built object keeps the last one).

use serde::de::value::BorrowedStrDeserializer;
use serde::de::{self, DeserializeOwned, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde_json::{map, Map, Value};

use super::data::Data;
use crate::json::{clone_deep, deserialize_deep};

/// An event seen as its JSON object: `name` (a string), `data` when present, and `extra`'s
/// members (when given) in order.
#[derive(Clone, Copy)]
pub(super) struct EventObject<'a> {
    pub(super) name: &'a str,
    pub(super) data: Option<&'a Data>,
    pub(super) extra: Option<&'a Map<String, Value>>,
    /// Whether unparsed data is read from its text (else from its parsed value).
    pub(super) from_text: bool,
    /// Whether the text is read on the thread's own stack, within serde_json's limit of 128
    /// levels (else on a stack grown as needed, without that limit).
    pub(super) direct: bool,
}

/// Stack enough to read text into a typed event without growing the stack: data is kept as
/// text only when nested at most `KEPT_DEPTH` (100) levels (see `data.rs`), and serde_json's
/// own limit of 128 levels still holds when the text is read directly.
const DIRECT_STACK: usize = 1024 * 1024;

impl<'a> EventObject<'a> {
    /// Deserializes `T` from the event's object, without a copy of its data.
    pub(super) fn decode<T: DeserializeOwned>(self) -> serde_json::Result<T> {
        let from_text = self.data.and_then(Data::typed_text).is_some();
        let read =
            if from_text && stacker::remaining_stack().is_some_and(|left| left >= DIRECT_STACK) {
                // Growing the stack costs a check at every level and a wrapper around every
                // visitor: text nests too little to need it.
                T::deserialize(EventObject {
                    from_text,
                    direct: true,
                    ..self
                })
            } else {
                deserialize_deep(EventObject {
                    from_text,
                    direct: false,
                    ..self
                })
            };
        match read {
            Err(_) if from_text => deserialize_deep(EventObject {
                from_text: false,
                direct: false,
                ..self
            }),
            result => result,
        }
    }

    /// The object itself, built (for the requests the view leaves to it).
    fn build(self) -> Value {
        let extra = self.extra.map_or(0, Map::len);
        let mut object = Map::with_capacity(1 + usize::from(self.data.is_some()) + extra);
        object.insert("name".to_owned(), Value::String(self.name.to_owned()));
        if let Some(data) = self.data {
            object.insert("data".to_owned(), clone_deep(data.value()));
        }
        for (key, value) in self.extra.into_iter().flatten() {
            object.insert(key.clone(), clone_deep(value));
        }
        Value::Object(object)
    }

    /// Visits the object as a map, as `serde_json` visits a `Map` it owns: the visitor must
    /// take every member.
    fn visit<V: Visitor<'a>>(self, visitor: V) -> serde_json::Result<V::Value> {
        let data = self.data.map(|data| match data.typed_text() {
            Some(text) if self.from_text => Member::Text(text, self.direct),
            _ => Member::Value(data.value()),
        });
        let mut members = Members {
            name: Some(self.name),
            data,
            extra: self.extra.map(|extra| extra.iter()),
            value: None,
        };
        let len = members.remaining();
        let map = visitor.visit_map(&mut members)?;
        if members.remaining() == 0 {
            Ok(map)
        } else {
            Err(de::Error::invalid_length(len, &"fewer elements in map"))
        }
    }
}

/// Answers a deserializer request with the built object.
macro_rules! built {
    ($($method:ident($($arg:ident: $ty:ty),*))*) => {
        $(
            fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> serde_json::Result<V::Value> {
                self.build().$method($($arg,)* visitor)
            }
        )*
    };
}

impl<'de> Deserializer<'de> for EventObject<'de> {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> serde_json::Result<V::Value> {
        self.visit(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> serde_json::Result<V::Value> {
        self.visit(visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> serde_json::Result<V::Value> {
        self.visit(visitor)
    }

    built! {
        deserialize_bool() deserialize_i8() deserialize_i16() deserialize_i32()
        deserialize_i64() deserialize_i128() deserialize_u8() deserialize_u16()
        deserialize_u32() deserialize_u64() deserialize_u128() deserialize_f32()
        deserialize_f64() deserialize_char() deserialize_str() deserialize_string()
        deserialize_bytes() deserialize_byte_buf() deserialize_option() deserialize_unit()
        deserialize_unit_struct(name: &'static str)
        deserialize_newtype_struct(name: &'static str)
        deserialize_seq() deserialize_tuple(len: usize)
        deserialize_tuple_struct(name: &'static str, len: usize)
        deserialize_enum(name: &'static str, variants: &'static [&'static str])
        deserialize_identifier() deserialize_ignored_any()
    }
}

/// A member's value: a `Value`, or data's JSON text not parsed yet (and whether it is read
/// directly: see [`EventObject::direct`]).
#[derive(Clone, Copy)]
enum Member<'a> {
    /// The event's name: a string value, without one built for it (see [`Name`]).
    Name(&'a str),
    Value(&'a Value),
    Text(&'a str, bool),
}

/// The members of an [`EventObject`], handed out in order.
struct Members<'a> {
    name: Option<&'a str>,
    data: Option<Member<'a>>,
    extra: Option<map::Iter<'a>>,
    /// The value of the member whose name was handed out last.
    value: Option<Member<'a>>,
}

impl<'a> Members<'a> {
    fn remaining(&self) -> usize {
        usize::from(self.name.is_some())
            + usize::from(self.data.is_some())
            + self.extra.as_ref().map_or(0, ExactSizeIterator::len)
    }

    fn next_member(&mut self) -> Option<(&'a str, Member<'a>)> {
        if let Some(name) = self.name.take() {
            return Some(("name", Member::Name(name)));
        }
        if let Some(data) = self.data.take() {
            return Some(("data", data));
        }
        let (key, value) = self.extra.as_mut()?.next()?;
        Some((key.as_str(), Member::Value(value)))
    }
}

impl<'de> MapAccess<'de> for Members<'de> {
    type Error = serde_json::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> serde_json::Result<Option<K::Value>> {
        let Some((key, value)) = self.next_member() else {
            return Ok(None);
        };
        self.value = Some(value);
        seed.deserialize(BorrowedStrDeserializer::new(key))
            .map(Some)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> serde_json::Result<S::Value> {
        match self.value.take() {
            Some(Member::Name(name)) => seed.deserialize(Name(name)),
            Some(Member::Value(value)) => seed.deserialize(value),
            Some(Member::Text(text, direct)) => {
                // The text nests no deeper than a commit may. Read directly, serde_json's own
                // limit holds; else the stack grows as the seed goes down (serde_stacker wraps
                // the deserializer it is given).
                let mut deserializer = serde_json::Deserializer::from_str(text);
                if !direct {
                    deserializer.disable_recursion_limit();
                }
                seed.deserialize(&mut deserializer)
            }
            None => Err(de::Error::custom("value is missing")),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.remaining())
    }
}

/// The event's name as the string value `Value::String(name)` deserializes, without building
/// that value: the requests typed events make of a name (anything, a string, an identifier)
/// are answered as the value answers them, by lending the string; any other request is
/// answered by the built value itself.
#[derive(Clone, Copy)]
struct Name<'a>(&'a str);

/// Answers a deserializer request with the built string value.
macro_rules! built_name {
    ($($method:ident($($arg:ident: $ty:ty),*))*) => {
        $(
            fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> serde_json::Result<V::Value> {
                Value::String(self.0.to_owned()).$method($($arg,)* visitor)
            }
        )*
    };
}

impl<'de> Deserializer<'de> for Name<'de> {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> serde_json::Result<V::Value> {
        visitor.visit_borrowed_str(self.0)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> serde_json::Result<V::Value> {
        visitor.visit_borrowed_str(self.0)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> serde_json::Result<V::Value> {
        visitor.visit_borrowed_str(self.0)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> serde_json::Result<V::Value> {
        visitor.visit_borrowed_str(self.0)
    }

    built_name! {
        deserialize_bool() deserialize_i8() deserialize_i16() deserialize_i32()
        deserialize_i64() deserialize_i128() deserialize_u8() deserialize_u16()
        deserialize_u32() deserialize_u64() deserialize_u128() deserialize_f32()
        deserialize_f64() deserialize_char()
        deserialize_bytes() deserialize_byte_buf() deserialize_option() deserialize_unit()
        deserialize_unit_struct(name: &'static str)
        deserialize_newtype_struct(name: &'static str)
        deserialize_seq() deserialize_tuple(len: usize)
        deserialize_tuple_struct(name: &'static str, len: usize)
        deserialize_map()
        deserialize_struct(name: &'static str, fields: &'static [&'static str])
        deserialize_enum(name: &'static str, variants: &'static [&'static str])
        deserialize_ignored_any()
    }
}
