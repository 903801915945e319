//! Repair: moving a damaged last commit aside, into a quarantine folder, and nothing else.
//!
//! The only damage an interrupted write can leave is in the last commit: foldstore publishes
//! whole files, but the original package writes in place, and a file system without syncs
//! (`Durability::None`) can lose a new file's data in a power loss. In a journal, a machine
//! crash can also leave an unsynced write torn behind a gap (a later part of it reached the
//! disk, an earlier one did not): repair moves that write, from the gap to the end of the log,
//! aside ([`Storage::crash_leftover`](crate::Storage::crash_leftover)). Damage anywhere else
//! means the files were changed by something else, and only a person with a backup can mend
//! it, so repair refuses. It never deletes anything.

use std::time::{Instant, SystemTime};

use crate::error::{Error, Result};
use crate::format::decode_commit;
use crate::replay::IN_PROGRESS_GRACE;
use crate::store::Store;
use crate::verify::{Finding, VerifyReport};

/// What [`Store::plan_repair`] found, and what [`Store::repair`] would do about it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RepairPlan {
    /// The damaged last commit to move aside, if there is one and it may be moved.
    pub quarantine: Option<Quarantine>,
    /// Problems repair does not mend (the plan is refused while there are any).
    pub refused: Vec<Finding>,
}

/// A commit to be moved aside (with the commits after it, for what a crash left in a
/// journal).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Quarantine {
    /// Its number: the last of the log, or the first of a journal's torn write.
    pub commit: u64,
    /// The last commit moved aside with it: `commit` itself, or the end of the log.
    pub through: u64,
    /// Where it is.
    pub location: String,
    /// What is wrong with it.
    pub problem: String,
}

impl RepairPlan {
    /// Whether the store needs no repair.
    pub fn is_empty(&self) -> bool {
        self.quarantine.is_none() && self.refused.is_empty()
    }
}

impl Store {
    /// Reads the whole store and says what [`repair`](Self::repair) would do: move a damaged
    /// last commit aside, and refuse every other problem. A file that cannot be read for lack
    /// of permission is refused wherever it is, with the advice to fix its permissions: it is
    /// not damage, and may be sound.
    ///
    /// A last commit modified less than [`IN_PROGRESS_GRACE`] before the plan began, or while
    /// it was made, is refused too: it may be a write in progress by another program (try again
    /// a little later). A last commit dated in the future (a clock that jumped, a file copied
    /// from another machine) has an age that says nothing: it is taken as modified when the
    /// plan first read it, so it is planned for once it has stayed unreadable for the grace
    /// period since (the plan waits for what is left of it, at most [`IN_PROGRESS_GRACE`]),
    /// and is not refused for ever.
    ///
    /// # Errors
    /// When the store cannot be listed.
    pub fn plan_repair(&self) -> Result<RepairPlan> {
        let storage = self.storage();
        // Ages are taken as of the start: verify itself waits out the grace period of a young
        // unreadable last commit, which must not make it look old enough to move.
        let started = SystemTime::now();
        let started_at = Instant::now();
        let report = self.verify(|_, _| {})?;
        if let Some(plan) = self.plan_leftover(&report)? {
            return Ok(plan);
        }
        let tail = storage.commit_location(report.tip);
        let mut plan = RepairPlan::default();
        for finding in report.problems {
            if report.permission_denied.contains(&finding.location) {
                // Not damage: the file is there, and its permissions are what wants fixing
                // (its problem says so); moving it aside would hide a commit that may be sound.
                plan.refused.push(Finding {
                    problem: format!(
                        "{}; repair only moves damaged commits aside, and cannot judge this one \
                         until it can be read: then run 'foldstore verify' again",
                        finding.problem
                    ),
                    ..finding
                });
            } else if report.tip > 0 && finding.location == tail && plan.quarantine.is_none() {
                plan.quarantine = Some(Quarantine {
                    commit: report.tip,
                    through: report.tip,
                    location: finding.location,
                    problem: finding.problem,
                });
            } else {
                plan.refused.push(Finding {
                    problem: format!(
                        "{}: repair only moves a damaged last commit aside (the only damage an \
                         interrupted write leaves); restore this from a backup",
                        finding.problem
                    ),
                    ..finding
                });
            }
        }
        if let Some(quarantine) = &plan.quarantine {
            let young = match storage.commit_modified(quarantine.commit)? {
                Some(modified) if modified > SystemTime::now() => {
                    // Dated in the future: taken as modified when first read, at the start
                    // of the plan (verify has usually waited the grace period out already).
                    let seen = started_at.elapsed();
                    if seen < IN_PROGRESS_GRACE {
                        std::thread::sleep(IN_PROGRESS_GRACE - seen);
                    }
                    false
                }
                // Modified less than the grace period before the start, or since.
                Some(modified) => started
                    .duration_since(modified)
                    .map_or(true, |age| age < IN_PROGRESS_GRACE),
                None => false,
            };
            if young {
                plan.refused.push(Finding {
                    location: quarantine.location.clone(),
                    problem: format!(
                        "was modified less than {} s ago: it may be a write in progress; try again shortly",
                        IN_PROGRESS_GRACE.as_secs()
                    ),
                });
            } else {
                match self.recheck(quarantine)? {
                    Recheck::Damaged => {}
                    // A write in progress that ended while the plan was made: nothing to move.
                    Recheck::Decodes(why) => {
                        tracing::info!(commit = quarantine.commit, "{why}");
                        plan.quarantine = None;
                    }
                    Recheck::Changed(why) => plan.refused.push(Finding {
                        location: quarantine.location.clone(),
                        problem: format!("{why}; try again shortly"),
                    }),
                }
            }
        }
        Ok(plan)
    }

