//! Models: folding the log into data (the log aggregator), and the domain model over that data.
//!
//! A [`ModelDefinition`] says how events fold into the aggregated data and how to build the
//! domain model over a view of that data; [`Store::define_model`](crate::Store::define_model)
//! turns it into a [`Model`], which keeps the data current and offers read instances, read-write
//! instances with optimistic concurrency, snapshots and time travel.
//!
//! The room, one concern a module: `handle` (the [`Model`] handle, its builder and its
//! instances), `instance` (the views a domain model is built over), `state` (the state every
//! clone shares), `fold` (the fold engine), `snapshots` (restoring and saving), `follow` (the
//! background follower), `time_travel` ([`ModelAt`]), `report` (what was skipped), `names`
//! (matching event names), `check` (checking a definition against a whole store) and `scope` (scoped models: folding only the events of a query, and
//! the names of their snapshots). `state` imports none of its siblings but `names` and `report`.

mod check;
mod fold;
mod follow;
mod handle;
mod instance;
mod names;
mod report;
mod scope;
mod snapshots;
mod state;
mod time_travel;

pub use check::ModelCheck;
pub use follow::Follower;
pub use handle::{Model, ModelBuilder, DEFAULT_MAX_ATTEMPTS};
pub use instance::{AggregatorData, CommitFlag, Outcome, ReadOnly, Writer};
pub use report::{ModelReport, SkippedCommit, SkippedSnapshot};
pub use time_travel::ModelAt;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::Result;
use crate::event::{Event, Headers};
use crate::query::Query;
use crate::upcast::Upcasters;

/// Where an event being folded comes from.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct EventContext<'a> {
    /// The number of the commit holding the event (for an event dispatched by a read-write
    /// instance: the number its commit will have if it wins; a scoped model's instance may
    /// commit at a later number, after commits outside its scope).
    pub commit: u64,
    /// The event's position in its commit, from 0.
    pub index: usize,
    /// The commit's headers.
    pub headers: &'a Headers,
}

