//! The tamper-evident chain (`StoreBuilder::chain`, `Store::verify_chain`): commits edited,
//! removed, swapped and inserted in a loose folder and a journal, each named by the first
//! commit where the chain breaks (`tamper`); chained writers in threads and processes, and
//! writers without the option continuing a chain (`writers`); signed checkpoints
//! (`checkpoints`); and the original package reading chained commits (`interop`).
//!
//! The test binary runs itself again as worker processes: [`writers::chain_worker`] does
//! nothing unless its parent set the environment variables it reads.

mod checkpoints;
#[path = "../common/mod.rs"]
mod common;
mod interop;
mod tamper;
mod writers;

use std::path::Path;

use foldstore::{ChainReport, Event, Layout, Store};
use serde_json::json;

/// A new store of `layout` in `folder`, with the chain on.
pub fn chained_store(folder: &Path, layout: Layout) -> Store {
    let store = Store::builder(folder)
        .layout(layout)
        .chain(true)
        .open()
        .unwrap();
    store.ensure_folder().unwrap();
    store
}

/// The event of commit `i` of the tests' logs: named and with data that differ per commit.
pub fn member_event(i: u64) -> Event {
    Event::with_data(
        "memberMoved",
        json!({"member": format!("member {i}"), "street": i}),
    )
}

/// What `verify_chain` found of `store`'s chain, with every problem it listed.
#[track_caller]
pub fn chain_of(store: &Store) -> (ChainReport, Vec<String>) {
    let report = store.verify_chain(|_, _| {}).unwrap();
    let problems = report
        .problems
        .iter()
        .map(|f| format!("{}: {}", f.location, f.problem))
        .collect();
    (
        report.chain.expect("verify_chain reports the chain"),
        problems,
    )
}
