//! What several test files share, a module a concern: a counter model, a backend that counts
//! what is asked of it, worker processes, the original Node.js package; and here, new journal
//! stores and numbered events.

// Each test file uses part of it.
#![allow(dead_code)]

pub mod counted;
pub mod counter;
pub mod node;
pub mod workers;

use std::path::Path;

use foldstore::{Event, Layout, Store};
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
