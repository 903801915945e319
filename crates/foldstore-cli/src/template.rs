//! Lines of text made to measure: `--format` templates (`'{commit}\t{name}\t{data.amount}'`)
//! and RFC 4180 CSV (`--csv`), for `log` and `events`.
//!
//! A template is text with fields in braces: `{PATH}`, PATH as `--where` reads it (see
//! [`crate::condition`]): `{commit}`, `{time}`, `{name}`, `{headers.user}`,
//! `{data.address.city}`, `{data.items.0}`. A field the line does not have is left empty; a
//! string is written as it is and anything else as compact JSON, with control characters
//! escaped (`\t`, `\n`, `\u{1b}`) as in all text for people. In the template, `\t`, `\n` and
//! `\\` are a tab, a newline and a backslash (so that `'{commit}\t{name}'` works in any
//! shell), and `{{` and `}}` are braces.

use std::borrow::Cow;
use std::io::{self, Write};

use serde_json::Value;

use crate::output::header_text;

/// A part of a template.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    /// Text written as it is.
    Text(String),
    /// A field: the parts of its path.
    Field(Vec<String>),
}

/// A parsed `--format` template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    pieces: Vec<Piece>,
}

/// What `--format` accepts, for messages.
const HINT: &str = "write fields in braces, e.g. '{commit}\\t{name}\\t{data.amount}' ({{ and }} \
                    are braces)";

/// Parses a `--format` template (see the module's documentation).
///
/// # Errors
/// A message for clap: a brace not closed or not opened, an empty field or an empty part of
/// a field's path.
pub fn parse_template(template: &str) -> Result<Template, String> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.peek() {
                Some('t') => {
                    chars.next();
                    text.push('\t');
                }
                Some('n') => {
                    chars.next();
                    text.push('\n');
                }
                Some('\\') => {
                    chars.next();
                    text.push('\\');
                }
                _ => text.push('\\'),
            },
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                text.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                text.push('}');
            }
            '}' => {
                return Err(format!(
                    "{template:?} has a '}}' that no '{{' opened: {HINT}"
                ))
            }
            '{' => {
                let mut field = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some('{') | None => {
                            return Err(format!(
                                "{template:?} has a '{{' that is not closed: {HINT}"
                            ))
                        }
                        Some(c) => field.push(c),
                    }
                }
                let field = field.trim();
                if field.is_empty() {
                    return Err(format!("{template:?} has an empty field {{}}: {HINT}"));
                }
                let path: Vec<String> = field.split('.').map(str::to_owned).collect();
                if path.iter().any(String::is_empty) {
                    return Err(format!(
                        "{template:?} has an empty part in the field {{{field}}}: {HINT}"
                    ));
                }
                if !text.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                }
                pieces.push(Piece::Field(path));
            }
            c => text.push(c),
        }
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok(Template { pieces })
}

impl Template {
    /// Writes one line: the template with each field's value that `lookup` finds (empty when
    /// it finds none), and a newline.
    ///
    /// # Errors
    /// Errors of writing.
    pub fn write_line<'a>(
        &self,
        out: &mut dyn Write,
        lookup: impl Fn(&[String]) -> Option<Cow<'a, Value>>,
    ) -> io::Result<()> {
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => out.write_all(text.as_bytes())?,
                Piece::Field(path) => {
                    if let Some(value) = lookup(path) {
                        out.write_all(header_text(&value).as_bytes())?;
                    }
                }
            }
        }
        out.write_all(b"\n")
    }
}

/// A CSV field (RFC 4180): in double quotes, its quotes doubled, when it holds a comma, a
/// quote or a line break; else as it is.
pub fn csv_field(text: &str) -> Cow<'_, str> {
    if text.contains([',', '"', '\r', '\n']) {
        Cow::Owned(format!("\"{}\"", text.replace('"', "\"\"")))
    } else {
        Cow::Borrowed(text)
    }
}

/// Writes one CSV record: the fields, separated by commas, ended by CRLF (RFC 4180).
///
/// # Errors
/// Errors of writing.
pub fn write_csv_record(out: &mut dyn Write, fields: &[&str]) -> io::Result<()> {
    for (index, field) in fields.iter().enumerate() {
        if index > 0 {
            out.write_all(b",")?;
        }
        out.write_all(csv_field(field).as_bytes())?;
    }
    out.write_all(b"\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render(template: &str, line: &Value) -> String {
        let mut out = Vec::new();
        parse_template(template)
            .unwrap()
            .write_line(&mut out, |path| {
                let mut value = line;
                for part in path {
                    value = value.get(part)?;
                }
                Some(Cow::Borrowed(value))
            })
            .unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn fills_fields_escapes_and_leaves_missing_ones_empty() {
        let line =
            json!({"commit": 7, "name": "a\tb\u{1b}[2J", "data": {"amount": 1.5, "x": [1, "\n"]}});
        assert_eq!(
            render(
                r"{commit}\t{name}\t{data.amount}|{data.missing}|{data.x}",
                &line
            ),
            "7\ta\\tb\\u{1b}[2J\t1.5||[1,\"\\n\"]\n"
        );
        assert_eq!(render(r"{{{commit}}} \\t \q", &line), "{7} \\t \\q\n");
        assert_eq!(render("plain", &line), "plain\n");
    }

    #[test]
    fn refuses_broken_templates() {
        for (bad, words) in [
            ("{commit", "not closed"),
            ("{a{b}}", "not closed"),
            ("commit}", "no '{' opened"),
            ("{}", "empty field"),
            ("{ }", "empty field"),
            ("{data..x}", "empty part"),
        ] {
            let e = parse_template(bad).unwrap_err();
            assert!(e.contains(words), "{bad}: {e}");
        }
    }

    #[test]
    fn csv_quotes_only_what_needs_it() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(
            csv_field(r#"{"a":1,"b":"x"}"#),
            r#""{""a"":1,""b"":""x""}""#
        );
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
        let mut out = Vec::new();
        write_csv_record(&mut out, &["1", "a,b", ""]).unwrap();
        assert_eq!(out, b"1,\"a,b\",\r\n");
    }
}
