//! The settings of the kill tests, and the model and events the workers write: every event unique
//! in the store, each worker's in order.

use std::collections::BTreeMap;
use std::time::Duration;

use foldstore::{Durability, Event, EventContext, ModelDefinition, View};
use serde::{Deserialize, Serialize};

/// The store folder a worker process writes to; absent in a normal test run.
pub(crate) const WORKER_FOLDER: &str = "FOLDSTORE_KILL_FOLDER";
/// The worker's number, unique in its store (it is part of every event id the worker writes).
pub(crate) const WORKER_ID: &str = "FOLDSTORE_KILL_WORKER";
/// `immediate` or `none`: the durability the worker opens the store with.
pub(crate) const WORKER_DURABILITY: &str = "FOLDSTORE_KILL_DURABILITY";
/// The kills each test makes.
pub(crate) const KILLS: &str = "FOLDSTORE_KILLS";
/// The seed of the parent's random delays.
pub(crate) const SEED: &str = "FOLDSTORE_KILL_SEED";

/// The kills of each test when [`KILLS`] is not set.
pub(crate) const DEFAULT_KILLS: u64 = 300;
/// The seed when [`SEED`] is not set.
pub(crate) const DEFAULT_SEED: u64 = 0x00f0_1d57_03e5;
/// Workers started (and killed) together in each round.
pub(crate) const WORKERS_PER_ROUND: u64 = 2;
/// The longest a worker runs before it is killed, counted from its "ready" line.
pub(crate) const MAX_DELAY_MICROS: u64 = 30_000;
/// A worker that nobody killed (its parent died) stops by itself after this long.
pub(crate) const WORKER_LIFETIME: Duration = Duration::from_secs(60);
/// How long a worker may take to start before the test fails (a deadline, not a measurement).
pub(crate) const START_DEADLINE: Duration = Duration::from_secs(60);
/// The attempts of each read-write instance.
pub(crate) const MAX_ATTEMPTS: u32 = 20;

/// Below this many commits, every round ends with the full checks (verify reads every commit,
/// a model folds the log from nothing); above it, each time the log has grown by a quarter.
pub(crate) const FULL_CHECK_BELOW: u64 = 10_000;

/// The name of the model's snapshots.
pub(crate) const SNAPSHOT_NAME: &str = "tally";
/// The prefix of the folder backend's temporary files.
pub(crate) const TEMP_PREFIX: &str = ".foldstore-tmp-";

// ---------------------------------------------------------------------------------------------
// The model and the events
// ---------------------------------------------------------------------------------------------

/// Every event the workers write: `tagged {worker, seq}`, unique in the store.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", content = "data", rename_all = "camelCase")]
pub(crate) enum TallyEvent {
    Tagged { worker: u64, seq: u64 },
}

/// What the tally model folds the log into.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct TallyData {
    /// Events folded.
    pub(crate) events: u64,
    /// Commits folded (every commit holds at least one event).
    pub(crate) commits: u64,
    /// The last commit folded.
    pub(crate) last_commit: u64,
    /// Each worker's last sequence number: a worker writes one call after the other, so its
    /// events appear in the log in increasing order, each exactly once.
    pub(crate) last_seq: BTreeMap<u64, u64>,
}

/// Counts events and commits, and refuses an event that is out of its worker's order (a
/// duplicate, or a commit that went missing and came back).
pub(crate) struct Tally {
    pub(crate) snapshots: bool,
}

impl ModelDefinition for Tally {
    type Data = TallyData;
    type Event = TallyEvent;
    type Error = String;
    type Domain<V: View<Self>> = V;

    fn snapshot_name(&self) -> Option<&str> {
        self.snapshots.then_some(SNAPSHOT_NAME)
    }

    fn version(&self) -> Option<u64> {
        Some(1)
    }

    fn initial_data(&self) -> TallyData {
        TallyData::default()
    }

    fn apply(
        &self,
        data: &mut TallyData,
        event: TallyEvent,
        context: &EventContext<'_>,
    ) -> Result<(), String> {
        let TallyEvent::Tagged { worker, seq } = event;
        if let Some(&last) = data.last_seq.get(&worker) {
            if seq <= last {
                return Err(format!(
                    "event {worker}-{seq} comes after {worker}-{last}: a duplicate or out of order"
                ));
            }
        }
        if context.commit < data.last_commit {
            return Err(format!(
                "commit {} folded after commit {}",
                context.commit, data.last_commit
            ));
        }
        if context.commit != data.last_commit {
            data.commits += 1;
            data.last_commit = context.commit;
        }
        data.events += 1;
        data.last_seq.insert(worker, seq);
        Ok(())
    }

    fn domain<V: View<Self>>(&self, view: V) -> V {
        view
    }
}

pub(crate) fn id(worker: u64, seq: u64) -> String {
    format!("{worker}-{seq}")
}

/// The id of an event read back from the log; anything but a `tagged` event is a failure.
pub(crate) fn event_id(event: &Event, commit: u64) -> String {
    match event.to_typed::<TallyEvent>() {
        Ok(TallyEvent::Tagged { worker, seq }) => id(worker, seq),
        Err(e) => panic!("commit {commit} holds an event no worker wrote: {event:?}: {e}"),
    }
}

pub(crate) fn durability_name(durability: Durability) -> &'static str {
    match durability {
        Durability::None => "none",
        _ => "immediate",
    }
}
