//! The journal's record: one commit in a segment, as
//! `{"n":7,"len":92,"crc32":"1c291ca3","commit":…}` and a newline, framed by its length.
//! Encoding, and parsing a record at the start of a buffer (whole, cut short, or not a record).

use crate::storage::MAX_DOCUMENT_BYTES;

/// The byte of the free space at the end of a segment: a space, which is JSON whitespace, so
/// that a segment with free space still reads with `jq`. A record never starts with it: at a
/// record's start, it marks the end of the segment's records.
pub(super) const FREE: u8 = b' ';

/// A record parsed from a segment's bytes.
pub(crate) enum Parsed {
    /// A whole record: its number, where its document lies in the buffer, its total length.
    Whole {
        number: u64,
        document: std::ops::Range<usize>,
        length: usize,
        crc: u32,
    },
    /// The buffer ends inside the record: `needed` bytes in all are needed to judge it.
    Short { needed: usize },
    /// Not a record.
    Invalid(String),
}

fn parse_number(buf: &[u8], at: &mut usize, what: &str) -> Result<Option<u64>, String> {
    let start = *at;
    while *at < buf.len() && buf[*at].is_ascii_digit() {
        *at += 1;
    }
    if *at == buf.len() {
        return Ok(None);
    }
    if *at == start || *at - start > 20 {
        return Err(format!("{what} is not a number"));
    }
    buf[start..*at]
        .iter()
        .try_fold(0u64, |value, digit| {
            value.checked_mul(10)?.checked_add(u64::from(digit - b'0'))
        })
        .map(Some)
        .ok_or_else(|| format!("{what} is not a number"))
}

fn expect(buf: &[u8], at: &mut usize, literal: &[u8]) -> Result<bool, String> {
    let available = buf.len().saturating_sub(*at).min(literal.len());
    if buf[*at..*at + available] != literal[..available] {
        return Err(format!(
            "expected {:?}",
            String::from_utf8_lossy(literal).as_ref()
        ));
    }
    *at += available;
    Ok(available == literal.len())
}

/// Parses the record at the start of `buf`.
pub(crate) fn parse_record(buf: &[u8]) -> Parsed {
    let mut at = 0;
    let mut inner = || -> Result<Option<Parsed>, String> {
        if !expect(buf, &mut at, b"{\"n\":")? {
            return Ok(None);
        }
        let Some(number) = parse_number(buf, &mut at, "the commit number")? else {
            return Ok(None);
        };
        if !expect(buf, &mut at, b",\"len\":")? {
            return Ok(None);
        }
        let Some(len) = parse_number(buf, &mut at, "the length")? else {
            return Ok(None);
        };
        if !expect(buf, &mut at, b",\"crc32\":\"")? {
            return Ok(None);
        }
        if buf.len() < at + 8 {
            return Ok(None);
        }
        let crc = std::str::from_utf8(&buf[at..at + 8])
            .ok()
            .and_then(|hex| u32::from_str_radix(hex, 16).ok())
            .ok_or("the checksum is not 8 hexadecimal digits")?;
        at += 8;
        if !expect(buf, &mut at, b"\",\"commit\":")? {
            return Ok(None);
        }
        if len > MAX_DOCUMENT_BYTES {
            return Err(format!(
                "the length ({len} bytes) is larger than any document ({} bytes at most)",
                MAX_DOCUMENT_BYTES
            ));
        }
        let len = usize::try_from(len).map_err(|_| "the length is too large".to_owned())?;
        let start = at;
        let end = start.checked_add(len).ok_or("the length is too large")?;
        let length = end + 2;
        if buf.len() < length {
            return Ok(Some(Parsed::Short { needed: length }));
        }
        if &buf[end..length] != b"}\n" {
            return Err("the record does not end where its length says".to_owned());
        }
        Ok(Some(Parsed::Whole {
            number,
            document: start..end,
            length,
            crc,
        }))
    };
    match inner() {
        Ok(Some(parsed)) => parsed,
        // The header itself is cut short: ask for a little more than there is.
        Ok(None) => Parsed::Short {
            needed: buf.len() + 64,
        },
        Err(problem) => Parsed::Invalid(problem),
    }
}

/// Encodes one record.
pub(crate) fn encode_record(out: &mut Vec<u8>, number: u64, document: &[u8]) {
    let crc = crc32fast::hash(document);
    out.extend_from_slice(
        format!(
            "{{\"n\":{number},\"len\":{},\"crc32\":\"{crc:08x}\",\"commit\":",
            document.len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(document);
    out.extend_from_slice(b"}\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_are_framed_by_length() {
        let mut out = Vec::new();
        encode_record(&mut out, 7, b"{\"a\":\n1}");
        match parse_record(&out) {
            Parsed::Whole {
                number, document, ..
            } => {
                assert_eq!(number, 7);
                assert_eq!(&out[document], b"{\"a\":\n1}");
            }
            _ => panic!("not parsed"),
        }
        for cut in 0..out.len() {
            assert!(
                matches!(parse_record(&out[..cut]), Parsed::Short { .. }),
                "cut at {cut}"
            );
        }
        assert!(matches!(parse_record(b"{\"x\":1}\n"), Parsed::Invalid(_)));
    }
}
