//! Throughput of `Store::log` on the test server (an ignored test), against bare loops of
//! single-row INSERT transactions measured in the same run.

use std::thread;
use std::time::{Duration, Instant};

use crate::setup::{client, created};
use foldstore::{CopyOptions, Durability, Event, Layout, Scanned, Store};
use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::Type;
use postgres::Client;
use serde_json::json;

/// Commits per second of `work(state, k)` run `per_run / threads` times in each of `threads`
/// threads, each with the state `make` gives it before the clock starts.
fn rate<S: Send>(
    threads: u64,
    per_run: u64,
    make: impl Fn(u64) -> S + Sync,
    work: impl Fn(&mut S, u64) + Sync,
) -> f64 {
    let states: Vec<S> = (0..threads).map(&make).collect();
    let started = Instant::now();
    thread::scope(|scope| {
        for mut state in states {
            let work = &work;
            scope.spawn(move || {
                for k in 0..per_run / threads {
                    work(&mut state, k);
                }
            });
        }
    });
    (per_run / threads * threads) as f64 / started.elapsed().as_secs_f64()
}

/// The test server with every commit flushed to disk, as a deployment runs (the test server
/// runs without fsync), until dropped.
struct Fsync {
    admin: Option<Client>,
}

impl Fsync {
    /// Turns fsync on, and prints the settings that bound commits.
    fn on(url: &str, what: &str) -> Fsync {
        let mut admin = client(url);
        let turned_on = admin
            .batch_execute("ALTER SYSTEM SET fsync = on")
            .and_then(|()| admin.batch_execute("SELECT pg_reload_conf()"))
            .map_err(|e| {
                println!("{what}: cannot turn fsync on ({e}); measured as the server runs")
            })
            .is_ok();
        std::thread::sleep(Duration::from_millis(200));
        let settings: Vec<String> = [
            "fsync",
            "synchronous_commit",
            "wal_sync_method",
            "commit_delay",
        ]
        .iter()
        .map(|name| {
            let row = admin.query_one(&format!("SHOW {name}"), &[]).unwrap();
            format!("{name}={}", row.get::<_, String>(0))
        })
        .collect();
        println!("{what}, server settings: {}", settings.join(" "));
        Fsync {
            admin: turned_on.then_some(admin),
        }
    }
}

impl Drop for Fsync {
    fn drop(&mut self) {
        if let Some(admin) = &mut self.admin {
            let _ = admin.batch_execute("ALTER SYSTEM RESET fsync");
            let _ = admin.batch_execute("SELECT pg_reload_conf()");
        }
    }
}

