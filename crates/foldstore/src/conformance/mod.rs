//! The conformance suite of the [`Storage`] trait, for the authors of backends: every rule of
//! its `# Contract`, written once as public functions, as `object_store` publishes its
//! integration checks. Enabled by the `conformance` feature.
//!
//! Each check takes a backend that is fresh (it holds nothing) and panics, as a test does, when
//! the backend breaks a rule. Most checks want a created backend (its
//! [`ensure_created`](Storage::ensure_created) called); those of contract 7 want one not created
//! yet. [`run_all`] runs every check, each on a backend of its own from a factory; a backend's
//! tests can instead call the checks one by one, one test each (as foldstore's own
//! `tests/storage_conformance.rs` does for every backend in this repository):
//!
//! ```
//! use std::sync::Arc;
//!
//! use foldstore::{conformance, MemoryStorage, Storage};
//!
//! // A backend outside this repository would make a fresh one here (a new folder, table or
//! // prefix each time), kept alive for as long as the storage is used.
//! let fresh = || Arc::new(MemoryStorage::new()) as Arc<dyn Storage>;
//! conformance::run_all(&fresh);
//!
//! // Or one check alone, on a created backend:
//! let storage = fresh();
//! storage.ensure_created().unwrap();
//! conformance::create_is_exclusive(&*storage);
//! ```
//!
//! A backend that keeps its log contiguous by construction (foldstore's journal), and so
//! refuses to create a commit beyond the last one plus one, runs [`run_all_contiguous`]
//! instead: it leaves out the checks that create commits out of order.
//!
//! The checks of consistency boundaries (tags, [`Store::events_matching`],
//! [`Store::append_if`], [`Store::append_once`] and their races), and those of reading a whole
//! log ([`Store::schema`]), run through [`Store`]s on the backend, so they take it shared, as an `Arc` (a created one, like the others):
//!
//! ```
//! use std::sync::Arc;
//!
//! use foldstore::{conformance, MemoryStorage, Storage};
//!
//! let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
//! storage.ensure_created().unwrap();
//! conformance::racing_conditional_appends_on_one_tag_have_one_winner(&storage);
//! ```
//!
//! The checks write commits of up to 1 MiB and race 8 threads; on a networked backend they
//! take seconds, not milliseconds.

mod boundaries;
mod chain;
mod commits;
mod conditional;
mod creation;
mod races;
mod schema;
mod snapshots;

use std::sync::Arc;

pub use self::boundaries::{
    append_if_fails_only_on_a_matching_commit, append_once_writes_once_across_stores,
    events_matching_by_tag_name_items_and_position, none_matching_guards_uniqueness,
    racing_conditional_appends_on_one_tag_have_one_winner,
    racing_conditional_appends_on_own_tags_all_succeed, tags_round_trip_exactly,
};
pub use self::chain::racing_chained_appends_keep_one_chain;
pub use self::commits::{
    a_contiguous_log_refuses_commits_beyond_its_end,
    append_takes_the_lowest_free_number_and_never_overwrites, appends_and_batch_reads_agree,
    commit_number_zero_is_refused_or_listed,
    commits_may_be_created_in_any_order_and_are_listed_sorted,
    create_conflicts_even_with_identical_bytes, create_is_exclusive,
    listing_reports_commits_and_snapshots_sorted, locations_name_the_commit_and_snapshot,
    read_returns_exact_bytes_or_none,
};
pub use self::conditional::{
    append_commit_if_checks_the_commits_since_its_position,
    derived_data_is_kept_apart_from_the_log,
    racing_conditional_appends_are_checked_against_every_winner,
};
pub use self::creation::{
    a_backend_not_created_is_empty_and_reading_creates_nothing,
    ensure_created_is_idempotent_and_keeps_contents, ensure_created_makes_an_empty_backend,
    reading_a_backend_not_created_finds_nothing,
    writing_to_a_backend_not_created_fails_or_lands_whole,
};
pub use self::races::{
    racing_appends_place_every_document_once_contiguously,
    racing_creates_have_one_winner_per_number, racing_snapshot_creates_have_one_winner, THREADS,
};
pub use self::schema::schema_counts_every_event_by_shape_with_its_commits;
pub use self::snapshots::{
    invalid_snapshot_names_are_refused, snapshot_bytes_are_exact,
    snapshots_are_exclusive_and_keyed_by_name_and_commit,
};
use crate::storage::Storage;
#[cfg(doc)]
use crate::store::Store;

