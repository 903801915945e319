//! Decisions under contention (table (i)): read-write instances of a model scoped to one
//! account, each decider (a thread) deciding about its own accounts on a durable journal, from
//! one thread, from threads of one process, and from processes (this program started again
//! with `--decide-worker`); each row on a fresh copy of the same prefilled journal. Afterwards
//! every account's balance, as a replay of the whole log adds it up, must be what its decider
//! computed: no decision lost or doubled.

use std::collections::BTreeMap;
use std::fs;
use std::ops::Range;
use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{anyhow, bail, Context};
use foldstore::{
    CommitFlag, Dispatch, Durability, Event, EventContext, Model, ModelDefinition, Query, Store,
    View, Writer,
};
use serde_json::{json, Value};

use crate::ours::JOURNAL;
use crate::processes::{self, Worker};
use crate::report::{thousands, Ratio, Row};
use crate::tables::{program, Bench, Reading, Spec};
use crate::workload::{in_threads, Decided, Measured};

/// The accounts each decider owns.
pub const ACCOUNTS_PER_DECIDER: u64 = 64;

/// The most deciders of a row: every account belongs to one of them.
const MAX_DECIDERS: u64 = 8;

/// The accounts of the journal.
const ACCOUNTS: u64 = ACCOUNTS_PER_DECIDER * MAX_DECIDERS;

/// The commits of the journal before any decision: one deposit each, to the accounts in turn.
pub const PREFILLED: u64 = 10_000;

/// The attempts each decision has.
pub const MAX_ATTEMPTS: u32 = 5;

/// What a decision deposits when the balance is short of a withdrawal, and what a prefilled
/// commit deposits.
const DEPOSIT: i64 = 20;

/// What a decision withdraws when the balance holds that much.
const WITHDRAWAL: i64 = 10;

/// The baseline row: one thread deciding.
pub const ONE_THREAD: &str = "one-thread";

/// Who decides in a row.
#[derive(Clone, Copy, Debug)]
enum Deciders {
    /// Threads of this process, sharing one `Store`.
    Threads(u64),
    /// Processes, each with its own `Store` and `threads` threads.
    Processes { processes: u64, threads: u64 },
}

impl Deciders {
    fn count(self) -> u64 {
        match self {
            Deciders::Threads(threads) => threads,
            Deciders::Processes { processes, threads } => processes * threads,
        }
    }
}

/// The rows: id, who decides, and what the label says of them.
const ROWS: [(&str, Deciders, &str); 4] = [
    (ONE_THREAD, Deciders::Threads(1), "1 thread"),
    (
        "threads-8",
        Deciders::Threads(8),
        "8 threads sharing one Store",
    ),
    (
        "processes-4",
        Deciders::Processes {
            processes: 4,
            threads: 1,
        },
        "4 processes of 1 thread, a Store each",
    ),
    (
        "processes-4x2",
        Deciders::Processes {
            processes: 4,
            threads: 2,
        },
        "4 processes of 2 threads, a Store each",
    ),
];

/// The decisions of a run shared out among its deciders.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Deciders in all (in every process).
    pub deciders: u64,
    /// Decisions in all.
    pub decisions: u64,
}

impl Plan {
    /// The decisions of decider `decider`.
    fn share(self, decider: u64) -> u64 {
        let deciders = self.deciders.max(1);
        self.decisions / deciders + u64::from(decider < self.decisions % deciders)
    }
}

/// The tag of account `account`: every movement of the account carries it.
fn account_tag(account: u64) -> String {
    format!("account:{account}")
}

/// Movement `k` of an account tagged `tag`: a deposit of `amount`, or (negative) a
/// withdrawal; about 100 bytes of JSON.
fn movement(tag: &str, amount: i64, k: u64) -> Event {
    let reference = format!("transfer {k} of the month's batch");
    let data = json!({"amount": amount, "reference": reference});
    let name = if amount < 0 { "withdrawn" } else { "deposited" };
    Event::with_data(name, data).tagged([tag])
}

/// The amount an event moves, if it is a movement.
fn amount_of(event: &Event) -> Option<i64> {
    event.data()?.get("amount")?.as_i64()
}

/// The balance of `account` in the prefilled journal.
fn prefilled_balance(account: u64) -> i64 {
    let deposits = PREFILLED / ACCOUNTS + u64::from(account < PREFILLED % ACCOUNTS);
    DEPOSIT * i64::try_from(deposits).unwrap_or(i64::MAX / DEPOSIT)
}

/// One account's balance: a model scoped to the account's tag.
#[derive(Debug)]
struct Account {
    tag: String,
}

impl ModelDefinition for Account {
    type Data = i64;
    type Event = Event;
    type Error = String;
    type Domain<V: View<Self>> = V;

