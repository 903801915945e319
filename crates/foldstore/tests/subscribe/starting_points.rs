//! Starting points: from the beginning, after a commit, from now; waiting for the next commit.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use crate::fixtures::{both, log_names, name_of, next_within_hang, Fixture, HANG};
use foldstore::{Event, Start, Store, Subscription};

fn check_beginning_delivers_existing_then_new(backend: &str, fixture: Fixture) {
    log_names(&fixture.writer, &["a", "b", "c"]);
    let mut subscription = fixture.subscriber.subscribe(Start::Beginning).unwrap();
    assert_eq!(subscription.next_number(), 1, "{backend}");

    // The existing commits are there at once, without waiting.
    let mut seen = Vec::new();
    for _ in 0..3 {
        let commit = subscription
            .try_next()
            .unwrap()
            .expect("an existing commit");
        seen.push((commit.number(), name_of(&commit).to_owned()));
    }
    assert_eq!(
        subscription.try_next().unwrap(),
        None,
        "{backend}: nothing more yet"
    );
    assert_eq!(subscription.next_number(), 4);

    // New ones, written by the other store while the subscriber waits.
    let writer = fixture.writer.clone();
    let writing = std::thread::spawn(move || {
        for name in ["d", "e", "f"] {
            writer.log(&Event::new(name)).unwrap();
        }
    });
    for _ in 0..3 {
        let commit = next_within_hang(&mut subscription);
        seen.push((commit.number(), name_of(&commit).to_owned()));
    }
    writing.join().unwrap();
    let expected: Vec<(u64, String)> = ["a", "b", "c", "d", "e", "f"]
        .iter()
        .zip(1..)
        .map(|(name, number)| (number, (*name).to_owned()))
        .collect();
    assert_eq!(seen, expected, "{backend}");
    assert_eq!(
        subscription.try_next().unwrap(),
        None,
        "{backend}: none repeated"
    );
    assert_eq!(subscription.next_number(), 7);

    // What it delivered is what the store holds, byte for byte.
    let mut again = fixture.subscriber.subscribe(Start::Beginning).unwrap();
    for stored in fixture.writer.commits(..) {
        assert_eq!(
            again.try_next().unwrap(),
            Some(stored.unwrap()),
            "{backend}"
        );
    }
}

#[test]
fn beginning_delivers_existing_commits_then_new_ones_in_order() {
    for (backend, fixture) in both() {
        check_beginning_delivers_existing_then_new(backend, fixture);
    }
}

fn check_start_after(backend: &str, fixture: Fixture) {
    log_names(&fixture.writer, &["a", "b", "c", "d", "e"]);

    let mut after_two = fixture.subscriber.subscribe(Start::After(2)).unwrap();
    assert_eq!(after_two.next_number(), 3, "{backend}");
    let numbers: Vec<u64> = std::iter::from_fn(|| after_two.try_next().unwrap())
        .map(|c| c.number())
        .collect();
    assert_eq!(numbers, [3, 4, 5], "{backend}");

    // After(0) is the beginning.
    let mut after_zero = fixture.subscriber.subscribe(Start::After(0)).unwrap();
    assert_eq!(name_of(&after_zero.try_next().unwrap().unwrap()), "a");

    // After the last commit: nothing until the next one lands, then exactly that one.
    let mut after_tip = fixture.subscriber.subscribe(Start::After(5)).unwrap();
    assert_eq!(after_tip.try_next().unwrap(), None, "{backend}");
    fixture.writer.log(&Event::new("f")).unwrap();
    let commit = next_within_hang(&mut after_tip);
    assert_eq!((commit.number(), name_of(&commit)), (6, "f"), "{backend}");
    assert_eq!(
        numbers_now(&mut after_two),
        [6],
        "{backend}: the first one sees it too"
    );

    // After a commit that does not exist yet: it waits for the one after that.
    let mut ahead = fixture.subscriber.subscribe(Start::After(7)).unwrap();
    assert_eq!(ahead.next_number(), 8);
    fixture.writer.log(&Event::new("g")).unwrap();
    assert_eq!(
        ahead.try_next().unwrap(),
        None,
        "{backend}: commit 7 is not after 7"
    );
    fixture.writer.log(&Event::new("h")).unwrap();
    let commit = next_within_hang(&mut ahead);
    assert_eq!((commit.number(), name_of(&commit)), (8, "h"), "{backend}");
}

/// The commits available now, by number.
fn numbers_now(subscription: &mut Subscription) -> Vec<u64> {
    std::iter::from_fn(|| subscription.try_next().unwrap())
        .map(|c| c.number())
        .collect()
}

#[test]
fn start_after_n_delivers_the_commits_after_n() {
    for (backend, fixture) in both() {
        check_start_after(backend, fixture);
    }
}

fn check_start_now(backend: &str, fixture: Fixture) {
    log_names(&fixture.writer, &["old1", "old2", "old3"]);
    let mut subscription = fixture.subscriber.subscribe(Start::Now).unwrap();
    assert_eq!(subscription.next_number(), 4, "{backend}");
    assert_eq!(
        subscription.try_next().unwrap(),
        None,
        "{backend}: existing ones skipped"
    );
    fixture.writer.log(&Event::new("new1")).unwrap();
    fixture.writer.log(&Event::new("new2")).unwrap();
    let first = next_within_hang(&mut subscription);
    let second = next_within_hang(&mut subscription);
    assert_eq!((first.number(), name_of(&first)), (4, "new1"), "{backend}");
    assert_eq!(
        (second.number(), name_of(&second)),
        (5, "new2"),
        "{backend}"
    );
    assert_eq!(subscription.try_next().unwrap(), None);

    // On an empty store, Now is the beginning.
    let empty = Store::memory();
    let mut from_empty = empty.subscribe(Start::Now).unwrap();
    assert_eq!(from_empty.next_number(), 1);
    empty.log(&Event::new("first")).unwrap();
    assert_eq!(next_within_hang(&mut from_empty).number(), 1);
}

