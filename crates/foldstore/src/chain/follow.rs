//! Following a log's chain: hashing each commit's stored bytes as it is read, checking each
//! link against the commit before it, and naming the first commit where the chain breaks.

use std::fmt;

use super::link::{ChainHash, ChainLink};
use crate::event::Headers;

/// What a verification read, in the order of the commit numbers, for a [`ChainFollower`].
#[derive(Debug)]
pub(crate) enum Seen {
    /// A commit: its stored bytes, and its `chain` header as [`ChainLink::read`] found it
    /// (`None`: the commit does not decode).
    Commit {
        number: u64,
        bytes: Vec<u8>,
        link: Option<Result<Option<ChainLink>, String>>,
    },
    /// Commits `first` to `next - 1` are absent.
    Missing { first: u64, next: u64 },
    /// Commit `number` cannot be read.
    Unreadable { number: u64 },
    /// The last commit archived, `number`, not read: the hash of its stored bytes and whether
    /// it carries a chain header, as the store's archive marker keeps them. The chain is
    /// followed on from it.
    Archived {
        number: u64,
        hash: ChainHash,
        chained: bool,
    },
}

impl Seen {
    /// A commit read, with its headers when it decodes.
    pub(crate) fn commit(number: u64, bytes: Vec<u8>, headers: Option<&Headers>) -> Seen {
        Seen::Commit {
            number,
            bytes,
            link: headers.map(ChainLink::read),
        }
    }
}

/// What [`Store::verify_chain`](crate::Store::verify_chain) found of the chain.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChainReport {
    /// The commit that starts the chain (`None`: no commit carries a `chain` header).
    pub started: Option<u64>,
    /// Chained commits whose link was checked and found sound (the one that starts the chain
    /// included), up to the first break.
    pub chained: u64,
    /// The last commit read and the hash of its stored bytes (what a checkpoint signs).
    pub last: Option<(u64, ChainHash)>,
    /// The first commit where the chain breaks.
    pub broken: Option<ChainBreak>,
}

/// Where, and why, a chain breaks: the first commit that is not what the chain recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChainBreak {
    /// The commit named: the one edited, the first one inserted, the first one missing, ...
    pub commit: u64,
    /// Where it is (a file, a journal segment, a row).
    pub location: String,
    /// What happened to it, as far as the chain tells.
    pub kind: BreakKind,
    /// The explanation, naming the commits involved.
    pub problem: String,
}

/// What a chain break is most likely to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BreakKind {
    /// The commit's bytes are not those the next commit recorded.
    Edited,
    /// Commits are missing: a gap, or later commits written under higher numbers.
    Removed,
    /// Two neighbouring commits changed places.
    Swapped,
    /// A commit the chain does not know sits between two that it links.
    Inserted,
    /// A commit without a `chain` header after the chain started (or a second start).
    Unchained,
    /// A commit that cannot be read or decoded, or whose `chain` header is not foldstore's.
    Damaged,
    /// The log no longer holds the commit a checkpoint signed.
    Rewritten,
}

impl BreakKind {
    /// The kind's name, as `verify --chain --json` prints it.
    pub fn name(self) -> &'static str {
        match self {
            BreakKind::Edited => "edited",
            BreakKind::Removed => "removed",
            BreakKind::Swapped => "swapped",
            BreakKind::Inserted => "inserted",
            BreakKind::Unchained => "unchained",
            BreakKind::Damaged => "damaged",
            BreakKind::Rewritten => "rewritten",
        }
    }
}

impl fmt::Display for BreakKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A commit read with a link to a higher number than its own: removed commits before it, or
/// the first of two swapped commits (told by the commit after it).
#[derive(Clone, Copy, Debug)]
struct Ahead {
    number: u64,
    written_as: u64,
    /// The hash its link holds.
    prev: ChainHash,
    /// The hash of the commit before it.
    before: Option<ChainHash>,
}

/// The state of a chain being followed, commit by commit in increasing order.
pub(crate) struct ChainFollower<'l> {
    location: &'l dyn Fn(u64) -> String,
    report: ChainReport,
    /// The commit before the one being read, and its hash (`None` after a gap).
    prev: Option<(u64, ChainHash)>,
    /// The hash of the commit before that.
    before: Option<ChainHash>,
    ahead: Option<Ahead>,
    /// The commit whose hash is wanted (a checkpoint's), and that hash once read.
    watch: Option<u64>,
    watched: Option<ChainHash>,
}

