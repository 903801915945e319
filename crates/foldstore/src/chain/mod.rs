//! The tamper-evident chain: the `chain` header of a chained commit (`link`), what a writer
//! knows of the chain (`writer`), following a log's chain (`follow`) and signed checkpoints
//! of it (`checkpoint`, feature `checkpoint`).
//!
//! A chained commit's `chain` header names the commit's own number and either starts the chain
//! (`{"commit":7,"start":true}`) or holds the BLAKE3 hash of the previous commit's stored bytes
//! (`{"commit":8,"prev":"blake3:<64 hex digits>"}`). Hashing stored bytes (not values) makes
//! the chain independent of what the bytes say: any change of a byte shows.

#[cfg(feature = "checkpoint")]
mod checkpoint;
mod follow;
mod link;
mod writer;

#[cfg(feature = "checkpoint")]
pub use checkpoint::{ChainCheckpoint, CheckpointPublicKey, CheckpointSigningKey};
pub use follow::{BreakKind, ChainBreak, ChainReport};
pub(crate) use follow::{ChainFollower, Seen};
pub use link::{ChainHash, ChainLink, CHAIN_HEADER};
pub(crate) use writer::ChainWriter;
