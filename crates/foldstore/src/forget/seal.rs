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
use crate::format::Commit;
use crate::json::{
    check_nesting, from_slice_deep, nesting_depth, to_vec_deep, too_deep_to_read,
    too_deep_to_write, Deep, MAX_NESTING,
};

/// The commit header that identifies a commit before its number is known, and that sealed
/// data is bound to (the same header the backends use to resolve lost acknowledgements).
pub(crate) const COMMIT_ID: &str = "commitId";

/// Levels a commit adds above an event's data (`{"events":[{"data": ...}]}`).
const LEVELS_ABOVE_DATA: usize = 3;

/// [`SEALED_MEMBER`] as a JSON string, as sealed data's text must hold it.
const SEALED_QUOTED: &str = "\"foldstore:sealed\"";

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

/// The members of [`SealedText`]'s sealed member.
struct SealedMembers<'a> {
    subject: &'a str,
    key: &'a str,
    nonce: &'a str,
    ciphertext: &'a str,
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
        let opening = text
            .strip_prefix('{')
            .is_some_and(|rest| rest.starts_with(SEALED_QUOTED));
        if !opening && memchr::memmem::find(text.as_bytes(), SEALED_QUOTED.as_bytes()).is_none() {
            return None;
        }
        if let Ok(SealedText(sealed)) = serde_json::from_str::<SealedText<'_>>(text) {
            return Some(sealed_parts(
                Some(sealed.subject),
                Some(sealed.key),
                Some(sealed.nonce),
                Some(sealed.ciphertext),
            ));
        }
    }
    sealed_form(event.data())
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
        let key = keyring.key_for(subject)?;
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
    /// The commit's id, while its events are opened.
    commit_id: String,
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
    let Opener {
        keys,
        commit_id: id,
        bound: bound_bytes,
        plain,
    } = opener;
    let number = commit.number();
    let mut id_known = false;
    for index in 0..commit.events().len() {
        let event = &commit.events()[index];
        let Some(form) = sealed_form_of(event) else {
            continue;
        };
        let damaged = |problem: String| Error::CorruptCommit {
            commit: number,
            location: location(),
            problem: format!("event #{index} ({:?}): {problem}", event.name()),
        };
        let form = form.map_err(|why| damaged(why.to_owned()))?;
        if !id_known {
            id.clear();
            id.push_str(commit_id(commit.headers()).unwrap_or_default());
            id_known = true;
        }
        let key = match keyring {
            Some(keyring) => keys.get(keyring, form.subject, form.key)?,
            None => None,
        };
        let data = match key {
            None => Forgotten::new(form.subject).to_data(),
            Some(key) => {
                // Room made beforehand, so that no copy of the data is left in memory that
                // a growing buffer freed without wiping.
                let room = form.ciphertext.len().div_ceil(4) * 3;
                if plain.capacity() < room {
                    *plain = zeroize::Zeroizing::new(Vec::with_capacity(room.max(256)));
                }
                plain.clear();
                let decoded = BASE64.decode_vec(form.ciphertext, plain);
                if decoded.is_err() {
                    return Err(damaged(
                        "its sealed form has no base64 ciphertext".to_owned(),
                    ));
                }
                bound_into(bound_bytes, form.key, id, form.subject);
                let opened = decrypt_in_place(key, bound_bytes, &form.nonce, plain);
                let data = if opened {
                    parse_plain(plain).map_err(damaged)
                } else {
                    Err(damaged(format!(
                        "its sealed data does not open with the key of subject {:?}: its ciphertext, nonce or subject, or the commit's id, was changed",
                        form.subject
                    )))
                };
                // The opened data is wiped (the tag after it, and the ciphertext it was, are
                // not secret; the whole buffer is wiped when the opener is dropped).
                plain.as_mut_slice().zeroize();
                plain.clear();
                data?
            }
        };
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
        serde_json::from_slice(plain)
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
