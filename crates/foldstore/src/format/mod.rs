//! The commit and snapshot documents, as the original package writes and reads them.
//!
//! A commit is `{"headers": {...}, "events": [...]}` and a snapshot `{"headers": {...},
//! "snapshot": <data>}`, written as compact JSON. Reading accepts any valid JSON of that shape
//! (pretty-printed, with leading whitespace, with members in any order).
//!
//! Documents may be nested up to [`MAX_NESTING`] levels of arrays and objects, for readers and
//! writers alike: a writer refuses a deeper document (nothing is written), a reader reports one
//! as damaged. Deep documents are read and written on a stack grown as needed, so that no depth
//! overflows a thread's stack.

use std::time::SystemTime;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::Error;
use crate::event::{describe, Event, Headers};
use crate::forget::SealedMembers;

mod fast;
#[cfg(test)]
mod tests;

use crate::json::{
    check_nesting, clone_map, from_slice_deep, hollow, hollow_map, nesting_depth,
    raw_value_problem, raw_value_token, slow_path_stack, to_vec_deep, too_deep_to_read,
    too_deep_to_write, MAX_NESTING,
};

/// One commit of the log: its number, its headers and its events, in the order they were logged.
#[derive(Debug, PartialEq)]
pub struct Commit {
    number: u64,
    headers: Headers,
    events: Vec<Event>,
}

impl Clone for Commit {
    fn clone(&self) -> Self {
        Commit {
            number: self.number,
            headers: clone_map(&self.headers),
            events: self.events.clone(),
        }
    }
}

impl Drop for Commit {
    fn drop(&mut self) {
        // The events drop their data safely themselves.
        hollow_map(&mut self.headers);
    }
}

impl Commit {
    /// The deepest nesting of arrays and objects that foldstore reads and writes in a commit
    /// or snapshot document, counting the document's own levels (a commit's event data starts
    /// 3 levels down). Writers refuse deeper documents; readers report them as damaged.
    ///
    /// The original package writes at most about 4,100 levels (the most Node.js's
    /// `JSON.stringify` manages with its default stack), so every commit it can write is read.
    pub const MAX_NESTING: usize = MAX_NESTING;

    /// The commit's number: 1 for the first commit of a store.
    pub fn number(&self) -> u64 {
        self.number
    }

    /// The commit's headers.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// The commit's events.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// The commit's events, to change in place (upcasting them as they are read).
    pub(crate) fn events_mut(&mut self) -> &mut Vec<Event> {
        &mut self.events
    }

