//! Upcasters on every read path: a versioned log written by foldstore, the store's upcasters
//! on replays, reads, subscriptions, queries and the async API (and not on raw reads and
//! copies), and the hostile cases: failing, panicking and cycling upcasters.

use std::time::Duration;

use foldstore::{Error, Event, Query, Scanned, Start, Store, Upcaster, Upcasters};
use serde_json::json;

use super::{expected_members, three_upcasters, Address, Membership};

/// A store in `folder` whose readers apply `upcasters`.
fn upcasting_store(folder: &std::path::Path, upcasters: Upcasters) -> Store {
    let store = Store::builder(folder).upcasters(upcasters).open().unwrap();
    store.ensure_folder().unwrap();
    store
}

/// Version 1 held the address as a string, version 2 as {street, city}, version 3 added the
/// country: upcasters by version.
fn by_version() -> Upcasters {
    Upcasters::new()
        .with(
            Upcaster::new("v1 to v2", |mut e: Event| {
                let data = e.data_mut().ok_or("no data")?;
                let text = data["address"].as_str().ok_or("no address")?.to_owned();
                let (street, city) = text.rsplit_once(", ").ok_or("no comma")?;
                data["address"] = json!({"street": street, "city": city});
                Ok::<_, &str>(e)
            })
            .for_names(["newMemberRegistered", "memberHasMoved"])
            .from_version(1),
        )
        .with(
            Upcaster::new("v2 to v3", |mut e: Event| {
                e.data_mut().ok_or("no data")?["address"]["country"] = json!("unknown");
                Ok::<_, &str>(e)
            })
            .for_names(["newMemberRegistered", "memberHasMoved"])
            .from_version(2),
        )
}

#[test]
fn a_versioned_log_keeps_its_versions_and_folds_through_upcasters_by_version() {
    let folder = tempfile::tempdir().unwrap();
    let store = Store::open(folder.path()).unwrap();
    store.ensure_folder().unwrap();
    let registered = |name: &str, address| {
        Event::with_data(
            "newMemberRegistered",
            json!({"name": name, "address": address}),
        )
    };
    store
        .log(&registered("peter pan", json!("Skull Rock, Neverland")))
        .unwrap();
    store
        .log(
            &registered(
                "wendy darling",
                json!({"street": "5 Harbour Street", "city": "Oslo"}),
            )
            .versioned(2),
        )
        .unwrap();
    store
        .log(
            &registered(
                "tinker bell",
                json!({"street": "Pixie Hollow", "city": "Neverland", "country": "Neverland"}),
            )
            .versioned(3),
        )
        .unwrap();
    // The member is kept exactly as written.
    let bytes = std::fs::read(folder.path().join("2.log")).unwrap();
    let text = String::from_utf8(bytes).unwrap();
    assert!(
        text.ends_with(r#""city":"Oslo"}},"version":2}]}"#),
        "{text}"
    );
    assert_eq!(store.read_commit(2).unwrap().events()[0].version(), 2);

    let model = store
        .define_model(Membership {
            upcasters: by_version(),
            version: Some(1),
        })
        .unwrap();
    let data = model.aggregator_data().unwrap();
    assert_eq!(
        data["peter pan"],
        Address {
            street: "Skull Rock".into(),
            city: "Neverland".into(),
            country: "unknown".into()
        }
    );
    assert_eq!(data["wendy darling"].country, "unknown");
    assert_eq!(data["tinker bell"].country, "Neverland");
    let check = store
        .check_model(Membership {
            upcasters: by_version(),
            version: None,
        })
        .unwrap();
    assert_eq!(
        check.upcasts,
        [("v1 to v2".to_owned(), 1), ("v2 to v3".to_owned(), 2)]
    );
}

#[test]
fn the_stores_upcasters_apply_to_replays_reads_subscriptions_and_queries_not_to_raw_reads_or_copies(
) {
    let folder = tempfile::tempdir().unwrap();
    let plain = Store::open(folder.path().join("s")).unwrap();
    plain.ensure_folder().unwrap();
    let old = json!({"name": "memberMoved", "data": {"name": "peter pan", "address": "Skull Rock, Neverland"}, "tags": ["member:peter pan"]});
    plain.log(&old).unwrap();
    let store = upcasting_store(&folder.path().join("s"), three_upcasters());
    let newest = json!({"name": "memberHasMoved", "data": {"name": "peter pan", "address": {"street": "Skull Rock", "city": "Neverland", "country": "unknown"}}, "tags": ["member:peter pan"]});

    let mut replayed = Vec::new();
    store
        .replay_event_stream(|e, _| replayed.push(e.to_value()))
        .unwrap();
    assert_eq!(replayed, std::slice::from_ref(&newest));
    assert_eq!(
        store.commits(..).next().unwrap().unwrap().events()[0].to_value(),
        newest
    );
    assert_eq!(store.read_commit(1).unwrap().events()[0].to_value(), newest);
    let matched = store
        .events_matching(&Query::tag("member:peter pan"), 0)
        .unwrap();
    assert_eq!(matched[0].event.to_value(), newest);
    // A query matches what is stored: the old name.
    assert_eq!(
        store
            .events_matching(
                &Query::new().item(foldstore::QueryItem::new().name("memberMoved")),
                0
            )
            .unwrap()
            .len(),
        1
    );

    let mut subscription = store.subscribe(Start::Beginning).unwrap();
    assert_eq!(
        subscription.next_commit().unwrap().events()[0].to_value(),
        newest
    );
    plain.log(&old).unwrap();
    let second = subscription
        .next_timeout(Duration::from_secs(10))
        .unwrap()
        .unwrap();
    assert_eq!(second.events()[0].to_value(), newest);

    // Raw reads and copies keep the bytes; the plain store reads the old shape.
    let Some(Scanned::Commit(raw)) = store.raw_commits(..).unwrap().next() else {
        panic!()
    };
    assert!(String::from_utf8(raw.bytes)
        .unwrap()
        .contains("memberMoved"));
    let copy = Store::memory();
    store.copy_to(&copy, foldstore::CopyOptions::new()).unwrap();
    assert_eq!(copy.read_commit(1).unwrap().events()[0].to_value(), old);
    assert_eq!(plain.read_commit(1).unwrap().events()[0].to_value(), old);

    // A model applies its own upcasters to what is stored: its handler refuses the move of
    // a member who never registered, naming the event as stored.
    let members = store.define_model(Membership::evolved()).unwrap();
    let error = members.aggregator_data().unwrap_err();
    assert!(
        matches!(&error, Error::Handler { commit: 1, name, .. } if name == "memberMoved"),
        "{error}"
    );
}

#[cfg(feature = "tokio")]
#[tokio::test]
async fn the_async_api_replays_and_subscribes_through_the_stores_upcasters() {
    use foldstore::asynchronous::AsyncStore;
    use std::pin::pin;
    let store = Store::builder("memory")
        .storage(foldstore::MemoryStorage::new())
        .upcasters(Upcasters::new().rename("memberMoved", "memberHasMoved"))
        .open()
        .unwrap();
    let store = AsyncStore::new(store);
    store.log(&Event::new("memberMoved")).await.unwrap();
    let mut stream = pin!(store.subscribe(Start::Beginning).await.unwrap());
    let first = std::future::poll_fn(|cx| futures_core::Stream::poll_next(stream.as_mut(), cx))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.events()[0].name(), "memberHasMoved");
    assert_eq!(
        store.read_commit(1).await.unwrap().events()[0].name(),
        "memberHasMoved"
    );
}

