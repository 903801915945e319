//! The command line: verbs, arguments and their help.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::filter::{parse_time, TimeArg};
use crate::output::event_problem;

const AFTER_HELP: &str = "\
Examples:
  foldstore append ./members heartbeat        write a commit
  foldstore log ./members                      list the commits
  foldstore show ./members 3                   look at one commit
  foldstore tail -f ./members                  watch new commits land
  foldstore events ./members --name heartbeat  every event, as JSON lines
  foldstore events ./bank --tag account:7      one account's events, through the index
  foldstore verify ./members                   check every file
  foldstore schema ./members                   the shapes of each event's data
  foldstore copy ./members /backup/members     copy (or resume copying) a store
  foldstore log postgres://app@db:5432/shop?table=orders    a store in PostgreSQL
  foldstore copy ./members s3://bucket/members               a folder store into S3
  foldstore VERB --help                        more about a verb

Stores:
  A store is a folder (in the original package's loose layout, or foldstore's journal layout:
  see 'foldstore append --layout'), or the address of a store on a server:
  postgres://user[:password]@host:port/db[?table=NAME]   (default table: foldstore)
  s3://bucket/prefix   (endpoint, region, credentials from AWS_ENDPOINT_URL, AWS_REGION,
                        AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY; AWS_ALLOW_HTTP=true for http)

Exit status:
  0  success (for verify: the store is sound)
  1  failure: an error, or damage found (by verify, stats or snapshots)
  2  the command line is wrong
  3  append --if-none-after: the condition failed (nothing was written)

Environment:
  FOLDSTORE_LOG  what to log on standard error, e.g. debug or foldstore=trace (default: warn)
  NO_COLOR       when set, no colors (unless --color always)
  CLICOLOR_FORCE when set, colors even when the output is not a terminal

Times (--since, --until) are UTC, written as RFC 3339 (2026-11-27T15:03:30Z,
2026-11-27T15:03:30.380Z) or as a date (2026-11-27). They select commits by their `time`
header; with either option, commits without a readable time are left out. --until includes the
whole of the last unit written: all of that day for a date, all of that second for a time
without fractions.";

/// Inspect, follow, copy, append to and verify foldstore event stores.
///
/// A store is a folder of numbered commits (1.log, 2.log, ...), in the format of the Node.js
/// package @scriptabuild/eventstore, which can share the folder.
#[derive(Debug, Parser)]
#[command(name = "foldstore", version, after_help = AFTER_HELP)]
pub struct Cli {
    /// When to color the output: auto (on a terminal, unless NO_COLOR is set), always or never.
    #[arg(
        long,
        global = true,
        value_name = "WHEN",
        default_value = "auto",
        hide_possible_values = true
    )]
    pub color: ColorWhen,

    /// The verb.
    #[command(subcommand)]
    pub command: Command,
}

/// When to color the output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    /// On a terminal, unless NO_COLOR is set.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

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
    /// Only commits whose time is at or after TIME (UTC; e.g. 2026-11-27T15:03:30Z or 2026-11-27).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub since: Option<TimeArg>,
    /// Only commits whose time is at or before TIME (a date includes that whole day).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub until: Option<TimeArg>,
}

