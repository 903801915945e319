//! Upcasters: pure functions that turn events of an older shape into the next one as they are
//! read, chained (v1 to v2 to v3), never written back.
//!
//! An [`Upcaster`] applies to events of some names (or of every name), of one version
//! ([`Upcaster::from_version`]) and/or of a shape its predicate recognizes
//! ([`Upcaster::when`], for logs that never recorded versions). [`Upcasters`] holds them in
//! order; reading an event applies the first that applies to it, then the first that applies
//! to the result, and so on, until none does. Each upcaster applies at most once to an event:
//! one that would apply again to what a chain made is a cycle, and a chain longer than
//! [`Upcasters::max_chain`] is refused, so that reading always ends.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use crate::event::Event;
use crate::format::Commit;

/// How many upcasters may apply to one event, one after the other, unless
/// [`Upcasters::max_chain`] says otherwise.
pub const DEFAULT_MAX_CHAIN: usize = 64;

type Convert = dyn Fn(Event) -> std::result::Result<Event, String> + Send + Sync;
type Predicate = dyn Fn(&Event) -> bool + Send + Sync;

/// One step of an event's evolution: a pure function from an event of an older shape to the
/// next shape (it may rename the event), and which events it applies to.
///
/// ```
/// use foldstore::{Event, Upcaster, Upcasters};
/// use serde_json::json;
///
/// // Version 1 of `memberHasMoved` held the address as a string; version 2 as an object.
/// let to_v2 = Upcaster::new("address as an object", |mut event: Event| {
///     if let Some(data) = event.data_mut() {
///         let address = data["address"].take();
///         data["address"] = json!({"street": address});
///     }
///     Ok::<_, String>(event)
/// })
/// .for_name("memberHasMoved")
/// .from_version(1);
/// let upcasters = Upcasters::new().with(to_v2);
///
/// let old = Event::with_data("memberHasMoved", json!({"name": "wendy", "address": "london"}));
/// let new = upcasters.upcast(&old)?;
/// assert_eq!(new.data(), Some(&json!({"name": "wendy", "address": {"street": "london"}})));
/// assert_eq!(new.version(), 2);
/// # Ok::<_, foldstore::UpcastError>(())
/// ```
pub struct Upcaster {
    label: String,
    names: Vec<String>,
    version: Option<u32>,
    when: Option<Box<Predicate>>,
    convert: Box<Convert>,
}

impl fmt::Debug for Upcaster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upcaster")
            .field("label", &self.label)
            .field("names", &self.names)
            .field("version", &self.version)
            .field("when", &self.when.is_some())
            .finish_non_exhaustive()
    }
}

impl Upcaster {
    /// An upcaster named `label` (in error messages and in what
    /// [`Store::check_model`](crate::Store::check_model) reports) that turns an event with
    /// `convert`. Without [`for_name`](Self::for_name), [`from_version`](Self::from_version) or
    /// [`when`](Self::when), it applies to every event (once).
    ///
    /// An upcaster that neither renames the event nor is limited by a version or a shape
    /// accepts its own result again: reading that event is a cycle (an error). Limit it with
    /// [`from_version`](Self::from_version) or [`when`](Self::when).
    ///
    /// `convert` must be pure: it runs each time the event is read. Its error ends the read
    /// with [`Error::Upcast`] naming the commit and the event; so does a panic in it, which is
    /// caught (the panic hook still prints it).
    pub fn new<F, E>(label: impl Into<String>, convert: F) -> Self
    where
        F: Fn(Event) -> std::result::Result<Event, E> + Send + Sync + 'static,
        E: fmt::Display,
    {
        Upcaster {
            label: label.into(),
            names: Vec::new(),
            version: None,
            when: None,
            convert: Box::new(move |event| convert(event).map_err(|e| e.to_string())),
        }
    }

    /// An upcaster that renames events `from` (of any version and shape) to `to`, labelled
    /// `"from -> to"`.
    pub fn rename(from: impl Into<String>, to: impl Into<String>) -> Self {
        let (from, to) = (from.into(), to.into());
        let label = format!("{from} -> {to}");
        Upcaster::new(label, move |event: Event| {
            Ok::<_, String>(event.renamed(to.clone()))
        })
        .for_name(from)
    }

