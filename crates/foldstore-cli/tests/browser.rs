//! The page of `foldstore serve` in headless Chromium, driven over WebDriver (fantoccini):
//! listing and paging the log of a store the original package wrote, filtering, a commit's
//! view, live mode with a commit appended by another process, and hostile names shown as text.
//!
//! `bash .ci/test` starts chromedriver and sets FOLDSTORE_TEST_WEBDRIVER; without it, a
//! `chromedriver` on PATH is started here. With neither, the tests fail when CI=true and are
//! skipped (with a message) otherwise.

mod util;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use foldstore::{Event, Store};
use serde_json::{json, Value};
use util::server::Server;
use util::{TestDir, FOLDSTORE};

/// How long the page may take to show what a test waits for.
const PATIENCE: Duration = Duration::from_secs(15);

/// A headless Chromium session, with the chromedriver started for it (if any), stopped when
/// dropped.
struct Browser {
    client: Client,
    driver: Option<Child>,
}

impl std::ops::Deref for Browser {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.client
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(driver) = &mut self.driver {
            let _ = driver.kill();
            let _ = driver.wait();
        }
    }
}

/// The WebDriver server: FOLDSTORE_TEST_WEBDRIVER, else a chromedriver started here, else
/// `None`, said on stderr (a failure when CI=true).
fn webdriver() -> Option<(String, Option<Child>)> {
    if let Ok(address) = std::env::var("FOLDSTORE_TEST_WEBDRIVER") {
        return Some((address, None));
    }
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    match Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(mut child) => {
            let deadline = Instant::now() + Duration::from_secs(10);
            while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
                if Instant::now() > deadline {
                    let _ = child.kill();
                    panic!("chromedriver did not listen on port {port} within 10 s");
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            Some((format!("http://127.0.0.1:{port}"), Some(child)))
        }
        Err(e) => {
            let why = format!(
                "no browser for the browser tests: FOLDSTORE_TEST_WEBDRIVER is not set and \
                 chromedriver cannot be started ({e}); run them through `bash .ci/test`, or \
                 install the Debian packages chromium and chromium-driver"
            );
            assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
            eprintln!("skipped: {why}");
            None
        }
    }
}

/// A new headless Chromium session, or `None` when the tests are skipped.
async fn browser() -> Option<Browser> {
    let (address, driver) = webdriver()?;
    let mut options = json!({"args": [
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--window-size=1280,900", "--hide-scrollbars",
    ]});
    if let Ok(binary) = std::env::var("FOLDSTORE_TEST_CHROMIUM") {
        options["binary"] = binary.into();
    }
    let mut capabilities = serde_json::Map::new();
    capabilities.insert("goog:chromeOptions".to_owned(), options);
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let client = ClientBuilder::new(connector)
        .capabilities(capabilities)
        .connect(&address)
        .await
        .unwrap_or_else(|e| panic!("cannot open a Chromium session through {address}: {e}"));
    Some(Browser { client, driver })
}

