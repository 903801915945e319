//! The PostgreSQL key store: one row per subject, each key encrypted with the master key.

use std::sync::Mutex;

use postgres::{Client, Config, NoTls};

use super::keys::{
    check_subject, decrypt, encrypt, key_bound, KeyId, KeyStore, MasterKey, SubjectKey, KEY_BYTES,
};
use crate::error::{Error, Result};

/// A row's key id, nonce and sealed key.
type Row = (String, Vec<u8>, Vec<u8>);

/// The row whose sealed text only the right master key opens (no subject is empty).
const CHECK_ROW: &str = "";

/// What the check row holds, encrypted.
const CHECK_TEXT: &[u8] = b"foldstore key store";

/// A key store in a PostgreSQL table (feature `postgres`), best in another database than the
/// store's, or at least with other grants: whoever reads both the log and the keys reads
/// everything not forgotten.
///
/// The table (default `foldstore_keys`, made when missing) has one row per subject: its key
/// id and its key encrypted with the [`MasterKey`] (AES-256-GCM, the subject and key id
/// bound to it), inserted only if no other writer made it first; a row with an empty subject
/// tells a wrong master key at once. Forgetting deletes the row.
///
/// **What remains after forgetting:** PostgreSQL keeps a deleted row's bytes in the table's
/// files until `VACUUM` reclaims them, and in its write-ahead log and its backups until those
/// are recycled. They hold the key encrypted with the master key. Run `VACUUM` on the table
/// after forgetting, and keep WAL archives and backups short-lived when that matters.
pub struct PostgresKeyStore {
    config: Config,
    table: String,
    address: String,
    master: MasterKey,
    client: Mutex<Option<Client>>,
}

impl std::fmt::Debug for PostgresKeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresKeyStore")
            .field("address", &self.address)
            .field("table", &self.table)
            .finish_non_exhaustive()
    }
}

impl PostgresKeyStore {
    /// The table name used when none is given.
    pub const DEFAULT_TABLE: &'static str = "foldstore_keys";

    /// Connects to the key store at `url` (`postgres://user[:password]@host[:port]/database`)
    /// in `table` (letters, digits and underscores, at most 63), making the table when
    /// missing, and checks `master` against it.
    ///
    /// # Errors
    /// [`Error::Keys`] for an invalid URL or table name, a wrong master key (naming the
    /// table), or a failed connection or statement.
    pub fn connect(url: &str, table: &str, master: MasterKey) -> Result<PostgresKeyStore> {
        let config: Config = url.parse().map_err(|e: postgres::Error| Error::Keys {
            location: "a PostgreSQL key store".to_owned(),
            problem: format!("invalid URL: {e}"),
        })?;
        let valid = !table.is_empty()
            && table.len() <= 63
            && !table.starts_with(|c: char| c.is_ascii_digit())
            && table
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_');
        let hosts: Vec<String> = config
            .get_hosts()
            .iter()
            .map(|host| match host {
                postgres::config::Host::Tcp(name) => name.clone(),
                #[cfg(unix)]
                postgres::config::Host::Unix(path) => path.display().to_string(),
            })
            .collect();
        let address = format!(
            "postgres://{}/{}?table={table}",
            hosts.join(","),
            config.get_dbname().unwrap_or_default()
        );
        if !valid {
            return Err(Error::Keys {
                location: address,
                problem: "a table name is letters, digits and underscores (at most 63), not starting with a digit".to_owned(),
            });
        }
        let store = PostgresKeyStore {
            config,
            table: table.to_owned(),
            address,
            master,
            client: Mutex::new(None),
        };
        store.run(|client, table| {
            client.batch_execute(&format!(
                "CREATE TABLE IF NOT EXISTS {table} (subject text PRIMARY KEY, key_id text NOT NULL, nonce bytea NOT NULL, sealed bytea NOT NULL)"
            ))
        })?;
        let wrong = || {
            Error::Keys {
            location: store.location(),
            problem: "does not open with this master key: it is not the master key this key store was made with (or its check row was changed)".to_owned(),
        }
        };
        match store.row(CHECK_ROW)? {
            Some((_, nonce, sealed)) => {
                let plain =
                    decrypt(store.master.bytes(), b"check", &nonce, &sealed).ok_or_else(wrong)?;
                if plain.as_slice() != CHECK_TEXT {
                    return Err(wrong());
                }
            }
            None => {
                let (nonce, sealed) = encrypt(store.master.bytes(), b"check", CHECK_TEXT)?;
                store.insert(CHECK_ROW, "", &nonce, &sealed)?;
            }
        }
        Ok(store)
    }

