//! The bare file-system loops: the least work the loose layout's appends and replays need,
//! and the least a durable single writer of a journal needs, written straight against
//! `std::fs`, as the limits that foldstore is measured against.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use serde_json::Value;

use crate::workload::{document, Measured};

/// Appends one commit per event into the new folder `folder`: create a temporary file
/// exclusively, write the document, hard-link it to `k.log`, remove the temporary name. When
/// `synced`, each commit is made to survive power loss before the next: the file's data is
/// synced before it is linked, and the folder after the temporary name is removed.
///
/// The folder is opened once (foldstore opens it for each sync); the data sync is
/// `fdatasync`, as foldstore's.
///
/// # Errors
/// I/O errors, with the path.
pub fn append(folder: &Path, events: &[Vec<u8>], synced: bool) -> anyhow::Result<Measured> {
    fs::create_dir(folder).with_context(|| format!("cannot create {}", folder.display()))?;
    let directory =
        File::open(folder).with_context(|| format!("cannot open {}", folder.display()))?;
    let started = Instant::now();
    for (k, event) in (1u64..).zip(events) {
        let document = document(event);
        let temporary = folder.join(format!(".bare-tmp-{k}"));
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temporary)
            .with_context(|| format!("cannot create {}", temporary.display()))?;
        file.write_all(&document)
            .and_then(|()| if synced { file.sync_data() } else { Ok(()) })
            .with_context(|| format!("cannot write {}", temporary.display()))?;
        drop(file);
        let target = folder.join(format!("{k}.log"));
        fs::hard_link(&temporary, &target)
            .with_context(|| format!("cannot link {}", target.display()))?;
        fs::remove_file(&temporary)
            .with_context(|| format!("cannot remove {}", temporary.display()))?;
        if synced {
            directory
                .sync_all()
                .with_context(|| format!("cannot sync {}", folder.display()))?;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let commits = events.len() as u64;
    Ok(Measured::new(commits, commits, seconds))
}

/// Writes one record per event into a file that was filled and synced beforehand, each made
/// durable with `fdatasync` before the next: the physical limit of a durable single writer,
/// since overwriting allocated space in place changes no metadata a sync must write.
///
/// Records are framed as the journal frames them (`{"n":…,"len":…,"crc32":"…","commit":…}`
/// and a newline), around the same documents, and encoded before the clock starts: only the
/// writes and syncs are timed. The file is `folder/journal`.
///
/// # Errors
/// I/O errors, with the path.
pub fn append_in_place(folder: &Path, events: &[Vec<u8>]) -> anyhow::Result<Measured> {
    fs::create_dir(folder).with_context(|| format!("cannot create {}", folder.display()))?;
    let path = folder.join("journal");
    let records: Vec<Vec<u8>> = (1u64..)
        .zip(events)
        .map(|(k, event)| {
            let document = document(event);
            let mut record = format!(
                r#"{{"n":{k},"len":{},"crc32":"{:08x}","commit":"#,
                document.len(),
                crc32fast::hash(&document)
            )
            .into_bytes();
            record.extend_from_slice(&document);
            record.extend_from_slice(b"}\n");
            record
        })
        .collect();
    let total: usize = records.iter().map(Vec::len).sum();
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    // Filled with spaces (the journal's free space) and synced: its blocks and size are on
    // the disk before the first record.
    file.write_all_at(&vec![b' '; total], 0)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot fill {}", path.display()))?;
    let started = Instant::now();
    let mut offset = 0u64;
    for record in &records {
        file.write_all_at(record, offset)
            .and_then(|()| file.sync_data())
            .with_context(|| format!("cannot write {}", path.display()))?;
        offset += record.len() as u64;
    }
    let seconds = started.elapsed().as_secs_f64();
    let commits = events.len() as u64;
    Ok(Measured::new(commits, commits, seconds))
}

/// Reads `1.log` to `commits.log` in `folder`, each parsed into a `serde_json::Value`, and
/// counts their events.
///
/// # Errors
/// I/O errors, and documents that are not JSON.
pub fn replay(folder: &Path, commits: u64) -> anyhow::Result<Measured> {
    let started = Instant::now();
    let mut events = 0u64;
    for k in 1..=commits {
        let path = folder.join(format!("{k}.log"));
        let bytes = fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let document: Value = serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not JSON", path.display()))?;
        events += document["events"].as_array().map_or(0, Vec::len) as u64;
    }
    Ok(Measured::new(
        commits,
        events,
        started.elapsed().as_secs_f64(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::{check_folder, member_has_moved};

    /// Twenty events, as values and as the bytes the loops write.
    fn twenty_events() -> (Vec<Value>, Vec<Vec<u8>>) {
        let values: Vec<Value> = (0..20).map(member_has_moved).collect();
        let bytes = values
            .iter()
            .map(|v| serde_json::to_vec(v).unwrap())
            .collect();
        (values, bytes)
    }

    #[test]
    fn the_loops_write_a_store_foldstore_reads() {
        let dir = tempfile::tempdir().unwrap();
        let (values, bytes) = twenty_events();
        for synced in [false, true] {
            let folder = dir.path().join(format!("bare-{synced}"));
            let measured = append(&folder, &bytes, synced).unwrap();
            assert_eq!((measured.commits, measured.events), (20, 20));
            check_folder(&folder, &values).unwrap();
            assert_eq!(
                fs::read_dir(&folder).unwrap().count(),
                20,
                "no temporary file left"
            );
        }
        let folder = dir.path().join("bare-true");

        let read = replay(&folder, 20).unwrap();
        assert_eq!((read.commits, read.events), (20, 20));
        assert!(replay(&folder, 21).is_err());
    }

    #[test]
    fn the_journal_loop_writes_every_record_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let (values, bytes) = twenty_events();
        let folder = dir.path().join("in-place");
        let measured = append_in_place(&folder, &bytes).unwrap();
        assert_eq!((measured.commits, measured.events), (20, 20));
        let written = fs::read(folder.join("journal")).unwrap();
        let lines: Vec<&[u8]> = written.split(|b| *b == b'\n').collect();
        assert_eq!(lines.len(), 21, "20 records and nothing after the last");
        assert!(lines[20].is_empty(), "no free space left over");
        for (k, (line, value)) in (1u64..).zip(lines.iter().zip(&values)) {
            let record: Value = serde_json::from_slice(line).unwrap();
            assert_eq!(record["n"], k);
            assert_eq!(record["commit"]["events"][0], *value);
            let document = serde_json::to_vec(&record["commit"]).unwrap();
            assert_eq!(record["len"], document.len());
        }
        assert!(
            append_in_place(&folder, &bytes).is_err(),
            "never over an existing folder"
        );
    }
}
