//! The PostgreSQL backend. (Being written.)

/// A store kept in a PostgreSQL table. (Being written.)
#[derive(Debug)]
pub struct PostgresStorage {}