    /// Applies only to events named `name` (compared as the original package compares names:
    /// `memberMoved` and `MemberMoved` are one name). Call it again for more names.
    #[must_use]
    pub fn for_name(mut self, name: impl Into<String>) -> Self {
        self.names.push(name.into());
        self
    }

    /// Applies only to events of these names (see [`for_name`](Self::for_name)).
    #[must_use]
    pub fn for_names<I, N>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = N>,
        N: Into<String>,
    {
        self.names.extend(names.into_iter().map(Into::into));
        self
    }

    /// Applies only to events of version `version` ([`Event::version`]: 1 for events written
    /// without one), and makes version `version + 1` of them: the result gets that version
    /// unless `convert` gave it another one.
    #[must_use]
    pub fn from_version(mut self, version: u32) -> Self {
        self.version = Some(version.max(1));
        self
    }

    /// Applies only to events `shape` accepts: for logs that never recorded versions, the old
    /// shape is told by its structure (`address` is a string). The result must no longer be
    /// accepted, or reading it is a cycle.
    #[must_use]
    pub fn when(mut self, shape: impl Fn(&Event) -> bool + Send + Sync + 'static) -> Self {
        self.when = Some(Box::new(shape));
        self
    }

    /// The upcaster's label.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Whether it applies to `event` (whose name is already known to be one of its names).
    fn accepts(&self, event: &Event) -> std::result::Result<bool, UpcastError> {
        if self
            .version
            .is_some_and(|version| event.version() != version)
        {
            return Ok(false);
        }
        match &self.when {
            None => Ok(true),
            Some(when) => catch_unwind(AssertUnwindSafe(|| when(event)))
                .map_err(|panic| self.failed(format!("its shape predicate {}", panicked(&panic)))),
        }
    }

    fn failed(&self, message: String) -> UpcastError {
        UpcastError {
            upcaster: self.label.clone(),
            message,
        }
    }
}

/// The upcasters of a model or a store, in order. Cheap to clone (clones share them).
///
/// Reading an event applies the first upcaster (in the order they were added) that applies to
/// it, then the first that applies to the result, and so on until none does. An event none
/// applies to is handed on as it is, without a copy. See [`Upcaster`].
///
/// ```
/// use foldstore::{Event, Upcaster, Upcasters};
/// use serde_json::json;
///
/// let upcasters = Upcasters::new()
///     .rename("memberMoved", "memberHasMoved")
///     .with(
///         Upcaster::new("country added", |mut event: Event| {
///             if let Some(address) = event.data_mut().and_then(|data| data.get_mut("address")) {
///                 address["country"] = json!("unknown");
///             }
///             Ok::<_, String>(event)
///         })
///         .for_names(["memberHasMoved", "newMemberRegistered"])
///         .when(|event| event.data().is_some_and(|data| data["address"].get("country").is_none())),
///     );
/// let old = Event::with_data("memberMoved", json!({"name": "wendy", "address": {"city": "Oslo"}}));
/// let new = upcasters.upcast(&old)?;
/// assert_eq!(new.name(), "memberHasMoved");
/// assert_eq!(new.data().unwrap()["address"], json!({"city": "Oslo", "country": "unknown"}));
/// # Ok::<_, foldstore::UpcastError>(())
/// ```
#[derive(Clone, Default)]
pub struct Upcasters {
    inner: Arc<Registry>,
}

#[derive(Clone)]
struct Registry {
    steps: Vec<Arc<Upcaster>>,
    /// The upcasters of each name, under each spelling of its first letter, in order.
    by_name: HashMap<String, Vec<usize>>,
    /// The upcasters of every name, in order.
    any_name: Vec<usize>,
    max_chain: usize,
}

impl Default for Registry {
    fn default() -> Self {
        Registry {
            steps: Vec::new(),
            by_name: HashMap::new(),
            any_name: Vec::new(),
            max_chain: DEFAULT_MAX_CHAIN,
        }
    }
}

impl fmt::Debug for Upcasters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upcasters")
            .field("upcasters", &self.labels().collect::<Vec<_>>())
            .field("max_chain", &self.inner.max_chain)
            .finish()
    }
}

/// Why an upcaster could not turn an event: its error, its panic, or a chain that would not
/// end.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("upcaster {upcaster:?} failed: {message}")]
#[non_exhaustive]
pub struct UpcastError {
    /// The upcaster's label.
    pub upcaster: String,
    /// What went wrong.
    pub message: String,
}

