//! Crashes (issue "Reliability: crashes, concurrency and bad input, proven with numbers"):
//! writer processes killed with SIGKILL at random instants, hundreds of times, while they
//! append to one folder store, and the store checked after every kill.
//!
//! The test binary runs itself again as writer processes: [`kill_worker`] does nothing unless
//! the environment variable [`WORKER_FOLDER`] names a store folder; then it appends forever
//! (`log`, `log_block`, read-write instances, snapshots) and prints one line on stdout after
//! each call that returned `Ok`, naming the commit and the unique ids of the events in it.
//! The parent kills the workers after a random delay, then checks that the store opens and
//! verifies, that the commits are contiguous, that every acknowledged commit is there with
//! exactly its events, that no event is in two commits, that every snapshot loads and holds
//! the fold of the commits it is labelled with, and that a fresh model folds the whole log.
//!
//! `FOLDSTORE_KILLS` sets the number of kills of each test (default [`DEFAULT_KILLS`]), and
//! `FOLDSTORE_KILL_SEED` the seed of the random delays, so a failure can be replayed.

#[path = "../common/mod.rs"]
mod common;
mod model;
mod parent;
mod rounds;
mod worker;
