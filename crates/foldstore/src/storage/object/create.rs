//! Creating objects exclusively (one conditional put), appending at the lowest free number,
//! and settling a create whose outcome the server left unknown by reading the object back.

use std::sync::Arc;

use object_store::path::Path;
use object_store::{ObjectStore, PutMode, PutOptions, PutPayload};

use super::requests::{classify, get_object, head_object, list_objects};
use super::{ObjectStorage, CONFLICTS_BEFORE_LOOKING, LOOK_AHEAD};
use crate::error::{Error, Result};
use crate::storage::names::Entry;
use crate::storage::{Conflict, Created};

impl ObjectStorage {
    /// Creates the object at `path` holding `document` unless it exists (then: a conflict on
    /// `commit`), resolving unknown outcomes as the type's docs say; `identified`: whether
    /// `document` carries a unique commit id.
    pub(super) fn create_object(
        &self,
        path: &Path,
        commit: u64,
        document: &[u8],
        identified: bool,
    ) -> Created {
        crate::storage::check_document_size(document)?;
        let store = Arc::clone(&self.store);
        let owned = path.clone();
        let document: Arc<[u8]> = Arc::from(document);
        let created = self.run(async move {
            let payload = PutPayload::from(document.to_vec());
            create(&*store, &owned, &document, payload, identified).await
        })?;
        match created {
            Ok(true) => Ok(Ok(())),
            Ok(false) => Ok(Err(Conflict { commit })),
            Err(failed) => Err(self.create_failure(path, failed)),
        }
    }

    /// Tries `first`, `first + 1`, ... in turn with one payload; after a few conflicts in a row
    /// (writers racing, or one far behind the log's end), it looks at the next 16 numbers at
    /// once and skips those taken, or lists the prefix when all of them are. `identified`:
    /// whether `document` carries a unique commit id.
    pub(super) fn append_object(
        &self,
        first: u64,
        document: &[u8],
        identified: bool,
    ) -> Result<u64> {
        crate::storage::check_document_size(document)?;
        let mut turn = self.appending.lock().unwrap_or_else(|e| e.into_inner());
        let first = first.max(1);
        // Nothing is ever removed from the log but by a repair of its last commit, which a
        // writer's look back before appending notices.
        let start = match *turn {
            Some((earlier, landed)) if (earlier..=landed).contains(&first) => landed + 1,
            _ => first,
        };
        let store = Arc::clone(&self.store);
        let this = self.clone();
        let document: Arc<[u8]> = Arc::from(document);
        let appended = self.run(async move {
            let payload = PutPayload::from(document.to_vec());
            let mut number = start;
            let mut conflicts = 0;
            // Numbers a look found free and a create then found taken: other writers took
            // them meanwhile, a few times; without end, the server contradicts itself.
            let mut looked_free = None;
            let mut contradictions = 0;
            loop {
                if number > crate::storage::MAX_COMMIT_NUMBER {
                    return Err(AppendFailure::Full);
                }
                let path = this.commit_path(number);
                match create(&*store, &path, &document, payload.clone(), identified).await {
                    Ok(true) => return Ok(number),
                    Ok(false) => {
                        tracing::trace!(commit = number, "commit taken by another writer");
                        if looked_free == Some(number) {
                            contradictions += 1;
                            if contradictions > MOST_CONTRADICTIONS {
                                return Err(AppendFailure::Contradicted(path));
                            }
                        }
                        number += 1;
                        conflicts += 1;
                    }
                    Err(failed) => return Err(AppendFailure::Create(path, failed)),
                }
                if conflicts % CONFLICTS_BEFORE_LOOKING != 0 {
                    continue;
                }
                // Many writers racing, or one far behind the log's end? Look at the next
                // numbers at once, and skip to the first free one.
                let looks: Vec<_> = (number..number + LOOK_AHEAD)
                    .map(|ahead| {
                        let store = Arc::clone(&store);
                        let path = this.commit_path(ahead);
                        tokio::spawn(async move { head_object(&*store, &path).await })
                    })
                    .collect();
                let mut free = None;
                for (ahead, look) in (number..).zip(looks) {
                    let found = look
                        .await
                        .map_err(|e| object_store::Error::JoinError { source: e })
                        .and_then(|found| found)
                        .map_err(AppendFailure::List)?;
                    if free.is_none() && found.is_none() {
                        free = Some(ahead);
                    }
                }
                if let Some(free) = free {
                    number = free;
                    looked_free = Some(free);
                } else {
                    // Far behind: one listing tells every number taken.
                    let listed = list_objects(&*store, &this.prefix)
                        .await
                        .map_err(AppendFailure::List)?;
                    let mut taken: Vec<u64> = listed
                        .iter()
                        .filter_map(|object| match classify(object.location.filename()?) {
                            Entry::Commit(taken) if taken >= number => Some(taken),
                            _ => None,
                        })
                        .collect();
                    taken.sort_unstable();
                    for taken in taken {
                        if taken != number {
                            break;
                        }
                        number += 1;
                    }
                }
            }
        })?;
        if let Ok(landed) = appended {
            *turn = Some((first, landed));
        }
        appended.map_err(|failed| match failed {
            AppendFailure::Create(path, failed) => self.create_failure(&path, failed),
            AppendFailure::List(e) => {
                self.failure("look for free commit numbers under", &self.prefix, e)
            }
            AppendFailure::Full => Error::Backend {
                backend: super::BACKEND,
                message: format!(
                    "{}: the log has reached the largest commit number ({}); nothing was written",
                    self.location(&self.prefix),
                    crate::storage::MAX_COMMIT_NUMBER
                ),
                source: None,
            },
            AppendFailure::Contradicted(path) => Error::Backend {
                backend: super::BACKEND,
                message: format!(
                    "{}: the object store answered {MOST_CONTRADICTIONS} times that a number was taken right after it said the number was free; nothing was written (check the object store's conditional writes: foldstore needs put-if-absent)",
                    self.location(&path)
                ),
                source: None,
            },
        })
    }
}

