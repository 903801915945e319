//! The journal layout of the folder backend (`storage/journal`), seen from outside: layout
//! selection and detection, mixed folders and markers refused, the record format read by this
//! file's own parser, segments rolling, torn tails cut off into the quarantine, damage inside
//! the journal, threads and processes writing at once, writers killed with SIGKILL, and models
//! with snapshots.
//!
//! The test binary runs itself again as worker processes: [`journal_worker`] does nothing unless
//! the environment variable [`ROLE`] says what to do; then it writes to the store named by
//! [`FOLDER`] and prints one line on stdout per acknowledged write.
//!
//! `FOLDSTORE_KILLS` sets the number of kills of the kill test (default [`DEFAULT_KILLS`]), and
//! `FOLDSTORE_KILL_SEED` the seed of its random delays.

#[path = "../common/mod.rs"]
mod common;
mod damage;
mod format;
mod layout;
mod models;
mod processes;
mod records;
mod subscriptions;
mod threads;
mod torn_tails;
mod worker;
