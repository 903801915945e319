//! `foldstore schema`: the shapes of each event name's data, counted (`Store::schema`).

use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use foldstore::{NameShapes, SchemaOptions, SchemaReport, Seen, Store};
use serde_json::{json, Value};

use crate::output::{plural, printable, styled, Palette};
use crate::progress::Progress;

/// Reads every commit of `store` and prints the shapes of its events' data, per name (only
/// `name`'s, either spelling, when given).
///
/// # Errors
/// When a commit cannot be read (damage, a gap, I/O), or the output written.
pub fn run(store: &Store, name: Option<String>, json: bool) -> anyhow::Result<ExitCode> {
    let mut options = SchemaOptions::new().from(first(store, true)?);
    if let Some(name) = name {
        options = options.name(name);
    }
    let mut progress = Progress::new("reading", 0);
    let report = store.schema(&options, |done, total| progress.update(done, total))?;
    drop(progress);
    let mut out = BufWriter::new(io::stdout().lock());
    if json {
        serde_json::to_writer(&mut out, &to_json(store, &report))?;
        out.write_all(b"\n")?;
    } else {
        write_text(&mut out, &report, &Palette::stdout())?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// What `foldstore schema --json` prints, for every name.
///
/// # Errors
/// As [`run`].
pub fn report(store: &Store) -> anyhow::Result<Value> {
    let options = SchemaOptions::new().from(first(store, false)?);
    let report = store.schema(&options, |_, _| {})?;
    Ok(to_json(store, &report))
}

/// The first commit the schema is read from: 1, or, for an archived store read without its
/// archive, the log's start (said on standard error when `note`).
fn first(store: &Store, note: bool) -> anyhow::Result<u64> {
    let first = crate::access::first_readable(store)?;
    if note && first > 1 {
        eprintln!(
            "note: commits 1 to {} are archived; the shapes are those of commits {first} on (give --archive to read them all)",
            first - 1
        );
    }
    Ok(first)
}

fn seen_json(seen: &Seen) -> Value {
    json!({"commit": seen.commit, "time": seen.time})
}

/// The report as `--json` prints it (documented in the verb's help).
fn to_json(store: &Store, report: &SchemaReport) -> Value {
    let names: Vec<Value> = report
        .names
        .iter()
        .map(|name| {
            let shapes: Vec<Value> = name
                .shapes
                .iter()
                .map(|shape| {
                    json!({
                        "shape": shape.shape,
                        "count": shape.count,
                        "first": seen_json(&shape.first),
                        "last": seen_json(&shape.last),
                    })
                })
                .collect();
            json!({
                "name": name.name,
                "spellings": name.spellings,
                "events": name.events,
                "shapes": shapes,
                "other_shapes": name.other_shapes,
            })
        })
        .collect();
    json!({
        "store": store.path().map(|path| path.display().to_string()),
        "first": report.first,
        "commits": report.commits,
        "events": report.events,
        "names": names,
        "other_names": report.other_names,
    })
}

/// Where a shape was seen: `commit 5 (time)`.
fn seen_text(seen: &Seen, p: &Palette) -> String {
    let commit = styled(p.commit, format!("commit {}", seen.commit));
    match &seen.time {
        Some(time) => format!("{commit} ({})", styled(p.time, printable(time))),
        None => commit.to_string(),
    }
}

fn write_name(out: &mut dyn Write, name: &NameShapes, p: &Palette) -> io::Result<()> {
    write!(out, "{}", styled(p.name, printable(&name.name)))?;
    let others: Vec<_> = name
        .spellings
        .iter()
        .skip(1)
        .map(|s| printable(s))
        .collect();
    if !others.is_empty() {
        write!(out, " (also {})", others.join(", "))?;
    }
    let more = if name.other_shapes > 0 {
        "more than "
    } else {
        ""
    };
    let summary = format!(
        "{}, {more}{}",
        plural(name.events, "event"),
        plural(name.shapes.len() as u64, "shape")
    );
    writeln!(out, "  {}", styled(p.dim, summary))?;
    let width = name
        .shapes
        .iter()
        .map(|shape| shape.count.to_string().len())
        .max()
        .unwrap_or(1);
    for shape in &name.shapes {
        writeln!(
            out,
            "  {:>width$}  {}",
            shape.count,
            printable(&shape.shape)
        )?;
        let place = if shape.first.commit == shape.last.commit {
            seen_text(&shape.first, p)
        } else {
            format!(
                "first {}, last {}",
                seen_text(&shape.first, p),
                seen_text(&shape.last, p)
            )
        };
        writeln!(out, "  {:width$}  {place}", "")?;
    }
    if name.other_shapes > 0 {
        writeln!(
            out,
            "  {:>width$}  {}",
            name.other_shapes,
            styled(
                p.warn,
                format!(
                    "{} of further shapes, not kept (at most {} shapes a name)",
                    if name.other_shapes == 1 {
                        "event"
                    } else {
                        "events"
                    },
                    foldstore::MAX_SHAPES_PER_NAME
                )
            )
        )?;
    }
    Ok(())
}

fn write_text(out: &mut dyn Write, report: &SchemaReport, p: &Palette) -> io::Result<()> {
    for name in &report.names {
        write_name(out, name, p)?;
    }
    if report.other_names > 0 {
        writeln!(
            out,
            "{}",
            styled(
                p.warn,
                format!(
                    "{} of further names, not kept (at most {} names)",
                    plural(report.other_names, "event"),
                    foldstore::MAX_NAMES
                )
            )
        )?;
    }
    writeln!(
        out,
        "{}",
        styled(
            p.dim,
            format!(
                "{} ({}) read; {} shown",
                plural(report.commits, "commit"),
                plural(report.events, "event"),
                plural(report.names.len() as u64, "name")
            )
        )
    )
}
