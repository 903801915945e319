//! The journal layout: a hostile marker, segment, next segment, locks, segment folder, snapshot and
//! store folder, and segment names at the edges of the commit numbers.

use crate::cases::{case, report, sources, Count};
use crate::entries::{Hostile, Place, ALL};

/// The journal's names, each in its own test (so that each can wait for the lead's fixes on
/// its own).
fn journal_case(relative: &'static str, mention: &'static str, kinds: &[Hostile]) -> Count {
    let mut count = Count::default();
    let place = Place::Entry {
        relative,
        n: 2,
        mention,
    };
    for kind in kinds {
        case(&sources().journal, true, place, *kind, &mut count);
    }
    report(&format!("journal, {relative}"), &count);
    count
}

#[test]
fn journal_marker_holds_every_kind_of_hostile_entry() {
    journal_case("foldstore-journal.json", "foldstore-journal.json", &ALL);
}

#[test]
fn journal_segment_holds_every_kind_of_hostile_entry() {
    journal_case(
        "journal/00000000000000000001.jsonl",
        "00000000000000000001.jsonl",
        &ALL,
    );
}

#[test]
fn journal_next_segment_holds_every_kind_of_hostile_entry() {
    journal_case(
        "journal/00000000000000000004.jsonl",
        "00000000000000000004.jsonl",
        &ALL,
    );
}

#[test]
fn journal_lock_holds_every_kind_of_hostile_entry() {
    journal_case("journal/journal.lock", "journal.lock", &ALL);
}

/// The lock of the syncs (and its mark): a writer that cannot use it syncs on its own.
#[test]
fn journal_sync_lock_holds_every_kind_of_hostile_entry() {
    journal_case("journal/sync.lock", "sync.lock", &ALL);
}

/// A folder as the segment folder (without the segments) is lost data more than a hostile
/// entry: beside a snapshot, every verb names it.
#[test]
fn journal_segment_folder_is_every_kind_of_hostile_entry() {
    journal_case("journal", "journal", &ALL);
}

#[test]
fn journal_snapshot_holds_every_kind_of_hostile_entry() {
    journal_case("2.memberlist-snapshot", "2.memberlist-snapshot", &ALL);
}

#[test]
fn journal_store_folder_is_every_kind_of_hostile_entry() {
    let mut count = Count::default();
    for kind in ALL {
        case(&sources().journal, true, Place::Store, kind, &mut count);
    }
    report("journal, the store's folder", &count);
}

#[test]
fn journal_segment_names_at_the_edges_of_the_commit_numbers() {
    for (relative, mention) in [
        (
            "journal/18446744073709551615.jsonl",
            "18446744073709551615.jsonl",
        ),
        (
            "journal/00000000000000001000.jsonl",
            "00000000000000001000.jsonl",
        ),
    ] {
        journal_case(relative, mention, &[Hostile::Empty, Hostile::MtimePast]);
    }
    journal_case(
        "journal/99999999999999999999.jsonl",
        "99999999999999999999.jsonl",
        &[Hostile::Empty, Hostile::MtimePast],
    );
}