    /// The commit's events, by value.
    pub fn into_events(mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    /// Reads a commit document (the content of a file `k.log`) as commit `number`.
    ///
    /// Accepts any valid JSON of the commit's shape (pretty-printed, members in any order).
    ///
    /// # Errors
    /// [`DecodeError`] saying what is wrong: not JSON, not an object, no `events` array, an
    /// event without a string `name`, `headers` not an object, nested deeper than
    /// [`Commit::MAX_NESTING`].
    pub fn decode(number: u64, bytes: &[u8]) -> Result<Commit, DecodeError> {
        decode_commit(number, bytes).map_err(DecodeError)
    }

    /// The commit document as the original package writes it: compact JSON, `headers` first.
    ///
    /// A commit nested deeper than [`Commit::MAX_NESTING`] (which no reader takes, and which
    /// a store never writes) is encoded all the same.
    pub fn encode(&self) -> Vec<u8> {
        // Serializing maps with string keys and JSON values cannot fail.
        to_vec_deep(&CommitDocument {
            headers: &self.headers,
            events: &self.events,
        })
        .unwrap_or_default()
    }

    /// The `time` header read as an RFC 3339 time, when it is present and readable.
    pub fn time(&self) -> Option<SystemTime> {
        let text = self.headers.get("time")?.as_str()?;
        humantime::parse_rfc3339_weak(text).ok()
    }

    /// Checks that a store writes an event named `name`: one the original package can
    /// dispatch.
    ///
    /// The original hands an event to the handler `on` + its name with the first letter
    /// upper-cased (`memberHasMoved` to `onMemberHasMoved`). An empty name crashes it, and a
    /// name beginning with whitespace or a control character has no first letter to
    /// upper-case, so every commit writer refuses these names. Readers still read commits
    /// that hold them (written by other tools).
    ///
    /// ```
    /// use foldstore::{Commit, Error};
    ///
    /// assert!(Commit::check_event_name("memberHasMoved").is_ok());
    /// assert!(matches!(Commit::check_event_name(""), Err(Error::InvalidEvent { .. })));
    /// assert!(Commit::check_event_name(" moved").is_err());
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidEvent`] naming the name and the rule.
    pub fn check_event_name(name: &str) -> Result<(), Error> {
        match name_problem(name) {
            None => Ok(()),
            Some(problem) => Err(Error::InvalidEvent {
                problem: format!("the event name {name:?} {problem}; {NAME_RULE}"),
            }),
        }
    }
}

/// The rule event names follow when written, as the end of a sentence.
const NAME_RULE: &str = "the original package dispatches an event to `on` + its name with the \
    first letter upper-cased, so a name must not be empty or begin with whitespace or a control \
    character";

/// What makes `name` one the original cannot dispatch, if anything.
fn name_problem(name: &str) -> Option<&'static str> {
    match name.chars().next() {
        None => Some("is empty"),
        Some(first) if first.is_whitespace() => Some("begins with whitespace"),
        Some(first) if first.is_control() => Some("begins with a control character"),
        Some(_) => None,
    }
}

/// What is wrong with a document that is not a commit or snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError(String);

impl DecodeError {
    pub(crate) fn new(problem: String) -> Self {
        DecodeError(problem)
    }

    /// The problem, phrased to follow the document's name (`commit 3 (3.log) <problem>`).
    pub fn problem(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the document {}", self.0)
    }
}

impl std::error::Error for DecodeError {}

#[derive(Serialize)]
struct CommitDocument<'a> {
    headers: &'a Headers,
    events: &'a [Event],
}

#[derive(Serialize)]
struct SnapshotDocument<'a> {
    headers: &'a Headers,
    snapshot: &'a Value,
}

/// Encodes a commit document as compact JSON, the way the original writes it.
///
/// # Errors
/// [`Error::InvalidEvent`] naming the first event whose name the original cannot dispatch (see
/// [`Commit::check_event_name`]); [`Error::InvalidHeaders`] or [`Error::InvalidEvent`]
/// (whichever is nested too deep) when the document would be nested deeper than
/// [`MAX_NESTING`]: readers would not take it.
pub(crate) fn encode_commit(headers: &Headers, events: &[Event]) -> Result<Vec<u8>, Error> {
    for (index, event) in events.iter().enumerate() {
        if let Some(problem) = name_problem(event.name()) {
            return Err(Error::InvalidEvent {
                problem: format!(
                    "event #{index} ({:?}): the name {problem}; {NAME_RULE}",
                    event.name()
                ),
            });
        }
    }
    // Serializing maps with string keys and JSON values cannot fail.
    let document = to_vec_deep(&CommitDocument { headers, events }).unwrap_or_default();
    // The readers' own check, on the very bytes they would read (a document shorter than the
    // limit cannot be nested deeper: each level takes a byte).
    if document.len() > MAX_NESTING {
        check_document_nesting(&document, headers)?;
    }
    check_read_back(&document, headers, events)?;
    Ok(document)
}

/// The readers' nesting check of a commit `document`, naming the headers or the events.
fn check_document_nesting(document: &[u8], headers: &Headers) -> Result<(), Error> {
    check_nesting(document).map_err(|depth| {
        // The headers are one level down in the document.
        let headers_depth = 1 + nesting_depth(&to_vec_deep(headers).unwrap_or_default());
        if headers_depth > MAX_NESTING {
            Error::InvalidHeaders {
                problem: too_deep_to_write("the commit (through its headers) would be", depth),
            }
        } else {
            Error::InvalidEvent {
                problem: too_deep_to_write("the commit would be", depth),
            }
        }
    })?;
    Ok(())
}

/// Refuses a commit document that holds the member name serde_json's `Value` reads as JSON text
/// held in a string (see [`raw_value_token`]) and that does not read back as `headers` and
/// `events`: readers would read something else, or nothing. The error names the headers or
/// the first event that does not read back. (The document's nesting is checked already.)
fn check_read_back(document: &[u8], headers: &Headers, events: &[Event]) -> Result<(), Error> {
    if raw_value_token().find(document).is_none() {
        return Ok(());
    }
    let problem = |what: &str| format!("{what} {}", raw_value_problem());
    // A part read back alone, in a document of its own, as readers read it.
    let reads_back = |headers: &Headers, events: &[Event]| {
        let document = to_vec_deep(&CommitDocument { headers, events }).unwrap_or_default();
        // Compared on a stack grown as needed: data may be nested thousands of levels.
        stacker::maybe_grow(64 * 1024, 16 * 1024 * 1024, || {
            decode_commit(0, &document)
                .is_ok_and(|commit| commit.headers() == headers && commit.events() == events)
        })
    };
    if !reads_back(headers, &[]) {
        return Err(Error::InvalidHeaders {
            problem: problem("a header"),
        });
    }
    let empty = Headers::new();
    for (index, event) in events.iter().enumerate() {
        if !reads_back(&empty, std::slice::from_ref(event)) {
            return Err(Error::InvalidEvent {
                problem: problem(&format!("event #{index} ({:?})", event.name())),
            });
        }
    }
    Ok(())
}

/// Encodes a snapshot document as compact JSON, the way the original writes it.
///
/// # Errors
/// What is wrong when readers would not read it back: nested deeper than [`MAX_NESTING`], or
/// holding serde_json's raw value member name (see [`raw_value_token`]) where it changes what
/// is read.
pub(crate) fn encode_snapshot(headers: &Headers, snapshot: &Value) -> Result<Vec<u8>, String> {
    let document = to_vec_deep(&SnapshotDocument { headers, snapshot }).unwrap_or_default();
    check_nesting(&document).map_err(|depth| too_deep_to_write("it would be", depth))?;
    if raw_value_token().find(&document).is_some() {
        let same = stacker::maybe_grow(64 * 1024, 16 * 1024 * 1024, || {
            decode_snapshot(&document).is_ok_and(|read| {
                read.headers == *headers && read.snapshot.as_ref() == Some(snapshot)
            })
        });
        if !same {
            return Err(format!("it {}", raw_value_problem()));
        }
    }
    Ok(document)
}

/// Decodes a commit document; the error says what is wrong, phrased to follow "commit N (path)".
pub(crate) fn decode_commit(number: u64, bytes: &[u8]) -> Result<Commit, String> {
    decode_commit_as::<false>(number, bytes)
}

/// As [`decode_commit`], keeping each event's data as its text, to be parsed when it is first
/// asked for (see `event/data.rs`): for readers that may never look at most of it, or read it
/// straight into their own types. The checks are the same: the text is parsed in full here,
/// and what does not parse is refused here.
#[cfg(test)]
pub(crate) fn decode_commit_lazy(number: u64, bytes: &[u8]) -> Result<Commit, String> {
    decode_commit_as::<true>(number, bytes)
}

/// The sealed forms a decoder found in a commit's bytes, with their event's index, in order
/// (see [`decode_commit_sealed`]). The first is kept inline: most commits have one event.
#[derive(Default)]
pub(crate) struct FoundSealed<'a> {
    first: Option<(usize, SealedMembers<'a>)>,
    rest: Vec<(usize, SealedMembers<'a>)>,
}

impl<'a> FoundSealed<'a> {
    pub(crate) fn push(&mut self, index: usize, form: SealedMembers<'a>) {
        if self.first.is_none() {
            self.first = Some((index, form));
        } else {
            self.rest.push((index, form));
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.rest.len()
    }
}

impl<'a> IntoIterator for FoundSealed<'a> {
    type Item = (usize, SealedMembers<'a>);
    type IntoIter = std::iter::Chain<
        std::option::IntoIter<(usize, SealedMembers<'a>)>,
        std::vec::IntoIter<(usize, SealedMembers<'a>)>,
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.first.into_iter().chain(self.rest)
    }
}

/// As [`decode_commit_lazy`] (`lazy`) or [`decode_commit`], for a replay's reading threads,
/// which open sealed data (with the store's key store, or as the placeholder without one):
/// sealed data is neither kept as text nor parsed, but its form is read from `bytes`, to be
/// opened from there (by `forget::open_found`, which replaces the `null` its events hold).
/// The forms are `None` when the commit was decoded otherwise (sealed forms written in
/// another way than foldstore writes them, or data nested deep): then every event's data is
/// to be looked at, by `forget::open_commit`. The checks are those of [`decode_commit`].
pub(crate) fn decode_commit_sealed(
    number: u64,
    bytes: &[u8],
    lazy: bool,
) -> Result<(Commit, Option<FoundSealed<'_>>), String> {
    fn fast<const LAZY: bool>(text: &str) -> Option<(Headers, Vec<Event>, FoundSealed<'_>)> {
        let document = serde_json::from_str::<fast::Document<'_, LAZY, true>>(text).ok()?;
        Some((document.headers, document.events, document.sealed))
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        let read = if lazy {
            fast::<true>(text)
        } else {
            fast::<false>(text)
        };
        if let Some((headers, events, sealed)) = read {
            let commit = Commit {
                number,
                headers,
                events,
            };
            return Ok((commit, Some(sealed)));
        }
    }
    let decoded = if lazy {
        decode_commit_as::<true>(number, bytes)
    } else {
        decode_commit_as::<false>(number, bytes)
    };
    decoded.map(|commit| (commit, None))
}

fn decode_commit_as<const LAZY: bool>(number: u64, bytes: &[u8]) -> Result<Commit, String> {
    // The fast path reads the document straight into headers and events; it accepts exactly
    // the documents the careful path below accepts, which runs only to say what is wrong.
    // Checking the whole document is UTF-8 at once is quicker than checking each string.
    let text = std::str::from_utf8(bytes);
    if let Ok(fast::Document::<LAZY, false> {
        headers, events, ..
    }) = text.map_or_else(
        |_| Err(()),
        |text| serde_json::from_str(text).map_err(|_| ()),
    ) {
        return Ok(Commit {
            number,
            headers,
            events,
        });
    }
    // Not read by the fast path: deeper than serde_json's default limit of 128 levels, or
    // damaged. Read with no limit on a stack grown as needed, once the nesting is checked.
    let depth = check_nesting(bytes).map_err(too_deep_to_read)?;
    stacker::maybe_grow(slow_path_stack(depth), slow_path_stack(depth), || {
        decode_commit_slowly(number, bytes, text.is_ok())
    })
}

/// Decodes a commit document the fast path did not read, nested at most [`MAX_NESTING`] levels.
fn decode_commit_slowly(number: u64, bytes: &[u8], utf8: bool) -> Result<Commit, String> {
    if utf8 {
        // Deep documents keep no text: their data is parsed now.
        if let Ok(fast::Document::<false, false> {
            headers, events, ..
        }) = from_slice_deep(bytes)
        {
            return Ok(Commit {
                number,
                headers,
                events,
            });
        }
    }
    let mut object = parse_object_checked(bytes)?;
    let result = commit_from_object(number, &mut object);
    hollow_map(&mut object);
    result
}

/// Takes a commit out of a document read as an object, or says what is wrong with it.
fn commit_from_object(number: u64, object: &mut Map<String, Value>) -> Result<Commit, String> {
    let headers = take_headers(object)?;
    let events = match object.shift_remove("events") {
        Some(Value::Array(events)) => events,
        Some(mut other) => {
            let kind = describe(&other);
            hollow(&mut other);
            return Err(format!(
                "has an `events` member that is {kind}, not an array"
            ));
        }
        None => return Err("has no `events` array".to_owned()),
    };
    let events = events
        .into_iter()
        .enumerate()
        .map(|(index, value)| {
            Event::from_value(value)
                .map_err(|problem| format!("has an event (#{index}) that {problem}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Commit {
        number,
        headers,
        events,
    })
}

/// A decoded snapshot document.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct SnapshotDoc {
    pub(crate) headers: Headers,
    /// `None` when the document has no `snapshot` member (the original often writes those).
    pub(crate) snapshot: Option<Value>,
}

impl Drop for SnapshotDoc {
    fn drop(&mut self) {
        // A document only checked (by verify) is dropped here: deep data is taken apart on a
        // grown stack.
        hollow_map(&mut self.headers);
        if let Some(snapshot) = &mut self.snapshot {
            hollow(snapshot);
        }
    }
}

/// Decodes a snapshot document; the error says what is wrong, phrased to follow its path.
pub(crate) fn decode_snapshot(bytes: &[u8]) -> Result<SnapshotDoc, String> {
    let depth = check_nesting(bytes).map_err(too_deep_to_read)?;
    stacker::maybe_grow(slow_path_stack(depth), slow_path_stack(depth), || {
        let mut object = parse_object_checked(bytes)?;
        let result = take_headers(&mut object).map(|headers| {
            let snapshot = object.shift_remove("snapshot");
            SnapshotDoc { headers, snapshot }
        });
        hollow_map(&mut object);
        result
    })
}

/// Reads a document as a JSON object, with no recursion limit: the caller has checked that it
/// is nested at most [`MAX_NESTING`] levels, and gives it a stack for that depth.
fn parse_object_checked(bytes: &[u8]) -> Result<Map<String, Value>, String> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(if bytes.is_empty() {
            "is empty".to_owned()
        } else {
            "holds only whitespace".to_owned()
        });
    }
    match from_slice_deep::<Value>(bytes) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(mut other) => {
            let kind = describe(&other);
            hollow(&mut other);
            Err(format!("is {kind}, not a JSON object"))
        }
        Err(e) if e.is_eof() => Err(format!(
            "is not valid JSON: it ends too early ({e}); it may be a write that was cut short"
        )),
        Err(e) => Err(format!("is not valid JSON ({e})")),
    }
}

fn take_headers(object: &mut Map<String, Value>) -> Result<Headers, String> {
    match object.shift_remove("headers") {
        Some(Value::Object(headers)) => Ok(headers),
        None => Ok(Headers::new()),
        Some(mut other) => {
            let kind = describe(&other);
            hollow(&mut other);
            Err(format!(
                "has a `headers` member that is {kind}, not an object"
            ))
        }
    }
}

#[cfg(test)]
mod name_tests {
    //! Writers refuse the event names the original cannot dispatch; readers still take them.

    use super::*;

    #[test]
    fn names_without_a_first_letter_are_refused_naming_the_event_and_the_rule() {
        for bad in [
            "",
            " ",
            "  ",
            "\tmoved",
            " moved",
            "\u{a0}x",
            "\u{1b}[2J",
            "\u{7f}",
        ] {
            let events = [Event::new("ok"), Event::new(bad)];
            let Err(Error::InvalidEvent { problem }) = encode_commit(&Headers::new(), &events)
            else {
                panic!("{bad:?} was encoded");
            };
            assert!(
                problem.contains(&format!("event #1 ({bad:?})")),
                "{problem}"
            );
            assert!(problem.contains("first letter upper-cased"), "{problem}");
            assert!(Commit::check_event_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn names_with_a_first_letter_are_written() {
        for good in [
            "moved",
            "Moved",
            "2fa",
            "_x",
            "ø",
            "a b",
            "a\u{1b}[2J",
            "x\t",
        ] {
            assert!(
                encode_commit(&Headers::new(), &[Event::new(good)]).is_ok(),
                "{good:?}"
            );
            assert!(Commit::check_event_name(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn commits_holding_such_names_are_still_read() {
        let text = r#"{"headers":{},"events":[{"name":""},{"name":" ","data":1}]}"#;
        let commit = decode_commit(4, text.as_bytes()).expect("read");
        assert_eq!(commit.events()[0].name(), "");
        assert_eq!(commit.events()[1].name(), " ");
        assert_eq!(commit.encode(), text.as_bytes());
    }
}
