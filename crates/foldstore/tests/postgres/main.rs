//! The PostgreSQL backend's own tests (the shared rules are in `storage_conformance.rs`):
//! exact bytes, the schema version, URLs and passwords, notifications, writes whose outcome is
//! unknown (a proxy cuts the connection at chosen moments), races between threads and between
//! processes, and throughput (an ignored test).
//!
//! They need the server named by `FOLDSTORE_TEST_POSTGRES`; `bash .ci/test` starts one. Without
//! it they pass with a note on stderr, except under `CI=true`, where they fail.

#![cfg(feature = "postgres")]
mod archive;
mod basics;
mod batches;
#[path = "../common/mod.rs"]
mod common;
mod keys;
#[path = "../common/postgres.rs"]
mod pg_server;
mod processes;
mod proxy;
mod setup;
mod tables;
mod throughput;
mod unknown_outcome;
