//! The results: one table per workload (a row per program, each against the workload's
//! baseline), the targets checked against them, as text or JSON.

use std::fmt::Write as _;

use serde_json::{json, Value};

use crate::workload::Measured;

/// How a ratio against the baseline reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ratio {
    /// As a multiple: `24.1x`.
    Times,
    /// As a share: `87%`.
    Percent,
}

impl Ratio {
    fn show(self, ratio: f64) -> String {
        match self {
            Ratio::Times => format!("{ratio:.1}x"),
            Ratio::Percent => format!("{:.0}%", ratio * 100.0),
        }
    }
}

/// One program's runs on one workload.
#[derive(Debug)]
pub struct Row {
    /// A stable id: `original`, `foldstore-loose`, `bare-loop`, `sqlite-wal`.
    pub id: &'static str,
    /// What ran, for people.
    pub label: String,
    /// Every timed run, in order.
    pub runs: Vec<Measured>,
    /// Why the program was not run, when it was not.
    pub skipped: Option<String>,
}

impl Row {
    /// A row of runs to come.
    pub fn new(id: &'static str, label: impl Into<String>) -> Row {
        Row {
            id,
            label: label.into(),
            runs: Vec::new(),
            skipped: None,
        }
    }

    /// A row for a program that could not be run.
    pub fn skipped(id: &'static str, label: impl Into<String>, why: impl Into<String>) -> Row {
        Row {
            skipped: Some(why.into()),
            ..Row::new(id, label)
        }
    }

    /// The median of the runs' commits per second.
    pub fn commits_per_second(&self) -> Option<f64> {
        let mut rates: Vec<f64> = self.runs.iter().map(Measured::commits_per_second).collect();
        if rates.is_empty() {
            return None;
        }
        rates.sort_by(f64::total_cmp);
        let middle = rates.len() / 2;
        Some(if rates.len() % 2 == 1 {
            rates[middle]
        } else {
            (rates[middle - 1] + rates[middle]) / 2.0
        })
    }
}

/// One workload's results.
#[derive(Debug)]
pub struct Table {
    /// A stable id, e.g. `append_no_sync_10000`.
    pub id: String,
    /// What was measured, for people.
    pub title: String,
    /// How many commits each run wrote or read.
    pub commits: u64,
    /// The id of the row the others are compared with.
    pub baseline: &'static str,
    /// How the ratios read.
    pub ratio: Ratio,
    /// The programs.
    pub rows: Vec<Row>,
}

impl Table {
    /// The row with `id`.
    pub fn row(&self, id: &str) -> Option<&Row> {
        self.rows.iter().find(|row| row.id == id)
    }

    /// `row`'s median rate over the baseline's, when both ran.
    pub fn ratio_of(&self, row: &Row) -> Option<f64> {
        let baseline = self.row(self.baseline)?.commits_per_second()?;
        Some(row.commits_per_second()? / baseline)
    }
}

/// A target of the issue: `row` of table `table` at least `at_least` times `against`'s rate
/// (the table's baseline).
#[derive(Debug)]
pub struct Target {
    /// What the target is, for people.
    pub what: String,
    /// The table's id.
    pub table: String,
    /// The row measured against the table's baseline.
    pub row: &'static str,
    /// The least ratio that meets the target.
    pub at_least: f64,
}

/// A target checked: the ratio measured, or why there is none.
#[derive(Debug)]
pub struct Checked<'t> {
    target: &'t Target,
    ratio: Result<f64, String>,
    style: Ratio,
}

impl Checked<'_> {
    /// Whether the target was met (`None`: not measured).
    pub fn met(&self) -> Option<bool> {
        self.ratio.as_ref().ok().map(|r| *r >= self.target.at_least)
    }
}

/// Checks `targets` against `tables`.
pub fn check<'t>(targets: &'t [Target], tables: &[Table]) -> Vec<Checked<'t>> {
    targets
        .iter()
        .map(|target| {
            let table = tables.iter().find(|t| t.id == target.table);
            let style = table.map_or(Ratio::Times, |t| t.ratio);
            let ratio = match table {
                None => Err(format!("table {} was not run", target.table)),
                Some(table) => {
                    let skipped = table.rows.iter().find_map(|row| {
                        (row.id == target.row || row.id == table.baseline)
                            .then_some(row.skipped.as_ref())
                            .flatten()
                            .map(|why| format!("{} was skipped: {why}", row.label))
                    });
                    match (skipped, table.row(target.row)) {
                        (Some(why), _) => Err(why),
                        (None, Some(row)) => {
                            table.ratio_of(row).ok_or_else(|| "not measured".to_owned())
                        }
                        (None, None) => Err(format!("no row {}", target.row)),
                    }
                }
            };
            Checked {
                target,
                ratio,
                style,
            }
        })
        .collect()
}

