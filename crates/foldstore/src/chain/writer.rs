//! What a store's writers know of the chain: whether it is on, and the link the next commit
//! gets.
//!
//! The rule every foldstore writer follows: a commit written right after a chained commit is
//! chained too; a store opened with the chain on ([`StoreBuilder::chain`]) starts the chain
//! when the commit before its first write has no `chain` header. The link of commit `n`
//! depends on commit `n - 1`, so a chained commit is written at exactly one number, and a
//! writer that loses that number reads the commit that won before trying the next.
//!
//! [`StoreBuilder::chain`]: crate::StoreBuilder::chain

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use super::link::{ChainHash, ChainLink};
use crate::error::{Error, Result};
use crate::format::decode_commit;
use crate::storage::Storage;

/// A store's view of the chain, shared by its clones.
#[derive(Debug, Default)]
pub(crate) struct ChainWriter {
    /// The store was opened with the chain on: it starts the chain when the log has none.
    wanted: bool,
    /// The log's chain has started, as far as this store has seen (it never stops).
    on: AtomicBool,
    /// The last commit this store wrote, so that the next one need not read it back.
    last: Mutex<Option<Written>>,
    /// Taken by this store's chained writes, one at a time: two would only race for a number.
    turn: Mutex<()>,
}

/// A commit this store wrote.
#[derive(Clone, Copy, Debug)]
struct Written {
    number: u64,
    /// The hash of its bytes, for a chained commit (plain ones are not hashed).
    hash: Option<ChainHash>,
}

impl ChainWriter {
    /// The chain state of a store opened with the chain on (`wanted`) or not.
    pub(crate) fn new(wanted: bool) -> ChainWriter {
        ChainWriter {
            wanted,
            on: AtomicBool::new(wanted),
            ..ChainWriter::default()
        }
    }

    /// Whether this store writes chained commits (it was opened with the chain on, or has
    /// seen the chain's header).
    pub(crate) fn is_on(&self) -> bool {
        self.on.load(Ordering::Acquire)
    }

    /// The turn of a chained write of this store.
    pub(crate) fn turn(&self) -> MutexGuard<'_, ()> {
        self.turn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether commit `number` is the last one this store wrote, and was written without a
    /// link: then the next commit gets none either, without reading it.
    pub(crate) fn wrote_plain(&self, number: u64) -> bool {
        matches!(*self.last(), Some(Written { number: n, hash: None }) if n == number)
    }

    /// Notes that this store wrote commit `number`: `document` is its bytes when it is chained.
    pub(crate) fn note_written(&self, number: u64, chained: Option<&[u8]>) {
        let hash = chained.map(ChainHash::of);
        let mut last = self.last();
        if last.is_none_or(|known| known.number <= number) {
            *last = Some(Written { number, hash });
        }
    }

    /// The link commit `number` gets, reading commit `number - 1` unless this store wrote it;
    /// `None` when the commit is not chained (the chain is off and has not started).
    ///
    /// # Errors
    /// When commit `number - 1` cannot be read, or (for a chained commit) is missing or
    /// damaged: no link can be made to it.
    pub(crate) fn link_for(&self, storage: &dyn Storage, number: u64) -> Result<Option<ChainLink>> {
        let previous = number.saturating_sub(1);
        if previous == 0 {
            return Ok(self.wanted.then_some(ChainLink::Start { commit: number }));
        }
        let known = *self.last();
        if let Some(Written {
            number: n,
            hash: Some(prev),
        }) = known
        {
            if n == previous {
                return Ok(Some(ChainLink::Follows {
                    commit: number,
                    prev,
                }));
            }
        }
        let bytes = match storage.read_commit(previous) {
            Ok(Some(bytes)) => bytes,
            // The plain append finds the log's real end itself, and damage is the business of
            // `verify`: a store without the chain writes as it did without it.
            Ok(None) | Err(_) if !self.is_on() => return Ok(None),
            Ok(None) => return Err(self.unlinkable(storage, previous, "is missing".to_owned())),
            Err(e) => return Err(e),
        };
        let chained = match decode_commit(previous, &bytes) {
            Ok(commit) => ChainLink::read(commit.headers()).is_ok_and(|link| link.is_some()),
            Err(problem) if self.is_on() => return Err(self.unlinkable(storage, previous, problem)),
            // Damage in a store without the chain is the business of `verify`.
            Err(_) => false,
        };
        if chained {
            self.on.store(true, Ordering::Release);
        }
        let link = if chained {
            Some(ChainLink::Follows {
                commit: number,
                prev: ChainHash::of(&bytes),
            })
        } else if !self.is_on() {
            None
        } else if self.wanted && !self.started_before() {
            Some(ChainLink::Start { commit: number })
        } else {
            // The chain started further back and commit `previous` lacks the header (written
            // by a writer that did not know of it): the chain goes on through it, and
            // `verify --chain` names it.
            Some(ChainLink::Follows {
                commit: number,
                prev: ChainHash::of(&bytes),
            })
        };
        Ok(link)
    }

    /// Whether this store has seen a chained commit (it knows the chain started before the
    /// commit it writes now), beyond having been opened with the chain on.
    fn started_before(&self) -> bool {
        matches!(*self.last(), Some(Written { hash: Some(_), .. }))
    }

    fn last(&self) -> MutexGuard<'_, Option<Written>> {
        self.last.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn unlinkable(&self, storage: &dyn Storage, previous: u64, problem: String) -> Error {
        Error::CorruptCommit {
            commit: previous,
            location: storage.commit_location(previous),
            problem: format!(
                "{problem}, and the chained commit after it holds its hash: nothing was written"
            ),
        }
    }
}
