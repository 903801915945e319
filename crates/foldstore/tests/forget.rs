//! Forgettable data: events of a subject written sealed with the subject's key, read back
//! through the key store, and unreadable everywhere (store folder, copies) once forgotten;
//! damage to sealed data reported as damage; hostile input refused without panicking.

mod common;

use std::fs;
use std::path::Path;

use foldstore::{
    AppendCondition, CopyOptions, Error, Event, EventContext, FolderKeyStore, Forgettable,
    Forgotten, KeyStore, Layout, MasterKey, ModelDefinition, Query, Start, Store, View,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// What only Peter Pan's events hold: found in the bytes means not forgotten.
const PETERS_SECRET: &str = "second star to the right";
/// What only Wendy's events hold.
const WENDYS_SECRET: &str = "14 kensington gardens";

/// A store at `folder/members` with the keys in `folder/keys` under `master`.
fn store(folder: &Path, layout: Layout, master: &MasterKey) -> Store {
    let keys = FolderKeyStore::open(folder.join("keys"), master.clone()).unwrap();
    let store = Store::builder(folder.join("members"))
        .layout(layout)
        .key_store(keys)
        .subject_tags("member:")
        .open()
        .unwrap();
    store.ensure_folder().unwrap();
    store
}

/// The tutorial's members, each a subject, and one event of no subject.
fn log_members(store: &Store) {
    let members = [
        ("peter pan", PETERS_SECRET),
        ("wendy darling", WENDYS_SECRET),
    ];
    for (name, address) in members {
        let subject = format!("member:{name}");
        store
            .log(
                &Event::with_data(
                    "newMemberRegistered",
                    json!({"member": {"name": name, "address": address}}),
                )
                .tagged([subject.as_str()]),
            )
            .unwrap();
    }
    store
        .log(&Event::with_data("clubFounded", json!({"year": 1904})))
        .unwrap();
    store
        .log(
            &Event::with_data(
                "memberHasMoved",
                json!({"name": "peter pan", "address": PETERS_SECRET, "big": u64::MAX}),
            )
            .tagged(["member:peter pan"]),
        )
        .unwrap();
}

/// Whether any file under `folder` holds `needle`.
fn bytes_hold(folder: &Path, needle: &str) -> bool {
    fs::read_dir(folder).unwrap().any(|entry| {
        let path = entry.unwrap().path();
        if path.is_dir() {
            bytes_hold(&path, needle)
        } else {
            let bytes = fs::read(&path).unwrap();
            bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
        }
    })
}

/// Every event's data as replayed.
fn replayed(store: &Store) -> Vec<Value> {
    let mut data = Vec::new();
    store
        .replay_event_stream(|event, _| data.push(event.data().cloned().unwrap_or(Value::Null)))
        .unwrap();
    data
}

fn forgotten_subject(data: &Value) -> Option<String> {
    Forgotten::in_data(data).map(|f| f.subject().to_owned())
}

#[test]
fn a_forgotten_subject_is_nowhere_in_the_store_or_its_copies_and_the_others_stay() {
    for layout in [Layout::Loose, Layout::Journal] {
        let dir = tempfile::tempdir().unwrap();
        let master = MasterKey::generate().unwrap();
        let store = store(dir.path(), layout, &master);
        log_members(&store);

        // The same events written without a key store: the grep finds them in the clear.
        let plain = Store::builder(dir.path().join("plain"))
            .layout(layout)
            .open()
            .unwrap();
        plain.ensure_folder().unwrap();
        log_members(&plain);
        assert!(bytes_hold(&dir.path().join("plain"), PETERS_SECRET));

        // Sealed: readable through the keys, absent from the bytes.
        let before = replayed(&store);
        assert_eq!(before[0]["member"]["address"], PETERS_SECRET);
        assert_eq!(before[3]["big"], u64::MAX);
        assert!(!bytes_hold(&dir.path().join("members"), PETERS_SECRET));

        let copy = Store::builder(dir.path().join("copy"))
            .layout(layout)
            .open()
            .unwrap();
        store.copy_to(&copy, CopyOptions::default()).unwrap();

        assert!(store.forget("member:peter pan").unwrap());
        assert!(!store.forget("member:peter pan").unwrap());
        assert_eq!(
            store.key_store().unwrap().subjects().unwrap(),
            ["member:wendy darling"]
        );

        let after = replayed(&store);
        assert_eq!(
            forgotten_subject(&after[0]).as_deref(),
            Some("member:peter pan")
        );
        assert_eq!(
            forgotten_subject(&after[3]).as_deref(),
            Some("member:peter pan")
        );
        assert_eq!(after[1]["member"]["address"], WENDYS_SECRET, "{layout:?}");
        assert_eq!(after[2], json!({"year": 1904}));

        // The copy opened with the same keys: Peter is gone there too; Wendy is not.
        let keys = FolderKeyStore::open(dir.path().join("keys"), master.clone()).unwrap();
        let copy = Store::builder(dir.path().join("copy"))
            .key_store(keys)
            .open()
            .unwrap();
        let copied = replayed(&copy);
        assert!(forgotten_subject(&copied[0]).is_some());
        assert_eq!(copied[1]["member"]["address"], WENDYS_SECRET);

        for folder in ["members", "copy", "keys"] {
            assert!(
                !bytes_hold(&dir.path().join(folder), PETERS_SECRET),
                "{folder} ({layout:?})"
            );
        }
        // And the key folder never held any of it.
        assert!(!bytes_hold(&dir.path().join("keys"), WENDYS_SECRET));
    }
}

#[test]
fn without_the_key_store_sealed_data_reads_as_forgotten() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path(), Layout::Loose, &MasterKey::generate().unwrap());
    log_members(&store);
    let bare = Store::open(dir.path().join("members")).unwrap();
    let data = replayed(&bare);
    assert!(forgotten_subject(&data[0]).is_some());
    assert!(forgotten_subject(&data[1]).is_some());
    assert_eq!(data[2], json!({"year": 1904}));
    assert!(bare.forget("member:wendy darling").is_err());
}

