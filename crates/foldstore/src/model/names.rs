//! Matching event names to the variants of a typed event enum, with the original's rule.
//!
//! The original package finds the handler of event `fooBar` by upper-casing the first letter of
//! the name (`onFooBar`), so `fooBar` and `FooBar` reach the same handler. foldstore learns the
//! names an event type accepts once per model, by asking serde, and maps each name written in a
//! log to one of them by the same rule.

use std::fmt;

use serde::de::value::MapDeserializer;
use serde::de::{self, DeserializeOwned};

/// The event names a typed event enum accepts, or none for an untyped event type.
#[derive(Clone, Debug)]
pub(crate) struct EventNames {
    variants: Option<&'static [&'static str]>,
}

/// How an event name written in the log relates to the model's event type.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Matched<'a> {
    /// The type accepts every name (untyped events), or this exact one.
    Exact,
    /// The type accepts this spelling of the name (the first letter's case differs).
    Respelled(&'a str),
    /// The type has no variant of that name: the fallback handler's, if any.
    Unknown,
}

impl EventNames {
    /// Learns the names `T` accepts, when `T` is an enum tagged by name.
    pub(crate) fn of<T: DeserializeOwned>() -> Self {
        let probe = MapDeserializer::<_, Probe>::new(
            [("name", "\u{1}foldstore name probe"), ("data", "")].into_iter(),
        );
        let variants = match T::deserialize(probe) {
            Err(Probe(variants)) => variants,
            Ok(_) => None,
        };
        EventNames { variants }
    }

    /// Whether the event type is an enum whose names foldstore knows.
    pub(crate) fn is_typed(&self) -> bool {
        self.variants.is_some()
    }

    /// Finds the variant that handles `name`.
    pub(crate) fn find<'s>(&'s self, name: &str) -> Matched<'s> {
        let Some(variants) = self.variants else {
            return Matched::Exact;
        };
        if variants.contains(&name) {
            return Matched::Exact;
        }
        let mut chars = name.chars();
        let Some(first) = chars.next() else {
            return Matched::Unknown;
        };
        let rest = chars.as_str();
        variants
            .iter()
            .find(|variant| {
                let mut v = variant.chars();
                v.next().is_some_and(|vf| {
                    vf != first
                        && (vf.to_uppercase().eq(first.to_uppercase()))
                        && v.as_str() == rest
                })
            })
            .map_or(Matched::Unknown, |variant| Matched::Respelled(variant))
    }
}

/// A deserializer error that records the variant names serde reports for an unknown variant.
#[derive(Debug)]
struct Probe(Option<&'static [&'static str]>);

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("event name probe")
    }
}

impl std::error::Error for Probe {}

impl de::Error for Probe {
    fn custom<T: fmt::Display>(_message: T) -> Self {
        Probe(None)
    }

    fn unknown_variant(_variant: &str, expected: &'static [&'static str]) -> Self {
        Probe(Some(expected))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize)]
    #[serde(tag = "name", content = "data", rename_all = "camelCase")]
    #[allow(dead_code)]
    enum Members {
        NewMemberRegistered {
            name: String,
        },
        MemberHasMoved(String),
        Heartbeat,
        #[serde(rename = "Odd")]
        Odd,
    }

    #[test]
    fn typed_enums_reveal_their_names() {
        let names = EventNames::of::<Members>();
        assert!(names.is_typed());
        assert_eq!(names.find("memberHasMoved"), Matched::Exact);
        assert_eq!(
            names.find("MemberHasMoved"),
            Matched::Respelled("memberHasMoved")
        );
        assert_eq!(names.find("odd"), Matched::Respelled("Odd"));
        assert_eq!(names.find("membeRHasMoved"), Matched::Unknown);
        assert_eq!(names.find(""), Matched::Unknown);
        assert_eq!(names.find("ping"), Matched::Unknown);
    }

    #[test]
    fn untyped_events_accept_every_name() {
        let names = EventNames::of::<crate::event::Event>();
        assert!(!names.is_typed());
        assert_eq!(names.find("anything"), Matched::Exact);
        assert!(!EventNames::of::<serde_json::Value>().is_typed());
    }
}
