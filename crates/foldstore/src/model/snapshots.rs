//! A model's snapshots: restoring the newest usable one, and saving the current data.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use serde_json::Value;

use super::report::SkippedSnapshot;
use super::scope::{scope_value, SCOPE_HEADER};
use super::state::{lock, Shared, State};
use super::ModelDefinition;
use crate::error::{Error, Result};

impl<D: ModelDefinition> Shared<D> {
    /// The labels of the model's snapshots, from a listing of the store.
    pub(super) fn snapshot_labels(&self) -> Result<Vec<u64>> {
        match self.snapshot_name.as_deref() {
            Some(name) => self.store.snapshot_labels(name),
            None => Ok(Vec::new()),
        }
    }

    /// The newest usable snapshot among `labels` labelled at most `at_most`, or the initial
    /// data.
    pub(super) fn restore(&self, at_most: u64, labels: Vec<u64>) -> Result<Arc<State<D::Data>>> {
        if let Some(name) = self.snapshot_name.as_deref() {
            for commit in labels.into_iter().rev() {
                match self.read_snapshot(name, commit, at_most) {
                    Ok(Some(data)) => {
                        tracing::debug!(name, commit, "model restored from a snapshot");
                        self.last_snapshot.fetch_max(commit, Ordering::AcqRel);
                        lock(&self.report).restored_from = Some(commit);
                        return Ok(Arc::new(State {
                            data,
                            position: commit,
                        }));
                    }
                    Ok(None) => {}
                    Err(reason) => {
                        let location = self.store.storage().snapshot_location(name, commit);
                        tracing::warn!(%location, %reason, "snapshot skipped");
                        let mut report = lock(&self.report);
                        if !report.skipped_snapshots.iter().any(|s| s.commit == commit) {
                            report.skipped_snapshots.push(SkippedSnapshot {
                                commit,
                                location,
                                reason,
                            });
                        }
                    }
                }
            }
        }
        Ok(Arc::new(State {
            data: self.definition.initial_data(),
            position: 0,
        }))
    }

    /// Reads one snapshot: `Ok(None)` when it is above `at_most` (not wanted here), `Err` with
    /// the reason when it cannot be trusted.
    fn read_snapshot(
        &self,
        name: &str,
        commit: u64,
        at_most: u64,
    ) -> Result<Option<D::Data>, String> {
        let tip = self.store.tip_cache().known().map_err(|e| e.to_string())?;
        if commit > tip {
            return Err(format!(
                "it is labelled with commit {commit}, but the log ends at commit {tip}"
            ));
        }
        if commit > at_most {
            return Ok(None);
        }
        let snapshot = match self.store.read_snapshot(name, commit) {
            Ok(Some(snapshot)) => snapshot,
            Ok(None) => return Ok(None),
            Err(e) => return Err(e.to_string()),
        };
        self.check_scope_header(&snapshot.headers)?;
        if let Some(version) = self.definition.version() {
            match snapshot.headers.get("version") {
                Some(v) if v.as_u64() == Some(version) => {}
                Some(v) => {
                    return Err(format!(
                        "it holds version {v} of the model's data; the model is version {version}"
                    ))
                }
                None => {
                    return Err(format!(
                        "it has no `version` header; the model is version {version}"
                    ))
                }
            }
        }
        let Some(data) = snapshot.data else {
            return Err(
                "it has no `snapshot` member (the original package writes such snapshots)"
                    .to_owned(),
            );
        };
        crate::json::from_value_deep(data)
            .map(Some)
            .map_err(|e| format!("its data does not fit the model's data type: {e}"))
    }

    /// Saves `state` as a snapshot, with the model's name and version in its headers.
    pub(super) fn save_snapshot(&self, state: &State<D::Data>) -> Result<Option<u64>> {
        let Some(name) = self.snapshot_name.as_deref() else {
            return Ok(None);
        };
        if state.position == 0 {
            return Ok(None);
        }
        let data = crate::json::to_value_deep(&state.data).map_err(|e| Error::Snapshot {
            name: name.to_owned(),
            commit: state.position,
            location: self.store.storage().snapshot_location(name, state.position),
            problem: format!(
                "the model's data cannot be written as JSON ({e}); nothing was written: its Serialize implementation must give JSON (map keys as strings)"
            ),
        })?;
        let mut headers = self.store.make_headers();
        headers.insert("snapshotName".to_owned(), Value::String(name.to_owned()));
        if let Some(version) = self.definition.version() {
            headers.insert("version".to_owned(), Value::from(version));
        }
        if let Some(scope) = &self.scope {
            headers.insert(SCOPE_HEADER.to_owned(), scope_value(scope));
        }
        self.store
            .save_snapshot_document(name, state.position, &headers, &data)?;
        self.last_snapshot
            .fetch_max(state.position, Ordering::AcqRel);
        Ok(Some(state.position))
    }

    /// Takes a snapshot if the model has gone `snapshot_every` commits past the last one.
    pub(super) fn auto_snapshot(&self) {
        let Some(every) = self.snapshot_every else {
            return;
        };
        let Some(state) = self.current() else {
            return;
        };
        if state.position
            < self
                .last_snapshot
                .load(Ordering::Acquire)
                .saturating_add(every)
        {
            return;
        }
        if let Err(e) = self.save_snapshot(&state) {
            tracing::warn!(error = %e, "automatic snapshot failed");
            lock(&self.report).failed_snapshots.push(e.to_string());
        }
    }
}
