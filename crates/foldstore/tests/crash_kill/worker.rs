//! The worker: a writer process that appends forever (`log`, `log_block`, read-write instances,
//! snapshots) and says what each call that returned `Ok` wrote.

use std::time::Instant;

use crate::common::workers::{env_number, say, test_name, Rng};
use crate::model::{
    id, Tally, TallyEvent, MAX_ATTEMPTS, WORKER_DURABILITY, WORKER_FOLDER, WORKER_ID,
    WORKER_LIFETIME,
};
use foldstore::{Dispatch, Durability, Error, Event, Store};
use serde_json::json;

pub(crate) fn ack_line(commit: u64, worker: u64, seqs: &[u64]) -> String {
    let mut line = format!("ack {commit}");
    for &seq in seqs {
        line.push(' ');
        line.push_str(&id(worker, seq));
    }
    line
}

/// The worker's test name, as `--exact` wants it.
pub(crate) fn worker_test() -> String {
    test_name(module_path!(), "kill_worker")
}

/// A writer process: runs only when started by [`run_kills`], which kills it.
#[test]
fn kill_worker() {
    let Some(folder) = std::env::var_os(WORKER_FOLDER) else {
        return;
    };
    let worker = env_number(WORKER_ID);
    let durability = match std::env::var(WORKER_DURABILITY).as_deref() {
        Ok("none") => Durability::None,
        _ => Durability::Immediate,
    };
    let store = Store::builder(&folder)
        .durability(durability)
        .open()
        .expect("open the store");
    let model = store
        .define_model(Tally { snapshots: true })
        .expect("define the model");
    let mut rng = Rng::new(worker);
    let mut seq = 0_u64;
    let mut next_seqs = |n: u64| -> Vec<u64> {
        (0..n)
            .map(|_| {
                seq += 1;
                seq
            })
            .collect()
    };
    // On a line of its own: the harness has printed "test kill_worker ... " already.
    say("\nready");
    let started = Instant::now();
    for iteration in 1_u64.. {
        if started.elapsed() > WORKER_LIFETIME {
            return;
        }
        if iteration % 10 == 0 {
            if let Some(label) = model.snapshot().expect("snapshot") {
                say(&format!("snap {label}"));
            }
            continue;
        }
        match rng.below(10) {
            0..=2 => {
                let seqs = next_seqs(1);
                let event = Event::with_data("tagged", json!({"worker": worker, "seq": seqs[0]}));
                let commit = store.log(&event).expect("log");
                say(&ack_line(commit, worker, &seqs));
            }
            3..=5 => {
                let seqs = next_seqs(3);
                let commit = store
                    .log_block(|block| {
                        for &seq in &seqs {
                            block.log(&TallyEvent::Tagged { worker, seq })?;
                        }
                        block.mark_as_complete();
                        Ok::<_, Error>(())
                    })
                    .expect("log_block")
                    .expect("a complete block is written");
                say(&ack_line(commit, worker, &seqs));
            }
            _ => {
                // The ids are chosen once per call: every attempt dispatches the same events.
                let seqs = next_seqs(1 + rng.below(2));
                let result = model.with_read_write_instance(
                    |view, flag| {
                        for &seq in &seqs {
                            view.dispatch(TallyEvent::Tagged { worker, seq })?;
                        }
                        flag.ready_to_commit();
                        Ok::<_, Error>(())
                    },
                    MAX_ATTEMPTS,
                );
                match result {
                    Ok(outcome) => {
                        let commit = outcome.commit.expect("a ready instance commits");
                        say(&ack_line(commit, worker, &seqs));
                    }
                    Err(Error::RetriesExhausted { .. }) => {
                        let ids: Vec<String> = seqs.iter().map(|&s| id(worker, s)).collect();
                        say(&format!("fail {}", ids.join(" ")));
                    }
                    Err(e) => panic!("worker {worker}: read-write instance failed: {e}"),
                }
            }
        }
    }
}
