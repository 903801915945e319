//! Signed checkpoints of a chain: the last commit's number and hash at a time, signed with
//! an ed25519 key that the store does not hold, and the key files.
//!
//! A checkpoint file is one JSON object:
//! `{"format":"foldstore-checkpoint","version":1,"commit":1000,"hash":"blake3:...",
//! "time":"2026-12-06T01:40:00.000Z","publicKey":"ed25519:<64 hex>","signature":"ed25519:<128 hex>"}`.
//! The signature covers the text `foldstore-checkpoint 1\ncommit <commit>\nhash <hash>\ntime
//! <time>\n`. A signing key file holds `ed25519-secret:<64 hex>` and a newline, a public key
//! file `ed25519:<64 hex>` and a newline.

use std::fmt;
use std::io::Write;
use std::path::Path;
use std::str::FromStr;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde_json::{json, Value};

use super::link::{parse_hex, ChainHash};
use crate::error::{Error, Result};

const FORMAT: &str = "foldstore-checkpoint";
const VERSION: u64 = 1;
const PUBLIC_PREFIX: &str = "ed25519:";
const SECRET_PREFIX: &str = "ed25519-secret:";
/// The largest key or checkpoint file read (they are a few hundred bytes).
const MAX_FILE_BYTES: u64 = 64 * 1024;

/// A signed statement that a log's commit `commit` had stored bytes hashing to `hash` at
/// `time`: made by [`Store::checkpoint`](crate::Store::checkpoint), checked by
/// [`Store::verify_chain_from`](crate::Store::verify_chain_from).
///
/// ```
/// use foldstore::{ChainCheckpoint, ChainHash, CheckpointSigningKey};
///
/// let key = CheckpointSigningKey::generate()?;
/// let checkpoint = ChainCheckpoint::sign(7, ChainHash::of(b"commit 7"), "2026-12-06T01:40:00.000Z", &key);
/// let read = ChainCheckpoint::from_json(&checkpoint.to_json())?;
/// assert_eq!(read, checkpoint);
/// assert!(read.verify(&key.public_key()).is_ok());
/// let other = CheckpointSigningKey::generate()?;
/// assert!(read.verify(&other.public_key()).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainCheckpoint {
    /// The commit signed (the log's last when the checkpoint was taken).
    pub commit: u64,
    /// The hash of its stored bytes.
    pub hash: ChainHash,
    /// When the checkpoint was taken, as `Date.prototype.toISOString` writes it.
    pub time: String,
    /// The key that signed it (for the reader's information: checking takes the key the
    /// reader trusts, not this one).
    pub public_key: CheckpointPublicKey,
    signature: [u8; 64],
}

impl ChainCheckpoint {
    /// Signs commit `commit`, whose stored bytes hash to `hash`, at `time`, with `key`.
    pub fn sign(commit: u64, hash: ChainHash, time: &str, key: &CheckpointSigningKey) -> Self {
        let signature = key.0.sign(&message(commit, &hash, time)).to_bytes();
        ChainCheckpoint {
            commit,
            hash,
            time: time.to_owned(),
            public_key: key.public_key(),
            signature,
        }
    }

    /// Checks the signature with `key`, the public key of the signer the reader trusts.
    ///
    /// # Errors
    /// The problem, when `key` did not sign this checkpoint or it was changed since.
    pub fn verify(&self, key: &CheckpointPublicKey) -> std::result::Result<(), String> {
        let signature = Signature::from_bytes(&self.signature);
        key.0
            .verify_strict(&message(self.commit, &self.hash, &self.time), &signature)
            .map_err(|_| {
                format!(
                    "is not signed by the key {key}: it was signed by another key, or changed since it was signed"
                )
            })
    }

    /// The checkpoint as its file holds it (one line of JSON).
    pub fn to_json(&self) -> String {
        json!({
            "format": FORMAT,
            "version": VERSION,
            "commit": self.commit,
            "hash": self.hash.to_string(),
            "time": self.time,
            "publicKey": self.public_key.to_string(),
            "signature": format!("{PUBLIC_PREFIX}{}", hex(&self.signature)),
        })
        .to_string()
    }

