//! The hostile-environment suite: every kind of file a store could meet under each name it
//! reads (commit `k.log`, snapshot `k.m-snapshot`, the journal's marker, segments and lock, and
//! the store's folder itself), and names at the edges of the commit numbers, under every verb.
//!
//! Each case is a copy of a small store with one hostile entry put in place: a symbolic link
//! (to a file inside the store, outside it, to itself, to nothing), a FIFO, a socket, a folder,
//! an empty file, a huge sparse file, an unreadable file, a modification time in the future or
//! the far past. Every verb runs on it under a watchdog, and must:
//! - return in bounded time (the watchdog kills it and fails the case otherwise);
//! - not panic (exit status 101, or "panicked" on standard error);
//! - name the hostile file in its message whenever it fails (and `verify` must name it unless
//!   it is a sound commit);
//! - leave files outside the store unchanged (a symbolic link's target above all), and the
//!   store's other files too, except what `append` legitimately adds (a commit reachable from
//!   commit 1) and what `repair` moves into the quarantine.
//!
//! Tests run as root are told apart: permissions do not stop root's reads, so the unreadable
//! cases are skipped there, with a message.
//!
//! The watchdog allows 30 s per command (`HOSTILE_WATCHDOG_SECS` sets another bound). Each test
//! prints its figures (cases run and skipped) on standard error, and lists every failing case
//! before it fails.

mod util;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::hash::{Hash, Hasher};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

use util::{foldstore, TestDir};

