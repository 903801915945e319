//! The codec's unit tests: the bytes it writes, and what it accepts and refuses.

use super::*;
use serde_json::json;

#[test]
fn encodes_like_json_stringify() {
    let mut headers = Headers::new();
    headers.insert("time".into(), json!("2026-11-27T15:03:30.380Z"));
    let events = [
        Event::with_data("a", json!({"x": "ø \"q\" \\ \n"})),
        Event::new("b"),
    ];
    assert_eq!(
        String::from_utf8(encode_commit(&headers, &events).unwrap()).unwrap(),
        r#"{"headers":{"time":"2026-11-27T15:03:30.380Z"},"events":[{"name":"a","data":{"x":"ø \"q\" \\ \n"}},{"name":"b"}]}"#
    );
}

#[test]
fn decodes_pretty_documents_in_any_member_order() {
    let text = "\n\t\t{ \"events\": [ {\"data\": null, \"name\": \"ping\"} ],\n \"headers\": {\"user\": \"a\"} }\n";
    let commit = decode_commit(7, text.as_bytes()).unwrap();
    assert_eq!(commit.number(), 7);
    assert_eq!(commit.headers()["user"], "a");
    assert_eq!(commit.events(), [Event::with_data("ping", Value::Null)]);
}

#[test]
fn integers_stay_exact() {
    let text = r#"{"events":[{"name":"n","data":[18446744073709551615,-9223372036854775808,9007199254740993]}]}"#;
    let commit = decode_commit(1, text.as_bytes()).unwrap();
    let again = encode_commit(commit.headers(), commit.events()).unwrap();
    assert_eq!(
        String::from_utf8(again).unwrap(),
        r#"{"headers":{},"events":[{"name":"n","data":[18446744073709551615,-9223372036854775808,9007199254740993]}]}"#
    );
}

#[test]
fn escaped_and_repeated_member_names_read_as_when_parsed_into_a_value() {
    let text = r#"{"h\u0065aders":{"a":1},"events":[{"n\u0061me":"x","d\u0061ta":2,"z\u0031":3,"name":"y"}],"other":[1]}"#;
    let commit = decode_commit(1, text.as_bytes()).unwrap();
    let value: Value = serde_json::from_str(text).unwrap();
    assert_eq!(commit.headers(), value["headers"].as_object().unwrap());
    assert_eq!(commit.events().len(), 1);
    assert_eq!(commit.events()[0].to_value(), value["events"][0]);
    assert_eq!(commit.events()[0].name(), "y");
    assert_eq!(commit.events()[0].extra().get("z1"), Some(&json!(3)));
    // Not UTF-8: refused, saying so.
    let problem = decode_commit(1, b"{\"events\":[{\"name\":\"\xff\"}]}").unwrap_err();
    assert!(problem.contains("not valid JSON"), "{problem}");
}

#[test]
fn damage_is_described() {
    let cases: [(&[u8], &str); 9] = [
        (b"", "is empty"),
        (b"  \n", "holds only whitespace"),
        (b"[]", "is an array, not a JSON object"),
        (b"{\"events\":[", "it ends too early"),
        (b"{\"headers\":{}}", "has no `events` array"),
        (b"{\"events\":{}}", "`events` member that is an object"),
        (
            b"{\"events\":[],\"headers\":3}",
            "`headers` member that is a number",
        ),
        (
            b"{\"events\":[{\"name\":\"a\"},{\"data\":1}]}",
            "event (#1) that has no `name`",
        ),
        (b"{\"events\":[\"\xff\"]}", "is not valid JSON"),
    ];
    for (bytes, expected) in cases {
        let problem = decode_commit(1, bytes).unwrap_err();
        assert!(problem.contains(expected), "{problem:?} lacks {expected:?}");
    }
}

#[test]
fn nesting_is_counted_outside_strings() {
    let cases: [(&[u8], usize); 7] = [
        (b"1", 0),
        (b"[]", 1),
        (b"{\"a\":[{},[[]]]}", 4),
        (b"[\"[[[{{{\"]", 1),
        (b"[\"\\\"[[[\"]", 1),
        (b"[\"\\\\\",[[]]]", 3),
        (b"[[[", 3),
    ];
    for (bytes, depth) in cases {
        assert_eq!(
            nesting_depth(bytes),
            depth,
            "{}",
            String::from_utf8_lossy(bytes)
        );
    }
}

#[test]
fn snapshots_without_data_are_told_apart() {
    let doc = decode_snapshot(br#"{"headers":{"time":"t"}}"#).unwrap();
    assert_eq!(doc.snapshot, None);
    let doc = decode_snapshot(br#"{"headers":{},"snapshot":null}"#).unwrap();
    assert_eq!(doc.snapshot, Some(Value::Null));
    let bytes = encode_snapshot(&Headers::new(), &json!({"a": 1})).unwrap();
    assert_eq!(bytes, br#"{"headers":{},"snapshot":{"a":1}}"#);
}

#[test]
fn documents_that_would_not_read_back_as_written_are_refused_naming_the_part() {
    const TOKEN: &str = "$serde_json::private::RawValue";
    let token_data = |value: Value| {
        let mut data = Map::new();
        data.insert(TOKEN.to_owned(), value);
        Value::Object(data)
    };
    let fine = Event::with_data("fine", json!({"note": TOKEN, "x": [TOKEN]}));
    let mut headers = Headers::new();
    // The name as a string, or as a member that is not the first: read back as written.
    headers.insert("note".into(), json!(TOKEN));
    headers.insert("later".into(), json!({"a": 1, TOKEN: 2}));
    let written = encode_commit(&headers, std::slice::from_ref(&fine)).unwrap();
    assert_eq!(
        decode_commit(1, &written).unwrap().events(),
        std::slice::from_ref(&fine)
    );
    // An event holding it first: named by its index.
    let events = [
        fine.clone(),
        Event::with_data("token", token_data(json!("[1]"))),
    ];
    match encode_commit(&headers, &events) {
        Err(Error::InvalidEvent { problem }) => {
            assert!(problem.contains("event #1 (\"token\")"), "{problem}");
        }
        other => panic!("{other:?}"),
    }
    let unreadable = Event::with_data("token", json!([token_data(json!(1))]));
    assert!(matches!(
        encode_commit(&headers, &[unreadable]),
        Err(Error::InvalidEvent { .. })
    ));
    // In a header: the headers are named, whatever the events.
    let mut bad_headers = Headers::new();
    bad_headers.insert("meta".into(), token_data(json!(1)));
    assert!(matches!(
        encode_commit(&bad_headers, std::slice::from_ref(&fine)),
        Err(Error::InvalidHeaders { .. })
    ));
    // Headers too deep are told as such, though the name is in the document too.
    let mut deep = json!(1);
    for _ in 0..MAX_NESTING + 5 {
        deep = Value::Array(vec![deep]);
    }
    let mut deep_headers = Headers::new();
    deep_headers.insert("deep".into(), deep);
    match encode_commit(&deep_headers, std::slice::from_ref(&fine)) {
        Err(Error::InvalidHeaders { problem }) => assert!(problem.contains("deep"), "{problem}"),
        other => panic!("{other:?}"),
    }
    // (Dropped without recursing.)
    hollow_map(&mut deep_headers);
    // Snapshots alike.
    assert!(encode_snapshot(&Headers::new(), &json!({"note": TOKEN})).is_ok());
    let problem =
        encode_snapshot(&Headers::new(), &json!({"state": token_data(json!("1"))})).unwrap_err();
    assert!(problem.contains(TOKEN), "{problem}");
}
