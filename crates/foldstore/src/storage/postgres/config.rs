//! From a URL or a client configuration to a [`PostgresStorage`]: parameters, table names,
//! the time limit on connecting, and the address shown in messages (never the password).

use std::sync::atomic::AtomicBool;
use std::sync::Mutex;
use std::time::Duration;

use postgres::config::Host;
use postgres::Config;

use super::connection::describe;
use super::schema::HELPER_SUFFIXES;
use super::sql::Sql;
use super::{
    PostgresStorage, BACKEND, DEFAULT_CONNECT_TIMEOUT, DEFAULT_TABLE, MAX_TABLE_NAME_LENGTH,
};
use crate::error::{Error, Result};

impl PostgresStorage {
    /// A backend for the URL `postgres://user[:password]@host[:port]/database[?table=NAME]`
    /// (`postgresql://` works too). The `table` parameter names the commits table (by default
    /// [`DEFAULT_TABLE`](Self::DEFAULT_TABLE)); it may not end in `_snapshots`, `_quarantine`
    /// or `_meta` (see the type's docs). The other parameters are PostgreSQL's own
    /// (`connect_timeout`, `application_name`, ...); `connect_timeout` (seconds, 10 by default,
    /// 0 for no limit) bounds the whole of making a connection, startup and authentication
    /// included.
    ///
    /// No connection is made yet: the first operation connects.
    ///
    /// # Errors
    /// [`Error::Backend`] when the URL is not a PostgreSQL URL, cannot be parsed, names no
    /// host, or names an invalid table. The message shows the URL without its password.
    pub fn connect(url: &str) -> Result<Self> {
        let shown = crate::storage::address::redact_url(url);
        let invalid = |problem: String| Error::Backend {
            backend: BACKEND,
            message: format!("invalid PostgreSQL URL {shown}: {problem}"),
            source: None,
        };
        let rest = if let Some(rest) = url.strip_prefix("postgres://") {
            rest
        } else if let Some(rest) = url.strip_prefix("postgresql://") {
            rest
        } else {
            return Err(invalid(
                "it must start with postgres:// or postgresql:// \
                 (e.g. postgres://user:password@localhost:5432/database?table=foldstore)"
                    .to_owned(),
            ));
        };
        let (base, query) = match rest.split_once('?') {
            Some((base, query)) => (base, Some(query)),
            None => (rest, None),
        };
        let mut table = None;
        let mut kept = Vec::new();
        let mut unlimited = false;
        for parameter in query.into_iter().flat_map(|query| query.split('&')) {
            match parameter.split_once('=') {
                Some(("connect_timeout", seconds)) => {
                    // As for libpq, zero or less is no limit (the client library ignores it).
                    unlimited = seconds
                        .trim()
                        .parse::<i64>()
                        .is_ok_and(|seconds| seconds <= 0);
                    kept.push(parameter);
                }
                Some(("table", name)) => {
                    if table.replace(name).is_some() {
                        return Err(invalid("it names the table twice".to_owned()));
                    }
                }
                _ if parameter == "table" => {
                    return Err(invalid(
                        "its table parameter has no value (write ?table=NAME)".to_owned(),
                    ))
                }
                _ if parameter.is_empty() => {}
                _ => kept.push(parameter),
            }
        }
        let mut cleaned = format!("postgres://{base}");
        if !kept.is_empty() {
            cleaned.push('?');
            cleaned.push_str(&kept.join("&"));
        }
        let config: Config = cleaned
            .parse()
            .map_err(|e: postgres::Error| invalid(describe(&e)))?;
        if config.get_hosts().is_empty() {
            return Err(invalid(
                "it names no host (e.g. postgres://user@localhost:5432/database)".to_owned(),
            ));
        }
        let table = table.unwrap_or(DEFAULT_TABLE);
        validate_table_name(table).map_err(invalid)?;
        let limit = (!unlimited).then(|| connect_limit(&config));
        Ok(Self::build(config, table, limit))
    }

    /// A backend on the server and database `config` names, in the table `table`.
    ///
    /// No connection is made yet: the first operation connects.
    ///
    /// Making a connection may take `config`'s connect timeout (10 s when it sets none), startup
    /// and authentication included.
    ///
    /// # Errors
    /// [`Error::Backend`] when `table` is not a valid table name (letters, digits and
    /// underscores, not starting with a digit, at most [`MAX_TABLE_NAME_LENGTH`](Self::MAX_TABLE_NAME_LENGTH) characters,
    /// not ending in `_snapshots`, `_quarantine` or `_meta`), or `config` names no host.
    pub fn with_config(config: Config, table: &str) -> Result<Self> {
        let address = address(&config);
        if config.get_hosts().is_empty() {
            return Err(Error::Backend {
                backend: BACKEND,
                message: format!("the PostgreSQL configuration for {address} names no host"),
                source: None,
            });
        }
        validate_table_name(table).map_err(|problem| Error::Backend {
            backend: BACKEND,
            message: format!("invalid table for {address}: {problem}"),
            source: None,
        })?;
        let limit = connect_limit(&config);
        Ok(Self::build(config, table, Some(limit)))
    }

