//! The stored form of sealed data, and sealing and opening events' data.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use std::collections::HashMap;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};
use zeroize::Zeroize;

use super::keys::{decrypt_in_place, encrypt, random_bytes, KeyId, SubjectKey, NONCE_BYTES};
use super::{Forgotten, Keyring, SEALED_MEMBER};
use crate::error::{Error, Result};
use crate::event::{Event, Headers};
use crate::format::{Commit, FoundSealed};
use crate::json::{
    check_nesting, from_slice_deep, nesting_depth, raw_value_problem, raw_value_token, to_vec_deep,
    too_deep_to_read, too_deep_to_write, Deep, MAX_NESTING,
};

/// The commit header that identifies a commit before its number is known, and that sealed
/// data is bound to (the same header the backends use to resolve lost acknowledgements).
pub(crate) const COMMIT_ID: &str = "commitId";

/// Levels a commit adds above an event's data (`{"events":[{"data": ...}]}`).
const LEVELS_ABOVE_DATA: usize = 3;

/// [`SEALED_MEMBER`] as a JSON string, as sealed data's text must hold it.
const SEALED_QUOTED: &str = "\"foldstore:sealed\"";

/// Finds [`SEALED_QUOTED`] in text (made once: a search made for each datum costs more).
fn sealed_quoted() -> &'static memchr::memmem::Finder<'static> {
    static FINDER: std::sync::OnceLock<memchr::memmem::Finder<'static>> =
        std::sync::OnceLock::new();
    FINDER.get_or_init(|| memchr::memmem::Finder::new(SEALED_QUOTED.as_bytes()))
}

/// Whether data text starts as foldstore writes the sealed form: with the sealed member.
fn starts_sealed(text: &str) -> bool {
    text.strip_prefix('{')
        .is_some_and(|rest| rest.starts_with(SEALED_QUOTED))
}

/// The sealed form's parts, as read from an event's data.
struct Sealed<'a> {
    subject: &'a str,
    key: KeyId,
    nonce: [u8; NONCE_BYTES],
    ciphertext: &'a str,
}

/// The sealed form in `data`, if it is one: `None` for ordinary data, `Some(Err(why))` for a
/// sealed form with missing or malformed members.
fn sealed_form(data: Option<&Value>) -> Option<Result<Sealed<'_>, &'static str>> {
    let members = data?.as_object()?;
    if members.len() != 1 {
        return None;
    }
    // Looked up by walking the few members: hashing each name costs more.
    let (name, sealed) = members.iter().next()?;
    if name != SEALED_MEMBER {
        return None;
    }
    Some((|| {
        let sealed = sealed
            .as_object()
            .ok_or("its sealed form is not an object")?;
        let text = |name: &str| {
            sealed
                .iter()
                .find(|(member, _)| *member == name)
                .and_then(|(_, value)| value.as_str())
        };
        sealed_parts(
            text("subject"),
            text("key"),
            text("nonce"),
            text("ciphertext"),
        )
    })())
}

/// The sealed form's parts from its members' strings (`None`: missing or not a string).
fn sealed_parts<'a>(
    subject: Option<&'a str>,
    key: Option<&str>,
    nonce: Option<&str>,
    ciphertext: Option<&'a str>,
) -> Result<Sealed<'a>, &'static str> {
    let subject = subject.ok_or("its sealed form names no subject")?;
    let key = key
        .and_then(KeyId::from_hex)
        .ok_or("its sealed form has no key id of 16 hex digits")?;
    let mut nonce_bytes = [0u8; NONCE_BYTES];
    let nonce_text = nonce
        .filter(|t| t.len() == NONCE_BYTES / 3 * 4)
        .ok_or("its sealed form has no base64 nonce of 12 bytes")?;
    match BASE64.decode_slice(nonce_text, &mut nonce_bytes) {
        Ok(NONCE_BYTES) => {}
        _ => return Err("its sealed form has no base64 nonce of 12 bytes"),
    }
    let ciphertext = ciphertext.ok_or("its sealed form has no ciphertext")?;
    Ok(Sealed {
        subject,
        key,
        nonce: nonce_bytes,
        ciphertext,
    })
}

/// The sealed form read straight from its text, without building values: an object holding
/// exactly the sealed member, an object whose `subject`, `key`, `nonce` and `ciphertext`
/// members hold strings without escapes (other members are passed over, as the value's
/// reading passes them over). Any other text (an array, a member missing or written twice, an
/// escape, ...) fails here and is read through its value, which decides what it is and gives
/// the error message.
struct SealedText<'a>(SealedMembers<'a>);

/// The members of [`SealedText`]'s sealed member, borrowed from the text they were read from.
pub(crate) struct SealedMembers<'a> {
    subject: &'a str,
    key: &'a str,
    nonce: &'a str,
    ciphertext: &'a str,
    /// Whether the form had other members (passed over, and not checked as a value is).
    others: bool,
}

