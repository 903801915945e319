//! Calls from async code, through `spawn_blocking`.

use std::sync::Arc;

use crate::kinds::Subject;
use crate::wrapper::{runtime, with_id};
use foldstore::{ObjectStorage, Storage};

fn check_from_spawn_blocking(storage: ObjectStorage) {
    let storage = Arc::new(storage);
    for flavour in ["multi-thread", "current-thread"] {
        let runtime = if flavour == "multi-thread" {
            runtime()
        } else {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime")
        };
        let results = runtime.block_on(async {
            let mut tasks = Vec::new();
            for writer in 0..4 {
                let storage = Arc::clone(&storage);
                tasks.push(tokio::task::spawn_blocking(move || {
                    let document = with_id(&format!("{flavour}-{writer}"), "async");
                    let number = storage
                        .append_identified_commit(1, &document)
                        .expect("append");
                    assert_eq!(storage.read_commit(number).expect("read"), Some(document));
                    number
                }));
            }
            let mut numbers = Vec::new();
            for task in tasks {
                numbers.push(task.await.expect("the blocking task"));
            }
            numbers
        });
        assert_eq!(results.len(), 4, "{flavour}");
    }
    assert_eq!(storage.last_commit().expect("last"), 8);
    assert_eq!(
        storage.list().expect("list").commits,
        (1..=8).collect::<Vec<_>>()
    );
}

#[test]
fn calls_from_spawn_blocking_threads_of_another_runtime_work() {
    check_from_spawn_blocking(Subject::memory().storage);
    if let Some(subject) = Subject::s3() {
        check_from_spawn_blocking(subject.storage);
    }
}
