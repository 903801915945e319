use foldstore::{Durability, Event, EventContext, ModelDefinition, Store, View};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "name", content = "data", rename_all = "camelCase")]
enum MemberEvent {
    NewMemberRegistered { name: String, address: Value },
    MemberHasMoved { name: String, address: Value },
}
struct M;
impl ModelDefinition for M {
    type Data = BTreeMap<String, Value>;
    type Event = MemberEvent;
    type Error = String;
    type Domain<V: View<Self>> = V;
    fn initial_data(&self) -> Self::Data {
        BTreeMap::new()
    }
    fn apply(
        &self,
        d: &mut Self::Data,
        e: MemberEvent,
        _: &EventContext<'_>,
    ) -> Result<(), String> {
        match e {
            MemberEvent::NewMemberRegistered { name, address }
            | MemberEvent::MemberHasMoved { name, address } => {
                if name.len() < 10 {
                    d.insert(name, address);
                }
            }
        }
        Ok(())
    }
    fn domain<V: View<Self>>(&self, v: V) -> V {
        v
    }
}
fn main() {
    let path = std::env::args().nth(1).unwrap();
    let what = std::env::args().nth(2).unwrap();
    let store = Store::builder(&path)
        .durability(Durability::None)
        .layout(foldstore::Layout::Journal)
        .open()
        .unwrap();
    if what == "build" {
        store.ensure_folder().unwrap();
        for i in 0..300_000u64 {
            store.log(&Event::with_data("memberHasMoved", json!({"name": format!("member {i}"), "address": {"street": format!("{i} Rykkinnveien"), "city": "Rykkinn"}}))).unwrap();
        }
        return;
    }
    let t = std::time::Instant::now();
    if what == "replay" {
        let mut n = 0;
        store
            .replay_event_stream(|e, _| n += e.name().len())
            .unwrap();
    } else {
        let model = store.define_model(M).unwrap();
        let d = model.aggregator_data().unwrap();
        assert!(d.len() > 0);
    }
    eprintln!(
        "{what}: {:.0} commits/s",
        300_000.0 / t.elapsed().as_secs_f64()
    );
}
