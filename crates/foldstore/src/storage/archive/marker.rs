//! The two documents of archiving: the live store's marker (`foldstore-archived.json`: where
//! its log starts, and where the commits before lie) and the archive's manifest (which chunks
//! hold which commits, with their sizes and BLAKE3 hashes). Both are read strictly: anything
//! but the shape written here is refused with what is wrong, never guessed at.

use serde::{Deserialize, Serialize};

use super::chunk::CHUNK_COMMITS;
use crate::error::{Error, Result};
use crate::storage::{validate_meta_name, MAX_COMMIT_NUMBER};

const MARKER_FORMAT: &str = "foldstore-archived";
const MANIFEST_FORMAT: &str = "foldstore-archive";

/// The live store's marker: its log starts at `start`; commits `1..start` are in the archive
/// at `archive`, as its manifest `manifest` (whose bytes hash to `manifest_blake3`) says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Marker {
    pub(crate) format: String,
    pub(crate) version: u32,
    /// The first commit the live store holds.
    pub(crate) start: u64,
    /// Where the archive is, as it was given to `Store::archive` (a folder or a URL).
    pub(crate) archive: String,
    /// The name of the manifest in the archive (a document of its own).
    pub(crate) manifest: String,
    /// The BLAKE3 hash of the manifest's bytes, in lowercase hexadecimal.
    pub(crate) manifest_blake3: String,
    /// The BLAKE3 hash of the stored bytes of the last archived commit (`start - 1`): what
    /// the first live commit's chain link holds, in a chained store.
    pub(crate) last_blake3: String,
    /// Whether the last archived commit carries a chain header.
    pub(crate) last_chained: bool,
}

/// One chunk of an archive: commits `first..=last`, as journal records (framed, with a CRC-32
/// each), in the document `name` of `bytes` bytes hashing to `blake3`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Chunk {
    pub(crate) name: String,
    pub(crate) first: u64,
    pub(crate) last: u64,
    pub(crate) bytes: u64,
    pub(crate) blake3: String,
}

/// An archive's manifest: commits `1..=last` in `chunks`, in order and without gaps.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Manifest {
    pub(crate) format: String,
    pub(crate) version: u32,
    /// The last commit archived; the first is 1.
    pub(crate) last: u64,
    /// The bytes of the commit documents, in all.
    pub(crate) document_bytes: u64,
    pub(crate) chunks: Vec<Chunk>,
}

impl Marker {
    /// The marker of a log starting at `start`, whose archive at `archive` has the manifest
    /// `manifest` (hashing to `hash`); `last` is the last archived commit's stored bytes.
    pub(crate) fn new(
        start: u64,
        archive: String,
        (manifest, hash): (String, &blake3::Hash),
        last: &[u8],
        last_chained: bool,
    ) -> Self {
        Marker {
            format: MARKER_FORMAT.to_owned(),
            version: 1,
            start,
            archive,
            manifest,
            manifest_blake3: hash.to_hex().to_string(),
            last_blake3: blake3::hash(last).to_hex().to_string(),
            last_chained,
        }
    }

    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).expect("plain data");
        bytes.push(b'\n');
        bytes
    }

    /// Reads a marker, refusing anything else with what is wrong and `location`.
    pub(crate) fn parse(bytes: &[u8], location: &str) -> Result<Marker> {
        let refused = |problem: String| {
            Error::Layout {
            path: location.into(),
            problem: format!(
                "is not a readable archive marker ({problem}); it says where the store's log starts after archiving: restore it from a backup, or from the archive's manifest"
            ),
        }
        };
        let marker: Marker =
            serde_json::from_slice(bytes).map_err(|e| refused(format!("not its JSON: {e}")))?;
        if marker.format != MARKER_FORMAT {
            return Err(refused(format!("its format is {:?}", marker.format)));
        }
        if marker.version != 1 {
            return Err(refused(format!(
                "its version is {}, newer than this foldstore reads: use a newer foldstore",
                marker.version
            )));
        }
        if !(2..=MAX_COMMIT_NUMBER).contains(&marker.start) {
            return Err(refused(format!(
                "its start, {}, is not a commit number from 2 to {MAX_COMMIT_NUMBER}",
                marker.start
            )));
        }
        validate_meta_name(&marker.manifest).map_err(|e| refused(e.to_string()))?;
        check_hash(&marker.manifest_blake3).map_err(refused)?;
        check_hash(&marker.last_blake3).map_err(refused)?;
        Ok(marker)
    }
}