impl<'de> Deserialize<'de> for SealedText<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Outer;
        impl<'de> Visitor<'de> for Outer {
            type Value = SealedText<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("the sealed form")
            }
            // Only an object: not the array a derived type would take too.
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let Some(name) = map.next_key::<&str>()? else {
                    return Err(de::Error::custom("no member"));
                };
                if name != SEALED_MEMBER {
                    return Err(de::Error::custom("another member"));
                }
                let members = map.next_value::<SealedMembers<'de>>()?;
                if map.next_key::<&str>()?.is_some() {
                    return Err(de::Error::custom("more than the sealed member"));
                }
                Ok(SealedText(members))
            }
        }
        deserializer.deserialize_map(Outer)
    }
}

impl<'de> Deserialize<'de> for SealedMembers<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Inner;
        impl<'de> Visitor<'de> for Inner {
            type Value = SealedMembers<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("the sealed form's members")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut found: [Option<&'de str>; 4] = [None; 4];
                let mut others = false;
                while let Some(name) = map.next_key::<&str>()? {
                    let slot = ["subject", "key", "nonce", "ciphertext"]
                        .iter()
                        .position(|known| *known == name);
                    match slot {
                        Some(slot) if found[slot].is_some() => {
                            return Err(de::Error::custom("a member written twice"));
                        }
                        Some(slot) => found[slot] = Some(map.next_value::<&str>()?),
                        None => {
                            others = true;
                            map.next_value::<de::IgnoredAny>()?;
                        }
                    }
                }
                let [Some(subject), Some(key), Some(nonce), Some(ciphertext)] = found else {
                    return Err(de::Error::custom("a member missing"));
                };
                Ok(SealedMembers {
                    subject,
                    key,
                    nonce,
                    ciphertext,
                    others,
                })
            }
        }
        deserializer.deserialize_map(Inner)
    }
}

/// The sealed form of `event`'s data, read from its text when it is kept as text and reads
/// simply (see [`SealedText`]), else from its value: `None` for ordinary data.
fn sealed_form_of(event: &Event) -> Option<Result<Sealed<'_>, &'static str>> {
    if let Some(text) = event.unparsed_data_text() {
        // Data that never mentions the sealed form's member is not parsed to find out (text
        // with a `\u` escape is never kept, so the member cannot hide behind escapes). The
        // sealed form as foldstore writes it starts with the member.
        if !starts_sealed(text) && sealed_quoted().find(text.as_bytes()).is_none() {
            return None;
        }
        if let Ok(SealedText(sealed)) = serde_json::from_str::<SealedText<'_>>(text) {
            return Some(sealed.parts());
        }
    }
    sealed_form(event.data())
}

impl<'a> SealedMembers<'a> {
    /// Whether the form had members other than its four parts.
    pub(crate) fn has_others(&self) -> bool {
        self.others
    }

    fn parts(&self) -> Result<Sealed<'a>, &'static str> {
        sealed_parts(
            Some(self.subject),
            Some(self.key),
            Some(self.nonce),
            Some(self.ciphertext),
        )
    }
}

/// What an event's data text holds, as a decoder that opens sealed data straight from a
/// commit's bytes sees it (see [`read_data_text`]).
pub(crate) enum DataText<'a> {
    /// The sealed form as foldstore writes it, every part read and checked.
    Sealed(SealedMembers<'a>),
    /// Data that is no sealed form, unless the member's name is written with escapes (which
    /// only its value shows: see [`is_sealed_form`]).
    Plain,
    /// Anything else (a sealed form written otherwise, or damaged): data read the careful
    /// way, by [`open_commit`], which decides what it is and gives the error message.
    Unsure,
}

/// What the data text `text` (well-formed JSON, as a decoder skipped it) holds: the sealed
/// form only when it starts with the sealed member, holds nothing else, and its member holds
/// exactly the four parts as strings without escapes (each part of the text then read and
/// checked; nothing is passed over unchecked).
pub(crate) fn read_data_text(text: &str) -> DataText<'_> {
    if starts_sealed(text) {
        return match serde_json::from_str::<SealedText<'_>>(text) {
            Ok(SealedText(sealed)) if !sealed.has_others() => DataText::Sealed(sealed),
            _ => DataText::Unsure,
        };
    }
    if sealed_quoted().find(text.as_bytes()).is_some() {
        return DataText::Unsure;
    }
    DataText::Plain
}

/// Refuses the first of `events` whose data has the sealed form's shape (an object whose only
/// member is [`SEALED_MEMBER`]) and that would be written as it is, not sealed (`keyring` is
/// `None`, or the event names no subject): every reader takes such data for data foldstore
/// sealed, which opens only in the commit it was sealed for, so it would read back as damage
/// or as forgotten, never as written.
///
/// # Errors
/// [`Error::InvalidEvent`] naming the event; the errors of naming two subjects.
pub(crate) fn refuse_lookalikes(keyring: Option<&Keyring>, events: &[Event]) -> Result<()> {
    for (index, event) in events.iter().enumerate() {
        if !written_as_sealed(event) {
            continue;
        }
        let sealed = match keyring {
            Some(keyring) => subject_of(keyring, event)?.is_some(),
            None => false,
        };
        if !sealed {
            return Err(Error::InvalidEvent {
                problem: format!(
                    "event #{index} ({:?}) has data whose only member is {SEALED_MEMBER:?}, the form of the data foldstore seals: readers would take it for sealed data and read it back as damaged or forgotten, not as written. Put it under another member (sealed data opens only in the commit it was sealed for; to copy sealed events, copy their commits)",
                    event.name()
                ),
            });
        }
    }
    Ok(())
}

