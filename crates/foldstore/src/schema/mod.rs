//! Event shapes: for each event name of a log, every distinct shape of its events' `data`, with
//! how often and where it was seen ([`Store::schema`]).
//!
//! A shape is the JSON types of the data, recursively: an object's members with their shapes
//! (compared as a set: member order does not matter), an array as the union of its elements'
//! shapes, `null`, `boolean`, `number` (integers and fractions alike), `string`, or `absent`
//! when an event has no `data` member. Two events whose data differ in structure anywhere have
//! two shapes: nothing is merged.
//!
//! Shapes are hash-consed: every distinct object or array shape is stored once, as the numbers
//! of its members' shapes, so working out an event's shape is one walk over its data (without
//! recursion: data may be nested [`Commit::MAX_NESTING`](crate::Commit::MAX_NESTING) levels
//! deep) and comparing two shapes is comparing two numbers. What is kept is bounded, however
//! hostile the log: [`MAX_SHAPES_PER_NAME`] shapes per name, [`MAX_NAMES`] names, a budget of
//! memory for the shapes, names and counts, a shape's text (and all of them together) and the
//! times kept; what does not fit is counted, not kept (see docs/design.md, "Event shapes").

mod shapes;

use foldhash::HashMap;

use serde::Serialize;
use serde_json::Value;

use self::shapes::{prefix, Shapes, ABSENT};

use crate::error::Result;
use crate::event::{Event, Headers};
use crate::query::{name_key, same_name};
use crate::store::Store;

/// How many distinct shapes of one event name a [`SchemaReport`] keeps; events of further
/// shapes are counted in [`NameShapes::other_shapes`].
pub const MAX_SHAPES_PER_NAME: usize = 1_000;

/// How many event names a [`SchemaReport`] keeps; events of further names are counted in
/// [`SchemaReport::other_names`].
pub const MAX_NAMES: usize = 10_000;

/// The memory (in bytes, estimated) that the structure of all shapes and the names may take;
/// once it is used up, events of new shapes or names are counted instead of kept.
const BUDGET: usize = 64 << 20;

/// The longest text of a shape; a longer one is cut there and ends with `…`.
const MAX_SHAPE_TEXT: usize = 64 << 10;

/// The text all shapes of a report may take together; once it is used up, each further shape
/// is cut at [`MIN_SHAPE_TEXT`] bytes.
const MAX_REPORT_TEXT: usize = 64 << 20;

/// The shortest cut of a shape's text.
const MIN_SHAPE_TEXT: usize = 256;

/// The longest `time` header kept in a [`Seen`]; a longer one is cut there and ends with `…`.
const MAX_TIME: usize = 64;

/// How many spellings of one name (`memberHasMoved`, `MemberHasMoved`) are listed.
const MAX_SPELLINGS: usize = 8;

/// What [`Store::schema`] looks at.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct SchemaOptions {
    /// Only events of this name (by the original package's rule: the first letter's case
    /// aside, see [`same_name`](crate::same_name)); every name when `None`.
    pub name: Option<String>,
    /// The first commit to read (1 when 0: the default). An archived store read without its
    /// archive holds commits from [`Store::log_start`] on.
    pub from: u64,
}

impl SchemaOptions {
    /// Every event name.
    pub fn new() -> Self {
        SchemaOptions::default()
    }

    /// Only the events named `name` (either case of its first letter).
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Reads from commit `first` on (commits before it are not looked at).
    #[must_use]
    pub fn from(mut self, first: u64) -> Self {
        self.from = first;
        self
    }
}

/// The shapes of a log's event data, per event name: made by [`Store::schema`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct SchemaReport {
    /// The first commit read (see [`SchemaOptions::from`]).
    pub first: u64,
    /// How many commits were read.
    pub commits: u64,
    /// How many events they hold (of every name, also those left out by
    /// [`SchemaOptions::name`]).
    pub events: u64,
    /// The event names, ordered by name (their first letter upper-cased).
    pub names: Vec<NameShapes>,
    /// Events of names beyond [`MAX_NAMES`] (or beyond the memory set aside): counted, not shown.
    pub other_names: u64,
}

/// The shapes of one event name's data.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct NameShapes {
    /// The name, spelled as it was first seen.
    pub name: String,
    /// Every spelling seen (the first letter's case may differ), in the order first seen.
    pub spellings: Vec<String>,
    /// How many events have this name.
    pub events: u64,
    /// The distinct shapes, in the order first seen (by their first commit).
    pub shapes: Vec<ShapeSeen>,
    /// Events whose shape is not in `shapes`: beyond [`MAX_SHAPES_PER_NAME`] distinct shapes
    /// (or beyond the memory set aside).
    pub other_shapes: u64,
}

