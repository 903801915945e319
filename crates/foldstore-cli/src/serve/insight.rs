//! What the page shows about the store as a whole: commits over time and per event name
//! (`/api/chart`), the shapes of events (`/api/schema`), health (`/api/health`), and the
//! cache that keeps such whole-store reports until the log grows.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query as QueryParams, State};
use axum::Json;
use foldstore::Store;
use serde_json::{json, Value};

use super::error::ApiError;
use super::read::{on_store, Params};
use super::Shared;
use crate::access::read_once;

/// The most commits one chart counts: a longer range is cut to its newest commits.
pub const CHART_MAX: u64 = 100_000;

/// The commits a chart counts when no range is given: the newest ones.
pub const CHART_DEFAULT: u64 = 10_000;

/// The most files of the quarantine listed.
const QUARANTINE_LISTED: usize = 1000;

/// Whole-store reports (stats, verify, schema, health) kept with the tip they were made at,
/// and made again only when the log has grown (or shrunk) since. One report of a kind is made
/// at a time: requests that come while it is made wait for it and take it, instead of each
/// reading the whole store again.
#[derive(Default)]
pub struct Cache {
    reports: Mutex<HashMap<&'static str, (u64, Value)>>,
    /// A lock per kind, held while a report of that kind is made.
    making: Mutex<HashMap<&'static str, Arc<Mutex<()>>>>,
}

impl Cache {
    /// The report `kind` of `store`, made by `make` unless one made at the current tip is
    /// kept. The tip is read before making it, so a report may hold commits past its tip,
    /// never miss one before.
    pub fn get(
        &self,
        kind: &'static str,
        store: &Store,
        make: impl FnOnce(&Store) -> anyhow::Result<Value>,
    ) -> anyhow::Result<Value> {
        let tip = store.tip()?;
        if let Some(report) = self.kept(kind, tip) {
            return Ok(report);
        }
        let making = Arc::clone(
            self.making
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .entry(kind)
                .or_default(),
        );
        let _making = making
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Made meanwhile by the request that held the lock.
        if let Some(report) = self.kept(kind, tip) {
            return Ok(report);
        }
        let report = make(store)?;
        self.reports
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(kind, (tip, report.clone()));
        Ok(report)
    }

    /// The report `kind` made at `tip`, if one is kept.
    fn kept(&self, kind: &'static str, tip: u64) -> Option<Value> {
        self.reports
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(kind)
            .filter(|(at, _)| *at == tip)
            .map(|(_, report)| report.clone())
    }
}

/// A report through the cache, on a blocking thread.
pub async fn cached(
    shared: &Shared,
    kind: &'static str,
    make: fn(&Store) -> anyhow::Result<Value>,
) -> Result<Json<Value>, ApiError> {
    let cache = shared.cache.clone();
    // A report of each kind is made by one request at a time, and the others wait for it
    // without holding a thread that other requests need (clients that asked may have gone).
    let report = shared.limits.report(kind).acquire_owned().await;
    let report = report.map_err(|_| ApiError::unavailable("the server is stopping"))?;
    on_store(shared, move |store| {
        let _report = report;
        Ok(Json(cache.get(kind, store, make)?))
    })
    .await
}

/// `GET /api/schema`: what `foldstore schema --json` prints.
pub async fn schema(State(shared): State<Shared>) -> Result<Json<Value>, ApiError> {
    cached(&shared, "schema", crate::cmd::schema::report).await
}

/// `GET /api/health`: the verify report, the snapshots and the quarantine.
pub async fn health(State(shared): State<Shared>) -> Result<Json<Value>, ApiError> {
    cached(&shared, "health", |store| {
        Ok(json!({
            "verify": crate::cmd::verify::report(store)?,
            "snapshots": crate::cmd::snapshots::report(store)?,
            "quarantine": quarantine(store.path())?,
        }))
    })
    .await
}

/// The files repair moved aside, of a folder store: `{"folder", "files": [{"path", "bytes"}],
/// "more"}` (`folder` null for a store on a server).
fn quarantine(folder: Option<&Path>) -> anyhow::Result<Value> {
    let Some(folder) = folder else {
        return Ok(json!({"folder": null, "files": [], "more": 0}));
    };
    let root = folder.join(crate::cmd::gc::QUARANTINE_FOLDER);
    let mut files = Vec::new();
    let mut more = 0u64;
    let mut pending = vec![root.clone()];
    while let Some(dir) = pending.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(anyhow::anyhow!("cannot list {}: {e}", dir.display())),
        };
        for entry in entries {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                pending.push(entry.path());
            } else if files.len() < QUARANTINE_LISTED {
                let path = entry.path();
                let shown = path.strip_prefix(&root).unwrap_or(&path);
                let bytes = entry.metadata().map(|m| m.len()).unwrap_or(0);
                files.push(json!({"path": shown.display().to_string(), "bytes": bytes}));
            } else {
                more += 1;
            }
        }
    }
    files.sort_by(|a, b| a["path"].as_str().cmp(&b["path"].as_str()));
    Ok(json!({"folder": root.display().to_string(), "files": files, "more": more}))
}

