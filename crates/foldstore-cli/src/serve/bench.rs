//! `foldstore bench serve`: the server measured in this process, over real HTTP on loopback.
//!
//! Three workloads, each printed with its figures and targets:
//! - **paging**: requests for 100 commits up to commit K (newest first) of a large journal,
//!   each a page further back, timed at the server (a layer around the routes) and at the
//!   client; the journal is made once and kept in the cache folder.
//! - **followers**: F clients follow `/api/stream` while C commits are appended; each must
//!   receive every commit, in order, once.
//! - **appends**: W clients append through `POST /api/commits` (durable, journal layout), and
//!   `bench append` appends as many commits of the same events with W threads, in the same run.
//!
//! The client is a small HTTP/1.1 one on `std::net` (keep-alive, `Content-Length` bodies, and
//! the event stream's lines), so that the server is what is measured.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use foldstore::{Durability, Layout, Store};
use serde_json::{json, Value};

use super::auth::{Access, Token};
use super::{accept, router, runtime, stream, write, Shared};
use crate::cli::{BenchDurability, BenchServe, LayoutArg};
use crate::cmd::bench::{append, member_has_moved, write_commits, BenchFolder, Report};

/// The token of the servers made here.
const TOKEN: &str = "bench-serve-token";

/// How many commits a paging request asks for.
const PAGE: u64 = 100;

/// How long a client waits for an answer or an event before the run fails.
const PATIENCE: Duration = Duration::from_secs(120);

/// Durations the server took to answer, as the layer around its routes saw them.
type Timings = Arc<Mutex<Vec<Duration>>>;

/// Runs the three workloads.
///
/// # Errors
/// A cache folder that cannot be made or holds another store, errors of the stores, a server
/// that answers an error, and a follower that misses a commit or gets one twice.
pub fn run(options: &BenchServe) -> anyhow::Result<Report> {
    if options.page_at > options.commits {
        bail!(
            "--page-at {} is beyond --commits {}: page to a commit the journal holds",
            options.page_at,
            options.commits
        );
    }
    let runtime = runtime()?;
    let journal = cached_journal(&options.cache, options.commits)?;
    let paging = paging(&runtime, &journal, options)?;
    let followers = followers(&runtime, options)?;
    let appends = appends(&runtime, options)?;
    let summary = format!(
        "paging to commit {}: p99 {:.1} ms at the server (target < 50 ms); {} followers got \
         all {} commits: {}; appends through the API at {:.0}% of bench append's rate \
         (target >= 50%)",
        options.page_at,
        paging["server_ms"]["p99"].as_f64().unwrap_or(f64::NAN),
        options.followers,
        options.follow_commits,
        followers["every_commit_received"],
        appends["ratio"].as_f64().unwrap_or(f64::NAN) * 100.0,
    );
    Ok(Report {
        json: json!({
            "workload": "serve",
            "paging": paging,
            "followers": followers,
            "appends": appends,
        }),
        summary,
    })
}

/// The journal of `commits` commits kept in `cache` (made now, without syncs, when missing).
fn cached_journal(cache: &Path, commits: u64) -> anyhow::Result<PathBuf> {
    let path = cache.join(format!("serve-journal-{commits}"));
    if path.exists() {
        let tip = Store::open(&path)?.tip()?;
        if tip == commits {
            return Ok(path);
        }
        bail!(
            "{} holds {tip} commits, not {commits}: remove it (it is a cache of 'foldstore \
             bench serve') and run again",
            path.display()
        );
    }
    let making = cache.join(format!("serve-journal-{commits}.making"));
    if making.exists() {
        std::fs::remove_dir_all(&making)
            .with_context(|| format!("cannot remove the unfinished {}", making.display()))?;
    }
    std::fs::create_dir_all(&making)
        .with_context(|| format!("cannot create {}", making.display()))?;
    eprintln!(
        "making a journal of {commits} commits in {} (once; kept for the next runs)",
        path.display()
    );
    let store = Store::builder(&making)
        .layout(Layout::Journal)
        .durability(Durability::None)
        .open()?;
    store.ensure_folder()?;
    write_commits(&store, 0, 1, commits, 1)?;
    drop(store);
    std::fs::rename(&making, &path)
        .with_context(|| format!("cannot rename {} to {}", making.display(), path.display()))?;
    Ok(path)
}

