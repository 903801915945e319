//! The results: one table per workload (a row per program, each against the workload's
//! baseline), the issue's targets checked against them, as text or JSON.

use std::fmt::Write as _;

use serde_json::{json, Value};

use crate::workload::{Decided, Measured};

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

/// What a table measures, and how its figures read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quantity {
    /// Commits per second: more is better.
    Rate,
    /// The time a run took, shown in milliseconds: less is better.
    Seconds,
    /// The peak resident memory of the process that ran (`VmHWM`), in MiB: less is better.
    PeakBytes,
}

impl Quantity {
    /// The figure of one run (`None`: the run did not measure it).
    pub fn of(self, measured: &Measured) -> Option<f64> {
        match self {
            Quantity::Rate => Some(measured.commits_per_second()),
            Quantity::Seconds => Some(measured.seconds),
            Quantity::PeakBytes => measured.peak_bytes.map(|bytes| bytes as f64),
        }
    }

    /// The column's heading.
    pub fn unit(self) -> &'static str {
        match self {
            Quantity::Rate => "commits/s",
            Quantity::Seconds => "ms",
            Quantity::PeakBytes => "peak MiB",
        }
    }

    /// A figure as the column shows it.
    pub fn show(self, value: f64) -> String {
        match self {
            Quantity::Rate => thousands(value),
            Quantity::Seconds => format!("{:.2}", value * 1000.0),
            Quantity::PeakBytes => format!("{:.1}", value / f64::from(1u32 << 20)),
        }
    }

    /// The name of the figure in the JSON report.
    fn json_name(self) -> &'static str {
        match self {
            Quantity::Rate => "commits_per_second",
            Quantity::Seconds => "seconds",
            Quantity::PeakBytes => "peak_bytes",
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
    /// The commits each run handles, when not the table's.
    pub commits: Option<u64>,
}

impl Row {
    /// A row of runs to come.
    pub fn new(id: &'static str, label: impl Into<String>) -> Row {
        Row {
            id,
            label: label.into(),
            runs: Vec::new(),
            skipped: None,
            commits: None,
        }
    }

    /// The same row, whose runs each handle `commits` commits (not the table's number).
    pub fn with_commits(self, commits: u64) -> Row {
        Row {
            commits: Some(commits),
            ..self
        }
    }

    /// A row for a program that could not be run.
    pub fn skipped(id: &'static str, label: impl Into<String>, why: impl Into<String>) -> Row {
        Row {
            skipped: Some(why.into()),
            ..Row::new(id, label)
        }
    }

    /// How the runs' decisions went, every run together, and the decisions made (`None`: the
    /// runs made no decisions).
    pub fn decided(&self) -> Option<(Decided, u64)> {
        let (mut total, mut decisions) = (Decided::default(), 0);
        for run in &self.runs {
            let decided = run.decided?;
            total.exhausted += decided.exhausted;
            total.attempts += decided.attempts;
            decisions += run.commits;
        }
        (!self.runs.is_empty()).then_some((total, decisions))
    }

    /// The median of the runs' figures of `quantity` (`None`: no run measured it).
    pub fn median(&self, quantity: Quantity) -> Option<f64> {
        median(self.runs.iter().filter_map(|m| quantity.of(m)).collect())
    }
}

/// The median of `figures` (`None`: there are none).
fn median(mut figures: Vec<f64>) -> Option<f64> {
    if figures.is_empty() {
        return None;
    }
    figures.sort_by(f64::total_cmp);
    let middle = figures.len() / 2;
    Some(if figures.len() % 2 == 1 {
        figures[middle]
    } else {
        (figures[middle - 1] + figures[middle]) / 2.0
    })
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
    /// What the figures are.
    pub quantity: Quantity,
    /// The programs.
    pub rows: Vec<Row>,
}

impl Table {
    /// The row with `id`.
    pub fn row(&self, id: &str) -> Option<&Row> {
        self.rows.iter().find(|row| row.id == id)
    }

    /// `row`'s figure over the baseline's, when both ran (see [`Table::ratio_between`]).
    pub fn ratio_of(&self, row: &Row) -> Option<f64> {
        self.ratio_between(row, self.row(self.baseline)?)
    }

