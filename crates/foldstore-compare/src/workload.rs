//! What every program is given: the same events, written as the same commit documents, and
//! what a measurement records.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::{bail, Context};
use foldstore::{Event, Store};
use serde_json::{json, Value};

/// Event number `index` (from 0) of every workload: a `memberHasMoved` event of about 100
/// bytes, from the original package's tutorial (the shape `foldstore bench` writes too).
pub fn member_has_moved(index: u64) -> Value {
    json!({
        "name": "memberHasMoved",
        "data": {
            "name": format!("member {index}"),
            "address": {"street": format!("{index} Rykkinnveien"), "city": "Rykkinn"},
        },
    })
}

/// The events of a run, in every form the programs take them.
#[derive(Debug)]
pub struct Events {
    /// As JSON values, to check what a program wrote.
    pub values: Vec<Value>,
    /// As compact JSON, for the programs that write documents themselves.
    pub bytes: Vec<Vec<u8>>,
    /// As foldstore events.
    pub events: Vec<Event>,
    /// One event a line, compact JSON, for the original package's script.
    pub file: PathBuf,
}

impl Events {
    /// `count` events, also written to `file`.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn new(count: u64, file: PathBuf) -> anyhow::Result<Events> {
        let values: Vec<Value> = (0..count).map(member_has_moved).collect();
        let bytes: Vec<Vec<u8>> = values
            .iter()
            .map(serde_json::to_vec)
            .collect::<Result<_, _>>()?;
        let events = values
            .iter()
            .map(|value| serde_json::from_value(value.clone()))
            .collect::<Result<_, _>>()?;
        let mut lines = Vec::new();
        for line in &bytes {
            lines.extend_from_slice(line);
            lines.push(b'\n');
        }
        fs::write(&file, lines).with_context(|| format!("cannot write {}", file.display()))?;
        Ok(Events {
            values,
            bytes,
            events,
            file,
        })
    }

    /// The first `count` events in one line each, in a file next to the whole list.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn prefix_file(&self, count: usize) -> anyhow::Result<PathBuf> {
        if count >= self.bytes.len() {
            return Ok(self.file.clone());
        }
        let file = self.file.with_file_name(format!("events-{count}.jsonl"));
        let mut lines = Vec::new();
        for line in &self.bytes[..count] {
            lines.extend_from_slice(line);
            lines.push(b'\n');
        }
        fs::write(&file, lines).with_context(|| format!("cannot write {}", file.display()))?;
        Ok(file)
    }
}

/// The commit document of one event, written the way foldstore and the original write it:
/// `{"headers":{"time":"<now, as toISOString()>"},"events":[<event>]}`.
pub fn document(event: &[u8]) -> Vec<u8> {
    let time = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
    let mut document = Vec::with_capacity(event.len() + 64);
    document.extend_from_slice(br#"{"headers":{"time":""#);
    document.extend_from_slice(time.as_bytes());
    document.extend_from_slice(br#""},"events":["#);
    document.extend_from_slice(event);
    document.extend_from_slice(b"]}");
    document
}

/// Runs `work` on each of `parts`, each in its own thread, all at once, and waits for them:
/// the first error (or a panic) is returned.
///
/// # Errors
/// The first error of `work`, and a thread that panicked.
pub fn in_threads<T: Send>(
    parts: impl IntoIterator<Item = T>,
    work: impl Fn(T) -> anyhow::Result<()> + Sync,
) -> anyhow::Result<()> {
    let work = &work;
    std::thread::scope(|scope| {
        let threads: Vec<_> = parts
            .into_iter()
            .map(|part| scope.spawn(move || work(part)))
            .collect();
        for thread in threads {
            thread
                .join()
                .map_err(|_| anyhow::anyhow!("a writer thread panicked"))??;
        }
        Ok(())
    })
}

/// What one program did in one timed run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Measured {
    /// Commits written or read.
    pub commits: u64,
    /// Events written or read.
    pub events: u64,
    /// The time the work took (starting programs and making their input excluded).
    pub seconds: f64,
    /// The peak resident memory of the process that did the work, where it was measured.
    pub peak_bytes: Option<u64>,
    /// How decisions went, where the commits were decisions of read-write instances.
    pub decided: Option<Decided>,
}

/// How the decisions of a run went: each decision is one commit of the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Decided {
    /// Decisions that ran out of attempts (each attempt lost to a conflicting commit).
    pub exhausted: u64,
    /// Attempts made, by every decision.
    pub attempts: u64,
}

impl Decided {
    /// The attempts per decision, over `decisions` decisions.
    pub fn per_decision(self, decisions: u64) -> f64 {
        self.attempts as f64 / decisions.max(1) as f64
    }
}

