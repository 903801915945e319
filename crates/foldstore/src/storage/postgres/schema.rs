//! The store's tables: created in one transaction under an advisory lock, and those that
//! exist checked (kind, columns, primary key, schema version) before anything touches them.

use std::fmt;
use std::sync::atomic::Ordering;

use postgres::error::SqlState;

use super::connection::Connection;
use super::sql::{Query, Sql};
use super::{PostgresStorage, BACKEND, SCHEMA_VERSION};
use crate::error::{Error, Result};

/// The suffixes of the helper tables made next to the commits table `T` (`T_snapshots`,
/// `T_quarantine`, `T_meta`). A commits table may not end in one of them (in any case): its
/// name could be another store's helper table.
pub(super) const HELPER_SUFFIXES: [&str; 3] = ["_snapshots", "_quarantine", "_meta"];

/// What one of the store's tables looks like: its columns (name and type, as PostgreSQL's
/// `format_type` spells it, followed by ` not null` for a column that cannot be null) and its
/// primary key's columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Shape {
    pub(super) columns: Vec<(String, String)>,
    pub(super) key: Vec<String>,
}

impl Shape {
    pub(super) fn new(columns: &[(&str, &str)], key: &[&str]) -> Self {
        let mut shape = Shape {
            columns: columns
                .iter()
                .map(|(name, kind)| ((*name).to_owned(), (*kind).to_owned()))
                .collect(),
            key: key.iter().map(|name| (*name).to_owned()).collect(),
        };
        shape.columns.sort();
        shape.key.sort();
        shape
    }

    /// The shapes of the commits, snapshots, quarantine and meta tables, in that order, as
    /// [`Sql::new`] creates them.
    /// Every column but the quarantine's `created_at` is `NOT NULL` (a primary key's too):
    /// readers take a value from each row they read.
    pub(super) fn expected() -> [Shape; 4] {
        const BIGINT: &str = "bigint not null";
        const BYTEA: &str = "bytea not null";
        const TEXT: &str = "text not null";
        const TIME: &str = "timestamp with time zone not null";
        const TIME_OR_NULL: &str = "timestamp with time zone";
        [
            Shape::new(
                &[
                    ("number", BIGINT),
                    ("document", BYTEA),
                    ("created_at", TIME),
                ],
                &["number"],
            ),
            Shape::new(
                &[
                    ("name", TEXT),
                    ("commit", BIGINT),
                    ("document", BYTEA),
                    ("created_at", TIME),
                ],
                &["name", "commit"],
            ),
            Shape::new(
                &[
                    ("id", BIGINT),
                    ("number", BIGINT),
                    ("document", BYTEA),
                    ("created_at", TIME_OR_NULL),
                    ("quarantined_at", TIME),
                ],
                &["id"],
            ),
            Shape::new(&[("key", TEXT), ("value", TEXT)], &["key"]),
        ]
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let columns: Vec<String> = self
            .columns
            .iter()
            .map(|(name, kind)| format!("{name} {kind}"))
            .collect();
        write!(f, "columns ({})", columns.join(", "))?;
        if self.key.is_empty() {
            write!(f, " and no primary key")
        } else {
            write!(f, " and primary key ({})", self.key.join(", "))
        }
    }
}

/// What the store's four tables are now: for each (commits, snapshots, quarantine, meta), its
/// kind (`pg_class.relkind`) and shape when it exists.
pub(super) type Found = [Option<(String, Shape)>; 4];

