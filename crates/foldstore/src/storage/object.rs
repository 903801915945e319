//! The object-storage backend: a store kept as objects under a prefix of any
//! [`object_store::ObjectStore`] (AWS S3 and S3-compatible servers such as MinIO, R2 or moto, the
//! local file system, memory, ...), in the folder's ("loose") layout.
//!
//! See [`ObjectStorage`] for the layout and the commit protocol.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey, S3ConditionalPut};
use object_store::path::Path;
use object_store::{
    ClientConfigKey, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, RetryConfig,
};
use tokio::runtime::Runtime;

use super::folder::Entry;
use super::{check_commit_number, validate_snapshot_name, Conflict, Listing, Storage};
use crate::error::{Error, Result};
use crate::store::COMMIT_ID_HEADER;

/// The backend's name in [`Error::Backend`].
const BACKEND: &str = "object storage";

/// After this many conflicts in a row, [`ObjectStorage::append_commit`] looks ahead before
/// trying again: it asks for the next [`LOOK_AHEAD`] numbers at once and skips those taken,
/// or lists the prefix when all of them are.
const CONFLICTS_BEFORE_LOOKING: u32 = 3;

/// How many numbers [`ObjectStorage::append_commit`] looks at at once (see
/// [`CONFLICTS_BEFORE_LOOKING`]).
const LOOK_AHEAD: u64 = 16;

/// How many objects [`ObjectStorage::read_commits`] fetches at once, at most.
const READ_AHEAD: usize = 16;

/// The time limit on making a connection to an S3 server, when neither the URL's
/// `connect_timeout` nor `AWS_CONNECT_TIMEOUT` sets one.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The time limit on one request to an S3 server, retries included, when neither the URL's
/// `timeout` nor `AWS_TIMEOUT` sets one.
const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What the marker object holds.
const MARKER_CONTENT: &[u8] = b"{\"foldstore\":\"store\",\"layout\":\"loose\"}\n";

/// A store kept as objects under a prefix of an object store.
///
/// # Layout
/// Under the store's prefix:
/// - commit `k` is the object `k.log`, holding the exact bytes of the commit document;
/// - the snapshot of model `m` at commit `k` is the object `k.m-snapshot`;
/// - the object [`ObjectStorage::MARKER_NAME`] marks a store made by
///   [`ensure_created`](Storage::ensure_created);
/// - repair moves damaged commits under [`ObjectStorage::QUARANTINE_FOLDER`]`/`.
///
/// Other objects are ignored; names that look like commits but are not canonical (`007.log`)
/// are reported as suspicious, as in a folder.
///
/// # The commit protocol
/// A commit (or snapshot) is created with one conditional put ([`PutMode::Create`], on S3 the
/// header `If-None-Match: *`): the server creates the object whole, or refuses because it
/// exists. Object stores make a new object visible atomically, so a reader sees all of it or
/// nothing, and nothing is ever overwritten.
///
/// # Writes with an unknown outcome
/// The client retries some failed requests (a server error, a dropped connection), so a put that
/// in fact succeeded on its first try can come back as "already exists", and a timeout leaves
/// the outcome unknown. This backend therefore asks for a unique `commitId` header in every
/// commit ([`Storage::needs_commit_ids`]), and when a create fails that way it reads the object
/// back: if it holds exactly the bytes sent and those carry a `commitId`, the commit is ours
/// and the create succeeded; if it holds other bytes, another writer won; if it is absent after
/// an error whose outcome is unknown, the error is returned (the put may still land later; its
/// id then tells it apart). Since the id is unique to one commit, a document with an id that is
/// found already in place, byte for byte, is that same commit, whichever of its puts created it:
/// creating it is idempotent. Without an id, equal bytes prove nothing, and an existing object is
/// always a conflict.
///
/// # Requests
/// The log's end is found by probing commits 1, 2, 4, 8, ... with `head` requests and then
/// bisecting (O(log n) requests, never a listing); [`read_commits`](Storage::read_commits)
/// fetches up to 16 commits at once; an append that finds its number taken tries the next
/// ones, and after a few conflicts in a row looks at the next 16 numbers at once to skip those
/// taken (or, when all are, lists the prefix once).
///
/// # Blocking
/// [`Storage`] is synchronous and `object_store` is async: every call runs its requests on a
/// small runtime shared by all object storages of the process (two worker threads, named
/// `foldstore-object-io`) and blocks the calling thread until they finish. Call it from
/// ordinary threads, or from async code through `tokio::task::spawn_blocking` (or foldstore's
/// async API, which does so); do not call it from inside an async task, where it would block
/// one of the runtime's worker threads for the length of a request.
///
/// # Existence
/// Object stores have no folders: a prefix exists as soon as one object has it. A store
/// [`exists`](Storage::exists) when its marker object [`ObjectStorage::MARKER_NAME`] or its
/// commit 1 exists; [`ensure_created`](Storage::ensure_created) creates the marker (it does not
/// create the bucket, which must exist). Reading a store that does not exist finds nothing, and
/// commits can be created without the marker.
///
/// # Time limits
/// A store made by [`from_url`](ObjectStorage::from_url) gives up on a request that gets no
/// answer: making a connection may take 10 s, and a request 30 s, retries of failed attempts
/// included (a server that accepts connections and never answers then fails each operation
/// after about 30 s). The URL's `connect_timeout` and `timeout` parameters, or the
/// `AWS_CONNECT_TIMEOUT` and `AWS_TIMEOUT` environment variables, set other limits (see
/// [`from_url`](ObjectStorage::from_url)).
///
/// # Subscriptions
/// Object stores cannot notify: [`watch`](Storage::watch) returns `None` and subscribers poll.
#[derive(Clone, Debug)]
pub struct ObjectStorage {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
    /// What the object keys are relative to, for messages: `s3://bucket`, or the object
    /// store's own description.
    base: String,
    /// What to check when a request fails without an answer from the server (S3 stores made
    /// from a URL), for messages.
    check: Option<String>,
    /// Held by an append: the threads of one process take turns instead of racing each other
    /// for the same numbers over the network (each lost race costs a put and a read back). It
    /// holds the last append's first number and the number it landed at: every number from
    /// the one to the other was taken then, so a later append from a first number in between
    /// starts after it.
    appending: Arc<std::sync::Mutex<Option<(u64, u64)>>>,
}

