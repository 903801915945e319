//! Verification: reading every commit and snapshot of a store and reporting what is wrong;
//! `chain`: following the tamper-evident chain in the same read, and checkpoints of it.

mod chain;

use crate::chain::{ChainReport, Seen};
use crate::error::{Error, Result};
use crate::format::decode_snapshot;
use crate::scan::{RawCommit, Scanned};
use crate::store::Store;

/// One thing found wrong (or odd) in a store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// Where: a file path, or another backend's address.
    pub location: String,
    /// What is wrong.
    pub problem: String,
}

/// What [`Store::verify`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifyReport {
    /// The last commit number present (0 when there is none).
    pub tip: u64,
    /// Commits read and found sound.
    pub sound_commits: u64,
    /// Events in the sound commits.
    pub events: u64,
    /// Snapshots read and found sound.
    pub sound_snapshots: u64,
    /// Damage: the store cannot be replayed (or a snapshot cannot be used) until it is repaired.
    pub problems: Vec<Finding>,
    /// Oddities that do not stop the store from working.
    pub warnings: Vec<Finding>,
    /// The locations, among those of `problems`, that could not be read for lack of
    /// permission: they may well be sound, and want their permissions fixed, not a repair.
    pub permission_denied: Vec<String>,
    /// What [`Store::verify_chain`] found of the chain (`None` from [`Store::verify`]); a
    /// break is also among `problems`.
    pub chain: Option<ChainReport>,
    /// The first commit the live store holds: 1, or, once the store was archived, the first
    /// after those moved to the archive. A store opened with its archive verifies the archived
    /// commits too (read through the archive); without it, they are not read (the archive was
    /// checked when it was written).
    pub log_start: u64,
}

impl Finding {
    /// The finding for a gap: commits `first..next` are missing, though commit `next` exists.
    /// `location` is where commit `first` should be.
    pub fn gap(location: String, first: u64, next: u64) -> Finding {
        let problem = if next - first == 1 {
            format!(
                "is missing: commit {first} is absent though commit {next} exists (a gap in the log)"
            )
        } else {
            format!(
                "is missing: commits {first} to {} are absent though commit {next} exists (a gap in the log)",
                next - 1
            )
        };
        Finding { location, problem }
    }

    /// The finding for a commit at `location` that could not be decoded: the problem of a
    /// damaged commit ([`Error::CorruptCommit`]) as it is, any other error in full.
    pub fn of_commit(location: String, error: Error) -> Finding {
        let problem = match error {
            Error::CorruptCommit { problem, .. } => problem,
            e => e.to_string(),
        };
        Finding { location, problem }
    }
}

impl VerifyReport {
    /// Whether no problem was found (warnings aside).
    pub fn is_sound(&self) -> bool {
        self.problems.is_empty()
    }

    /// Reports a file at `location` that could not be read: for lack of permission with the
    /// fix, and noted in `permission_denied`.
    fn push_unreadable(&mut self, location: String, error: &Error) {
        let mut problem = error.to_string();
        if error.is_permission_denied() {
            problem.push_str(
                ": fix its permissions so that this user can read it (the file itself may be sound)",
            );
            self.permission_denied.push(location.clone());
        }
        self.problems.push(Finding { location, problem });
    }
}

impl Store {
    /// Reads every commit and snapshot and reports every problem found, with where it is.
    ///
    /// `progress` is called after each commit and snapshot with (done, total): commits count
    /// by their numbers, up to the last one, then the snapshots. The work is per commit and
    /// snapshot present: a gap in the log, however large, is skipped at once and reported as
    /// one problem naming the range of missing numbers.
    ///
    /// # Errors
    /// Only when the backend cannot be listed; damage is reported in the [`VerifyReport`].
    /// (A journal damaged inside cannot list the commits after the damage: the damage is
    /// reported, and the commits before it are verified.)
    pub fn verify(&self, progress: impl FnMut(u64, u64)) -> Result<VerifyReport> {
        self.verify_following(progress, None)
    }