    fn initial_data(&self) -> i64 {
        0
    }

    fn scope(&self) -> Option<Query> {
        Some(Query::tag(self.tag.as_str()))
    }

    fn apply(&self, balance: &mut i64, event: Event, _: &EventContext<'_>) -> Result<(), String> {
        *balance +=
            amount_of(&event).ok_or_else(|| format!("event `{}` moves no amount", event.name()))?;
        Ok(())
    }

    fn domain<V: View<Self>>(&self, view: V) -> V {
        view
    }
}

/// One decider: its accounts, and how many decisions it makes.
struct Decider {
    accounts: Vec<Owned>,
    decisions: u64,
}

/// An account a decider owns: its model, and the balance the decider computed for it.
struct Owned {
    id: u64,
    tag: String,
    model: Model<Account>,
    balance: i64,
}

/// What deciders did: their decisions, how they went, and the balance each computed for each
/// of its accounts.
#[derive(Debug, Default, PartialEq)]
pub struct Tally {
    pub decisions: u64,
    pub decided: Decided,
    pub balances: BTreeMap<u64, i64>,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.decisions += other.decisions;
        self.decided.exhausted += other.decided.exhausted;
        self.decided.attempts += other.decided.attempts;
        self.balances.extend(other.balances);
    }

    /// The tally as the line a worker process prints.
    fn to_json(&self) -> Value {
        let balances: Vec<[i64; 2]> = self
            .balances
            .iter()
            .map(|(&id, &balance)| [i64::try_from(id).unwrap_or(-1), balance])
            .collect();
        json!({
            "decisions": self.decisions,
            "exhausted": self.decided.exhausted,
            "attempts": self.decided.attempts,
            "balances": balances,
        })
    }

    /// The tally a worker printed as `line`.
    fn from_line(line: &str) -> anyhow::Result<Tally> {
        let bad = || anyhow!("a decision worker printed {line:?}, not its tally");
        let value: Value = serde_json::from_str(line).map_err(|_| bad())?;
        let number = |name: &str| value[name].as_u64().ok_or_else(bad);
        let mut balances = BTreeMap::new();
        for pair in value["balances"].as_array().ok_or_else(bad)? {
            match (pair[0].as_u64(), pair[1].as_i64()) {
                (Some(id), Some(balance)) => balances.insert(id, balance),
                _ => return Err(bad()),
            };
        }
        Ok(Tally {
            decisions: number("decisions")?,
            decided: Decided {
                exhausted: number("exhausted")?,
                attempts: number("attempts")?,
            },
            balances,
        })
    }
}

/// Makes the journal every row starts from at `folder`: [`PREFILLED`] commits, written
/// without syncs, then synced once.
///
/// # Errors
/// The store's errors.
pub fn prefill(folder: &Path) -> anyhow::Result<()> {
    let store = (JOURNAL.open)(folder, Durability::None)?;
    store.ensure_folder()?;
    let tags: Vec<String> = (0..ACCOUNTS).map(account_tag).collect();
    for (k, tag) in (0..PREFILLED).zip(tags.iter().cycle()) {
        store.log(&movement(tag, DEPOSIT, k))?;
    }
    store.storage().sync_all()?;
    Ok(())
}

/// Copies the folder `from` to the new folder `to`, with everything in it.
fn copy_folder(from: &Path, to: &Path) -> anyhow::Result<()> {
    fs::create_dir(to).with_context(|| format!("cannot create {}", to.display()))?;
    for entry in fs::read_dir(from).with_context(|| format!("cannot list {}", from.display()))? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_folder(&entry.path(), &target)?;
        } else {
            fs::copy(entry.path(), &target).with_context(|| {
                format!(
                    "cannot copy {} to {}",
                    entry.path().display(),
                    target.display()
                )
            })?;
        }
    }
    Ok(())
}

/// The deciders `deciders` of `plan` on `store`, ready: every account's model defined and
/// read once (as a running service holds them), its balance checked against the prefilled
/// journal's.
fn prepare(store: &Store, plan: Plan, deciders: Range<u64>) -> anyhow::Result<Vec<Decider>> {
    deciders
        .map(|decider| {
            let first = decider * ACCOUNTS_PER_DECIDER;
            let accounts = (first..first + ACCOUNTS_PER_DECIDER)
                .map(|id| {
                    let tag = account_tag(id);
                    let model = store.define_model(Account { tag: tag.clone() })?;
                    let balance = *model.aggregator_data()?;
                    if balance != prefilled_balance(id) {
                        bail!(
                            "account {id} starts at {balance}, not at the prefilled {}",
                            prefilled_balance(id)
                        );
                    }
                    Ok(Owned {
                        id,
                        tag,
                        model,
                        balance,
                    })
                })
                .collect::<anyhow::Result<_>>()?;
            Ok(Decider {
                accounts,
                decisions: plan.share(decider),
            })
        })
        .collect()
}

