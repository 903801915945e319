//! Following: `GET /api/stream`, new commits as Server-Sent Events, each with `id:` its
//! commit number, resumable with `Last-Event-ID`.
//!
//! One subscription per server (a thread, see [`watch_tip`]) learns where the log ends and
//! tells every follower; each follower reads the commits it has not sent yet itself, a stretch
//! at a time, on a blocking thread, unless another follower has just read them: the newest
//! commits read are kept, as sent, in [`Recent`], so that many followers of a growing log read
//! and encode each new commit once, not once each. So a follower costs no thread and no watch
//! of its own while it waits, and each sends every commit after its start once, in order.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query as QueryParams, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use foldstore::{Start, Store};
use serde_json::json;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;

use super::error::ApiError;
use super::read::{commit_json, Params};
use super::Shared;
use crate::access::read_once;

/// How many commits a follower reads at a time.
const STRETCH: u64 = 256;

/// How many events wait to be sent to a slow follower before its reading pauses.
const QUEUE: usize = 512;

/// The bytes of commits past which a follower's read of [`STRETCH`] commits stops (after one
/// commit at least): each commit may be as large as a document can be.
const STRETCH_BYTES: usize = 16 << 20;

/// How many of the newest commits read [`Recent`] keeps.
const RECENT: usize = 4096;

/// The bytes of commits (as sent) past which [`Recent`] lets its oldest go (keeping the
/// newest one at least).
const RECENT_BYTES: usize = 64 << 20;

/// A commit as a stream sends it: its number and the JSON of its `data:`.
type Sent = (u64, Arc<str>);

/// The newest commits followers read, numbered without a gap, as sent: shared by every
/// follower of a server. A commit never changes once written, so one read serves all.
#[derive(Default)]
pub struct Recent {
    kept: Mutex<Kept>,
    /// Held while the commits after the kept ones are read, so that followers woken together
    /// by a new commit read it once: the others then find it kept.
    reading: tokio::sync::Mutex<()>,
}

/// The commits [`Recent`] keeps, and the bytes of their text.
#[derive(Default)]
struct Kept {
    commits: VecDeque<Sent>,
    bytes: usize,
}

impl Recent {
    /// Whether the commits after `after` go on from the kept ones (or none are kept): those
    /// every follower that keeps up wants next.
    fn at_the_end(&self, after: u64) -> bool {
        let kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        kept.commits.back().is_none_or(|&(back, _)| after >= back)
    }

    /// The kept commits from `after + 1` on, up to `last`; empty when `after + 1` is not kept.
    fn take(&self, after: u64, last: u64) -> Vec<Sent> {
        let kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(&(front, _)) = kept.commits.front() else {
            return Vec::new();
        };
        let Some(skip) = after
            .checked_add(1)
            .and_then(|first| first.checked_sub(front))
            .and_then(|skip| usize::try_from(skip).ok())
        else {
            return Vec::new();
        };
        kept.commits
            .iter()
            .skip(skip)
            .take_while(|(number, _)| *number <= last)
            .cloned()
            .collect()
    }

    /// Keeps `read` (commits numbered without a gap), after the kept ones when it goes on from
    /// them, or instead of them when it is newer and does not; the oldest go past [`RECENT`]
    /// commits or [`RECENT_BYTES`] bytes (the newest stays).
    fn keep(&self, read: &[Sent]) {
        let (Some(&(first, _)), Some(&(last, _))) = (read.first(), read.last()) else {
            return;
        };
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        let back = kept.commits.back().map(|&(number, _)| number);
        match back {
            Some(back) if last <= back => return,
            Some(back) if first <= back.saturating_add(1) => {}
            _ => *kept = Kept::default(),
        }
        let back = kept.commits.back().map_or(0, |&(number, _)| number);
        for commit in read.iter().filter(|(number, _)| *number > back) {
            kept.bytes = kept.bytes.saturating_add(commit.1.len());
            kept.commits.push_back(commit.clone());
        }
        while kept.commits.len() > RECENT || (kept.bytes > RECENT_BYTES && kept.commits.len() > 1) {
            if let Some((_, gone)) = kept.commits.pop_front() {
                kept.bytes = kept.bytes.saturating_sub(gone.len());
            }
        }
    }
}

