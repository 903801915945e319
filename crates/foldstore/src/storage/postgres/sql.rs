//! The SQL of every statement the backend runs, made once for a table name, and the names
//! under which a connection keeps them prepared.

use super::SCHEMA_VERSION;

/// The SQL text of every statement, made once for a table name.
#[derive(Debug)]
pub(super) struct Sql {
    pub(super) insert: String,
    pub(super) read: String,
    exists: String,
    range: String,
    pub(super) last: String,
    pub(super) append: String,
    /// A batch's documents (`$2`, an array) at consecutive numbers from the lowest free one
    /// from `$1` on, provided that number is `$3` or more (else nothing is inserted).
    append_many: String,
    /// The connection's temporary table for [`bulk`](super::bulk) creates, made if missing.
    pub(super) bulk_table: String,
    /// A binary `COPY` into that table.
    pub(super) bulk_copy: String,
    /// Its rows into the commits table where their numbers are free; those created.
    pub(super) bulk_insert: String,
    pub(super) find: String,
    modified: String,
    pub(super) commits: String,
    pub(super) snapshots: String,
    insert_snapshot: String,
    pub(super) read_snapshot: String,
    pub(super) quarantine: String,
    pub(super) version: String,
    read_derived: String,
    write_derived: String,
    remove_below: String,
    pub(super) meta_table: String,
    /// The store's tables' kinds, columns and primary keys (see [`Found`]).
    pub(super) shapes: String,
    /// The quoted names of the commits, snapshots, quarantine and meta tables, in that order:
    /// the parameter of `shapes`.
    pub(super) names: Vec<String>,
    pub(super) schema: String,
    pub(super) listen: String,
    pub(super) lock_key: i64,
}

impl Sql {
    pub(super) fn new(table: &str) -> Self {
        let commits = quote(table);
        let snapshots = quote(&format!("{table}_snapshots"));
        let quarantine = quote(&format!("{table}_quarantine"));
        let meta = quote(&format!("{table}_meta"));
        let function = quote(&format!("{table}_notify"));
        // The lowest free number from $1 on: $1 itself, or the end of the run of commits that
        // starts there (found along the primary key's index).
        let next_free = format!(
            "SELECT coalesce(\
                 (SELECT $1::bigint WHERE NOT EXISTS \
                     (SELECT 1 FROM {commits} WHERE number = $1::bigint)), \
                 (SELECT a.number + 1 FROM {commits} a WHERE a.number >= $1::bigint \
                     AND NOT EXISTS (SELECT 1 FROM {commits} b WHERE b.number = a.number + 1) \
                     ORDER BY a.number LIMIT 1))"
        );
        Sql {
            insert: format!("INSERT INTO {commits} (number, document) VALUES ($1, $2)"),
            read: format!("SELECT document FROM {commits} WHERE number = $1"),
            exists: format!("SELECT 1 FROM {commits} WHERE number = $1"),
            range: format!(
                "SELECT number, document FROM {commits} WHERE number >= $1 AND number <= {} \
                 ORDER BY number LIMIT $2",
                crate::storage::MAX_COMMIT_NUMBER
            ),
            // Rows numbered past the largest commit number are no commits (`list` names them).
            last: format!(
                "SELECT max(number) FROM {commits} WHERE number <= {}",
                crate::storage::MAX_COMMIT_NUMBER
            ),
            append: format!(
                "INSERT INTO {commits} (number, document) SELECT ({next_free}), $2 RETURNING number"
            ),
            append_many: format!(
                "WITH start AS (SELECT ({next_free}) AS number) \
                 INSERT INTO {commits} (number, document) \
                 SELECT start.number + batch.position - 1, batch.document \
                 FROM start, unnest($2::bytea[]) WITH ORDINALITY AS batch(document, position) \
                 WHERE start.number >= $3::bigint \
                 RETURNING number"
            ),
            bulk_table: "CREATE TEMPORARY TABLE IF NOT EXISTS foldstore_bulk \
                 (number bigint, document bytea) ON COMMIT DELETE ROWS"
                .to_owned(),
            bulk_copy: "COPY pg_temp.foldstore_bulk (number, document) FROM STDIN BINARY"
                .to_owned(),
            bulk_insert: format!(
                "INSERT INTO {commits} (number, document) \
                 SELECT number, document FROM pg_temp.foldstore_bulk \
                 ON CONFLICT (number) DO NOTHING RETURNING number"
            ),
            find: format!(
                "SELECT number FROM {commits} WHERE number >= $1 AND document = $2 \
                 ORDER BY number LIMIT 1"
            ),
            modified: format!("SELECT created_at FROM {commits} WHERE number = $1"),
            commits: format!("SELECT number FROM {commits} ORDER BY number"),
            snapshots: format!("SELECT name, commit FROM {snapshots}"),
            insert_snapshot: format!(
                "INSERT INTO {snapshots} (name, commit, document) VALUES ($1, $2, $3)"
            ),
            read_snapshot: format!(
                "SELECT document FROM {snapshots} WHERE name = $1 AND commit = $2"
            ),
            quarantine: format!(
                "WITH moved AS (DELETE FROM {commits} WHERE number = $1 \
                 RETURNING number, document, created_at) \
                 INSERT INTO {quarantine} (number, document, created_at) \
                 SELECT number, document, created_at FROM moved RETURNING id"
            ),
            version: format!("SELECT value FROM {meta} WHERE key = 'schema_version'"),
            // Derived data (the event index) is kept in the meta table, in hexadecimal, under
            // `derived:<name>`: no table of its own, so the schema stays as it is.
            read_derived: format!("SELECT decode(value, 'hex') FROM {meta} WHERE key = $1"),
            write_derived: format!(
                "INSERT INTO {meta} (key, value) VALUES ($1, encode($2::bytea, 'hex')) \
                 ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value"
            ),
            // Emptied, not deleted: the numbers stay taken, so that a writer that read the log's
            // start before the archiving can never create a commit there.
            remove_below: format!(
                "UPDATE {commits} SET document = ''::bytea WHERE number < $1 AND length(document) > 0"
            ),
            meta_table: format!(
                "CREATE TABLE IF NOT EXISTS {meta} (key text PRIMARY KEY, value text NOT NULL)"
            ),
            shapes: "SELECT t.ord, c.relkind::text, a.attname::text, \
                         format_type(a.atttypid, a.atttypmod) \
                             || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END, \
                         coalesce(a.attnum = ANY(i.indkey::int2[]), false) \
                     FROM unnest($1::text[]) WITH ORDINALITY AS t(name, ord) \
                     JOIN pg_class c ON c.oid = to_regclass(t.name) \
                     LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 \
                         AND NOT a.attisdropped \
                     LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary \
                     ORDER BY t.ord, a.attnum"
                .to_owned(),
            names: vec![
                commits.clone(),
                snapshots.clone(),
                quarantine.clone(),
                meta.clone(),
            ],
            schema: format!(
                "CREATE TABLE IF NOT EXISTS {commits} (\
                     number bigint PRIMARY KEY CHECK (number >= 1), \
                     document bytea NOT NULL, \
                     created_at timestamptz NOT NULL DEFAULT now()); \
                 CREATE TABLE IF NOT EXISTS {snapshots} (\
                     name text NOT NULL, \
                     commit bigint NOT NULL CHECK (commit >= 0), \
                     document bytea NOT NULL, \
                     created_at timestamptz NOT NULL DEFAULT now(), \
                     PRIMARY KEY (name, commit)); \
                 CREATE TABLE IF NOT EXISTS {quarantine} (\
                     id bigserial PRIMARY KEY, \
                     number bigint NOT NULL, \
                     document bytea NOT NULL, \
                     created_at timestamptz, \
                     quarantined_at timestamptz NOT NULL DEFAULT now()); \
                 CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS \
                 $foldstore$ BEGIN PERFORM pg_notify({channel}, NEW.number::text); \
                 RETURN NULL; END $foldstore$; \
                 DROP TRIGGER IF EXISTS {function} ON {commits}; \
                 CREATE TRIGGER {function} AFTER INSERT ON {commits} \
                     FOR EACH ROW EXECUTE FUNCTION {function}(); \
                 INSERT INTO {meta} (key, value) VALUES ('schema_version', '{SCHEMA_VERSION}') \
                     ON CONFLICT (key) DO NOTHING",
                channel = literal(table),
            ),
            listen: format!("LISTEN {commits}"),
            lock_key: lock_key(table),
        }
    }
}

