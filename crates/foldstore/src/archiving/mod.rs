//! Archiving: `Store::archive` moves the commits before a point (a commit, a model's snapshot,
//! a time) into an archive, in chunks with a manifest, checks what the archive holds, and only
//! then writes the marker that says where the live log starts, and removes the archived
//! commits from the live store. A crash at any step leaves the old state (the marker not yet
//! written: the live store holds everything, the archive perhaps some chunks, which the next
//! run writes again) or the new one (the marker written: commits before its start are read
//! from the archive, and any the crash left in the live store are never read and are removed
//! by the next run).

use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use crate::error::{Error, Result};
use crate::format::Commit;
use crate::storage::archive::chunk::{self, CHUNK_BYTES, CHUNK_COMMITS, CHUNK_LIMIT};
use crate::storage::archive::{read_chunk, read_manifest, Chunk, Manifest, Marker};
use crate::storage::{Storage, ARCHIVED_MARKER};
use crate::store::{Layout, Store};

/// Up to where [`Store::archive`] archives. The last commit of the log always stays in the
/// live store, whatever is asked: it is what the next commit follows (and chains to).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ArchiveUpTo {
    /// Commits 1 to this one.
    Commit(u64),
    /// The commits the newest snapshot of this model holds (its label and those before):
    /// the model then opens from that snapshot without them.
    Snapshot(String),
    /// The commits written before this time, by their `time` header: the run of commits from
    /// the log's start whose time is earlier (a commit without a readable time ends it).
    Time(SystemTime),
}

/// What [`Store::archive`] is asked to do.
#[derive(Clone, Debug)]
pub struct ArchiveOptions {
    archive: Arc<dyn Storage>,
    address: String,
    up_to: ArchiveUpTo,
    dry_run: bool,
    unreadable_by_original: bool,
}

impl ArchiveOptions {
    /// Archive into `archive` (a folder or object storage: any backend that keeps documents of
    /// its own, [`Storage::write_meta`]), which the store's marker will name as `address` (the
    /// path or URL to give [`StoreBuilder::archive`](crate::StoreBuilder::archive) and the
    /// command line's `--archive` later), up to `up_to`.
    pub fn new(
        archive: Arc<dyn Storage>,
        address: impl Into<String>,
        up_to: ArchiveUpTo,
    ) -> ArchiveOptions {
        ArchiveOptions {
            archive,
            address: address.into(),
            up_to,
            dry_run: false,
            unreadable_by_original: false,
        }
    }

    /// [`new`](Self::new), into the archive at `address`: a folder (created when archiving
    /// starts; it holds the archive's files, `foldstore-archive-*`), or a URL
    /// (`s3://bucket/prefix` with the `s3` feature). The store's marker names it as given.
    ///
    /// # Errors
    /// An address that names a backend this build lacks, or cannot be parsed.
    pub fn at(address: impl AsRef<Path>, up_to: ArchiveUpTo) -> Result<ArchiveOptions> {
        let address = address.as_ref();
        let archive = crate::storage::archive::open_at(address)?;
        // A folder is named by its absolute path, so that the marker names it from anywhere.
        let named = match crate::storage::address(address)? {
            Some(_) => address.to_path_buf(),
            None => std::path::absolute(address)
                .map_err(|e| Error::io("find the absolute path of", address, e))?,
        };
        Ok(ArchiveOptions::new(
            archive,
            named.to_string_lossy().into_owned(),
            up_to,
        ))
    }

    /// Only work out what would be archived: nothing is written anywhere.
    pub fn dry_run(mut self, on: bool) -> ArchiveOptions {
        self.dry_run = on;
        self
    }

    /// Accept that a folder of the loose layout, once archived, can no longer be read by the
    /// original package (which would take the commits after the archived ones for the whole
    /// log). Without it, archiving a loose folder is refused.
    pub fn unreadable_by_original(mut self, accepted: bool) -> ArchiveOptions {
        self.unreadable_by_original = accepted;
        self
    }
}

