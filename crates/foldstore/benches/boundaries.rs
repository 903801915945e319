//! Consistency boundaries on a durable journal ([`Durability::Immediate`], in a temporary
//! folder), measured in one run (read the figures as ratios):
//!
//! - `decisions_under_contention/threads_1` and `threads_8`: each thread decides about its own
//!   accounts (64 each): it reads an account's balance with [`Store::events_matching`], then
//!   appends a deposit or a withdrawal with [`Store::append_if`] on the condition that nothing
//!   was committed to that account after the last commit it read. The store starts with 10,000
//!   commits (about 20 per account). After the group, the 8-thread rate as a multiple of the
//!   1-thread rate (over every decision timed, warm-up included) and the count of failed
//!   conditions (0 expected: no decision depends on another thread's) are printed, and where a
//!   decision's time went (reading, appending). `baseline/log_threads_1` and `_8`: plain
//!   [`Store::log`] of the same events from as many threads, which share disk syncs: the most
//!   the decisions could gain from threads.
//! - `decisions_with_instances/threads_1` and `threads_8`: the same decisions made as an
//!   application makes them with a scoped model: each account has a model scoped to its tag
//!   (defined once, as a long-running service keeps it), and a decision is a read-write instance
//!   of it with 5 attempts, which folds only the account's events committed since its last read.
//!   After the group, the 8-thread rate as a multiple of the 1-thread rate, the decisions that
//!   ran out of attempts (0 expected) and the attempts per decision are printed.
//! - `conditional_append`: `store_log` (a plain [`Store::log`] of a tagged event) beside
//!   `append_if_nothing_intervening` (the same event through [`Store::append_if`], conditional
//!   on its tag after the last commit, which nothing follows): durable, and without syncs
//!   (`*_no_sync`), where the check's own cost is not hidden behind the disk's.
//! - `read_one_tag/commits_1000` and `commits_1000000`: reading one account's 20 events from a
//!   journal of 1,000 and of 1,000,000 commits (each built once per run, without syncs, then
//!   opened durable), with the event index warm. The first read of a process is timed once
//!   for each and printed before the group: without a saved index (it reads the whole log and
//!   saves the index beside it), and in a new store that restores the saved index.
//!
//! ```sh
//! cargo bench -p foldstore --bench boundaries -- --warm-up-time 1 --measurement-time 5
//! ```

// criterion's macros define undocumented public functions.
#![allow(missing_docs)]

use std::cell::Cell;
use std::hint::black_box;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

mod common;

use common::open_without_syncs;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use foldstore::{
    AppendCondition, CommitFlag, Dispatch, Durability, Event, EventContext, Layout, Model,
    ModelDefinition, Query, Store, View, Writer,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// How many accounts each deciding thread owns.
const ACCOUNTS_PER_THREAD: u64 = 64;
/// The most threads that decide at once.
const MAX_THREADS: u64 = 8;
/// The commits the contention store holds before any decision.
const PREFILLED: u64 = 10_000;
/// How many events of one account the read benchmark reads.
const EVENTS_PER_ACCOUNT: u64 = 20;

/// Conditions that failed (none should: each thread decides about its own accounts).
static FAILED_CONDITIONS: AtomicU64 = AtomicU64::new(0);
/// Where the decisions' time went since it was last taken (see [`take_spent`]): nanoseconds
/// reading, nanoseconds appending, and the events read.
static SPENT: [AtomicU64; 3] = [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)];

/// The decisions' time spent reading and appending since the last call, in words, per decision.
fn take_spent(decisions: u64) -> String {
    let [read, append, events] = SPENT.each_ref().map(|n| n.swap(0, Ordering::Relaxed));
    let per = |n: u64| n as f64 / decisions.max(1) as f64;
    format!(
        "reading {:.0} µs ({:.0} events), appending {:.0} µs",
        per(read) / 1e3,
        per(events),
        per(append) / 1e3
    )
}

/// Adds the time since `started` to `SPENT[slot]`.
fn spent(slot: usize, started: Instant) {
    let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
    SPENT[slot].fetch_add(nanos, Ordering::Relaxed);
}

/// The tag of account `account`.
fn account_tag(account: u64) -> String {
    format!("account:{account}")
}

