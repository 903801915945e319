//! The event index: which commits hold events of each name and each tag, derived from the log
//! and kept in memory by a store (shared by its clones), and saved beside the log by backends
//! that keep derived data ([`Storage::write_derived`](crate::storage::Storage::write_derived)),
//! in the compact form of [`Postings::encode`]. It is never the source of truth: it only
//! narrows which commits a query must read, and every candidate is read and checked; a saved
//! copy is used only when it decodes whole and its last commit is still the log's (see
//! [`Postings::decode`]). [`crate::boundary`] fills, saves, restores and asks it.

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
#[derive(Default, Debug, PartialEq)]
pub(crate) struct Postings {
    through: u64,
    commits: Vec<u64>,
    by_name: HashMap<String, Vec<u64>>,
    by_tag: HashMap<String, Vec<u64>>,
    /// Whether a saved copy was looked for (once per store).
    pub(crate) restored: bool,
    /// The last commit of the copy saved or restored (0: none).
    pub(crate) saved: u64,
    /// The first commit indexed, when it is not 1: an archived log's start, indexed without
    /// its archive. Such an index answers only for commits from there on, and is never saved
    /// (the saved form covers the log from commit 1).
    pub(crate) from: u64,
}

/// The name the index is saved under (the version of its form in it).
pub(crate) const SAVED_NAME: &str = "events-v1";

/// What a saved index starts with.
const MAGIC: &[u8] = b"foldstore event index 1\n";

impl Postings {
    /// The last commit indexed (0: none).
    pub(crate) fn through(&self) -> u64 {
        self.through
    }

    /// An empty index of an archived log whose commits before `start` are not at hand.
    pub(crate) fn starting_at(start: u64) -> Postings {
        Postings {
            through: start - 1,
            restored: true,
            from: start,
            ..Postings::default()
        }
    }

    /// Forgets everything (the log became shorter than the index: a repair moved its end).
    pub(crate) fn clear(&mut self) {
        *self = Postings {
            restored: true,
            ..Postings::default()
        };
    }

