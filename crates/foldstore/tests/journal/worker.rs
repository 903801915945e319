//! The worker process (this test binary run again, in a role: `rw`, `log`, `probe` or `kill`), and
//! starting it.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::thread;
use std::time::{Duration, Instant};

use crate::common::counter::{Counter, CounterEvent};
use crate::common::workers::{env_number, say, test_name, worker_command};
use foldstore::{Dispatch, Durability, Error, Event, JournalStorage, Layout, Store};
use serde_json::json;

/// What a worker process does: `rw`, `log` or `kill`; absent in a normal test run.
pub(crate) const ROLE: &str = "FOLDSTORE_JOURNAL_ROLE";
/// The store the worker writes to.
pub(crate) const FOLDER: &str = "FOLDSTORE_JOURNAL_FOLDER";
/// The worker's number, unique in its store.
pub(crate) const WORKER: &str = "FOLDSTORE_JOURNAL_WORKER";
/// How many workers wait for each other at the gate (`rw` and `log`).
pub(crate) const WORKERS: &str = "FOLDSTORE_JOURNAL_WORKERS";
/// The folder where they wait for each other.
pub(crate) const GATE: &str = "FOLDSTORE_JOURNAL_GATE";
/// How many calls each worker makes (`rw` and `log`).
pub(crate) const CALLS: &str = "FOLDSTORE_JOURNAL_CALLS";
/// The segment size the worker writes with (default: the library's).
pub(crate) const SEGMENT_BYTES: &str = "FOLDSTORE_JOURNAL_SEGMENT_BYTES";
/// The segment size of the kill test: small, so that writers are also killed around the
/// start of a new segment.
pub(crate) const KILL_SEGMENT_BYTES: u64 = 8192;
/// The kills of the kill test.
pub(crate) const KILLS: &str = "FOLDSTORE_KILLS";
/// The seed of the kill test's random delays.
pub(crate) const SEED: &str = "FOLDSTORE_KILL_SEED";
/// The kill test's kills when [`KILLS`] is not set.
pub(crate) const DEFAULT_KILLS: u64 = 30;
/// The seed when [`SEED`] is not set.
pub(crate) const DEFAULT_SEED: u64 = 0x0051_ee9d_0f4a_11ce;
/// The worker's test name (see `common::workers::test_name`).
pub(crate) const WORKER_TEST: &str = "journal_worker";
/// A worker nobody killed stops by itself after this long.
pub(crate) const WORKER_LIFETIME: Duration = Duration::from_secs(60);

/// Waits until every worker has arrived, so that they all write at the same time.
pub(crate) fn wait_at_gate(worker: u64) {
    let gate = PathBuf::from(std::env::var_os(GATE).expect("the gate"));
    assert!(
        crate::common::workers::gate(&gate, worker, env_number(WORKERS)),
        "the other workers did not come"
    );
}

