//! Blocks: several events in one commit, or nothing.

use crate::fixture::{registered, replay_all, Fixture, MemberEvent};
use foldstore::{Error, Event};
use serde_json::json;

// Blocks.

pub(crate) fn a_complete_block_is_one_commit_with_its_events_in_order<F: Fixture>() {
    let fixture = F::new();
    let store = fixture.open();
    store.log(&Event::new("before")).expect("log");
    let commit = store
        .log_block(|block| {
            block.log(&registered("wendy"))?;
            block.log(&Event::with_data("untyped", json!(1)))?;
            block.log(&MemberEvent::Heartbeat)?;
            assert_eq!(block.events().len(), 3);
            block.mark_as_complete();
            Ok::<_, Error>(())
        })
        .expect("log_block");
    assert_eq!(commit, Some(2));
    assert_eq!(store.tip().expect("tip"), 2);
    let written = store.read_commit(2).expect("read");
    assert_eq!(
        written.events(),
        [
            Event::from_typed(&registered("wendy")).expect("event"),
            Event::with_data("untyped", json!(1)),
            Event::new("heartbeat"),
        ]
    );
    // One commit, so every event of the block has the same headers.
    let seen = replay_all(&store);
    assert_eq!(seen.len(), 4);
    assert!(seen[1..].iter().all(|(_, headers)| headers == &seen[1].1));
    assert_eq!(
        store
            .log_block(|block| {
                block.log(&Event::new("next"))?;
                block.mark_as_complete();
                Ok::<_, Error>(())
            })
            .expect("log_block"),
        Some(3)
    );
}

pub(crate) fn a_block_not_marked_complete_writes_nothing<F: Fixture>() {
    let fixture = F::new();
    let store = fixture.open();
    let result = store.log_block(|block| {
        block.log(&Event::new("a"))?;
        block.log(&Event::new("b"))
    });
    assert_eq!(result.expect("log_block"), None);
    assert_eq!(store.tip().expect("tip"), 0);
    assert!(store.storage().list().expect("list").commits.is_empty());
}

#[derive(Debug)]
enum ActionError {
    Rejected(&'static str),
    Store(Error),
}

impl From<Error> for ActionError {
    fn from(error: Error) -> Self {
        ActionError::Store(error)
    }
}

pub(crate) fn a_block_whose_action_fails_writes_nothing_and_returns_the_error<F: Fixture>() {
    let fixture = F::new();
    let store = fixture.open();
    let result = store.log_block(|block| {
        block.log(&Event::new("a")).map_err(ActionError::from)?;
        block.mark_as_complete();
        Err(ActionError::Rejected("changed my mind"))
    });
    assert!(
        matches!(result, Err(ActionError::Rejected("changed my mind"))),
        "{result:?}"
    );
    let store_error = store.log_block(|block| {
        block.mark_as_complete();
        block.log("not an event").map_err(ActionError::from)
    });
    assert!(
        matches!(
            store_error,
            Err(ActionError::Store(Error::InvalidEvent { .. }))
        ),
        "{store_error:?}"
    );
    assert_eq!(store.tip().expect("tip"), 0);
    assert!(store.storage().list().expect("list").commits.is_empty());
}

pub(crate) fn an_empty_block_writes_nothing_even_when_marked<F: Fixture>() {
    let fixture = F::new();
    let store = fixture.open();
    let result = store.log_block(|block| {
        block.mark_as_complete();
        Ok::<_, Error>(())
    });
    assert_eq!(result.expect("log_block"), None);
    assert_eq!(store.tip().expect("tip"), 0);
    assert!(store.storage().list().expect("list").commits.is_empty());
}
