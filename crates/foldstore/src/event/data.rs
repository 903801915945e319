//! An event's data, kept as the JSON text it was read as until it is first looked at.
//!
//! Decoding a commit checks the whole document (syntax, UTF-8, nesting), but building a
//! `serde_json::Value` of an event's data costs an allocation per member, string and array, and
//! many readers never look at the data: replays that filter by name, tags or headers, typed
//! folds that read the text straight into their own types ([`Event::to_typed`]). So the data of
//! a decoded event is kept as its text, copied out of the document in one piece, and parsed
//! into a `Value` the first time [`Event::data`] is called (once: the `Value` is kept).
//!
//! Only text whose parse cannot fail is kept that way. serde_json accepts some text while
//! skipping it that it refuses when building a `Value` (a `\u` escape of half a surrogate pair,
//! a number beyond `f64`'s range); [`keeps_as_text`] leaves any text that might hold one of
//! those to be parsed at once, so that a lazy parse never has an error to report.
//!
//! [`Event::data`]: super::Event::data
//! [`Event::to_typed`]: super::Event::to_typed

use std::sync::OnceLock;

use serde_json::Value;

use crate::json::{clone_deep, from_slice_deep, hollow};

/// Digits in a row beyond which an integer may not fit an `f64` (10^309 is the first power of
/// ten that does not): text with such a run is parsed at once.
const LONGEST_SAFE_DIGITS: usize = 300;

/// An event's data: a `Value`, or the JSON text it was read as and its `Value` once parsed.
pub(super) enum Data {
    /// Data built or changed by a program, or read from text not kept (see [`keeps_as_text`]).
    Value(Value),
    /// Data read from a commit document: compact or not, exactly as it was written there.
    Text {
        /// The JSON text: an object or an array, parsed without error (see [`keeps_as_text`]).
        text: Box<str>,
        /// The text parsed, the first time it is asked for.
        value: OnceLock<Value>,
    },
}

impl Data {
    /// Data read as `text` (a JSON value already checked by a parser): kept as text when it
    /// is an object or an array that parses without error, parsed at once otherwise.
    ///
    /// # Errors
    /// The parser's error, for text it refuses (a lone surrogate, a number out of range).
    pub(super) fn from_checked_text(text: &str) -> serde_json::Result<Data> {
        if keeps_as_text(text) {
            Ok(Data::Text {
                text: text.into(),
                value: OnceLock::new(),
            })
        } else {
            parse(text).map(Data::Value)
        }
    }

    /// The data as a `Value`, parsed now if it was not yet.
    pub(super) fn value(&self) -> &Value {
        match self {
            Data::Value(value) => value,
            Data::Text { text, value } => value.get_or_init(|| parse_kept(text)),
        }
    }

    /// The data's text when it has not been parsed yet (readers that can read the text
    /// straight into their own types do so).
    pub(super) fn unparsed_text(&self) -> Option<&str> {
        match self {
            Data::Text { text, value } if value.get().is_none() => Some(text),
            _ => None,
        }
    }

    /// The data as a `Value` to change: the text, if any, is parsed and dropped.
    pub(super) fn value_mut(&mut self) -> &mut Value {
        if let Data::Text { text, value } = self {
            let parsed = value.take().unwrap_or_else(|| parse_kept(text));
            *self = Data::Value(parsed);
        }
        match self {
            Data::Value(value) => value,
            Data::Text { value, .. } => value.get_mut().unwrap_or_else(|| unreachable!()),
        }
    }

    /// Takes deep data apart without recursion (see [`hollow`]).
    pub(super) fn hollow(&mut self) {
        match self {
            Data::Value(value) => hollow(value),
            Data::Text { value, .. } => {
                if let Some(value) = value.get_mut() {
                    hollow(value);
                }
            }
        }
    }
}

impl Clone for Data {
    fn clone(&self) -> Self {
        match self {
            Data::Value(value) => Data::Value(clone_deep(value)),
            // The copy parses its own text if it is asked for a value.
            Data::Text { text, .. } => Data::Text {
                text: text.clone(),
                value: OnceLock::new(),
            },
        }
    }
}

impl PartialEq for Data {
    fn eq(&self, other: &Self) -> bool {
        match (self.unparsed_text(), other.unparsed_text()) {
            (Some(mine), Some(theirs)) if mine == theirs => true,
            _ => self.value() == other.value(),
        }
    }
}

impl std::fmt::Debug for Data {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.value().fmt(f)
    }
}

