//! The fixture of three generations, written by foldstore and by the original package: the
//! model with the upcasters folds it to the README's state, the check counts each upcaster,
//! the migrating copy makes the newest shapes (which the original replays), snapshots rebuild
//! when the version is bumped.

use std::fs;
use std::path::{Path, PathBuf};

use foldstore::{Error, Event, Migration, Store};
use serde_json::{json, Value};

use super::common::node::{node, node_output, node_scripts, original_package};
use super::{expected_members, three_upcasters, MemberEvent, Membership, COUNTRY, RENAME, SPLIT};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/generations/steps.json")
}

fn steps() -> Vec<Value> {
    serde_json::from_slice(&fs::read(fixture()).unwrap()).unwrap()
}

/// Logs `events` as one commit.
pub(crate) fn log_all(store: &Store, events: &[Event]) {
    store
        .log_block(|block| {
            for event in events {
                block.log(event)?;
            }
            block.mark_as_complete();
            Ok::<_, Error>(())
        })
        .unwrap();
}

/// The fixture written by foldstore (one commit per step, as the original writes it).
fn written_by_foldstore(folder: &Path) -> Store {
    let store = Store::open(folder).unwrap();
    store.ensure_folder().unwrap();
    for step in steps() {
        let events: Vec<Event> = match (&step["log"], &step["logBlock"]) {
            (Value::Object(_), _) => vec![serde_json::from_value(step["log"].clone()).unwrap()],
            (_, Value::Array(block)) => block
                .iter()
                .map(|e| serde_json::from_value(e.clone()).unwrap())
                .collect(),
            _ => panic!("a step the fixture does not use: {step}"),
        };
        log_all(&store, &events);
    }
    store
}

/// The fixture written by the original package, or `None` (the test is skipped) without it.
fn written_by_the_original(folder: &Path) -> Option<Store> {
    let modules = original_package("the generations fixture written by the original (upcasting)")?;
    let steps = fs::read_to_string(fixture()).unwrap();
    node_output(
        node(modules)
            .arg(node_scripts().join("write.js"))
            .arg(folder)
            .arg(steps),
    );
    Some(Store::open(folder).unwrap())
}

/// The original's replay of the store in `folder`: its events.
fn original_replay(folder: &Path) -> Option<Vec<Value>> {
    let modules = original_package("the generations fixture replayed by the original")?;
    let out = node_output(
        node(modules)
            .arg(node_scripts().join("replay.js"))
            .arg(folder),
    );
    Some(
        out.lines()
            .map(|line| serde_json::from_str::<Value>(line).unwrap()["event"].clone())
            .collect(),
    )
}

/// The fixture's log as it would have been written with the newest shapes, commit by commit.
fn newest_commits() -> Vec<Vec<MemberEvent>> {
    let at = |street: &str, city: &str, country: &str| super::Address {
        street: street.into(),
        city: city.into(),
        country: country.into(),
    };
    let new = |name: &str, address| MemberEvent::NewMemberRegistered {
        name: name.into(),
        address,
    };
    let moved = |name: &str, address| MemberEvent::MemberHasMoved {
        name: name.into(),
        address,
    };
    vec![
        vec![new(
            "peter pan",
            at("1 Neverland Road", "London", "unknown"),
        )],
        vec![new(
            "wendy darling",
            at("14 Bloomsbury Square", "London", "unknown"),
        )],
        vec![moved(
            "peter pan",
            at("2 Kensington Gardens", "London", "unknown"),
        )],
        vec![
            new(
                "john darling",
                at("14 Bloomsbury Square", "London", "unknown"),
            ),
            moved("wendy darling", at("5 Harbour Street", "Oslo", "unknown")),
        ],
        vec![new(
            "captain hook",
            at("Jolly Roger", "Neverland", "unknown"),
        )],
        vec![moved(
            "john darling",
            at("3 Fjord Lane", "Bergen", "unknown"),
        )],
        vec![moved("peter pan", at("Skull Rock", "Neverland", "unknown"))],
        vec![new(
            "tinker bell",
            at("Pixie Hollow", "Neverland", "Neverland"),
        )],
        vec![moved(
            "captain hook",
            at("Crocodile Creek", "Neverland", "Neverland"),
        )],
        vec![moved(
            "wendy darling",
            at("5 Harbour Street", "Oslo", "Norway"),
        )],
    ]
}

/// The typed events of `store`, read without upcasters, commit by commit.
fn typed_commits(store: &Store) -> Vec<Vec<MemberEvent>> {
    store
        .commits(..)
        .map(|commit| {
            let commit = commit.unwrap();
            commit
                .events()
                .iter()
                .map(|e| e.to_typed().unwrap())
                .collect()
        })
        .collect()
}

