//! Any bytes as a snapshot file: decoding never panics.
#![no_main]

use foldstore::Snapshot;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(snapshot) = Snapshot::decode("members", 3, bytes) {
        assert_eq!(snapshot.commit, 3);
    }
});
