//! A walk through the membership database: the program behind `foldstore demo`.

use std::io::Write;
use std::path::Path;

use foldstore::DEFAULT_MAX_ATTEMPTS;
use foldstore::{Error, Store};
use serde_json::json;

use super::model::{MemberList, Membership};

/// Registers and moves members of the store at `path` through read-write instances, shows
/// that a refused event and an instance never marked ready write nothing, takes a snapshot
/// (unless the one at the end of the log exists), and prints the state.
///
/// Running it again on the same store goes on from where the store is: members that exist are
/// not registered twice, because the model refuses it.
///
/// # Errors
/// Errors of the store, and of writing to `out`.
pub fn run(path: &Path, out: &mut dyn Write) -> Result<(), Box<dyn std::error::Error>> {
    let store = Store::open(path)?;
    store.ensure_folder()?;
    let members = store.define_model(Membership)?;
    writeln!(out, "The membership list in {}:", path.display())?;

    let registered = members.with_read_write_instance(
        |list, flag| {
            let mut added = Vec::new();
            for (name, address, level) in [
                (
                    "arjan einbu",
                    json!({"street": "Rykkinnveien 1", "city": "Rykkinn"}),
                    Some("silver"),
                ),
                (
                    "marit winge",
                    json!({"street": "Rykkinnveien 1", "city": "Rykkinn"}),
                    Some("bronze"),
                ),
                ("peter pan", json!("neverland"), None),
            ] {
                if list.member(name).is_none() {
                    list.register_new_member(name, address, level)?;
                    added.push(name);
                }
            }
            flag.ready_to_commit();
            Ok::<_, Error>(added)
        },
        DEFAULT_MAX_ATTEMPTS,
    )?;
    match registered.commit {
        Some(commit) => writeln!(
            out,
            "  commit {commit}: registered {}",
            registered.value.join(", ")
        )?,
        None => writeln!(out, "  everyone is registered already")?,
    }

    let refused = members.with_read_write_instance(
        |list, flag| {
            list.register_new_member("peter pan", json!("london"), None)?;
            flag.ready_to_commit();
            Ok::<_, Error>(())
        },
        DEFAULT_MAX_ATTEMPTS,
    );
    if let Err(e) = refused {
        writeln!(out, "  registering peter pan again is refused: {e}")?;
    }

    let moved = members.with_read_write_instance(
        |list, flag| {
            let address = json!({"street": "Rykkinnveien 2", "city": "Rykkinn"});
            if list
                .member("marit winge")
                .is_some_and(|m| m.address != address)
            {
                list.member_has_moved("marit winge", address)?;
                // The instance reads its own writes before they are committed.
                assert_eq!(
                    list.member("marit winge").map(|m| &m.address["street"]),
                    Some(&json!("Rykkinnveien 2"))
                );
            }
            flag.ready_to_commit();
            Ok::<_, Error>(())
        },
        DEFAULT_MAX_ATTEMPTS,
    )?;
    if let Some(commit) = moved.commit {
        writeln!(out, "  commit {commit}: marit winge has moved")?;
    }

    let unmarked = members.with_read_write_instance(
        |list, _flag| {
            if list.member("arjan einbu").is_some() {
                list.end_membership("arjan einbu")?;
            }
            Ok::<_, Error>(())
        },
        DEFAULT_MAX_ATTEMPTS,
    )?;
    writeln!(
        out,
        "  an instance that ended arjan einbu's membership but never called ready_to_commit \
         wrote {}",
        unmarked
            .commit
            .map_or("nothing".to_owned(), |c| format!("commit {c}"))
    )?;

    let tip = store.tip()?;
    let saved_before = tip > 0 && store.storage().read_snapshot("memberlist", tip)?.is_some();
    if let Some(label) = members.snapshot()? {
        let file = format!("{label}.memberlist-snapshot");
        if saved_before && label == tip {
            writeln!(
                out,
                "  the snapshot at commit {label} ({file}) is there already"
            )?;
        } else {
            writeln!(out, "  snapshot saved at commit {label} ({file})")?;
        }
    }

    let list: MemberList = (*members.aggregator_data()?).clone();
    writeln!(out, "Members now:")?;
    for (name, member) in &list.members {
        let level = member.membership_level.as_deref().unwrap_or("-");
        writeln!(out, "  {name:<14} {level:<8} {}", member.address)?;
    }
    let first = members.at_commit(1)?;
    let count = |n: usize, thing: &str| match n {
        1 => format!("1 {thing}"),
        n => format!("{n} {thing}s"),
    };
    writeln!(
        out,
        "At commit 1 the list had {}; now {} after {}.",
        count(first.data().members.len(), "member"),
        count(list.members.len(), "member"),
        count(
            usize::try_from(store.tip()?).unwrap_or(usize::MAX),
            "commit"
        )
    )?;
    writeln!(
        out,
        "Inspect the log with: foldstore events {}",
        path.display()
    )?;
    writeln!(
        out,
        "Check every file with: foldstore verify {}",
        path.display()
    )?;
    Ok(())
}
