//! `foldstore tail`: the last commits, then (with `-f`) new ones as they land.

use std::io::{self, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use foldstore::{Commit, Start, Store};

use crate::access::{commit_size, read_once};
use crate::cmd::log::{Row, Table};
use crate::output::Palette;

/// How often `tail -f` looks at the store (and at Ctrl-C) between the file system's notices.
pub const POLL_INTERVAL: Duration = Duration::from_millis(150);

/// Prints the last `lines` commits and, when `follow`, every commit after them as it lands,
/// until interrupted (Ctrl-C, SIGTERM) or the output is closed.
///
/// # Errors
/// A damaged or missing commit; errors of writing other than a closed pipe.
pub fn run(store: &Store, lines: u64, follow: bool, json: bool) -> anyhow::Result<ExitCode> {
    let stop = if follow {
        stop_on_ctrl_c()?
    } else {
        Arc::new(AtomicBool::new(false))
    };
    let tip = store.tip()?;
    // Not before an archived log's start, unless the archive was given.
    let first = (tip.saturating_sub(lines) + 1).max(crate::access::first_readable(store)?);
    let table = Table::new(Palette::stdout(), tip, json);
    let mut out = io::stdout().lock();
    table.write_heading(&mut out)?;
    out.flush()?;
    let mut print = |commit: &Commit, bytes: u64| -> anyhow::Result<()> {
        table.write_row(&mut out, &Row::new(commit, bytes))?;
        out.flush()?;
        Ok(())
    };
    let mut next = first;
    // Each commit is read once, for its events and its size; those that land later are
    // delivered by a subscription, without their size.
    for scanned in store.raw_commits(first..=tip)? {
        if let Some((commit, bytes)) = read_once(store, scanned, Some(tip))? {
            print(&commit, bytes)?;
        }
        next += 1;
    }
    if follow {
        follow_log(store, next, POLL_INTERVAL, &stop, |commit| {
            print(commit, commit_size(store, commit.number())?)
        })?;
    }
    Ok(ExitCode::SUCCESS)
}

/// A flag that Ctrl-C (or SIGTERM) sets: following ends then, with status 0.
///
/// # Errors
/// When the handler cannot be installed.
pub fn stop_on_ctrl_c() -> anyhow::Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))
        .context("cannot handle Ctrl-C")?;
    Ok(stop)
}

/// Follows the log of `store` from commit `next` on: calls `emit` with every commit, in order,
/// as soon as it lands (the subscription learns of new commits from the file system's
/// notices, and looks every `interval` anyway), until `stop` is set. Returns the number of the
/// next commit it would have emitted.
///
/// Every commit is emitted exactly once: the subscription delivers each once, in order.
///
/// # Errors
/// A damaged or missing commit, or `emit`'s error.
pub fn follow_log(
    store: &Store,
    next: u64,
    interval: Duration,
    stop: &Arc<AtomicBool>,
    mut emit: impl FnMut(&Commit) -> anyhow::Result<()>,
) -> anyhow::Result<u64> {
    let mut subscription = store
        .subscribe(Start::After(next - 1))?
        .with_poll_interval(interval)
        .cancelled_by(Arc::clone(stop));
    while !stop.load(Ordering::SeqCst) {
        if let Some(commit) = subscription.next_timeout(interval)? {
            emit(&commit)?;
        }
    }
    Ok(subscription.next_number())
}