/// The store's bytes, commit by commit.
fn bytes_of(store: &Store) -> Vec<Vec<u8>> {
    store
        .raw_commits(..)
        .unwrap()
        .map(|scanned| match scanned {
            foldstore::Scanned::Commit(raw) => raw.bytes,
            other => panic!("{other:?}"),
        })
        .collect()
}

/// Everything the tests expect of the fixture, whoever wrote it.
fn evolves(source: &Store, scratch: &Path) {
    let before = bytes_of(source);

    // The model with the three upcasters folds the log to the README's state.
    let members = source.define_model(Membership::evolved()).unwrap();
    assert_eq!(*members.aggregator_data().unwrap(), expected_members());

    // The check counts what each upcaster turned (README: 2 renamed events; 3 + 2 addresses
    // as strings; 5 + 3 addresses without a country) and finds nothing failing.
    let check = source.check_model(Membership::evolved()).unwrap();
    assert_eq!((check.commits, check.events), (10, 11));
    assert_eq!(
        check.upcasts,
        [
            (RENAME.to_owned(), 2),
            (SPLIT.to_owned(), 5),
            (COUNTRY.to_owned(), 8)
        ]
    );
    assert!(check.first_failure.is_none(), "{:?}", check.first_failure);
    assert_eq!(check.data, expected_members());

    // Without the upcasters, the first commit already fails: its address is a string.
    let naive = source.check_model(Membership::naive()).unwrap();
    assert_eq!(naive.first_failing_commit(), Some(1));
    assert!(
        matches!(&naive.first_failure, Some(Error::EventData { index: 0, name, .. }) if name == "newMemberRegistered"),
        "{:?}",
        naive.first_failure
    );
    // Commits 1 to 7 hold old shapes (commit 3's renamed event is not the model's and is
    // ignored, so commit 3 does not fail but commit 7 moves an unregistered member).
    assert!(naive.failing_commits >= 6, "{}", naive.failing_commits);
    let error = source
        .define_model(Membership::naive())
        .unwrap()
        .aggregator_data()
        .unwrap_err();
    assert!(
        matches!(error, Error::EventData { commit: 1, .. }),
        "{error}"
    );

    // The migrating copy writes the newest shapes; the source is untouched.
    let migrated = Store::open(scratch.join("migrated")).unwrap();
    let report = source
        .migrate_to(&migrated, Migration::new(three_upcasters()))
        .unwrap();
    assert_eq!(
        (
            report.events_changed,
            report.commits_changed,
            report.events_written
        ),
        (8, 7, 11)
    );
    assert_eq!(
        (report.copy.commits_copied, report.copy.snapshots_copied),
        (10, 0)
    );
    assert_eq!(report.upcasts, check.upcasts);
    assert_eq!(bytes_of(source), before);
    assert_eq!(typed_commits(&migrated), newest_commits());
    // Commits 8 to 10 were of the newest shape: copied byte for byte.
    assert_eq!(bytes_of(&migrated)[7..], before[7..]);

    // The naive model folds the migrated store, and a store written with the newest shapes,
    // to the same state.
    let newest = Store::open(scratch.join("newest")).unwrap();
    newest.ensure_folder().unwrap();
    for commit in newest_commits() {
        let events: Vec<Event> = commit
            .iter()
            .map(|e| Event::from_typed(e).unwrap())
            .collect();
        log_all(&newest, &events);
    }
    for store in [&migrated, &newest] {
        let members = store.define_model(Membership::naive()).unwrap();
        assert_eq!(*members.aggregator_data().unwrap(), expected_members());
    }

    // The original replays the migrated store.
    if let Some(replayed) = original_replay(&scratch.join("migrated")) {
        let expected: Vec<Value> = newest_commits()
            .into_iter()
            .flatten()
            .map(|e| serde_json::to_value(e).unwrap())
            .collect();
        assert_eq!(replayed, expected);
    }

    // Resumed: what is there is checked, not written again; a new commit is migrated.
    source
        .log(&json!({"name": "memberMoved", "data": {"name": "tinker bell", "address": "7 Fairy Lane, London"}}))
        .unwrap();
    let report = source
        .migrate_to(&migrated, Migration::new(three_upcasters()))
        .unwrap();
    assert_eq!(
        (report.copy.commits_present, report.copy.commits_copied),
        (10, 1)
    );
    assert_eq!(report.events_changed, 9);
    let last = migrated.read_commit(11).unwrap();
    assert_eq!(
        last.events()[0].to_typed::<MemberEvent>().unwrap(),
        MemberEvent::MemberHasMoved {
            name: "tinker bell".into(),
            address: super::Address {
                street: "7 Fairy Lane".into(),
                city: "London".into(),
                country: "unknown".into()
            }
        }
    );
}

