//! `foldstore tail`: the last commits, then (with `-f`) new ones as they land.

use std::io::{self, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use anyhow::Context;
use foldstore::{Commit, Store};

use crate::cmd::log::{Row, Table};
use crate::output::Palette;

/// How often `tail -f` looks for the next commit.
pub const POLL_INTERVAL: Duration = Duration::from_millis(150);

/// Prints the last `lines` commits and, when `follow`, every commit after them as it lands,
/// until interrupted (Ctrl-C, SIGTERM) or the output is closed.
///
/// # Errors
/// A damaged or missing commit; errors of writing other than a closed pipe.
pub fn run(store: &Store, lines: u64, follow: bool, json: bool) -> anyhow::Result<ExitCode> {
    // Ctrl-C (or SIGTERM) ends following, with status 0.
    let stop = Arc::new(AtomicBool::new(false));
    if follow {
        let flag = Arc::clone(&stop);
        ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))
            .context("cannot handle Ctrl-C")?;
    }
    let tip = store.tip()?;
    let first = tip.saturating_sub(lines) + 1;
    let table = Table::new(Palette::stdout(), tip, json);
    let mut out = io::stdout().lock();
    table.write_heading(&mut out)?;
    out.flush()?;
    let mut print = |commit: &Commit| -> anyhow::Result<()> {
        table.write_row(&mut out, &Row::read(store, commit)?)?;
        out.flush()?;
        Ok(())
    };
    let mut next = first;
    for commit in store.commits(first..=tip) {
        print(&commit?)?;
        next += 1;
    }
    if follow {
        follow_log(store, next, POLL_INTERVAL, &stop, print)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Follows the log of `store` from commit `next` on: calls `emit` with every commit, in order,
/// as soon as it is found, looking for the next one every `interval`, until `stop` is set.
/// Returns the number of the next commit it would have emitted.
///
/// Every commit is emitted exactly once: `next` advances only after `emit` succeeded with it.
/// A later version can replace the polling with file-system notifications here alone.
///
/// # Errors
/// A damaged or missing commit, or `emit`'s error.
pub fn follow_log(
    store: &Store,
    mut next: u64,
    interval: Duration,
    stop: &AtomicBool,
    mut emit: impl FnMut(&Commit) -> anyhow::Result<()>,
) -> anyhow::Result<u64> {
    const SLICE: Duration = Duration::from_millis(25);
    while !stop.load(Ordering::SeqCst) {
        for commit in store.commits(next..) {
            let commit = commit?;
            emit(&commit)?;
            next = commit.number() + 1;
            if stop.load(Ordering::SeqCst) {
                return Ok(next);
            }
        }
        // Sleep in slices, so that an interruption ends the wait promptly.
        let mut waited = Duration::ZERO;
        while waited < interval && !stop.load(Ordering::SeqCst) {
            thread::sleep(SLICE);
            waited += SLICE;
        }
    }
    Ok(next)
}
