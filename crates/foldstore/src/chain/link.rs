//! The `chain` header and the hashes it holds.

use std::fmt;
use std::str::FromStr;

use serde_json::{Map, Value};

use crate::event::Headers;

/// The header of a chained commit (see [`ChainLink`]).
pub const CHAIN_HEADER: &str = "chain";

/// The prefix of a hash's text: the algorithm's name.
const PREFIX: &str = "blake3:";

/// The BLAKE3 hash of a commit's stored bytes, as a chain link and a checkpoint hold it.
///
/// Its text is `blake3:` and 64 lowercase hexadecimal digits.
///
/// ```
/// use foldstore::ChainHash;
///
/// let hash = ChainHash::of(b"{\"headers\":{},\"events\":[]}");
/// let text = hash.to_string();
/// assert!(text.starts_with("blake3:") && text.len() == 7 + 64);
/// assert_eq!(text.parse::<ChainHash>(), Ok(hash));
/// assert!("sha1:00".parse::<ChainHash>().is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChainHash([u8; 32]);

impl ChainHash {
    /// The hash of `bytes`.
    pub fn of(bytes: &[u8]) -> ChainHash {
        ChainHash(*blake3::hash(bytes).as_bytes())
    }

    /// The hash's 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for ChainHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Every chained commit writes one: two table look-ups a byte, one `write_str`.
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut text = [0; PREFIX.len() + 64];
        text[..PREFIX.len()].copy_from_slice(PREFIX.as_bytes());
        for (pair, byte) in text[PREFIX.len()..].chunks_exact_mut(2).zip(self.0) {
            pair[0] = DIGITS[usize::from(byte >> 4)];
            pair[1] = DIGITS[usize::from(byte & 0x0f)];
        }
        // Only ASCII was written.
        f.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for ChainHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for ChainHash {
    type Err = String;

    /// Reads `blake3:` and 64 lowercase hexadecimal digits.
    fn from_str(text: &str) -> Result<ChainHash, String> {
        let hex = text
            .strip_prefix(PREFIX)
            .ok_or_else(|| "a hash does not start with `blake3:`".to_owned())?;
        parse_hex(hex).map(ChainHash).ok_or_else(|| {
            "a hash is not `blake3:` followed by 64 lowercase hexadecimal digits".to_owned()
        })
    }
}

/// The 32 bytes spelled by 64 lowercase hexadecimal digits.
///
/// `verify --chain` reads one hash a commit, so this is a table look-up a digit, checked once
/// for the whole hash rather than digit by digit.
pub(crate) fn parse_hex(hex: &str) -> Option<[u8; 32]> {
    /// Each byte's value as a lowercase hexadecimal digit, or 0x10 when it is not one.
    const DIGITS: [u8; 256] = {
        let mut table = [0x10; 256];
        let mut d = 0;
        while d < 10 {
            table[b'0' as usize + d] = d as u8;
            d += 1;
        }
        let mut d = 0;
        while d < 6 {
            table[b'a' as usize + d] = 10 + d as u8;
            d += 1;
        }
        table
    };
    let digits: &[u8; 64] = hex.as_bytes().try_into().ok()?;
    let mut bytes = [0; 32];
    let mut bad = 0;
    for (byte, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
        let (high, low) = (DIGITS[pair[0] as usize], DIGITS[pair[1] as usize]);
        bad |= high | low;
        *byte = high << 4 | (low & 0x0f);
    }
    (bad & 0x10 == 0).then_some(bytes)
}

/// What a chained commit's `chain` header says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChainLink {
    /// Commit `commit` starts the chain: `{"commit":7,"start":true}`.
    Start {
        /// The number the commit was written as.
        commit: u64,
    },
    /// Commit `commit` follows the commit before it, whose stored bytes hash to `prev`:
    /// `{"commit":8,"prev":"blake3:..."}`.
    Follows {
        /// The number the commit was written as.
        commit: u64,
        /// The hash of the previous commit's stored bytes.
        prev: ChainHash,
    },
}

impl ChainLink {
    /// The number the commit was written as.
    pub fn commit(&self) -> u64 {
        match *self {
            ChainLink::Start { commit } | ChainLink::Follows { commit, .. } => commit,
        }
    }

    /// The header's value.
    pub fn to_value(&self) -> Value {
        let mut object = Map::new();
        object.insert("commit".to_owned(), Value::from(self.commit()));
        match self {
            ChainLink::Start { .. } => object.insert("start".to_owned(), Value::Bool(true)),
            ChainLink::Follows { prev, .. } => {
                object.insert("prev".to_owned(), Value::String(prev.to_string()))
            }
        };
        Value::Object(object)
    }

    /// The link in `headers`: `Ok(None)` when they have no `chain` header, `Err` with the
    /// problem when it is not one foldstore writes.
    ///
    /// ```
    /// use foldstore::{ChainHash, ChainLink, Headers};
    ///
    /// let link = ChainLink::Follows { commit: 8, prev: ChainHash::of(b"7") };
    /// let mut headers = Headers::new();
    /// assert_eq!(ChainLink::read(&headers), Ok(None));
    /// headers.insert("chain".to_owned(), link.to_value());
    /// assert_eq!(ChainLink::read(&headers), Ok(Some(link)));
    /// headers.insert("chain".to_owned(), serde_json::json!("yes"));
    /// assert!(ChainLink::read(&headers).is_err());
    /// ```
    pub fn read(headers: &Headers) -> Result<Option<ChainLink>, String> {
        let Some(value) = headers.get(CHAIN_HEADER) else {
            return Ok(None);
        };
        let bad = |why: &str| Err(format!("its `chain` header {why}"));
        let Some(object) = value.as_object() else {
            return bad("is not an object");
        };
        let Some(commit) = object.get("commit").and_then(Value::as_u64) else {
            return bad("has no `commit` number");
        };
        if commit == 0 {
            return bad("names commit 0");
        }
        match (object.get("start"), object.get("prev")) {
            (Some(Value::Bool(true)), None) => Ok(Some(ChainLink::Start { commit })),
            (None, Some(Value::String(prev))) => match prev.parse() {
                Ok(prev) => Ok(Some(ChainLink::Follows { commit, prev })),
                Err(problem) => bad(&format!("holds a `prev` that is not a hash: {problem}")),
            },
            _ => bad("has neither `\"start\":true` nor a `prev` hash"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_blake3_of_the_bytes() {
        // The BLAKE3 hash of the empty input, from the algorithm's test vectors.
        assert_eq!(
            ChainHash::of(b"").to_string(),
            "blake3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
        );
    }

    #[test]
    fn hostile_hash_text_is_refused() {
        for text in [
            "",
            "blake3:",
            "blake3:AF1349B9F5F9A1A6A0404DEA36DCC9499BCB25C9ADC112B7CC9A93CAE41F3262",
            "blake3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f326",
            "blake3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f32é",
        ] {
            assert!(text.parse::<ChainHash>().is_err(), "{text}");
        }
    }

    #[test]
    fn odd_headers_are_problems_not_panics() {
        for value in [
            serde_json::json!({"commit": u64::MAX, "start": false}),
            serde_json::json!({"commit": -1, "start": true}),
            serde_json::json!({"commit": 0, "start": true}),
            serde_json::json!({"commit": 3, "start": true, "prev": "blake3:00"}),
            serde_json::json!({"commit": 3, "prev": 7}),
            serde_json::json!([]),
        ] {
            let mut headers = Headers::new();
            headers.insert(CHAIN_HEADER.to_owned(), value.clone());
            assert!(ChainLink::read(&headers).is_err(), "{value}");
        }
    }
}
