//! `foldstore repair`: move a damaged last commit aside into the quarantine folder, after
//! saying what it will do; refuse every other problem; never delete.

use std::io::{self, Write};
use std::process::ExitCode;

use foldstore::{RepairPlan, Store};
use serde_json::{json, Value};

use crate::output::{findings_json, printable, styled, write_finding, Palette};
use crate::progress::Progress;

/// Plans the repair of `store`, says what it will do, and (unless `dry_run`) does it.
/// Status 0 when the store is sound afterwards (or already was), 1 when repair refused.
///
/// # Errors
/// When the store cannot be read or the move fails.
pub fn run(store: &Store, dry_run: bool, json: bool) -> anyhow::Result<ExitCode> {
    let progress = Progress::new("checking", 0);
    let plan = store.plan_repair()?;
    drop(progress);
    let mut out = io::stdout().lock();
    let p = Palette::stdout();
    if !json {
        describe(&mut out, &plan, dry_run, &p)?;
    }
    let moved_to = if plan.refused.is_empty() && !dry_run {
        store.repair(&plan)?
    } else {
        None
    };
    if json {
        serde_json::to_writer(&mut out, &to_json(&plan, dry_run, moved_to.as_deref()))?;
        out.write_all(b"\n")?;
    } else if let Some(to) = &moved_to {
        writeln!(
            out,
            "{} moved to {}",
            styled(p.good, "done:"),
            printable(to)
        )?;
    }
    Ok(if plan.refused.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn describe(out: &mut dyn Write, plan: &RepairPlan, dry_run: bool, p: &Palette) -> io::Result<()> {
    if plan.is_empty() {
        return writeln!(
            out,
            "{} the store is sound; nothing to repair",
            styled(p.good, "ok:")
        );
    }
    if let Some(q) = &plan.quarantine {
        let verb = if !plan.refused.is_empty() {
            "would move (refused, see below)"
        } else if dry_run {
            "would move"
        } else {
            "moving"
        };
        let what = if q.through > q.commit {
            format!("commits {} to {}", q.commit, q.through)
        } else {
            format!("commit {}", q.commit)
        };
        writeln!(
            out,
            "{verb} {what} aside: {} {}",
            printable(&q.location),
            printable(&q.problem)
        )?;
    }
    for finding in &plan.refused {
        write_finding(out, p.bad, "refused:", finding)?;
    }
    if !plan.refused.is_empty() {
        writeln!(out, "nothing was changed")?;
    }
    Ok(())
}

fn to_json(plan: &RepairPlan, dry_run: bool, moved_to: Option<&str>) -> Value {
    json!({
        "dry_run": dry_run,
        "quarantine": plan.quarantine.as_ref().map(|q| json!({
            "commit": q.commit,
            "through": q.through,
            "location": q.location,
            "problem": q.problem,
        })),
        "refused": findings_json(&plan.refused),
        "moved_to": moved_to,
    })
}
