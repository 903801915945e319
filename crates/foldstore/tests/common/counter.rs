//! A counter model whose data is the sum of its events (each adds to it or doubles it), and
//! read-write increments of it racing from several threads or processes, with the checks of
//! the log they leave.

use foldstore::{Dispatch, Error, Event, EventContext, Model, ModelDefinition, Store, View};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// The counter's events.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", content = "data", rename_all = "camelCase")]
pub enum CounterEvent {
    /// Adds `by` to the counter.
    Incremented {
        /// How much to add.
        by: i64,
    },
    /// Doubles the counter (order matters: proves events are folded in order, by variant).
    Doubled,
}

/// A typed counter without a fallback handler (unknown event names are ignored): its data is
/// the fold of its events; its domain model is the view itself.
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
            CounterEvent::Doubled => *data *= 2,
        }
        Ok(())
    }

    fn domain<V: View<Self>>(&self, view: V) -> V {
        view
    }
}

/// What one racing thread or process did.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct RaceTally {
    /// The commits of its read-write instances that committed.
    pub commits: Vec<u64>,
    /// Its read-write instances that ran out of attempts.
    pub failures: u64,
    /// The attempts of all its instances.
    pub attempts: u64,
}

/// Runs `calls` read-write instances of `model`, each adding 1 within `max_attempts`, and
/// checks each outcome: committed on the newest state, or out of attempts. `at_first_read` is
/// called once, in the first attempt of the first call after the state was read: a start gate
/// there makes every racer but one lose its first race, whatever the scheduling.
pub fn race_increments(
    model: &Model<Counter>,
    calls: u64,
    max_attempts: u32,
    mut at_first_read: impl FnMut(),
) -> RaceTally {
    let mut tally = RaceTally::default();
    for call in 0..calls {
        let mut attempt = 0_u32;
        let result = model.with_read_write_instance(
            |view, flag| {
                attempt += 1;
                let seen = *view.data();
                assert_eq!(seen, view.position() as i64, "every commit adds 1");
                if call == 0 && attempt == 1 {
                    at_first_read();
                }
                view.dispatch(CounterEvent::Incremented { by: 1 })?;
                flag.ready_to_commit();
                Ok::<_, Error>(seen)
            },
            max_attempts,
        );
        match result {
            Ok(outcome) => {
                let commit = outcome.commit.expect("a ready instance commits");
                assert_eq!(outcome.attempts, attempt);
                assert_eq!(
                    outcome.value as u64 + 1,
                    commit,
                    "the commit was made on the newest state"
                );
                tally.commits.push(commit);
                tally.attempts += u64::from(attempt);
            }
            Err(Error::RetriesExhausted { attempts }) => {
                assert_eq!(attempts, max_attempts);
                assert_eq!(attempt, max_attempts);
                tally.failures += 1;
                tally.attempts += u64::from(attempt);
            }
            Err(other) => panic!("unexpected error: {other}"),
        }
    }
    tally
}

/// Checks the log that `racers` racers (threads or processes) left in `store` after
/// [`race_increments`] with `calls_in_all` calls between them: every commit is exactly one
/// racer's success and adds 1, failures wrote nothing, the counter equals the successes, and
/// every racer but one lost its first race. Returns the number of successes.
pub fn check_race(tallies: &[RaceTally], store: &Store, calls_in_all: u64, racers: u64) -> u64 {
    let successes: u64 = tallies.iter().map(|t| t.commits.len() as u64).sum();
    let failures: u64 = tallies.iter().map(|t| t.failures).sum();
    let attempts: u64 = tallies.iter().map(|t| t.attempts).sum();
    assert_eq!(successes + failures, calls_in_all, "{tallies:?}");
    assert!(successes > 0);

    // Every commit is someone's success, exactly once; failures wrote nothing.
    let mut commits: Vec<u64> = tallies
        .iter()
        .flat_map(|t| t.commits.iter().copied())
        .collect();
    commits.sort_unstable();
    assert_eq!(commits, (1..=successes).collect::<Vec<_>>());
    assert_eq!(
        store.tip().unwrap(),
        successes,
        "total commits == successes"
    );
    let numbers: Vec<u64> = store.commits(..).map(|c| c.unwrap().number()).collect();
    assert_eq!(
        numbers,
        (1..=successes).collect::<Vec<_>>(),
        "commits are contiguous"
    );
    for commit in store.commits(..) {
        assert_eq!(
            commit.unwrap().events(),
            [Event::with_data("incremented", json!({"by": 1}))]
        );
    }

    // The counter equals the calls that committed.
    let data = store
        .define_model(Counter)
        .unwrap()
        .aggregator_data()
        .unwrap();
    assert_eq!(
        *data, successes as i64,
        "the counter equals the calls that committed"
    );
    assert_eq!(data.position(), successes);

    // Retries happened: every racer but one lost its first race.
    assert!(
        attempts >= calls_in_all + racers - 1,
        "{attempts} attempts for {calls_in_all} calls"
    );
    successes
}
