//! `verify`: a sound store passes; every problem is listed with its path; warnings; the JSON
//! report.

use std::fs;

use serde_json::json;

use crate::util::{append, commit_text, five_commit_store, run, TestDir};

#[test]
fn verify_passes_a_sound_store() {
    let dir = TestDir::new();
    let store = five_commit_store(&dir);
    let outcome = run(["verify".as_ref(), store.as_os_str()]);
    outcome.expect_code(0);
    assert_eq!(outcome.stderr, "");
    assert_eq!(
        outcome.stdout,
        "ok: 5 commits (6 events) and 0 snapshots read; the store is sound\n"
    );
}

#[test]
fn verify_lists_every_problem_with_its_path() {
    let dir = TestDir::new();
    let store = dir.join("s");
    for i in 1..=7 {
        append(&store, &[&format!("e{i}")]);
    }
    let path = |name: &str| store.join(name).display().to_string();
    // A truncated commit, a gap, an empty commit, a snapshot holding garbage, a suspicious name.
    let two = commit_text(&store, 2);
    crate::util::write_old(&store.join("2.log"), &two[..20]);
    fs::remove_file(store.join("4.log")).expect("remove 4.log");
    crate::util::write_old(&store.join("6.log"), "");
    fs::write(store.join("3.m-snapshot"), "garbage\u{0}\u{1}").expect("write 3.m-snapshot");
    fs::write(store.join("007.log"), commit_text(&store, 1)).expect("write 007.log");

    let outcome = run(["verify".as_ref(), store.as_os_str()]);
    outcome.expect_code(1);
    let lines: Vec<&str> = outcome.stdout.lines().collect();
    let line_of = |prefix: &str| {
        lines
            .iter()
            .find(|line| line.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line starts with {prefix:?}:\n{}", outcome.stdout))
            .to_string()
    };
    assert!(line_of(&format!("{}: ", path("2.log"))).contains("not valid JSON"));
    assert!(line_of(&format!("{}: ", path("4.log"))).contains("missing"));
    assert!(line_of(&format!("{}: ", path("6.log"))).contains("is empty"));
    assert!(line_of(&format!("{}: ", path("3.m-snapshot"))).contains("not valid JSON"));
    assert!(line_of(&format!("warning: {}: ", path("007.log"))).contains("named like a commit"));
    // Sound commits are not reported; the summary counts what was found.
    for sound in ["1.log", "3.log", "5.log", "7.log"] {
        assert!(
            !outcome.stdout.contains(&format!("{}:", path(sound))),
            "{sound} reported:\n{}",
            outcome.stdout
        );
    }
    assert_eq!(
        lines.last().copied(),
        Some("4 problems found; 4 commits (4 events) and 0 snapshots read without problems")
    );
    assert_eq!(lines.len(), 6, "{}", outcome.stdout);
}

#[test]
fn verify_warnings_do_not_fail_a_sound_store() {
    let dir = TestDir::new();
    let store = dir.join("s");
    append(&store, &["e1"]);
    append(&store, &["e2", "2"]);
    fs::write(store.join("007.log"), commit_text(&store, 1)).expect("write 007.log");
    fs::write(store.join("notes.txt"), "not part of the store").expect("write notes.txt");
    let outcome = run(["verify".as_ref(), store.as_os_str()]);
    outcome.expect_code(0);
    let warning = format!("warning: {}: ", store.join("007.log").display());
    let lines: Vec<&str> = outcome.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", outcome.stdout);
    assert!(lines[0].starts_with(&warning), "{}", outcome.stdout);
    assert_eq!(
        lines[1],
        "ok: 2 commits (2 events) and 0 snapshots read; the store is sound"
    );
}

#[test]
fn verify_json_is_one_report_object() {
    let dir = TestDir::new();
    let store = five_commit_store(&dir);
    let outcome = run(["verify".as_ref(), store.as_os_str(), "--json".as_ref()]);
    outcome.expect_code(0);
    assert_eq!(outcome.stderr, "");
    assert_eq!(
        outcome.json_lines(),
        [json!({
            "sound": true,
            "tip": 5,
            "sound_commits": 5,
            "events": 6,
            "sound_snapshots": 0,
            "log_start": 1,
            "problems": [],
            "warnings": [],
        })]
    );

    fs::remove_file(store.join("2.log")).expect("remove 2.log");
    fs::write(store.join("007.log"), commit_text(&store, 1)).expect("write 007.log");
    let outcome = run(["verify".as_ref(), store.as_os_str(), "--json".as_ref()]);
    outcome.expect_code(1);
    let report = &outcome.json_lines()[0];
    assert_eq!(report["sound"], false);
    assert_eq!(report["sound_commits"], 4);
    assert_eq!(
        report["problems"][0]["location"],
        store.join("2.log").display().to_string()
    );
    assert!(report["problems"][0]["problem"]
        .as_str()
        .is_some_and(|p| p.contains("missing")));
    assert_eq!(
        report["warnings"][0]["location"],
        store.join("007.log").display().to_string()
    );
    assert_eq!(report["problems"].as_array().map(Vec::len), Some(1));
}

#[test]
fn verify_counts_in_words_that_agree_with_the_numbers() {
    let dir = TestDir::new();
    let store = dir.join("s");
    append(&store, &["e1"]);
    let outcome = run(["verify".as_ref(), store.as_os_str()]);
    outcome.expect_code(0);
    assert_eq!(
        outcome.stdout,
        "ok: 1 commit (1 event) and 0 snapshots read; the store is sound\n"
    );
    append(&store, &["e2"]);
    crate::util::write_old(&store.join("2.log"), "");
    let outcome = run(["verify".as_ref(), store.as_os_str()]);
    outcome.expect_code(1);
    assert_eq!(
        outcome.stdout.lines().last(),
        Some("1 problem found; 1 commit (1 event) and 0 snapshots read without problems")
    );
}

#[test]
fn verify_says_a_folder_of_other_files_is_most_likely_not_a_store() {
    let dir = TestDir::new();
    let folder = dir.join("etc");
    fs::create_dir_all(folder.join("apt")).expect("create a folder");
    for name in ["hosts", "passwd", "fstab", "hostname"] {
        fs::write(folder.join(name), "not a commit").expect("write a file");
    }
    let outcome = run(["verify".as_ref(), folder.as_os_str()]);
    outcome.expect_code(1).expect_stdout_contains(&[
        &format!("{}: is most likely not a store", folder.display()),
        "no commits and no snapshots, but 5 other entries (apt, fstab, hostname, ...)",
        "check the path",
    ]);
    assert!(!outcome.stdout.contains("sound"), "{}", outcome.stdout);
    let json = run(["verify".as_ref(), folder.as_os_str(), "--json".as_ref()]);
    json.expect_code(1);
    let report = &json.json_lines()[0];
    assert_eq!(report["sound"], false);
    assert_eq!(
        report["problems"][0]["location"],
        folder.display().to_string()
    );

    // A truly empty folder is an empty store; foldstore's own entries do not count.
    let empty = dir.join("empty");
    fs::create_dir_all(empty.join("foldstore-quarantine")).expect("create a folder");
    fs::write(empty.join(".foldstore-tmp-1"), "").expect("write a file");
    run(["verify".as_ref(), empty.as_os_str()])
        .expect_code(0)
        .expect_stdout_contains(&["ok: 0 commits (0 events) and 0 snapshots read"]);
    // So is a new journal store, and a store with commits is one whatever else it holds.
    let journal = dir.join("journal");
    run([
        "append".as_ref(),
        journal.as_os_str(),
        "e".as_ref(),
        "--layout".as_ref(),
        "journal".as_ref(),
    ])
    .expect_code(0);
    run(["verify".as_ref(), journal.as_os_str()]).expect_code(0);
    append(&folder, &["first"]);
    run(["verify".as_ref(), folder.as_os_str()]).expect_code(0);
}

#[test]
fn errors_and_findings_say_their_cause_once() {
    let dir = TestDir::new();
    let store = dir.join("s");
    append(&store, &["e1"]);
    append(&store, &["e2"]);
    // A folder where commit 2 should be: its error quotes the cause it also carries.
    fs::remove_file(store.join("2.log")).expect("remove 2.log");
    fs::create_dir(store.join("2.log")).expect("create a folder");
    let cause = "is a folder, not a regular file";
    for (verb, args) in [("show", &["2"][..]), ("log", &[]), ("events", &[])] {
        let outcome = run([verb.as_ref(), store.as_os_str()]
            .into_iter()
            .chain(args.iter().map(|a| a.as_ref())));
        outcome.expect_code(1);
        assert_eq!(
            outcome.stderr.matches(cause).count(),
            1,
            "{verb}: {}",
            outcome.stderr
        );
    }
    for verb in ["verify", "stats"] {
        let outcome = run([verb.as_ref(), store.as_os_str()]);
        outcome.expect_code(1);
        assert_eq!(
            outcome.stdout.matches(cause).count(),
            1,
            "{verb}: {}",
            outcome.stdout
        );
        // The location is named by the problem itself, and not repeated before it.
        let path = store.join("2.log").display().to_string();
        let line = outcome
            .stdout
            .lines()
            .find(|l| l.contains(cause))
            .expect("a line");
        assert!(
            !line.trim_start().starts_with(&format!("{path}: ")),
            "{verb}: {line}"
        );
    }
}

#[test]
fn verify_warns_of_a_torn_journal_tail_and_the_next_append_moves_it_aside() {
    let dir = TestDir::new();
    let store = dir.join("j");
    run([
        "append".as_ref(),
        store.as_os_str(),
        "e1".as_ref(),
        "--layout".as_ref(),
        "journal".as_ref(),
    ])
    .expect_code(0);
    append(&store, &["e2"]);
    // A write cut short: the start of a record after the last whole one, in the free space.
    let segment = fs::read_dir(store.join("journal"))
        .expect("list the journal")
        .map(|entry| entry.expect("an entry").path())
        .find(|path| path.extension().is_some_and(|e| e == "jsonl"))
        .expect("a segment");
    let mut bytes = fs::read(&segment).expect("read the segment");
    let end = bytes.iter().rposition(|b| *b == b'\n').expect("a record") + 1;
    let torn = br#"{"n":3,"len":71,"crc32":"00"#;
    bytes[end..end + torn.len()].copy_from_slice(torn);
    fs::write(&segment, &bytes).expect("write the segment");

    let outcome = run(["verify".as_ref(), store.as_os_str()]);
    outcome.expect_code(0);
    let lines: Vec<&str> = outcome.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", outcome.stdout);
    assert!(
        lines[0].starts_with(&format!("warning: {}: ", segment.display())),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains("interrupted write"), "{}", lines[0]);
    assert!(lines[1].starts_with("ok: 2 commits"), "{}", lines[1]);
    let json = run(["verify".as_ref(), store.as_os_str(), "--json".as_ref()]);
    assert_eq!(
        json.json_lines()[0]["warnings"][0]["location"],
        segment.display().to_string()
    );
    // The next append moves the torn bytes aside, saying so in the style of foldstore's own
    // warnings; verify has nothing more to say.
    let appended = run(["append".as_ref(), store.as_os_str(), "e3".as_ref()]);
    appended.expect_code(0);
    assert_eq!(appended.stdout, "3\n");
    assert!(
        appended
            .stderr
            .starts_with("warning: cut off the torn end of a journal segment"),
        "{}",
        appended.stderr
    );
    assert!(appended.stderr.contains("(segment="), "{}", appended.stderr);
    assert!(!appended.stderr.contains("WARN"), "{}", appended.stderr);
    assert_eq!(appended.stderr.lines().count(), 1, "{}", appended.stderr);
    let outcome = run(["verify".as_ref(), store.as_os_str()]);
    outcome.expect_code(0);
    assert_eq!(
        outcome.stdout,
        "ok: 3 commits (3 events) and 0 snapshots read; the store is sound\n"
    );
}

/// Temporary files (a write at work, or one a `kill -9` stopped) are warnings naming
/// `foldstore gc`, in text and JSON; the store stays sound.
#[test]
fn verify_warns_of_leftover_temporary_files_and_points_to_gc() {
    let dir = TestDir::new();
    let store = five_commit_store(&dir);
    let stale = store.join(".foldstore-tmp-copy-3");
    fs::write(&stale, "{\"headers\":").expect("write a temporary file");
    let hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3 * 3600);
    fs::File::options()
        .write(true)
        .open(&stale)
        .and_then(|file| file.set_modified(hours_ago))
        .expect("date the file back");
    let young = store.join(".foldstore-tmp-copy-4");
    fs::write(&young, "{").expect("write a temporary file");

    let outcome = run(["verify".as_ref(), store.as_os_str()]);
    outcome.expect_code(0);
    let lines: Vec<&str> = outcome.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", outcome.stdout);
    assert_eq!(
        lines[0],
        format!(
            "warning: {}: is a temporary file of a write that stopped, 3 hours old; \
             'foldstore gc --apply' removes it",
            stale.display()
        )
    );
    assert!(
        lines[1].starts_with(&format!("warning: {}: ", young.display())),
        "{}",
        lines[1]
    );
    assert!(lines[1].contains("a write at work, or one that stopped"));
    assert!(lines[1].contains("'foldstore gc --apply' removes it once it is an hour old"));
    assert!(lines[2].starts_with("ok: 5 commits"), "{}", lines[2]);

    let json = run(["verify".as_ref(), store.as_os_str(), "--json".as_ref()]);
    json.expect_code(0);
    let report = &json.json_lines()[0];
    assert_eq!(report["sound"], true);
    let warnings = report["warnings"].as_array().expect("an array");
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert_eq!(warnings[0]["location"], stale.display().to_string());
    assert!(warnings[0]["problem"]
        .as_str()
        .expect("a problem")
        .contains("foldstore gc"));

    // Once gc has removed the stale one, verify no longer mentions it.
    run(["gc".as_ref(), store.as_os_str(), "--apply".as_ref()]).expect_code(0);
    let outcome = run(["verify".as_ref(), store.as_os_str()]);
    assert!(!outcome.stdout.contains(".foldstore-tmp-copy-3"));
    assert!(outcome.stdout.contains(".foldstore-tmp-copy-4"));
}
