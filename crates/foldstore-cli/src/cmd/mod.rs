//! One module per verb.

pub mod append;
pub mod archive;
pub mod bench;
pub mod buckets;
pub mod checkpoint;
pub mod copy;
pub mod events;
pub mod export;
pub mod gc;
pub mod import;
pub mod init;
pub mod keys;
pub mod log;
pub mod repair;
pub mod schema;
pub mod show;
pub mod snapshots;
pub mod stats;
pub mod tail;
pub mod verify;
