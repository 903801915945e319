//! A model's shared state: its data as of one commit, and what every clone of a [`Model`]
//! shares (the store, the definition, the current state, the report). The other model
//! modules add their methods to [`Shared`]: restoring and saving snapshots, and folding.
//!
//! [`Model`]: super::Model

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use super::names::EventNames;
use super::report::ModelReport;
use super::ModelDefinition;
use crate::error::Result;
use crate::query::Query;
use crate::snapshot::labels_of;
use crate::store::Store;
use crate::upcast::Upcasters;

/// A model's data as of one commit.
pub(crate) struct State<T> {
    pub(crate) data: T,
    pub(crate) position: u64,
}

/// What every clone of a model shares.
pub(super) struct Shared<D: ModelDefinition> {
    pub(super) store: Store,
    pub(super) definition: Arc<D>,
    /// The definition's scope, asked once: `None` for a model of the whole log.
    pub(super) scope: Option<Query>,
    /// The name its snapshots are saved under (for a scoped model: with the scope's hash).
    pub(super) snapshot_name: Option<String>,
    pub(super) names: EventNames,
    /// The definition's upcasters, asked once.
    pub(super) upcasters: Upcasters,
    pub(super) snapshot_every: Option<u64>,
    pub(super) skip_failing_commits: bool,
    pub(super) state: RwLock<Option<Arc<State<D::Data>>>>,
    /// Held while folding new commits, so two threads do not fold the same commits.
    pub(super) refreshing: Mutex<()>,
    /// The position of the newest snapshot taken or restored.
    pub(super) last_snapshot: AtomicU64,
    pub(super) report: Mutex<ModelReport>,
}

pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded values are replaced whole, so a panic elsewhere cannot leave them torn.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl<D: ModelDefinition> Shared<D> {
    pub(super) fn current(&self) -> Option<Arc<State<D::Data>>> {
        self.state.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Installs `new` unless the model is already further.
    pub(super) fn publish(&self, new: Arc<State<D::Data>>) {
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        if state.as_ref().is_none_or(|s| s.position < new.position) {
            *state = Some(new);
        }
    }

    /// Folds the commits that are new since the model last looked, and returns the state.
    pub(super) fn refresh(&self) -> Result<Arc<State<D::Data>>> {
        let _refreshing = lock(&self.refreshing);
        let base = match self.current() {
            Some(state) => state,
            None => {
                // One listing finds both the log's end and the snapshots.
                let labels = match self.snapshot_name.as_deref() {
                    Some(name) => {
                        let (snapshots, last) = self.store.storage().snapshots()?;
                        if let Some(last) = last {
                            self.store.tip_cache().adopt(last);
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
}