/// Starts the thread that follows the log's end: the receiver holds the last commit number
/// known, updated as commits land (from any process).
///
/// # Errors
/// When the store cannot be subscribed to.
pub fn watch_tip(store: &Store) -> anyhow::Result<watch::Receiver<u64>> {
    let tip = store.tip()?;
    let mut subscription = store.subscribe(Start::After(tip))?;
    let (send, receive) = watch::channel(tip);
    let store = store.clone();
    std::thread::Builder::new()
        .name("foldstore-serve-tip".to_owned())
        .spawn(move || {
            let mut known = tip;
            let mut warned = false;
            loop {
                match subscription.next_timeout(Duration::from_secs(1)) {
                    Ok(Some(commit)) => {
                        known = commit.number();
                        warned = false;
                        if send.send(known).is_err() {
                            return;
                        }
                    }
                    Ok(None) => {}
                    Err(e) => {
                        // Followers read the commits themselves and report damage when they
                        // meet it; here, said once, and looked at again now and then.
                        if !std::mem::replace(&mut warned, true) {
                            tracing::warn!(error = %e, after = known, "cannot follow the store's new commits; trying again every second");
                        }
                        std::thread::sleep(Duration::from_secs(1));
                        if let Ok(again) = store.subscribe(Start::After(known)) {
                            subscription = again;
                        }
                    }
                }
            }
        })?;
    Ok(receive)
}

/// `GET /api/stream?from=N`: the commits from N (default: those made from now on), then each
/// new one as it lands; with the header `Last-Event-ID: K` (as browsers send when they
/// reconnect), those after K.
pub async fn follow(
    State(shared): State<Shared>,
    headers: HeaderMap,
    params: Result<QueryParams<Vec<(String, String)>>, QueryRejection>,
) -> Result<impl axum::response::IntoResponse, ApiError> {
    let params = Params::take(params)?;
    params.only(&["from"])?;
    let tips = shared.tips.clone();
    let last_id = match headers.get("last-event-id") {
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .and_then(|text| text.trim().parse::<u64>().ok())
                .ok_or_else(|| {
                    ApiError::bad_request("Last-Event-ID is not a commit number (a whole number)")
                })?,
        ),
        None => None,
    };
    let from = params.number("from")?;
    let store = shared.store.store().clone();
    let tip = shared.store.tip().await?;
    // The last commit not to send.
    let after = match (last_id, from) {
        (Some(id), _) => id,
        (None, Some(from)) => from.saturating_sub(1),
        (None, None) => tip,
    };
    if after > tip {
        return Err(ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            format!("the stream cannot start after commit {after}: the log ends at commit {tip}"),
        )
        .with("tip", tip.into()));
    }
    let (send, receive) = mpsc::channel(QUEUE);
    tokio::spawn(feed(store, tips, shared.recent.clone(), after, send));
    Ok(Sse::new(ReceiverStream::new(receive)).keep_alive(KeepAlive::default()))
}

/// Sends the commits after `after`, and then each new one, until the follower is gone or a
/// commit cannot be read (then an `error` event says why, and the stream ends).
async fn feed(
    store: Store,
    mut tips: watch::Receiver<u64>,
    recent: Arc<Recent>,
    mut after: u64,
    send: mpsc::Sender<Result<SseEvent, Infallible>>,
) {
    loop {
        let tip = *tips.borrow_and_update();
        if after >= tip {
            // Also wakes when the tip thread ends (then: no more news; end the stream).
            if tips.changed().await.is_err() {
                return;
            }
            continue;
        }
        let last = after.saturating_add(STRETCH).min(tip);
        let mut commits = recent.take(after, last);
        let mut failed = None;
        if commits.is_empty() {
            // Followers catching up from older commits read without waiting for each other.
            let _reading = if recent.at_the_end(after) {
                Some(recent.reading.lock().await)
            } else {
                None
            };
            commits = recent.take(after, last);
            if commits.is_empty() {
                let reader = store.clone();
                let read =
                    tokio::task::spawn_blocking(move || stretch(&reader, after + 1, last)).await;
                let Ok((read, error)) = read else { return };
                recent.keep(&read);
                (commits, failed) = (read, error);
            }
        }
        for (number, data) in commits {
            let event = SseEvent::default()
                .id(number.to_string())
                .event("commit")
                .data(&*data);
            if send.send(Ok(event)).await.is_err() {
                return;
            }
            after = number;
        }
        if let Some(error) = failed {
            let data = json!({"error": error}).to_string();
            let _ = send
                .send(Ok(SseEvent::default().event("error").data(data)))
                .await;
            return;
        }
    }
}