#[test]
fn the_generations_written_by_foldstore_evolve() {
    let folder = tempfile::tempdir().unwrap();
    let store = written_by_foldstore(&folder.path().join("source"));
    evolves(&store, folder.path());
}

#[test]
fn the_generations_written_by_the_original_evolve() {
    let folder = tempfile::tempdir().unwrap();
    let Some(store) = written_by_the_original(&folder.path().join("source")) else {
        return;
    };
    evolves(&store, folder.path());
}

#[test]
fn a_migration_splits_and_drops_with_its_function_and_resumes_checking_the_bytes() {
    let folder = tempfile::tempdir().unwrap();
    let source = written_by_foldstore(&folder.path().join("source"));
    let split = |event: Event| -> Vec<Event> {
        match event.name() {
            // A move becomes "left" and "arrived"; registrations of hook are dropped.
            "memberHasMoved" => {
                let data = event.data().cloned();
                vec![
                    Event::new("memberLeft").with_new_data(data.clone()),
                    Event::new("memberArrived").with_new_data(data),
                ]
            }
            "newMemberRegistered" if event.data().unwrap()["name"] == "captain hook" => vec![],
            _ => vec![event],
        }
    };
    let destination = Store::open(folder.path().join("split")).unwrap();
    let report = source
        .migrate_to(
            &destination,
            Migration::new(three_upcasters()).change(split),
        )
        .unwrap();
    // 6 moves split in 2, 1 registration dropped, 4 registrations kept: 16 events; every
    // event changed but the last registration (tinker bell's, of the newest shape).
    assert_eq!(report.events_written, 16);
    assert_eq!(report.events_changed, 10);
    assert!(destination.read_commit(5).unwrap().events().is_empty());
    let names: Vec<String> = destination
        .read_commit(4)
        .unwrap()
        .events()
        .iter()
        .map(|e| e.name().to_owned())
        .collect();
    assert_eq!(
        names,
        ["newMemberRegistered", "memberLeft", "memberArrived"]
    );

    // Another function makes other bytes: resuming into that destination is refused.
    let error = source
        .migrate_to(&destination, Migration::new(three_upcasters()))
        .unwrap_err();
    assert!(error.to_string().contains("holds other bytes"), "{error}");
}

#[test]
fn a_bumped_version_rebuilds_from_the_log_and_an_unbumped_one_trusts_the_old_snapshot() {
    let folder = tempfile::tempdir().unwrap();
    let store = written_by_foldstore(&folder.path().join("source"));
    // Version 1 of the definition filled in "?" as the country.
    let old = three_upcasters().labels().count();
    assert_eq!(old, 3);
    let question = foldstore::Upcasters::new()
        .rename("memberMoved", "memberHasMoved")
        .with(
            foldstore::Upcaster::new("address string", |mut e: Event| {
                let data = e.data_mut().unwrap();
                let text = data["address"].as_str().unwrap().to_owned();
                let (street, city) = text.rsplit_once(", ").unwrap();
                data["address"] = json!({"street": street, "city": city, "country": "?"});
                Ok::<_, String>(e)
            })
            .when(|e| e.data().is_some_and(|d| d["address"].is_string())),
        )
        .with(
            foldstore::Upcaster::new("country", |mut e: Event| {
                e.data_mut().unwrap()["address"]["country"] = json!("?");
                Ok::<_, String>(e)
            })
            .when(|e| {
                e.data().is_some_and(|d| {
                    d["address"].is_object() && d["address"].get("country").is_none()
                })
            }),
        );
    let v1 = store
        .define_model(Membership {
            upcasters: question,
            version: Some(1),
        })
        .unwrap();
    assert_eq!(v1.aggregator_data().unwrap()["peter pan"].country, "?");
    assert_eq!(v1.snapshot().unwrap(), Some(10));

    // New upcasters under the old version: the snapshot is restored, stale.
    let unbumped = store
        .define_model(Membership {
            upcasters: three_upcasters(),
            version: Some(1),
        })
        .unwrap();
    assert_eq!(
        unbumped.aggregator_data().unwrap()["peter pan"].country,
        "?"
    );

    // Bumped: the snapshot is skipped and the log folded again with the new upcasters.
    let bumped = store.define_model(Membership::evolved()).unwrap();
    assert_eq!(*bumped.aggregator_data().unwrap(), expected_members());
    assert_eq!(
        bumped.report().skipped_snapshots.len(),
        1,
        "{:?}",
        bumped.report()
    );
}