/// The commits a verb that reads a range of them covers: the store, the range, the time window.
#[derive(Clone, Debug, Args)]
pub struct ScanArgs {
    /// The store: a folder, or a postgres:// or s3:// address.
    pub store: PathBuf,
    #[command(flatten)]
    pub range: RangeArgs,
    #[command(flatten)]
    pub time: TimeArgs,
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
fn parse_commit(text: &str) -> Result<CommitArg, String> {
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

/// Parses an event name to write: one the original package can dispatch (not empty, not
/// beginning with whitespace or a control character).
fn parse_event_name(text: &str) -> Result<String, String> {
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

/// The verbs.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Append one event, or a block of events read from standard input, as one commit.
    ///
    /// Prints the new commit's number. Creates the store's folder if it does not exist.
    #[command(after_help = "Examples:
  foldstore append ./members newMemberRegistered '{\"member\": {\"name\": \"peter pan\"}}'
  foldstore append ./members heartbeat
  printf '%s\\n' '{\"name\": \"a\", \"data\": 1}' '{\"name\": \"b\"}' | foldstore append ./members --stdin
  foldstore append --layout journal ./fast-store heartbeat
  foldstore append ./bank deposited '{\"amount\": 5}' --tag account:7
  foldstore append ./bank withdrawn '{\"amount\": 5}' --tag account:7 --if-none-after 12
  foldstore append ./bank opened --tag account:9 --if-none-after 0
  foldstore append ./bank deposited '{\"amount\": 5}' --tag account:7 --idempotency-key req-8f2c

Conditional appends:
  --if-none-after N writes only if no event matching the condition's query was committed
  after commit N, the last commit the decision read (0: no such event may exist at all, which
  guards uniqueness). The query is --query-tag and --query-name when given, else the event's
  own --tag values: appending to one stream expecting its version. The check and the write are
  atomic, also against other processes. When the condition fails, nothing is written, the
  conflicting commits are named on standard error, and the exit status is 3.")]
    Append {
        /// The store: a folder, or a postgres:// or s3:// address.
        store: PathBuf,
        /// The event's name: not empty, and not beginning with whitespace or a control
        /// character (the original package could not dispatch it).
        #[arg(required_unless_present = "stdin", value_parser = parse_event_name)]
        name: Option<String>,
        /// The event's data, as JSON (a string needs its quotes: '"text"'); absent means no data.
        #[arg(allow_negative_numbers = true)]
        data: Option<String>,
        /// Read events from standard input, one JSON object {"name": ..., "data": ...} a line,
        /// and write them all as one commit (typed on a terminal: end with Ctrl-D).
        #[arg(long, conflicts_with_all = ["name", "data"])]
        stdin: bool,
        /// The layout of a new store (default: loose). An existing store keeps its own layout;
        /// asking for the other one is an error.
        #[arg(long, value_name = "LAYOUT")]
        layout: Option<LayoutArg>,
        #[command(flatten)]
        boundary: BoundaryArgs,
    },

    /// Print every event as one JSON line: {"commit", "headers", "name", "data"}.
    ///
    /// `data` is absent when the event has none; `tags` is there when it has tags. Filters
    /// combine: a line is printed when its commit is in the range and the time window, and its
    /// event has one of the names and all of the tags. With --name or --tag the events are
    /// found through the store's index instead of reading every commit.
    #[command(after_help = "Examples:
  foldstore events ./members
  foldstore events ./members --from 10 --to 20
  foldstore events ./members --name memberHasMoved -n 5
  foldstore events ./members --name memberHasMoved --name membershipEnded
  foldstore events ./bank --tag account:7 --name deposited --name withdrawn
  foldstore events ./bank --tag account:7 --after 120
  foldstore events ./members --since 2026-11-27T15:00:00Z --until 2026-11-27
  foldstore events ./members --pretty | less -R
  foldstore events -f ./members --from 100 --name memberHasMoved")]
    Events {
        #[command(flatten)]
        scan: ScanArgs,
        /// Only events with this name (may be given more than once: any of them). The first
        /// letter's case does not count (memberHasMoved is MemberHasMoved), as in the original.
        #[arg(long, value_name = "NAME")]
        name: Vec<String>,
        /// Only events carrying this tag (may be given more than once: all of them).
        #[arg(long, value_name = "TAG")]
        tag: Vec<String>,
        /// Only events committed after commit N (the same as --from N+1).
        #[arg(long, value_name = "N", conflicts_with = "from")]
        after: Option<u64>,
        /// Print each line as indented JSON, colored on a terminal (for people; still JSON).
        #[arg(long)]
        pretty: bool,
        /// Keep running and print the events of new commits as they land (from any process),
        /// until interrupted (or --limit lines are printed).
        #[arg(short, long, conflicts_with = "to")]
        follow: bool,
    },

    /// List the commits, oldest first: number, time, size and event names.
    ///
    /// Several events of one name in a row are shown once, with their count (×3).
    #[command(
        visible_alias = "ls",
        after_help = "Examples:
  foldstore log ./members
  foldstore log ./members --from 100 --to 120
  foldstore log ./members --from 100 -n 20
  foldstore log ./members --since 2026-11-27 --name memberHasMoved
  foldstore log ./members --json | jq -r 'select(.bytes > 4096) | .commit'
  foldstore ls ./members | less"
    )]
    Log {
        #[command(flatten)]
        scan: ScanArgs,
        /// Only commits with at least one event of this name (may be given more than once).
        #[arg(long, value_name = "NAME")]
        name: Vec<String>,
        /// One JSON object a line: `{"commit", "time", "bytes", "events": [names]}`.
        #[arg(long)]
        json: bool,
    },

