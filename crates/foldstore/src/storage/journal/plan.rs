//! Planning a batch, under the lock: conditional appends checked against the commits other
//! processes wrote since their position and against the batch's earlier commits, numbers given
//! to the other requests, and their records laid out by segment.

use std::path::PathBuf;

use super::queue::{Kind, Request};
use super::record::encode_record;
use super::segment::segment_name;
use super::JournalStorage;
use crate::error::{Error, Result};
use crate::storage::{check_commit, Conflict, Storage};

impl JournalStorage {
    /// The outcomes that the commits before `next` decide for the batch's conditional appends
    /// (a conflict, or a commit that cannot be read or judged: nothing written); `None` for
    /// every other request. Commits are read in chunks, each checked by the appends that had
    /// not seen it.
    pub(super) fn check_commits_before(
        &self,
        batch: &[Request],
        next: u64,
    ) -> Vec<Option<Outcome>> {
        let mut decided: Vec<Option<Outcome>> = batch.iter().map(|_| None).collect();
        let since = |request: &Request| match request.kind {
            Kind::AppendIf(first) if first < next => Some(first),
            _ => None,
        };
        let Some(mut number) = batch.iter().filter_map(since).min() else {
            return decided;
        };
        while number < next {
            // Only what the requests still undecided need is read (the lock is held).
            let Some(needed) = batch
                .iter()
                .enumerate()
                .filter(|(index, _)| decided[*index].is_none())
                .filter_map(|(_, request)| since(request))
                .min()
            else {
                break;
            };
            number = number.max(needed);
            if number >= next {
                break;
            }
            let wanted = usize::try_from(next - number).map_or(CHECK_CHUNK, |n| n.min(CHECK_CHUNK));
            let commits = match self.read_from(number, wanted) {
                Ok(commits) if !commits.is_empty() => Ok(commits),
                Ok(_) => Err(Error::CorruptCommit {
                    commit: number,
                    location: self.commit_location(number),
                    problem: format!(
                        "the log ends before it, at commit {}, while it was seen under the lock",
                        number - 1
                    ),
                }),
                Err(e) => Err(e),
            }
            .map_err(|e| e.to_string());
            let archived = match &commits {
                Err(_) => self.archived_marker().ok().flatten(),
                Ok(_) => None,
            };
            for (index, request) in batch.iter().enumerate() {
                let (Some(first), None) = (since(request), &decided[index]) else {
                    continue;
                };
                let Ok(commits) = &commits else {
                    // Archived by another process since the writer looked: the store checks
                    // them in its archive, or reports them as archived. (Requests whose own
                    // position is at or after the start are checked from the start on.)
                    if archived
                        .as_ref()
                        .is_some_and(|m| first >= m.start && m.start > number)
                    {
                        continue;
                    }
                    if let Some(marker) = archived
                        .as_ref()
                        .filter(|m| first < m.start && number < m.start)
                    {
                        decided[index] = Some(Err(Error::Archived {
                            commit: first.max(number),
                            start: marker.start,
                            archive: marker.archive.clone(),
                        }));
                        continue;
                    }
                    let problem = commits.as_ref().err().cloned().unwrap_or_default();
                    decided[index] = Some(Err(Error::Backend {
                        backend: "journal",
                        message: format!("a conditional append could not check the commits written since its position; nothing was written: {problem}"),
                        source: None,
                    }));
                    continue;
                };
                for (at, bytes) in (number..).zip(commits) {
                    if at < first {
                        continue;
                    }
                    match check_commit(self, request.check.as_deref().expect("a check"), at, bytes)
                    {
                        Ok(false) => {}
                        Ok(true) => {
                            decided[index] = Some(Ok(Err(Conflict { commit: at })));
                            break;
                        }
                        Err(e) => {
                            decided[index] = Some(Err(e));
                            break;
                        }
                    }
                }
            }
            match (commits, archived) {
                (Ok(commits), _) => number += commits.len() as u64,
                (Err(_), Some(marker)) if marker.start > number => number = marker.start,
                (Err(_), _) => break,
            }
        }
        decided
    }

    /// Checks a conditional append (from commit `from` on) against the commits of its batch
    /// numbered before it (`assigned`: number and request): its outcome when one conflicts
    /// (or cannot be judged), `None` when it may be written.
    fn check_within_batch(
        &self,
        batch: &[Request],
        request: &Request,
        from: u64,
        assigned: &[(u64, usize)],
    ) -> Option<Outcome> {
        let check = request
            .check
            .as_deref()
            .expect("a conditional append has a check");
        for &(number, earlier) in assigned.iter().filter(|(number, _)| *number >= from) {
            match check(number, &batch[earlier].document) {
                Ok(false) => {}
                Ok(true) => return Some(Ok(Err(Conflict { commit: number }))),
                Err(problem) => {
                    return Some(Err(Error::CorruptCommit {
                        commit: number,
                        location: format!(
                            "{} (commit {number}, in the batch being written)",
                            self.shared.segments.display()
                        ),
                        problem: format!("{problem}; the conditional append wrote nothing"),
                    }))
                }
            }
        }
        None
    }

