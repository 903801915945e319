//! The hostile-environment suite: every kind of file a store could meet under each name it
//! reads (commit `k.log`, snapshot `k.m-snapshot`, the journal's marker, segments and lock, and
//! the store's folder itself), and names at the edges of the commit numbers, under every verb.
//!
//! Each case is a copy of a small store with one hostile entry put in place: a symbolic link
//! (to a file inside the store, outside it, to itself, to nothing), a FIFO, a socket, a folder,
//! an empty file, a huge sparse file, an unreadable file, a modification time in the future or
//! the far past. Every verb runs on it under a watchdog, and must:
//! - return in bounded time (the watchdog kills it and fails the case otherwise);
//! - not panic (exit status 101, or "panicked" on standard error);
//! - name the hostile file in its message whenever it fails (and `verify` must name it unless
//!   it is a sound commit);
//! - leave files outside the store unchanged (a symbolic link's target above all), and the
//!   store's other files too, except what `append` legitimately adds (a commit reachable from
//!   commit 1) and what `repair` moves into the quarantine.
//!
//! Tests run as root are told apart: permissions do not stop root's reads, so the unreadable
//! cases are skipped there, with a message.
//!
//! The watchdog allows 30 s per command (`HOSTILE_WATCHDOG_SECS` sets another bound). Each test
//! prints its figures (cases run and skipped) on standard error, and lists every failing case
//! before it fails.

mod cases;
mod entries;
mod journal;
mod loose;
#[path = "../util/mod.rs"]
mod util;