/// Whether `event`'s data is a sealed form (well-formed or not), read without parsing data
/// kept as text that cannot be one.
pub(crate) fn written_as_sealed(event: &Event) -> bool {
    if let Some(text) = event.unparsed_data_text() {
        // Kept text has no `\u` escape: the member's name shows as it is.
        if sealed_quoted().find(text.as_bytes()).is_none() {
            return false;
        }
    }
    event.data().is_some_and(is_sealed_form)
}

/// Whether `data` is a sealed form (well-formed or not): data that [`open_commit`] opens, or
/// refuses as damaged.
pub(crate) fn is_sealed_form(data: &Value) -> bool {
    sealed_form(Some(data)).is_some()
}

/// What a sealed datum is bound to: the version of the form, the key's id, the commit's id and
/// the subject, each preceded by its length. (Not the event's name or position: a migration
/// may rename, split or drop events, and keeps the sealed data it carries.)
fn bound(key: KeyId, commit_id: &str, subject: &str) -> Vec<u8> {
    let mut bound = Vec::with_capacity(64 + commit_id.len() + subject.len());
    bound_into(&mut bound, key, commit_id, subject);
    bound
}

/// [`bound`], written into `bound` (emptied first).
fn bound_into(bound: &mut Vec<u8>, key: KeyId, commit_id: &str, subject: &str) {
    bound.clear();
    bound.extend_from_slice(b"foldstore:sealed 1");
    let key = key.hex_digits();
    for part in [&key[..], commit_id.as_bytes(), subject.as_bytes()] {
        bound.extend_from_slice(&(part.len() as u64).to_le_bytes());
        bound.extend_from_slice(part);
    }
}

/// The commit id of `headers`, when it has one as a string.
fn commit_id(headers: &Headers) -> Option<&str> {
    headers.get(COMMIT_ID).and_then(Value::as_str)
}

/// A new commit id: 128 random bits in hex.
fn new_commit_id() -> Result<String> {
    let bytes: [u8; 16] = random_bytes()?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The subject of `event` by `keyring`'s rules: `Ok(None)` when it has none or no data.
fn subject_of<'e>(keyring: &Keyring, event: &'e Event) -> Result<Option<&'e str>> {
    if event.data().is_none() {
        return Ok(None);
    }
    let mut found: Option<&str> = None;
    for tag in event.tags().filter(|tag| keyring.marks_subject(tag)) {
        match found {
            Some(first) if first != tag => {
                return Err(Error::InvalidEvent {
                    problem: format!(
                        "event {:?} names two subjects ({first:?} and {tag:?}); its data can belong to one: log one event per subject",
                        event.name()
                    ),
                })
            }
            _ => found = Some(tag),
        }
    }
    Ok(found)
}

/// Seals the data of the events of a new commit that name a subject: `None` when none does
/// (the commit is written as it is), or the headers (with a commit id added when they had
/// none) and the events to write instead.
pub(crate) fn seal_commit(
    keyring: &Keyring,
    headers: &Headers,
    events: &[Event],
) -> Result<Option<(Headers, Vec<Event>)>> {
    let mut subjects = Vec::with_capacity(events.len());
    for event in events {
        subjects.push(subject_of(keyring, event)?);
    }
    if subjects.iter().all(Option::is_none) {
        return Ok(None);
    }
    let mut headers = headers.clone();
    if commit_id(&headers).is_none() {
        headers.insert(COMMIT_ID.to_owned(), Value::String(new_commit_id()?));
    }
    let id = commit_id(&headers).unwrap_or_default().to_owned();
    let mut sealed = Vec::with_capacity(events.len());
    for (event, subject) in events.iter().zip(subjects) {
        let (Some(subject), Some(data)) = (subject, event.data()) else {
            sealed.push(event.clone());
            continue;
        };
        let plain =
            zeroize::Zeroizing::new(to_vec_deep(&Deep(data)).map_err(|e| Error::InvalidEvent {
                problem: format!(
                    "the data of event {:?} cannot be written: {e}",
                    event.name()
                ),
            })?);
        // Readers open data nested as deep as it could be written in the clear, no deeper.
        let depth = nesting_depth(&plain) + LEVELS_ABOVE_DATA;
        if depth > MAX_NESTING {
            return Err(Error::InvalidEvent {
                problem: too_deep_to_write("the event's data", depth),
            });
        }
        // Readers open what reads back as written, as they read data written in the clear
        // (see `format::encode_commit`).
        if raw_value_token().find(&plain).is_some()
            && parse_plain(&plain).ok().as_ref() != Some(data)
        {
            return Err(Error::InvalidEvent {
                problem: format!(
                    "the data of event {:?} {}",
                    event.name(),
                    raw_value_problem()
                ),
            });
        }
        // The subject's key, made now for a new subject (only once its data is known to be
        // writable).
        let key = keyring.key_for(subject)?;
        let (nonce, ciphertext) = encrypt(key.bytes(), &bound(key.id(), &id, subject), &plain)?;
        sealed.push(event.clone().with_new_data(Some(stored_form(
            subject,
            &key,
            &nonce,
            &ciphertext,
        ))));
    }
    Ok(Some((headers, sealed)))
}

