//! A simulated file system for crash tests: it keeps, for every file, what was written and what
//! was synced, and for every folder, its current names and its synced names. A power loss is
//! simulated by stopping every operation after a chosen number of changes, then recovering an
//! image that keeps only what the chosen [`Recovery`] says survived.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use super::fs::{FileSystem, Kind};

/// What survives the simulated power loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Recovery {
    /// Folder entries changed since the folder's last sync survive (else they are undone).
    pub(crate) unsynced_entries_survive: bool,
    /// File data written since the file's last sync survives (else it is lost).
    pub(crate) unsynced_data_survives: bool,
}

impl Recovery {
    /// Every way the two kinds of unsynced state can come out of a power loss.
    pub(crate) const ALL: [Recovery; 4] = [
        Recovery {
            unsynced_entries_survive: false,
            unsynced_data_survives: false,
        },
        Recovery {
            unsynced_entries_survive: true,
            unsynced_data_survives: false,
        },
        Recovery {
            unsynced_entries_survive: false,
            unsynced_data_survives: true,
        },
        // Nothing lost: what a crash of the process alone (kill -9) leaves.
        Recovery {
            unsynced_entries_survive: true,
            unsynced_data_survives: true,
        },
    ];
}

#[derive(Clone, Debug)]
struct Inode {
    data: Vec<u8>,
    synced: Vec<u8>,
    modified: SystemTime,
}

#[derive(Clone, Debug, Default)]
struct Folder {
    entries: BTreeMap<OsString, usize>,
    synced: BTreeMap<OsString, usize>,
}

#[derive(Debug, Default)]
struct State {
    inodes: Vec<Inode>,
    folders: BTreeMap<PathBuf, Folder>,
    /// Changes made so far.
    changes: u64,
    /// The power goes off after this many changes: every later operation fails.
    power_off_after: Option<u64>,
}

/// The simulated file system.
#[derive(Debug, Default)]
pub(crate) struct SimFs {
    state: Mutex<State>,
}

fn power_off() -> io::Error {
    io::Error::other("simulated power loss")
}

fn not_found(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("{} not found", path.display()),
    )
}

fn split(path: &Path) -> io::Result<(PathBuf, OsString)> {
    match (path.parent(), path.file_name()) {
        (Some(parent), Some(name)) => Ok((parent.to_path_buf(), name.to_owned())),
        _ => Err(io::Error::new(io::ErrorKind::InvalidInput, "no file name")),
    }
}

impl State {
    /// Counts one change, or fails when the power is off.
    fn change(&mut self) -> io::Result<()> {
        if self
            .power_off_after
            .is_some_and(|limit| self.changes >= limit)
        {
            return Err(power_off());
        }
        self.changes += 1;
        Ok(())
    }

    fn check_power(&self) -> io::Result<()> {
        if self
            .power_off_after
            .is_some_and(|limit| self.changes >= limit)
        {
            Err(power_off())
        } else {
            Ok(())
        }
    }

    fn inode(&self, path: &Path) -> io::Result<usize> {
        let (parent, name) = split(path)?;
        self.folders
            .get(&parent)
            .and_then(|folder| folder.entries.get(&name))
            .copied()
            .ok_or_else(|| not_found(path))
    }

    fn now(&self) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(self.changes)
    }
}

impl SimFs {
    /// A file system holding one empty, durable folder.
    pub(crate) fn with_folder(folder: &Path) -> Self {
        let fs = SimFs::default();
        fs.lock()
            .folders
            .insert(folder.to_path_buf(), Folder::default());
        fs
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The number of changes made so far.
    pub(crate) fn changes(&self) -> u64 {
        self.lock().changes
    }

    /// Turns the power off after `changes` more changes from now on (every operation after
    /// that fails).
    pub(crate) fn power_off_after(&self, changes: u64) {
        let mut state = self.lock();
        state.power_off_after = Some(state.changes + changes);
    }

    /// The image a restart finds after the power loss, as `recovery` says.
    pub(crate) fn recover(&self, recovery: Recovery) -> SimFs {
        let state = self.lock();
        let inodes = state
            .inodes
            .iter()
            .map(|inode| {
                let data = if recovery.unsynced_data_survives {
                    inode.data.clone()
                } else {
                    inode.synced.clone()
                };
                Inode {
                    synced: data.clone(),
                    data,
                    modified: inode.modified,
                }
            })
            .collect();
        let folders = state
            .folders
            .iter()
            .map(|(path, folder)| {
                let entries = if recovery.unsynced_entries_survive {
                    folder.entries.clone()
                } else {
                    folder.synced.clone()
                };
                let folder = Folder {
                    synced: entries.clone(),
                    entries,
                };
                (path.clone(), folder)
            })
            .collect();
        SimFs {
            state: Mutex::new(State {
                inodes,
                folders,
                changes: state.changes,
                power_off_after: None,
            }),
        }
    }

    /// The names in `folder` and their current content.
    pub(crate) fn files(&self, folder: &Path) -> BTreeMap<String, Vec<u8>> {
        let state = self.lock();
        state.folders.get(folder).map_or_else(BTreeMap::new, |f| {
            f.entries
                .iter()
                .map(|(name, &inode)| {
                    (
                        name.to_string_lossy().into_owned(),
                        state.inodes[inode].data.clone(),
                    )
                })
                .collect()
        })
    }
}

impl FileSystem for SimFs {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        let state = self.lock();
        state.check_power()?;
        let inode = state.inode(path)?;
        Ok(state.inodes[inode].data.clone())
    }

