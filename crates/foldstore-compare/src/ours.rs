//! foldstore's side of the comparison: appends and replays through the public API, for each
//! folder layout measured.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context};
use foldstore::{Durability, Event, EventContext, ModelDefinition, Store, View};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::workload::{document, in_threads, member_has_moved, Measured};

/// A way foldstore lays a store out in a folder; each is one more row in every workload.
#[derive(Debug)]
pub struct Layout {
    /// The row's id in the JSON report.
    pub id: &'static str,
    /// The row's label in the table.
    pub label: &'static str,
    /// Opens (without creating anything) a store of this layout at a path.
    pub open: fn(&Path, Durability) -> foldstore::Result<Store>,
}

/// The original package's layout: commit k is the file `k.log`.
pub const LOOSE: Layout = Layout {
    id: "foldstore-loose",
    label: "foldstore, loose layout",
    open: |path, durability| Store::builder(path).durability(durability).open(),
};

/// foldstore's journal: commits as length-framed records of segment files, group commit.
pub const JOURNAL: Layout = Layout {
    id: "foldstore-journal",
    label: "foldstore, journal layout",
    open: |path, durability| {
        Store::builder(path)
            .layout(foldstore::Layout::Journal)
            .durability(durability)
            .open()
    },
};

/// The layouts measured.
pub const LAYOUTS: &[Layout] = &[LOOSE, JOURNAL];

/// Appends one commit per event (`Store::log`) to a new store at `folder`.
///
/// # Errors
/// The store's errors, and a store that does not hold every commit afterwards.
pub fn append(
    layout: &Layout,
    folder: &Path,
    events: &[Event],
    durability: Durability,
) -> anyhow::Result<Measured> {
    let store = (layout.open)(folder, durability)?;
    store.ensure_folder()?;
    let started = Instant::now();
    for event in events {
        store.log(event)?;
    }
    let seconds = started.elapsed().as_secs_f64();
    let commits = events.len() as u64;
    check_tip(layout, folder, commits)?;
    Ok(Measured::new(commits, commits, seconds))
}

/// Checks, through a new store, that the store at `folder` ends at commit `commits`.
fn check_tip(layout: &Layout, folder: &Path, commits: u64) -> anyhow::Result<()> {
    let tip = (layout.open)(folder, Durability::None)?.tip()?;
    if tip != commits {
        bail!(
            "{} holds {tip} commits, not the {commits} written",
            folder.display()
        );
    }
    Ok(())
}

/// Appends one commit per event (`Store::log`) to a new store at `folder` from `threads`
/// threads sharing one `Store`, each logging its share of the events (their order in the log
/// is the order the writers got in).
///
/// # Errors
/// The store's errors, and a store that does not hold every commit afterwards.
pub fn append_threads(
    layout: &Layout,
    folder: &Path,
    events: &[Event],
    durability: Durability,
    threads: usize,
) -> anyhow::Result<Measured> {
    let store = (layout.open)(folder, durability)?;
    store.ensure_folder()?;
    let share = events.len().div_ceil(threads.max(1)).max(1);
    let started = Instant::now();
    in_threads(events.chunks(share), |part| {
        for event in part {
            store.log(event)?;
        }
        Ok(())
    })?;
    let seconds = started.elapsed().as_secs_f64();
    let commits = events.len() as u64;
    check_tip(layout, folder, commits)?;
    Ok(Measured::new(commits, commits, seconds))
}

/// Makes a copy of the commits 1 to `commits` of the loose store at `from`, byte for byte, in
/// a new store of `layout` at `to` (not timed; the loose layout's copy is the store itself).
///
/// # Errors
/// I/O and store errors.
pub fn copy_of_loose(
    layout: &Layout,
    from: &Path,
    to: &Path,
    commits: u64,
) -> anyhow::Result<std::path::PathBuf> {
    if layout.id == LOOSE.id {
        return Ok(from.to_path_buf());
    }
    let store = (layout.open)(to, Durability::None)?;
    store.ensure_folder()?;
    for k in 1..=commits {
        let file = from.join(format!("{k}.log"));
        let bytes =
            std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
        let number = store.storage().append_commit(k, &bytes)?;
        if number != k {
            bail!("commit {k} of {} landed at {number}", from.display());
        }
    }
    check_tip(layout, to, commits)?;
    Ok(to.to_path_buf())
}

/// Makes a new journal at `folder` of `commits` single-event commits, event `i` being
/// `memberHasMoved` of member `i` in some order, quickly: documents made beforehand in each
/// writer thread, appended with `Durability::None` by `threads` threads sharing one backend
/// (so that their appends share batches), and synced once at the end.
///
/// # Errors
/// The store's errors, and a store that does not hold every commit afterwards.
pub fn build_journal(folder: &Path, commits: u64, threads: u64) -> anyhow::Result<()> {
    let store = (JOURNAL.open)(folder, Durability::None)?;
    store.ensure_folder()?;
    let threads = threads.max(1);
    in_threads(0..threads, |t| {
        let mut event = Vec::new();
        for i in (t..commits).step_by(usize::try_from(threads)?) {
            event.clear();
            serde_json::to_writer(&mut event, &member_has_moved(i))?;
            store.storage().append_commit(1, &document(&event))?;
        }
        Ok(())
    })?;
    store.storage().sync_all()?;
    check_tip(&JOURNAL, folder, commits)
}

