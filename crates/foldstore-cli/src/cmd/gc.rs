//! `foldstore gc`: removing what a folder store no longer needs (superseded snapshots, old
//! quarantined files, temporary files of interrupted writes), never a commit; a dry run unless
//! asked to remove.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use anyhow::{bail, Context};
use foldstore::{Snapshot, Store};

use crate::output::{human_size, plural, printable, styled, Palette};

/// The prefix of the temporary files foldstore writes into a store's folders.
const TEMP_PREFIX: &str = ".foldstore-tmp-";

/// The store's subfolder holding what repair moved aside.
pub const QUARANTINE_FOLDER: &str = "foldstore-quarantine";

/// The store's subfolders (besides the quarantine) where foldstore writes temporary files.
const FOLDERS_WITH_TEMPORARIES: [&str; 3] = ["", "foldstore-index", "journal"];

/// How old a temporary file must be to be taken for a leftover: the age after which the
/// library's writers remove them too (a write takes far less; younger ones may be in flight).
const STALE_TEMPORARY: Duration = Duration::from_secs(3600);

/// A file gc removes (or would), and why.
struct Garbage {
    path: PathBuf,
    bytes: u64,
    why: String,
}

/// A file gc leaves, though it looked at it, and why.
struct Kept {
    path: PathBuf,
    why: String,
}

