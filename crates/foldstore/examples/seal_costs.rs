//! What sealing costs, measured so that a busy machine's noise falls on both sides alike: the
//! same events (each tagged with one of 100 members) appended durably to two journals in turn
//! (a plain one, and one sealed and chained), one append to each, alternately first, and then
//! 100,000-commit journals (plain, and sealed) replayed in turn, the sealed one also read
//! without its key store (nothing opened: what reading its larger records costs alone). Prints
//! each side's figures and their ratio (sealed throughput / plain throughput).
//!
//! ```sh
//! cargo run --release -p foldstore --example seal_costs -- [APPENDS] [COMMITS] [REPLAYS]
//! ```
//! (defaults: 2,000 appends, 100,000 commits, 5 replays of each).

use std::path::Path;
use std::time::{Duration, Instant};

use foldstore::{Durability, Event, FolderKeyStore, Layout, MasterKey, Store};
use serde_json::json;

const MEMBERS: u64 = 100;

fn event(k: u64) -> Event {
    Event::with_data(
        "memberHasMoved",
        json!({"name": format!("member {k}"), "address": {"street": format!("{k} Rykkinnveien"), "city": "Rykkinn"}}),
    )
    .tagged([format!("member:{}", k % MEMBERS)])
}

fn open(folder: &Path, master: Option<&MasterKey>, durability: Durability, chain: bool) -> Store {
    let mut builder = Store::builder(folder.join("store"))
        .layout(Layout::Journal)
        .durability(durability)
        .chain(chain)
        .subject_tags("member:");
    if let Some(master) = master {
        builder = builder.key_store(
            FolderKeyStore::open(folder.join("keys"), master.clone()).expect("the key store"),
        );
    }
    let store = builder.open().expect("open");
    store.ensure_folder().expect("create");
    store
}

/// The process's CPU time so far (Linux; zero elsewhere).
fn cpu() -> Duration {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return Duration::ZERO;
    };
    let fields: Vec<&str> = stat[stat.rfind(')').map_or(0, |i| i + 2)..]
        .split(' ')
        .collect();
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<u64>().ok())
        .sum();
    Duration::from_millis(ticks * 10)
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn main() {
    let arg = |i: usize, default: u64| {
        std::env::args()
            .nth(i)
            .map_or(default, |a| a.parse().expect("a number"))
    };
    let (appends, commits, replays) = (arg(1, 2_000), arg(2, 100_000), arg(3, 5));
    let master = MasterKey::generate().expect("a master key");
    let dirs = [
        tempfile::tempdir().expect("a folder"),
        tempfile::tempdir().expect("a folder"),
    ];
    let masters = [None, Some(&master)];

    // Durable appends, in turn; the members' keys made beforehand.
    let stores: Vec<Store> = (0..2)
        .map(|i| open(dirs[i].path(), masters[i], Durability::Immediate, i == 1))
        .collect();
    for k in 0..MEMBERS {
        stores[1].log(&event(k)).expect("log");
    }
    // As in a store that has run a while: the folder key store keeps a key for sealing only
    // once its file is a few seconds old.
    std::thread::sleep(Duration::from_secs(3));
    let mut spent = [Duration::ZERO; 2];
    for k in 0..appends {
        for side in [k % 2, 1 - k % 2] {
            let event = event(k);
            let started = Instant::now();
            stores[side as usize].log(&event).expect("log");
            spent[side as usize] += started.elapsed();
        }
    }
    let per = |d: Duration, n: u64| d / u32::try_from(n).expect("fits");
    println!(
        "durable journal appends: plain {:?}/append, sealed and chained {:?}/append; sealed and chained throughput is {:.0}% of plain",
        per(spent[0], appends),
        per(spent[1], appends),
        100.0 * spent[0].as_secs_f64() / spent[1].as_secs_f64()
    );

    // Replays of journals written without syncs.
    let dirs = [
        tempfile::tempdir().expect("a folder"),
        tempfile::tempdir().expect("a folder"),
    ];
    for side in 0..2 {
        let store = open(dirs[side].path(), masters[side], Durability::None, false);
        for k in 0..commits {
            store.log(&event(k)).expect("log");
        }
        store.storage().sync_all().expect("sync");
    }
    // Three sides in turn: plain; sealed, opened with the key store; and sealed, read without
    // it (every datum the placeholder: the cost of reading the sealed records' bytes alone).
    let sides: [(usize, Option<&MasterKey>); 3] = [(0, None), (1, Some(&master)), (1, None)];
    let mut walls = [Vec::new(), Vec::new(), Vec::new()];
    let mut cpus = [Vec::new(), Vec::new(), Vec::new()];
    for round in 0..replays * 3 {
        let side = (round % 3) as usize;
        let (dir, master) = sides[side];
        let (wall, cpu_before) = (Instant::now(), cpu());
        let store = open(dirs[dir].path(), master, Durability::None, false);
        let mut streets = 0usize;
        let summary = store
            .replay_event_stream(|event, _| {
                streets += event
                    .data()
                    .and_then(|d| d["address"]["street"].as_str())
                    .map_or(0, str::len);
            })
            .expect("replay");
        assert_eq!(summary.events, commits);
        assert_eq!(streets > 0, side != 2, "only data opened has streets");
        walls[side].push(wall.elapsed());
        cpus[side].push(cpu() - cpu_before);
    }
    let wall: Vec<Duration> = walls.iter().map(|w| median(w.clone())).collect();
    let cpu: Vec<Duration> = cpus.iter().map(|c| median(c.clone())).collect();
    let percent = |of: &[Duration], side: usize| {
        100.0 * of[0].as_secs_f64() / of[side].as_secs_f64().max(1e-9)
    };
    println!(
        "replay of {commits} commits (median of {replays}): plain {:?} ({:?} CPU), sealed {:?} ({:?} CPU); sealed throughput is {:.0}% of plain ({:.0}% by CPU time)",
        wall[0],
        cpu[0],
        wall[1],
        cpu[1],
        percent(&wall, 1),
        percent(&cpu, 1)
    );
    println!(
        "  the sealed journal read without its key store (nothing opened): {:?} ({:?} CPU), {:.0}% of plain ({:.0}% by CPU time)",
        wall[2],
        cpu[2],
        percent(&wall, 2),
        percent(&cpu, 2)
    );
}
