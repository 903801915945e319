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

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use common::workers::{
    env_number, print_worker_result, test_name, wait_until, worker_command, worker_result, Rng,
};
use foldstore::{Dispatch, Error, Event, EventContext, Model, ModelDefinition, Store, View};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// The store folder a worker process works in; absent in a normal test run.
const WORKER_FOLDER: &str = "FOLDSTORE_BANK_FOLDER";
/// The worker's number, from 0.
const WORKER_PROCESS: &str = "FOLDSTORE_BANK_PROCESS";
/// The read-write instances each transfer thread of a worker runs.
const WORKER_INSTANCES: &str = "FOLDSTORE_BANK_INSTANCES";
/// The worker's test name (see [`test_name`]).
const WORKER_TEST: &str = "bank_worker";

/// Accounts opened at the start.
const ACCOUNTS: u32 = 8;
/// Each account's opening balance.
const OPENING_BALANCE: i64 = 1_000;
/// The money in the bank, from the first commit on.
const TOTAL: i64 = ACCOUNTS as i64 * OPENING_BALANCE;
/// The largest transfer tried (large enough that some are refused).
const MAX_AMOUNT: u64 = 400;
/// The attempts of each read-write instance.
const MAX_ATTEMPTS: u32 = 10;
/// The model takes a snapshot every this many commits (several writers may race to save one).
const SNAPSHOT_EVERY: u64 = 25;
/// A deadline to fail a hung test, never a measurement.
const DEADLINE: Duration = Duration::from_secs(300);

// ---------------------------------------------------------------------------------------------
// The bank model
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", content = "data", rename_all = "camelCase")]
enum BankEvent {
    Opened { account: u32, balance: i64 },
    Transferred { from: u32, to: u32, amount: i64 },
}

/// The bank's data.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Ledger {
    balances: BTreeMap<u32, i64>,
    /// Transfers folded.
    transfers: u64,
    /// Audit events folded.
    audits: u64,
    /// Audit events that came in blocks of two: always even when whole commits are folded.
    block_audits: u64,
}

struct Bank;

impl ModelDefinition for Bank {
    type Data = Ledger;
    type Event = BankEvent;
    type Error = String;
    type Domain<V: View<Self>> = Accounts<V>;

    fn snapshot_name(&self) -> Option<&str> {
        Some("bank")
    }

    fn initial_data(&self) -> Ledger {
        Ledger::default()
    }

    fn apply(
        &self,
        data: &mut Ledger,
        event: BankEvent,
        _: &EventContext<'_>,
    ) -> Result<(), String> {
        match event {
            BankEvent::Opened { account, balance } => {
                if balance < 0 {
                    return Err(format!("account {account} cannot open with {balance}"));
                }
                if data.balances.insert(account, balance).is_some() {
                    return Err(format!("account {account} is open already"));
                }
            }
            BankEvent::Transferred { from, to, amount } => {
                if amount <= 0 || from == to {
                    return Err(format!("no transfer of {amount} from {from} to {to}"));
                }
                let Some(&available) = data.balances.get(&from) else {
                    return Err(format!("no account {from}"));
                };
                if !data.balances.contains_key(&to) {
                    return Err(format!("no account {to}"));
                }
                if available < amount {
                    return Err(format!(
                        "account {from} holds {available}, cannot transfer {amount}"
                    ));
                }
                *data.balances.get_mut(&from).unwrap() -= amount;
                *data.balances.get_mut(&to).unwrap() += amount;
                data.transfers += 1;
            }
        }
        Ok(())
    }

    /// `audit` events are not the bank's business, but are counted; anything else is refused.
    fn fallback(
        &self,
        data: &mut Ledger,
        event: &Event,
        _: &EventContext<'_>,
    ) -> Result<(), String> {
        if event.name() != "audit" {
            return Err(format!("unknown event {:?}", event.name()));
        }
        data.audits += 1;
        if event.data().and_then(|d| d.get("block")) == Some(&json!(true)) {
            data.block_audits += 1;
        }
        Ok(())
    }