#[test]
fn start_now_skips_the_existing_commits() {
    for (backend, fixture) in both() {
        check_start_now(backend, fixture);
    }
}

fn check_next_timeout_without_commits(backend: &str, fixture: Fixture) {
    log_names(&fixture.writer, &["a"]);
    let mut subscription = fixture
        .subscriber
        .subscribe(Start::Beginning)
        .unwrap()
        .with_poll_interval(Duration::from_millis(5));
    assert_eq!(name_of(&next_within_hang(&mut subscription)), "a");
    // Nothing lands: None, and the position is unchanged.
    assert_eq!(
        subscription
            .next_timeout(Duration::from_millis(50))
            .unwrap(),
        None,
        "{backend}"
    );
    assert_eq!(
        subscription.next_timeout(Duration::ZERO).unwrap(),
        None,
        "{backend}"
    );
    assert_eq!(subscription.next_number(), 2);
    // And after a None, the next commit still comes.
    fixture.writer.log(&Event::new("b")).unwrap();
    let commit = next_within_hang(&mut subscription);
    assert_eq!((commit.number(), name_of(&commit)), (2, "b"), "{backend}");
}

#[test]
fn next_timeout_returns_none_when_nothing_lands() {
    for (backend, fixture) in both() {
        check_next_timeout_without_commits(backend, fixture);
    }
}

fn check_cancellation(backend: &str, fixture: Fixture) {
    // A thread blocked in next_commit returns an error saying it was cancelled.
    let flag = Arc::new(AtomicBool::new(false));
    let mut subscription = fixture
        .subscriber
        .subscribe(Start::Now)
        .unwrap()
        .cancelled_by(Arc::clone(&flag));
    let (done, finished) = mpsc::channel();
    let (started, waiting) = mpsc::channel();
    let blocked = std::thread::spawn(move || {
        started.send(()).unwrap();
        let result = subscription.next_commit();
        done.send(result.map(|c| c.number())).unwrap();
    });
    waiting.recv_timeout(HANG).unwrap();
    flag.store(true, Ordering::Release);
    let result = finished
        .recv_timeout(HANG)
        .unwrap_or_else(|_| panic!("{backend}: cancellation did not stop next_commit"));
    blocked.join().unwrap();
    let error = result.expect_err("cancelled: no commit");
    assert!(
        error.to_string().contains("cancelled"),
        "{backend}: {error}"
    );

    // A thread blocked in the iterator sees it end.
    let flag = Arc::new(AtomicBool::new(false));
    let subscription = fixture
        .subscriber
        .subscribe(Start::Now)
        .unwrap()
        .cancelled_by(Arc::clone(&flag));
    let (done, finished) = mpsc::channel();
    let iterating = std::thread::spawn(move || {
        let mut count = 0_u64;
        for commit in subscription {
            commit.unwrap();
            count += 1;
        }
        done.send(count).unwrap();
    });
    // Commits that land before the cancellation are delivered.
    fixture.writer.log(&Event::new("x")).unwrap();
    flag.store(true, Ordering::Release);
    let count = finished
        .recv_timeout(HANG)
        .unwrap_or_else(|_| panic!("{backend}: cancellation did not end the iterator"));
    iterating.join().unwrap();
    assert!(count <= 1, "{backend}: {count}");

    // next_timeout on a cancelled subscription gives up at once rather than at its timeout.
    let flag = Arc::new(AtomicBool::new(true));
    let mut cancelled = fixture
        .subscriber
        .subscribe(Start::Now)
        .unwrap()
        .cancelled_by(flag);
    let (done, finished) = mpsc::channel();
    std::thread::spawn(move || {
        done.send(
            cancelled
                .next_timeout(Duration::from_secs(3600))
                .unwrap()
                .is_none(),
        )
        .unwrap();
    });
    assert!(finished.recv_timeout(HANG).unwrap(), "{backend}");
}

#[test]
fn cancelled_by_stops_a_blocked_thread() {
    for (backend, fixture) in both() {
        check_cancellation(backend, fixture);
    }
}

/// A subscription made before the store's folder exists gets the commits once it does (and,
/// with the `watch` feature, notices from then on).
#[test]
fn a_subscription_to_a_folder_not_yet_created_gets_its_first_commits() {
    let temp = tempfile::tempdir().unwrap();
    let folder = temp.path().join("later");
    let store = Store::open(&folder).unwrap();
    let mut subscription = store
        .subscribe(Start::Beginning)
        .unwrap()
        .with_poll_interval(Duration::from_millis(5));
    assert!(!subscription.has_notices());
    assert_eq!(
        subscription
            .next_timeout(Duration::from_millis(20))
            .unwrap(),
        None
    );

    let writer = Store::open(&folder).unwrap();
    writer.ensure_folder().unwrap();
    log_names(&writer, &["first", "second"]);
    assert_eq!(name_of(&next_within_hang(&mut subscription)), "first");
    assert_eq!(name_of(&next_within_hang(&mut subscription)), "second");
    // Once the folder exists, a wait sets up the notices.
    assert_eq!(
        subscription
            .next_timeout(Duration::from_millis(20))
            .unwrap(),
        None
    );
    assert_eq!(subscription.has_notices(), cfg!(feature = "watch"));
    log_names(&writer, &["third"]);
    let third = next_within_hang(&mut subscription);
    assert_eq!((third.number(), name_of(&third)), (3, "third"));
}
