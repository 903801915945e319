//! Keys: the subjects' keys, the master key that guards them at rest, the [`KeyStore`] trait,
//! and the one AEAD both use (AES-256-GCM: 256-bit keys, random 96-bit nonces).

use std::fmt;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use aes_gcm::aead::{Aead, AeadInPlace, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use zeroize::{Zeroize, Zeroizing};

use crate::error::{Error, Result};

/// Bytes of a key (subject or master).
pub(crate) const KEY_BYTES: usize = 32;

/// Bytes of a nonce. Random 96-bit nonces keep the chance that two messages under one key
/// share a nonce below 2^-32 for the first 2^32 messages of that key (NIST SP 800-38D): one
/// subject's key seals far fewer events.
pub(crate) const NONCE_BYTES: usize = 12;

/// The longest subject name a key store holds, in bytes. A longer subject tag on an event is
/// refused when it is written; reading one finds no key (its data reads as forgotten).
pub const MAX_SUBJECT_BYTES: usize = 120;

/// The environment variable `foldstore` reads a master key from (see [`MasterKey::from_env`]).
pub const MASTER_KEY_VARIABLE: &str = "FOLDSTORE_MASTER_KEY";

/// 32 random bytes from the operating system.
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| Error::Keys {
        location: "the operating system's random source".to_owned(),
        problem: format!("cannot draw random bytes: {e}"),
    })?;
    Ok(bytes)
}

/// Encrypts `plain` with `key`, binding `bound` (authenticated, not stored): a fresh random
/// nonce, returned with the ciphertext (which ends with the 16-byte tag).
pub(crate) fn encrypt(
    key: &[u8; KEY_BYTES],
    bound: &[u8],
    plain: &[u8],
) -> Result<([u8; NONCE_BYTES], Vec<u8>)> {
    let nonce = random_bytes::<NONCE_BYTES>()?;
    let cipher = Aes256Gcm::new(key.into());
    let sealed = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plain,
                aad: bound,
            },
        )
        .map_err(|_| Error::Keys {
            location: "the cipher".to_owned(),
            problem: "encryption failed (the data is too long for one message)".to_owned(),
        })?;
    Ok((nonce, sealed))
}

/// Decrypts what [`encrypt`] made, or `None` when it does not open: another key, another
/// `bound`, or changed bytes.
pub(crate) fn decrypt(
    key: &[u8; KEY_BYTES],
    bound: &[u8],
    nonce: &[u8],
    sealed: &[u8],
) -> Option<Zeroizing<Vec<u8>>> {
    if nonce.len() != NONCE_BYTES {
        return None;
    }
    let cipher = Aes256Gcm::new(key.into());
    cipher
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: sealed,
                aad: bound,
            },
        )
        .ok()
        .map(Zeroizing::new)
}

/// Decrypts `buffer` (ciphertext and tag) in place into the plaintext, as [`decrypt`] does;
/// `false` (and `buffer` unspecified) when it does not open.
pub(crate) fn decrypt_in_place(
    key: &SubjectKey,
    bound: &[u8],
    nonce: &[u8; NONCE_BYTES],
    buffer: &mut Vec<u8>,
) -> bool {
    key.cipher()
        .decrypt_in_place(Nonce::from_slice(nonce), bound, buffer)
        .is_ok()
}

/// The identity of one key of a subject: a random number drawn when the key is made. A
/// subject forgotten and later written again gets a new key with a new id, so that its old
/// data reads as forgotten (not as damaged) and its new data opens.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyId(u64);

impl KeyId {
    /// A new random id.
    pub(crate) fn random() -> Result<KeyId> {
        Ok(KeyId(u64::from_le_bytes(random_bytes()?)))
    }

    /// The id as 16 lower-case hex digits, as the stored form writes it.
    pub fn to_hex(self) -> String {
        String::from_utf8_lossy(&self.hex_digits()).into_owned()
    }

    /// The 16 hex digits, without allocating.
    pub(crate) fn hex_digits(self) -> [u8; 16] {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut digits = [0u8; 16];
        for (i, digit) in digits.iter_mut().enumerate() {
            *digit = DIGITS[((self.0 >> (60 - 4 * i)) & 0xf) as usize];
        }
        digits
    }

    /// Reads 16 hex digits; `None` for anything else.
    pub fn from_hex(text: &str) -> Option<KeyId> {
        if text.len() != 16 {
            return None;
        }
        text.bytes()
            .try_fold(0u64, |id, digit| {
                let value = char::from(digit).to_digit(16)?;
                Some(id << 4 | u64::from(value))
            })
            .map(KeyId)
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({})", self.to_hex())
    }
}