/// A server of the store at `path` on a free port of loopback, answering in `runtime`.
fn start(
    runtime: &tokio::runtime::Runtime,
    path: &Path,
    writes: bool,
) -> anyhow::Result<(SocketAddr, Timings)> {
    let store = write::open_for_serving(path)?;
    let tips = stream::watch_tip(store.store())?;
    let shared = Shared {
        store,
        access: Arc::new(Access {
            token: Some(Token::new(TOKEN)),
            writes,
            reads_need_token: false,
        }),
        tips,
        cache: Arc::default(),
        recent: Arc::default(),
        limits: Arc::default(),
    };
    let timings = Timings::default();
    let app = router(shared).layer(axum::middleware::from_fn_with_state(
        timings.clone(),
        time_it,
    ));
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let address = listener.local_addr()?;
    runtime.spawn(accept(listener, app, usize::MAX >> 4));
    Ok((address, timings))
}

/// Notes how long the server took to make each answer (its body included, for JSON).
async fn time_it(State(timings): State<Timings>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let response = next.run(request).await;
    let took = started.elapsed();
    timings
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(took);
    response
}

/// A keep-alive HTTP/1.1 connection.
struct Connection {
    address: SocketAddr,
    reader: BufReader<TcpStream>,
}

impl Connection {
    fn open(address: SocketAddr) -> anyhow::Result<Connection> {
        let stream = TcpStream::connect(address)?;
        stream.set_read_timeout(Some(PATIENCE))?;
        stream.set_nodelay(true)?;
        Ok(Connection {
            address,
            reader: BufReader::new(stream),
        })
    }

    /// Sends a request and reads the status and the header of the answer.
    fn send(&mut self, method: &str, path: &str, body: Option<&str>) -> anyhow::Result<u16> {
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {TOKEN}\r\n",
            self.address
        );
        if let Some(body) = body {
            head.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        head.push_str("\r\n");
        head.push_str(body.unwrap_or(""));
        self.reader.get_mut().write_all(head.as_bytes())?;
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        let status = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| anyhow!("the server answered {line:?}"))?;
        Ok(status)
    }

    /// A request's status and its body (read by its `Content-Length`).
    fn call(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> anyhow::Result<(u16, Value)> {
        let status = self.send(method, path, body)?;
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line)?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((key, value)) = line.split_once(':') {
                if key.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse()?;
                }
            }
        }
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body)?;
        Ok((status, serde_json::from_slice(&body)?))
    }
}

/// Milliseconds of the median, p99 and most of `durations`.
fn percentiles(mut durations: Vec<Duration>) -> Value {
    durations.sort();
    let at = |q: f64| {
        let index = ((durations.len() as f64 * q).ceil() as usize).clamp(1, durations.len()) - 1;
        durations[index].as_secs_f64() * 1000.0
    };
    json!({"p50": at(0.5), "p99": at(0.99), "max": at(1.0), "requests": durations.len()})
}

fn paging(
    runtime: &tokio::runtime::Runtime,
    journal: &Path,
    options: &BenchServe,
) -> anyhow::Result<Value> {
    let (address, timings) = start(runtime, journal, false)?;
    let mut connection = Connection::open(address)?;
    // One request first, so that the first timed one does not open the journal's files.
    connection.call("GET", "/api/commits?limit=1", None)?;
    timings
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clear();
    let mut client = Vec::new();
    for i in 0..options.requests {
        let to = options.page_at.saturating_sub(i * PAGE).max(1);
        let started = Instant::now();
        let (status, page) = connection.call(
            "GET",
            &format!("/api/commits?order=newest&limit={PAGE}&to={to}"),
            None,
        )?;
        client.push(started.elapsed());
        let first = page["commits"][0]["number"].as_u64();
        if status != 200 || first != Some(to) {
            bail!("the page up to commit {to} came back as {status} starting at {first:?}");
        }
    }
    let server = std::mem::take(
        &mut *timings
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    );
    Ok(json!({
        "journal": journal.display().to_string(),
        "commits": options.commits,
        "page_at": options.page_at,
        "page": PAGE,
        "server_ms": percentiles(server),
        "client_ms": percentiles(client),
        "target_p99_ms": 50,
    }))
}