impl ObjectStorage {
    /// The name of the marker object that [`ensure_created`](Storage::ensure_created) puts
    /// under the prefix.
    pub const MARKER_NAME: &'static str = "foldstore-store.json";

    /// The folder under the prefix where [`quarantine_commit`](Storage::quarantine_commit)
    /// moves damaged commits, as `k.log.<unix milliseconds>`.
    pub const QUARANTINE_FOLDER: &'static str = "foldstore-quarantine";

    /// A store under `prefix` of `store` (an empty prefix is the store's root).
    ///
    /// Any [`ObjectStore`] will do, as long as it supports [`PutMode::Create`] (S3 with
    /// conditional puts, the local file system, memory, ...). Messages name objects after the
    /// store's own description (its `Display`).
    pub fn new(store: Arc<dyn ObjectStore>, prefix: Path) -> Self {
        let base = store.to_string();
        ObjectStorage {
            store,
            prefix,
            base,
            check: None,
            appending: Arc::default(),
        }
    }

    /// A store on S3 (or an S3-compatible server) at `url`, `s3://bucket` or
    /// `s3://bucket/prefix`, optionally followed by time limits:
    /// `s3://bucket/prefix?timeout=5s&connect_timeout=2s`.
    ///
    /// The rest of the configuration comes from the usual environment variables, as
    /// [`AmazonS3Builder::from_env`] reads them: `AWS_ENDPOINT_URL` (or `AWS_ENDPOINT`) for
    /// another server than AWS, `AWS_REGION` or `AWS_DEFAULT_REGION`, `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY` (and `AWS_SESSION_TOKEN`), `AWS_ALLOW_HTTP=true` for a local
    /// emulator without TLS. Commits are created with conditional puts (`If-None-Match: *`),
    /// which AWS S3, MinIO and R2 support.
    ///
    /// # Time limits
    /// - `timeout`: the longest one request may take, retries of failed attempts included
    ///   (30 s by default);
    /// - `connect_timeout`: the longest making a connection may take (10 s by default).
    ///
    /// Each is a number of seconds (`5`) or a duration (`500ms`, `2m`), more than zero. The
    /// URL's parameter comes first, then the environment variable `AWS_TIMEOUT` or
    /// `AWS_CONNECT_TIMEOUT`, then the default.
    ///
    /// Nothing is requested yet: a wrong endpoint or credentials show at the first operation.
    ///
    /// # Errors
    /// [`Error::Backend`] when the URL is not of that form (or has another parameter, or a
    /// time limit that is not one), or the client cannot be built from it and the environment.
    pub fn from_url(url: &str) -> Result<Self> {
        let (bucket, prefix, limits) = parse_s3_url(url)?;
        let limits = limits.resolve(url)?;
        let prefix = Path::parse(prefix).map_err(|e| Error::Backend {
            backend: BACKEND,
            message: format!(
                "invalid prefix in the URL {url:?}: {e}; use s3://bucket/prefix with a prefix made of non-empty segments separated by '/'"
            ),
            source: Some(Box::new(e)),
        })?;
        let builder = AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .with_conditional_put(S3ConditionalPut::ETagMatch)
            .with_config(
                AmazonS3ConfigKey::Client(ClientConfigKey::Timeout),
                humantime::format_duration(limits.request).to_string(),
            )
            .with_config(
                AmazonS3ConfigKey::Client(ClientConfigKey::ConnectTimeout),
                humantime::format_duration(limits.connect).to_string(),
            )
            // No attempt starts after the request's time limit: a server that does not answer
            // fails the request after about that long, not after every retry has waited too.
            .with_retry(RetryConfig {
                retry_timeout: limits.request,
                ..RetryConfig::default()
            });
        let endpoint = builder
            .get_config_value(&AmazonS3ConfigKey::Endpoint)
            .filter(|endpoint| !endpoint.trim().is_empty());
        let allow_http = builder
            .get_config_value(&AmazonS3ConfigKey::Client(ClientConfigKey::AllowHttp))
            .is_some_and(|allowed| allowed.trim().eq_ignore_ascii_case("true"));
        let check = check_hint(endpoint.as_deref(), allow_http, &limits);
        let store = builder.build().map_err(|e| Error::Backend {
            backend: BACKEND,
            message: format!(
                "cannot set up an S3 client for {url}: {e} (check the AWS_* environment variables)"
            ),
            source: Some(Box::new(e)),
        })?;
        Ok(ObjectStorage {
            store: Arc::new(store),
            prefix,
            base: format!("s3://{bucket}"),
            check: Some(check),
            appending: Arc::default(),
        })
    }

