//! Signed checkpoints: a log that still extends a checkpoint passes; one cut short before the
//! signed commit, or rewritten up to it (new links and all), is named; a checkpoint checked
//! with another key, or changed, is refused; key files are written for their owner only.

use foldstore::{
    BreakKind, ChainCheckpoint, CheckpointPublicKey, CheckpointSigningKey, Layout, Store,
};

use super::{chained_store, member_event};

fn checked(
    store: &Store,
    checkpoint: &ChainCheckpoint,
    key: &CheckpointPublicKey,
) -> Option<(u64, BreakKind)> {
    let report = store.verify_chain_from(checkpoint, key, |_, _| {}).unwrap();
    assert_eq!(
        report.is_sound(),
        report.chain.as_ref().unwrap().broken.is_none(),
        "{report:?}"
    );
    report
        .chain
        .unwrap()
        .broken
        .map(|broken| (broken.commit, broken.kind))
}

#[test]
fn a_log_is_checked_against_an_earlier_checkpoint() {
    for layout in [Layout::Loose, Layout::Journal] {
        let folder = tempfile::tempdir().unwrap();
        let store = chained_store(folder.path(), layout);
        for i in 0..5 {
            store.log(&member_event(i)).unwrap();
        }
        let key = CheckpointSigningKey::generate().unwrap();
        let checkpoint = store.checkpoint(&key).unwrap();
        assert_eq!(checkpoint.commit, 5);
        for i in 5..8 {
            store.log(&member_event(i)).unwrap();
        }
        assert_eq!(
            checked(&store, &checkpoint, &key.public_key()),
            None,
            "{layout:?}"
        );

        // The whole log written again with other data, links and all: the chain alone is
        // sound, but it no longer extends the checkpoint.
        let forged_folder = tempfile::tempdir().unwrap();
        let forged = chained_store(forged_folder.path(), layout);
        for i in 100..108 {
            forged.log(&member_event(i)).unwrap();
        }
        assert!(forged.verify_chain(|_, _| {}).unwrap().is_sound());
        assert_eq!(
            checked(&forged, &checkpoint, &key.public_key()),
            Some((5, BreakKind::Rewritten)),
            "{layout:?}"
        );

        // Cut short before the signed commit.
        let short_folder = tempfile::tempdir().unwrap();
        let short = Store::builder(short_folder.path())
            .layout(layout)
            .open()
            .unwrap();
        short.ensure_folder().unwrap();
        for k in 1..=3 {
            let bytes = store.storage().read_commit(k).unwrap().unwrap();
            short.storage().create_commit(k, &bytes).unwrap().unwrap();
        }
        assert!(
            short.verify_chain(|_, _| {}).unwrap().is_sound(),
            "a cut tail alone is not seen"
        );
        assert_eq!(
            checked(&short, &checkpoint, &key.public_key()),
            Some((5, BreakKind::Removed)),
            "{layout:?}"
        );
    }
}

#[test]
fn a_checkpoint_signed_by_another_key_or_changed_is_refused() {
    let folder = tempfile::tempdir().unwrap();
    let store = chained_store(folder.path(), Layout::Loose);
    store.log(&member_event(1)).unwrap();
    let key = CheckpointSigningKey::generate().unwrap();
    let checkpoint = store.checkpoint(&key).unwrap();
    let other = CheckpointSigningKey::generate().unwrap();
    let refused = store.verify_chain_from(&checkpoint, &other.public_key(), |_, _| {});
    assert!(
        matches!(refused, Err(foldstore::Error::Chain { .. })),
        "{refused:?}"
    );
    let text = checkpoint.to_json().replace("\"commit\":1", "\"commit\":2");
    let changed = ChainCheckpoint::from_json(&text).unwrap();
    assert!(store
        .verify_chain_from(&changed, &key.public_key(), |_, _| {})
        .is_err());
}

#[test]
fn a_store_without_a_chain_has_no_checkpoint() {
    let folder = tempfile::tempdir().unwrap();
    let store = Store::open(folder.path()).unwrap();
    store.ensure_folder().unwrap();
    let key = CheckpointSigningKey::generate().unwrap();
    assert!(store.checkpoint(&key).is_err(), "an empty store");
    store.log(&member_event(1)).unwrap();
    let error = store.checkpoint(&key).unwrap_err().to_string();
    assert!(error.contains("the chain has not started"), "{error}");
}

