//! Writing: events and blocks logged as commits, the one path every commit takes to the
//! backend (also a model's read-write instance's), and the headers each commit gets.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use serde::Serialize;
use serde_json::Value;

use super::Store;
use crate::error::{Error, Result};
use crate::event::{Event, Headers};
use crate::forget::{refuse_lookalikes, seal_commit};
use crate::format::encode_commit;
use crate::storage::{CommitCheck, Conflict, COMMIT_ID_HEADER};

/// A function that makes headers for each commit, added to the default `time` header.
pub type HeaderFactory = dyn Fn() -> Headers + Send + Sync;

impl Store {
    /// Logs one event as one commit, at the next free number, and returns that number.
    ///
    /// `event` is an [`Event`] or any serde type whose JSON form is `{"name": string, "data":
    /// any}` (a `#[serde(tag = "name", content = "data")]` enum, say).
    ///
    /// # Errors
    /// [`Error::InvalidEvent`] when `event` has another shape, or when the commit would be nested
    /// deeper than [`Commit::MAX_NESTING`](crate::Commit::MAX_NESTING) levels (its data at most
    /// 3 fewer), which readers would not take, or when its data is an object whose only member
    /// is [`SEALED_MEMBER`](crate::SEALED_MEMBER) and the store does not seal it (it names no
    /// subject), which readers would take for sealed data; [`Error::InvalidHeaders`] when the header
    /// factory's headers are nested that deep; [`Error::StoreMissing`] when the folder does not
    /// exist; I/O errors. Nothing is written when it fails.
    pub fn log<E: Serialize + ?Sized>(&self, event: &E) -> Result<u64> {
        let event = Event::from_typed(event)?;
        self.commit(std::slice::from_ref(&event))
    }

    /// Logs a block of events as one commit, all or nothing.
    ///
    /// `action` logs events into the [`Block`] and calls [`Block::mark_as_complete`]; only then,
    /// and only if it logged at least one event, is the block written, as one commit at the
    /// next free number, which is returned. When `action` returns an error, or does not mark
    /// the block complete, or logs nothing, nothing is written and the result is `Ok(None)` (or
    /// the action's error).
    ///
    /// ```
    /// # fn main() -> Result<(), foldstore::Error> {
    /// use foldstore::{Event, Store};
    ///
    /// let store = Store::memory();
    /// let commit = store.log_block(|block| {
    ///     block.log(&Event::new("first"))?;
    ///     block.log(&Event::new("second"))?;
    ///     block.mark_as_complete();
    ///     Ok::<_, foldstore::Error>(())
    /// })?;
    /// assert_eq!(commit, Some(1));
    /// assert_eq!(store.log_block(|block| block.log(&Event::new("not marked")))?, None);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// The action's error, or the errors of [`Store::log`] converted into `E`.
    pub fn log_block<F, E>(&self, action: F) -> Result<Option<u64>, E>
    where
        F: FnOnce(&mut Block) -> Result<(), E>,
        E: From<Error>,
    {
        let mut block = Block::default();
        action(&mut block)?;
        if !block.complete {
            tracing::debug!(
                events = block.events.len(),
                "block not marked complete: nothing written"
            );
            return Ok(None);
        }
        if block.events.is_empty() {
            return Ok(None);
        }
        Ok(Some(self.commit(&block.events)?))
    }

    /// Writes `events` (at least one) as one commit at the next free number.
    fn commit(&self, events: &[Event]) -> Result<u64> {
        let headers = self.make_headers();
        match self.write_commit(Slot::Next, &headers, events)? {
            Ok(number) => Ok(number),
            // An append takes the lowest free number: no other writer can have taken it.
            Err(conflict) => unreachable!("an append met a conflict: {conflict}"),
        }
    }

    /// Writes `events` with `headers` (made by [`make_headers`](Self::make_headers)) as commit
    /// `number` exactly, or returns the conflict when another writer has taken that number
    /// (nothing written): a read-write instance's optimistic commit.
    pub(crate) fn try_commit_at(
        &self,
        number: u64,
        headers: &Headers,
        events: &[Event],
    ) -> Result<Result<u64, Conflict>> {
        self.write_commit(Slot::Exactly(number), headers, events)
    }

    /// Writes `events` with `headers` at the lowest free number from `first` on, on the
    /// condition that `check` finds no conflict in any commit from `first` to it (see
    /// [`Storage::append_commit_if`](crate::storage::Storage::append_commit_if)); or returns the
    /// first conflicting commit (nothing written): a conditional append's write.
    pub(crate) fn commit_if(
        &self,
        first: u64,
        check: Arc<CommitCheck>,
        headers: &Headers,
        events: &[Event],
    ) -> Result<Result<u64, Conflict>> {
        self.write_commit(Slot::If { first, check }, headers, events)
    }

