//! Time travel: a model as it was at a past commit, or at a past time, detached from the store.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use super::handle::Model;
use super::instance::ReadOnly;
use super::state::State;
use super::ModelDefinition;
use crate::error::{Error, Result};
use crate::format::Commit;

impl<D: ModelDefinition> Model<D> {
    /// The model as it was when commit `commit` was the last one (time travel).
    ///
    /// # Errors
    /// [`Error::OutOfRange`] beyond the end of the log; errors of folding the log.
    pub fn at_commit(&self, commit: u64) -> Result<ModelAt<D>> {
        let shared = &self.shared;
        let tip = shared.store.tip()?;
        if commit > tip {
            return Err(Error::OutOfRange {
                requested: commit,
                tip,
            });
        }
        let base = match shared.current() {
            Some(state) if state.position <= commit => state,
            _ => shared.restore(commit, shared.snapshot_labels()?)?,
        };
        let (state, result) = shared.advance(&base, Some(commit), None);
        result?;
        Ok(ModelAt {
            definition: Arc::clone(&shared.definition),
            state,
        })
    }

    /// The model as it was at `time`: folded over the longest prefix of the log whose commits
    /// have a `time` header not later than `time` (a commit without a readable `time` does not
    /// end the prefix).
    ///
    /// # Errors
    /// Errors of folding the log.
    pub fn at_time(&self, time: SystemTime) -> Result<ModelAt<D>> {
        let shared = &self.shared;
        let base = Arc::new(State {
            data: shared.definition.initial_data(),
            position: 0,
        });
        let after = move |commit: &Commit| commit.time().is_some_and(|t| t > time);
        let (state, result) = shared.advance(&base, None, Some(&after));
        result?;
        Ok(ModelAt {
            definition: Arc::clone(&shared.definition),
            state,
        })
    }
}

/// A model as of a past commit, detached from the store: see [`Model::at_commit`].
pub struct ModelAt<D: ModelDefinition> {
    definition: Arc<D>,
    state: Arc<State<D::Data>>,
}

impl<D: ModelDefinition> fmt::Debug for ModelAt<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ModelAt")
            .field("position", &self.state.position)
            .finish_non_exhaustive()
    }
}

impl<D: ModelDefinition> ModelAt<D> {
    /// The last commit folded in.
    pub fn position(&self) -> u64 {
        self.state.position
    }

    /// The data.
    pub fn data(&self) -> &D::Data {
        &self.state.data
    }

    /// Runs `action` on a read-only domain model over this data.
    pub fn with_read_instance<R>(&self, action: impl FnOnce(D::Domain<ReadOnly<'_, D>>) -> R) -> R {
        action(self.definition.domain(ReadOnly {
            data: &self.state.data,
            position: self.state.position,
        }))
    }
}