/// Where [`Store::archive`] is, for its progress callback.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ArchiveStage {
    /// Finding the last commit to archive (by time): commits looked at so far.
    Looking,
    /// Writing chunks: commits written so far, of those to archive.
    Writing,
    /// Reading the chunks back and checking them: commits checked.
    Checking,
    /// Removing the archived commits from the live store (done when it returns).
    Removing,
}

/// What [`Store::archive`] did (or, in a dry run, would do).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ArchiveReport {
    /// The first commit this run archived (the log's start before it).
    pub first: u64,
    /// The last commit archived (0 when there was nothing to archive).
    pub last: u64,
    /// The bytes of the commit documents this run archived.
    pub document_bytes: u64,
    /// The chunks this run wrote.
    pub chunks: usize,
    /// Where the live log starts afterwards.
    pub start: u64,
    /// Commits removed from the live store (a journal keeps the segment holding the new start,
    /// with the archived commits in it).
    pub removed: u64,
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// The snapshots (model name, commit) that are each model's newest and lie before the
    /// last commit archived: those models fold archived commits when they open, so they need
    /// the archive (or a newer snapshot saved first).
    pub older_snapshots: Vec<(String, u64)>,
}

impl Store {
    /// Moves the commits up to `options`' point into the archive, and the live log then starts
    /// after them (docs/design.md, "Archiving"). In order: the commits are written to the
    /// archive in chunks of at most 8 MiB (journal records with CRC-32s), with a manifest
    /// listing each chunk's range, size and BLAKE3 hash; every chunk is read back and checked;
    /// then the live store's marker (`foldstore-archived.json` in a folder) is replaced, durably,
    /// to say that the log starts after them and where the archive is; and only then are they
    /// removed from the live store. Run it again to archive more (into the same archive), or
    /// to finish what a crash interrupted.
    ///
    /// Afterwards, models open from their snapshots as before; reading a commit before the
    /// log's start needs the archive ([`StoreBuilder::archive`](crate::StoreBuilder::archive)),
    /// and fails with [`Error::Archived`] without it. The last commit of the log is never
    /// archived.
    ///
    /// `progress` is called with the stage and (done, total) commits.
    ///
    /// # Errors
    /// A loose folder without [`ArchiveOptions::unreadable_by_original`]; an archive other than
    /// the one the store was archived into before; a backend that cannot be archived or hold an
    /// archive; damage in a commit to archive (repair it first); any failure to write or check
    /// the archive (the live store is then unchanged).
    pub fn archive(
        &self,
        options: &ArchiveOptions,
        progress: impl FnMut(ArchiveStage, u64, u64),
    ) -> Result<ArchiveReport> {
        self.archive_in_chunks_of(options, progress, CHUNK_LIMIT)
    }

