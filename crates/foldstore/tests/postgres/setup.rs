//! Fresh tables on the test server, a client of it, and the message of a backend error.

use crate::pg_server::fresh_postgres;
use foldstore::{Error, PostgresStorage, Storage};
use postgres::{Client, NoTls};

/// A created, empty backend on a fresh table, its table name and the server's URL.
pub(crate) fn created() -> Option<(PostgresStorage, String, String)> {
    let (storage, table, url) = fresh_postgres()?;
    storage.ensure_created().expect("ensure_created");
    Some((storage, table, url))
}

/// A plain client on the test server, for doing what other programs would.
pub(crate) fn client(url: &str) -> Client {
    Client::connect(url, NoTls).expect("connect to the test server")
}

pub(crate) fn backend_message(error: &Error) -> &str {
    match error {
        Error::Backend { message, .. } => message,
        other => panic!("not a backend error: {other:?}"),
    }
}
