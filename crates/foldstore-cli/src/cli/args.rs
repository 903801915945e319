//! The arguments verbs share: ranges, time windows, commits, layouts, boundaries.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::condition::{parse_condition, Condition};
use crate::filter::{parse_time, TimeArg};
use crate::output::event_problem;

/// A range of commit numbers.
#[derive(Clone, Copy, Debug, Args)]
pub struct RangeArgs {
    /// The first commit (default 1).
    #[arg(long, value_name = "N")]
    pub from: Option<u64>,
    /// The last commit (default, and beyond it: the last commit of the store).
    #[arg(long, value_name = "N")]
    pub to: Option<u64>,
}

impl RangeArgs {
    /// Checks the range is not backwards (`--from 5 --to 3`); `from_flag` is how the command
    /// line wrote the start (`--from 5`, or `--after 4`).
    ///
    /// # Errors
    /// [`BadCommandLine`] saying so.
    pub fn check(&self, from_flag: &str) -> Result<(), BadCommandLine> {
        match self.to {
            Some(to) if to < self.from.unwrap_or(1) => Err(BadCommandLine(format!(
                "--to {to} is before {from_flag}: the range holds no commit"
            ))),
            _ => Ok(()),
        }
    }
}

/// A mistake on the command line that clap cannot see (it involves two arguments' values):
/// reported like clap's own, with exit status 2.
#[derive(Debug)]
pub struct BadCommandLine(pub String);

impl std::fmt::Display for BadCommandLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (see --help)", self.0)
    }
}

impl std::error::Error for BadCommandLine {}

/// Selecting commits by their `time` header.
#[derive(Clone, Debug, Args)]
pub struct TimeArgs {
    /// Only commits whose time is at or after TIME (e.g. 2026-11-27T15:03:30Z,
    /// 2026-11-27T16:03:30+01:00, 2026-11-27 (UTC), or a time ago: 1h, 2d).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub since: Option<TimeArg>,
    /// Only commits whose time is at or before TIME (a date includes that whole day).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub until: Option<TimeArg>,
}

/// The commits a verb that reads a range of them covers: the store, the range, the time window.
#[derive(Clone, Debug, Args)]
pub struct ScanArgs {
    /// The store: a folder, or a postgres:// or s3:// address (default: FOLDSTORE_STORE).
    #[arg(env = super::STORE_ENV)]
    pub store: PathBuf,
    #[command(flatten)]
    pub range: RangeArgs,
    #[command(flatten)]
    pub time: TimeArgs,
    /// Only commits with header KEY equal to VALUE, e.g. --header user=arjan (may be given
    /// more than once: all of them). A header that is not a string matches its JSON text
    /// (--header n=5 matches the number 5).
    #[arg(long = "header", value_name = "KEY=VALUE", value_parser = parse_header)]
    pub headers: Vec<(String, String)>,
    /// Only events meeting the condition PATH OP VALUE on their members, e.g. --where
    /// 'data.amount>10', --where data.address.city=Oslo (may be given more than once: all of
    /// them, by one event; log shows the commits holding such an event). PATH: data.KEY...,
    /// name, commit, time, headers.KEY; OP: =, !=, <, >, <=, >=, ~ (contains); VALUE is read
    /// as JSON when it is JSON, else as a string. See "Selecting" in the README.
    #[arg(long = "where", value_name = "EXPR", value_parser = parse_condition)]
    pub conditions: Vec<Condition>,
    /// Print at most N (the first N selected: lines of events, commits of log).
    #[arg(short = 'n', long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub limit: Option<u64>,
}

/// A commit named on the command line: by its number, or by its place from the end of the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommitArg {
    /// Commit N (from 1).
    Number(u64),
    /// The N-th commit from the end (1: the last).
    FromEnd(u64),
}

/// Parses a commit: its number (from 1), `last`, or `-N` (the N-th from the end; `-1` is the
/// last).
pub(super) fn parse_commit(text: &str) -> Result<CommitArg, String> {
    let hint =
        "use a commit number (from 1), last, or -N for the N-th from the end (-1 is the last)";
    if text == "last" {
        return Ok(CommitArg::FromEnd(1));
    }
    let (from_end, digits) = match text.strip_prefix('-') {
        Some(digits) => (true, digits),
        None => (false, text),
    };
    match digits.parse::<u64>() {
        Ok(0) => Err(format!(
            "{text:?} is not a commit: commit numbers start at 1; {hint}"
        )),
        Ok(n) if from_end => Ok(CommitArg::FromEnd(n)),
        Ok(n) => Ok(CommitArg::Number(n)),
        Err(e) => Err(format!("{text:?} is not a commit ({e}); {hint}")),
    }
}

