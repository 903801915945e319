//! The tutorial's model over the stores the original package wrote.

use crate::fixtures::{
    copy_store, expected_state, fixture_store, read_json, time, without_snapshots,
};
use crate::memberlist::Membership;
use crate::models::{value_of, Members};
use foldstore::{AggregatorData, Model, DEFAULT_MAX_ATTEMPTS};
use foldstore::{Error, ModelDefinition, Store};
use serde::Serialize;
use serde_json::json;

/// Defines `definition` on `store`, folds the log, and checks the data against the fixture's
/// expected `state` file: the model, and the data it folded.
fn fold_to_state<M>(
    store: &Store,
    definition: M,
    fixture: &str,
    state: &str,
) -> (Model<M>, AggregatorData<M>)
where
    M: ModelDefinition,
    M::Data: Serialize,
{
    let model = store.define_model(definition).unwrap();
    let data = model.aggregator_data().unwrap();
    assert_eq!(value_of(&*data), expected_state(fixture, state));
    (model, data)
}

#[test]
fn tutorial_model_over_node_memberlist_with_its_snapshots_gives_state_json() {
    let store = Store::open(fixture_store("node-memberlist")).unwrap();
    let (model, data) = fold_to_state(&store, Membership, "node-memberlist", "state.json");
    assert_eq!(data.position(), 27);
    let report = model.report();
    assert_eq!(
        report.restored_from,
        Some(25),
        "restored from the original's newest snapshot"
    );
    assert!(report.skipped_snapshots.is_empty(), "{report:?}");
    assert!(report.skipped_commits.is_empty(), "{report:?}");

    // The domain model reads the same data.
    let names: Vec<String> = model
        .with_read_instance(|list| list.list_members().keys().cloned().collect())
        .unwrap();
    assert_eq!(names.len(), data.members.len());
    assert!(model
        .with_read_instance(|list| list.member("ærlig øyvind").map(|m| m.address.clone()))
        .unwrap()
        .is_some_and(|address| address == json!("Ålesund ✓ \"quoted\" \\ back")));
}

#[test]
fn tutorial_model_over_node_memberlist_without_snapshots_gives_state_json() {
    let (_temp, copy) = copy_store("node-memberlist", without_snapshots);
    let store = Store::open(&copy).unwrap();
    let (model, data) = fold_to_state(&store, Membership, "node-memberlist", "state.json");
    assert_eq!(data.position(), 27);
    assert_eq!(model.report().restored_from, None);
}

#[test]
fn the_originals_snapshots_hold_the_fold_of_the_commits_they_are_labelled_with() {
    let original = Store::open(fixture_store("node-memberlist")).unwrap();
    let (_temp, copy) = copy_store("node-memberlist", without_snapshots);
    let from_log = Store::open(&copy)
        .unwrap()
        .define_model(Membership)
        .unwrap();
    for label in [3, 25] {
        let snapshot = original
            .read_snapshot("memberlist", label)
            .unwrap()
            .expect("the original's snapshot");
        let folded = from_log.at_commit(label).unwrap();
        assert_eq!(folded.position(), label);
        assert_eq!(
            Some(value_of(folded.data())),
            snapshot.data,
            "snapshot {label}"
        );
    }
}

#[test]
fn time_travel_over_node_memberlist_uses_the_originals_snapshots() {
    let store = Store::open(fixture_store("node-memberlist")).unwrap();
    let model = store.define_model(Membership).unwrap();
    let at_25 = model.at_commit(25).unwrap();
    let snapshot = store.read_snapshot("memberlist", 25).unwrap().unwrap();
    assert_eq!(Some(value_of(at_25.data())), snapshot.data);
    assert_eq!(model.report().restored_from, Some(25));
    // Commit 26 and 27 fold on top of it.
    assert_eq!(
        value_of(model.at_commit(27).unwrap().data()),
        expected_state("node-memberlist", "state.json")
    );
}

#[test]
fn handwritten_fixture_with_the_members_snapshot_gives_state_with_snapshot() {
    let store = Store::open(fixture_store("handwritten")).unwrap();
    let (model, data) = fold_to_state(&store, Members, "handwritten", "state-with-snapshot.json");
    assert_eq!(
        data.position(),
        4,
        "README.txt, draft.log and 7.json are not commits"
    );
    assert_eq!(model.report().restored_from, Some(1));
    // `MemberHasMoved` (capital M) reached the memberHasMoved handler...
    assert_eq!(data.members["marit winge"].address, json!("oslo"));
    // ... and `heartbeat` (no data) and `ping` (null data) reached the fallback.
    assert_eq!(data.unhandled, 2);
}

