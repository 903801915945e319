//! Appending: `POST /api/commits`, plainly, at an expected position, on a query condition, or
//! once per idempotency key.

use std::cell::RefCell;
use std::path::Path;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::Json;
use foldstore::asynchronous::AsyncStore;
use foldstore::{AppendCondition, Commit, Event, Headers, Query, QueryItem, Store};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};

use super::error::{numbers, ApiError};
use super::{Shared, MAX_BODY_BYTES};
use crate::output::event_problem;

/// The longest an append waits for its turn: half the request's time
/// (`REQUEST_TIMEOUT`, 60 s), so that it starts with time left.
const WRITE_TURN_WAIT: std::time::Duration =
    std::time::Duration::from_secs(super::REQUEST_TIMEOUT.as_secs() / 2);

thread_local! {
    /// The headers the request being written asked for; set on the blocking thread that
    /// writes, around the write, and read there by the store's header factory.
    static REQUEST_HEADERS: RefCell<Headers> = RefCell::new(Headers::new());
}

/// Opens the store to serve, with a header factory that adds the headers of the request being
/// written (see [`REQUEST_HEADERS`]).
///
/// # Errors
/// As [`Store::builder`]'s `open`.
pub fn open_for_serving(path: &Path) -> anyhow::Result<AsyncStore> {
    let builder =
        Store::builder(path).headers(|| REQUEST_HEADERS.with(|headers| headers.borrow().clone()));
    let store = crate::access::with_archive(builder)?.open()?;
    Ok(AsyncStore::new(store))
}

/// The body of an append.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AppendRequest {
    /// The events, as `{"name", "data", "tags", ...}` objects (read by `Event::from_json`).
    events: Vec<Box<RawValue>>,
    /// Headers added to the commit's `time` (which they may replace): an object, read from its
    /// text as event data is (see [`parse`]).
    #[serde(default)]
    headers: Option<Box<RawValue>>,
    /// Write only if the log ends at this commit (0: it is empty).
    expected_position: Option<u64>,
    /// Write only if no event matching the query was committed after `after`.
    condition: Option<ConditionRequest>,
    /// Write only if no commit holds this key yet.
    idempotency_key: Option<String>,
}

/// A query condition.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConditionRequest {
    /// Items, any of which may match: each with names (any of them) and tags (all of them).
    query: Vec<ItemRequest>,
    /// The last commit the decision read (absent or null: no matching event may exist).
    after: Option<u64>,
}

/// One item of a query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ItemRequest {
    #[serde(default)]
    names: Vec<String>,
    #[serde(default)]
    tags: Vec<String>,
}

/// What an append writes, read and checked.
struct Append {
    events: Vec<Event>,
    headers: Headers,
    condition: Option<AppendCondition>,
    key: Option<String>,
}

/// Reads and checks an append's body; 400 with the reason.
fn parse(body: &[u8]) -> Result<Append, ApiError> {
    let request: AppendRequest = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!(
            "the body is not an append {{\"events\": [...], \"headers\"?, \"expected_position\"?, \
             \"condition\"?, \"idempotency_key\"?}}: {e}; nothing was written"
        ))
    })?;
    if request.events.is_empty() {
        return Err(ApiError::bad_request(
            "events is empty: a commit holds at least one event; nothing was written",
        ));
    }
    let mut events = Vec::with_capacity(request.events.len());
    for (index, text) in request.events.iter().enumerate() {
        let event = Event::from_json(text.get()).map_err(|e| {
            ApiError::bad_request(format!(
                "events[{index}] is not an event {{\"name\": ..., \"data\": ...}}: {}; nothing was written",
                event_problem(&e)
            ))
        })?;
        Commit::check_event_name(event.name()).map_err(|e| {
            ApiError::bad_request(format!(
                "events[{index}]: {}; nothing was written",
                event_problem(&e)
            ))
        })?;
        events.push(event);
    }
    // Read as data is: refused where the JSON reader would store something else than sent.
    let headers = match request
        .headers
        .as_deref()
        .map(|text| Event::data_from_json(text.get()))
    {
        None => Headers::new(),
        Some(Ok(Value::Object(headers))) => headers,
        Some(Ok(_)) => {
            return Err(ApiError::bad_request(
                "headers is not an object of header names and values; nothing was written",
            ))
        }
        Some(Err(e)) => {
            return Err(ApiError::bad_request(format!(
                "headers: {}; nothing was written",
                event_problem(&e)
            )))
        }
    };
    if headers.contains_key(foldstore::COMMIT_ID_HEADER) {
        return Err(ApiError::bad_request(format!(
            "the header {:?} is foldstore's own (a unique id by which a writer recognizes its \
             commit): choose another name; nothing was written",
            foldstore::COMMIT_ID_HEADER
        )));
    }
    let ways = [
        request.expected_position.is_some(),
        request.condition.is_some(),
        request.idempotency_key.is_some(),
    ];
    if ways.iter().filter(|&&given| given).count() > 1 {
        return Err(ApiError::bad_request(
            "give at most one of expected_position, condition and idempotency_key; nothing was written",
        ));
    }
    let condition = match (request.expected_position, request.condition) {
        (Some(position), _) => Some(AppendCondition::none_matching_after(Query::all(), position)),
        (None, Some(condition)) => {
            if condition.query.is_empty() {
                return Err(ApiError::bad_request(
                    "condition.query is empty: give at least one item {\"names\": [...], \"tags\": [...]}; nothing was written",
                ));
            }
            let query = condition
                .query
                .into_iter()
                .fold(Query::new(), |query, item| {
                    query.item(QueryItem::new().names(item.names).tags(item.tags))
                });
            Some(AppendCondition {
                query,
                after: condition.after,
            })
        }
        (None, None) => None,
    };
    Ok(Append {
        events,
        headers,
        condition,
        key: request.idempotency_key,
    })
}