    /// Show one commit: its file, headers and events, with their data pretty-printed.
    #[command(after_help = "Examples:
  foldstore show ./members 3
  foldstore show ./members last
  foldstore show ./members -2                  the commit before the last
  foldstore show ./members 3 --json | jq '.events[0].data'")]
    Show {
        /// The store: a folder, or a postgres:// or s3:// address.
        store: PathBuf,
        /// The commit: its number (from 1), last, or -N for the N-th from the end (-1 is the
        /// last).
        #[arg(value_name = "N", value_parser = parse_commit, allow_negative_numbers = true)]
        commit: CommitArg,
        /// Print the commit document, {"headers": ..., "events": [...]}, as one line of JSON.
        #[arg(long)]
        json: bool,
    },

    /// Show the last commits, and with -f follow new ones as they land (from any process).
    ///
    /// Following learns of new commits from notifications (the file system's, or PostgreSQL's)
    /// and also looks a few times a second (the only way on object storage); it never skips or
    /// repeats one. It ends with status 0 on Ctrl-C (or SIGTERM), and when its output is
    /// closed (which it notices when the next commit lands).
    #[command(after_help = "Examples:
  foldstore tail ./members
  foldstore tail -n 3 -f ./members
  foldstore tail -f --json ./members | jq -r '.events[]'")]
    Tail {
        /// The store: a folder, or a postgres:// or s3:// address.
        store: PathBuf,
        /// How many of the last commits to show first.
        #[arg(short = 'n', long, value_name = "N", default_value_t = 10)]
        lines: u64,
        /// Keep running and show new commits as they land, until interrupted.
        #[arg(short, long)]
        follow: bool,
        /// One JSON object a line, as `foldstore log --json`.
        #[arg(long)]
        json: bool,
    },

    /// Count what a store holds: commits, events (by name), bytes, first and last time,
    /// snapshots.
    ///
    /// Reads every commit. Damaged commits are listed, and make the status 1.
    #[command(after_help = "Examples:
  foldstore stats ./members
  foldstore stats ./members --json | jq .events_by_name")]
    Stats {
        /// The store: a folder, or a postgres:// or s3:// address.
        store: PathBuf,
        /// Print the report as one JSON object.
        #[arg(long)]
        json: bool,
    },

