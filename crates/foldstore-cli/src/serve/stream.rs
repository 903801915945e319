//! Following: `GET /api/stream`, new commits as Server-Sent Events, each with `id:` its
//! commit number, resumable with `Last-Event-ID`.
//!
//! One subscription per server (a thread, see [`watch_tip`]) learns where the log ends and
//! tells every follower; each follower reads the commits it has not sent yet itself, a stretch
//! at a time, on a blocking thread. So a follower costs no thread and no watch of its own
//! while it waits, and each sends every commit after its start once, in order.

use std::convert::Infallible;
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
    tokio::spawn(feed(store, tips, after, send));
    Ok(Sse::new(ReceiverStream::new(receive)).keep_alive(KeepAlive::default()))
}

/// Sends the commits after `after`, and then each new one, until the follower is gone or a
/// commit cannot be read (then an `error` event says why, and the stream ends).
async fn feed(
    store: Store,
    mut tips: watch::Receiver<u64>,
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
        let reader = store.clone();
        let read = tokio::task::spawn_blocking(move || stretch(&reader, after + 1, last)).await;
        let Ok((events, failed)) = read else { return };
        for (number, event) in events {
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

/// The commits `first..=last` as events, up to the first that cannot be read, and then the
/// error's text.
fn stretch(store: &Store, first: u64, last: u64) -> (Vec<(u64, SseEvent)>, Option<String>) {
    let text = |e: anyhow::Error| crate::output::error_text(&e);
    let mut events = Vec::new();
    let scanned = match store.raw_commits(first..=last) {
        Ok(scanned) => scanned,
        Err(e) => return (events, Some(text(e.into()))),
    };
    for scanned in scanned {
        let (commit, size) = match read_once(store, scanned, Some(last)) {
            Ok(Some(found)) => found,
            Ok(None) => break,
            Err(e) => return (events, Some(text(e))),
        };
        let data = commit_json(&commit, Some(size)).to_string();
        let number = commit.number();
        events.push((
            number,
            SseEvent::default()
                .id(number.to_string())
                .event("commit")
                .data(data),
        ));
    }
    (events, None)
}