    fn kind(&self, path: &Path) -> io::Result<Option<Kind>> {
        let state = self.lock();
        state.check_power()?;
        if state.folders.contains_key(path) {
            return Ok(Some(Kind::Folder));
        }
        Ok(state.inode(path).ok().map(|_| Kind::Other))
    }

    fn modified(&self, path: &Path) -> io::Result<SystemTime> {
        let state = self.lock();
        state.check_power()?;
        let inode = state.inode(path)?;
        Ok(state.inodes[inode].modified)
    }

    fn list(&self, folder: &Path) -> io::Result<Vec<OsString>> {
        let state = self.lock();
        state.check_power()?;
        let folder = state.folders.get(folder).ok_or_else(|| not_found(folder))?;
        Ok(folder.entries.keys().cloned().collect())
    }

    fn create_dir_all(&self, folder: &Path) -> io::Result<()> {
        let mut state = self.lock();
        if !state.folders.contains_key(folder) {
            state.change()?;
            state
                .folders
                .insert(folder.to_path_buf(), Folder::default());
        }
        Ok(())
    }

    fn write_new(&self, path: &Path, bytes: &[u8], sync: bool) -> io::Result<()> {
        let (parent, name) = split(path)?;
        let mut state = self.lock();
        state.check_power()?;
        if !state.folders.contains_key(&parent) {
            return Err(not_found(&parent));
        }
        if state.inode(path).is_ok() {
            return Err(io::ErrorKind::AlreadyExists.into());
        }
        // Three separate steps, each a point where the power may go: create, write, sync.
        state.change()?;
        let inode = state.inodes.len();
        let modified = state.now();
        state.inodes.push(Inode {
            data: Vec::new(),
            synced: Vec::new(),
            modified,
        });
        if let Some(folder) = state.folders.get_mut(&parent) {
            folder.entries.insert(name, inode);
        }
        state.change()?;
        state.inodes[inode].data = bytes.to_vec();
        if sync {
            state.change()?;
            state.inodes[inode].synced = bytes.to_vec();
        }
        Ok(())
    }

    fn rename_noreplace(&self, from: &Path, to: &Path) -> io::Result<()> {
        let (from_parent, from_name) = split(from)?;
        let (to_parent, to_name) = split(to)?;
        let mut state = self.lock();
        state.check_power()?;
        let inode = state.inode(from)?;
        if state.inode(to).is_ok() {
            return Err(io::ErrorKind::AlreadyExists.into());
        }
        state.change()?;
        if let Some(folder) = state.folders.get_mut(&from_parent) {
            folder.entries.remove(&from_name);
        }
        state
            .folders
            .get_mut(&to_parent)
            .ok_or_else(|| not_found(&to_parent))?
            .entries
            .insert(to_name, inode);
        Ok(())
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        let (parent, name) = split(path)?;
        let mut state = self.lock();
        state.check_power()?;
        state.inode(path)?;
        state.change()?;
        if let Some(folder) = state.folders.get_mut(&parent) {
            folder.entries.remove(&name);
        }
        Ok(())
    }

    fn sync_dir(&self, folder: &Path) -> io::Result<()> {
        let mut state = self.lock();
        state.check_power()?;
        state.change()?;
        let folder = state
            .folders
            .get_mut(folder)
            .ok_or_else(|| not_found(folder))?;
        folder.synced = folder.entries.clone();
        Ok(())
    }
}
