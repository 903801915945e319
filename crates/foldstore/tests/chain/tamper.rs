//! Commits edited, removed, swapped and inserted after they were written: `verify_chain`
//! names the first commit where the chain breaks, and what happened to it, in a loose folder
//! and a journal alike. A tampered log is made by writing the changed documents, byte for
//! byte, into a new store with `Storage::create_commit` (as an attacker with write access to
//! the files could); the loose folder is also changed in place.

use std::fs;
use std::path::Path;

use foldstore::{BreakKind, Event, Layout, Store};

use super::{chain_of, chained_store, member_event};

/// The commits of a log of `count` commits, chained from commit `start` on (the commits before
/// it written without the chain), as stored.
fn chained_documents(folder: &Path, count: u64, start: u64) -> Vec<Vec<u8>> {
    let plain = Store::open(folder).unwrap();
    plain.ensure_folder().unwrap();
    for i in 1..start {
        plain.log(&member_event(i)).unwrap();
    }
    let chained = chained_store(folder, Layout::Loose);
    for i in start..=count {
        chained.log(&member_event(i)).unwrap();
    }
    let (chain, problems) = chain_of(&chained);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(chain.started, Some(start));
    assert_eq!(chain.chained, count - start + 1);
    (1..=count)
        .map(|k| chained.storage().read_commit(k).unwrap().unwrap())
        .collect()
}

/// A new store of `layout` in `folder` holding `documents` as commits 1, 2, ...
fn store_of(folder: &Path, layout: Layout, documents: &[Vec<u8>]) -> Store {
    let store = Store::builder(folder).layout(layout).open().unwrap();
    store.ensure_folder().unwrap();
    for (k, document) in (1..).zip(documents) {
        store.storage().create_commit(k, document).unwrap().unwrap();
    }
    store
}

/// The break `verify_chain` finds in `documents` stored in each layout: the same in both.
#[track_caller]
fn break_in(documents: &[Vec<u8>]) -> (u64, BreakKind, String) {
    let mut found = Vec::new();
    for layout in [Layout::Loose, Layout::Journal] {
        let folder = tempfile::tempdir().unwrap();
        let store = store_of(folder.path(), layout, documents);
        let (chain, problems) = chain_of(&store);
        let broken = chain
            .broken
            .unwrap_or_else(|| panic!("{layout:?}: no break found; problems {problems:?}"));
        assert!(
            problems.iter().any(|p| p.contains("breaks the chain")),
            "{layout:?}: {problems:?}"
        );
        assert!(
            broken.location.contains(&broken.commit.to_string())
                || broken.location.contains("journal"),
            "{layout:?}: {broken:?}"
        );
        found.push((broken.commit, broken.kind, broken.problem));
    }
    assert_eq!(
        (found[0].0, found[0].1),
        (found[1].0, found[1].1),
        "the layouts disagree"
    );
    found.remove(0)
}

fn edited(document: &[u8]) -> Vec<u8> {
    let text = String::from_utf8(document.to_vec()).unwrap();
    assert!(text.contains("\"member "), "{text}");
    text.replacen("\"member ", "\"mumber ", 1).into_bytes()
}

#[test]
fn an_untouched_chain_is_sound_in_both_layouts() {
    let folder = tempfile::tempdir().unwrap();
    let documents = chained_documents(folder.path(), 8, 1);
    for layout in [Layout::Loose, Layout::Journal] {
        let copy = tempfile::tempdir().unwrap();
        let (chain, problems) = chain_of(&store_of(copy.path(), layout, &documents));
        assert!(problems.is_empty(), "{layout:?}: {problems:?}");
        assert_eq!((chain.started, chain.chained), (Some(1), 8));
        assert!(chain.broken.is_none());
    }
}

#[test]
fn an_edited_commit_is_named() {
    let folder = tempfile::tempdir().unwrap();
    let mut documents = chained_documents(folder.path(), 8, 1);
    documents[2] = edited(&documents[2]);
    let (commit, kind, problem) = break_in(&documents);
    assert_eq!((commit, kind), (3, BreakKind::Edited), "{problem}");
    assert!(problem.contains("commit 3 was changed"), "{problem}");
}

#[test]
fn the_start_of_a_chain_edited_or_stripped_of_its_header_is_named() {
    let folder = tempfile::tempdir().unwrap();
    let documents = chained_documents(folder.path(), 6, 3);
    let mut changed = documents.clone();
    changed[2] = edited(&changed[2]);
    assert_eq!(break_in(&changed).0, 3);
    // The start's header removed: commit 4 then follows a commit without one.
    let mut stripped = documents.clone();
    let text = String::from_utf8(stripped[2].clone()).unwrap();
    let without = text.replace(",\"chain\":{\"commit\":3,\"start\":true}", "");
    assert_ne!(without, text);
    stripped[2] = without.into_bytes();
    let (commit, kind, problem) = break_in(&stripped);
    assert_eq!((commit, kind), (3, BreakKind::Edited), "{problem}");
}