    /// Assigns numbers to the requests of a batch (those not `decided` already), and splits
    /// their records by segment.
    pub(super) fn plan_batch(
        &self,
        batch: &[Request],
        decided: Vec<Option<Outcome>>,
        mut next: u64,
        first: u64,
        end: u64,
    ) -> Result<Plan> {
        let mut plan = Plan {
            decided,
            parts: Vec::new(),
        };
        // The numbers given so far, with their requests.
        let mut assigned: Vec<(u64, usize)> = Vec::with_capacity(batch.len());
        let mut part: Option<Part> = (first != 0).then(|| Part {
            first,
            start: end,
            new_segment: false,
            close: None,
            path: self.shared.segments.join(segment_name(first)),
            records: Vec::new(),
            written: Vec::new(),
        });
        for (index, request) in batch.iter().enumerate() {
            if plan.decided[index].is_some() {
                continue;
            }
            let number = match request.kind {
                Kind::Create(number) if number < next => {
                    plan.decided[index] = Some(Ok(Err(Conflict { commit: number })));
                    continue;
                }
                Kind::Create(number) | Kind::Append(number) | Kind::AppendIf(number)
                    if number > next =>
                {
                    return Err(self.layout_error(format!(
                        "the journal keeps its commits contiguous: commit {number} cannot be created while the log ends at commit {}",
                        next - 1
                    )));
                }
                Kind::Create(number) => number,
                Kind::Append(_) => next,
                Kind::AppendIf(from) => {
                    match self.check_within_batch(batch, request, from, &assigned) {
                        Some(outcome) => {
                            plan.decided[index] = Some(outcome);
                            continue;
                        }
                        None => next,
                    }
                }
            };
            if number == u64::MAX {
                return Err(self.layout_error(
                    "the journal has reached the largest commit number; nothing was written",
                ));
            }
            assigned.push((number, index));
            let full = part
                .as_ref()
                .is_none_or(|p| p.start + p.records.len() as u64 >= self.shared.segment_bytes);
            if full {
                let close = part
                    .as_ref()
                    .map(|p| (p.first, p.start + p.records.len() as u64));
                if let Some(done) = part.take() {
                    if !done.written.is_empty() || done.close.is_some() || done.new_segment {
                        plan.parts.push(done);
                    }
                }
                part = Some(Part {
                    first: number,
                    start: 0,
                    new_segment: true,
                    close,
                    path: self.shared.segments.join(segment_name(number)),
                    records: Vec::new(),
                    written: Vec::new(),
                });
            }
            let current = part.as_mut().expect("a part");
            let at = current.start + current.records.len() as u64;
            encode_record(&mut current.records, number, &request.document);
            current.written.push(Written {
                request: index,
                number,
                at,
            });
            next = number + 1;
        }
        if let Some(done) = part {
            if !done.written.is_empty() {
                plan.parts.push(done);
            }
        }
        Ok(plan)
    }
}

/// The parts of a batch: the outcome of each request that conflicts (`None` for the others),
/// and the records to write, by segment.
pub(super) struct Plan {
    /// Each request's outcome when it is known before writing (a conflict); `None` for those
    /// written.
    pub(super) decided: Vec<Option<Outcome>>,
    pub(super) parts: Vec<Part>,
}

/// What a request of a batch comes to: its number, a conflict, or an error.
pub(super) type Outcome = Result<Result<u64, Conflict>>;

/// How many commits written since a conditional append's position are read at a time to
/// check it.
const CHECK_CHUNK: usize = 256;

/// The records of a batch that go into one segment.
pub(super) struct Part {
    /// The segment's first commit.
    pub(super) first: u64,
    /// Where the records start in it.
    pub(super) start: u64,
    /// Whether the segment is started by this part.
    pub(super) new_segment: bool,
    /// The segment closed before this one starts, and where its records end.
    pub(super) close: Option<(u64, u64)>,
    pub(super) path: PathBuf,
    pub(super) records: Vec<u8>,
    pub(super) written: Vec<Written>,
}

/// One record of a [`Part`]: its request, its commit number, its offset.
pub(super) struct Written {
    pub(super) request: usize,
    pub(super) number: u64,
    pub(super) at: u64,
}
