//! The one error type of foldstore.

use std::io;
use std::path::PathBuf;

/// The result type of foldstore's fallible operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in foldstore.
///
/// Every variant names the place it concerns (a path, or for other backends their own address)
/// and, where it helps, what to do about it. A lost race between writers is not an error of this
/// type: the storage layer reports it as [`Conflict`](crate::Conflict), and the store resolves it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An operation on a file or folder failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What foldstore was doing, e.g. `"read"` or `"create"`.
        action: &'static str,
        /// The file or folder concerned.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },

    /// The store's path exists but is not a folder.
    #[error("{} is not a folder: a folder store needs a folder path (or one that does not exist yet)", path.display())]
    NotAFolder {
        /// The path given to the store.
        path: PathBuf,
    },

    /// A write needs the store's folder, and it does not exist.
    #[error("no store at {}: the folder does not exist (create it with Store::ensure_folder, or 'foldstore append' which creates it)", path.display())]
    StoreMissing {
        /// The store's folder.
        path: PathBuf,
    },

    /// The store's folder is not laid out as foldstore expects: a journal with loose commit
    /// files beside it, a journal marker that cannot be read or is of a newer version, or a
    /// write the journal cannot take.
    #[error("{}: {problem}", path.display())]
    Layout {
        /// The store's folder.
        path: PathBuf,
        /// What is wrong, and what to do.
        problem: String,
    },

    /// A commit is present but cannot be read as a commit document.
    #[error(
        "commit {commit} ({location}) {problem}: run 'foldstore verify' to list damaged commits"
    )]
    CorruptCommit {
        /// The commit's number.
        commit: u64,
        /// Where it lives (a file path for folder stores).
        location: String,
        /// What is wrong with it.
        problem: String,
    },

    /// A commit below the last one is missing: the log has a gap.
    #[error("commit {commit} ({location}) is missing, but commit {next} exists: the log has a gap; run 'foldstore verify' to list every problem")]
    MissingCommit {
        /// The missing commit's number.
        commit: u64,
        /// Where it should be.
        location: String,
        /// A later commit that exists.
        next: u64,
    },

    /// A commit number beyond the end of the log was asked for.
    #[error("commit {requested} does not exist: the log ends at commit {tip}")]
    OutOfRange {
        /// The number asked for.
        requested: u64,
        /// The last commit of the log (0 for an empty log).
        tip: u64,
    },

    /// Commit numbers start at 1: a backend was asked to create commit 0.
    #[error("commit numbers start at 1: there is no commit {number}")]
    InvalidCommitNumber {
        /// The number asked for.
        number: u64,
    },

    /// A snapshot is present but cannot be read as a snapshot document.
    #[error("snapshot {location} {problem}: move it aside or run 'foldstore verify'")]
    CorruptSnapshot {
        /// The model's snapshot name.
        name: String,
        /// The commit it is labelled with.
        commit: u64,
        /// Where it lives.
        location: String,
        /// What is wrong with it.
        problem: String,
    },

    /// A snapshot name that cannot be used safely as part of a file name.
    #[error("invalid snapshot name {name:?}: {reason}")]
    InvalidSnapshotName {
        /// The name given.
        name: String,
        /// Why it is refused.
        reason: &'static str,
    },

    /// An event given to the store does not have the `{"name": string, "data": any}` shape.
    #[error("invalid event: {problem}")]
    InvalidEvent {
        /// What is wrong with it.
        problem: String,
    },

    /// A header factory returned something that cannot be written.
    #[error("invalid headers: {problem}")]
    InvalidHeaders {
        /// What is wrong with them.
        problem: String,
    },

    /// A model's handler refused an event while folding the log.
    #[error("commit {commit} ({location}), event #{index} ({name:?}): the model's handler refused it: {message}; the model stays at the commit before (use skip_failing_commits to pass over such commits)")]
    Handler {
        /// The commit holding the event.
        commit: u64,
        /// Where the commit lives.
        location: String,
        /// The event's position in its commit, from 0.
        index: usize,
        /// The event's name.
        name: String,
        /// The handler's message.
        message: String,
    },

    /// An event's data does not fit the model's event type.
    #[error("commit {commit} ({location}), event #{index} ({name:?}): its data does not fit the model's event type: {message}")]
    EventData {
        /// The commit holding the event.
        commit: u64,
        /// Where the commit lives.
        location: String,
        /// The event's position in its commit, from 0.
        index: usize,
        /// The event's name.
        name: String,
        /// What serde said.
        message: String,
    },

    /// An upcaster could not turn an event read from the log into its newer shape: its error,
    /// its panic, a cycle or a chain too long. Nothing is written back: the commit stays as it
    /// is.
    #[error("commit {commit} ({location}), event #{index} ({name:?}): upcaster {upcaster:?} failed: {message}; the commit is not changed: fix the upcasters and read again")]
    Upcast {
        /// The commit holding the event.
        commit: u64,
        /// Where the commit lives.
        location: String,
        /// The event's position in its commit, from 0.
        index: usize,
        /// The event's name as written.
        name: String,
        /// The upcaster's label.
        upcaster: String,
        /// What went wrong.
        message: String,
    },

    /// A read-write instance dispatched an event that the model's handler refused.
    #[error("the model refused event {name:?}: {message}; nothing was written")]
    Rejected {
        /// The event's name.
        name: String,
        /// The handler's message.
        message: String,
    },

    /// A read-write instance lost the race to commit in every attempt.
    #[error("gave up after {attempts} attempt(s): each time another writer committed first; nothing was written")]
    RetriesExhausted {
        /// The attempts made.
        attempts: u32,
    },

    /// Repair will not do what was asked: it only moves a damaged last commit aside.
    #[error("repair refused: {location} {problem}")]
    RepairRefused {
        /// What it concerns.
        location: String,
        /// Why repair will not touch it.
        problem: String,
    },

    /// A write failed after the point where its commit may already be in the store: the data
    /// was handed to the file system (or server), and what followed (a sync, a folder sync, a
    /// reply) failed. The commit may or may not be there: read commit `commit` back (and
    /// compare its `commitId` header, where the backend writes one) before writing it again.
    /// Every other write error means "not written".
    #[error("outcome unknown: commit {commit} ({location}) may have been written: {problem}; read commit {commit} back before writing it again")]
    OutcomeUnknown {
        /// The number the commit has if it was written.
        commit: u64,
        /// Where it lives if it was written.
        location: String,
        /// What failed, and why the outcome cannot be known.
        problem: String,
        /// The underlying error.
        #[source]
        source: Option<io::Error>,
    },

    /// A commit before the log's start was read without the store's archive: archiving moved
    /// it (see `Store::archive`).
    #[error("commit {commit} is archived: this store's log starts at commit {start}, and commits 1 to {} were moved to the archive at {archive:?}; open the store with that archive (StoreBuilder::archive, or --archive on the command line) to read them", start - 1)]
    Archived {
        /// The commit asked for.
        commit: u64,
        /// The first commit the live store holds.
        start: u64,
        /// Where the archive is, as the store's marker says.
        archive: String,
    },

    /// A wait was cancelled (see [`Subscription::cancelled_by`](crate::Subscription::cancelled_by)).
    #[error("the subscription was cancelled while it waited for a commit")]
    Cancelled,

    /// A snapshot could not be made from a model's data; nothing was written.
    #[error("cannot save the snapshot {location}: {problem}")]
    Snapshot {
        /// The model's snapshot name.
        name: String,
        /// The commit it would be labelled with.
        commit: u64,
        /// Where it would be.
        location: String,
        /// What is wrong, and what to do.
        problem: String,
    },

    /// A chain's checkpoint, or a key for one, cannot be made, read or trusted; or a store
    /// cannot be checkpointed.
    #[error("{location} {problem}")]
    Chain {
        /// The file, or the commit, concerned.
        location: String,
        /// What is wrong, and what to do.
        problem: String,
    },

    /// A projection's checkpoint file does not hold a position.
    #[error("the checkpoint {} {problem}: fix it, or remove it to run the projection from the first commit", path.display())]
    Checkpoint {
        /// The checkpoint file.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },

    /// A thread foldstore needs could not be started: a model's follower, or the reader behind
    /// an asynchronous stream.
    #[error("cannot start {purpose}: {source}; the process may have reached its limit of threads or memory")]
    Thread {
        /// What the thread was for.
        purpose: &'static str,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },

    /// A key store (see [`KeyStore`](crate::KeyStore)) cannot give or keep a subject's key:
    /// a wrong master key, a damaged key file, a subject name it cannot hold.
    #[error("key store {location}: {problem}")]
    Keys {
        /// The key store, or its file concerned.
        location: String,
        /// What is wrong, and what to do.
        problem: String,
    },

    /// A failure inside a storage backend that is not a file-system operation.
    #[error("{backend}: {message}")]
    Backend {
        /// The backend's name.
        backend: &'static str,
        /// What went wrong.
        message: String,
        /// The underlying error, if any.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
}

impl Error {
    /// Whether the operating system refused access for lack of permission: the file may
    /// well be sound, and fixing its permissions (not restoring it) is what helps.
    pub(crate) fn is_permission_denied(&self) -> bool {
        matches!(self, Error::Io { source, .. } if source.kind() == io::ErrorKind::PermissionDenied)
    }

    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