    /// [`archive`](Self::archive), with chunks of at most `limit` bytes (tests give less than
    /// [`CHUNK_LIMIT`]).
    pub(crate) fn archive_in_chunks_of(
        &self,
        options: &ArchiveOptions,
        mut progress: impl FnMut(ArchiveStage, u64, u64),
        limit: u64,
    ) -> Result<ArchiveReport> {
        self.refuse_loose_folder(options)?;
        if !self.storage().can_be_archived() {
            return Err(self.archive_refused(format!(
                "{} cannot be archived: its backend cannot remove commits (folders of both layouts and PostgreSQL can; object storage can hold an archive, not be archived); nothing was written",
                self.storage().commit_location(1)
            )));
        }
        let archived = self.archived();
        let start = archived.reload()?;
        let previous = archived.marker()?;
        if let Some(marker) = &previous {
            if marker.archive != options.address {
                return Err(self.archive_refused(format!(
                    "the store was archived into {:?}, and archiving goes on into the same archive; give that one",
                    marker.archive
                )));
            }
        }
        let tip = self.storage().last_commit()?;
        let last = self
            .archive_end(&options.up_to, start, tip, &mut progress)?
            .min(tip.saturating_sub(1));
        let mut report = ArchiveReport {
            first: start,
            start,
            dry_run: options.dry_run,
            ..ArchiveReport::default()
        };
        if last < start {
            if !options.dry_run && start > 1 {
                // What a crash left in the live store after the marker was written: removed
                // only when the marker checks out against the archive and the live log.
                if let Some(marker) = &previous {
                    read_manifest(&*options.archive, marker)?;
                    self.check_live_against(marker)?;
                    // The marker was seen, but its run may have failed to make it durable
                    // (a failed folder sync after its rename): it is, before anything that
                    // it makes unneeded is removed.
                    self.storage().sync_all()?;
                }
                report.removed = self.storage().remove_commits_below(start)?;
            }
            return Ok(report);
        }
        report.last = last;
        report.older_snapshots = self.snapshots_before(last)?;
        let live = archived.live();
        if options.dry_run {
            let mut number = start;
            while number <= last {
                let batch = live.read_commits(number, 1024.min((last - number + 1) as usize))?;
                if batch.is_empty() {
                    return Err(self.missing(number));
                }
                for bytes in &batch {
                    // What the run would refuse, a dry run says too.
                    self.check_archivable(live, number, bytes, limit)?;
                    report.document_bytes += bytes.len() as u64;
                    number += 1;
                }
            }
            report.chunks = 0;
            report.start = last + 1;
            return Ok(report);
        }
        options.archive.ensure_created()?;
        let (mut chunks, previous_bytes) = match &previous {
            Some(marker) => {
                let manifest = read_manifest(&*options.archive, marker)?;
                // This run removes the earlier run's leftovers too.
                self.check_live_against(marker)?;
                (manifest.chunks, manifest.document_bytes)
            }
            None => (Vec::new(), 0),
        };
        let kept = chunks.len();
        let mut document_bytes = 0;
        let mut last_bytes = Vec::new();
        let mut number = start;
        let mut buffer = Vec::with_capacity(CHUNK_BYTES + (64 << 10));
        while number <= last {
            let first = number;
            buffer.clear();
            let mut full = false;
            while !full
                && number <= last
                && buffer.len() < CHUNK_BYTES
                && number - first < CHUNK_COMMITS
            {
                let want = (last - number + 1)
                    .min(CHUNK_COMMITS - (number - first))
                    .min(256);
                let batch = live.read_commits(number, want as usize)?;
                if batch.is_empty() {
                    return Err(self.missing(number));
                }
                for bytes in &batch {
                    self.check_archivable(live, number, bytes, limit)?;
                    if !buffer.is_empty()
                        && buffer.len() as u64 + chunk::record_bytes(bytes.len()) > limit
                    {
                        // It goes first into the next chunk.
                        full = true;
                        break;
                    }
                    chunk::add(&mut buffer, number, bytes);
                    document_bytes += bytes.len() as u64;
                    if number == last {
                        last_bytes.clone_from(bytes);
                    }
                    number += 1;
                    if buffer.len() >= CHUNK_BYTES {
                        break;
                    }
                }
            }
            let name = chunk::chunk_name(first, number - 1);
            self.write_new_document(options, &name, &buffer)?;
            chunks.push(Chunk {
                name,
                first,
                last: number - 1,
                bytes: buffer.len() as u64,
                blake3: blake3::hash(&buffer).to_hex().to_string(),
            });
            progress(ArchiveStage::Writing, number - start, last - start + 1);
        }
        report.chunks = chunks.len() - kept;
        report.document_bytes = document_bytes;
        let manifest = Manifest::new(last, previous_bytes.saturating_add(document_bytes), chunks);
        let manifest_bytes = manifest.to_bytes();
        let manifest_name = Manifest::name(last);
        self.write_new_document(options, &manifest_name, &manifest_bytes)?;
        // Everything the marker will point to is read back and checked before it is written.
        self.check_archive(
            options,
            &manifest_name,
            &manifest_bytes,
            kept,
            &mut progress,
        )?;
        let last_chained = Commit::decode(last, &last_bytes)
            .is_ok_and(|commit| commit.headers().contains_key(crate::chain::CHAIN_HEADER));
        let marker = Marker::new(
            last + 1,
            options.address.clone(),
            (manifest_name, &blake3::hash(&manifest_bytes)),
            &last_bytes,
            last_chained,
        );
        // Another run may have archived meanwhile: its marker is never replaced by an older
        // one (one run at a time is the rule; this catches the runs that break it).
        if archived.reload()? != start {
            return Err(self.archive_refused(format!(
                "another archiving run of this store finished meanwhile (the log now starts at commit {}): run one at a time; nothing was changed in the store",
                archived.start()?
            )));
        }
        // Everything the marker points to is durable first, also what an earlier run wrote
        // (found here with the same bytes and taken as it is) if that run's syncs failed.
        options.archive.sync_all()?;
        live.write_meta(ARCHIVED_MARKER, &marker.to_bytes())?;
        report.start = archived.reload()?;
        progress(ArchiveStage::Removing, 0, last - start + 1);
        report.removed = live.remove_commits_below(report.start)?;
        tracing::info!(
            first = start,
            last,
            removed = report.removed,
            archive = %options.address,
            "archived commits"
        );
        Ok(report)
    }

