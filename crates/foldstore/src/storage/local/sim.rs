//! A simulated file system for crash tests: it keeps, for every file, what was written and what
//! was synced, and for every folder, its current names and its synced names. A power loss is
//! simulated by stopping every operation after a chosen number of changes, then recovering an
//! image that keeps only what the chosen [`Recovery`] says survived.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use super::fs::{FileId, FileSystem, Handle, Kind, Open};

/// What survives the simulated power loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Recovery {
    /// Folder entries changed since the folder's last sync survive (else they are undone).
    pub(crate) unsynced_entries_survive: bool,
    /// File data written since the file's last sync survives (else it is lost).
    pub(crate) unsynced_data_survives: bool,
}

/// The size of the blocks of [`SimFs::recover_torn`]: small, so that the records of a journal
/// batch fall in different blocks.
#[allow(dead_code)]
pub(crate) const TORN_BLOCK: usize = 64;

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
    /// How many power losses this file system came through (its boot).
    boot: u64,
}

/// The simulated file system.
#[derive(Debug, Default)]
pub(crate) struct SimFs {
    state: Arc<Mutex<State>>,
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

    /// Creates an empty file named `name` in the folder `parent` (one change), and returns its
    /// inode.
    fn create(&mut self, parent: PathBuf, name: OsString) -> io::Result<usize> {
        self.change()?;
        let inode = self.inodes.len();
        let modified = self.now();
        self.inodes.push(Inode {
            data: Vec::new(),
            synced: Vec::new(),
            modified,
        });
        if let Some(folder) = self.folders.get_mut(&parent) {
            folder.entries.insert(name, inode);
        }
        Ok(inode)
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
        lock(&self.state)
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
        self.recover_with(recovery, |inode| {
            if recovery.unsynced_data_survives {
                inode.data.clone()
            } else {
                inode.synced.clone()
            }
        })
    }

    /// The image a restart finds after a power loss in which the disk wrote only some of the
    /// blocks of the unsynced data: of every file, the blocks ([`TORN_BLOCK`] bytes) with an
    /// even index (`keep_even`) or an odd one hold what was written, the others what was synced
    /// (zeros past the synced end), and the file keeps its written size. It is what lets a later
    /// part of a write survive without an earlier part. Folder entries survive as in
    /// `recovery`.
    #[allow(dead_code)]
    pub(crate) fn recover_torn(&self, recovery: Recovery, keep_even: bool) -> SimFs {
        self.recover_with(recovery, |inode| {
            let mut data = inode.data.clone();
            for (at, byte) in data.iter_mut().enumerate() {
                let kept = (at / TORN_BLOCK) % 2 == usize::from(!keep_even);
                if !kept {
                    *byte = inode.synced.get(at).copied().unwrap_or(0);
                }
            }
            data
        })
    }

