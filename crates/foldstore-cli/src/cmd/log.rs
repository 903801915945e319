//! `foldstore log` (`ls`): a table of commits, oldest first; also the rows of `foldstore tail`.

use std::borrow::Cow;
use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use foldstore::{Commit, Store};
use serde_json::{json, Value};

use crate::access::{read_once, resolve_range, Backwards};
use crate::cli::RangeArgs;
use crate::condition::descend;
use crate::filter::Selection;
use crate::output::{header_text, human_size, printable, stdout_is_a_file, styled, Palette};
use crate::progress::Progress;
use crate::template::{write_csv_record, Template};

/// How `foldstore log` writes its commits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Style {
    /// A table for people.
    Table,
    /// One JSON object a line.
    Json,
    /// Tab-separated values, a heading line first.
    Tsv,
    /// Comma-separated values (RFC 4180), a heading line first.
    Csv,
    /// A `--format` template: `{commit}`, `{time}`, `{bytes}`, `{events}` (the names,
    /// separated by commas), `{headers.KEY}`.
    Template(Template),
}

/// Lists the commits in `range` that `selection` selects, oldest first (newest first with
/// `reverse`): a table, JSON lines, tab- or comma-separated values, or lines of a template.
///
/// # Errors
/// A range beyond the log; a damaged or missing commit (after listing what precedes it).
pub fn run(
    store: &Store,
    range: RangeArgs,
    selection: &Selection,
    style: &Style,
    reverse: bool,
) -> anyhow::Result<ExitCode> {
    let (from, to) = resolve_range(store, range)?;
    let last = to.unwrap_or(store.tip()?);
    let mut table = Table::new(Palette::stdout(), last, *style == Style::Json);
    match style {
        Style::Tsv => table = table.tsv(),
        Style::Csv => table = table.csv(),
        _ => {}
    }
    let template = match style {
        Style::Template(template) => Some(template),
        _ => None,
    };
    let mut progress = Progress::when(
        stdout_is_a_file(),
        "reading",
        (last + 1).saturating_sub(from),
    );
    let mut out = BufWriter::new(io::stdout().lock());
    if template.is_none() {
        table.write_heading(&mut out)?;
    }
    // Each commit is read once, for its events and its size.
    let mut printed = 0;
    let commits: Box<dyn Iterator<Item = anyhow::Result<(Commit, u64)>>> = if reverse {
        Box::new(Backwards::new(store, from, last))
    } else {
        Box::new(
            store
                .raw_commits(from..=last)?
                .map_while(move |scanned| read_once(store, scanned, to).transpose()),
        )
    };
    for found in commits {
        if selection.limit_reached(printed) {
            break;
        }
        let (commit, bytes) = found?;
        progress.inc();
        if selection.commit_matches(&commit) {
            match template {
                Some(template) => {
                    template.write_line(&mut out, |path| field(&commit, bytes, path))?;
                }
                None => table.write_row(&mut out, &Row::new(&commit, bytes))?,
            }
            printed += 1;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// The value of a `--format` field of `commit` (`bytes` long): `commit`, `time`, `bytes`,
/// `events` (the names, separated by commas), `headers` (as JSON) and what is inside them.
fn field<'a>(commit: &'a Commit, bytes: u64, path: &[String]) -> Option<Cow<'a, Value>> {
    let (first, rest) = path.split_first()?;
    let value = match first.as_str() {
        "commit" => Value::from(commit.number()),
        "bytes" => Value::from(bytes),
        "events" => {
            let names: Vec<&str> = commit.events().iter().map(|e| e.name()).collect();
            Value::from(names.join(","))
        }
        "time" => return descend(commit.headers().get("time")?, rest).map(Cow::Borrowed),
        "headers" => {
            let Some((key, rest)) = rest.split_first() else {
                return Some(Cow::Owned(Value::Object(commit.headers().clone())));
            };
            return descend(commit.headers().get(key)?, rest).map(Cow::Borrowed);
        }
        _ => return None,
    };
    rest.is_empty().then_some(Cow::Owned(value))
}

/// What the table shows of one commit.
#[derive(Clone, Debug)]
pub struct Row {
    /// The commit's number.
    pub commit: u64,
    /// Its `time` header, as written (`None` when it has none).
    pub time: Option<Value>,
    /// The size of its document in bytes.
    pub bytes: u64,
    /// Its events' names, in order.
    pub names: Vec<String>,
}

impl Row {
    /// The row of `commit`, whose document is `bytes` long.
    pub fn new(commit: &Commit, bytes: u64) -> Row {
        Row {
            commit: commit.number(),
            time: commit.headers().get("time").cloned(),
            bytes,
            names: commit
                .events()
                .iter()
                .map(|e| e.name().to_owned())
                .collect(),
        }
    }

    /// The row as the JSON object of `--json`.
    pub fn to_json(&self) -> Value {
        json!({
            "commit": self.commit,
            "time": self.time.clone().unwrap_or(Value::Null),
            "bytes": self.bytes,
            "events": self.names,
        })
    }
}

/// The names of a commit's events for people: runs of one name shown once with a count.
pub fn summarize_names(names: &[String]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut index = 0;
    while index < names.len() {
        let run = names[index..]
            .iter()
            .take_while(|name| **name == names[index])
            .count();
        parts.push(if run == 1 {
            names[index].clone()
        } else {
            format!("{} ×{run}", names[index])
        });
        index += run;
    }
    parts.join(", ")
}

/// How commits are printed: a table with a heading, one JSON object a line, or
/// tab-separated values with a heading line.
#[derive(Clone, Copy, Debug)]
pub struct Table {
    palette: Palette,
    /// The width of the commit column.
    width: usize,
    json: bool,
    tsv: bool,
    csv: bool,
}

const TIME_WIDTH: usize = "2026-11-27T15:03:30.380Z".len();
const SIZE_WIDTH: usize = "1023.9 KiB".len();

impl Table {
    /// A table for commits numbered up to about `last` (the column grows past it if need be).
    pub fn new(palette: Palette, last: u64, json: bool) -> Table {
        Table {
            palette,
            width: last.to_string().len().max("COMMIT".len()),
            json,
            tsv: false,
            csv: false,
        }
    }

    /// The table as tab-separated values: `commit`, `time`, `bytes`, `events` (the names,
    /// separated by commas), a heading line first; tabs, newlines and other control
    /// characters in a value are escaped (`\t`, `\n`), so that each commit is one line.
    pub fn tsv(self) -> Table {
        Table {
            tsv: true,
            json: false,
            ..self
        }
    }

    /// The table as comma-separated values (RFC 4180): the columns of [`Self::tsv`], quoted
    /// where needed, each line ending in CRLF.
    pub fn csv(self) -> Table {
        Table {
            csv: true,
            json: false,
            ..self
        }
    }

    /// The table's heading (nothing for JSON).
    ///
    /// # Errors
    /// Errors of writing.
    pub fn write_heading(&self, out: &mut dyn Write) -> io::Result<()> {
        if self.json {
            return Ok(());
        }
        if self.tsv {
            return writeln!(out, "commit\ttime\tbytes\tevents");
        }
        if self.csv {
            return write_csv_record(out, &["commit", "time", "bytes", "events"]);
        }
        let label = self.palette.label;
        writeln!(
            out,
            "{}  {}  {}  {}",
            styled(label, format!("{:>w$}", "COMMIT", w = self.width)),
            styled(label, format!("{:<w$}", "TIME", w = TIME_WIDTH)),
            styled(label, format!("{:>w$}", "SIZE", w = SIZE_WIDTH)),
            styled(label, "EVENTS"),
        )
    }

    /// One commit's row.
    ///
    /// # Errors
    /// Errors of writing.
    pub fn write_row(&self, out: &mut dyn Write, row: &Row) -> io::Result<()> {
        if self.json {
            serde_json::to_writer(&mut *out, &row.to_json())?;
            return out.write_all(b"\n");
        }
        if self.tsv || self.csv {
            let names: Vec<String> = row
                .names
                .iter()
                .map(|name| printable(name).into_owned())
                .collect();
            let time = row.time.as_ref().map(header_text).unwrap_or_default();
            if self.csv {
                return write_csv_record(
                    out,
                    &[
                        &row.commit.to_string(),
                        &time,
                        &row.bytes.to_string(),
                        &names.join(","),
                    ],
                );
            }
            return writeln!(
                out,
                "{}\t{}\t{}\t{}",
                row.commit,
                time,
                row.bytes,
                names.join(",")
            );
        }
        let p = &self.palette;
        let time = row
            .time
            .as_ref()
            .map_or_else(|| "-".to_owned(), header_text);
        writeln!(
            out,
            "{}  {}  {}  {}",
            styled(p.commit, format!("{:>w$}", row.commit, w = self.width)),
            styled(p.time, format!("{time:<w$}", w = TIME_WIDTH)),
            styled(
                p.dim,
                format!("{:>w$}", human_size(row.bytes), w = SIZE_WIDTH)
            ),
            if row.names.is_empty() {
                styled(p.dim, "-".to_owned())
            } else {
                styled(p.name, printable(&summarize_names(&row.names)).into_owned())
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_of_a_name_are_counted() {
        let names: Vec<String> = ["a", "a", "a", "b", "a", "c", "c"]
            .into_iter()
            .map(String::from)
            .collect();
        assert_eq!(summarize_names(&names), "a ×3, b, a, c ×2");
        assert_eq!(summarize_names(&[]), "");
    }
}