    /// Checks, before the commits below `marker`'s start are removed from the live store as a
    /// crash's leftovers, that the marker is the one archiving wrote: the live log reaches at
    /// least the commit before the start (archiving never archives the last commit), and a
    /// live commit just before the start is the one archived last (its hash is the marker's).
    /// A marker changed by hand or by damage (a start past the log's end, say) would
    /// otherwise make archiving delete live commits that no archive holds. (That the archive's
    /// manifest holds every commit before the start is [`read_manifest`]'s check.)
    fn check_live_against(&self, marker: &Marker) -> Result<()> {
        let live = self.archived().live();
        let refused = |problem: String| {
            self.archive_refused(format!(
                "{} says the log starts at commit {}, {problem}: the marker is not the one archiving wrote (changed or damaged), or the live store lost commits since (a machine crash without syncs); nothing was removed; run 'foldstore verify', and restore the marker or the store from a backup",
                live.meta_location(ARCHIVED_MARKER),
                marker.start
            ))
        };
        let live_last = live.last_commit()?;
        if live_last.saturating_add(1) < marker.start {
            return Err(refused(format!(
                "and the live store's last commit is {live_last}"
            )));
        }
        let bytes = match live.read_commit(marker.start - 1) {
            // Removed already, or emptied (PostgreSQL keeps an emptied row per archived
            // commit): nothing to compare.
            Ok(None) => return Ok(()),
            Ok(Some(bytes)) if bytes.is_empty() => return Ok(()),
            Ok(Some(bytes)) => bytes,
            // Damaged in the live store since: the archive holds it, and repair does not reach
            // commits before the start.
            Err(Error::CorruptCommit { .. }) => return Ok(()),
            Err(e) => return Err(e),
        };
        if blake3::hash(&bytes).to_hex().as_str() != marker.last_blake3 {
            return Err(refused(format!(
                "and the live store's commit {} is not the commit archived last (its BLAKE3 hash differs from the marker's)",
                marker.start - 1
            )));
        }
        Ok(())
    }

    /// Refuses to archive commit `number` when its `bytes` do not decode: damage is never
    /// archived, as repair reaches only the live store.
    fn check_archivable(
        &self,
        live: &Arc<dyn Storage>,
        number: u64,
        bytes: &[u8],
        limit: u64,
    ) -> Result<()> {
        if chunk::record_bytes(bytes.len()) > limit {
            return Err(self.archive_refused(format!(
                "commit {number} ({}) is a document of {} bytes, too large for an archive chunk (at most {limit} bytes with its record's frame): archive up to commit {} instead; the live store was not changed",
                live.commit_location(number),
                bytes.len(),
                number.saturating_sub(1)
            )));
        }
        Commit::decode(number, bytes)
            .map(|_| ())
            .map_err(|e| Error::CorruptCommit {
                commit: number,
                location: live.commit_location(number),
                problem: format!(
                    "{e}; it cannot be archived: repair the store first ('foldstore repair'), nothing in it was changed"
                ),
            })
    }