#[test]
fn failing_panicking_and_cycling_upcasters_are_errors_naming_the_commit_and_event() {
    let store = Store::builder("memory").storage(foldstore::MemoryStorage::new());
    let cases: Vec<(Upcasters, &str)> = vec![
        (
            Upcasters::new().with(
                Upcaster::new("fails", |_: Event| Err::<Event, _>("no street")).for_name("b"),
            ),
            "no street",
        ),
        (
            Upcasters::new().with(
                Upcaster::new("panics", |_: Event| -> Result<Event, String> {
                    panic!("upcaster bug")
                })
                .for_name("b"),
            ),
            "panicked: upcaster bug",
        ),
        (
            Upcasters::new().rename("b", "c").rename("c", "b"),
            "a cycle",
        ),
    ];
    let _ = store;
    for (upcasters, problem) in cases {
        let store = Store::builder("memory")
            .storage(foldstore::MemoryStorage::new())
            .upcasters(upcasters.clone())
            .open()
            .unwrap();
        store.log(&Event::new("a")).unwrap();
        store
            .log_block(|block| {
                block.log(&Event::new("a"))?;
                block.log(&Event::new("b"))?;
                block.mark_as_complete();
                Ok::<_, Error>(())
            })
            .unwrap();
        let mut seen = 0;
        let error = store.replay_event_stream(|_, _| seen += 1).unwrap_err();
        assert_eq!(seen, 1, "the commit before is handed on");
        let Error::Upcast {
            commit: 2,
            index: 1,
            ref name,
            ref message,
            ..
        } = error
        else {
            panic!("{error}")
        };
        assert_eq!(name, "b");
        assert!(message.contains(problem), "{message}");
        assert!(store.read_commit(2).is_err());
        // A model with these upcasters reports the same event; the check too.
        let check = store
            .check_model(Membership {
                upcasters,
                version: None,
            })
            .unwrap();
        assert!(
            matches!(
                check.first_failure,
                Some(Error::Upcast {
                    commit: 2,
                    index: 1,
                    ..
                })
            ),
            "{:?}",
            check.first_failure
        );
    }
    let _ = expected_members;
}
