//! Durable projections: a handler run over a subscription, remembering how far it got, so that
//! a restarted process resumes exactly where it stopped.

use std::fmt;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::format::Commit;
use crate::store::Store;
use crate::subscribe::{Start, DEFAULT_POLL_INTERVAL};

/// Where a projection keeps its position: the last commit its handler finished.
///
/// Delivery is at least once: a crash after the handler finished a commit and before its
/// position was saved makes the handler see that commit again. It is exactly once for a
/// handler that keeps its position *with its results* (in the same database transaction):
/// implement `Checkpoint` over that storage, with a `save` that does nothing, and let the
/// handler write the position itself.
pub trait Checkpoint {
    /// The last commit finished (0 when none was).
    ///
    /// # Errors
    /// When the position cannot be read.
    fn load(&mut self) -> Result<u64>;

    /// Records that commit `position` is finished.
    ///
    /// # Errors
    /// When the position cannot be saved.
    fn save(&mut self, position: u64) -> Result<()>;
}

/// A position kept in a small file, replaced atomically and synced at every save.
///
/// Keep it outside the store's folder or give it a name that is not a commit's (say
/// `members.position`): the store ignores such files.
#[derive(Clone, Debug)]
pub struct FileCheckpoint {
    path: PathBuf,
}

impl FileCheckpoint {
    /// A checkpoint in the file at `path` (which need not exist: then the position is 0).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FileCheckpoint { path: path.into() }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Checkpoint for FileCheckpoint {
    fn load(&mut self) -> Result<u64> {
        match std::fs::read_to_string(&self.path) {
            Ok(text) => text.trim().parse().map_err(|_| Error::Checkpoint {
                path: self.path.clone(),
                problem: format!("does not hold a commit number ({:?})", text.trim()),
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(Error::io("read", &self.path, e)),
        }
    }

    fn save(&mut self, position: u64) -> Result<()> {
        let folder = match self.path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let mut temporary = self.path.clone().into_os_string();
        temporary.push(".tmp");
        let temporary = PathBuf::from(temporary);
        let write = || -> io::Result<()> {
            let mut file = std::fs::File::create(&temporary)?;
            writeln!(file, "{position}")?;
            file.sync_data()?;
            std::fs::rename(&temporary, &self.path)?;
            crate::storage::local::sync_dir(&folder)?;
            Ok(())
        };
        write().map_err(|e| Error::io("save the position to", &self.path, e))
    }
}

/// A handler run over every commit after its checkpoint, live: see [`Projection::run`].
pub struct Projection<C: Checkpoint> {
    store: Store,
    checkpoint: C,
    poll_interval: Duration,
}

impl<C: Checkpoint> fmt::Debug for Projection<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Projection")
            .field("poll_interval", &self.poll_interval)
            .finish_non_exhaustive()
    }
}

impl<C: Checkpoint> Projection<C> {
    /// A projection of `store` that keeps its position in `checkpoint`.
    pub fn new(store: &Store, checkpoint: C) -> Self {
        Projection {
            store: store.clone(),
            checkpoint,
            poll_interval: DEFAULT_POLL_INTERVAL,
        }
    }

    /// How often to look for new commits without a notice, and to look at the stop flag.
    #[must_use]
    pub fn with_poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval.max(Duration::from_millis(1));
        self
    }

    /// The checkpoint.
    pub fn checkpoint(&mut self) -> &mut C {
        &mut self.checkpoint
    }

    /// Runs `handler` over every commit after the checkpoint, in order, saving the position
    /// after each, then waits for new commits, until `stop` is set. Returns the position.
    ///
    /// # Errors
    /// The handler's first error (the position stays at the commit before), or the store's
    /// and the checkpoint's errors.
    pub fn run<E>(
        &mut self,
        stop: &Arc<AtomicBool>,
        handler: impl FnMut(&Commit) -> Result<(), E>,
    ) -> Result<u64, E>
    where
        E: From<Error>,
    {
        self.drive(Some(stop), handler)
    }

    /// Runs `handler` over the commits after the checkpoint that exist now, and returns the
    /// position reached, without waiting for more.
    ///
    /// # Errors
    /// As [`run`](Self::run).
    pub fn catch_up<E>(&mut self, handler: impl FnMut(&Commit) -> Result<(), E>) -> Result<u64, E>
    where
        E: From<Error>,
    {
        self.drive(None, handler)
    }

    fn drive<E>(
        &mut self,
        stop: Option<&Arc<AtomicBool>>,
        mut handler: impl FnMut(&Commit) -> Result<(), E>,
    ) -> Result<u64, E>
    where
        E: From<Error>,
    {
        let mut position = self.checkpoint.load()?;
        let mut subscription = self
            .store
            .subscribe(Start::After(position))?
            .with_poll_interval(self.poll_interval);
        if let Some(stop) = stop {
            subscription = subscription.cancelled_by(Arc::clone(stop));
        }
        loop {
            let commit = match stop {
                Some(_) => subscription.next_timeout(self.poll_interval)?,
                None => subscription.try_next()?,
            };
            match commit {
                Some(commit) => {
                    handler(&commit)?;
                    position = commit.number();
                    self.checkpoint.save(position)?;
                }
                None if stop.is_some_and(|s| !s.load(std::sync::atomic::Ordering::Acquire)) => {}
                None => return Ok(position),
            }
        }
    }
}