    /// Runs `statement` on the connection (made, or made again after a failure).
    fn run<T>(
        &self,
        statement: impl Fn(&mut Client, &str) -> Result<T, postgres::Error>,
    ) -> Result<T> {
        let mut client = self.client.lock().unwrap_or_else(|e| e.into_inner());
        let failed = |e: postgres::Error| Error::Keys {
            location: self.location(),
            problem: format!("PostgreSQL: {e}"),
        };
        if client.as_ref().is_none_or(Client::is_closed) {
            *client = Some(self.config.connect(NoTls).map_err(failed)?);
        }
        let Some(connected) = client.as_mut() else {
            unreachable!("connected above");
        };
        let outcome = statement(connected, &self.table);
        if outcome.is_err() && connected.is_closed() {
            *client = None;
        }
        outcome.map_err(failed)
    }

    fn row(&self, subject: &str) -> Result<Option<Row>> {
        self.run(|client, table| {
            let row = client.query_opt(
                &format!("SELECT key_id, nonce, sealed FROM {table} WHERE subject = $1"),
                &[&subject],
            )?;
            // `try_get`: a table of the same name with other columns is an error, not a panic.
            row.map(|row| Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?)))
                .transpose()
        })
    }

    fn insert(&self, subject: &str, id: &str, nonce: &[u8], sealed: &[u8]) -> Result<u64> {
        self.run(|client, table| {
            client.execute(
                &format!("INSERT INTO {table} (subject, key_id, nonce, sealed) VALUES ($1, $2, $3, $4) ON CONFLICT (subject) DO NOTHING"),
                &[&subject, &id, &nonce, &sealed],
            )
        })
    }

    fn read_key(&self, subject: &str) -> Result<Option<SubjectKey>> {
        let Some((id, nonce, sealed)) = self.row(subject)? else {
            return Ok(None);
        };
        let damaged = || {
            Error::Keys {
            location: format!("{}, the row of subject {subject:?}", self.location()),
            problem: "does not open with the master key: a wrong master key, or the row was changed; restore it from a backup, or forget the subject".to_owned(),
        }
        };
        let id = KeyId::from_hex(&id).ok_or_else(damaged)?;
        let plain = decrypt(
            self.master.bytes(),
            &key_bound(subject, id),
            &nonce,
            &sealed,
        )
        .ok_or_else(damaged)?;
        let bytes: [u8; KEY_BYTES] = plain.as_slice().try_into().map_err(|_| damaged())?;
        Ok(Some(SubjectKey::from_parts(id, bytes)))
    }
}

impl KeyStore for PostgresKeyStore {
    fn key_for(&self, subject: &str) -> Result<SubjectKey> {
        check_subject(subject, &|| self.location())?;
        if let Some(key) = self.read_key(subject)? {
            return Ok(key);
        }
        let key = SubjectKey::generate()?;
        let (nonce, sealed) = encrypt(
            self.master.bytes(),
            &key_bound(subject, key.id()),
            key.bytes(),
        )?;
        if self.insert(subject, &key.id().to_hex(), &nonce, &sealed)? == 1 {
            return Ok(key);
        }
        // Another writer made it first: theirs is the key.
        self.read_key(subject)?.ok_or_else(|| Error::Keys {
            location: self.location(),
            problem: format!("the key of {subject:?} was made by another writer and removed at once: write again"),
        })
    }

    fn get(&self, subject: &str) -> Result<Option<SubjectKey>> {
        if check_subject(subject, &|| self.location()).is_err() {
            return Ok(None);
        }
        self.read_key(subject)
    }

    fn forget(&self, subject: &str) -> Result<bool> {
        check_subject(subject, &|| self.location())?;
        let deleted = self.run(|client, table| {
            client.execute(
                &format!("DELETE FROM {table} WHERE subject = $1"),
                &[&subject],
            )
        })?;
        Ok(deleted > 0)
    }

    fn subjects(&self) -> Result<Vec<String>> {
        self.run(|client, table| {
            let rows = client.query(
                &format!("SELECT subject FROM {table} WHERE subject <> '' ORDER BY subject COLLATE \"C\""),
                &[],
            )?;
            rows.iter().map(|row| row.try_get(0)).collect()
        })
    }

    fn location(&self) -> String {
        self.address.clone()
    }
}
