//! The parent's side of a worker: starting it, waiting until it writes, killing it, and reading
//! what it said.

use std::path::Path;

use crate::common::workers::{worker_command, KillableWorker};
use crate::model::{durability_name, START_DEADLINE, WORKER_DURABILITY, WORKER_FOLDER, WORKER_ID};
use crate::worker::worker_test;
use foldstore::Durability;

/// What a worker said it did.
#[derive(Debug, Default)]
pub(crate) struct Said {
    /// (commit, ids of its events) for every call that returned `Ok` with a commit.
    pub(crate) acks: Vec<(u64, Vec<String>)>,
    /// Labels of the snapshots saved.
    pub(crate) snaps: Vec<u64>,
    /// The ids of each read-write instance that ran out of attempts (nothing written).
    pub(crate) fails: Vec<Vec<String>>,
}

/// A running worker process; killed (and reaped) when dropped.
pub(crate) struct Worker {
    pub(crate) id: u64,
    pub(crate) process: KillableWorker,
    /// Lines received before "ready" (the harness's) and after it.
    pub(crate) received: Vec<String>,
}

impl Worker {
    pub(crate) fn spawn(folder: &Path, id: u64, durability: Durability) -> Worker {
        let process = KillableWorker::spawn(
            worker_command(&worker_test())
                .env(WORKER_FOLDER, folder)
                .env(WORKER_ID, id.to_string())
                .env(WORKER_DURABILITY, durability_name(durability)),
        );
        Worker {
            id,
            process,
            received: Vec::new(),
        }
    }

    /// Fails the test with what the worker said.
    pub(crate) fn fail(&mut self, why: &str) -> ! {
        let (lines, stderr) = self.process.finish();
        self.received.extend(lines);
        panic!(
            "worker {}: {why}\n--- stdout\n{}\n--- stderr\n{stderr}",
            self.id,
            self.received.join("\n")
        );
    }

    /// Waits for the worker's "ready" line: it has opened the store and starts writing.
    pub(crate) fn wait_ready(&mut self) {
        match self.process.wait_ready(START_DEADLINE) {
            Ok(before) => self.received.extend(before),
            Err(why) => self.fail(&why),
        }
    }

    /// Kills the worker with SIGKILL and reaps it. Fails if it had ended by itself.
    pub(crate) fn kill(&mut self) {
        if let Err(why) = self.process.kill() {
            self.fail(&why);
        }
    }

    /// The lines the (killed) worker printed, parsed.
    pub(crate) fn said(mut self) -> Said {
        let (lines, _) = self.process.finish();
        self.received.extend(lines);
        let mut said = Said::default();
        for line in std::mem::take(&mut self.received) {
            let mut words = line.split_whitespace();
            match words.next() {
                Some("ack") => {
                    let commit = words
                        .next()
                        .and_then(|w| w.parse().ok())
                        .unwrap_or_else(|| panic!("worker {}: bad line {line:?}", self.id));
                    let ids: Vec<String> = words.map(str::to_owned).collect();
                    assert!(!ids.is_empty(), "worker {}: bad line {line:?}", self.id);
                    said.acks.push((commit, ids));
                }
                Some("snap") => said.snaps.push(
                    words
                        .next()
                        .and_then(|w| w.parse().ok())
                        .unwrap_or_else(|| panic!("worker {}: bad line {line:?}", self.id)),
                ),
                Some("fail") => said.fails.push(words.map(str::to_owned).collect()),
                _ => {} // the test harness's own lines
            }
        }
        said
    }
}
