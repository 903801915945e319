//! Forgettable data (crypto-shredding): the data of events that name a subject is written
//! encrypted with that subject's key, kept in a [`KeyStore`] apart from the log; forgetting the
//! subject destroys the key, and every copy of the log then holds only ciphertext for it.
//!
//! The room: [`keys`] (the keys, the master key, the AEAD, the trait), [`folder`] (the folder
//! key store), `postgres` (the table key store, feature `postgres`), [`seal`] (the stored
//! form, sealing and opening), and here the [`Keyring`] a store holds and the [`Forgotten`]
//! placeholder readers meet.

mod folder;
mod keys;
#[cfg(feature = "postgres")]
mod postgres;
mod seal;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use serde::de::{Deserialize, Deserializer};
use serde::ser::{Serialize, Serializer};
use serde_json::{Map, Value};

use crate::error::Result;

pub use folder::FolderKeyStore;
pub use keys::{KeyId, KeyStore, MasterKey, SubjectKey, MASTER_KEY_VARIABLE, MAX_SUBJECT_BYTES};
#[cfg(feature = "postgres")]
pub use postgres::PostgresKeyStore;
pub(crate) use seal::{
    is_sealed_form, open_commit, open_found, read_data_text, refuse_lookalikes, seal_commit,
    DataText, Opener, SealedMembers,
};

/// The member that holds an event's sealed data: `{"foldstore:sealed": {"subject": ..,
/// "key": .., "nonce": .., "ciphertext": ..}}` (see docs/design.md, "Forgettable data").
pub const SEALED_MEMBER: &str = "foldstore:sealed";

/// The member of the placeholder that replaces forgotten data: `{"foldstore:forgotten":
/// {"subject": ..}}` (see [`Forgotten`]).
pub const FORGOTTEN_MEMBER: &str = "foldstore:forgotten";

/// The tag prefix that always marks a subject, beside those a store is given
/// ([`StoreBuilder::subject_tags`](crate::StoreBuilder::subject_tags)): an event tagged
/// `subject:7` declares subject `subject:7` whatever the store's prefixes.
pub const SUBJECT_TAG_PREFIX: &str = "subject:";

/// What readers see instead of data they cannot open: the subject was forgotten (its key
/// destroyed), or the store was opened without the key store that holds its key.
///
/// An event's data is then the placeholder `{"foldstore:forgotten": {"subject": "<subject>"}}`,
/// in replays, subscriptions, [`Store::events_matching`](crate::Store::events_matching) and
/// models. Typed models can match it with [`Forgettable`]; an event whose typed form cannot hold
/// the placeholder goes to the model's
/// [`fallback`](crate::ModelDefinition::fallback) (which ignores it by default), never to an
/// error.
///
/// ```
/// use foldstore::Forgotten;
/// use serde_json::json;
///
/// let data = json!({"foldstore:forgotten": {"subject": "member:peter pan"}});
/// let forgotten = Forgotten::in_data(&data).expect("a placeholder");
/// assert_eq!(forgotten.subject(), "member:peter pan");
/// assert_eq!(forgotten.to_data(), data);
/// assert!(Forgotten::in_data(&json!({"name": "wendy"})).is_none());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Forgotten {
    subject: String,
}

impl Forgotten {
    pub(crate) fn new(subject: &str) -> Forgotten {
        Forgotten {
            subject: subject.to_owned(),
        }
    }

    /// The placeholder in `data`, if `data` is one.
    pub fn in_data(data: &Value) -> Option<Forgotten> {
        let members = data.as_object().filter(|m| m.len() == 1)?;
        let (name, inner) = members.iter().next()?;
        if name != FORGOTTEN_MEMBER {
            return None;
        }
        let subject = inner.get("subject")?.as_str()?;
        Some(Forgotten::new(subject))
    }

    /// The subject whose data it was.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The placeholder as event data.
    pub fn to_data(&self) -> Value {
        let mut inner = Map::new();
        inner.insert("subject".to_owned(), Value::String(self.subject.clone()));
        let mut data = Map::new();
        data.insert(FORGOTTEN_MEMBER.to_owned(), Value::Object(inner));
        Value::Object(data)
    }
}

/// Event data of a typed model that may have been forgotten: `Known` with the data, or
/// `Forgotten` when the reader met the [`Forgotten`] placeholder. It serializes as the data, or
/// as the placeholder.
///
/// ```
/// use foldstore::{Forgettable, Event};
/// use serde::Deserialize;
/// use serde_json::json;
///
/// #[derive(Deserialize)]
/// struct Member { name: String }
///
/// #[derive(Deserialize)]
/// #[serde(tag = "name", content = "data")]
/// enum Events {
///     #[serde(rename = "newMemberRegistered")]
///     Registered(Forgettable<Member>),
/// }
///
/// let known = Event::with_data("newMemberRegistered", json!({"name": "wendy"}));
/// let Events::Registered(Forgettable::Known(member)) = known.to_typed()? else { panic!() };
/// assert_eq!(member.name, "wendy");
///
/// let gone = Event::with_data(
///     "newMemberRegistered",
///     json!({"foldstore:forgotten": {"subject": "member:peter pan"}}),
/// );
/// let Events::Registered(Forgettable::Forgotten(who)) = gone.to_typed()? else { panic!() };
/// assert_eq!(who.subject(), "member:peter pan");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum Forgettable<T> {
    /// The data.
    Known(T),
    /// The placeholder of forgotten data.
    Forgotten(Forgotten),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Forgettable<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        if let Some(forgotten) = Forgotten::in_data(&value) {
            return Ok(Forgettable::Forgotten(forgotten));
        }
        T::deserialize(value)
            .map(Forgettable::Known)
            .map_err(serde::de::Error::custom)
    }
}

