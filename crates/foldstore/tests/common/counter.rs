//! A counter model whose only event adds to it: its data is the sum of its events.

use foldstore::{EventContext, ModelDefinition, View};
use serde::{Deserialize, Serialize};

/// The counter's only event: add `by`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", content = "data", rename_all = "camelCase")]
pub enum CounterEvent {
    /// Adds `by` to the counter.
    Incremented {
        /// How much to add.
        by: i64,
    },
}

/// A counter: its data is the sum of its events; its domain model is the view itself.
pub struct Counter;

impl ModelDefinition for Counter {
    type Data = i64;
    type Event = CounterEvent;
    type Error = String;
    type Domain<V: View<Self>> = V;

    fn initial_data(&self) -> i64 {
        0
    }

    fn apply(
        &self,
        data: &mut i64,
        event: CounterEvent,
        _: &EventContext<'_>,
    ) -> Result<(), String> {
        match event {
            CounterEvent::Incremented { by } => *data += by,
        }
        Ok(())
    }

    fn domain<V: View<Self>>(&self, view: V) -> V {
        view
    }
}