/// A worker process: runs only when started by a test of this file.
#[test]
fn journal_worker() {
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    let folder = PathBuf::from(std::env::var_os(FOLDER).expect("the store's folder"));
    let worker = env_number(WORKER);
    assert_eq!(Layout::detect(&folder).unwrap(), Some(Layout::Journal));
    let store = match std::env::var(SEGMENT_BYTES) {
        Ok(_) => Store::builder(&folder)
            .storage(JournalStorage::with_segment_bytes(
                &folder,
                Durability::Immediate,
                env_number(SEGMENT_BYTES),
            ))
            .open()
            .unwrap(),
        Err(_) => Store::open(&folder).unwrap(),
    };
    // On a line of its own: the harness has printed "test journal_worker ... " already.
    say("");
    match role.as_str() {
        "rw" => {
            let calls = env_number(CALLS);
            let model = store.define_model(Counter).unwrap();
            model.aggregator_data().unwrap();
            wait_at_gate(worker);
            for call in 0..calls {
                let by = (worker as i64 + 1) * 1000 + call as i64;
                let result = model.with_read_write_instance(
                    |view, flag| {
                        view.dispatch(CounterEvent::Incremented { by })?;
                        flag.ready_to_commit();
                        Ok::<_, Error>(())
                    },
                    200,
                );
                match result {
                    Ok(outcome) => say(&format!("ack {} {by}", outcome.commit.unwrap())),
                    Err(Error::RetriesExhausted { .. }) => say(&format!("fail {by}")),
                    Err(e) => panic!("worker {worker}: {e}"),
                }
            }
        }
        "log" => {
            let calls = env_number(CALLS);
            wait_at_gate(worker);
            for seq in 1..=calls {
                let event = Event::with_data("tagged", json!({"worker": worker, "seq": seq}));
                let n = store.log(&event).unwrap();
                say(&format!("ack {n} {worker}-{seq}"));
            }
        }
        "probe" => {
            say(&format!("tip {}", store.tip().unwrap()));
            say(&format!(
                "read {}",
                store.commits(..).map(Result::unwrap).count()
            ));
        }
        "kill" => {
            say("ready");
            let started = Instant::now();
            let mut seq = 0;
            while started.elapsed() < WORKER_LIFETIME {
                seq += 1;
                if seq % 5 == 0 {
                    // A block of three events, one commit.
                    let seqs = [seq, seq + 1, seq + 2];
                    seq += 2;
                    let n = store
                        .log_block(|block| {
                            for s in seqs {
                                block.log(&Event::with_data(
                                    "tagged",
                                    json!({"worker": worker, "seq": s}),
                                ))?;
                            }
                            block.mark_as_complete();
                            Ok::<_, Error>(())
                        })
                        .unwrap()
                        .unwrap();
                    let ids: Vec<String> = seqs.iter().map(|s| format!("{worker}-{s}")).collect();
                    say(&format!("ack {n} {}", ids.join(" ")));
                } else {
                    // Some records span several pages.
                    let pad = if seq % 7 == 0 { 9000 } else { 0 };
                    let event = Event::with_data(
                        "tagged",
                        json!({"worker": worker, "seq": seq, "pad": "p".repeat(pad)}),
                    );
                    let n = store.log(&event).unwrap();
                    say(&format!("ack {n} {worker}-{seq}"));
                }
            }
        }
        other => panic!("unknown role {other}"),
    }
    say("done");
}

/// A command that starts a worker in `role`.
pub(crate) fn worker(role: &str, folder: &Path, worker: u64, extra: &[(&str, String)]) -> Command {
    let mut command = worker_command(&test_name(module_path!(), WORKER_TEST));
    command
        .env(ROLE, role)
        .env(FOLDER, folder)
        .env(WORKER, worker.to_string());
    for (name, value) in extra {
        command.env(name, value);
    }
    command
}

pub(crate) fn spawn_worker(
    role: &str,
    folder: &Path,
    number: u64,
    extra: &[(&str, String)],
) -> Child {
    worker(role, folder, number, extra)
        .spawn()
        .expect("start a worker process")
}

/// Runs workers to their end; returns each one's lines.
pub(crate) fn run_workers(role: &str, folder: &Path, workers: u64, calls: u64) -> Vec<Vec<String>> {
    let gate = folder.with_extension(format!("gate-{role}"));
    fs::create_dir(&gate).unwrap();
    let children: Vec<Child> = (0..workers)
        .map(|worker| {
            spawn_worker(
                role,
                folder,
                worker,
                &[
                    (WORKERS, workers.to_string()),
                    (CALLS, calls.to_string()),
                    (GATE, gate.display().to_string()),
                ],
            )
        })
        .collect();
    children
        .into_iter()
        .map(|child| {
            let output = child.wait_with_output().unwrap();
            let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(
                output.status.success() && stdout.lines().any(|l| l == "done"),
                "a worker failed ({}):\n{stdout}\n{stderr}",
                output.status
            );
            stdout.lines().map(str::to_owned).collect()
        })
        .collect()
}

/// Reads the store at `path` in a child process: its tip, and how many commits a replay reads.
/// A child that does not finish within [`PROBE_DEADLINE`] is killed: `Err` says so.
pub(crate) fn probe(path: &Path) -> Result<(u64, u64), String> {
    let mut child = spawn_worker("probe", path, 0, &[]);
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > PROBE_DEADLINE {
            child.kill().unwrap();
            child.wait().unwrap();
            return Err(format!(
                "the reader did not return within {PROBE_DEADLINE:?} (killed)"
            ));
        }
        thread::sleep(Duration::from_millis(10));
    };
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !status.success() {
        return Err(format!(
            "the reader failed ({status}): {stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let value = |key: &str| -> u64 {
        stdout
            .lines()
            .find_map(|line| line.strip_prefix(key))
            .unwrap_or_else(|| panic!("no {key:?} in {stdout}"))
            .trim()
            .parse()
            .unwrap()
    };
    Ok((value("tip "), value("read ")))
}

/// How long [`probe`] waits for its reader.
pub(crate) const PROBE_DEADLINE: Duration = Duration::from_secs(10);
