//! The folder key store: one file per subject, each key encrypted with the master key.

use std::collections::HashMap;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use serde::{Deserialize, Serialize};

use super::keys::{
    check_subject, decrypt, encrypt, key_bound, random_bytes, KeyId, KeyStore, MasterKey,
    SubjectKey, KEY_BYTES,
};
use crate::error::{Error, Result};
use crate::storage::local::fs::open_regular;

/// The file whose contents only the right master key opens.
const CHECK_FILE: &str = "keys.check";

/// What the check file holds, encrypted.
const CHECK_TEXT: &[u8] = b"foldstore key store";

/// What a key file's name ends with.
const KEY_SUFFIX: &str = ".key";

/// The largest file the key store reads: its own are a few hundred bytes.
const MAX_FILE_BYTES: u64 = 64 * 1024;

/// The prefix of a temporary file being written.
const TEMP_PREFIX: &str = ".foldstore-tmp-";

/// A key store in a folder of its own, kept apart from the store (another disk, another
/// machine's mount, another backup policy: whoever holds both the log and the keys can read
/// everything that was not forgotten).
///
/// Each subject's key is the file `<subject in hex>.key`, holding the key encrypted with the
/// [`MasterKey`] (AES-256-GCM, the subject and the key's id bound to it), written to a
/// temporary file, synced, and linked to its name only if no other writer made it first; the
/// folder is synced after. The file `keys.check` tells a wrong master key at once. Forgetting a
/// subject removes its file and syncs the folder.
///
/// **What remains on disk after forgetting:** the name is gone from the folder, but the file
/// system (and an SSD's wear levelling) may keep the removed bytes in free blocks until they
/// are reused, and backups or snapshots of the key folder keep the file. Those bytes are the
/// key encrypted with the master key: recovering a forgotten subject's data takes the log, the
/// old key file *and* the master key. Keep backups of the key folder short-lived, or rotate the
/// master key, when that matters.
///
/// ```
/// # fn main() -> Result<(), foldstore::Error> {
/// # let folder = tempfile::tempdir().unwrap();
/// use foldstore::{FolderKeyStore, KeyStore, MasterKey};
///
/// let keys = FolderKeyStore::open(folder.path().join("keys"), MasterKey::generate()?)?;
/// let key = keys.key_for("member:peter pan")?;
/// assert_eq!(keys.get("member:peter pan")?.map(|k| k.id()), Some(key.id()));
/// assert_eq!(keys.subjects()?, ["member:peter pan"]);
/// assert!(keys.forget("member:peter pan")?);
/// assert!(keys.get("member:peter pan")?.is_none());
/// # Ok(())
/// # }
/// ```
pub struct FolderKeyStore {
    folder: PathBuf,
    master: MasterKey,
    /// The keys handed out to seal with, each with the stamp of the file it was read from.
    /// A key is handed out again only while a look at its file finds that very file (see
    /// [`Stamp`]): a key file is written once and never changed, so the same file holds the
    /// same key, and a subject forgotten and given a new key (by any process) has a new file.
    /// Only keys whose file was [`SETTLED`] when read are kept.
    sealing: Mutex<HashMap<String, (Stamp, SubjectKey), foldhash::fast::RandomState>>,
}

impl fmt::Debug for FolderKeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FolderKeyStore")
            .field("folder", &self.folder)
            .finish_non_exhaustive()
    }
}

/// How long before it is read a key file must have been made for its key to be kept (see
/// [`FolderKeyStore::sealing`]). File times come from a coarse clock (a few milliseconds; whole
/// seconds on some file systems), and a new file may get the inode number of a removed one:
/// a key file made within the same tick as the one it replaces could carry the same stamp.
/// A file made after a settled file was read has a later time than it by this much.
const SETTLED: Duration = Duration::from_secs(2);

/// What tells one key file from another at the same name: its device and inode, its size, and
/// the times of its last change and modification, to the nanosecond (an inode number freed
/// by a forgotten key's file may be given to the next key's file, made later). `None` where
/// the platform has no inode numbers: keys are then read every time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp(Option<(u64, u64, u64, i64, i64, i64, i64)>);

