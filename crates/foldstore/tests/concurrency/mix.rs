//! The mix of threads, run by each worker process and by the in-process tests: transfers in read-
//! write instances, audits, and readers checking that money is conserved.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::bank::{
    check_consistent, Bank, ACCOUNTS, BANK, MAX_AMOUNT, MAX_ATTEMPTS, SNAPSHOT_EVERY, TOTAL,
};
use crate::common::workers::Rng;
use foldstore::{Error, Event, Model, Store, View};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// The threads one process (or one in-process test) runs on one store.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Mix {
    /// Who runs it (part of the seeds and of the audit events).
    pub(crate) process: u64,
    /// Threads running read-write transfer instances; the even ones share one model, the odd
    /// ones each define their own on the same store.
    pub(crate) transfer_threads: u64,
    /// Read-write instances per transfer thread.
    pub(crate) instances: u64,
    /// Threads logging audits: `log` of one, and `log_block` of two, in turn.
    pub(crate) audit_threads: u64,
    /// Audit commits per audit thread.
    pub(crate) audits: u64,
    /// Threads reading (the shared model, and a model of their own) until the writers are done.
    pub(crate) reader_threads: u64,
}

impl Mix {
    pub(crate) fn threads(&self) -> u64 {
        self.transfer_threads + self.audit_threads + self.reader_threads
    }
}

/// What a mix did.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct Tally {
    /// Read-write instances run.
    pub(crate) instances: u64,
    /// The commit of each instance that committed.
    pub(crate) transfer_commits: Vec<u64>,
    /// Instances refused by the handler (not enough money): nothing written.
    pub(crate) rejected: u64,
    /// Instances that lost every race: nothing written.
    pub(crate) exhausted: u64,
    /// Instances that failed otherwise (must be none).
    pub(crate) other_errors: Vec<String>,
    /// Attempts made by all instances.
    pub(crate) attempts: u64,
    /// The commit of each audit `log` and `log_block`.
    pub(crate) audit_commits: Vec<u64>,
    /// Audit events written.
    pub(crate) audit_events: u64,
    /// Consistent states seen by readers.
    pub(crate) reads: u64,
}

impl Tally {
    pub(crate) fn add(&mut self, other: Tally) {
        self.instances += other.instances;
        self.transfer_commits.extend(other.transfer_commits);
        self.rejected += other.rejected;
        self.exhausted += other.exhausted;
        self.other_errors.extend(other.other_errors);
        self.attempts += other.attempts;
        self.audit_commits.extend(other.audit_commits);
        self.audit_events += other.audit_events;
        self.reads += other.reads;
    }

    /// Attempts beyond the first of each instance: races lost.
    pub(crate) fn retries(&self) -> u64 {
        self.attempts - self.instances
    }
}

pub(crate) fn transfer_thread(model: &Model<Bank>, instances: u64, seed: u64) -> Tally {
    let mut rng = Rng::new(seed);
    let mut tally = Tally::default();
    for _ in 0..instances {
        let from = rng.below(u64::from(ACCOUNTS)) as u32;
        let to = (from + 1 + rng.below(u64::from(ACCOUNTS) - 1) as u32) % ACCOUNTS;
        let amount = 1 + rng.below(MAX_AMOUNT) as i64;
        let mut attempts = 0_u32;
        let result = model.with_read_write_instance(
            |bank, flag| {
                attempts += 1;
                // Each attempt sees one whole, consistent state.
                check_consistent(bank.ledger(), bank.view.position(), "a writer");
                let before = bank.total();
                bank.transfer(from, to, amount)?;
                // It reads its own write, and the money is still all there.
                assert_eq!(bank.total(), before);
                flag.ready_to_commit();
                Ok::<_, Error>(())
            },
            MAX_ATTEMPTS,
        );
        tally.instances += 1;
        tally.attempts += u64::from(attempts);
        match result {
            Ok(outcome) => {
                assert_eq!(outcome.attempts, attempts);
                let commit = outcome
                    .commit
                    .expect("a ready instance with an event commits");
                tally.transfer_commits.push(commit);
            }
            Err(Error::RetriesExhausted { attempts: reported }) => {
                assert_eq!(reported, MAX_ATTEMPTS);
                assert_eq!(attempts, MAX_ATTEMPTS);
                tally.exhausted += 1;
            }
            Err(Error::Rejected { .. }) => tally.rejected += 1,
            Err(other) => tally.other_errors.push(other.to_string()),
        }
    }
    tally
}

