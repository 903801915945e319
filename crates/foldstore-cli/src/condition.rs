//! `--where`: conditions on an event's members by a path, such as `data.amount>10` or
//! `data.address.city=Oslo`.
//!
//! The grammar, in full: `PATH OP VALUE`.
//! - PATH names a member of the event as `foldstore events` prints it: `commit`, `name`,
//!   `headers.KEY`, `time` (the same as `headers.time`), `data`, `data.KEY.KEY...`, or another
//!   member of the event (`tags`), its parts joined by `.`; a part of digits indexes an array
//!   (`data.items.0.price`). A part cannot hold `.` or an operator's characters.
//! - OP is the first of `=`, `!=`, `<`, `>`, `<=`, `>=`, `~` in the expression.
//! - VALUE is the rest: read as JSON when it is JSON (`10`, `true`, `null`, `"10"`,
//!   `[1,2]`), else taken as a string (`Oslo`). Spaces around PATH and VALUE are dropped.
//!
//! What matches: `=` a value equal to VALUE (numbers by their value, so `10` is `10.0`; a
//! string equal to VALUE's text, so `data.id=7` matches `"7"` too); `!=` a value that is not;
//! `<`, `>`, `<=`, `>=` numbers against a number and strings against a string (by text, which
//! orders ISO times); `~` a string that contains VALUE's text, or an array with an element
//! equal to VALUE. An event without the path matches no condition, `!=` included.

use std::borrow::Cow;
use std::cmp::Ordering;

use foldstore::{Event, Headers};
use serde_json::{Number, Value};

/// How a condition compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Equal,
    NotEqual,
    Less,
    Greater,
    LessOrEqual,
    GreaterOrEqual,
    Contains,
}

/// One `--where` condition.
#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    /// The parts of the path.
    path: Vec<String>,
    op: Op,
    /// VALUE, read as JSON, or a string.
    value: Value,
    /// VALUE's text: a JSON string's content, else VALUE as written.
    text: String,
}

/// What `--where` accepts, for messages.
const HINT: &str = "write PATH OP VALUE, e.g. data.amount>10 or data.address.city=Oslo, with \
                    OP one of = != < > <= >= ~";

/// Parses a `--where` expression (see the module's documentation).
///
/// # Errors
/// A message for clap: no operator, an empty path or part of one, `!` without `=`.
pub fn parse_condition(expression: &str) -> Result<Condition, String> {
    let Some(at) = expression.find(['=', '!', '<', '>', '~']) else {
        return Err(format!("{expression:?} has no operator: {HINT}"));
    };
    let (path, rest) = expression.split_at(at);
    let (op, width) = match rest.as_bytes() {
        [b'!', b'=', ..] => (Op::NotEqual, 2),
        [b'<', b'=', ..] => (Op::LessOrEqual, 2),
        [b'>', b'=', ..] => (Op::GreaterOrEqual, 2),
        [b'=', ..] => (Op::Equal, 1),
        [b'<', ..] => (Op::Less, 1),
        [b'>', ..] => (Op::Greater, 1),
        [b'~', ..] => (Op::Contains, 1),
        _ => {
            return Err(format!(
                "{expression:?} has '!' without '=' (write != for \"is not\"): {HINT}"
            ))
        }
    };
    let path = path.trim();
    if path.is_empty() {
        return Err(format!(
            "{expression:?} has no path before its operator: {HINT}"
        ));
    }
    let parts: Vec<String> = path.split('.').map(str::to_owned).collect();
    if parts.iter().any(String::is_empty) {
        return Err(format!(
            "{expression:?} has an empty part in its path {path:?}: {HINT}"
        ));
    }
    let written = rest[width..].trim();
    // serde_json refuses nesting deeper than it can read: such a value is taken as text.
    let value = serde_json::from_str(written).unwrap_or_else(|_| Value::from(written));
    let text = match &value {
        Value::String(text) => text.clone(),
        _ => written.to_owned(),
    };
    Ok(Condition {
        path: parts,
        op,
        value,
        text,
    })
}

impl Condition {
    /// Whether the event, of commit `commit` with `headers`, meets the condition.
    pub fn matches(&self, commit: u64, headers: &Headers, event: &Event) -> bool {
        let Some(held) = lookup(&self.path, commit, headers, event) else {
            return false;
        };
        let held = held.as_ref();
        match self.op {
            Op::Equal => self.equals(held),
            Op::NotEqual => !self.equals(held),
            Op::Contains => match held {
                Value::String(text) => text.contains(&self.text),
                Value::Array(items) => items.iter().any(|item| self.equals(item)),
                _ => false,
            },
            Op::Less | Op::Greater | Op::LessOrEqual | Op::GreaterOrEqual => {
                let order = match (held, &self.value) {
                    (Value::Number(a), Value::Number(b)) => compare_numbers(a, b),
                    (Value::String(a), Value::String(b)) => Some(a.as_str().cmp(b.as_str())),
                    _ => None,
                };
                order.is_some_and(|order| match self.op {
                    Op::Less => order == Ordering::Less,
                    Op::Greater => order == Ordering::Greater,
                    Op::LessOrEqual => order != Ordering::Greater,
                    _ => order != Ordering::Less,
                })
            }
        }
    }

