//! What every verb shares: errors for a wrong path, `| head`, colors, progress, help and
//! completions; run as the real binary.

mod util;

use std::ffi::OsString;
use std::fs;
use std::path::Path;

use serde_json::json;

use util::{
    five_commit_store, many_commit_store, run, run_into_closed_pipe, run_with_env, TestDir,
    VERBS_WITH_EXAMPLES,
};

/// Every verb that reads a store, with the arguments after STORE.
const READ_VERBS: [(&str, &[&str]); 16] = [
    ("events", &[]),
    ("events", &["--pretty"]),
    ("log", &[]),
    ("log", &["--json"]),
    ("ls", &[]),
    ("show", &["2"]),
    ("show", &["2", "--json"]),
    ("tail", &[]),
    ("stats", &[]),
    ("stats", &["--json"]),
    ("snapshots", &[]),
    ("snapshots", &["--json"]),
    ("schema", &[]),
    ("schema", &["--json"]),
    ("verify", &[]),
    ("verify", &["--json"]),
];

fn args(verb: &str, store: &Path, rest: &[&str]) -> Vec<OsString> {
    let mut args = vec![OsString::from(verb), store.as_os_str().to_owned()];
    args.extend(rest.iter().map(OsString::from));
    args
}

#[test]
fn every_verb_says_there_is_no_store() {
    let dir = TestDir::new();
    let missing = dir.join("nothing/here");
    let file = dir.join("file");
    fs::write(&file, "x").expect("write a file");
    for (verb, rest) in READ_VERBS {
        let outcome = run(args(verb, &missing, rest));
        outcome
            .expect_code(1)
            .expect_stderr_contains(&["no store at", &missing.display().to_string()]);
        assert_eq!(outcome.stdout, "", "{verb} {rest:?}");
        run(args(verb, &file, rest))
            .expect_code(1)
            .expect_stderr_contains(&["is not a folder"]);
    }
    assert!(
        !dir.join("nothing").exists(),
        "a read verb created the folder"
    );
}

#[test]
fn no_verb_fails_into_a_closed_pipe() {
    let dir = TestDir::new();
    let store = five_commit_store(&dir);
    let to = dir.join("copy");
    let mut cases: Vec<Vec<OsString>> = READ_VERBS
        .iter()
        .map(|(verb, rest)| args(verb, &store, rest))
        .collect();
    cases.push(vec!["copy".into(), store.clone().into(), to.clone().into()]);
    cases.push(vec!["completions".into(), "bash".into()]);
    cases.push(vec!["append".into(), store.clone().into(), "late".into()]);
    cases.push(vec!["demo".into(), dir.join("demo").into()]);
    for case in cases {
        let (code, stderr) = run_into_closed_pipe(&case);
        assert_eq!(code, Some(0), "{case:?}: {stderr}");
        assert_eq!(stderr, "", "{case:?}");
    }
}

