//! A subscriber that stops and comes back after the last commit it saw.

use crate::fixtures::{both, name_of, next_within_hang, Fixture};
use foldstore::{Event, Start};

fn check_resume_after_stop(backend: &str, fixture: Fixture) {
    let names: Vec<String> = (1..=10).map(|i| format!("e{i}")).collect();
    for name in &names {
        fixture.writer.log(&Event::new(name.as_str())).unwrap();
    }
    let mut subscription = fixture.subscriber.subscribe(Start::Beginning).unwrap();
    let mut seen = Vec::new();
    for _ in 0..4 {
        let commit = next_within_hang(&mut subscription);
        seen.push((commit.number(), name_of(&commit).to_owned()));
    }
    let last = seen.last().unwrap().0;
    drop(subscription);

    // Written while it is stopped.
    let more: Vec<String> = (11..=16).map(|i| format!("e{i}")).collect();
    for name in &more {
        fixture.writer.log(&Event::new(name.as_str())).unwrap();
    }

    let mut resumed = fixture.subscriber.subscribe(Start::After(last)).unwrap();
    while seen.len() < 16 {
        let commit = next_within_hang(&mut resumed);
        seen.push((commit.number(), name_of(&commit).to_owned()));
    }
    assert_eq!(
        resumed.try_next().unwrap(),
        None,
        "{backend}: nothing repeated"
    );
    let expected: Vec<(u64, String)> = names
        .iter()
        .chain(&more)
        .cloned()
        .zip(1..)
        .map(|(n, i)| (i, n))
        .collect();
    assert_eq!(seen, expected, "{backend}");
}

#[test]
fn a_resubscribed_subscriber_gets_exactly_the_rest() {
    for (backend, fixture) in both() {
        check_resume_after_stop(backend, fixture);
    }
}
