//! Watching a store: a connection that `LISTEN`s on the store's channel, made again when it
//! fails, for subscribers.

use std::time::Duration;

use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, Config};

use super::connection::{connect_within, describe, Failure};
use super::PostgresStorage;
use crate::error::Result;
use crate::storage::Watch;

/// The longest a watch sleeps before trying again to listen when the server is unreachable.
const WATCH_RECONNECT_PAUSE: Duration = Duration::from_secs(1);

impl PostgresStorage {
    pub(super) fn listen(
        config: &Config,
        limit: Option<Duration>,
        sql: &str,
    ) -> Result<Client, Failure> {
        let mut client = connect_within(config, limit).map_err(Failure::Connect)?;
        client.batch_execute(sql).map_err(Failure::Query)?;
        Ok(client)
    }

    /// A watch on the store's channel (see [`Storage::watch`](crate::storage::Storage::watch)).
    pub(super) fn listen_for_commits(&self) -> Result<Option<Box<dyn Watch>>> {
        let client = Self::listen(&self.config, self.connect_limit, &self.sql.listen)
            .map_err(|failure| self.error("listen for new commits", failure))?;
        Ok(Some(Box::new(PostgresWatch {
            config: self.config.clone(),
            connect_limit: self.connect_limit,
            listen: self.sql.listen.clone(),
            address: self.address.clone(),
            client: Some(client),
        })))
    }
}

/// A connection that listens on a store's notification channel.
struct PostgresWatch {
    pub(super) config: Config,
    /// The time limit on making a connection.
    pub(super) connect_limit: Option<Duration>,
    /// The `LISTEN` statement.
    pub(super) listen: String,
    /// For logs.
    pub(super) address: String,
    /// The listening connection; `None` after it failed, until it is made again.
    pub(super) client: Option<Client>,
}

impl Watch for PostgresWatch {
    fn wait(&mut self, timeout: Duration) -> bool {
        let Some(client) = self.client.as_mut() else {
            return match PostgresStorage::listen(&self.config, self.connect_limit, &self.listen) {
                Ok(client) => {
                    tracing::debug!(address = %self.address, "listening again for new commits");
                    self.client = Some(client);
                    // Commits made while nobody listened went unnoticed.
                    true
                }
                Err(e) => {
                    tracing::warn!(address = %self.address, error = %e.describe(), "cannot listen for new commits");
                    // The subscriber looks for itself meanwhile.
                    std::thread::sleep(timeout.min(WATCH_RECONNECT_PAUSE));
                    true
                }
            };
        };
        let result = {
            let mut notifications = client.notifications();
            let first = notifications.timeout_iter(timeout).next();
            if let Ok(Some(_)) = first {
                // Take every notice that has arrived already: one wake-up is enough for them.
                while let Ok(Some(_)) = notifications.iter().next() {}
            }
            first.map(|notification| notification.is_some())
        };
        match result {
            Ok(noticed) if !client.is_closed() => noticed,
            Ok(_) => {
                tracing::debug!(address = %self.address, "the listening connection was closed");
                self.client = None;
                true
            }
            Err(e) => {
                tracing::debug!(address = %self.address, error = %describe(&e), "the listening connection failed");
                self.client = None;
                true
            }
        }
    }
}
