//! Archiving a PostgreSQL store: its commits before a point go to a folder archive, the rows
//! are deleted, the marker is a row of the meta table, and the store reads on from the archive.

use foldstore::{ArchiveOptions, ArchiveUpTo, Error, Event, PostgresStorage, Storage, Store};
use serde_json::json;

#[test]
fn a_postgres_store_is_archived_into_a_folder_and_read_back() {
    let Some((storage, table, url)) = crate::pg_server::fresh_postgres() else {
        return;
    };
    let address = crate::pg_server::url_with_table(&url, &table);
    let store = Store::with_storage(storage);
    store.ensure_folder().unwrap();
    // A store that knows the log up to commit 10 and appends after a decision made there.
    let mut deciding = None;
    for i in 0..300 {
        if i == 10 {
            let knows = Store::open(&address).unwrap();
            assert_eq!(knows.tip().unwrap(), 10);
            deciding = Some(knows);
        }
        store
            .log(&Event::with_data("numbered", json!({ "i": i })))
            .unwrap();
    }
    let before: Vec<Vec<u8>> = (1..=300)
        .map(|n| store.storage().read_commit(n).unwrap().unwrap())
        .collect();
    // A store that read the log's start before the archiving.
    let stale = Store::open(&address).unwrap();
    assert_eq!(stale.log_start().unwrap(), 1);
    let temp = tempfile::tempdir().unwrap();
    let archive = temp.path().join("archive");
    let options = ArchiveOptions::at(&archive, ArchiveUpTo::Commit(250)).unwrap();
    let report = store.archive(&options, |_, _, _| {}).unwrap();
    // Its decision needs the archived commits 11 to 250 checked: named as archived, not as
    // damaged (the emptied rows).
    let condition = foldstore::AppendCondition::none_matching_after(foldstore::Query::tag("x"), 10);
    let decided = deciding
        .unwrap()
        .append_if(&[Event::new("decided").tagged(["x"])], &condition);
    assert!(
        matches!(decided, Err(Error::Archived { start: 251, .. })),
        "{decided:?}"
    );
    // It reads the emptied rows as archived commits, not as empty documents.
    for read in [
        stale.storage().read_commit(7).map(|_| ()),
        stale.storage().read_commits(7, 10).map(|_| ()),
    ] {
        assert!(
            matches!(
                read,
                Err(Error::Archived {
                    commit: 7,
                    start: 251,
                    ..
                })
            ),
            "{read:?}"
        );
    }
    assert_eq!(
        (report.first, report.last, report.start, report.removed),
        (1, 250, 251, 250)
    );

    // The documents are gone (the rows stay, emptied: their numbers stay taken); the marker is
    // in the meta table.
    let raw = PostgresStorage::connect(&address).unwrap();
    assert_eq!(raw.read_commit(7).unwrap(), Some(Vec::new()));
    assert_eq!(raw.read_commit(251).unwrap().as_ref(), Some(&before[250]));
    assert!(raw.read_meta("archived.json").unwrap().is_some());
    // A writer that knew the log before the archiving cannot write into the archived numbers.
    assert!(matches!(
        raw.create_commit(7, b"{\"events\":[]}"),
        Ok(Err(_))
    ));

    let alone = Store::open(&address).unwrap();
    assert_eq!(
        (alone.log_start().unwrap(), alone.tip().unwrap()),
        (251, 300)
    );
    let error = alone.storage().read_commit(1).unwrap_err();
    assert!(
        matches!(
            error,
            Error::Archived {
                commit: 1,
                start: 251,
                ..
            }
        ),
        "{error}"
    );
    assert_eq!(
        alone.log(&Event::new("after")).unwrap(),
        301,
        "appends go on"
    );
    assert!(alone.verify(|_, _| {}).unwrap().is_sound());

    // Archiving again with nothing new to archive (a scheduled run) changes nothing: the
    // emptied rows before the start are the earlier run's, not leftovers to refuse.
    for up_to in [250, 100] {
        let again = ArchiveOptions::at(&archive, ArchiveUpTo::Commit(up_to)).unwrap();
        let report = alone.archive(&again, |_, _, _| {}).unwrap();
        assert_eq!((report.last, report.start), (0, 251), "{up_to}");
    }

    let whole = Store::builder(&address)
        .archive_at(&archive)
        .unwrap()
        .open()
        .unwrap();
    let read: Vec<Vec<u8>> = (1..=300)
        .map(|n| whole.storage().read_commit(n).unwrap().unwrap())
        .collect();
    assert_eq!(read, before);
    let mut count = 0;
    whole.replay_event_stream(|_, _| count += 1).unwrap();
    assert_eq!(count, 301);

    // A damaged marker is named as the row it is.
    raw.write_meta("archived.json", b"{").unwrap();
    let error = Store::open(&address)
        .unwrap()
        .log_start()
        .unwrap_err()
        .to_string();
    assert!(
        error.contains(&format!("table {table}_meta, row meta:archived.json")),
        "{error}"
    );
}