    fn domain<V: View<Self>>(&self, view: V) -> Accounts<V> {
        Accounts { view }
    }
}

/// The bank's domain model.
struct Accounts<V> {
    view: V,
}

impl<V: View<Bank>> Accounts<V> {
    fn total(&self) -> i64 {
        self.view.data().balances.values().sum()
    }

    fn lowest(&self) -> i64 {
        self.view
            .data()
            .balances
            .values()
            .copied()
            .min()
            .unwrap_or(0)
    }

    fn ledger(&self) -> &Ledger {
        self.view.data()
    }
}

impl<V: Dispatch<Bank>> Accounts<V> {
    fn open(&mut self, account: u32, balance: i64) -> foldstore::Result<()> {
        self.view.dispatch(BankEvent::Opened { account, balance })
    }

    fn transfer(&mut self, from: u32, to: u32, amount: i64) -> foldstore::Result<()> {
        self.view
            .dispatch(BankEvent::Transferred { from, to, amount })
    }
}

/// What every reader (and every attempt of a writer) must see: all the money, no debt, no
/// block of audits in part.
fn check_consistent(ledger: &Ledger, position: u64, who: &str) {
    assert_eq!(
        ledger.balances.len(),
        ACCOUNTS as usize,
        "{who} at commit {position}: accounts {:?}",
        ledger.balances
    );
    let total: i64 = ledger.balances.values().sum();
    assert_eq!(
        total, TOTAL,
        "{who} at commit {position}: money appeared or vanished: {ledger:?}"
    );
    assert!(
        ledger.balances.values().all(|&b| b >= 0),
        "{who} at commit {position}: a negative balance: {ledger:?}"
    );
    assert_eq!(
        ledger.block_audits % 2,
        0,
        "{who} at commit {position}: half a block of audits: {ledger:?}"
    );
}

/// Opens the accounts, in commit 1, and checks that an overdraft is refused.
fn open_accounts(store: &Store) {
    store.ensure_folder().expect("create the folder");
    let model = store.define_model(Bank).expect("define the bank");
    let outcome = model
        .with_read_write_instance(
            |bank, flag| {
                for account in 0..ACCOUNTS {
                    bank.open(account, OPENING_BALANCE)?;
                }
                flag.ready_to_commit();
                Ok::<_, Error>(())
            },
            1,
        )
        .expect("open the accounts");
    assert_eq!(outcome.commit, Some(1));
    let overdraft = model.with_read_write_instance(
        |bank, flag| {
            bank.transfer(0, 1, TOTAL + 1)?;
            flag.ready_to_commit();
            Ok::<_, Error>(())
        },
        1,
    );
    assert!(
        matches!(overdraft, Err(Error::Rejected { .. })),
        "an overdraft is refused: {overdraft:?}"
    );
    assert_eq!(store.tip().unwrap(), 1, "a refused instance writes nothing");
}

// ---------------------------------------------------------------------------------------------
// The mix of threads, run by each worker process and by the in-process tests
// ---------------------------------------------------------------------------------------------

/// The threads one process (or one in-process test) runs on one store.
#[derive(Clone, Copy, Debug)]
struct Mix {
    /// Who runs it (part of the seeds and of the audit events).
    process: u64,
    /// Threads running read-write transfer instances; the even ones share one model, the odd
    /// ones each define their own on the same store.
    transfer_threads: u64,
    /// Read-write instances per transfer thread.
    instances: u64,
    /// Threads logging audits: `log` of one, and `log_block` of two, in turn.
    audit_threads: u64,
    /// Audit commits per audit thread.
    audits: u64,
    /// Threads reading (the shared model, and a model of their own) until the writers are done.
    reader_threads: u64,
}

impl Mix {
    fn threads(&self) -> u64 {
        self.transfer_threads + self.audit_threads + self.reader_threads
    }
}