    fn recover_with(&self, recovery: Recovery, data_of: impl Fn(&Inode) -> Vec<u8>) -> SimFs {
        let state = self.lock();
        let inodes = state
            .inodes
            .iter()
            .map(|inode| {
                let data = data_of(inode);
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
            state: Arc::new(Mutex::new(State {
                inodes,
                folders,
                changes: state.changes,
                power_off_after: None,
                boot: state.boot + 1,
            })),
        }
    }

    /// Gives the file at `from` the name `to`, replacing what `to` names if `replace`, else
    /// failing with `AlreadyExists` when it exists.
    fn move_entry(&self, from: &Path, to: &Path, replace: bool) -> io::Result<()> {
        let (from_parent, from_name) = split(from)?;
        let (to_parent, to_name) = split(to)?;
        let mut state = self.lock();
        state.check_power()?;
        let inode = state.inode(from)?;
        if !replace && state.inode(to).is_ok() {
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

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
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
        let inode = state.create(parent, name)?;
        state.change()?;
        state.inodes[inode].data = bytes.to_vec();
        if sync {
            state.change()?;
            state.inodes[inode].synced = bytes.to_vec();
        }
        Ok(())
    }

    fn rename_noreplace(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.move_entry(from, to, false)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.move_entry(from, to, true)
    }

    fn is_link(&self, path: &Path) -> io::Result<bool> {
        let _ = path;
        self.lock().check_power().map(|()| false)
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

    fn sync_file_system(&self, folder: &Path) -> io::Result<()> {
        let mut state = self.lock();
        state.check_power()?;
        if !state.folders.contains_key(folder) {
            return Err(not_found(folder));
        }
        state.change()?;
        for folder in state.folders.values_mut() {
            folder.synced = folder.entries.clone();
        }
        for inode in &mut state.inodes {
            inode.synced = inode.data.clone();
        }
        Ok(())
    }

    fn open(&self, path: &Path, mode: Open) -> io::Result<Arc<dyn Handle>> {
        let (parent, name) = split(path)?;
        let mut state = self.lock();
        state.check_power()?;
        let inode = match (state.inode(path), mode) {
            (Ok(_), Open::CreateNew) => return Err(io::ErrorKind::AlreadyExists.into()),
            (Ok(inode), _) => inode,
            (Err(e), Open::Read | Open::Write) => return Err(e),
            (Err(_), Open::CreateNew | Open::ReadWriteCreate) => {
                if !state.folders.contains_key(&parent) {
                    return Err(not_found(&parent));
                }
                state.create(parent, name)?
            }
        };
        Ok(Arc::new(SimFile {
            state: Arc::clone(&self.state),
            inode,
        }))
    }

    fn boot_id(&self) -> Option<String> {
        Some(format!("sim-{}", self.lock().boot))
    }
}

/// An open file of the simulated file system (it stays usable after its name is removed, as
/// an open file does).
#[derive(Debug)]
struct SimFile {
    state: Arc<Mutex<State>>,
    inode: usize,
}

impl Handle for SimFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let state = lock(&self.state);
        state.check_power()?;
        let data = &state.inodes[self.inode].data;
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(data.len());
        let n = buf.len().min(data.len() - start);
        buf[..n].copy_from_slice(&data[start..start + n]);
        Ok(n)
    }

    fn write_all_at(&self, bytes: &[u8], offset: u64) -> io::Result<()> {
        let mut state = lock(&self.state);
        state.change()?;
        let modified = state.now();
        let inode = &mut state.inodes[self.inode];
        let start = usize::try_from(offset).map_err(|_| io::ErrorKind::InvalidInput)?;
        let end = start + bytes.len();
        if inode.data.len() < end {
            inode.data.resize(end, 0);
        }
        inode.data[start..end].copy_from_slice(bytes);
        inode.modified = modified;
        Ok(())
    }

    fn len(&self) -> io::Result<u64> {
        let state = lock(&self.state);
        state.check_power()?;
        Ok(state.inodes[self.inode].data.len() as u64)
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        let mut state = lock(&self.state);
        state.change()?;
        let len = usize::try_from(len).map_err(|_| io::ErrorKind::InvalidInput)?;
        state.inodes[self.inode].data.resize(len, 0);
        Ok(())
    }

    fn sync_data(&self) -> io::Result<()> {
        let mut state = lock(&self.state);
        state.change()?;
        let inode = &mut state.inodes[self.inode];
        inode.synced = inode.data.clone();
        Ok(())
    }

    fn modified(&self) -> io::Result<SystemTime> {
        let state = lock(&self.state);
        state.check_power()?;
        Ok(state.inodes[self.inode].modified)
    }

    // One process: the journal's own queue keeps its writers apart.
    fn lock(&self) -> io::Result<()> {
        lock(&self.state).check_power()
    }

    fn unlock(&self) -> io::Result<()> {
        Ok(())
    }

    fn identity(&self) -> Option<FileId> {
        Some(FileId {
            device: 0,
            inode: self.inode as u64,
        })
    }

    fn links(&self) -> Option<u64> {
        Some(1)
    }
}
