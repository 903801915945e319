//! [`Model`]: a model definition bound to a store, kept current incrementally.

use std::fmt;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, RwLock};

use super::instance::{AggregatorData, CommitFlag, Outcome, ReadOnly, Writer};
use super::names::EventNames;
use super::report::ModelReport;
use super::scope::scoped_snapshot_name;
use super::state::{lock, Shared, State};
use super::ModelDefinition;
use crate::boundary::{AppendCondition, IDEMPOTENCY_TAG_PREFIX};
use crate::error::{Error, Result};
use crate::query::{Query, QueryItem};
use crate::storage::validate_snapshot_name;
use crate::store::Store;

/// The number of attempts of a read-write instance in the original package: 5.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;

/// A model definition bound to a store: the aggregated data, kept current by folding only
/// the commits after the last one it folded.
///
/// `Model` is cheap to clone and can be shared by threads; readers do not wait for a writer's
/// action. Made by [`Store::define_model`] or [`Store::model`].
pub struct Model<D: ModelDefinition> {
    pub(super) shared: Arc<Shared<D>>,
}

impl<D: ModelDefinition> Clone for Model<D> {
    fn clone(&self) -> Self {
        Model {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<D: ModelDefinition> fmt::Debug for Model<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Model")
            .field("snapshot_name", &self.shared.snapshot_name)
            .field("position", &self.shared.current().map(|s| s.position))
            .finish_non_exhaustive()
    }
}

/// Options for a [`Model`]; made by [`Store::model`].
#[must_use]
pub struct ModelBuilder<D: ModelDefinition> {
    store: Store,
    definition: D,
    snapshot_every: Option<u64>,
    skip_failing_commits: bool,
}

impl<D: ModelDefinition> fmt::Debug for ModelBuilder<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ModelBuilder")
            .field("snapshot_every", &self.snapshot_every)
            .field("skip_failing_commits", &self.skip_failing_commits)
            .finish_non_exhaustive()
    }
}

impl<D: ModelDefinition> ModelBuilder<D> {
    /// Takes a snapshot automatically whenever the model has folded `commits` more commits
    /// since the last snapshot (needs a snapshot name). Default: never.
    pub fn snapshot_every(mut self, commits: u64) -> Self {
        self.snapshot_every = (commits > 0).then_some(commits);
        self
    }

    /// When a handler refuses an event while folding the log, skip that whole commit and record
    /// it in [`Model::report`], instead of stopping with an error. For logs written by other
    /// programs, whose commits the model's handlers may not accept. Default: stop.
    pub fn skip_failing_commits(mut self, skip: bool) -> Self {
        self.skip_failing_commits = skip;
        self
    }

    /// Binds the definition to the store. Reads nothing yet: the model restores and folds on
    /// first use.
    ///
    /// # Errors
    /// [`Error::InvalidSnapshotName`] when the snapshot name could not be used safely in a file
    /// name (it is empty, or holds `.`, `/`, `\`, NUL or a control character).
    pub fn build(self) -> Result<Model<D>> {
        if let Some(name) = self.definition.snapshot_name() {
            validate_snapshot_name(name)?;
        }
        let scope = self.definition.scope();
        let snapshot_name = self.definition.snapshot_name().map(|name| match &scope {
            Some(scope) => scoped_snapshot_name(name, scope),
            None => name.to_owned(),
        });
        Ok(Model {
            shared: Arc::new(Shared {
                store: self.store,
                names: EventNames::of::<D::Event>(),
                upcasters: self.definition.upcasters(),
                scope,
                snapshot_name,
                definition: Arc::new(self.definition),
                snapshot_every: self.snapshot_every,
                skip_failing_commits: self.skip_failing_commits,
                state: RwLock::new(None),
                refreshing: Mutex::new(()),
                last_snapshot: AtomicU64::new(0),
                report: Mutex::new(ModelReport::default()),
            }),
        })
    }
}

