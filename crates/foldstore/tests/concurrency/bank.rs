//! The settings, and the bank model: accounts opened, money transferred between them, an overdraft
//! refused, audits counted by the fallback.

use std::collections::BTreeMap;
use std::time::Duration;

use foldstore::{Dispatch, Error, Event, EventContext, ModelDefinition, Store, View};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// The store folder a worker process works in; absent in a normal test run.
pub(crate) const WORKER_FOLDER: &str = "FOLDSTORE_BANK_FOLDER";
/// The worker's number, from 0.
pub(crate) const WORKER_PROCESS: &str = "FOLDSTORE_BANK_PROCESS";
/// The read-write instances each transfer thread of a worker runs.
pub(crate) const WORKER_INSTANCES: &str = "FOLDSTORE_BANK_INSTANCES";
/// The worker's test name (see `common::workers::test_name`).
pub(crate) const WORKER_TEST: &str = "bank_worker";

/// Accounts opened at the start.
pub(crate) const ACCOUNTS: u32 = 8;
/// Each account's opening balance.
pub(crate) const OPENING_BALANCE: i64 = 1_000;
/// The money in the bank, from the first commit on.
pub(crate) const TOTAL: i64 = ACCOUNTS as i64 * OPENING_BALANCE;
/// The largest transfer tried (large enough that some are refused).
pub(crate) const MAX_AMOUNT: u64 = 400;
/// The attempts of each read-write instance.
pub(crate) const MAX_ATTEMPTS: u32 = 10;
/// The model takes a snapshot every this many commits (several writers may race to save one).
pub(crate) const SNAPSHOT_EVERY: u64 = 25;
/// A deadline to fail a hung test, never a measurement.
pub(crate) const DEADLINE: Duration = Duration::from_secs(300);

// ---------------------------------------------------------------------------------------------
// The bank model
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", content = "data", rename_all = "camelCase")]
pub(crate) enum BankEvent {
    Opened { account: u32, balance: i64 },
    Transferred { from: u32, to: u32, amount: i64 },
}

/// The bank's data.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Ledger {
    pub(crate) balances: BTreeMap<u32, i64>,
    /// Transfers folded.
    pub(crate) transfers: u64,
    /// Audit events folded.
    pub(crate) audits: u64,
    /// Audit events that came in blocks of two: always even when whole commits are folded.
    pub(crate) block_audits: u64,
}

/// The bank: opens accounts, moves money, refuses overdrafts, counts audits. Its snapshots
/// (named `bank`) are restored and saved unless `snapshots` is false: then it folds the whole
/// log.
pub(crate) struct Bank {
    pub(crate) snapshots: bool,
}

/// The bank with its snapshots.
pub(crate) const BANK: Bank = Bank { snapshots: true };

impl ModelDefinition for Bank {
    type Data = Ledger;
    type Event = BankEvent;
    type Error = String;
    type Domain<V: View<Self>> = Accounts<V>;

    fn snapshot_name(&self) -> Option<&str> {
        self.snapshots.then_some("bank")
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
pub(crate) struct Accounts<V> {
    pub(crate) view: V,
}

impl<V: View<Bank>> Accounts<V> {
    pub(crate) fn total(&self) -> i64 {
        self.view.data().balances.values().sum()
    }

    pub(crate) fn lowest(&self) -> i64 {
        self.view
            .data()
            .balances
            .values()
            .copied()
            .min()
            .unwrap_or(0)
    }

    pub(crate) fn ledger(&self) -> &Ledger {
        self.view.data()
    }
}

impl<V: Dispatch<Bank>> Accounts<V> {
    pub(crate) fn open(&mut self, account: u32, balance: i64) -> foldstore::Result<()> {
        self.view.dispatch(BankEvent::Opened { account, balance })
    }

    pub(crate) fn transfer(&mut self, from: u32, to: u32, amount: i64) -> foldstore::Result<()> {
        self.view
            .dispatch(BankEvent::Transferred { from, to, amount })
    }
}

/// What every reader (and every attempt of a writer) must see: all the money, no debt, no
/// block of audits in part.
pub(crate) fn check_consistent(ledger: &Ledger, position: u64, who: &str) {
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
pub(crate) fn open_accounts(store: &Store) {
    store.ensure_folder().expect("create the folder");
    let model = store.define_model(BANK).expect("define the bank");
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
