//! Forgettable data, for the shell: logs the tutorial's members into a store, each member's
//! data sealed with their own key from a folder key store, then replays what a reader with the
//! keys sees. Run it, then `foldstore keys` and `foldstore forget` on the key store, and run it
//! with `--read` to see a forgotten member's placeholder (see the README and docs/guide.md,
//! section 9).
//!
//! ```sh
//! foldstore keys --new-master-key ./master.key
//! cargo run -p foldstore --example forget -- ./members ./member-keys ./master.key
//! foldstore forget 'member:peter pan' --keys ./member-keys --master-key-file ./master.key
//! cargo run -p foldstore --example forget -- ./members ./member-keys ./master.key --read
//! ```

use foldstore::{Event, FolderKeyStore, MasterKey, Store};
use serde_json::json;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (store, keys, master, read_only) = match args.as_slice() {
        [store, keys, master] => (store, keys, master, false),
        [store, keys, master, flag] if flag == "--read" => (store, keys, master, true),
        _ => return Err("usage: forget STORE KEYS MASTER_KEY_FILE [--read]".into()),
    };
    let keys = FolderKeyStore::open(keys, MasterKey::from_file(master)?)?;
    let store = Store::builder(store)
        .key_store(keys)
        .subject_tags("member:")
        .open()?;
    if !read_only {
        store.ensure_folder()?;
        for (name, address) in [("peter pan", "Neverland"), ("wendy darling", "Bloomsbury")] {
            let data = json!({"name": name, "address": address});
            store.log(
                &Event::with_data("newMemberRegistered", data).tagged([format!("member:{name}")]),
            )?;
        }
    }
    store.replay_event_stream(|event, _| {
        println!("{} {}", event.name(), event.data().unwrap_or(&json!(null)));
    })?;
    Ok(())
}
