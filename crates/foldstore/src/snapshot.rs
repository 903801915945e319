//! Snapshots: a model's aggregated data saved at a commit, so it need not fold the log from 1.

use serde_json::Value;

use crate::error::{Error, Result};
use crate::event::Headers;
use crate::format::{decode_snapshot, encode_snapshot, DecodeError};
use crate::storage::{validate_snapshot_name, COMMIT_ID_HEADER};
use crate::store::Store;

/// A snapshot read back from a store.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Snapshot {
    /// The model's snapshot name.
    pub name: String,
    /// The last commit folded into the data.
    pub commit: u64,
    /// The snapshot's headers.
    pub headers: Headers,
    /// The aggregated data; `None` when the file has no `snapshot` member.
    pub data: Option<Value>,
}

impl Snapshot {
    /// Reads a snapshot document (the content of a file `k.<name>-snapshot`).
    ///
    /// # Errors
    /// [`DecodeError`] when it is not a JSON object with an object `headers` (or none).
    pub fn decode(name: &str, commit: u64, bytes: &[u8]) -> Result<Snapshot, DecodeError> {
        let mut doc = decode_snapshot(bytes).map_err(DecodeError::new)?;
        Ok(Snapshot {
            name: name.to_owned(),
            commit,
            headers: std::mem::take(&mut doc.headers),
            data: doc.snapshot.take(),
        })
    }
}

impl Store {
    /// Saves `data` as the snapshot of `name` labelled `commit` (the last commit folded into
    /// it), in the original package's format. A snapshot that exists at that label is left
    /// as it is and counts as success: both hold the same fold of the same commits.
    ///
    /// # Errors
    /// [`Error::InvalidSnapshotName`]; [`Error::OutOfRange`] for commit 0 or a commit beyond
    /// the log; [`Error::Snapshot`] when the snapshot would be nested deeper than
    /// [`Commit::MAX_NESTING`](crate::Commit::MAX_NESTING) levels (its data at most 2 fewer),
    /// which readers would not take (nothing is written); I/O errors.
    pub fn save_snapshot(&self, name: &str, commit: u64, data: &Value) -> Result<()> {
        self.save_snapshot_document(name, commit, &self.make_headers(), data)
    }

    pub(crate) fn save_snapshot_document(
        &self,
        name: &str,
        commit: u64,
        headers: &Headers,
        data: &Value,
    ) -> Result<()> {
        validate_snapshot_name(name)?;
        let tip = self.tip()?;
        if commit == 0 || commit > tip {
            return Err(Error::OutOfRange {
                requested: commit,
                tip,
            });
        }
        // Refused, nothing written, when no reader could read it back.
        let document = encode_snapshot(headers, data).map_err(|problem| Error::Snapshot {
            name: name.to_owned(),
            commit,
            location: self.storage().snapshot_location(name, commit),
            problem,
        })?;
        let storage = self.storage();
        let created = if headers.contains_key(COMMIT_ID_HEADER) {
            storage.create_identified_snapshot(name, commit, &document)?
        } else {
            storage.create_snapshot(name, commit, &document)?
        };
        match created {
            Ok(()) => tracing::debug!(name, commit, "snapshot saved"),
            Err(_) => {
                // Another writer's, or this store's from a call whose sync failed: made
                // durable before it is counted as saved.
                storage.sync_all()?;
                tracing::debug!(name, commit, "snapshot exists already");
            }
        }
        Ok(())
    }

    /// The labels (commit numbers) of the snapshots of `name`, in increasing order.
    ///
    /// # Errors
    /// [`Error::InvalidSnapshotName`]; I/O errors.
    pub fn snapshot_labels(&self, name: &str) -> Result<Vec<u64>> {
        validate_snapshot_name(name)?;
        Ok(labels_of(self.storage().snapshots()?.0, name))
    }

    /// Reads the snapshot of `name` labelled `commit`, if there is one.
    ///
    /// # Errors
    /// [`Error::CorruptSnapshot`] when it is not a snapshot document; I/O errors.
    pub fn read_snapshot(&self, name: &str, commit: u64) -> Result<Option<Snapshot>> {
        validate_snapshot_name(name)?;
        let storage = self.storage();
        let Some(bytes) = storage.read_snapshot(name, commit)? else {
            return Ok(None);
        };
        Snapshot::decode(name, commit, &bytes)
            .map(Some)
            .map_err(|e| Error::CorruptSnapshot {
                name: name.to_owned(),
                commit,
                location: storage.snapshot_location(name, commit),
                problem: e.problem().to_owned(),
            })
    }

    /// The newest snapshot of `name` labelled at most `at_most` that holds data.
    ///
    /// Snapshots without data (the original package often writes a `snapshot` member-less
    /// file) are skipped with a warning.
    ///
    /// # Errors
    /// [`Error::InvalidSnapshotName`]; [`Error::CorruptSnapshot`] when a candidate is damaged;
    /// I/O errors.
    pub fn load_snapshot(&self, name: &str, at_most: u64) -> Result<Option<Snapshot>> {
        for commit in self.snapshot_labels(name)?.into_iter().rev() {
            if commit > at_most {
                continue;
            }
            match self.read_snapshot(name, commit)? {
                Some(snapshot) if snapshot.data.is_some() => return Ok(Some(snapshot)),
                Some(_) => tracing::warn!(
                    location = %self.storage().snapshot_location(name, commit),
                    "snapshot has no `snapshot` member; skipped"
                ),
                None => {}
            }
        }
        Ok(None)
    }
}

/// The labels of the snapshots of `name` among `snapshots` (as a listing gives them, sorted).
pub(crate) fn labels_of(snapshots: Vec<(String, u64)>, name: &str) -> Vec<u64> {
    snapshots
        .into_iter()
        .filter(|(n, _)| n == name)
        .map(|(_, commit)| commit)
        .collect()
}
