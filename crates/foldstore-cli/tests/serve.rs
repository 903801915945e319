//! `foldstore serve`: the real binary on a free port, driven over HTTP.

mod util;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use foldstore::{Durability, Event, Layout, Store};
use serde_json::{json, Value};
use util::server::{agent, get, Server};
use util::{TestDir, FOLDSTORE};

const TOKEN: &str = "tok-7f3a9c";

/// POST with the token (when given): the status and the JSON body.
fn post(server: &Server, token: Option<&str>, body: &str) -> (u16, Value) {
    let mut request = agent()
        .post(&server.url("/api/commits"))
        .header("Content-Type", "application/json");
    if let Some(token) = token {
        request = request.header("Authorization", &format!("Bearer {token}"));
    }
    let mut response = request.send(body).expect("POST");
    let status = response.status().as_u16();
    (
        status,
        response.body_mut().read_json().expect("a JSON body"),
    )
}

fn numbers(page: &Value, list: &str, key: &str) -> Vec<u64> {
    page[list]
        .as_array()
        .unwrap_or_else(|| panic!("no {list} in {page}"))
        .iter()
        .map(|c| c[key].as_u64().unwrap())
        .collect()
}

/// A loose store of `n` commits, each one event `e{k}` tagged `n:{k % 3}`.
fn store_of(dir: &TestDir, n: u64) -> std::path::PathBuf {
    let path = dir.join("store");
    let store = Store::open(&path).unwrap();
    store.ensure_folder().unwrap();
    for k in 1..=n {
        store
            .log(
                &Event::with_data(format!("e{k}"), json!({"k": k}))
                    .tagged([format!("n:{}", k % 3)]),
            )
            .unwrap();
    }
    path
}

#[test]
fn ranges_are_pages_by_number_both_ways() {
    let dir = TestDir::new();
    let server = Server::start(&store_of(&dir, 25), &[], Some(TOKEN));
    let (status, page) = get(&server, "/api/commits?from=1&limit=10");
    assert_eq!(status, 200);
    assert_eq!(
        numbers(&page, "commits", "number"),
        (1..=10).collect::<Vec<_>>()
    );
    assert_eq!(
        (page["next"].clone(), page["tip"].clone()),
        (json!(11), json!(25))
    );
    assert_eq!(
        page["commits"][2]["events"][0],
        json!({"name": "e3", "data": {"k": 3}, "tags": ["n:0"]})
    );
    let (_, page) = get(&server, "/api/commits?from=21&limit=10");
    assert_eq!(numbers(&page, "commits", "number"), [21, 22, 23, 24, 25]);
    assert_eq!(page["next"], Value::Null);
    let (_, page) = get(&server, "/api/commits?order=newest&limit=10");
    assert_eq!(
        numbers(&page, "commits", "number"),
        (16..=25).rev().collect::<Vec<_>>()
    );
    assert_eq!(page["next"], json!(15));
    let (_, page) = get(&server, "/api/commits?order=newest&to=15&from=12");
    assert_eq!(numbers(&page, "commits", "number"), [15, 14, 13, 12]);
    assert_eq!(page["next"], Value::Null);
    let (_, page) = get(&server, "/api/commits?from=18446744073709551615&limit=1000");
    assert_eq!(numbers(&page, "commits", "number"), Vec::<u64>::new());
    let (_, page) = get(&server, "/api/commits?to=18446744073709551615&from=25");
    assert_eq!(numbers(&page, "commits", "number"), [25]);
    let (status, one) = get(&server, "/api/commits/7");
    assert_eq!(
        (
            status,
            one["number"].clone(),
            one["events"][0]["name"].clone()
        ),
        (200, json!(7), json!("e7"))
    );
    for (path, status) in [
        ("/api/commits/26", 404),
        // Past the largest commit number: no commit, whatever the backend holds there.
        ("/api/commits/9007199254740992", 404),
        ("/api/commits/18446744073709551615", 404),
        ("/api/commits/18446744073709551615/raw", 404),
        ("/api/commits/0", 400),
        ("/api/commits/-1", 400),
        ("/api/commits/99999999999999999999", 400),
        ("/api/commits?limit=0", 400),
        ("/api/commits?limit=1001", 400),
        ("/api/commits?from=abc", 400),
        ("/api/commits?from=9&to=3", 400),
        ("/api/commits?order=sideways", 400),
        ("/api/commits?form=3", 400),
        ("/api/nothing", 404),
    ] {
        let (got, body) = get(&server, path);
        assert_eq!(got, status, "{path}: {body}");
        assert!(
            body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{path}: {body}"
        );
    }
}

