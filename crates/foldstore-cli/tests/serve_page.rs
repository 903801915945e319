//! `foldstore serve`'s page and the paths it uses: the filters of `/api/commits` (bounded
//! scans that say where they stopped), raw bytes, the chart, schema and health, the cache of
//! whole-store reports, and the security headers.

mod util;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use foldstore::{Durability, Event, Layout, Store};
use serde_json::{json, Value};
use util::server::{agent, get, numbers, Server};
use util::TestDir;

/// A loose store of 12 commits: commit k holds `e{k}` tagged `n:{k % 3}` with data
/// `{"k": k, "city": ...}`, under the header `user` (`ada` for even k, else `bob`).
fn small_store(dir: &TestDir) -> std::path::PathBuf {
    let path = dir.join("store");
    let current = Arc::new(AtomicU64::new(0));
    let k_now = current.clone();
    let store = Store::builder(&path)
        .headers(move || {
            let user = if k_now.load(Ordering::SeqCst) % 2 == 0 {
                "ada"
            } else {
                "bob"
            };
            json!({"user": user}).as_object().unwrap().clone()
        })
        .open()
        .unwrap();
    store.ensure_folder().unwrap();
    for k in 1..=12u64 {
        current.store(k, Ordering::SeqCst);
        let city = if k == 7 { "Oslo" } else { "Bergen" };
        store
            .log(
                &Event::with_data(format!("e{k}"), json!({"k": k, "city": city}))
                    .tagged([format!("n:{}", k % 3)]),
            )
            .unwrap();
    }
    path
}

#[test]
fn filters_select_commits_by_name_tag_header_time_and_text() {
    let dir = TestDir::new();
    let server = Server::start(&small_store(&dir), &[], None);
    let page = |query: &str| {
        let (status, page) = get(&server, &format!("/api/commits?{query}"));
        assert_eq!(status, 200, "{query}: {page}");
        page
    };
    assert_eq!(numbers(&page("order=newest&name=e3&name=E5")), [5, 3]);
    assert_eq!(numbers(&page("tag=n:1")), [1, 4, 7, 10]);
    assert_eq!(
        numbers(&page("order=newest&tag=n:1&header=user=ada")),
        [10, 4]
    );
    assert_eq!(numbers(&page("text=oslo")), [7]);
    assert_eq!(numbers(&page("text=OSLO&name=e8")), Vec::<u64>::new());
    assert_eq!(
        numbers(&page("since=2000-01-01&until=1h")),
        Vec::<u64>::new()
    );
    assert_eq!(numbers(&page("since=2000-01-01&limit=3")).len(), 3);
    // A full page stops where it is full, and says so.
    let first = page("order=newest&header=user=bob&limit=2");
    assert_eq!(numbers(&first), [11, 9]);
    assert_eq!(first["scanned"], json!({"from": 9, "to": 12}));
    assert_eq!(first["next"], json!(8));
    let rest = page("order=newest&header=user=bob&to=8");
    assert_eq!(numbers(&rest), [7, 5, 3, 1]);
    assert_eq!(rest["next"], Value::Null);
    for bad in [
        "header=user",
        "since=yesterday-ish",
        "order=newest&text=x&limit=0",
    ] {
        let (status, body) = get(&server, &format!("/api/commits?{bad}"));
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(body["error"].as_str().unwrap().len() > 10, "{body}");
    }
}

#[test]
fn a_filter_that_matches_rarely_stops_after_its_budget_and_says_where() {
    let dir = TestDir::new();
    let path = dir.join("store");
    let store = Store::builder(&path)
        .layout(Layout::Journal)
        .durability(Durability::None)
        .open()
        .unwrap();
    store.ensure_folder().unwrap();
    store.log(&Event::new("rare")).unwrap();
    for _ in 0..10_049 {
        store.log(&Event::new("common")).unwrap();
    }
    let server = Server::start(&path, &[], None);
    let (_, first) = get(&server, "/api/commits?order=newest&name=rare");
    assert_eq!(numbers(&first), Vec::<u64>::new());
    // 10,000 commits looked at, from the newest: 10,050 down to 51.
    assert_eq!(first["scanned"], json!({"from": 51, "to": 10_050}));
    assert_eq!(first["next"], json!(50));
    let (_, second) = get(&server, "/api/commits?order=newest&name=rare&to=50");
    assert_eq!(numbers(&second), [1]);
    assert_eq!(second["next"], Value::Null);
    // Oldest first, likewise from the other end.
    let (_, up) = get(&server, "/api/commits?name=common&from=2&limit=1000");
    assert_eq!(numbers(&up).len(), 1000);
    assert_eq!(up["next"], json!(1002));
}