/// What `show` shows: one commit, or a range of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Commits {
    /// One commit.
    One(CommitArg),
    /// The commits from the first (default: 1) to the last (default: the end of the log),
    /// both included.
    Range(Option<CommitArg>, Option<CommitArg>),
}

/// Parses a commit (see [`parse_commit`]) or a range of them, `A..B`, `A..` or `..B`, whose
/// ends are commits as [`parse_commit`] reads them (`5..9`, `-3..`, `5..last`).
pub(super) fn parse_commits(text: &str) -> Result<Commits, String> {
    if text.starts_with("--") {
        return Err(format!(
            "{text:?} is neither an option of show (see --help) nor a commit"
        ));
    }
    let Some((first, last)) = text.split_once("..") else {
        return parse_commit(text).map(Commits::One);
    };
    let end = |part: &str| -> Result<Option<CommitArg>, String> {
        if part.is_empty() {
            Ok(None)
        } else {
            parse_commit(part)
                .map(Some)
                .map_err(|e| format!("in the range {text:?}: {e}"))
        }
    };
    let range = (end(first)?, end(last)?);
    if let (Some(CommitArg::Number(a)), Some(CommitArg::Number(b))) = range {
        if b < a {
            return Err(format!(
                "the range {text:?} is backwards: it ends before it starts (write the first commit first)"
            ));
        }
    }
    Ok(Commits::Range(range.0, range.1))
}

/// Parses an event name to write: one the original package can dispatch (not empty, not
/// beginning with whitespace or a control character).
pub(super) fn parse_event_name(text: &str) -> Result<String, String> {
    foldstore::Commit::check_event_name(text)
        .map(|()| text.to_owned())
        .map_err(|e| event_problem(&e))
}

/// How `foldstore append` tags its events and when it writes them.
#[derive(Clone, Debug, Default, Args)]
pub struct BoundaryArgs {
    /// Tag the event (with --stdin: every event) with TAG, e.g. account:7 (may be given more
    /// than once).
    #[arg(long, value_name = "TAG")]
    pub tag: Vec<String>,
    /// Write only if no event matching the condition's query was committed after commit N (0:
    /// none at all); else write nothing and exit with status 3. See "Conditional appends".
    #[arg(long, value_name = "N")]
    pub if_none_after: Option<u64>,
    /// The condition's query: events carrying TAG (may be given more than once: all of them).
    #[arg(long, value_name = "TAG", requires = "if_none_after")]
    pub query_tag: Vec<String>,
    /// The condition's query: events named NAME (may be given more than once: any of them).
    #[arg(long, value_name = "NAME", requires = "if_none_after")]
    pub query_name: Vec<String>,
    /// Write only if no commit with this key is in the store yet; else write nothing and
    /// print the number of the commit that holds it (status 0). The key is kept as the tag
    /// idempotency:KEY of the first event.
    #[arg(long, value_name = "KEY", conflicts_with = "if_none_after")]
    pub idempotency_key: Option<String>,
}

/// The layout of a new folder store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LayoutArg {
    /// The original package's layout, one file per commit (`k.log`); the original package can
    /// share it.
    Loose,
    /// foldstore's journal: commits as records of append-only segment files; much faster,
    /// and foldstore only.
    Journal,
}

impl From<LayoutArg> for foldstore::Layout {
    fn from(layout: LayoutArg) -> Self {
        match layout {
            LayoutArg::Loose => foldstore::Layout::Loose,
            LayoutArg::Journal => foldstore::Layout::Journal,
        }
    }
}

/// Parses a header `KEY=VALUE` (the value may hold `=`; the key must not be empty).
pub(super) fn parse_header(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err(format!(
            "{text:?} is not a header: write KEY=VALUE, e.g. user=arjan"
        )),
    }
}

/// Parses a header to write, as [`parse_header`]; refuses the `commitId` header, which
/// foldstore writes itself (a unique id by which a writer recognizes its own commit).
pub(super) fn parse_header_to_write(text: &str) -> Result<(String, String), String> {
    let (key, value) = parse_header(text)?;
    if key == foldstore::COMMIT_ID_HEADER {
        return Err(format!(
            "the header {key:?} is foldstore's own (a unique id by which a writer recognizes \
             its commit): choose another name"
        ));
    }
    Ok((key, value))
}

/// Where the subjects' keys are, and the master key that opens them.
#[derive(Clone, Debug, Args)]
pub struct KeysArgs {
    /// The key store: a folder (kept apart from the store).
    #[arg(long, value_name = "DIR", env = "FOLDSTORE_KEYS")]
    pub keys: Option<PathBuf>,
    /// A file holding the master key (64 hex digits); default: the environment variable
    /// FOLDSTORE_MASTER_KEY.
    #[arg(long, value_name = "FILE")]
    pub master_key_file: Option<PathBuf>,
}
