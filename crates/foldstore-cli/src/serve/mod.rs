//! `foldstore serve`: the store over HTTP, as a JSON API (see docs/api.md).
//!
//! The rooms: `auth` (the token and who may do what), `error` (errors as JSON with a fitting
//! status), `read` (commits, events, stats, verify), `browse` (the filtered log, raw bytes),
//! `insight` (chart, schema, health, and the cache of whole-store reports), `write`
//! (appends), `stream` (new commits as Server-Sent Events), `page` (the web page and the
//! security headers). The library does the work through its async API
//! (`foldstore::asynchronous`), whose blocking reads run on tokio's blocking threads.

mod auth;
pub mod bench;
mod browse;
mod error;
mod insight;
mod page;
mod read;
mod stream;
mod write;

use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::Router;
use clap::Args;
use foldstore::asynchronous::AsyncStore;

use crate::access::open_existing;
use auth::{Access, Token};

/// The largest request body taken (an append's JSON): larger ones get 413.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// How long a request (other than a stream) may take, reading its body included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a client may take to send a request's header.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// The most connections served at once unless `--max-connections` says otherwise.
pub const DEFAULT_MAX_CONNECTIONS: u64 = 1024;

/// The answer to a connection beyond the limit, written before it is closed.
const TOO_MANY: &str = "{\"error\":\"too many connections: the server serves at most --max-connections at once; try again later\"}";

/// The stack of the server's threads: commits may hold JSON nested up to
/// `Commit::MAX_NESTING` levels, which serde_json writes and drops recursively.
const THREAD_STACK: usize = 64 * 1024 * 1024;

/// The arguments of `foldstore serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The store: a folder, or a postgres:// or s3:// address (default: FOLDSTORE_STORE).
    #[arg(env = crate::cli::STORE_ENV)]
    pub store: PathBuf,
    /// The address and port to listen on (port 0: any free port, printed at start).
    #[arg(long, value_name = "ADDRESS:PORT", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Accept appends (POST /api/commits), from clients that send the token.
    #[arg(long)]
    pub allow_writes: bool,
    /// The file holding the token clients must send (`Authorization: Bearer TOKEN`); default:
    /// the environment variable FOLDSTORE_TOKEN.
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// The most connections served at once (open streams included); more get 503 at once.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_CONNECTIONS, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_connections: u64,
}

/// What every handler shares.
#[derive(Clone)]
pub struct Shared {
    /// The store.
    pub store: AsyncStore,
    /// Who may do what.
    pub access: Arc<Access>,
    /// The last commit of the log, as it grows (see [`stream::watch_tip`]).
    pub tips: tokio::sync::watch::Receiver<u64>,
    /// Whole-store reports, kept until the log grows.
    pub cache: Arc<insight::Cache>,
    /// The newest commits followers read, shared among them.
    pub recent: Arc<stream::Recent>,
    /// How much store work runs at once.
    pub limits: Arc<Limits>,
}

/// How much of the server's store work runs at once: requests wait for a turn, so that
/// clients that ask for much and go away cannot fill the blocking threads.
pub struct Limits {
    /// Turns of the work of reading requests on blocking threads.
    pub work: Arc<tokio::sync::Semaphore>,
    /// Turns of appends, apart from reads: reads never keep an append waiting.
    pub writes: Arc<tokio::sync::Semaphore>,
    /// A turn per kind of whole-store report (verify, stats, schema, health), within those
    /// of work: one request of a kind at a time makes or takes the report, and the others
    /// wait without a thread.
    reports: std::sync::Mutex<std::collections::HashMap<&'static str, Arc<tokio::sync::Semaphore>>>,
}

/// Reading work on blocking threads at once.
pub const WORK_TURNS: usize = 16;

/// Appends on blocking threads at once.
pub const WRITE_TURNS: usize = 16;

impl Limits {
    /// The turn of reports of `kind`.
    pub fn report(&self, kind: &'static str) -> Arc<tokio::sync::Semaphore> {
        Arc::clone(
            self.reports
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .entry(kind)
                .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(1))),
        )
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            work: Arc::new(tokio::sync::Semaphore::new(WORK_TURNS)),
            writes: Arc::new(tokio::sync::Semaphore::new(WRITE_TURNS)),
            reports: std::sync::Mutex::default(),
        }
    }
}