#[test]
fn colors_only_on_a_terminal_or_when_asked() {
    let dir = TestDir::new();
    let store = five_commit_store(&dir);
    fs::write(
        store.join("2.m-snapshot"),
        r#"{"headers":{"time":"2026-11-27T15:03:31.000Z"},"snapshot":1}"#,
    )
    .expect("write a snapshot");
    let colored_verbs: [(&str, &[&str]); 8] = [
        ("events", &["--pretty"]),
        ("log", &[]),
        ("show", &["2"]),
        ("tail", &[]),
        ("stats", &[]),
        ("snapshots", &[]),
        ("schema", &[]),
        ("verify", &[]),
    ];
    for (verb, rest) in colored_verbs {
        let plain = run_with_env(args(verb, &store, rest), &[]);
        plain.expect_code(0);
        assert!(
            !plain.stdout.contains('\u{1b}'),
            "{verb}: {:?}",
            plain.stdout
        );

        let mut always = vec![OsString::from("--color"), OsString::from("always")];
        always.extend(args(verb, &store, rest));
        let colored = run_with_env(&always, &[]);
        colored.expect_code(0);
        assert!(
            colored.stdout.contains("\u{1b}["),
            "{verb}: {:?}",
            colored.stdout
        );
        assert_eq!(util::strip_ansi(&colored.stdout), plain.stdout, "{verb}");

        // CLICOLOR_FORCE asks for colors without a terminal; NO_COLOR wins over it...
        let forced = run_with_env(args(verb, &store, rest), &[("CLICOLOR_FORCE", "1")]);
        assert!(forced.stdout.contains("\u{1b}["), "{verb}");
        let no_color = run_with_env(
            args(verb, &store, rest),
            &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")],
        );
        assert_eq!(no_color.stdout, plain.stdout, "{verb}");
        // ...and so does --color never.
        let mut never = vec![OsString::from("--color"), OsString::from("never")];
        never.extend(args(verb, &store, rest));
        let never = run_with_env(&never, &[("CLICOLOR_FORCE", "1")]);
        assert_eq!(never.stdout, plain.stdout, "{verb}");
    }
    // Machine-readable output is never colored.
    for (verb, rest) in [
        ("events", &[][..]),
        ("log", &["--json"]),
        ("show", &["2", "--json"]),
    ] {
        let mut always = vec![OsString::from("--color"), OsString::from("always")];
        always.extend(args(verb, &store, rest));
        let outcome = run_with_env(&always, &[]);
        assert!(!outcome.stdout.contains('\u{1b}'), "{verb} {rest:?}");
    }
}

#[test]
fn no_progress_bar_when_standard_error_is_not_a_terminal() {
    let dir = TestDir::new();
    let store = many_commit_store(&dir, "many", 2000);
    let to = dir.join("copy");
    let cases: [Vec<OsString>; 5] = [
        args("verify", &store, &[]),
        args("schema", &store, &[]),
        args("stats", &store, &[]),
        args("events", &store, &[]),
        vec!["copy".into(), store.clone().into(), to.into()],
    ];
    for case in cases {
        let outcome = run(&case);
        outcome.expect_code(0);
        assert_eq!(outcome.stderr, "", "{case:?}");
    }
}

#[test]
fn help_of_every_verb_shows_examples() {
    for verb in VERBS_WITH_EXAMPLES {
        run([verb, "--help"])
            .expect_code(0)
            .expect_stdout_contains(&["Example", &format!("foldstore {verb} ./")]);
    }
    run(["ls", "--help"])
        .expect_code(0)
        .expect_stdout_contains(&["foldstore ls ./"]);
    run(["completions", "--help"])
        .expect_code(0)
        .expect_stdout_contains(&["Examples", "foldstore completions bash"]);
    run(["events", "--help"]).expect_stdout_contains(&["--name", "--since", "--until", "--pretty"]);
    run(["log", "--help"]).expect_stdout_contains(&["--name", "--since", "--until", "--json"]);
    let tail = run(["tail", "--help"]);
    tail.expect_stdout_contains(&["--follow", "-n, --lines", "notifications"]);
    assert!(!tail.stdout.contains("polls"), "{}", tail.stdout);
    run(["copy", "--help"]).expect_stdout_contains(&["--force", "resume"]);
    let top = run(["--help"]);
    top.expect_code(0).expect_stdout_contains(&[
        "Exit status",
        "--color",
        "NO_COLOR",
        "Times (--since, --until)",
        "[alias: ls]",
    ]);
    for verb in VERBS_WITH_EXAMPLES.into_iter().chain(["completions"]) {
        assert!(
            top.stdout.lines().any(|l| l.trim_start().starts_with(verb)),
            "--help does not list {verb}:\n{}",
            top.stdout
        );
    }
}

#[test]
fn completions_for_every_shell() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let outcome = run(["completions", shell]);
        outcome.expect_code(0);
        assert_eq!(outcome.stderr, "", "{shell}");
        for word in ["foldstore", "tail", "snapshots", "copy", "since"] {
            assert!(
                outcome.stdout.contains(word),
                "{shell} completions lack {word}"
            );
        }
    }
    run(["completions", "tcsh"]).expect_code(2);
    run(["completions"]).expect_code(2);
}