/// A check, by name.
type Check = (&'static str, fn(&dyn Storage));

/// A check that opens stores on the backend, by name.
type SharedCheck = (&'static str, fn(&Arc<dyn Storage>));

/// The checks every backend passes, on a created backend.
const CREATED: &[Check] = &[
    ("create_is_exclusive", create_is_exclusive),
    (
        "read_returns_exact_bytes_or_none",
        read_returns_exact_bytes_or_none,
    ),
    (
        "snapshots_are_exclusive_and_keyed_by_name_and_commit",
        snapshots_are_exclusive_and_keyed_by_name_and_commit,
    ),
    ("snapshot_bytes_are_exact", snapshot_bytes_are_exact),
    (
        "invalid_snapshot_names_are_refused",
        invalid_snapshot_names_are_refused,
    ),
    (
        "locations_name_the_commit_and_snapshot",
        locations_name_the_commit_and_snapshot,
    ),
    (
        "ensure_created_is_idempotent_and_keeps_contents",
        ensure_created_is_idempotent_and_keeps_contents,
    ),
    (
        "racing_creates_have_one_winner_per_number",
        racing_creates_have_one_winner_per_number,
    ),
    (
        "racing_appends_place_every_document_once_contiguously",
        racing_appends_place_every_document_once_contiguously,
    ),
    (
        "racing_snapshot_creates_have_one_winner",
        racing_snapshot_creates_have_one_winner,
    ),
    (
        "commit_number_zero_is_refused_or_listed",
        commit_number_zero_is_refused_or_listed,
    ),
    (
        "appends_and_batch_reads_agree",
        appends_and_batch_reads_agree,
    ),
    (
        "append_commit_if_checks_the_commits_since_its_position",
        append_commit_if_checks_the_commits_since_its_position,
    ),
    (
        "racing_conditional_appends_are_checked_against_every_winner",
        racing_conditional_appends_are_checked_against_every_winner,
    ),
    (
        "derived_data_is_kept_apart_from_the_log",
        derived_data_is_kept_apart_from_the_log,
    ),
];

/// The checks that create commits out of order, leaving numbers free below them, on a created
/// backend: for every backend but those that keep the log contiguous by construction.
const SPARSE: &[Check] = &[
    (
        "create_conflicts_even_with_identical_bytes",
        create_conflicts_even_with_identical_bytes,
    ),
    (
        "commits_may_be_created_in_any_order_and_are_listed_sorted",
        commits_may_be_created_in_any_order_and_are_listed_sorted,
    ),
    (
        "append_takes_the_lowest_free_number_and_never_overwrites",
        append_takes_the_lowest_free_number_and_never_overwrites,
    ),
    (
        "listing_reports_commits_and_snapshots_sorted",
        listing_reports_commits_and_snapshots_sorted,
    ),
];

/// The checks for a backend that keeps the log contiguous, instead of [`SPARSE`].
const CONTIGUOUS: &[Check] = &[(
    "a_contiguous_log_refuses_commits_beyond_its_end",
    a_contiguous_log_refuses_commits_beyond_its_end,
)];

/// The checks of consistency boundaries, through stores on a created backend: for every
/// backend.
const BOUNDARIES: &[SharedCheck] = &[
    ("tags_round_trip_exactly", tags_round_trip_exactly),
    (
        "events_matching_by_tag_name_items_and_position",
        events_matching_by_tag_name_items_and_position,
    ),
    (
        "append_if_fails_only_on_a_matching_commit",
        append_if_fails_only_on_a_matching_commit,
    ),
    (
        "none_matching_guards_uniqueness",
        none_matching_guards_uniqueness,
    ),
    (
        "append_once_writes_once_across_stores",
        append_once_writes_once_across_stores,
    ),
    (
        "racing_conditional_appends_on_own_tags_all_succeed",
        racing_conditional_appends_on_own_tags_all_succeed,
    ),
    (
        "racing_conditional_appends_on_one_tag_have_one_winner",
        racing_conditional_appends_on_one_tag_have_one_winner,
    ),
    (
        "racing_chained_appends_keep_one_chain",
        racing_chained_appends_keep_one_chain,
    ),
];

/// The checks of what reads a whole log through stores on a created backend: for every
/// backend.
const READS: &[SharedCheck] = &[(
    "schema_counts_every_event_by_shape_with_its_commits",
    schema_counts_every_event_by_shape_with_its_commits,
)];

/// The checks of a backend not created yet.
const UNCREATED: &[Check] = &[
    (
        "a_backend_not_created_is_empty_and_reading_creates_nothing",
        a_backend_not_created_is_empty_and_reading_creates_nothing,
    ),
    (
        "writing_to_a_backend_not_created_fails_or_lands_whole",
        |storage| {
            writing_to_a_backend_not_created_fails_or_lands_whole(storage);
        },
    ),
];

/// Runs every check, each on a fresh backend from `make`: those of a created backend (on
/// which it calls [`ensure_created`](Storage::ensure_created) first), including those of
/// consistency boundaries and of reading a whole log, then those of a backend not created yet.
///
/// # Panics
/// When the backend breaks a rule (or fails where it should not); the check's name is
/// printed to standard error.
pub fn run_all(make: &dyn Fn() -> Arc<dyn Storage>) {
    run(make, SPARSE);
}

/// [`run_all`] for a backend that keeps its log contiguous by construction: it leaves out the
/// checks that create commits out of order, and checks that such commits are refused.
///
/// # Panics
/// As [`run_all`].
pub fn run_all_contiguous(make: &dyn Fn() -> Arc<dyn Storage>) {
    run(make, CONTIGUOUS);
}

/// Runs [`CREATED`], `numbering`'s checks, [`BOUNDARIES`] and [`READS`] on created backends, then
/// [`UNCREATED`].
fn run(make: &dyn Fn() -> Arc<dyn Storage>, numbering: &[Check]) {
    for (name, check) in CREATED.iter().chain(numbering) {
        on_created(make, name, |storage| check(&**storage));
    }
    for (name, check) in BOUNDARIES.iter().chain(READS) {
        on_created(make, name, check);
    }
    for (name, check) in UNCREATED {
        let _named = Named(name);
        check(&*make());
    }
}

/// Runs the check `name` on a fresh backend from `make`, created first.
fn on_created(
    make: &dyn Fn() -> Arc<dyn Storage>,
    name: &'static str,
    check: impl Fn(&Arc<dyn Storage>),
) {
    let storage = make();
    let _named = Named(name);
    storage.ensure_created().expect("ensure_created");
    check(&storage);
}

/// Names the check under way when it panics.
struct Named(&'static str);

impl Drop for Named {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("the storage conformance check {} failed", self.0);
        }
    }
}

/// The bytes of `text`.
fn doc(text: &str) -> Vec<u8> {
    text.as_bytes().to_vec()
}

/// The commits `storage` lists.
fn commits(storage: &dyn Storage) -> Vec<u64> {
    storage.list().expect("list").commits
}
