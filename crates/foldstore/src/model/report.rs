//! What a model reports it skipped: snapshots it did not restore from, commits it did not
//! fold, snapshots it could not save, and why its follower stopped.

/// What a model skipped, and why: nothing is skipped silently.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ModelReport {
    /// The snapshot the model was restored from, if any.
    pub restored_from: Option<u64>,
    /// Snapshots passed over when restoring (damaged, without data, of another version, not
    /// fitting the data type, or beyond the end of the log).
    pub skipped_snapshots: Vec<SkippedSnapshot>,
    /// Commits passed over because a handler refused them (only with
    /// [`ModelBuilder::skip_failing_commits`](super::ModelBuilder::skip_failing_commits)).
    pub skipped_commits: Vec<SkippedCommit>,
    /// Automatic snapshots that could not be saved.
    pub failed_snapshots: Vec<String>,
    /// Why the model's follower stopped, if it stopped on an error.
    pub follower_error: Option<String>,
}

/// A snapshot a model did not use.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SkippedSnapshot {
    /// Its label: the last commit it claims to hold.
    pub commit: u64,
    /// Where it is.
    pub location: String,
    /// Why it was not used.
    pub reason: String,
}

/// A commit a model did not fold.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SkippedCommit {
    /// Its number.
    pub commit: u64,
    /// The error that made the model skip it.
    pub reason: String,
}
