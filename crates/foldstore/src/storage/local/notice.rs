//! Notices of new files in a store's folder, from the operating system (inotify, FSEvents,
//! ReadDirectoryChangesW) through the `notify` crate.

use std::path::Path;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::Duration;

use notify::{RecommendedWatcher, RecursiveMode, Watcher};

use crate::storage::Watch;

/// A watch on one folder: every event the operating system reports for it is a notice.
pub(crate) struct FolderWatch {
    // Kept alive for as long as notices are wanted.
    _watcher: RecommendedWatcher,
    notices: Receiver<()>,
}

impl FolderWatch {
    pub(crate) fn new(folder: &Path) -> notify::Result<Self> {
        let (send, notices) = mpsc::channel();
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                // An error may mean missed events: a notice makes the subscriber look anyway.
                let _ = event;
                let _ = send.send(());
            })?;
        watcher.watch(folder, RecursiveMode::NonRecursive)?;
        Ok(FolderWatch {
            _watcher: watcher,
            notices,
        })
    }
}

impl Watch for FolderWatch {
    fn wait(&mut self, timeout: Duration) -> bool {
        let noticed = match self.notices.recv_timeout(timeout) {
            Ok(()) => true,
            Err(RecvTimeoutError::Timeout) => false,
            // The watcher stopped: behave as a poll.
            Err(RecvTimeoutError::Disconnected) => {
                std::thread::sleep(timeout);
                false
            }
        };
        // One look at the folder answers every notice that came meanwhile.
        while self.notices.try_recv().is_ok() {}
        noticed
    }
}