    /// `row`'s figure over `other`'s, when both ran: the median of the rounds' ratios when
    /// both ran in every round, else the ratio of their medians.
    ///
    /// The programs of a round run back to back, so a disk or a machine whose speed drifts
    /// from round to round (a shared host) weighs on both sides of each round's ratio alike;
    /// the ratio of medians would pair one round's figure with another's.
    pub fn ratio_between(&self, row: &Row, other: &Row) -> Option<f64> {
        let quantity = self.quantity;
        if row.runs.len() == other.runs.len() {
            let rounds: Option<Vec<f64>> = row
                .runs
                .iter()
                .zip(&other.runs)
                .map(|(ours, theirs)| {
                    let theirs = quantity.of(theirs).filter(|figure| *figure > 0.0)?;
                    Some(quantity.of(ours)? / theirs)
                })
                .collect();
            if let Some(ratio) = rounds.and_then(median) {
                return Some(ratio);
            }
        }
        Some(row.median(quantity)? / other.median(quantity)?)
    }
}

/// The ratios that meet a target.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Bound {
    /// At least this ratio (a rate: more is better).
    AtLeast(f64),
    /// At most this ratio (a time or a size: less is better).
    AtMost(f64),
}

impl Bound {
    fn met(self, ratio: f64) -> bool {
        match self {
            Bound::AtLeast(least) => ratio >= least,
            Bound::AtMost(most) => ratio <= most,
        }
    }

    fn words(self) -> (&'static str, f64) {
        match self {
            Bound::AtLeast(least) => ("at least", least),
            Bound::AtMost(most) => ("at most", most),
        }
    }
}