    /// Whether `held` equals VALUE: numbers by value, a string by VALUE's text, anything else
    /// as JSON.
    fn equals(&self, held: &Value) -> bool {
        match (held, &self.value) {
            (Value::Number(a), Value::Number(b)) => compare_numbers(a, b) == Some(Ordering::Equal),
            (Value::String(text), _) => *text == self.text,
            // Equality stops at the shallower side: VALUE is at most serde_json's depth.
            (held, value) => held == value,
        }
    }
}

/// Two JSON numbers in order: exactly when both are integers, else as floating point.
fn compare_numbers(a: &Number, b: &Number) -> Option<Ordering> {
    let integer = |n: &Number| {
        n.as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
    };
    match (integer(a), integer(b)) {
        (Some(a), Some(b)) => Some(a.cmp(&b)),
        _ => a.as_f64()?.partial_cmp(&b.as_f64()?),
    }
}

/// The value at `path` in the event's line (`commit`, `headers`, `name`, `data` and the
/// event's other members; `time` is `headers.time`); `None` when it has none there.
pub fn lookup<'a>(
    path: &[String],
    commit: u64,
    headers: &'a Headers,
    event: &'a Event,
) -> Option<Cow<'a, Value>> {
    let (first, rest) = path.split_first()?;
    let root: Cow<'a, Value> = match first.as_str() {
        "commit" => Cow::Owned(Value::from(commit)),
        "name" => Cow::Owned(Value::from(event.name())),
        "time" => Cow::Borrowed(headers.get("time")?),
        "headers" => {
            // A member of the headers is looked up without copying them all.
            let Some((key, rest)) = rest.split_first() else {
                return Some(Cow::Owned(Value::Object(headers.clone())));
            };
            return descend(headers.get(key)?, rest).map(Cow::Borrowed);
        }
        "data" => Cow::Borrowed(event.data()?),
        other => Cow::Borrowed(event.extra().get(other)?),
    };
    match root {
        Cow::Borrowed(value) => descend(value, rest).map(Cow::Borrowed),
        // `commit` and `name` have no members.
        Cow::Owned(value) => rest.is_empty().then_some(Cow::Owned(value)),
    }
}

/// The value at `path` inside `value`: members of objects, indexes (digits) of arrays.
pub fn descend<'a>(mut value: &'a Value, path: &[String]) -> Option<&'a Value> {
    for part in path {
        value = match value {
            Value::Object(members) => members.get(part)?,
            Value::Array(items) => items.get(part.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(data: Value) -> Event {
        Event::with_data("paid", data)
    }

    fn holds(expression: &str, data: Value) -> bool {
        let headers: Headers = json!({"user": "arjan", "n": 5, "time": "2026-11-27T15:03:30.380Z"})
            .as_object()
            .unwrap()
            .clone();
        parse_condition(expression)
            .unwrap()
            .matches(7, &headers, &event(data))
    }

    #[test]
    fn compares_numbers_strings_and_json() {
        let data = json!({"amount": 12, "city": "Oslo", "items": [{"price": 2.5}], "id": "7",
                          "big": u64::MAX, "tags": ["vip"], "none": null});
        for (expression, expected) in [
            ("data.amount>10", true),
            ("data.amount > 12", false),
            ("data.amount>=12", true),
            ("data.amount=12.0", true),
            ("data.amount!=12", false),
            ("data.amount<=11.5", false),
            ("data.city=Oslo", true),
            ("data.city = \"Oslo\"", true),
            ("data.city!=Bergen", true),
            ("data.city~sl", true),
            ("data.city<P", true),
            ("data.city>10", false),
            ("data.items.0.price<3", true),
            ("data.items.1.price<3", false),
            ("data.id=7", true),
            ("data.big=18446744073709551615", true),
            ("data.big>18446744073709551614", true),
            ("data.tags~vip", true),
            ("data.none=null", true),
            ("data.missing!=1", false),
            ("data.amount.deeper=1", false),
            ("headers.user=arjan", true),
            (r#"headers~{"n":5}"#, false),
            ("headers!=1", true),
            ("headers.n>4", true),
            ("commit=7", true),
            ("time=2026-11-27T15:03:30.380Z", true),
            ("name=paid", true),
            ("name~ai", true),
        ] {
            assert_eq!(holds(expression, data.clone()), expected, "{expression}");
        }
    }

    #[test]
    fn refuses_what_is_not_a_condition() {
        for (bad, words) in [
            ("data.amount", "has no operator"),
            ("=5", "no path"),
            ("data..x=1", "empty part"),
            ("data.x!5", "'!' without '='"),
            ("", "has no operator"),
        ] {
            let e = parse_condition(bad).unwrap_err();
            assert!(e.contains(words), "{bad}: {e}");
        }
    }

    #[test]
    fn a_value_too_deep_for_json_is_text() {
        let deep = format!("data={}{}", "[".repeat(10_000), "]".repeat(10_000));
        let condition = parse_condition(&deep).unwrap();
        assert!(condition.value.is_string());
        assert!(!condition.matches(1, &Headers::new(), &event(json!([[[]]]))));
    }
}
