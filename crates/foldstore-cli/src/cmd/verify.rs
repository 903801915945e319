//! `foldstore verify`: read every commit and snapshot, and list every problem found.

use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use foldstore::{Store, VerifyReport};
use serde_json::{json, Value};

use crate::output::{findings_json, styled, write_finding, Palette};
use crate::progress::Progress;

/// Verifies `store` and prints what was found; status 1 when it has problems.
///
/// # Errors
/// When the store cannot be listed, or the output written.
pub fn run(store: &Store, json: bool) -> anyhow::Result<ExitCode> {
    let mut progress = Progress::new("verifying", 0);
    let report = store.verify(|done, total| progress.update(done, total))?;
    drop(progress);
    let mut out = BufWriter::new(io::stdout().lock());
    if json {
        serde_json::to_writer(&mut out, &to_json(&report))?;
        out.write_all(b"\n")?;
    } else {
        write_text(&mut out, &report, &Palette::stdout())?;
    }
    out.flush()?;
    Ok(if report.is_sound() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn to_json(report: &VerifyReport) -> Value {
    json!({
        "sound": report.is_sound(),
        "tip": report.tip,
        "sound_commits": report.sound_commits,
        "events": report.events,
        "sound_snapshots": report.sound_snapshots,
        "problems": findings_json(&report.problems),
        "warnings": findings_json(&report.warnings),
    })
}

fn write_text(out: &mut dyn Write, report: &VerifyReport, p: &Palette) -> io::Result<()> {
    for finding in &report.problems {
        writeln!(
            out,
            "{}: {}",
            styled(p.bad, &finding.location),
            finding.problem
        )?;
    }
    for finding in &report.warnings {
        write_finding(out, p.warn, "warning:", finding)?;
    }
    let summary = format!(
        "{} commits ({} events) and {} snapshots read",
        report.sound_commits, report.events, report.sound_snapshots
    );
    if report.is_sound() {
        writeln!(
            out,
            "{} {summary}; the store is sound",
            styled(p.good, "ok:")
        )
    } else {
        writeln!(
            out,
            "{} {summary} without problems",
            styled(
                p.bad,
                format!("{} problem(s) found;", report.problems.len())
            )
        )
    }
}