#[test]
fn long_replays_without_the_key_store_read_sealed_data_as_forgotten_and_damage_as_damage() {
    // Long enough for the replay to read ahead, on its threads, for several batches.
    const COMMITS: u64 = 1200;
    const DAMAGED: u64 = 1000;
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path(), Layout::Loose, &MasterKey::generate().unwrap());
    for k in 1..=COMMITS {
        let event = Event::with_data("memberHasMoved", json!({"address": PETERS_SECRET, "k": k}));
        let event = if k % 3 == 0 {
            event
        } else {
            event.tagged([format!("member:{}", k % 7)])
        };
        store.log(&event).unwrap();
    }
    // Another process damages a sealed form: damage, not forgetting, for every reader (a
    // reader without the key cannot tell a changed ciphertext, but a form that is not one).
    edit_commit(&dir.path().join("members"), DAMAGED, |doc| {
        doc["events"][0]["data"]["foldstore:sealed"]["key"] = json!("not a key id");
    });
    let bare = Store::open(dir.path().join("members")).unwrap();
    for on_demand in [false, true] {
        let mut replay = bare.replay();
        if on_demand {
            replay = replay.data_on_demand();
        }
        let mut seen = 0;
        let result = replay.run(|event, _| {
            seen += 1;
            let data = event.data().unwrap();
            if seen % 3 == 0 {
                assert_eq!(data["k"], json!(seen), "commit {seen}");
            } else {
                assert_eq!(
                    forgotten_subject(data),
                    Some(format!("member:{}", seen % 7)),
                    "commit {seen} (data on demand: {on_demand}): {data}"
                );
            }
        });
        assert_eq!(seen, DAMAGED - 1, "data on demand: {on_demand}");
        match result {
            Err(Error::CorruptCommit { commit, .. }) => assert_eq!(commit, DAMAGED),
            other => panic!("data on demand: {on_demand}: {other:?}"),
        }
    }
}

#[test]
fn another_master_key_is_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path(), Layout::Loose, &MasterKey::generate().unwrap());
    log_members(&store);
    let error =
        FolderKeyStore::open(dir.path().join("keys"), MasterKey::generate().unwrap()).unwrap_err();
    assert!(matches!(error, Error::Keys { .. }), "{error:?}");
    let text = error.to_string();
    assert!(
        text.contains(&dir.path().join("keys/keys.check").display().to_string()),
        "{text}"
    );
}

