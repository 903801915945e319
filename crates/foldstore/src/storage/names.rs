//! The names in a store's folder (and under an object store's prefix): those the original
//! package gives commits (`k.log`) and snapshots (`k.m-snapshot`), read strictly by
//! [`classify`], and those foldstore adds beside them, which are never commit names.

use crate::storage::MAX_COMMIT_NUMBER;

/// The prefix of the temporary files foldstore writes into a store's folder.
pub const TEMP_PREFIX: &str = ".foldstore-tmp-";

/// The subfolder of a store's folder where repair moves damaged commits (never a commit name,
/// and ignored by the original package, which only looks at `.log` names).
pub const QUARANTINE_FOLDER: &str = "foldstore-quarantine";

/// The subfolder of a store's folder (and the part of an object store's prefix) where data
/// derived from the log is kept, such as the event index: never the source of truth, and
/// ignored by the original package.
pub const DERIVED_FOLDER: &str = "foldstore-index";

/// The journal's format marker, in the store's folder: a folder that holds it is a journal
/// (see `storage/journal`), and loose commit files are never added to it.
pub const JOURNAL_MARKER: &str = "foldstore-journal.json";

/// The file name of commit `number` in the loose layout.
pub(crate) fn commit_file_name(number: u64) -> String {
    format!("{number}.log")
}

/// The file name of the snapshot of `name` labelled `commit`, in both layouts.
pub(crate) fn snapshot_file_name(name: &str, commit: u64) -> String {
    format!("{commit}.{name}-snapshot")
}

/// What a file name in a store's folder (or an object name under a prefix) is.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Entry {
    Commit(u64),
    Snapshot(String, u64),
    Suspicious(String),
    Other,
}

/// A canonical commit number: digits, no leading zero, not zero, at most
/// [`MAX_COMMIT_NUMBER`].
fn canonical_number(text: &str) -> Option<u64> {
    let canonical =
        !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) && !text.starts_with('0');
    if canonical {
        text.parse().ok().filter(|n| *n <= MAX_COMMIT_NUMBER)
    } else {
        None
    }
}

/// Whether `text` is written like a commit number (digits, no leading zero) but is larger
/// than [`MAX_COMMIT_NUMBER`].
fn beyond_max_commit_number(text: &str) -> bool {
    !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && !text.starts_with('0')
        && text.parse::<u64>().map_or(true, |n| n > MAX_COMMIT_NUMBER)
}

/// Why a name whose number is beyond [`MAX_COMMIT_NUMBER`] is ignored.
fn beyond_max_reason(what: &str) -> String {
    format!(
        "is named like a {what}, but its number is beyond {MAX_COMMIT_NUMBER} (2^53 - 1), the largest the original package counts exactly: foldstore ignores it (no log reaches such a number); move it out of the store"
    )
}

/// Whether JavaScript's `isNaN` would take `text` for a number (how the original finds commits).
fn looks_numeric_to_the_original(text: &str) -> bool {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return true;
    }
    let unsigned = trimmed.trim_start_matches(['+', '-']);
    let hex_like = ["0x", "0X", "0o", "0O", "0b", "0B"]
        .iter()
        .any(|p| trimmed.starts_with(p) && trimmed.len() > 2);
    hex_like
        || unsigned == "Infinity"
        || (unsigned
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
            && trimmed.parse::<f64>().is_ok())
}

/// What `name` is: a commit, a snapshot, a name that looks meant to be one of them (and the
/// original package may take for one), or something else.
pub(crate) fn classify(name: &str) -> Entry {
    if name.starts_with(TEMP_PREFIX) {
        return Entry::Other;
    }
    if let Some(stem) = name.strip_suffix(".log") {
        if let Some(number) = canonical_number(stem) {
            return Entry::Commit(number);
        }
        if beyond_max_commit_number(stem) {
            return Entry::Suspicious(beyond_max_reason("commit"));
        }
        if !stem.is_empty() && looks_numeric_to_the_original(stem) {
            return Entry::Suspicious(
                "is named like a commit but is not '<n>.log' with n >= 1 written without leading zeros: \
                 foldstore ignores it, the original package counts it as a commit"
                    .to_owned(),
            );
        }
        return Entry::Other;
    }
    if let Some(rest) = name.strip_suffix("-snapshot") {
        if let Some((number, snapshot)) = rest.split_once('.') {
            if snapshot.is_empty() || snapshot.contains('.') {
                return Entry::Other;
            }
            if number == "0" {
                return Entry::Suspicious(
                    "is a snapshot of an empty log (the original package writes these); it is never used"
                        .to_owned(),
                );
            }
            if let Some(commit) = canonical_number(number) {
                return Entry::Snapshot(snapshot.to_owned(), commit);
            }
            if beyond_max_commit_number(number) {
                return Entry::Suspicious(beyond_max_reason("snapshot"));
            }
            if !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()) {
                return Entry::Suspicious(
                    "is named like a snapshot but its number has leading zeros or is too large; it is ignored"
                        .to_owned(),
                );
            }
        }
    }
    Entry::Other
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Names that are neither commits nor snapshots, and say nothing about the log.
    pub(crate) const OTHER_NAMES: &[&str] = &[
        "draft.log",
        "7.json",
        "README.txt",
        ".log",
        "a.b.log",
        "3.a.b-snapshot",
        "x.members-snapshot",
        ".foldstore-tmp-abc",
        "3.-snapshot",
    ];

    /// Names the original package would count as commits or snapshots, which foldstore ignores
    /// and reports.
    pub(crate) const SUSPICIOUS_NAMES: &[&str] = &[
        "007.log",
        "0.log",
        "1e1.log",
        "0x10.log",
        " 5.log",
        "99999999999999999999999.log",
        "1.5.log",
        "0.members-snapshot",
        "03.members-snapshot",
        "9007199254740992.log",
        "17179869184999999.log",
        "18446744073709551615.log",
        "18446744073709551616.log",
        "9007199254740992.members-snapshot",
    ];

    #[test]
    fn names_are_classified_strictly() {
        assert_eq!(classify("1.log"), Entry::Commit(1));
        assert_eq!(classify("1234567.log"), Entry::Commit(1_234_567));
        assert_eq!(
            classify("9007199254740991.log"),
            Entry::Commit(MAX_COMMIT_NUMBER)
        );
        assert_eq!(
            classify("3.memberlist-snapshot"),
            Entry::Snapshot("memberlist".into(), 3)
        );
        for other in OTHER_NAMES {
            assert_eq!(classify(other), Entry::Other, "{other}");
        }
        for suspicious in SUSPICIOUS_NAMES {
            assert!(
                matches!(classify(suspicious), Entry::Suspicious(_)),
                "{suspicious}"
            );
        }
    }
}