    /// The prefix the store's objects are under.
    pub fn prefix(&self) -> &Path {
        &self.prefix
    }

    /// The object store the objects are kept in.
    pub fn object_store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// The object named `name` under the prefix.
    fn object(&self, name: &str) -> Path {
        self.prefix.clone().join(name)
    }

    fn commit_path(&self, number: u64) -> Path {
        self.object(&format!("{number}.log"))
    }

    fn snapshot_path(&self, name: &str, commit: u64) -> Path {
        self.object(&format!("{commit}.{name}-snapshot"))
    }

    /// Where `path` is, for messages.
    fn location(&self, path: &Path) -> String {
        format!("{}/{path}", self.base.trim_end_matches('/'))
    }

    /// Runs `future` on the shared runtime and waits for its output.
    fn run<T: Send + 'static>(
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

    /// An error for a failed `action` on `path`, with a hint where one helps.
    fn failure(&self, action: &str, path: &Path, source: object_store::Error) -> Error {
        self.failure_at(action, &self.location(path), &source)
    }

    /// An error for a failed `action` on the object(s) at `location`, with a hint where one
    /// helps.
    fn failure_at(&self, action: &str, location: &str, source: &object_store::Error) -> Error {
        failure(action, location, source, self.check.as_deref())
    }

    /// Reads the object at `path`, `None` when there is none.
    fn read_object(&self, path: &Path) -> Result<Option<Vec<u8>>> {
        let store = Arc::clone(&self.store);
        let owned = path.clone();
        self.run(async move { get_object(&*store, &owned).await })?
            .map_err(|e| self.failure("read", path, e))
    }

    /// Whether the object at `path` exists.
    fn object_exists(&self, path: &Path) -> Result<bool> {
        let store = Arc::clone(&self.store);
        let owned = path.clone();
        self.run(async move {
            head_object(&*store, &owned)
                .await
                .map(|meta| meta.is_some())
        })?
        .map_err(|e| self.failure("look for", path, e))
    }

    /// Creates the object at `path` holding `document` unless it exists (then: a conflict on
    /// `commit`), resolving unknown outcomes as the type's docs say.
    fn create_object(
        &self,
        path: &Path,
        commit: u64,
        document: &[u8],
    ) -> Result<Result<(), Conflict>> {
        let store = Arc::clone(&self.store);
        let owned = path.clone();
        let document: Arc<[u8]> = Arc::from(document);
        let created = self.run(async move {
            let payload = PutPayload::from(document.to_vec());
            create(&*store, &owned, &document, payload).await
        })?;
        match created {
            Ok(true) => Ok(Ok(())),
            Ok(false) => Ok(Err(Conflict { commit })),
            Err(failed) => Err(self.create_failure(path, failed)),
        }
    }