/// How long one command may take before it counts as hung: far more than any of them needs.
fn watchdog() -> Duration {
    let seconds = std::env::var("HOSTILE_WATCHDOG_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    Duration::from_secs(seconds)
}

/// What a bounded run of `foldstore` did.
struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs `foldstore` with `args`; kills it and fails when it outlives the watchdog.
fn run_bounded(args: &[OsString], what: &str) -> Ran {
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
fn reads_ignore_permissions(dir: &Path) -> bool {
    let probe = dir.join("permission-probe");
    fs::write(&probe, "x").expect("write the probe");
    fs::set_permissions(&probe, fs::Permissions::from_mode(0o000)).expect("chmod the probe");
    let readable = fs::File::open(&probe).is_ok();
    let _ = fs::remove_file(&probe);
    readable
}

/// The kinds of hostile entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Hostile {
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
const ALL: [Hostile; 12] = [
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
    fn sound(self, place: Place) -> bool {
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

const YEAR: Duration = Duration::from_secs(365 * 24 * 3600);

/// Puts a hostile entry of `kind` at `path`, replacing what is there. `sound` is a file whose
/// bytes are a sound entry for that name (for the time cases); `outside` a file outside the
/// store. Returns a listener to keep open (for the socket), or `Err(why)` to skip the case.
fn plant(
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
fn tree(root: &Path) -> BTreeMap<String, String> {
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
fn copy_tree(from: &Path, to: &Path) {
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

/// The verbs, as arguments after the store (`{n}` is the case's commit number), and whether
/// they may change the store.
const VERBS: [(&str, &[&str]); 10] = [
    ("events", &[]),
    ("verify", &[]),
    ("log", &[]),
    ("stats", &[]),
    ("show", &["{n}"]),
    ("tail", &["-n", "2"]),
    ("snapshots", &[]),
    ("repair", &[]),
    ("copy", &["{copy}"]),
    ("append", &["hostile-test", "{\"k\": 1}"]),
];

/// The source stores, made once per test process.
struct Sources {
    _dir: TestDir,
    loose: PathBuf,
    journal: PathBuf,
    root: bool,
}

fn sources() -> &'static Sources {
    static SOURCES: OnceLock<Sources> = OnceLock::new();
    SOURCES.get_or_init(|| {
        let dir = TestDir::new();
        // Loose: commits 1 to 3 and a snapshot at 2.
        let loose = dir.join("loose");
        let demo = run_bounded(&["demo".into(), loose.clone().into()], "demo");
        assert_eq!(demo.code, Some(0), "{}", demo.stderr);
        assert_eq!(util::append(&loose, &["third"]), 3);
        assert!(loose.join("2.memberlist-snapshot").exists());
        // Journal: commits 1 to 3 in one segment, and a snapshot at 2.
        let journal = dir.join("journal");
        for (n, name) in ["first", "second", "third"].iter().enumerate() {
            let mut args = vec!["append".into(), journal.clone().into_os_string()];
            if n == 0 {
                args.extend(["--layout".into(), "journal".into()]);
            }
            args.push(name.into());
            let ran = run_bounded(&args, "journal append");
            assert_eq!(ran.code, Some(0), "{}", ran.stderr);
        }
        fs::copy(
            loose.join("2.memberlist-snapshot"),
            journal.join("2.memberlist-snapshot"),
        )
        .expect("a journal snapshot");
        let root = reads_ignore_permissions(&dir.join(""));
        if root {
            eprintln!("hostile: running as root: the unreadable-file cases are skipped (permissions do not stop root's reads)");
        }
        Sources {
            _dir: dir,
            loose,
            journal,
            root,
        }
    })
}

/// Where a hostile entry goes.
#[derive(Clone, Copy, Debug)]
enum Place {
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

/// What one test counted, and the failures it found.
#[derive(Default)]
struct Count {
    ran: u64,
    skipped: u64,
    failures: Vec<String>,
    /// The failures in short: kind -> the verbs that failed with it.
    failed_kinds: BTreeMap<String, Vec<&'static str>>,
}

/// Runs every verb on a copy of `source` with `kind` planted at `place`, and checks each run.
fn case(source: &Path, journal: bool, place: Place, kind: Hostile, count: &mut Count) {
    let sources = sources();
    for (verb, extra) in VERBS {
        let dir = TestDir::new();
        let case_root = dir.join("case");
        let store = case_root.join("store");
        let outside = case_root.join("outside").join("target.log");
        copy_tree(source, &store);
        fs::create_dir_all(outside.parent().expect("a parent")).expect("outside folder");
        fs::copy(source.join("1.log"), &outside)
            .or_else(|_| fs::write(&outside, b"{\"headers\":{},\"events\":[]}").map(|()| 0))
            .expect("the outside file");
        let sound = match place {
            Place::Entry { relative, .. } => fs::read(store.join(relative))
                .or_else(|_| fs::read(store.join("3.log")))
                .unwrap_or_else(|_| b"{\"headers\":{},\"events\":[{\"name\":\"x\"}]}".to_vec()),
            Place::Store => Vec::new(),
        };
        // The store's folder as the user names it: the hostile entry itself for Place::Store
        // (a symbolic link there points to the real store).
        let (store_arg, target, n) = match place {
            Place::Entry { relative, n, .. } => (store.clone(), store.join(relative), n),
            Place::Store => {
                let named = case_root.join("named");
                (named.clone(), named, 2)
            }
        };
        let planted = match (place, kind) {
            (Place::Store, Hostile::SymlinkInside | Hostile::SymlinkOutside) => {
                // A symbolic link to a store serves as that store's folder.
                std::os::unix::fs::symlink(&store, &target).expect("symlink the store");
                Ok(None)
            }
            (Place::Store, Hostile::MtimeFuture | Hostile::MtimePast) => {
                std::os::unix::fs::symlink(&store, &target).expect("symlink the store");
                let time = if kind == Hostile::MtimePast {
                    SystemTime::UNIX_EPOCH + Duration::from_secs(1)
                } else {
                    SystemTime::now() + YEAR
                };
                fs::File::open(&store)
                    .and_then(|f| f.set_modified(time))
                    .expect("set the folder's time");
                Ok(None)
            }
            _ => plant(kind, &target, &sound, &outside, sources.root),
        };
        let _listener = match planted {
            Ok(listener) => listener,
            Err(why) => {
                if verb == "events" {
                    eprintln!("hostile: skipped {kind:?} at {place:?}: {why}");
                }
                count.skipped += 1;
                continue;
            }
        };
        let copy = case_root.join("copy");
        let args: Vec<OsString> = std::iter::once(OsString::from(verb))
            .chain(std::iter::once(store_arg.clone().into_os_string()))
            .chain(extra.iter().map(|a| match *a {
                "{n}" => OsString::from(n.to_string()),
                "{copy}" => copy.clone().into_os_string(),
                other => OsString::from(other),
            }))
            .collect();
        let what = format!(
            "{} {verb}, {kind:?} at {place:?}",
            if journal { "journal" } else { "loose" }
        );
        count.ran += 1;
        let checked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            check_run(&args, &what, &case_root, verb, journal, place, kind);
        }));
        if let Err(panic) = checked {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            let first = message.lines().next().unwrap_or_default().to_owned();
            count.failures.push(format!("{what}: {first}"));
            count
                .failed_kinds
                .entry(format!("{kind:?}"))
                .or_default()
                .push(verb);
        }
    }
}

/// Runs one verb on one case and checks what it did (panics on a failure).
fn check_run(
    args: &[OsString],
    what: &str,
    case_root: &Path,
    verb: &str,
    journal: bool,
    place: Place,
    kind: Hostile,
) {
    let mention = match place {
        Place::Entry { mention, .. } => mention,
        Place::Store => "named",
    };
    {
        let before = tree(case_root);
        let ran = run_bounded(args, what);
        let after = tree(case_root);
        let said = format!("{}{}", ran.stdout, ran.stderr);
        let shown = format!(
            "{what}: exit {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            ran.code, ran.stdout, ran.stderr
        );
        assert_ne!(ran.code, Some(101), "{shown}");
        assert!(ran.code.is_some(), "killed by a signal: {shown}");
        assert!(!ran.stderr.contains("panicked"), "{shown}");
        // A journal whose commits are all gone (its first segment emptied, its segment folder
        // replaced by an empty one) is an empty log to readers, as in the loose layout: the
        // verbs that fail do so on the snapshot labelled beyond its end, and name that, or say
        // that the log ends at commit 0 (verify names the journal too, below).
        let emptied = journal
            && matches!(
                (place, kind),
                (
                    Place::Entry {
                        relative: "journal/00000000000000000001.jsonl",
                        ..
                    },
                    Hostile::Empty
                ) | (
                    Place::Entry {
                        relative: "journal",
                        ..
                    },
                    Hostile::Folder
                )
            );
        if ran.code != Some(0) && !kind.sound(place) {
            assert!(
                said.contains(mention)
                    || (emptied
                        && (said.contains("-snapshot")
                            || said.contains("the log ends at commit 0"))),
                "the message does not name {mention}: {shown}"
            );
        }
        // Only writers open the journal's lock: verify need not look at it.
        if verb == "verify" && !kind.sound(place) && mention != "journal.lock" {
            assert!(
                said.contains(mention),
                "verify does not name {mention}: {shown}"
            );
        }
        check_changes(
            &before, &after, verb, &ran, journal, place, kind, case_root, &shown,
        );
    }
}

/// Checks that the run changed nothing but what its verb may change.
#[allow(clippy::too_many_arguments)]
fn check_changes(
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
    verb: &str,
    ran: &Ran,
    journal: bool,
    place: Place,
    kind: Hostile,
    case_root: &Path,
    shown: &str,
) {
    // The folder the store's files are in: the store named by a plain folder is that folder.
    let store_rel = match (place, kind) {
        (Place::Store, Hostile::Folder) => "named",
        _ => "store",
    };
    let store = case_root.join(store_rel);
    let journal = journal && before.contains_key(&format!("{store_rel}/foldstore-journal.json"));
    let mut before = before.clone();
    let mut after = after.clone();
    // What copy made is its product.
    after.retain(|path, _| !path.starts_with("copy"));
    // No temporary file is left behind by anyone.
    assert!(
        !after.keys().any(|p| p.contains(".foldstore-tmp-")),
        "a temporary file was left: {shown}\n{after:#?}"
    );
    let hostile = match place {
        Place::Entry { relative, .. } => format!("store/{relative}"),
        Place::Store => "named".to_owned(),
    };
    if verb == "repair" {
        // Repair may move the hostile entry (a damaged commit) into the quarantine.
        if !after.contains_key(&hostile) {
            before.remove(&hostile);
        }
        after.retain(|path, _| !path.contains("foldstore-quarantine"));
        before.retain(|path, _| !path.contains("foldstore-quarantine"));
    }
    if verb == "append" && ran.code == Some(0) {
        let number: u64 = ran
            .stdout
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("append printed no number: {shown}"));
        if journal {
            // At most the next commit: the source journal holds 3.
            assert!(
                number <= 4,
                "append acknowledged commit {number}, which readers cannot reach: {shown}"
            );
            // The journal's segments and lock change, and what a torn tail is cut into the
            // quarantine. The hostile entry does not, unless it is a regular file that the
            // journal may take as its own: a segment (a next segment created empty, or holding
            // bytes the writer cuts off as a torn tail, into the quarantine), or an empty marker
            // (a creation that was interrupted, written whole again).
            let regular = matches!(
                kind,
                Hostile::Empty | Hostile::MtimeFuture | Hostile::MtimePast
            );
            let changes_allowed = |path: &str| {
                path.contains("foldstore-quarantine")
                    || (path == format!("{store_rel}/foldstore-journal.json")
                        && path == hostile
                        && kind == Hostile::Empty)
                    || ((path != hostile || regular)
                        && path.starts_with(&format!("{store_rel}/journal/"))
                        && (path.ends_with(".jsonl") || path.ends_with("journal.lock")))
            };
            before.retain(|path, _| !changes_allowed(path));
            after.retain(|path, _| !changes_allowed(path));
        } else {
            // One new commit file, reachable from commit 1: every number below it is there.
            let new = format!("{store_rel}/{number}.log");
            assert!(
                after.contains_key(&new) && !before.contains_key(&new),
                "append did not add {new}: {shown}"
            );
            for below in 1..number {
                assert!(
                    store.join(format!("{below}.log")).exists()
                        || fs::symlink_metadata(store.join(format!("{below}.log"))).is_ok(),
                    "append acknowledged {number}, but commit {below} is absent: {shown}"
                );
            }
            after.remove(&new);
        }
    }
    assert_eq!(before, after, "{shown}");
}

fn loose_entries() -> Vec<Place> {
    vec![
        Place::Entry {
            relative: "2.log",
            n: 2,
            mention: "2.log",
        },
        Place::Entry {
            relative: "3.log",
            n: 3,
            mention: "3.log",
        },
        Place::Entry {
            relative: "4.log",
            n: 4,
            mention: "4.log",
        },
        Place::Entry {
            relative: "2.memberlist-snapshot",
            n: 2,
            mention: "2.memberlist-snapshot",
        },
    ]
}

/// Prints the figures, and fails with every failure found.
fn report(what: &str, count: &Count) {
    eprintln!(
        "hostile: {what}: {} cases run ({} skipped), {} failed",
        count.ran,
        count.skipped,
        count.failures.len()
    );
    for (kind, verbs) in &count.failed_kinds {
        eprintln!("hostile: {what}: {kind} fails {}", verbs.join(" "));
    }
    assert!(
        count.failures.is_empty(),
        "{what}: {} failure(s):\n{}",
        count.failures.len(),
        count.failures.join("\n")
    );
}

#[test]
fn loose_commit_names_hold_every_kind_of_hostile_entry() {
    let mut count = Count::default();
    for place in &loose_entries()[..2] {
        for kind in ALL {
            case(&sources().loose, false, *place, kind, &mut count);
        }
    }
    report("loose, commits 2 and 3", &count);
}

#[test]
fn loose_next_commit_and_snapshot_names_hold_every_kind_of_hostile_entry() {
    let mut count = Count::default();
    for place in &loose_entries()[2..] {
        for kind in ALL {
            case(&sources().loose, false, *place, kind, &mut count);
        }
    }
    report("loose, commit 4 and a snapshot", &count);
}

#[test]
fn loose_names_at_the_edges_of_the_commit_numbers() {
    let mut count = Count::default();
    for (relative, mention) in [
        ("18446744073709551615.log", "18446744073709551615"),
        ("18446744073709551616.log", "18446744073709551616"),
        ("17179869184.log", "17179869184"),
        ("9007199254740993.log", "9007199254740993"),
        ("9007199254740991.log", "9007199254740991"),
    ] {
        let place = Place::Entry {
            relative,
            n: 3,
            mention,
        };
        // A sound commit under the name.
        case(
            &sources().loose,
            false,
            place,
            Hostile::MtimePast,
            &mut count,
        );
        // Emptiness under it.
        case(&sources().loose, false, place, Hostile::Empty, &mut count);
    }
    report("loose, names at the edges of the commit numbers", &count);
}

#[test]
fn loose_store_folder_is_every_kind_of_hostile_entry() {
    let mut count = Count::default();
    for kind in ALL {
        case(&sources().loose, false, Place::Store, kind, &mut count);
    }
    report("loose, the store's folder", &count);
}

/// Finding 3 of issue 13: an empty (or partial) last commit whose modification time is in the
/// future made readers wait until that time.
#[test]
fn loose_an_empty_commit_dated_in_the_future_holds_no_reader() {
    let mut count = Count::default();
    for place in &loose_entries()[1..3] {
        case(
            &sources().loose,
            false,
            *place,
            Hostile::EmptyMtimeFuture,
            &mut count,
        );
    }
    report("loose, an empty commit dated ahead", &count);
}

/// The journal's names, each in its own test (so that each can wait for the lead's fixes on
/// its own).
fn journal_case(relative: &'static str, mention: &'static str, kinds: &[Hostile]) -> Count {
    let mut count = Count::default();
    let place = Place::Entry {
        relative,
        n: 2,
        mention,
    };
    for kind in kinds {
        case(&sources().journal, true, place, *kind, &mut count);
    }
    report(&format!("journal, {relative}"), &count);
    count
}

#[test]
fn journal_marker_holds_every_kind_of_hostile_entry() {
    journal_case("foldstore-journal.json", "foldstore-journal.json", &ALL);
}

#[test]
fn journal_segment_holds_every_kind_of_hostile_entry() {
    journal_case(
        "journal/00000000000000000001.jsonl",
        "00000000000000000001.jsonl",
        &ALL,
    );
}

#[test]
fn journal_next_segment_holds_every_kind_of_hostile_entry() {
    journal_case(
        "journal/00000000000000000004.jsonl",
        "00000000000000000004.jsonl",
        &ALL,
    );
}

#[test]
fn journal_lock_holds_every_kind_of_hostile_entry() {
    journal_case("journal/journal.lock", "journal.lock", &ALL);
}

/// A folder as the segment folder (without the segments) is lost data more than a hostile
/// entry: beside a snapshot, every verb names it.
#[test]
fn journal_segment_folder_is_every_kind_of_hostile_entry() {
    journal_case("journal", "journal", &ALL);
}

#[test]
fn journal_snapshot_holds_every_kind_of_hostile_entry() {
    journal_case("2.memberlist-snapshot", "2.memberlist-snapshot", &ALL);
}

#[test]
fn journal_store_folder_is_every_kind_of_hostile_entry() {
    let mut count = Count::default();
    for kind in ALL {
        case(&sources().journal, true, Place::Store, kind, &mut count);
    }
    report("journal, the store's folder", &count);
}

#[test]
fn journal_segment_names_at_the_edges_of_the_commit_numbers() {
    for (relative, mention) in [
        (
            "journal/18446744073709551615.jsonl",
            "18446744073709551615.jsonl",
        ),
        (
            "journal/00000000000000001000.jsonl",
            "00000000000000001000.jsonl",
        ),
    ] {
        journal_case(relative, mention, &[Hostile::Empty, Hostile::MtimePast]);
    }
    journal_case(
        "journal/99999999999999999999.jsonl",
        "99999999999999999999.jsonl",
        &[Hostile::Empty, Hostile::MtimePast],
    );
}
