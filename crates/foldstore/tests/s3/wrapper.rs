//! A runtime for the tests' own async calls, and a wrapper object store that counts requests and
//! can make puts fail after (or instead of) doing them.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use foldstore::COMMIT_ID_HEADER;
use futures_util::stream::BoxStream;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult,
};

/// A runtime for the tests' own async calls on object stores.
pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// A commit document with a unique commit id, as a store writes for this backend.
pub(crate) fn with_id(id: &str, event: &str) -> Vec<u8> {
    format!(r#"{{"headers":{{"time":"2026-11-27T15:03:30.380Z","{COMMIT_ID_HEADER}":"{id}"}},"events":[{{"name":"{event}"}}]}}"#)
        .into_bytes()
}

// ---------------------------------------------------------------------------------------------
// A wrapper object store that counts requests and can make puts fail after (or instead of)
// doing them.

/// What the wrapper does with a put.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fault {
    /// Does the put, then answers "already exists", as a client whose first try succeeded but
    /// whose answer was lost, and whose retry was refused, reports it.
    LandThenExists,
    /// Does the put, then answers with a timeout.
    LandThenTimeout,
    /// Does not do the put, and answers with a timeout.
    LoseThenTimeout,
}

/// An object store that records every request and applies queued faults to puts.
#[derive(Debug)]
pub(crate) struct Wrapper {
    pub(crate) inner: Arc<dyn ObjectStore>,
    pub(crate) requests: Mutex<Vec<&'static str>>,
    pub(crate) faults: Mutex<VecDeque<Fault>>,
    /// Applied to every put of a commit (`.log`) when the queue is empty.
    pub(crate) every_commit: Mutex<Option<Fault>>,
}

impl Wrapper {
    pub(crate) fn new(inner: Arc<dyn ObjectStore>) -> Arc<Self> {
        Arc::new(Wrapper {
            inner,
            requests: Mutex::new(Vec::new()),
            faults: Mutex::new(VecDeque::new()),
            every_commit: Mutex::new(None),
        })
    }

    pub(crate) fn record(&self, request: &'static str) {
        self.requests.lock().unwrap().push(request);
    }

    pub(crate) fn take_requests(&self) -> Vec<&'static str> {
        std::mem::take(&mut *self.requests.lock().unwrap())
    }

    pub(crate) fn queue(&self, fault: Fault) {
        self.faults.lock().unwrap().push_back(fault);
    }
}

impl fmt::Display for Wrapper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Wrapper({})", self.inner)
    }
}

pub(crate) fn timeout_error() -> object_store::Error {
    object_store::Error::Generic {
        store: "Wrapper",
        source: "operation timed out (simulated)".into(),
    }
}

#[async_trait]
impl ObjectStore for Wrapper {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.record("put");
        let fault = self.faults.lock().unwrap().pop_front().or_else(|| {
            location
                .as_ref()
                .ends_with(".log")
                .then(|| *self.every_commit.lock().unwrap())
                .flatten()
        });
        match fault {
            None => self.inner.put_opts(location, payload, opts).await,
            Some(Fault::LoseThenTimeout) => Err(timeout_error()),
            Some(fault) => {
                // The put itself may lose its race: then the caller hears the truth.
                self.inner.put_opts(location, payload, opts).await?;
                Err(match fault {
                    Fault::LandThenExists => object_store::Error::AlreadyExists {
                        path: location.to_string(),
                        source: "412 Precondition Failed on a retry (simulated)".into(),
                    },
                    _ => timeout_error(),
                })
            }
        }
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.record("put_multipart");
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.record(if options.head { "head" } else { "get" });
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        self.record("delete");
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.record("list");
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.record("list");
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.record("copy");
        self.inner.copy_opts(from, to, options).await
    }
}
