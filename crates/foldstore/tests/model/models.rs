//! The models under test: a counter with a snapshot name, a version, a fallback and a domain model;
//! an untyped model; the tutorial's membership model under the fixture's snapshot name.

use crate::common::counter::CounterEvent;
use crate::fixtures::incremented;
use crate::memberlist::{MemberEvent, MemberList, Membership, Refusal};
use foldstore::Model;
use foldstore::{Dispatch, Event, EventContext, ModelDefinition, View};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The counter's data.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct Count {
    pub(crate) value: i64,
    /// Every event the typed handler folded: `{"commit", "index", "user"}`.
    pub(crate) seen: Vec<Value>,
    /// Every event the fallback handler got: `{"name", "data", "hasData", "commit", "user"}`.
    pub(crate) unknown: Vec<Value>,
}

/// A counter model, with an optional snapshot name and version.
#[derive(Clone, Debug, Default)]
pub(crate) struct Counter {
    pub(crate) snapshot: Option<&'static str>,
    pub(crate) version: Option<u64>,
}

impl Counter {
    pub(crate) fn named(name: &'static str) -> Self {
        Counter {
            snapshot: Some(name),
            version: None,
        }
    }

    pub(crate) fn versioned(name: &'static str, version: u64) -> Self {
        Counter {
            snapshot: Some(name),
            version: Some(version),
        }
    }
}

impl ModelDefinition for Counter {
    type Data = Count;
    type Event = CounterEvent;
    type Error = String;
    type Domain<V: View<Self>> = CounterDomain<V>;

    fn snapshot_name(&self) -> Option<&str> {
        self.snapshot
    }

    fn version(&self) -> Option<u64> {
        self.version
    }

    fn initial_data(&self) -> Count {
        Count::default()
    }

    fn apply(
        &self,
        data: &mut Count,
        event: CounterEvent,
        context: &EventContext<'_>,
    ) -> Result<(), String> {
        data.seen.push(json!({
            "commit": context.commit,
            "index": context.index,
            "user": context.headers.get("user"),
        }));
        match event {
            CounterEvent::Incremented { by } => {
                data.value += by;
                if by < 0 {
                    return Err(format!("cannot increment by {by}"));
                }
            }
            CounterEvent::Doubled => data.value *= 2,
        }
        Ok(())
    }

    fn fallback(
        &self,
        data: &mut Count,
        event: &Event,
        context: &EventContext<'_>,
    ) -> Result<(), String> {
        data.unknown.push(json!({
            "name": event.name(),
            "data": event.data(),
            "hasData": event.data().is_some(),
            "commit": context.commit,
            "index": context.index,
            "user": context.headers.get("user"),
        }));
        Ok(())
    }

    fn domain<V: View<Self>>(&self, view: V) -> CounterDomain<V> {
        CounterDomain { view }
    }
}

/// The counter's domain model.
pub(crate) struct CounterDomain<V> {
    pub(crate) view: V,
}

impl<V: View<Counter>> CounterDomain<V> {
    pub(crate) fn value(&self) -> i64 {
        self.view.data().value
    }

    pub(crate) fn position(&self) -> u64 {
        self.view.position()
    }
}

impl<V: Dispatch<Counter>> CounterDomain<V> {
    pub(crate) fn increment(&mut self, by: i64) -> foldstore::Result<()> {
        self.view.dispatch(incremented(by))
    }

    pub(crate) fn double(&mut self) -> foldstore::Result<()> {
        self.view.dispatch(CounterEvent::Doubled)
    }
}

/// An untyped model: every event reaches `apply` as a [`foldstore::Event`].
pub(crate) struct Untyped;

impl ModelDefinition for Untyped {
    type Data = Vec<Value>;
    type Event = Event;
    type Error = String;
    type Domain<V: View<Self>> = V;

    fn initial_data(&self) -> Vec<Value> {
        Vec::new()
    }

    fn apply(
        &self,
        data: &mut Vec<Value>,
        event: Event,
        context: &EventContext<'_>,
    ) -> Result<(), String> {
        if event.name() == "bad" {
            return Err("bad events are refused".to_owned());
        }
        data.push(json!({
            "commit": context.commit,
            "index": context.index,
            "event": event.to_value(),
        }));
        Ok(())
    }

    fn fallback(
        &self,
        data: &mut Vec<Value>,
        event: &Event,
        _: &EventContext<'_>,
    ) -> Result<(), String> {
        data.push(json!({"fallback": event.name()}));
        Ok(())
    }

    fn domain<V: View<Self>>(&self, view: V) -> V {
        view
    }
}

/// The tutorial's membership model under the snapshot name the handwritten fixture uses.
pub(crate) struct Members;

impl ModelDefinition for Members {
    type Data = MemberList;
    type Event = MemberEvent;
    type Error = Refusal;
    type Domain<V: View<Self>> = V;

    fn snapshot_name(&self) -> Option<&str> {
        Some("members")
    }

    fn initial_data(&self) -> MemberList {
        Membership.initial_data()
    }

    fn apply(
        &self,
        data: &mut MemberList,
        event: MemberEvent,
        context: &EventContext<'_>,
    ) -> Result<(), Refusal> {
        Membership.apply(data, event, context)
    }

    fn fallback(
        &self,
        data: &mut MemberList,
        event: &Event,
        context: &EventContext<'_>,
    ) -> Result<(), Refusal> {
        Membership.fallback(data, event, context)
    }

    fn domain<V: View<Self>>(&self, view: V) -> V {
        view
    }
}

pub(crate) fn value_of<T: Serialize>(data: &T) -> Value {
    serde_json::to_value(data).unwrap()
}

/// Checks what `model` folds the log into now: the counter's value, at `position`.
#[track_caller]
pub(crate) fn assert_folded(model: &Model<Counter>, value: i64, position: u64) {
    let data = model.aggregator_data().unwrap();
    assert_eq!((data.value, data.position()), (value, position));
}

/// Adds `by` in a read-write instance of `model` that must commit at its first attempt.
#[track_caller]
pub(crate) fn commit_increment(model: &Model<Counter>, by: i64) {
    model
        .with_read_write_instance(
            |counter, flag| {
                counter.increment(by)?;
                flag.ready_to_commit();
                Ok::<_, foldstore::Error>(())
            },
            1,
        )
        .unwrap();
}
