//! The hostile entries and how each is planted, a folder's tree and its copy, and a run of
//! `foldstore` under a watchdog.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::hash::{Hash, Hasher};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use crate::util::foldstore;

/// How long one command may take before it counts as hung: far more than any of them needs.
pub(crate) fn watchdog() -> Duration {
    let seconds = std::env::var("HOSTILE_WATCHDOG_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    Duration::from_secs(seconds)
}

/// What a bounded run of `foldstore` did.
pub(crate) struct Ran {
    pub(crate) code: Option<i32>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

/// Runs `foldstore` with `args`; kills it and fails when it outlives the watchdog.
pub(crate) fn run_bounded(args: &[OsString], what: &str) -> Ran {
    let mut child = foldstore()
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start foldstore");
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let out = std::thread::spawn(move || {
        let mut text = Vec::new();
        let _ = stdout.read_to_end(&mut text);
        text
    });
    let err = std::thread::spawn(move || {
        let mut text = Vec::new();
        let _ = stderr.read_to_end(&mut text);
        text
    });
    let deadline = Instant::now() + watchdog();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for foldstore") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: still running after {:?}: killed", watchdog());
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Ran {
        code: status.code(),
        stdout: String::from_utf8_lossy(&out.join().expect("stdout reader")).into_owned(),
        stderr: String::from_utf8_lossy(&err.join().expect("stderr reader")).into_owned(),
    }
}

/// Whether this process can read files whose permissions forbid it (root can).
pub(crate) fn reads_ignore_permissions(dir: &Path) -> bool {
    let probe = dir.join("permission-probe");
    fs::write(&probe, "x").expect("write the probe");
    fs::set_permissions(&probe, fs::Permissions::from_mode(0o000)).expect("chmod the probe");
    let readable = fs::File::open(&probe).is_ok();
    let _ = fs::remove_file(&probe);
    readable
}

/// The kinds of hostile entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Hostile {
    SymlinkInside,
    SymlinkOutside,
    SymlinkLoop,
    SymlinkDangling,
    Fifo,
    Socket,
    Folder,
    Empty,
    HugeSparse,
    Unreadable,
    /// A sound copy of a commit (or the entry that is there), its modification time a year ahead.
    MtimeFuture,
    /// The same, its modification time in 1970.
    MtimePast,
    /// An empty file whose modification time is a year ahead (a reader must not wait for it).
    EmptyMtimeFuture,
}

/// Every kind but [`Hostile::EmptyMtimeFuture`], which has its own test.
pub(crate) const ALL: [Hostile; 12] = [
    Hostile::SymlinkInside,
    Hostile::SymlinkOutside,
    Hostile::SymlinkLoop,
    Hostile::SymlinkDangling,
    Hostile::Fifo,
    Hostile::Socket,
    Hostile::Folder,
    Hostile::Empty,
    Hostile::HugeSparse,
    Hostile::Unreadable,
    Hostile::MtimeFuture,
    Hostile::MtimePast,
];

impl Hostile {
    /// Whether the entry is a sound one at `place` (only its time is odd, or a store's folder
    /// that is a folder or a symbolic link to one): no message need name it.
    pub(crate) fn sound(self, place: Place) -> bool {
        match place {
            Place::Store => matches!(
                self,
                Hostile::MtimeFuture
                    | Hostile::MtimePast
                    | Hostile::Folder
                    | Hostile::SymlinkInside
                    | Hostile::SymlinkOutside
            ),
            // An empty segment where the next commit (4) belongs is a segment rollover that
            // was interrupted before its first record: sound.
            Place::Entry {
                relative: "journal/00000000000000000004.jsonl",
                ..
            } if self == Hostile::Empty => true,
            Place::Entry { .. } => matches!(self, Hostile::MtimeFuture | Hostile::MtimePast),
        }
    }
}

pub(crate) const YEAR: Duration = Duration::from_secs(365 * 24 * 3600);