/// Replaces the first occurrence of `from` in commit file `number` of the loose store.
fn edit_commit(folder: &Path, number: u64, edit: impl FnOnce(&mut Value)) {
    let path = folder.join(format!("{number}.log"));
    let mut document: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    edit(&mut document);
    fs::write(&path, serde_json::to_vec(&document).unwrap()).unwrap();
}

fn flip_base64(text: &Value) -> Value {
    let mut text = text.as_str().unwrap().to_owned();
    let first = if text.starts_with('A') { "B" } else { "A" };
    text.replace_range(0..1, first);
    Value::String(text)
}

/// A change made to commit 1's document, given commit 2's (Wendy's registration).
type Edit = fn(&mut Value, &Value);

#[test]
fn changed_sealed_data_is_damage_not_forgetting() {
    let edits: [(&str, Edit); 4] = [
        ("ciphertext", |doc, _| {
            let sealed = &mut doc["events"][0]["data"]["foldstore:sealed"];
            sealed["ciphertext"] = flip_base64(&sealed["ciphertext"]);
        }),
        ("nonce", |doc, _| {
            let sealed = &mut doc["events"][0]["data"]["foldstore:sealed"];
            sealed["nonce"] = flip_base64(&sealed["nonce"]);
        }),
        ("commit id", |doc, _| {
            doc["headers"]["commitId"] = json!("someone else's")
        }),
        // Wendy's subject and key id, so that her key is tried: it does not open Peter's data.
        ("another subject's key", |doc, wendys| {
            let theirs = &wendys["events"][0]["data"]["foldstore:sealed"];
            let sealed = &mut doc["events"][0]["data"]["foldstore:sealed"];
            sealed["subject"] = theirs["subject"].clone();
            sealed["key"] = theirs["key"].clone();
        }),
    ];
    for (what, edit) in edits {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path(), Layout::Loose, &MasterKey::generate().unwrap());
        log_members(&store);
        let folder = dir.path().join("members");
        let wendys: Value =
            serde_json::from_slice(&fs::read(folder.join("2.log")).unwrap()).unwrap();
        edit_commit(&folder, 1, |doc| edit(doc, &wendys));
        match store.read_commit(1) {
            Err(Error::CorruptCommit {
                commit: 1, problem, ..
            }) => {
                assert!(problem.contains("does not open"), "{what}: {problem}")
            }
            other => panic!("{what}: {other:?}"),
        }
        // A replay stops there, reporting it; the commits before it are not in question.
        assert!(matches!(
            store.replay().run(|_, _| {}),
            Err(Error::CorruptCommit { commit: 1, .. })
        ));
    }
}

#[test]
fn sealed_data_moved_to_another_commit_does_not_open() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path(), Layout::Loose, &MasterKey::generate().unwrap());
    log_members(&store);
    let folder = dir.path().join("members");
    let first: Value = serde_json::from_slice(&fs::read(folder.join("1.log")).unwrap()).unwrap();
    edit_commit(&folder, 4, |doc| {
        doc["events"][0]["data"] = first["events"][0]["data"].clone()
    });
    assert!(matches!(
        store.read_commit(4),
        Err(Error::CorruptCommit { commit: 4, .. })
    ));
}