    /// List the shapes of each event name's data, with how many events had each, and the
    /// first and last commit (and time) that held one.
    ///
    /// A shape is the data's JSON types: an object's members with their shapes (member order
    /// does not count), an array as the shapes of its elements (`[number | string]`), null,
    /// boolean, number (integers and fractions alike), string, or absent (no data). Names are
    /// grouped as the original package dispatches them (memberHasMoved is MemberHasMoved), and
    /// listed alphabetically. Reads every commit; a damaged commit or a gap stops it with an
    /// error (status 1: see 'foldstore verify'). At most 1,000 shapes a name and 10,000 names are
    /// kept, and a shape's text is cut at 64 KiB; events beyond are counted and said so.
    ///
    /// --json prints one object: {"store", "commits", "events", "names": [{"name",
    /// "spellings", "events", "shapes": [{"shape", "count", "first": {"commit", "time"},
    /// "last": {"commit", "time"}}], "other_shapes"}], "other_names"}, `time` null when the
    /// commit has no time header.
    #[command(after_help = "Examples:
  foldstore schema ./members
  foldstore schema ./members --name memberHasMoved
  foldstore schema ./members --json | jq -r '.names[] | [.name, (.shapes | length)] | @tsv'")]
    Schema {
        /// The store: a folder, or a postgres:// or s3:// address.
        store: PathBuf,
        /// Only events of this name (the first letter's case does not count).
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
        /// Print the report as one JSON object.
        #[arg(long)]
        json: bool,
    },

    /// List each model's snapshots: the commit they hold the fold of, their time and size.
    ///
    /// Damaged snapshots are listed with what is wrong, and make the status 1.
    #[command(after_help = "Examples:
  foldstore snapshots ./members
  foldstore snapshots ./members --json")]
    Snapshots {
        /// The store: a folder, or a postgres:// or s3:// address.
        store: PathBuf,
        /// Print the report as one JSON object.
        #[arg(long)]
        json: bool,
    },

    /// Read every commit and snapshot, and list every problem found.
    ///
    /// Exits with status 0 when the store is sound (an empty folder is an empty store), 1 when
    /// it has problems, or when the folder is most likely not a store: it holds other files,
    /// but no commits and no snapshots.
    #[command(after_help = "Examples:
  foldstore verify ./members
  foldstore verify ./members --json | jq .problems")]
    Verify {
        /// The store: a folder, or a postgres:// or s3:// address.
        store: PathBuf,
        /// Print the report as one JSON object.
        #[arg(long)]
        json: bool,
    },

    /// Move a damaged last commit aside, into the store's foldstore-quarantine folder.
    ///
    /// The last commit is the only one an interrupted write can damage (the original package
    /// writes in place; a power loss without syncs can empty a new file). Repair says what it
    /// will do, then moves that file, never deleting anything. It refuses every other problem
    /// (damage before the last commit, a gap: restore those from a backup) and a last commit
    /// modified in the last seconds, which may still be being written.
    /// Exit status 0 when the store is sound afterwards, 1 when repair refused.
    #[command(after_help = "Examples:
  foldstore repair ./members --dry-run
  foldstore repair ./members")]
    Repair {
        /// The store: a folder, or a postgres:// or s3:// address.
        store: PathBuf,
        /// Only say what repair would do.
        #[arg(long)]
        dry_run: bool,
        /// Print the plan and its outcome as one JSON object.
        #[arg(long)]
        json: bool,
    },

    /// Copy a whole store, every byte of every commit and snapshot, into another folder or
    /// backend (between layouts and backends: a folder into PostgreSQL, say).
    ///
    /// Run it again to resume a copy that stopped: commits and snapshots already at TO with
    /// the same bytes are skipped. It never overwrites: a file at TO with other bytes, or
    /// commits at TO beyond the end of FROM, stop it with an error. Each commit is checked
    /// before it is copied, so a damaged FROM stops the copy at the damage (TO then holds the
    /// sound commits before it) unless --force is given.
    #[command(after_help = "Examples:
  foldstore copy ./members /backup/members
  foldstore copy ./members /backup/members --json
  foldstore copy --force ./damaged ./rescued
  foldstore copy --layout journal ./members ./members-journal")]
    Copy {
        /// The store to copy (a folder or an address).
        from: PathBuf,
        /// Where to copy it: a folder (created if it does not exist) or an address.
        to: PathBuf,
        /// Copy damaged commits and snapshots too, byte for byte, as they are (and leave gaps
        /// as gaps).
        #[arg(long)]
        force: bool,
        /// The layout of TO when it is a new folder store (default: the layout of FROM; an
        /// existing TO keeps its own): copying into the other layout converts the store.
        #[arg(long, value_name = "LAYOUT")]
        layout: Option<LayoutArg>,
        /// Print the report as one JSON object.
        #[arg(long)]
        json: bool,
    },