    /// Reads a checkpoint from its JSON text.
    ///
    /// # Errors
    /// What is wrong with the text.
    pub fn from_json(text: &str) -> std::result::Result<Self, String> {
        let value: Value = serde_json::from_str(text).map_err(|e| format!("is not JSON: {e}"))?;
        let field = |name: &str| {
            value
                .get(name)
                .ok_or_else(|| format!("has no `{name}` member"))
        };
        let text_of = |name: &str| {
            field(name)?
                .as_str()
                .ok_or_else(|| format!("has a `{name}` that is not a string"))
        };
        if field("format")?.as_str() != Some(FORMAT) {
            return Err(format!(
                "is not a foldstore checkpoint (its `format` is not `{FORMAT}`)"
            ));
        }
        if field("version")?.as_u64() != Some(VERSION) {
            return Err(format!(
                "is a checkpoint of another version than {VERSION}: use a newer foldstore"
            ));
        }
        let commit = field("commit")?
            .as_u64()
            .filter(|commit| *commit > 0)
            .ok_or("has a `commit` that is not a commit number")?;
        let hash = text_of("hash")?
            .parse()
            .map_err(|e| format!("has a bad `hash`: {e}"))?;
        let time = text_of("time")?.to_owned();
        let public_key = text_of("publicKey")?
            .parse()
            .map_err(|e| format!("has a bad `publicKey`: {e}"))?;
        let signature = text_of("signature")?
            .strip_prefix(PUBLIC_PREFIX)
            .and_then(|hex| {
                let (a, b) = (hex.get(..64)?, hex.get(64..)?);
                let mut bytes = [0; 64];
                bytes[..32].copy_from_slice(&parse_hex(a)?);
                bytes[32..].copy_from_slice(&parse_hex(b)?);
                Some(bytes)
            })
            .ok_or("has a `signature` that is not `ed25519:` and 128 hexadecimal digits")?;
        Ok(ChainCheckpoint {
            commit,
            hash,
            time,
            public_key,
            signature,
        })
    }

    /// Reads the checkpoint file at `path`.
    ///
    /// # Errors
    /// [`Error::Chain`] naming the file, when it cannot be read or is not a checkpoint.
    pub fn read(path: &Path) -> Result<Self> {
        let text = read_small(path)?;
        ChainCheckpoint::from_json(&text).map_err(|problem| file_error(path, problem))
    }

    /// Writes the checkpoint to the file at `path`, replacing it whole (a new file, synced,
    /// renamed over it: a crash leaves the old checkpoint or the new one). Never through a
    /// symbolic link, and never over a signing key file.
    ///
    /// # Errors
    /// When `path` is a symbolic link or not a file, holds a signing key, or cannot be
    /// written.
    pub fn write(&self, path: &Path) -> Result<()> {
        use std::io::Write;
        match std::fs::symlink_metadata(path) {
            Ok(meta) if !meta.is_file() => {
                return Err(file_error(
                    path,
                    "is not a regular file (a checkpoint is written through no symbolic link): choose another file".to_owned(),
                ))
            }
            Ok(_) => {
                // Read once: a signing key is never replaced, and only an earlier checkpoint
                // (or nothing) is: not a master key, a public key, a commit or anything else
                // that happens to bear the name.
                let text = read_small(path).ok();
                let problem = match text.as_deref() {
                    Some(text) if text.trim_start().starts_with(SECRET_PREFIX) => {
                        Some("holds a signing key")
                    }
                    Some(text) if text.trim().is_empty() || Self::from_json(text).is_ok() => None,
                    _ => Some("holds something other than a checkpoint"),
                };
                if let Some(problem) = problem {
                    return Err(file_error(
                        path,
                        format!("{problem}, which a checkpoint never replaces: choose another file"),
                    ));
                }
            }
            _ => {}
        }
        let name = path
            .file_name()
            .ok_or_else(|| file_error(path, "names no file".to_owned()))?;
        let folder = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        let temp = folder.join(format!(
            ".{}.foldstore-tmp-{}",
            name.to_string_lossy(),
            std::process::id()
        ));
        let mut text = self.to_json();
        text.push('\n');
        let written = (|| {
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&temp)?;
            file.write_all(text.as_bytes())?;
            file.sync_all()?;
            std::fs::rename(&temp, path)?;
            #[cfg(unix)]
            std::fs::File::open(folder)?.sync_all()?;
            Ok::<(), std::io::Error>(())
        })();
        written.map_err(|e| {
            let _ = std::fs::remove_file(&temp);
            file_error(path, format!("cannot be written: {e}"))
        })
    }
}

/// The text a checkpoint's signature covers.
fn message(commit: u64, hash: &ChainHash, time: &str) -> Vec<u8> {
    format!("{FORMAT} {VERSION}\ncommit {commit}\nhash {hash}\ntime {time}\n").into_bytes()
}

/// The secret key that signs checkpoints (ed25519). Its `Debug` shows only the public key.
pub struct CheckpointSigningKey(SigningKey);

impl fmt::Debug for CheckpointSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckpointSigningKey")
            .field("public_key", &self.public_key())
            .finish_non_exhaustive()
    }
}