pub(crate) fn audit_thread(store: &Store, process: u64, thread: u64, audits: u64) -> Tally {
    let mut tally = Tally::default();
    for n in 0..audits {
        let audit = |block: bool, part: u64| {
            Event::with_data(
                "audit",
                json!({"process": process, "thread": thread, "n": n, "part": part, "block": block}),
            )
        };
        let commit = if n % 2 == 0 {
            tally.audit_events += 1;
            store.log(&audit(false, 0)).expect("log an audit")
        } else {
            tally.audit_events += 2;
            store
                .log_block(|block| {
                    block.log(&audit(true, 0))?;
                    block.log(&audit(true, 1))?;
                    block.mark_as_complete();
                    Ok::<_, Error>(())
                })
                .expect("log a block of audits")
                .expect("a complete block is written")
        };
        tally.audit_commits.push(commit);
    }
    tally
}

pub(crate) fn reader_thread(shared: &Model<Bank>, own: &Model<Bank>, done: &AtomicBool) -> Tally {
    let mut tally = Tally::default();
    let mut last = [0_u64; 2];
    loop {
        // Read once more after the writers are done, so every reader reads at least once.
        let finished = done.load(Ordering::Acquire);
        for (i, model) in [shared, own].into_iter().enumerate() {
            let data = model.aggregator_data().expect("aggregator_data");
            check_consistent(&data, data.position(), "a reader");
            assert!(data.position() >= last[i], "a model went back in time");
            last[i] = data.position();
            let (total, lowest, position) = model
                .with_read_instance(|bank| (bank.total(), bank.lowest(), bank.view.position()))
                .expect("with_read_instance");
            assert_eq!(total, TOTAL, "a read instance at commit {position}");
            assert!(lowest >= 0, "a read instance at commit {position}");
            assert!(position >= last[i]);
            last[i] = position;
            tally.reads += 2;
        }
        if finished {
            return tally;
        }
        thread::sleep(Duration::from_millis(1));
    }
}

/// Runs the mix's threads on `store` and adds up what they did.
pub(crate) fn run_mix(store: &Store, mix: Mix) -> Tally {
    let shared = store
        .model(BANK)
        .snapshot_every(SNAPSHOT_EVERY)
        .build()
        .expect("define the bank");
    let done = Arc::new(AtomicBool::new(false));
    let mut writers: Vec<JoinHandle<Tally>> = Vec::new();
    for t in 0..mix.transfer_threads {
        let model = if t % 2 == 0 {
            shared.clone()
        } else {
            store
                .model(BANK)
                .snapshot_every(SNAPSHOT_EVERY)
                .build()
                .expect("define the bank")
        };
        let seed = mix.process * 1_000 + t;
        writers.push(thread::spawn(move || {
            transfer_thread(&model, mix.instances, seed)
        }));
    }
    for t in 0..mix.audit_threads {
        let store = store.clone();
        writers.push(thread::spawn(move || {
            audit_thread(&store, mix.process, t, mix.audits)
        }));
    }
    let readers: Vec<JoinHandle<Tally>> = (0..mix.reader_threads)
        .map(|_| {
            let shared = shared.clone();
            let own = store.define_model(BANK).expect("define the bank");
            let done = Arc::clone(&done);
            thread::spawn(move || reader_thread(&shared, &own, &done))
        })
        .collect();
    let mut tally = Tally::default();
    let mut panics = Vec::new();
    for writer in writers {
        match writer.join() {
            Ok(t) => tally.add(t),
            Err(panic) => panics.push(panic),
        }
    }
    done.store(true, Ordering::Release);
    for reader in readers {
        match reader.join() {
            Ok(t) => {
                assert!(t.reads > 0, "every reader read");
                tally.add(t);
            }
            Err(panic) => panics.push(panic),
        }
    }
    if let Some(panic) = panics.into_iter().next() {
        std::panic::resume_unwind(panic);
    }
    tally
}
