//! Requests: the runtime every object storage of the process runs them on, reads, `head`
//! probes (the log's end in O(log n) requests), listings, and object names read as a folder's
//! file names.

use std::future::Future;
use std::sync::{Arc, OnceLock};

use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use tokio::runtime::Runtime;

use super::{ObjectStorage, BACKEND};
use crate::error::{Error, Result};
use crate::storage::names::Entry;

impl ObjectStorage {
    /// Runs `future` on the shared runtime and waits for its output.
    pub(super) fn run<T: Send + 'static>(
        &self,
        future: impl Future<Output = T> + Send + 'static,
    ) -> Result<T> {
        let runtime = runtime()?;
        // The future runs on the runtime's workers and the answer comes back over a channel,
        // so this works from any thread that may block (also a `spawn_blocking` thread of
        // another runtime, where `Runtime::block_on` would refuse).
        let (sender, receiver) = std::sync::mpsc::sync_channel(1);
        runtime.spawn(async move {
            let _ = sender.send(future.await);
        });
        receiver.recv().map_err(|_| Error::Backend {
            backend: BACKEND,
            message: format!(
                "a request to {} ended without an answer (its task panicked)",
                self.location(&self.prefix)
            ),
            source: None,
        })
    }

    /// Reads the object at `path`, `None` when there is none.
    pub(super) fn read_object(&self, path: &Path) -> Result<Option<Vec<u8>>> {
        let store = Arc::clone(&self.store);
        let owned = path.clone();
        self.run(async move { get_object(&*store, &owned).await })?
            .map_err(|e| self.failure("read", path, e))
    }

    /// Whether the object at `path` exists.
    pub(super) fn object_exists(&self, path: &Path) -> Result<bool> {
        let store = Arc::clone(&self.store);
        let owned = path.clone();
        self.run(async move {
            head_object(&*store, &owned)
                .await
                .map(|meta| meta.is_some())
        })?
        .map_err(|e| self.failure("look for", path, e))
    }
}

/// The runtime that every object storage of the process runs its requests on.
pub(super) fn runtime() -> Result<&'static Runtime> {
    static RUNTIME: OnceLock<std::result::Result<Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("foldstore-object-io")
                .enable_io()
                .enable_time()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| Error::Backend {
            backend: BACKEND,
            message: format!("cannot start the threads that run object-storage requests: {e}"),
            source: None,
        })
}

