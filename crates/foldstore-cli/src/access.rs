//! Opening stores and reading them for the verbs that inspect them.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::bail;
use foldstore::{Commit, Error, RawCommit, Scanned, Store};

use crate::cli::RangeArgs;

/// The archive given with `--archive` (or `FOLDSTORE_ARCHIVE`), for every store opened.
static ARCHIVE: OnceLock<Option<PathBuf>> = OnceLock::new();

/// Sets the archive stores are opened with (once, from the command line).
pub fn set_archive(archive: Option<PathBuf>) {
    let _ = ARCHIVE.set(archive);
}

/// Opens a store that must already exist, for the verbs that read; with the archive given on
/// the command line, if any, for the commits before an archived store's log start.
///
/// # Errors
/// When the folder does not exist, is not a folder, or cannot be looked at.
pub fn open_existing(path: &Path) -> anyhow::Result<Store> {
    let store = with_archive(Store::builder(path))?.open()?;
    if !store.exists()? {
        if store.path().is_some() {
            bail!(
                "no store at {}: the folder does not exist (check the path; 'foldstore append' creates a store)",
                path.display()
            );
        }
        bail!(
            "no store at {}: nothing was ever written there (check the address; 'foldstore append' creates a store)",
            foldstore::shown_address(path)
        );
    }
    Ok(store)
}

/// `builder` with the archive given on the command line, if any.
///
/// # Errors
/// An archive address that cannot be opened.
pub fn with_archive(builder: foldstore::StoreBuilder) -> anyhow::Result<foldstore::StoreBuilder> {
    Ok(match ARCHIVE.get().and_then(Option::as_ref) {
        Some(archive) => builder.archive_at(archive)?,
        None => builder,
    })
}

/// The first commit the verbs can read: 1, or, for an archived store read without its
/// archive, the first commit it holds.
///
/// # Errors
/// When the store's archive marker cannot be read.
pub fn first_readable(store: &Store) -> anyhow::Result<u64> {
    if ARCHIVE.get().is_some_and(Option::is_some) {
        Ok(1)
    } else {
        Ok(store.log_start()?)
    }
}

/// Checks `--from` and `--to` (already checked against each other, see [`RangeArgs::check`])
/// against the log: returns the first commit and the last one (`None`: the end of the log).
/// `--from` may be one past the end, and `--to` beyond the end cuts the range at the end, as
/// `sed -n` does (nothing to print then when `--from` is past the end too: the last commit is
/// before the first).
///
/// Without `--from`, the range starts at the log's first commit: 1, or, for an archived store
/// read without its archive, the first commit it holds (said on standard error).
///
/// # Errors
/// [`Error::OutOfRange`] for a start beyond the end of the log and the commit after it.
pub fn resolve_range(store: &Store, range: RangeArgs) -> anyhow::Result<(u64, Option<u64>)> {
    let first = first_readable(store)?;
    if range.from.is_none() && first > 1 {
        eprintln!(
            "note: commits 1 to {} are archived; reading from commit {first} (give --archive to read them)",
            first - 1
        );
    }
    let from = range.from.unwrap_or(first).max(1);
    let tip = store.tip()?;
    if from > tip + 1 {
        return Err(Error::OutOfRange {
            requested: from,
            tip,
        }
        .into());
    }
    Ok((from, range.to.map(|to| to.min(tip))))
}

/// The size in bytes of commit `number` (0 if it has vanished since it was read).
///
/// A commit delivered by a subscription comes without its size, so `tail -f` reads it a
/// second time (from the operating system's cache).
///
/// # Errors
/// When it cannot be read.
pub fn commit_size(store: &Store, number: u64) -> anyhow::Result<u64> {
    let bytes = store.storage().read_commit(number)?;
    Ok(bytes.map_or(0, |bytes| bytes.len() as u64))
}

/// A commit of a range read once by [`Store::raw_commits`]: the commit (sealed data shown as
/// forgotten, see [`Store::open_sealed`]) and its size in bytes,
/// or `None` at the end of the log when the range has no end (`to` is `None`).
///
/// # Errors
/// A damaged or unreadable commit; a missing one: a gap ([`Error::MissingCommit`]) when a
/// later commit exists, else [`Error::OutOfRange`] for a range that ends beyond the log.
pub fn read_once(
    store: &Store,
    scanned: Scanned,
    to: Option<u64>,
) -> anyhow::Result<Option<(Commit, u64)>> {
    let number = match scanned {
        Scanned::Commit(RawCommit { bytes, commit, .. }) => {
            // Sealed data shows as forgotten: the verbs that read have no key store.
            let mut commit = commit?;
            store.open_sealed(&mut commit)?;
            return Ok(Some((commit, bytes.len() as u64)));
        }
        Scanned::Unreadable { error, .. } => return Err(error.into()),
        Scanned::Absent { number } | Scanned::Gap { first: number, .. } => number,
    };
    let tip = store.tip()?;
    if number < tip {
        return Err(Error::MissingCommit {
            commit: number,
            location: store.storage().commit_location(number),
            next: tip,
        }
        .into());
    }
    match to {
        Some(to) => Err(Error::OutOfRange { requested: to, tip }.into()),
        None => Ok(None),
    }
}

/// How many commits [`Backwards`] reads at a time.
const STRETCH: u64 = 256;

/// The commits of a range, newest first, each with its size in bytes: read a stretch at a
/// time, each stretch in order and then turned round, so that stopping early (`-n`) reads
/// only the end of the log.
pub struct Backwards<'a> {
    store: &'a Store,
    from: u64,
    /// The last commit not read yet; `None` when all are.
    next: Option<u64>,
    /// Read and not yet handed out, oldest first.
    buffer: Vec<(Commit, u64)>,
}

impl<'a> Backwards<'a> {
    /// The commits `from..=last` (none when `last < from`), `last` first.
    pub fn new(store: &'a Store, from: u64, last: u64) -> Backwards<'a> {
        Backwards {
            store,
            from,
            next: (last >= from).then_some(last),
            buffer: Vec::new(),
        }
    }

    fn read_stretch(&mut self, last: u64) -> anyhow::Result<()> {
        let first = last.saturating_sub(STRETCH - 1).max(self.from);
        self.next = (first > self.from).then(|| first - 1);
        for scanned in self.store.raw_commits(first..=last)? {
            match read_once(self.store, scanned, Some(last))? {
                Some(found) => self.buffer.push(found),
                None => break,
            }
        }
        Ok(())
    }
}

impl Iterator for Backwards<'_> {
    type Item = anyhow::Result<(Commit, u64)>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(found) = self.buffer.pop() {
                return Some(Ok(found));
            }
            let last = self.next?;
            if let Err(e) = self.read_stretch(last) {
                self.next = None;
                return Some(Err(e));
            }
        }
    }
}