impl Store {
    /// Binds a model definition to this store, with default options.
    ///
    /// # Errors
    /// As [`ModelBuilder::build`].
    pub fn define_model<D: ModelDefinition>(&self, definition: D) -> Result<Model<D>> {
        self.model(definition).build()
    }

    /// Options for binding a model definition to this store.
    pub fn model<D: ModelDefinition>(&self, definition: D) -> ModelBuilder<D> {
        ModelBuilder {
            store: self.clone(),
            definition,
            snapshot_every: None,
            skip_failing_commits: false,
        }
    }
}

impl<D: ModelDefinition> Model<D> {
    /// The store the model reads and writes.
    pub fn store(&self) -> &Store {
        &self.shared.store
    }

    /// The model's definition.
    pub fn definition(&self) -> &D {
        &self.shared.definition
    }

    /// What the model skipped so far (snapshots, commits), and where it was restored from.
    pub fn report(&self) -> ModelReport {
        lock(&self.shared.report).clone()
    }

    /// Brings the model up to the end of the log and returns a read-only view of its data.
    ///
    /// # Errors
    /// A commit that cannot be read or folded ([`Error::Handler`], [`Error::EventData`],
    /// [`Error::CorruptCommit`], ...): the model stays at the last whole commit before it.
    pub fn aggregator_data(&self) -> Result<AggregatorData<D>> {
        Ok(AggregatorData {
            state: self.shared.refresh()?,
        })
    }

