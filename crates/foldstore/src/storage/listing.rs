//! Listings of the loose layout, wherever its names live (files of a folder, objects under a
//! prefix): each name classified as a commit, a snapshot, a suspicious name or something else,
//! and the whole sorted as [`Storage::list`](super::Storage::list) reports it.

use super::names::{classify, Entry};
use super::Listing;

impl Listing {
    /// Adds what the entry named `name` is, by the loose layout's rules; `location` says where
    /// it is, for a suspicious name. Other names are left out.
    pub(crate) fn add_loose(&mut self, name: &str, location: impl FnOnce() -> String) {
        match classify(name) {
            Entry::Commit(number) => self.commits.push(number),
            Entry::Snapshot(snapshot, commit) => self.snapshots.push((snapshot, commit)),
            Entry::Suspicious(why) => self.suspicious.push((location(), why)),
            Entry::Other => {}
        }
    }

    /// The listing, each part sorted.
    pub(crate) fn sorted(mut self) -> Listing {
        self.commits.sort_unstable();
        // A backend that listed a commit twice (two spellings of one name) lists it once.
        self.commits.dedup();
        self.snapshots.sort_unstable();
        self.snapshots.dedup();
        self.suspicious.sort_unstable();
        self
    }
}
