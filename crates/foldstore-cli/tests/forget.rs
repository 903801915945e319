//! `foldstore forget` and `foldstore keys`, run as the real binary, on a store whose members'
//! data the library wrote sealed: the export holds none of a member's data, the inspecting
//! verbs show it as forgotten, the keys list names subjects and never keys.

mod util;

use std::fs;
use std::path::Path;

use foldstore::{Event, FolderKeyStore, MasterKey, Store};
use serde_json::json;

use util::{run, run_on, run_with_env, TestDir};

const PETERS_SECRET: &str = "second star to the right";
const WENDYS_SECRET: &str = "14 kensington gardens";

/// Makes `file` readable by its owner only, as a master key file must be.
fn owners_only(file: &Path) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(file, fs::Permissions::from_mode(0o600)).unwrap();
}

/// The members, logged into `store` with the keys in `keys` under the master key in `master`
/// (or in the clear, without `keys`).
fn log_members(store: &Path, keys: Option<(&Path, &Path)>) {
    let mut builder = Store::builder(store).subject_tags("member:");
    if let Some((keys, master)) = keys {
        let master = MasterKey::from_file(master).unwrap();
        builder = builder.key_store(FolderKeyStore::open(keys, master).unwrap());
    }
    let store = builder.open().unwrap();
    store.ensure_folder().unwrap();
    for (name, address) in [
        ("peter pan", PETERS_SECRET),
        ("wendy darling", WENDYS_SECRET),
    ] {
        let subject = format!("member:{name}");
        store
            .log(
                &Event::with_data(
                    "newMemberRegistered",
                    json!({"name": name, "address": address}),
                )
                .tagged([subject.as_str()]),
            )
            .unwrap();
    }
}

fn export(store: &Path) -> String {
    let outcome = run_on("export", store, &[]);
    outcome.expect_code(0);
    outcome.stdout
}

#[test]
fn forget_leaves_no_plaintext_in_an_export_and_keys_lists_subjects_only() {
    let dir = TestDir::new();
    let master = dir.join("master.key");
    run([
        "keys".as_ref(),
        "--new-master-key".as_ref(),
        master.as_os_str(),
    ])
    .expect_code(0)
    .expect_stdout_contains(&["wrote a new master key"]);
    let key_text = fs::read_to_string(&master).unwrap();
    assert_eq!(key_text.trim().len(), 64);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&master).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{mode:o}");
    }
    // Never over an existing file.
    run([
        "keys".as_ref(),
        "--new-master-key".as_ref(),
        master.as_os_str(),
    ])
    .expect_code(1);

    // The same members in the clear: the export holds them (the checks below can fail).
    let plain = dir.join("plain");
    log_members(&plain, None);
    assert!(export(&plain).contains(PETERS_SECRET));

    let store = dir.join("members");
    let keys = dir.join("keys");
    log_members(&store, Some((&keys, &master)));
    let before = export(&store);
    assert!(!before.contains(PETERS_SECRET) && !before.contains(WENDYS_SECRET));
    assert!(before.contains("foldstore:sealed"));

    let keys_args = |verb: &str| -> Vec<std::ffi::OsString> {
        vec![
            verb.into(),
            "--keys".into(),
            keys.clone().into(),
            "--master-key-file".into(),
            master.clone().into(),
        ]
    };
    let listed = run(keys_args("keys"));
    listed.expect_code(0);
    assert_eq!(listed.stdout, "member:peter pan\nmember:wendy darling\n");
    assert!(!listed.stdout.contains(key_text.trim()));
    let listed = run(keys_args("keys").into_iter().chain(["--json".into()]));
    assert_eq!(
        listed.json_lines(),
        [json!(["member:peter pan", "member:wendy darling"])]
    );

    // The master key from the environment.
    let forget = run_with_env(
        [
            "forget",
            "member:peter pan",
            "--keys",
            keys.to_str().unwrap(),
        ],
        &[("FOLDSTORE_MASTER_KEY", key_text.trim())],
    );
    forget
        .expect_code(0)
        .expect_stdout_contains(&["forgot member:peter pan"]);
    let mut again = keys_args("forget");
    again.insert(1, "member:peter pan".into());
    run(again)
        .expect_code(1)
        .expect_stdout_contains(&["nothing to forget"]);
    assert_eq!(run(keys_args("keys")).stdout, "member:wendy darling\n");

    let after = export(&store);
    assert!(!after.contains(PETERS_SECRET));
    let mut keys_and_store = String::new();
    for folder in [&store, &keys] {
        for entry in fs::read_dir(folder).unwrap() {
            keys_and_store.push_str(&String::from_utf8_lossy(
                &fs::read(entry.unwrap().path()).unwrap(),
            ));
        }
    }
    assert!(!keys_and_store.contains(PETERS_SECRET));

    // The inspecting verbs have no keys: sealed data shows as forgotten.
    let shown = run_on("show", &store, &["1"]);
    shown
        .expect_code(0)
        .expect_stdout_contains(&["foldstore:forgotten", "member:peter pan"]);
    let events = run_on("events", &store, &[]);
    events.expect_code(0);
    assert_eq!(
        events.json_lines()[1]["data"],
        json!({"foldstore:forgotten": {"subject": "member:wendy darling"}})
    );
}