impl<'l> ChainFollower<'l> {
    /// A follower naming commits' places with `location`; it keeps the hash of commit `watch`.
    pub(crate) fn new(location: &'l dyn Fn(u64) -> String, watch: Option<u64>) -> Self {
        ChainFollower {
            location,
            report: ChainReport::default(),
            prev: None,
            before: None,
            ahead: None,
            watch,
            watched: None,
        }
    }

    /// The next thing the verification read.
    pub(crate) fn see(&mut self, seen: Seen) {
        match seen {
            Seen::Commit {
                number,
                bytes,
                link,
            } => self.commit(number, &bytes, link),
            Seen::Missing { first, next } => self.missing(first, next),
            Seen::Unreadable { number } => self.unreadable(number),
            Seen::Archived {
                number,
                hash,
                chained,
            } => {
                if self.watch == Some(number) {
                    self.watched = Some(hash);
                }
                self.report.last = Some((number, hash));
                if chained && self.report.started.is_none() {
                    self.report.started = Some(number);
                }
                self.prev = Some((number, hash));
                self.before = None;
            }
        }
    }

    /// The next commit: its number, stored bytes, and link (`None`: it does not decode).
    fn commit(
        &mut self,
        number: u64,
        bytes: &[u8],
        link: Option<Result<Option<ChainLink>, String>>,
    ) {
        let hash = ChainHash::of(bytes);
        if self.watch == Some(number) {
            self.watched = Some(hash);
        }
        self.report.last = Some((number, hash));
        if self.report.broken.is_none() {
            self.check(number, hash, link);
        }
        self.before = self.prev.map(|(_, hash)| hash);
        self.prev = Some((number, hash));
    }

    /// Commits `first` to `next - 1` are absent.
    fn missing(&mut self, first: u64, next: u64) {
        if self.report.started.is_some() {
            let problem = if next - first == 1 {
                format!("commit {first} is missing: it was removed from the chain")
            } else {
                format!(
                    "commits {first} to {} are missing: they were removed from the chain",
                    next - 1
                )
            };
            self.brk(first, BreakKind::Removed, problem);
        }
        self.prev = None;
        self.before = None;
    }

    /// Commit `number` cannot be read.
    fn unreadable(&mut self, number: u64) {
        if self.report.started.is_some() {
            self.brk(
                number,
                BreakKind::Damaged,
                format!("commit {number} cannot be read, so the chain cannot be followed past it"),
            );
        }
        self.prev = None;
        self.before = None;
    }

    /// The hash of the watched commit, if it was read.
    pub(crate) fn watched(&self) -> Option<ChainHash> {
        self.watched
    }

    /// What was found, once every commit was read.
    pub(crate) fn finish(mut self) -> ChainReport {
        if let Some(ahead) = self.ahead.take() {
            self.removed_before(ahead);
        }
        self.report
    }

