//! `foldstore import`: the lines of `foldstore export` appended to a store, each commit at its
//! own number with its own headers; nothing written unless every line fits the store.

use std::fs;
use std::io::{self, IsTerminal, Read, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context};
use foldstore::{Commit, Store, COMMIT_ID_HEADER};

use crate::cli::LayoutArg;
use crate::cmd::export::Members;
use crate::output::{event_problem, plural, printable, styled, Palette};

/// A commit read from the input, checked, ready to write.
struct Incoming {
    /// Where it was read, for messages: `FILE line N`.
    place: String,
    commit: Commit,
    /// The document to write: the line without its `commit` member.
    document: String,
}

/// Reads the lines of `foldstore export` from `file` (`None` or `-`: standard input) and
/// writes the commits the store does not hold yet, at their numbers.
///
/// # Errors
/// Input that is not such lines, commits not numbered one after another, a first commit
/// beyond the end of the store (a gap), a commit the store holds with other headers or events
/// (nothing written in all these cases); errors of the store.
pub fn run(
    path: &Path,
    file: Option<&Path>,
    layout: Option<LayoutArg>,
) -> anyhow::Result<ExitCode> {
    let (name, text) = read_input(file)?;
    let incoming = parse(&name, &text)?;
    let mut builder = Store::builder(path);
    if let Some(layout) = layout {
        builder = builder.layout(layout.into());
    }
    let store = builder.open()?;
    let tip = store.tip()?;
    if let Some(first) = incoming.first() {
        let number = first.commit.number();
        if number > tip + 1 {
            bail!(
                "{} is commit {number}, but the store ends at commit {tip}: importing it would \
                 leave a gap; import the commits before it first; nothing was written",
                first.place
            );
        }
    }
    let mut present = 0;
    for commit in incoming.iter().filter(|c| c.commit.number() <= tip) {
        let number = commit.commit.number();
        let location = store.storage().commit_location(number);
        let bytes = store.storage().read_commit(number)?.ok_or_else(|| {
            anyhow!("commit {number} ({location}) disappeared while importing; nothing was written")
        })?;
        let held = std::str::from_utf8(&bytes)
            .ok()
            .and_then(|text| serde_json::from_str::<Members>(text).ok())
            .map(|members| members.line(None));
        if held.as_deref() != Some(commit.document.as_str()) {
            bail!(
                "the store holds another commit {number} ({location}) than {}: import only \
                 into an empty store or one holding the same first commits (byte for byte, but \
                 for whitespace); nothing was written",
                commit.place
            );
        }
        present += 1;
    }
    let new: Vec<&Incoming> = incoming
        .iter()
        .filter(|c| c.commit.number() > tip)
        .collect();
    if !new.is_empty() {
        store.ensure_folder()?;
    }
    for commit in &new {
        let number = commit.commit.number();
        let created = if commit.commit.headers().contains_key(COMMIT_ID_HEADER) {
            store
                .storage()
                .create_identified_commit(number, commit.document.as_bytes())
        } else {
            store
                .storage()
                .create_commit(number, commit.document.as_bytes())
        };
        if created?.is_err() {
            bail!(
                "another writer took commit {number} while importing ({} imported before \
                 it); run the import again to check and finish it",
                plural(number - new[0].commit.number(), "commit")
            );
        }
    }
    let mut out = io::stdout().lock();
    match (new.first(), new.last()) {
        (Some(first), Some(last)) => write!(
            out,
            "imported {} ({})",
            plural(new.len() as u64, "commit"),
            range_text(first.commit.number(), last.commit.number())
        )?,
        _ => write!(out, "imported nothing")?,
    }
    if present > 0 {
        write!(out, "; {} in the store already", plural(present, "commit"))?;
    }
    writeln!(out)?;
    Ok(ExitCode::SUCCESS)
}

/// `commits 6-10`, or `commit 6` for one commit.
fn range_text(first: u64, last: u64) -> String {
    if first == last {
        format!("commit {first}")
    } else {
        format!("commits {first}-{last}")
    }
}