#[test]
fn a_wrong_or_missing_master_key_is_told_naming_where_it_came_from() {
    let dir = TestDir::new();
    let master = dir.join("master.key");
    fs::write(
        &master,
        format!("{}\n", MasterKey::generate().unwrap().to_hex()),
    )
    .unwrap();
    owners_only(&master);
    let store = dir.join("members");
    let keys = dir.join("keys");
    log_members(&store, Some((&keys, &master)));

    let other = dir.join("other.key");
    fs::write(&other, MasterKey::generate().unwrap().to_hex()).unwrap();
    owners_only(&other);
    let keys_arg = keys.to_str().unwrap();
    run([
        "keys",
        "--keys",
        keys_arg,
        "--master-key-file",
        other.to_str().unwrap(),
    ])
    .expect_code(1)
    .expect_stderr_contains(&["keys.check", "master key"]);
    fs::write(&other, "not a key").unwrap();
    owners_only(&other);
    run([
        "keys",
        "--keys",
        keys_arg,
        "--master-key-file",
        other.to_str().unwrap(),
    ])
    .expect_code(1)
    .expect_stderr_contains(&["other.key", "64 hex digits"]);
    run_with_env(
        ["keys", "--keys", keys_arg],
        &[("FOLDSTORE_MASTER_KEY", "")],
    )
    .expect_code(1)
    .expect_stderr_contains(&["FOLDSTORE_MASTER_KEY"]);
    let missing = dir.join("no-such-keys");
    run([
        "keys",
        "--keys",
        missing.to_str().unwrap(),
        "--master-key-file",
        master.to_str().unwrap(),
    ])
    .expect_code(1)
    .expect_stderr_contains(&["no key store at"]);
    assert!(!missing.exists());
    // A subject no key store can hold: refused, nothing removed.
    let huge = format!("member:{}", "x".repeat(100_000));
    run([
        "forget",
        &huge,
        "--keys",
        keys_arg,
        "--master-key-file",
        master.to_str().unwrap(),
    ])
    .expect_code(1)
    .expect_stderr_contains(&["a subject is 1 to 120 bytes long"]);
}

#[test]
fn keys_and_forget_refuse_a_folder_that_is_no_key_store_and_change_nothing_in_it() {
    let dir = TestDir::new();
    let master = dir.join("master.key");
    run(["keys", "--new-master-key", master.to_str().unwrap()]).expect_code(0);
    owners_only(&master);
    // A folder of other files (a home folder, say), and a key store restored without its
    // check file: neither gets one made with the master key given now.
    let elsewhere = dir.join("elsewhere");
    fs::create_dir(&elsewhere).unwrap();
    fs::write(elsewhere.join("notes.txt"), "mine").unwrap();
    for verb in [&["keys"][..], &["forget", "member:peter pan"][..]] {
        let mut args: Vec<&str> = verb.to_vec();
        args.extend([
            "--keys",
            elsewhere.to_str().unwrap(),
            "--master-key-file",
            master.to_str().unwrap(),
        ]);
        let outcome = run(&args);
        assert_ne!(outcome.code, Some(0), "{verb:?}");
        assert!(
            outcome.stderr.contains("keys.check"),
            "{verb:?}: {}",
            outcome.stderr
        );
        let names: Vec<_> = fs::read_dir(&elsewhere)
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(names, ["notes.txt"], "{verb:?}");
    }
}
