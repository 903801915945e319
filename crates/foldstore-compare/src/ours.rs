//! foldstore's side of the comparison: appends and replays through the public API, for each
//! folder layout measured.

use std::path::Path;
use std::time::Instant;

use anyhow::bail;
use foldstore::{Durability, Event, Store};

use crate::workload::Measured;

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

/// The layouts measured (a journal layout is added here when it exists).
pub const LAYOUTS: &[Layout] = &[LOOSE];

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
    let tip = (layout.open)(folder, durability)?.tip()?;
    if tip != commits {
        bail!(
            "{} holds {tip} commits, not the {commits} written",
            folder.display()
        );
    }
    Ok(Measured {
        commits,
        events: commits,
        seconds,
    })
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
    Ok(Measured {
        commits: summary.commits,
        events: summary.events,
        seconds,
    })
}
