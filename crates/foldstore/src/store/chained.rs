//! Chained commits: the link a commit gets, and writing a chained commit at exactly the number
//! its link was made for (see `chain` for the header and the rule writers follow).

use super::commit::Slot;
use super::Store;
use crate::chain::{ChainLink, ChainWriter, CHAIN_HEADER};
use crate::error::{Error, Result};
use crate::event::{Event, Headers};
use crate::format::encode_commit;
use crate::storage::{check_commit, Conflict, Storage, COMMIT_ID_HEADER};

impl Store {
    /// The number a write at `slot` aims at, and the chain link a commit there gets (`None`
    /// when the chain is off and has not started).
    ///
    /// A store without the chain on finds the log's real end (a probe past the end it knows)
    /// and reads the last commit unless it wrote it itself, so that it continues a chain
    /// another writer started.
    pub(super) fn chain_link(&self, slot: &Slot) -> Result<(u64, Option<ChainLink>)> {
        let chain = &self.inner.chain;
        let storage = self.storage();
        let target = match slot {
            Slot::Exactly(number) => *number,
            Slot::Next | Slot::If { .. } => {
                let mut position = self.append_position()?;
                if !chain.is_on() {
                    position = position.max(self.inner.tip.current()? + 1);
                }
                match slot {
                    Slot::If { first, .. } => position.max(*first),
                    _ => position,
                }
            }
        };
        if !chain.is_on() && (target <= 1 || chain.wrote_plain(target - 1)) {
            return Ok((target, None));
        }
        let link = chain.link_for(storage, target)?;
        Ok((target, link))
    }

    /// Writes a chained commit at `number` with `link`: when another writer took the number, a
    /// plain or conditional append reads the commit that won (and checks it, for a condition)
    /// and tries the next number with a new link; a write at an exact number returns the
    /// conflict.
    pub(super) fn write_chained(
        &self,
        slot: Slot,
        mut number: u64,
        mut link: ChainLink,
        headers: &Headers,
        events: &[Event],
    ) -> Result<std::result::Result<u64, Conflict>> {
        let storage = self.storage();
        let chain = &self.inner.chain;
        let identified = headers.contains_key(COMMIT_ID_HEADER);
        if let Slot::If { first, check } = &slot {
            // The commits from the writer's position to the one aimed at: the backend checks
            // none of them, since a chained commit is created at one number.
            for other in *first..number {
                let Some(bytes) = storage.read_commit(other)? else {
                    return Err(Error::MissingCommit {
                        commit: other,
                        location: storage.commit_location(other),
                        next: number - 1,
                    });
                };
                if check_commit(storage, &**check, other, &bytes)? {
                    return Ok(Err(Conflict { commit: other }));
                }
            }
        }
        let mut headers = headers.clone();
        loop {
            // `insert` replaces a `chain` header of the header factory's: the name is taken.
            headers.insert(CHAIN_HEADER.to_owned(), link.to_value());
            let document = encode_commit(&headers, events)?;
            let created = if identified {
                storage.create_identified_commit(number, &document)?
            } else {
                storage.create_commit(number, &document)?
            };
            match created {
                Ok(()) => {
                    chain.note_written(number, Some(&document));
                    self.inner.tip.note(number);
                    tracing::debug!(commit = number, events = events.len(), "committed, chained");
                    return Ok(Ok(number));
                }
                Err(conflict) => {
                    self.inner.tip.note(number);
                    match &slot {
                        Slot::Exactly(_) => return Ok(Err(conflict)),
                        Slot::Next => {}
                        Slot::If { check, .. } => match storage.read_commit(number)? {
                            Some(bytes) => {
                                if check_commit(storage, &**check, number, &bytes)? {
                                    return Ok(Err(conflict));
                                }
                            }
                            // Gone again (moved aside by a repair): the same number once more.
                            None => continue,
                        },
                    }
                    number += 1;
                    // The chain is on from here (this store wrote or saw it), so a link is made.
                    link = chain
                        .link_for(storage, number)?
                        .unwrap_or(ChainLink::Start { commit: number });
                }
            }
        }
    }
}

/// After a plain commit landed at `number`, past where the writer aimed (other writers came
/// first): whether the commit before it is chained, in which case the chain had started in the
/// meantime and this store chains from now on. The commit just written lacks the header;
/// `verify --chain` names it, and the warning says why.
pub(super) fn after_plain_write(chain: &ChainWriter, storage: &dyn Storage, number: u64) {
    let was_on = chain.is_on();
    match chain.link_for(storage, number) {
        Ok(Some(_)) if !was_on => tracing::warn!(
            commit = number,
            location = %storage.commit_location(number),
            "a commit was written without the chain header right after another writer started the chain; this store chains its commits from now on"
        ),
        Ok(_) => {}
        Err(e) => {
            tracing::debug!(commit = number, error = %e, "the commit before a plain commit could not be read")
        }
    }
}
