//! Headers: the default time header, header factories, JSON values kept exactly.

use std::time::{Duration, SystemTime};

use crate::fixture::{assert_time_format, headers, Fixture};
use foldstore::{Error, Event};
use serde_json::{json, Value};

// Headers.

pub(crate) fn default_headers_are_the_time_as_to_iso_string_writes_it<F: Fixture>() {
    let fixture = F::new();
    let store = fixture.open();
    let before = SystemTime::now();
    store.log(&Event::new("a")).expect("log");
    let commit = store.read_commit(1).expect("read");
    assert_eq!(commit.headers().keys().collect::<Vec<_>>(), ["time"]);
    assert_time_format(&commit.headers()["time"]);
    let time = commit.time().expect("a readable time");
    // Milliseconds are kept, so the time is at most 1 ms before the call (and not far after).
    assert!(
        time + Duration::from_millis(1) >= before,
        "{time:?} {before:?}"
    );
    assert!(
        time <= SystemTime::now() + Duration::from_secs(1),
        "{time:?}"
    );
}

pub(crate) fn json_values_are_kept_exactly<F: Fixture>() {
    let fixture = F::new();
    let store = fixture
        .builder()
        .headers(|| {
            headers(&[
                ("time", json!("2026-11-27T15:03:30.380Z")),
                ("user", json!("arjan")),
            ])
        })
        .open()
        .expect("open");
    let with_extra: Event =
        serde_json::from_str(r#"{"name":"extra","data":1,"zeta":true,"alpha":[1]}"#)
            .expect("an event");
    let big: Value =
        serde_json::from_str(r#"[18446744073709551615,-9223372036854775808,9007199254740993,1.5]"#)
            .expect("JSON");
    store
        .log_block(|block| {
            block.log(&Event::with_data(
                "ordered",
                json!({"zeta": 1, "alpha": {"b": 2, "a": 1}}),
            ))?;
            block.log(&Event::with_data("null", Value::Null))?;
            block.log(&Event::new("absent"))?;
            block.log(&with_extra)?;
            block.log(&Event::with_data("big", big.clone()))?;
            block.log(&Event::with_data(
                "text",
                json!("ø \"quoted\" \\ \n \u{1F600}"),
            ))?;
            block.mark_as_complete();
            Ok::<_, Error>(())
        })
        .expect("log_block");
    let expected = concat!(
        r#"{"headers":{"time":"2026-11-27T15:03:30.380Z","user":"arjan"},"events":["#,
        r#"{"name":"ordered","data":{"zeta":1,"alpha":{"b":2,"a":1}}},"#,
        r#"{"name":"null","data":null},"#,
        r#"{"name":"absent"},"#,
        r#"{"name":"extra","data":1,"zeta":true,"alpha":[1]},"#,
        r#"{"name":"big","data":[18446744073709551615,-9223372036854775808,9007199254740993,1.5]},"#,
        "{\"name\":\"text\",\"data\":\"ø \\\"quoted\\\" \\\\ \\n \u{1F600}\"}",
        r#"]}"#
    );
    let bytes = store
        .storage()
        .read_commit(1)
        .expect("read")
        .expect("exists");
    assert_eq!(String::from_utf8(bytes).expect("UTF-8"), expected);

    let events = store.read_commit(1).expect("read").into_events();
    assert_eq!(events[1].data(), Some(&Value::Null));
    assert_eq!(events[2].data(), None);
    assert_eq!(
        events[3].extra().keys().collect::<Vec<_>>(),
        ["zeta", "alpha"]
    );
    assert_eq!(events[4].data(), Some(&big));
    assert_eq!(big[0].as_u64(), Some(u64::MAX));
    assert_eq!(big[1].as_i64(), Some(i64::MIN));
    assert_eq!(
        events[4].data().map(|data| data[2].as_u64()),
        Some(Some(9_007_199_254_740_993))
    );

    // Logging what was read writes the same events again, byte for byte.
    store
        .log_block(|block| {
            for event in &events {
                block.log(event)?;
            }
            block.mark_as_complete();
            Ok::<_, Error>(())
        })
        .expect("log_block");
    let again = store
        .storage()
        .read_commit(2)
        .expect("read")
        .expect("exists");
    assert_eq!(String::from_utf8(again).expect("UTF-8"), expected);
}