#[test]
fn hostile_sealed_forms_and_subjects_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path(), Layout::Loose, &MasterKey::generate().unwrap());
    // A subject name no key store holds is refused, nothing written.
    let huge = format!("member:{}", "x".repeat(1 << 20));
    let error = store
        .log(&Event::with_data("e", json!(1)).tagged([huge.as_str()]))
        .unwrap_err();
    assert!(matches!(error, Error::Keys { .. }), "{error:?}");
    // Two subjects for one datum are refused.
    assert!(store
        .log(&Event::with_data("e", json!(1)).tagged(["member:a", "member:b"]))
        .is_err());
    assert_eq!(store.tip().unwrap(), 0);

    let forms = [
        json!({"subject": huge, "key": "00000000000000ff", "nonce": "AAAA", "ciphertext": "AAAA"}),
        json!({"subject": "member:a", "key": "ffffffffffffffff", "nonce": "", "ciphertext": ""}),
        json!({"subject": "member:a", "key": u64::MAX, "nonce": "AAAA", "ciphertext": "AAAA"}),
        json!({"subject": 7, "key": "0", "nonce": "!!", "ciphertext": "%%"}),
        json!("a string"),
        json!({}),
    ];
    let raw = Store::open(dir.path().join("members")).unwrap();
    for (i, form) in forms.iter().enumerate() {
        // Written by another program: a store refuses to write data of the sealed form's
        // shape (see the next test).
        let document = json!({"headers": {}, "events": [{"name": "hostile", "data": {"foldstore:sealed": form}}]});
        let number = raw.tip().unwrap() + 1;
        raw.storage()
            .append_commit(number, document.to_string().as_bytes())
            .unwrap();
        match store.read_commit(number) {
            // Unknown key ids read as forgotten; malformed forms as damage.
            Ok(commit) => assert!(
                Forgotten::in_data(commit.events()[0].data().unwrap()).is_some(),
                "form {i}"
            ),
            Err(Error::CorruptCommit { .. }) => {}
            Err(other) => panic!("form {i}: {other:?}"),
        }
    }
}

#[test]
fn data_of_the_sealed_forms_shape_is_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let master = MasterKey::generate().unwrap();
    let sealing = store(dir.path(), Layout::Journal, &master);
    let sealed = sealing
        .log(
            &Event::with_data("memberHasMoved", json!({"address": "london"}))
                .tagged(["member:peter"]),
        )
        .unwrap();
    let bytes = sealing.storage().read_commit(sealed).unwrap().unwrap();
    let document: Value = serde_json::from_slice(&bytes).unwrap();
    let form = document["events"][0]["data"].clone();
    assert!(form.get("foldstore:sealed").is_some(), "{form}");
    let plain = Store::open(dir.path().join("plain")).unwrap();
    plain.ensure_folder().unwrap();
    for store in [&sealing, &plain] {
        store
            .log(&Event::with_data("fine", json!({})).tagged(["x:1"]))
            .unwrap();
        let before = store.tip().unwrap();
        // A sealed form copied from another commit (it opens only in that one), a malformed
        // one, and one among other events, tagged with a subject or not.
        let copied = Event::with_data("copied", form.clone());
        let malformed = Event::with_data("malformed", json!({"foldstore:sealed": {"subject": 1}}));
        let attempts = [
            store.log(&copied),
            store.log(&malformed),
            store.log(&copied.clone().tagged(["member:other"])),
            // Refused before the condition is checked (it fails: the log holds events).
            store
                .append_if(
                    std::slice::from_ref(&malformed),
                    &AppendCondition::none_matching(Query::tag("x:1")),
                )
                .map(|_| 0),
            store
                .log_block(|block| {
                    block.log(&Event::with_data("fine", json!({"a": 1})))?;
                    block.log(&malformed)?;
                    block.mark_as_complete();
                    Ok::<_, Error>(())
                })
                .map(|_| 0),
        ];
        for (i, attempt) in attempts.into_iter().enumerate() {
            match attempt {
                Err(Error::InvalidEvent { problem }) => {
                    assert!(problem.contains("foldstore:sealed"), "{i}: {problem}")
                }
                // Named by a subject of a store that seals: sealed, and read back as written.
                Ok(number) if i == 2 && std::ptr::eq(store, &sealing) => {
                    let commit = store.read_commit(number).unwrap();
                    assert_eq!(commit.events()[0].data(), Some(&form));
                }
                other => panic!("attempt {i}: {other:?}"),
            }
        }
        let written = u64::from(std::ptr::eq(store, &sealing));
        assert_eq!(
            store.tip().unwrap(),
            before + written,
            "nothing else written"
        );
        // A member name JSON readers take for JSON text held in a string never reads back as
        // written, whether the text looks sealed or not.
        for data in [
            json!({"$serde_json::private::RawValue": "{\"foldstore:sealed\":{\"subject\":1}}"}),
            json!({"$serde_json::private::RawValue": "[1]"}),
            json!([{"$serde_json::private::RawValue": 1}]),
        ] {
            // Sealed or not (a new subject's key is not made for it), and before a
            // conditional append reads the log.
            let event = Event::with_data("token", data);
            let refusals = [
                store.log(&event),
                store.log(&event.clone().tagged(["member:newcomer"])),
                store
                    .append_if(
                        std::slice::from_ref(&event),
                        &AppendCondition::none_matching(Query::tag("x:1")),
                    )
                    .map(|_| 0),
            ];
            for refused in refusals {
                match refused {
                    Err(Error::InvalidEvent { problem }) => assert!(problem.contains("RawValue")),
                    other => panic!("{other:?}"),
                }
            }
        }
        assert_eq!(
            store.tip().unwrap(),
            before + written,
            "nothing else written"
        );
        let keys = FolderKeyStore::open(dir.path().join("keys"), master.clone()).unwrap();
        assert!(!keys
            .subjects()
            .unwrap()
            .contains(&"member:newcomer".to_owned()));
        // Data that merely mentions the member, or holds it beside others, is data.
        for data in [
            json!({"foldstore:sealed": 1, "other": 2}),
            json!({"note": {"foldstore:sealed": {}}}),
            json!(["foldstore:sealed"]),
            json!({"note": "$serde_json::private::RawValue", "$serde_json::private::RawValue": 1}),
        ] {
            let number = store.log(&Event::with_data("fine", data.clone())).unwrap();
            let commit = store.read_commit(number).unwrap();
            assert_eq!(commit.events()[0].data(), Some(&data));
        }
    }
}