/// Opens the store at `folder` and replays every event (`Store::replay_event_stream`), looking
/// at each as a handler would.
///
/// # Errors
/// The store's errors.
pub fn replay(layout: &Layout, folder: &Path) -> anyhow::Result<Measured> {
    let started = Instant::now();
    let store = (layout.open)(folder, Durability::default())?;
    let mut name_bytes = 0usize;
    let summary = store.replay_event_stream(|event, _headers| {
        name_bytes += event.name().len();
    })?;
    let seconds = started.elapsed().as_secs_f64();
    std::hint::black_box(name_bytes);
    Ok(Measured::new(summary.commits, summary.events, seconds))
}

/// As [`replay`], with each event's data parsed only when the handler asks for it
/// (`Replay::data_on_demand`): every document is still read in full and checked, and the
/// handler looks at the names only.
///
/// # Errors
/// The store's errors.
pub fn replay_on_demand(layout: &Layout, folder: &Path) -> anyhow::Result<Measured> {
    let started = Instant::now();
    let store = (layout.open)(folder, Durability::default())?;
    let mut name_bytes = 0usize;
    let summary = store.replay().data_on_demand().run(|event, _headers| {
        name_bytes += event.name().len();
    })?;
    let seconds = started.elapsed().as_secs_f64();
    std::hint::black_box(name_bytes);
    Ok(Measured::new(summary.commits, summary.events, seconds))
}

/// The guide's typed events (`docs/guide.md`, section 1): a serde enum tagged `name` with
/// content `data`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "name", content = "data", rename_all = "camelCase")]
pub enum MemberEvent {
    /// A member joined.
    NewMemberRegistered {
        /// Who.
        name: String,
        /// Where they live.
        address: Value,
    },
    /// A member moved (every event of the workloads).
    MemberHasMoved {
        /// Who.
        name: String,
        /// Where to.
        address: Value,
    },
    /// A member left.
    MembershipEnded {
        /// Who.
        name: String,
    },
}

/// The [`Members`] model with the guide's typed events: the address of each of the members
/// `member 0` to `member 999`, the fold of every event decoded into [`MemberEvent`]. It takes
/// no snapshots, so that a new model folds the whole log.
#[derive(Debug)]
pub struct TypedMembers;

impl ModelDefinition for TypedMembers {
    type Data = BTreeMap<String, Value>;
    type Event = MemberEvent;
    type Error = String;
    type Domain<V: View<Self>> = V;

    fn initial_data(&self) -> Self::Data {
        BTreeMap::new()
    }

    fn apply(
        &self,
        data: &mut Self::Data,
        event: MemberEvent,
        _: &EventContext<'_>,
    ) -> Result<(), String> {
        match event {
            MemberEvent::NewMemberRegistered { name, address }
            | MemberEvent::MemberHasMoved { name, address } => {
                let index: u64 = name
                    .strip_prefix("member ")
                    .and_then(|index| index.parse().ok())
                    .ok_or_else(|| format!("{name:?} is not `member <number>`"))?;
                if index < MODEL_MEMBERS {
                    data.insert(name, address);
                }
            }
            MemberEvent::MembershipEnded { name } => {
                data.remove(&name);
            }
        }
        Ok(())
    }

    fn domain<V: View<Self>>(&self, view: V) -> V {
        view
    }
}

/// Opens the store at `folder` and folds every commit into a new [`TypedMembers`] model
/// (`Model::aggregator_data`), timed; checks that the fold reached the tip with every member.
///
/// # Errors
/// The store's errors; a fold that stopped early or lacks members.
pub fn fold_typed(layout: &Layout, folder: &Path) -> anyhow::Result<Measured> {
    let started = Instant::now();
    let store = (layout.open)(folder, Durability::default())?;
    let model = store.define_model(TypedMembers)?;
    let data = model.aggregator_data()?;
    let (position, members) = (data.position(), data.len());
    let seconds = started.elapsed().as_secs_f64();
    let tip = store.tip()?;
    if position != tip || members as u64 != MODEL_MEMBERS.min(tip) {
        bail!(
            "the typed model of {} folded to commit {position} with {members} members, not to the tip {tip}",
            folder.display()
        );
    }
    // One event a commit in every workload.
    Ok(Measured::new(position, position, seconds))
}

/// The members the [`Members`] model keeps: `member 0` to `member 999`.
pub const MODEL_MEMBERS: u64 = 1_000;

