//! Evolving events (issue 16): versions, upcasters on every read path, checking a definition
//! and migrating by copy, on the fixture of three generations of the membership events
//! (`tests/fixtures/generations/`), written by the original package and by foldstore.

#[path = "../common/mod.rs"]
mod common;
mod generations;
mod paths;

use std::collections::BTreeMap;

use foldstore::{Event, EventContext, ModelDefinition, Upcaster, Upcasters, View};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The newest shape of an address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Address {
    pub(crate) street: String,
    pub(crate) city: String,
    pub(crate) country: String,
}

/// The guide's membership events, in their newest shape.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", content = "data", rename_all = "camelCase")]
pub(crate) enum MemberEvent {
    NewMemberRegistered { name: String, address: Address },
    MemberHasMoved { name: String, address: Address },
}

/// The membership list (name to address), with or without the upcasters, and with a
/// snapshot version.
pub(crate) struct Membership {
    pub(crate) upcasters: Upcasters,
    pub(crate) version: Option<u64>,
}

impl Membership {
    pub(crate) fn evolved() -> Self {
        Membership {
            upcasters: three_upcasters(),
            version: Some(2),
        }
    }
    pub(crate) fn naive() -> Self {
        Membership {
            upcasters: Upcasters::new(),
            version: Some(1),
        }
    }
}

impl ModelDefinition for Membership {
    type Data = BTreeMap<String, Address>;
    type Event = MemberEvent;
    type Error = String;
    type Domain<V: View<Self>> = V;

    fn snapshot_name(&self) -> Option<&str> {
        Some("members")
    }
    fn version(&self) -> Option<u64> {
        self.version
    }
    fn upcasters(&self) -> Upcasters {
        self.upcasters.clone()
    }
    fn initial_data(&self) -> Self::Data {
        BTreeMap::new()
    }
    fn apply(
        &self,
        data: &mut Self::Data,
        event: MemberEvent,
        _: &EventContext<'_>,
    ) -> Result<(), String> {
        match event {
            MemberEvent::NewMemberRegistered { name, address } => {
                data.insert(name, address);
            }
            MemberEvent::MemberHasMoved { name, address } => match data.get_mut(&name) {
                Some(known) => *known = address,
                None => return Err(format!("{name} is not a member")),
            },
        }
        Ok(())
    }
    fn domain<V: View<Self>>(&self, view: V) -> V {
        view
    }
}

pub(crate) const RENAME: &str = "memberMoved -> memberHasMoved";
pub(crate) const SPLIT: &str = "address string to {street, city}";
pub(crate) const COUNTRY: &str = "country added";

/// The fixture README's three upcasters.
pub(crate) fn three_upcasters() -> Upcasters {
    let names = ["newMemberRegistered", "memberHasMoved"];
    Upcasters::new()
        .rename("memberMoved", "memberHasMoved")
        .with(
            Upcaster::new(SPLIT, |mut event: Event| {
                let data = event.data_mut().ok_or("no data")?;
                let text = data["address"].as_str().ok_or("no address")?.to_owned();
                let (street, city) = text
                    .rsplit_once(", ")
                    .ok_or_else(|| format!("the address {text:?} has no \", \""))?;
                data["address"] = json!({"street": street, "city": city});
                Ok::<_, String>(event)
            })
            .for_names(names)
            .when(|event| address(event).is_some_and(Value::is_string)),
        )
        .with(
            Upcaster::new(COUNTRY, |mut event: Event| {
                if let Some(Value::Object(address)) =
                    event.data_mut().and_then(|data| data.get_mut("address"))
                {
                    address.insert("country".to_owned(), json!("unknown"));
                }
                Ok::<_, String>(event)
            })
            .for_names(names)
            .when(|event| {
                address(event).is_some_and(|a| a.is_object() && a.get("country").is_none())
            }),
        )
}

fn address(event: &Event) -> Option<&Value> {
    event.data()?.get("address")
}

/// The state the fixture's README says the log folds to.
pub(crate) fn expected_members() -> BTreeMap<String, Address> {
    let at = |street: &str, city: &str, country: &str| Address {
        street: street.into(),
        city: city.into(),
        country: country.into(),
    };
    BTreeMap::from([
        ("peter pan".into(), at("Skull Rock", "Neverland", "unknown")),
        (
            "wendy darling".into(),
            at("5 Harbour Street", "Oslo", "Norway"),
        ),
        (
            "john darling".into(),
            at("3 Fjord Lane", "Bergen", "unknown"),
        ),
        (
            "captain hook".into(),
            at("Crocodile Creek", "Neverland", "Neverland"),
        ),
        (
            "tinker bell".into(),
            at("Pixie Hollow", "Neverland", "Neverland"),
        ),
    ])
}
