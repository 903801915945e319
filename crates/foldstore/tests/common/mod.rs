//! What several test files share, a module a concern: a counter model, a backend that counts
//! what is asked of it, worker processes, the original Node.js package; and here, new journal
//! stores, numbered events, and a repair refused for a write in progress.

// Each test file uses part of it.
#![allow(dead_code)]

pub mod counted;
pub mod counter;
pub mod node;
pub mod workers;

use std::path::Path;

use foldstore::{Event, Layout, RepairPlan, Store};
use serde_json::json;

/// A new journal store at `path`, created.
pub fn journal_store(path: &Path) -> Store {
    let store = Store::builder(path).layout(Layout::Journal).open().unwrap();
    store.ensure_folder().unwrap();
    store
}

/// An event `numbered` with data `{"i": i}`.
pub fn numbered(i: u64) -> Event {
    Event::with_data("numbered", json!({ "i": i }))
}

/// Checks that `plan` refuses to repair a commit that may be a write in progress, that the
/// repair fails, and that the commit file `file` is still there.
#[track_caller]
pub fn assert_refused_as_a_write_in_progress(store: &Store, plan: &RepairPlan, file: &Path) {
    assert!(
        plan.refused
            .iter()
            .any(|f| f.problem.contains("write in progress")),
        "{plan:?}"
    );
    assert!(store.repair(plan).is_err());
    assert!(file.exists());
}
