//! The views a domain model is built over: read-only, and the read-write instance's writer.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use super::state::State;
use super::{Dispatch, EventContext, ModelDefinition, View};
use crate::error::{Error, Result};
use crate::event::{Event, Headers};
use crate::query::Query;

/// A read-only view of a model's data: it has no way to dispatch events.
///
/// A read instance's domain model is built over this view, so calling a dispatching method
/// on it does not compile:
///
/// ```compile_fail
/// use foldstore::{Dispatch, ModelDefinition, ReadOnly};
///
/// fn try_to_dispatch<D: ModelDefinition>(mut view: ReadOnly<'_, D>, event: D::Event) {
///     view.dispatch(event); // error: `ReadOnly` does not implement `Dispatch`
/// }
/// ```
///
/// while the same function over a read-write instance's writer compiles:
///
/// ```
/// use foldstore::{Dispatch, ModelDefinition, Writer};
///
/// fn dispatch<D: ModelDefinition>(view: &mut Writer<D>, event: D::Event) -> foldstore::Result<()> {
///     view.dispatch(event)
/// }
/// ```
pub struct ReadOnly<'a, D: ModelDefinition + ?Sized> {
    pub(crate) data: &'a D::Data,
    pub(crate) position: u64,
}

impl<D: ModelDefinition + ?Sized> View<D> for ReadOnly<'_, D> {
    fn data(&self) -> &D::Data {
        self.data
    }
    fn position(&self) -> u64 {
        self.position
    }
}

impl<D: ModelDefinition + ?Sized> Clone for ReadOnly<'_, D> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<D: ModelDefinition + ?Sized> Copy for ReadOnly<'_, D> {}

impl<D: ModelDefinition + ?Sized> fmt::Debug for ReadOnly<'_, D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadOnly")
            .field("position", &self.position)
            .finish_non_exhaustive()
    }
}

/// A read-write instance's view: a private copy of the data, and the events dispatched so far,
/// already applied to that copy.
pub struct Writer<D: ModelDefinition> {
    pub(crate) definition: Arc<D>,
    /// A scoped model's scope, which every dispatched event must match.
    pub(crate) scope: Option<Query>,
    pub(crate) data: D::Data,
    pub(crate) position: u64,
    pub(crate) headers: Headers,
    pub(crate) events: Vec<Event>,
    /// The first refusal of a dispatched event: the attempt fails with it, even if the action
    /// went on as if nothing happened.
    pub(crate) refusal: Option<Error>,
}

impl<D: ModelDefinition> fmt::Debug for Writer<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Writer")
            .field("position", &self.position)
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

impl<D: ModelDefinition> Writer<D> {
    /// The events dispatched so far in this attempt.
    pub fn events(&self) -> &[Event] {
        &self.events
    }
}

impl<D: ModelDefinition> View<D> for Writer<D> {
    fn data(&self) -> &D::Data {
        &self.data
    }
    fn position(&self) -> u64 {
        self.position
    }
}

impl<D: ModelDefinition> Dispatch<D> for Writer<D> {
    fn dispatch(&mut self, event: D::Event) -> Result<()> {
        // Untagged events are written as before tags existed (no `tags` member).
        let untyped = Event::from_typed(&event)?.tagged(self.definition.event_tags(&event));
        // Version 1 is what an event without a version reads as: it is not written.
        let untyped = match self.definition.event_version(&event) {
            1 => untyped,
            version => untyped.versioned(version),
        };
        if let Some(scope) = self.scope.as_ref().filter(|scope| !scope.matches(&untyped)) {
            let problem = format!(
                "event `{}` with tags {:?} does not match the model's scope {scope:?}, so the model could never see it: tag it (ModelDefinition::event_tags) to match the scope",
                untyped.name(),
                untyped.tags().collect::<Vec<_>>()
            );
            self.refusal.get_or_insert(Error::InvalidEvent {
                problem: problem.clone(),
            });
            return Err(Error::InvalidEvent { problem });
        }
        let context = EventContext {
            commit: self.position + 1,
            index: self.events.len(),
            headers: &self.headers,
        };
        if let Err(refusal) = self.definition.apply(&mut self.data, event, &context) {
            let rejected = |message: String| Error::Rejected {
                name: untyped.name().to_owned(),
                message,
            };
            let message = refusal.to_string();
            self.refusal
                .get_or_insert_with(|| rejected(message.clone()));
            return Err(rejected(message));
        }
        self.events.push(untyped);
        Ok(())
    }
}

/// The ready-to-commit flag of one attempt of a read-write instance; unset at every attempt.
#[derive(Debug, Default)]
pub struct CommitFlag {
    pub(crate) ready: bool,
}

impl CommitFlag {
    /// Asks for the instance's events to be committed when the action returns `Ok`.
    pub fn ready_to_commit(&mut self) {
        self.ready = true;
    }

    /// Whether [`ready_to_commit`](Self::ready_to_commit) was called in this attempt.
    pub fn is_ready(&self) -> bool {
        self.ready
    }
}

/// What a read-write instance did.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Outcome<R> {
    /// What the action returned (in its last attempt).
    pub value: R,
    /// The commit written, if any (none when the action did not call ready-to-commit, or
    /// dispatched nothing).
    pub commit: Option<u64>,
    /// How many attempts it took: 1 when no other writer got in the way.
    pub attempts: u32,
}

/// A read-only view of a model's current data, as of one commit; holds no lock.
pub struct AggregatorData<D: ModelDefinition> {
    pub(crate) state: Arc<State<D::Data>>,
}

impl<D: ModelDefinition> AggregatorData<D> {
    /// The last commit folded into the data.
    pub fn position(&self) -> u64 {
        self.state.position
    }
}

impl<D: ModelDefinition> Deref for AggregatorData<D> {
    type Target = D::Data;
    fn deref(&self) -> &D::Data {
        &self.state.data
    }
}

impl<D: ModelDefinition> fmt::Debug for AggregatorData<D>
where
    D::Data: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AggregatorData")
            .field("position", &self.state.position)
            .field("data", &self.state.data)
            .finish()
    }
}
