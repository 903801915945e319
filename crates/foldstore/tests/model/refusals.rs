//! Refusals while folding the log: whole commits only.

use crate::fixtures::{document, log_block_of, log_increments, overwrite, temp_folder};
use crate::models::{assert_folded, Counter};
use foldstore::{Error, Store};
use serde_json::json;

#[test]
fn a_handler_error_while_folding_names_the_commit_and_keeps_the_last_whole_commit() {
    let (_temp, path) = temp_folder();
    let store = Store::open(&path).unwrap();
    log_increments(&store, &[1, 2]);
    assert_eq!(log_block_of(&store, &[5, -1, 7]), 3);

    let model = store.define_model(Counter::default()).unwrap();
    for _ in 0..2 {
        match model.aggregator_data() {
            Err(Error::Handler {
                commit,
                location,
                index,
                name,
                message,
            }) => {
                assert_eq!((commit, index), (3, 1));
                assert_eq!(name, "incremented");
                assert!(location.ends_with("3.log"), "{location}");
                assert!(message.contains("cannot increment by -1"), "{message}");
            }
            other => panic!("expected a Handler error, got {other:?}"),
        }
    }
    let message = model.aggregator_data().unwrap_err().to_string();
    assert!(
        message.contains("commit 3") && message.contains("incremented"),
        "{message}"
    );
    assert!(matches!(
        model.with_read_instance(|c| c.value()),
        Err(Error::Handler { commit: 3, .. })
    ));
    assert!(matches!(
        model.snapshot(),
        Err(Error::Handler { commit: 3, .. })
    ));
    assert!(model.report().skipped_commits.is_empty());

    // The model stayed at commit 2, with nothing of commit 3: once the commit is fixed (here
    // by hand, on a copy of our own), the model folds commit 3 once, whole.
    overwrite(
        &path.join("3.log"),
        &document(
            json!({"time": "2020-01-01T00:00:00.000Z"}),
            json!([
                {"name": "incremented", "data": {"by": 5}},
                {"name": "incremented", "data": {"by": 0}},
                {"name": "incremented", "data": {"by": 7}},
            ]),
        ),
    );
    let data = model.aggregator_data().unwrap();
    assert_eq!((data.value, data.position()), (15, 3));
    let commits: Vec<u64> = data
        .seen
        .iter()
        .map(|s| s["commit"].as_u64().unwrap())
        .collect();
    assert_eq!(commits, [1, 2, 3, 3, 3]);
}

#[test]
fn skip_failing_commits_skips_whole_commits_and_reports_them() {
    let store = Store::memory();
    log_increments(&store, &[1, 2]);
    log_block_of(&store, &[5, -1, 7]);
    log_increments(&store, &[10]);
    log_block_of(&store, &[-3]);
    log_increments(&store, &[100]);

    let model = store
        .model(Counter::default())
        .skip_failing_commits(true)
        .build()
        .unwrap();
    let data = model.aggregator_data().unwrap();
    assert_eq!((data.value, data.position()), (113, 6));
    let commits: Vec<u64> = data
        .seen
        .iter()
        .map(|s| s["commit"].as_u64().unwrap())
        .collect();
    assert_eq!(commits, [1, 2, 4, 6], "nothing of commits 3 and 5");
    let report = model.report();
    let skipped: Vec<(u64, bool)> = report
        .skipped_commits
        .iter()
        .map(|s| (s.commit, s.reason.contains("cannot increment by")))
        .collect();
    assert_eq!(skipped, [(3, true), (5, true)]);

    // Folding on does not skip them again, and later commits fold in.
    log_increments(&store, &[1000]);
    assert_folded(&model, 1113, 7);
    assert_eq!(model.report().skipped_commits.len(), 2);

    // Without the option, the same log stops at commit 2.
    let strict = store.define_model(Counter::default()).unwrap();
    assert!(matches!(
        strict.aggregator_data(),
        Err(Error::Handler { commit: 3, .. })
    ));
}

#[test]
fn models_fold_only_commits_after_their_position() {
    let (_temp, path) = temp_folder();
    let store = Store::open(&path).unwrap();
    log_increments(&store, &[1, 2, 3]);
    let model = store.define_model(Counter::default()).unwrap();
    assert_eq!(model.aggregator_data().unwrap().value, 6);

    // Damage a commit the model has folded already: it never reads it again.
    overwrite(&path.join("2.log"), b"{ this is not json");
    log_increments(&store, &[10]);
    assert_folded(&model, 16, 4);
    let outcome = model
        .with_read_write_instance(
            |counter, flag| {
                counter.increment(100)?;
                flag.ready_to_commit();
                Ok::<_, Error>(())
            },
            1,
        )
        .unwrap();
    assert_eq!(outcome.commit, Some(5));
    assert_eq!(model.aggregator_data().unwrap().value, 116);

    // The damage is real: a fresh model, which must fold commit 2, reports it.
    let fresh = Store::open(&path)
        .unwrap()
        .define_model(Counter::default())
        .unwrap();
    assert!(
        matches!(
            fresh.aggregator_data(),
            Err(Error::CorruptCommit { commit: 2, .. })
        ),
        "{:?}",
        fresh.aggregator_data()
    );
}
