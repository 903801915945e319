//! Read-write instances on a large model: how much of a commit is the private copy of the data.
//!
//! Each round of `read_write_instance` moves one member (the data keeps its size) through a
//! read-write instance on a folder store (without syncs, so the disk does not hide the model's own cost);
//! `clone_data` clones the same data alone, as the baseline in the same run. When the two are
//! close, copying the data per attempt dominates. Each is measured with the members in a
//! `BTreeMap` and in an `imbl::OrdMap`, whose clones share structure and cost almost nothing.
//!
//! ```sh
//! cargo bench -p foldstore --bench model
//! ```

// criterion's macros define undocumented public functions.
#![allow(missing_docs)]

use std::collections::BTreeMap;
use std::hint::black_box;
use std::marker::PhantomData;
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion};
use foldstore::DEFAULT_MAX_ATTEMPTS;
use foldstore::{Dispatch, Durability, Error, Event, EventContext, ModelDefinition, Store, View};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "name", content = "data", rename_all = "camelCase")]
enum MemberEvent {
    NewMemberRegistered { name: String, address: String },
    MemberHasMoved { name: String, address: String },
}

/// The members by name, in some kind of map.
trait MemberMap: Clone + Default + Serialize + DeserializeOwned + Send + Sync + 'static {
    const KIND: &'static str;
    fn register(&mut self, name: String, address: String) -> bool;
    fn relocate(&mut self, name: &str, address: String) -> bool;
    fn count(&self) -> usize;
}

/// Implements [`MemberMap`] for a map type whose `insert`, `get_mut` and `len` behave as
/// `BTreeMap`'s do.
macro_rules! member_map {
    ($map:ty, $kind:literal) => {
        impl MemberMap for $map {
            const KIND: &'static str = $kind;
            fn register(&mut self, name: String, address: String) -> bool {
                self.insert(name, address).is_none()
            }
            fn relocate(&mut self, name: &str, address: String) -> bool {
                self.get_mut(name).map(|a| *a = address).is_some()
            }
            fn count(&self) -> usize {
                self.len()
            }
        }
    };
}

member_map!(BTreeMap<String, String>, "btreemap");
member_map!(imbl::OrdMap<String, String>, "imbl_ordmap");

struct Members<M>(PhantomData<fn() -> M>);

impl<M: MemberMap> ModelDefinition for Members<M> {
    type Data = M;
    type Event = MemberEvent;
    type Error = String;
    type Domain<V: View<Self>> = V;

    fn initial_data(&self) -> M {
        M::default()
    }

    fn apply(&self, data: &mut M, event: MemberEvent, _: &EventContext<'_>) -> Result<(), String> {
        match event {
            MemberEvent::NewMemberRegistered { name, address } => {
                if !data.register(name.clone(), address) {
                    return Err(format!("{name} is already a member"));
                }
            }
            MemberEvent::MemberHasMoved { name, address } => {
                if !data.relocate(&name, address) {
                    return Err(format!("{name} is not a member"));
                }
            }
        }
        Ok(())
    }

    fn domain<V: View<Self>>(&self, view: V) -> V {
        view
    }
}

/// A folder store whose model holds `members` members, registered 1,000 to a commit.
fn store_with(dir: &tempfile::TempDir, members: u64) -> Store {
    let store = Store::builder(dir.path())
        .durability(Durability::None)
        .open()
        .expect("open");
    store.ensure_folder().expect("create the folder");
    for chunk in 0..members.div_ceil(1000) {
        store
            .log_block(|block| {
                for i in chunk * 1000..((chunk + 1) * 1000).min(members) {
                    block.log(&MemberEvent::NewMemberRegistered {
                        name: format!("member {i}"),
                        address: format!("street {i}"),
                    })?;
                }
                block.mark_as_complete();
                Ok::<_, Error>(())
            })
            .expect("register members");
    }
    store
}

fn measure<M: MemberMap>(group: &mut BenchmarkGroup<'_, WallTime>, members: u64) {
    let dir = tempfile::tempdir().expect("a folder");
    let store = store_with(&dir, members);
    let model = store
        .define_model(Members::<M>(PhantomData))
        .expect("define");
    let data = model.aggregator_data().expect("fold").clone();
    assert_eq!(data.count() as u64, members);
    let kind = M::KIND;
    group.bench_function(format!("clone_data/{kind}/{members}_members"), |b| {
        b.iter(|| black_box(&data).clone());
    });
    let mut round = 0u64;
    group.bench_function(
        format!("read_write_instance/{kind}/{members}_members"),
        |b| {
            b.iter(|| {
                round += 1;
                let name = format!("member {}", round % members);
                model
                    .with_read_write_instance(
                        |view, flag| {
                            view.dispatch(MemberEvent::MemberHasMoved {
                                name: name.clone(),
                                address: format!("street {round}"),
                            })?;
                            flag.ready_to_commit();
                            Ok::<_, Error>(())
                        },
                        DEFAULT_MAX_ATTEMPTS,
                    )
                    .expect("commit")
            });
        },
    );
}

fn read_write(c: &mut Criterion) {
    let mut group = c.benchmark_group("model");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(5));
    // A plain commit of one event, without a model: what a read-write commit costs at least.
    let dir = tempfile::tempdir().expect("a folder");
    let store = store_with(&dir, 0);
    group.bench_function("log_only", |b| {
        b.iter(|| store.log(&Event::new("tick")).expect("log"));
    });
    for members in [1_000u64, 100_000] {
        measure::<BTreeMap<String, String>>(&mut group, members);
        measure::<imbl::OrdMap<String, String>>(&mut group, members);
    }
    group.finish();
}

criterion_group!(benches, read_write);
criterion_main!(benches);
