//! The object-storage backend's own behaviour, beyond the shared conformance suite: its object
//! layout and exact bytes, the log's end found by probing, writes with an unknown outcome,
//! other object stores than S3 (memory, the local file system), calls from a tokio
//! `spawn_blocking` thread, read-write instances racing from several processes on one prefix,
//! and its throughput.
//!
//! Tests that need the S3 server are skipped (with a line on stderr) when
//! `FOLDSTORE_TEST_S3` is not set, and fail under `CI=true`; `bash .ci/test` starts the S3
//! emulator and sets it.

#![cfg(feature = "s3")]
mod archive;
mod async_calls;
#[path = "../common/mod.rs"]
mod common;
mod end;
mod kinds;
mod processes;
#[path = "../common/s3.rs"]
mod s3_server;
mod throughput;
mod unknown_outcome;
mod wrapper;
