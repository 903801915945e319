//! `foldstore stats --by hour|day`: commits and events counted per hour or day of their
//! `time` header, as a table (with a bar chart on a terminal) or JSON.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::time::SystemTime;

use clap::ValueEnum;
use serde_json::{json, Value};

use crate::output::{plural, styled, Palette};

/// The length of time `stats --by` counts in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Bucket {
    /// Hours (UTC).
    Hour,
    /// Days (UTC).
    Day,
}

impl Bucket {
    fn name(self) -> &'static str {
        match self {
            Bucket::Hour => "hour",
            Bucket::Day => "day",
        }
    }

    /// The start of the bucket holding `time`, as RFC 3339 text (`2026-11-27T15:00:00Z`,
    /// `2026-11-27T00:00:00Z`); `None` for a time humantime cannot write (before 1970, after
    /// 9999).
    fn start(self, time: SystemTime) -> Option<String> {
        let secs = time.duration_since(SystemTime::UNIX_EPOCH).ok()?.as_secs();
        if secs >= 253_402_300_800 {
            return None;
        }
        let text = humantime::format_rfc3339_seconds(time).to_string();
        Some(match self {
            Bucket::Hour => format!("{}:00:00Z", &text[..13]),
            Bucket::Day => format!("{}T00:00:00Z", &text[..10]),
        })
    }
}

/// Commits and events counted per bucket.
#[derive(Debug)]
pub struct Buckets {
    by: Bucket,
    /// Start of each bucket with commits -> (commits, events).
    counts: BTreeMap<String, (u64, u64)>,
    /// Commits without a time that can be placed.
    untimed: u64,
}

impl Buckets {
    /// Nothing counted yet.
    pub fn new(by: Bucket) -> Buckets {
        Buckets {
            by,
            counts: BTreeMap::new(),
            untimed: 0,
        }
    }

    /// Counts a commit of `events` events at `time` (`None`: without a readable time).
    pub fn count(&mut self, time: Option<SystemTime>, events: u64) {
        match time.and_then(|time| self.by.start(time)) {
            Some(start) => {
                let entry = self.counts.entry(start).or_default();
                entry.0 += 1;
                entry.1 += events;
            }
            None => self.untimed += 1,
        }
    }

    /// The counts as a JSON object: `{"by", "buckets": [{"start", "commits", "events"}],
    /// "untimed_commits"}`.
    pub fn to_json(&self) -> Value {
        let buckets: Vec<Value> = self
            .counts
            .iter()
            .map(|(start, (commits, events))| {
                json!({"start": start, "commits": commits, "events": events})
            })
            .collect();
        json!({"by": self.by.name(), "buckets": buckets, "untimed_commits": self.untimed})
    }

    /// The counts as a table, one row per bucket holding commits (oldest first), with a bar
    /// of the commits when `chart` (on a terminal).
    ///
    /// # Errors
    /// Errors of writing.
    pub fn write_text(&self, out: &mut dyn Write, p: &Palette, chart: bool) -> io::Result<()> {
        // `2026-11-27T15:00Z` for an hour, `2026-11-27` for a day.
        let label = |start: &str| match self.by {
            Bucket::Hour => format!("{}Z", &start[..16]),
            Bucket::Day => start[..10].to_owned(),
        };
        let width = match self.by {
            Bucket::Hour => "2026-11-27T15:00Z".len(),
            Bucket::Day => "2026-11-27".len().max("DAY (UTC)".len()),
        };
        let heading = match self.by {
            Bucket::Hour => "HOUR (UTC)",
            Bucket::Day => "DAY (UTC)",
        };
        writeln!(
            out,
            "{}  {}  {}",
            styled(p.label, format!("{heading:<width$}")),
            styled(p.label, "COMMITS"),
            styled(p.label, "   EVENTS")
        )?;
        let most = self.counts.values().map(|(c, _)| *c).max().unwrap_or(0);
        for (start, (commits, events)) in &self.counts {
            write!(
                out,
                "{}  {commits:>7}  {events:>9}",
                styled(p.time, format!("{:<width$}", label(start)))
            )?;
            if chart {
                write!(out, "  {}", styled(p.name, bar(*commits, most)))?;
            }
            writeln!(out)?;
        }
        if self.untimed > 0 {
            writeln!(
                out,
                "{}",
                styled(
                    p.dim,
                    format!("{} without a readable time", plural(self.untimed, "commit"))
                )
            )?;
        }
        Ok(())
    }
}

/// The most a bar is long, in characters.
const BAR_WIDTH: u64 = 40;

/// A bar of `n` out of `most`: at least one block for anything but 0.
fn bar(n: u64, most: u64) -> String {
    if n == 0 || most == 0 {
        return String::new();
    }
    let blocks = (u128::from(n) * u128::from(BAR_WIDTH) / u128::from(most)).max(1);
    "█".repeat(usize::try_from(blocks).unwrap_or(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> SystemTime {
        humantime::parse_rfc3339(text).unwrap()
    }

    #[test]
    fn times_fall_into_their_hour_and_day() {
        let time = at("2026-11-27T15:59:59.999Z");
        assert_eq!(Bucket::Hour.start(time).unwrap(), "2026-11-27T15:00:00Z");
        assert_eq!(Bucket::Day.start(time).unwrap(), "2026-11-27T00:00:00Z");
        let before_1970 = SystemTime::UNIX_EPOCH - std::time::Duration::from_secs(1);
        assert_eq!(Bucket::Day.start(before_1970), None);
    }

    #[test]
    fn bars_scale_to_the_largest() {
        assert_eq!(bar(10, 10).chars().count(), 40);
        assert_eq!(bar(5, 10).chars().count(), 20);
        assert_eq!(bar(1, 1000).chars().count(), 1);
        assert_eq!(bar(0, 10), "");
        assert_eq!(bar(u64::MAX, u64::MAX).chars().count(), 40);
    }
}