impl Stamp {
    fn of(meta: &fs::Metadata) -> Stamp {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            Stamp(Some((
                meta.dev(),
                meta.ino(),
                meta.len(),
                meta.mtime(),
                meta.mtime_nsec(),
                meta.ctime(),
                meta.ctime_nsec(),
            )))
        }
        #[cfg(not(unix))]
        {
            let _ = meta;
            Stamp(None)
        }
    }

    /// The stamp of a file to keep a key of: `None` where there are no inode numbers, or when
    /// the file was modified less than [`SETTLED`] ago (or in the future).
    fn to_keep(meta: &fs::Metadata) -> Option<Stamp> {
        let stamp = Stamp::of(meta);
        let settled = meta
            .modified()
            .ok()
            .and_then(|modified| SystemTime::now().duration_since(modified).ok())
            .is_some_and(|age| age >= SETTLED);
        (stamp.0.is_some() && settled).then_some(stamp)
    }
}

/// A key file's contents.
#[derive(Serialize, Deserialize)]
struct KeyFile {
    subject: String,
    key: String,
    nonce: String,
    sealed: String,
}

/// The check file's contents.
#[derive(Serialize, Deserialize)]
struct CheckFile {
    nonce: String,
    check: String,
}

impl FolderKeyStore {
    /// Opens the key store in `folder` (made, with its check file, when it does not exist).
    ///
    /// # Errors
    /// [`Error::Keys`] naming `keys.check` when `master` is not the key the folder was made
    /// with, or the file is damaged; I/O errors.
    pub fn open(folder: impl AsRef<Path>, master: MasterKey) -> Result<FolderKeyStore> {
        let folder = crate::storage::local::absolute(folder.as_ref().to_path_buf());
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        // The folder of the keys is its owner's only.
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(&folder)
            .map_err(|e| Error::io("create the key folder", &folder, e))?;
        let store = FolderKeyStore {
            folder,
            master,
            sealing: Mutex::default(),
        };
        let check = store.folder.join(CHECK_FILE);
        match read_regular(&check)? {
            Some((bytes, _)) => {
                let wrong = || {
                    Error::Keys {
                    location: check.display().to_string(),
                    problem: "does not open with this master key: it is not the master key this key store was made with (or the file was changed)".to_owned(),
                }
                };
                let file: CheckFile = serde_json::from_slice(&bytes).map_err(|_| wrong())?;
                let nonce = BASE64.decode(file.nonce).map_err(|_| wrong())?;
                let sealed = BASE64.decode(file.check).map_err(|_| wrong())?;
                let plain = decrypt(store.master.bytes(), CHECK_FILE.as_bytes(), &nonce, &sealed)
                    .ok_or_else(wrong)?;
                if plain.as_slice() != CHECK_TEXT {
                    return Err(wrong());
                }
            }
            None => {
                let (nonce, sealed) =
                    encrypt(store.master.bytes(), CHECK_FILE.as_bytes(), CHECK_TEXT)?;
                let file = CheckFile {
                    nonce: BASE64.encode(nonce),
                    check: BASE64.encode(sealed),
                };
                // Another process making it at the same moment made the same kind of file: if
                // with another master key, the next open tells.
                store.write_new(&check, &serde_json::to_vec(&file).unwrap_or_default())?;
            }
        }
        Ok(store)
    }

    /// The folder.
    pub fn folder(&self) -> &Path {
        &self.folder
    }

    fn path_of(&self, subject: &str) -> PathBuf {
        let mut name = String::with_capacity(subject.len() * 2 + KEY_SUFFIX.len());
        for byte in subject.bytes() {
            name.push_str(&format!("{byte:02x}"));
        }
        name.push_str(KEY_SUFFIX);
        self.folder.join(name)
    }

    fn read_key(&self, subject: &str, path: &Path) -> Result<Option<SubjectKey>> {
        Ok(self.read_stamped_key(subject, path)?.map(|(key, _)| key))
    }

