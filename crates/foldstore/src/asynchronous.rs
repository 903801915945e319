//! An async API for tokio (feature `tokio`): store and model operations (consistency
//! boundaries among them: queries, conditional and idempotent appends) run on tokio's blocking
//! threads, never on the runtime's workers, and subscriptions are `Stream`s.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_core::Stream;
use serde::Serialize;
use tokio::sync::mpsc;

use crate::boundary::{AppendCondition, Appended, ConditionFailed, MatchedEvent};
use crate::error::{Error, Result};
use crate::event::Event;
use crate::format::Commit;
use crate::model::{AggregatorData, CommitFlag, Model, ModelDefinition, Outcome, ReadOnly, Writer};
use crate::query::Query;
use crate::store::Store;
use crate::subscribe::Start;

/// Runs blocking work on tokio's blocking threads; a panic in it is resumed here.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::task::spawn_blocking(work).await {
        Ok(value) => value,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        // Only a runtime shutting down cancels a blocking task.
        Err(e) => panic!("the blocking task was cancelled: {e}"),
    }
}

/// A [`Store`] for async code.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), foldstore::Error> {
/// use foldstore::asynchronous::AsyncStore;
/// use foldstore::{Event, Start, Store};
/// use futures_core::Stream;
/// use std::pin::pin;
///
/// let store = AsyncStore::new(Store::memory());
/// store.log(&Event::new("first")).await?;
/// let mut commits = pin!(store.subscribe(Start::Beginning).await?);
/// let first = std::future::poll_fn(|cx| commits.as_mut().poll_next(cx)).await;
/// assert_eq!(first.unwrap()?.number(), 1);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct AsyncStore {
    store: Store,
}

impl AsyncStore {
    /// Wraps a store.
    pub fn new(store: Store) -> Self {
        AsyncStore { store }
    }

    /// The synchronous store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// As [`Store::log`].
    ///
    /// # Errors
    /// As [`Store::log`].
    pub async fn log<E: Serialize + ?Sized>(&self, event: &E) -> Result<u64> {
        let event = Event::from_typed(event)?;
        let store = self.store.clone();
        blocking(move || store.log(&event)).await
    }

    /// Logs `events` as one commit (a block marked complete); `None` when there are none.
    ///
    /// # Errors
    /// As [`Store::log_block`].
    pub async fn log_events(&self, events: Vec<Event>) -> Result<Option<u64>> {
        let store = self.store.clone();
        blocking(move || {
            store.log_block(|block| {
                for event in &events {
                    block.log(event)?;
                }
                block.mark_as_complete();
                Ok::<_, Error>(())
            })
        })
        .await
    }

    /// As [`Store::tip`].
    ///
    /// # Errors
    /// As [`Store::tip`].
    pub async fn tip(&self) -> Result<u64> {
        let store = self.store.clone();
        blocking(move || store.tip()).await
    }

    /// As [`Store::read_commit`].
    ///
    /// # Errors
    /// As [`Store::read_commit`].
    pub async fn read_commit(&self, number: u64) -> Result<Commit> {
        let store = self.store.clone();
        blocking(move || store.read_commit(number)).await
    }

    /// As [`Store::events_matching`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), foldstore::Error> {
    /// use foldstore::asynchronous::AsyncStore;
    /// use foldstore::{AppendCondition, Event, Query, Store};
    ///
    /// let store = AsyncStore::new(Store::memory());
    /// let account_7 = Query::tag("account:7");
    /// let read = store.events_matching(&account_7, 0).await?;
    /// let at = read.last().map_or(0, |e| e.commit);
    /// let deposit = [Event::new("deposited").tagged(["account:7"])];
    /// let condition = AppendCondition::none_matching_after(account_7.clone(), at);
    /// assert_eq!(store.append_if(&deposit, &condition).await?, Ok(1));
    /// assert_eq!(store.events_matching(&account_7, 0).await?.len(), 1);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`Store::events_matching`].
    pub async fn events_matching(&self, query: &Query, after: u64) -> Result<Vec<MatchedEvent>> {
        let (store, query) = (self.store.clone(), query.clone());
        blocking(move || store.events_matching(&query, after)).await
    }

    /// As [`Store::events_matching_limited`].
    ///
    /// # Errors
    /// As [`Store::events_matching`].
    pub async fn events_matching_limited(
        &self,
        query: &Query,
        after: u64,
        limit: usize,
    ) -> Result<Vec<MatchedEvent>> {
        let (store, query) = (self.store.clone(), query.clone());
        blocking(move || store.events_matching_limited(&query, after, limit)).await
    }

    /// As [`Store::append_if`]: the new commit's number, or the commits that broke the
    /// condition (nothing written).
    ///
    /// # Errors
    /// As [`Store::append_if`].
    pub async fn append_if(
        &self,
        events: &[Event],
        condition: &AppendCondition,
    ) -> Result<std::result::Result<u64, ConditionFailed>> {
        let (store, events, condition) = (self.store.clone(), events.to_vec(), condition.clone());
        blocking(move || store.append_if(&events, &condition)).await
    }

    /// As [`Store::append_once`].
    ///
    /// # Errors
    /// As [`Store::append_once`].
    pub async fn append_once(&self, key: &str, events: &[Event]) -> Result<Appended> {
        let (store, key, events) = (self.store.clone(), key.to_owned(), events.to_vec());
        blocking(move || store.append_once(&key, &events)).await
    }