impl<T: Serialize> Serialize for Forgettable<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Forgettable::Known(data) => data.serialize(serializer),
            Forgettable::Forgotten(forgotten) => forgotten.to_data().serialize(serializer),
        }
    }
}

/// A store's access to its [`KeyStore`], with the tag prefixes that mark subjects and the
/// keys it has read.
///
/// Writes ask the key store every time (so that a subject forgotten by another process gets a
/// new key, never its old one); reads keep the keys they found for the store's life, and the
/// key ids they did not find (a key id never comes back once destroyed). A subject forgotten
/// through this store is dropped from memory at once; one forgotten by another process stays
/// readable here until the store is opened again.
pub(crate) struct Keyring {
    keys: Arc<dyn KeyStore>,
    prefixes: Vec<String>,
    found: RwLock<HashMap<String, SubjectKey, foldhash::fast::RandomState>>,
    missing: Mutex<HashSet<(String, KeyId), foldhash::fast::RandomState>>,
    /// Subjects forgotten through this keyring so far (the [`Opener`]s of reading threads
    /// drop the keys they keep when it changes).
    forgets: AtomicU64,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("keys", &self.keys.location())
            .field("prefixes", &self.prefixes)
            .finish_non_exhaustive()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Keyring {
    pub(crate) fn new(keys: Arc<dyn KeyStore>, mut prefixes: Vec<String>) -> Keyring {
        if !prefixes.iter().any(|p| p == SUBJECT_TAG_PREFIX) {
            prefixes.push(SUBJECT_TAG_PREFIX.to_owned());
        }
        Keyring {
            keys,
            prefixes,
            found: RwLock::default(),
            missing: Mutex::default(),
            forgets: AtomicU64::new(0),
        }
    }

    /// The key store.
    pub(crate) fn key_store(&self) -> &dyn KeyStore {
        &*self.keys
    }

    /// Whether `tag` names a subject: it starts with one of the prefixes and has more.
    pub(crate) fn marks_subject(&self, tag: &str) -> bool {
        self.prefixes
            .iter()
            .any(|prefix| tag.len() > prefix.len() && tag.starts_with(prefix.as_str()))
    }

    fn found_mut(
        &self,
    ) -> std::sync::RwLockWriteGuard<'_, HashMap<String, SubjectKey, foldhash::fast::RandomState>>
    {
        self.found.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The key to seal a new event of `subject` with.
    ///
    /// The keys found are locked while the key store is asked, here, in [`get`](Self::get)
    /// and in [`forget`](Self::forget): a key read just before it was forgotten is never
    /// kept after.
    pub(crate) fn key_for(&self, subject: &str) -> Result<SubjectKey> {
        let mut found = self.found_mut();
        let key = self.keys.key_for(subject)?;
        found.insert(subject.to_owned(), key.clone());
        Ok(key)
    }

    /// The key `id` of `subject`, or `None` when it is gone.
    pub(crate) fn get(&self, subject: &str, id: KeyId) -> Result<Option<SubjectKey>> {
        let found = self.found.read().unwrap_or_else(|e| e.into_inner());
        if let Some(key) = found.get(subject).filter(|key| key.id() == id) {
            return Ok(Some(key.clone()));
        }
        drop(found);
        let asked = (subject.to_owned(), id);
        let mut found = self.found_mut();
        if let Some(key) = found.get(subject).filter(|key| key.id() == id) {
            return Ok(Some(key.clone()));
        }
        if lock(&self.missing).contains(&asked) {
            return Ok(None);
        }
        match self.keys.get(subject)? {
            Some(key) if key.id() == id => {
                found.insert(subject.to_owned(), key.clone());
                Ok(Some(key))
            }
            _ => {
                lock(&self.missing).insert(asked);
                Ok(None)
            }
        }
    }

    /// Subjects forgotten through this keyring so far.
    pub(crate) fn forgets(&self) -> u64 {
        self.forgets.load(Ordering::SeqCst)
    }

    /// Destroys `subject`'s key, here and in the key store; `false` when it had none.
    pub(crate) fn forget(&self, subject: &str) -> Result<bool> {
        let mut found = self.found_mut();
        // Counted before the key is destroyed: an opener that looks after this returned (or
        // failed) has dropped the keys it kept.
        self.forgets.fetch_add(1, Ordering::SeqCst);
        if let Some(key) = found.remove(subject) {
            lock(&self.missing).insert((subject.to_owned(), key.id()));
        }
        self.keys.forget(subject)
    }
}
