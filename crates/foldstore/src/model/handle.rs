//! [`Model`]: a model definition bound to a store, kept current incrementally.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::SystemTime;

use serde_json::Value;

use super::instance::{AggregatorData, CommitFlag, Outcome, ReadOnly, Writer};
use super::names::{EventNames, Matched};
use super::{EventContext, ModelDefinition};
use crate::error::{Error, Result};
use crate::event::Event;
use crate::format::{encode_commit, Commit};
use crate::snapshot::labels_of;
use crate::storage::validate_snapshot_name;
use crate::store::Store;

/// The number of attempts of a read-write instance in the original package: 5.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;

/// A model's data as of one commit.
pub(crate) struct State<T> {
    pub(crate) data: T,
    pub(crate) position: u64,
}

/// A model definition bound to a store: the aggregated data, kept current by folding only
/// the commits after the last one it folded.
///
/// `Model` is cheap to clone and can be shared by threads; readers do not wait for a writer's
/// action. Made by [`Store::define_model`] or [`Store::model`].
pub struct Model<D: ModelDefinition> {
    shared: Arc<Shared<D>>,
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
            .field("snapshot_name", &self.shared.definition.snapshot_name())
            .field("position", &self.shared.current().map(|s| s.position))
            .finish_non_exhaustive()
    }
}

struct Shared<D: ModelDefinition> {
    store: Store,
    definition: Arc<D>,
    names: EventNames,
    snapshot_every: Option<u64>,
    skip_failing_commits: bool,
    state: RwLock<Option<Arc<State<D::Data>>>>,
    /// Held while folding new commits, so two threads do not fold the same commits.
    refreshing: Mutex<()>,
    /// The position of the newest snapshot taken or restored.
    last_snapshot: AtomicU64,
    report: Mutex<ModelReport>,
}

/// What a model skipped, and why: nothing is skipped silently.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ModelReport {
    /// The snapshot the model was restored from, if any.
    pub restored_from: Option<u64>,
    /// Snapshots passed over when restoring (damaged, without data, of another version, not
    /// fitting the data type, or beyond the end of the log).
    pub skipped_snapshots: Vec<SkippedSnapshot>,
    /// Commits passed over because a handler refused them (only with
    /// [`ModelBuilder::skip_failing_commits`]).
    pub skipped_commits: Vec<SkippedCommit>,
    /// Automatic snapshots that could not be saved.
    pub failed_snapshots: Vec<String>,
    /// Why the model's follower stopped, if it stopped on an error.
    pub follower_error: Option<String>,
}

/// Keeps a model current in the background; made by [`Model::follow`]. Dropping it stops the
/// thread (within a poll interval).
#[derive(Debug)]
pub struct Follower {
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Follower {
    /// Stops the thread and waits for it to end.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
    }
}

/// A snapshot a model did not use.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SkippedSnapshot {
    /// Its label: the last commit it claims to hold.
    pub commit: u64,
    /// Where it is.
    pub location: String,
    /// Why it was not used.
    pub reason: String,
}