    /// The commits after `start` as a stream that ends at the end of the log.
    ///
    /// # Errors
    /// As [`Store::subscribe`].
    pub async fn replay(&self, start: Start) -> Result<CommitStream> {
        self.stream(start, false).await
    }

    /// A live subscription as a stream: every commit after `start` (for [`Start::Now`]: after
    /// the end of the log when this is called), then each new one as it lands; it ends only
    /// after an error. A thread waits on the subscription; dropping the stream stops it.
    ///
    /// # Errors
    /// As [`Store::subscribe`].
    pub async fn subscribe(&self, start: Start) -> Result<CommitStream> {
        self.stream(start, true).await
    }

    async fn stream(&self, start: Start, live: bool) -> Result<CommitStream> {
        let stop = Arc::new(AtomicBool::new(false));
        let store = self.store.clone();
        let cancel = Arc::clone(&stop);
        // Setting up reads the store (the end of the log, for `Start::Now`): off the runtime.
        let mut subscription =
            blocking(move || store.subscribe(start).map(|s| s.cancelled_by(cancel))).await?;
        let (send, receive) = mpsc::channel(64);
        let stopped = Arc::clone(&stop);
        std::thread::Builder::new()
            .name("foldstore-stream".to_owned())
            .spawn(move || loop {
                let item = if live {
                    subscription.next()
                } else {
                    subscription.try_next().transpose()
                };
                let Some(item) = item else { break };
                let failed = item.is_err();
                if send.blocking_send(item).is_err() || failed || stopped.load(Ordering::Acquire) {
                    break;
                }
            })
            .map_err(|source| Error::Thread {
                purpose: "the thread that reads the stream's commits",
                source,
            })?;
        Ok(CommitStream { receive, stop })
    }
}

/// Commits as a `Stream`; made by [`AsyncStore::subscribe`] and [`AsyncStore::replay`].
#[derive(Debug)]
pub struct CommitStream {
    receive: mpsc::Receiver<Result<Commit>>,
    stop: Arc<AtomicBool>,
}

impl Stream for CommitStream {
    type Item = Result<Commit>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().receive.poll_recv(cx)
    }
}

impl Drop for CommitStream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
    }
}

/// A [`Model`] for async code: each operation runs on tokio's blocking threads.
#[derive(Debug)]
pub struct AsyncModel<D: ModelDefinition> {
    model: Model<D>,
}

impl<D: ModelDefinition> Clone for AsyncModel<D> {
    fn clone(&self) -> Self {
        AsyncModel {
            model: self.model.clone(),
        }
    }
}

impl<D: ModelDefinition> AsyncModel<D> {
    /// Wraps a model.
    pub fn new(model: Model<D>) -> Self {
        AsyncModel { model }
    }

    /// The synchronous model.
    pub fn model(&self) -> &Model<D> {
        &self.model
    }

    /// As [`Model::aggregator_data`].
    ///
    /// # Errors
    /// As [`Model::aggregator_data`].
    pub async fn aggregator_data(&self) -> Result<AggregatorData<D>> {
        let model = self.model.clone();
        blocking(move || model.aggregator_data()).await
    }

    /// As [`Model::with_read_instance`].
    ///
    /// # Errors
    /// As [`Model::with_read_instance`].
    pub async fn with_read_instance<R, F>(&self, action: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(D::Domain<ReadOnly<'_, D>>) -> R + Send + 'static,
    {
        let model = self.model.clone();
        blocking(move || model.with_read_instance(action)).await
    }

    /// As [`Model::with_read_write_instance`].
    ///
    /// # Errors
    /// As [`Model::with_read_write_instance`].
    pub async fn with_read_write_instance<R, E, F>(
        &self,
        action: F,
        max_attempts: u32,
    ) -> Result<Outcome<R>, E>
    where
        R: Send + 'static,
        E: From<Error> + Send + 'static,
        F: FnMut(&mut D::Domain<&mut Writer<D>>, &mut CommitFlag) -> Result<R, E> + Send + 'static,
    {
        let model = self.model.clone();
        blocking(move || model.with_read_write_instance(action, max_attempts)).await
    }

    /// As [`Model::with_read_write_instance_once`]: a decision made once per idempotency key.
    ///
    /// # Errors
    /// As [`Model::with_read_write_instance_once`].
    pub async fn with_read_write_instance_once<R, E, F>(
        &self,
        key: impl Into<String>,
        mut action: F,
        max_attempts: u32,
    ) -> Result<Outcome<Option<R>>, E>
    where
        R: Send + 'static,
        E: From<Error> + Send + 'static,
        F: FnMut(&mut D::Domain<&mut Writer<D>>, &mut CommitFlag) -> Result<R, E> + Send + 'static,
    {
        let (model, key) = (self.model.clone(), key.into());
        blocking(move || model.with_read_write_instance_once(&key, &mut action, max_attempts)).await
    }

    /// As [`Model::snapshot`].
    ///
    /// # Errors
    /// As [`Model::snapshot`].
    pub async fn snapshot(&self) -> Result<Option<u64>> {
        let model = self.model.clone();
        blocking(move || model.snapshot()).await
    }
}