impl Manifest {
    pub(crate) fn new(last: u64, document_bytes: u64, chunks: Vec<Chunk>) -> Self {
        Manifest {
            format: MANIFEST_FORMAT.to_owned(),
            version: 1,
            last,
            document_bytes,
            chunks,
        }
    }

    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).expect("plain data");
        bytes.push(b'\n');
        bytes
    }

    /// The name of the manifest of an archive of commits `1..=last`.
    pub(crate) fn name(last: u64) -> String {
        format!("archive-{last:020}.json")
    }

    /// Reads a manifest, refusing anything else (chunks out of order, overlapping, leaving a
    /// gap, holding more commits than a chunk is given, or not ending at `last`) with what is
    /// wrong and `location`.
    pub(crate) fn parse(bytes: &[u8], location: &str) -> Result<Manifest> {
        let refused = |problem: String| Error::Layout {
            path: location.into(),
            problem: format!(
                "is not a readable archive manifest ({problem}); restore the archive from a copy"
            ),
        };
        let manifest: Manifest =
            serde_json::from_slice(bytes).map_err(|e| refused(format!("not its JSON: {e}")))?;
        if manifest.format != MANIFEST_FORMAT {
            return Err(refused(format!("its format is {:?}", manifest.format)));
        }
        if manifest.version != 1 {
            return Err(refused(format!(
                "its version is {}, newer than this foldstore reads: use a newer foldstore",
                manifest.version
            )));
        }
        let mut next = 1;
        for chunk in &manifest.chunks {
            let commits = chunk
                .last
                .checked_sub(chunk.first)
                .and_then(|n| n.checked_add(1));
            if chunk.first != next
                || chunk.last > MAX_COMMIT_NUMBER
                || commits.is_none_or(|n| n > CHUNK_COMMITS)
            {
                return Err(refused(format!(
                    "chunk {} holds commits {} to {}, where commit {next} comes next",
                    chunk.name, chunk.first, chunk.last
                )));
            }
            validate_meta_name(&chunk.name).map_err(|e| refused(e.to_string()))?;
            check_hash(&chunk.blake3).map_err(refused)?;
            next = chunk.last + 1;
        }
        if manifest.last.checked_add(1) != Some(next) {
            return Err(refused(format!(
                "its chunks end at commit {}, and it says it holds commits 1 to {}",
                next - 1,
                manifest.last
            )));
        }
        // The documents are inside the chunks' records.
        let chunk_bytes = manifest
            .chunks
            .iter()
            .fold(0u64, |sum, chunk| sum.saturating_add(chunk.bytes));
        if manifest.document_bytes > chunk_bytes {
            return Err(refused(format!(
                "it says its commits hold {} bytes of documents, more than its chunks' {chunk_bytes} bytes",
                manifest.document_bytes
            )));
        }
        Ok(manifest)
    }

    /// The chunk holding commit `number`, if any.
    pub(crate) fn chunk_of(&self, number: u64) -> Option<&Chunk> {
        let at = self.chunks.partition_point(|chunk| chunk.last < number);
        self.chunks.get(at).filter(|chunk| chunk.first <= number)
    }
}