impl Upcasters {
    /// No upcasters: events are read as they are.
    pub fn new() -> Self {
        Upcasters::default()
    }

    /// These upcasters and `upcaster` after them.
    #[must_use]
    pub fn with(mut self, upcaster: Upcaster) -> Self {
        let registry = Arc::make_mut(&mut self.inner);
        let index = registry.steps.len();
        if upcaster.names.is_empty() {
            registry.any_name.push(index);
        }
        for name in &upcaster.names {
            for spelling in spellings(name) {
                let indices = registry.by_name.entry(spelling).or_default();
                if indices.last() != Some(&index) {
                    indices.push(index);
                }
            }
        }
        registry.steps.push(Arc::new(upcaster));
        self
    }

    /// These upcasters and one renaming `from` to `to` ([`Upcaster::rename`]).
    #[must_use]
    pub fn rename(self, from: impl Into<String>, to: impl Into<String>) -> Self {
        self.with(Upcaster::rename(from, to))
    }

    /// How many upcasters may apply to one event, one after the other (default:
    /// [`DEFAULT_MAX_CHAIN`]); a longer chain is an error, never a hang.
    #[must_use]
    pub fn max_chain(mut self, max: usize) -> Self {
        Arc::make_mut(&mut self.inner).max_chain = max;
        self
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.inner.steps.is_empty()
    }

    /// How many there are.
    pub fn len(&self) -> usize {
        self.inner.steps.len()
    }

    /// Their labels, in order.
    pub fn labels(&self) -> impl Iterator<Item = &str> {
        self.inner.steps.iter().map(|step| step.label())
    }

    /// `event` in its newest shape: borrowed when no upcaster applies to it.
    ///
    /// # Errors
    /// [`UpcastError`]: an upcaster's error or panic, a cycle, a chain longer than
    /// [`max_chain`](Self::max_chain).
    pub fn upcast<'e>(&self, event: &'e Event) -> std::result::Result<Cow<'e, Event>, UpcastError> {
        Ok(match self.run(event, |_| {})? {
            Some(event) => Cow::Owned(event),
            None => Cow::Borrowed(event),
        })
    }

    /// Reads `event`, in its newest shape, as a typed event: [`Event::to_typed`] after the
    /// upcasters.
    ///
    /// # Errors
    /// [`Error::InvalidEvent`] saying which upcaster failed, or what serde said of the result.
    pub fn to_typed<T: DeserializeOwned>(&self, event: &Event) -> Result<T> {
        let newest = self.upcast(event).map_err(|e| Error::InvalidEvent {
            problem: format!("the event {:?}: {e}", event.name()),
        })?;
        newest.to_typed().map_err(|e| Error::InvalidEvent {
            problem: format!(
                "the event {:?} (upcast to {:?}) does not fit the type: {e}",
                event.name(),
                newest.name()
            ),
        })
    }

    /// `event` in its newest shape (`None`: no upcaster applies), calling `applied` with the
    /// index of each upcaster that turned it.
    pub(crate) fn run(
        &self,
        event: &Event,
        mut applied: impl FnMut(usize),
    ) -> std::result::Result<Option<Event>, UpcastError> {
        if self.is_empty() {
            return Ok(None);
        }
        let steps = &self.inner.steps;
        let mut current: Option<Event> = None;
        let mut chain = Chain::default();
        loop {
            let now = current.as_ref().unwrap_or(event);
            let Some(index) = self.next_step(now)? else {
                return Ok(current);
            };
            let step = &steps[index];
            if chain.contains(index) {
                return Err(step.failed(format!(
                    "it applies again to the event its own chain made ({}): a cycle; make the result of the chain something it does not accept (another version, name or shape)",
                    chain.describe(steps)
                )));
            }
            if chain.len() >= self.inner.max_chain {
                return Err(step.failed(format!(
                    "it would be upcaster number {} applied to one event, more than the {} allowed ({}); raise Upcasters::max_chain if the chain is meant to be this long",
                    chain.len() + 1,
                    self.inner.max_chain,
                    chain.describe(steps)
                )));
            }
            let input = current.take().unwrap_or_else(|| event.clone());
            let mut output = catch_unwind(AssertUnwindSafe(|| (step.convert)(input)))
                .map_err(|panic| step.failed(panicked(&panic)))?
                .map_err(|message| step.failed(message))?;
            if let Some(version) = step.version {
                if output.version() == version {
                    output = output.versioned(version.saturating_add(1));
                }
            }
            chain.push(index);
            applied(index);
            current = Some(output);
        }
    }

    /// The first upcaster that applies to `event`.
    fn next_step(&self, event: &Event) -> std::result::Result<Option<usize>, UpcastError> {
        let registry = &*self.inner;
        let named = registry
            .by_name
            .get(event.name())
            .map_or(&[][..], Vec::as_slice);
        let (mut a, mut b) = (named.iter().peekable(), registry.any_name.iter().peekable());
        // The two lists merged in order.
        loop {
            let index = match (a.peek(), b.peek()) {
                (Some(&&x), Some(&&y)) if x < y => a.next(),
                (Some(_), Some(_)) | (None, Some(_)) => b.next(),
                (Some(_), None) => a.next(),
                (None, None) => return Ok(None),
            };
            let Some(&index) = index else {
                return Ok(None);
            };
            if registry.steps[index].accepts(event)? {
                return Ok(Some(index));
            }
        }
    }

    /// Upcasts every event of `commit` in place; the error names the commit (at `location`)
    /// and the event.
    pub(crate) fn upcast_commit(
        &self,
        commit: &mut Commit,
        location: impl Fn() -> String,
    ) -> Result<()> {
        if self.is_empty() {
            return Ok(());
        }
        let number = commit.number();
        for (index, event) in commit.events_mut().iter_mut().enumerate() {
            match self.run(event, |_| {}) {
                Ok(Some(newest)) => *event = newest,
                Ok(None) => {}
                Err(e) => return Err(upcast_error(e, number, location(), index, event.name())),
            }
        }
        Ok(())
    }
}

