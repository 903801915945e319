//! Snapshots: a model's aggregated data saved at a commit, so it need not fold the log from 1.

use serde_json::Value;

use crate::error::{Error, Result};
use crate::event::Headers;
use crate::format::{decode_snapshot, encode_snapshot};
use crate::storage::validate_snapshot_name;
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
    /// The aggregated data.
    pub data: Value,
}

impl Store {
    /// Saves `data` as the snapshot of `name` labelled `commit` (the last commit folded into
    /// it), in the original package's format. A snapshot that exists at that label is left
    /// as it is and counts as success: both hold the same fold of the same commits.
    ///
    /// # Errors
    /// [`Error::InvalidSnapshotName`]; [`Error::OutOfRange`] for commit 0 or a commit beyond
    /// the log; I/O errors.
    pub fn save_snapshot(&self, name: &str, commit: u64, data: &Value) -> Result<()> {
        validate_snapshot_name(name)?;
        if commit == 0 || commit > self.tip()? {
            return Err(Error::OutOfRange {
                requested: commit,
                tip: self.tip()?,
            });
        }
        let document = encode_snapshot(&self.make_headers(), data);
        match self.storage().create_snapshot(name, commit, &document)? {
            Ok(()) => tracing::debug!(name, commit, "snapshot saved"),
            Err(_) => tracing::debug!(name, commit, "snapshot exists already"),
        }
        Ok(())
    }

    /// The newest usable snapshot of `name` labelled at most `at_most`.
    ///
    /// Snapshots without data (the original package often writes a `snapshot` member-less
    /// file) are skipped with a warning.
    ///
    /// # Errors
    /// [`Error::InvalidSnapshotName`]; [`Error::CorruptSnapshot`] when the newest candidate is
    /// damaged; I/O errors.
    pub fn load_snapshot(&self, name: &str, at_most: u64) -> Result<Option<Snapshot>> {
        validate_snapshot_name(name)?;
        let storage = self.storage();
        let listing = storage.list()?;
        let candidates = listing
            .snapshots
            .iter()
            .filter(|(n, commit)| n == name && *commit <= at_most)
            .map(|(_, commit)| *commit);
        for commit in candidates.rev() {
            let Some(bytes) = storage.read_snapshot(name, commit)? else {
                continue;
            };
            let location = || storage.snapshot_location(name, commit);
            let doc = decode_snapshot(&bytes).map_err(|problem| Error::CorruptSnapshot {
                name: name.to_owned(),
                commit,
                location: location(),
                problem,
            })?;
            match doc.snapshot {
                Some(data) => {
                    return Ok(Some(Snapshot {
                        name: name.to_owned(),
                        commit,
                        headers: doc.headers,
                        data,
                    }))
                }
                None => tracing::warn!(
                    location = %location(),
                    "snapshot has no `snapshot` member; skipped"
                ),
            }
        }
        Ok(None)
    }
}