/// A model of the members' names, whose registrations may be forgotten.
struct Names;

#[derive(Serialize, Deserialize)]
struct Member {
    name: String,
}

#[derive(Serialize, Deserialize)]
struct Registered {
    member: Member,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "name", content = "data", rename_all = "camelCase")]
enum NamesEvent {
    // The whole data of an event is sealed, so the whole data may be forgotten.
    NewMemberRegistered(Forgettable<Registered>),
    MemberHasMoved { name: String },
}

impl ModelDefinition for Names {
    type Data = Vec<String>;
    type Event = NamesEvent;
    type Error = String;
    type Domain<V: View<Self>> = V;

    fn initial_data(&self) -> Vec<String> {
        Vec::new()
    }

    fn apply(
        &self,
        data: &mut Vec<String>,
        event: NamesEvent,
        _: &EventContext<'_>,
    ) -> Result<(), String> {
        match event {
            NamesEvent::NewMemberRegistered(registered) => data.push(match registered {
                Forgettable::Known(registered) => registered.member.name,
                Forgettable::Forgotten(who) => format!("(forgotten: {})", who.subject()),
            }),
            NamesEvent::MemberHasMoved { name } => data.push(format!("{name} moved")),
        }
        Ok(())
    }

    fn domain<V: View<Self>>(&self, view: V) -> V {
        view
    }
}

#[test]
fn models_subscriptions_and_queries_see_the_data_or_the_placeholder() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path(), Layout::Journal, &MasterKey::generate().unwrap());
    log_members(&store);
    let model = store.define_model(Names).unwrap();
    assert_eq!(
        *model.aggregator_data().unwrap(),
        ["peter pan", "wendy darling", "peter pan moved"]
    );
    let matched = store
        .events_matching(&Query::tag("member:wendy darling"), 0)
        .unwrap();
    assert_eq!(
        matched[0].event.data().unwrap()["member"]["address"],
        WENDYS_SECRET
    );

    store.forget("member:peter pan").unwrap();
    // The model, built again, holds the placeholder where Peter's data was; the event whose
    // type cannot hold it (memberHasMoved) goes to the fallback, which ignores it.
    let model = store.define_model(Names).unwrap();
    assert_eq!(
        *model.aggregator_data().unwrap(),
        ["(forgotten: member:peter pan)", "wendy darling"]
    );
    let mut subscription = store.subscribe(Start::Beginning).unwrap();
    let first = subscription.try_next().unwrap().unwrap();
    assert!(Forgotten::in_data(first.events()[0].data().unwrap()).is_some());
    let second = subscription.try_next().unwrap().unwrap();
    assert_eq!(
        second.events()[0].data().unwrap()["member"]["name"],
        "wendy darling"
    );
    let matched = store
        .events_matching(&Query::tag("member:peter pan"), 0)
        .unwrap();
    assert_eq!(matched.len(), 2);
    assert!(matched
        .iter()
        .all(|m| Forgotten::in_data(m.event.data().unwrap()).is_some()));
}