/// Finds what `store` no longer needs and removes it (with `apply`), or says what it would
/// remove. Quarantined files are removed once `quarantine_age` has passed since they were
/// moved aside.
///
/// # Errors
/// A store that is not a folder; a folder that cannot be listed; a file that cannot be
/// removed (after removing the others).
pub fn run(store: &Store, apply: bool, quarantine_age: Duration) -> anyhow::Result<ExitCode> {
    let Some(folder) = store.path() else {
        bail!(
            "gc works on folder stores: a store on a server keeps no temporary files, and its \
             snapshots and quarantine are managed there"
        );
    };
    let now = SystemTime::now();
    let (mut garbage, mut kept) = snapshots(store, folder)?;
    temporaries(folder, &mut garbage, &mut kept)?;
    quarantined(folder, now, quarantine_age, &mut garbage, &mut kept)?;
    let mut out = io::stdout().lock();
    let p = Palette::stdout();
    let total: u64 = garbage.iter().map(|g| g.bytes).sum();
    let mut failures = Vec::new();
    let mut freed = 0;
    for item in &garbage {
        let shown = printable(&item.path.display().to_string()).into_owned();
        let verb = if apply {
            match remove_file(&item.path) {
                Ok(()) => {
                    freed += item.bytes;
                    "removed"
                }
                Err(e) => {
                    failures.push(format!("{shown}: {e:#}"));
                    continue;
                }
            }
        } else {
            "would remove"
        };
        writeln!(
            out,
            "{verb} {shown}  {}",
            styled(p.dim, format!("({}; {})", item.why, human_size(item.bytes)))
        )?;
    }
    for item in &kept {
        writeln!(
            out,
            "{} {}  {}",
            styled(p.label, "kept"),
            printable(&item.path.display().to_string()),
            styled(p.dim, format!("({})", item.why))
        )?;
    }
    if garbage.is_empty() {
        writeln!(out, "nothing to remove: no commit is ever removed")?;
    } else if apply {
        let removed = (garbage.len() - failures.len()) as u64;
        writeln!(
            out,
            "{} removed {} ({}); no commit was touched",
            styled(p.good, "done:"),
            plural(removed, "file"),
            human_size(freed)
        )?;
    } else {
        writeln!(
            out,
            "dry run: {} ({}) would be removed, no commit ever; nothing was removed \
             (run again with --apply to remove them)",
            plural(garbage.len() as u64, "file"),
            human_size(total)
        )?;
    }
    if !failures.is_empty() {
        bail!(
            "{} could not be removed: {}",
            plural(failures.len() as u64, "file"),
            failures.join("; ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Removes a regular file (a symbolic link or anything else found there since is left).
fn remove_file(path: &Path) -> anyhow::Result<()> {
    let kind = fs::symlink_metadata(path).context("cannot look at it")?;
    if !kind.file_type().is_file() {
        bail!("it is no longer a regular file; left as it is");
    }
    fs::remove_file(path).context("cannot remove it")
}

/// Each model's snapshots older than its newest sound one (labelled with a commit of the log,
/// a readable document with data); newer damaged ones are kept, and so is every snapshot of a
/// model that has no sound one.
fn snapshots(store: &Store, folder: &Path) -> anyhow::Result<(Vec<Garbage>, Vec<Kept>)> {
    let storage = store.storage();
    let listing = storage.list()?;
    let tip = listing.commits.last().copied().unwrap_or(0);
    let mut by_model: BTreeMap<String, Vec<(u64, Option<u64>)>> = BTreeMap::new();
    for (model, commit) in listing.snapshots {
        // The size of a sound snapshot; `None` for one that cannot be used.
        let sound = match storage.read_snapshot(&model, commit) {
            Ok(Some(bytes)) => Snapshot::decode(&model, commit, &bytes)
                .ok()
                .filter(|snapshot| snapshot.data.is_some() && commit <= tip)
                .map(|_| bytes.len() as u64),
            // Removed since the listing.
            Ok(None) => continue,
            Err(_) => None,
        };
        by_model.entry(model).or_default().push((commit, sound));
    }
    let mut garbage = Vec::new();
    let mut kept = Vec::new();
    for (model, snapshots) in by_model {
        let path = |commit: u64| folder.join(format!("{commit}.{model}-snapshot"));
        let Some(newest) = snapshots
            .iter()
            .filter(|(_, sound)| sound.is_some())
            .map(|(commit, _)| *commit)
            .max()
        else {
            continue;
        };
        for (commit, sound) in snapshots {
            if commit < newest {
                let path = path(commit);
                let bytes = fs::symlink_metadata(&path).map_or(0, |m| m.len());
                let damaged = if sound.is_some() { "" } else { "damaged, " };
                garbage.push(Garbage {
                    path,
                    bytes,
                    why: format!("{damaged}superseded by the snapshot at commit {newest}"),
                });
            } else if commit > newest {
                kept.push(Kept {
                    path: path(commit),
                    why: "damaged, and newer than the newest sound snapshot: see 'foldstore \
                          snapshots'"
                        .to_owned(),
                });
            }
        }
    }
    Ok((garbage, kept))
}

/// The regular files of `folder` (none when it does not exist), with their metadata.
fn files(folder: &Path) -> anyhow::Result<Vec<(String, PathBuf, fs::Metadata)>> {
    let entries = match fs::read_dir(folder) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(e).with_context(|| format!("cannot list {}", folder.display()));
        }
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot list {}", folder.display()))?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        // `DirEntry::metadata` does not follow a symbolic link.
        let Ok(metadata) = entry.metadata() else {
            continue;
        };
        if metadata.file_type().is_file() {
            files.push((name, entry.path(), metadata));
        }
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(files)
}

/// How long ago `time` was (zero when it is in the future).
fn age(now: SystemTime, time: SystemTime) -> Duration {
    now.duration_since(time).unwrap_or_default()
}

/// `3 h`, `2 days`: an age, roughly.
fn rough(age: Duration) -> String {
    let secs = age.as_secs();
    match secs {
        0..=119 => plural(secs, "second"),
        120..=7199 => plural(secs / 60, "minute"),
        7200..=172_799 => plural(secs / 3600, "hour"),
        _ => plural(secs / 86_400, "day"),
    }
}

/// A temporary file foldstore wrote into a store's folders.
pub struct Temporary {
    /// Where it is.
    pub path: PathBuf,
    /// Its size.
    pub bytes: u64,
    /// How long ago it was last written.
    pub age: Duration,
}

impl Temporary {
    /// Whether it is old enough to be a leftover of a write that stopped (gc removes it).
    pub fn is_stale(&self) -> bool {
        self.age >= STALE_TEMPORARY
    }

    /// Why it is there, roughly, and its age: for gc and verify.
    pub fn why(&self) -> String {
        if self.is_stale() {
            format!(
                "temporary file of a write that stopped, {} old",
                rough(self.age)
            )
        } else {
            "temporary file less than an hour old: a write may be at work".to_owned()
        }
    }
}

/// The temporary files in the folders of the store at `folder` where foldstore writes them
/// (regular files only; a subfolder that is a symbolic link is not the store's).
///
/// # Errors
/// A folder that exists but cannot be listed.
pub fn temporary_files(folder: &Path) -> anyhow::Result<Vec<Temporary>> {
    let now = SystemTime::now();
    let mut found = Vec::new();
    for sub in FOLDERS_WITH_TEMPORARIES {
        let place = folder.join(sub);
        if !sub.is_empty() && fs::symlink_metadata(&place).map_or(true, |m| !m.is_dir()) {
            continue;
        }
        for (name, path, metadata) in files(&place)? {
            if name.starts_with(TEMP_PREFIX) {
                found.push(Temporary {
                    path,
                    bytes: metadata.len(),
                    age: metadata.modified().map_or(Duration::ZERO, |m| age(now, m)),
                });
            }
        }
    }
    Ok(found)
}

/// Temporary files of writes that stopped (a killed `copy`, a crash), older than an hour;
/// younger ones are kept, as a write may still be at work.
fn temporaries(
    folder: &Path,
    garbage: &mut Vec<Garbage>,
    kept: &mut Vec<Kept>,
) -> anyhow::Result<()> {
    for temporary in temporary_files(folder)? {
        let why = temporary.why();
        if temporary.is_stale() {
            garbage.push(Garbage {
                path: temporary.path,
                bytes: temporary.bytes,
                why,
            });
        } else {
            kept.push(Kept {
                path: temporary.path,
                why,
            });
        }
    }
    Ok(())
}

/// Files in the quarantine moved there at least `keep` ago: when, read from the name repair
/// gives them (`4.log.<milliseconds since 1970>`), or else from the file's date.
fn quarantined(
    folder: &Path,
    now: SystemTime,
    keep: Duration,
    garbage: &mut Vec<Garbage>,
    kept: &mut Vec<Kept>,
) -> anyhow::Result<()> {
    let quarantine = folder.join(QUARANTINE_FOLDER);
    if fs::symlink_metadata(&quarantine).is_ok_and(|m| !m.is_dir()) {
        return Ok(());
    }
    let mut young = 0u64;
    for (name, path, metadata) in files(&quarantine)? {
        let stamp = name
            .rsplit_once('.')
            .and_then(|(_, millis)| millis.parse::<u64>().ok())
            .and_then(|millis| SystemTime::UNIX_EPOCH.checked_add(Duration::from_millis(millis)));
        let moved = stamp.or_else(|| metadata.modified().ok());
        let old = moved.map_or(Duration::ZERO, |moved| age(now, moved));
        if old >= keep {
            garbage.push(Garbage {
                path,
                bytes: metadata.len(),
                why: format!("moved aside by repair {} ago", rough(old)),
            });
        } else {
            young += 1;
        }
    }
    if young > 0 {
        kept.push(Kept {
            path: quarantine,
            why: format!(
                "{} moved aside less than {} ago (see --quarantine-older-than)",
                plural(young, "file"),
                rough(keep)
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_are_written_roughly() {
        assert_eq!(rough(Duration::from_secs(1)), "1 second");
        assert_eq!(rough(Duration::from_secs(600)), "10 minutes");
        assert_eq!(rough(Duration::from_secs(3 * 3600 + 5)), "3 hours");
        assert_eq!(rough(Duration::from_secs(40 * 86_400)), "40 days");
    }
}
