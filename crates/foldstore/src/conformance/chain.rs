//! The checks of the tamper-evident chain through stores on a backend: chained appends from
//! racing threads of two stores, conditional ones among them, keep one unbroken chain.

use std::sync::{Arc, Barrier};
use std::thread;

use super::races::THREADS;
use crate::boundary::AppendCondition;
use crate::event::Event;
use crate::query::Query;
use crate::storage::Storage;
use crate::store::Store;

/// Commits each thread appends.
const PER_THREAD: u64 = 12;

/// A store with the chain on, on `storage`.
fn chained_on(storage: &Arc<dyn Storage>) -> Store {
    Store::builder("conformance")
        .shared_storage(Arc::clone(storage))
        .chain(true)
        .open()
        .expect("open a chained store")
}

/// Threads of two chained stores append at once, plainly and on conditions about their own
/// tags (which never fail): every commit lands once, and the log verifies as one chain from
/// commit 1 without a break, each commit linked to the stored bytes of the one before.
pub fn racing_chained_appends_keep_one_chain(storage: &Arc<dyn Storage>) {
    let stores = [chained_on(storage), chained_on(storage)];
    let barrier = Barrier::new(THREADS);
    thread::scope(|scope| {
        for writer in 0..THREADS {
            let (store, barrier) = (&stores[writer % 2], &barrier);
            scope.spawn(move || {
                let tag = format!("writer:{writer}");
                barrier.wait();
                for i in 0..PER_THREAD {
                    let event = Event::new("appended").tagged([tag.as_str()]);
                    if i % 2 == 0 {
                        store.log(&event).expect("a chained append");
                    } else {
                        let seen = store.tip().expect("tip");
                        let condition =
                            AppendCondition::none_matching_after(Query::tag(tag.clone()), seen);
                        let appended = store.append_if(&[event], &condition).expect("append_if");
                        assert!(appended.is_ok(), "nobody else writes {tag}: {appended:?}");
                    }
                }
            });
        }
    });
    let total = THREADS as u64 * PER_THREAD;
    let reader = Store::with_shared_storage(Arc::clone(storage));
    assert_eq!(reader.tip().expect("tip"), total);
    let report = reader.verify_chain(|_, _| {}).expect("verify_chain");
    assert!(report.is_sound(), "{:?}", report.problems);
    let chain = report.chain.expect("the chain's report");
    assert_eq!(
        (chain.started, chain.chained),
        (Some(1), total),
        "{chain:?}"
    );
}
