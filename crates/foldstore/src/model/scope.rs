//! Scoped models: folding only the events that match a model's scope (read through the
//! store's event index), and the name and header that keep their snapshots apart.
//!
//! A scoped model's position is the log's end at its read, not its last matching commit: the
//! commits in between hold no event it depends on, so its data is the same at both.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::fold::StopBefore;
use super::state::{Shared, State};
use super::ModelDefinition;
use crate::boundary::MatchedEvent;
use crate::error::{Error, Result};
use crate::event::{Event, Headers};
use crate::query::Query;

/// The snapshot header that holds a scoped model's scope (see [`scope_value`]).
pub(super) const SCOPE_HEADER: &str = "scope";

/// A scope as JSON: an array of items, each `{"names": [...], "tags": [...]}`, in order.
pub(super) fn scope_value(scope: &Query) -> Value {
    let strings = |list: &[String]| Value::from(list.to_vec());
    let items = scope.items().iter().map(|item| {
        let mut object = Map::new();
        object.insert("names".to_owned(), strings(item.event_names()));
        object.insert("tags".to_owned(), strings(item.event_tags()));
        Value::Object(object)
    });
    Value::Array(items.collect())
}

/// The name a scoped model's snapshots are saved under: the definition's name, `-scope-`, and
/// a 64-bit FNV-1a hash of the scope's JSON (stable across builds and platforms). The name is
/// only a first sort: the `scope` header is checked before a snapshot is trusted.
pub(super) fn scoped_snapshot_name(name: &str, scope: &Query) -> String {
    let text = scope_value(scope).to_string();
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("{name}-scope-{hash:016x}")
}

/// The matching events of one commit.
struct MatchedCommit {
    number: u64,
    headers: Headers,
    events: Vec<(usize, Event)>,
}

/// Groups matched events (in log order) by commit, keeping those of commits up to `through`.
fn by_commit(matched: Vec<MatchedEvent>, through: u64) -> Vec<MatchedCommit> {
    let mut commits: Vec<MatchedCommit> = Vec::new();
    for found in matched.into_iter().take_while(|m| m.commit <= through) {
        match commits.last_mut() {
            Some(last) if last.number == found.commit => {
                last.events.push((found.index, found.event))
            }
            _ => commits.push(MatchedCommit {
                number: found.commit,
                headers: found.headers,
                events: vec![(found.index, found.event)],
            }),
        }
    }
    commits
}

impl<D: ModelDefinition> Shared<D> {
    /// Checks that a snapshot's `scope` header is this model's scope (for a scoped model; a model
    /// of the whole log ignores it, as before scopes existed); the reason otherwise.
    pub(super) fn check_scope_header(&self, headers: &Headers) -> Result<(), String> {
        let expected = self.scope.as_ref().map(scope_value);
        match (headers.get(SCOPE_HEADER), expected) {
            (_, None) => Ok(()),
            (Some(found), Some(expected)) if *found == expected => Ok(()),
            (Some(found), Some(expected)) => Err(format!(
                "it was saved for the scope {found}, not the model's scope {expected}"
            )),
            (None, Some(expected)) => Err(format!(
                "it has no `scope` header; the model is scoped to {expected}"
            )),
        }
    }

    /// The scoped counterpart of `advance`: folds the events matching `scope` in the commits
    /// after `base` (up to `to`, or before the first commit `stop_before` accepts, or to the
    /// log's end), and returns the state at that commit, with the error that stopped it.
    pub(super) fn advance_scoped(
        &self,
        base: &Arc<State<D::Data>>,
        scope: &Query,
        to: Option<u64>,
        stop_before: StopBefore<'_>,
    ) -> (Arc<State<D::Data>>, Result<()>) {
        let read = self
            .scoped_end(base.position, to, stop_before)
            .and_then(|through| {
                let matched = if through > base.position {
                    self.store.events_matching_stored(scope, base.position)?
                } else {
                    Vec::new()
                };
                Ok((through, by_commit(matched, through)))
            });
        let (through, commits) = match read {
            Ok(read) => read,
            Err(e) => return (Arc::clone(base), Err(e)),
        };
        if through <= base.position {
            return (Arc::clone(base), Ok(()));
        }
        let mut skipped = BTreeSet::new();
        let mut data = base.data.clone();
        for (at, commit) in commits.iter().enumerate() {
            let events = commit.events.iter().map(|(index, event)| (*index, event));
            let Err(error) = self.fold_events(&mut data, commit.number, &commit.headers, events)
            else {
                continue;
            };
            // `data` holds part of this commit: fold the commits before it again.
            if !self.skip_failing_commits {
                let state = self
                    .refold_matched(base, &commits[..at], &skipped)
                    .map(|data| {
                        Arc::new(State {
                            data,
                            position: commit.number - 1,
                        })
                    });
                return match state {
                    Ok(state) => (state, Err(error)),
                    Err(e) => (Arc::clone(base), Err(e)),
                };
            }
            self.record_skipped(commit.number, &error);
            skipped.insert(commit.number);
            data = match self.refold_matched(base, &commits[..=at], &skipped) {
                Ok(data) => data,
                Err(e) => return (Arc::clone(base), Err(e)),
            };
        }
        let state = State {
            data,
            position: through,
        };
        (Arc::new(state), Ok(()))
    }

    /// Where a scoped fold ends: `to`, the commit before the first that `stop_before` accepts
    /// (found by reading the commits after `after`: a scoped model's time travel by time reads
    /// the log), or the log's end.
    fn scoped_end(&self, after: u64, to: Option<u64>, stop_before: StopBefore<'_>) -> Result<u64> {
        if let Some(to) = to {
            return Ok(to);
        }
        let Some(stop_before) = stop_before else {
            return self.store.tip();
        };
        let mut end = after;
        for commit in self
            .store
            .replay()
            .stored()
            .from(after + 1)
            .stop_before(stop_before)
            .commits()
        {
            end = commit?.number();
        }
        Ok(end)
    }

    /// Folds the matching events of `commits` into the base's data again, leaving out
    /// `skipped`.
    fn refold_matched(
        &self,
        base: &State<D::Data>,
        commits: &[MatchedCommit],
        skipped: &BTreeSet<u64>,
    ) -> Result<D::Data, Error> {
        let mut data = base.data.clone();
        for commit in commits.iter().filter(|c| !skipped.contains(&c.number)) {
            let events = commit.events.iter().map(|(index, event)| (*index, event));
            self.fold_events(&mut data, commit.number, &commit.headers, events)?;
        }
        Ok(data)
    }
}