/// `1234567.8` as `1,234,568`.
pub fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The tables and the targets as text.
pub fn text(heading: &str, tables: &[Table], checked: &[Checked<'_>]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{heading}");
    let width = tables
        .iter()
        .flat_map(|t| t.rows.iter().map(|r| r.label.len()))
        .max()
        .unwrap_or(0);
    for table in tables {
        let baseline = table
            .row(table.baseline)
            .map_or(table.baseline, |row| row.label.as_str());
        let _ = writeln!(out, "\n{}", table.title);
        let _ = writeln!(out, "  ratio: against {baseline}");
        let _ = writeln!(
            out,
            "  {:width$}  {:>11}  {:>8}",
            "program", "commits/s", "ratio"
        );
        for row in &table.rows {
            match (&row.skipped, row.commits_per_second()) {
                (Some(why), _) => {
                    let _ = writeln!(out, "  {:width$}  skipped: {why}", row.label);
                }
                (None, Some(rate)) => {
                    let ratio = table
                        .ratio_of(row)
                        .map_or_else(|| "-".to_owned(), |r| table.ratio.show(r));
                    let _ = writeln!(
                        out,
                        "  {:width$}  {:>11}  {:>8}",
                        row.label,
                        thousands(rate),
                        ratio
                    );
                }
                (None, None) => {
                    let _ = writeln!(out, "  {:width$}  not run", row.label);
                }
            }
        }
    }
    let _ = writeln!(out, "\ntargets (loose layout)");
    for c in checked {
        let wanted = c.style.show(c.target.at_least);
        let _ = match (&c.ratio, c.met()) {
            (Ok(ratio), Some(true)) => writeln!(
                out,
                "  met     {}: {} (target at least {wanted})",
                c.target.what,
                c.style.show(*ratio)
            ),
            (Ok(ratio), _) => writeln!(
                out,
                "  MISSED  {}: {} (target at least {wanted})",
                c.target.what,
                c.style.show(*ratio)
            ),
            (Err(why), _) => writeln!(
                out,
                "  unknown {}: not measured ({why}) (target at least {wanted})",
                c.target.what
            ),
        };
    }
    out
}

/// The tables and the targets as JSON.
pub fn json(tables: &[Table], checked: &[Checked<'_>]) -> Value {
    let tables: Vec<Value> = tables
        .iter()
        .map(|table| {
            let rows: Vec<Value> = table
                .rows
                .iter()
                .map(|row| {
                    let runs: Vec<Value> = row
                        .runs
                        .iter()
                        .map(|m| json!({"commits": m.commits, "events": m.events, "seconds": m.seconds}))
                        .collect();
                    json!({
                        "id": row.id,
                        "label": row.label,
                        "commits_per_second": row.commits_per_second(),
                        "ratio": table.ratio_of(row),
                        "runs": runs,
                        "skipped": row.skipped,
                    })
                })
                .collect();
            json!({
                "id": table.id,
                "title": table.title,
                "commits": table.commits,
                "baseline": table.baseline,
                "rows": rows,
            })
        })
        .collect();
    let targets: Vec<Value> = checked
        .iter()
        .map(|c| {
            json!({
                "what": c.target.what,
                "table": c.target.table,
                "row": c.target.row,
                "at_least": c.target.at_least,
                "ratio": c.ratio.as_ref().ok(),
                "met": c.met(),
                "not_measured": c.ratio.as_ref().err(),
            })
        })
        .collect();
    json!({"tables": tables, "targets": targets})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs(rates: &[f64]) -> Vec<Measured> {
        rates
            .iter()
            .map(|rate| Measured {
                commits: 1000,
                events: 1000,
                seconds: 1000.0 / rate,
            })
            .collect()
    }

    fn table() -> Table {
        let mut base = Row::new("bare-loop", "bare");
        base.runs = runs(&[100.0, 300.0, 200.0]);
        let mut ours = Row::new("foldstore-loose", "ours");
        ours.runs = runs(&[150.0, 170.0]);
        Table {
            id: "t".into(),
            title: "T".into(),
            commits: 1000,
            baseline: "bare-loop",
            ratio: Ratio::Percent,
            rows: vec![base, ours, Row::skipped("original", "theirs", "no node")],
        }
    }

    #[test]
    fn medians_and_ratios() {
        let table = table();
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        assert!(close(table.rows[0].commits_per_second().unwrap(), 200.0));
        assert!(close(table.rows[1].commits_per_second().unwrap(), 160.0));
        assert!(close(table.ratio_of(&table.rows[1]).unwrap(), 0.8));
        assert_eq!(table.rows[2].commits_per_second(), None);
    }

    #[test]
    fn targets_are_met_missed_or_unknown() {
        let tables = [table()];
        let target = |row, at_least| Target {
            what: "w".into(),
            table: "t".into(),
            row,
            at_least,
        };
        let targets = [
            target("foldstore-loose", 0.8),
            target("foldstore-loose", 0.9),
            target("original", 0.5),
        ];
        let checked = check(&targets, &tables);
        let met: Vec<_> = checked.iter().map(Checked::met).collect();
        assert_eq!(met, [Some(true), Some(false), None]);
        let text = text("heading", &tables, &checked);
        assert!(text.contains("met     w: 80%"), "{text}");
        assert!(
            text.contains("MISSED  w: 80% (target at least 90%)"),
            "{text}"
        );
        assert!(text.contains("theirs was skipped: no node"), "{text}");
        let json = json(&tables, &checked);
        assert_eq!(json["targets"][1]["met"], false);
        assert_eq!(json["tables"][0]["rows"][2]["skipped"], "no node");
    }

    #[test]
    fn thousands_are_separated() {
        assert_eq!(thousands(0.4), "0");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(1234.0), "1,234");
        assert_eq!(thousands(1_234_567.8), "1,234,568");
    }
}
