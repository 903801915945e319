//! `foldstore demo`: the tutorial's membership database, shared with the library's
//! `memberlist` example so that the two never drift apart.

// The example's domain model offers more operations than the tour uses.
#[allow(dead_code)]
#[path = "../../foldstore/examples/memberlist/model.rs"]
mod model;
#[path = "../../foldstore/examples/memberlist/tour.rs"]
mod tour;

use std::io::Write;
use std::path::Path;

use anyhow::bail;
use foldstore::{Commit, Store};

use crate::output::printable;

/// Runs the tour on the store at `path`, which must be empty (or missing) or a store the demo
/// wrote: the demo writes, and another store is no place for its members.
///
/// # Errors
/// Another store (nothing written); errors of the store and of the tour.
pub fn run(path: &Path, out: &mut dyn Write) -> anyhow::Result<()> {
    let store = Store::open(path)?;
    let tip = store.tip()?;
    let holds_files = tip == 0
        && store
            .path()
            .and_then(|folder| std::fs::read_dir(folder).ok())
            .is_some_and(|mut entries| entries.next().is_some());
    if holds_files {
        bail!(
            "{} is not empty (it holds files, but no commits): run the demo on a new folder, \
             e.g. 'foldstore demo ./demo-store'; nothing was written",
            printable(&path.display().to_string())
        );
    }
    if tip > 0 && !is_demo_store(&store, tip)? {
        bail!(
            "{} holds commits the demo did not write (a demo store holds the demo's 2 commits \
             and nothing else): run the demo on a new folder, e.g. 'foldstore demo \
             ./demo-store'; nothing was written",
            printable(&path.display().to_string())
        );
    }
    tour::run(path, out).map_err(|e| match e.downcast::<std::io::Error>() {
        Ok(e) => anyhow::Error::from(*e),
        Err(e) => anyhow::anyhow!("{e}"),
    })
}

/// Whether the store holds what the demo writes and nothing else: commit 1 registering
/// arjan einbu, marit winge and peter pan, then (perhaps) commit 2 moving marit winge.
fn is_demo_store(store: &Store, tip: u64) -> anyhow::Result<bool> {
    if tip > 2 {
        return Ok(false);
    }
    let expected: [&[(&str, &str)]; 2] = [
        &[
            ("newMemberRegistered", "/member/name"),
            ("newMemberRegistered", "/member/name"),
            ("newMemberRegistered", "/member/name"),
        ],
        &[("memberHasMoved", "/name")],
    ];
    let people: [&[&str]; 2] = [
        &["arjan einbu", "marit winge", "peter pan"],
        &["marit winge"],
    ];
    for number in 1..=tip {
        let Some(bytes) = store.storage().read_commit(number)? else {
            return Ok(false);
        };
        let Ok(commit) = Commit::decode(number, &bytes) else {
            return Ok(false);
        };
        let index = usize::from(number == 2);
        let events = commit.events();
        if events.len() != expected[index].len() {
            return Ok(false);
        }
        for ((event, (name, pointer)), person) in
            events.iter().zip(expected[index]).zip(people[index])
        {
            let named = event
                .data()
                .and_then(|data| data.pointer(pointer))
                .and_then(|value| value.as_str());
            if event.name() != *name || named != Some(person) {
                return Ok(false);
            }
        }
    }
    Ok(true)
}