/// One subject's key: 256 bits and its [`KeyId`]. Its bytes are wiped when it is dropped and
/// never printed (`Debug` shows the id only).
#[derive(Clone)]
pub struct SubjectKey {
    id: KeyId,
    bytes: [u8; KEY_BYTES],
    /// The cipher with this key, made once (its key schedule costs as much as opening a short
    /// datum) and shared by the key's clones; wiped when the last one is dropped.
    cipher: Arc<OnceLock<Aes256Gcm>>,
}

impl SubjectKey {
    /// A new random key with a new id.
    ///
    /// # Errors
    /// [`Error::Keys`] when the operating system gives no random bytes.
    pub fn generate() -> Result<SubjectKey> {
        Ok(SubjectKey::from_parts(KeyId::random()?, random_bytes()?))
    }

    /// A key from its parts (as a [`KeyStore`] reads it back).
    pub fn from_parts(id: KeyId, bytes: [u8; KEY_BYTES]) -> SubjectKey {
        SubjectKey {
            id,
            bytes,
            cipher: Arc::new(OnceLock::new()),
        }
    }

    /// The cipher with this key.
    fn cipher(&self) -> &Aes256Gcm {
        self.cipher
            .get_or_init(|| Aes256Gcm::new((&self.bytes).into()))
    }

    /// The key's id.
    pub fn id(&self) -> KeyId {
        self.id
    }

    /// The key's bytes (for a [`KeyStore`] to keep, encrypted).
    pub fn bytes(&self) -> &[u8; KEY_BYTES] {
        &self.bytes
    }
}

impl Drop for SubjectKey {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

impl fmt::Debug for SubjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubjectKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// The key that encrypts the subjects' keys at rest: 256 bits, written as 64 hex digits. It
/// is read from a file or an environment variable, never from a command line (where other
/// users of the machine could read it). Wiped when dropped; never printed.
///
/// ```
/// use foldstore::MasterKey;
///
/// let key = MasterKey::generate()?;
/// let again = MasterKey::from_hex(&key.to_hex(), "a test")?;
/// assert_eq!(again.to_hex(), key.to_hex());
/// assert!(MasterKey::from_hex("not a key", "a test").is_err());
/// # Ok::<(), foldstore::Error>(())
/// ```
#[derive(Clone)]
pub struct MasterKey([u8; KEY_BYTES]);

impl MasterKey {
    /// A new random master key.
    ///
    /// # Errors
    /// [`Error::Keys`] when the operating system gives no random bytes.
    pub fn generate() -> Result<MasterKey> {
        Ok(MasterKey(random_bytes()?))
    }

    /// Reads 64 hex digits (surrounding white space ignored); `source` names where they came
    /// from, for the error.
    ///
    /// # Errors
    /// [`Error::Keys`] naming `source` when the text is not 64 hex digits.
    pub fn from_hex(text: &str, source: &str) -> Result<MasterKey> {
        let text = text.trim();
        let bad = || Error::Keys {
            location: source.to_owned(),
            problem:
                "a master key is 64 hex digits (make one with 'foldstore keys --new-master-key')"
                    .to_owned(),
        };
        if text.len() != KEY_BYTES * 2 || !text.is_ascii() {
            return Err(bad());
        }
        let mut bytes = [0u8; KEY_BYTES];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[i * 2..i * 2 + 2], 16).map_err(|_| bad())?;
        }
        Ok(MasterKey(bytes))
    }

    /// Reads the master key from a file holding its 64 hex digits. The file must be a regular
    /// file (no symbolic link is followed, and a FIFO is not waited on) that only its owner
    /// may read.
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be read; [`Error::Keys`] naming the file when it does
    /// not exist, is not a regular file, may be read by other users (run `chmod 600` on it),
    /// or does not hold a key.
    pub fn from_file(path: impl AsRef<Path>) -> Result<MasterKey> {
        let path = path.as_ref();
        let (bytes, _) = super::folder::read_regular(path)?.ok_or_else(|| Error::Keys {
            location: path.display().to_string(),
            problem: "does not exist: give the file that holds the master key (foldstore keys --new-master-key FILE makes one)".to_owned(),
        })?;
        let text = Zeroizing::new(bytes);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::symlink_metadata(path)
                .map_err(|e| Error::io("look at the master key", path, e))?
                .permissions()
                .mode();
            if mode & 0o077 != 0 {
                return Err(Error::Keys {
                    location: path.display().to_string(),
                    problem: format!(
                        "may be read by other users (mode {:o}): a master key file must be its owner's only; run chmod 600 on it",
                        mode & 0o777
                    ),
                });
            }
        }
        let text = std::str::from_utf8(&text).map_err(|_| Error::Keys {
            location: path.display().to_string(),
            problem: "a master key file holds 64 hex digits, and this one is not text".to_owned(),
        })?;
        MasterKey::from_hex(text, &path.display().to_string())
    }

    /// Reads the master key from the environment variable `name` (see
    /// [`MASTER_KEY_VARIABLE`]).
    ///
    /// # Errors
    /// [`Error::Keys`] naming the variable when it is not set or does not hold a key.
    pub fn from_env(name: &str) -> Result<MasterKey> {
        let text = Zeroizing::new(std::env::var(name).map_err(|_| Error::Keys {
            location: format!("the environment variable {name}"),
            problem:
                "it is not set (or not text): set it to a master key of 64 hex digits".to_owned(),
        })?);
        MasterKey::from_hex(&text, &format!("the environment variable {name}"))
    }

    /// The key as 64 lower-case hex digits (to write it to a file kept apart from the store).
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    pub(crate) fn bytes(&self) -> &[u8; KEY_BYTES] {
        &self.0
    }
}

