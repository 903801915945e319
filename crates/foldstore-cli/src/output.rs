//! Shared output helpers: colors, pretty JSON, sizes, escaping, the look of errors, findings and
//! the library's diagnostics, and telling a closed pipe from a failure.

use std::borrow::Cow;
use std::io::{self, IsTerminal, Write};

use anstyle::{AnsiColor, Style};
use foldstore::{Error, Finding};
use serde_json::{json, Value};
use tracing::field::{Field, Visit};
use tracing::Level;
use tracing_subscriber::fmt::{format, FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// The styles of everything `foldstore` colors. Every style is plain when colors are off, so
/// code writes `{style}text{style:#}` either way.
#[derive(Clone, Copy, Debug, Default)]
pub struct Palette {
    /// Commit numbers.
    pub commit: Style,
    /// Times.
    pub time: Style,
    /// Event names.
    pub name: Style,
    /// Sizes, counts and other secondary figures.
    pub dim: Style,
    /// Table headings and labels.
    pub label: Style,
    /// Object keys in JSON.
    pub key: Style,
    /// JSON strings.
    pub string: Style,
    /// JSON numbers.
    pub number: Style,
    /// JSON `true`, `false` and `null`.
    pub literal: Style,
    /// Good news ("ok", "sound").
    pub good: Style,
    /// Problems.
    pub bad: Style,
    /// Warnings.
    pub warn: Style,
}

impl Palette {
    /// The colored palette.
    fn colored() -> Palette {
        let fg = |color: AnsiColor| Style::new().fg_color(Some(color.into()));
        Palette {
            commit: fg(AnsiColor::Yellow),
            time: fg(AnsiColor::Green),
            name: fg(AnsiColor::Cyan).bold(),
            dim: Style::new().dimmed(),
            label: Style::new().bold(),
            key: fg(AnsiColor::Blue).bold(),
            string: fg(AnsiColor::Green),
            number: fg(AnsiColor::Cyan),
            literal: fg(AnsiColor::Magenta),
            good: fg(AnsiColor::Green).bold(),
            bad: fg(AnsiColor::Red).bold(),
            warn: fg(AnsiColor::Yellow).bold(),
        }
    }

    /// The palette for standard output: colored only on a terminal (or when forced with
    /// `--color always` or `CLICOLOR_FORCE`), never when `NO_COLOR` is set (unless forced by
    /// `--color always`).
    pub fn stdout() -> Palette {
        Palette::for_choice(anstream::AutoStream::choice(&io::stdout()))
    }

    /// The palette for standard error, by the same rules.
    pub fn stderr() -> Palette {
        Palette::for_choice(anstream::AutoStream::choice(&io::stderr()))
    }

    fn for_choice(choice: anstream::ColorChoice) -> Palette {
        match choice {
            anstream::ColorChoice::Never => Palette::default(),
            _ => Palette::colored(),
        }
    }
}

/// Writes `text` in `style` (nothing extra when the style is plain). Pad the text before
/// styling it, so that escape codes do not count as width.
pub fn styled(style: Style, text: impl std::fmt::Display) -> impl std::fmt::Display {
    struct Styled<T>(Style, T);
    impl<T: std::fmt::Display> std::fmt::Display for Styled<T> {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{}{}{:#}", self.0, self.1, self.0)
        }
    }
    Styled(style, text)
}

/// Writes `value` as pretty JSON (two-space indents, as `serde_json::to_string_pretty` does),
/// colored by `palette`, with every line after the first indented by `indent` spaces.
///
/// # Errors
/// Errors of writing to `out`.
pub fn write_pretty_json(
    out: &mut dyn Write,
    value: &Value,
    palette: &Palette,
    indent: usize,
) -> io::Result<()> {
    match value {
        Value::Null => write!(out, "{}", styled(palette.literal, "null")),
        Value::Bool(b) => write!(out, "{}", styled(palette.literal, b)),
        Value::Number(n) => write!(out, "{}", styled(palette.number, n)),
        Value::String(s) => write!(out, "{}", styled(palette.string, json_string(s))),
        Value::Array(items) if items.is_empty() => write!(out, "[]"),
        Value::Array(items) => {
            writeln!(out, "[")?;
            for (index, item) in items.iter().enumerate() {
                write!(out, "{:width$}", "", width = indent + 2)?;
                write_pretty_json(out, item, palette, indent + 2)?;
                writeln!(out, "{}", if index + 1 < items.len() { "," } else { "" })?;
            }
            write!(out, "{:width$}]", "", width = indent)
        }
        Value::Object(members) if members.is_empty() => write!(out, "{{}}"),
        Value::Object(members) => {
            writeln!(out, "{{")?;
            for (index, (key, item)) in members.iter().enumerate() {
                write!(
                    out,
                    "{:width$}{}: ",
                    "",
                    styled(palette.key, json_string(key)),
                    width = indent + 2
                )?;
                write_pretty_json(out, item, palette, indent + 2)?;
                writeln!(out, "{}", if index + 1 < members.len() { "," } else { "" })?;
            }
            write!(out, "{:width$}}}", "", width = indent)
        }
    }
}

/// `text` as a JSON string literal, quotes and escapes included (see [`escape_json`]).
pub fn json_string(text: &str) -> String {
    escape_json(serde_json::to_string(text).unwrap_or_else(|_| format!("{text:?}")))
}

/// JSON text with the characters [`printable`] escapes written as `\uXXXX`, besides those JSON
/// itself must escape (below U+0020): the same value to a JSON reader, harmless on a terminal.
/// They can only be inside strings: JSON's own syntax is ASCII without control characters.
pub fn escape_json(json: String) -> String {
    if !json.chars().any(needs_escape) {
        return json;
    }
    let mut escaped = String::with_capacity(json.len() + 8);
    for c in json.chars() {
        if needs_escape(c) {
            // Every such character is in the Basic Multilingual Plane: one `\uXXXX`.
            escaped.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            escaped.push(c);
        }
    }
    escaped
}

/// `text` for a terminal: every control character escaped (`\t`, `\n`, `\r`, others as
/// `\u{1b}`), and so are the characters that reorder the text shown after them (the
/// bidirectional embeddings, overrides and isolates). A name holding `ESC [2J` cannot clear the
/// screen, and a tab or a newline cannot break a table's layout. Everything people read goes
/// through this (JSON output escapes them itself); other text comes back as it is.
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\t' => escaped.push_str("\\t"),
            '\n' => escaped.push_str("\\n"),
            '\r' => escaped.push_str("\\r"),
            c if needs_escape(c) => escaped.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => escaped.push(c),
        }
    }
    Cow::Owned(escaped)
}

