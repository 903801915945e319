//! Selecting commits and events: time windows (`--since`, `--until`), event names (`--name`)
//! and tags (`--tag`), and the queries these make for the store's index.

use std::time::{Duration, SystemTime};

use foldstore::{same_name, Commit, Event, Headers, Query, QueryItem};

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

/// Parses a UTC time, RFC 3339 (`2026-11-27T15:03:30Z`, `2026-11-27T15:03:30.380Z`, with `T`
/// or a space, `Z` optional) or a date (`2026-11-27`).
///
/// # Errors
/// A message for clap saying what is accepted.
pub fn parse_time(text: &str) -> Result<TimeArg, String> {
    let hint = "use a UTC time such as 2026-11-27T15:03:30Z or 2026-11-27T15:03:30.380Z, or a date such as 2026-11-27";
    let is_date = text.len() == 10 && text.as_bytes()[4] == b'-' && text.as_bytes()[7] == b'-';
    let (full, span) = if is_date {
        (format!("{text}T00:00:00Z"), DAY)
    } else {
        let fraction = text.split_once('.').map_or(0, |(_, rest)| {
            rest.bytes().take_while(u8::is_ascii_digit).count()
        });
        let nanos = 10u64.pow(9u32.saturating_sub(u32::try_from(fraction).unwrap_or(9)));
        (text.to_owned(), Duration::from_nanos(nanos))
    };
    if text.contains('+') || text.get(10..).is_some_and(|rest| rest.contains('-')) {
        return Err(format!(
            "{text:?} has a time zone offset: times are UTC; {hint}"
        ));
    }
    let at = humantime::parse_rfc3339_weak(&full)
        .map_err(|e| format!("{text:?} is not a time ({e}): {hint}"))?;
    Ok(TimeArg { at, span })
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
}

impl Selection {
    /// Whether the commit's time is in the window. With no window every commit is; with one,
    /// a commit without a readable `time` header is not.
    pub fn time_matches(&self, commit: &Commit) -> bool {
        self.window_holds(|| commit.time())
    }

    /// Whether the time in `headers` (a commit's) is in the window, as [`Self::time_matches`].
    pub fn headers_time_matches(&self, headers: &Headers) -> bool {
        self.window_holds(|| {
            let text = headers.get("time")?.as_str()?;
            humantime::parse_rfc3339_weak(text).ok()
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

    /// Whether `printed` (events or commits) is as many as may be printed.
    pub fn limit_reached(&self, printed: u64) -> bool {
        self.limit.is_some_and(|limit| printed >= limit)
    }

    /// Whether the commit is in the window and, when names are selected, has at least one event
    /// with one of them (with no names, a commit without events is selected too).
    pub fn commit_matches(&self, commit: &Commit) -> bool {
        self.time_matches(commit)
            && (self.names.is_empty() || commit.events().iter().any(|e| self.name_matches(e)))
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
    fn refuses_what_is_not_a_utc_time() {
        for bad in [
            "yesterday",
            "2026-13-01",
            "2026-11-27T25:00:00Z",
            "",
            "2026-11-27T15:03:30+02:00",
            "27.11.2026",
        ] {
            let e = parse_time(bad).unwrap_err();
            assert!(e.contains("2026-11-27T15:03:30Z"), "{bad}: {e}");
        }
    }
}
