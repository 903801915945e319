//! Any bytes as a commit file: decoding never panics, and what decodes encodes to a document
//! that decodes to the same commit.
#![no_main]

use foldstore::Commit;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(commit) = Commit::decode(7, bytes) {
        let again = Commit::decode(7, &commit.encode()).expect("an encoded commit decodes");
        assert_eq!(again, commit);
    }
});