/// Throughput of `Store::log` on the test server with 1 and 8 writer threads (one process:
/// its concurrent appends share transactions), and of bare loops of one-row INSERT
/// transactions (autocommit) from 1 and 8 connections of their own, into a table of the same
/// shape. Ignored by default; run it with
/// `bash .ci/test --release -p foldstore --test postgres throughput -- --ignored --nocapture`
/// (`FOLDSTORE_PG_THROUGHPUT_COMMITS` commits a run, 4,000 by default).
#[test]
#[ignore = "a measurement, not a check"]
fn throughput() {
    let Some((storage, table, url)) = created() else {
        return;
    };
    let store = Store::with_storage(storage);
    let per_run: u64 = std::env::var("FOLDSTORE_PG_THROUGHPUT_COMMITS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(4000);
    let bare_table = format!("{table}_bare");
    client(&url)
        .batch_execute(&format!(
            "CREATE TABLE \"{bare_table}\" (number bigint PRIMARY KEY, document bytea NOT NULL)"
        ))
        .unwrap();
    let fsync = Fsync::on(&url, "postgres throughput");
    let mut rates = Vec::new();
    for threads in [1_u64, 8] {
        let insert = format!("INSERT INTO \"{bare_table}\" (number, document) VALUES ($1, $2)");
        let bare = rate(
            threads,
            per_run,
            |thread| (client(&url), thread),
            |(connection, thread), k| {
                let number =
                    i64::try_from(threads * 10_000_000_000 + *thread * 1_000_000_000 + k).unwrap();
                let document =
                    format!(r#"{{"events":[{{"name":"measured","data":{{"index":{k}}}}}]}}"#);
                connection
                    .execute(&insert, &[&number, &document.as_bytes()])
                    .unwrap();
            },
        );
        let ours = rate(
            threads,
            per_run,
            |_| (),
            |(), k| {
                store
                    .log(&Event::with_data("measured", json!({ "index": k })))
                    .unwrap();
            },
        );
        println!(
            "postgres throughput, {threads} thread(s): Store::log {ours:.0} commits/s, bare INSERT transactions {bare:.0}/s: {:.2}x",
            ours / bare
        );
        rates.push((ours, bare));
    }
    println!(
        "postgres throughput, 8 threads / 1 thread: Store::log {:.2}x, bare INSERT transactions {:.2}x",
        rates[1].0 / rates[0].0,
        rates[1].1 / rates[0].1
    );
    drop(fsync);
    let tip = store.tip().unwrap();
    assert_eq!(store.commits(..).count() as u64, tip);
}

/// `copy` of a journal into PostgreSQL (its commits created together, a batch per
/// transaction), against a bare binary `COPY` of the same rows into a table of the same shape
/// in batches of the same size, measured in the same run. Ignored by default; run it with
/// `bash .ci/test --release -p foldstore --test postgres bulk_copy -- --ignored --nocapture`
/// (`FOLDSTORE_PG_COPY_COMMITS` commits, 1,000,000 by default).
#[test]
#[ignore = "a measurement, not a check"]
fn bulk_copy() {
    let Some((storage, table, url)) = created() else {
        return;
    };
    let commits: u64 = std::env::var("FOLDSTORE_PG_COPY_COMMITS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let folder = tempfile::tempdir().unwrap();
    let source = Store::builder(folder.path())
        .layout(Layout::Journal)
        .durability(Durability::None)
        .open()
        .unwrap();
    let started = Instant::now();
    for k in 0..commits {
        source
            .log(&Event::with_data(
                "memberAdded",
                json!({ "member": format!("member {k}"), "index": k }),
            ))
            .unwrap();
    }
    println!(
        "postgres bulk copy: a journal of {commits} commits written in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let fsync = Fsync::on(&url, "postgres bulk copy");
    let started = Instant::now();
    let report = source
        .copy_to(&Store::with_storage(storage), CopyOptions::new())
        .unwrap();
    let ours = commits as f64 / started.elapsed().as_secs_f64();
    assert_eq!(report.commits_copied, commits);
    // The same rows, read from the journal beforehand, copied bare in batches of 1,024.
    let rows: Vec<(i64, Vec<u8>)> = source
        .raw_commits(..)
        .unwrap()
        .map(|scanned| match scanned {
            Scanned::Commit(raw) => (i64::try_from(raw.number).unwrap(), raw.bytes),
            other => panic!("{other:?}"),
        })
        .collect();
    let bare_table = format!("{table}_bare_copy");
    let mut connection = client(&url);
    connection
        .batch_execute(&format!(
            "CREATE TABLE \"{bare_table}\" (number bigint PRIMARY KEY, document bytea NOT NULL)"
        ))
        .unwrap();
    let started = Instant::now();
    for batch in rows.chunks(1024) {
        let mut transaction = connection.transaction().unwrap();
        let sink = transaction
            .copy_in(&format!(
                "COPY \"{bare_table}\" (number, document) FROM STDIN BINARY"
            ))
            .unwrap();
        let mut writer = BinaryCopyInWriter::new(sink, &[Type::INT8, Type::BYTEA]);
        for (number, bytes) in batch {
            writer.write(&[number, bytes]).unwrap();
        }
        writer.finish().unwrap();
        transaction.commit().unwrap();
    }
    let bare = commits as f64 / started.elapsed().as_secs_f64();
    drop(fsync);
    println!(
        "postgres bulk copy of {commits} commits: copy {ours:.0} commits/s, bare COPY {bare:.0}/s: {:.2}x",
        ours / bare
    );
}