#[test]
fn hostile_names_come_back_as_json_strings() {
    let dir = TestDir::new();
    let path = dir.join("store");
    let hostile = "<img src=x onerror=alert(1)>\u{1b}[31m\"}\n\u{7}</script>";
    let store = Store::open(&path).unwrap();
    store.ensure_folder().unwrap();
    store.log(&Event::new(hostile).tagged(["t"])).unwrap();
    let server = Server::start(&path, &[], Some(TOKEN));
    let mut response = agent().get(&server.url("/api/commits/1")).call().unwrap();
    assert_eq!(response.headers()["content-type"], "application/json");
    let text = response.body_mut().read_to_string().unwrap();
    assert!(text.contains(r#"\u001b[31m\"}\n\u0007"#), "{text}");
    assert!(!text.contains('\u{1b}') && !text.contains('\n'), "{text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["events"][0]["name"], hostile);
    let (_, found) = get(&server, "/api/events?tag=t");
    assert_eq!(found["events"][0]["event"]["name"], hostile);
}

#[test]
fn events_are_found_by_name_and_tag_and_paged_by_commit() {
    let dir = TestDir::new();
    let server = Server::start(&store_of(&dir, 30), &[], Some(TOKEN));
    let (status, page) = get(&server, "/api/events?tag=n:1&limit=4");
    assert_eq!(status, 200);
    assert_eq!(numbers(&page, "events", "commit"), [1, 4, 7, 10]);
    assert_eq!(page["next"], json!(10));
    let (_, page) = get(&server, "/api/events?tag=n:1&after=10&limit=1000");
    assert_eq!(numbers(&page, "events", "commit"), [13, 16, 19, 22, 25, 28]);
    assert_eq!(page["next"], Value::Null);
    // Names by the original's first-letter rule, any of them.
    let (_, page) = get(&server, "/api/events?name=E5&name=e6");
    assert_eq!(numbers(&page, "events", "commit"), [5, 6]);
    let (_, page) = get(&server, "/api/events?name=e6&tag=n:1");
    assert_eq!(numbers(&page, "events", "commit"), Vec::<u64>::new());
    assert_eq!(get(&server, "/api/events").0, 400);
    assert_eq!(get(&server, "/api/events?tag=x&after=-3").0, 400);
    let (status, stats) = get(&server, "/api/stats");
    assert_eq!(
        (status, stats["commits"].clone(), stats["events"].clone()),
        (200, json!(30), json!(30))
    );
    let (status, report) = get(&server, "/api/verify");
    assert_eq!(
        (status, report["sound"].clone(), report["tip"].clone()),
        (200, json!(true), json!(30))
    );
}

#[test]
fn a_page_of_events_whose_first_commit_holds_more_than_the_limit_still_says_what_follows() {
    let dir = TestDir::new();
    let path = dir.join("store");
    let store = Store::open(&path).unwrap();
    store.ensure_folder().unwrap();
    for commit in 1..=5 {
        store
            .log_block(|block| {
                for i in 0..3 {
                    block.log(&Event::new(format!("e{commit}.{i}")).tagged(["t"]))?;
                }
                block.mark_as_complete();
                Ok::<_, foldstore::Error>(())
            })
            .unwrap();
    }
    let server = Server::start(&path, &[], Some(TOKEN));
    // Pages of one event: each holds one whole commit (three events) and names it as next.
    let mut after = 0;
    let mut commits = Vec::new();
    loop {
        let (status, page) = get(&server, &format!("/api/events?tag=t&limit=1&after={after}"));
        assert_eq!(status, 200, "{page}");
        let found = numbers(&page, "events", "commit");
        commits.extend(found.iter().copied());
        match page["next"].as_u64() {
            Some(next) => after = next,
            None => break,
        }
        assert!(commits.len() <= 15, "{page}");
    }
    assert_eq!(commits, [1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 5, 5, 5]);
}

#[test]
fn pages_of_large_commits_end_at_a_number_of_bytes_and_say_where_to_go_on() {
    let dir = TestDir::new();
    let path = dir.join("store");
    let store = Store::open(&path).unwrap();
    store.ensure_folder().unwrap();
    let large = "x".repeat(1 << 20);
    for n in 1..=40 {
        store
            .log(&Event::with_data("large", json!({ "n": n, "text": large })))
            .unwrap();
    }
    let server = Server::start(&path, &[], Some(TOKEN));
    // Oldest first: pages of 8 MiB at most (the commit that passes it ends the page), each going on
    // where the one before ended, every commit once.
    let mut seen = Vec::new();
    let mut from = 1;
    loop {
        let (status, page) = get(&server, &format!("/api/commits?from={from}&limit=100"));
        assert_eq!(status, 200);
        let found = numbers(&page, "commits", "number");
        assert!(!found.is_empty() && found.len() <= 8, "{found:?}");
        seen.extend(found);
        match page["next"].as_u64() {
            Some(next) => from = next,
            None => break,
        }
    }
    assert_eq!(seen, (1..=40).collect::<Vec<u64>>());
    // Newest first, the same.
    let mut seen = Vec::new();
    let mut to = 40;
    loop {
        let (_, page) = get(
            &server,
            &format!("/api/commits?to={to}&limit=100&order=newest"),
        );
        let found = numbers(&page, "commits", "number");
        assert!(!found.is_empty() && found.len() <= 8, "{found:?}");
        seen.extend(found);
        match page["next"].as_u64() {
            Some(next) => to = next,
            None => break,
        }
    }
    assert_eq!(seen, (1..=40).rev().collect::<Vec<u64>>());
}

#[test]
fn appends_with_and_without_conditions() {
    let dir = TestDir::new();
    let server = Server::start(&store_of(&dir, 2), &["--allow-writes"], Some(TOKEN));
    let t = Some(TOKEN);
    let (status, body) = post(
        &server,
        t,
        r#"{"events":[{"name":"a","data":{"x":1},"tags":["acct:1"]}],"headers":{"user":"ann"}}"#,
    );
    assert_eq!((status, body), (201, json!({"commit": 3, "written": true})));
    let (_, commit) = get(&server, "/api/commits/3");
    assert_eq!(commit["headers"]["user"], "ann");
    assert!(commit["headers"]["time"].is_string());
    assert_eq!(
        commit["events"],
        json!([{"name":"a","data":{"x":1},"tags":["acct:1"]}])
    );
    // Expected position: the log must end there.
    let (status, body) = post(
        &server,
        t,
        r#"{"events":[{"name":"b"}],"expected_position":2}"#,
    );
    assert_eq!((status, body["conflicts"].clone()), (409, json!([3])));
    let (status, body) = post(
        &server,
        t,
        r#"{"events":[{"name":"b"}],"expected_position":3}"#,
    );
    assert_eq!((status, body["commit"].clone()), (201, json!(4)));
    // A query condition: another stream's commits do not conflict.
    let cond = |after: u64| {
        format!(
            r#"{{"events":[{{"name":"a","tags":["acct:1"]}}],"condition":{{"query":[{{"tags":["acct:1"]}}],"after":{after}}}}}"#
        )
    };
    let (status, body) = post(&server, t, &cond(2));
    assert_eq!((status, body["conflicts"].clone()), (409, json!([3])));
    let (status, body) = post(&server, t, &cond(3));
    assert_eq!((status, body["commit"].clone()), (201, json!(5)));
    let (status, _) = post(
        &server,
        t,
        r#"{"events":[{"name":"o"}],"condition":{"query":[{"names":["nobody"]}]}}"#,
    );
    assert_eq!(status, 201);
    let (status, body) = post(
        &server,
        t,
        r#"{"events":[{"name":"o"}],"condition":{"query":[{"names":["o"]}],"after":null}}"#,
    );
    assert_eq!((status, body["conflicts"].clone()), (409, json!([6])));
    // Once per key.
    let once = r#"{"events":[{"name":"paid"}],"idempotency_key":"req-1"}"#;
    assert_eq!(
        post(&server, t, once),
        (201, json!({"commit": 7, "written": true}))
    );
    assert_eq!(
        post(&server, t, once),
        (200, json!({"commit": 7, "written": false}))
    );
    // Bad input: 400 with the reason, nothing written.
    for (body, says) in [
        ("{", "not an append"),
        ("[]", "not an append"),
        (r#"{"events":[]}"#, "events is empty"),
        (r#"{"events":[{"data":1}]}"#, "events[0]"),
        (r#"{"events":[{"name":""}]}"#, "events[0]"),
        (r#"{"events":[{"name":" x"}]}"#, "events[0]"),
        // Data JSON readers would take for other data: stored changed, were it written.
        (
            r#"{"events":[{"name":"x","data":{"$serde_json::private::RawValue":"[1]"}}]}"#,
            "events[0]",
        ),
        (
            r#"{"events":[{"name":"x"}],"headers":{"h":{"$serde_json::private::RawValue":"1"}}}"#,
            "headers",
        ),
        (
            r#"{"events":[{"name":"x"}],"headers":[1]}"#,
            "headers is not an object",
        ),
        (
            r#"{"events":[{"name":"x"}],"headers":{"commitId":"x"}}"#,
            "commitId",
        ),
        (
            r#"{"events":[{"name":"x"}],"expected_position":18446744073709551615}"#,
            "beyond the end",
        ),
        (
            r#"{"events":[{"name":"x"}],"expected_position":18446744073709551616}"#,
            "not an append",
        ),
        (
            r#"{"events":[{"name":"x"}],"expected_position":1,"idempotency_key":"k"}"#,
            "at most one",
        ),
        (
            r#"{"events":[{"name":"x"}],"condition":{"query":[]}}"#,
            "condition.query is empty",
        ),
        (r#"{"events":[{"name":"x"}],"extra":1}"#, "unknown field"),
    ] {
        let (status, answer) = post(&server, t, body);
        assert_eq!(status, 400, "{body}: {answer}");
        let error = answer["error"].as_str().unwrap();
        assert!(
            error.contains(says) && error.contains("nothing was written"),
            "{body}: {error}"
        );
    }
    let deep = format!(
        r#"{{"events":[{{"name":"x","data":{}{}}}]}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert_eq!(post(&server, t, &deep).0, 400);
    // Over the limit: refused from the announced length, before the body is read.
    let mut raw = std::net::TcpStream::connect(server.base.trim_start_matches("http://")).unwrap();
    let length = 17 * 1024 * 1024;
    write!(
        raw,
        "POST /api/commits HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n{{\"events\":["
    )
    .unwrap();
    let mut status = String::new();
    BufReader::new(&raw).read_line(&mut status).unwrap();
    assert!(status.starts_with("HTTP/1.1 413"), "{status}");
    assert_eq!(
        get(&server, "/api/commits?order=newest&limit=1").1["tip"],
        json!(7)
    );
}

#[test]
fn writes_and_reads_beyond_loopback_need_the_token() {
    let dir = TestDir::new();
    let path = store_of(&dir, 1);
    let read_only = Server::start(&path, &[], Some(TOKEN));
    let (status, body) = post(&read_only, Some(TOKEN), r#"{"events":[{"name":"x"}]}"#);
    assert_eq!(status, 403);
    assert!(body["error"].as_str().unwrap().contains("--allow-writes"));
    drop(read_only);
    let writes = Server::start(&path, &["--allow-writes"], Some(TOKEN));
    let response = agent()
        .post(&writes.url("/api/commits"))
        .send(r#"{"events":[{"name":"x"}]}"#)
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    assert_eq!(
        post(&writes, Some("tok-7f3a9d"), r#"{"events":[{"name":"x"}]}"#).0,
        403
    );
    assert_eq!(
        post(&writes, Some(""), r#"{"events":[{"name":"x"}]}"#).0,
        403
    );
    assert_eq!(
        post(&writes, Some(&TOKEN[..5]), r#"{"events":[{"name":"x"}]}"#).0,
        403
    );
    assert_eq!(
        post(&writes, Some(TOKEN), r#"{"events":[{"name":"x"}]}"#).0,
        201
    );
    // The scheme's name in any case.
    let mut response = agent()
        .post(&writes.url("/api/commits"))
        .header("Authorization", &format!("bearer {TOKEN}"))
        .send(r#"{"events":[{"name":"y"}]}"#)
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    assert_eq!(
        response.body_mut().read_json::<Value>().unwrap()["commit"],
        3
    );
    // Reads on loopback need no token.
    assert_eq!(get(&writes, "/api/commits/3").0, 200);
    drop(writes);
    // Beyond loopback, reads need it too (the test reaches the server through loopback).
    let file = dir.join("token");
    std::fs::write(&file, "from-the-file\n").unwrap();
    let open = Server::start_on(
        &path,
        "0.0.0.0:0",
        &["--token-file", file.to_str().unwrap()],
        Some(TOKEN),
    );
    assert_eq!(get(&open, "/api/commits/1").0, 401);
    let mut response = agent()
        .get(&open.url("/api/commits/1"))
        .header("Authorization", "Bearer from-the-file")
        .call()
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response.body_mut().read_json::<Value>().unwrap()["number"],
        1
    );
    drop(open);
    // No token: refused at start, where it would be needed.
    for args in [&["--allow-writes"][..], &["--listen", "0.0.0.0:0"][..]] {
        let output = Command::new(FOLDSTORE)
            .arg("serve")
            .arg(&path)
            .args(args)
            .env_remove("FOLDSTORE_TOKEN")
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("needs a token") && stderr.contains("--token-file"),
            "{stderr}"
        );
    }
    // A token file that is a FIFO (no writer would ever come) or a folder: refused at once.
    let fifo = dir.join("token-fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    for file in [&fifo, &dir.join("")] {
        let mut child = Command::new(FOLDSTORE)
            .arg("serve")
            .arg(&path)
            .args(["--listen", "127.0.0.1:0", "--token-file"])
            .arg(file)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > Duration::from_secs(30) {
                let _ = child.kill();
                panic!("serve hung on the token file {}", file.display());
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
        assert_eq!(status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("not a regular file"), "{stderr}");
    }
}

/// Reads Server-Sent Events: `(id, data)` of each `commit` event, until `want` are read.
fn read_events(reader: &mut impl BufRead, want: usize) -> Vec<(u64, Value)> {
    let mut found = Vec::new();
    let (mut id, mut data) = (None, None);
    let mut line = String::new();
    while found.len() < want {
        line.clear();
        assert!(reader.read_line(&mut line).unwrap() > 0, "the stream ended");
        let line = line.trim_end_matches(['\r', '\n']);
        if let Some(value) = line.strip_prefix("id: ") {
            id = Some(value.parse::<u64>().unwrap());
        } else if let Some(value) = line.strip_prefix("data: ") {
            data = Some(serde_json::from_str::<Value>(value).unwrap());
        } else if let Some(value) = line.strip_prefix("event: ") {
            assert_eq!(value, "commit", "{line}");
        } else if line.is_empty() {
            if let (Some(id), Some(data)) = (id.take(), data.take()) {
                found.push((id, data));
            }
        }
    }
    found
}

fn follow(server: &Server, path: &str, last_id: Option<u64>) -> impl BufRead {
    let mut request = agent().get(&server.url(path));
    if let Some(id) = last_id {
        request = request.header("Last-Event-ID", &id.to_string());
    }
    let response = request.call().unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    BufReader::new(response.into_body().into_reader())
}

#[test]
fn the_stream_resumes_with_last_event_id_skipping_and_repeating_nothing() {
    let dir = TestDir::new();
    let path = store_of(&dir, 5);
    let server = Server::start(&path, &[], Some(TOKEN));
    // Another process appends while the follower reads, drops and reconnects.
    let writer_path = path.clone();
    let writer = std::thread::spawn(move || {
        for k in 0..60 {
            let status = Command::new(FOLDSTORE)
                .args(["append"])
                .arg(&writer_path)
                .arg(format!("w{k}"))
                .stdout(Stdio::null())
                .status()
                .unwrap();
            assert!(status.success());
        }
    });
    let total = 65;
    let mut seen: Vec<u64> = Vec::new();
    let mut last = None;
    let mut round = 0;
    while seen.len() < total {
        let mut stream = match last {
            None => follow(&server, "/api/stream?from=1", None),
            // The header wins over from=.
            Some(id) => follow(&server, "/api/stream?from=1", Some(id)),
        };
        let take = (3 + round * 5).min(total - seen.len());
        for (id, data) in read_events(&mut stream, take) {
            assert_eq!(data["number"], id);
            seen.push(id);
            last = Some(id);
        }
        round += 1;
    }
    writer.join().unwrap();
    assert!(round >= 4, "{round} connections");
    assert_eq!(seen, (1..=total as u64).collect::<Vec<_>>());
    let names: Vec<Value> = (6..=10).map(|k| json!(format!("w{}", k - 6))).collect();
    let mut stream = follow(&server, "/api/stream?from=6", None);
    let got: Vec<Value> = read_events(&mut stream, 5)
        .into_iter()
        .map(|(_, d)| d["events"][0]["name"].clone())
        .collect();
    assert_eq!(got, names);
    assert_eq!(get(&server, "/api/stream?from=67").0, 404);
}

#[test]
fn a_hundred_followers_receive_every_commit() {
    let dir = TestDir::new();
    let path = dir.join("store");
    let followers = 100;
    let commits: u64 = 1_200;
    let store = Store::builder(&path)
        .layout(Layout::Journal)
        .durability(Durability::None)
        .open()
        .unwrap();
    store.ensure_folder().unwrap();
    store.log(&Event::new("first")).unwrap();
    let server = Server::start(&path, &[], Some(TOKEN));
    let ready = Arc::new(Barrier::new(followers + 1));
    let threads: Vec<_> = (0..followers)
        .map(|_| {
            let url = server.url("/api/stream");
            let ready = Arc::clone(&ready);
            std::thread::spawn(move || {
                // New commits only: from after the one there is.
                let response = agent().get(&url).call().unwrap();
                let mut stream = BufReader::new(response.into_body().into_reader());
                ready.wait();
                read_events(&mut stream, commits as usize)
                    .into_iter()
                    .map(|(id, _)| id)
                    .collect::<Vec<u64>>()
            })
        })
        .collect();
    ready.wait();
    let started = Instant::now();
    for k in 0..commits {
        store.log(&Event::with_data("tick", json!(k))).unwrap();
    }
    for thread in threads {
        assert_eq!(
            thread.join().unwrap(),
            (2..=commits + 1).collect::<Vec<_>>()
        );
    }
    eprintln!(
        "{followers} followers received {commits} commits each in {:?}",
        started.elapsed()
    );
}

/// Sends `request` on a new connection and reads until the server closes it: the text, and
/// how long it took.
fn raw_exchange(server: &Server, request: &[u8]) -> (String, Duration) {
    let mut raw = std::net::TcpStream::connect(server.base.trim_start_matches("http://")).unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    raw.set_write_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let started = Instant::now();
    // Written beside the reading: the server may answer (and close) before it has all.
    let mut writer = raw.try_clone().unwrap();
    let request = request.to_vec();
    let writing = std::thread::spawn(move || {
        let _ = writer.write_all(&request);
    });
    let mut answer = Vec::new();
    // Reset by the server instead of closed: what was read is the answer.
    let _ = std::io::Read::read_to_end(&mut raw, &mut answer);
    writing.join().unwrap();
    (
        String::from_utf8_lossy(&answer).into_owned(),
        started.elapsed(),
    )
}

#[test]
fn slow_clients_big_bodies_deep_and_damaged_commits() {
    let dir = TestDir::new();
    let path = dir.join("store");
    let store = Store::open(&path).unwrap();
    store.ensure_folder().unwrap();
    let depth = 4_000;
    let deep = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    store
        .log(&Event::with_data(
            "deep",
            Event::data_from_json(&deep).unwrap(),
        ))
        .unwrap();
    store.log(&Event::new("fine")).unwrap();
    std::fs::write(path.join("3.log"), b"{\"events\": [{\"name\": 7}]}").unwrap();
    store.log(&Event::new("after")).unwrap();
    let server = Server::start(&path, &["--allow-writes"], Some(TOKEN));
    // A header never finished: the connection is closed after the header timeout (10 s).
    let (answer, took) = raw_exchange(&server, b"GET /api/commits HTTP/1.1\r\nHost: te");
    assert!(
        took >= Duration::from_secs(9) && took < Duration::from_secs(30),
        "{took:?}: {answer}"
    );
    // A chunked body that grows past the limit: 413.
    let chunk = "a".repeat(1024 * 1024);
    let mut request = format!(
        "POST /api/commits HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {TOKEN}\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    for _ in 0..17 {
        request.push_str(&format!("{:x}\r\n{chunk}\r\n", chunk.len()));
    }
    request.push_str("0\r\n\r\n");
    let (answer, _) = raw_exchange(&server, request.as_bytes());
    assert!(
        answer.starts_with("HTTP/1.1 413"),
        "{}",
        &answer[..answer.len().min(300)]
    );
    // Data nested 4,000 levels comes back whole.
    let mut response = agent().get(&server.url("/api/commits/1")).call().unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let text = response.body_mut().read_to_string().unwrap();
    assert!(
        text.contains(&format!(r#""data":{deep}"#)),
        "{}",
        &text[..200]
    );
    // A damaged commit: 500 naming its file, in a range and alone; a stream stops there.
    for path in ["/api/commits/3", "/api/commits?from=2"] {
        let (status, body) = get(&server, path);
        assert_eq!(status, 500, "{path}: {body}");
        assert!(
            body["error"].as_str().unwrap().contains("3.log"),
            "{path}: {body}"
        );
    }
    let response = agent()
        .get(&server.url("/api/stream?from=2"))
        .call()
        .unwrap();
    let mut stream = BufReader::new(response.into_body().into_reader());
    assert_eq!(read_events(&mut stream, 1)[0].0, 2);
    let mut rest = String::new();
    while !rest.contains("\n\n") {
        assert!(stream.read_line(&mut rest).unwrap() > 0, "{rest}");
    }
    assert!(
        rest.starts_with("event: error\ndata: {\"error\":") && rest.contains("3.log"),
        "{rest}"
    );
    let (status, report) = get(&server, "/api/verify");
    assert_eq!((status, report["sound"].clone()), (200, json!(false)));
}
