//! The checks of the log afterwards: every successful instance is one commit, every audit commit
//! one a writer reported, the commits contiguous and sound.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::time::Instant;

use crate::bank::{check_consistent, Bank, BankEvent, ACCOUNTS, BANK, TOTAL};
use crate::mix::{Mix, Tally};
use foldstore::{Event, Store};

/// What the log holds, as counted by the checks.
#[derive(Debug)]
pub(crate) struct Figures {
    pub(crate) commits: u64,
    pub(crate) transfers: u64,
    pub(crate) audit_commits: u64,
}

/// Checks the log after the mix: contiguous, sound, every commit accounted for, the money
/// conserved at every commit, and a fresh model agreeing with all of it.
pub(crate) fn check_log(store: &Store, tally: &Tally, instances: u64) -> Figures {
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
    assert_exactly_reported(
        &transfer_commits,
        &tally.transfer_commits,
        "two instances reported one commit",
        "the transfers in the log are exactly the successful instances",
    );
    assert_exactly_reported(
        &audit_commits,
        &tally.audit_commits,
        "two audits reported one commit",
        "the audit commits are exactly those logged",
    );
    assert_eq!(audit_events, tally.audit_events);
    assert_eq!(
        1 + transfer_commits.len() + audit_commits.len(),
        tip as usize
    );

    // A fresh model agrees, folding from nothing, and from the newest of the snapshots the
    // writers raced to save.
    let from_nothing = store
        .define_model(Bank { snapshots: false })
        .expect("define the bank without snapshots")
        .aggregator_data()
        .expect("fold the log from nothing");
    assert_eq!(from_nothing.position(), tip);
    assert_eq!(from_nothing.balances, balances);
    assert_eq!(from_nothing.transfers, transfer_commits.len() as u64);
    assert_eq!(from_nothing.audits, audit_events);
    check_consistent(&from_nothing, tip, "a fresh model");
    let model = store.define_model(BANK).expect("define the bank");
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

pub(crate) fn print_figures(
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

/// Checks that the commits `found` in the log are exactly those `reported`, each reported once
/// (`twice` and `not_exactly` say what failed).
fn assert_exactly_reported(
    found: &BTreeSet<u64>,
    reported: &[u64],
    twice: &str,
    not_exactly: &str,
) {
    let unique: BTreeSet<u64> = reported.iter().copied().collect();
    assert_eq!(unique.len(), reported.len(), "{twice}");
    assert_eq!(*found, unique, "{not_exactly}");
}