/// Puts a hostile entry of `kind` at `path`, replacing what is there. `sound` is a file whose
/// bytes are a sound entry for that name (for the time cases); `outside` a file outside the
/// store. Returns a listener to keep open (for the socket), or `Err(why)` to skip the case.
pub(crate) fn plant(
    kind: Hostile,
    path: &Path,
    sound: &[u8],
    outside: &Path,
    root: bool,
) -> Result<Option<std::os::unix::net::UnixListener>, String> {
    if let Ok(meta) = fs::symlink_metadata(path) {
        if meta.is_dir() {
            fs::remove_dir_all(path).expect("remove the folder");
        } else {
            fs::remove_file(path).expect("remove the entry");
        }
    }
    let file_name = path.file_name().expect("a name").to_owned();
    match kind {
        Hostile::SymlinkInside => {
            // A sibling that exists (the store's commit 1, or the journal's marker).
            let sibling = [
                "1.log",
                "foldstore-journal.json",
                "00000000000000000001.jsonl",
                "2.memberlist-snapshot",
            ]
            .iter()
            .map(|name| path.with_file_name(name))
            .find(|p| p.exists() && p.file_name() != Some(file_name.as_os_str()))
            .unwrap_or_else(|| outside.to_path_buf());
            std::os::unix::fs::symlink(sibling.file_name().expect("a name"), path)
                .expect("symlink inside");
        }
        Hostile::SymlinkOutside => std::os::unix::fs::symlink(outside, path).expect("symlink"),
        Hostile::SymlinkLoop => std::os::unix::fs::symlink(&file_name, path).expect("symlink"),
        Hostile::SymlinkDangling => {
            std::os::unix::fs::symlink(outside.with_file_name("nowhere"), path).expect("symlink")
        }
        Hostile::Fifo => {
            let status = Command::new("mkfifo")
                .arg(path)
                .status()
                .expect("run mkfifo");
            assert!(status.success(), "mkfifo {}", path.display());
        }
        Hostile::Socket => {
            return Ok(Some(
                std::os::unix::net::UnixListener::bind(path).expect("bind a socket"),
            ))
        }
        Hostile::Folder => {
            fs::create_dir(path).expect("create a folder");
            fs::write(path.join("inside"), sound).expect("write into the folder");
        }
        Hostile::Empty => {
            fs::File::create(path).expect("create");
        }
        Hostile::HugeSparse => {
            fs::File::create(path)
                .and_then(|f| f.set_len(8 << 30))
                .expect("a sparse file");
        }
        Hostile::Unreadable => {
            if root {
                return Err("tests run as root, whom permissions do not stop reading".to_owned());
            }
            fs::write(path, sound).expect("write");
            fs::set_permissions(path, fs::Permissions::from_mode(0o000)).expect("chmod 000");
        }
        Hostile::MtimeFuture | Hostile::MtimePast | Hostile::EmptyMtimeFuture => {
            let bytes: &[u8] = if kind == Hostile::EmptyMtimeFuture {
                b""
            } else {
                sound
            };
            fs::write(path, bytes).expect("write");
            let time = if kind == Hostile::MtimePast {
                SystemTime::UNIX_EPOCH + Duration::from_secs(1)
            } else {
                SystemTime::now() + YEAR
            };
            fs::File::options()
                .write(true)
                .open(path)
                .and_then(|f| f.set_modified(time))
                .expect("set the modification time");
        }
    }
    Ok(None)
}

/// A description of every entry under `root` (not following symbolic links, opening no FIFO
/// or socket): regular files by size and a hash of their bytes (large ones by size and time).
pub(crate) fn tree(root: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, folder: &Path, out: &mut BTreeMap<String, String>) {
        let Ok(entries) = fs::read_dir(folder) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let relative = path
                .strip_prefix(root)
                .expect("under the root")
                .display()
                .to_string();
            let Ok(meta) = fs::symlink_metadata(&path) else {
                continue;
            };
            let kind = meta.file_type();
            let description = if kind.is_symlink() {
                format!(
                    "symlink -> {}",
                    fs::read_link(&path).map_or(String::new(), |t| t.display().to_string())
                )
            } else if kind.is_dir() {
                walk(root, &path, out);
                "folder".to_owned()
            } else if kind.is_fifo() {
                "fifo".to_owned()
            } else if kind.is_socket() {
                "socket".to_owned()
            } else if meta.len() > (4 << 20) || meta.permissions().mode() & 0o444 == 0 {
                format!(
                    "file of {} bytes, modified {:?}",
                    meta.len(),
                    meta.modified().ok()
                )
            } else {
                let bytes = fs::read(&path).unwrap_or_default();
                let mut hasher = std::collections::hash_map::DefaultHasher::new();
                bytes.hash(&mut hasher);
                format!(
                    "file of {} bytes, hash {:016x}",
                    bytes.len(),
                    hasher.finish()
                )
            };
            out.insert(relative, description);
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// Copies a folder of folders and regular files.
pub(crate) fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("create the copy");
    for entry in fs::read_dir(from).expect("list") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// Where a hostile entry goes.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Place {
    /// A name inside the store (a path relative to the store's folder), standing for commit `n`
    /// (for `show`); `mention` is what a message about it must contain.
    Entry {
        relative: &'static str,
        n: u64,
        mention: &'static str,
    },
    /// The store's folder itself.
    Store,
}
