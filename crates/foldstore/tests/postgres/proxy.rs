//! A TCP proxy between a backend and the test server that cuts the connection at a chosen
//! moment (or counts what passes), for the tests of writes whose outcome is unknown.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use foldstore::PostgresStorage;
use postgres::config::Host;

/// The Sync message that ends each query of the extended protocol: one per round trip.
pub(crate) const SYNC: &[u8] = b"S\0\0\0\x04";

/// When the proxy cuts a connection.
pub(crate) enum Cut {
    /// When the client sends a message containing `marker`, before it reaches the server; then
    /// runs `then` (e.g. another writer taking the number).
    BeforeSending {
        marker: Vec<u8>,
        then: Option<Box<dyn FnOnce() + Send>>,
    },
    /// After a message containing `marker` was sent, when the server's `INSERT 0 1`
    /// acknowledgement comes back, before the client sees it.
    BeforeAcknowledgement { marker: Vec<u8> },
    /// Every time the client sends `marker`, before it reaches the server.
    Always { marker: Vec<u8> },
    /// Never: counts the messages holding `marker` that the client sends.
    Count { marker: Vec<u8> },
    /// After the client sends `COMMIT`, when the server's acknowledgement of it comes back,
    /// before the client sees it: the transaction has landed.
    CommitAcknowledgement,
    /// After a message containing `marker` twice or more (one statement inserting a batch) was
    /// sent, when the server's acknowledgement of the insert comes back, before the client
    /// sees it: the statement has landed.
    BatchAcknowledgement { marker: Vec<u8> },
}

/// A TCP proxy to the test server that can cut connections.
pub(crate) struct Proxy {
    port: u16,
    plan: Arc<Mutex<Option<Cut>>>,
    cuts: Arc<AtomicU64>,
    counted: Arc<AtomicU64>,
}