/// Whether [`printable`] escapes `c`: a control character, or one that reorders the text after
/// it on screen.
fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// A header value for people: a string as it is (escaped by [`printable`]), anything else as
/// compact JSON.
pub fn header_text(value: &Value) -> String {
    match value {
        Value::String(s) => printable(s).into_owned(),
        other => escape_json(other.to_string()),
    }
}

/// What is wrong with an event the library refused ([`Error::InvalidEvent`]'s problem, without
/// the "invalid event: " its message starts with), or the error's message.
pub fn event_problem(error: &Error) -> String {
    match error {
        Error::InvalidEvent { problem } => problem.clone(),
        other => other.to_string(),
    }
}

/// A byte count for people: `412 B`, `1.4 KiB`, `3.0 MiB`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    // Precision loss is fine for a figure rounded to one decimal.
    #[allow(clippy::cast_precision_loss)]
    let mut size = bytes as f64 / 1024.0;
    let mut unit = 0;
    while size >= 1024.0 && unit + 1 < UNITS.len() {
        size /= 1024.0;
        unit += 1;
    }
    format!("{size:.1} {}", UNITS[unit])
}

/// `n thing` or `n things`.
pub fn plural(n: u64, thing: &str) -> String {
    if n == 1 {
        format!("{n} {thing}")
    } else {
        format!("{n} {thing}s")
    }
}

/// An error and its causes on one line, `error: cause: cause` as `{:#}` writes it, leaving out
/// each cause whose text the line holds already (errors that quote their cause in their own
/// message would otherwise say it twice).
pub fn error_text(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let part = cause.to_string();
        if text.contains(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}

/// The look of the library's diagnostics on standard error: one line each, labelled as
/// foldstore's own messages are (`warning: cut off the torn end of ... (segment=..., offset=...)`),
/// escaped by [`printable`].
pub struct Diagnostics;

impl<S, N> FormatEvent<S, N> for Diagnostics
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _: &FmtContext<'_, S, N>,
        mut writer: format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let p = Palette::stderr();
        let (style, label) = match *event.metadata().level() {
            Level::ERROR => (p.bad, "error:"),
            Level::WARN => (p.warn, "warning:"),
            Level::INFO => (p.label, "note:"),
            Level::DEBUG => (p.dim, "debug:"),
            Level::TRACE => (p.dim, "trace:"),
        };
        let mut fields = Fields::default();
        event.record(&mut fields);
        let mut text = fields.message;
        if !fields.rest.is_empty() {
            text.push_str(&format!(" ({})", fields.rest.join(", ")));
        }
        writeln!(writer, "{} {}", styled(style, label), printable(&text))
    }
}