/// Runs `script` (a function body returning a value) until it returns `expected`; panics with
/// the last value after [`PATIENCE`].
async fn until(client: &Client, script: &str, expected: &Value) -> Duration {
    let start = Instant::now();
    loop {
        // An error (an element not there yet) is a value not yet right.
        let value = match client.execute(script, vec![]).await {
            Ok(value) => value,
            Err(e) => Value::String(format!("error: {e}")),
        };
        if &value == expected {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < PATIENCE,
            "{script}\n  returned {value}\n  expected {expected}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The commit numbers the log's table shows, top to bottom.
const LOG_ROWS: &str = "return [...document.querySelectorAll('#log-table tbody tr')]\
    .map((r) => Number(r.dataset.commit));";

/// Whether the view `name` is shown and done.
fn ready(name: &str) -> String {
    format!(
        "const v = document.querySelector('#main .view'); \
         return v !== null && v.dataset.view === '{name}' && v.dataset.state;"
    )
}

async fn click(client: &Client, css: &str) {
    client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css}: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("cannot click {css}: {e}"));
}

fn range(from: u64, to: u64) -> Value {
    (from..=to).rev().collect::<Vec<u64>>().into()
}

/// A copy of the original package's store (a store of 27 commits) in `dir`.
fn fixture(dir: &TestDir) -> PathBuf {
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../foldstore/tests/fixtures/node-memberlist/store");
    let copy = dir.join("store");
    std::fs::create_dir_all(&copy).unwrap();
    for entry in std::fs::read_dir(&source).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), copy.join(entry.file_name())).unwrap();
    }
    copy
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_the_log_and_pages_back_and_forth() {
    let Some(client) = browser().await else {
        return;
    };
    let dir = TestDir::new();
    let server = Server::start(&fixture(&dir), &[], None);
    client.goto(&server.url("/#/log?limit=10")).await.unwrap();
    until(&client, &ready("log"), &"ready".into()).await;
    until(&client, LOG_ROWS, &range(18, 27)).await;
    click(&client, "#older").await;
    until(&client, LOG_ROWS, &range(8, 17)).await;
    click(&client, "#older").await;
    until(&client, LOG_ROWS, &range(1, 7)).await;
    let older_disabled = "return document.querySelector('#older').disabled;";
    until(&client, older_disabled, &true.into()).await;
    click(&client, "#newer").await;
    until(&client, LOG_ROWS, &range(8, 17)).await;
    click(&client, "#newest").await;
    until(&client, LOG_ROWS, &range(18, 27)).await;
    // Go to a commit by number: it heads the page.
    let field = client.find(Locator::Css("#goto-commit")).await.unwrap();
    field.send_keys("5\n").await.unwrap();
    until(&client, LOG_ROWS, &range(1, 5)).await;
    // The names of the events are listed in their rows.
    let names = "return [...document.querySelectorAll('#log-table tr[data-commit=\"3\"] .name')]\
        .map((n) => n.textContent);";
    until(&client, names, &json!(["memberHasMoved"])).await;
    client.client.clone().close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_by_event_name_and_text() {
    let Some(client) = browser().await else {
        return;
    };
    let dir = TestDir::new();
    let server = Server::start(&fixture(&dir), &[], None);
    client.goto(&server.url("/#/log")).await.unwrap();
    until(&client, &ready("log"), &"ready".into()).await;
    let name = client
        .find(Locator::Css("#filters input[name=name]"))
        .await
        .unwrap();
    // The original's rule: MemberHasMoved is memberHasMoved.
    name.send_keys("MemberHasMoved").await.unwrap();
    click(&client, "#apply-filters").await;
    until(&client, LOG_ROWS, &json!([26, 3])).await;
    let status = "return document.querySelector('#log-status').textContent;";
    let shown = client.execute(status, vec![]).await.unwrap();
    assert!(
        shown
            .as_str()
            .unwrap()
            .contains("2 matching in commits 27–1"),
        "{shown}"
    );
    // Text in data, at the server; with the name filter gone.
    client
        .goto(&server.url("/#/log?text=second%20STAR"))
        .await
        .unwrap();
    until(&client, LOG_ROWS, &json!([3])).await;
    client.client.clone().close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opens_a_commit_with_its_headers_events_and_bytes() {
    let Some(client) = browser().await else {
        return;
    };
    let dir = TestDir::new();
    let server = Server::start(&fixture(&dir), &[], None);
    client.goto(&server.url("/#/log")).await.unwrap();
    until(&client, LOG_ROWS, &range(1, 27)).await;
    click(&client, "#log-table tr[data-commit='3'] a.commit-link").await;
    until(&client, &ready("commit"), &"ready".into()).await;
    let event =
        "return [...document.querySelectorAll('#events .event-name')].map((n) => n.textContent);";
    until(&client, event, &json!(["memberHasMoved"])).await;
    let data = "return JSON.parse(document.querySelector('#events pre.data').textContent);";
    until(
        &client,
        data,
        &json!({"name": "peter pan", "address": {"street": "Second star to the right"}}),
    )
    .await;
    let headers = "return document.querySelector('table td .name').textContent;";
    until(&client, headers, &"time".into()).await;
    click(&client, "#show-raw").await;
    let raw = "const r = document.querySelector('#raw'); return r && JSON.parse(r.textContent).events[0].name;";
    until(&client, raw, &"memberHasMoved".into()).await;
    client.client.clone().close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_mode_shows_a_commit_of_another_process_within_a_second() {
    let Some(client) = browser().await else {
        return;
    };
    let dir = TestDir::new();
    let store = fixture(&dir);
    let server = Server::start(&store, &[], None);
    client.goto(&server.url("/#/live")).await.unwrap();
    until(&client, &ready("live"), &"ready".into()).await;
    let open = "return document.querySelector('#main .view').dataset.live || null;";
    until(&client, open, &"open".into()).await;
    let appended = Command::new(FOLDSTORE)
        .arg("append")
        .arg(&store)
        .args(["liveArrival", r#"{"n": 1}"#])
        .output()
        .expect("run foldstore append");
    assert!(appended.status.success(), "{appended:?}");
    let rows = "return [...document.querySelectorAll('#live-table tbody tr')]\
        .map((r) => [Number(r.dataset.commit), r.querySelector('.name').textContent]);";
    let took = until(&client, rows, &json!([[28, "liveArrival"]])).await;
    assert!(
        took < Duration::from_secs(1),
        "the commit took {took:?} to show"
    );
    client.client.clone().close().await.unwrap();
}

/// A name written to run script if parsed as HTML.
const HOSTILE_NAME: &str = "<img src=x onerror=\"window.pwned=1\">";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_names_headers_and_data_show_as_text() {
    let Some(client) = browser().await else {
        return;
    };
    let dir = TestDir::new();
    let path = dir.join("store");
    let store = Store::open(&path).unwrap();
    store.ensure_folder().unwrap();
    store
        .log(&Event::with_data(
            HOSTILE_NAME,
            json!({"<script>window.pwned=2</script>": "<b>bold</b>"}),
        ))
        .unwrap();
    store.log(&Event::new("red\u{1b}[31malert")).unwrap();
    let server = Server::start(&path, &[], None);
    for view in ["#/log", "#/commit/1", "#/chart", "#/shapes"] {
        client.goto(&server.url(&format!("/{view}"))).await.unwrap();
        let name = view.split('/').nth(1).unwrap();
        let name = if name == "shapes" { "shapes" } else { name };
        until(&client, &ready(name), &"ready".into()).await;
        let injected =
            "return [document.querySelectorAll('#main img, #main script, #main b').length, \
            window.pwned === undefined];";
        until(&client, injected, &json!([0, true])).await;
        let names =
            "return [...document.querySelectorAll('#main .name')].map((n) => n.textContent)\
            .filter((t) => t.includes('img') || t.includes('alert'));";
        let shown = client.execute(names, vec![]).await.unwrap();
        let shown: Vec<&str> = shown
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert!(shown.contains(&HOSTILE_NAME), "{view}: {shown:?}");
        if view != "#/commit/1" {
            // The terminal escape is shown as an escape, not sent to the screen.
            assert!(shown.contains(&"red\\u{1b}[31malert"), "{view}: {shown:?}");
        }
        // And it is visible: the browser draws it.
        let visible = client
            .find(Locator::XPath(&format!(
                "//*[@id='main']//*[contains(@class, 'name') and text()='{HOSTILE_NAME}']"
            )))
            .await
            .unwrap();
        assert!(visible.is_displayed().await.unwrap(), "{view}");
    }
    client.goto(&server.url("/#/commit/1")).await.unwrap();
    let data = "return document.querySelector('#events pre.data').textContent;";
    until(
        &client,
        data,
        &"{\n  \"<script>window.pwned=2</script>\": \"<b>bold</b>\"\n}".into(),
    )
    .await;
    client.client.clone().close().await.unwrap();
}

/// A store for the pictures of the docs: 600 commits over three hours, busier in the middle,
/// of the membership events, with a snapshot-free health.
fn picture_store(dir: &TestDir) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    let path = dir.join("members");
    let next = Arc::new(AtomicU64::new(0));
    let clock = next.clone();
    let start = humantime::parse_rfc3339("2026-12-05T09:00:00Z").unwrap();
    let store = Store::builder(&path)
        .headers(move || {
            let k = clock.load(Ordering::SeqCst) as f64;
            // Denser in the middle: the k-th commit's minute grows slowly there.
            let minute = 90.0 + 90.0 * ((k / 600.0) * 2.0 - 1.0).powi(3);
            let at = start + Duration::from_secs_f64(minute * 60.0);
            let mut headers = serde_json::Map::new();
            headers.insert(
                "time".to_owned(),
                humantime::format_rfc3339_millis(at).to_string().into(),
            );
            headers.insert(
                "user".to_owned(),
                ["ada", "grace", "linus"][k as usize % 3].into(),
            );
            headers
        })
        .open()
        .unwrap();
    store.ensure_folder().unwrap();
    let cities = ["Oslo", "Bergen", "Rykkinn", "Tromsø", "Trondheim"];
    for k in 0..600u64 {
        next.store(k, std::sync::atomic::Ordering::SeqCst);
        let member = format!("member {}", k % 97);
        let city = cities[(k % 5) as usize];
        let event = match k % 7 {
            0 | 3 | 5 => Event::with_data(
                "newMemberRegistered",
                json!({"member": {"name": member, "address": {"street": format!("{k} Storgata"), "city": city}, "membershipLevel": "gold"}}),
            ),
            1 | 4 => Event::with_data(
                "memberHasMoved",
                json!({"name": member, "address": {"street": format!("{k} Kirkeveien"), "city": city}}),
            ),
            2 => Event::with_data(
                "addressCorrected",
                json!({"name": member, "address": format!("{k} Fjordvegen, {city}")}),
            ),
            _ => Event::with_data("membershipEnded", json!({"name": member})),
        };
        store
            .log(&event.tagged([format!("member:{}", k % 97)]))
            .unwrap();
    }
    path
}

/// Takes the pictures of docs/images/ (run by hand: `cargo test -p foldstore-cli --test
/// browser -- --ignored pictures`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "writes docs/images/; run by hand when the page changes"]
async fn pictures() {
    let Some(client) = browser().await else {
        return;
    };
    let dir = TestDir::new();
    let server = Server::start(&picture_store(&dir), &[], None);
    let images = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/images");
    std::fs::create_dir_all(&images).unwrap();
    // Health with snapshots: the original package's store.
    let original = Server::start(&fixture(&dir), &[], None);
    for (server, hash, view, file) in [
        (&server, "#/log?limit=25", "log", "web-log.png"),
        (
            &server,
            "#/log?name=memberHasMoved&text=oslo",
            "log",
            "web-log-filtered.png",
        ),
        (&server, "#/commit/598", "commit", "web-commit.png"),
        (&server, "#/chart?from=1", "chart", "web-chart.png"),
        (&original, "#/health", "health", "web-health.png"),
        (&server, "#/shapes", "shapes", "web-shapes.png"),
    ] {
        client.goto(&server.url(&format!("/{hash}"))).await.unwrap();
        until(&client, &ready(view), &"ready".into()).await;
        if view == "commit" {
            click(&client, "#show-raw").await;
            until(
                &client,
                "return document.querySelector('#raw') !== null;",
                &true.into(),
            )
            .await;
        }
        let png = client.screenshot().await.unwrap();
        std::fs::write(images.join(file), png).unwrap();
    }
    client.client.clone().close().await.unwrap();
}
