//! The comparison program end to end, on small workloads: the tables asked for are measured,
//! their rows checked (every program's output is verified by the program itself), and the
//! report is well-formed JSON. Only figures' presence is checked here, never their size: speed
//! is judged from full runs (see the README), not from tests.

use std::process::Command;

use serde_json::Value;

/// Runs the comparison with `args` and returns its JSON report.
fn compare(args: &[&str]) -> Value {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let output = Command::new(env!("CARGO_BIN_EXE_foldstore-compare"))
        .args(args)
        .args(["--json", "--rounds", "1", "--dir"])
        .arg(dir.path())
        .output()
        .expect("run foldstore-compare");
    assert!(
        output.status.success(),
        "foldstore-compare {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "the report is not JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

/// The measured rate of row `row` of table `table`.
fn rate(report: &Value, table: &str, row: &str) -> f64 {
    let table = report["tables"]
        .as_array()
        .expect("tables")
        .iter()
        .find(|t| t["id"] == table)
        .unwrap_or_else(|| panic!("no table {table} in {report}"));
    let row = table["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["id"] == row)
        .unwrap_or_else(|| panic!("no row {row} in {table}"));
    row["commits_per_second"]
        .as_f64()
        .unwrap_or_else(|| panic!("row {row} has no rate"))
}

#[test]
fn synced_writers_in_threads_and_processes_are_measured_and_checked() {
    let report = compare(&[
        "--only",
        "journal_synced_single,journal_synced_threads,journal_synced_processes",
        "--synced-commits",
        "120",
    ]);
    let ids: Vec<&str> = report["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "journal_synced_single",
            "journal_synced_threads",
            "journal_synced_processes"
        ]
    );
    for (table, row) in [
        ("journal_synced_single", "foldstore-journal"),
        ("journal_synced_single", "bare-in-place"),
        ("journal_synced_threads", "foldstore-journal-threads"),
        ("journal_synced_processes", "foldstore-journal-processes"),
        ("journal_synced_processes", "sqlite-wal-processes"),
        ("journal_synced_processes", "sqlite-wal"),
    ] {
        assert!(rate(&report, table, row) > 0.0, "{table} {row}");
    }
    // Only the targets of the tables run are listed; the single writer is also measured
    // against the disk's limit.
    let targets = report["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 3, "{targets:?}");
    assert!(
        targets
            .iter()
            .any(|t| t["against"] == "bare-in-place" && t["ratio"].as_f64().unwrap() > 0.0),
        "{targets:?}"
    );
    assert_eq!(report["original_skipped"], "not needed by the tables run");
}

#[test]
fn decisions_from_threads_and_processes_are_measured_and_checked() {
    let report = compare(&["--only", "journal_decisions", "--decisions", "40"]);
    let table = &report["tables"][0];
    assert_eq!(table["id"], "journal_decisions");
    assert_eq!(report["parameters"]["decisions"], 40);
    let rows = table["rows"].as_array().unwrap();
    let ids: Vec<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        ["one-thread", "threads-8", "processes-4", "processes-4x2"]
    );
    for row in rows {
        assert!(rate(&report, "journal_decisions", row["id"].as_str().unwrap()) > 0.0);
        // No decision depends on another: none runs out of attempts, none needs two.
        assert_eq!(row["out_of_attempts"], 0, "{row}");
        assert_eq!(row["attempts_per_decision"], 1.0, "{row}");
    }
    let targets = report["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 2, "{targets:?}");
}

#[test]
fn the_typed_model_fold_is_measured_against_the_replay() {
    let report = compare(&["--only", "journal_replay_long", "--replay-commits", "20000"]);
    for row in [
        "sqlite-wal",
        "foldstore-journal",
        "foldstore-journal-typed-fold",
    ] {
        assert!(rate(&report, "journal_replay_long", row) > 0.0, "{row}");
    }
    let targets = report["targets"].as_array().unwrap();
    assert!(
        targets
            .iter()
            .any(|t| t["row"] == "foldstore-journal-typed-fold"
                && t["against"] == "foldstore-journal"
                && t["ratio"].as_f64().unwrap() > 0.0),
        "{targets:?}"
    );
}