    /// The error for a create that failed.
    fn create_failure(&self, path: &Path, failed: CreateFailure) -> Error {
        let location = self.location(path);
        match failed {
            CreateFailure::Refused(e) => self.failure_at("create", &location, &e),
            CreateFailure::Unknown { error, read_back } => {
                // The server did not answer as it should, twice.
                let check = match (&read_back, &self.check) {
                    (ReadBack::Failed(_), Some(check)) => format!("; {check}"),
                    _ => String::new(),
                };
                let why = match read_back {
                    ReadBack::Absent => {
                        "it is not there now, but the request may still be carried out later"
                            .to_owned()
                    }
                    ReadBack::SameBytesWithoutId => "it now holds the same bytes, but they carry no commitId to tell whether they are this writer's or another's".to_owned(),
                    ReadBack::Vanished => "the server said it exists, but it is gone now (moved aside by a repair?)".to_owned(),
                    ReadBack::Failed(e) => format!("reading it back failed too: {}", chain(&e)),
                };
                // The message holds the cause whole: see `failure`.
                Error::Backend {
                    backend: BACKEND,
                    message: format!(
                        "the outcome of creating {location} is unknown ({}): {why}; look at the object before writing again{check}",
                        chain(&error)
                    ),
                    source: None,
                }
            }
        }
    }
}

/// The time limits an `s3://` URL sets (`None`: not set there).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct UrlLimits {
    request: Option<Duration>,
    connect: Option<Duration>,
}

/// The time limits in effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Limits {
    request: Duration,
    connect: Duration,
}

impl UrlLimits {
    /// The limits in effect: the URL's, else the environment's, else the defaults.
    fn resolve(self, url: &str) -> Result<Limits> {
        self.resolve_with(url, |name| std::env::var(name).ok())
    }

    fn resolve_with(self, url: &str, variable: impl Fn(&str) -> Option<String>) -> Result<Limits> {
        let from_environment = |name: &str| -> Result<Option<Duration>> {
            let Some(value) = variable(name).filter(|value| !value.trim().is_empty()) else {
                return Ok(None);
            };
            parse_limit(&value).map(Some).map_err(|problem| Error::Backend {
                backend: BACKEND,
                message: format!(
                    "cannot set up an S3 client for {url}: the environment variable {name}={value:?} is not a time limit: {problem}"
                ),
                source: None,
            })
        };
        Ok(Limits {
            request: match self.request {
                Some(limit) => limit,
                None => from_environment("AWS_TIMEOUT")?.unwrap_or(DEFAULT_REQUEST_TIMEOUT),
            },
            connect: match self.connect {
                Some(limit) => limit,
                None => from_environment("AWS_CONNECT_TIMEOUT")?.unwrap_or(DEFAULT_CONNECT_TIMEOUT),
            },
        })
    }
}

/// A time limit: a number of seconds (`5`, `0.5`) or a duration (`500ms`, `2m`), more than
/// zero.
fn parse_limit(text: &str) -> std::result::Result<Duration, String> {
    let text = text.trim();
    let limit = if let Ok(seconds) = text.parse::<f64>() {
        Duration::try_from_secs_f64(seconds).map_err(|e| e.to_string())?
    } else {
        humantime::parse_duration(text).map_err(|e| e.to_string())?
    };
    if limit.is_zero() {
        return Err("it must be more than zero".to_owned());
    }
    Ok(limit)
}

/// The bucket, prefix and time limits of an `s3://bucket/prefix[?timeout=..&connect_timeout=..]`
/// URL.
fn parse_s3_url(url: &str) -> Result<(&str, &str, UrlLimits)> {
    let bad = |problem: &str| {
        Error::Backend {
        backend: BACKEND,
        message: format!(
            "invalid object-storage URL {url:?}: {problem}; expected s3://bucket or s3://bucket/prefix, optionally with ?timeout=SECONDS&connect_timeout=SECONDS"
        ),
        source: None,
    }
    };
    let rest = url
        .strip_prefix("s3://")
        .ok_or_else(|| bad("it does not start with s3://"))?;
    let (rest, query) = match rest.split_once('?') {
        Some((rest, query)) => (rest, Some(query)),
        None => (rest, None),
    };
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let valid_bucket = !bucket.is_empty()
        && bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'.'));
    if !valid_bucket {
        return Err(bad(
            "the bucket name is missing or has characters other than a-z, 0-9, '-' and '.'",
        ));
    }
    if prefix.contains('#') || query.is_some_and(|query| query.contains('#')) {
        return Err(bad("it has a fragment"));
    }
    let mut limits = UrlLimits::default();
    for parameter in query.into_iter().flat_map(|query| query.split('&')) {
        if parameter.is_empty() {
            continue;
        }
        let (name, value) = parameter.split_once('=').unwrap_or((parameter, ""));
        let slot = match name {
            "timeout" => &mut limits.request,
            "connect_timeout" => &mut limits.connect,
            _ => {
                return Err(bad(&format!(
                    "it has the parameter {name:?}, and knows only timeout and connect_timeout"
                )))
            }
        };
        let limit = parse_limit(value).map_err(|problem| {
            bad(&format!(
                "its {name} {value:?} is not a time limit ({problem}): write a number of seconds (5) or a duration (500ms, 2m)"
            ))
        })?;
        if slot.replace(limit).is_some() {
            return Err(bad(&format!("it sets {name} twice")));
        }
    }
    Ok((bucket, prefix.trim_matches('/'), limits))
}