    /// [`verify`](Self::verify), handing everything read to `chain` too, in order.
    pub(crate) fn verify_following(
        &self,
        mut progress: impl FnMut(u64, u64),
        mut chain: Option<&mut dyn FnMut(Seen)>,
    ) -> Result<VerifyReport> {
        let storage = self.storage();
        let mut damage = None;
        // The commits to read: those the listing found, or, when a journal's listing stopped
        // at damage, the numbers before it (read until the first one that is not there).
        let (listing, before_damage) = match storage.list() {
            Ok(listing) => (listing, None),
            Err(Error::CorruptCommit {
                commit,
                location,
                problem,
            }) => {
                damage = Some(Finding { location, problem });
                let listing = crate::storage::Listing {
                    commits: Vec::new(),
                    snapshots: storage.snapshots()?.0,
                    suspicious: Vec::new(),
                };
                (listing, Some(commit))
            }
            Err(e) => return Err(e),
        };
        let start = self.log_start()?;
        let mut report = VerifyReport {
            log_start: start,
            ..VerifyReport::default()
        };
        report.problems.extend(damage);
        // Progress runs over the commit numbers up to the last one (skipping a gap at once)
        // and then the snapshots: the work is per commit present, never per number between.
        let last = match before_damage {
            Some(damaged) => damaged.saturating_sub(1),
            None => listing.commits.last().copied().unwrap_or(0),
        };
        let total = last.saturating_add(listing.snapshots.len() as u64);
        let numbers: Box<dyn Iterator<Item = u64> + '_> = match before_damage {
            Some(damaged) => Box::new(start..damaged),
            None => Box::new(listing.commits.iter().copied()),
        };
        // One scan, with one grace period for the whole verification (see `IN_PROGRESS_GRACE`).
        for scanned in self.raw_commits_at(numbers) {
            if let (Some(chain), Scanned::Absent { number } | Scanned::Unreadable { number, .. }) =
                (chain.as_deref_mut(), &scanned)
            {
                chain(Seen::Unreadable { number: *number });
            }
            let number = match scanned {
                Scanned::Gap { first, next } => {
                    if let Some(chain) = chain.as_deref_mut() {
                        chain(Seen::Missing { first, next });
                    }
                    // Every number from `first` to `next - 1` is absent: one finding.
                    report
                        .problems
                        .push(Finding::gap(storage.commit_location(first), first, next));
                    continue;
                }
                Scanned::Commit(RawCommit {
                    number,
                    commit,
                    bytes,
                }) => {
                    if let Some(chain) = chain.as_deref_mut() {
                        let headers = commit.as_ref().ok().map(|c| c.headers());
                        chain(Seen::commit(number, bytes, headers));
                    }
                    match commit {
                        Ok(commit) => {
                            report.sound_commits += 1;
                            report.events += commit.events().len() as u64;
                        }
                        Err(e) => report
                            .problems
                            .push(Finding::of_commit(storage.commit_location(number), e)),
                    }
                    number
                }
                Scanned::Absent { number } if before_damage.is_some() => {
                    // The commits before a journal's damage run on from 1; one that is not
                    // there ends them (reading on would only find more absent numbers).
                    report.problems.push(Finding {
                        location: storage.commit_location(number),
                        problem: "is missing before the damage that stopped the listing".to_owned(),
                    });
                    break;
                }
                Scanned::Absent { number } => {
                    report.problems.push(Finding {
                        location: storage.commit_location(number),
                        problem: "disappeared while being verified".to_owned(),
                    });
                    number
                }
                Scanned::Unreadable { number, error, .. } => {
                    report.push_unreadable(storage.commit_location(number), &error);
                    number
                }
            };
            report.tip = number;
            progress(number, total);
        }
        let tip = report.tip;
        let mut done = tip;
        for (name, commit) in &listing.snapshots {
            let location = storage.snapshot_location(name, *commit);
            let finding = |problem: String| Finding {
                location: location.clone(),
                problem,
            };
            match storage.read_snapshot(name, *commit) {
                Ok(Some(bytes)) => match decode_snapshot(&bytes) {
                    Ok(doc) if doc.snapshot.is_none() => report.warnings.push(finding(
                        "has no `snapshot` member (the original package writes such snapshots); \
                         models skip it and fold the log instead"
                            .to_owned(),
                    )),
                    Ok(_) if *commit > tip => report.problems.push(finding(format!(
                        "is labelled with commit {commit}, but the log ends at commit {tip}"
                    ))),
                    Ok(_) => report.sound_snapshots += 1,
                    Err(problem) => report.problems.push(finding(problem)),
                },
                Ok(None) => report
                    .problems
                    .push(finding("disappeared while being verified".to_owned())),
                Err(e) => report.push_unreadable(location.clone(), &e),
            }
            done += 1;
            progress(done, total);
        }
        for (name, why) in listing.suspicious {
            report.warnings.push(Finding {
                location: name,
                problem: why,
            });
        }
        Ok(report)
    }
}