    /// Writes the archive's document `name`, unless it holds other bytes already: archives
    /// never change a chunk or a manifest once written (one written again by a run that a
    /// crash interrupted is the same), so other bytes there are another store's archive.
    fn write_new_document(&self, options: &ArchiveOptions, name: &str, bytes: &[u8]) -> Result<()> {
        match options.archive.read_meta(name)? {
            Some(there) if there == bytes => Ok(()),
            Some(_) => Err(self.archive_refused(format!(
                "the archive at {:?} already holds a different foldstore-{name}: it is another store's archive (or this store's, from before it was replaced); give an archive of this store's own; nothing was changed in the store",
                options.address
            ))),
            None => options.archive.write_meta(name, bytes),
        }
    }

    /// Reads the manifest `name` back from the archive, checks that it is `bytes`, and reads
    /// back every chunk it lists from `from` on, checking its size, hash and records.
    fn check_archive(
        &self,
        options: &ArchiveOptions,
        name: &str,
        bytes: &[u8],
        from: usize,
        progress: &mut impl FnMut(ArchiveStage, u64, u64),
    ) -> Result<()> {
        let read = options.archive.read_meta(name)?;
        if read.as_deref() != Some(bytes) {
            return Err(self.archive_refused(format!(
                "the manifest {name} read back from the archive is not what was written; nothing in the live store was changed"
            )));
        }
        let manifest = Manifest::parse(bytes, name)?;
        let (Some(first), Some(last)) = (manifest.chunks.get(from), manifest.chunks.last()) else {
            return Ok(());
        };
        let (first, last) = (first.first, last.last);
        for chunk in &manifest.chunks[from..] {
            read_chunk(&*options.archive, chunk).map_err(|e| {
                self.archive_refused(format!(
                    "read back just after it was written, {e}; nothing in the live store was changed"
                ))
            })?;
            progress(
                ArchiveStage::Checking,
                chunk.last - first + 1,
                last - first + 1,
            );
        }
        Ok(())
    }

    /// Each model's newest snapshot, when it lies before `last`.
    fn snapshots_before(&self, last: u64) -> Result<Vec<(String, u64)>> {
        let mut newest: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
        for (name, commit) in self.storage().snapshots()?.0 {
            let entry = newest.entry(name).or_insert(commit);
            *entry = (*entry).max(commit);
        }
        Ok(newest
            .into_iter()
            .filter(|(_, commit)| *commit < last)
            .collect())
    }

    /// The last commit `up_to` asks for (before the cap at the tip).
    fn archive_end(
        &self,
        up_to: &ArchiveUpTo,
        start: u64,
        tip: u64,
        progress: &mut impl FnMut(ArchiveStage, u64, u64),
    ) -> Result<u64> {
        match up_to {
            ArchiveUpTo::Commit(n) => Ok(*n),
            ArchiveUpTo::Snapshot(name) => {
                crate::storage::validate_snapshot_name(name)?;
                self.storage()
                    .snapshots()?
                    .0
                    .iter()
                    .filter(|(model, commit)| model == name && *commit <= tip)
                    .map(|(_, commit)| *commit)
                    .max()
                    .ok_or_else(|| {
                        self.archive_refused(format!(
                            "the store has no snapshot of {name:?} up to its last commit ({tip}): save one first (a model's instance saves it), or archive up to a commit"
                        ))
                    })
            }
            ArchiveUpTo::Time(time) => {
                let live = self.archived().live();
                let mut number = start;
                while number < tip {
                    let batch = live.read_commits(number, 1024)?;
                    if batch.is_empty() {
                        break;
                    }
                    for bytes in &batch {
                        let before = Commit::decode(number, bytes)
                            .ok()
                            .and_then(|commit| commit.time())
                            .is_some_and(|at| at < *time);
                        if !before {
                            return Ok(number - 1);
                        }
                        number += 1;
                    }
                    progress(ArchiveStage::Looking, number - start, tip - start + 1);
                }
                Ok(number - 1)
            }
        }
    }