/// What to check when requests to an S3 server at `endpoint` (`None`: AWS) fail without an
/// answer; `allow_http`: whether `AWS_ALLOW_HTTP` allows an http:// endpoint.
fn check_hint(endpoint: Option<&str>, allow_http: bool, limits: &Limits) -> String {
    let server = match endpoint {
        Some(endpoint) => format!("the server at {endpoint} (AWS_ENDPOINT_URL)"),
        None => "the S3 endpoint (AWS_ENDPOINT_URL, unset: AWS itself, in AWS_REGION)".to_owned(),
    };
    let http = if !allow_http
        && endpoint.is_some_and(|endpoint| endpoint.to_ascii_lowercase().starts_with("http://"))
    {
        ", that AWS_ALLOW_HTTP=true is set (an http:// endpoint needs it)"
    } else {
        ""
    };
    format!(
        "check that {server} is up and answers{http}, and that the credentials \
         (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) are right; a request may take {}, and \
         making a connection {} (the URL's timeout and connect_timeout, or AWS_TIMEOUT and \
         AWS_CONNECT_TIMEOUT)",
        humantime::format_duration(limits.request),
        humantime::format_duration(limits.connect)
    )
}

/// `error` and its sources, each shown once: object_store's errors show their source in their
/// own text, and often again as their source.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let shown = cause.to_string();
        if !text.contains(&shown) {
            text.push_str(": ");
            text.push_str(&shown);
        }
        source = cause.source();
    }
    text
}

/// An error for a failed `action` on the object at `location`, with a hint where one helps:
/// `check` says what to check when the server did not answer as it should (a store made from
/// a URL).
///
/// The message holds the cause whole (see [`chain`]) and the error has no source: shown with
/// its sources, as the command-line tool shows errors, the cause then appears once.
fn failure(
    action: &str,
    location: &str,
    source: &object_store::Error,
    check: Option<&str>,
) -> Error {
    let hint = match source {
        object_store::Error::NotFound { .. } => {
            " (does the bucket exist? foldstore does not create buckets)".to_owned()
        }
        object_store::Error::PermissionDenied { .. }
        | object_store::Error::Unauthenticated { .. } => {
            " (check the credentials, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, and the bucket's permissions)".to_owned()
        }
        object_store::Error::NotImplemented { .. } | object_store::Error::NotSupported { .. } => {
            " (this object store cannot create objects exclusively, which foldstore needs)"
                .to_owned()
        }
        _ => String::new(),
    };
    let check = match (hint.is_empty(), check) {
        (true, Some(check)) => format!("; {check}"),
        _ => String::new(),
    };
    Error::Backend {
        backend: BACKEND,
        message: format!("cannot {action} {location}{hint}: {}{check}", chain(source)),
        source: None,
    }
}

