//! The tutorial's membership database, on a folder store.
//!
//! ```text
//! cargo run --example memberlist -- STORE tour
//! cargo run --example memberlist -- STORE register NAME ADDRESS [LEVEL]
//! cargo run --example memberlist -- STORE move NAME ADDRESS
//! cargo run --example memberlist -- STORE correct NAME ADDRESS
//! cargo run --example memberlist -- STORE end NAME
//! cargo run --example memberlist -- STORE list
//! cargo run --example memberlist -- STORE snapshot
//! ```
//! ADDRESS is JSON when it parses as JSON (`'{"street": "x", "city": "y"}'`), text otherwise.

mod model;
mod tour;

use std::process::ExitCode;

use foldstore::DEFAULT_MAX_ATTEMPTS;
use foldstore::{Error, Store};
use serde_json::Value;

use model::Membership;

const USAGE: &str = "usage: memberlist STORE (tour | list | snapshot | register NAME ADDRESS [LEVEL] | move NAME ADDRESS | correct NAME ADDRESS | end NAME)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn address(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

fn run(args: &[String]) -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let [path, command, rest @ ..] = args.as_slice() else {
        return Err(USAGE.into());
    };
    if *command == "tour" {
        return tour::run(path.as_ref(), &mut std::io::stdout());
    }
    let store = Store::open(path)?;
    store.ensure_folder()?;
    let members = store.define_model(Membership)?;
    let write = |change: &dyn Fn(
        &mut model::MemberListDomain<&mut foldstore::Writer<Membership>>,
    ) -> foldstore::Result<()>| {
        let outcome = members.with_read_write_instance(
            |list, flag| {
                change(list)?;
                flag.ready_to_commit();
                Ok::<_, Error>(())
            },
            DEFAULT_MAX_ATTEMPTS,
        )?;
        if let Some(commit) = outcome.commit {
            println!("commit {commit}");
        }
        Ok::<_, Error>(())
    };
    match (*command, rest) {
        ("list", []) => members.with_read_instance(|list| {
            for (name, member) in list.list_members() {
                let level = member.membership_level.as_deref().unwrap_or("-");
                println!("{name:<20} {level:<8} {}", member.address);
            }
        })?,
        ("snapshot", []) => match members.snapshot()? {
            Some(label) => println!("snapshot at commit {label}"),
            None => println!("the store is empty: no snapshot"),
        },
        ("register", [name, addr]) => {
            write(&|list| list.register_new_member(name, address(addr), None))?
        }
        ("register", [name, addr, level]) => {
            write(&|list| list.register_new_member(name, address(addr), Some(level)))?;
        }
        ("move", [name, addr]) => write(&|list| list.member_has_moved(name, address(addr)))?,
        ("correct", [name, addr]) => write(&|list| list.correct_address(name, address(addr)))?,
        ("end", [name]) => write(&|list| list.end_membership(name))?,
        _ => return Err(USAGE.into()),
    }
    Ok(())
}
