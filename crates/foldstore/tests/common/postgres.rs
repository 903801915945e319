//! The test PostgreSQL server: fresh, isolated storages on it for tests.
//! (Placeholder: filled in with the PostgreSQL backend.)

use foldstore::Storage;

/// A fresh, empty, not yet created storage on the test server, or `None` when no server is
/// configured here. Under `CI=true` a missing server fails the test instead.
pub fn fresh_storage() -> Option<Box<dyn Storage>> {
    None
}