impl Drop for MasterKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

/// Where the subjects' keys are kept, apart from the log: a folder
/// ([`FolderKeyStore`](crate::FolderKeyStore)), a PostgreSQL table
/// (`PostgresKeyStore`, feature `postgres`), or any other implementation.
///
/// A key store is never written into the log, its copies or its exports: forgetting a
/// subject is destroying its key here, after which every copy of the log holds only
/// ciphertext for it. Implementations keep keys encrypted at rest, are safe to share between
/// threads, and make [`key_for`](Self::key_for) atomic: two writers asking for a new subject's
/// key at once get the same key.
pub trait KeyStore: Send + Sync + fmt::Debug {
    /// The subject's key, made (and kept durably) when it has none.
    ///
    /// # Errors
    /// [`Error::Keys`] when the subject is longer than [`MAX_SUBJECT_BYTES`], or the key cannot
    /// be read, made or kept.
    fn key_for(&self, subject: &str) -> Result<SubjectKey>;

    /// The subject's key, or `None` when it has none (never had one, or was forgotten).
    ///
    /// # Errors
    /// [`Error::Keys`] when a key is there but cannot be read (damaged, another master key).
    fn get(&self, subject: &str) -> Result<Option<SubjectKey>>;

    /// Destroys the subject's key, durably; `false` when it had none.
    ///
    /// # Errors
    /// When the key cannot be removed, or its removal made durable.
    fn forget(&self, subject: &str) -> Result<bool>;

    /// The subjects that have a key, sorted.
    ///
    /// # Errors
    /// When the keys cannot be listed.
    fn subjects(&self) -> Result<Vec<String>>;

    /// Where the keys are, for messages.
    fn location(&self) -> String;
}

/// Refuses a subject name a key store cannot hold.
pub(crate) fn check_subject(subject: &str, location: &dyn Fn() -> String) -> Result<()> {
    if subject.is_empty() || subject.len() > MAX_SUBJECT_BYTES {
        return Err(Error::Keys {
            location: location(),
            problem: format!(
                "a subject is 1 to {MAX_SUBJECT_BYTES} bytes long, and this one has {} bytes",
                subject.len()
            ),
        });
    }
    Ok(())
}

/// What binds a subject's key, encrypted at rest, to its subject and key id.
pub(crate) fn key_bound(subject: &str, id: KeyId) -> Vec<u8> {
    let mut bound = b"foldstore subject key\0".to_vec();
    bound.extend_from_slice(id.to_hex().as_bytes());
    bound.push(0);
    bound.extend_from_slice(subject.as_bytes());
    bound
}

#[cfg(test)]
mod tests {
    use super::KeyId;

    #[test]
    fn key_ids_read_back_as_written_and_nothing_else_reads_as_one() {
        for id in [0, 1, 0x0123_4567_89ab_cdef, u64::MAX] {
            assert_eq!(KeyId::from_hex(&KeyId(id).to_hex()), Some(KeyId(id)));
        }
        assert_eq!(
            KeyId::from_hex("FFFFFFFFFFFFFFFF"),
            Some(KeyId(u64::MAX)),
            "upper case"
        );
        for text in [
            "",
            "0123456789abcde",
            "0123456789abcdef0",
            "0123456789abcdeg",
            "+123456789abcdef",
            "-123456789abcdef",
            " 123456789abcdef",
            "0x23456789abcdef",
            "éééééééé",
            "٠١٢٣٤٥٦٧",
        ] {
            assert_eq!(KeyId::from_hex(text), None, "{text:?}");
        }
    }
}