/// Why an append failed.
#[derive(Debug)]
enum AppendFailure {
    /// Creating the commit at this path failed.
    Create(Path, CreateFailure),
    /// Looking for the numbers taken (`head` requests, or a listing of the prefix) failed.
    List(object_store::Error),
    /// No number is left: the log reached the largest commit number.
    Full,
    /// The store said too many times that a number it had just called free was taken.
    Contradicted(Path),
}

/// How many times an append lets the object store call taken a number it had just called free
/// (another writer taking it meanwhile) before it stops.
const MOST_CONTRADICTIONS: u32 = 1000;

/// Why a create failed.
#[derive(Debug)]
pub(super) enum CreateFailure {
    /// The store refused the request: nothing was written.
    Refused(object_store::Error),
    /// The request failed in a way that leaves its outcome unknown, and reading back did not
    /// settle it.
    Unknown {
        error: object_store::Error,
        read_back: ReadBack,
    },
}

/// What reading back an object after a failed create found, when it settled nothing.
#[derive(Debug)]
pub(super) enum ReadBack {
    Absent,
    SameBytesWithoutId,
    Vanished,
    Failed(object_store::Error),
}

/// Creates the object at `path` holding `document` unless it exists. `Ok(true)`: created;
/// `Ok(false)`: another writer's object is there. `identified`: whether `document` carries a
/// unique commit id, which makes equal bytes found in place this writer's own.
pub(super) async fn create(
    store: &dyn ObjectStore,
    path: &Path,
    document: &[u8],
    payload: PutPayload,
    identified: bool,
) -> std::result::Result<bool, CreateFailure> {
    let error = match store
        .put_opts(path, payload, PutOptions::from(PutMode::Create))
        .await
    {
        Ok(_) => return Ok(true),
        Err(e) => e,
    };
    let reported_existing = matches!(
        error,
        object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. }
    );
    let refused = matches!(
        error,
        object_store::Error::NotFound { .. }
            | object_store::Error::PermissionDenied { .. }
            | object_store::Error::Unauthenticated { .. }
            | object_store::Error::NotImplemented { .. }
            | object_store::Error::NotSupported { .. }
            | object_store::Error::InvalidPath { .. }
            | object_store::Error::UnknownConfigurationKey { .. }
    );
    if refused {
        return Err(CreateFailure::Refused(error));
    }
    // Without an id, an existing object is a conflict whatever it holds: no need to look.
    if reported_existing && !identified {
        tracing::trace!(object = %path, "object created by another writer first");
        return Ok(false);
    }
    // "Exists" may answer a retry of our own put that had succeeded; other errors (timeouts,
    // server errors after retries) leave the outcome unknown. Either way, look.
    let read_back = match get_object(store, path).await {
        Ok(Some(found)) if found == document && identified => {
            tracing::debug!(object = %path, error = %error, "create answered with an error, but the object is this writer's own: created");
            return Ok(true);
        }
        Ok(Some(found)) if found != document => {
            tracing::trace!(object = %path, "object created by another writer first");
            return Ok(false);
        }
        // Equal bytes without an id prove nothing.
        Ok(Some(_)) => ReadBack::SameBytesWithoutId,
        Ok(None) if reported_existing => ReadBack::Vanished,
        Ok(None) => ReadBack::Absent,
        Err(e) => ReadBack::Failed(e),
    };
    Err(CreateFailure::Unknown { error, read_back })
}