/// The input's name for messages, and its text.
fn read_input(file: Option<&Path>) -> anyhow::Result<(String, String)> {
    match file.filter(|f| f.as_os_str() != "-") {
        Some(file) => {
            let text = fs::read_to_string(file)
                .with_context(|| format!("cannot read {}; nothing was written", file.display()))?;
            Ok((printable(&file.display().to_string()).into_owned(), text))
        }
        None => {
            let mut input = io::stdin().lock();
            if input.is_terminal() {
                let p = Palette::stderr();
                writeln!(
                    io::stderr(),
                    "{} one commit a line, as 'foldstore export' writes them; end with Ctrl-D",
                    styled(p.label, "reading commits from standard input:")
                )?;
            }
            let mut text = String::new();
            input
                .read_to_string(&mut text)
                .context("cannot read standard input; nothing was written")?;
            Ok(("standard input".to_owned(), text))
        }
    }
}

/// Reads and checks every line (blank lines skipped): one commit each, numbered one after
/// another, with events the original package can dispatch.
fn parse(name: &str, text: &str) -> anyhow::Result<Vec<Incoming>> {
    let mut incoming: Vec<Incoming> = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let place = format!("{name} line {}", index + 1);
        let members: Members = serde_json::from_str(line).map_err(|e| {
            if e.is_eof() {
                anyhow!(
                    "{place} holds part of a JSON value: import reads one commit a line, as \
                     'foldstore export' writes them (pretty-printed JSON is not accepted; \
                     'jq -c .' makes it one object a line); nothing was written"
                )
            } else {
                anyhow!("{place} is not a JSON object ({e}); {SHAPE}; nothing was written")
            }
        })?;
        let number = commit_number(&place, &members)?;
        let document = Members(
            members
                .0
                .into_iter()
                .filter(|(key, _)| key != "commit")
                .collect(),
        )
        .line(None);
        // Past the largest number, no commit can follow: u64::MAX + 1 is not expected.
        let expected = incoming.last().map(|c| c.commit.number().checked_add(1));
        if number == 0 || expected.is_some_and(|expected| expected != Some(number)) {
            bail!(
                "{place} is commit {number}, where {} was expected: the commits must be \
                 numbered one after another (from 1), as 'foldstore export' writes them; nothing \
                 was written",
                match expected {
                    None => "commit 1".to_owned(),
                    Some(Some(n)) => format!("commit {n}"),
                    Some(None) => "no commit".to_owned(),
                }
            );
        }
        let commit = Commit::decode(number, document.as_bytes())
            .map_err(|e| anyhow!("{place}: {e}; {SHAPE}; nothing was written"))?;
        for event in commit.events() {
            Commit::check_event_name(event.name())
                .map_err(|e| anyhow!("{place}: {}; nothing was written", event_problem(&e)))?;
        }
        incoming.push(Incoming {
            place,
            commit,
            document,
        });
    }
    if incoming.is_empty() {
        bail!("{name} holds no commits; nothing was written");
    }
    Ok(incoming)
}

/// What a line of an export is, for messages.
const SHAPE: &str = "import reads lines {\"commit\": N, \"headers\": {...}, \"events\": [...]}, \
    as 'foldstore export' writes them";

/// The number in the line's `commit` member.
fn commit_number(place: &str, members: &Members) -> anyhow::Result<u64> {
    let has = |name: &str| members.0.iter().any(|(key, _)| key == name);
    if has("name") && !has("events") {
        bail!(
            "{place} is an event, as 'foldstore events' prints them, not a commit; {SHAPE}; \
             nothing was written"
        );
    }
    let mut numbers = members.0.iter().filter(|(key, _)| key == "commit");
    match (numbers.next(), numbers.next()) {
        (Some((_, number)), None) => serde_json::from_str(number.get()).map_err(|_| {
            anyhow!(
                "{place}: its \"commit\" member, {}, is not a commit number; nothing was written",
                printable(&truncated(number.get()))
            )
        }),
        (Some(_), Some(_)) => bail!("{place} has two \"commit\" members; nothing was written"),
        (None, _) => bail!("{place} has no \"commit\" member; {SHAPE}; nothing was written"),
    }
}

/// At most the first 40 characters of `text`, and `...` when there were more.
fn truncated(text: &str) -> String {
    match text.char_indices().nth(40) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.to_owned(),
    }
}