/// The commits `first..=last` as sent, up to the first that cannot be read, and then the
/// error's text.
fn stretch(store: &Store, first: u64, last: u64) -> (Vec<Sent>, Option<String>) {
    let text = |e: anyhow::Error| crate::output::error_text(&e);
    let mut commits = Vec::new();
    let mut bytes = 0_usize;
    let scanned = match store.raw_commits(first..=last) {
        Ok(scanned) => scanned,
        Err(e) => return (commits, Some(text(e.into()))),
    };
    for scanned in scanned {
        let (commit, size) = match read_once(store, scanned, Some(last)) {
            Ok(Some(found)) => found,
            Ok(None) => break,
            Err(e) => return (commits, Some(text(e))),
        };
        let data: Arc<str> = commit_json(&commit, Some(size)).to_string().into();
        bytes = bytes.saturating_add(data.len());
        commits.push((commit.number(), data));
        // The follower reads on from the last one when these are sent.
        if bytes >= STRETCH_BYTES {
            break;
        }
    }
    (commits, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(numbers: std::ops::RangeInclusive<u64>) -> Vec<Sent> {
        numbers.map(|n| (n, Arc::from(n.to_string()))).collect()
    }

    fn numbers(commits: &[Sent]) -> Vec<u64> {
        commits.iter().map(|(n, _)| *n).collect()
    }

    #[test]
    fn recent_commits_are_handed_out_only_without_a_gap() {
        let recent = Recent::default();
        assert!(recent.take(0, 10).is_empty());
        recent.keep(&sent(5..=8));
        assert_eq!(numbers(&recent.take(4, 100)), [5, 6, 7, 8]);
        assert_eq!(numbers(&recent.take(6, 7)), [7]);
        // Before the first kept, or after the last: nothing (the follower reads itself).
        assert!(recent.take(3, 100).is_empty());
        assert!(recent.take(8, 100).is_empty());
        assert!(recent.take(u64::MAX, u64::MAX).is_empty());
        // Going on, overlapping: kept once each.
        recent.keep(&sent(7..=10));
        assert_eq!(numbers(&recent.take(4, 100)), [5, 6, 7, 8, 9, 10]);
        // Older: ignored; newer after a gap: replaces.
        recent.keep(&sent(1..=3));
        assert_eq!(numbers(&recent.take(4, 100)), [5, 6, 7, 8, 9, 10]);
        recent.keep(&sent(20..=21));
        assert!(recent.take(4, 100).is_empty());
        assert_eq!(numbers(&recent.take(19, 100)), [20, 21]);
        // At most RECENT kept, the newest.
        recent.keep(&sent(22..=(21 + RECENT as u64)));
        assert!(recent.take(19, u64::MAX).is_empty());
        let all = recent.take(21, u64::MAX);
        assert_eq!(all.len(), RECENT);
        assert_eq!(all[0].1.as_ref(), "22");
    }

    #[test]
    fn recent_commits_are_kept_up_to_a_number_of_bytes_the_newest_always() {
        let large = |numbers: std::ops::RangeInclusive<u64>, bytes: usize| -> Vec<Sent> {
            numbers
                .map(|n| (n, Arc::from("x".repeat(bytes).as_str())))
                .collect()
        };
        let recent = Recent::default();
        // Ten commits of a fifth of the bound: the newest five stay.
        recent.keep(&large(1..=10, RECENT_BYTES / 5));
        assert_eq!(numbers(&recent.take(0, u64::MAX)), Vec::<u64>::new());
        assert_eq!(numbers(&recent.take(5, u64::MAX)), [6, 7, 8, 9, 10]);
        // One commit larger than the bound: it stays alone.
        recent.keep(&large(11..=11, RECENT_BYTES + 1));
        assert_eq!(numbers(&recent.take(10, u64::MAX)), [11]);
        recent.keep(&sent(12..=13));
        assert_eq!(numbers(&recent.take(11, u64::MAX)), [12, 13]);
    }
}
