//! Selecting commits and events: time windows (`--since`, `--until`), event names (`--name`)
//! and tags (`--tag`), and the queries these make for the store's index.

use std::time::{Duration, SystemTime};

use serde_json::Value;

use foldstore::{same_name, Commit, Event, Headers, Query, QueryItem};

use crate::condition::Condition;

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

/// A time given on the command line, with the precision it was written with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimeArg {
    /// The start of the time written.
    at: SystemTime,
    /// How long the unit written lasts: a day for a date, a second for whole seconds, a
    /// millisecond for `.380`, and so on.
    span: Duration,
}

impl TimeArg {
    /// The start of the time written (`--before 2026-01-01`: midnight, UTC).
    pub fn start(&self) -> SystemTime {
        self.at
    }
}

/// The span of a relative time, or of a time with nanoseconds: an instant.
const INSTANT: Duration = Duration::from_nanos(1);

/// Parses a time: RFC 3339 (`2026-11-27T15:03:30Z`, `2026-11-27T15:03:30.380Z`, with `T` or a
/// space; UTC unless it ends with an offset such as `+01:00`), a date (`2026-11-27`, UTC), or a
/// time relative to now (`90s`, `15m`, `1h`, `2d`, `1w`, `1h 30m`, optionally followed by
/// `ago`).
///
/// # Errors
/// A message for clap saying what is accepted.
pub fn parse_time(text: &str) -> Result<TimeArg, String> {
    parse_time_at(text, SystemTime::now())
}

/// [`parse_time`], with relative times counted back from `now`.
fn parse_time_at(text: &str, now: SystemTime) -> Result<TimeArg, String> {
    let hint = "use a time such as 2026-11-27T15:03:30Z, 2026-11-27T15:03:30.380+01:00, a \
                date such as 2026-11-27 (UTC), or a time ago such as 1h, 2d or 30m";
    if let Some(ago) = relative(text) {
        let since_1970 = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        if ago > since_1970 {
            return Err(format!("{text:?} ago is before 1970: {hint}"));
        }
        let at = now - ago;
        return Ok(TimeArg { at, span: INSTANT });
    }
    let is_date = text.len() == 10 && text.as_bytes()[4] == b'-' && text.as_bytes()[7] == b'-';
    let (local, offset) =
        split_offset(text).map_err(|problem| format!("{text:?} {problem}: {hint}"))?;
    let (full, span) = if is_date {
        (format!("{text}T00:00:00Z"), DAY)
    } else {
        let fraction = local.split_once('.').map_or(0, |(_, rest)| {
            rest.bytes().take_while(u8::is_ascii_digit).count()
        });
        let nanos = 10u64.pow(9u32.saturating_sub(u32::try_from(fraction).unwrap_or(9)));
        (local.to_owned(), Duration::from_nanos(nanos))
    };
    let at = humantime::parse_rfc3339_weak(&full)
        .map_err(|e| format!("{text:?} is not a time ({e}): {hint}"))?;
    // The time written is `offset` seconds ahead of UTC.
    let at = if offset >= 0 {
        at.checked_sub(Duration::from_secs(offset.unsigned_abs()))
    } else {
        at.checked_add(Duration::from_secs(offset.unsigned_abs()))
    }
    .ok_or_else(|| format!("{text:?} is out of range: {hint}"))?;
    Ok(TimeArg { at, span })
}

/// The length of a relative time (`1h`, `2d`, `1h 30m ago`): text that begins with a digit
/// and is no date or time.
fn relative(text: &str) -> Option<Duration> {
    let text = text.trim();
    let text = text.strip_suffix("ago").unwrap_or(text).trim_end();
    if !text.starts_with(|c: char| c.is_ascii_digit()) || text.contains([':', '-']) {
        return None;
    }
    humantime::parse_duration(text).ok()
}

/// A time without its offset from UTC, and the offset in seconds (east of UTC positive): `Z`,
/// nothing (UTC) or `+HH:MM`/`-HH:MM` at the end of a time.
fn split_offset(text: &str) -> Result<(&str, i64), String> {
    let Some(time) = text.get(10..) else {
        return Ok((text, 0));
    };
    let Some(sign_at) = time.rfind(['+', '-']) else {
        return Ok((text, 0));
    };
    let (local, offset) = text.split_at(10 + sign_at);
    let digits = offset.as_bytes();
    let well_formed = digits.len() == 6
        && digits[3] == b':'
        && [1, 2, 4, 5].iter().all(|&i| digits[i].is_ascii_digit());
    if !well_formed {
        return Err(format!("has an offset {offset:?} not written as +HH:MM"));
    }
    let number = |at: usize| i64::from(digits[at] - b'0') * 10 + i64::from(digits[at + 1] - b'0');
    let (hours, minutes) = (number(1), number(4));
    if hours > 23 || minutes > 59 {
        return Err(format!("has an offset {offset:?} beyond 23:59"));
    }
    let seconds = hours * 3600 + minutes * 60;
    Ok((local, if digits[0] == b'+' { seconds } else { -seconds }))
}