/// A commit a model did not fold.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SkippedCommit {
    /// Its number.
    pub commit: u64,
    /// The error that made the model skip it.
    pub reason: String,
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
        Ok(Model {
            shared: Arc::new(Shared {
                store: self.store,
                names: EventNames::of::<D::Event>(),
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

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded values are replaced whole, so a panic elsewhere cannot leave them torn.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
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
    /// # Errors
    /// The action's error (nothing written); [`Error::RetriesExhausted`] when every attempt lost
    /// its race (nothing written); [`Error::InvalidEvent`] or [`Error::InvalidHeaders`] when the
    /// commit would be nested deeper than [`Commit::MAX_NESTING`] (nothing written); errors of
    /// reading and folding the log; I/O errors.
    pub fn with_read_write_instance<R, E, F>(
        &self,
        mut action: F,
        max_attempts: u32,
    ) -> Result<Outcome<R>, E>
    where
        F: FnMut(&mut D::Domain<&mut Writer<D>>, &mut CommitFlag) -> Result<R, E>,
        E: From<Error>,
    {
        let shared = &self.shared;
        for attempt in 1..=max_attempts {
            let state = shared.refresh()?;
            let mut writer = Writer {
                definition: Arc::clone(&shared.definition),
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
                    value,
                    commit: None,
                    attempts: attempt,
                });
            }
            let number = state.position + 1;
            // Refused, nothing written, when no reader could read it back.
            let document = encode_commit(&writer.headers, &writer.events)?;
            match shared.store.storage().create_commit(number, &document)? {
                Ok(()) => {
                    shared.store.note_tip(number);
                    tracing::debug!(commit = number, attempt, "read-write instance committed");
                    shared.publish(Arc::new(State {
                        data: writer.data,
                        position: number,
                    }));
                    shared.auto_snapshot();
                    return Ok(Outcome {
                        value,
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

    /// Keeps the model current in the background: a thread subscribes to the store and folds
    /// each new commit as it lands, so that [`latest`](Self::latest) need not read the store.
    /// It stops when the returned [`Follower`] is dropped (or stopped) or the model is gone.
    ///
    /// # Errors
    /// When the subscription cannot be set up, or the model cannot be brought up to date.
    pub fn follow(&self) -> Result<Follower> {
        let position = self.shared.refresh()?.position;
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut subscription = self
            .shared
            .store
            .subscribe(crate::Start::After(position))?
            .cancelled_by(Arc::clone(&stop));
        let model = Arc::downgrade(&self.shared);
        let thread = std::thread::Builder::new()
            .name("foldstore-follower".to_owned())
            .spawn(move || {
                for commit in &mut subscription {
                    let Some(model) = model.upgrade() else { break };
                    let folded = commit.and_then(|commit| {
                        if model.current().is_none_or(|s| s.position < commit.number()) {
                            model.refresh().map(|_| ())
                        } else {
                            Ok(())
                        }
                    });
                    if let Err(e) = folded {
                        tracing::warn!(error = %e, "the model's follower stopped");
                        lock(&model.report).follower_error = Some(e.to_string());
                        break;
                    }
                }
            })
            .map_err(|e| Error::Backend {
                backend: "follower",
                message: format!("cannot start the follower thread: {e}"),
                source: Some(Box::new(e)),
            })?;
        Ok(Follower {
            stop,
            thread: Some(thread),
        })
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

    /// The model as it was when commit `commit` was the last one (time travel).
    ///
    /// # Errors
    /// [`Error::OutOfRange`] beyond the end of the log; errors of folding the log.
    pub fn at_commit(&self, commit: u64) -> Result<ModelAt<D>> {
        let shared = &self.shared;
        let tip = shared.store.tip()?;
        if commit > tip {
            return Err(Error::OutOfRange {
                requested: commit,
                tip,
            });
        }
        let base = match shared.current() {
            Some(state) if state.position <= commit => state,
            _ => shared.restore(commit, shared.snapshot_labels()?)?,
        };
        let (state, result) = shared.advance(&base, Some(commit), None);
        result?;
        Ok(ModelAt {
            definition: Arc::clone(&shared.definition),
            state,
        })
    }

    /// The model as it was at `time`: folded over the longest prefix of the log whose commits
    /// have a `time` header not later than `time` (a commit without a readable `time` does not
    /// end the prefix).
    ///
    /// # Errors
    /// Errors of folding the log.
    pub fn at_time(&self, time: SystemTime) -> Result<ModelAt<D>> {
        let shared = &self.shared;
        let base = Arc::new(State {
            data: shared.definition.initial_data(),
            position: 0,
        });
        let after = move |commit: &Commit| commit.time().is_some_and(|t| t > time);
        let (state, result) = shared.advance(&base, None, Some(&after));
        result?;
        Ok(ModelAt {
            definition: Arc::clone(&shared.definition),
            state,
        })
    }
}

/// A model as of a past commit, detached from the store: see [`Model::at_commit`].
pub struct ModelAt<D: ModelDefinition> {
    definition: Arc<D>,
    state: Arc<State<D::Data>>,
}

impl<D: ModelDefinition> fmt::Debug for ModelAt<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ModelAt")
            .field("position", &self.state.position)
            .finish_non_exhaustive()
    }
}

impl<D: ModelDefinition> ModelAt<D> {
    /// The last commit folded in.
    pub fn position(&self) -> u64 {
        self.state.position
    }

    /// The data.
    pub fn data(&self) -> &D::Data {
        &self.state.data
    }

    /// Runs `action` on a read-only domain model over this data.
    pub fn with_read_instance<R>(&self, action: impl FnOnce(D::Domain<ReadOnly<'_, D>>) -> R) -> R {
        action(self.definition.domain(ReadOnly {
            data: &self.state.data,
            position: self.state.position,
        }))
    }
}

/// Why one event could not be folded.
enum FoldFailure {
    Refused(String),
    BadData(String),
}

type StopBefore<'a> = Option<&'a dyn Fn(&Commit) -> bool>;

impl<D: ModelDefinition> Shared<D> {
    fn current(&self) -> Option<Arc<State<D::Data>>> {
        self.state.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Installs `new` unless the model is already further.
    fn publish(&self, new: Arc<State<D::Data>>) {
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        if state.as_ref().is_none_or(|s| s.position < new.position) {
            *state = Some(new);
        }
    }

    /// Folds the commits that are new since the model last looked, and returns the state.
    fn refresh(&self) -> Result<Arc<State<D::Data>>> {
        let _refreshing = lock(&self.refreshing);
        let base = match self.current() {
            Some(state) => state,
            None => {
                // One listing finds both the log's end and the snapshots.
                let labels = match self.definition.snapshot_name() {
                    Some(name) => {
                        let (snapshots, last) = self.store.storage().snapshots()?;
                        if let Some(last) = last {
                            self.store.adopt_tip(last);
                        }
                        labels_of(snapshots, name)
                    }
                    None => Vec::new(),
                };
                let tip = self.store.tip()?;
                let restored = self.restore(tip, labels)?;
                self.publish(Arc::clone(&restored));
                restored
            }
        };
        let (state, result) = self.advance(&base, None, None);
        if state.position > base.position {
            self.publish(Arc::clone(&state));
            self.auto_snapshot();
        }
        result.map(|()| state)
    }

    /// The labels of the model's snapshots, from a listing of the store.
    fn snapshot_labels(&self) -> Result<Vec<u64>> {
        match self.definition.snapshot_name() {
            Some(name) => self.store.snapshot_labels(name),
            None => Ok(Vec::new()),
        }
    }

    /// The newest usable snapshot among `labels` labelled at most `at_most`, or the initial
    /// data.
    fn restore(&self, at_most: u64, labels: Vec<u64>) -> Result<Arc<State<D::Data>>> {
        if let Some(name) = self.definition.snapshot_name() {
            for commit in labels.into_iter().rev() {
                match self.read_snapshot(name, commit, at_most) {
                    Ok(Some(data)) => {
                        tracing::debug!(name, commit, "model restored from a snapshot");
                        self.last_snapshot.fetch_max(commit, Ordering::AcqRel);
                        lock(&self.report).restored_from = Some(commit);
                        return Ok(Arc::new(State {
                            data,
                            position: commit,
                        }));
                    }
                    Ok(None) => {}
                    Err(reason) => {
                        let location = self.store.storage().snapshot_location(name, commit);
                        tracing::warn!(%location, %reason, "snapshot skipped");
                        let mut report = lock(&self.report);
                        if !report.skipped_snapshots.iter().any(|s| s.commit == commit) {
                            report.skipped_snapshots.push(SkippedSnapshot {
                                commit,
                                location,
                                reason,
                            });
                        }
                    }
                }
            }
        }
        Ok(Arc::new(State {
            data: self.definition.initial_data(),
            position: 0,
        }))
    }

    /// Reads one snapshot: `Ok(None)` when it is above `at_most` (not wanted here), `Err` with
    /// the reason when it cannot be trusted.
    fn read_snapshot(
        &self,
        name: &str,
        commit: u64,
        at_most: u64,
    ) -> Result<Option<D::Data>, String> {
        let tip = self.store.known_tip().map_err(|e| e.to_string())?;
        if commit > tip {
            return Err(format!(
                "it is labelled with commit {commit}, but the log ends at commit {tip}"
            ));
        }
        if commit > at_most {
            return Ok(None);
        }
        let snapshot = match self.store.read_snapshot(name, commit) {
            Ok(Some(snapshot)) => snapshot,
            Ok(None) => return Ok(None),
            Err(e) => return Err(e.to_string()),
        };
        if let Some(version) = self.definition.version() {
            match snapshot.headers.get("version") {
                Some(v) if v.as_u64() == Some(version) => {}
                Some(v) => {
                    return Err(format!(
                        "it holds version {v} of the model's data; the model is version {version}"
                    ))
                }
                None => {
                    return Err(format!(
                        "it has no `version` header; the model is version {version}"
                    ))
                }
            }
        }
        let Some(data) = snapshot.data else {
            return Err(
                "it has no `snapshot` member (the original package writes such snapshots)"
                    .to_owned(),
            );
        };
        crate::format::from_value_deep(data)
            .map(Some)
            .map_err(|e| format!("its data does not fit the model's data type: {e}"))
    }

    /// Saves `state` as a snapshot, with the model's name and version in its headers.
    fn save_snapshot(&self, state: &State<D::Data>) -> Result<Option<u64>> {
        let Some(name) = self.definition.snapshot_name() else {
            return Ok(None);
        };
        if state.position == 0 {
            return Ok(None);
        }
        let data = crate::format::to_value_deep(&state.data).map_err(|e| Error::Backend {
            backend: "snapshot",
            message: format!("the model's data cannot be written as JSON: {e}"),
            source: None,
        })?;
        let mut headers = self.store.make_headers();
        headers.insert("snapshotName".to_owned(), Value::String(name.to_owned()));
        if let Some(version) = self.definition.version() {
            headers.insert("version".to_owned(), Value::from(version));
        }
        self.store
            .save_snapshot_document(name, state.position, &headers, &data)?;
        self.last_snapshot
            .fetch_max(state.position, Ordering::AcqRel);
        Ok(Some(state.position))
    }

    /// Takes a snapshot if the model has gone `snapshot_every` commits past the last one.
    fn auto_snapshot(&self) {
        let Some(every) = self.snapshot_every else {
            return;
        };
        let Some(state) = self.current() else {
            return;
        };
        if state.position < self.last_snapshot.load(Ordering::Acquire) + every {
            return;
        }
        if let Err(e) = self.save_snapshot(&state) {
            tracing::warn!(error = %e, "automatic snapshot failed");
            lock(&self.report).failed_snapshots.push(e.to_string());
        }
    }

    /// Folds the commits after `base` (up to `to`, or before the first commit `stop_before`
    /// accepts) into a copy of its data. Returns the state of the last whole commit folded,
    /// and the error that stopped it, if any.
    fn advance(
        &self,
        base: &Arc<State<D::Data>>,
        to: Option<u64>,
        stop_before: StopBefore<'_>,
    ) -> (Arc<State<D::Data>>, Result<()>) {
        let mut skipped = BTreeSet::new();
        let mut working: Option<D::Data> = None;
        let mut position = base.position;
        let finish = |data: Option<D::Data>, position: u64| match data {
            Some(data) => Arc::new(State { data, position }),
            None => Arc::clone(base),
        };
        let mut replay = self.store.replay().from(base.position + 1);
        if let Some(to) = to {
            replay = replay.to(to);
        }
        if let Some(stop_before) = stop_before {
            replay = replay.stop_before(stop_before);
        }
        let mut commits = replay.commits();
        while let Some(commit) = commits.next() {
            let commit = match commit {
                Ok(commit) => commit,
                Err(e) => return (finish(working, position), Err(e)),
            };
            let data = working.get_or_insert_with(|| base.data.clone());
            let Err(error) = self.fold_commit(data, &commit) else {
                position = commit.number();
                commits.recycle(commit);
                continue;
            };
            // The working copy holds part of this commit: fold again up to the commit before.
            let rebuilt = match self.refold(base, position, &skipped) {
                Ok(rebuilt) => rebuilt,
                Err(e) => return (Arc::clone(base), Err(e)),
            };
            if !self.skip_failing_commits {
                return (finish(rebuilt, position), Err(error));
            }
            tracing::warn!(commit = commit.number(), %error, "commit skipped");
            lock(&self.report).skipped_commits.push(SkippedCommit {
                commit: commit.number(),
                reason: error.to_string(),
            });
            skipped.insert(commit.number());
            working = rebuilt;
            position = commit.number();
        }
        (finish(working, position), Ok(()))
    }

    /// Folds the commits after `base` up to `to` again, leaving out `skipped`.
    fn refold(
        &self,
        base: &State<D::Data>,
        to: u64,
        skipped: &BTreeSet<u64>,
    ) -> Result<Option<D::Data>> {
        if to == base.position {
            return Ok(None);
        }
        let mut data = base.data.clone();
        for commit in self.store.commits(base.position + 1..=to) {
            let commit = commit?;
            if !skipped.contains(&commit.number()) {
                self.fold_commit(&mut data, &commit)?;
            }
        }
        Ok(Some(data))
    }

    /// Folds every event of `commit` into `data`; on error, `data` may hold part of the commit.
    fn fold_commit(&self, data: &mut D::Data, commit: &Commit) -> Result<()> {
        for (index, event) in commit.events().iter().enumerate() {
            let context = EventContext {
                commit: commit.number(),
                index,
                headers: commit.headers(),
            };
            let failure = match self.fold_event(data, event, &context) {
                Ok(()) => continue,
                Err(failure) => failure,
            };
            let location = self.store.storage().commit_location(commit.number());
            let name = event.name().to_owned();
            return Err(match failure {
                FoldFailure::Refused(message) => Error::Handler {
                    commit: commit.number(),
                    location,
                    index,
                    name,
                    message,
                },
                FoldFailure::BadData(message) => Error::EventData {
                    commit: commit.number(),
                    location,
                    index,
                    name,
                    message,
                },
            });
        }
        Ok(())
    }

    fn fold_event(
        &self,
        data: &mut D::Data,
        event: &Event,
        context: &EventContext<'_>,
    ) -> Result<(), FoldFailure> {
        let typed = match self.names.find(event.name()) {
            Matched::Unknown => {
                return self
                    .definition
                    .fallback(data, event, context)
                    .map_err(|e| FoldFailure::Refused(e.to_string()))
            }
            Matched::Exact => event.to_typed::<D::Event>(),
            Matched::Respelled(name) => event.to_typed_as::<D::Event>(name),
        }
        .map_err(|e| FoldFailure::BadData(e.to_string()))?;
        self.definition
            .apply(data, typed, context)
            .map_err(|e| FoldFailure::Refused(e.to_string()))
    }
}
