//! Checking a model definition against a whole store before deploying it: every event through
//! its upcasters and handlers, nothing written.

use super::fold::fold_one;
use super::names::EventNames;
use super::{EventContext, ModelDefinition};
use crate::error::{Error, Result};
use crate::store::Store;

/// What [`Store::check_model`] found.
#[derive(Debug)]
#[non_exhaustive]
pub struct ModelCheck<T> {
    /// The commits read (the whole log when the check started).
    pub commits: u64,
    /// The events folded (for a scoped model: those matching its scope).
    pub events: u64,
    /// For each of the model's upcasters, in order: its label and how many events it turned.
    pub upcasts: Vec<(String, u64)>,
    /// The first event that failed (an upcaster, the typed decoding or a handler refused it),
    /// as the model would report it: the error names the commit and the event.
    pub first_failure: Option<Error>,
    /// How many commits held an event that failed. The rest of such a commit is left out and
    /// the check goes on, so later failures may follow from the first.
    pub failing_commits: u64,
    /// The data folded from every commit that did not fail.
    pub data: T,
}

impl<T> ModelCheck<T> {
    /// The number of the first commit that failed, if any.
    pub fn first_failing_commit(&self) -> Option<u64> {
        match &self.first_failure {
            Some(
                Error::Handler { commit, .. }
                | Error::EventData { commit, .. }
                | Error::Upcast { commit, .. },
            ) => Some(*commit),
            _ => None,
        }
    }

    /// How many events the upcaster labelled `label` turned (0 for a label it does not have).
    pub fn upcast_count(&self, label: &str) -> u64 {
        self.upcasts
            .iter()
            .find(|(l, _)| l == label)
            .map_or(0, |(_, count)| *count)
    }
}

impl Store {
    /// Folds the whole log through `definition`, its upcasters and its handlers, without
    /// writing anything (no commit, no snapshot) and without a model: the check to run on a
    /// copy of production data before deploying a new definition or new upcasters. It reports
    /// the first failing event, how many commits failed, and how many events each upcaster
    /// turned. A scoped definition folds only the events matching its scope.
    ///
    /// The store's own upcasters ([`StoreBuilder::upcasters`](crate::StoreBuilder::upcasters))
    /// are not applied: models use only their own.
    ///
    /// ```
    /// # fn main() -> Result<(), foldstore::Error> {
    /// use foldstore::{Event, EventContext, ModelDefinition, Store, Upcasters, View};
    /// use serde_json::json;
    ///
    /// #[derive(serde::Serialize, serde::Deserialize)]
    /// #[serde(tag = "name", content = "data", rename_all = "camelCase")]
    /// enum Counted { Counted { by: u64 } }
    ///
    /// struct Counter { upcasters: Upcasters }
    /// impl ModelDefinition for Counter {
    ///     type Data = u64;
    ///     type Event = Counted;
    ///     type Error = String;
    ///     type Domain<V: View<Self>> = V;
    ///     fn upcasters(&self) -> Upcasters { self.upcasters.clone() }
    ///     fn initial_data(&self) -> u64 { 0 }
    ///     fn apply(&self, data: &mut u64, Counted::Counted { by }: Counted, _: &EventContext<'_>) -> Result<(), String> {
    ///         *data += by;
    ///         Ok(())
    ///     }
    ///     fn domain<V: View<Self>>(&self, view: V) -> V { view }
    /// }
    ///
    /// let store = Store::memory();
    /// store.log(&Event::with_data("counted", json!({"by": 2})))?;
    /// store.log(&Event::with_data("incremented", json!({"by": 3})))?; // the old name
    ///
    /// let without = store.check_model(Counter { upcasters: Upcasters::new() })?;
    /// assert_eq!((without.data, without.first_failing_commit()), (2, None)); // ignored by name
    /// let with = store.check_model(Counter { upcasters: Upcasters::new().rename("incremented", "counted") })?;
    /// assert_eq!(with.data, 5);
    /// assert_eq!(with.upcast_count("incremented -> counted"), 1);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// When the log cannot be read (a damaged or missing commit, the backend failing): what
    /// the model would meet first.
    pub fn check_model<D: ModelDefinition>(&self, definition: D) -> Result<ModelCheck<D::Data>> {
        let upcasters = definition.upcasters();
        let names = EventNames::of::<D::Event>();
        let scope = definition.scope();
        let mut counts = vec![0_u64; upcasters.len()];
        let mut check = ModelCheck {
            commits: 0,
            events: 0,
            upcasts: Vec::new(),
            first_failure: None,
            failing_commits: 0,
            data: definition.initial_data(),
        };
        let tip = self.tip()?;
        for commit in self.commits_stored(..=tip) {
            let commit = commit?;
            check.commits += 1;
            for (index, event) in commit.events().iter().enumerate() {
                if scope.as_ref().is_some_and(|scope| !scope.matches(event)) {
                    continue;
                }
                check.events += 1;
                let context = EventContext {
                    commit: commit.number(),
                    index,
                    headers: commit.headers(),
                };
                let folded = fold_one(
                    &definition,
                    &names,
                    &upcasters,
                    &mut check.data,
                    event,
                    &context,
                    |applied| counts[applied] += 1,
                );
                if let Err(failure) = folded {
                    check.failing_commits += 1;
                    if check.first_failure.is_none() {
                        let location = self.storage().commit_location(commit.number());
                        check.first_failure = Some(failure.into_error(
                            commit.number(),
                            location,
                            index,
                            event.name(),
                        ));
                    }
                    break;
                }
            }
        }
        check.upcasts = upcasters.labels().map(str::to_owned).zip(counts).collect();
        Ok(check)
    }
}