impl Measured {
    /// `commits` commits of `events` events in `seconds`.
    pub fn new(commits: u64, events: u64, seconds: f64) -> Measured {
        Measured {
            commits,
            events,
            seconds,
            peak_bytes: None,
            decided: None,
        }
    }

    /// How the run's decisions went, in words (empty when its commits were not decisions).
    pub fn decisions_in_words(&self) -> String {
        self.decided.map_or_else(String::new, |decided| {
            format!(
                "{} out of attempts, {:.2} attempts per decision",
                decided.exhausted,
                decided.per_decision(self.commits)
            )
        })
    }

    /// Commits per second.
    pub fn commits_per_second(&self) -> f64 {
        // A run always takes some time; the floor only keeps the division finite.
        self.commits as f64 / self.seconds.max(1e-9)
    }
}

/// Checks that the folder store at `folder` holds exactly the commits `1..=n` of one event
/// each, event k-1 in commit k, read through foldstore (not timed).
///
/// # Errors
/// When it does not, naming the first difference.
pub fn check_folder(folder: &Path, expected: &[Value]) -> anyhow::Result<()> {
    let store = Store::open(folder)?;
    let mut count = 0usize;
    for commit in store.commits(..) {
        let commit = commit?;
        let Some(want) = expected.get(count) else {
            bail!(
                "{} holds more commits than the {} written",
                folder.display(),
                expected.len()
            );
        };
        let events: Vec<Value> = commit.events().iter().map(Event::to_value).collect();
        if events.len() != 1 || &events[0] != want {
            bail!(
                "commit {} of {} holds {events:?}, not [{want}]",
                commit.number(),
                folder.display()
            );
        }
        count += 1;
    }
    if count != expected.len() {
        bail!(
            "{} holds {count} commits, not the {} written",
            folder.display(),
            expected.len()
        );
    }
    Ok(())
}

/// Checks that the store at `folder` (any layout) holds exactly the commits `1..=n` of one
/// event each, the events being `expected` in any order, as writers on several threads leave
/// them (not timed).
///
/// # Errors
/// When it does not.
pub fn check_folder_unordered(folder: &Path, expected: &[Value]) -> anyhow::Result<()> {
    let store = Store::open(folder)?;
    let mut found = Vec::with_capacity(expected.len());
    for commit in store.commits(..) {
        let commit = commit?;
        if commit.events().len() != 1 {
            bail!(
                "commit {} of {} holds {} events, not one",
                commit.number(),
                folder.display(),
                commit.events().len()
            );
        }
        found.push(commit.events()[0].to_value().to_string());
    }
    let mut wanted: Vec<String> = expected.iter().map(Value::to_string).collect();
    found.sort_unstable();
    wanted.sort_unstable();
    if found != wanted {
        bail!(
            "{} holds {} commits that are not the {} events written",
            folder.display(),
            found.len(),
            wanted.len()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_what_foldstore_writes() {
        let event = serde_json::to_vec(&member_has_moved(7)).unwrap();
        let text = String::from_utf8(document(&event)).unwrap();
        let commit = foldstore::Commit::decode(1, text.as_bytes()).unwrap();
        assert_eq!(commit.encode(), text.as_bytes(), "byte for byte");
        assert_eq!(commit.events()[0].to_value(), member_has_moved(7));
        assert!(commit.time().is_some(), "{text}");
    }

    #[test]
    fn the_events_file_holds_the_events() {
        let dir = tempfile::tempdir().unwrap();
        let events = Events::new(5, dir.path().join("events.jsonl")).unwrap();
        let text = fs::read_to_string(&events.file).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines, events.values);
        let prefix = fs::read_to_string(events.prefix_file(2).unwrap()).unwrap();
        assert_eq!(prefix.lines().count(), 2);
        assert_eq!(events.events[4].to_value(), member_has_moved(4));
    }

    #[test]
    fn a_folder_is_checked_commit_by_commit() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::builder(dir.path())
            .durability(foldstore::Durability::None)
            .open()
            .unwrap();
        store.ensure_folder().unwrap();
        let expected: Vec<Value> = (0..3).map(member_has_moved).collect();
        for value in &expected[..2] {
            store.log(value).unwrap();
        }
        let short = check_folder(dir.path(), &expected).unwrap_err();
        assert!(short.to_string().contains("holds 2 commits"), "{short}");
        store.log(&expected[2]).unwrap();
        check_folder(dir.path(), &expected).unwrap();
        store.log(&expected[0]).unwrap();
        assert!(check_folder(dir.path(), &expected).is_err());
    }
}