/// A quoted identifier (the name was validated: no quotes in it).
pub(super) fn quote(identifier: &str) -> String {
    format!("\"{identifier}\"")
}

/// A quoted string literal (the text holds no single quote: table names are validated).
fn literal(text: &str) -> String {
    format!("'{text}'")
}

/// The advisory lock that serializes schema creation for one table name (FNV-1a of the name).
pub(super) fn lock_key(table: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in "foldstore schema ".bytes().chain(table.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    i64::from_ne_bytes(hash.to_ne_bytes())
}

/// Names for the statements a connection keeps prepared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum Query {
    Insert,
    Read,
    Exists,
    Range,
    Last,
    Append,
    AppendMany,
    Find,
    Modified,
    Commits,
    Snapshots,
    InsertSnapshot,
    ReadSnapshot,
    Quarantine,
    Version,
    ReadDerived,
    WriteDerived,
    RemoveBelow,
    Shapes,
}

impl Query {
    pub(super) fn sql(self, sql: &Sql) -> &str {
        match self {
            Query::Insert => &sql.insert,
            Query::Read => &sql.read,
            Query::Exists => &sql.exists,
            Query::Range => &sql.range,
            Query::Last => &sql.last,
            Query::Append => &sql.append,
            Query::AppendMany => &sql.append_many,
            Query::Find => &sql.find,
            Query::Modified => &sql.modified,
            Query::Commits => &sql.commits,
            Query::Snapshots => &sql.snapshots,
            Query::InsertSnapshot => &sql.insert_snapshot,
            Query::ReadSnapshot => &sql.read_snapshot,
            Query::Quarantine => &sql.quarantine,
            Query::Version => &sql.version,
            Query::ReadDerived => &sql.read_derived,
            Query::WriteDerived => &sql.write_derived,
            Query::RemoveBelow => &sql.remove_below,
            Query::Shapes => &sql.shapes,
        }
    }
}