fn check_hash(hex: &str) -> std::result::Result<(), String> {
    if hex.len() == 64
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        Ok(())
    } else {
        Err(format!(
            "{hex:?} is not a BLAKE3 hash (64 lowercase hexadecimal digits)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(first: u64, last: u64) -> Chunk {
        Chunk {
            name: format!("archive-{first:020}-{last:020}.jsonl"),
            first,
            last,
            bytes: 10,
            blake3: blake3::hash(b"x").to_hex().to_string(),
        }
    }

    #[test]
    fn markers_and_manifests_round_trip() {
        let marker = Marker::new(
            11,
            "/tmp/archive".into(),
            (Manifest::name(10), &blake3::hash(b"m")),
            b"{}",
            false,
        );
        assert_eq!(Marker::parse(&marker.to_bytes(), "m").unwrap(), marker);
        let manifest = Manifest::new(10, 19, vec![chunk(1, 4), chunk(5, 10)]);
        let read = Manifest::parse(&manifest.to_bytes(), "m").unwrap();
        assert_eq!(read, manifest);
        assert_eq!(read.chunk_of(5).unwrap().first, 5);
        assert_eq!(read.chunk_of(4).unwrap().first, 1);
        assert!(read.chunk_of(11).is_none());
        assert!(read.chunk_of(0).is_none());
    }

    #[test]
    fn hostile_markers_and_manifests_are_refused_with_the_reason() {
        let good = Marker::new(
            11,
            "a".into(),
            (Manifest::name(10), &blake3::hash(b"m")),
            b"{}",
            true,
        );
        let cases: Vec<(serde_json::Value, &str)> = vec![
            (serde_json::json!({"start": 3}), "not its JSON"),
            (
                serde_json::json!({"format": "foldstore-archived", "version": 2, "start": 3, "archive": "a", "manifest": "m", "manifest_blake3": good.manifest_blake3, "last_blake3": good.last_blake3, "last_chained": false}),
                "newer",
            ),
            (
                serde_json::json!({"format": "foldstore-archived", "version": 1, "start": u64::MAX, "archive": "a", "manifest": "m", "manifest_blake3": good.manifest_blake3, "last_blake3": good.last_blake3, "last_chained": false}),
                "is not a commit number",
            ),
            (
                serde_json::json!({"format": "foldstore-archived", "version": 1, "start": 1, "archive": "a", "manifest": "m", "manifest_blake3": good.manifest_blake3, "last_blake3": good.last_blake3, "last_chained": false}),
                "is not a commit number",
            ),
            (
                serde_json::json!({"format": "foldstore-archived", "version": 1, "start": 5, "archive": "a", "manifest": "../../etc/passwd", "manifest_blake3": good.manifest_blake3, "last_blake3": good.last_blake3, "last_chained": false}),
                "cannot name",
            ),
            (
                serde_json::json!({"format": "foldstore-archived", "version": 1, "start": 5, "archive": "a", "manifest": "m", "manifest_blake3": "zz", "last_blake3": good.last_blake3, "last_chained": false}),
                "BLAKE3",
            ),
        ];
        for (value, expected) in cases {
            let error = Marker::parse(value.to_string().as_bytes(), "the marker").unwrap_err();
            assert!(error.to_string().contains(expected), "{error}");
        }
        assert!(Marker::parse(b"", "m").is_err());
        assert!(Marker::parse(&[0xff; 100], "m").is_err());
        let gap = Manifest::new(10, 1, vec![chunk(1, 4), chunk(6, 10)]);
        let error = Manifest::parse(&gap.to_bytes(), "m").unwrap_err();
        assert!(error.to_string().contains("commit 5 comes next"), "{error}");
        let short = Manifest::new(12, 1, vec![chunk(1, 4), chunk(5, 10)]);
        assert!(Manifest::parse(&short.to_bytes(), "m").is_err());
        let mut hostile = chunk(1, 10);
        hostile.name = "/etc/passwd".into();
        assert!(Manifest::parse(&Manifest::new(10, 1, vec![hostile]).to_bytes(), "m").is_err());
        let huge = Manifest::new(u64::MAX, 1, vec![chunk(1, u64::MAX)]);
        assert!(Manifest::parse(&huge.to_bytes(), "m").is_err());
        let empty = Manifest::new(u64::MAX, 1, Vec::new());
        assert!(Manifest::parse(&empty.to_bytes(), "m").is_err());
        let oversized = Manifest::new(CHUNK_COMMITS + 1, 1, vec![chunk(1, CHUNK_COMMITS + 1)]);
        assert!(Manifest::parse(&oversized.to_bytes(), "m").is_err());
        // A chunk from 0 to the largest u64: its count of commits would overflow.
        let wrapping = Manifest::new(u64::MAX, 1, vec![chunk(0, u64::MAX)]);
        assert!(Manifest::parse(&wrapping.to_bytes(), "m").is_err());
        // More document bytes than the chunks hold (the next run would add to them).
        let inflated = Manifest::new(10, u64::MAX, vec![chunk(1, 4), chunk(5, 10)]);
        let error = Manifest::parse(&inflated.to_bytes(), "m").unwrap_err();
        assert!(error.to_string().contains("bytes of documents"), "{error}");
    }
}