    /// Carries out a plan made by [`plan_repair`](Self::plan_repair): moves the damaged last
    /// commit into the store's quarantine (for a folder store, the subfolder
    /// `foldstore-quarantine`), and returns where it went. Nothing is deleted.
    ///
    /// # Errors
    /// [`Error::RepairRefused`] when the plan has refusals, or when the commit is no longer
    /// the last one; the backend's errors.
    pub fn repair(&self, plan: &RepairPlan) -> Result<Option<String>> {
        if let Some(first) = plan.refused.first() {
            return Err(Error::RepairRefused {
                location: first.location.clone(),
                problem: first.problem.clone(),
            });
        }
        let Some(quarantine) = &plan.quarantine else {
            return Ok(None);
        };
        let storage = self.storage();
        if quarantine.through > quarantine.commit {
            // What a crash left in a journal: the backend checks it again under its lock.
            let moved_to = storage.quarantine_commit(quarantine.commit)?;
            tracing::info!(from = %quarantine.location, to = %moved_to, first = quarantine.commit, last = quarantine.through, "a write torn by a machine crash moved aside");
            self.tip_cache().relist()?;
            return Ok(Some(moved_to));
        }
        if storage.commit_exists(quarantine.commit + 1)? {
            return Err(Error::RepairRefused {
                location: quarantine.location.clone(),
                problem: "is no longer the last commit: plan the repair again".to_owned(),
            });
        }
        if let Recheck::Decodes(why) | Recheck::Changed(why) = self.recheck(quarantine)? {
            return Err(Error::RepairRefused {
                location: quarantine.location.clone(),
                problem: format!("{why}: plan the repair again"),
            });
        }
        let moved_to = storage.quarantine_commit(quarantine.commit)?;
        tracing::info!(from = %quarantine.location, to = %moved_to, "damaged last commit moved aside");
        self.tip_cache().relist()?;
        Ok(Some(moved_to))
    }

    /// The plan for what a machine crash left at the end of a journal, when that is all that
    /// is wrong: every problem verify found lies in the commits from its first to the end.
    fn plan_leftover(&self, report: &VerifyReport) -> Result<Option<RepairPlan>> {
        let storage = self.storage();
        let Some(leftover) = storage.crash_leftover()? else {
            return Ok(None);
        };
        let through = report.tip.max(leftover.first);
        // Bounded: a torn write is one batch of commits.
        if through - leftover.first > 1_000_000 {
            return Ok(None);
        }
        let torn: std::collections::HashSet<String> = (leftover.first..=through)
            .map(|n| storage.commit_location(n))
            .collect();
        if !report.problems.iter().all(|f| torn.contains(&f.location)) {
            return Ok(None);
        }
        Ok(Some(RepairPlan {
            quarantine: Some(Quarantine {
                commit: leftover.first,
                through,
                location: leftover.location,
                problem: format!(
                    "{}; it is what a machine crash leaves of a write that was not synced: commits {} to {through} are moved aside together",
                    leftover.problem, leftover.first
                ),
            }),
            refused: Vec::new(),
        }))
    }

    /// Reads the commit to be moved aside once more, just before it is, and says whether it is
    /// still damaged as planned.
    fn recheck(&self, quarantine: &Quarantine) -> Result<Recheck> {
        let number = quarantine.commit;
        let Some(bytes) = self.storage().read_commit(number)? else {
            return Ok(Recheck::Changed(
                "is gone since the plan was made".to_owned(),
            ));
        };
        Ok(match decode_commit(number, &bytes) {
            Ok(_) => Recheck::Decodes(
                "decodes now: it was a write in progress when the plan was made (or was mended \
                 since), and is not damaged"
                    .to_owned(),
            ),
            Err(problem) if problem != quarantine.problem => Recheck::Changed(format!(
                "has changed since the plan was made (it now {problem}): it may be a write in \
                 progress"
            )),
            Err(_) => Recheck::Damaged,
        })
    }
}

/// What a second look at a commit planned to be moved aside found.
enum Recheck {
    /// It is damaged as planned.
    Damaged,
    /// It decodes now (why it must not be moved).
    Decodes(String),
    /// It changed or disappeared since the plan (why it must not be moved now).
    Changed(String),
}
