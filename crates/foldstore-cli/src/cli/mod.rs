//! The command line: verbs, arguments and their help.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::cmd::buckets::Bucket;

mod args;
mod bench;

use crate::template::{parse_template, Template};
use args::{parse_commits, parse_event_name, parse_header_to_write};
pub use args::{
    BadCommandLine, BoundaryArgs, CommitArg, Commits, KeysArgs, LayoutArg, RangeArgs, ScanArgs,
    TimeArgs,
};
pub use bench::{BenchDurability, BenchServe, BenchWorkload};

const AFTER_HELP: &str = "\
Examples:
  foldstore append ./members heartbeat        write a commit
  foldstore log ./members                      list the commits
  foldstore show ./members 3                   look at one commit (or 3..5, -3..)
  foldstore events ./bank --where 'data.amount>100'   events by their data
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
  FOLDSTORE_STORE the store of the verbs whose one argument is STORE, when it is left out
                 (init, log, events, tail, stats, snapshots, verify, repair, export, gc, demo,
                 serve);
                 an argument given wins
  FOLDSTORE_TOKEN the token 'foldstore serve' asks clients for, without --token-file
  FOLDSTORE_LOG  what to log on standard error, e.g. debug or foldstore=trace (default: warn)
  NO_COLOR       when set, no colors (unless --color always)
  CLICOLOR_FORCE when set, colors even when the output is not a terminal

Times (--since, --until) are written as RFC 3339 (2026-11-27T15:03:30Z,
2026-11-27T15:03:30.380Z, 2026-11-27T16:03:30+01:00; UTC without an offset), as a date
(2026-11-27, a UTC day), or as a time ago (90s, 15m, 1h, 2d, 1w, '1h 30m'). They select commits
by their `time` header; with either option, commits without a readable time are left out.
--until includes the whole of the last unit written: all of that day for a date, all of that
second for a time without fractions.";

/// The environment variable naming the store when a verb's STORE argument is left out.
pub const STORE_ENV: &str = "FOLDSTORE_STORE";

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

    /// The archive of an archived store (a folder or s3://bucket/prefix), for reading the
    /// commits before its log's start (see 'foldstore archive').
    #[arg(
        long,
        global = true,
        env = "FOLDSTORE_ARCHIVE",
        value_name = "FOLDER|URL"
    )]
    pub archive: Option<PathBuf>,

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

/// The verbs.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Append one event, or a block of events read from standard input, as one commit.
    ///
    /// Prints the new commit's number. Creates the store's folder if it does not exist.
    #[command(after_help = "Examples:
  foldstore append ./members newMemberRegistered '{\"member\": {\"name\": \"peter pan\"}}'
  foldstore append ./members heartbeat
  foldstore append ./members heartbeat --header user=arjan --header host=web-2
  printf '%s\\n' '{\"name\": \"a\", \"data\": 1}' '{\"name\": \"b\"}' | foldstore append ./members --stdin
  foldstore append --layout journal ./fast-store heartbeat
  foldstore append ./bank deposited '{\"amount\": 5}' --tag account:7
  foldstore append ./bank withdrawn '{\"amount\": 5}' --tag account:7 --if-none-after 12
  foldstore append ./bank opened --tag account:9 --if-none-after 0
  foldstore append ./bank deposited '{\"amount\": 5}' --tag account:7 --idempotency-key req-8f2c
  foldstore append ./ledger opened --chain