#[test]
fn raw_bytes_chart_schema_and_health() {
    let dir = TestDir::new();
    let path = small_store(&dir);
    let server = Server::start(&path, &[], None);
    let mut response = agent()
        .get(&server.url("/api/commits/7/raw"))
        .call()
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let bytes = response.body_mut().read_to_vec().unwrap();
    assert_eq!(bytes, std::fs::read(path.join("7.log")).unwrap());
    let (status, _) = get(&server, "/api/commits/13/raw");
    assert_eq!(status, 404);

    let (_, chart) = get(&server, "/api/chart?from=3");
    assert_eq!(
        (chart["from"].clone(), chart["to"].clone()),
        (json!(3), json!(12))
    );
    assert_eq!(chart["unit"], "minute");
    let counted: u64 = chart["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["commits"].as_u64().unwrap())
        .sum();
    assert_eq!(counted, 10);
    assert_eq!(chart["names"].as_array().unwrap().len(), 10);
    assert_eq!(chart["names"][0], json!({"name": "e10", "events": 1}));

    let (_, schema) = get(&server, "/api/schema");
    assert_eq!(schema["events"], 12);
    assert_eq!(
        schema["names"][0]["shapes"][0]["shape"],
        "{city: string, k: number}"
    );

    let (_, health) = get(&server, "/api/health");
    assert_eq!(health["verify"]["sound"], true);
    assert_eq!(health["snapshots"]["models"], json!([]));
    assert_eq!(health["quarantine"]["files"], json!([]));
    // Something moved aside shows.
    let quarantine = path.join("foldstore-quarantine");
    std::fs::create_dir_all(quarantine.join("2026")).unwrap();
    std::fs::write(quarantine.join("2026/13.log"), b"{broken").unwrap();
    Store::open(&path).unwrap().log(&Event::new("e13")).unwrap();
    let (_, health) = get(&server, "/api/health");
    assert_eq!(health["verify"]["tip"], 13, "made again once the tip moved");
    assert_eq!(
        health["quarantine"]["files"],
        json!([{"path": "2026/13.log", "bytes": 7}])
    );
}

#[test]
fn reports_are_kept_until_the_tip_moves() {
    let dir = TestDir::new();
    let path = small_store(&dir);
    let server = Server::start(&path, &[], None);
    let (_, before) = get(&server, "/api/stats");
    assert_eq!(before["commits"], 12);
    let (_, again) = get(&server, "/api/stats");
    assert_eq!(again, before);
    Store::open(&path).unwrap().log(&Event::new("e13")).unwrap();
    let (_, after) = get(&server, "/api/stats");
    assert_eq!(after["commits"], 13);
    let (_, verify) = get(&server, "/api/verify");
    assert_eq!(verify["tip"], 13);
}

#[test]
fn the_page_is_served_with_a_strict_policy() {
    let dir = TestDir::new();
    let server = Server::start(&small_store(&dir), &[], None);
    for (path, kind) in [
        ("/", "text/html; charset=utf-8"),
        ("/page/app.js", "text/javascript; charset=utf-8"),
        ("/page/style.css", "text/css; charset=utf-8"),
        ("/api/commits", "application/json"),
    ] {
        let response = agent().get(&server.url(path)).call().unwrap();
        assert_eq!(response.status().as_u16(), 200, "{path}");
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default()
        };
        assert_eq!(header("content-type"), kind, "{path}");
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
        let policy = header("content-security-policy");
        assert!(policy.contains("script-src 'self'"), "{path}: {policy}");
        assert!(!policy.contains("unsafe"), "{path}: {policy}");
    }
    let (status, body) = get(&server, "/page/..%2Fmod.rs");
    assert_eq!(status, 404, "{body}");
    // The page's scripts never hand the store's text to the HTML parser.
    for file in ["app.js", "dom.js", "log.js", "views.js", "chart.js"] {
        let mut response = agent()
            .get(&server.url(&format!("/page/{file}")))
            .call()
            .unwrap();
        let text = response.body_mut().read_to_string().unwrap();
        for sink in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
        ] {
            assert!(!text.contains(sink), "{file} uses {sink}");
        }
    }
}

#[test]
fn connections_beyond_the_limit_get_503_until_one_ends() {
    use std::io::{Read, Write};
    let dir = TestDir::new();
    let server = Server::start(&small_store(&dir), &["--max-connections", "2"], None);
    let address = server.base.trim_start_matches("http://").to_owned();
    // Two connections that send nothing yet hold both places.
    let first = std::net::TcpStream::connect(&address).unwrap();
    let _second = std::net::TcpStream::connect(&address).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let ask = || {
        let mut stream = std::net::TcpStream::connect(&address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        stream
            .write_all(b"GET /api/commits?limit=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        answer
    };
    let refused = ask();
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    assert!(refused.contains("too many connections"), "{refused}");
    drop(first);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let answer = ask();
        if answer.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still refused: {answer}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn hostile_parameters_get_answers_not_panics() {
    let dir = TestDir::new();
    let server = Server::start(&small_store(&dir), &[], None);
    let max = u64::MAX;
    let long = "x".repeat(20_000);
    for path in [
        format!("/api/commits?order=newest&name=e1&to={max}"),
        format!("/api/commits?name=e1&from={max}"),
        format!("/api/commits?name=e1&from={max}&to={max}"),
        format!("/api/commits?text={long}"),
        "/api/commits?since=9999-12-31T23:59:59Z&until=0001-01-01".to_owned(),
        "/api/commits?header=%00=%1b%5B31m&name=%3Cimg%3E".to_owned(),
        format!("/api/chart?from={max}&to={max}"),
        format!("/api/chart?from=0&to={max}"),
        "/api/chart?from=5&to=2".to_owned(),
        format!("/api/commits/{max}/raw"),
        "/api/commits/0/raw".to_owned(),
        "/api/commits/-1/raw".to_owned(),
    ] {
        let (status, body) = get(&server, &path);
        assert!([200, 400, 404].contains(&status), "{path}: {status} {body}");
        assert!(status == 200 || body["error"].is_string(), "{path}: {body}");
    }
    let (status, _) = get(&server, "/api/stats");
    assert_eq!(status, 200, "the server still answers");
}
