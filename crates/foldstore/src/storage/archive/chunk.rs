//! An archive's chunks: runs of commits as journal records (`{"n":..,"len":..,"crc32":..,
//! "commit":..}` and a newline each), so that every document is kept byte for byte and checked
//! by its CRC-32 as well as by the chunk's BLAKE3 hash in the manifest.

use crate::storage::journal::record::{encode_record, parse_record, Parsed};
use crate::storage::MAX_DOCUMENT_BYTES;

/// A chunk closes once it holds this many bytes of records...
pub(crate) const CHUNK_BYTES: usize = 8 << 20;
/// ... or this many commits.
pub(crate) const CHUNK_COMMITS: u64 = 65_536;

/// The most bytes a chunk may ever hold: it is written and read whole, as one document. A
/// chunk closes before a record that would take it past this (a commit close to the largest
/// document), so that every chunk written can be read back.
pub(crate) const CHUNK_LIMIT: u64 = MAX_DOCUMENT_BYTES;

/// The bytes a record adds to its document, at most: `{"n":`, `,"len":`, `,"crc32":"`, eight
/// hex digits, `","commit":`, `}` and a newline, and two numbers of at most 20 digits.
const RECORD_FRAME: u64 = 5 + 7 + 10 + 8 + 11 + 2 + 20 + 20;

/// The bytes, at most, of the record of a document of `document` bytes.
pub(crate) fn record_bytes(document: usize) -> u64 {
    document as u64 + RECORD_FRAME
}

/// The name of the chunk holding commits `first..=last`.
pub(crate) fn chunk_name(first: u64, last: u64) -> String {
    format!("archive-{first:020}-{last:020}.jsonl")
}

/// Appends commit `number` to a chunk's bytes.
pub(crate) fn add(chunk: &mut Vec<u8>, number: u64, document: &[u8]) {
    encode_record(chunk, number, document);
}

/// The documents of a chunk that must hold commits `first..=last`, in order; or what is wrong
/// with it (a record that is not whole, a checksum that does not match, a number out of
/// place, bytes after the last record).
pub(crate) fn decode(bytes: &[u8], first: u64, last: u64) -> Result<Vec<Vec<u8>>, String> {
    let mut documents = Vec::new();
    let mut at = 0;
    let mut expected = first;
    while at < bytes.len() {
        match parse_record(&bytes[at..]) {
            Parsed::Whole {
                number,
                document,
                length,
                crc,
            } => {
                if number != expected || number > last {
                    return Err(format!(
                        "the record at byte {at} is commit {number}, where commit {expected} belongs"
                    ));
                }
                let document = &bytes[at + document.start..at + document.end];
                if crc32fast::hash(document) != crc {
                    return Err(format!(
                        "the checksum of commit {number} (at byte {at}) does not match its bytes"
                    ));
                }
                documents.push(document.to_vec());
                at += length;
                expected += 1;
            }
            Parsed::Short { .. } => {
                return Err(format!("the record at byte {at} is cut short"));
            }
            Parsed::Invalid(problem) => {
                return Err(format!("the bytes at {at} are not a record: {problem}"));
            }
        }
    }
    if expected != last.saturating_add(1) {
        return Err(format!(
            "it ends before commit {expected}, and should hold commits {first} to {last}"
        ));
    }
    Ok(documents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_takes_no_more_bytes_than_said() {
        for (number, document) in [(1, 0), (u64::MAX, 0), (u64::MAX, 1000), (7, 12_345)] {
            let mut chunk = Vec::new();
            add(&mut chunk, number, &vec![b' '; document]);
            assert!(chunk.len() as u64 <= record_bytes(document));
        }
    }

    #[test]
    fn chunks_round_trip_and_damage_is_named() {
        let mut chunk = Vec::new();
        add(&mut chunk, 7, b"{\"events\":[]}");
        add(&mut chunk, 8, b"{\"events\":[{\"name\":\"a\"}]}\n");
        let documents = decode(&chunk, 7, 8).unwrap();
        assert_eq!(documents[1], b"{\"events\":[{\"name\":\"a\"}]}\n");
        assert!(decode(&chunk, 6, 8)
            .unwrap_err()
            .contains("commit 6 belongs"));
        assert!(decode(&chunk, 7, 9)
            .unwrap_err()
            .contains("ends before commit 9"));
        assert!(decode(&chunk[..chunk.len() - 3], 7, 8)
            .unwrap_err()
            .contains("cut short"));
        let mut flipped = chunk.clone();
        let at = flipped.len() - 5;
        flipped[at] ^= 1;
        assert!(decode(&flipped, 7, 8).unwrap_err().contains("checksum"));
        assert!(decode(b"garbage", 1, 1).is_err());
        assert!(decode(b"", 1, u64::MAX).is_err());
        assert_eq!(chunk_name(1, 2).len(), 55);
    }
}