    fn refuse_loose_folder(&self, options: &ArchiveOptions) -> Result<()> {
        let Some(path) = self.path() else {
            return Ok(());
        };
        let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
            (Ok(a), Ok(b)) => a == b,
            _ => a == b,
        };
        if same(path, Path::new(&options.address)) {
            return Err(self.archive_refused(format!(
                "the archive cannot be the store's own folder ({}): give another folder, or object storage",
                path.display()
            )));
        }
        if options.unreadable_by_original || Layout::detect(path)? != Some(Layout::Loose) {
            return Ok(());
        }
        Err(Error::Layout {
            path: path.to_path_buf(),
            problem: "is a loose folder, which the original package reads too; once archived, it would take the commits after the archived ones for the whole log. Archive it only if nothing reads it with the original package any more, and say so: ArchiveOptions::unreadable_by_original(true), or 'foldstore archive --unreadable-by-original'; or convert it to the journal layout first ('foldstore copy --layout journal')".to_owned(),
        })
    }

    fn archive_refused(&self, problem: String) -> Error {
        Error::Backend {
            backend: "archive",
            message: problem,
            source: None,
        }
    }

    fn missing(&self, number: u64) -> Error {
        Error::CorruptCommit {
            commit: number,
            location: self.storage().commit_location(number),
            problem: "is missing, so it cannot be archived; run 'foldstore verify'".to_owned(),
        }
    }
}

#[cfg(test)]
mod crash_tests;

#[cfg(test)]
mod limit_tests {
    use serde_json::json;

    use super::*;
    use crate::event::Event;
    use crate::storage::archive::read_manifest;

    /// A journal of 12 commits whose documents are each about a fifth of `limit`, but for
    /// commit 7, about half of it.
    fn store(folder: &Path, limit: usize) -> Store {
        let store = Store::builder(folder.join("store"))
            .layout(Layout::Journal)
            .open()
            .unwrap();
        store.ensure_folder().unwrap();
        for k in 1..=12 {
            let size = if k == 7 { limit / 2 } else { limit / 5 };
            store
                .log(&Event::with_data(
                    "noted",
                    json!({ "text": "x".repeat(size) }),
                ))
                .unwrap();
        }
        store
    }

    #[test]
    fn a_chunk_closes_before_a_commit_that_would_take_it_past_what_a_document_may_hold() {
        let folder = tempfile::tempdir().unwrap();
        let limit = 64 << 10;
        let store = store(folder.path(), limit);
        let options =
            ArchiveOptions::at(folder.path().join("archive"), ArchiveUpTo::Commit(11)).unwrap();
        let report = store
            .archive_in_chunks_of(&options, |_, _, _| {}, limit as u64)
            .unwrap();
        assert_eq!(report.start, 12);
        let marker = store.archived().marker().unwrap().unwrap();
        let manifest = read_manifest(&*options.archive, &marker).unwrap();
        assert!(manifest.chunks.len() > 1, "{:?}", manifest.chunks);
        for chunk in &manifest.chunks {
            assert!(
                chunk.bytes <= limit as u64,
                "{chunk:?} is over {limit} bytes"
            );
        }
        // Every commit comes back through the archive.
        let reopened = Store::builder(folder.path().join("store"))
            .layout(Layout::Journal)
            .archive_at(folder.path().join("archive"))
            .unwrap()
            .open()
            .unwrap();
        for k in 1..=12 {
            assert_eq!(reopened.read_commit(k).unwrap().number(), k);
        }
    }

    #[test]
    fn a_commit_too_large_for_any_chunk_is_refused_naming_it_and_nothing_is_archived() {
        let folder = tempfile::tempdir().unwrap();
        let limit = 64 << 10;
        let store = store(folder.path(), limit);
        for dry_run in [true, false] {
            let options =
                ArchiveOptions::at(folder.path().join("archive"), ArchiveUpTo::Commit(11))
                    .unwrap()
                    .dry_run(dry_run);
            let refused = store
                .archive_in_chunks_of(&options, |_, _, _| {}, (limit / 3) as u64)
                .unwrap_err()
                .to_string();
            assert!(
                refused.contains("commit 7 (") && refused.contains("up to commit 6"),
                "{refused}"
            );
            assert_eq!(store.archived().reload().unwrap(), 1);
            assert_eq!(store.read_commit(1).unwrap().number(), 1);
        }
    }
}
