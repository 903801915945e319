//! The `foldstore` command, tested by running the real binary in temporary folders.

mod append;
mod boundaries;
mod chain;
mod demo_help;
mod events;
mod processes;
#[path = "../util/mod.rs"]
mod util;
mod verify;
