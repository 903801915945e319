//! Models (issue "Models"): `define_model`, typed and untyped dispatch, the fallback handler,
//! `aggregator_data`, read and read-write instances, snapshots (saving, restoring, skipping
//! the untrustworthy, automatic), time travel, refusals while folding, incremental folding,
//! sharing between threads, and the tutorial's model over the stores the original wrote.
//!
//! The fixtures are only read in place; a test that writes works on a copy in a temporary folder.

#[path = "../common/mod.rs"]
mod common;
mod dispatch;
mod fixtures;
mod instances;
#[allow(dead_code)]
#[path = "../../examples/memberlist/model.rs"]
mod memberlist;
mod models;
mod refusals;
mod snapshots;
mod threads;
mod time_travel;
mod tutorial;
