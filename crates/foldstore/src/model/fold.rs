//! The fold engine: commits folded into a model's data, event by event, with failing commits
//! skipped or stopped at.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::names::{EventNames, Matched};
use super::report::SkippedCommit;
use super::state::{lock, Shared, State};
use super::{EventContext, ModelDefinition};
use crate::error::{Error, Result};
use crate::event::{Event, Headers};
use crate::forget::Forgotten;
use crate::format::Commit;
use crate::upcast::{upcast_error, UpcastError, Upcasters};

/// Why one event could not be folded.
pub(super) enum FoldFailure {
    Refused(String),
    BadData(String),
    Upcast(UpcastError),
}

impl FoldFailure {
    /// The error of event #`index` (`name`, as written) of commit `commit` at `location`.
    pub(super) fn into_error(
        self,
        commit: u64,
        location: String,
        index: usize,
        name: &str,
    ) -> Error {
        let name = name.to_owned();
        match self {
            FoldFailure::Refused(message) => Error::Handler {
                commit,
                location,
                index,
                name,
                message,
            },
            FoldFailure::BadData(message) => Error::EventData {
                commit,
                location,
                index,
                name,
                message,
            },
            FoldFailure::Upcast(error) => upcast_error(error, commit, location, index, &name),
        }
    }
}

/// Folds one event, in its newest shape, into `data` with `definition`'s handlers; `applied`
/// is called with the index of each upcaster that turned it.
pub(super) fn fold_one<D: ModelDefinition>(
    definition: &D,
    names: &EventNames,
    upcasters: &Upcasters,
    data: &mut D::Data,
    event: &Event,
    context: &EventContext<'_>,
    applied: impl FnMut(usize),
) -> Result<(), FoldFailure> {
    let newest = upcasters.run(event, applied).map_err(FoldFailure::Upcast)?;
    let event = newest.as_ref().unwrap_or(event);
    let fallback = |data: &mut D::Data| {
        definition
            .fallback(data, event, context)
            .map_err(|e| FoldFailure::Refused(e.to_string()))
    };
    let typed = match names.find(event.name()) {
        Matched::Unknown => return fallback(data),
        Matched::Exact => event.to_typed::<D::Event>(),
        Matched::Respelled(name) => event.to_typed_as::<D::Event>(name),
    };
    let typed = match typed {
        Ok(typed) => typed,
        // Forgotten data that the event type cannot hold (it has no `Forgettable`) is the
        // fallback's, never an error.
        Err(_) if event.data().and_then(Forgotten::in_data).is_some() => return fallback(data),
        Err(e) => return Err(FoldFailure::BadData(e.to_string())),
    };
    definition
        .apply(data, typed, context)
        .map_err(|e| FoldFailure::Refused(e.to_string()))
}

pub(super) type StopBefore<'a> = Option<&'a dyn Fn(&Commit) -> bool>;

impl<D: ModelDefinition> Shared<D> {
    /// Folds the commits after `base` (up to `to`, or before the first commit `stop_before`
    /// accepts) into a copy of its data; for a scoped model, only their matching events. Returns the state of the last whole commit folded,
    /// and the error that stopped it, if any.
    pub(super) fn advance(
        &self,
        base: &Arc<State<D::Data>>,
        to: Option<u64>,
        stop_before: StopBefore<'_>,
    ) -> (Arc<State<D::Data>>, Result<()>) {
        if let Some(scope) = &self.scope {
            return self.advance_scoped(base, scope, to, stop_before);
        }
        let mut skipped = BTreeSet::new();
        let mut working: Option<D::Data> = None;
        let mut position = base.position;
        let finish = |data: Option<D::Data>, position: u64| match data {
            Some(data) => Arc::new(State { data, position }),
            None => Arc::clone(base),
        };
        let mut replay = self.store.replay().stored().from(base.position + 1);
        if self.names.is_typed() && self.upcasters.is_empty() {
            // Typed events are read straight from their data's text.
            replay = replay.data_on_demand();
        }
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
            self.record_skipped(commit.number(), &error);
            skipped.insert(commit.number());
            working = rebuilt;
            position = commit.number();
        }
        (finish(working, position), Ok(()))
    }

    /// Records that a failing commit was skipped.
    pub(super) fn record_skipped(&self, commit: u64, error: &Error) {
        tracing::warn!(commit, %error, "commit skipped");
        lock(&self.report).skipped_commits.push(SkippedCommit {
            commit,
            reason: error.to_string(),
        });
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
        for commit in self.store.commits_stored(base.position + 1..=to) {
            let commit = commit?;
            if !skipped.contains(&commit.number()) {
                self.fold_commit(&mut data, &commit)?;
            }
        }
        Ok(Some(data))
    }

    /// Folds every event of `commit` into `data`; on error, `data` may hold part of the commit.
    fn fold_commit(&self, data: &mut D::Data, commit: &Commit) -> Result<()> {
        self.fold_events(
            data,
            commit.number(),
            commit.headers(),
            commit.events().iter().enumerate(),
        )
    }

    /// Folds `events` (each with its position in commit `number`) into `data`; on error, `data`
    /// may hold part of them.
    pub(super) fn fold_events<'e>(
        &self,
        data: &mut D::Data,
        number: u64,
        headers: &Headers,
        events: impl Iterator<Item = (usize, &'e Event)>,
    ) -> Result<()> {
        for (index, event) in events {
            let context = EventContext {
                commit: number,
                index,
                headers,
            };
            let folded = fold_one(
                &*self.definition,
                &self.names,
                &self.upcasters,
                data,
                event,
                &context,
                |_| {},
            );
            if let Err(failure) = folded {
                let location = self.store.storage().commit_location(number);
                return Err(failure.into_error(number, location, index, event.name()));
            }
        }
        Ok(())
    }
}
