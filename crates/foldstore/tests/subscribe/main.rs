//! Live subscriptions ([`Store::subscribe`]): every commit after a point, in order, first those
//! that exist, then each new one as it lands, from this process or any other; never one
//! skipped, never one twice, including commits written while the subscriber was stopped.
//!
//! The cross-process tests run this test binary again as writer processes: `writer_worker`
//! does nothing unless the environment variable [`CHILD_FOLDER`] names a store folder; then it
//! logs [`CHILD_EVENTS`] events with unique ids there and prints a result line on stdout.

#[path = "../common/backends.rs"]
mod backends;
#[path = "../common/mod.rs"]
mod common;
mod damage;
mod filtered;
mod fixtures;
mod processes;
mod resume;
mod starting_points;
