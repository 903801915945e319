//! The event index: which commits hold events of each name and each tag, derived from the log
//! and kept in memory by a store (shared by its clones). It is never the source of truth: it
//! only narrows which commits a query must read, and every candidate is read and checked.
//! [`crate::boundary`] fills it from the log and asks it.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};

use crate::event::Event;
use crate::query::{name_key, Query};

/// The index of one store, behind a lock: whoever extends it holds the lock while reading.
#[derive(Default)]
pub(crate) struct EventIndex {
    postings: Mutex<Postings>,
}

impl EventIndex {
    /// The postings, locked.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Postings> {
        // A panic while extending leaves postings that may miss the commit it was adding:
        // start again rather than trust them.
        self.postings.lock().unwrap_or_else(|poisoned| {
            let mut postings = poisoned.into_inner();
            *postings = Postings::default();
            postings
        })
    }
}

/// For each name (by its [`name_key`]) and each tag, the commits that hold such an event, in
/// increasing order, for the commits `1..=through`.
#[derive(Default, Debug)]
pub(crate) struct Postings {
    through: u64,
    commits: Vec<u64>,
    by_name: HashMap<String, Vec<u64>>,
    by_tag: HashMap<String, Vec<u64>>,
}

impl Postings {
    /// The last commit indexed (0: none).
    pub(crate) fn through(&self) -> u64 {
        self.through
    }

    /// Forgets everything (the log became shorter than the index: a repair moved its end).
    pub(crate) fn clear(&mut self) {
        *self = Postings::default();
    }

    /// Adds commit `number`, which must follow the last one indexed.
    pub(crate) fn add(&mut self, number: u64, events: &[Event]) {
        debug_assert!(number > self.through);
        self.through = number;
        if events.is_empty() {
            return;
        }
        self.commits.push(number);
        for event in events {
            push_once(
                self.by_name.entry(name_key(event.name())).or_default(),
                number,
            );
            for tag in event.tags() {
                push_once(self.by_tag.entry(tag.to_owned()).or_default(), number);
            }
        }
    }

    /// The indexed commits after `after` that may hold an event matching `query` (a superset:
    /// the caller reads each and checks).
    pub(crate) fn candidates(&self, query: &Query, after: u64) -> BTreeSet<u64> {
        let mut found = BTreeSet::new();
        let none = Vec::new();
        for item in query.items() {
            // The shortest list that every match must be on.
            let mut lists: Vec<&Vec<u64>> = item
                .event_tags()
                .iter()
                .map(|tag| self.by_tag.get(tag).unwrap_or(&none))
                .collect();
            lists.sort_by_key(|list| list.len());
            let by_names: Vec<u64>;
            let list = match lists.first() {
                Some(list) => *list,
                None if item.event_names().is_empty() => &self.commits,
                None => {
                    let mut numbers: Vec<u64> = item
                        .event_names()
                        .iter()
                        .filter_map(|name| self.by_name.get(&name_key(name)))
                        .flatten()
                        .copied()
                        .collect();
                    numbers.sort_unstable();
                    by_names = numbers;
                    &by_names
                }
            };
            let start = list.partition_point(|&n| n <= after);
            for &number in &list[start..] {
                if lists[1.min(lists.len())..]
                    .iter()
                    .all(|other| other.binary_search(&number).is_ok())
                {
                    found.insert(number);
                }
            }
        }
        found
    }
}

fn push_once(list: &mut Vec<u64>, number: u64) {
    if list.last() != Some(&number) {
        list.push(number);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::QueryItem;

    #[test]
    fn candidates_cover_every_match_and_few_others() {
        let mut postings = Postings::default();
        postings.add(1, &[Event::new("opened").tagged(["account:1"])]);
        postings.add(2, &[Event::new("opened").tagged(["account:2"])]);
        postings.add(3, &[]);
        postings.add(
            4,
            &[
                Event::new("Deposited").tagged(["account:1", "eur"]),
                Event::new("x"),
            ],
        );
        assert_eq!(postings.through(), 4);
        let list = |query: &Query, after| {
            postings
                .candidates(query, after)
                .into_iter()
                .collect::<Vec<_>>()
        };
        assert_eq!(list(&Query::tag("account:1"), 0), [1, 4]);
        assert_eq!(list(&Query::tag("account:1"), 1), [4]);
        assert_eq!(
            list(
                &Query::new().item(QueryItem::new().tags(["account:1", "eur"])),
                0
            ),
            [4]
        );
        assert_eq!(
            list(
                &Query::new().item(QueryItem::new().tags(["account:2", "eur"])),
                0
            ),
            Vec::<u64>::new()
        );
        assert_eq!(
            list(&Query::new().item(QueryItem::new().name("deposited")), 0),
            [4]
        );
        assert_eq!(list(&Query::all(), 1), [2, 4]);
        assert_eq!(list(&Query::new(), 0), Vec::<u64>::new());
        assert_eq!(
            list(&Query::tag("account:2").item(QueryItem::new().name("x")), 0),
            [2, 4]
        );
    }
}