/// One shape of an event name's data, and where it was seen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ShapeSeen {
    /// The shape, e.g. `{address: {city: string, street: string}, name: string}`: members in
    /// the order of their names (written in JSON quotes unless made of letters, digits, `_`
    /// and `$`), arrays as `[number | string]` (`[]` when every one seen was empty), and
    /// `absent` for no `data` member. At most 64 KiB: a longer one ends with `…`.
    pub shape: String,
    /// How many events had it.
    pub count: u64,
    /// Its first event.
    pub first: Seen,
    /// Its last event.
    pub last: Seen,
}

/// Where an event was seen: its commit, and the commit's `time` header when it has one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Seen {
    /// The commit's number.
    pub commit: u64,
    /// The commit's `time` header, when it is a string (cut at 64 bytes, then `…`: the
    /// times foldstore and the original package write have 24).
    pub time: Option<String>,
}

/// The `time` header of `headers` when it is a string. Headers are few: looked for in order
/// (cheaper than hashing the name), unless they are many.
fn time_of(headers: &Headers) -> Option<&str> {
    let time = if headers.len() <= 8 {
        headers
            .iter()
            .find(|(name, _)| *name == "time")
            .map(|(_, time)| time)
    } else {
        headers.get("time")
    };
    time.and_then(Value::as_str)
}

impl Seen {
    fn at(commit: u64, headers: &Headers) -> Seen {
        let mut seen = Seen { commit, time: None };
        seen.set_time(headers);
        seen
    }

    /// Moves on to `commit`, reusing the time's memory.
    fn move_to(&mut self, commit: u64, headers: &Headers) {
        self.commit = commit;
        self.set_time(headers);
    }

    fn set_time(&mut self, headers: &Headers) {
        match time_of(headers) {
            Some(time) if time.len() <= MAX_TIME => {
                let kept = self.time.get_or_insert_with(String::new);
                kept.clear();
                kept.push_str(time);
            }
            Some(time) => {
                let mut kept = prefix(time, MAX_TIME).to_owned();
                kept.push('…');
                self.time = Some(kept);
            }
            None => self.time = None,
        }
    }
}

impl Store {
    /// Reads the whole log and reports, per event name, every distinct shape of its events'
    /// data, with how many events had it and the first and last of them (see [`SchemaReport`]).
    ///
    /// `progress` is called after each commit with (commits read, the last commit number as
    /// known).
    ///
    /// ```
    /// # fn main() -> Result<(), foldstore::Error> {
    /// use foldstore::{Event, SchemaOptions, Store};
    /// use serde_json::json;
    ///
    /// let store = Store::memory();
    /// store.log(&Event::with_data("memberHasMoved", json!({"name": "peter pan", "address": "london"})))?;
    /// store.log(&Event::with_data("MemberHasMoved", json!({"address": "oslo", "name": "wendy"})))?;
    /// store.log(&Event::with_data("memberHasMoved", json!({"name": "peter pan", "address": {"city": "london"}})))?;
    ///
    /// let report = store.schema(&SchemaOptions::new(), |_, _| {})?;
    /// let moved = &report.names[0];
    /// assert_eq!(moved.spellings, ["memberHasMoved", "MemberHasMoved"]);
    /// assert_eq!(moved.shapes[0].shape, "{address: string, name: string}");
    /// assert_eq!((moved.shapes[0].count, moved.shapes[0].last.commit), (2, 2));
    /// assert_eq!(moved.shapes[1].shape, "{address: {city: string}, name: string}");
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// As a replay ([`Replay::run`](crate::Replay::run)): a damaged or missing commit, or an
    /// I/O error; [`Error::Archived`](crate::Error::Archived) when an archived store read
    /// without its archive is read from before its start (see [`SchemaOptions::from`]).
    pub fn schema(
        &self,
        options: &SchemaOptions,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<SchemaReport> {
        let mut tip = self.tip()?;
        let mut tally = Tally::new(options.name.clone());
        let first = options.from.max(1);
        let mut commits = self.replay().from(first).commits();
        while let Some(commit) = commits.next() {
            let commit = commit?;
            for event in commit.events() {
                tally.add(event, commit.number(), commit.headers());
            }
            tally.commits += 1;
            tip = tip.max(commit.number());
            progress(tally.commits, (tip + 1).saturating_sub(first));
            commits.recycle(commit);
        }
        let mut report = tally.report();
        report.first = first;
        Ok(report)
    }
}

/// The memory a kept shape of a name takes, estimated (with its two times and its text when
/// it is short).
const KEPT_BYTES: usize = 512;

/// One shape of a name as it is counted.
#[derive(Debug)]
struct Kept {
    shape: u32,
    count: u64,
    first: Seen,
    last: Seen,
}

/// One event name as it is counted.
#[derive(Debug)]
struct Name {
    key: String,
    spellings: Vec<String>,
    events: u64,
    shapes: Vec<Kept>,
    index: HashMap<u32, usize>,
    other_shapes: u64,
}

/// The counting of a replay, event by event.
#[derive(Debug)]
struct Tally {
    only: Option<String>,
    shapes: Shapes,
    /// The names by spelling, and by key (the first letter upper-cased).
    spellings: HashMap<String, usize>,
    keys: HashMap<String, usize>,
    names: Vec<Name>,
    commits: u64,
    events: u64,
    other_names: u64,
}

impl Tally {
    fn new(only: Option<String>) -> Tally {
        Tally {
            only,
            shapes: Shapes::new(BUDGET),
            spellings: HashMap::default(),
            keys: HashMap::default(),
            names: Vec::new(),
            commits: 0,
            events: 0,
            other_names: 0,
        }
    }