/// Reads the object at `path`, `None` when there is none.
pub(super) async fn get_object(
    store: &dyn ObjectStore,
    path: &Path,
) -> object_store::Result<Option<Vec<u8>>> {
    match store.get(path).await {
        // Refused without reading it: no document foldstore writes or reads is larger (and a
        // buffer is made for the size the server announces).
        Ok(found) if found.meta.size > crate::storage::MAX_DOCUMENT_BYTES => {
            Err(object_store::Error::Generic {
                store: "foldstore",
                source: format!(
                    "the object is {} bytes, more than any document foldstore writes or reads ({} bytes): it is not the store's; move it away",
                    found.meta.size,
                    crate::storage::MAX_DOCUMENT_BYTES
                )
                .into(),
            })
        }
        Ok(found) => Ok(Some(found.bytes().await?.to_vec())),
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The metadata of the object at `path`, `None` when there is none.
pub(super) async fn head_object(
    store: &dyn ObjectStore,
    path: &Path,
) -> object_store::Result<Option<object_store::ObjectMeta>> {
    match store.head(path).await {
        Ok(meta) => Ok(Some(meta)),
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The objects directly under `prefix` (not those in its subfolders).
pub(super) async fn list_objects(
    store: &dyn ObjectStore,
    prefix: &Path,
) -> object_store::Result<Vec<object_store::ObjectMeta>> {
    Ok(store.list_with_delimiter(Some(prefix)).await?.objects)
}

/// The number of the last commit, found by probing with `head` requests: commits are
/// contiguous from 1, so numbers 1, 2, 4, 8, ... are probed until one is missing, and the last
/// one present is then found by bisection: O(log n) requests in all.
pub(super) async fn probe_last_commit(
    store: &dyn ObjectStore,
    commit_path: impl Fn(u64) -> Path,
) -> object_store::Result<u64> {
    let exists = |number: u64| {
        let path = commit_path(number);
        async move { head_object(store, &path).await.map(|meta| meta.is_some()) }
    };
    if !exists(1).await? {
        return Ok(0);
    }
    // `present` exists; `absent` (when known) does not.
    let mut present = 1_u64;
    let mut absent = None;
    while absent.is_none() {
        match present.checked_mul(2) {
            Some(next) if exists(next).await? => present = next,
            Some(next) => absent = Some(next),
            None => return Ok(present),
        }
    }
    let mut absent = absent.unwrap_or(present);
    while absent - present > 1 {
        let middle = present + (absent - present) / 2;
        if exists(middle).await? {
            present = middle;
        } else {
            absent = middle;
        }
    }
    Ok(present)
}

/// Decodes the `%XX` escapes object store paths use for some characters.
pub(super) fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = text.get(index + 1..index + 3)?;
            decoded.push(u8::from_str_radix(hex, 16).ok()?);
            index += 3;
        } else {
            decoded.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(decoded).ok()
}

/// The name an object stands for, its `%XX` escapes decoded, when it is spelled as foldstore
/// spells the objects it writes (`None` otherwise: `%35.log`, say, which another program made,
/// is not the object of commit 5, `5.log`).
pub(super) fn object_name(raw: &str) -> Option<String> {
    let decoded = percent_decode(raw)?;
    spelled_as_written(raw, &decoded).then_some(decoded)
}

/// Whether `raw` is how foldstore spells the object name `decoded` (escaped as
/// `object_store`'s path parts escape).
pub(super) fn spelled_as_written(raw: &str, decoded: &str) -> bool {
    object_store::path::PathPart::from(decoded).as_ref() == raw
}

/// Classifies an object name (as the object store spells it, with `%XX` escapes) by the rules
/// of a folder's file names.
pub(super) fn classify(name: &str) -> Entry {
    object_name(name).map_or(Entry::Other, |name| crate::storage::names::classify(&name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::names::tests::{OTHER_NAMES, SUSPICIOUS_NAMES};

    #[test]
    fn object_names_are_classified_like_file_names() {
        assert_eq!(classify("1.log"), Entry::Commit(1));
        assert_eq!(classify("1234567.log"), Entry::Commit(1_234_567));
        assert_eq!(
            classify("3.memberlist-snapshot"),
            Entry::Snapshot("memberlist".into(), 3)
        );
        assert_eq!(
            classify("3.a%23b-snapshot"),
            Entry::Snapshot("a#b".into(), 3),
            "escaped characters are decoded"
        );
        // Escapes where foldstore writes none: another spelling of a name, not its object
        // (commit 5 is `5.log`; `%35.log` would be a second commit 5).
        for respelled in ["%35.log", "1%2elog", "3.%6demberlist-snapshot"] {
            assert_eq!(classify(respelled), Entry::Other, "{respelled}");
            assert_eq!(object_name(respelled), None, "{respelled}");
        }
        assert_eq!(
            object_name("3.a%23b-snapshot").as_deref(),
            Some("3.a#b-snapshot")
        );
        // Every name the folder's rules read, read the same way as an object name.
        for other in OTHER_NAMES
            .iter()
            .chain(&["foldstore-store.json", "bad%zz.log"])
        {
            assert_eq!(classify(other), Entry::Other, "{other}");
        }
        for suspicious in SUSPICIOUS_NAMES {
            assert!(
                matches!(classify(suspicious), Entry::Suspicious(_)),
                "{suspicious}"
            );
        }
    }
}