#[test]
fn key_files_are_for_their_owner_and_round_trip() {
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("signing.key");
    let key = CheckpointSigningKey::write_new(&path).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert!(
        CheckpointSigningKey::write_new(&path).is_err(),
        "never replaced"
    );
    let read = CheckpointSigningKey::read(&path).unwrap();
    assert_eq!(read.public_key(), key.public_key());
    assert!(!format!("{read:?}").contains(&std::fs::read_to_string(&path).unwrap()[15..]));
    let public = folder.path().join("signing.pub");
    std::fs::write(&public, format!("{}\n", key.public_key())).unwrap();
    assert_eq!(
        CheckpointPublicKey::read(&public).unwrap(),
        key.public_key()
    );
    // A public key file is no signing key, and the other way round.
    assert!(CheckpointSigningKey::read(&public).is_err());
    assert!(CheckpointPublicKey::read(&path).is_err());
    assert!(
        CheckpointPublicKey::read(folder.path()).is_err(),
        "a folder"
    );
}

#[test]
fn a_checkpoint_signs_only_a_verified_commit() {
    let folder = tempfile::tempdir().unwrap();
    let store = chained_store(folder.path(), Layout::Journal);
    for i in 0..3 {
        store.log(&member_event(i)).unwrap();
    }
    let key = CheckpointSigningKey::generate().unwrap();
    let report = store.verify_chain(|_, _| {}).unwrap();
    // A commit with a forged link lands after the verification: the checkpoint signs the
    // commit verified, and one taken now refuses the broken chain.
    let forged = format!(
        r#"{{"headers":{{"chain":{{"commit":4,"prev":"blake3:{}"}}}},"events":[]}}"#,
        "0".repeat(64)
    );
    store
        .storage()
        .create_commit(4, forged.as_bytes())
        .unwrap()
        .unwrap();
    let checkpoint = store.checkpoint_verified(&report, &key).unwrap();
    assert_eq!(checkpoint.commit, 3);
    let refused = store.checkpoint(&key).unwrap_err().to_string();
    assert!(refused.contains("no checkpoint was signed"), "{refused}");
}

#[test]
fn a_weak_public_key_is_refused() {
    // The identity point: with it as the trusted key, a forged signature would verify.
    let identity = format!("ed25519:01{}", "0".repeat(62));
    assert!(identity.parse::<CheckpointPublicKey>().is_err());
    let key = CheckpointSigningKey::generate().unwrap();
    let sound = key.public_key().to_string();
    assert!(sound.parse::<CheckpointPublicKey>().is_ok());
}

#[test]
fn a_checkpoint_never_replaces_a_signing_key_nor_writes_through_a_link() {
    let folder = tempfile::tempdir().unwrap();
    let store = chained_store(folder.path(), Layout::Loose);
    store.log(&member_event(1)).unwrap();
    let key_path = folder.path().join("signing.key");
    let key = CheckpointSigningKey::write_new(&key_path).unwrap();
    let secret = std::fs::read(&key_path).unwrap();
    let checkpoint = store.checkpoint(&key).unwrap();
    let refused = checkpoint.write(&key_path).unwrap_err().to_string();
    assert!(refused.contains("holds a signing key"), "{refused}");
    assert_eq!(std::fs::read(&key_path).unwrap(), secret);
    #[cfg(unix)]
    {
        let elsewhere = folder.path().join("elsewhere.json");
        std::fs::write(&elsewhere, "kept").unwrap();
        let link = folder.path().join("link.json");
        std::os::unix::fs::symlink(&elsewhere, &link).unwrap();
        assert!(checkpoint.write(&link).is_err());
        assert_eq!(std::fs::read_to_string(&elsewhere).unwrap(), "kept");
    }
    // Nor a file that holds anything but a checkpoint: a master key, say.
    let master = folder.path().join("master.key");
    std::fs::write(&master, format!("{}\n", "ab".repeat(32))).unwrap();
    let refused = checkpoint.write(&master).unwrap_err().to_string();
    assert!(refused.contains("other than a checkpoint"), "{refused}");
    assert_eq!(
        std::fs::read_to_string(&master).unwrap(),
        format!("{}\n", "ab".repeat(32))
    );
    // An empty file, and an earlier checkpoint, are replaced whole, and read back.
    let out = folder.path().join("checkpoint.json");
    std::fs::write(&out, "").unwrap();
    checkpoint.write(&out).unwrap();
    assert_eq!(ChainCheckpoint::read(&out).unwrap().commit, 1);
    store.log(&member_event(2)).unwrap();
    store.checkpoint(&key).unwrap().write(&out).unwrap();
    assert_eq!(ChainCheckpoint::read(&out).unwrap().commit, 2);
}
