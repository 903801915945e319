//! The event every benchmark writes: the one of the comparison program and of
//! `foldstore bench`, typed as an application would type it; and the replay they time.

use std::path::Path;

use foldstore::Store;
use serde::Serialize;

/// A member moved.
#[derive(Serialize)]
#[serde(tag = "name", content = "data", rename_all = "camelCase")]
pub enum MemberEvent {
    /// Where member `name` lives now.
    MemberHasMoved {
        /// The member.
        name: String,
        /// The new address.
        address: Address,
    },
}

/// An address.
#[derive(Serialize)]
pub struct Address {
    street: String,
    city: String,
}

/// Event number `index`: about 100 bytes of JSON.
pub fn member_has_moved(index: u64) -> MemberEvent {
    MemberEvent::MemberHasMoved {
        name: format!("member {index}"),
        address: Address {
            street: format!("{index} Rykkinnveien"),
            city: "Rykkinn".to_owned(),
        },
    }
}

/// Opens the store at `path` and replays every event, checking there are `events` of them.
#[allow(dead_code)] // Not every bench replays.
pub fn open_and_replay(path: &Path, events: u64) -> usize {
    let store = Store::open(path).expect("open");
    let mut names = 0usize;
    let summary = store
        .replay_event_stream(|event, _headers| names += event.name().len())
        .expect("replay");
    assert_eq!(summary.events, events);
    names
}
