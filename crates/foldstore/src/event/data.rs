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
//! a number beyond `f64`'s range); [`Scan`] leaves any text that might hold one of those to
//! be parsed at once, so that a lazy parse never has an error to report. Skipping does not
//! check nesting either: data nested deeper than [`KEPT_DEPTH`] is not kept, and its document
//! is read the careful way.
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
pub(crate) enum Data {
    /// Data built or changed by a program, or read from text not kept (see [`Scan`]).
    Value(Value),
    /// Data read from a commit document: compact or not, exactly as it was written there.
    Text {
        /// The JSON text: an object or an array, parsed without error (see [`Scan`]).
        text: Box<str>,
        /// The text parsed, the first time it is asked for.
        value: OnceLock<Value>,
        /// Whether typed events may be read from the text itself (see [`Scan::exact`]).
        exact: bool,
    },
}

impl Data {
    /// Data read as `text` (a JSON value a parser has skipped, which checks its syntax but not
    /// everything building a value checks): kept as text when it is an object or an array
    /// that parses without error, parsed at once otherwise.
    ///
    /// # Errors
    /// The parser's error, for text it refuses (a lone surrogate, a number out of range), and
    /// an error for text nested more than [`KEPT_DEPTH`] levels: the whole document is then
    /// read the careful way, which checks its nesting (skipping does not).
    pub(crate) fn from_checked_text(text: &str) -> serde_json::Result<Data> {
        let scan = Scan::of(text);
        if scan.depth > KEPT_DEPTH {
            return Err(serde::de::Error::custom(
                "event data nested too deep to keep as text",
            ));
        }
        if scan.kept {
            Ok(Data::Text {
                text: text.into(),
                value: OnceLock::new(),
                exact: scan.exact,
            })
        } else {
            parse(text).map(Data::Value)
        }
    }

    /// The data as a `Value`, parsed now if it was not yet.
    pub(super) fn value(&self) -> &Value {
        match self {
            Data::Value(value) => value,
            Data::Text { text, value, .. } => value.get_or_init(|| parse_kept(text)),
        }
    }

    /// The data's text when it has not been parsed yet (readers that can read the text
    /// straight into their own types do so).
    pub(super) fn unparsed_text(&self) -> Option<&str> {
        match self {
            Data::Text { text, value, .. } if value.get().is_none() => Some(text),
            _ => None,
        }
    }

    /// The data's text when it has not been parsed yet and typed events read from it are
    /// those read from its value (see [`Scan::exact`]).
    pub(super) fn typed_text(&self) -> Option<&str> {
        match self {
            Data::Text {
                text,
                value,
                exact: true,
            } if value.get().is_none() => Some(text),
            _ => None,
        }
    }