    fn add(&mut self, event: &Event, commit: u64, headers: &Headers) {
        self.events += 1;
        if self
            .only
            .as_deref()
            .is_some_and(|only| !same_name(only, event.name()))
        {
            return;
        }
        let Some(index) = self.name(event.name()) else {
            self.other_names += 1;
            return;
        };
        let name = &mut self.names[index];
        name.events += 1;
        let learn = name.shapes.len() < MAX_SHAPES_PER_NAME;
        let shape = match event.data() {
            None => Some(ABSENT),
            Some(data) => self.shapes.of(data, learn),
        };
        let Some(shape) = shape else {
            name.other_shapes += 1;
            return;
        };
        if let Some(&i) = name.index.get(&shape) {
            let kept = &mut name.shapes[i];
            kept.count += 1;
            if kept.last.commit != commit {
                kept.last.move_to(commit, headers);
            }
        } else if learn && self.shapes.spend(KEPT_BYTES) {
            name.index.insert(shape, name.shapes.len());
            let first = Seen::at(commit, headers);
            name.shapes.push(Kept {
                shape,
                count: 1,
                last: first.clone(),
                first,
            });
        } else {
            name.other_shapes += 1;
        }
    }

    /// The index of the name spelled `spelling`, counted from now on if it is new and there
    /// is room.
    fn name(&mut self, spelling: &str) -> Option<usize> {
        if let Some(&index) = self.spellings.get(spelling) {
            return Some(index);
        }
        let key = name_key(spelling);
        if let Some(&index) = self.keys.get(&key) {
            let spellings = &mut self.names[index].spellings;
            if spellings.len() < MAX_SPELLINGS && self.shapes.spend(2 * spelling.len() + 64) {
                spellings.push(spelling.to_owned());
                self.spellings.insert(spelling.to_owned(), index);
            }
            return Some(index);
        }
        if self.names.len() >= MAX_NAMES
            || !self.shapes.spend(2 * key.len() + 2 * spelling.len() + 256)
        {
            return None;
        }
        let index = self.names.len();
        self.keys.insert(key.clone(), index);
        self.spellings.insert(spelling.to_owned(), index);
        self.names.push(Name {
            key,
            spellings: vec![spelling.to_owned()],
            events: 0,
            shapes: Vec::new(),
            index: HashMap::default(),
            other_shapes: 0,
        });
        Some(index)
    }

    fn report(mut self) -> SchemaReport {
        self.names.sort_by(|a, b| a.key.cmp(&b.key));
        let mut text_left = MAX_REPORT_TEXT;
        let shapes = &self.shapes;
        let names = self
            .names
            .into_iter()
            .map(|name| NameShapes {
                name: name.spellings.first().cloned().unwrap_or_default(),
                spellings: name.spellings,
                events: name.events,
                shapes: name
                    .shapes
                    .into_iter()
                    .map(|kept| {
                        let limit = MAX_SHAPE_TEXT.min(text_left).max(MIN_SHAPE_TEXT);
                        let shape = shapes.render(kept.shape, limit);
                        text_left = text_left.saturating_sub(shape.len());
                        ShapeSeen {
                            shape,
                            count: kept.count,
                            first: kept.first,
                            last: kept.last,
                        }
                    })
                    .collect(),
                other_shapes: name.other_shapes,
            })
            .collect();
        SchemaReport {
            first: 1,
            commits: self.commits,
            events: self.events,
            names,
            other_names: self.other_names,
        }
    }
}

#[cfg(test)]
mod tests;