/// Whether `c` would act on a terminal instead of showing: a control character other than the
/// line ends, or one that reorders the text after it.
fn acts_on_a_terminal(c: char) -> bool {
    (c.is_control() && c != '\n') || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[test]
fn control_characters_are_escaped_in_everything_people_read() {
    let dir = TestDir::new();
    // The store's own path holds an escape too: stats prints it, errors name it.
    let store = dir.join("s\u{1b}[2J");
    fs::create_dir(&store).expect("create the store");
    let document = json!({
        "headers": {"time": "2026-11-27T15:03:30.380Z", "user": "x\u{1b}]0;pwned\u{7}", "k\u{9b}ey": 1},
        "events": [
            {"name": "clear\u{1b}[2Jscreen", "data": {"text": "c1\u{9b}31m del\u{7f} \u{202e}rtl"}},
            {"name": "tab\there", "extra\u{1b}": "a\nb"},
            {"name": "new\nline"},
        ],
    });
    fs::write(store.join("1.log"), document.to_string()).expect("write 1.log");
    let verbs: [(&str, &[&str]); 7] = [
        ("log", &[]),
        ("schema", &[]),
        ("tail", &[]),
        ("show", &["1"]),
        ("stats", &[]),
        ("events", &["--pretty"]),
        ("verify", &[]),
    ];
    for (verb, rest) in verbs {
        let outcome = run(args(verb, &store, rest));
        outcome.expect_code(0);
        let shown = format!("{}{}", outcome.stdout, outcome.stderr);
        assert!(
            !shown.chars().any(acts_on_a_terminal),
            "{verb} printed a raw control character: {shown:?}"
        );
        if !matches!(verb, "events" | "verify") {
            assert!(shown.contains("clear\\u{1b}[2Jscreen"), "{verb}: {shown}");
        }
    }
    // The table keeps its layout: one line per commit, the names escaped readably.
    let log = run(args("log", &store, &[]));
    assert_eq!(log.stdout.lines().count(), 2, "{}", log.stdout);
    assert!(
        log.stdout
            .contains("clear\\u{1b}[2Jscreen, tab\\there, new\\nline"),
        "{}",
        log.stdout
    );
    let show = run(args("show", &store, &["1"])).stdout;
    for part in [
        "x\\u{1b}]0;pwned\\u{7}",
        "k\\u{9b}ey:",
        "extra\\u{1b}:",
        "\"c1\\u009b31m del\\u007f \\u202ertl\"",
    ] {
        assert!(show.contains(part), "show lacks {part:?}:\n{show}");
    }
    assert!(run(args("stats", &store, &[]))
        .stdout
        .contains("s\\u{1b}[2J"));

    // JSON output is unchanged: the same strings, escaped as JSON.
    let events = run(args("events", &store, &[])).json_lines();
    assert_eq!(events[0]["name"], json!("clear\u{1b}[2Jscreen"));
    assert_eq!(
        events[0]["data"]["text"],
        json!("c1\u{9b}31m del\u{7f} \u{202e}rtl")
    );
    let pretty = run(args("events", &store, &["--pretty"])).stdout;
    let first: serde_json::Value = serde_json::Deserializer::from_str(&pretty)
        .into_iter()
        .next()
        .expect("a value")
        .expect("JSON");
    assert_eq!(first, events[0]);
    let shown = run(args("show", &store, &["1", "--json"])).stdout;
    let commit: serde_json::Value = serde_json::from_str(&shown).expect("JSON");
    assert_eq!(commit["headers"], document["headers"]);
    assert_eq!(commit["events"], document["events"]);
    assert_eq!(
        run(args("log", &store, &["--json"])).json_lines()[0]["events"],
        json!(["clear\u{1b}[2Jscreen", "tab\there", "new\nline"])
    );

    // Errors too.
    let outcome = run(args("show", &store, &["9"]));
    outcome.expect_code(1);
    let missing = run(args("log", &dir.join("no\u{1b}[2Jstore"), &[]));
    missing
        .expect_code(1)
        .expect_stderr_contains(&["no\\u{1b}[2Jstore"]);
    assert!(
        !missing.stderr.chars().any(acts_on_a_terminal),
        "{:?}",
        missing.stderr
    );
}
