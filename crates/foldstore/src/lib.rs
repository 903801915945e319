//! foldstore: an embedded, event-sourced store.
//!
//! Instead of overwriting state, an application records what happened, as *events*, in an
//! append-only log of *commits*; its state is a fold of that log. foldstore runs in-process,
//! on a folder by default, in the folder format of the Node.js package
//! `@scriptabuild/eventstore` (which can read and write the same folder).
//!
//! - A [`Store`] is one totally ordered log of commits numbered 1, 2, 3, ... with no gaps.
//! - A commit holds one or more [`Event`]s (`{"name": string, "data": any}`) and [`Headers`]
//!   (by default `{"time": "<ISO-8601 UTC>"}`).
//! - [`Store::log`] writes one event as one commit, [`Store::log_block`] several as one commit,
//!   all or nothing. Commits are atomic and, by default, durable when the call returns.
//! - [`Store::replay_event_stream`] and [`Store::replay`] read the log back in order.
//! - [`Storage`] is the seam to where the bytes live: [`LooseStorage`] (the default) and
//!   [`MemoryStorage`].
//!
//! - Models ([`Store::define_model`], [`ModelDefinition`]) fold the log into data, with read
//!   instances, read-write instances (optimistic concurrency, retries), snapshots and time
//!   travel. The [`guide`] walks through the original package's tutorial in Rust.
//! - Live: [`Store::subscribe`] delivers every commit after a point, then each new one as it
//!   lands, from any process; [`Projection`] runs a handler over a subscription and remembers
//!   how far it got; [`Model::follow`] keeps a model current in the background. With the
//!   `watch` feature, folder stores learn of new commits from file-system notifications
//!   instead of polling.
//! - Forgettable data: given a [`KeyStore`] ([`StoreBuilder::key_store`]), a store writes the
//!   data of events tagged with a subject encrypted with the subject's key, and
//!   [`Store::forget`] destroys the key; readers then meet the [`Forgotten`] placeholder.
//! - Async: with the `tokio` feature, [`asynchronous::AsyncStore`] and
//!   [`asynchronous::AsyncModel`] run every operation off the runtime's threads, and
//!   subscriptions are `Stream`s.
//!
//! Events can be typed: a serde enum tagged `name` with content `data` has the JSON shape of an
//! event, so variant `NewMemberRegistered` is the event named `newMemberRegistered`.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let folder = tempfile::tempdir()?;
//! use foldstore::Store;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Debug, PartialEq, Serialize, Deserialize)]
//! #[serde(tag = "name", content = "data", rename_all = "camelCase")]
//! enum MemberEvent {
//!     NewMemberRegistered { name: String, address: String },
//!     MemberHasMoved { name: String, address: String },
//! }
//!
//! let store = Store::open(folder.path().join("members"))?;
//! store.ensure_folder()?;
//! store.log(&MemberEvent::NewMemberRegistered { name: "peter pan".into(), address: "neverland".into() })?;
//! store.log_block(|block| {
//!     block.log(&MemberEvent::MemberHasMoved { name: "peter pan".into(), address: "london".into() })?;
//!     block.mark_as_complete();
//!     Ok::<_, foldstore::Error>(())
//! })?;
//!
//! let mut events = Vec::new();
//! for commit in store.commits(..) {
//!     for event in commit?.events() {
//!         events.push(event.to_typed::<MemberEvent>()?);
//!     }
//! }
//! assert_eq!(events[1], MemberEvent::MemberHasMoved { name: "peter pan".into(), address: "london".into() });
//! # Ok(())
//! # }
//! ```

#[doc = include_str!("../../../docs/guide.md")]
pub mod guide {}

mod archiving;
#[cfg(feature = "tokio")]
pub mod asynchronous;
mod boundary;
mod chain;
#[cfg(feature = "conformance")]
pub mod conformance;
mod copy;
mod error;
mod event;
mod forget;
mod format;
mod json;
mod migrate;
mod model;
mod projection;
mod query;
mod repair;
mod replay;
mod scan;
mod schema;
mod snapshot;
mod storage;
mod store;
mod subscribe;
mod upcast;
mod verify;

pub use archiving::{ArchiveOptions, ArchiveReport, ArchiveStage, ArchiveUpTo};
pub use boundary::{
    AppendCondition, Appended, ConditionFailed, MatchedEvent, IDEMPOTENCY_TAG_PREFIX,
};
pub use chain::{BreakKind, ChainBreak, ChainHash, ChainLink, ChainReport, CHAIN_HEADER};
#[cfg(feature = "checkpoint")]
pub use chain::{ChainCheckpoint, CheckpointPublicKey, CheckpointSigningKey};
pub use copy::{CopyError, CopyOptions, CopyReport};
pub use error::{Error, Result};
pub use event::VERSION_MEMBER;
pub use event::{Event, Headers, TAGS_MEMBER};
#[cfg(feature = "postgres")]
pub use forget::PostgresKeyStore;
pub use forget::{
    FolderKeyStore, Forgettable, Forgotten, KeyId, KeyStore, MasterKey, SubjectKey,
    FORGOTTEN_MEMBER, MASTER_KEY_VARIABLE, MAX_SUBJECT_BYTES, SEALED_MEMBER, SUBJECT_TAG_PREFIX,
};
pub use format::{Commit, DecodeError};
pub use migrate::{Migration, MigrationReport};
pub use model::{
    AggregatorData, CommitFlag, Dispatch, EventContext, Follower, Model, ModelAt, ModelBuilder,
    ModelCheck, ModelDefinition, ModelReport, Outcome, ReadOnly, SkippedCommit, SkippedSnapshot,
    View, Writer, DEFAULT_MAX_ATTEMPTS,
};
/// The PostgreSQL client crate, whose `Config` [`PostgresStorage::with_config`] takes.
#[cfg(feature = "postgres")]
pub use postgres;
pub use projection::{Checkpoint, FileCheckpoint, Projection};
pub use query::{same_name, Query, QueryItem};
pub use repair::{Quarantine, RepairPlan};
pub use replay::{Commits, Replay, ReplaySummary, IN_PROGRESS_GRACE};
pub use scan::{RawCommit, RawCommits, Scanned};
pub use schema::{
    NameShapes, SchemaOptions, SchemaReport, Seen, ShapeSeen, MAX_NAMES, MAX_SHAPES_PER_NAME,
};
pub use snapshot::Snapshot;
pub use storage::address::shown_address;
#[allow(deprecated)]
pub use storage::FolderStorage;
#[cfg(feature = "s3")]
pub use storage::ObjectStorage;
#[cfg(feature = "postgres")]
pub use storage::PostgresStorage;
pub use storage::{
    validate_meta_name, validate_snapshot_name, CommitCheck, Conflict, Created, Durability,
    JournalStorage, Leftover, Listing, LooseStorage, MemoryStorage, NewCommit, SnapshotsFound,
    Storage, Watch, ARCHIVED_MARKER, COMMIT_ID_HEADER, MAX_DOCUMENT_BYTES,
};
pub use store::{Block, HeaderFactory, Layout, Store, StoreBuilder};
pub use subscribe::{Start, Subscription, DEFAULT_POLL_INTERVAL};
pub use upcast::{UpcastError, Upcaster, Upcasters, DEFAULT_MAX_CHAIN};
pub use verify::{Finding, VerifyReport};

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;
