//! The journal's format marker and the checks of its layout: the marker read (and its version)
//! and published whole, the segment folder never a symbolic link, no loose commit files beside
//! the journal.

use std::io;
use std::time::SystemTime;

use super::record::FREE;
use super::scan::read_full_at;
use super::segment::segment_first;
use super::{JournalStorage, View, JOURNAL_MARKER, JOURNAL_VERSION};
use crate::error::{Error, Result};
use crate::storage::local::fs::Open;
use crate::storage::names::{commit_file_name, TEMP_PREFIX};

fn marker_document() -> String {
    format!("{{\"format\":\"foldstore-journal\",\"version\":{JOURNAL_VERSION}}}\n")
}

impl JournalStorage {
    /// Checks the marker and lists the segments, once.
    pub(super) fn load(&self, view: &mut View) -> Result<()> {
        if view.loaded {
            return Ok(());
        }
        // Not created yet: an empty store.
        let Some(version) = self.read_marker()? else {
            return Ok(());
        };
        self.refuse_mixed()?;
        self.list_segments(view)?;
        view.version = version;
        view.loaded = true;
        Ok(())
    }

    /// The journal's format version, from its marker; `None` when the journal is not created
    /// yet: no marker, or a blank one beside segments that hold nothing (what a crash while
    /// an older foldstore wrote the marker in place left behind; markers are now published
    /// whole).
    pub(super) fn read_marker(&self) -> Result<Option<u64>> {
        let marker = self.shared.path.join(JOURNAL_MARKER);
        let bytes = match self.shared.fs.read(&marker) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("read", marker, e)),
        };
        if bytes.iter().all(u8::is_ascii_whitespace) && !self.holds_records()? {
            return Ok(None);
        }
        let text = String::from_utf8_lossy(&bytes);
        let version = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .filter(|v| v["format"] == "foldstore-journal")
            .and_then(|v| v["version"].as_u64())
            .ok_or_else(|| {
                let shown: String = text.trim().chars().take(200).collect();
                self.layout_error(format!(
                    "{} is not a journal format marker ({shown:?}); it should hold {}",
                    marker.display(),
                    marker_document().trim()
                ))
            })?;
        if version > JOURNAL_VERSION {
            return Err(self.layout_error(format!(
                "the journal has format version {version}, and this foldstore reads version {JOURNAL_VERSION} and older: use a newer foldstore"
            )));
        }
        Ok(Some(version))
    }

    /// Whether any segment holds anything but free space at its start.
    fn holds_records(&self) -> Result<bool> {
        let fs = &*self.shared.fs;
        let segments = &self.shared.segments;
        let names = match fs.list(segments) {
            Ok(names) => names,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(Error::io("list", segments, e)),
        };
        for name in names {
            if name.to_str().and_then(segment_first).is_none() {
                continue;
            }
            let path = segments.join(&name);
            let file = fs
                .open(&path, Open::Read)
                .map_err(|e| Error::io("open", &path, e))?;
            let mut first = [0u8; 1];
            if read_full_at(&*file, &mut first, 0).map_err(|e| Error::io("read", &path, e))? > 0
                && first[0] != FREE
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Publishes the marker whole: written to a temporary file and synced, then given its name
    /// without replacing a marker another process published first (a blank one is replaced).
    pub(super) fn create_marker(&self) -> Result<()> {
        let fs = &*self.shared.fs;
        let marker = self.shared.path.join(JOURNAL_MARKER);
        let document = marker_document();
        let temporary = self.shared.path.join(format!(
            "{}marker-{}-{}",
            TEMP_PREFIX,
            std::process::id(),
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        let blank = match fs.read(&marker) {
            Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => true,
            // Made already (checked by `load`): its name made durable, in case the call that
            // made it failed to sync the folder (and said so).
            Ok(_) => {
                return fs
                    .sync_dir(&self.shared.path)
                    .map_err(|e| Error::io("sync the folder", &self.shared.path, e))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => false,
            Err(e) => return Err(Error::io("read", marker, e)),
        };
        fs.write_new(&temporary, document.as_bytes(), true)
            .map_err(|e| Error::io("write", &temporary, e))?;
        let published = if blank {
            fs.rename(&temporary, &marker)
        } else {
            fs.rename_noreplace(&temporary, &marker)
        };
        match published {
            Ok(()) => {}
            // Another process published it first.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let _ = fs.remove(&temporary);
                return Ok(());
            }
            Err(e) => {
                let _ = fs.remove(&temporary);
                return Err(Error::io("create", marker, e));
            }
        }
        self.refuse_mixed()?;
        fs.sync_dir(&self.shared.path)
            .map_err(|e| Error::io("sync the folder", &self.shared.path, e))
    }

    /// Refuses a segment folder that is a symbolic link: segments are written through it.
    pub(super) fn check_segment_folder(&self) -> Result<()> {
        let segments = &self.shared.segments;
        match self.shared.fs.is_link(segments) {
            Ok(false) => Ok(()),
            Ok(true) => Err(self.layout_error(format!(
                "{} is a symbolic link: foldstore never follows a symbolic link inside a store (the journal's segments would be read and written elsewhere); replace it with the folder it points to",
                segments.display()
            ))),
            Err(e) => Err(Error::io("look at", segments, e)),
        }
    }

    /// Refuses a folder that holds loose-layout commit files beside the journal.
    fn refuse_mixed(&self) -> Result<()> {
        let loose = self.shared.folder.list()?;
        if let Some(first) = loose.commits.first() {
            return Err(self.layout_error(format!(
                "the folder holds a journal ({JOURNAL_MARKER}) and also loose commit files ({} and {} more): a store has one layout; move one of them elsewhere ('foldstore copy' converts between layouts)",
                self.shared.folder.path().join(commit_file_name(*first)).display(),
                loose.commits.len() - 1
            )));
        }
        Ok(())
    }
}
