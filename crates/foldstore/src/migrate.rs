//! Migration by copy: a store copied into a new one with its events upcast, and renamed, split
//! or dropped by a function ([`Store::migrate_to`]). Never in place; resumable as a copy is.

use std::fmt;

use crate::copy::{CopyError, CopyOptions, CopyReport};
use crate::event::Event;
use crate::format::{encode_commit, Commit};
use crate::store::Store;
use crate::upcast::{upcast_error, Upcasters};

type ChangeEvent<'a> = Box<dyn FnMut(Event) -> Vec<Event> + 'a>;

/// What [`Store::migrate_to`] does to each event: its upcasters, then a function that may
/// rename, change, split or drop it; and how it copies ([`CopyOptions`]).
#[must_use]
pub struct Migration<'a> {
    upcasters: Upcasters,
    change: Option<ChangeEvent<'a>>,
    copy: CopyOptions<'a>,
}

impl fmt::Debug for Migration<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Migration")
            .field("upcasters", &self.upcasters)
            .field("change", &self.change.is_some())
            .field("copy", &self.copy)
            .finish()
    }
}

impl<'a> Migration<'a> {
    /// A migration that upcasts every event with `upcasters` (and changes nothing else).
    pub fn new(upcasters: Upcasters) -> Migration<'a> {
        Migration {
            upcasters,
            change: None,
            copy: CopyOptions::new(),
        }
    }

    /// After the upcasters, `change` makes the events to write of each event: none to drop
    /// it, one (the same, or renamed or reshaped), or several to split it. It must be pure:
    /// a resumed migration calls it again on the commits copied before, and checks that it
    /// makes the same bytes.
    pub fn change(mut self, change: impl FnMut(Event) -> Vec<Event> + 'a) -> Migration<'a> {
        self.change = Some(Box::new(change));
        self
    }

    /// How to copy: progress, and whether to copy damaged commits as they are.
    pub fn copy_options(mut self, options: CopyOptions<'a>) -> Migration<'a> {
        self.copy = options;
        self
    }
}

/// What [`Store::migrate_to`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MigrationReport {
    /// The copy: commits copied and already there, gaps and damage carried with `force`.
    /// No snapshot is copied.
    pub copy: CopyReport,
    /// Events of the source that were not written as they are (upcast, changed, split or
    /// dropped), in every commit up to the source's last, also those a resumed migration
    /// found in the destination already.
    pub events_changed: u64,
    /// Commits written with other bytes than the source's (those holding a changed event).
    pub commits_changed: u64,
    /// Events the destination holds after the migration.
    pub events_written: u64,
    /// For each upcaster, in order: its label and how many events it turned.
    pub upcasts: Vec<(String, u64)>,
}

impl Store {
    /// Copies this store into `destination` (a new store, or one a migration stopped in),
    /// commit by commit, with every event upcast and then changed by the migration's function,
    /// never in place: this store is only read. A commit with no changed event is copied
    /// byte for byte; another is written anew (compact JSON, its headers as they were), under
    /// the same number, so that a migration that stopped resumes where it stopped, as
    /// [`copy_to`](Self::copy_to) does. A commit whose events are all dropped is written with
    /// no events, keeping the numbers. Snapshots are not copied: they hold folds of the old
    /// shapes (a model rebuilds from the migrated log).
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use foldstore::{Event, Migration, Store, Upcasters};
    ///
    /// let old = Store::memory();
    /// old.log(&Event::new("memberMoved"))?;
    /// old.log(&Event::new("heartbeat"))?;
    /// let new = Store::memory();
    /// let migration = Migration::new(Upcasters::new().rename("memberMoved", "memberHasMoved"))
    ///     .change(|event| if event.name() == "heartbeat" { vec![] } else { vec![event] });
    /// let report = old.migrate_to(&new, migration)?;
    /// assert_eq!((report.events_changed, report.commits_changed, report.events_written), (2, 2, 1));
    /// assert_eq!(new.read_commit(1)?.events()[0].name(), "memberHasMoved");
    /// assert!(new.read_commit(2)?.events().is_empty());
    /// assert_eq!(old.read_commit(1)?.events()[0].name(), "memberMoved");
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`copy_to`](Self::copy_to); and [`CopyError::Store`] with
    /// [`Error::Upcast`](crate::Error::Upcast) when an upcaster fails on an event, or
    /// [`Error::InvalidEvent`](crate::Error::InvalidEvent) when the function makes an event
    /// the original package could not dispatch: the commits before it are in the destination.
    pub fn migrate_to(
        &self,
        destination: &Store,
        migration: Migration<'_>,
    ) -> Result<MigrationReport, CopyError> {
        let Migration {
            upcasters,
            mut change,
            copy,
        } = migration;
        let mut counts = vec![0_u64; upcasters.len()];
        let mut report = MigrationReport::default();
        let storage = self.storage();
        let mut migrate = |commit: &Commit| -> Result<Option<Vec<u8>>, CopyError> {
            let mut events = Vec::with_capacity(commit.events().len());
            let mut changed = 0;
            for (index, event) in commit.events().iter().enumerate() {
                let newest = upcasters
                    .run(event, |applied| counts[applied] += 1)
                    .map_err(|e| {
                        let location = storage.commit_location(commit.number());
                        upcast_error(e, commit.number(), location, index, event.name())
                    })?;
                let upcast = newest.is_some();
                let newest = newest.unwrap_or_else(|| event.clone());
                let made = match &mut change {
                    Some(change) => change(newest),
                    None => vec![newest],
                };
                if upcast || made.len() != 1 || made[0] != *event {
                    changed += 1;
                }
                events.extend(made);
            }
            report.events_written += events.len() as u64;
            if changed == 0 {
                return Ok(None);
            }
            report.events_changed += changed;
            report.commits_changed += 1;
            Ok(Some(encode_commit(commit.headers(), &events)?))
        };
        report.copy = self.copy_changing(destination, copy, Some(Box::new(&mut migrate)))?;
        report.upcasts = upcasters.labels().map(str::to_owned).zip(counts).collect();
        Ok(report)
    }
}