    /// As [`read_key`](Self::read_key), with the stamp of the file the key was read from.
    fn read_stamped_key(
        &self,
        subject: &str,
        path: &Path,
    ) -> Result<Option<(SubjectKey, Option<Stamp>)>> {
        let Some((bytes, meta)) = read_regular(path)? else {
            return Ok(None);
        };
        let stamp = Stamp::to_keep(&meta);
        let damaged = |why: &str| {
            Error::Keys {
            location: path.display().to_string(),
            problem: format!("{why}: a wrong master key, or the file was changed; restore it from a backup, or forget the subject"),
        }
        };
        let file: KeyFile =
            serde_json::from_slice(&bytes).map_err(|_| damaged("is not a key file"))?;
        let id = KeyId::from_hex(&file.key).ok_or_else(|| damaged("has no key id"))?;
        if file.subject != subject {
            return Err(damaged("names another subject"));
        }
        let nonce = BASE64
            .decode(file.nonce)
            .map_err(|_| damaged("has no nonce"))?;
        let sealed = BASE64
            .decode(file.sealed)
            .map_err(|_| damaged("has no key"))?;
        let plain = decrypt(
            self.master.bytes(),
            &key_bound(subject, id),
            &nonce,
            &sealed,
        )
        .ok_or_else(|| damaged("does not open with the master key"))?;
        let bytes: [u8; KEY_BYTES] = plain
            .as_slice()
            .try_into()
            .map_err(|_| damaged("holds a key of the wrong length"))?;
        Ok(Some((SubjectKey::from_parts(id, bytes), stamp)))
    }

    fn sealing(
        &self,
    ) -> MutexGuard<'_, HashMap<String, (Stamp, SubjectKey), foldhash::fast::RandomState>> {
        self.sealing.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The key handed out before to seal `subject`'s data with, while its file at `path` is
    /// still the file it was read from (one look at the file's metadata, without following a
    /// link). Otherwise the key is dropped from memory and `None` returned.
    fn sealing_key(&self, subject: &str, path: &Path) -> Option<SubjectKey> {
        let mut sealing = self.sealing();
        let (stamp, key) = sealing.get(subject)?;
        let same = fs::symlink_metadata(path)
            .is_ok_and(|meta| meta.is_file() && Stamp::of(&meta) == *stamp);
        if same {
            Some(key.clone())
        } else {
            sealing.remove(subject);
            None
        }
    }

    /// Keeps `key`, read from a file of `stamp` (`None`: not to be kept), to seal `subject`'s
    /// data with.
    fn keep_sealing_key(&self, subject: &str, stamp: Option<Stamp>, key: &SubjectKey) {
        if let Some(stamp) = stamp {
            self.sealing()
                .insert(subject.to_owned(), (stamp, key.clone()));
        }
    }

    /// Writes `bytes` to `path` whole and durably, unless `path` exists (then nothing):
    /// `true` when this call made it.
    fn write_new(&self, path: &Path, bytes: &[u8]) -> Result<bool> {
        let suffix: [u8; 8] = random_bytes()?;
        let temp = self
            .folder
            .join(format!("{TEMP_PREFIX}{}", u64::from_le_bytes(suffix)));
        let written = (|| {
            let mut options = OpenOptions::new();
            options.write(true).create_new(true);
            // Wrapped keys are for the owner's eyes only.
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(&temp)?;
            file.write_all(bytes)?;
            file.sync_all()
        })();
        if let Err(e) = written {
            let _ = fs::remove_file(&temp);
            return Err(Error::io("write the key file", &temp, e));
        }
        let linked = fs::hard_link(&temp, path);
        let _ = fs::remove_file(&temp);
        match linked {
            Ok(()) => {
                self.sync_folder()?;
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(Error::io("create the key file", path, e)),
        }
    }

    /// The temporary files of the folder that hold a key of `subject`.
    fn leftovers_of(&self, subject: &str) -> Result<Vec<PathBuf>> {
        let entries = fs::read_dir(&self.folder).map_err(|e| Error::io("list", &self.folder, e))?;
        let mut found = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("list", &self.folder, e))?;
            if !entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
                continue;
            }
            let path = entry.path();
            // Unreadable or foreign: not a key of this subject's that foldstore wrote.
            let Ok(Some((bytes, _))) = read_regular(&path) else {
                continue;
            };
            if serde_json::from_slice::<KeyFile>(&bytes).is_ok_and(|file| file.subject == subject) {
                found.push(path);
            }
        }
        Ok(found)
    }

    fn sync_folder(&self) -> Result<()> {
        #[cfg(unix)]
        File::open(&self.folder)
            .and_then(|folder| folder.sync_all())
            .map_err(|e| Error::io("sync the key folder", &self.folder, e))?;
        Ok(())
    }
}