/// Makes `decider`'s decisions, about its accounts in turn: each reads the account's balance
/// through a read-write instance, withdraws [`WITHDRAWAL`] when it holds that much, else
/// deposits [`DEPOSIT`]. An instance that reads another balance than the decider computed (an
/// earlier decision not seen) is an error.
fn decide(decider: Decider) -> anyhow::Result<Tally> {
    let Decider {
        mut accounts,
        decisions,
    } = decider;
    let mut decided = Decided::default();
    let per_decider = usize::try_from(ACCOUNTS_PER_DECIDER)?;
    for k in 0..decisions {
        let account = &mut accounts[usize::try_from(k)? % per_decider];
        let (id, tag, computed) = (account.id, account.tag.as_str(), account.balance);
        let action = |writer: &mut &mut Writer<Account>, flag: &mut CommitFlag| {
            let read = *writer.data();
            if read != computed {
                bail!("account {id}: an instance read {read}, where its decisions left {computed}");
            }
            let amount = if read >= WITHDRAWAL {
                -WITHDRAWAL
            } else {
                DEPOSIT
            };
            writer.dispatch(movement(tag, amount, k))?;
            flag.ready_to_commit();
            Ok(amount)
        };
        match account.model.with_read_write_instance(action, MAX_ATTEMPTS) {
            Ok(outcome) => {
                if outcome.commit.is_none() {
                    bail!("decision {k} about account {id} committed nothing");
                }
                account.balance += outcome.value;
                decided.attempts += u64::from(outcome.attempts);
            }
            Err(e) => match e.downcast_ref::<foldstore::Error>() {
                Some(foldstore::Error::RetriesExhausted { attempts }) => {
                    decided.exhausted += 1;
                    decided.attempts += u64::from(*attempts);
                }
                _ => return Err(e.context(format!("decision {k} about account {id}"))),
            },
        }
    }
    let balances = accounts.iter().map(|a| (a.id, a.balance)).collect();
    Ok(Tally {
        decisions,
        decided,
        balances,
    })
}

/// Every one of `deciders` deciding in its own thread, all at once: their tally.
fn in_own_threads(deciders: Vec<Decider>) -> anyhow::Result<Tally> {
    let total = Mutex::new(Tally::default());
    in_threads(deciders, |decider| {
        let tally = decide(decider)?;
        total
            .lock()
            .map_err(|_| anyhow!("a decider panicked"))?
            .add(tally);
        Ok(())
    })?;
    total
        .into_inner()
        .map_err(|_| anyhow!("a decider panicked"))
}

/// `plan`'s deciders in threads of this process, on the journal at `path`: their tally and
/// the seconds from the first decision to the last.
fn in_this_process(path: &Path, plan: Plan) -> anyhow::Result<(Tally, f64)> {
    let store = (JOURNAL.open)(path, Durability::Immediate)?;
    let deciders = prepare(&store, plan, 0..plan.deciders)?;
    let started = Instant::now();
    let tally = in_own_threads(deciders)?;
    Ok((tally, started.elapsed().as_secs_f64()))
}

