//! Concurrency (issue "Reliability: crashes, concurrency and bad input, proven with numbers"):
//! many processes and threads mixing `log`, `log_block`, read-write instances and readers on
//! one store, checked against a bank whose money must be conserved.
//!
//! The bank model opens accounts and transfers money between them; its handler refuses a
//! transfer that would make a balance negative. Writers move random amounts between random
//! accounts with read-write instances, other writers log `audit` events (one per commit, or two
//! in a block) that the model's fallback counts, and readers keep checking that the total never
//! changes, no balance is negative, and no block is seen in part. Afterwards the log itself is
//! checked: every successful instance is exactly one commit holding one transfer, every audit
//! commit is one a writer reported, the commits are contiguous and verify, and every instance
//! that failed, failed because it ran out of attempts or was refused.
//!
//! The multi-process test runs the test binary again as workers: [`bank_worker`] does nothing
//! unless the environment variable [`WORKER_FOLDER`] names a store folder; then it runs its
//! threads there and prints what they did as one JSON line (see `common/workers.rs`).

mod bank;
mod checks;
#[path = "../common/mod.rs"]
mod common;
mod mix;
mod processes;
mod threads;
