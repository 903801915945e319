//! The original package reads chained commits: the link is an ordinary header.

use std::ffi::OsStr;

use foldstore::{Layout, Store};
use serde_json::Value;

use super::common::node::{node, node_output, node_scripts, original_package};
use super::{chained_store, member_event};

#[test]
fn the_original_package_replays_a_chained_store() {
    let Some(modules) = original_package("the chain's interop test (chain/interop.rs)") else {
        return;
    };
    let folder = tempfile::tempdir().unwrap();
    let store = chained_store(folder.path(), Layout::Loose);
    for i in 0..5 {
        store.log(&member_event(i)).unwrap();
    }
    let output = node_output(
        node(modules)
            .arg(node_scripts().join("replay.js"))
            .arg(OsStr::new(folder.path())),
    );
    let lines: Vec<Value> = output
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 5);
    let mut ours = Vec::new();
    Store::open(folder.path())
        .unwrap()
        .replay_event_stream(|event, headers| {
            ours.push((event.to_value(), Value::Object(headers.clone())))
        })
        .unwrap();
    for (line, (event, headers)) in lines.iter().zip(&ours) {
        assert_eq!(&line["event"], event);
        assert_eq!(&line["headers"], headers);
        assert!(line["headers"]["chain"]["commit"].is_u64(), "{line}");
    }
}
