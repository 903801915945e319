//! Queries over events: which events a decision depends on, by name and tag.
//!
//! A [`Query`] is a set of [`QueryItem`]s, any of which may match. An item matches an event whose
//! name is one of the item's names (none listed: any name) and whose tags include every one of
//! the item's tags. Names follow the original package's rule: `memberHasMoved` and
//! `MemberHasMoved` are the same event (its handler is found by upper-casing the first letter).
//!
//! Queries are how a decision names its consistency boundary: read the events matching a query,
//! decide, then append on the condition that no event matching the same query was committed
//! since ([`Store::append_if`](crate::Store::append_if)). Two decisions whose queries match
//! disjoint events never conflict.

use crate::event::Event;

/// A set of [`QueryItem`]s, any of which may match an event.
///
/// ```
/// use foldstore::{Event, Query, QueryItem};
///
/// let account_7 = Query::tag("account:7");
/// let deposit = Event::new("deposited").tagged(["account:7"]);
/// assert!(account_7.matches(&deposit));
/// assert!(!account_7.matches(&Event::new("deposited").tagged(["account:8"])));
///
/// // Deposits to account 7, or any event tagged with both accounts of a transfer.
/// let query = Query::new()
///     .item(QueryItem::new().name("deposited").tag("account:7"))
///     .item(QueryItem::new().tags(["account:7", "account:8"]));
/// assert!(query.matches(&Event::new("Deposited").tagged(["account:7"])));
/// assert!(!query.matches(&Event::new("withdrawn").tagged(["account:7"])));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query {
    items: Vec<QueryItem>,
}

impl Query {
    /// A query with no items: it matches no event. Add items with [`Query::item`].
    pub fn new() -> Self {
        Query::default()
    }

    /// A query that matches every event.
    pub fn all() -> Self {
        Query::new().item(QueryItem::new())
    }

    /// A query that matches every event carrying `tag`: the per-stream special case (a stream
    /// is the events of one tag, such as `account:7`).
    pub fn tag(tag: impl Into<String>) -> Self {
        Query::new().item(QueryItem::new().tag(tag))
    }

    /// The query with one more item.
    pub fn item(mut self, item: QueryItem) -> Self {
        self.items.push(item);
        self
    }

    /// The query's items.
    pub fn items(&self) -> &[QueryItem] {
        &self.items
    }

    /// Whether any item matches `event`.
    pub fn matches(&self, event: &Event) -> bool {
        self.items.iter().any(|item| item.matches(event))
    }
}

/// One item of a [`Query`]: event names (any of them; none: any name) and tags (all of them).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueryItem {
    names: Vec<String>,
    tags: Vec<String>,
}

impl QueryItem {
    /// An item that matches every event; narrow it with names and tags.
    pub fn new() -> Self {
        QueryItem::default()
    }

    /// The item, also matching events named `name`.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.names.push(name.into());
        self
    }

    /// The item, also matching events with any of these names.
    pub fn names<I, N>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = N>,
        N: Into<String>,
    {
        self.names.extend(names.into_iter().map(Into::into));
        self
    }

    /// The item, matching only events that also carry `tag`.
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.tags.push(tag.into());
        self
    }

    /// The item, matching only events that also carry all of these tags.
    pub fn tags<I, T>(mut self, tags: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        self.tags.extend(tags.into_iter().map(Into::into));
        self
    }

    /// The names the item accepts (empty: any).
    pub fn event_names(&self) -> &[String] {
        &self.names
    }

    /// The tags an event must all carry to match.
    pub fn event_tags(&self) -> &[String] {
        &self.tags
    }

    /// Whether `event` has one of the item's names (or the item lists none) and all its tags.
    pub fn matches(&self, event: &Event) -> bool {
        let named =
            self.names.is_empty() || self.names.iter().any(|name| same_name(name, event.name()));
        named && self.tags.iter().all(|tag| event.has_tag(tag))
    }
}

/// Whether two event names are the same event by the original package's rule: equal, or equal
/// once the first letter of each is upper-cased.
pub fn same_name(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let (mut a, mut b) = (a.chars(), b.chars());
    match (a.next(), b.next()) {
        (Some(first_a), Some(first_b)) => {
            first_a.to_uppercase().eq(first_b.to_uppercase()) && a.as_str() == b.as_str()
        }
        _ => false,
    }
}

/// The key a name is indexed under: its first letter upper-cased, so that both spellings the
/// original package treats as one event share a key.
pub(crate) fn name_key(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_first_letter_rule() {
        assert!(same_name("memberHasMoved", "MemberHasMoved"));
        assert!(same_name("a", "A"));
        assert!(!same_name("memberHasMoved", "memberhasmoved"));
        assert!(!same_name("", "a"));
        assert!(same_name("", ""));
        assert_eq!(name_key("memberHasMoved"), name_key("MemberHasMoved"));
        assert_eq!(name_key("ßx"), "SSx");
    }

    #[test]
    fn items_need_a_name_and_every_tag() {
        let event = Event::new("deposited").tagged(["account:7", "currency:eur"]);
        assert!(QueryItem::new().matches(&event));
        assert!(QueryItem::new().tag("account:7").matches(&event));
        assert!(QueryItem::new()
            .tags(["account:7", "currency:eur"])
            .matches(&event));
        assert!(!QueryItem::new()
            .tags(["account:7", "account:8"])
            .matches(&event));
        assert!(QueryItem::new()
            .names(["withdrawn", "deposited"])
            .matches(&event));
        assert!(!QueryItem::new().name("withdrawn").matches(&event));
        assert!(!Query::new().matches(&event), "no items: nothing matches");
        assert!(Query::all().matches(&event));
    }
}