/// `plan`'s deciders in `processes` processes of `threads` threads each, on the journal at
/// `path`: their tally and the seconds from the moment all were ready to the last one done.
fn in_processes(
    path: &Path,
    plan: Plan,
    processes: u64,
    threads: u64,
) -> anyhow::Result<(Tally, f64)> {
    let mut workers = (0..processes)
        .map(|process| {
            Worker::start([
                "--decide-worker".into(),
                path.as_os_str().to_owned(),
                "--worker-first".into(),
                (process * threads).to_string().into(),
                "--worker-count".into(),
                threads.to_string().into(),
                "--worker-deciders".into(),
                plan.deciders.to_string().into(),
                "--worker-decisions".into(),
                plan.decisions.to_string().into(),
            ] as [std::ffi::OsString; 10])
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let seconds = processes::together(&mut workers)?;
    let mut tally = Tally::default();
    for worker in &mut workers {
        tally.add(Tally::from_line(&worker.line()?)?);
    }
    processes::finish(workers)?;
    Ok((tally, seconds))
}

/// The work of one worker process: deciders `first` to `first + count - 1` of `plan`, one
/// thread each, on the journal at `path`, once the parent says go; then "done" and the tally.
///
/// # Errors
/// Deciders beyond the journal's accounts, the store's errors, a decision that saw a wrong
/// balance, and a parent that goes away.
pub fn worker(path: &Path, plan: Plan, first: u64, count: u64) -> anyhow::Result<()> {
    if first + count > plan.deciders || plan.deciders > MAX_DECIDERS {
        bail!(
            "--decide-worker: deciders {first} to {} of {}: the journal has accounts for {MAX_DECIDERS} deciders at most",
            first + count,
            plan.deciders
        );
    }
    let store = (JOURNAL.open)(path, Durability::Immediate)?;
    let deciders = prepare(&store, plan, first..first + count)?;
    processes::ready_then_wait()?;
    let tally = in_own_threads(deciders)?;
    processes::say("done")?;
    processes::say(&tally.to_json().to_string())
}

/// Checks the journal at `path` after `plan`'s decisions, tallied in `tally`: every account's
/// balance, as a replay of the whole log adds it up, is the one its decider computed (the
/// prefilled one for accounts no decider owned), and the log holds one commit per decision
/// that did not run out of attempts.
///
/// # Errors
/// Where the log and the deciders differ.
pub fn check(path: &Path, plan: Plan, tally: &Tally) -> anyhow::Result<()> {
    if tally.decisions != plan.decisions {
        bail!(
            "the deciders made {} decisions, not {}",
            tally.decisions,
            plan.decisions
        );
    }
    let mut expected: BTreeMap<u64, i64> = (0..ACCOUNTS)
        .map(|id| (id, prefilled_balance(id)))
        .collect();
    expected.extend(&tally.balances);
    let mut held: BTreeMap<u64, i64> = BTreeMap::new();
    let mut strange = None;
    let store = (JOURNAL.open)(path, Durability::None)?;
    let summary = store.replay_event_stream(|event, _| {
        let account = event
            .tags()
            .find_map(|tag| tag.strip_prefix("account:")?.parse().ok());
        match (account, amount_of(event)) {
            (Some(account), Some(amount)) => *held.entry(account).or_default() += amount,
            _ => strange = strange.take().or_else(|| Some(event.to_value())),
        }
    })?;
    if let Some(event) = strange {
        bail!(
            "{} holds {event}, not a movement of an account",
            path.display()
        );
    }
    let commits = PREFILLED + plan.decisions - tally.decided.exhausted;
    if summary.commits != commits {
        bail!(
            "{} holds {} commits, not the {PREFILLED} prefilled and the {} decisions that did not run out of attempts",
            path.display(),
            summary.commits,
            commits - PREFILLED
        );
    }
    for (id, want) in &expected {
        let found = held.get(id).copied().unwrap_or_default();
        if found != *want {
            bail!(
                "{}: account {id} holds {found} in the log, but its decider computed {want} (a decision lost or doubled)",
                path.display()
            );
        }
    }
    Ok(())
}

/// One run of a row: `decisions` decisions by `deciders` on a copy of the journal at
/// `prefilled` made at `path`, checked afterwards.
fn run(
    prefilled: &Path,
    path: &Path,
    deciders: Deciders,
    decisions: u64,
) -> anyhow::Result<Measured> {
    copy_folder(prefilled, path)?;
    let plan = Plan {
        deciders: deciders.count(),
        decisions,
    };
    let (tally, seconds) = match deciders {
        Deciders::Threads(_) => in_this_process(path, plan)?,
        Deciders::Processes { processes, threads } => in_processes(path, plan, processes, threads)?,
    };
    check(path, plan, &tally)?;
    let committed = decisions - tally.decided.exhausted;
    Ok(Measured {
        decided: Some(tally.decided),
        ..Measured::new(decisions, committed, seconds)
    })
}

impl Bench<'_> {
    /// (i): `decisions` decisions through read-write instances of scoped models, on fresh
    /// copies of one durable journal, from one thread (the baseline), threads and processes.
    ///
    /// # Errors
    /// The prefilled journal's errors.
    pub fn journal_decisions(&self, decisions: u64) -> anyhow::Result<Spec<'_>> {
        let prefilled = self.work.join("decisions-journal");
        eprintln!(
            "making the journal of {} commits the decisions start from",
            thousands(PREFILLED as f64)
        );
        prefill(&prefilled)?;
        let programs = ROWS
            .iter()
            .map(|&(id, deciders, label)| {
                let prefilled = prefilled.clone();
                program(Row::new(id, label), move |path| {
                    run(&prefilled, path, deciders, decisions)
                })
            })
            .collect();
        let title = format!(
            "(i) journal, decisions under contention: {} decisions, each a read-write instance of a model scoped to one account ({MAX_ATTEMPTS} attempts), on a copy of a durable journal of {} commits; each decider (a thread) decides about its own {ACCOUNTS_PER_DECIDER} accounts; a decision is one commit",
            thousands(decisions as f64),
            thousands(PREFILLED as f64)
        );
        let reading = Reading::rate(ONE_THREAD, Ratio::Times);
        Ok(Spec::new(
            "journal_decisions",
            title,
            decisions,
            reading,
            programs,
        ))
    }
}

#[cfg(test)]
mod tests;