/// The runtime that every object storage of the process runs its requests on.
fn runtime() -> Result<&'static Runtime> {
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
async fn get_object(store: &dyn ObjectStore, path: &Path) -> object_store::Result<Option<Vec<u8>>> {
    match store.get(path).await {
        Ok(found) => Ok(Some(found.bytes().await?.to_vec())),
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The metadata of the object at `path`, `None` when there is none.
async fn head_object(
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
async fn list_objects(
    store: &dyn ObjectStore,
    prefix: &Path,
) -> object_store::Result<Vec<object_store::ObjectMeta>> {
    Ok(store.list_with_delimiter(Some(prefix)).await?.objects)
}

/// Why an append failed.
#[derive(Debug)]
enum AppendFailure {
    /// Creating the commit at this path failed.
    Create(Path, CreateFailure),
    /// Looking for the numbers taken (`head` requests, or a listing of the prefix) failed.
    List(object_store::Error),
}

/// Why a create failed.
#[derive(Debug)]
enum CreateFailure {
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
enum ReadBack {
    Absent,
    SameBytesWithoutId,
    Vanished,
    Failed(object_store::Error),
}

/// Whether `document` carries a commit id (a byte search: the backend never parses).
fn has_commit_id(document: &[u8]) -> bool {
    let needle = format!("\"{COMMIT_ID_HEADER}\"");
    document
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

/// Creates the object at `path` holding `document` unless it exists. `Ok(true)`: created;
/// `Ok(false)`: another writer's object is there.
async fn create(
    store: &dyn ObjectStore,
    path: &Path,
    document: &[u8],
    payload: PutPayload,
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
    if reported_existing && !has_commit_id(document) {
        tracing::trace!(object = %path, "object created by another writer first");
        return Ok(false);
    }
    // "Exists" may answer a retry of our own put that had succeeded; other errors (timeouts,
    // server errors after retries) leave the outcome unknown. Either way, look.
    let read_back = match get_object(store, path).await {
        Ok(Some(found)) if found == document && has_commit_id(document) => {
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

/// The number of the last commit, found by probing with `head` requests: commits are
/// contiguous from 1, so numbers 1, 2, 4, 8, ... are probed until one is missing, and the last
/// one present is then found by bisection: O(log n) requests in all.
async fn probe_last_commit(
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
fn percent_decode(text: &str) -> Option<String> {
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

impl Storage for ObjectStorage {
    fn ensure_created(&self) -> Result<()> {
        let marker = self.object(Self::MARKER_NAME);
        let store = Arc::clone(&self.store);
        let path = marker.clone();
        let put = self.run(async move {
            let payload = PutPayload::from_static(MARKER_CONTENT);
            store
                .put_opts(&path, payload, PutOptions::from(PutMode::Create))
                .await
        })?;
        match put {
            Ok(_) => {
                tracing::debug!(marker = %self.location(&marker), "object store created");
                Ok(())
            }
            Err(
                object_store::Error::AlreadyExists { .. }
                | object_store::Error::Precondition { .. },
            ) => Ok(()),
            Err(e) => Err(self.failure("create the marker object", &marker, e)),
        }
    }

    fn exists(&self) -> Result<bool> {
        Ok(self.object_exists(&self.object(Self::MARKER_NAME))? || self.commit_exists(1)?)
    }

    fn list(&self) -> Result<Listing> {
        let store = Arc::clone(&self.store);
        let prefix = self.prefix.clone();
        let listed = self
            .run(async move { list_objects(&*store, &prefix).await })?
            .map_err(|e| self.failure("list", &self.prefix, e))?;
        let mut listing = Listing::default();
        for object in listed {
            let Some(name) = object.location.filename() else {
                continue;
            };
            match classify(name) {
                Entry::Commit(number) => listing.commits.push(number),
                Entry::Snapshot(snapshot, commit) => listing.snapshots.push((snapshot, commit)),
                Entry::Suspicious(why) => listing
                    .suspicious
                    .push((self.location(&object.location), why)),
                Entry::Other => {}
            }
        }
        listing.commits.sort_unstable();
        listing.snapshots.sort_unstable();
        listing.suspicious.sort_unstable();
        Ok(listing)
    }

    fn read_commit(&self, number: u64) -> Result<Option<Vec<u8>>> {
        if number == 0 {
            return Ok(None);
        }
        self.read_object(&self.commit_path(number))
    }

    /// Fetches up to 16 commits at once (fewer at first, so that polling for a new commit
    /// costs few requests), in order, and stops at the first missing one.
    fn read_commits(&self, first: u64, max: usize) -> Result<Vec<Vec<u8>>> {
        let first = first.max(1);
        let store = Arc::clone(&self.store);
        let this = self.clone();
        let read = self.run(async move {
            let mut commits = Vec::new();
            let mut pending = VecDeque::new();
            let mut next = first;
            let mut window = 2;
            let mut failed = None;
            while commits.len() < max {
                while pending.len() < window && commits.len() + pending.len() < max {
                    let store = Arc::clone(&store);
                    let path = this.commit_path(next);
                    pending.push_back((
                        next,
                        tokio::spawn(async move { get_object(&*store, &path).await }),
                    ));
                    next += 1;
                }
                let Some((number, task)) = pending.pop_front() else {
                    break;
                };
                match task.await {
                    Ok(Ok(Some(bytes))) => commits.push(bytes),
                    Ok(Ok(None)) => break,
                    Ok(Err(e)) => {
                        failed = Some((number, e));
                        break;
                    }
                    Err(e) => {
                        failed = Some((number, object_store::Error::JoinError { source: e }));
                        break;
                    }
                }
                window = (window * 2).min(READ_AHEAD);
            }
            for (_, task) in pending {
                task.abort();
            }
            (commits, failed)
        })?;
        match read {
            (commits, None) => Ok(commits),
            (_, Some((number, e))) => Err(self.failure("read", &self.commit_path(number), e)),
        }
    }

    /// Probes with `head` requests instead of listing: O(log n) requests.
    fn last_commit(&self) -> Result<u64> {
        let store = Arc::clone(&self.store);
        let this = self.clone();
        self.run(
            async move { probe_last_commit(&*store, |number| this.commit_path(number)).await },
        )?
        .map_err(|e| self.failure("find the last commit under", &self.prefix, e))
    }

    /// Always true: see "Writes with an unknown outcome" in the type's docs.
    fn needs_commit_ids(&self) -> bool {
        true
    }

    fn commit_exists(&self, number: u64) -> Result<bool> {
        if number == 0 {
            return Ok(false);
        }
        self.object_exists(&self.commit_path(number))
    }

    fn commit_modified(&self, number: u64) -> Result<Option<SystemTime>> {
        if number == 0 {
            return Ok(None);
        }
        let path = self.commit_path(number);
        let store = Arc::clone(&self.store);
        let owned = path.clone();
        let meta = self
            .run(async move { head_object(&*store, &owned).await })?
            .map_err(|e| self.failure("look at", &path, e))?;
        Ok(meta.map(|meta| SystemTime::from(meta.last_modified)))
    }

    fn create_commit(&self, number: u64, document: &[u8]) -> Result<Result<(), Conflict>> {
        check_commit_number(number)?;
        self.create_object(&self.commit_path(number), number, document)
    }

    /// Tries `first`, `first + 1`, ... in turn with one payload; after a few conflicts in a row
    /// (writers racing, or one far behind the log's end), it looks at the next 16 numbers at
    /// once and skips those taken, or lists the prefix when all of them are.
    fn append_commit(&self, first: u64, document: &[u8]) -> Result<u64> {
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
            loop {
                let path = this.commit_path(number);
                match create(&*store, &path, &document, payload.clone()).await {
                    Ok(true) => return Ok(number),
                    Ok(false) => {
                        tracing::trace!(commit = number, "commit taken by another writer");
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
        })
    }

    fn read_snapshot(&self, name: &str, commit: u64) -> Result<Option<Vec<u8>>> {
        validate_snapshot_name(name)?;
        self.read_object(&self.snapshot_path(name, commit))
    }

    fn create_snapshot(
        &self,
        name: &str,
        commit: u64,
        document: &[u8],
    ) -> Result<Result<(), Conflict>> {
        validate_snapshot_name(name)?;
        self.create_object(&self.snapshot_path(name, commit), commit, document)
    }

    /// Copies the commit to `foldstore-quarantine/k.log.<unix milliseconds>` under the prefix,
    /// then deletes the original.
    fn quarantine_commit(&self, number: u64) -> Result<String> {
        check_commit_number(number)?;
        let stamp = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let from = self.commit_path(number);
        let to = self
            .prefix
            .clone()
            .join(Self::QUARANTINE_FOLDER)
            .join(format!("{number}.log.{stamp}"));
        let store = Arc::clone(&self.store);
        let (source, target) = (from.clone(), to.clone());
        let moved = self.run(async move {
            store
                .copy(&source, &target)
                .await
                .map_err(|e| ("copy", e))?;
            store.delete(&source).await.map_err(|e| ("delete", e))
        })?;
        match moved {
            Ok(()) => {
                tracing::info!(from = %self.location(&from), to = %self.location(&to), "commit moved aside");
                Ok(self.location(&to))
            }
            Err(("copy", e)) => Err(self.failure_at(
                "copy",
                &format!("{} to {}", self.location(&from), self.location(&to)),
                &e,
            )),
            Err((_, e)) => Err(self.failure_at(
                "delete (after copying it to the quarantine)",
                &self.location(&from),
                &e,
            )),
        }
    }

    fn commit_location(&self, number: u64) -> String {
        self.location(&self.commit_path(number))
    }

    fn snapshot_location(&self, name: &str, commit: u64) -> String {
        self.location(&self.snapshot_path(name, commit))
    }
}

/// Classifies an object name (as the object store spells it, with `%XX` escapes) by the rules
/// of a folder's file names.
fn classify(name: &str) -> Entry {
    percent_decode(name).map_or(Entry::Other, |name| super::folder::classify(&name))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        for other in [
            "draft.log",
            "7.json",
            "foldstore-store.json",
            ".log",
            "a.b.log",
            "3.a.b-snapshot",
            "x.members-snapshot",
            "3.-snapshot",
            "bad%zz.log",
        ] {
            assert_eq!(classify(other), Entry::Other, "{other}");
        }
        for suspicious in [
            "007.log",
            "0.log",
            "1e1.log",
            "0x10.log",
            "99999999999999999999999.log",
            "0.members-snapshot",
            "03.members-snapshot",
        ] {
            assert!(
                matches!(classify(suspicious), Entry::Suspicious(_)),
                "{suspicious}"
            );
        }
    }

    #[test]
    fn urls_are_checked() {
        let none = UrlLimits::default();
        assert_eq!(parse_s3_url("s3://bucket").unwrap(), ("bucket", "", none));
        assert_eq!(
            parse_s3_url("s3://my-bucket/a/b/").unwrap(),
            ("my-bucket", "a/b", none)
        );
        for bad in [
            "",
            "bucket",
            "http://bucket/x",
            "s3://",
            "s3:///x",
            "s3://Bucket_x/y",
            "s3://bucket/x#y",
            "s3://bucket/x?bogus=1",
            "s3://bucket/x?timeout",
            "s3://bucket/x?timeout=0",
            "s3://bucket/x?timeout=-1",
            "s3://bucket/x?timeout=soon",
            "s3://bucket/x?timeout=1&timeout=2",
        ] {
            let message = parse_s3_url(bad).unwrap_err().to_string();
            assert!(message.contains(&format!("{bad:?}")), "{message}");
            assert!(message.contains("s3://bucket/prefix"), "{message}");
        }
    }

    #[test]
    fn time_limits_come_from_the_url_then_the_environment_then_the_defaults() {
        let (_, prefix, limits) =
            parse_s3_url("s3://bucket/a/b?timeout=1.5&connect_timeout=250ms").unwrap();
        assert_eq!(prefix, "a/b");
        assert_eq!(
            limits,
            UrlLimits {
                request: Some(Duration::from_millis(1500)),
                connect: Some(Duration::from_millis(250)),
            }
        );
        let environment = |name: &str| match name {
            "AWS_TIMEOUT" => Some("7s".to_owned()),
            "AWS_CONNECT_TIMEOUT" => Some("3".to_owned()),
            _ => None,
        };
        let nothing = |_: &str| None;
        let url = "s3://bucket";
        assert_eq!(
            limits.resolve_with(url, environment).unwrap(),
            Limits {
                request: Duration::from_millis(1500),
                connect: Duration::from_millis(250),
            },
            "the URL first"
        );
        assert_eq!(
            UrlLimits::default().resolve_with(url, environment).unwrap(),
            Limits {
                request: Duration::from_secs(7),
                connect: Duration::from_secs(3),
            },
            "then the environment"
        );
        assert_eq!(
            UrlLimits::default().resolve_with(url, nothing).unwrap(),
            Limits {
                request: DEFAULT_REQUEST_TIMEOUT,
                connect: DEFAULT_CONNECT_TIMEOUT,
            },
            "then the defaults"
        );
        let error = UrlLimits::default()
            .resolve_with(url, |name| {
                (name == "AWS_TIMEOUT").then(|| "never".to_owned())
            })
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("AWS_TIMEOUT=\"never\"") && error.contains(url),
            "{error}"
        );
    }

    #[test]
    fn failures_say_what_to_check_and_their_cause_once() {
        let limits = Limits {
            request: Duration::from_secs(30),
            connect: Duration::from_secs(10),
        };
        let http = check_hint(Some("http://127.0.0.1:9000"), false, &limits);
        assert!(
            http.contains("the server at http://127.0.0.1:9000"),
            "{http}"
        );
        assert!(http.contains("AWS_ALLOW_HTTP=true"), "{http}");
        assert!(http.contains("AWS_ACCESS_KEY_ID"), "{http}");
        assert!(http.contains("30s"), "{http}");
        let allowed = check_hint(Some("http://127.0.0.1:9000"), true, &limits);
        assert!(!allowed.contains("AWS_ALLOW_HTTP"), "{allowed}");
        let https = check_hint(Some("https://s3.example.com"), false, &limits);
        assert!(!https.contains("AWS_ALLOW_HTTP"), "{https}");
        let aws = check_hint(None, false, &limits);
        assert!(aws.contains("AWS_REGION"), "{aws}");

        let cause = object_store::Error::Generic {
            store: "S3",
            source: "error sending request: operation timed out".into(),
        };
        let error = failure("read", "s3://b/1.log", &cause, Some(&http));
        let message = error.to_string();
        assert!(
            message.starts_with("object storage: cannot read s3://b/1.log: "),
            "{message}"
        );
        assert_eq!(
            message.matches("operation timed out").count(),
            1,
            "{message}"
        );
        assert_eq!(message.matches("check that").count(), 1, "{message}");
        assert!(std::error::Error::source(&error).is_none(), "{error:?}");
        // A failure with its own hint does not add the other.
        let missing = object_store::Error::NotFound {
            path: "1.log".into(),
            source: "no such bucket".into(),
        };
        let message = failure("read", "s3://b/1.log", &missing, Some(&http)).to_string();
        assert!(message.contains("does the bucket exist?"), "{message}");
        assert!(!message.contains("check that"), "{message}");
    }

    #[test]
    fn commit_ids_are_found_by_their_key() {
        assert!(has_commit_id(
            br#"{"headers":{"commitId":"x"},"events":[]}"#
        ));
        assert!(!has_commit_id(br#"{"headers":{},"events":[]}"#));
        assert!(!has_commit_id(b""));
    }
}
