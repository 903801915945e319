//! A fresh store on each backend available here (memory, loose, journal, and PostgreSQL and S3
//! when their servers are configured), for tests that check one behaviour everywhere.
//! Included with `#[path = "common/backends.rs"] mod backends;`.

use std::sync::Arc;

use foldstore::{JournalStorage, LooseStorage, MemoryStorage, Storage, Store};
use tempfile::TempDir;

#[cfg(feature = "postgres")]
#[path = "postgres.rs"]
mod pg_server;
#[cfg(feature = "s3")]
#[path = "s3.rs"]
mod s3_server;

/// One backend under test, with a name, and a way to open a second handle on the same data
/// (as another process would).
pub struct Backend {
    pub name: &'static str,
    storage: Arc<dyn Storage>,
    _dir: Option<TempDir>,
}

impl Backend {
    /// A store on the backend, created.
    pub fn store(&self) -> Store {
        let store = Store::with_shared_storage(Arc::clone(&self.storage));
        store.ensure_folder().unwrap();
        store
    }

    /// A second, independent store on the same data: its own tip cache and index.
    pub fn other_handle(&self) -> Store {
        Store::with_shared_storage(Arc::clone(&self.storage))
    }
}

/// Every backend available here, fresh and empty.
pub fn backends() -> Vec<Backend> {
    let mut all = vec![Backend {
        name: "memory",
        storage: Arc::new(MemoryStorage::new()),
        _dir: None,
    }];
    let dir = TempDir::new().unwrap();
    all.push(Backend {
        name: "loose",
        storage: Arc::new(LooseStorage::new(dir.path().join("store"))),
        _dir: Some(dir),
    });
    let dir = TempDir::new().unwrap();
    all.push(Backend {
        name: "journal",
        storage: Arc::new(JournalStorage::new(dir.path().join("store"))),
        _dir: Some(dir),
    });
    #[cfg(feature = "postgres")]
    if let Some(storage) = pg_server::fresh_storage() {
        all.push(Backend {
            name: "postgres",
            storage: Arc::from(storage),
            _dir: None,
        });
    }
    #[cfg(feature = "s3")]
    if let Some(storage) = s3_server::fresh_storage() {
        all.push(Backend {
            name: "s3",
            storage: Arc::from(storage),
            _dir: None,
        });
    }
    all
}
