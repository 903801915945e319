//! Opening stores and reading them for the verbs that inspect them.

use std::path::Path;

use anyhow::bail;
use foldstore::{Commit, Error, Store};

use crate::cli::RangeArgs;

/// Opens a store that must already exist, for the verbs that read.
///
/// # Errors
/// When the folder does not exist, is not a folder, or cannot be looked at.
pub fn open_existing(path: &Path) -> anyhow::Result<Store> {
    let store = Store::open(path)?;
    if !store.exists()? {
        if store.path().is_some() {
            bail!(
                "no store at {}: the folder does not exist (check the path; 'foldstore append' creates a store)",
                path.display()
            );
        }
        bail!(
            "no store at {}: nothing was ever written there (check the address; 'foldstore append' creates a store)",
            path.display()
        );
    }
    Ok(store)
}

/// Checks `--from` and `--to` against the log: returns the first commit and the last one
/// (`None`: the end of the log). `--from` may be one past the end (nothing to print).
///
/// # Errors
/// [`Error::OutOfRange`] for an end beyond the log; `--to` before `--from`.
pub fn resolve_range(store: &Store, range: RangeArgs) -> anyhow::Result<(u64, Option<u64>)> {
    let from = range.from.unwrap_or(1).max(1);
    let tip = store.tip()?;
    if from > tip + 1 {
        return Err(Error::OutOfRange {
            requested: from,
            tip,
        }
        .into());
    }
    if let Some(to) = range.to {
        if to < from {
            bail!("--to {to} is before --from {from}: nothing to print");
        }
        if to > tip {
            return Err(Error::OutOfRange { requested: to, tip }.into());
        }
    }
    Ok((from, range.to))
}

/// The size in bytes of commit `number` (0 if it has vanished since it was read).
///
/// The library reads and decodes a commit without telling its size, so the verbs that show
/// sizes read it a second time (from the operating system's cache).
///
/// # Errors
/// When it cannot be read.
pub fn commit_size(store: &Store, number: u64) -> anyhow::Result<u64> {
    let bytes = store.storage().read_commit(number)?;
    Ok(bytes.map_or(0, |bytes| bytes.len() as u64))
}

/// A commit's bytes, as stored, and what they hold.
#[derive(Debug)]
pub struct RawCommit {
    /// The document, byte for byte.
    pub bytes: Vec<u8>,
    /// The decoded commit, or why it cannot be decoded ([`Error::CorruptCommit`] for damage).
    pub commit: Result<Commit, Error>,
}

/// Reads commit `number` once and decodes its bytes; `None` when there is no such commit.
///
/// Only a document that does not decode is read again, through [`Store::read_commit`], which
/// waits out a last commit that another program (the original package writes in place) may
/// still be writing; its final bytes are then read once more.
///
/// # Errors
/// When the commit cannot be read.
pub fn read_raw_commit(store: &Store, number: u64) -> anyhow::Result<Option<RawCommit>> {
    let storage = store.storage();
    let bytes = match storage.read_commit(number) {
        Ok(Some(bytes)) => bytes,
        Ok(None) => return Ok(None),
        // A backend that knows the commit to be damaged (a journal record whose checksum
        // does not match) still has its bytes, for copying as they are.
        Err(e @ foldstore::Error::CorruptCommit { .. }) => {
            return match storage.read_commit_raw(number)? {
                Some(bytes) => Ok(Some(RawCommit {
                    bytes,
                    commit: Err(e),
                })),
                None => Err(e.into()),
            }
        }
        Err(e) => return Err(e.into()),
    };
    if let Ok(commit) = Commit::decode(number, &bytes) {
        return Ok(Some(RawCommit {
            bytes,
            commit: Ok(commit),
        }));
    }
    match store.read_commit(number) {
        Ok(commit) => Ok(storage.read_commit(number)?.map(|bytes| RawCommit {
            bytes,
            commit: Ok(commit),
        })),
        Err(e) => Ok(Some(RawCommit {
            bytes,
            commit: Err(e),
        })),
    }
}
