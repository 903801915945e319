//! `Store::verify_chain`: following the tamper-evident chain while verifying, and checkpoints
//! of the chain (`Store::checkpoint`, `Store::verify_chain_from`).

use super::{Finding, VerifyReport};
use crate::chain::{ChainFollower, ChainHash, ChainReport, Seen};
use crate::error::Result;
use crate::store::Store;
#[cfg(feature = "checkpoint")]
use crate::{
    chain::{BreakKind, ChainBreak},
    chain::{ChainCheckpoint, CheckpointPublicKey, CheckpointSigningKey},
    error::Error,
};

impl Store {
    /// [`verify`](Self::verify), following the tamper-evident chain in the same read: each
    /// commit's stored bytes are hashed as they are read, and each link checked against the
    /// commit before it. The first commit where the chain breaks is named in the report's
    /// [`chain`](VerifyReport::chain), with what most likely happened to it (edited, removed,
    /// swapped, inserted, written without the header), and listed among its problems. A store
    /// holding commits of which none is chained is reported as a problem too.
    ///
    /// The chain cannot tell whether commits were removed from the end of the log, nor whether
    /// the whole log was rewritten with new links: a checkpoint taken earlier can
    /// ([`verify_chain_from`](Self::verify_chain_from), feature `checkpoint`).
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let folder = tempfile::tempdir()?;
    /// use foldstore::{BreakKind, Event, Store};
    ///
    /// let store = Store::builder(folder.path()).chain(true).open()?;
    /// store.ensure_folder()?;
    /// for name in ["registered", "moved", "left"] {
    ///     store.log(&Event::new(name))?;
    /// }
    /// // Someone edits commit 2.
    /// let file = folder.path().join("2.log");
    /// let edited = std::fs::read_to_string(&file)?.replace("moved", "stayd");
    /// std::fs::write(&file, edited)?;
    ///
    /// let report = store.verify_chain(|_, _| {})?;
    /// let broken = report.chain.and_then(|chain| chain.broken).expect("a break");
    /// assert_eq!((broken.commit, broken.kind), (2, BreakKind::Edited));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`verify`](Self::verify).
    pub fn verify_chain(&self, progress: impl FnMut(u64, u64)) -> Result<VerifyReport> {
        let (mut report, chain, _) = self.verify_and_follow(progress, None)?;
        add_chain(&mut report, chain);
        Ok(report)
    }

    /// [`verify_chain`](Self::verify_chain), and checks that the log still extends
    /// `checkpoint`: it is signed by `key`, and commit `checkpoint.commit` still has the
    /// stored bytes it signed. A log cut short before that commit, or rewritten up to it, is
    /// reported as the chain's break (or before it, when it is earlier).
    ///
    /// # Errors
    /// [`Error::Chain`] when `key` did not sign `checkpoint` (nothing is verified: the
    /// checkpoint cannot be trusted); otherwise as [`verify`](Self::verify).
    #[cfg(feature = "checkpoint")]
    pub fn verify_chain_from(
        &self,
        checkpoint: &ChainCheckpoint,
        key: &CheckpointPublicKey,
        progress: impl FnMut(u64, u64),
    ) -> Result<VerifyReport> {
        checkpoint.verify(key).map_err(|problem| Error::Chain {
            location: format!(
                "the checkpoint of commit {} taken at {}",
                checkpoint.commit, checkpoint.time
            ),
            problem,
        })?;
        let location = |commit| self.storage().commit_location(commit);
        let (mut report, mut chain, found) =
            self.verify_and_follow(progress, Some(checkpoint.commit))?;
        let commit = checkpoint.commit;
        let signed = || format!("the checkpoint taken at {}", checkpoint.time);
        let brk = match found {
            None => Some(ChainBreak {
                commit,
                location: location(commit),
                kind: BreakKind::Removed,
                problem: format!(
                    "commit {commit}, which {} signed, is not in the log (it ends at commit {}): commits were removed",
                    signed(),
                    report.tip
                ),
            }),
            Some(hash) if hash != checkpoint.hash => Some(ChainBreak {
                commit,
                location: location(commit),
                kind: BreakKind::Rewritten,
                problem: format!(
                    "commit {commit} is not the commit {} signed: its stored bytes hash to {hash}, the checkpoint holds {}; the log was rewritten up to it",
                    signed(),
                    checkpoint.hash
                ),
            }),
            Some(_) => None,
        };
        if let Some(brk) = brk {
            if chain
                .broken
                .as_ref()
                .is_none_or(|known| known.commit > brk.commit)
            {
                chain.broken = Some(brk);
            }
        }
        add_chain(&mut report, chain);
        Ok(report)
    }

