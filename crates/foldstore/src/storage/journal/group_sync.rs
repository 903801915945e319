//! Syncing written batches: one sync of this process at a time, each covering every batch
//! written before it started.
//!
//! A batch's leader, once its records are written and the writers' lock released, registers
//! the segment file its records went into and waits. When no sync of this process is running,
//! it syncs the files of every batch registered so far (usually one; two when a batch started
//! a new segment meanwhile) and tells each of those batches the outcome. When one is running,
//! the batches written meanwhile wait for it to end, and the first of their leaders to see it
//! end syncs them all at once. With many writer threads, a sync so covers the batches of many
//! instead of each paying for its own, side by side.
//!
//! That keeps the journal's guarantee: a batch is registered only once its records are in the
//! segment, and a sync of a file makes everything written into it before the sync started
//! durable, whoever wrote it; a batch is told its outcome by a sync of this process that
//! started after it was registered (or by another process's, through the synced mark of
//! `sync_mark`, on its own conditions).
//!
//! A failed sync is every covered batch's outcome. After it, no sync of this process is
//! trusted and the process writes nothing more (`SyncTurn` in `sync_mark`).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use crate::storage::local::fs::Handle;

/// This process's syncs of written batches.
#[derive(Default)]
pub(super) struct GroupSync {
    state: Mutex<State>,
    /// Told when a sync ends.
    ended: Condvar,
}

#[derive(Default)]
struct State {
    next_ticket: u64,
    /// Batches written since the running sync started (or since the last one), waiting.
    registered: Vec<Registered>,
    /// Whether a sync is running.
    syncing: bool,
    /// Outcomes of syncs their batches have not taken yet.
    done: HashMap<u64, SyncOutcome>,
}

/// How a sync went: `Err` holds its error, as text (every batch it covered is told).
pub(super) type SyncOutcome = Result<(), String>;

/// A batch written and waiting for a sync: the file its records went into, and which
/// (`None`: unknown, synced without the mark).
pub(super) struct Registered {
    ticket: u64,
    pub(super) file: Arc<dyn Handle>,
    pub(super) covers: Option<Covers>,
}

/// The records of a batch in its segment (the batch's last part): what its sync must cover.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Covers {
    /// The segment's first commit.
    pub(super) segment: u64,
    /// Where the batch's records start.
    pub(super) start: u64,
    /// The batch's last commit, and where its record starts.
    pub(super) last: u64,
    pub(super) offset: u64,
    /// Where the segment's records ended when `file` was opened.
    pub(super) since: u64,
}

impl fmt::Debug for GroupSync {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("GroupSync")
            .field("registered", &state.registered.len())
            .field("syncing", &state.syncing)
            .finish_non_exhaustive()
    }
}