/// The error of an upcaster that failed on event #`index` (`name`) of commit `commit`.
pub(crate) fn upcast_error(
    error: UpcastError,
    commit: u64,
    location: String,
    index: usize,
    name: &str,
) -> Error {
    Error::Upcast {
        commit,
        location,
        index,
        name: name.to_owned(),
        upcaster: error.upcaster,
        message: error.message,
    }
}

/// The names an event may be written under that the original package takes for `name`: as it
/// is, and with its first letter upper- and lower-cased.
fn spellings(name: &str) -> Vec<String> {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return vec![String::new()];
    };
    let rest = chars.as_str();
    let mut all = vec![name.to_owned()];
    for spelled in [
        first.to_uppercase().chain(rest.chars()).collect::<String>(),
        first.to_lowercase().chain(rest.chars()).collect::<String>(),
    ] {
        if !all.contains(&spelled) {
            all.push(spelled);
        }
    }
    all
}

/// "panicked: <its message>".
fn panicked(panic: &Box<dyn std::any::Any + Send>) -> String {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a value that is not a message".to_owned());
    format!("panicked: {message}")
}

/// The upcasters applied to one event so far, in order.
#[derive(Default)]
struct Chain {
    order: Vec<usize>,
    /// Beside `order` once it is long, so that checking stays quick.
    seen: Option<HashSet<usize>>,
}

impl Chain {
    const LOOKUP_AFTER: usize = 16;

    fn len(&self) -> usize {
        self.order.len()
    }

    fn contains(&self, index: usize) -> bool {
        match &self.seen {
            Some(seen) => seen.contains(&index),
            None => self.order.contains(&index),
        }
    }

    fn push(&mut self, index: usize) {
        self.order.push(index);
        if let Some(seen) = &mut self.seen {
            seen.insert(index);
        } else if self.order.len() > Self::LOOKUP_AFTER {
            self.seen = Some(self.order.iter().copied().collect());
        }
    }

    /// The chain's labels, the first and last few of a long one.
    fn describe(&self, steps: &[Arc<Upcaster>]) -> String {
        let label = |&index: &usize| format!("{:?}", steps[index].label);
        let labels: Vec<String> = if self.order.len() <= 8 {
            self.order.iter().map(label).collect()
        } else {
            let mut some: Vec<String> = self.order[..4].iter().map(label).collect();
            some.push(format!("... {} more ...", self.order.len() - 8));
            some.extend(self.order[self.order.len() - 4..].iter().map(label));
            some
        };
        if labels.is_empty() {
            "the event as read".to_owned()
        } else {
            format!("after {}", labels.join(", "))
        }
    }
}

#[cfg(test)]
#[path = "upcast_tests.rs"]
mod tests;