/// `{"foldstore:sealed": {"subject": .., "key": .., "nonce": .., "ciphertext": ..}}`.
fn stored_form(subject: &str, key: &SubjectKey, nonce: &[u8], ciphertext: &[u8]) -> Value {
    let mut form = Map::new();
    form.insert("subject".to_owned(), Value::String(subject.to_owned()));
    form.insert("key".to_owned(), Value::String(key.id().to_hex()));
    form.insert("nonce".to_owned(), Value::String(BASE64.encode(nonce)));
    form.insert(
        "ciphertext".to_owned(),
        Value::String(BASE64.encode(ciphertext)),
    );
    let mut data = Map::new();
    data.insert(SEALED_MEMBER.to_owned(), Value::Object(form));
    Value::Object(data)
}

/// What opening sealed data keeps from one commit to the next on one thread (a replay's
/// reading thread): the keys it was given, so that the keyring's shared lock is not taken for
/// every event, and its buffers.
#[derive(Default)]
pub(crate) struct Opener {
    keys: OpenerKeys,
    /// What the sealed data is bound to (see [`bound`]).
    bound: Vec<u8>,
    /// The ciphertext, decoded, and then the data opened in place (wiped after each use).
    plain: zeroize::Zeroizing<Vec<u8>>,
}

/// The keys an [`Opener`] was given. They are dropped as soon as a subject is forgotten
/// through the store (see [`Keyring::forgets`]), so that nothing opened after a forget
/// returned opens with the destroyed key, and they are wiped when the opener is dropped.
#[derive(Default)]
struct OpenerKeys {
    /// The keyring's count of forgets when the keys were last checked.
    forgets: u64,
    /// The keys asked for, by id, with their subject; `None` for ids the keyring does not
    /// have. (A key is handed out only for the subject it was asked for.)
    by_id: HashMap<KeyId, (Box<str>, Option<SubjectKey>), foldhash::fast::RandomState>,
}

/// Keys an [`Opener`] keeps at most (then it starts over): the keys of a store of many
/// subjects are not all held by every reading thread.
const OPENER_KEYS: usize = 4096;

impl OpenerKeys {
    /// Subject `subject`'s key `id`, from `keyring` the first time.
    fn get(&mut self, keyring: &Keyring, subject: &str, id: KeyId) -> Result<Option<&SubjectKey>> {
        let forgets = keyring.forgets();
        if forgets != self.forgets || self.by_id.len() >= OPENER_KEYS {
            self.by_id.clear();
            self.forgets = forgets;
        }
        let known = self
            .by_id
            .get(&id)
            .is_some_and(|(known, _)| **known == *subject);
        if !known {
            let key = keyring.get(subject, id)?;
            self.by_id.insert(id, (subject.into(), key));
        }
        Ok(self.by_id.get(&id).and_then(|(_, key)| key.as_ref()))
    }
}

impl Opener {
    /// The data sealed in `form` (read from a sealed form, or `Err(why)` when it is
    /// malformed) of a commit whose id is `commit_id`: opened when `keyring` holds its key,
    /// else the [`Forgotten`] placeholder. `damaged` makes the error for a malformed form, or
    /// one that does not open with its key.
    fn open(
        &mut self,
        keyring: Option<&Keyring>,
        commit_id: &str,
        form: Result<Sealed<'_>, &'static str>,
        damaged: &dyn Fn(String) -> Error,
    ) -> Result<Value> {
        let form = form.map_err(|why| damaged(why.to_owned()))?;
        let key = match keyring {
            Some(keyring) => self.keys.get(keyring, form.subject, form.key)?,
            None => None,
        };
        let Some(key) = key else {
            return Ok(Forgotten::new(form.subject).to_data());
        };
        let plain = &mut self.plain;
        // Room made beforehand, so that no copy of the data is left in memory that a growing
        // buffer freed without wiping.
        let room = form.ciphertext.len().div_ceil(4) * 3;
        if plain.capacity() < room {
            *plain = zeroize::Zeroizing::new(Vec::with_capacity(room.max(256)));
        }
        plain.clear();
        if BASE64.decode_vec(form.ciphertext, plain).is_err() {
            return Err(damaged(
                "its sealed form has no base64 ciphertext".to_owned(),
            ));
        }
        bound_into(&mut self.bound, form.key, commit_id, form.subject);
        let opened = decrypt_in_place(key, &self.bound, &form.nonce, plain);
        let data = if opened {
            parse_plain(plain).map_err(damaged)
        } else {
            Err(damaged(format!(
                "its sealed data does not open with the key of subject {:?}: its ciphertext, nonce or subject, or the commit's id, was changed",
                form.subject
            )))
        };
        // The opened data is wiped (the tag after it, and the ciphertext it was, are not
        // secret; the whole buffer is wiped when the opener is dropped).
        plain.as_mut_slice().zeroize();
        plain.clear();
        data
    }
}