fn followers(runtime: &tokio::runtime::Runtime, options: &BenchServe) -> anyhow::Result<Value> {
    let folder = BenchFolder::temporary()?;
    let store = Store::builder(&folder.path)
        .layout(Layout::Journal)
        .durability(Durability::None)
        .open()?;
    store.ensure_folder()?;
    let (address, _) = start(runtime, &folder.path, false)?;
    let count = options.follow_commits;
    let ready = Arc::new(Barrier::new(usize::try_from(options.followers)? + 1));
    let handles: Vec<_> = (0..options.followers)
        .map(|_| {
            let ready = ready.clone();
            thread::spawn(move || -> anyhow::Result<()> {
                let mut connection = Connection::open(address);
                let status = match &mut connection {
                    Ok(c) => c.send("GET", "/api/stream?from=1", None),
                    Err(e) => Err(anyhow!("{e}")),
                };
                ready.wait();
                let mut connection = connection?;
                if status? != 200 {
                    bail!("the stream was refused");
                }
                let mut expected = 1;
                let mut line = String::new();
                while expected <= count {
                    line.clear();
                    if connection.reader.read_line(&mut line)? == 0 {
                        bail!("the stream ended before commit {expected}");
                    }
                    if let Some(id) = line.strip_prefix("id: ") {
                        let id: u64 = id.trim().parse()?;
                        if id != expected {
                            bail!("commit {id} came where commit {expected} was due");
                        }
                        expected += 1;
                    }
                }
                Ok(())
            })
        })
        .collect();
    ready.wait();
    let started = Instant::now();
    write_commits(&store, 0, 1, count, 1)?;
    let appended = started.elapsed();
    let mut failures = Vec::new();
    for handle in handles {
        match handle.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failures.push(format!("{e:#}")),
            Err(_) => failures.push("a follower's thread panicked".to_owned()),
        }
    }
    let all = started.elapsed();
    if let Some(first) = failures.first() {
        bail!(
            "{} of {} followers failed; the first: {first}",
            failures.len(),
            options.followers
        );
    }
    Ok(json!({
        "followers": options.followers,
        "commits": count,
        "every_commit_received": true,
        "appended_seconds": appended.as_secs_f64(),
        "all_received_seconds": all.as_secs_f64(),
        "commits_per_second_delivered": count as f64 / all.as_secs_f64(),
    }))
}

fn appends(runtime: &tokio::runtime::Runtime, options: &BenchServe) -> anyhow::Result<Value> {
    let (clients, total) = (options.clients, options.appends);
    if clients > total {
        bail!("--clients {clients} is more than --appends {total}: each client needs a commit");
    }
    let folder = BenchFolder::temporary()?;
    Store::builder(&folder.path)
        .layout(Layout::Journal)
        .open()?
        .ensure_folder()?;
    let (address, _) = start(runtime, &folder.path, true)?;
    let started = Instant::now();
    let handles: Vec<_> = (0..clients)
        .map(|client| {
            thread::spawn(move || -> anyhow::Result<()> {
                let mut connection = Connection::open(address)?;
                let share = total / clients + u64::from(client < total % clients);
                for j in 0..share {
                    let event = member_has_moved(client + j * clients).to_value();
                    let body = json!({ "events": [event] }).to_string();
                    let (status, answer) = connection.call("POST", "/api/commits", Some(&body))?;
                    if status != 201 {
                        bail!("an append was answered {status}: {answer}");
                    }
                }
                Ok(())
            })
        })
        .collect();
    for handle in handles {
        handle
            .join()
            .map_err(|_| anyhow!("a client's thread panicked"))??;
    }
    let elapsed = started.elapsed();
    let tip = Store::open(&folder.path)?.tip()?;
    if tip != total {
        bail!("the store holds {tip} commits after {total} appends through the API");
    }
    let api_rate = total as f64 / elapsed.as_secs_f64();
    let library = append(
        total,
        1,
        clients,
        BenchDurability::Immediate,
        None,
        LayoutArg::Journal,
        false,
    )?;
    let library_rate = library.json["commits_per_second"]
        .as_f64()
        .ok_or_else(|| anyhow!("bench append gave no rate"))?;
    Ok(json!({
        "clients": clients,
        "commits": total,
        "durability": "immediate",
        "layout": "journal",
        "api_seconds": elapsed.as_secs_f64(),
        "api_commits_per_second": api_rate,
        "bench_append_commits_per_second": library_rate,
        "ratio": api_rate / library_rate,
        "target_ratio": 0.5,
    }))
}
