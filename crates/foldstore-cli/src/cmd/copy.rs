//! `foldstore copy`: a whole store, byte for byte, into another folder; resumable.

use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::process::ExitCode;

use foldstore::{CopyOptions, CopyReport, Durability, Layout, Store};
use serde_json::json;

use crate::access::open_existing;
use crate::cli::LayoutArg;
use crate::output::{human_size, plural, printable, styled, Palette};
use crate::progress::Progress;

/// Copies the store at `from` into the folder (or address) `to` with [`Store::copy_to`], and
/// prints its report.
///
/// # Errors
/// A missing source; a destination that is not a folder; those of [`Store::copy_to`].
pub fn run(
    from: &Path,
    to: &Path,
    force: bool,
    json: bool,
    layout: Option<LayoutArg>,
) -> anyhow::Result<ExitCode> {
    let source = open_existing(from)?;
    // Without --layout: an existing destination keeps its own; a new one takes the source's.
    let layout = match layout {
        Some(layout) => Layout::from(layout),
        None => Layout::detect(to)?
            .or(Layout::detect(from)?)
            .unwrap_or_default(),
    };
    // Written without a sync per commit, and synced as a whole at the end: a copy that stops
    // half way is resumed by running it again.
    let destination = Store::builder(to)
        .layout(layout)
        .durability(Durability::None)
        .open()?;
    let mut progress = Progress::new("copying", 0);
    let options = CopyOptions::new()
        .force(force)
        .progress(|done, total| progress.update(done, total));
    let report = source.copy_to(&destination, options)?;
    drop(progress);
    let mut out = BufWriter::new(io::stdout().lock());
    if json {
        let value = json!({
            "from": foldstore::shown_address(from),
            "to": foldstore::shown_address(to),
            "tip": report.tip,
            "commits_copied": report.commits_copied,
            "commits_present": report.commits_present,
            "snapshots_copied": report.snapshots_copied,
            "snapshots_present": report.snapshots_present,
            "bytes_copied": report.bytes_copied,
            "gaps": report.gaps,
            "damaged_copied": report.damaged,
        });
        serde_json::to_writer(&mut out, &value)?;
        out.write_all(b"\n")?;
    } else {
        write_text(&mut out, &report, from, to, &Palette::stdout())?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn write_text(
    out: &mut dyn Write,
    report: &CopyReport,
    from: &Path,
    to: &Path,
    p: &Palette,
) -> io::Result<()> {
    writeln!(
        out,
        "{} {} and {} ({}) from {} to {}",
        styled(p.good, "copied"),
        plural(report.commits_copied, "commit"),
        plural(report.snapshots_copied, "snapshot"),
        human_size(report.bytes_copied),
        printable(&foldstore::shown_address(from)),
        printable(&foldstore::shown_address(to))
    )?;
    if report.commits_present + report.snapshots_present > 0 {
        writeln!(
            out,
            "{} and {} were there already, with the same bytes",
            plural(report.commits_present, "commit"),
            plural(report.snapshots_present, "snapshot")
        )?;
    }
    if !report.gaps.is_empty() {
        let gaps: Vec<String> = report.gaps.iter().map(u64::to_string).collect();
        writeln!(
            out,
            "{} missing from the source, left missing: {}",
            styled(p.warn, "warning:"),
            gaps.join(", ")
        )?;
    }
    for location in &report.damaged {
        writeln!(
            out,
            "{} {} is damaged; copied as it is",
            styled(p.warn, "warning:"),
            printable(location)
        )?;
    }
    Ok(())
}
