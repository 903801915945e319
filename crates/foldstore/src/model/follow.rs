//! Following: a thread that keeps a model current as commits land.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use super::handle::Model;
use super::state::lock;
use super::ModelDefinition;
use crate::error::{Error, Result};
use crate::subscribe::Start;

/// Keeps a model current in the background; made by [`Model::follow`]. Dropping it stops the
/// thread (within a poll interval).
#[derive(Debug)]
pub struct Follower {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Follower {
    /// Stops the thread and waits for it to end.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
    }
}

impl<D: ModelDefinition> Model<D> {
    /// Keeps the model current in the background: a thread subscribes to the store and folds
    /// each new commit as it lands, so that [`latest`](Self::latest) need not read the store.
    /// It stops when the returned [`Follower`] is dropped (or stopped) or the model is gone.
    ///
    /// # Errors
    /// When the subscription cannot be set up, or the model cannot be brought up to date.
    pub fn follow(&self) -> Result<Follower> {
        let position = self.shared.refresh()?.position;
        let stop = Arc::new(AtomicBool::new(false));
        let mut subscription = self
            .shared
            .store
            .subscribe(Start::After(position))?
            .stored()
            .cancelled_by(Arc::clone(&stop));
        let model = Arc::downgrade(&self.shared);
        let thread = std::thread::Builder::new()
            .name("foldstore-follower".to_owned())
            .spawn(move || {
                for commit in &mut subscription {
                    let Some(model) = model.upgrade() else { break };
                    let folded = commit.and_then(|commit| {
                        if model.current().is_none_or(|s| s.position < commit.number()) {
                            model.refresh().map(|_| ())
                        } else {
                            Ok(())
                        }
                    });
                    if let Err(e) = folded {
                        tracing::warn!(error = %e, "the model's follower stopped");
                        lock(&model.report).follower_error = Some(e.to_string());
                        break;
                    }
                }
            })
            .map_err(|source| Error::Thread {
                purpose: "the model's follower thread",
                source,
            })?;
        Ok(Follower {
            stop,
            thread: Some(thread),
        })
    }
}