/// Serves the store until interrupted.
///
/// # Errors
/// No store there, a token missing where one is needed or unreadable, an address that cannot
/// be bound.
pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let token = Token::load(args.token_file.as_deref())?;
    let beyond_loopback = !args.listen.ip().is_loopback();
    if token.is_none() && (args.allow_writes || beyond_loopback) {
        let why = if beyond_loopback {
            format!("listening on {} (beyond loopback)", args.listen)
        } else {
            "--allow-writes".to_owned()
        };
        bail!(
            "{why} needs a token: put one in a file and give --token-file FILE, or set \
             FOLDSTORE_TOKEN (never on the command line)"
        );
    }
    let access = Arc::new(Access {
        token,
        writes: args.allow_writes,
        reads_need_token: beyond_loopback,
    });
    let store = write::open_for_serving(&args.store)?;
    // A folder that does not exist is refused, as by the other verbs that read.
    drop(open_existing(&args.store)?);
    let runtime = runtime()?;
    let tips = stream::watch_tip(store.store())?;
    runtime.block_on(serve(
        args.listen,
        usize::try_from(args.max_connections).unwrap_or(usize::MAX),
        Shared {
            store,
            access,
            tips,
            cache: Arc::default(),
            recent: Arc::default(),
            limits: Arc::default(),
        },
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// The server's threads: tokio's, with room for deep JSON.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(THREAD_STACK)
        .thread_name("foldstore-serve")
        .build()
        .context("cannot start the server's threads")
}

/// The routes, with their limits.
pub fn router(shared: Shared) -> Router {
    let limited = Router::new()
        .route("/api/commits", get(read::commits).post(write::append))
        .route("/api/commits/{number}", get(read::commit))
        .route("/api/commits/{number}/raw", get(browse::raw))
        .route("/api/events", get(read::events))
        .route("/api/stats", get(read::stats))
        .route("/api/verify", get(read::verify))
        .route("/api/chart", get(insight::chart))
        .route("/api/schema", get(insight::schema))
        .route("/api/health", get(insight::health))
        .route("/", get(page::index))
        .route("/page/{file}", get(page::file))
        .layer(axum::middleware::from_fn(error::time_limit));
    Router::new()
        .route("/api/stream", get(stream::follow))
        .merge(limited)
        .fallback(error::not_found)
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            auth::check,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(page::secure))
        .with_state(shared)
}

async fn serve(listen: SocketAddr, limit: usize, shared: Shared) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let bound = listener.local_addr()?;
    let mode = if shared.access.writes {
        "reads and writes"
    } else {
        "read-only"
    };
    {
        let mut out = io::stdout().lock();
        writeln!(out, "listening on http://{bound} ({mode}); Ctrl-C stops")?;
        out.flush()?;
    }
    // Open streams would hold a graceful shutdown forever: Ctrl-C ends the process.
    tokio::select! {
        () = accept(listener, router(shared), limit) => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(())
}

/// Serves each connection: HTTP/1.1, whose header must arrive within [`HEADER_TIMEOUT`] (a
/// client that sends it a byte at a time holds no connection for long). At most `limit`
/// connections are served at once; one more is answered 503 and closed.
async fn accept(listener: tokio::net::TcpListener, app: Router, limit: usize) {
    let permits = Arc::new(tokio::sync::Semaphore::new(limit));
    loop {
        let mut stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors, say: wait for connections to end.
                tracing::warn!(error = %e, "cannot accept a connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            tokio::spawn(async move {
                use tokio::io::AsyncWriteExt;
                let answer = format!(
                    "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
                     content-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n{TOO_MANY}",
                    TOO_MANY.len()
                );
                let _ =
                    tokio::time::timeout(HEADER_TIMEOUT, stream.write_all(answer.as_bytes())).await;
                let _ = stream.shutdown().await;
            });
            continue;
        };
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        tokio::spawn(async move {
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            // A connection's end (a client gone, a timeout) is no news.
            let _ = connection.await;
            drop(permit);
        });
    }
}
