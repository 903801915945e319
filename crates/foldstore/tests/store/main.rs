//! The store's behaviour: opening, logging, replaying, headers, concurrency and snapshots.
//!
//! Most tests are generic over a [`Fixture`] and run twice, on a memory store and on a folder
//! store (see the `both!` macro at the end); folder-only behaviour has plain tests.

mod blocks;
#[path = "../common/mod.rs"]
mod common;
mod fixture;
mod headers;
mod kinds;
mod logging;
mod replay;
mod snapshots;
mod working_folder;
mod writers;

/// Runs each generic test on both fixtures: `memory::NAME` and `folder::NAME`.
macro_rules! both {
    ($($module:ident::$test:ident),* $(,)?) => {
        mod memory {
            $( #[test] fn $test() { crate::$module::$test::<crate::fixture::Memory>(); } )*
        }
        mod folder {
            $( #[test] fn $test() { crate::$module::$test::<crate::fixture::Folder>(); } )*
        }
    };
}

both! {
    logging::an_empty_store_has_nothing,
    logging::builder_header_factory_adds_headers_and_may_override_time,
    logging::builder_durability_is_accepted,
    logging::log_writes_one_event_per_commit_numbered_from_one,
    logging::typed_events_are_written_in_the_original_shape,
    logging::untyped_events_keep_null_data_apart_from_no_data,
    logging::values_that_are_not_events_are_refused_and_nothing_is_written,
    blocks::a_complete_block_is_one_commit_with_its_events_in_order,
    blocks::a_block_not_marked_complete_writes_nothing,
    blocks::a_block_whose_action_fails_writes_nothing_and_returns_the_error,
    blocks::an_empty_block_writes_nothing_even_when_marked,
    replay::replay_gives_every_event_with_its_commits_headers_in_order,
    replay::replay_covers_the_range_asked_for,
    replay::stop_before_stops_before_applying_and_stop_after_after,
    replay::commits_iterates_over_a_range,
    replay::a_range_ending_beyond_the_tip_is_out_of_range,
    replay::a_range_starting_beyond_the_tip_reports_the_real_tip,
    replay::read_commit_reads_one_commit,
    headers::default_headers_are_the_time_as_to_iso_string_writes_it,
    headers::json_values_are_kept_exactly,
    writers::tip_sees_commits_of_other_instances,
    writers::instances_alternating_keep_numbers_contiguous,
    writers::many_threads_logging_at_once_log_every_commit_once,
    snapshots::snapshots_are_saved_at_a_commit_and_the_newest_at_or_below_is_loaded,
    snapshots::a_snapshot_without_data_is_skipped,
    snapshots::saving_an_existing_snapshot_succeeds_and_keeps_the_first,
    snapshots::snapshots_at_zero_or_beyond_the_tip_are_out_of_range,
}
