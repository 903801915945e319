//! Upcasters on every read path: a versioned log written by foldstore, the store's upcasters
//! on replays, reads, subscriptions, queries and the async API (and not on raw reads and
//! copies), and the hostile cases: failing, panicking and cycling upcasters.
