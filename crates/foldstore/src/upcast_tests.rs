//! The upcasters' chains: order, versions, names, and the chains that must not run forever.

use super::*;
use serde_json::json;

fn add(member: &'static str) -> impl Fn(Event) -> std::result::Result<Event, String> {
    move |mut event: Event| {
        if let Some(data) = event.data_mut() {
            data[member] = json!(true);
        }
        Ok(event)
    }
}

#[test]
fn versions_chain_in_order_and_each_result_gets_the_next_version() {
    let upcasters = Upcasters::new()
        .with(Upcaster::new("v2", add("b")).for_name("e").from_version(2))
        .with(Upcaster::new("v1", add("a")).for_name("e").from_version(1));
    let mut applied = Vec::new();
    let event = Event::with_data("e", json!({}));
    let newest = upcasters.run(&event, |i| applied.push(i)).unwrap().unwrap();
    assert_eq!(applied, [1, 0]);
    assert_eq!(newest.version(), 3);
    assert_eq!(newest.data(), Some(&json!({"a": true, "b": true})));
    // Version 3 is the newest: nothing applies, nothing is copied.
    assert!(matches!(
        upcasters.upcast(&newest).unwrap(),
        Cow::Borrowed(_)
    ));
    // A version 2 event skips the first step.
    let v2 = Event::with_data("e", json!({})).versioned(2);
    assert_eq!(
        upcasters.upcast(&v2).unwrap().data(),
        Some(&json!({"b": true}))
    );
}

#[test]
fn names_match_by_the_first_letter_rule_and_renames_chain_on() {
    let upcasters = Upcasters::new()
        .rename("memberMoved", "memberHasMoved")
        .with(
            Upcaster::new("x", add("x"))
                .for_name("MemberHasMoved")
                .when(|event| event.data().is_some_and(|data| data.get("x").is_none())),
        );
    for written in ["memberMoved", "MemberMoved"] {
        let event = Event::with_data(written, json!({}));
        let newest = upcasters.upcast(&event).unwrap();
        assert_eq!(newest.name(), "memberHasMoved");
        assert_eq!(newest.data(), Some(&json!({"x": true})));
    }
    let other = Event::with_data("memberMovedOut", json!({}));
    assert!(matches!(
        upcasters.upcast(&other).unwrap(),
        Cow::Borrowed(_)
    ));
}

#[test]
fn a_rename_cycle_is_an_error_naming_the_upcaster_and_the_chain() {
    let upcasters = Upcasters::new().rename("a", "b").rename("b", "a");
    let error = upcasters.upcast(&Event::new("a")).unwrap_err();
    assert_eq!(error.upcaster, "a -> b");
    assert!(error.message.contains("a cycle"), "{}", error.message);
    assert!(
        error.message.contains(r#"after "a -> b", "b -> a""#),
        "{}",
        error.message
    );
}

#[test]
fn an_upcaster_with_neither_version_nor_shape_nor_rename_is_a_cycle() {
    let upcasters = Upcasters::new().with(Upcaster::new("x", add("x")).for_name("a"));
    let error = upcasters
        .upcast(&Event::with_data("a", json!({})))
        .unwrap_err();
    assert!(error.message.contains("a cycle"), "{}", error.message);
}

#[test]
fn a_shape_that_stays_accepted_is_a_cycle_not_a_hang() {
    let upcasters =
        Upcasters::new().with(Upcaster::new("noop", |e: Event| Ok::<_, String>(e)).when(|_| true));
    let error = upcasters.upcast(&Event::new("a")).unwrap_err();
    assert!(error.message.contains("a cycle"), "{}", error.message);
}

#[test]
fn a_chain_longer_than_the_limit_is_refused() {
    // 2,000 versions of one event: version k becomes k + 1.
    let mut upcasters = Upcasters::new();
    for version in 1..=2_000 {
        upcasters = upcasters.with(
            Upcaster::new(format!("v{version}"), |e: Event| Ok::<_, String>(e))
                .for_name("e")
                .from_version(version),
        );
    }
    let error = upcasters.upcast(&Event::new("e")).unwrap_err();
    assert_eq!(error.upcaster, format!("v{}", DEFAULT_MAX_CHAIN + 1));
    assert!(error.message.contains("max_chain"), "{}", error.message);
    assert!(error.message.contains("... "), "{}", error.message);
    let upcasters = upcasters.max_chain(5_000);
    assert_eq!(upcasters.upcast(&Event::new("e")).unwrap().version(), 2_001);
}

#[test]
fn errors_and_panics_of_upcasters_and_predicates_are_errors() {
    let failing = Upcasters::new().with(Upcaster::new("fails", |_: Event| Err::<Event, _>("no")));
    let error = failing.upcast(&Event::new("a")).unwrap_err();
    assert_eq!(
        (error.upcaster.as_str(), error.message.as_str()),
        ("fails", "no")
    );

    let panicking = Upcasters::new().with(Upcaster::new(
        "panics",
        |_: Event| -> std::result::Result<Event, String> { panic!("the upcaster broke") },
    ));
    let error = panicking.upcast(&Event::new("a")).unwrap_err();
    assert_eq!(error.message, "panicked: the upcaster broke");

    let predicate = Upcasters::new()
        .with(Upcaster::new("p", |e: Event| Ok::<_, String>(e)).when(|_| panic!("{}", 7)));
    let error = predicate.upcast(&Event::new("a")).unwrap_err();
    assert_eq!(error.message, "its shape predicate panicked: 7");
}

#[test]
fn commits_are_upcast_in_place_and_errors_name_the_commit_and_event() {
    let text = br#"{"headers":{},"events":[{"name":"a"},{"name":"b"}]}"#;
    let mut commit = Commit::decode(4, text).unwrap();
    Upcasters::new()
        .rename("b", "c")
        .upcast_commit(&mut commit, || "4.log".to_owned())
        .unwrap();
    assert_eq!(commit.events()[1].name(), "c");
    let failing =
        Upcasters::new().with(Upcaster::new("f", |_: Event| Err::<Event, _>("bad")).for_name("b"));
    let mut commit = Commit::decode(4, text).unwrap();
    let error = failing
        .upcast_commit(&mut commit, || "4.log".to_owned())
        .unwrap_err();
    let text = error.to_string();
    assert!(
        text.starts_with(r#"commit 4 (4.log), event #1 ("b"): upcaster "f" failed: bad"#),
        "{text}"
    );
}

#[test]
fn typed_reads_go_through_the_upcasters() {
    #[derive(Debug, PartialEq, serde::Deserialize)]
    #[serde(tag = "name", content = "data", rename_all = "camelCase")]
    enum E {
        MemberHasMoved { name: String },
    }
    let upcasters = Upcasters::new().rename("memberMoved", "memberHasMoved");
    let old = Event::with_data("memberMoved", json!({"name": "wendy"}));
    assert!(old.to_typed::<E>().is_err());
    assert_eq!(
        upcasters.to_typed::<E>(&old).unwrap(),
        E::MemberHasMoved {
            name: "wendy".into()
        }
    );
}