Conditional appends:
  --if-none-after N writes only if no event matching the condition's query was committed
  after commit N, the last commit the decision read (0: no such event may exist at all, which
  guards uniqueness). The query is --query-tag and --query-name when given, else the event's
  own --tag values: appending to one stream expecting its version. The check and the write are
  atomic, also against other processes. When the condition fails, nothing is written, the
  conflicting commits are named on standard error, and the exit status is 3.")]
    Append {
        /// The store: a folder, or a postgres:// or s3:// address (FOLDSTORE_STORE is not
        /// taken here: the arguments after STORE could be mistaken for it).
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
        /// Add the header KEY with the string VALUE to the commit, e.g. --header user=arjan
        /// (may be given more than once). The commit's `time` header is there unless given.
        #[arg(long = "header", value_name = "KEY=VALUE", value_parser = parse_header_to_write)]
        headers: Vec<(String, String)>,
        /// Chain the commit: start the store's tamper-evident chain with it when the log has
        /// none (once it has started, every writer continues it; see 'verify --chain').
        #[arg(long)]
        chain: bool,
        #[command(flatten)]
        boundary: BoundaryArgs,
    },

    /// Serve the store over HTTP: a web page to look into it (open the address in a browser:
    /// the log, filters, commits, live mode, a chart, health, event shapes) and a JSON API to
    /// read, query, follow and (with --allow-writes) append to it. See docs/web.md and
    /// docs/api.md.
    #[command(after_help = "Examples:
  foldstore serve ./members                              read-only, on http://127.0.0.1:8080
  FOLDSTORE_TOKEN=s3cret foldstore serve ./members --allow-writes
  foldstore serve ./members --listen 0.0.0.0:8080 --token-file /etc/foldstore/token