impl GroupSync {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes what was written into `file` so far (`covers` says what of it is the batch's)
    /// durable, by `sync_all` called in this thread or in another one of this process after
    /// this call, with every batch registered until then; returns that sync's outcome.
    pub(super) fn sync(
        &self,
        file: Arc<dyn Handle>,
        covers: Option<Covers>,
        sync_all: impl FnOnce(&[Registered]) -> Vec<SyncOutcome>,
    ) -> SyncOutcome {
        let mut sync_all = Some(sync_all);
        let mut state = self.lock();
        let ticket = state.next_ticket;
        state.next_ticket += 1;
        state.registered.push(Registered {
            ticket,
            file,
            covers,
        });
        loop {
            if let Some(outcome) = state.done.remove(&ticket) {
                return outcome;
            }
            if !state.syncing {
                state.syncing = true;
                let batches = std::mem::take(&mut state.registered);
                drop(state);
                let mut running = Running {
                    group: self,
                    tickets: batches.iter().map(|batch| batch.ticket).collect(),
                    finished: false,
                };
                // A thread syncs at most once here: its own batch is among these.
                let sync_all = sync_all.take().expect("a thread syncs once");
                let outcomes = sync_all(&batches);
                debug_assert_eq!(outcomes.len(), batches.len(), "an outcome a batch");
                // Nothing below can fail but by running out of memory, which aborts.
                running.finished = true;
                state = self.lock();
                for (batch, outcome) in batches.iter().zip(outcomes) {
                    state.done.insert(batch.ticket, outcome);
                }
                state.syncing = false;
                self.ended.notify_all();
                continue;
            }
            state = self.ended.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// A running sync: if it stops without finishing (a panic), its batches are told the outcome
/// is unknown and another thread may sync, instead of every writer waiting for ever.
struct Running<'g> {
    group: &'g GroupSync,
    tickets: Vec<u64>,
    finished: bool,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let mut state = self.group.lock();
        for ticket in &self.tickets {
            state.done.entry(*ticket).or_insert_with(|| {
                Err("the sync of this batch stopped before it ended".to_owned())
            });
        }
        state.syncing = false;
        self.group.ended.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::time::SystemTime;

    use super::*;
    use crate::storage::local::fs::{FileSystem, Open, OsFs};
    use crate::storage::test_kit::forward_handle;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const COVERS: Option<Covers> = None;

    /// Syncs each batch's file once.
    fn each_file_once(batches: &[Registered]) -> Vec<SyncOutcome> {
        let mut synced: Vec<(&Arc<dyn Handle>, SyncOutcome)> = Vec::new();
        batches
            .iter()
            .map(|batch| {
                if let Some((_, outcome)) = synced.iter().find(|(f, _)| Arc::ptr_eq(f, &batch.file))
                {
                    return outcome.clone();
                }
                let outcome = batch.file.sync_data().map_err(|e| e.to_string());
                synced.push((&batch.file, outcome.clone()));
                outcome
            })
            .collect()
    }

    /// A file whose syncs are counted and take a while (or fail, for `failing`).
    #[derive(Debug)]
    struct Counted {
        inner: Arc<dyn Handle>,
        syncs: Arc<AtomicUsize>,
        failing: bool,
    }

    impl Handle for Counted {
        forward_handle!(inner: read_at, len, set_len, modified, lock, unlock);
        fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
            self.inner.write_all_at(buf, offset)
        }
        fn sync_data(&self) -> std::io::Result<()> {
            self.syncs.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(std::time::Duration::from_millis(20));
            if self.failing {
                return Err(std::io::Error::other("injected"));
            }
            Ok(())
        }
    }

    fn file(failing: bool) -> (Arc<dyn Handle>, Arc<AtomicUsize>, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("a folder");
        let inner = OsFs
            .open(&dir.path().join("segment"), Open::ReadWriteCreate)
            .expect("open");
        let syncs = Arc::new(AtomicUsize::new(0));
        let file = Arc::new(Counted {
            inner,
            syncs: Arc::clone(&syncs),
            failing,
        });
        (file, syncs, dir)
    }

    #[test]
    fn batches_written_while_a_sync_runs_share_the_next_one() {
        let (file, syncs, _dir) = file(false);
        let group = GroupSync::default();
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    for _ in 0..5 {
                        assert_eq!(
                            group.sync(Arc::clone(&file), COVERS, each_file_once),
                            Ok(())
                        );
                    }
                });
            }
        });
        // 40 batches; each sync takes 20 ms, so the 7 other threads register meanwhile.
        let syncs = syncs.load(Ordering::SeqCst);
        assert!(syncs < 20, "{syncs} syncs for 40 batches");
        assert!(
            syncs >= 5,
            "{syncs} syncs: each thread's batches are synced in turn"
        );
    }

    #[test]
    fn a_failed_sync_is_the_outcome_of_every_batch_it_covered_and_of_no_later_one() {
        let (bad, _, _dir) = file(true);
        let (good, good_syncs, _dir2) = file(false);
        let group = GroupSync::default();
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    let outcome = group.sync(Arc::clone(&bad), COVERS, each_file_once);
                    assert!(outcome.is_err_and(|e| e.contains("injected")));
                });
            }
        });
        assert_eq!(
            group.sync(Arc::clone(&good), COVERS, each_file_once),
            Ok(())
        );
        assert_eq!(good_syncs.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_sync_that_panics_tells_its_batches_and_lets_the_next_sync_run() {
        #[derive(Debug)]
        struct Panicking;
        impl Handle for Panicking {
            fn read_at(&self, _: &mut [u8], _: u64) -> std::io::Result<usize> {
                Ok(0)
            }
            fn write_all_at(&self, _: &[u8], _: u64) -> std::io::Result<()> {
                Ok(())
            }
            fn len(&self) -> std::io::Result<u64> {
                Ok(0)
            }
            fn set_len(&self, _: u64) -> std::io::Result<()> {
                Ok(())
            }
            fn sync_data(&self) -> std::io::Result<()> {
                panic!("a sync that panics")
            }
            fn lock(&self) -> std::io::Result<()> {
                Ok(())
            }
            fn unlock(&self) -> std::io::Result<()> {
                Ok(())
            }
            fn modified(&self) -> std::io::Result<std::time::SystemTime> {
                Ok(std::time::SystemTime::UNIX_EPOCH)
            }
        }
        let group = GroupSync::default();
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            group.sync(Arc::new(Panicking), COVERS, each_file_once)
        }));
        assert!(panicked.is_err());
        let (good, _, _dir) = file(false);
        assert_eq!(group.sync(good, COVERS, each_file_once), Ok(()));
    }
}