    /// Brings the model up to the end of the log and runs `action` on a domain model that can
    /// read the data but not dispatch events; returns what the action returns.
    ///
    /// # Errors
    /// As [`aggregator_data`](Self::aggregator_data).
    pub fn with_read_instance<R>(
        &self,
        action: impl FnOnce(D::Domain<ReadOnly<'_, D>>) -> R,
    ) -> Result<R> {
        let state = self.shared.refresh()?;
        let view = ReadOnly {
            data: &state.data,
            position: state.position,
        };
        Ok(action(self.shared.definition.domain(view)))
    }

    /// Runs `action` on a domain model over a private copy of the data, and commits the events
    /// it dispatches if it calls [`CommitFlag::ready_to_commit`] and returns `Ok`.
    ///
    /// Each dispatched event is applied to the private copy at once, so the action reads its
    /// own writes; a handler that refuses one makes `dispatch` fail, and the whole instance
    /// fails with that refusal, writing nothing, even if the action carries on.
    /// If another writer committed first, the action runs again on the new data, with a new
    /// unset flag; `max_attempts` counts the attempts in all (the original package's
    /// `maxRetries`; [`DEFAULT_MAX_ATTEMPTS`] is its default of 5).
    ///
    /// For a [scoped model](ModelDefinition#scoped-models), "another writer committed first"
    /// means a commit holding an event that matches the scope: the commit is conditional
    /// ([`Store::append_if`]), other commits only move it to a later number, without running
    /// the action again.
    ///
    /// # Errors
    /// The action's error (nothing written); [`Error::RetriesExhausted`] when every attempt lost
    /// its race (nothing written); [`Error::InvalidEvent`] or [`Error::InvalidHeaders`] when the
    /// commit would be nested deeper than
    /// [`Commit::MAX_NESTING`](crate::format::Commit::MAX_NESTING) (nothing written), or when a
    /// scoped model's event does not match its scope; errors of reading and folding the log;
    /// I/O errors.
    pub fn with_read_write_instance<R, E, F>(
        &self,
        mut action: F,
        max_attempts: u32,
    ) -> Result<Outcome<R>, E>
    where
        F: FnMut(&mut D::Domain<&mut Writer<D>>, &mut CommitFlag) -> Result<R, E>,
        E: From<Error>,
    {
        let outcome = self.decide(&mut action, max_attempts, None)?;
        Ok(Outcome {
            // Without a key, every outcome comes from running the action.
            value: outcome.value.ok_or(Error::RetriesExhausted {
                attempts: max_attempts,
            })?,
            commit: outcome.commit,
            attempts: outcome.attempts,
        })
    }

    /// As [`with_read_write_instance`](Self::with_read_write_instance), at most once per
    /// idempotency `key`, across processes and restarts: when a commit made with `key` is in
    /// the store already, the action does not run and nothing is written; the outcome's
    /// `value` is `None` and its `commit` is the commit that holds the key (`attempts` counts
    /// the attempts that ran the action before it was found, usually 0).
    ///
    /// The key is the tag [`IDEMPOTENCY_TAG_PREFIX`]`<key>` on the commit's first event (as
    /// [`Store::append_once`] writes it), and the commit is conditional on no event carrying
    /// it (and, for a scoped model, on its scope; for a model of the whole log, on no commit
    /// since it read).
    ///
    /// ```
    /// # fn main() -> Result<(), foldstore::Error> {
    /// use foldstore::{Dispatch, Event, EventContext, ModelDefinition, Store, View};
    ///
    /// struct Payments;
    /// impl ModelDefinition for Payments {
    ///     type Data = u64;
    ///     type Event = Event;
    ///     type Error = std::convert::Infallible;
    ///     type Domain<V: View<Self>> = V;
    ///     fn initial_data(&self) -> u64 { 0 }
    ///     fn apply(&self, paid: &mut u64, _: Event, _: &EventContext<'_>) -> Result<(), Self::Error> {
    ///         *paid += 1;
    ///         Ok(())
    ///     }
    ///     fn domain<V: View<Self>>(&self, view: V) -> V { view }
    /// }
    ///
    /// let store = Store::memory();
    /// let model = store.define_model(Payments)?;
    /// let pay = |writer: &mut &mut foldstore::Writer<Payments>, flag: &mut foldstore::CommitFlag| {
    ///     writer.dispatch(Event::new("paid"))?;
    ///     flag.ready_to_commit();
    ///     Ok::<_, foldstore::Error>("paid")
    /// };
    /// let first = model.with_read_write_instance_once("invoice-17", pay, 5)?;
    /// let again = model.with_read_write_instance_once("invoice-17", pay, 5)?;
    /// assert_eq!((first.value, first.commit), (Some("paid"), Some(1)));
    /// assert_eq!((again.value, again.commit), (None, Some(1)));
    /// assert_eq!(*model.aggregator_data()?, 1);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`with_read_write_instance`](Self::with_read_write_instance).
    pub fn with_read_write_instance_once<R, E, F>(
        &self,
        key: &str,
        mut action: F,
        max_attempts: u32,
    ) -> Result<Outcome<Option<R>>, E>
    where
        F: FnMut(&mut D::Domain<&mut Writer<D>>, &mut CommitFlag) -> Result<R, E>,
        E: From<Error>,
    {
        self.decide(&mut action, max_attempts, Some(key))
    }

    /// The read-write instance: attempts until the action commits, declines, fails or runs
    /// out of attempts; with a `key`, stops early when a commit holds it (value `None`).
    fn decide<R, E, F>(
        &self,
        action: &mut F,
        max_attempts: u32,
        key: Option<&str>,
    ) -> Result<Outcome<Option<R>>, E>
    where
        F: FnMut(&mut D::Domain<&mut Writer<D>>, &mut CommitFlag) -> Result<R, E>,
        E: From<Error>,
    {
        let shared = &self.shared;
        let key_tag = key.map(|key| format!("{IDEMPOTENCY_TAG_PREFIX}{key}"));
        for attempt in 1..=max_attempts {
            let state = shared.refresh()?;
            if let Some(tag) = &key_tag {
                let held = shared.store.events_matching_stored(&Query::tag(tag), 0)?;
                if let Some(found) = held.first() {
                    return Ok(Outcome {
                        value: None,
                        commit: Some(found.commit),
                        attempts: attempt - 1,
                    });
                }
            }
            let mut writer = Writer {
                definition: Arc::clone(&shared.definition),
                scope: shared.scope.clone(),
                data: state.data.clone(),
                position: state.position,
                headers: shared.store.make_headers(),
                events: Vec::new(),
                refusal: None,
            };
            let mut flag = CommitFlag::default();
            let value = {
                let mut domain = shared.definition.domain(&mut writer);
                action(&mut domain, &mut flag)?
            };
            if let Some(refusal) = writer.refusal.take() {
                // The private copy may hold part of the refused event: nothing is committed.
                return Err(refusal.into());
            }
            if !flag.ready || writer.events.is_empty() {
                return Ok(Outcome {
                    value: Some(value),
                    commit: None,
                    attempts: attempt,
                });
            }
            let committed = match &key_tag {
                None if shared.scope.is_none() => self.commit_at(writer)?,
                _ => self.commit_if(writer, key_tag.as_deref())?,
            };
            match committed {
                Ok(number) => {
                    tracing::debug!(commit = number, attempt, "read-write instance committed");
                    return Ok(Outcome {
                        value: Some(value),
                        commit: Some(number),
                        attempts: attempt,
                    });
                }
                Err(conflict) => {
                    tracing::debug!(%conflict, attempt, "read-write instance lost a race; retrying")
                }
            }
        }
        Err(Error::RetriesExhausted {
            attempts: max_attempts,
        }
        .into())
    }

    /// Commits a whole-log instance's events at the number after its position, and installs
    /// its data; the conflict when another commit took that number.
    fn commit_at(&self, writer: Writer<D>) -> Result<std::result::Result<u64, String>> {
        let shared = &self.shared;
        let number = writer.position + 1;
        let committed = shared
            .store
            .try_commit_at(number, &writer.headers, &writer.events)?;
        Ok(match committed {
            Ok(number) => {
                shared.publish(Arc::new(State {
                    data: writer.data,
                    position: number,
                }));
                shared.auto_snapshot();
                Ok(number)
            }
            Err(conflict) => Err(conflict.to_string()),
        })
    }

    /// Commits a scoped or keyed instance's events on the condition that nothing it depends
    /// on was committed after its position (the scope, or the whole log; and the key anywhere).
    /// The data is installed when the commit took the number after the position and carries
    /// no key: otherwise the writer folded its events with another commit number (or without
    /// the key's tag) than the commit has, and the next read folds the commit as written.
    fn commit_if(
        &self,
        mut writer: Writer<D>,
        key_tag: Option<&str>,
    ) -> Result<std::result::Result<u64, String>> {
        let shared = &self.shared;
        let mut boundary = shared.scope.clone().unwrap_or_else(Query::all);
        if let Some(tag) = key_tag {
            boundary = boundary.item(QueryItem::new().tag(tag));
            let first = writer.events.remove(0);
            writer.events.insert(0, first.tagged([tag]));
        }
        let condition = AppendCondition::none_matching_after(boundary, writer.position);
        let committed = shared
            .store
            .append_if_with(&writer.headers, &writer.events, &condition)?;
        if let Ok(number) = committed {
            if key_tag.is_none() && number == writer.position + 1 {
                shared.publish(Arc::new(State {
                    data: writer.data,
                    position: number,
                }));
                shared.auto_snapshot();
            }
        }
        Ok(committed.map_err(|failed| failed.to_string()))
    }

    /// The data as the model last folded it, without looking at the store (restoring it
    /// first if the model has never been read). With a [`follow`](Self::follow)er running,
    /// this is current within moments of every commit, from any process.
    ///
    /// # Errors
    /// Errors of restoring the model the first time.
    pub fn latest(&self) -> Result<AggregatorData<D>> {
        match self.shared.current() {
            Some(state) => Ok(AggregatorData { state }),
            None => self.aggregator_data(),
        }
    }

    /// Saves the data as a snapshot labelled with the last commit folded in, after bringing
    /// the model up to the end of the log. Returns that label; `None` when the model has no
    /// snapshot name or the log is empty. An existing snapshot at that label is success.
    ///
    /// # Errors
    /// Errors of folding the log; I/O errors.
    pub fn snapshot(&self) -> Result<Option<u64>> {
        let state = self.shared.refresh()?;
        self.shared.save_snapshot(&state)
    }
}
