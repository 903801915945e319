//! Reading: a range of commits (seeking by number, oldest or newest first), one commit, the
//! events matching a query, the stats and the verify report.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query as QueryParams, State};
use axum::Json;
use foldstore::{Commit, Error, Query, Store};
use serde_json::{json, Value};

use super::browse::{filtered_page, Filters, FILTER_PARAMS};
use super::error::ApiError;
use super::insight::cached;
use super::Shared;
use crate::access::{read_once, Backwards};
use crate::filter::query;

/// The commits or events a page holds when `limit` is not given.
pub const DEFAULT_LIMIT: u64 = 100;

/// The most commits or events one page holds.
pub const MAX_LIMIT: u64 = 1000;

/// A query string's parameters, in order (a name may come more than once).
pub struct Params(Vec<(String, String)>);

impl Params {
    /// The parameters, or 400 for a query string that cannot be read.
    pub fn take(
        params: Result<QueryParams<Vec<(String, String)>>, QueryRejection>,
    ) -> Result<Params, ApiError> {
        match params {
            Ok(QueryParams(params)) => Ok(Params(params)),
            Err(e) => Err(ApiError::bad_request(format!(
                "the query string cannot be read: {}",
                e.body_text()
            ))),
        }
    }

    /// Refuses parameters not in `known` (a misspelt one would silently do nothing).
    pub fn only(&self, known: &[&str]) -> Result<(), ApiError> {
        match self
            .0
            .iter()
            .find(|(key, _)| !known.contains(&key.as_str()))
        {
            Some((key, _)) => Err(ApiError::bad_request(format!(
                "unknown parameter {key:?}: this path takes {}",
                known.join(", ")
            ))),
            None => Ok(()),
        }
    }

    /// Every value of `key`.
    pub fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// The value of `key` as a number.
    pub fn number(&self, key: &str) -> Result<Option<u64>, ApiError> {
        match self.0.iter().rev().find(|(k, _)| k == key) {
            None => Ok(None),
            Some((_, text)) => text.parse().map(Some).map_err(|_| {
                ApiError::bad_request(format!(
                    "{key}={text:?} is not a number: write a whole number from 0 to {}",
                    u64::MAX
                ))
            }),
        }
    }

    /// `limit`, from 1 to [`MAX_LIMIT`] (default [`DEFAULT_LIMIT`]).
    pub fn limit(&self) -> Result<u64, ApiError> {
        match self.number("limit")? {
            None => Ok(DEFAULT_LIMIT),
            Some(limit @ 1..=MAX_LIMIT) => Ok(limit),
            Some(limit) => Err(ApiError::bad_request(format!(
                "limit={limit} is out of range: ask for 1 to {MAX_LIMIT}, and page with next"
            ))),
        }
    }
}

/// A commit as JSON: its number, size in bytes, headers and events.
pub fn commit_json(commit: &Commit, size: Option<u64>) -> Value {
    let events: Vec<Value> = commit.events().iter().map(|e| e.to_value()).collect();
    let mut value = json!({
        "number": commit.number(),
        "headers": commit.headers(),
        "events": events,
    });
    if let Some(size) = size {
        value["size"] = size.into();
    }
    value
}

/// Runs `work` on the store on a blocking thread.
pub(super) async fn on_store<T: Send + 'static>(
    shared: &Shared,
    work: impl FnOnce(&Store) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    // A turn is taken before the work is handed to a blocking thread and kept until it ends,
    // even when the client has gone (its future dropped): at most `WORK_TURNS` at once, and
    // later requests wait (each within the request time limit) instead of piling up threads.
    let turn = shared.limits.work.clone().acquire_owned().await;
    let turn = turn.map_err(|_| ApiError::unavailable("the server is stopping"))?;
    let store = shared.store.store().clone();
    match tokio::task::spawn_blocking(move || {
        let _turn = turn;
        work(&store)
    })
    .await
    {
        Ok(result) => result,
        Err(e) => Err(ApiError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            format!("the request's work failed: {e}"),
        )),
    }
}

/// The bytes of stored commits past which a page of `/api/commits` ends, whatever its
/// `limit` (each commit may be as large as a document can be).
pub const PAGE_BYTES: u64 = 8 << 20;