/// Parses text [`keeps_as_text`] kept. It only keeps text that parses; were it ever wrong, the
/// data reads as `null` rather than taking the process down.
fn parse_kept(text: &str) -> Value {
    parse(text).unwrap_or_else(|error| {
        tracing::error!(%error, "event data kept as text failed to parse");
        debug_assert!(false, "event data kept as text failed to parse: {error}");
        Value::Null
    })
}

/// Stack enough for serde_json to read a value within its own limit of 128 levels.
const DIRECT_PARSE_STACK: usize = 1024 * 1024;

/// Parses JSON text (valid, and nested no deeper than a commit may be): directly when serde_json
/// reads it within its own limit of 128 levels and the thread has the stack for that, else on
/// a stack grown as needed.
fn parse(text: &str) -> serde_json::Result<Value> {
    if stacker::remaining_stack().is_some_and(|left| left >= DIRECT_PARSE_STACK) {
        if let Ok(value) = serde_json::from_str(text) {
            return Ok(value);
        }
    }
    from_slice_deep::<Value>(text.as_bytes())
}

/// Whether JSON text (a value a parser has checked) is kept as text: an object or an array
/// in which nothing can make building a `Value` fail where skipping it did not. That leaves
/// out text with a `\u` escape (it may be half a surrogate pair), a number with an exponent
/// or a run of more than [`LONGEST_SAFE_DIGITS`] digits (it may be beyond `f64`'s range).
/// Such data is rare and simply parsed at once.
pub(crate) fn keeps_as_text(text: &str) -> bool {
    let bytes = text.as_bytes();
    if !matches!(bytes.first(), Some(b'{' | b'[')) {
        return false;
    }
    let mut at = 0;
    let mut digits = 0usize;
    while let Some(&byte) = bytes.get(at) {
        at += 1;
        match byte {
            b'"' => {
                // Most of the text is in strings: skip to the string's end, or to an escape.
                digits = 0;
                loop {
                    let Some(found) = memchr::memchr2(b'"', b'\\', &bytes[at..]) else {
                        // Not reached for text a parser has checked.
                        return false;
                    };
                    at += found + 1;
                    if bytes[at - 1] == b'"' {
                        break;
                    }
                    match bytes.get(at) {
                        Some(b'u') | None => return false,
                        Some(_) => at += 1,
                    }
                }
            }
            b'0'..=b'9' => {
                digits += 1;
                if digits > LONGEST_SAFE_DIGITS {
                    return false;
                }
            }
            // An exponent follows a digit; the `e` of `true` and `false` does not.
            b'e' | b'E' if digits > 0 => return false,
            _ => digits = 0,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_that_might_not_parse_is_parsed_at_once() {
        for kept in [
            r#"{"a":1,"b":[true,false,null],"c":"e\n\"1e5\""}"#,
            "[1.5, -2, 0.25]",
            r#"{"the":"\\u0041"}"#,
        ] {
            assert!(keeps_as_text(kept), "{kept}");
            assert!(parse(kept).is_ok());
        }
        let long = format!("[{}]", "9".repeat(LONGEST_SAFE_DIGITS + 1));
        for parsed in [
            "1",
            "\"text\"",
            "null",
            r#"{"a":1e5}"#,
            r#"{"a":2E-3}"#,
            r#"["\ud800"]"#,
            r#"["\u0041"]"#,
            long.as_str(),
        ] {
            assert!(!keeps_as_text(parsed), "{parsed}");
        }
        // What the parser refuses while building a value, though it skips it.
        assert!(Data::from_checked_text(r#"["\ud800"]"#).is_err());
        assert!(Data::from_checked_text("[1e400]").is_err());
        let huge = format!("[{}]", "9".repeat(400));
        assert!(Data::from_checked_text(&huge).is_err());
    }

    #[test]
    fn text_is_parsed_once_and_changes_drop_it() {
        let mut data = Data::from_checked_text(r#"{"name":"peter pan","age":12}"#).unwrap();
        assert!(data.unparsed_text().is_some());
        let value: *const Value = data.value();
        assert!(std::ptr::eq(value, data.value()));
        assert!(data.unparsed_text().is_none());
        data.value_mut()["age"] = Value::from(13);
        assert!(matches!(data, Data::Value(_)));
        assert_eq!(data.value()["age"], 13);

        let unparsed = Data::from_checked_text("[1,2]").unwrap();
        assert_eq!(unparsed.clone(), Data::Value(serde_json::json!([1, 2])));
        assert_eq!(unparsed.value(), &serde_json::json!([1, 2]));
    }
}