/// Reads a regular file of at most [`MAX_FILE_BYTES`]: `None` when there is none; an error for
/// a symbolic link, a FIFO or anything else than a file (opened without following a link and
/// without waiting, so nothing swapped in after a look is followed either), and for a larger
/// file (read no further than the limit, even while it grows).
pub(super) fn read_regular(path: &Path) -> Result<Option<(Vec<u8>, fs::Metadata)>> {
    let not_key = |problem: String| Error::Keys {
        location: path.display().to_string(),
        problem,
    };
    let (file, meta) = match open_regular(path, OpenOptions::new().read(true)) {
        Ok(opened) => opened,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        // A link, a FIFO, a folder (`open_regular` says which).
        Err(e) if e.kind() == io::ErrorKind::InvalidData => {
            return Err(not_key(format!(
                "is not a regular file (a key store follows no symbolic link): move it away ({e})"
            )))
        }
        Err(e) => return Err(Error::io("read", path, e)),
    };
    let too_large = |size: u64| {
        not_key(format!(
            "holds {size} bytes, and a key store's files hold less than {MAX_FILE_BYTES}: it is not a key file; move it away"
        ))
    };
    if meta.len() > MAX_FILE_BYTES {
        return Err(too_large(meta.len()));
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io("read", path, e))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(Some((bytes, meta)))
}