/// What a mix did.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Tally {
    /// Read-write instances run.
    instances: u64,
    /// The commit of each instance that committed.
    transfer_commits: Vec<u64>,
    /// Instances refused by the handler (not enough money): nothing written.
    rejected: u64,
    /// Instances that lost every race: nothing written.
    exhausted: u64,
    /// Instances that failed otherwise (must be none).
    other_errors: Vec<String>,
    /// Attempts made by all instances.
    attempts: u64,
    /// The commit of each audit `log` and `log_block`.
    audit_commits: Vec<u64>,
    /// Audit events written.
    audit_events: u64,
    /// Consistent states seen by readers.
    reads: u64,
}

impl Tally {
    fn add(&mut self, other: Tally) {
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
    fn retries(&self) -> u64 {
        self.attempts - self.instances
    }
}

fn transfer_thread(model: &Model<Bank>, instances: u64, seed: u64) -> Tally {
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

fn audit_thread(store: &Store, process: u64, thread: u64, audits: u64) -> Tally {
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

fn reader_thread(shared: &Model<Bank>, own: &Model<Bank>, done: &AtomicBool) -> Tally {
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
fn run_mix(store: &Store, mix: Mix) -> Tally {
    let shared = store
        .model(Bank)
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
                .model(Bank)
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
            let own = store.define_model(Bank).expect("define the bank");
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

// ---------------------------------------------------------------------------------------------
// The checks of the log afterwards
// ---------------------------------------------------------------------------------------------

/// What the log holds, as counted by the checks.
#[derive(Debug)]
struct Figures {
    commits: u64,
    transfers: u64,
    audit_commits: u64,
}

/// Checks the log after the mix: contiguous, sound, every commit accounted for, the money
/// conserved at every commit, and a fresh model agreeing with all of it.
fn check_log(store: &Store, tally: &Tally, instances: u64) -> Figures {
    assert!(
        tally.other_errors.is_empty(),
        "instances failed otherwise than by running out of attempts or being refused: {:?}",
        tally.other_errors
    );
    assert_eq!(
        tally.transfer_commits.len() as u64 + tally.rejected + tally.exhausted,
        instances,
        "every instance committed, was refused, or ran out of attempts"
    );

    let report = store.verify(|_, _| {}).expect("verify");
    assert!(report.is_sound(), "{:#?}", report.problems);
    assert!(report.warnings.is_empty(), "{:#?}", report.warnings);
    let listing = store.storage().list().expect("list");
    let tip = store.tip().expect("tip");
    assert_eq!(
        listing.commits,
        (1..=tip).collect::<Vec<_>>(),
        "contiguous commits"
    );
    assert_eq!(report.tip, tip);
    assert_eq!(report.sound_commits, tip);

    // Every commit after the first is one successful instance's transfer or one audit write.
    let mut balances: BTreeMap<u32, i64> = BTreeMap::new();
    let mut transfer_commits = BTreeSet::new();
    let mut audit_commits = BTreeSet::new();
    let mut audit_events = 0_u64;
    for commit in store.commits(..) {
        let commit = commit.expect("read a commit");
        let number = commit.number();
        let events: Vec<Result<BankEvent, _>> = commit
            .events()
            .iter()
            .map(Event::to_typed::<BankEvent>)
            .collect();
        let names: Vec<&str> = commit.events().iter().map(Event::name).collect();
        match (number, &events[..]) {
            (1, _) => {
                assert_eq!(
                    events.len(),
                    ACCOUNTS as usize,
                    "commit 1 opens the accounts"
                );
                for event in events {
                    let Ok(BankEvent::Opened { account, balance }) = event else {
                        panic!("commit 1: {names:?}");
                    };
                    balances.insert(account, balance);
                }
            }
            (_, [Ok(BankEvent::Transferred { from, to, amount })]) => {
                let available = balances[from];
                assert!(
                    available >= *amount,
                    "commit {number} overdraws account {from}"
                );
                *balances.get_mut(from).unwrap() -= amount;
                *balances.get_mut(to).unwrap() += amount;
                transfer_commits.insert(number);
            }
            _ if names == ["audit"] || names == ["audit", "audit"] => {
                audit_events += names.len() as u64;
                audit_commits.insert(number);
            }
            _ => panic!("commit {number} is neither a transfer nor an audit: {names:?}"),
        }
        assert_eq!(
            balances.values().sum::<i64>(),
            TOTAL,
            "money conserved at commit {number}"
        );
    }
    let reported: BTreeSet<u64> = tally.transfer_commits.iter().copied().collect();
    assert_eq!(
        reported.len(),
        tally.transfer_commits.len(),
        "two instances reported one commit"
    );
    assert_eq!(
        transfer_commits, reported,
        "the transfers in the log are exactly the successful instances"
    );
    let reported: BTreeSet<u64> = tally.audit_commits.iter().copied().collect();
    assert_eq!(
        reported.len(),
        tally.audit_commits.len(),
        "two audits reported one commit"
    );
    assert_eq!(
        audit_commits, reported,
        "the audit commits are exactly those logged"
    );
    assert_eq!(audit_events, tally.audit_events);
    assert_eq!(
        1 + transfer_commits.len() + audit_commits.len(),
        tip as usize
    );

    // A fresh model agrees, folding from nothing, and from the newest of the snapshots the
    // writers raced to save.
    let from_nothing = store
        .define_model(NoSnapshots)
        .expect("define the bank without snapshots")
        .aggregator_data()
        .expect("fold the log from nothing");
    assert_eq!(from_nothing.position(), tip);
    assert_eq!(from_nothing.balances, balances);
    assert_eq!(from_nothing.transfers, transfer_commits.len() as u64);
    assert_eq!(from_nothing.audits, audit_events);
    check_consistent(&from_nothing, tip, "a fresh model");
    let model = store.define_model(Bank).expect("define the bank");
    let from_snapshot = model
        .aggregator_data()
        .expect("fold the log from a snapshot");
    assert_eq!(from_snapshot.position(), tip);
    assert_eq!(*from_snapshot, *from_nothing);
    let report = model.report();
    assert!(report.skipped_snapshots.is_empty(), "{report:?}");
    Figures {
        commits: tip,
        transfers: transfer_commits.len() as u64,
        audit_commits: audit_commits.len() as u64,
    }
}

/// The bank without snapshots: folds the whole log.
struct NoSnapshots;

impl ModelDefinition for NoSnapshots {
    type Data = Ledger;
    type Event = BankEvent;
    type Error = String;
    type Domain<V: View<Self>> = V;

    fn initial_data(&self) -> Ledger {
        Ledger::default()
    }

    fn apply(
        &self,
        data: &mut Ledger,
        event: BankEvent,
        context: &EventContext<'_>,
    ) -> Result<(), String> {
        Bank.apply(data, event, context)
    }

    fn fallback(
        &self,
        data: &mut Ledger,
        event: &Event,
        context: &EventContext<'_>,
    ) -> Result<(), String> {
        Bank.fallback(data, event, context)
    }

    fn domain<V: View<Self>>(&self, view: V) -> V {
        view
    }
}

fn print_figures(
    what: &str,
    processes: u64,
    mix: Mix,
    tally: &Tally,
    figures: &Figures,
    started: Instant,
) {
    writeln!(
        std::io::stderr(),
        "concurrency ({what}): {processes} process(es) x {} threads ({} transfer, {} audit, {} reader); \
         {} commits: {} transfers, {} audit commits ({} events); {} instances: {} committed, \
         {} refused, {} out of attempts, {} retries in {} attempts; {} consistent reads; {:.1} s",
        mix.threads(),
        mix.transfer_threads,
        mix.audit_threads,
        mix.reader_threads,
        figures.commits,
        figures.transfers,
        figures.audit_commits,
        tally.audit_events,
        tally.instances,
        tally.transfer_commits.len(),
        tally.rejected,
        tally.exhausted,
        tally.retries(),
        tally.attempts,
        tally.reads,
        started.elapsed().as_secs_f64(),
    )
    .expect("write to stderr");
}

// ---------------------------------------------------------------------------------------------
// Many processes
// ---------------------------------------------------------------------------------------------

/// What each worker process runs.
fn process_mix(process: u64, instances: u64) -> Mix {
    Mix {
        process,
        transfer_threads: 2,
        instances,
        audit_threads: 1,
        audits: 60,
        reader_threads: 1,
    }
}

/// Waits until the parent has started every worker, so that they all run at once.
fn wait_for_go(folder: &Path) {
    let go = folder.parent().expect("the store's parent").join("go");
    assert!(
        wait_until(DEADLINE, Duration::from_millis(1), || go.exists()),
        "the parent never said go"
    );
}

/// A worker process: runs only when started by [`bank_transfers_from_four_processes`].
#[test]
fn bank_worker() {
    let Some(folder) = std::env::var_os(WORKER_FOLDER) else {
        return;
    };
    let folder = PathBuf::from(folder);
    let process = env_number(WORKER_PROCESS);
    let instances = env_number(WORKER_INSTANCES);
    let store = Store::open(&folder).expect("open the store");
    wait_for_go(&folder);
    let tally = run_mix(&store, process_mix(process, instances));
    print_worker_result(&tally);
}

#[test]
fn bank_transfers_from_four_processes() {
    const PROCESSES: u64 = 4;
    const INSTANCES: u64 = 150;
    let started = Instant::now();
    let temp = tempfile::tempdir().unwrap();
    let folder = temp.path().join("store");
    let store = Store::open(&folder).unwrap();
    open_accounts(&store);

    let children: Vec<Child> = (0..PROCESSES)
        .map(|process| {
            worker_command(&test_name(module_path!(), WORKER_TEST))
                .env(WORKER_FOLDER, &folder)
                .env(WORKER_PROCESS, process.to_string())
                .env(WORKER_INSTANCES, INSTANCES.to_string())
                .spawn()
                .expect("start a worker process")
        })
        .collect();
    fs::write(temp.path().join("go"), b"").unwrap();
    let deadline = Instant::now() + DEADLINE;
    let mut tally = Tally::default();
    for child in children {
        tally.add(worker_result(child, Some(deadline)));
    }

    let mix = process_mix(0, INSTANCES);
    let instances = PROCESSES * mix.transfer_threads * INSTANCES;
    assert_eq!(tally.instances, instances);
    let fresh = Store::open(&folder).unwrap();
    let figures = check_log(&fresh, &tally, instances);
    print_figures(
        "folder, processes",
        PROCESSES,
        mix,
        &tally,
        &figures,
        started,
    );
}

// ---------------------------------------------------------------------------------------------
// Many threads in one process, on one store
// ---------------------------------------------------------------------------------------------

/// Eight threads on one store: six moving money, one logging audits, one reading.
fn eight_threads(store: &Store, what: &str, instances: u64) {
    let started = Instant::now();
    open_accounts(store);
    let mix = Mix {
        process: 0,
        transfer_threads: 6,
        instances,
        audit_threads: 1,
        audits: instances,
        reader_threads: 1,
    };
    assert_eq!(mix.threads(), 8);
    let tally = run_mix(store, mix);
    let instances = mix.transfer_threads * mix.instances;
    assert_eq!(tally.instances, instances);
    let figures = check_log(store, &tally, instances);
    print_figures(what, 1, mix, &tally, &figures, started);
}

#[test]
fn eight_threads_on_one_memory_store() {
    eight_threads(&Store::memory(), "memory, threads", 1_000);
}

#[test]
fn eight_threads_on_one_folder_store() {
    let temp = tempfile::tempdir().unwrap();
    let store = Store::open(temp.path().join("store")).unwrap();
    eight_threads(&store, "folder, threads", 150);
}