/// A model of the workloads' `memberHasMoved` events: the address of each of the members
/// `member 0` to `member 999` ([`MODEL_MEMBERS`]); moves of other members are left out, so
/// that a store of the first 1,000 events and a store of any more of them fold into the same
/// data, and so into the same snapshot.
#[derive(Debug)]
pub struct Members;

impl ModelDefinition for Members {
    type Data = BTreeMap<String, Value>;
    type Event = Event;
    type Error = String;
    type Domain<V: View<Self>> = V;

    fn snapshot_name(&self) -> Option<&str> {
        Some("members")
    }

    fn initial_data(&self) -> Self::Data {
        BTreeMap::new()
    }

    fn apply(
        &self,
        data: &mut Self::Data,
        event: Event,
        _: &EventContext<'_>,
    ) -> Result<(), String> {
        if event.name() != "memberHasMoved" {
            return Ok(());
        }
        let moved = event.data().ok_or("a move without data")?;
        let name = moved["name"].as_str().ok_or("a move without a name")?;
        let index: u64 = name
            .strip_prefix("member ")
            .and_then(|index| index.parse().ok())
            .ok_or_else(|| format!("{name:?} is not `member <number>`"))?;
        if index < MODEL_MEMBERS {
            data.insert(name.to_owned(), moved["address"].clone());
        }
        Ok(())
    }

    fn domain<V: View<Self>>(&self, view: V) -> V {
        view
    }
}

/// Folds the journal at `folder` into a [`Members`] model and saves its snapshot at the tip
/// (`Model::snapshot`), checking that it holds every member (not timed).
///
/// # Errors
/// The store's errors; a snapshot not at the tip, or not of every member.
pub fn snapshot_members(folder: &Path) -> anyhow::Result<()> {
    let store = (JOURNAL.open)(folder, Durability::Immediate)?;
    let model = store.define_model(Members)?;
    let label = model.snapshot()?;
    let tip = store.tip()?;
    let members = model.aggregator_data()?.len();
    if label != Some(tip) || members as u64 != MODEL_MEMBERS {
        bail!(
            "the snapshot of {} is at {label:?} with {members} members, not at commit {tip} with {MODEL_MEMBERS}",
            folder.display()
        );
    }
    Ok(())
}

/// Opens a new store on the journal at `folder` and its [`Members`] model, and reads the
/// model's data (`Model::aggregator_data`), timed; checks that the model was restored from the
/// snapshot at the tip. The run's commits are the model's position.
///
/// # Errors
/// The store's errors; a model not restored from the snapshot at the tip.
pub fn open_members(folder: &Path) -> anyhow::Result<Measured> {
    let started = Instant::now();
    let store = (JOURNAL.open)(folder, Durability::default())?;
    let model = store.define_model(Members)?;
    let data = model.aggregator_data()?;
    let (position, members) = (data.position(), data.len());
    let seconds = started.elapsed().as_secs_f64();
    let restored = model.report().restored_from;
    if restored != Some(position) || members as u64 != MODEL_MEMBERS {
        bail!(
            "the model of {} was restored from {restored:?}, is at commit {position} with {members} members: not from the snapshot at the tip with {MODEL_MEMBERS}",
            folder.display()
        );
    }
    Ok(Measured::new(position, 0, seconds))
}

/// The commits `foldstore log --from TIP-9` shows: the last ten.
pub const TAIL: u64 = 10;

/// A new store on the journal at `folder` reads its last [`TAIL`] commits, decoded (what
/// `foldstore log --from N` does before printing).
///
/// # Errors
/// When the journal cannot be opened or read, or holds fewer commits.
pub fn read_tail(folder: &Path) -> anyhow::Result<Measured> {
    let started = Instant::now();
    let store = (JOURNAL.open)(folder, Durability::default())?;
    let tip = store.tip()?;
    let first = tip.saturating_sub(TAIL - 1).max(1);
    let mut events = 0;
    let mut read = 0;
    for commit in store.commits(first..=tip) {
        events += commit?.events().len() as u64;
        read += 1;
    }
    let seconds = started.elapsed().as_secs_f64();
    if read != TAIL.min(tip) {
        bail!(
            "read {read} commits from {first} to {tip} of {}",
            folder.display()
        );
    }
    // The row's commits are the journal's: the tail read is measured against its length.
    Ok(Measured::new(tip, events, seconds))
}

/// The peak resident memory of this process so far (`VmHWM` of `/proc/self/status`).
///
/// # Errors
/// Where there is no such figure (not Linux).
pub fn peak_rss_bytes() -> anyhow::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")
        .context("cannot read /proc/self/status (the peak memory is read on Linux only)")?;
    let kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().strip_suffix("kB"))
        .and_then(|kib| kib.trim().parse::<u64>().ok())
        .context("/proc/self/status has no VmHWM")?;
    Ok(kib * 1024)
}