impl CheckpointSigningKey {
    /// A new key from the operating system's random numbers.
    ///
    /// # Errors
    /// When the operating system gives no random numbers.
    pub fn generate() -> Result<Self> {
        let mut secret = [0; 32];
        getrandom::fill(&mut secret).map_err(|e| Error::Chain {
            location: "a new signing key".to_owned(),
            problem: format!("cannot be made: the operating system gave no random numbers ({e})"),
        })?;
        Ok(CheckpointSigningKey(SigningKey::from_bytes(&secret)))
    }

    /// The public key that checks this key's signatures.
    pub fn public_key(&self) -> CheckpointPublicKey {
        CheckpointPublicKey(self.0.verifying_key())
    }

    /// Writes a new key file at `path`, readable by its owner only (mode 0600 on Unix), never
    /// replacing a file; returns the key.
    ///
    /// # Errors
    /// When `path` exists or cannot be written (nothing is left behind then).
    pub fn write_new(path: &Path) -> Result<Self> {
        let key = CheckpointSigningKey::generate()?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path).map_err(|e| {
            file_error(
                path,
                format!("cannot be created: {e} (a key file is never replaced)"),
            )
        })?;
        let text = format!("{SECRET_PREFIX}{}\n", hex(key.0.as_bytes()));
        if let Err(e) = file
            .write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
        {
            drop(file);
            let _ = std::fs::remove_file(path);
            return Err(file_error(path, format!("cannot be written: {e}")));
        }
        Ok(key)
    }

    /// Reads the key file at `path`.
    ///
    /// # Errors
    /// [`Error::Chain`] naming the file, when it cannot be read or holds no signing key.
    pub fn read(path: &Path) -> Result<Self> {
        let text = read_small(path)?;
        text.trim()
            .strip_prefix(SECRET_PREFIX)
            .and_then(parse_hex)
            .map(|secret| CheckpointSigningKey(SigningKey::from_bytes(&secret)))
            .ok_or_else(|| {
                file_error(
                    path,
                    format!("is not a signing key file (`{SECRET_PREFIX}` and 64 hexadecimal digits); make one with 'foldstore checkpoint --generate-key FILE'"),
                )
            })
    }
}

/// The public key that checks checkpoints' signatures (ed25519); its text is `ed25519:` and
/// 64 hexadecimal digits.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct CheckpointPublicKey(VerifyingKey);

impl CheckpointPublicKey {
    /// Reads the public key file at `path`.
    ///
    /// # Errors
    /// [`Error::Chain`] naming the file, when it cannot be read or holds no public key.
    pub fn read(path: &Path) -> Result<Self> {
        read_small(path)?
            .trim()
            .parse()
            .map_err(|problem| file_error(path, problem))
    }
}

impl fmt::Display for CheckpointPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PUBLIC_PREFIX}{}", hex(self.0.as_bytes()))
    }
}

impl fmt::Debug for CheckpointPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for CheckpointPublicKey {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Self, String> {
        text.strip_prefix(PUBLIC_PREFIX)
            .and_then(parse_hex)
            .and_then(|bytes| VerifyingKey::from_bytes(&bytes).ok())
            // A weak (small-order) key verifies forged signatures: never one of ours.
            .filter(|key| !key.is_weak())
            .map(CheckpointPublicKey)
            .ok_or_else(|| {
                format!("is not a public key (`{PUBLIC_PREFIX}` and 64 hexadecimal digits of an ed25519 key)")
            })
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut text, byte| {
        let _ = write!(text, "{byte:02x}");
        text
    })
}

fn file_error(path: &Path, problem: String) -> Error {
    Error::Chain {
        location: path.display().to_string(),
        problem,
    }
}

/// The text of a small file (a key or a checkpoint), refusing anything large or not a file.
fn read_small(path: &Path) -> Result<String> {
    use std::io::Read;
    // A FIFO or a device would make reading block or never end.
    match std::fs::metadata(path) {
        Ok(metadata) if !metadata.is_file() => {
            return Err(file_error(path, "is not a regular file".to_owned()))
        }
        _ => {}
    }
    let file =
        std::fs::File::open(path).map_err(|e| file_error(path, format!("cannot be read: {e}")))?;
    let mut text = String::new();
    file.take(MAX_FILE_BYTES)
        .read_to_string(&mut text)
        .map_err(|e| file_error(path, format!("cannot be read as text: {e}")))?;
    if text.len() as u64 >= MAX_FILE_BYTES {
        return Err(file_error(
            path,
            format!("is larger than {MAX_FILE_BYTES} bytes: it is no key or checkpoint"),
        ));
    }
    Ok(text)
}