/// A target of the issue: `row` of table `table` over the table's baseline, within `bound`.
#[derive(Debug)]
pub struct Target {
    /// What the target is, for people.
    pub what: String,
    /// The table's id.
    pub table: String,
    /// The row measured against the table's baseline.
    pub row: &'static str,
    /// Another row of the table to measure against instead of its baseline.
    pub against: Option<&'static str>,
    /// The ratios that meet the target.
    pub bound: Bound,
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
        self.ratio.as_ref().ok().map(|r| self.target.bound.met(*r))
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
                        (row.id == target.row || row.id == target.against.unwrap_or(table.baseline))
                            .then_some(row.skipped.as_ref())
                            .flatten()
                            .map(|why| format!("{} was skipped: {why}", row.label))
                    });
                    match (skipped, table.row(target.row)) {
                        (Some(why), _) => Err(why),
                        (None, Some(row)) => match target.against {
                            None => table.ratio_of(row).ok_or_else(|| "not measured".to_owned()),
                            Some(against) => table
                                .row(against)
                                .and_then(|other| table.ratio_between(row, other))
                                .ok_or_else(|| format!("row {against} not measured")),
                        },
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

/// The headings of the columns of a table of decisions.
const DECISION_COLUMNS: &str = "  out of attempts  attempts/decision";

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
        let decisions = table.rows.iter().any(|row| row.decided().is_some());
        let _ = writeln!(
            out,
            "  {:width$}  {:>11}  {:>8}{}",
            "program",
            table.quantity.unit(),
            "ratio",
            if decisions { DECISION_COLUMNS } else { "" }
        );
        for row in &table.rows {
            match (&row.skipped, row.median(table.quantity)) {
                (Some(why), _) => {
                    let _ = writeln!(out, "  {:width$}  skipped: {why}", row.label);
                }
                (None, Some(rate)) => {
                    let ratio = table
                        .ratio_of(row)
                        .map_or_else(|| "-".to_owned(), |r| table.ratio.show(r));
                    let decided = row.decided().map_or_else(String::new, |(d, decisions)| {
                        format!("  {:>15}  {:>17.2}", d.exhausted, d.per_decision(decisions))
                    });
                    let _ = writeln!(
                        out,
                        "  {:width$}  {:>11}  {:>8}{decided}",
                        row.label,
                        table.quantity.show(rate),
                        ratio
                    );
                }
                (None, None) => {
                    let _ = writeln!(out, "  {:width$}  not run", row.label);
                }
            }
        }
    }
    if !checked.is_empty() {
        let _ = writeln!(out, "\ntargets");
    }
    for c in checked {
        let (words, limit) = c.target.bound.words();
        let wanted = format!("{words} {}", c.style.show(limit));
        let _ = match (&c.ratio, c.met()) {
            (Ok(ratio), Some(true)) => writeln!(
                out,
                "  met     {}: {} (target {wanted})",
                c.target.what,
                c.style.show(*ratio)
            ),
            (Ok(ratio), _) => writeln!(
                out,
                "  MISSED  {}: {} (target {wanted})",
                c.target.what,
                c.style.show(*ratio)
            ),
            (Err(why), _) => writeln!(
                out,
                "  unknown {}: not measured ({why}) (target {wanted})",
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
                        .map(|m| {
                            let mut run = json!({
                                "commits": m.commits,
                                "events": m.events,
                                "seconds": m.seconds,
                                "peak_bytes": m.peak_bytes,
                            });
                            if let Some(decided) = m.decided {
                                run["out_of_attempts"] = decided.exhausted.into();
                                run["attempts"] = decided.attempts.into();
                            }
                            run
                        })
                        .collect();
                    let mut value = json!({
                        "id": row.id,
                        "label": row.label,
                        "commits": row.commits.unwrap_or(table.commits),
                        (table.quantity.json_name()): row.median(table.quantity),
                        "ratio": table.ratio_of(row),
                        "runs": runs,
                        "skipped": row.skipped,
                    });
                    if let Some((decided, decisions)) = row.decided() {
                        value["out_of_attempts"] = decided.exhausted.into();
                        value["attempts_per_decision"] = decided.per_decision(decisions).into();
                    }
                    value
                })
                .collect();
            json!({
                "id": table.id,
                "title": table.title,
                "commits": table.commits,
                "baseline": table.baseline,
                "median_of": table.quantity.json_name(),
                "rows": rows,
            })
        })
        .collect();
    let targets: Vec<Value> = checked
        .iter()
        .map(|c| {
            let (at_least, at_most) = match c.target.bound {
                Bound::AtLeast(least) => (Some(least), None),
                Bound::AtMost(most) => (None, Some(most)),
            };
            json!({
                "what": c.target.what,
                "table": c.target.table,
                "row": c.target.row,
                "against": c.target.against,
                "at_least": at_least,
                "at_most": at_most,
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
            .map(|rate| Measured::new(1000, 1000, 1000.0 / rate))
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
            quantity: Quantity::Rate,
            rows: vec![base, ours, Row::skipped("original", "theirs", "no node")],
        }
    }

    #[test]
    fn medians_and_ratios() {
        let table = table();
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        assert!(close(table.rows[0].median(Quantity::Rate).unwrap(), 200.0));
        assert!(close(table.rows[1].median(Quantity::Rate).unwrap(), 160.0));
        assert!(close(table.ratio_of(&table.rows[1]).unwrap(), 0.8));
        assert_eq!(table.rows[2].median(Quantity::Rate), None);
        assert_eq!(table.rows[0].median(Quantity::PeakBytes), None);
    }

    #[test]
    fn ratios_pair_the_rounds_when_both_ran_in_each() {
        let mut table = table();
        // The disk twice as fast in the second round and three times in the third: each
        // round ours is 0.5 of the baseline, though the medians (200 and 150) say 0.75.
        table.rows[0].runs = runs(&[100.0, 200.0, 300.0]);
        table.rows[1].runs = runs(&[50.0, 100.0, 150.0]);
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        assert!(close(table.ratio_of(&table.rows[1]).unwrap(), 0.5));
        assert!(close(
            table.ratio_between(&table.rows[0], &table.rows[1]).unwrap(),
            2.0
        ));
        // Ours missing a round: the medians (200 and 75).
        table.rows[1].runs = runs(&[50.0, 100.0]);
        assert!(close(table.ratio_of(&table.rows[1]).unwrap(), 0.375));
    }

    #[test]
    fn targets_are_met_missed_or_unknown() {
        let tables = [table()];
        let target = |row, at_least| Target {
            what: "w".into(),
            table: "t".into(),
            row,
            against: None,
            bound: Bound::AtLeast(at_least),
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

        // Against another row than the baseline: 200 / 160.
        let against = |row, other, at_least| Target {
            against: Some(other),
            ..target(row, at_least)
        };
        let targets = [
            against("bare-loop", "foldstore-loose", 1.25),
            against("bare-loop", "foldstore-loose", 1.3),
            against("foldstore-loose", "original", 0.5),
        ];
        let checked = check(&targets, &tables);
        let met: Vec<_> = checked.iter().map(Checked::met).collect();
        assert_eq!(met, [Some(true), Some(false), None]);
        let json = super::json(&tables, &checked);
        assert_eq!(json["targets"][0]["against"], "foldstore-loose");
        assert_eq!(json["targets"][0]["ratio"], 1.25);
        assert_eq!(
            json["targets"][2]["not_measured"],
            "theirs was skipped: no node"
        );
    }

    #[test]
    fn sizes_and_times_are_checked_at_most() {
        let peak = |id, bytes: &[u64]| {
            let mut row = Row::new(id, id);
            row.runs = bytes
                .iter()
                .map(|b| Measured {
                    peak_bytes: Some(*b),
                    ..Measured::new(10, 10, 1.0)
                })
                .collect();
            row
        };
        let tables = [Table {
            id: "m".into(),
            title: "M".into(),
            commits: 10,
            baseline: "short",
            ratio: Ratio::Times,
            quantity: Quantity::PeakBytes,
            rows: vec![
                peak("short", &[10 << 20]),
                peak("long", &[14 << 20, 16 << 20, 20 << 20]),
            ],
        }];
        let target = |at_most| Target {
            what: "peak".into(),
            table: "m".into(),
            row: "long",
            against: None,
            bound: Bound::AtMost(at_most),
        };
        let targets = [target(1.5), target(1.6)];
        let checked = check(&targets, &tables);
        let met: Vec<_> = checked.iter().map(Checked::met).collect();
        assert_eq!(met, [Some(false), Some(true)]);
        let text = text("heading", &tables, &checked);
        assert!(text.contains("peak MiB"), "{text}");
        assert!(text.contains("16.0"), "{text}");
        assert!(
            text.contains("MISSED  peak: 1.6x (target at most 1.5x)"),
            "{text}"
        );
        let json = json(&tables, &checked);
        assert_eq!(json["targets"][0]["at_most"], 1.5);
        assert_eq!(json["tables"][0]["rows"][1]["peak_bytes"], 16.0 * 1048576.0);
    }

    /// Tables of every kind (rates as multiples and as shares, times, sizes; a skipped row, a
    /// row not run, a row of its own number of commits) and their targets, from fixed figures,
    /// rendered as text and JSON exactly as before the tables became data.
    #[test]
    fn tables_render_as_before() {
        let row = |id, label: &str, figures: &[Measured]| {
            let mut row = Row::new(id, label);
            row.runs = figures.to_vec();
            row
        };
        let rate = |seconds| Measured::new(100, 100, seconds);
        let peak = |bytes| Measured {
            peak_bytes: Some(bytes),
            ..Measured::new(10, 10, 2.0)
        };
        let tables = [
            Table {
                id: "append_synced".into(),
                title: "(b) synced appends: 100 single-event commits".into(),
                commits: 100,
                baseline: "bare-loop",
                ratio: Ratio::Percent,
                quantity: Quantity::Rate,
                rows: vec![
                    row("bare-loop", "bare loop: fdatasync", &[rate(0.7), rate(0.9)]),
                    row("foldstore-loose", "foldstore, loose", &[rate(0.6)]),
                    Row::skipped("original", "original 1.3.0", "no Node.js"),
                    row("sqlite-wal", "SQLite WAL", &[]),
                ],
            },
            Table {
                id: "journal_replay_memory".into(),
                title: "(g) peak memory".into(),
                commits: 20_000,
                baseline: "journal-short",
                ratio: Ratio::Times,
                quantity: Quantity::PeakBytes,
                rows: vec![
                    row("journal-short", "short", &[peak(10 << 20)]).with_commits(10),
                    row("journal-long", "long", &[peak(13 << 20), peak(12 << 20)]),
                ],
            },
            Table {
                id: "journal_model_open".into(),
                title: "(h) model open".into(),
                commits: 20_000,
                baseline: "journal-short",
                ratio: Ratio::Times,
                quantity: Quantity::Seconds,
                rows: vec![
                    row("journal-short", "short", &[rate(0.004)]),
                    row("journal-long", "long", &[rate(0.005)]),
                ],
            },
        ];
        let targets = [
            Target {
                what: "synced appends".into(),
                table: "append_synced".into(),
                row: "foldstore-loose",
                against: None,
                bound: Bound::AtLeast(0.8),
            },
            Target {
                what: "peak memory".into(),
                table: "journal_replay_memory".into(),
                row: "journal-long",
                against: None,
                bound: Bound::AtMost(1.5),
            },
            Target {
                what: "left out".into(),
                table: "replay".into(),
                row: "foldstore-loose",
                against: None,
                bound: Bound::AtLeast(0.9),
            },
        ];
        let checked = check(&targets, &tables);
        let text = text("heading", &tables, &checked);
        let json = json(&tables, &checked).to_string();
        assert_eq!(text, RENDERED_TEXT);
        assert_eq!(json, RENDERED_JSON);
    }

    const RENDERED_TEXT: &str = r#"heading

(b) synced appends: 100 single-event commits
  ratio: against bare loop: fdatasync
  program                 commits/s     ratio
  bare loop: fdatasync          127      100%
  foldstore, loose              167      131%
  original 1.3.0        skipped: no Node.js
  SQLite WAL            not run

(g) peak memory
  ratio: against short
  program                  peak MiB     ratio
  short                        10.0      1.0x
  long                         12.5      1.2x

(h) model open
  ratio: against short
  program                        ms     ratio
  short                        4.00      1.0x
  long                         5.00      1.2x

targets
  met     synced appends: 131% (target at least 80%)
  met     peak memory: 1.2x (target at most 1.5x)
  unknown left out: not measured (table replay was not run) (target at least 0.9x)
"#;
    const RENDERED_JSON: &str = r#"{"tables":[{"id":"append_synced","title":"(b) synced appends: 100 single-event commits","commits":100,"baseline":"bare-loop","median_of":"commits_per_second","rows":[{"id":"bare-loop","label":"bare loop: fdatasync","commits":100,"commits_per_second":126.98412698412699,"ratio":1.0,"runs":[{"commits":100,"events":100,"seconds":0.7,"peak_bytes":null},{"commits":100,"events":100,"seconds":0.9,"peak_bytes":null}],"skipped":null},{"id":"foldstore-loose","label":"foldstore, loose","commits":100,"commits_per_second":166.66666666666669,"ratio":1.3125000000000002,"runs":[{"commits":100,"events":100,"seconds":0.6,"peak_bytes":null}],"skipped":null},{"id":"original","label":"original 1.3.0","commits":100,"commits_per_second":null,"ratio":null,"runs":[],"skipped":"no Node.js"},{"id":"sqlite-wal","label":"SQLite WAL","commits":100,"commits_per_second":null,"ratio":null,"runs":[],"skipped":null}]},{"id":"journal_replay_memory","title":"(g) peak memory","commits":20000,"baseline":"journal-short","median_of":"peak_bytes","rows":[{"id":"journal-short","label":"short","commits":10,"peak_bytes":10485760.0,"ratio":1.0,"runs":[{"commits":10,"events":10,"seconds":2.0,"peak_bytes":10485760}],"skipped":null},{"id":"journal-long","label":"long","commits":20000,"peak_bytes":13107200.0,"ratio":1.25,"runs":[{"commits":10,"events":10,"seconds":2.0,"peak_bytes":13631488},{"commits":10,"events":10,"seconds":2.0,"peak_bytes":12582912}],"skipped":null}]},{"id":"journal_model_open","title":"(h) model open","commits":20000,"baseline":"journal-short","median_of":"seconds","rows":[{"id":"journal-short","label":"short","commits":20000,"seconds":0.004,"ratio":1.0,"runs":[{"commits":100,"events":100,"seconds":0.004,"peak_bytes":null}],"skipped":null},{"id":"journal-long","label":"long","commits":20000,"seconds":0.005,"ratio":1.25,"runs":[{"commits":100,"events":100,"seconds":0.005,"peak_bytes":null}],"skipped":null}]}],"targets":[{"what":"synced appends","table":"append_synced","row":"foldstore-loose","against":null,"at_least":0.8,"at_most":null,"ratio":1.3125000000000002,"met":true,"not_measured":null},{"what":"peak memory","table":"journal_replay_memory","row":"journal-long","against":null,"at_least":null,"at_most":1.5,"ratio":1.25,"met":true,"not_measured":null},{"what":"left out","table":"replay","row":"foldstore-loose","against":null,"at_least":0.9,"at_most":null,"ratio":null,"met":null,"not_measured":"table replay was not run"}]}"#;

    #[test]
    fn thousands_are_separated() {
        assert_eq!(thousands(0.4), "0");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(1234.0), "1,234");
        assert_eq!(thousands(1_234_567.8), "1,234,568");
    }
}