    /// The saved form: [`MAGIC`], the last commit indexed and `end_check` (a checksum of that
    /// commit's stored bytes, which tells a later reader whether the log it indexed is still
    /// the log), the lists of commits (all, by name, by tag) as counts and LEB128 deltas, and
    /// a CRC-32 of everything before it.
    pub(crate) fn encode(&self, end_check: u32) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        put(&mut out, self.through);
        out.extend_from_slice(&end_check.to_le_bytes());
        put_list(&mut out, &self.commits);
        for map in [&self.by_name, &self.by_tag] {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            put(&mut out, keys.len() as u64);
            for key in keys {
                put(&mut out, key.len() as u64);
                out.extend_from_slice(key.as_bytes());
                put_list(&mut out, &map[key]);
            }
        }
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// Reads the saved form back, with its `end_check`; `None` for anything else (another
    /// version, a torn or altered copy, lists out of order or beyond its last commit): such a
    /// copy is not trusted, and the index is built from the log instead.
    pub(crate) fn decode(bytes: &[u8]) -> Option<(Postings, u32)> {
        let (body, crc) = bytes.split_at_checked(bytes.len().checked_sub(4)?)?;
        if crc32fast::hash(body).to_le_bytes() != crc {
            return None;
        }
        let mut input = body.strip_prefix(MAGIC)?;
        let through = take(&mut input)?;
        let (check, rest) = input.split_at_checked(4)?;
        input = rest;
        let end_check = u32::from_le_bytes(check.try_into().ok()?);
        let commits = take_list(&mut input, through)?;
        let mut maps = [HashMap::new(), HashMap::new()];
        for map in &mut maps {
            let count = take(&mut input)?;
            for _ in 0..count {
                let length = usize::try_from(take(&mut input)?).ok()?;
                let (key, rest) = input.split_at_checked(length)?;
                input = rest;
                let key = std::str::from_utf8(key).ok()?.to_owned();
                let list = take_list(&mut input, through)?;
                if list.is_empty() || map.insert(key, list).is_some() {
                    return None;
                }
            }
        }
        if !input.is_empty() {
            return None;
        }
        let [by_name, by_tag] = maps;
        let postings = Postings {
            through,
            commits,
            by_name,
            by_tag,
            restored: true,
            saved: through,
            from: 0,
        };
        Some((postings, end_check))
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

/// Appends `value` as LEB128.
fn put(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Appends an increasing list as its length and the differences between its numbers.
fn put_list(out: &mut Vec<u8>, list: &[u64]) {
    put(out, list.len() as u64);
    let mut last = 0;
    for &number in list {
        put(out, number - last);
        last = number;
    }
}

/// Takes a LEB128 number off the front of `input`.
fn take(input: &mut &[u8]) -> Option<u64> {
    let mut value: u64 = 0;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = input.split_first()?;
        *input = rest;
        let bits = u64::from(byte & 0x7f);
        if shift == 63 && bits > 1 {
            return None;
        }
        value |= bits << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// Takes a list written by [`put_list`]: strictly increasing numbers from 1 to `through`.
fn take_list(input: &mut &[u8], through: u64) -> Option<Vec<u64>> {
    let length = take(input)?;
    // Each number takes a byte at least: a length beyond what is left is not believed.
    if length > input.len() as u64 {
        return None;
    }
    let mut list = Vec::with_capacity(usize::try_from(length).ok()?);
    let mut last = 0u64;
    for _ in 0..length {
        let delta = take(input)?;
        last = last
            .checked_add(delta)
            .filter(|&n| delta > 0 && n <= through)?;
        list.push(last);
    }
    Some(list)
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

    fn sample() -> Postings {
        let mut postings = Postings::default();
        for n in 1..=1000u64 {
            if n % 7 == 0 {
                postings.add(n, &[]);
                continue;
            }
            let mut event = Event::new(if n % 2 == 0 { "Deposited" } else { "withdrawn" })
                .tagged([format!("account:{}", n % 13)]);
            if n % 5 == 0 {
                event = event.tagged(["eur", "ünïcödé"]);
            }
            postings.add(n, &[event, Event::new("x")]);
        }
        postings
    }

    #[test]
    fn the_saved_form_reads_back_exactly_and_nothing_else_is_believed() {
        let postings = sample();
        let saved = postings.encode(0xdead_beef);
        let (restored, check) = Postings::decode(&saved).expect("reads back");
        assert_eq!(check, 0xdead_beef);
        assert_eq!(
            restored,
            Postings {
                restored: true,
                saved: 1000,
                ..sample()
            }
        );
        assert_eq!(restored.encode(0xdead_beef), saved, "the same bytes again");
        // Every shorter copy (a torn save) and every copy with one bit flipped is refused.
        for cut in 0..saved.len() {
            assert!(Postings::decode(&saved[..cut]).is_none(), "cut at {cut}");
        }
        for at in 0..saved.len() {
            let mut altered = saved.clone();
            altered[at] ^= 0x10;
            assert!(Postings::decode(&altered).is_none(), "byte {at} altered");
        }
        // Numbers beyond the last commit, or out of order, are refused even with a good CRC.
        let mut forged = MAGIC.to_vec();
        put(&mut forged, 3);
        forged.extend_from_slice(&0u32.to_le_bytes());
        put_list(&mut forged, &[1, 5]);
        put(&mut forged, 0);
        put(&mut forged, 0);
        let crc = crc32fast::hash(&forged);
        forged.extend_from_slice(&crc.to_le_bytes());
        assert!(Postings::decode(&forged).is_none());
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let saved = sample().encode(7);
        for round in 0..2000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let mut bytes = if round % 2 == 0 {
                saved.clone()
            } else {
                MAGIC.to_vec()
            };
            let len = bytes.len();
            for i in 0..(state % 16) as usize {
                let at = (state.rotate_left(i as u32 * 5) as usize) % len;
                bytes[at] = (state >> (i % 8 * 8)) as u8;
            }
            bytes.extend((0..(state % 40)).map(|i| (state >> (i % 8)) as u8));
            let crc = crc32fast::hash(&bytes);
            bytes.extend_from_slice(&crc.to_le_bytes());
            let _ = Postings::decode(&bytes);
        }
    }

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
