//! The journal layout at the edges: files that are not what a journal writes (symbolic links,
//! FIFOs, blank markers, stray segments with hostile names), first appends racing to create a
//! store, and damage inside a segment costing exactly the damaged commits.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use common::{journal_store, numbered};
use foldstore::{Error, Layout, Store};

const SEGMENT_ONE: &str = "00000000000000000001.jsonl";

/// A journal of `commits` commits at `TEMP/store`.
fn written(commits: u64) -> (tempfile::TempDir, PathBuf) {
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join("store");
    let store = journal_store(&path);
    for i in 1..=commits {
        assert_eq!(store.log(&numbered(i)).unwrap(), i);
    }
    (temp, path)
}

/// The tip a store opened at `path` reads (or its error), read on another thread: fails if
/// that takes longer than 20 s (a hang).
fn tip_within(path: &Path) -> Result<u64, String> {
    let reader = path.to_path_buf();
    within(Duration::from_secs(20), move || {
        Store::open(&reader)
            .unwrap()
            .tip()
            .map_err(|e| e.to_string())
    })
}

/// Runs `work` on another thread and fails if it takes longer than `limit` (a hang).
fn within<T: Send + 'static>(limit: Duration, work: impl FnOnce() -> T + Send + 'static) -> T {
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = send.send(work());
    });
    receive
        .recv_timeout(limit)
        .unwrap_or_else(|_| panic!("did not return within {limit:?}: it hangs"))
}

fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo runs");
    assert!(status.success());
}

/// Finding 1: a symbolic link placed as the next segment, pointing outside the store, was taken
/// for a torn tail: the file it points to was copied, cut and overwritten.
#[cfg(unix)]
#[test]
fn a_symbolic_link_as_a_segment_is_refused_and_its_target_untouched() {
    let (temp, path) = written(3);
    let outside = temp.path().join("outside.txt");
    fs::write(&outside, b"not foldstore's to write\n").unwrap();
    // Where the next segment would be, and where the first one is.
    let next = path.join("journal").join("00000000000000000004.jsonl");
    std::os::unix::fs::symlink(&outside, &next).unwrap();
    let store = Store::open(&path).unwrap();
    let appended = store.log(&numbered(4));
    let error = appended.expect_err("a write through a symbolic link");
    assert!(error.to_string().contains("symbolic link"), "{error}");
    let read = Store::open(&path).unwrap().tip();
    assert!(
        read.as_ref()
            .is_err_and(|e| e.to_string().contains("00000000000000000004.jsonl")),
        "{read:?}"
    );
    assert_eq!(fs::read(&outside).unwrap(), b"not foldstore's to write\n");
    assert!(!path.join("foldstore-quarantine").exists());

    // The first segment itself a link: refused, never read.
    let (temp, path) = written(2);
    let segment = path.join("journal").join(SEGMENT_ONE);
    let moved = temp.path().join("moved.jsonl");
    fs::rename(&segment, &moved).unwrap();
    std::os::unix::fs::symlink(&moved, &segment).unwrap();
    let error = Store::open(&path).unwrap().tip().unwrap_err();
    assert!(error.to_string().contains("symbolic link"), "{error}");
    let before = fs::read(&moved).unwrap();
    assert!(Store::open(&path).unwrap().log(&numbered(3)).is_err());
    assert_eq!(fs::read(&moved).unwrap(), before);

    // The segment folder a link: refused.
    let (temp, path) = written(2);
    let elsewhere = temp.path().join("elsewhere");
    fs::rename(path.join("journal"), &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, path.join("journal")).unwrap();
    let error = Store::open(&path).unwrap().log(&numbered(3)).unwrap_err();
    assert!(error.to_string().contains("symbolic link"), "{error}");
}

/// Finding 2: a FIFO as a segment or as the marker hung every reader and writer.
#[cfg(unix)]
#[test]
fn fifos_in_a_journal_are_refused_without_hanging() {
    let (_temp, path) = written(3);
    mkfifo(&path.join("journal").join("00000000000000000004.jsonl"));
    let tip = tip_within(&path);
    assert!(tip.as_ref().is_err_and(|e| e.contains("FIFO")), "{tip:?}");
    let writer = path.clone();
    let appended = within(Duration::from_secs(20), move || {
        Store::open(&writer)
            .unwrap()
            .log(&numbered(4))
            .map_err(|e| e.to_string())
    });
    assert!(
        appended.as_ref().is_err_and(|e| e.contains("FIFO")),
        "{appended:?}"
    );

    let (_temp, path) = written(1);
    fs::remove_file(path.join("foldstore-journal.json")).unwrap();
    mkfifo(&path.join("foldstore-journal.json"));
    let reader = path.clone();
    let tip = within(Duration::from_secs(20), move || {
        Store::open(&reader)
            .and_then(|store| store.tip())
            .map_err(|e| e.to_string())
    });
    assert!(tip.as_ref().is_err_and(|e| e.contains("FIFO")), "{tip:?}");
}