/// What to select from a log.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    /// Commits at or after this time.
    pub since: Option<TimeArg>,
    /// Commits at or before this time (within the unit written).
    pub until: Option<TimeArg>,
    /// Event names; empty selects every name.
    pub names: Vec<String>,
    /// Whether names match only as spelled (else by the original's first-letter rule).
    pub exact_names: bool,
    /// The most to print (events or commits); `None`: all.
    pub limit: Option<u64>,
    /// Headers (key, value) every selected commit holds.
    pub headers: Vec<(String, String)>,
    /// Conditions (`--where`) every selected event meets.
    pub conditions: Vec<Condition>,
}

impl Selection {
    /// Whether the commit's time is in the window and its headers hold every header selected.
    /// With no window every commit's time is in it; with one, a commit without a readable
    /// `time` header is not.
    pub fn commit_headers_match(&self, commit: &Commit) -> bool {
        self.window_holds(|| commit.time()) && self.headers_hold(commit.headers())
    }

    /// Whether the time in `headers` (a commit's) is in the window and they hold every header
    /// selected, as [`Self::commit_headers_match`].
    pub fn headers_match(&self, headers: &Headers) -> bool {
        self.window_holds(|| {
            let text = headers.get("time")?.as_str()?;
            humantime::parse_rfc3339_weak(text).ok()
        }) && self.headers_hold(headers)
    }

    /// Whether `headers` hold every header selected: a string equal to the value given, or a
    /// number, `true`, `false` or `null` whose JSON text is (`--header n=5` matches the number
    /// 5); an object or array never matches.
    fn headers_hold(&self, headers: &Headers) -> bool {
        self.headers.iter().all(|(key, value)| {
            headers.get(key).is_some_and(|held| match held {
                Value::String(text) => text == value,
                Value::Number(number) => value
                    .parse::<serde_json::Number>()
                    .is_ok_and(|n| n == *number),
                Value::Bool(true) => value == "true",
                Value::Bool(false) => value == "false",
                Value::Null => value == "null",
                Value::Array(_) | Value::Object(_) => false,
            })
        })
    }

    /// Whether the time `time` reads is in the window (it is not read when there is none).
    fn window_holds(&self, time: impl FnOnce() -> Option<SystemTime>) -> bool {
        if self.since.is_none() && self.until.is_none() {
            return true;
        }
        let Some(time) = time() else {
            return false;
        };
        let after_since = self.since.as_ref().is_none_or(|since| time >= since.at);
        let before_until = self
            .until
            .as_ref()
            .is_none_or(|until| time < until.at + until.span);
        after_since && before_until
    }

    /// Whether the event has one of the names (or no names are selected), by the original
    /// package's rule (`memberHasMoved` and `MemberHasMoved` are one name), or as spelled
    /// with `exact_names`.
    pub fn name_matches(&self, event: &Event) -> bool {
        self.names.is_empty()
            || self.names.iter().any(|name| {
                if self.exact_names {
                    name == event.name()
                } else {
                    same_name(name, event.name())
                }
            })
    }

    /// Whether the event, of commit `commit` with `headers`, has one of the names (see
    /// [`Self::name_matches`]) and meets every `--where` condition.
    pub fn event_matches(&self, commit: u64, headers: &Headers, event: &Event) -> bool {
        self.name_matches(event)
            && self
                .conditions
                .iter()
                .all(|condition| condition.matches(commit, headers, event))
    }

    /// Whether `printed` (events or commits) is as many as may be printed.
    pub fn limit_reached(&self, printed: u64) -> bool {
        self.limit.is_some_and(|limit| printed >= limit)
    }

    /// Whether the commit is in the window and, when names or conditions are selected, has at
    /// least one event that matches them (with neither, a commit without events is selected
    /// too).
    pub fn commit_matches(&self, commit: &Commit) -> bool {
        self.commit_headers_match(commit)
            && ((self.names.is_empty() && self.conditions.is_empty())
                || commit
                    .events()
                    .iter()
                    .any(|e| self.event_matches(commit.number(), commit.headers(), e)))
    }
}