Access:
  The server listens on loopback unless --listen says otherwise, and is read-only unless
  --allow-writes. Writes, and every request when it listens beyond loopback, need the header
  'Authorization: Bearer TOKEN', the token read from --token-file or FOLDSTORE_TOKEN (never
  the command line, where other users could see it). Without a token the server refuses to
  start in those cases.")]
    Serve(crate::serve::ServeArgs),

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
  foldstore events ./members --since 2026-11-27T16:00:00+01:00
  foldstore events ./members --since 2h --header user=arjan
  foldstore events ./members --pretty | less -R
  foldstore events ./members --reverse -n 3 --name memberHasMoved
  foldstore events ./members --tsv --name memberHasMoved | column -t -s $'\\t'
  foldstore events ./bank --where 'data.amount>=100' --where data.currency=NOK
  foldstore events ./members --where data.address.city~Oslo --format '{commit}\\t{data.name}'
  foldstore events ./bank --csv --name deposited > deposits.csv
  foldstore events -f ./members --from 100 --name memberHasMoved")]
    Events {
        #[command(flatten)]
        scan: ScanArgs,
        /// Only events with this name (may be given more than once: any of them). The first
        /// letter's case does not count (memberHasMoved is MemberHasMoved), as in the original.
        #[arg(long, value_name = "NAME")]
        name: Vec<String>,
        /// --name matches only names spelled exactly so (memberHasMoved is not
        /// MemberHasMoved).
        #[arg(long, requires = "name")]
        exact_names: bool,
        /// Only events carrying this tag (may be given more than once: all of them).
        #[arg(long, value_name = "TAG")]
        tag: Vec<String>,
        /// Only events committed after commit N (the same as --from N+1).
        #[arg(long, value_name = "N", conflicts_with = "from")]
        after: Option<u64>,
        /// Print each line as indented JSON, colored on a terminal (for people; still JSON).
        #[arg(long, conflicts_with_all = ["tsv", "csv", "format"])]
        pretty: bool,
        /// Print tab-separated values instead of JSON: commit, time, name, data (compact JSON,
        /// empty for none), a heading line first; control characters escaped (\t, \n).
        #[arg(long, conflicts_with_all = ["csv", "format"])]
        tsv: bool,
        /// Print comma-separated values (RFC 4180: quoted where needed, lines ending in CRLF):
        /// the columns of --tsv, a heading line first.
        #[arg(long, conflicts_with = "format")]
        csv: bool,
        /// Print each event as TEMPLATE says: fields in braces, by the paths --where takes,
        /// e.g. '{commit}\t{time}\t{name}\t{data.amount}' (a field an event lacks is empty;
        /// \t and \n are a tab and a newline, {{ and }} braces).
        #[arg(long, value_name = "TEMPLATE", value_parser = parse_template)]
        format: Option<Template>,
        /// Keep running and print the events of new commits as they land (from any process),
        /// until interrupted (or --limit lines are printed).
        #[arg(short, long, conflicts_with = "to")]
        follow: bool,
        /// Newest first: the lines in reverse order (with -n: the last N selected).
        #[arg(short, long, conflicts_with = "follow")]
        reverse: bool,
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
  foldstore log ./members -r -n 5                   the last 5 commits, newest first
  foldstore log ./members --since 2026-11-27 --name memberHasMoved
  foldstore log ./members --since 1d --header user=arjan
  foldstore log ./members --json | jq -r 'select(.bytes > 4096) | .commit'
  foldstore log ./members --tsv | cut -f1,4
  foldstore log ./members --where 'data.name=peter pan'
  foldstore log ./members --format '{commit} {headers.user} {events}'
  foldstore log ./members --csv > commits.csv
  foldstore ls ./members | less"
    )]
    Log {
        #[command(flatten)]
        scan: ScanArgs,
        /// Only commits with at least one event of this name (may be given more than once). The
        /// first letter's case does not count (memberHasMoved is MemberHasMoved), as in the
        /// original.
        #[arg(long, value_name = "NAME")]
        name: Vec<String>,
        /// --name matches only names spelled exactly so (memberHasMoved is not
        /// MemberHasMoved).
        #[arg(long, requires = "name")]
        exact_names: bool,
        /// One JSON object a line: `{"commit", "time", "bytes", "events": [names]}`.
        #[arg(long, conflicts_with_all = ["tsv", "csv", "format"])]
        json: bool,
        /// Tab-separated values: commit, time, bytes, events (names separated by commas), a
        /// heading line first; control characters escaped (\t, \n).
        #[arg(long, conflicts_with_all = ["csv", "format"])]
        tsv: bool,
        /// Comma-separated values (RFC 4180: quoted where needed, lines ending in CRLF): the
        /// columns of --tsv, a heading line first.
        #[arg(long, conflicts_with = "format")]
        csv: bool,
        /// Print each commit as TEMPLATE says: fields in braces, {commit}, {time}, {bytes},
        /// {events} (the names, separated by commas), {headers.KEY}, e.g.
        /// '{commit}\t{headers.user}' (a field a commit lacks is empty; \t and \n are a tab
        /// and a newline, {{ and }} braces).
        #[arg(long, value_name = "TEMPLATE", value_parser = parse_template)]
        format: Option<Template>,
        /// Newest first (with -n: the last N commits selected).
        #[arg(short, long)]
        reverse: bool,
    },

    /// Show one commit, or a range of them: file, headers and events, with their data
    /// pretty-printed.
    ///
    /// A range A..B holds the commits A to B, both included, as log --from A --to B: an end
    /// beyond the log is cut at the end, and a start before the log's (-20.. of 5 commits) at
    /// commit 1. A.. runs to the end of the log, ..B from its start.
    #[command(after_help = "Examples:
  foldstore show ./members 3
  foldstore show ./members last
  foldstore show ./members -2                  the commit before the last
  foldstore show ./members 5..9                commits 5 to 9
  foldstore show ./members 5..                 commit 5 and every one after it
  foldstore show ./members -3..last            the last three commits
  foldstore show ./members 3 --json | jq '.events[0].data'
  foldstore show ./members 7 --raw | xxd | head      the bytes of a damaged commit")]
    Show {
        /// The store: a folder, or a postgres:// or s3:// address (FOLDSTORE_STORE is not
        /// taken here: the arguments after STORE could be mistaken for it).
        store: PathBuf,
        /// The commit: its number (from 1), last, or -N for the N-th from the end (-1 is the
        /// last); or a range of them: A..B, A.., ..B (e.g. 5..9, -3..).
        #[arg(value_name = "N", value_parser = parse_commits, allow_hyphen_values = true)]
        commit: Commits,
        /// Print the commit document, {"headers": ..., "events": [...]}, as one line of JSON
        /// (for a range: one line per commit, in order).
        #[arg(long, conflicts_with = "raw")]
        json: bool,
        /// Print the bytes stored for the commit, as they are, even when they are damaged (on
        /// a terminal: as text, control characters escaped). One commit only.
        #[arg(long)]
        raw: bool,
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
        /// The store: a folder, or a postgres:// or s3:// address (default: FOLDSTORE_STORE).
        #[arg(env = STORE_ENV)]
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
    /// Event names are counted by the original package's rule: memberHasMoved and
    /// MemberHasMoved are one event (the spellings seen are listed; see --exact-names).
    /// Reads every commit. Damaged commits are listed, and make the status 1.
    #[command(after_help = "Examples:
  foldstore stats ./members
  foldstore stats ./members --json | jq .events_by_name
  foldstore stats ./members --exact-names
  foldstore stats ./members --by day
  foldstore stats ./members --by hour --json | jq '.buckets[] | [.start, .commits]'")]
    Stats {
        /// The store: a folder, or a postgres:// or s3:// address (default: FOLDSTORE_STORE).
        #[arg(env = STORE_ENV)]
        store: PathBuf,
        /// Print the report as one JSON object.
        #[arg(long)]
        json: bool,
        /// Count each spelling of an event name apart. By default names that differ only in
        /// the case of their first letter are one event, as in the original package
        /// (memberHasMoved is MemberHasMoved), and the spellings seen are shown beside it.
        #[arg(long)]
        exact_names: bool,
        /// Instead, count the commits and events of each hour or day (UTC) of their time
        /// header: a table, with a bar chart on a terminal (hours and days without commits
        /// are left out).
        #[arg(long, value_name = "hour|day", conflicts_with = "exact_names")]
        by: Option<Bucket>,
    },

    /// List the shapes of each event name's data, with how many events had each, and the
    /// first and last commit (and time) that held one.
    ///
    /// A shape is the data's JSON types: an object's members with their shapes (member order
    /// does not count), an array as the shapes of its elements (`[number | string]`), null,
    /// boolean, number (integers and fractions alike), string, or absent (no data). Names are
    /// grouped as the original package dispatches them (memberHasMoved is MemberHasMoved), and
    /// listed alphabetically. Reads every commit (of an archived store read without its
    /// archive, those from the log's start on, said on standard error); a damaged commit or a
    /// gap stops it with an error (status 1: see 'foldstore verify'). At most 1,000 shapes a
    /// name and 10,000 names are kept, and a shape's text is cut at 64 KiB; events beyond are
    /// counted and said so.
    ///
    /// --json prints one object: {"store", "first", "commits", "events", "names": [{"name",
    /// "spellings", "events", "shapes": [{"shape", "count", "first": {"commit", "time"},
    /// "last": {"commit", "time"}}], "other_shapes"}], "other_names"}, `time` null when the
    /// commit has no time header.
    #[command(after_help = "Examples:
  foldstore schema ./members
  foldstore schema ./members --name memberHasMoved
  foldstore schema ./members --json | jq -r '.names[] | [.name, (.shapes | length)] | @tsv'")]
    Schema {
        /// The store: a folder, or a postgres:// or s3:// address (default: FOLDSTORE_STORE).
        #[arg(env = STORE_ENV)]
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
        /// The store: a folder, or a postgres:// or s3:// address (default: FOLDSTORE_STORE).
        #[arg(env = STORE_ENV)]
        store: PathBuf,
        /// Print the report as one JSON object.
        #[arg(long)]
        json: bool,
    },

    /// Read every commit and snapshot, and list every problem found.
    ///
    /// Exits with status 0 when the store is sound (an empty folder is an empty store), 1 when
    /// it has problems, or when the folder is most likely not a store: it holds other files,
    /// but no commits and no snapshots. With --chain, also follows the store's tamper-evident
    /// chain in the same read and names the first commit where it breaks, and why (edited,
    /// removed, swapped, inserted, written without the chain); with --checkpoint, checks that
    /// the log still extends a signed checkpoint taken earlier ('foldstore checkpoint').
    #[command(after_help = "Examples:
  foldstore verify ./members
  foldstore verify ./members --json | jq .problems
  foldstore verify ./members --chain
  foldstore verify ./members --chain --checkpoint monday.json --public-key auditor.key.pub")]
    Verify {
        /// The store: a folder, or a postgres:// or s3:// address (default: FOLDSTORE_STORE).
        #[arg(env = STORE_ENV)]
        store: PathBuf,
        /// Print the report as one JSON object.
        #[arg(long)]
        json: bool,
        /// Follow the chain: every commit from the one that starts it must link to the one
        /// before it (a store without a chain is a problem).
        #[arg(long)]
        chain: bool,
        /// Check that the log still extends this checkpoint file (needs --chain and
        /// --public-key).
        #[arg(long, value_name = "FILE", requires_all = ["chain", "public_key"])]
        checkpoint: Option<PathBuf>,
        /// The public key of the checkpoint's signer, the one you trust (a file written by
        /// 'foldstore checkpoint --generate-key').
        #[arg(long, value_name = "FILE", requires = "checkpoint")]
        public_key: Option<PathBuf>,
    },

    /// Sign the end of a store's chain: write a checkpoint file (the last commit's number and
    /// hash, the time, an ed25519 signature) that 'verify --chain --checkpoint' later checks
    /// the log against.
    ///
    /// Verifies the chain first, and writes nothing when it is broken. Keep the signing key
    /// away from the store (whoever could rewrite the log must not hold it); give the public
    /// key to whoever checks. --generate-key FILE writes a new signing key to FILE (readable by
    /// its owner only, never replacing a file) and its public key to FILE.pub.
    #[command(after_help = "Examples:
  foldstore checkpoint --generate-key ~/keys/members-audit.key
  foldstore checkpoint ./members --signing-key ~/keys/members-audit.key --out monday.json
  foldstore verify ./members --chain --checkpoint monday.json --public-key ~/keys/members-audit.key.pub")]
    Checkpoint {
        /// The store: a folder, or a postgres:// or s3:// address.
        #[arg(
            required_unless_present = "generate_key",
            conflicts_with = "generate_key"
        )]
        store: Option<PathBuf>,
        /// The signing key file.
        #[arg(long, value_name = "FILE", required_unless_present = "generate_key")]
        signing_key: Option<PathBuf>,
        /// Where to write the checkpoint (replaced if it exists).
        #[arg(long, value_name = "FILE", required_unless_present = "generate_key")]
        out: Option<PathBuf>,
        /// Write a new signing key to FILE and its public key to FILE.pub, and do nothing else.
        #[arg(long, value_name = "FILE", conflicts_with_all = ["signing_key", "out"])]
        generate_key: Option<PathBuf>,
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
        /// The store: a folder, or a postgres:// or s3:// address (default: FOLDSTORE_STORE).
        #[arg(env = STORE_ENV)]
        store: PathBuf,
        /// Only say what repair would do.
        #[arg(long)]
        dry_run: bool,
        /// Print the plan and its outcome as one JSON object.
        #[arg(long)]
        json: bool,
    },

    /// Remove what a folder store no longer needs; never a commit. A dry run unless --apply.
    ///
    /// Removes each model's snapshots older than its newest sound one (a newer damaged one is
    /// kept, and every snapshot of a model without a sound one), temporary files left by a
    /// write that stopped (a killed copy, a crash) once they are an hour old (a younger one may
    /// belong to a write at work), and files repair moved into foldstore-quarantine longer ago
    /// than --quarantine-older-than. Without --apply it only lists them.
    #[command(after_help = "Examples:
  foldstore gc ./members                      list what would be removed
  foldstore gc ./members --apply              remove it
  foldstore gc ./members --apply --quarantine-older-than 90d")]
    Gc {
        /// The store's folder (default: FOLDSTORE_STORE).
        #[arg(env = STORE_ENV)]
        store: PathBuf,
        /// Remove the files listed (without it: a dry run, nothing is removed).
        #[arg(long)]
        apply: bool,
        /// How long ago repair must have moved a file into the quarantine for gc to remove it,
        /// e.g. 30d, 12h, 0s (all of them).
        #[arg(long, value_name = "AGE", default_value = "30d", value_parser = humantime::parse_duration)]
        quarantine_older_than: std::time::Duration,
    },

    /// Move old commits into an archive, so that the live store keeps only the newer ones.
    /// A dry run unless --apply.
    ///
    /// The commits up to the point given (--up-to-snapshot: those the newest snapshot of a
    /// model holds; --up-to: a commit; --before: a time) are written to the archive (a folder,
    /// or s3://bucket/prefix) in checksummed chunks with a manifest, read back and checked;
    /// then the store's marker (foldstore-archived.json) says where its log starts and where the
    /// archive is, and the archived commits are removed from the store. Models open from their
    /// snapshots as before; reading older commits needs --archive (or FOLDSTORE_ARCHIVE). The
    /// last commit always stays. A crash at any step loses nothing: run it again to finish.
    /// A loose folder, once archived, cannot be read by the original package any more:
    /// archiving one needs --unreadable-by-original.
    #[command(after_help = "Examples:
  foldstore archive ./members --to ./members-archive --up-to-snapshot members      dry run
  foldstore archive ./members --to ./members-archive --up-to-snapshot members --apply
  foldstore archive ./members --to s3://archive/members --before 2026-01-01 --apply
  foldstore log ./members --from 1 --archive ./members-archive")]
    #[command(group(clap::ArgGroup::new("point").required(true).args(["up_to", "up_to_snapshot", "before"])))]
    Archive {
        /// The store's folder or URL (default: FOLDSTORE_STORE).
        #[arg(env = STORE_ENV)]
        store: PathBuf,
        /// The archive: a folder (created if missing), or s3://bucket/prefix. Archiving again
        /// must use the same archive.
        #[arg(long, value_name = "FOLDER|URL")]
        to: PathBuf,
        /// Archive commits 1 to N.
        #[arg(long, value_name = "N")]
        up_to: Option<u64>,
        /// Archive the commits the newest snapshot of this model holds.
        #[arg(long, value_name = "MODEL")]
        up_to_snapshot: Option<String>,
        /// Archive the commits written before this time (by their time header), e.g.
        /// 2026-01-01, 2026-01-01T00:00:00Z, 90d.
        #[arg(long, value_name = "TIME", value_parser = crate::filter::parse_time)]
        before: Option<crate::filter::TimeArg>,
        /// Archive (without it: a dry run, nothing is written anywhere).
        #[arg(long)]
        apply: bool,
        /// Archive a loose folder although the original package cannot read it afterwards.
        #[arg(long)]
        unreadable_by_original: bool,
        /// Print the report as one JSON object.
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

    /// Forget a subject: destroy its key in the key store, so that its data, sealed in the
    /// store, its copies and its exports, can no longer be read by anyone.
    ///
    /// Readers then meet the placeholder {"foldstore:forgotten": {"subject": ...}} where the
    /// subject's data was. The store itself is not touched (nor needed). The master key comes
    /// from --master-key-file or FOLDSTORE_MASTER_KEY, never from the command line.
    /// Exit status 0 when the key was destroyed, 1 when the subject had none.
    #[command(after_help = "Examples:
  foldstore forget 'member:peter pan' --keys ./member-keys --master-key-file ~/.foldstore-master
  FOLDSTORE_MASTER_KEY=$(cat master.key) foldstore forget 'member:peter pan' --keys ./member-keys")]
    Forget {
        /// The subject (the whole tag, e.g. 'member:peter pan').
        subject: String,
        #[command(flatten)]
        keys: KeysArgs,
        /// Print the outcome as one JSON object.
        #[arg(long)]
        json: bool,
    },

    /// List the subjects a key store holds keys for (never a key), or make a master key.
    #[command(after_help = "Examples:
  foldstore keys --new-master-key ~/.foldstore-master
  foldstore keys --keys ./member-keys --master-key-file ~/.foldstore-master
  foldstore keys --keys ./member-keys --json")]
    Keys {
        #[command(flatten)]
        keys: KeysArgs,
        /// Write a new random master key to this file (which must not exist; readable by its
        /// owner only) instead, and print nothing of it.
        #[arg(long, value_name = "FILE", conflicts_with = "json")]
        new_master_key: Option<PathBuf>,
        /// Print the subjects as one JSON array.
        #[arg(long)]
        json: bool,
    },

    /// Make an empty store: a folder (created with its parents) in the layout asked for.
    ///
    /// Other verbs that write (append, import, copy) make a store too; init makes one
    /// explicitly, in the journal layout if asked. A store that exists already is left as it
    /// is (status 0), unless it has the other layout (status 1); a folder holding other files
    /// but no store is refused.
    #[command(after_help = "Examples:
  foldstore init ./members
  foldstore init --layout journal ./fast-store
  FOLDSTORE_STORE=./members foldstore init")]
    Init {
        /// The store's folder, or a postgres:// or s3:// address (default: FOLDSTORE_STORE).
        #[arg(env = STORE_ENV)]
        store: PathBuf,
        /// The layout: loose (the original package's, the default) or journal (foldstore's
        /// own, much faster; the original package cannot read it).
        #[arg(long, value_name = "LAYOUT")]
        layout: Option<LayoutArg>,
    },

    /// Print commits as JSON lines, one commit a line, for `foldstore import`.
    ///
    /// Each line is {"commit": N, "headers": {...}, "events": [...]}: the commit's number and
    /// its document, with its JSON text as stored (numbers, member order and escapes kept),
    /// without whitespace between tokens. Commit boundaries and headers are kept, so that
    /// export, import and export again prints the same lines.
    #[command(after_help = "Examples:
  foldstore export ./members > members.jsonl
  foldstore export ./members --from 100 --to 200
  foldstore export ./members | foldstore import ./members-copy
  foldstore export ./members | jq -c '.events[].name'")]
    Export {
        /// The store: a folder, or a postgres:// or s3:// address (default: FOLDSTORE_STORE).
        #[arg(env = STORE_ENV)]
        store: PathBuf,
        #[command(flatten)]
        range: RangeArgs,
    },

    /// Write the commits of `foldstore export` lines into a store, each at its own number with
    /// its own headers.
    ///
    /// The lines must be numbered one after another. The store may be empty, or hold some of
    /// the commits already: those must be the same (headers and events), and are skipped, so
    /// importing an export twice writes nothing the second time. A store holding other
    /// commits, lines that would leave a gap, or any line that is not a commit are refused
    /// before anything is written. Pretty-printed JSON is refused (one commit a line; `jq -c .`
    /// makes it so). Each commit is written compact, as the original package writes it.
    /// Creates the store's folder if it does not exist.
    #[command(after_help = "Examples:
  foldstore import ./members-copy members.jsonl
  foldstore export ./members | foldstore import ./members-copy
  foldstore import --layout journal ./members-journal members.jsonl
  foldstore export ./members --from 101 | foldstore import ./members-copy -")]
    Import {
        /// The store: a folder, or a postgres:// or s3:// address (FOLDSTORE_STORE is not
        /// taken here: the arguments after STORE could be mistaken for it).
        store: PathBuf,
        /// The file of exported lines (default, or -: standard input).
        file: Option<PathBuf>,
        /// The layout of the store when it is a new folder store (default: loose).
        #[arg(long, value_name = "LAYOUT")]
        layout: Option<LayoutArg>,
    },

    /// Run the tutorial's membership database on a new store: register and move members
    /// through read-write instances, show that a refused event and an instance never marked
    /// ready write nothing, take a snapshot, and show the state.
    ///
    /// It writes only into an empty (or new) folder, or a store it wrote before (where it goes
    /// on from the store's state, and writes nothing new).
    #[command(after_help = "Example:
  foldstore demo ./demo-store")]
    Demo {
        /// The store's folder (created if it does not exist; default: FOLDSTORE_STORE).
        #[arg(env = STORE_ENV)]
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