/// The length of a chart's bars, chosen by the time the range spans.
fn unit_for(span: Duration) -> (&'static str, u64) {
    if span <= Duration::from_secs(3 * 3600) {
        ("minute", 60)
    } else if span <= Duration::from_secs(7 * 86_400) {
        ("hour", 3600)
    } else {
        ("day", 86_400)
    }
}

/// `GET /api/chart?from=&to=`: the commits `from..=to` (default: the newest
/// [`CHART_DEFAULT`]; at most [`CHART_MAX`], the newest of a longer range) counted per minute,
/// hour or day of their `time` header (by the time they span), and their events per name.
pub async fn chart(
    State(shared): State<Shared>,
    params: Result<QueryParams<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let params = Params::take(params)?;
    params.only(&["from", "to"])?;
    let (from, to) = (params.number("from")?, params.number("to")?);
    on_store(&shared, move |store| {
        let tip = store.tip()?;
        let last = to.unwrap_or(tip).min(tip);
        let first = match from {
            Some(from) => from.max(1),
            None => last
                .saturating_sub(CHART_DEFAULT - 1)
                .max(crate::access::first_readable(store)?),
        }
        .max(last.saturating_sub(CHART_MAX - 1));
        Ok(Json(count(store, first, last, tip)?))
    })
    .await
}

fn count(store: &Store, first: u64, last: u64, tip: u64) -> anyhow::Result<Value> {
    let mut times = Vec::new();
    let mut names: BTreeMap<String, u64> = BTreeMap::new();
    let (mut commits, mut untimed) = (0u64, 0u64);
    if first <= last {
        for scanned in store.raw_commits(first..=last)? {
            let Some((commit, _)) = read_once(store, scanned, Some(last))? else {
                break;
            };
            commits += 1;
            let secs = commit
                .time()
                .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
                .map(|d| d.as_secs());
            match secs {
                Some(secs) => times.push((secs, commit.events().len() as u64)),
                None => untimed += 1,
            }
            for event in commit.events() {
                *names.entry(event.name().to_owned()).or_default() += 1;
            }
        }
    }
    let low = times.iter().map(|t| t.0).min().unwrap_or(0);
    let high = times.iter().map(|t| t.0).max().unwrap_or(0);
    let (unit, length) = unit_for(Duration::from_secs(high - low));
    let mut buckets: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
    for (secs, events) in times {
        let entry = buckets.entry(secs - secs % length).or_default();
        entry.0 += 1;
        entry.1 += events;
    }
    let buckets: Vec<Value> = buckets
        .into_iter()
        .map(|(start, (commits, events))| {
            let at = SystemTime::UNIX_EPOCH + Duration::from_secs(start);
            json!({
                "start": humantime::format_rfc3339_seconds(at).to_string(),
                "seconds": start,
                "commits": commits,
                "events": events,
            })
        })
        .collect();
    let mut by_name: Vec<(String, u64)> = names.into_iter().collect();
    by_name.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let names: Vec<Value> = by_name
        .into_iter()
        .map(|(name, events)| json!({"name": name, "events": events}))
        .collect();
    Ok(json!({
        "tip": tip,
        "from": first,
        "to": last,
        "commits": commits,
        "untimed_commits": untimed,
        "unit": unit,
        "unit_seconds": length,
        "buckets": buckets,
        "names": names,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_for_a_report_while_it_is_made_wait_for_it_instead_of_making_it_again() {
        let store = Store::memory();
        store.log(&foldstore::Event::new("e")).unwrap();
        let cache = Arc::new(Cache::default());
        let made = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (cache, store, made) = (cache.clone(), store.clone(), made.clone());
                std::thread::spawn(move || {
                    cache
                        .get("slow", &store, |_| {
                            made.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            std::thread::sleep(Duration::from_millis(200));
                            Ok(json!({"made": true}))
                        })
                        .unwrap()
                })
            })
            .collect();
        for thread in threads {
            assert_eq!(thread.join().unwrap(), json!({"made": true}));
        }
        assert_eq!(made.load(std::sync::atomic::Ordering::SeqCst), 1);
        // Made again once the log grew.
        store.log(&foldstore::Event::new("e")).unwrap();
        cache.get("slow", &store, |_| Ok(json!(2))).unwrap();
        assert_eq!(
            cache.get("slow", &store, |_| Ok(json!(3))).unwrap(),
            json!(2)
        );
    }

    #[test]
    fn chooses_minutes_hours_or_days_by_the_span() {
        assert_eq!(unit_for(Duration::from_secs(0)).0, "minute");
        assert_eq!(unit_for(Duration::from_secs(3 * 3600)).0, "minute");
        assert_eq!(unit_for(Duration::from_secs(3 * 3600 + 1)).0, "hour");
        assert_eq!(unit_for(Duration::from_secs(7 * 86_400 + 1)).0, "day");
    }
}