#[test]
fn a_removed_commit_is_named_whether_the_rest_was_renumbered_or_not() {
    let folder = tempfile::tempdir().unwrap();
    let mut documents = chained_documents(folder.path(), 8, 1);
    // Renumbered: commit 4 is gone, 5 is now 4, and so on.
    documents.remove(3);
    let (commit, kind, problem) = break_in(&documents);
    assert_eq!((commit, kind), (4, BreakKind::Removed), "{problem}");
    assert!(problem.contains("written as commit 5"), "{problem}");
    // Two removed.
    documents.remove(3);
    let (commit, kind, problem) = break_in(&documents);
    assert_eq!((commit, kind), (4, BreakKind::Removed), "{problem}");
    assert!(
        problem.contains("2 commits before it were removed"),
        "{problem}"
    );

    // A gap in a loose folder: 4.log deleted, nothing renumbered.
    let folder = tempfile::tempdir().unwrap();
    chained_documents(folder.path(), 8, 1);
    fs::remove_file(folder.path().join("4.log")).unwrap();
    let (chain, _) = chain_of(&Store::open(folder.path()).unwrap());
    let broken = chain.broken.expect("a break");
    assert_eq!(
        (broken.commit, broken.kind),
        (4, BreakKind::Removed),
        "{broken:?}"
    );
}

#[test]
fn swapped_commits_are_named() {
    let folder = tempfile::tempdir().unwrap();
    let mut documents = chained_documents(folder.path(), 8, 1);
    documents.swap(4, 5);
    let (commit, kind, problem) = break_in(&documents);
    assert_eq!((commit, kind), (5, BreakKind::Swapped), "{problem}");
    assert!(
        problem.contains("commits 5 and 6 were swapped"),
        "{problem}"
    );

    // In place, in a loose folder.
    let folder = tempfile::tempdir().unwrap();
    chained_documents(folder.path(), 8, 1);
    let (a, b, t) = (
        folder.path().join("2.log"),
        folder.path().join("3.log"),
        folder.path().join("t"),
    );
    fs::rename(&a, &t).unwrap();
    fs::rename(&b, &a).unwrap();
    fs::rename(&t, &b).unwrap();
    let (chain, _) = chain_of(&Store::open(folder.path()).unwrap());
    let broken = chain.broken.expect("a break");
    assert_eq!(
        (broken.commit, broken.kind),
        (2, BreakKind::Swapped),
        "{broken:?}"
    );
}

#[test]
fn an_inserted_commit_is_named_even_with_a_forged_link() {
    let folder = tempfile::tempdir().unwrap();
    let documents = chained_documents(folder.path(), 8, 1);

    // A plain commit inserted before commit 3 (the rest renumbered).
    let other = tempfile::tempdir().unwrap();
    let plain = Store::open(other.path()).unwrap();
    plain.ensure_folder().unwrap();
    plain.log(&Event::new("forged")).unwrap();
    let forged_plain = plain.storage().read_commit(1).unwrap().unwrap();
    let mut inserted = documents.clone();
    inserted.insert(2, forged_plain);
    let (commit, kind, problem) = break_in(&inserted);
    assert_eq!((commit, kind), (3, BreakKind::Unchained), "{problem}");

    // A commit with a well-forged link to commit 2: the commit after it gives it away.
    let forger_folder = tempfile::tempdir().unwrap();
    store_of(forger_folder.path(), Layout::Loose, &documents[..2]);
    let forger = Store::builder(forger_folder.path())
        .chain(true)
        .open()
        .unwrap();
    forger.log(&Event::new("forged")).unwrap();
    let forged = forger.storage().read_commit(3).unwrap().unwrap();
    let mut inserted = documents.clone();
    inserted.insert(2, forged);
    let (commit, kind, problem) = break_in(&inserted);
    assert_eq!((commit, kind), (3, BreakKind::Inserted), "{problem}");
    assert!(
        problem.contains("commit 4 was written as commit 3"),
        "{problem}"
    );
}

#[test]
fn a_commit_without_the_header_after_the_start_is_named() {
    let folder = tempfile::tempdir().unwrap();
    let mut documents = chained_documents(folder.path(), 5, 2);
    let other = tempfile::tempdir().unwrap();
    let plain = Store::open(other.path()).unwrap();
    plain.ensure_folder().unwrap();
    plain
        .log(&Event::new("appended by another program"))
        .unwrap();
    documents.push(plain.storage().read_commit(1).unwrap().unwrap());
    let (commit, kind, problem) = break_in(&documents);
    assert_eq!((commit, kind), (6, BreakKind::Unchained), "{problem}");
    assert!(
        problem.contains("though the chain started at commit 2"),
        "{problem}"
    );
}

#[test]
fn a_log_without_a_chain_is_a_problem_for_verify_chain_only() {
    let folder = tempfile::tempdir().unwrap();
    let store = Store::open(folder.path()).unwrap();
    store.ensure_folder().unwrap();
    assert!(
        store.verify_chain(|_, _| {}).unwrap().is_sound(),
        "an empty store"
    );
    store.log(&member_event(1)).unwrap();
    assert!(store.verify(|_, _| {}).unwrap().is_sound());
    let (chain, problems) = chain_of(&store);
    assert_eq!(chain.started, None);
    assert!(
        problems.iter().any(|p| p.contains("has not started")),
        "{problems:?}"
    );
}