#[test]
fn a_long_replay_opens_sealed_data_read_ahead_and_reports_damage_there() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path(), Layout::Loose, &MasterKey::generate().unwrap());
    for i in 0..2_000u64 {
        let subject = format!("member:{}", i % 7);
        store
            .log(&Event::with_data("paid", json!({"i": i})).tagged([subject.as_str()]))
            .unwrap();
    }
    let mut seen = Vec::new();
    store
        .replay_event_stream(|event, _| seen.push(event.data().unwrap()["i"].as_u64().unwrap()))
        .unwrap();
    assert_eq!(seen, (0..2_000).collect::<Vec<_>>());

    store.forget("member:3").unwrap();
    let mut forgotten = 0;
    store
        .replay_event_stream(|event, _| {
            forgotten += usize::from(Forgotten::in_data(event.data().unwrap()).is_some());
        })
        .unwrap();
    assert_eq!(forgotten, (0..2_000).filter(|i| i % 7 == 3).count());

    edit_commit(&dir.path().join("members"), 1_500, |doc| {
        let sealed = &mut doc["events"][0]["data"]["foldstore:sealed"];
        sealed["ciphertext"] = flip_base64(&sealed["ciphertext"]);
    });
    let mut count = 0;
    let error = store.replay_event_stream(|_, _| count += 1).unwrap_err();
    assert!(
        matches!(error, Error::CorruptCommit { commit: 1_500, .. }),
        "{error:?}"
    );
    assert_eq!(count, 1_499);
}

#[test]
fn the_original_package_reads_sealed_commits_as_ordinary_json() {
    let Some(modules) =
        common::node::original_package("forget.rs (the original reads sealed data)")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path(), Layout::Loose, &MasterKey::generate().unwrap());
    log_members(&store);
    let out = common::node::node_output(
        common::node::node(modules)
            .arg(common::node::node_scripts().join("replay.js"))
            .arg(dir.path().join("members")),
    );
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    let sealed = &lines[0]["event"]["data"]["foldstore:sealed"];
    assert_eq!(sealed["subject"], "member:peter pan");
    assert!(sealed["ciphertext"].is_string());
    assert_eq!(lines[0]["event"]["tags"], json!(["member:peter pan"]));
    assert_eq!(lines[2]["event"]["data"], json!({"year": 1904}));
    assert!(!out.contains(PETERS_SECRET));
}

#[test]
fn a_renamed_event_keeps_its_sealed_data_as_a_migration_may_rename() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path(), Layout::Loose, &MasterKey::generate().unwrap());
    log_members(&store);
    edit_commit(&dir.path().join("members"), 1, |doc| {
        doc["events"][0]["name"] = json!("memberRegistered");
    });
    let commit = store.read_commit(1).unwrap();
    assert_eq!(commit.events()[0].name(), "memberRegistered");
    assert_eq!(
        commit.events()[0].data().unwrap()["member"]["address"],
        PETERS_SECRET
    );
}

