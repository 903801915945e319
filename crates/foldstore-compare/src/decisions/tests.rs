//! Tests of the decisions table: sharing out, the worker's tally, the check of the log, and
//! the figures as the report prints them.

use super::*;
use crate::report::{self, Quantity, Table};

#[test]
fn every_decision_and_every_deposit_is_shared_out() {
    let plan = Plan {
        deciders: 8,
        decisions: 2_003,
    };
    let shares: Vec<u64> = (0..8).map(|d| plan.share(d)).collect();
    assert_eq!(shares.iter().sum::<u64>(), 2_003);
    assert_eq!(shares, [251, 251, 251, 250, 250, 250, 250, 250]);
    let prefilled: i64 = (0..ACCOUNTS).map(prefilled_balance).sum();
    assert_eq!(prefilled, i64::try_from(PREFILLED).unwrap() * DEPOSIT);
}

#[test]
fn a_worker_refuses_deciders_without_accounts() {
    let dir = tempfile::tempdir().unwrap();
    let plan = |deciders| Plan {
        deciders,
        decisions: 10,
    };
    for (plan, first, count) in [(plan(9), 0, 1), (plan(8), 7, 2)] {
        let refused = worker(dir.path(), plan, first, count).unwrap_err();
        assert!(refused.to_string().contains("accounts for 8"), "{refused}");
    }
    assert_eq!(
        fs::read_dir(dir.path()).unwrap().count(),
        0,
        "nothing written"
    );
}

#[test]
fn a_tally_crosses_the_pipe_whole() {
    let tally = Tally {
        decisions: 7,
        decided: Decided {
            exhausted: 1,
            attempts: 11,
        },
        balances: [(3, 40), (511, -10)].into_iter().collect(),
    };
    let line = tally.to_json().to_string();
    assert_eq!(Tally::from_line(&line).unwrap(), tally);
    let garbage = Tally::from_line("{\"decisions\": 7}").unwrap_err();
    assert!(garbage.to_string().contains("not its tally"), "{garbage}");
}

#[test]
fn decisions_in_threads_leave_the_balances_they_computed() {
    let dir = tempfile::tempdir().unwrap();
    let (prefilled, path) = (dir.path().join("prefilled"), dir.path().join("run"));
    prefill(&prefilled).unwrap();
    copy_folder(&prefilled, &path).unwrap();
    let plan = Plan {
        deciders: 2,
        decisions: 150,
    };
    let (mut tally, _) = in_this_process(&path, plan).unwrap();
    assert_eq!(
        tally.decided,
        Decided {
            exhausted: 0,
            attempts: 150
        }
    );
    // Account 0 starts at 400: withdrawn from twice (its decisions 0 and 64 of thread 0).
    assert_eq!(tally.balances[&0], prefilled_balance(0) - 2 * WITHDRAWAL);
    assert_eq!(tally.balances.len(), 128);
    check(&path, plan, &tally).unwrap();

    // A balance the deciders did not leave, and a decision written twice, are found.
    *tally.balances.get_mut(&5).unwrap() += WITHDRAWAL;
    let wrong = check(&path, plan, &tally).unwrap_err().to_string();
    assert!(wrong.contains("account 5 holds"), "{wrong}");
    *tally.balances.get_mut(&5).unwrap() -= WITHDRAWAL;
    let store = (JOURNAL.open)(&path, Durability::None).unwrap();
    store
        .log(&movement(&account_tag(5), -WITHDRAWAL, 0))
        .unwrap();
    let doubled = check(&path, plan, &tally).unwrap_err().to_string();
    assert!(doubled.contains("holds 10151 commits"), "{doubled}");
}

#[test]
fn decision_figures_are_printed_per_row() {
    let row = |id, runs: &[(u64, u64)]| {
        let mut row = Row::new(id, id);
        row.runs = runs
            .iter()
            .map(|&(exhausted, attempts)| Measured {
                decided: Some(Decided {
                    exhausted,
                    attempts,
                }),
                ..Measured::new(100, 100 - exhausted, 0.5)
            })
            .collect();
        row
    };
    let table = Table {
        id: "journal_decisions".into(),
        title: "(i)".into(),
        commits: 100,
        baseline: ONE_THREAD,
        ratio: Ratio::Times,
        quantity: Quantity::Rate,
        rows: vec![
            row(ONE_THREAD, &[(0, 100), (0, 100)]),
            row("threads-8", &[(3, 250), (1, 230)]),
        ],
    };
    let tables = [table];
    let text = report::text("heading", &tables, &[]);
    assert!(
        text.contains("out of attempts  attempts/decision"),
        "{text}"
    );
    assert!(
        text.contains("200      1.0x                0               1.00"),
        "{text}"
    );
    assert!(
        text.contains("200      1.0x                4               2.40"),
        "{text}"
    );
    let json = report::json(&tables, &[]);
    let threads = &json["tables"][0]["rows"][1];
    assert_eq!(threads["out_of_attempts"], 4);
    assert_eq!(threads["attempts_per_decision"], 2.4);
    assert_eq!(threads["runs"][0]["attempts"], 250);
}