/// `GET /api/commits?from=&to=&limit=&order=`: a page of commits of the range `from..=to`,
/// oldest first, or with `order=newest` newest first; `next` is the `from` (or `to`) of the
/// next page, `null` when there is none. With filters (`name`, `tag`, `header`, `since`,
/// `until`, `text`: see [`Filters`]) only the commits that match, looking at a bounded
/// stretch (see [`filtered_page`]).
pub async fn commits(
    State(shared): State<Shared>,
    params: Result<QueryParams<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let params = Params::take(params)?;
    let mut known = vec!["from", "to", "limit", "order"];
    known.extend(FILTER_PARAMS);
    params.only(&known)?;
    let filters = Filters::from_params(&params)?;
    let (from, to, limit) = (
        params.number("from")?,
        params.number("to")?,
        params.limit()?,
    );
    let newest = match params.all("order").last().map(String::as_str) {
        None | Some("oldest") => false,
        Some("newest") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "order={other:?} is not an order: write oldest (the default) or newest"
            )))
        }
    };
    if let (Some(from), Some(to)) = (from, to.filter(|&to| Some(to) < from)) {
        return Err(ApiError::bad_request(format!(
            "to={to} is before from={from}: the range holds no commit"
        )));
    }
    on_store(&shared, move |store| {
        // Without `from`: from the first commit the server can read (an archived store's
        // start, unless it was given its archive).
        let from = match from {
            Some(from) => from.max(1),
            None => crate::access::first_readable(store)?,
        };
        let tip = store.tip()?;
        let last = to.unwrap_or(tip).min(tip);
        if let Some(filters) = &filters {
            let mut page = filtered_page(store, filters, (from, last), limit, newest)?;
            page["tip"] = tip.into();
            return Ok(Json(page));
        }
        let mut page = Vec::new();
        // The bytes of the commits in the page: past PAGE_BYTES, the page ends (after one
        // commit at least) and `next` goes on after its last.
        let mut bytes = 0_u64;
        let next = if newest {
            let bottom = last.saturating_sub(limit - 1).max(from);
            let mut oldest = None;
            for found in Backwards::new(store, bottom, last) {
                let (commit, size) = found?;
                oldest = Some(commit.number());
                page.push(commit_json(&commit, Some(size)));
                bytes = bytes.saturating_add(size);
                if bytes >= PAGE_BYTES {
                    break;
                }
            }
            let bottom = oldest.filter(|_| bytes >= PAGE_BYTES).unwrap_or(bottom);
            (bottom > from).then(|| bottom - 1)
        } else {
            let mut end = from.saturating_add(limit - 1).min(last);
            if from <= end {
                for scanned in store.raw_commits(from..=end)? {
                    match read_once(store, scanned, Some(end))? {
                        Some((commit, size)) => {
                            let number = commit.number();
                            page.push(commit_json(&commit, Some(size)));
                            bytes = bytes.saturating_add(size);
                            if bytes >= PAGE_BYTES {
                                end = number;
                                break;
                            }
                        }
                        None => break,
                    }
                }
            }
            (end < last).then(|| end + 1)
        };
        Ok(Json(json!({"tip": tip, "commits": page, "next": next})))
    })
    .await
}

/// `GET /api/commits/{n}`: one commit.
pub async fn commit(
    State(shared): State<Shared>,
    Path(number): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let number: u64 = match number.parse() {
        Ok(number @ 1..) => number,
        _ => {
            return Err(ApiError::bad_request(format!(
                "{number:?} is not a commit number: commit numbers start at 1"
            )))
        }
    };
    on_store(&shared, move |store| {
        let found = match store.raw_commits(number..=number)?.next() {
            Some(scanned) => read_once(store, scanned, Some(number))?,
            None => None,
        };
        match found {
            Some((commit, size)) => Ok(Json(commit_json(&commit, Some(size)))),
            None => Err(Error::OutOfRange {
                requested: number,
                tip: store.tip()?,
            }
            .into()),
        }
    })
    .await
}

/// `GET /api/events?name=&tag=&after=&limit=`: the events with one of the names and all of
/// the tags, committed after commit `after` (by default, from the first commit the server
/// can read: an archived store's start unless it was given its archive), found through the
/// store's index. A page ends with a whole commit; `next` is the `after` of the next page.
pub async fn events(
    State(shared): State<Shared>,
    params: Result<QueryParams<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let params = Params::take(params)?;
    params.only(&["name", "tag", "after", "limit"])?;
    let (names, tags) = (params.all("name"), params.all("tag"));
    if names.is_empty() && tags.is_empty() {
        return Err(ApiError::bad_request(
            "give name= or tag= (or both): to read every event, page through /api/commits",
        ));
    }
    let limit = params.limit()?;
    // Without `after`: from the first commit the server can read (as `/api/commits`).
    let after = match params.number("after")? {
        Some(after) => after,
        None => {
            on_store(&shared, |store| {
                Ok(crate::access::first_readable(store)? - 1)
            })
            .await?
        }
    };
    let query: Query = query(&names, &tags);
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    // One event more than the page holds says whether another page follows; the scan stops
    // there instead of reading every match to the end of the log.
    let matched = on_store(&shared, move |store| {
        Ok(store.events_matching_limited(&query, after, limit.saturating_add(1))?)
    })
    .await?;
    // Whole commits only, so that `next` skips nothing; the first commit is whole however
    // many events it holds.
    let mut end = matched.len();
    if matched.len() > limit {
        let cut_commit = matched[limit].commit;
        end = matched
            .iter()
            .position(|m| m.commit == cut_commit)
            .unwrap_or(limit);
        if end == 0 {
            end = matched
                .iter()
                .take_while(|m| m.commit == cut_commit)
                .count();
        }
    }
    let page: Vec<Value> = matched[..end]
        .iter()
        .map(|m| {
            json!({
                "commit": m.commit,
                "index": m.index,
                "headers": m.headers,
                "event": m.event.to_value(),
            })
        })
        .collect();
    // More matches than the page holds: the next page starts after its last commit (also when
    // the first commit alone held more than `limit`, and the page is that commit).
    let next = (matched.len() > limit).then(|| matched[end - 1].commit);
    Ok(Json(json!({"events": page, "next": next})))
}

/// `GET /api/stats`: what `foldstore stats --json` prints (kept until the log grows).
pub async fn stats(State(shared): State<Shared>) -> Result<Json<Value>, ApiError> {
    cached(&shared, "stats", |store| {
        crate::cmd::stats::report(store, false)
    })
    .await
}

/// `GET /api/verify`: what `foldstore verify --json` prints (kept until the log grows).
pub async fn verify(State(shared): State<Shared>) -> Result<Json<Value>, ApiError> {
    cached(&shared, "verify", crate::cmd::verify::report).await
}