    /// The one way a commit is written: encoded, handed to the backend at `slot`, and noted
    /// as the log's known end. A chained commit takes [`write_chained`](Self::write_chained).
    fn write_commit(
        &self,
        slot: Slot,
        headers: &Headers,
        events: &[Event],
    ) -> Result<Result<u64, Conflict>> {
        refuse_lookalikes(self.keyring(), events)?;
        // Events that name a subject are written sealed (and the commit then has an id).
        let sealed = match self.keyring() {
            Some(keyring) => seal_commit(keyring, headers, events)?,
            None => None,
        };
        let (headers, events) = sealed.as_ref().map_or((headers, events), |(h, e)| (h, e));
        let chain = &self.inner.chain;
        // This store's chained writes take turns (they would only race for one number).
        let turn = chain.is_on().then(|| chain.turn());
        let (target, link) = self.chain_link(&slot)?;
        if let Some(link) = link {
            let _turn = turn.unwrap_or_else(|| chain.turn());
            return self.write_chained(slot, target, link, headers, events);
        }
        drop(turn);
        // Refused, nothing written, when no reader could read it back.
        let document = encode_commit(headers, events)?;
        let storage = self.storage();
        // A backend that resolves lost acknowledgements by the commit id is told the document
        // carries one, rather than searching its bytes.
        let identified = headers.contains_key(COMMIT_ID_HEADER);
        let number = match slot {
            Slot::Next => {
                if identified {
                    storage.append_identified_commit(target, &document)?
                } else {
                    storage.append_commit(target, &document)?
                }
            }
            Slot::Exactly(number) => match if identified {
                storage.create_identified_commit(number, &document)?
            } else {
                storage.create_commit(number, &document)?
            } {
                Ok(()) => number,
                Err(conflict) => return Ok(Err(conflict)),
            },
            Slot::If { first, check } => {
                match storage.append_commit_if(first, &document, identified, check)? {
                    Ok(number) => number,
                    Err(conflict) => return Ok(Err(conflict)),
                }
            }
        };
        self.inner.tip.note(number);
        chain.note_written(number, None);
        if number > target {
            // Other writers came first: one of them may have just started the chain.
            super::chained::after_plain_write(chain, storage, number);
        }
        tracing::debug!(commit = number, events = events.len(), "committed");
        Ok(Ok(number))
    }

    /// The number after the log's known end, where an append starts looking for a free number.
    pub(crate) fn append_position(&self) -> Result<u64> {
        let first = self.inner.tip.known()? + 1;
        // One look back keeps the log gapless even when the known end is stale (a repair moved
        // the last commit aside since): a commit is only ever added after an existing one.
        if first > 1 && !self.storage().commit_exists(first - 1)? {
            return Ok(self.inner.tip.relist()? + 1);
        }
        Ok(first)
    }

    /// The headers of a new commit: `time` now, then what the header factory adds.
    pub(crate) fn make_headers(&self) -> Headers {
        let mut headers = Headers::new();
        headers.insert("time".to_owned(), Value::String(now_iso8601()));
        if self.inner.storage.needs_commit_ids() {
            headers.insert(COMMIT_ID_HEADER.to_owned(), Value::String(unique_id()));
        }
        if let Some(factory) = &self.inner.headers {
            // `insert` keeps the position of a key that exists, so `time` stays first.
            headers.extend(factory());
        }
        headers
    }
}

/// An id that no other commit of any process or machine carries: 128 bits from the process's
/// randomly keyed hasher, the time, the process id and a counter.
fn unique_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static KEYS: std::sync::OnceLock<(
        std::collections::hash_map::RandomState,
        std::collections::hash_map::RandomState,
    )> = std::sync::OnceLock::new();
    let (a, b) = KEYS.get_or_init(|| (Default::default(), Default::default()));
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let half = |keys: &std::collections::hash_map::RandomState, salt: u64| {
        let mut hasher = keys.build_hasher();
        hasher.write_u64(salt);
        hasher.write_u128(nanos);
        hasher.write_u32(std::process::id());
        hasher.write_u64(count);
        hasher.finish()
    };
    format!("{:016x}{:016x}", half(a, 1), half(b, 2))
}

/// The current time as JavaScript's `Date.prototype.toISOString` writes it.
fn now_iso8601() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

/// Where [`Store::write_commit`] puts a commit.
pub(super) enum Slot {
    /// The lowest free number after the log's known end (which an append cannot lose).
    Next,
    /// This number, unless another writer has taken it.
    Exactly(u64),
    /// The lowest free number from `first` on, unless `check` finds a conflict before it.
    If { first: u64, check: Arc<CommitCheck> },
}

/// The events of a block being logged by [`Store::log_block`].
#[derive(Debug, Default)]
pub struct Block {
    events: Vec<Event>,
    complete: bool,
}

impl Block {
    /// Adds an event to the block (an [`Event`] or a typed event, as for [`Store::log`]).
    ///
    /// # Errors
    /// [`Error::InvalidEvent`] when `event` does not have the shape of an event.
    pub fn log<E: Serialize + ?Sized>(&mut self, event: &E) -> Result<()> {
        self.events.push(Event::from_typed(event)?);
        Ok(())
    }

    /// Marks the block complete: it will be written when the action returns `Ok`.
    pub fn mark_as_complete(&mut self) {
        self.complete = true;
    }

    /// The events logged so far.
    pub fn events(&self) -> &[Event] {
        &self.events
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MemoryStorage;

    #[test]
    fn time_is_written_like_to_iso_string() {
        let time = now_iso8601();
        assert_eq!(time.len(), "2026-11-27T15:03:30.380Z".len(), "{time}");
        assert!(time.ends_with('Z') && time.as_bytes()[19] == b'.', "{time}");
    }

    #[test]
    fn header_factory_adds_and_may_override_time() {
        let store = Store::builder("unused")
            .storage(MemoryStorage::new())
            .headers(|| {
                let mut h = Headers::new();
                h.insert("user".into(), "arjan".into());
                h.insert("time".into(), "2000-01-01T00:00:00.000Z".into());
                h
            })
            .open()
            .unwrap();
        let headers = store.make_headers();
        assert_eq!(headers.keys().collect::<Vec<_>>(), ["time", "user"]);
        assert_eq!(headers["time"], "2000-01-01T00:00:00.000Z");
    }
}