    /// The data as a `Value` to change: the text, if any, is parsed and dropped.
    pub(super) fn value_mut(&mut self) -> &mut Value {
        if let Data::Text { text, value, .. } = self {
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
            Data::Text { text, exact, .. } => Data::Text {
                text: text.clone(),
                value: OnceLock::new(),
                exact: *exact,
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

/// Parses text [`Scan`] kept. It only keeps text that parses; were it ever wrong, the
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

/// Data nested deeper than this is not kept as text: the document is read the careful way,
/// which checks its nesting. (The fast reader of documents stops at 128 levels, and data
/// starts 3 levels down; skipping a value checks no depth at all.)
pub(crate) const KEPT_DEPTH: usize = 100;

/// Digits in a row from which an integer may not be an `i64` or a `u64` (read from a value it
/// is a float; read from text into a 128-bit integer, it is exact).
const LONGEST_EXACT_DIGITS: usize = 18;

/// What one pass over data's text (a value a parser has skipped) finds.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Scan {
    /// Whether the text is kept as text: an object or an array in which nothing can make
    /// building a `Value` fail where skipping it did not. That leaves out text with a `\u`
    /// escape (it may be half a surrogate pair), a number with an exponent or a run of more
    /// than [`LONGEST_SAFE_DIGITS`] digits (it may be beyond `f64`'s range). Such data is
    /// rare and simply parsed at once.
    pub(crate) kept: bool,
    /// Whether a typed event read from the text is the one read from its value, for every
    /// type: kept, and with no escape at all, no whitespace outside strings, no fraction (a
    /// float read into an `f32` from text is rounded once, from a value twice), no `-0` and no
    /// integer of more than [`LONGEST_EXACT_DIGITS`] digits (read into a 128-bit integer from
    /// text, they are exact; from a value, floats). Other text is read into typed events
    /// through its value.
    pub(crate) exact: bool,
    /// The deepest nesting of arrays and objects in it.
    pub(crate) depth: usize,
}

impl Scan {
    pub(crate) fn of(text: &str) -> Scan {
        let bytes = text.as_bytes();
        let mut scan = Scan {
            kept: matches!(bytes.first(), Some(b'{' | b'[')),
            exact: true,
            depth: 0,
        };
        let mut depth = 0usize;
        let mut at = 0;
        let mut digits = 0usize;
        let mut after_minus = false;
        while let Some(&byte) = bytes.get(at) {
            at += 1;
            let minus = byte == b'-';
            match byte {
                b'"' => loop {
                    // Most of the text is in strings: skip to the string's end, or to an
                    // escape.
                    let Some(found) = memchr::memchr2(b'"', b'\\', &bytes[at..]) else {
                        // Not reached for text a parser has checked.
                        scan.kept = false;
                        return scan;
                    };
                    at += found + 1;
                    if bytes[at - 1] == b'"' {
                        break;
                    }
                    scan.exact = false;
                    match bytes.get(at) {
                        Some(b'u') | None => scan.kept = false,
                        Some(_) => at += 1,
                    }
                },
                b'0'..=b'9' => {
                    if after_minus && byte == b'0' {
                        scan.exact = false;
                    }
                    digits += 1;
                    if digits > LONGEST_EXACT_DIGITS {
                        scan.exact = false;
                    }
                    if digits > LONGEST_SAFE_DIGITS {
                        scan.kept = false;
                    }
                    after_minus = false;
                    continue;
                }
                b'[' | b'{' => {
                    depth += 1;
                    scan.depth = scan.depth.max(depth);
                }
                b']' | b'}' => depth = depth.saturating_sub(1),
                // An exponent follows a digit; the `e` of `true` and `false` does not.
                b'e' | b'E' if digits > 0 => scan.kept = false,
                b'.' => scan.exact = false,
                b' ' | b'\t' | b'\n' | b'\r' => scan.exact = false,
                _ => {}
            }
            after_minus = minus;
            digits = 0;
        }
        // serde_json's `Value` reads an object whose first member has this name as JSON text
        // held in a string (its `raw_value` feature), not as it looks: such text is parsed at
        // once, as when the document is read whole. (Written with an escape, it is not kept
        // already.)
        if scan.kept && crate::json::raw_value_token().find(bytes).is_some() {
            scan.kept = false;
        }
        scan.exact &= scan.kept;
        scan
    }
}

/// Whether JSON text (a value a parser has skipped) is kept as text (see [`Scan::kept`]).
#[cfg(test)]
fn keeps_as_text(text: &str) -> bool {
    Scan::of(text).kept
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
            r#"{"$serde_json::private::RawValue":"[1]"}"#,
            r#"[{"$serde_json::private::RawValue":1}]"#,
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
    fn documents_read_with_data_as_text_are_refused_or_read_as_when_read_whole() {
        use crate::format::{decode_commit, decode_commit_lazy};
        let nested = |depth: usize| {
            format!(
                r#"{{"events":[{{"name":"x","data":{}1{}}}]}}"#,
                "[".repeat(depth),
                "]".repeat(depth)
            )
        };
        let documents = [
            // Deeper than text is kept, within what a commit may hold: read whole.
            nested(KEPT_DEPTH + 1),
            nested(150),
            // Deeper than a commit may be: damage either way (skipping checks no depth).
            nested(crate::json::MAX_NESTING + 10),
            // A `data` member written twice: the first is checked too, as when read whole.
            r#"{"events":[{"name":"a","data":[1e400],"data":{"ok":1}}]}"#.to_owned(),
            r#"{"events":[{"name":"a","data":["\ud800"],"data":{"ok":1}}]}"#.to_owned(),
            r#"{"events":[{"name":"a","data":[1],"data":{"ok":1}}]}"#.to_owned(),
            r#"{"events":[{"name":"a","data":{"a":-0,"b":1.50,"c":"\/"}}]}"#.to_owned(),
            // Read by serde_json's `Value` as the JSON text in the string, or refused.
            r#"{"events":[{"name":"a","data":{"$serde_json::private::RawValue":"[1]"}}]}"#
                .to_owned(),
            r#"{"events":[{"name":"a","data":[{"$serde_json::private::RawValue":1}]}]}"#.to_owned(),
        ];
        for document in &documents {
            let whole = decode_commit(1, document.as_bytes());
            let lazy = decode_commit_lazy(1, document.as_bytes());
            match (&whole, &lazy) {
                (Ok(whole), Ok(lazy)) => {
                    assert_eq!(whole.events()[0].data(), lazy.events()[0].data());
                }
                (Err(whole), Err(lazy)) => assert_eq!(whole, lazy),
                _ => panic!(
                    "{}: read whole {:?}, with data as text {:?}",
                    &document[..document.len().min(80)],
                    whole.is_ok(),
                    lazy.is_ok()
                ),
            }
        }
    }

    #[test]
    fn typed_events_are_read_from_text_only_where_they_read_as_from_the_value() {
        for (text, exact) in [
            (r#"{"name":"peter pan","age":12,"tags":[true,null]}"#, true),
            (r#"{"ratio":1.5}"#, false),
            (r#"{"n":-0}"#, false),
            (r#"{"n":-7}"#, true),
            (r#"{"n":1234567890123456789}"#, false),
            (r#"{"n":123456789012345678}"#, true),
            (r#"{"s":"a\/b"}"#, false),
            (r#"{ "n": 1 }"#, false),
            ("[\"2024-01-01\"]", true),
        ] {
            let scan = Scan::of(text);
            assert!(scan.kept, "{text}");
            assert_eq!(scan.exact, exact, "{text}");
        }
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