    fn check(
        &mut self,
        number: u64,
        hash: ChainHash,
        link: Option<Result<Option<ChainLink>, String>>,
    ) {
        if let Some(ahead) = self.ahead.take() {
            return self.resolve(ahead, number, hash, link);
        }
        let started = self.report.started;
        let Some(link) = link else {
            if started.is_some() {
                self.brk(
                    number,
                    BreakKind::Damaged,
                    format!(
                        "commit {number} does not decode, so the chain cannot be followed past it"
                    ),
                );
            }
            return;
        };
        let link = match link {
            Ok(link) => link,
            // Before the chain starts, a `chain` header is the writer's own business.
            Err(_) if started.is_none() => return,
            Err(problem) => {
                return self.brk(
                    number,
                    BreakKind::Damaged,
                    format!("commit {number}: {problem}"),
                )
            }
        };
        match (link, started) {
            (None, None) => {}
            (None, Some(start)) => self.brk(
                number,
                BreakKind::Unchained,
                format!(
                    "commit {number} has no chain header, though the chain started at commit {start}: it was inserted by a writer without the chain, or its header was removed"
                ),
            ),
            (Some(ChainLink::Start { .. }), Some(start)) => self.brk(
                number,
                BreakKind::Unchained,
                format!(
                    "commit {number} starts the chain again, though it started at commit {start}: a commit inserted, or copied from another chain"
                ),
            ),
            (Some(ChainLink::Start { commit }), None) if commit != number => {
                self.renumbered(number, commit)
            }
            (Some(ChainLink::Start { .. }), None) => {
                self.report.started = Some(number);
                self.report.chained += 1;
            }
            (Some(ChainLink::Follows { commit, prev }), _) if commit != number => {
                match self.prev {
                    Some((_, before)) if commit == number + 1 => {
                        // Removed commits, or the first of two swapped ones: the next tells.
                        self.ahead = Some(Ahead {
                            number,
                            written_as: commit,
                            prev,
                            before: Some(before),
                        });
                    }
                    _ => self.renumbered(number, commit),
                }
            }
            (Some(ChainLink::Follows { .. }), _) if self.prev.is_none() => self.brk(
                number,
                BreakKind::Removed,
                format!(
                    "commit {number} follows a commit that is not there: the commits before it were removed"
                ),
            ),
            (Some(ChainLink::Follows { prev, .. }), _) => {
                let previous = number - 1;
                if self.prev.is_some_and(|(_, hash)| hash == prev) {
                    if started.is_none() {
                        self.brk(
                            previous,
                            BreakKind::Edited,
                            format!(
                                "commit {number} continues a chain, but commit {previous} before it has no chain header: the header of the commit that started the chain was removed"
                            ),
                        );
                    } else {
                        self.report.chained += 1;
                    }
                } else if self.before == Some(prev) {
                    self.brk(
                        previous,
                        BreakKind::Inserted,
                        format!(
                            "commit {previous} was inserted: commit {number} follows commit {} directly",
                            previous - 1
                        ),
                    );
                } else {
                    self.brk(
                        previous,
                        BreakKind::Edited,
                        format!(
                            "commit {previous} was changed: its stored bytes are not those commit {number} recorded"
                        ),
                    );
                }
            }
        }
    }

    /// The commit after one written as the commit after it: swapped with it, or else commits
    /// were removed before the first.
    fn resolve(
        &mut self,
        ahead: Ahead,
        number: u64,
        hash: ChainHash,
        link: Option<Result<Option<ChainLink>, String>>,
    ) {
        let link = link.and_then(Result::ok).flatten();
        let swapped = matches!(
            link,
            Some(ChainLink::Follows { commit, prev })
                if commit == ahead.number && Some(prev) == ahead.before
        ) && ahead.prev == hash;
        if swapped {
            self.brk(
                ahead.number,
                BreakKind::Swapped,
                format!(
                    "commits {} and {number} were swapped: commit {} was written as commit {number}, and commit {number} as commit {}",
                    ahead.number, ahead.number, ahead.number
                ),
            );
        } else {
            self.removed_before(ahead);
        }
    }

    fn removed_before(&mut self, ahead: Ahead) {
        self.renumbered(ahead.number, ahead.written_as);
    }

    /// Commit `number` was written as commit `written_as`.
    fn renumbered(&mut self, number: u64, written_as: u64) {
        if written_as > number {
            let count = written_as - number;
            self.brk(
                number,
                BreakKind::Removed,
                format!(
                    "commit {number} was written as commit {written_as}: {count} commit{} before it {} removed and the later ones renumbered",
                    if count == 1 { "" } else { "s" },
                    if count == 1 { "was" } else { "were" }
                ),
            );
        } else {
            let count = number - written_as;
            self.brk(
                written_as,
                BreakKind::Inserted,
                format!(
                    "commit {number} was written as commit {written_as}: {count} commit{} inserted from commit {written_as} on",
                    if count == 1 { " was" } else { "s were" }
                ),
            );
        }
    }

    fn brk(&mut self, commit: u64, kind: BreakKind, problem: String) {
        self.report.broken = Some(ChainBreak {
            commit,
            location: (self.location)(commit),
            kind,
            problem,
        });
    }
}