#[test]
fn forgetting_a_subject_of_a_chained_store_leaves_the_chain_intact() {
    for layout in [Layout::Loose, Layout::Journal] {
        let folder = tempfile::tempdir().unwrap();
        let master = MasterKey::generate().unwrap();
        let keys = FolderKeyStore::open(folder.path().join("keys"), master.clone()).unwrap();
        let store = Store::builder(folder.path().join("members"))
            .layout(layout)
            .key_store(keys)
            .subject_tags("member:")
            .chain(true)
            .open()
            .unwrap();
        store.ensure_folder().unwrap();
        log_members(&store);
        let members = folder.path().join("members");
        let before = store.verify_chain(|_, _| {}).unwrap();
        assert!(before.is_sound(), "{layout:?}: {before:?}");
        assert_eq!(before.chain.as_ref().map(|chain| chain.chained), Some(4));

        assert!(store.forget("member:peter pan").unwrap());
        // Erased: nothing of Peter's can be read anywhere in the store...
        assert!(!bytes_hold(&members, PETERS_SECRET), "{layout:?}");
        assert!(
            bytes_hold(&members, "member:peter pan"),
            "{layout:?}: the tag stays"
        );
        // ...and verifiable: not a byte of the log changed, so the chain holds.
        let after = store.verify_chain(|_, _| {}).unwrap();
        assert!(after.is_sound(), "{layout:?}: {after:?}");
        assert_eq!(after.chain.as_ref().map(|chain| chain.chained), Some(4));
        // Wendy's data still opens; Peter's reads as forgotten.
        let commits: Vec<_> = store.commits(..).map(Result::unwrap).collect();
        assert_eq!(
            commits[1].events()[0].data(),
            Some(&json!({"member": {"name": "wendy darling", "address": WENDYS_SECRET}}))
        );
        let peter = commits[0].events()[0].data().cloned().unwrap();
        assert_eq!(
            Forgotten::in_data(&peter).unwrap().subject(),
            "member:peter pan"
        );
    }
}

#[cfg(unix)]
#[test]
fn keys_are_their_owners_only_and_a_hostile_master_key_file_is_refused_at_once() {
    use std::os::unix::fs::PermissionsExt;
    let folder = tempfile::tempdir().unwrap();
    let master = MasterKey::generate().unwrap();
    let store = store(folder.path(), Layout::Loose, &master);
    log_members(&store);
    let keys = folder.path().join("keys");
    let mode = |path: &Path| fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&keys), 0o700);
    for entry in fs::read_dir(&keys).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(mode(&path), 0o600, "{}", path.display());
    }

    // A master key file others may read is refused, naming the fix; its owner's only, read.
    let file = folder.path().join("master.key");
    fs::write(&file, master.to_hex()).unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
    let refused = MasterKey::from_file(&file).unwrap_err().to_string();
    assert!(refused.contains("chmod 600"), "{refused}");
    fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(
        MasterKey::from_file(&file).unwrap().to_hex(),
        master.to_hex()
    );

    // A FIFO (nobody writing) and a link to one are refused without waiting.
    let fifo = folder.path().join("fifo");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let link = folder.path().join("link.key");
    std::os::unix::fs::symlink(&file, &link).unwrap();
    for hostile in [&fifo, &link] {
        let refused = MasterKey::from_file(hostile).unwrap_err().to_string();
        assert!(refused.contains("not a regular file"), "{refused}");
    }
}

/// A folder key store whose reads of a key take a while: a forget can come in between.
#[derive(Debug)]
struct SlowReads(foldstore::FolderKeyStore);

impl foldstore::KeyStore for SlowReads {
    fn key_for(&self, subject: &str) -> foldstore::Result<foldstore::SubjectKey> {
        self.0.key_for(subject)
    }
    fn get(&self, subject: &str) -> foldstore::Result<Option<foldstore::SubjectKey>> {
        let key = self.0.get(subject);
        std::thread::sleep(std::time::Duration::from_millis(300));
        key
    }
    fn forget(&self, subject: &str) -> foldstore::Result<bool> {
        self.0.forget(subject)
    }
    fn subjects(&self) -> foldstore::Result<Vec<String>> {
        self.0.subjects()
    }
    fn location(&self) -> String {
        self.0.location()
    }
}

#[test]
fn a_key_read_while_its_subject_is_forgotten_is_not_kept() {
    let folder = tempfile::tempdir().unwrap();
    let master = MasterKey::generate().unwrap();
    let writer = store(folder.path(), Layout::Loose, &master);
    log_members(&writer);
    drop(writer);
    // A new store (nothing cached) reads Peter's key slowly; the forget comes meanwhile.
    let keys = FolderKeyStore::open(folder.path().join("keys"), master).unwrap();
    let store = Store::builder(folder.path().join("members"))
        .key_store(SlowReads(keys))
        .subject_tags("member:")
        .open()
        .unwrap();
    std::thread::scope(|scope| {
        let reading = scope.spawn(|| store.read_commit(1).unwrap());
        std::thread::sleep(std::time::Duration::from_millis(100));
        assert!(store.forget("member:peter pan").unwrap());
        reading.join().unwrap();
    });
    // Whatever the read saw, the key is not kept: Peter's data reads as forgotten from now on.
    let data = store.read_commit(1).unwrap().events()[0]
        .data()
        .cloned()
        .unwrap();
    assert_eq!(
        Forgotten::in_data(&data).map(|f| f.subject().to_owned()),
        Some("member:peter pan".to_owned())
    );
}

