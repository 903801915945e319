//! The loose layout: hostile commit and snapshot names, names at the edges of the commit numbers,
//! the store's folder, and commits dated in the future.

use crate::cases::{case, loose_entries, report, sources, Count};
use crate::entries::{Hostile, Place, ALL};

#[test]
fn loose_commit_names_hold_every_kind_of_hostile_entry() {
    let mut count = Count::default();
    for place in &loose_entries()[..2] {
        for kind in ALL {
            case(&sources().loose, false, *place, kind, &mut count);
        }
    }
    report("loose, commits 2 and 3", &count);
}

#[test]
fn loose_next_commit_and_snapshot_names_hold_every_kind_of_hostile_entry() {
    let mut count = Count::default();
    for place in &loose_entries()[2..] {
        for kind in ALL {
            case(&sources().loose, false, *place, kind, &mut count);
        }
    }
    report("loose, commit 4 and a snapshot", &count);
}

#[test]
fn loose_names_at_the_edges_of_the_commit_numbers() {
    let mut count = Count::default();
    for (relative, mention) in [
        ("18446744073709551615.log", "18446744073709551615"),
        ("18446744073709551616.log", "18446744073709551616"),
        ("17179869184.log", "17179869184"),
        ("9007199254740993.log", "9007199254740993"),
        ("9007199254740991.log", "9007199254740991"),
    ] {
        let place = Place::Entry {
            relative,
            n: 3,
            mention,
        };
        // A sound commit under the name.
        case(
            &sources().loose,
            false,
            place,
            Hostile::MtimePast,
            &mut count,
        );
        // Emptiness under it.
        case(&sources().loose, false, place, Hostile::Empty, &mut count);
    }
    report("loose, names at the edges of the commit numbers", &count);
}

#[test]
fn loose_store_folder_is_every_kind_of_hostile_entry() {
    let mut count = Count::default();
    for kind in ALL {
        case(&sources().loose, false, Place::Store, kind, &mut count);
    }
    report("loose, the store's folder", &count);
}

/// Finding 3 of issue 13: an empty (or partial) last commit whose modification time is in the
/// future made readers wait until that time.
#[test]
fn loose_an_empty_commit_dated_in_the_future_holds_no_reader() {
    let mut count = Count::default();
    for place in &loose_entries()[1..3] {
        case(
            &sources().loose,
            false,
            *place,
            Hostile::EmptyMtimeFuture,
            &mut count,
        );
    }
    report("loose, an empty commit dated ahead", &count);
}
