//! The tutorial's membership database as a foldstore model: members keyed by name, with an
//! address and an optional membership level.

use std::collections::BTreeMap;
use std::fmt;

use foldstore::{Dispatch, Event, EventContext, ModelDefinition, View};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What happened to the membership list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", content = "data", rename_all = "camelCase")]
pub enum MemberEvent {
    /// A new member joined.
    NewMemberRegistered {
        /// Who, where, and at which level.
        member: NewMember,
    },
    /// A member left.
    MembershipEnded {
        /// The member's name.
        name: String,
    },
    /// A member's address was wrong and is corrected.
    AddressCorrected {
        /// The member's name.
        name: String,
        /// The right address.
        address: Value,
    },
    /// A member moved to a new address.
    MemberHasMoved {
        /// The member's name.
        name: String,
        /// The new address.
        address: Value,
    },
}

/// A member as registered.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewMember {
    /// The member's name, which identifies them.
    pub name: String,
    /// Any JSON: a string or an object with a street and a city.
    pub address: Value,
    /// `bronze`, `silver`, `gold`, ...
    #[serde(
        rename = "membershipLevel",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub membership_level: Option<String>,
}

/// One member in the list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Member {
    /// Where the member lives.
    pub address: Value,
    /// The member's level, if any.
    #[serde(
        rename = "membershipLevel",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub membership_level: Option<String>,
}

/// The aggregated data: members by name, and how many events no handler knew.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MemberList {
    /// The members, by name.
    #[serde(flatten)]
    pub members: BTreeMap<String, Member>,
    /// Events with names the model does not know, counted by the fallback handler.
    #[serde(rename = "__unhandled", default, skip_serializing_if = "is_zero")]
    pub unhandled: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Why the membership model refuses an event.
#[derive(Debug, PartialEq)]
pub enum Refusal {
    /// Registering a name that is registered already.
    AlreadyRegistered(String),
    /// Changing a member that is not registered.
    NotAMember(String),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::AlreadyRegistered(name) => write!(f, "{name:?} is already a member"),
            Refusal::NotAMember(name) => write!(f, "{name:?} is not a member"),
        }
    }
}

impl std::error::Error for Refusal {}

/// The membership model, saved in snapshots named `memberlist`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Membership;

impl ModelDefinition for Membership {
    type Data = MemberList;
    type Event = MemberEvent;
    type Error = Refusal;
    type Domain<V: View<Self>> = MemberListDomain<V>;

    fn snapshot_name(&self) -> Option<&str> {
        Some("memberlist")
    }

    fn initial_data(&self) -> MemberList {
        MemberList::default()
    }

    fn apply(
        &self,
        data: &mut MemberList,
        event: MemberEvent,
        _: &EventContext<'_>,
    ) -> Result<(), Refusal> {
        match event {
            MemberEvent::NewMemberRegistered { member } => {
                if data.members.contains_key(&member.name) {
                    return Err(Refusal::AlreadyRegistered(member.name));
                }
                data.members.insert(
                    member.name,
                    Member {
                        address: member.address,
                        membership_level: member.membership_level,
                    },
                );
            }
            MemberEvent::MembershipEnded { name } => {
                data.members
                    .remove(&name)
                    .ok_or(Refusal::NotAMember(name))?;
            }
            MemberEvent::AddressCorrected { name, address }
            | MemberEvent::MemberHasMoved { name, address } => {
                data.members
                    .get_mut(&name)
                    .ok_or(Refusal::NotAMember(name))?
                    .address = address;
            }
        }
        Ok(())
    }

    fn fallback(
        &self,
        data: &mut MemberList,
        _: &Event,
        _: &EventContext<'_>,
    ) -> Result<(), Refusal> {
        data.unhandled += 1;
        Ok(())
    }

    fn domain<V: View<Self>>(&self, view: V) -> MemberListDomain<V> {
        MemberListDomain { view }
    }
}

/// The domain model: questions anyone may ask, and decisions only a read-write instance makes.
#[derive(Debug)]
pub struct MemberListDomain<V> {
    view: V,
}

impl<V: View<Membership>> MemberListDomain<V> {
    /// Every member, by name.
    pub fn list_members(&self) -> &BTreeMap<String, Member> {
        &self.view.data().members
    }

    /// One member, if registered.
    pub fn member(&self, name: &str) -> Option<&Member> {
        self.view.data().members.get(name)
    }
}

impl<V: Dispatch<Membership>> MemberListDomain<V> {
    /// Registers a new member.
    ///
    /// # Errors
    /// When the name is taken.
    pub fn register_new_member(
        &mut self,
        name: &str,
        address: Value,
        level: Option<&str>,
    ) -> foldstore::Result<()> {
        self.view.dispatch(MemberEvent::NewMemberRegistered {
            member: NewMember {
                name: name.to_owned(),
                address,
                membership_level: level.map(str::to_owned),
            },
        })
    }

    /// Ends a membership.
    ///
    /// # Errors
    /// When there is no such member.
    pub fn end_membership(&mut self, name: &str) -> foldstore::Result<()> {
        self.view.dispatch(MemberEvent::MembershipEnded {
            name: name.to_owned(),
        })
    }

    /// Corrects a member's address.
    ///
    /// # Errors
    /// When there is no such member.
    pub fn correct_address(&mut self, name: &str, address: Value) -> foldstore::Result<()> {
        self.view.dispatch(MemberEvent::AddressCorrected {
            name: name.to_owned(),
            address,
        })
    }

    /// Records that a member moved.
    ///
    /// # Errors
    /// When there is no such member.
    pub fn member_has_moved(&mut self, name: &str, address: Value) -> foldstore::Result<()> {
        self.view.dispatch(MemberEvent::MemberHasMoved {
            name: name.to_owned(),
            address,
        })
    }
}