/// The subject a key file's name stands for.
fn subject_of(name: &str) -> Option<String> {
    let hex = name.strip_suffix(KEY_SUFFIX)?;
    if hex.is_empty() || hex.len() % 2 != 0 || !hex.is_ascii() {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
        .collect();
    String::from_utf8(bytes?).ok()
}

impl KeyStore for FolderKeyStore {
    fn key_for(&self, subject: &str) -> Result<SubjectKey> {
        check_subject(subject, &|| self.location())?;
        let path = self.path_of(subject);
        // A key read before is handed out again while its file is the same file: a key file
        // is never changed, and a forgotten subject's next key is a new file.
        if let Some(key) = self.sealing_key(subject, &path) {
            return Ok(key);
        }
        if let Some((key, stamp)) = self.read_stamped_key(subject, &path)? {
            // Another writer's new key (or this process's, whose folder sync failed) may not
            // be durable yet: nothing is sealed with a key whose file a power loss can take.
            // Once a process: the key is kept from here on.
            self.sync_folder()?;
            self.keep_sealing_key(subject, stamp, &key);
            return Ok(key);
        }
        let key = SubjectKey::generate()?;
        let (nonce, sealed) = encrypt(
            self.master.bytes(),
            &key_bound(subject, key.id()),
            key.bytes(),
        )?;
        let file = KeyFile {
            subject: subject.to_owned(),
            key: key.id().to_hex(),
            nonce: BASE64.encode(nonce),
            sealed: BASE64.encode(sealed),
        };
        let bytes = serde_json::to_vec(&file).unwrap_or_default();
        if self.write_new(&path, &bytes)? {
            // Not kept yet: the next call reads it back, with its file's stamp.
            return Ok(key);
        }
        // Another writer made it first: theirs is the key, once its name is durable.
        let theirs = self.read_key(subject, &path)?.ok_or_else(|| Error::Keys {
            location: path.display().to_string(),
            problem: "was made by another writer and removed at once: write again".to_owned(),
        })?;
        self.sync_folder()?;
        Ok(theirs)
    }

    fn get(&self, subject: &str) -> Result<Option<SubjectKey>> {
        if check_subject(subject, &|| self.location()).is_err() {
            return Ok(None);
        }
        self.read_key(subject, &self.path_of(subject))
    }

    fn forget(&self, subject: &str) -> Result<bool> {
        check_subject(subject, &|| self.location())?;
        self.sealing().remove(subject);
        let path = self.path_of(subject);
        let removed = match fs::remove_file(&path) {
            Ok(()) => true,
            Err(e) if e.kind() == io::ErrorKind::NotFound => false,
            Err(e) => return Err(Error::io("remove the key file", &path, e)),
        };
        // A crash between writing a new key's temporary file and removing it (once linked)
        // leaves a copy of the key: gone with the subject too.
        let leftovers = self.leftovers_of(subject)?;
        for leftover in &leftovers {
            fs::remove_file(leftover).map_err(|e| Error::io("remove the key file", leftover, e))?;
        }
        // Always: a removal whose sync failed before (and was reported so) is made durable by
        // the call that finds the file gone, before it says the subject is forgotten.
        self.sync_folder()?;
        Ok(removed)
    }

    fn subjects(&self) -> Result<Vec<String>> {
        let entries = fs::read_dir(&self.folder).map_err(|e| Error::io("list", &self.folder, e))?;
        let mut subjects = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("list", &self.folder, e))?;
            if let Some(subject) = entry.file_name().to_str().and_then(subject_of) {
                subjects.push(subject);
            }
        }
        subjects.sort();
        Ok(subjects)
    }

    fn location(&self) -> String {
        self.folder.display().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forgetting_removes_a_copy_of_the_key_a_crash_left_behind() {
        let dir = tempfile::tempdir().unwrap();
        let keys = FolderKeyStore::open(dir.path(), MasterKey::generate().unwrap()).unwrap();
        keys.key_for("member:peter pan").unwrap();
        keys.key_for("member:wendy").unwrap();
        // What a crash between linking a new key file and removing its temporary name leaves.
        let peter = keys.path_of("member:peter pan");
        let leftover = dir.path().join(format!("{TEMP_PREFIX}12345"));
        fs::copy(&peter, &leftover).unwrap();
        let wendys = dir.path().join(format!("{TEMP_PREFIX}67890"));
        fs::copy(keys.path_of("member:wendy"), &wendys).unwrap();
        assert!(keys.forget("member:peter pan").unwrap());
        assert!(!peter.exists());
        assert!(!leftover.exists(), "the copy of the forgotten key is gone");
        assert!(wendys.exists(), "another subject's is not touched");
    }

    #[test]
    fn a_key_kept_for_sealing_is_dropped_once_another_process_forgets_its_subject() {
        let dir = tempfile::tempdir().unwrap();
        let master = MasterKey::generate().unwrap();
        let mine = FolderKeyStore::open(dir.path(), master.clone()).unwrap();
        let theirs = FolderKeyStore::open(dir.path(), master).unwrap();
        let subject = "member:peter pan";
        let first = mine.key_for(subject).unwrap();
        assert_eq!(mine.key_for(subject).unwrap().id(), first.id());
        assert!(
            !mine.sealing().contains_key(subject),
            "a key made just now is not kept"
        );
        // A key file made a while ago (its times set back).
        fs::File::options()
            .write(true)
            .open(mine.path_of(subject))
            .unwrap()
            .set_modified(SystemTime::now() - 10 * SETTLED)
            .unwrap();
        assert_eq!(mine.key_for(subject).unwrap().id(), first.id());
        assert!(mine.sealing().contains_key(subject), "the key is kept");
        assert_eq!(mine.key_for(subject).unwrap().id(), first.id());

        // Forgotten by another process, which then seals with a new key (whose file may get
        // the inode number of the old one).
        assert!(theirs.forget(subject).unwrap());
        let next = theirs.key_for(subject).unwrap();
        assert_ne!(next.id(), first.id());
        assert_eq!(mine.key_for(subject).unwrap().id(), next.id());

        // Forgotten again, with no key made since: this one makes a new key, not the old one.
        assert!(theirs.forget(subject).unwrap());
        let made = mine.key_for(subject).unwrap();
        assert_ne!(made.id(), next.id());
        assert_eq!(theirs.get(subject).unwrap().unwrap().id(), made.id());

        // Forgotten here: dropped from memory at once.
        assert!(mine.forget(subject).unwrap());
        assert!(!mine.sealing().contains_key(subject));
    }

    #[test]
    fn a_wrong_master_key_is_told_naming_the_check_file() {
        let dir = tempfile::tempdir().unwrap();
        FolderKeyStore::open(dir.path(), MasterKey::generate().unwrap()).unwrap();
        let error = FolderKeyStore::open(dir.path(), MasterKey::generate().unwrap()).unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains("keys.check") && text.contains("master key"),
            "{text}"
        );
    }

    #[test]
    fn a_key_file_under_a_wrong_master_key_is_told_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let keys = FolderKeyStore::open(dir.path(), MasterKey::generate().unwrap()).unwrap();
        keys.key_for("member:wendy").unwrap();
        // Another master key, and a check file made with it.
        fs::remove_file(dir.path().join(CHECK_FILE)).unwrap();
        let other = FolderKeyStore::open(dir.path(), MasterKey::generate().unwrap()).unwrap();
        let text = other.get("member:wendy").unwrap_err().to_string();
        assert!(
            text.contains(".key") && text.contains("master key"),
            "{text}"
        );
    }

    #[test]
    fn two_writers_of_a_new_subject_get_one_key() {
        let dir = tempfile::tempdir().unwrap();
        let master = MasterKey::generate().unwrap();
        let a = FolderKeyStore::open(dir.path(), master.clone()).unwrap();
        let b = FolderKeyStore::open(dir.path(), master).unwrap();
        let ids: Vec<KeyId> = std::thread::scope(|s| {
            let one = s.spawn(|| a.key_for("member:tinker bell").unwrap().id());
            let two = s.spawn(|| b.key_for("member:tinker bell").unwrap().id());
            vec![one.join().unwrap(), two.join().unwrap()]
        });
        assert_eq!(ids[0], ids[1]);
        assert_eq!(a.subjects().unwrap(), ["member:tinker bell"]);
    }

    #[test]
    fn hostile_subjects_are_refused_or_not_found_without_panicking() {
        let dir = tempfile::tempdir().unwrap();
        let keys = FolderKeyStore::open(dir.path(), MasterKey::generate().unwrap()).unwrap();
        let huge = "x".repeat(1 << 20);
        assert!(keys.key_for(&huge).is_err());
        assert!(keys.get(&huge).unwrap().is_none());
        assert!(keys.key_for("").is_err());
        for odd in ["../../etc/passwd", "a/b", "\u{0}\u{7}", "member:\u{202e}"] {
            let key = keys.key_for(odd).unwrap();
            assert_eq!(keys.get(odd).unwrap().unwrap().id(), key.id());
        }
        let mut listed = keys.subjects().unwrap();
        listed.sort();
        assert_eq!(listed.len(), 4);
        // A file that is not a key store's is refused unread, naming it.
        let big = keys.path_of("member:big");
        fs::File::create(&big)
            .unwrap()
            .set_len(MAX_FILE_BYTES + 1)
            .unwrap();
        let text = keys.get("member:big").unwrap_err().to_string();
        assert!(text.contains(&big.display().to_string()), "{text}");
        fs::remove_file(&big).unwrap();
        // Nothing was written outside the folder.
        assert!(fs::read_dir(dir.path()).unwrap().all(|e| e
            .unwrap()
            .file_type()
            .unwrap()
            .is_file()));
    }
}
