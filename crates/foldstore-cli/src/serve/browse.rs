//! The filtered log the page shows: `GET /api/commits` with filters (event name, tag, header
//! value, time range, text in data), scanned at the server a bounded stretch at a time; and a
//! commit's raw bytes.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use foldstore::{Commit, Error, Event, Query, Scanned, Store};
use serde_json::{json, Value};

use super::error::ApiError;
use super::read::{commit_json, on_store, Params};
use super::Shared;
use crate::access::{read_once, Backwards};
use crate::filter::{parse_time, query, Selection};

/// The most commits one filtered request looks at: it stops there and says where, so that
/// the next request goes on (a filter that matches nothing never reads the whole log at once).
pub const SCAN_BUDGET: u64 = 10_000;

/// The filters of `/api/commits`.
pub const FILTER_PARAMS: [&str; 6] = ["name", "tag", "header", "since", "until", "text"];

/// What a filtered page selects: commits in the time window holding every header given, with
/// at least one event matching the names, tags and text (when any is given).
pub struct Filters {
    selection: Selection,
    /// Names and tags, as the store's queries match them; `None` when neither is given.
    query: Option<Query>,
    /// Text the JSON of an event's data holds (compared in lower case).
    text: Option<String>,
}

impl Filters {
    /// The filters among `params`; `None` when there are none.
    pub fn from_params(params: &Params) -> Result<Option<Filters>, ApiError> {
        if FILTER_PARAMS.iter().all(|key| params.all(key).is_empty()) {
            return Ok(None);
        }
        let time = |key: &str| -> Result<_, ApiError> {
            match params.all(key).last() {
                None => Ok(None),
                Some(text) if text.trim().is_empty() => Ok(None),
                Some(text) => parse_time(text)
                    .map(Some)
                    .map_err(|e| ApiError::bad_request(format!("{key}: {e}"))),
            }
        };
        let mut headers = Vec::new();
        for pair in params.all("header") {
            match pair.split_once('=') {
                Some((key, value)) if !key.is_empty() => {
                    headers.push((key.to_owned(), value.to_owned()));
                }
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "header={pair:?} is not KEY=VALUE: write e.g. header=user=ada"
                    )))
                }
            }
        }
        let names: Vec<String> = params
            .all("name")
            .into_iter()
            .filter(|n| !n.is_empty())
            .collect();
        let tags: Vec<String> = params
            .all("tag")
            .into_iter()
            .filter(|t| !t.is_empty())
            .collect();
        let text = params
            .all("text")
            .last()
            .filter(|t| !t.is_empty())
            .map(|t| t.to_lowercase());
        Ok(Some(Filters {
            selection: Selection {
                since: time("since")?,
                until: time("until")?,
                headers,
                ..Selection::default()
            },
            query: (!names.is_empty() || !tags.is_empty()).then(|| query(&names, &tags)),
            text,
        }))
    }

    /// Whether the commit is selected.
    pub fn commit_matches(&self, commit: &Commit) -> bool {
        self.selection.commit_headers_match(commit)
            && ((self.query.is_none() && self.text.is_none())
                || commit.events().iter().any(|e| self.event_matches(e)))
    }

    fn event_matches(&self, event: &Event) -> bool {
        self.query.as_ref().is_none_or(|q| q.matches(event))
            && self.text.as_ref().is_none_or(|text| {
                event.data().is_some_and(|data| {
                    serde_json::to_string(data).is_ok_and(|json| json.to_lowercase().contains(text))
                })
            })
    }
}

/// A filtered page of `from..=last`: up to `limit` matching commits, newest first when
/// `newest`, looking at no more than [`SCAN_BUDGET`] commits. The answer says which commits
/// were looked at (`scanned`) and where to go on (`next`, `null` at the range's end).
pub fn filtered_page(
    store: &Store,
    filters: &Filters,
    (from, last): (u64, u64),
    limit: u64,
    newest: bool,
) -> anyhow::Result<Value> {
    let mut page = Vec::new();
    let mut looked_at = None;
    let mut keep = |commit: Commit, size: u64| {
        looked_at = Some(commit.number());
        if filters.commit_matches(&commit) {
            page.push(commit_json(&commit, Some(size)));
        }
        page.len() as u64 >= limit
    };
    if from <= last {
        if newest {
            let bottom = last.saturating_sub(SCAN_BUDGET - 1).max(from);
            for found in Backwards::new(store, bottom, last) {
                let (commit, size) = found?;
                if keep(commit, size) {
                    break;
                }
            }
        } else {
            let end = from.saturating_add(SCAN_BUDGET - 1).min(last);
            for scanned in store.raw_commits(from..=end)? {
                match read_once(store, scanned, Some(end))? {
                    Some((commit, size)) => {
                        if keep(commit, size) {
                            break;
                        }
                    }
                    None => break,
                }
            }
        }
    }
    let (scanned, next) = match looked_at {
        None => (Value::Null, None),
        Some(stop) if newest => (
            json!({"from": stop, "to": last}),
            (stop > from).then(|| stop - 1),
        ),
        Some(stop) => (
            json!({"from": from, "to": stop}),
            (stop < last).then(|| stop + 1),
        ),
    };
    Ok(json!({"commits": page, "next": next, "scanned": scanned}))
}

/// `GET /api/commits/{n}/raw`: commit `n`'s bytes as stored (`application/octet-stream`).
pub async fn raw(
    State(shared): State<Shared>,
    Path(number): Path<String>,
) -> Result<Response, ApiError> {
    let number: u64 = match number.parse() {
        Ok(number @ 1..) => number,
        _ => {
            return Err(ApiError::bad_request(format!(
                "{number:?} is not a commit number: commit numbers start at 1"
            )))
        }
    };
    let bytes = on_store(&shared, move |store| {
        let found = store.raw_commits(number..=number)?.next();
        match found {
            Some(Scanned::Commit(raw)) => Ok(raw.bytes),
            Some(Scanned::Unreadable {
                bytes: Some(bytes), ..
            }) => Ok(bytes),
            Some(Scanned::Unreadable { error, .. }) => Err(error.into()),
            _ => Err(Error::OutOfRange {
                requested: number,
                tip: store.tip()?,
            }
            .into()),
        }
    })
    .await?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/octet-stream")],
        Body::from(bytes),
    )
        .into_response())
}