/// What the store answered.
enum Written {
    New(u64),
    Before(u64),
    Conflicts(Vec<u64>),
    Beyond { after: u64, tip: u64 },
}

/// `POST /api/commits`: 201 with the new commit's number; 200 when the idempotency key was in
/// the store already (nothing written); 409 with the conflicting commits when the condition
/// failed; 400 with the reason for bad input; 413 for a body over the limit.
pub async fn append(
    State(shared): State<Shared>,
    request: Request,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the body is larger than {} bytes: write fewer or smaller events a commit; nothing was written",
                MAX_BODY_BYTES
            ),
        )
        .with("limit_bytes", MAX_BODY_BYTES.into())
    };
    // Refused from the announced length at once, before a byte of the body is read.
    let announced = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.parse::<u64>().ok());
    if announced.is_some_and(|length| length > MAX_BODY_BYTES as u64) {
        return Err(too_large());
    }
    let body = axum::body::to_bytes(request.into_body(), MAX_BODY_BYTES)
        .await
        .map_err(|e| {
            if std::error::Error::source(&e)
                .is_some_and(|source| source.is::<http_body_util::LengthLimitError>())
            {
                too_large()
            } else {
                ApiError::bad_request(format!("the body cannot be read: {e}; nothing was written"))
            }
        })?;
    let append = parse(&body)?;
    let store = shared.store.store().clone();
    // A turn of the appends (kept until the append ends, as reads keep theirs: see
    // `read::on_store`), waited for at most half the request's time, so that an append
    // starts with time left to answer: a busy server says so, and nothing is written.
    let turn = tokio::time::timeout(
        WRITE_TURN_WAIT,
        shared.limits.writes.clone().acquire_owned(),
    )
    .await;
    let turn = match turn {
        Ok(Ok(turn)) => turn,
        Ok(Err(_)) => {
            return Err(ApiError::unavailable(
                "the server is stopping; nothing was written",
            ))
        }
        Err(_) => {
            return Err(ApiError::unavailable(format!(
                "the server is busy with other appends (none started within {} s); nothing was written: retry",
                WRITE_TURN_WAIT.as_secs()
            )))
        }
    };
    let written = tokio::task::spawn_blocking(move || {
        let _turn = turn;
        REQUEST_HEADERS.with(|headers| *headers.borrow_mut() = append.headers.clone());
        let result = write(&store, &append);
        REQUEST_HEADERS.with(|headers| headers.borrow_mut().clear());
        result
    })
    .await
    .map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the append failed: {e}"),
        )
    })??;
    match written {
        Written::New(commit) => Ok((
            StatusCode::CREATED,
            Json(json!({"commit": commit, "written": true})),
        )),
        Written::Before(commit) => Ok((
            StatusCode::OK,
            Json(json!({"commit": commit, "written": false})),
        )),
        Written::Conflicts(conflicts) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "the condition failed: the commits in conflicts hold events that match its query; nothing was written",
        )
        .with("conflicts", numbers(&conflicts))),
        Written::Beyond { after, tip } => Err(ApiError::bad_request(format!(
            "the position {after} is beyond the end of the log (commit {tip}): no decision can \
             have read it; nothing was written"
        ))
        .with("tip", tip.into())),
    }
}

/// Writes on the thread that called it.
fn write(store: &Store, append: &Append) -> Result<Written, ApiError> {
    if let Some(key) = &append.key {
        let appended = store.append_once(key, &append.events)?;
        return Ok(if appended.written {
            Written::New(appended.commit)
        } else {
            Written::Before(appended.commit)
        });
    }
    let Some(condition) = &append.condition else {
        let commit = store.log_block(|block| {
            for event in &append.events {
                block.log(event)?;
            }
            block.mark_as_complete();
            Ok::<_, foldstore::Error>(())
        })?;
        // `parse` refused an empty list, so a commit was written.
        return commit.map(Written::New).ok_or_else(|| {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "nothing was written")
        });
    };
    let tip = store.tip()?;
    if let Some(after) = condition.after.filter(|&after| after > tip) {
        return Ok(Written::Beyond { after, tip });
    }
    Ok(match store.append_if(&append.events, condition)? {
        Ok(commit) => Written::New(commit),
        Err(failed) => Written::Conflicts(failed.conflicts),
    })
}
