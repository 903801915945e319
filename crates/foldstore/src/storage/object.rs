//! The object-storage backend. (Being written.)

/// A store kept as objects under a prefix of an object store. (Being written.)
#[derive(Debug)]
pub struct ObjectStorage {}
