//! `foldstore export`: commits as JSON lines `{"commit":N,"headers":...,"events":...}`: the
//! commit's number, then the members of its document in their order, their JSON text as
//! stored (numbers, member order and escapes in strings kept) without whitespace between
//! tokens; read back by `foldstore import`.

use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use anyhow::Context;
use foldstore::{RawCommit, Scanned, Store};
use serde::de::{Deserializer, MapAccess};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::access::{read_once, resolve_range};
use crate::cli::RangeArgs;
use crate::output::stdout_is_a_file;
use crate::progress::Progress;

/// A JSON object's members in their order, each value as its JSON text.
#[derive(Debug)]
pub struct Members<'a>(pub Vec<(String, &'a RawValue)>);

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members<'de>, A::Error> {
                let mut members = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    members.push((key, map.next_value::<&'de RawValue>()?));
                }
                Ok(Members(members))
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

impl Members<'_> {
    /// The object as one line, its members in their order with no whitespace between
    /// tokens, and with `"commit":N` first when `commit` is given.
    pub fn line(&self, commit: Option<u64>) -> String {
        let mut line = String::from("{");
        if let Some(number) = commit {
            line.push_str(&format!("\"commit\":{number}"));
        }
        for (key, value) in &self.0 {
            if line.len() > 1 {
                line.push(',');
            }
            // Serializing a string cannot fail.
            line.push_str(&serde_json::to_string(key).unwrap_or_default());
            line.push(':');
            push_compact(&mut line, value.get());
        }
        line.push('}');
        line
    }
}

/// Appends the JSON `text` to `out` without the whitespace between its tokens; strings,
/// numbers and everything else stay as written.
fn push_compact(out: &mut String, text: &str) {
    let mut in_string = false;
    let mut escaped = false;
    for c in text.chars() {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
        } else if matches!(c, ' ' | '\t' | '\n' | '\r') {
            continue;
        }
        out.push(c);
    }
}

/// Prints each commit of `range` as one line `{"commit":N,"headers":...,"events":...}`, with
/// a progress bar on a terminal when the output goes to a file.
///
/// # Errors
/// A range beyond the log; a damaged or missing commit (after printing what precedes it).
pub fn run(store: &Store, range: RangeArgs) -> anyhow::Result<ExitCode> {
    let (from, to) = resolve_range(store, range)?;
    let last = to.unwrap_or(store.tip()?);
    let mut progress = Progress::when(
        stdout_is_a_file(),
        "exporting",
        (last + 1).saturating_sub(from),
    );
    let mut out = BufWriter::new(io::stdout().lock());
    for scanned in store.raw_commits(from..=last)? {
        let (number, bytes) = match scanned {
            Scanned::Commit(RawCommit {
                number,
                bytes,
                commit,
            }) => {
                commit?;
                (number, bytes)
            }
            // A gap or an unreadable commit (an error), or the end of the log.
            other => {
                read_once(store, other, to)?;
                break;
            }
        };
        progress.inc();
        let location = || store.storage().commit_location(number);
        let text = std::str::from_utf8(&bytes)
            .with_context(|| format!("commit {number} ({}) is not UTF-8 text", location()))?;
        // The commit decoded, so it is a JSON object.
        let document: Members = serde_json::from_str(text)
            .with_context(|| format!("commit {number} ({}) cannot be exported", location()))?;
        out.write_all(document.line(Some(number)).as_bytes())?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_keeps_every_member_in_order() {
        let text = r#"{ "events" : [ {"name":"x", "data": 1.50} ], "headers" : {"a\u00e9":"\u00e9"}, "extra": null }"#;
        let members: Members = serde_json::from_str(text).expect("an object");
        assert_eq!(
            members.line(Some(7)),
            r#"{"commit":7,"events":[{"name":"x","data":1.50}],"headers":{"a\u00e9":"\u00e9"},"extra":null}"#
        );
        assert_eq!(Members(Vec::new()).line(None), "{}");
        assert!(serde_json::from_str::<Members>("[1]").is_err());
    }

    #[test]
    fn compacting_keeps_strings_and_numbers_as_written() {
        let mut out = String::new();
        push_compact(
            &mut out,
            "{ \"a b\" : [ 1.50 , 1e3 ,\n\t\"x \\\" y\\\\\" , \"\\u00e9 \" ] }",
        );
        assert_eq!(out, r#"{"a b":[1.50,1e3,"x \" y\\","\u00e9 "]}"#);
    }
}