/// How a model folds events into its data, and how its domain model is built.
///
/// This is the original package's `defineModel({snapshotName, initializeLogAggregatorData,
/// createLogAggregator, createDomainModel})`:
/// - [`initial_data`](Self::initial_data) is `initializeLogAggregatorData`;
/// - [`apply`](Self::apply) is the log aggregator's event handlers, one `match` arm per event
///   (the typed enum's variant is the handler's name), and [`fallback`](Self::fallback) its
///   fallback handler, for names the event type does not know;
/// - [`domain`](Self::domain) is `createDomainModel`: it wraps a view of the data, which can
///   dispatch events only when it is a read-write instance's [`Writer`] (the [`Dispatch`]
///   trait), so a read instance cannot dispatch, by type.
///
/// Handlers are pure folds: they change the data and nothing else, and return an error to
/// refuse an event (a read-write instance that dispatches a refused event commits nothing).
///
/// Event names are matched as the original does: an enum whose variants are named
/// `memberHasMoved` handles events written as `memberHasMoved` and as `MemberHasMoved`. With
/// `type Event = foldstore::Event`, the definition is untyped and every event reaches `apply`.
///
/// # Scoped models
///
/// By default a model depends on the whole log: it folds every commit, and a read-write
/// instance commits only if no other commit was made since it read (the whole log is its
/// consistency boundary). A definition that returns a [`Query`] from [`scope`](Self::scope)
/// depends only on the events matching it: the model folds only those (read through the
/// store's event index, [`Store::events_matching`](crate::Store::events_matching)), and its
/// read-write instances commit on the condition that no matching event was committed since
/// they read ([`Store::append_if`](crate::Store::append_if)). A commit that does not match
/// never makes the action run again; only a matching one makes the instance catch up and
/// retry. Build the scope from the definition's own parameters: `AccountModel { id: 7 }`
/// depends on `Query::tag("account:7")`.
///
/// Events get no tags automatically: the definition tags its typed events in
/// [`event_tags`](Self::event_tags) (untyped events carry their own). Every event a scoped
/// instance dispatches must match the scope, since the model could never see it otherwise;
/// one that does not is refused ([`Error::InvalidEvent`](crate::Error::InvalidEvent)) and the
/// instance commits nothing.
///
/// A scoped model's snapshots are saved and restored as any model's, under the snapshot name
/// followed by `-scope-` and a hash of the scope, and with the scope itself in a `scope`
/// header: two accounts' models never share a snapshot, and a snapshot whose `scope` header
/// is not the model's (a hash collision, or a file written by another program) is skipped and
/// reported, never trusted.
pub trait ModelDefinition: Send + Sync + 'static {
    /// The aggregated data (the log aggregator's data).
    type Data: Clone + Serialize + DeserializeOwned + Send + Sync + 'static;
    /// The events: typically a serde enum `#[serde(tag = "name", content = "data")]`.
    type Event: Serialize + DeserializeOwned;
    /// A handler's refusal of an event.
    type Error: std::fmt::Display;
    /// The domain model, built over a view of the data ([`ReadOnly`] or `&mut` [`Writer`]).
    type Domain<V: View<Self>>;

    /// The snapshot name (files `k.<name>-snapshot`), or `None` for a model without snapshots.
    fn snapshot_name(&self) -> Option<&str> {
        None
    }

    /// The version of the data's shape. Snapshots carry it; a snapshot of another version is
    /// skipped (and reported), never trusted. `None`: snapshots are not versioned.
    fn version(&self) -> Option<u64> {
        None
    }

    /// The events the model depends on, built from the definition's own parameters; `None`
    /// (the default): the whole log. See [Scoped models](#scoped-models).
    fn scope(&self) -> Option<Query> {
        None
    }

    /// The tags of a typed event this model's instances dispatch (the domain model tags its
    /// events here; the default: none). A scoped model's events must match its scope.
    fn event_tags(&self, event: &Self::Event) -> Vec<String> {
        let _ = event;
        Vec::new()
    }

    /// The version of a typed event's shape this model's instances dispatch: written as the
    /// event's `version` member ([`Event::version`]) unless it is 1 (the default, which is what
    /// an event without the member reads as). Raise it when the event's shape changes, and
    /// add an upcaster from the old version in [`upcasters`](Self::upcasters).
    fn event_version(&self, event: &Self::Event) -> u32 {
        let _ = event;
        1
    }

    /// The upcasters that bring the events of the log to the shapes of
    /// [`Event`](Self::Event) before they are folded (before [`apply`](Self::apply),
    /// [`fallback`](Self::fallback) and typed decoding); the default: none. Events the
    /// model's own instances dispatch are folded as they are (they are of the newest shape).
    ///
    /// Upcasters shape the model's data, so a snapshot taken with other upcasters is not to
    /// be trusted: change [`version`](Self::version) whenever the upcasters change, and the
    /// model rebuilds from the log (skipping the older snapshots). Asked once, when the model
    /// is defined. See [`Upcasters`](crate::Upcasters).
    fn upcasters(&self) -> Upcasters {
        Upcasters::new()
    }

    /// The data before any event.
    fn initial_data(&self) -> Self::Data;

    /// Folds one event into the data, or refuses it.
    ///
    /// # Errors
    /// The handler's refusal.
    fn apply(
        &self,
        data: &mut Self::Data,
        event: Self::Event,
        context: &EventContext<'_>,
    ) -> Result<(), Self::Error>;

    /// Folds an event whose name the event type does not know, or whose data was forgotten
    /// (the [`Forgotten`](crate::Forgotten) placeholder) where the event type has no room for
    /// it (see [`Forgettable`](crate::Forgettable)). By default such events are ignored, as in
    /// the original package when there is no fallback handler.
    ///
    /// # Errors
    /// The handler's refusal.
    fn fallback(
        &self,
        data: &mut Self::Data,
        event: &Event,
        context: &EventContext<'_>,
    ) -> Result<(), Self::Error> {
        let _ = (data, event, context);
        Ok(())
    }

    /// Builds the domain model over a view of the data.
    fn domain<V: View<Self>>(&self, view: V) -> Self::Domain<V>;
}

/// Read access to a model's data: what every domain model is built over.
pub trait View<D: ModelDefinition + ?Sized> {
    /// The aggregated data (in a read-write instance: with the instance's own events applied).
    fn data(&self) -> &D::Data;

    /// The last commit folded into the data (its own events aside); for a scoped model, the
    /// log's end when it read (the commits after its last matching one hold nothing it folds).
    fn position(&self) -> u64;
}

/// Dispatching events: only a read-write instance's [`Writer`] can.
pub trait Dispatch<D: ModelDefinition + ?Sized>: View<D> {
    /// Records `event` for the instance's commit and applies it to the instance's data at once.
    ///
    /// # Errors
    /// [`Error::Rejected`](crate::Error::Rejected) when the model's handler refuses it (the
    /// instance then commits nothing); [`Error::InvalidEvent`](crate::Error::InvalidEvent) when
    /// it does not serialize to an event.
    fn dispatch(&mut self, event: D::Event) -> Result<()>;
}

impl<D: ModelDefinition + ?Sized, V: View<D> + ?Sized> View<D> for &V {
    fn data(&self) -> &D::Data {
        (**self).data()
    }
    fn position(&self) -> u64 {
        (**self).position()
    }
}

impl<D: ModelDefinition + ?Sized, V: View<D> + ?Sized> View<D> for &mut V {
    fn data(&self) -> &D::Data {
        (**self).data()
    }
    fn position(&self) -> u64 {
        (**self).position()
    }
}

impl<D: ModelDefinition + ?Sized, V: Dispatch<D> + ?Sized> Dispatch<D> for &mut V {
    fn dispatch(&mut self, event: D::Event) -> Result<()> {
        (**self).dispatch(event)
    }
}