#[test]
fn handwritten_fixture_without_snapshots_gives_state_from_log() {
    let (_temp, copy) = copy_store("handwritten", without_snapshots);
    let store = Store::open(&copy).unwrap();
    let (model, _) = fold_to_state(&store, Members, "handwritten", "state-from-log.json");
    assert_eq!(model.report().restored_from, None);

    // A model whose snapshot name matches no file in the fixture folds the whole log too.
    let other = Store::open(fixture_store("handwritten")).unwrap();
    let model = other.define_model(Membership).unwrap();
    assert_eq!(
        value_of(&*model.aggregator_data().unwrap()),
        expected_state("handwritten", "state-from-log.json")
    );
    assert_eq!(model.report().restored_from, None);
}

#[test]
fn handwritten_fixture_travels_in_time_by_commit_and_by_header_time() {
    let store = Store::open(fixture_store("handwritten")).unwrap();
    let model = store.define_model(Members).unwrap();
    // Times: 1 = 2016-12-31T23:59:58.000Z, 2 = 23:59:59.999Z, 3 = 2017-01-01, 4 = 2017-01-02.
    let cases = [
        ("2016-12-31T23:59:57Z", 0),
        ("2016-12-31T23:59:58Z", 1),
        ("2016-12-31T23:59:59.998Z", 1),
        ("2016-12-31T23:59:59.999Z", 2),
        ("2017-01-01T00:00:00Z", 3),
        ("2017-01-01T23:59:59Z", 3),
        ("2017-01-02T00:00:00Z", 4),
        ("2030-01-01T00:00:00Z", 4),
    ];
    for (at, position) in cases {
        let then = model.at_time(time(at)).unwrap();
        assert_eq!(then.position(), position, "at {at}");
        let by_number = model.at_commit(position).unwrap();
        assert_eq!(value_of(then.data()), value_of(by_number.data()), "at {at}");
    }
    let at_3 = model.at_commit(3).unwrap();
    assert_eq!(at_3.data().members["peter pan"].address, json!("london"));
    assert_eq!(at_3.data().members["marit winge"].address, json!("rykkinn"));
    assert_eq!(at_3.data().unhandled, 1);
}

#[test]
fn tutorial_read_write_instances_over_a_copy_of_node_memberlist() {
    let (_temp, copy) = copy_store("node-memberlist", |_| true);
    let store = Store::open(&copy).unwrap();
    let model = store.define_model(Membership).unwrap();

    let outcome = model
        .with_read_write_instance(
            |list, flag| {
                list.register_new_member("wendy darling", json!("london"), Some("gold"))?;
                // The instance reads its own write at once.
                assert!(list.member("wendy darling").is_some());
                flag.ready_to_commit();
                Ok::<_, Error>(list.list_members().len())
            },
            DEFAULT_MAX_ATTEMPTS,
        )
        .unwrap();
    assert_eq!(outcome.commit, Some(28));
    assert_eq!(outcome.attempts, 1);
    assert_eq!(
        outcome.value,
        model.aggregator_data().unwrap().members.len()
    );

    // Registering her again is refused by the handler: nothing is written.
    let refused = model.with_read_write_instance(
        |list, flag| {
            list.register_new_member("wendy darling", json!("paris"), None)?;
            flag.ready_to_commit();
            Ok::<_, Error>(())
        },
        DEFAULT_MAX_ATTEMPTS,
    );
    match refused {
        Err(Error::Rejected { name, message }) => {
            assert_eq!(name, "newMemberRegistered");
            assert!(message.contains("wendy darling"), "{message}");
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
    assert_eq!(store.tip().unwrap(), 28);

    // A fresh model on the folder (restored from the original's snapshot 25) sees the commit,
    // and the original can read it: a plain `{"headers", "events"}` document.
    let fresh = Store::open(&copy)
        .unwrap()
        .define_model(Membership)
        .unwrap();
    let data = fresh.aggregator_data().unwrap();
    assert_eq!(data.members["wendy darling"].address, json!("london"));
    assert_eq!(
        data.members["wendy darling"].membership_level.as_deref(),
        Some("gold")
    );
    let written = read_json(&copy.join("28.log"));
    assert_eq!(written["events"][0]["name"], "newMemberRegistered");
    assert!(written["headers"]["time"].is_string());
}
