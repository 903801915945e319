//! One case: every verb run on a copy of a source store with one hostile entry planted, and the
//! checks of each run (bounded, no panic, the hostile file named, nothing outside the store
//! changed).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use crate::entries::{
    copy_tree, plant, reads_ignore_permissions, run_bounded, tree, Hostile, Place, Ran, YEAR,
};
use crate::util::TestDir;

/// The verbs, as arguments after the store (`{n}` is the case's commit number), and whether
/// they may change the store.
pub(crate) const VERBS: [(&str, &[&str]); 13] = [
    ("events", &[]),
    ("export", &[]),
    ("gc", &[]),
    ("schema", &[]),
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
pub(crate) struct Sources {
    pub(crate) _dir: TestDir,
    pub(crate) loose: PathBuf,
    pub(crate) journal: PathBuf,
    pub(crate) root: bool,
}

pub(crate) fn sources() -> &'static Sources {
    static SOURCES: OnceLock<Sources> = OnceLock::new();
    SOURCES.get_or_init(|| {
        let dir = TestDir::new();
        // Loose: commits 1 to 3 and a snapshot at 2.
        let loose = dir.join("loose");
        let demo = run_bounded(&["demo".into(), loose.clone().into()], "demo");
        assert_eq!(demo.code, Some(0), "{}", demo.stderr);
        assert_eq!(crate::util::append(&loose, &["third"]), 3);
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

/// What one test counted, and the failures it found.
#[derive(Default)]
pub(crate) struct Count {
    pub(crate) ran: u64,
    pub(crate) skipped: u64,
    pub(crate) failures: Vec<String>,
    /// The failures in short: kind -> the verbs that failed with it.
    pub(crate) failed_kinds: BTreeMap<String, Vec<&'static str>>,
}

/// Runs every verb on a copy of `source` with `kind` planted at `place`, and checks each run.
pub(crate) fn case(source: &Path, journal: bool, place: Place, kind: Hostile, count: &mut Count) {
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
pub(crate) fn check_run(
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
        // Only writers open the journal's locks: verify need not look at them.
        if verb == "verify"
            && !kind.sound(place)
            && mention != "journal.lock"
            && mention != "sync.lock"
        {
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
pub(crate) fn check_changes(
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
            // The journal's segments and locks change, and what a torn tail is cut into the
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
                        && (path.ends_with(".jsonl")
                            || path.ends_with("journal.lock")
                            || path.ends_with("sync.lock")))
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

pub(crate) fn loose_entries() -> Vec<Place> {
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
pub(crate) fn report(what: &str, count: &Count) {
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