/// The query of one item: events with any of `names` (none: any name) carrying all of `tags`.
pub fn query(names: &[String], tags: &[String]) -> Query {
    Query::new().item(QueryItem::new().names(names).tags(tags))
}

/// The events a one-item query matches, in words: `events named a or b, tagged t and u`.
pub fn describe(item: &QueryItem) -> String {
    let mut text = "events".to_owned();
    if !item.event_names().is_empty() {
        text.push_str(" named ");
        text.push_str(&item.event_names().join(" or "));
    }
    if !item.event_tags().is_empty() {
        if !item.event_names().is_empty() {
            text.push(',');
        }
        text.push_str(" tagged ");
        text.push_str(&item.event_tags().join(" and "));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> SystemTime {
        humantime::parse_rfc3339(text).unwrap()
    }

    #[test]
    fn parses_times_and_dates_with_their_precision() {
        let date = parse_time("2026-11-27").unwrap();
        assert_eq!(date.at, at("2026-11-27T00:00:00Z"));
        assert_eq!(date.span, DAY);
        let second = parse_time("2026-11-27T15:03:30Z").unwrap();
        assert_eq!(second.at, at("2026-11-27T15:03:30Z"));
        assert_eq!(second.span, Duration::from_secs(1));
        let milli = parse_time("2026-11-27T15:03:30.380Z").unwrap();
        assert_eq!(milli.at, at("2026-11-27T15:03:30.380Z"));
        assert_eq!(milli.span, Duration::from_millis(1));
        assert!(parse_time("2026-11-27 15:03:30").is_ok());
    }

    #[test]
    fn queries_are_described_in_words() {
        let strings = |s: &[&str]| s.iter().map(|&s| s.to_owned()).collect::<Vec<_>>();
        let q = query(&strings(&["a", "b"]), &strings(&["t", "u"]));
        assert_eq!(
            describe(&q.items()[0]),
            "events named a or b, tagged t and u"
        );
        let q = query(&[], &strings(&["account:7"]));
        assert_eq!(describe(&q.items()[0]), "events tagged account:7");
        assert_eq!(
            describe(&query(&strings(&["a"]), &[]).items()[0]),
            "events named a"
        );
    }

    #[test]
    fn parses_offsets_from_utc() {
        let plus = parse_time("2026-11-27T16:03:30+01:00").unwrap();
        assert_eq!(plus.at, at("2026-11-27T15:03:30Z"));
        assert_eq!(plus.span, Duration::from_secs(1));
        let minus = parse_time("2026-11-27T10:33:30.380-04:30").unwrap();
        assert_eq!(minus.at, at("2026-11-27T15:03:30.380Z"));
        assert_eq!(minus.span, Duration::from_millis(1));
        assert_eq!(
            parse_time("2026-11-27T15:03:30+00:00").unwrap(),
            parse_time("2026-11-27T15:03:30Z").unwrap()
        );
    }

    #[test]
    fn parses_times_relative_to_now() {
        let now = at("2026-11-27T15:00:00Z");
        for (text, then) in [
            ("1h", "2026-11-27T14:00:00Z"),
            ("2d", "2026-11-25T15:00:00Z"),
            ("90s", "2026-11-27T14:58:30Z"),
            ("1h 30m ago", "2026-11-27T13:30:00Z"),
            ("1w", "2026-11-20T15:00:00Z"),
        ] {
            let time = parse_time_at(text, now).unwrap();
            assert_eq!(time.at, at(then), "{text}");
            assert_eq!(time.span, INSTANT);
        }
        let e = parse_time_at("100000000d", now).unwrap_err();
        assert!(e.contains("before 1970"), "{e}");
    }

    #[test]
    fn refuses_what_is_not_a_time() {
        for bad in [
            "yesterday",
            "2026-13-01",
            "2026-11-27T25:00:00Z",
            "",
            "2026-11-27T15:03:30+2",
            "2026-11-27T15:03:30+24:00",
            "2026-11-27T15:03:30+0100",
            "27.11.2026",
            "1 fortnight",
            "18446744073709551615d",
        ] {
            let e = parse_time(bad).unwrap_err();
            assert!(e.contains("2026-11-27T15:03:30Z"), "{bad}: {e}");
        }
    }
}
