//! The tamper-evident chain on the command line: `append --chain` starts it, `verify --chain`
//! names the first commit where it breaks, `checkpoint` signs its end (and makes keys without
//! printing them), and `verify --checkpoint` checks a log against a checkpoint.

use std::fs;
use std::path::Path;

use serde_json::Value;

use crate::util::{run, run_on, TestDir};

/// A store in `folder` of `layout` with five commits, chained from the second.
fn chained_store(dir: &TestDir, layout: &str) -> std::path::PathBuf {
    let store = dir.join(layout);
    run_on("append", &store, &["first", "--layout", layout]).expect_code(0);
    for name in ["second", "third", "fourth", "fifth"] {
        run_on(
            "append",
            &store,
            &[name, "{\"street\": \"harbour lane\"}", "--chain"],
        )
        .expect_code(0);
    }
    store
}

fn chain_json(store: &Path, args: &[&str]) -> Value {
    let outcome = run_on("verify", store, &[&["--chain", "--json"], args].concat());
    serde_json::from_str(&outcome.stdout).unwrap_or_else(|e| panic!("{e}: {outcome:?}"))
}

#[test]
fn verify_chain_passes_a_chained_store_of_either_layout() {
    let dir = TestDir::new();
    for layout in ["loose", "journal"] {
        let store = chained_store(&dir, layout);
        let outcome = run_on("verify", &store, &["--chain"]);
        outcome.expect_code(0);
        assert!(
            outcome
                .stdout
                .contains("chain: 4 commits from commit 2 linked; commit 5 hashes to blake3:"),
            "{outcome:?}"
        );
        let report = chain_json(&store, &[]);
        assert_eq!(report["chain"]["started"], 2, "{report}");
        assert_eq!(report["chain"]["broken"], Value::Null, "{report}");
    }
    // Without a chain, `verify` is content and `verify --chain` is not.
    let plain = dir.join("plain");
    run_on("append", &plain, &["only"]).expect_code(0);
    run_on("verify", &plain, &[]).expect_code(0);
    let outcome = run_on("verify", &plain, &["--chain"]);
    outcome.expect_code(1);
    assert!(outcome.stdout.contains("has not started"), "{outcome:?}");
}

#[test]
fn verify_chain_names_an_edited_commit() {
    let dir = TestDir::new();
    let store = chained_store(&dir, "loose");
    let file = store.join("3.log");
    let text = fs::read_to_string(&file).unwrap();
    fs::write(&file, text.replace("harbour", "harbor ")).unwrap();
    run_on("verify", &store, &[]).expect_code(0);
    let outcome = run_on("verify", &store, &["--chain"]);
    outcome.expect_code(1);
    assert!(
        outcome
            .stdout
            .contains(&format!("{}: breaks the chain (edited)", file.display()))
            || outcome
                .stdout
                .contains("breaks the chain (edited): commit 3 was changed"),
        "{outcome:?}"
    );
    let report = chain_json(&store, &[]);
    assert_eq!(report["chain"]["broken"]["commit"], 3, "{report}");
    assert_eq!(report["chain"]["broken"]["kind"], "edited", "{report}");
}

#[test]
fn checkpoints_are_signed_and_checked_and_keys_never_printed() {
    let dir = TestDir::new();
    let store = chained_store(&dir, "journal");
    let key = dir.join("audit.key");
    let public = dir.join("audit.key.pub");
    let made = run([
        "checkpoint".as_ref(),
        "--generate-key".as_ref(),
        key.as_os_str(),
    ]);
    made.expect_code(0);
    let secret = fs::read_to_string(&key).unwrap();
    let secret_hex = secret.trim().rsplit(':').next().unwrap();
    assert!(!made.stdout.contains(secret_hex) && !made.stderr.contains(secret_hex));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    assert!(made
        .stdout
        .contains(fs::read_to_string(&public).unwrap().trim()));
    // Never replaced.
    run([
        "checkpoint".as_ref(),
        "--generate-key".as_ref(),
        key.as_os_str(),
    ])
    .expect_code(1);
    assert_eq!(fs::read_to_string(&key).unwrap(), secret);

    let checkpoint = dir.join("monday.json");
    let signed = run_on(
        "checkpoint",
        &store,
        &[
            "--signing-key",
            key.to_str().unwrap(),
            "--out",
            checkpoint.to_str().unwrap(),
        ],
    );
    signed.expect_code(0);
    assert!(
        signed.stdout.contains("checkpoint of commit 5"),
        "{signed:?}"
    );
    run_on("append", &store, &["sixth"]).expect_code(0);
    let against = [
        "--checkpoint",
        checkpoint.to_str().unwrap(),
        "--public-key",
        public.to_str().unwrap(),
    ];
    let outcome = run_on("verify", &store, &[&["--chain"], &against[..]].concat());
    outcome.expect_code(0);
    assert!(
        outcome
            .stdout
            .contains("extends the checkpoint of commit 5"),
        "{outcome:?}"
    );

    // The log written anew (chained, so the chain alone is sound): the checkpoint tells.
    let forged = dir.join("forged");
    run_on(
        "append",
        &forged,
        &["first", "--layout", "journal", "--chain"],
    )
    .expect_code(0);
    for name in ["2", "3", "4", "5", "6"] {
        run_on("append", &forged, &[name]).expect_code(0);
    }
    run_on("verify", &forged, &["--chain"]).expect_code(0);
    let report = chain_json(&forged, &against);
    assert_eq!(report["chain"]["broken"]["kind"], "rewritten", "{report}");
    assert_eq!(report["chain"]["broken"]["commit"], 5, "{report}");

    // Another key: refused, nothing verified.
    let other = dir.join("other.key");
    run([
        "checkpoint".as_ref(),
        "--generate-key".as_ref(),
        other.as_os_str(),
    ])
    .expect_code(0);
    let outcome = run_on(
        "verify",
        &store,
        &[
            "--chain",
            "--checkpoint",
            checkpoint.to_str().unwrap(),
            "--public-key",
            dir.join("other.key.pub").to_str().unwrap(),
        ],
    );
    assert_ne!(outcome.code, Some(0), "{outcome:?}");
    assert!(
        outcome.stderr.contains("is not signed by the key"),
        "{outcome:?}"
    );
}

#[test]
fn checkpoint_refuses_a_broken_chain_and_writes_nothing() {
    let dir = TestDir::new();
    let store = chained_store(&dir, "loose");
    fs::remove_file(store.join("3.log")).unwrap();
    let key = dir.join("k");
    run([
        "checkpoint".as_ref(),
        "--generate-key".as_ref(),
        key.as_os_str(),
    ])
    .expect_code(0);
    let out = dir.join("cp.json");
    let outcome = run_on(
        "checkpoint",
        &store,
        &[
            "--signing-key",
            key.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert_ne!(outcome.code, Some(0), "{outcome:?}");
    assert!(
        outcome.stderr.contains("no checkpoint was written"),
        "{outcome:?}"
    );
    assert!(!out.exists());
}