/// Sealed forms written otherwise than foldstore writes them (pretty-printed, with an escaped
/// `/`, with another member, with a member written twice) open as they did when read whole:
/// the reading threads of a long replay read the simple form straight from its text and hand
/// every other form to the reading of its value.
#[test]
fn sealed_forms_written_otherwise_open_as_before_in_long_replays() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("members");
    let store = store(dir.path(), Layout::Loose, &MasterKey::generate().unwrap());
    for i in 0..1_000u64 {
        let subject = format!("member:{}", i % 5);
        store
            .log(
                &Event::with_data("paid", json!({"i": i, "to": subject}))
                    .tagged([subject.as_str()]),
            )
            .unwrap();
    }
    let path = |number: u64| folder.join(format!("{number}.log"));
    let rewrite = |number: u64, edit: &dyn Fn(String) -> String| {
        let text = fs::read_to_string(path(number)).unwrap();
        let edited = edit(text.clone());
        assert_ne!(edited, text, "commit {number} unchanged");
        fs::write(path(number), edited).unwrap();
    };
    rewrite(500, &|text| {
        serde_json::to_string_pretty(&serde_json::from_str::<Value>(&text).unwrap()).unwrap()
    });
    let escaped = (600..700)
        .find(|&n| {
            let text = fs::read_to_string(path(n)).unwrap();
            let document: Value = serde_json::from_str(&text).unwrap();
            document["events"][0]["data"]["foldstore:sealed"]["ciphertext"]
                .as_str()
                .unwrap()
                .contains('/')
        })
        .expect("a ciphertext with a slash");
    rewrite(escaped, &|text| text.replace('/', "\\/"));
    rewrite(700, &|text| {
        text.replace(
            r#""foldstore:sealed":{"#,
            r#""foldstore:sealed":{"note":"kept","#,
        )
    });
    rewrite(800, &|text| {
        text.replace(
            r#""subject":"member:"#,
            r#""subject":"member:nobody","subject":"member:"#,
        )
    });

    let expected: Vec<Value> = (0..1_000u64)
        .map(|i| json!({"i": i, "to": format!("member:{}", i % 5)}))
        .collect();
    assert_eq!(replayed(&store), expected);
    let mut on_demand = Vec::new();
    store
        .replay()
        .data_on_demand()
        .run(|event, _| on_demand.push(event.data().cloned().unwrap()))
        .unwrap();
    assert_eq!(on_demand, expected);

    store.forget("member:2").unwrap();
    let forgotten: Vec<u64> = replayed(&store)
        .iter()
        .zip(0..)
        .filter(|(data, _)| forgotten_subject(data).is_some())
        .map(|(_, i)| i)
        .collect();
    assert_eq!(
        forgotten,
        (0..1_000).filter(|i| i % 5 == 2).collect::<Vec<_>>()
    );

    // Ordinary data holding what a sealed form's members would hold, as an array, is ordinary
    // data; a sealed member holding an array is damage, as it always was.
    let array = json!([[
        "member:0",
        "0123456789abcdef",
        "AAAAAAAAAAAAAAAA",
        "foldstore:sealed"
    ]]);
    store
        .log(&Event::with_data("listed", array.clone()))
        .unwrap();
    fs::write(
        path(1_002),
        r#"{"headers":{},"events":[{"name":"listed","data":{"foldstore:sealed":["member:0","0123456789abcdef","AAAAAAAAAAAAAAAA","x"]}}]}"#,
    )
    .unwrap();
    let mut last = None;
    let error = store
        .replay_event_stream(|event, _| last = event.data().cloned())
        .unwrap_err();
    assert_eq!(last, Some(array));
    assert!(
        matches!(error, Error::CorruptCommit { commit: 1_002, .. }),
        "{error:?}"
    );
}