/// Which of the store's tables [`Found`] holds at each index, for messages.
const TABLE_ROLES: [&str; 4] = [
    "commit table",
    "snapshot table",
    "quarantine table",
    "schema-version table",
];
/// The outcome of one try at creating the schema.
pub(super) enum SchemaOutcome {
    /// The schema is there, at this code's version.
    Ready,
    /// The table records a version this code does not know.
    Unknown(String),
    /// A table exists that is not what foldstore makes: nothing was created.
    Wrong(Mismatch),
}
impl PostgresStorage {
    /// Checks, once per backend, that the schema's version is one this code knows and that
    /// the store's tables are the ones foldstore makes (see [`mismatch`]): a table of another
    /// shape (another program's, or another store's helper table) is refused before anything
    /// is read from or written to it. A store not created yet passes (and is checked again
    /// later).
    pub(super) fn check_schema(&self) -> Result<()> {
        if self.schema_checked.load(Ordering::Acquire) {
            return Ok(());
        }
        let found = self
            .attempt_idempotent(|connection, sql| {
                let statement = connection.statement(Query::Shapes, sql)?;
                let rows = connection.client.query(&statement, &[&sql.names])?;
                Ok(found_from_rows(&rows))
            })
            .map_err(|failure| self.error("look at the store's tables", failure))?;
        // The version first: a newer foldstore may shape its tables otherwise.
        if let Some(wrong) = mismatch(&found, META) {
            return Err(self.refusal(&wrong));
        }
        let mut version = None;
        if found[META].is_some() {
            let read = self.attempt_idempotent(|connection, sql| {
                let statement = connection.statement(Query::Version, sql)?;
                Ok(connection
                    .client
                    .query_opt(&statement, &[])?
                    .map(|row| row.get::<_, String>(0)))
            });
            version = match read {
                Ok(version) => version,
                Err(failure) if failure.code() == Some(&SqlState::UNDEFINED_TABLE) => None,
                Err(failure) => return Err(self.error("read the schema version", failure)),
            };
            if let Some(version) = &version {
                self.accept_version(version)?;
            }
        }
        if let Some(wrong) = (0..META).find_map(|index| mismatch(&found, index)) {
            return Err(self.refusal(&wrong));
        }
        if version.is_some() && found[COMMITS].is_some() {
            self.schema_checked.store(true, Ordering::Release);
        }
        Ok(())
    }

    /// The error refusing a table that is not what foldstore makes.
    pub(super) fn refusal(&self, wrong: &Mismatch) -> Error {
        let name = helper_name(&self.table, wrong.index);
        let role = TABLE_ROLES[wrong.index];
        let whose = if wrong.index == COMMITS {
            String::new()
        } else {
            format!(
                ", which the store in table {} keeps as its {role},",
                self.table
            )
        };
        Error::Backend {
            backend: BACKEND,
            message: format!(
                "table {name} at {}{whose} is not a foldstore {role}: {}, where foldstore makes \
                 it with {}; foldstore neither reads nor writes it: name another table with \
                 ?table=NAME",
                self.address,
                wrong.found,
                Shape::expected()[wrong.index]
            ),
            source: None,
        }
    }

    /// Accepts the schema version `version`, or says why not.
    pub(super) fn accept_version(&self, version: &str) -> Result<()> {
        match version.trim().parse::<i64>() {
            Ok(number) if (1..=SCHEMA_VERSION).contains(&number) => Ok(()),
            Ok(number) if number > SCHEMA_VERSION => Err(Error::Backend {
                backend: BACKEND,
                message: format!(
                    "table {} at {} has schema version {number}, made by a newer foldstore; this \
                     foldstore knows versions up to {SCHEMA_VERSION}: upgrade foldstore to use \
                     this store",
                    self.table, self.address
                ),
                source: None,
            }),
            _ => Err(Error::Backend {
                backend: BACKEND,
                message: format!(
                    "table {}_meta at {} records an invalid schema version {version:?}: it was \
                     not made by foldstore, or was changed by hand; use another table name",
                    self.table, self.address
                ),
                source: None,
            }),
        }
    }

    /// One try at creating the schema, serialized with other creators by an advisory lock.
    /// Tables that exist already are checked first (see [`mismatch`]): nothing is created
    /// next to, or written to, a table that is not what foldstore makes.
    pub(super) fn create_schema(
        connection: &mut Connection,
        sql: &Sql,
    ) -> Result<SchemaOutcome, postgres::Error> {
        let mut transaction = connection.client.transaction()?;
        transaction.execute("SELECT pg_advisory_xact_lock($1)", &[&sql.lock_key])?;
        let rows = transaction.query(sql.shapes.as_str(), &[&sql.names])?;
        let found = found_from_rows(&rows);
        if let Some(wrong) = mismatch(&found, META) {
            transaction.rollback()?;
            return Ok(SchemaOutcome::Wrong(wrong));
        }
        let version: Option<String> = if found[META].is_some() {
            transaction
                .query_opt(sql.version.as_str(), &[])?
                .map(|row| row.get(0))
        } else {
            None
        };
        if let Some(version) = &version {
            if version.trim() != SCHEMA_VERSION.to_string() {
                // Refused by the caller; nothing to keep.
                transaction.rollback()?;
                return Ok(SchemaOutcome::Unknown(version.clone()));
            }
        }
        if let Some(wrong) = (0..META).find_map(|index| mismatch(&found, index)) {
            transaction.rollback()?;
            return Ok(SchemaOutcome::Wrong(wrong));
        }
        if version.is_some() && found.iter().all(Option::is_some) {
            // Made before: nothing to do (recreating the trigger would lock the table).
            transaction.commit()?;
            return Ok(SchemaOutcome::Ready);
        }
        transaction.batch_execute(&sql.meta_table)?;
        transaction.batch_execute(&sql.schema)?;
        transaction.commit()?;
        Ok(SchemaOutcome::Ready)
    }
}

