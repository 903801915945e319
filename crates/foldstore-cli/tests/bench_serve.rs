//! `foldstore bench serve` on small sizes: its figures, its checks, and its kept journal.

mod util;

use serde_json::Value;
use util::{foldstore, TestDir};

fn bench_serve(cache: &std::path::Path) -> (Value, String) {
    let output = foldstore()
        .args(["bench", "serve", "--commits", "300", "--page-at", "250"])
        .args([
            "--requests",
            "5",
            "--followers",
            "3",
            "--follow-commits",
            "40",
        ])
        .args(["--clients", "2", "--appends", "20", "--cache"])
        .arg(cache)
        .output()
        .expect("run foldstore bench serve");
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(output.status.success(), "{stderr}");
    (serde_json::from_slice(&output.stdout).unwrap(), stderr)
}

#[test]
fn measures_paging_followers_and_appends_and_keeps_its_journal() {
    let dir = TestDir::new();
    let cache = dir.join("cache");
    let (report, said) = bench_serve(&cache);
    assert!(said.contains("making a journal of 300 commits"), "{said}");
    assert_eq!(report["workload"], "serve");
    let paging = &report["paging"];
    assert_eq!(paging["server_ms"]["requests"], 5);
    assert_eq!(paging["client_ms"]["requests"], 5);
    let (p50, p99) = (
        paging["server_ms"]["p50"].as_f64().unwrap(),
        paging["server_ms"]["p99"].as_f64().unwrap(),
    );
    assert!(0.0 < p50 && p50 <= p99, "{paging}");
    assert_eq!(report["followers"]["every_commit_received"], true);
    assert_eq!(report["followers"]["followers"], 3);
    let appends = &report["appends"];
    assert_eq!(appends["commits"], 20);
    let ratio = appends["ratio"].as_f64().unwrap();
    let rates = appends["api_commits_per_second"].as_f64().unwrap()
        / appends["bench_append_commits_per_second"].as_f64().unwrap();
    assert!((ratio - rates).abs() < 1e-9 && ratio > 0.0, "{appends}");
    assert!(cache.join("serve-journal-300").is_dir());
    // The second run pages the kept journal without making it again.
    let (_, said) = bench_serve(&cache);
    assert!(!said.contains("making a journal"), "{said}");
}

#[test]
fn refuses_to_page_beyond_its_journal() {
    let dir = TestDir::new();
    let output = foldstore()
        .args([
            "bench",
            "serve",
            "--commits",
            "10",
            "--page-at",
            "11",
            "--cache",
        ])
        .arg(dir.join("cache"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("--page-at 11 is beyond --commits 10"),
        "{stderr}"
    );
}