    /// Run the tutorial's membership database on a store: register, move and remove members
    /// through read-write instances, take a snapshot, and show the state.
    #[command(after_help = "Example:
  foldstore demo ./demo-store")]
    Demo {
        /// The store's folder (created if it does not exist).
        store: PathBuf,
    },

    /// Measure appends or a replay on a folder store, and print the figures as one JSON object.
    ///
    /// Every event is a `memberHasMoved` event with a small object as data (about 100 bytes),
    /// the same as the comparison program's (crates/foldstore-compare). The JSON object holds
    /// the workload, its parameters, the elapsed seconds, commits/s and events/s; on a terminal
    /// a summary line is also written to standard error. Figures are only comparable within one
    /// run on one machine: compare them as ratios, and not on trivially small stores.
    #[command(after_help = "Examples:
  foldstore bench append --commits 10000 --durability none
  foldstore bench append --commits 2000
  foldstore bench append --commits 2000 --writers 8 --layout journal
  foldstore bench append --commits 20000 --writers 4 --events-per-commit 5 --dir ./bench-store
  foldstore bench replay --commits 10000
  foldstore bench replay ./members
  foldstore bench append --durability none | jq .commits_per_second")]
    Bench {
        /// What to measure.
        #[command(subcommand)]
        workload: BenchWorkload,
    },

    /// Print a completion script for a shell.
    #[command(after_help = "Examples:
  foldstore completions bash > ~/.local/share/bash-completion/completions/foldstore
  foldstore completions zsh > ~/.zfunc/_foldstore
  foldstore completions fish > ~/.config/fish/completions/foldstore.fish")]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// What `foldstore bench` measures.
#[derive(Debug, Subcommand)]
pub enum BenchWorkload {
    /// Append N commits to a new store (in a temporary folder, removed afterwards, or --dir,
    /// kept), from W threads sharing one store.
    Append {
        /// How many commits to append.
        #[arg(long, value_name = "N", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
        commits: u64,
        /// How many events each commit holds.
        #[arg(long, value_name = "E", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
        events_per_commit: u64,
        /// How many threads append at once, to one store (they share the commits out).
        #[arg(long, value_name = "W", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=1024))]
        writers: u64,
        /// immediate: each commit is synced before the call returns (the library's default);
        /// none: no syncs.
        #[arg(long, value_name = "D", default_value = "immediate")]
        durability: BenchDurability,
        /// Make the store in this folder (which must not exist, or be empty) and keep it.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// The layout of the store made.
        #[arg(long, value_name = "LAYOUT", default_value = "loose")]
        layout: LayoutArg,
    },

    /// Replay every event of a store: one it makes first (N commits, in a temporary folder,
    /// not timed), or an existing STORE.
    ///
    /// The replay is timed from opening the store to its last event. A store just made is read
    /// back from the operating system's cache; an existing one may be read from the disk.
    Replay {
        /// An existing store to replay (default: make one of --commits commits).
        #[arg(conflicts_with_all = ["commits", "events_per_commit"])]
        store: Option<PathBuf>,
        /// How many commits the store made for the replay holds (default 10000).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
        commits: Option<u64>,
        /// How many events each commit of the store made for the replay holds (default 1).
        #[arg(long, value_name = "E", value_parser = clap::value_parser!(u64).range(1..))]
        events_per_commit: Option<u64>,
        /// The layout of the store made for the replay (default: loose).
        #[arg(long, value_name = "LAYOUT", conflicts_with = "store")]
        layout: Option<LayoutArg>,
    },
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

/// The durability of the commits `foldstore bench append` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BenchDurability {
    /// Sync each commit file and the folder before the write returns.
    Immediate,
    /// No syncs.
    None,
}