    /// Verifies the chain ([`verify_chain`](Self::verify_chain)) and signs the last commit it
    /// verified with `key`: a checkpoint that [`verify_chain_from`](Self::verify_chain_from)
    /// later checks the log against. A checkpoint vouches for what the log holds when it is
    /// taken, so a log with any problem gets none.
    ///
    /// ```
    /// # fn main() -> Result<(), foldstore::Error> {
    /// use foldstore::{CheckpointSigningKey, Event, MemoryStorage, Store};
    ///
    /// let store = Store::builder("audited").storage(MemoryStorage::new()).chain(true).open()?;
    /// store.log(&Event::new("opened"))?;
    /// let key = CheckpointSigningKey::generate()?;
    /// let checkpoint = store.checkpoint(&key)?;
    /// assert_eq!(checkpoint.commit, 1);
    /// store.log(&Event::new("closed"))?;
    /// let report = store.verify_chain_from(&checkpoint, &key.public_key(), |_, _| {})?;
    /// assert!(report.is_sound());
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::Chain`] when the log has a problem (a broken chain included), holds no commit,
    /// or its last commit is not chained; as reading otherwise.
    #[cfg(feature = "checkpoint")]
    pub fn checkpoint(&self, key: &CheckpointSigningKey) -> Result<ChainCheckpoint> {
        let report = self.verify_chain(|_, _| {})?;
        self.checkpoint_verified(&report, key)
    }

    /// Signs the last commit that `report` (of [`verify_chain`](Self::verify_chain) on this
    /// store) verified, with the hash it found: never a commit written after the verification.
    ///
    /// # Errors
    /// [`Error::Chain`] when `report` holds a problem, or its last commit is not chained.
    #[cfg(feature = "checkpoint")]
    pub fn checkpoint_verified(
        &self,
        report: &VerifyReport,
        key: &CheckpointSigningKey,
    ) -> Result<ChainCheckpoint> {
        let storage = self.storage();
        if let Some(problem) = report.problems.first() {
            return Err(Error::Chain {
                location: problem.location.clone(),
                problem: format!(
                    "{}; a checkpoint vouches for a sound log: no checkpoint was signed",
                    problem.problem
                ),
            });
        }
        let tip = report.tip;
        let last = report.chain.as_ref().and_then(|chain| chain.last);
        let (commit, hash) = match last {
            Some((commit, hash)) if commit == tip && tip > 0 => (commit, hash),
            _ => {
                let problem = if tip == 0 {
                    "is not there: the store holds no commit"
                } else {
                    "has no chain header"
                };
                return Err(Error::Chain {
                    location: storage.commit_location(tip),
                    problem: format!("{problem}; a checkpoint signs the end of a chain: open the store with the chain on ('foldstore append --chain') and write a commit first"),
                });
            }
        };
        let time = humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string();
        Ok(ChainCheckpoint::sign(commit, hash, &time, key))
    }
}

impl Store {
    /// [`verify`](Self::verify), following the chain in the same read: the report, the
    /// chain's, and the hash of commit `watch`.
    ///
    /// (Following the chain on a thread of its own, hashing while the next commits are read
    /// and decoded, measured no faster on two cores: the verifying thread's decoding is the
    /// bottleneck, and handing the bytes over costs what hashing them does.)
    fn verify_and_follow(
        &self,
        progress: impl FnMut(u64, u64),
        watch: Option<u64>,
    ) -> Result<(VerifyReport, ChainReport, Option<ChainHash>)> {
        let location = |commit| self.storage().commit_location(commit);
        let mut follower = ChainFollower::new(&location, watch);
        self.follow_archived(&mut follower)?;
        let report = self.verify_following(progress, Some(&mut |seen| follower.see(seen)))?;
        let watched = follower.watched();
        Ok((report, follower.finish(), watched))
    }
}

impl Store {
    /// Hands `follower` what comes before an archived log's start when the store was opened
    /// without its archive: the last archived commit's hash, as the marker keeps it. (With the
    /// archive, the verification reads the archived commits themselves.)
    fn follow_archived(&self, follower: &mut ChainFollower<'_>) -> Result<()> {
        let start = self.log_start()?;
        if start == 1 {
            return Ok(());
        }
        if self.archived().has_archive() {
            return Ok(());
        }
        if let Some(marker) = self.archived().marker()? {
            // The marker was checked when read: 64 lowercase hexadecimal digits.
            let hash: ChainHash =
                format!("blake3:{}", marker.last_blake3)
                    .parse()
                    .map_err(|problem| crate::error::Error::Chain {
                        location: crate::storage::archive::marker_location(self.storage()),
                        problem,
                    })?;
            follower.see(Seen::Archived {
                number: start - 1,
                hash,
                chained: marker.last_chained,
            });
        }
        Ok(())
    }
}

/// Puts what was found of the chain into `report`: a break, or a log without a chain, among
/// its problems.
fn add_chain(report: &mut VerifyReport, chain: ChainReport) {
    if let Some(brk) = &chain.broken {
        report.problems.push(Finding {
            location: brk.location.clone(),
            problem: format!("breaks the chain ({}): {}", brk.kind, brk.problem),
        });
    } else if chain.started.is_none() && report.tip > 0 {
        report.problems.push(Finding {
            location: "the chain".to_owned(),
            problem: "has not started: no commit carries a chain header; open the store with the chain on ('foldstore append --chain', StoreBuilder::chain) to start it".to_owned(),
        });
    }
    report.chain = Some(chain);
}