    fn build(mut config: Config, table: &str, connect_limit: Option<Duration>) -> Self {
        // The client applies it to each TCP connection; `connect_limit` bounds the whole.
        if config.get_connect_timeout().is_none() && connect_limit.is_some() {
            config.connect_timeout(DEFAULT_CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("foldstore");
        }
        PostgresStorage {
            address: address(&config),
            sql: Sql::new(table),
            table: table.to_owned(),
            config,
            idle: Mutex::new(Vec::new()),
            schema_checked: AtomicBool::new(false),
            connect_limit,
            batches: super::batch::Batches::default(),
        }
    }

    /// The commits table's name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The server and database, as a URL without the password (e.g.
    /// `postgres://user@localhost:5432/database`).
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The notification channel on which every new commit's number is published (the table's
    /// name), for programs that want to `LISTEN` themselves.
    pub fn channel(&self) -> &str {
        &self.table
    }
}

/// The time limit on connecting for `config`: its `connect_timeout` (by default
/// [`DEFAULT_CONNECT_TIMEOUT`]) for each host it names, as libpq applies it.
pub(super) fn connect_limit(config: &Config) -> Duration {
    let each = config
        .get_connect_timeout()
        .copied()
        .unwrap_or(DEFAULT_CONNECT_TIMEOUT);
    let hosts = u32::try_from(config.get_hosts().len().max(1)).unwrap_or(u32::MAX);
    each.saturating_mul(hosts)
}

/// Checks a table name: a plain identifier.
fn validate_table_name(name: &str) -> std::result::Result<(), String> {
    let problem = if name.is_empty() {
        "the table name is empty"
    } else if name.len() > MAX_TABLE_NAME_LENGTH {
        "the table name is longer than 50 characters"
    } else if name.starts_with(|c: char| c.is_ascii_digit()) {
        "the table name starts with a digit"
    } else if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        "the table name has characters other than ASCII letters, digits and '_'"
    } else {
        let lower = name.to_ascii_lowercase();
        let Some(suffix) = HELPER_SUFFIXES
            .iter()
            .find(|suffix| lower.ends_with(*suffix))
        else {
            return Ok(());
        };
        let store = &name[..name.len() - suffix.len()];
        return Err(format!(
            "the table name {name:?} ends in {suffix:?}: foldstore keeps a store's snapshots, \
             quarantine and schema version in tables named after its commit table with the \
             suffixes {}, so this name could be a helper table of the store in table \
             {store:?}, and two stores would write to one table; use a name that does not end \
             in one of them (in any case), such as ?table={store}_store",
            HELPER_SUFFIXES.join(", ")
        ));
    };
    Err(format!(
        "{problem} ({name:?}); use a plain name such as ?table=foldstore_orders"
    ))
}

/// The URL of the server and database `config` names, without the password.
pub(super) fn address(config: &Config) -> String {
    let mut text = String::from("postgres://");
    if let Some(user) = config.get_user() {
        text.push_str(user);
        text.push('@');
    }
    let ports = config.get_ports();
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(index, host)| {
            let name = match host {
                Host::Tcp(name) if name.contains(':') => format!("[{name}]"),
                Host::Tcp(name) => name.clone(),
                #[cfg(unix)]
                Host::Unix(path) => path.display().to_string(),
            };
            let port = ports
                .get(index)
                .or_else(|| ports.first())
                .copied()
                .unwrap_or(5432);
            format!("{name}:{port}")
        })
        .collect();
    text.push_str(&hosts.join(","));
    text.push('/');
    text.push_str(config.get_dbname().or(config.get_user()).unwrap_or(""));
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::address::redact_url;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://user:secret@host:5432/db?table=t"),
            "postgres://user:***@host:5432/db?table=t"
        );
        assert_eq!(
            redact_url("postgres://user@host/db?password=secret&table=t"),
            "postgres://user@host/db?password=***&table=t"
        );
        assert_eq!(redact_url("postgres://host/db"), "postgres://host/db");
    }

    #[test]
    fn table_names_are_plain_identifiers() {
        for good in ["foldstore", "Orders_2", "_x", &"a".repeat(50)] {
            assert!(validate_table_name(good).is_ok(), "{good}");
        }
        for bad in ["", "1abc", "a-b", "a b", "a\"b", "ø", &"a".repeat(51)] {
            assert!(validate_table_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn table_names_of_helper_tables_are_refused() {
        for (bad, suffix) in [
            ("x_quarantine", "_quarantine"),
            ("x_snapshots", "_snapshots"),
            ("x_meta", "_meta"),
            ("Orders_META", "_meta"),
            ("_meta", "_meta"),
            ("foldstore_quarantine_meta", "_meta"),
        ] {
            let problem = validate_table_name(bad).unwrap_err();
            assert!(problem.contains(&format!("{bad:?}")), "{problem}");
            assert!(
                problem.contains(&format!("ends in {suffix:?}")),
                "{problem}"
            );
            assert!(
                problem.contains("two stores would write to one table"),
                "{problem}"
            );
        }
        for good in [
            "x_quarantined",
            "metadata",
            "x_snapshot",
            "x_notify",
            "meta",
        ] {
            assert!(validate_table_name(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn connect_timeout_bounds_the_whole_connection_for_each_host() {
        let limit = |url: &str| PostgresStorage::connect(url).unwrap().connect_limit;
        assert_eq!(limit("postgres://u@h/db"), Some(DEFAULT_CONNECT_TIMEOUT));
        assert_eq!(
            limit("postgres://u@h/db?connect_timeout=3"),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            limit("postgres://u@h1,h2/db?connect_timeout=2&table=x"),
            Some(Duration::from_secs(4))
        );
        assert_eq!(limit("postgres://u@h/db?connect_timeout=0"), None);
        assert_eq!(limit("postgres://u@h/db?connect_timeout=-1"), None);
        let mut config = Config::new();
        config.host("h").user("u");
        let storage = PostgresStorage::with_config(config.clone(), "t").unwrap();
        assert_eq!(storage.connect_limit, Some(DEFAULT_CONNECT_TIMEOUT));
        config.connect_timeout(Duration::from_millis(1500));
        let storage = PostgresStorage::with_config(config, "t").unwrap();
        assert_eq!(storage.connect_limit, Some(Duration::from_millis(1500)));
    }
}
