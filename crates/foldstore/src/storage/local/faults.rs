//! A file system that fails on purpose: it delegates every operation to another
//! [`FileSystem`] (the simulated one, or the operating system's) and makes one chosen operation
//! fail with a chosen error, as a full disk (`ENOSPC`), an exhausted quota (`EDQUOT`) or a
//! failing device (`EIO`) would. Operations after the fault succeed again (the disk was freed).

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use super::fs::{FileSystem, Handle, Kind, Open};

/// The operations of [`FileSystem`], as faults name them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Op {
    Read,
    Kind,
    Modified,
    List,
    CreateDirAll,
    WriteNew,
    RenameNoreplace,
    Rename,
    IsLink,
    Remove,
    SyncDir,
    Open,
}

impl Op {
    /// Whether the operation changes the file system, so that it can fail after its change
    /// was made (see [`When::After`]).
    pub(crate) fn changes(self) -> bool {
        matches!(
            self,
            Op::CreateDirAll | Op::RenameNoreplace | Op::Rename | Op::Remove | Op::SyncDir
        )
    }
}

/// When an injected fault strikes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum When {
    /// Instead of the operation: nothing changes.
    Before,
    /// After the operation did its work, which is then reported as failed (a sync whose
    /// flush failed, a rename whose reply was lost).
    After,
}

/// One fault to inject.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Fault {
    /// Which operation fails: the `index`-th (from 0) since the fault was armed, counting only
    /// operations of kind `op` when it is given, else every operation.
    pub(crate) op: Option<Op>,
    pub(crate) index: u64,
    /// The raw OS error (`errno`) it fails with.
    pub(crate) errno: i32,
    pub(crate) when: When,
}

/// The errors a full or failing disk gives: `ENOSPC`, `EDQUOT`, `EIO`.
pub(crate) fn disk_errors() -> [(&'static str, i32); 3] {
    use rustix::io::Errno;
    [
        ("ENOSPC", Errno::NOSPC.raw_os_error()),
        ("EDQUOT", Errno::DQUOT.raw_os_error()),
        ("EIO", Errno::IO.raw_os_error()),
    ]
}

#[derive(Debug, Default)]
struct State {
    fault: Option<Fault>,
    /// Operations since the fault was armed: all of them, and those of the fault's kind.
    seen: u64,
    seen_of_kind: u64,
    /// Every operation since the fault was armed, in order.
    trace: Vec<(Op, PathBuf)>,
    /// The faults injected so far (over the whole life of this file system).
    injected: u64,
    /// A name the next listings leave out, and how many more listings do (a name published
    /// while a folder was being listed, which the listing may or may not show).
    hidden: Option<(OsString, u32)>,
}

/// A [`FileSystem`] that delegates to another and injects one [`Fault`].
#[derive(Debug)]
pub(crate) struct FaultFs {
    inner: Arc<dyn FileSystem>,
    state: Mutex<State>,
}

impl FaultFs {
    pub(crate) fn new(inner: Arc<dyn FileSystem>) -> Self {
        FaultFs {
            inner,
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Arms `fault` (or none), counting operations from now on.
    pub(crate) fn arm(&self, fault: Option<Fault>) {
        let mut state = self.lock();
        state.fault = fault;
        state.seen = 0;
        state.seen_of_kind = 0;
        state.trace.clear();
    }

    /// Leaves `name` out of the next `times` listings.
    pub(crate) fn hide_from_listings(&self, name: &str, times: u32) {
        self.lock().hidden = Some((OsString::from(name), times));
    }

    /// The operations made since the fault was armed.
    pub(crate) fn trace(&self) -> Vec<(Op, PathBuf)> {
        self.lock().trace.clone()
    }

    /// How many faults were injected.
    pub(crate) fn injected(&self) -> u64 {
        self.lock().injected
    }

    /// Counts an operation; returns the fault to inject into it, if it is the one.
    fn step(&self, op: Op, path: &Path) -> Option<(io::Error, When)> {
        let mut state = self.lock();
        state.trace.push((op, path.to_path_buf()));
        let index = state.seen;
        state.seen += 1;
        let fault = state.fault?;
        let index = match fault.op {
            None => index,
            Some(kind) if kind == op => {
                state.seen_of_kind += 1;
                state.seen_of_kind - 1
            }
            Some(_) => return None,
        };
        if index != fault.index {
            return None;
        }
        state.injected += 1;
        Some((io::Error::from_raw_os_error(fault.errno), fault.when))
    }

    /// Runs `work` as operation `op` on `path`, injecting the fault if it is the one.
    fn run<T>(&self, op: Op, path: &Path, work: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
        match self.step(op, path) {
            None => work(),
            Some((error, When::Before)) => Err(error),
            Some((error, When::After)) => {
                work()?;
                Err(error)
            }
        }
    }
}

impl FileSystem for FaultFs {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.run(Op::Read, path, || self.inner.read(path))
    }

    fn kind(&self, path: &Path) -> io::Result<Option<Kind>> {
        self.run(Op::Kind, path, || self.inner.kind(path))
    }

    fn modified(&self, path: &Path) -> io::Result<SystemTime> {
        self.run(Op::Modified, path, || self.inner.modified(path))
    }

    fn list(&self, folder: &Path) -> io::Result<Vec<OsString>> {
        let mut names = self.run(Op::List, folder, || self.inner.list(folder))?;
        let mut state = self.lock();
        if let Some((name, times)) = &mut state.hidden {
            if *times > 0 {
                *times -= 1;
                names.retain(|n| n != name);
            }
        }
        Ok(names)
    }

    fn create_dir_all(&self, folder: &Path) -> io::Result<()> {
        self.run(Op::CreateDirAll, folder, || {
            self.inner.create_dir_all(folder)
        })
    }

    fn write_new(&self, path: &Path, bytes: &[u8], sync: bool) -> io::Result<()> {
        match self.step(Op::WriteNew, path) {
            None => self.inner.write_new(path, bytes, sync),
            Some((error, When::Before)) => Err(error),
            Some((error, When::After)) => {
                // Written (and synced), then failing: as the contract says, the new file is
                // removed again (a sync whose flush failed).
                self.inner.write_new(path, bytes, sync)?;
                let _ = self.inner.remove(path);
                Err(error)
            }
        }
    }

    fn rename_noreplace(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.run(Op::RenameNoreplace, to, || {
            self.inner.rename_noreplace(from, to)
        })
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.run(Op::Rename, to, || self.inner.rename(from, to))
    }

    fn is_link(&self, path: &Path) -> io::Result<bool> {
        self.run(Op::IsLink, path, || self.inner.is_link(path))
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        self.run(Op::Remove, path, || self.inner.remove(path))
    }

    fn sync_dir(&self, folder: &Path) -> io::Result<()> {
        self.run(Op::SyncDir, folder, || self.inner.sync_dir(folder))
    }

    fn sync_file_system(&self, folder: &Path) -> io::Result<()> {
        self.run(Op::SyncDir, folder, || self.inner.sync_file_system(folder))
    }

    fn open(&self, path: &Path, mode: Open) -> io::Result<Arc<dyn Handle>> {
        self.run(Op::Open, path, || self.inner.open(path, mode))
    }
}