/// The fields of a diagnostic: its message, and the others as `name=value`.
#[derive(Default)]
struct Fields {
    message: String,
    rest: Vec<String>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            value.clone_into(&mut self.message);
        } else {
            self.rest.push(format!("{}={value}", field.name()));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        } else {
            self.rest.push(format!("{}={value:?}", field.name()));
        }
    }
}

/// Whether an error comes from writing to a closed pipe (`foldstore events | head`).
pub fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        let kind = match cause.downcast_ref::<io::Error>() {
            Some(e) => Some(e.kind()),
            // serde_json's writer errors do not expose their io::Error as a source.
            None => cause
                .downcast_ref::<serde_json::Error>()
                .and_then(serde_json::Error::io_error_kind),
        };
        kind == Some(io::ErrorKind::BrokenPipe)
    })
}

/// Whether standard output goes to a regular file (`foldstore events STORE > out.jsonl`): then
/// a progress bar on a terminal's standard error shows how far a long listing has come. When
/// it goes to a terminal the output shows that itself, and when it goes to a pipe the reader
/// may be a pager that owns the terminal, so no bar is drawn.
pub fn stdout_is_a_file() -> bool {
    if io::stdout().is_terminal() {
        return false;
    }
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        io::stdout()
            .as_fd()
            .try_clone_to_owned()
            .map(std::fs::File::from)
            .and_then(|file| file.metadata())
            .is_ok_and(|meta| meta.is_file())
    }
    #[cfg(not(unix))]
    {
        false
    }
}

/// Writes one finding as a line: `label location: problem`, the label in `style` (see
/// [`finding_text`]).
///
/// # Errors
/// Errors of writing.
pub fn write_finding(
    out: &mut dyn Write,
    style: Style,
    label: &str,
    finding: &Finding,
) -> io::Result<()> {
    writeln!(
        out,
        "{} {}",
        styled(style, label),
        finding_text(finding, style)
    )
}

/// A finding for people: `location: problem`, the location in `style`, or the problem alone
/// when it names the location already; escaped by [`printable`].
pub fn finding_text(finding: &Finding, style: Style) -> String {
    let problem = printable(&finding.problem);
    if finding.problem.contains(&finding.location) {
        problem.into_owned()
    } else {
        format!("{}: {problem}", styled(style, printable(&finding.location)))
    }
}

/// Findings as JSON: `[{"location", "problem"}]`.
pub fn findings_json(findings: &[Finding]) -> Vec<Value> {
    findings
        .iter()
        .map(|f| json!({"location": f.location, "problem": f.problem}))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn plain_pretty_json_is_serde_json_pretty() {
        let value = json!({"a": [1, {"b": null, "c": "x\"y"}, []], "d": {}, "e": true, "f": 2.5});
        let mut out = Vec::new();
        write_pretty_json(&mut out, &value, &Palette::default(), 0).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            serde_json::to_string_pretty(&value).unwrap()
        );
    }

    #[test]
    fn colored_pretty_json_has_escapes() {
        let mut out = Vec::new();
        write_pretty_json(&mut out, &json!({"a": 1}), &Palette::colored(), 0).unwrap();
        assert!(String::from_utf8(out).unwrap().contains("\u{1b}["));
    }

    #[test]
    fn control_characters_are_escaped_for_people() {
        assert!(matches!(printable("plain ø"), Cow::Borrowed("plain ø")));
        assert_eq!(
            printable("a\tb\nc\rd\u{1b}[2J\u{0}\u{7f}\u{9b}\u{202e}"),
            "a\\tb\\nc\\rd\\u{1b}[2J\\u{0}\\u{7f}\\u{9b}\\u{202e}"
        );
        // JSON strings keep their meaning.
        let text = "x\u{1b}\u{7f}\u{9b}\u{2066}\"";
        let json = json_string(text);
        assert_eq!(json, "\"x\\u001b\\u007f\\u009b\\u2066\\\"\"");
        assert_eq!(serde_json::from_str::<String>(&json).unwrap(), text);
        assert_eq!(header_text(&json!(["\u{9b}"])), "[\"\\u009b\"]");
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1024), "1.0 KiB");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(3 * 1024 * 1024), "3.0 MiB");
    }

    #[test]
    fn plain_styles_add_nothing() {
        assert_eq!(format!("{}", styled(Style::new(), "ab")), "ab");
        let bold = Style::new().bold();
        assert_eq!(format!("{}", styled(bold, 42)), format!("{bold}42{bold:#}"));
    }
}
