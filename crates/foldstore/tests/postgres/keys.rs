//! The PostgreSQL key store beside a PostgreSQL store: a forgotten subject's data is in no row
//! of the commits table in the clear, before or after, and opens no more once forgotten; the
//! other subjects stay readable; another master key is refused naming the table.

use crate::pg_server::{server_url, unique_table, url_with_table};
use foldstore::{Error, Event, Forgotten, KeyStore, MasterKey, PostgresKeyStore, Store};
use serde_json::{json, Value};

const SECRET: &str = "second star to the right";

fn data_of(store: &Store) -> Vec<Value> {
    let mut data = Vec::new();
    store
        .replay_event_stream(|event, _| data.push(event.data().cloned().unwrap_or(Value::Null)))
        .unwrap();
    data
}

#[test]
fn a_subject_forgotten_in_a_key_table_is_gone_from_a_postgres_store() {
    let Some(url) = server_url() else {
        return;
    };
    let commits = unique_table();
    let keys_table = format!("{}_keys", unique_table());
    let master = MasterKey::generate().unwrap();
    let keys = PostgresKeyStore::connect(&url, &keys_table, master.clone()).unwrap();
    let store = Store::builder(url_with_table(&url, &commits))
        .key_store(keys)
        .subject_tags("member:")
        .open()
        .unwrap();
    store.ensure_folder().unwrap();
    for (name, address) in [("peter pan", SECRET), ("wendy darling", "bloomsbury")] {
        let subject = format!("member:{name}");
        store
            .log(
                &Event::with_data(
                    "newMemberRegistered",
                    json!({"name": name, "address": address}),
                )
                .tagged([subject.as_str()]),
            )
            .unwrap();
    }
    assert_eq!(data_of(&store)[0]["address"], SECRET);
    let stored = |store: &Store| -> String {
        (1..=2)
            .map(|n| String::from_utf8(store.storage().read_commit(n).unwrap().unwrap()).unwrap())
            .collect()
    };
    // The plain form of the same data holds the secret: the check below can fail.
    assert!(json!({"address": SECRET}).to_string().contains(SECRET));
    assert!(!stored(&store).contains(SECRET));

    assert_eq!(
        store.key_store().unwrap().subjects().unwrap(),
        ["member:peter pan", "member:wendy darling"]
    );
    assert!(store.forget("member:peter pan").unwrap());
    assert!(!store.forget("member:peter pan").unwrap());
    let data = data_of(&store);
    assert_eq!(
        Forgotten::in_data(&data[0])
            .map(|f| f.subject().to_owned())
            .as_deref(),
        Some("member:peter pan")
    );
    assert_eq!(data[1]["address"], "bloomsbury");
    assert!(!stored(&store).contains(SECRET));

    // Another process opening the keys sees the same; another master key is refused.
    let again = PostgresKeyStore::connect(&url, &keys_table, master).unwrap();
    assert_eq!(again.subjects().unwrap(), ["member:wendy darling"]);
    let error =
        PostgresKeyStore::connect(&url, &keys_table, MasterKey::generate().unwrap()).unwrap_err();
    assert!(matches!(error, Error::Keys { .. }), "{error:?}");
    assert!(error.to_string().contains(&keys_table), "{error}");
}

#[test]
fn a_foreign_table_of_the_key_table_s_name_is_an_error_not_a_panic() {
    let Some(url) = server_url() else {
        return;
    };
    let keys_table = format!("{}_keys", unique_table());
    let mut client = crate::setup::client(&url);
    client
        .batch_execute(&format!(
            "CREATE TABLE \"{keys_table}\" (subject text PRIMARY KEY, key_id integer, nonce text, sealed text); \
             INSERT INTO \"{keys_table}\" VALUES ('', 1, 'x', 'y'), ('member:peter pan', 2, 'x', 'y')"
        ))
        .unwrap();
    let opened = PostgresKeyStore::connect(&url, &keys_table, MasterKey::generate().unwrap());
    let error = match opened {
        Err(error) => error,
        Ok(keys) => keys
            .subjects()
            .and_then(|_| keys.key_for("member:peter pan").map(|_| ()))
            .unwrap_err(),
    };
    assert!(error.to_string().contains(&keys_table), "{error}");
}