impl Proxy {
    pub(crate) fn start(upstream: (String, u16)) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let plan: Arc<Mutex<Option<Cut>>> = Arc::new(Mutex::new(None));
        let cuts = Arc::new(AtomicU64::new(0));
        let counted = Arc::new(AtomicU64::new(0));
        let (accept_plan, accept_cuts, accept_counted) =
            (Arc::clone(&plan), Arc::clone(&cuts), Arc::clone(&counted));
        thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let server = TcpStream::connect((upstream.0.as_str(), upstream.1)).unwrap();
                Proxy::relay(client, server, &accept_plan, &accept_cuts, &accept_counted);
            }
        });
        Proxy {
            port,
            plan,
            cuts,
            counted,
        }
    }

    fn relay(
        client: TcpStream,
        server: TcpStream,
        plan: &Arc<Mutex<Option<Cut>>>,
        cuts: &Arc<AtomicU64>,
        counted: &Arc<AtomicU64>,
    ) {
        let sent_marker = Arc::new(AtomicBool::new(false));
        let sockets = Arc::new([client.try_clone().unwrap(), server.try_clone().unwrap()]);
        let cut = move |cuts: &AtomicU64| {
            cuts.fetch_add(1, Ordering::SeqCst);
            for socket in sockets.iter() {
                let _ = socket.shutdown(Shutdown::Both);
            }
        };
        let cut_up = cut.clone();
        let (plan_up, cuts_up, marker_up) =
            (Arc::clone(plan), Arc::clone(cuts), Arc::clone(&sent_marker));
        let counted_up = Arc::clone(counted);
        let (mut from_client, mut to_server) =
            (client.try_clone().unwrap(), server.try_clone().unwrap());
        thread::spawn(move || {
            let mut buffer = vec![0_u8; 1 << 16];
            loop {
                let Ok(read) = from_client.read(&mut buffer) else {
                    return;
                };
                if read == 0 {
                    let _ = to_server.shutdown(Shutdown::Write);
                    return;
                }
                let chunk = &buffer[..read];
                let mut plan = plan_up.lock().unwrap();
                match plan.as_ref() {
                    Some(Cut::BeforeSending { marker, .. }) if contains(chunk, marker) => {
                        let Some(Cut::BeforeSending { then, .. }) = plan.take() else {
                            unreachable!()
                        };
                        drop(plan);
                        if let Some(then) = then {
                            then();
                        }
                        cut_up(&cuts_up);
                        return;
                    }
                    Some(Cut::Always { marker }) if contains(chunk, marker) => {
                        drop(plan);
                        cut_up(&cuts_up);
                        return;
                    }
                    Some(Cut::BeforeAcknowledgement { marker }) if contains(chunk, marker) => {
                        marker_up.store(true, Ordering::SeqCst);
                    }
                    Some(Cut::Count { marker }) if contains(chunk, marker) => {
                        counted_up.fetch_add(1, Ordering::SeqCst);
                    }
                    Some(Cut::CommitAcknowledgement) if contains(chunk, b"COMMIT") => {
                        marker_up.store(true, Ordering::SeqCst);
                    }
                    Some(Cut::BatchAcknowledgement { marker })
                        if occurrences(chunk, marker) >= 2 =>
                    {
                        marker_up.store(true, Ordering::SeqCst);
                    }
                    _ => {}
                }
                drop(plan);
                if to_server.write_all(chunk).is_err() {
                    return;
                }
            }
        });
        let (plan_down, cuts_down) = (Arc::clone(plan), Arc::clone(cuts));
        let (mut from_server, mut to_client) = (server, client);
        thread::spawn(move || {
            let mut buffer = vec![0_u8; 1 << 16];
            loop {
                let Ok(read) = from_server.read(&mut buffer) else {
                    return;
                };
                if read == 0 {
                    let _ = to_client.shutdown(Shutdown::Write);
                    return;
                }
                let chunk = &buffer[..read];
                if sent_marker.load(Ordering::SeqCst) {
                    let mut plan = plan_down.lock().unwrap();
                    let acknowledged = match plan.as_ref() {
                        Some(Cut::BeforeAcknowledgement { .. }) => contains(chunk, b"INSERT 0 1"),
                        Some(Cut::CommitAcknowledgement) => contains(chunk, b"COMMIT\0"),
                        Some(Cut::BatchAcknowledgement { .. }) => contains(chunk, b"INSERT 0 "),
                        _ => false,
                    };
                    if acknowledged {
                        plan.take();
                        drop(plan);
                        cut(&cuts_down);
                        return;
                    }
                }
                if to_client.write_all(chunk).is_err() {
                    return;
                }
            }
        });
    }

    pub(crate) fn arm(&self, cut: Cut) {
        *self.plan.lock().unwrap() = Some(cut);
    }

    pub(crate) fn disarm(&self) -> Option<Cut> {
        self.plan.lock().unwrap().take()
    }

    pub(crate) fn cuts(&self) -> u64 {
        self.cuts.load(Ordering::SeqCst)
    }

    /// How many messages [`Cut::Count`] counted.
    pub(crate) fn counted(&self) -> u64 {
        self.counted.load(Ordering::SeqCst)
    }
}

fn occurrences(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .filter(|window| *window == needle)
        .count()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// The test server's host and port, from its URL.
pub(crate) fn upstream(url: &str) -> (String, u16) {
    let config: postgres::Config = url.parse().unwrap();
    let host = match &config.get_hosts()[0] {
        Host::Tcp(host) => host.clone(),
        #[allow(unreachable_patterns)]
        _ => panic!("the test server must be reached over TCP"),
    };
    (host, config.get_ports().first().copied().unwrap_or(5432))
}

/// A backend on `table` that reaches the server through `proxy`.
pub(crate) fn through_proxy(url: &str, table: &str, proxy: &Proxy) -> PostgresStorage {
    let mut config: postgres::Config = url.parse().unwrap();
    let mut proxied = postgres::Config::new();
    proxied.host("127.0.0.1").port(proxy.port);
    if let Some(user) = config.get_user() {
        proxied.user(user);
    }
    if let Some(password) = config.get_password() {
        proxied.password(password);
    }
    if let Some(dbname) = config.get_dbname() {
        proxied.dbname(dbname);
    }
    config.connect_timeout(Duration::from_secs(10));
    PostgresStorage::with_config(proxied, table).unwrap()
}

/// A document the backend is told carries a unique commit id.
pub(crate) fn identified(id: &str) -> Vec<u8> {
    format!(r#"{{"headers":{{"commitId":"{id}"}},"events":[]}}"#).into_bytes()
}