/// A deposit (or, negative, a withdrawal) of `amount` to `account`, about 100 bytes of JSON.
fn movement(account: u64, amount: i64, k: u64) -> Event {
    let name = if amount < 0 { "withdrawn" } else { "deposited" };
    let data = json!({"amount": amount, "reference": format!("transfer {k} of the month's batch")});
    Event::with_data(name, data).tagged([account_tag(account)])
}

/// The durable journal store at `path`.
fn durable(path: &Path) -> Store {
    let store = Store::builder(path)
        .layout(Layout::Journal)
        .durability(Durability::Immediate)
        .open()
        .expect("open");
    store.ensure_folder().expect("create the folder");
    store
}

/// A journal in a temporary folder of `commits` commits, one deposit each, to `accounts`
/// accounts in turn, written without syncs.
fn bank(commits: u64, accounts: u64) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a folder");
    let writer = open_without_syncs(dir.path(), Layout::Journal);
    for k in 0..commits {
        writer.log(&movement(k % accounts, 20, k)).expect("log");
    }
    dir
}

/// One decision about `account`: read its balance, then withdraw 10 when it holds that much,
/// else deposit 20, on the condition that nothing was committed to it since the read. A failed
/// condition is counted, and the decision made again.
fn decide(store: &Store, account: u64, k: u64) {
    let query = Query::tag(account_tag(account));
    loop {
        let reading = Instant::now();
        let read = store.events_matching(&query, 0).expect("read");
        spent(0, reading);
        SPENT[2].fetch_add(read.len() as u64, Ordering::Relaxed);
        let balance: i64 = read
            .iter()
            .filter_map(|e| e.event.data()?["amount"].as_i64())
            .sum();
        let at = read.last().map_or(0, |e| e.commit);
        let amount = if balance >= 10 { -10 } else { 20 };
        let condition = AppendCondition::none_matching_after(query.clone(), at);
        let appending = Instant::now();
        let appended = store
            .append_if(&[movement(account, amount, k)], &condition)
            .expect("append");
        spent(1, appending);
        match appended {
            Ok(commit) => {
                black_box(commit);
                return;
            }
            Err(_) => {
                FAILED_CONDITIONS.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// `count` calls of `work(account, k)` shared out among `threads` threads, each about its own
/// accounts: how long they took.
fn in_threads(threads: u64, count: u64, work: impl Fn(u64, u64) + Sync) -> Duration {
    let started = Instant::now();
    std::thread::scope(|scope| {
        for thread in 0..threads {
            let mine = count / threads + u64::from(thread < count % threads);
            let work = &work;
            scope.spawn(move || {
                for k in 0..mine {
                    work(thread * ACCOUNTS_PER_THREAD + k % ACCOUNTS_PER_THREAD, k);
                }
            });
        }
    });
    started.elapsed()
}

fn decisions_under_contention(c: &mut Criterion) {
    let dir = bank(PREFILLED, MAX_THREADS * ACCOUNTS_PER_THREAD);
    let store = durable(dir.path());
    // Fill the event index before timing (see `read_one_tag` for what that costs).
    store
        .events_matching(&Query::tag(account_tag(0)), 0)
        .expect("read");
    let mut group = c.benchmark_group("decisions_under_contention");
    group.throughput(Throughput::Elements(1)).sample_size(10);
    // Every decision timed per thread count: how many, and how long they took.
    let timed = [
        (1, Cell::new((0u64, Duration::ZERO))),
        (MAX_THREADS, Cell::default()),
    ];
    take_spent(1);
    for (threads, total) in &timed {
        group.bench_function(format!("threads_{threads}"), |b| {
            b.iter_custom(|iters| {
                let elapsed = in_threads(*threads, iters, |account, k| decide(&store, account, k));
                let (decisions, time) = total.get();
                total.set((decisions + iters, time + elapsed));
                elapsed
            });
        });
        // Each thread's time: with more threads than cores, waiting for a core counts too.
        println!(
            "decisions with {threads} threads, per decision: {}",
            take_spent(total.get().0)
        );
    }
    // What threads gain on plain appends of the same events (to a store of their own), which
    // share disk syncs: the most the decisions could gain.
    let plain = tempfile::tempdir().expect("a folder");
    let plain = durable(plain.path());
    for threads in [1, MAX_THREADS] {
        group.bench_function(format!("baseline/log_threads_{threads}"), |b| {
            b.iter_custom(|iters| {
                in_threads(threads, iters, |account, k| {
                    black_box(plain.log(&movement(account, 20, k)).expect("log"));
                })
            });
        });
    }
    group.finish();
    let rate = |(decisions, time): (u64, Duration)| decisions as f64 / time.as_secs_f64();
    let (one, eight) = (rate(timed[0].1.get()), rate(timed[1].1.get()));
    // A decision that waits on the disk gains from threads; one that waits on the processor
    // cannot gain more than the cores give.
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    println!(
        "decisions under contention: 1 thread {one:.0}/s, {MAX_THREADS} threads {eight:.0}/s: \
         {:.2}x; failed conditions: {} ({cores} cores)",
        eight / one,
        FAILED_CONDITIONS.load(Ordering::Relaxed)
    );
}

/// A movement as the account model reads it: the events [`movement`] writes.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "name", content = "data", rename_all = "camelCase")]
enum Movement {
    Deposited { amount: i64, reference: String },
    Withdrawn { amount: i64, reference: String },
}

/// One account's balance: a model scoped to the account's tag.
struct Account {
    id: u64,
}

impl ModelDefinition for Account {
    type Data = i64;
    type Event = Movement;
    type Error = String;
    type Domain<V: View<Self>> = V;

    fn scope(&self) -> Option<Query> {
        Some(Query::tag(account_tag(self.id)))
    }

    fn event_tags(&self, _: &Movement) -> Vec<String> {
        vec![account_tag(self.id)]
    }

    fn initial_data(&self) -> i64 {
        0
    }

    fn apply(
        &self,
        balance: &mut i64,
        event: Movement,
        _: &EventContext<'_>,
    ) -> Result<(), String> {
        match event {
            Movement::Deposited { amount, .. } | Movement::Withdrawn { amount, .. } => {
                *balance += amount;
            }
        }
        Ok(())
    }

    fn domain<V: View<Self>>(&self, view: V) -> V {
        view
    }
}

/// Decisions that ran out of attempts, and attempts made, by read-write instances.
static EXHAUSTED: AtomicU64 = AtomicU64::new(0);
static ATTEMPTS: AtomicU64 = AtomicU64::new(0);

/// One decision about `model`'s account through a read-write instance with 5 attempts:
/// withdraw 10 when the balance holds that much, else deposit 20.
fn decide_with_instance(model: &Model<Account>, k: u64) {
    let decided = model.with_read_write_instance(
        |writer: &mut &mut Writer<Account>, flag: &mut CommitFlag| {
            let reference = format!("transfer {k} of the month's batch");
            let movement = if *writer.data() >= 10 {
                Movement::Withdrawn {
                    amount: -10,
                    reference,
                }
            } else {
                Movement::Deposited {
                    amount: 20,
                    reference,
                }
            };
            writer.dispatch(movement)?;
            flag.ready_to_commit();
            Ok::<_, foldstore::Error>(())
        },
        5,
    );
    match decided {
        Ok(outcome) => {
            ATTEMPTS.fetch_add(u64::from(outcome.attempts), Ordering::Relaxed);
            black_box(outcome.commit);
        }
        Err(foldstore::Error::RetriesExhausted { attempts }) => {
            ATTEMPTS.fetch_add(u64::from(attempts), Ordering::Relaxed);
            EXHAUSTED.fetch_add(1, Ordering::Relaxed);
        }
        Err(e) => panic!("decision failed: {e}"),
    }
}

fn decisions_with_instances(c: &mut Criterion) {
    let dir = bank(PREFILLED, MAX_THREADS * ACCOUNTS_PER_THREAD);
    let store = durable(dir.path());
    // Every account's model, defined and read once, as a running service holds them.
    let models: Vec<Model<Account>> = (0..MAX_THREADS * ACCOUNTS_PER_THREAD)
        .map(|id| {
            let model = store.define_model(Account { id }).expect("define");
            model.aggregator_data().expect("read");
            model
        })
        .collect();
    let mut group = c.benchmark_group("decisions_with_instances");
    group.throughput(Throughput::Elements(1)).sample_size(10);
    let timed = [
        (1, Cell::new((0u64, Duration::ZERO))),
        (MAX_THREADS, Cell::default()),
    ];
    for (threads, total) in &timed {
        ATTEMPTS.store(0, Ordering::Relaxed);
        group.bench_function(format!("threads_{threads}"), |b| {
            b.iter_custom(|iters| {
                let elapsed = in_threads(*threads, iters, |account, k| {
                    decide_with_instance(&models[account as usize], k);
                });
                let (decisions, time) = total.get();
                total.set((decisions + iters, time + elapsed));
                elapsed
            });
        });
        println!(
            "decisions with instances, {threads} threads: {:.2} attempts per decision",
            ATTEMPTS.load(Ordering::Relaxed) as f64 / total.get().0.max(1) as f64
        );
    }
    group.finish();
    let rate = |(decisions, time): (u64, Duration)| decisions as f64 / time.as_secs_f64();
    let (one, eight) = (rate(timed[0].1.get()), rate(timed[1].1.get()));
    println!(
        "decisions with instances: 1 thread {one:.0}/s, {MAX_THREADS} threads {eight:.0}/s: \
         {:.2}x; out of attempts: {}",
        eight / one,
        EXHAUSTED.load(Ordering::Relaxed)
    );
}

fn conditional_append(c: &mut Criterion) {
    let mut group = c.benchmark_group("conditional_append");
    group.throughput(Throughput::Elements(1)).sample_size(10);
    for (suffix, durability) in [("", Durability::Immediate), ("_no_sync", Durability::None)] {
        let dir = bank(PREFILLED, 500);
        let store = Store::builder(dir.path())
            .layout(Layout::Journal)
            .durability(durability)
            .open()
            .expect("open");
        let query = Query::tag(account_tag(1));
        // Fill the index first, as a running application would have.
        store.events_matching(&query, 0).expect("read");
        let mut k = 0;
        group.bench_function(format!("store_log{suffix}"), |b| {
            b.iter(|| {
                k += 1;
                black_box(store.log(&movement(1, 20, k)).expect("log"))
            });
        });
        let mut last = store.tip().expect("tip");
        group.bench_function(format!("append_if_nothing_intervening{suffix}"), |b| {
            b.iter(|| {
                k += 1;
                let condition = AppendCondition::none_matching_after(query.clone(), last);
                last = store
                    .append_if(&[movement(1, 20, k)], &condition)
                    .expect("append")
                    .expect("nothing intervened");
                black_box(last)
            });
        });
    }
    group.finish();
}

fn read_one_tag(c: &mut Criterion) {
    let sizes = [1_000, 1_000_000];
    let stores: Vec<_> = sizes
        .iter()
        .map(|&commits| {
            let built = Instant::now();
            let dir = bank(commits, commits / EVENTS_PER_ACCOUNT);
            let built = built.elapsed();
            let query = Query::tag(account_tag(3));
            let first_read = |store: &Store| {
                let started = Instant::now();
                let events = store.events_matching(&query, 0).expect("read");
                assert_eq!(events.len() as u64, EVENTS_PER_ACCOUNT);
                started.elapsed()
            };
            // The first process reads the whole log (and saves the index beside it), the
            // next restores the saved index.
            let cold = first_read(&durable(dir.path()));
            let store = durable(dir.path());
            let restored = first_read(&store);
            println!(
                "read_one_tag/commits_{commits}: built in {built:.2?}; first read of a process: \
                 {cold:.2?} in the first (it reads the log, and saves the index from 4,096 \
                 commits on), {restored:.2?} in the next"
            );
            (commits, dir, store, query)
        })
        .collect();
    let mut group = c.benchmark_group("read_one_tag");
    group.throughput(Throughput::Elements(EVENTS_PER_ACCOUNT));
    for (commits, _dir, store, query) in &stores {
        group.bench_function(format!("commits_{commits}"), |b| {
            b.iter(|| black_box(store.events_matching(query, 0).expect("read")));
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    decisions_under_contention,
    decisions_with_instances,
    conditional_append,
    read_one_tag
);
criterion_main!(benches);