/// Finding 6: a marker left blank (a writer killed between creating and writing it) bricked the
/// store for every verb; concurrent first appends failed reading each other's blank marker.
#[test]
fn a_blank_marker_is_a_journal_not_yet_created_and_first_appends_race_safely() {
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join("store");
    fs::create_dir_all(path.join("journal")).unwrap();
    fs::write(path.join("foldstore-journal.json"), b"").unwrap();
    let store = Store::open(&path).unwrap();
    assert_eq!(store.tip().unwrap(), 0);
    assert_eq!(store.log(&numbered(1)).unwrap(), 1);
    let marker = fs::read_to_string(path.join("foldstore-journal.json")).unwrap();
    assert!(marker.contains("foldstore-journal"), "{marker:?}");
    assert_eq!(Store::open(&path).unwrap().tip().unwrap(), 1);

    // Eight writers, each with its own store (and its own lock handle), make their first
    // appends to a new journal at once: every append lands once.
    let path = temp.path().join("raced");
    fs::create_dir_all(&path).unwrap();
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(8));
    let writers: Vec<_> = (0..8u64)
        .map(|w| {
            let path = path.clone();
            let barrier = std::sync::Arc::clone(&barrier);
            std::thread::spawn(move || {
                let store = Store::builder(&path)
                    .layout(Layout::Journal)
                    .open()
                    .unwrap();
                barrier.wait();
                (0..25u64)
                    .map(|i| store.log(&numbered(w * 100 + i)).map_err(|e| e.to_string()))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut failures = Vec::new();
    for writer in writers {
        failures.extend(writer.join().unwrap().into_iter().filter_map(Result::err));
    }
    assert!(
        failures.is_empty(),
        "{} failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(3)]
    );
    let store = Store::open(&path).unwrap();
    assert_eq!(store.tip().unwrap(), 200);
    let mut seen: Vec<u64> = store
        .commits(..)
        .map(|c| {
            c.unwrap().events()[0].data().unwrap()["i"]
                .as_u64()
                .unwrap()
        })
        .collect();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), 200);
}

/// Finding 7: stray segments with hostile names. An empty `...1000.jsonl` made writers append
/// commits 1000 and 1001 that readers could not reach; an empty segment named u64::MAX made
/// verify panic and writers write commit u64::MAX.
#[test]
fn stray_segments_are_never_appended_after() {
    for stray in ["00000000000000001000.jsonl", "18446744073709551615.jsonl"] {
        let (_temp, path) = written(4);
        fs::write(path.join("journal").join(stray), b"").unwrap();
        let store = Store::open(&path).unwrap();
        assert_eq!(store.tip().unwrap(), 4, "{stray}");
        assert_eq!(store.log(&numbered(5)).unwrap(), 5, "{stray}");
        let reader = Store::open(&path).unwrap();
        assert_eq!(reader.commits(..).count(), 5, "{stray}");
        let report = reader.verify(|_, _| {}).unwrap();
        assert!(report.is_sound(), "{stray}: {report:?}");
        assert_eq!((report.tip, report.sound_commits), (5, 5), "{stray}");
        assert!(
            report.warnings.iter().any(|w| w.location.contains(stray)),
            "{stray}: {report:?}"
        );
    }
}

/// Finding 8: one flipped byte in one record cost the whole journal (verify, copy --force,
/// stats, log). Now it costs exactly that commit: verify lists it alone and checks the others.
#[test]
fn damage_inside_costs_exactly_the_damaged_commit() {
    let (_temp, path) = written(10);
    // Inside the document of commit 5: its checksum no longer matches.
    edit_segment_one(&path, |bytes| {
        let at = find(bytes, b"{\"i\":5}").unwrap() + 5;
        bytes[at] = b'6';
    });
    let store = Store::open(&path).unwrap();
    assert_eq!(store.tip().unwrap(), 10);
    let report = store.verify(|_, _| {}).unwrap();
    assert_eq!(report.problems.len(), 1, "{report:?}");
    assert!(
        report.problems[0].problem.contains("checksum"),
        "{report:?}"
    );
    assert_eq!((report.tip, report.sound_commits), (10, 9), "{report:?}");
    for n in [4, 6, 10] {
        assert!(store.read_commit(n).is_ok(), "commit {n}");
    }
    match store.read_commit(5) {
        Err(Error::CorruptCommit {
            commit: 5,
            location,
            ..
        }) => {
            assert!(location.contains(SEGMENT_ONE), "{location}");
        }
        other => panic!("{other:?}"),
    }
    // The replay stops at the damage, with an error, never quietly.
    let mut seen = 0;
    assert!(store.replay_event_stream(|_, _| seen += 1).is_err());
    assert_eq!(seen, 4);
    // The damaged bytes are there to be carried as they are.
    let raw = store.storage().read_commit_raw(5).unwrap().unwrap();
    assert!(
        find(&raw, b"{\"i\":6}").is_some(),
        "{}",
        String::from_utf8_lossy(&raw)
    );
    // Writers do not append after damage in the last segment, and say why.
    let error = store.log(&numbered(11)).unwrap_err();
    assert!(error.to_string().contains(SEGMENT_ONE), "{error}");
    assert_eq!(Store::open(&path).unwrap().tip().unwrap(), 10);
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Changes the first segment of the journal at `path` with `edit`: returns the segment's path
/// and the bytes it holds now.
fn edit_segment_one(path: &Path, edit: impl FnOnce(&mut Vec<u8>)) -> (PathBuf, Vec<u8>) {
    let segment = path.join("journal").join(SEGMENT_ONE);
    let mut bytes = fs::read(&segment).unwrap();
    edit(&mut bytes);
    fs::write(&segment, &bytes).unwrap();
    (segment, bytes)
}

/// What a machine crash can leave in a journal: an unsynced write whose later records reached
/// the disk and whose start did not (a gap of free space where a record starts). Writers refuse
/// to append after it; repair moves the torn write, from the gap to the end, into the
/// quarantine, and the log goes on. A flipped byte instead is refused by repair.
#[test]
fn repair_moves_a_write_torn_behind_a_gap_aside_and_refuses_other_damage() {
    let (_temp, path) = written(10);
    edit_segment_one(&path, |bytes| {
        let start = find(bytes, b"{\"n\":8,").unwrap();
        bytes[start..start + 30].fill(b' ');
    });
    let store = Store::open(&path).unwrap();
    assert!(store.log(&numbered(11)).is_err());
    let plan = store.plan_repair().unwrap();
    let quarantine = plan
        .quarantine
        .clone()
        .expect("a plan to move the torn write");
    assert!(plan.refused.is_empty(), "{plan:?}");
    assert_eq!((quarantine.commit, quarantine.through), (8, 10), "{plan:?}");
    let moved = store.repair(&plan).unwrap().expect("moved");
    let kept = fs::read(&moved).unwrap();
    assert!(find(&kept, b"{\"n\":10,").is_some());
    let reader = Store::open(&path).unwrap();
    assert_eq!(reader.tip().unwrap(), 7);
    assert!(reader.verify(|_, _| {}).unwrap().is_sound());
    assert_eq!(reader.log(&numbered(8)).unwrap(), 8);
    assert_eq!(Store::open(&path).unwrap().commits(..).count(), 8);

    // A flipped byte is not what a crash leaves: refused, nothing changed.
    let (_temp, path) = written(10);
    let (segment, bytes) = edit_segment_one(&path, |bytes| {
        let at = find(bytes, b"{\"i\":8}").unwrap() + 5;
        bytes[at] = b'9';
    });
    let store = Store::open(&path).unwrap();
    let plan = store.plan_repair().unwrap();
    assert!(!plan.refused.is_empty(), "{plan:?}");
    assert!(store.repair(&plan).is_err());
    assert_eq!(fs::read(&segment).unwrap(), bytes);
}

/// A record whose length field claims more than any document must not make a reader allocate
/// that much; a huge file as the last segment is reported, never copied into the quarantine.
#[test]
fn lengths_and_sizes_from_a_segment_are_bounded() {
    let (_temp, path) = written(3);
    edit_segment_one(&path, |bytes| {
        bytes.extend_from_slice(
            b"{\"n\":4,\"len\":99999999999999,\"crc32\":\"00000000\",\"commit\":{}}\n",
        );
    });
    let tip = tip_within(&path);
    assert_eq!(tip, Ok(3));

    // A sparse file of 8 GiB as the first segment: reported by verify, refused by writers.
    let (_temp, path) = written(0);
    let segment = path.join("journal").join(SEGMENT_ONE);
    fs::File::create(&segment)
        .unwrap()
        .set_len(8 << 30)
        .unwrap();
    let store = Store::open(&path).unwrap();
    let report = store.verify(|_, _| {}).unwrap();
    assert!(
        report
            .warnings
            .iter()
            .chain(&report.problems)
            .any(|f| f.location.contains(SEGMENT_ONE)),
        "{report:?}"
    );
    let error = store.log(&numbered(1)).unwrap_err();
    assert!(error.to_string().contains(SEGMENT_ONE), "{error}");
    assert!(!path.join("foldstore-quarantine").exists());
    assert_eq!(fs::metadata(&segment).unwrap().len(), 8 << 30);
}

/// The space reserved past a segment's end for the next records is given back when the
/// segment is closed: closed segments take no more disk than their records.
#[cfg(unix)]
#[test]
fn closed_segments_keep_no_reserved_space() {
    use std::os::unix::fs::MetadataExt;
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join("store");
    fs::create_dir_all(&path).unwrap();
    let storage =
        foldstore::JournalStorage::with_segment_bytes(&path, foldstore::Durability::None, 64 << 10);
    let store = Store::with_storage(storage);
    store.ensure_folder().unwrap();
    for i in 1..=2_000 {
        store.log(&numbered(i)).unwrap();
    }
    let mut segments: Vec<_> = fs::read_dir(path.join("journal"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    segments.sort();
    assert!(segments.len() > 3, "{segments:?}");
    for closed in &segments[..segments.len() - 1] {
        let meta = fs::metadata(closed).unwrap();
        let on_disk = meta.blocks() * 512;
        assert!(
            on_disk <= meta.len().next_multiple_of(4096) + 4096,
            "{}: {} bytes, {on_disk} on disk",
            closed.display(),
            meta.len()
        );
    }
}

/// A symbolic link as the quarantine folder would take what is moved aside out of the store:
/// both layouts refuse, and nothing leaves the store.
#[cfg(unix)]
#[test]
fn a_quarantine_folder_that_is_a_link_is_refused() {
    // The journal: a torn tail that the next write would move aside.
    let (temp, path) = written(3);
    let outside = temp.path().join("outside");
    fs::create_dir(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, path.join("foldstore-quarantine")).unwrap();
    let segment = path.join("journal").join(SEGMENT_ONE);
    let mut bytes = fs::read(&segment).unwrap();
    let end = bytes.iter().rposition(|b| *b != b' ').unwrap() + 1;
    bytes.truncate(end);
    bytes.extend_from_slice(b"{\"n\":4,\"len\":90,\"crc");
    fs::write(&segment, &bytes).unwrap();
    let error = Store::open(&path).unwrap().log(&numbered(4)).unwrap_err();
    assert!(error.to_string().contains("symbolic link"), "{error}");
    assert_eq!(fs::read_dir(&outside).unwrap().count(), 0);
    assert_eq!(fs::read(&segment).unwrap(), bytes);

    // The loose layout: repair of a damaged last commit.
    let path = temp.path().join("loose");
    let store = Store::open(&path).unwrap();
    store.ensure_folder().unwrap();
    for i in 1..=3 {
        store.log(&numbered(i)).unwrap();
    }
    let last = path.join("3.log");
    fs::write(&last, b"{\"events\": [").unwrap();
    fs::File::options()
        .write(true)
        .open(&last)
        .unwrap()
        .set_modified(std::time::SystemTime::now() - Duration::from_secs(3600))
        .unwrap();
    std::os::unix::fs::symlink(&outside, path.join("foldstore-quarantine")).unwrap();
    let store = Store::open(&path).unwrap();
    let plan = store.plan_repair().unwrap();
    let error = store.repair(&plan).unwrap_err();
    assert!(error.to_string().contains("symbolic link"), "{error}");
    assert!(last.exists());
    assert_eq!(fs::read_dir(&outside).unwrap().count(), 0);
}