/// The error for event `index` of commit `number`, whose sealed data is damaged.
fn damaged_event<'a>(
    number: u64,
    location: &'a dyn Fn() -> String,
    index: usize,
    event: &'a Event,
) -> impl Fn(String) -> Error + 'a {
    move |problem| Error::CorruptCommit {
        commit: number,
        location: location(),
        problem: format!("event #{index} ({:?}): {problem}", event.name()),
    }
}

/// The data of event `index` (which exists) of `commit`, sealed in `form`, opened by `opener`
/// (see [`Opener::open`]); its errors name the commit, where it is, and the event.
fn open_event(
    opener: &mut Opener,
    keyring: Option<&Keyring>,
    commit: &Commit,
    index: usize,
    form: Result<Sealed<'_>, &'static str>,
    location: &dyn Fn() -> String,
) -> Result<Value> {
    let id = commit_id(commit.headers()).unwrap_or_default();
    let damaged = damaged_event(commit.number(), location, index, &commit.events()[index]);
    opener.open(keyring, id, form, &damaged)
}

/// Opens the sealed data of `commit`'s events in place: the data when `keyring` holds the
/// key it was sealed with, or else the [`Forgotten`] placeholder.
///
/// # Errors
/// [`Error::CorruptCommit`] when a sealed form is malformed or does not open with its key
/// (changed bytes: damage, not forgetting); the key store's errors.
pub(crate) fn open_commit(
    keyring: Option<&Keyring>,
    commit: &mut Commit,
    location: &dyn Fn() -> String,
    opener: &mut Opener,
) -> Result<()> {
    for index in 0..commit.events().len() {
        let event = &commit.events()[index];
        let Some(form) = sealed_form_of(event) else {
            continue;
        };
        let data = open_event(opener, keyring, commit, index, form, location)?;
        commit.events_mut()[index].replace_data(data);
    }
    Ok(())
}

/// Opens, in place, the sealed data of `commit`'s events that a decoder found in its bytes
/// (`found`: each event's index and sealed form; see `format::decode_commit_sealed`), as
/// [`open_commit`] does. Only those events are looked at: the decoder saw that no other
/// event's data is a sealed form.
///
/// # Errors
/// As [`open_commit`].
pub(crate) fn open_found(
    keyring: Option<&Keyring>,
    commit: &mut Commit,
    found: FoundSealed<'_>,
    location: &dyn Fn() -> String,
    opener: &mut Opener,
) -> Result<()> {
    for (index, members) in found {
        if index >= commit.events().len() {
            // Not reached: the decoder found the form in this commit's events. (An error
            // makes a replay read the commit again the careful way.)
            return Err(Error::CorruptCommit {
                commit: commit.number(),
                location: location(),
                problem: format!(
                    "event #{index}: no such event, though a sealed form was found for it"
                ),
            });
        }
        let data = open_event(opener, keyring, commit, index, members.parts(), location)?;
        commit.events_mut()[index].replace_data(data);
    }
    Ok(())
}

/// Reads opened data: directly when it is nested less than serde_json's own limit, else on a
/// stack grown as needed (and no deeper than [`MAX_NESTING`]).
fn parse_plain(plain: &[u8]) -> Result<Value, String> {
    // Data can nest no deeper than it has brackets, and counting them is much quicker than
    // following the nesting, strings and escapes.
    let brackets = plain.iter().filter(|&&b| b == b'{' || b == b'[').count();
    let depth = if brackets < 100 {
        brackets
    } else {
        check_nesting(plain)
            .map_err(|depth| format!("its sealed data {}", too_deep_to_read(depth)))?
    };
    let parsed = if depth < 100 {
        // Checking the whole text is UTF-8 at once is quicker than checking each string (the
        // slice is read again only to say what is wrong with it).
        match std::str::from_utf8(plain) {
            Ok(text) => serde_json::from_str(text),
            Err(_) => serde_json::from_slice(plain),
        }
    } else {
        from_slice_deep::<Value>(plain)
    };
    parsed.map_err(|e| format!("its sealed data is not JSON: {e}"))
}