/// The index in [`Found`] of the commits table.
const COMMITS: usize = 0;

/// The index in [`Found`] of the schema-version table.
const META: usize = 3;

/// The name of the store's table at `index` of [`Found`], for the commits table `table`.
fn helper_name(table: &str, index: usize) -> String {
    match index
        .checked_sub(1)
        .and_then(|helper| HELPER_SUFFIXES.get(helper))
    {
        Some(suffix) => format!("{table}{suffix}"),
        None => table.to_owned(),
    }
}

/// The store's tables as found by [`Sql::shapes`]'s rows: (index + 1, relkind, column name,
/// column type, whether the column is in the primary key); a table without columns has one
/// row with no column.
fn found_from_rows(rows: &[postgres::Row]) -> Found {
    let mut found: Found = Default::default();
    for row in rows {
        let Some(index) = usize::try_from(row.get::<_, i64>(0) - 1)
            .ok()
            .filter(|index| *index < found.len())
        else {
            continue;
        };
        let (_, shape) = found[index].get_or_insert_with(|| {
            (
                row.get::<_, String>(1),
                Shape {
                    columns: Vec::new(),
                    key: Vec::new(),
                },
            )
        });
        if let Some(column) = row.get::<_, Option<String>>(2) {
            if row.get::<_, bool>(4) {
                shape.key.push(column.clone());
            }
            shape
                .columns
                .push((column, row.get::<_, Option<String>>(3).unwrap_or_default()));
        }
    }
    for (_, shape) in found.iter_mut().flatten() {
        shape.columns.sort();
        shape.key.sort();
    }
    found
}

/// How a table that exists differs from what foldstore makes.
#[derive(Debug)]
pub(super) struct Mismatch {
    /// Which table, as an index of [`Found`].
    pub(super) index: usize,
    /// What it is, for messages ("it has columns (...) and ...").
    found: String,
}

/// How the table at `index` of `found` differs from what foldstore makes, when it exists and
/// does: another kind of relation (a view, ...), other columns or column types, or another
/// primary key.
fn mismatch(found: &Found, index: usize) -> Option<Mismatch> {
    let (kind, shape) = found[index].as_ref()?;
    let what = match kind.as_str() {
        // Ordinary and partitioned tables.
        "r" | "p" if *shape == Shape::expected()[index] => return None,
        "r" | "p" => format!("it has {shape}"),
        "v" => "it is a view".to_owned(),
        "m" => "it is a materialized view".to_owned(),
        "f" => "it is a foreign table".to_owned(),
        "S" => "it is a sequence".to_owned(),
        "i" | "I" => "it is an index".to_owned(),
        "c" => "it is a composite type".to_owned(),
        other => format!("it is not a table (relkind {other:?})"),
    };
    Some(Mismatch { index, found: what })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::postgres::sql::quote;

    #[test]
    fn helper_tables_are_named_after_the_commit_table() {
        let names: Vec<String> = (0..4).map(|index| helper_name("t", index)).collect();
        assert_eq!(names, ["t", "t_snapshots", "t_quarantine", "t_meta"]);
        let sql = Sql::new("t");
        let quoted: Vec<String> = names.iter().map(|name| quote(name)).collect();
        assert_eq!(sql.names, quoted);
        let created = format!("{} {}", sql.meta_table, sql.schema);
        for name in &quoted {
            assert!(
                created.contains(&format!("CREATE TABLE IF NOT EXISTS {name} (")),
                "{name}"
            );
        }
    }
}