#[cfg(test)]
mod quoted_tests {
    #[test]
    fn the_quoted_member_is_the_member_as_json() {
        assert_eq!(
            serde_json::to_string(super::SEALED_MEMBER).unwrap(),
            super::SEALED_QUOTED
        );
    }
}

#[cfg(test)]
mod opener_tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;
    use crate::forget::{FolderKeyStore, MasterKey};
    use crate::format::{decode_commit_lazy, encode_commit};

    /// A keyring over a folder key store in `folder`, subjects tagged `member:`.
    fn keyring(folder: &std::path::Path) -> Keyring {
        let keys = FolderKeyStore::open(folder, MasterKey::generate().unwrap()).unwrap();
        Keyring::new(Arc::new(keys), vec!["member:".to_owned()])
    }

    /// Commit `number`, one event of `subject` holding `data`, sealed and read back lazily.
    fn sealed(keyring: &Keyring, number: u64, subject: &str, data: Value) -> Commit {
        let event = Event::with_data("memberHasMoved", data).tagged([subject]);
        let (headers, events) = seal_commit(keyring, &Headers::new(), &[event])
            .unwrap()
            .unwrap();
        let bytes = encode_commit(&headers, &events).unwrap();
        decode_commit_lazy(number, &bytes).unwrap()
    }

    fn open(keyring: &Keyring, commit: &mut Commit, opener: &mut Opener) -> Result<Value> {
        open_commit(Some(keyring), commit, &|| "a test".to_owned(), opener)?;
        Ok(commit.events()[0].data().cloned().unwrap_or_default())
    }

    /// What a commit's bytes read as, for a store with `keyring` (or without a key store):
    /// its headers and its events (data parsed), or `None` when it does not decode or open.
    /// `found` reads it as a replay does (sealed forms found while decoding:
    /// `decode_commit_sealed` and `open_found`), with data on demand or not; otherwise it is
    /// decoded whole (`decode_commit`, as `read_commit` does), and every event's data looked
    /// at (`open_commit`).
    fn read_back(
        keyring: Option<&Keyring>,
        bytes: &[u8],
        found: Option<bool>,
    ) -> Option<(Headers, Vec<Event>)> {
        let location = || "a test".to_owned();
        let mut opener = Opener::default();
        let mut commit = match found {
            Some(lazy) => {
                let (mut commit, found) =
                    crate::format::decode_commit_sealed(7, bytes, lazy).ok()?;
                match found {
                    Some(found) => open_found(keyring, &mut commit, found, &location, &mut opener),
                    None => open_commit(keyring, &mut commit, &location, &mut opener),
                }
                .ok()?;
                commit
            }
            None => {
                let mut commit = crate::format::decode_commit(7, bytes).ok()?;
                open_commit(keyring, &mut commit, &location, &mut opener).ok()?;
                commit
            }
        };
        for event in commit.events_mut() {
            let _ = event.data_mut();
        }
        Some((commit.headers().clone(), commit.events().to_vec()))
    }

    /// Asserts that `bytes` read the same every way (see [`read_back`]), with `keyring` and
    /// without a key store, and returns what they read as with `keyring`.
    fn read_every_way(
        keyring: &Keyring,
        bytes: &[u8],
        case: &str,
    ) -> Option<(Headers, Vec<Event>)> {
        let mut with_keys = None;
        for keyring in [Some(keyring), None] {
            let whole = read_back(keyring, bytes, None);
            let kept = {
                let mut commit = decode_commit_lazy(7, bytes).ok();
                let opened = commit.as_mut().map(|commit| {
                    open_commit(
                        keyring,
                        commit,
                        &|| "a test".to_owned(),
                        &mut Opener::default(),
                    )
                });
                match (commit, opened) {
                    (Some(mut commit), Some(Ok(()))) => {
                        for event in commit.events_mut() {
                            let _ = event.data_mut();
                        }
                        Some((commit.headers().clone(), commit.events().to_vec()))
                    }
                    _ => None,
                }
            };
            assert_eq!(kept, whole, "{case}: kept as text, then looked at");
            for lazy in [false, true] {
                let found = read_back(keyring, bytes, Some(lazy));
                assert_eq!(
                    found,
                    whole,
                    "{case} (lazy: {lazy}, keys: {})",
                    keyring.is_some()
                );
            }
            if keyring.is_some() {
                with_keys = whole;
            }
        }
        with_keys
    }

    #[test]
    fn sealed_data_found_while_decoding_opens_as_when_every_datum_is_looked_at() {
        let folder = tempfile::tempdir().unwrap();
        let keyring = keyring(folder.path());
        let peters = sealed(&keyring, 7, "member:peter", json!({"address": "london"}));
        let bytes = encode_commit(peters.headers(), peters.events()).unwrap();
        let written = String::from_utf8(bytes).unwrap();
        let Value::Object(form) = peters.events()[0].data().cloned().unwrap() else {
            panic!("a sealed form");
        };
        let form = serde_json::to_string(&form[SEALED_MEMBER]).unwrap();
        let data_at = written.find("\"data\":").unwrap() + "\"data\":".len();
        let data_end = written.rfind(",\"tags\"").unwrap();
        let sealed_data = &written[data_at..data_end];
        // The commit with its data written as `data` (any JSON text).
        let with_data =
            |data: &str| format!("{}{data}{}", &written[..data_at], &written[data_end..]);
        let (cipher_at, _) = form.match_indices("\"ciphertext\":\"").next().unwrap();
        let escaped_cipher = format!("{}\\/{}", &form[..cipher_at + 14], &form[cipher_at + 14..]);
        // The commit with the sealed form changed: `from` replaced by `to` once.
        let with_form = |from: &str, to: &str| {
            with_data(&format!(
                "{{\"foldstore:sealed\":{}}}",
                form.replacen(from, to, 1)
            ))
        };
        let deep = format!("{}1{}", "[".repeat(120), "]".repeat(120));
        let mut cases = vec![
            written.clone(),
            serde_json::to_string_pretty(&serde_json::from_str::<Value>(&written).unwrap())
                .unwrap(),
            with_data(&format!("{{\"foldstore\\u003asealed\":{form}}}")),
            with_data(&format!("{{\"foldstore:sealed\":{escaped_cipher}}}")),
            with_data(&format!("{{\"foldstore:sealed\":{form},\"other\":1}}")),
            with_data(&format!("{{\"other\":1,\"foldstore:sealed\":{form}}}")),
            with_data(&format!(
                "{{\"foldstore:sealed\":{form},\"foldstore:sealed\":{form}}}"
            )),
            with_data(&format!("[{{\"foldstore:sealed\":{form}}}]")),
            with_data(&format!("{{\"foldstore:sealed\":[{form}]}}")),
            with_form("{", "{\"n\":1e400,"),
            with_form("{", "{\"n\":\"\\ud800\","),
            with_form("{", "{\"n\":1,"),
            with_form("\"subject\"", "\"subject\":\"member:wendy\",\"subject\""),
            with_form("member:peter", "member:wendy"),
            with_form("\"key\":\"", "\"key\":\"0"),
            with_form("\"ciphertext\":\"", "\"ciphertext\":\"AAAA"),
            with_form("\"nonce\":\"", "\"nonce\":\"!"),
            with_data("{\"$serde_json::private::RawValue\":\"[1,2]\"}"),
            with_data("{\"a\":1,\"a\":2,\"b\":\"\\u00e9\\/\",\"c\":[1.5,-0,1e5,true,null]}"),
            with_data("{\"a\":1e400}"),
            with_data("{\"a\":\"\\ud800\"}"),
            with_data(&deep),
            with_data("{}"),
            with_data("[]"),
            with_data("\"text\""),
            with_data("12"),
            with_data("-1.25"),
            with_data("true"),
            with_data("null"),
            with_data("{\"$serde_json::private::RawValue\":1}"),
            with_data("[{\"$serde_json::private::RawValue\":\"[1]\"}]"),
            with_data(
                "{\"$serde_json::private::RawValue\":\"{\\\"foldstore:sealed\\\":{\\\"subject\\\":1}}\"}",
            ),
            with_data("{\"foldstore:sealed\":1}"),
            with_data("{\"foldstore:sealed\":{}}"),
            with_data("{\"note\":\"\\\"foldstore:sealed\\\"\"}"),
        ];
        // The data member written twice: the last one counts.
        for (first, last) in [(sealed_data, "{\"a\":1}"), ("{\"a\":1}", sealed_data)] {
            cases.push(format!(
                "{}{first},\"data\":{last}{}",
                &written[..data_at],
                &written[data_end..]
            ));
        }
        // Two events, the second sealed, and one with no data.
        let two = with_data("{\"a\":1}");
        let events_at = two.find("\"events\":[").unwrap() + "\"events\":[".len();
        let sealed_event = &written[events_at..written.len() - 2];
        let plain_event = &two[events_at..two.len() - 2];
        cases.push(format!(
            "{}{plain_event},{sealed_event},{{\"name\":\"x\"}}]}}",
            &two[..events_at]
        ));
        for (case, text) in cases.iter().enumerate() {
            read_every_way(&keyring, text.as_bytes(), &format!("case {case}: {text}"));
        }
        // The forms as foldstore writes them are found while decoding; others are not.
        let found = |case: usize, lazy: bool| {
            crate::format::decode_commit_sealed(7, cases[case].as_bytes(), lazy)
                .unwrap()
                .1
                .map(|found| found.len())
        };
        for lazy in [false, true] {
            assert_eq!(found(0, lazy), Some(1));
            // Read in one pass, white space is passed over and the name is compared
            // unescaped; kept as text, the form must be written as foldstore writes it.
            let one_pass = (!lazy).then_some(1);
            assert_eq!(found(1, lazy), one_pass, "pretty-printed");
            assert_eq!(
                found(2, lazy),
                one_pass,
                "the member's name written with escapes"
            );
            assert_eq!(found(3, lazy), None, "an escape in the ciphertext");
            assert_eq!(found(18, lazy), Some(0), "ordinary data");
            assert_eq!(
                found(cases.len() - 1, lazy),
                Some(1),
                "two events, one sealed"
            );
        }
        // The cases decode, open, and fail as intended.
        let opened = |case: usize| read_back(Some(&keyring), cases[case].as_bytes(), None);
        assert_eq!(
            opened(0).unwrap().1[0].data(),
            Some(&json!({"address": "london"}))
        );
        assert!(opened(10).is_none(), "a lone surrogate in the form");
        assert!(opened(14).is_none(), "a changed key id");
        assert_eq!(opened(17).unwrap().1[0].data(), Some(&json!([1, 2])));
        assert!(
            opened(21).unwrap().1[0].data().is_some(),
            "data nested deep"
        );
    }

    #[test]
    fn commits_of_any_data_read_as_a_replay_reads_them_as_when_every_datum_is_looked_at() {
        use proptest::prelude::*;
        use proptest::test_runner::{Config, TestRunner};

        let folder = tempfile::tempdir().unwrap();
        let keyring = keyring(folder.path());
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            (-1e300f64..1e300).prop_map(Value::from),
            "(foldstore:sealed|subject|\\\\|.{0,6})".prop_map(Value::String),
        ];
        let names = "(foldstore:sealed|\\$serde_json::private::RawValue|subject|.{0,4})";
        let data = leaf.prop_recursive(3, 24, 4, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec((names, inner), 0..4)
                    .prop_map(|members| Value::Object(members.into_iter().collect())),
            ]
        });
        // Events with data, each sealed or not, written compactly or pretty-printed.
        let commit = (
            prop::collection::vec((data, any::<bool>()), 1..4),
            any::<bool>(),
        );
        let mut runner = TestRunner::new(Config {
            cases: 256,
            ..Config::default()
        });
        runner
            .run(&commit, |(events, pretty)| {
                let events: Vec<Event> = events
                    .into_iter()
                    .map(|(data, sealed)| {
                        let event = Event::with_data("happened", data);
                        if sealed {
                            event.tagged(["member:peter"])
                        } else {
                            event
                        }
                    })
                    .collect();
                // (Data with serde_json's raw value member is refused, sealed or not.)
                let Ok(sealed) = seal_commit(&keyring, &Headers::new(), &events) else {
                    return Ok(());
                };
                let (headers, events) = sealed.unwrap_or((Headers::new(), events));
                let Ok(mut bytes) = encode_commit(&headers, &events) else {
                    return Ok(());
                };
                if pretty {
                    let value: Value = serde_json::from_slice(&bytes).unwrap();
                    bytes = serde_json::to_vec_pretty(&value).unwrap();
                }
                let careful = read_every_way(&keyring, &bytes, "a generated commit");
                // Data of the sealed form's shape that foldstore did not seal (a store
                // refuses to write it) reads as damage.
                let lookalike = events
                    .iter()
                    .any(|event| event.tags().next().is_none() && written_as_sealed(event));
                prop_assert_eq!(careful.is_some(), !lookalike);
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn an_opener_drops_the_keys_it_kept_once_a_subject_is_forgotten() {
        let folder = tempfile::tempdir().unwrap();
        let keyring = keyring(folder.path());
        let mut first = sealed(&keyring, 1, "member:peter", json!({"address": "london"}));
        let mut second = sealed(&keyring, 2, "member:peter", json!({"address": "neverland"}));
        let mut opener = Opener::default();
        assert_eq!(
            open(&keyring, &mut first, &mut opener).unwrap(),
            json!({"address": "london"})
        );
        assert!(keyring.forget("member:peter").unwrap());
        let after = open(&keyring, &mut second, &mut opener).unwrap();
        assert_eq!(
            Forgotten::in_data(&after).map(|f| f.subject().to_owned()),
            Some("member:peter".to_owned()),
            "opened after the forget: {after}"
        );
    }

    #[test]
    fn an_opener_hands_a_key_out_only_for_the_subject_it_was_asked_for() {
        let folder = tempfile::tempdir().unwrap();
        let keyring = keyring(folder.path());
        let mut peters = sealed(&keyring, 1, "member:peter", json!({"address": "london"}));
        let mut opener = Opener::default();
        open(&keyring, &mut peters.clone(), &mut opener).unwrap();
        // Peter's sealed form, said to be Wendy's (who has no key): her key id is Peter's.
        let Value::Object(mut data) = peters.events()[0].data().cloned().unwrap() else {
            panic!("a sealed form");
        };
        data[SEALED_MEMBER]["subject"] = json!("member:wendy");
        peters.events_mut()[0].replace_data(Value::Object(data));
        let wendys = open(&keyring, &mut peters, &mut opener).unwrap();
        assert_eq!(
            Forgotten::in_data(&wendys).map(|f| f.subject().to_owned()),
            Some("member:wendy".to_owned()),
            "{wendys}"
        );
    }
}
