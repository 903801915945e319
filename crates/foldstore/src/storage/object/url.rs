//! Stores named by `s3://bucket/prefix` URLs: the URL's parts and time limits, the client
//! built from them and the environment, and what to check when the server does not answer.

use std::sync::Arc;
use std::time::Duration;

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey, S3ConditionalPut};
use object_store::path::Path;
use object_store::{ClientConfigKey, RetryConfig};

use super::{ObjectStorage, BACKEND, DEFAULT_CONNECT_TIMEOUT, DEFAULT_REQUEST_TIMEOUT};
use crate::error::{Error, Result};

impl ObjectStorage {
    /// A store on S3 (or an S3-compatible server) at `url`, `s3://bucket` or
    /// `s3://bucket/prefix`, optionally followed by time limits:
    /// `s3://bucket/prefix?timeout=5s&connect_timeout=2s`.
    ///
    /// The rest of the configuration comes from the usual environment variables, as
    /// [`AmazonS3Builder::from_env`] reads them: `AWS_ENDPOINT_URL` (or `AWS_ENDPOINT`) for
    /// another server than AWS, `AWS_REGION` or `AWS_DEFAULT_REGION`, `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY` (and `AWS_SESSION_TOKEN`), `AWS_ALLOW_HTTP=true` for a local
    /// emulator without TLS. Commits are created with conditional puts (`If-None-Match: *`),
    /// which AWS S3, MinIO and R2 support.
    ///
    /// # Time limits
    /// - `timeout`: the longest one request may take, retries of failed attempts included
    ///   (30 s by default);
    /// - `connect_timeout`: the longest making a connection may take (10 s by default).
    ///
    /// Each is a number of seconds (`5`) or a duration (`500ms`, `2m`), more than zero. The
    /// URL's parameter comes first, then the environment variable `AWS_TIMEOUT` or
    /// `AWS_CONNECT_TIMEOUT`, then the default.
    ///
    /// Nothing is requested yet: a wrong endpoint or credentials show at the first operation.
    ///
    /// # Errors
    /// [`Error::Backend`] when the URL is not of that form (or has another parameter, or a
    /// time limit that is not one), or the client cannot be built from it and the environment.
    pub fn from_url(url: &str) -> Result<Self> {
        let (bucket, prefix, limits) = parse_s3_url(url)?;
        let limits = limits.resolve(url)?;
        let prefix = Path::parse(prefix).map_err(|e| Error::Backend {
            backend: BACKEND,
            message: format!(
                "invalid prefix in the URL {url:?}: {e}; use s3://bucket/prefix with a prefix made of non-empty segments separated by '/'"
            ),
            source: Some(Box::new(e)),
        })?;
        let builder = AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .with_conditional_put(S3ConditionalPut::ETagMatch)
            .with_config(
                AmazonS3ConfigKey::Client(ClientConfigKey::Timeout),
                humantime::format_duration(limits.request).to_string(),
            )
            .with_config(
                AmazonS3ConfigKey::Client(ClientConfigKey::ConnectTimeout),
                humantime::format_duration(limits.connect).to_string(),
            )
            // No attempt starts after the request's time limit: a server that does not answer
            // fails the request after about that long, not after every retry has waited too.
            .with_retry(RetryConfig {
                retry_timeout: limits.request,
                ..RetryConfig::default()
            });
        let endpoint = builder
            .get_config_value(&AmazonS3ConfigKey::Endpoint)
            .filter(|endpoint| !endpoint.trim().is_empty());
        let allow_http = builder
            .get_config_value(&AmazonS3ConfigKey::Client(ClientConfigKey::AllowHttp))
            .is_some_and(|allowed| allowed.trim().eq_ignore_ascii_case("true"));
        let check = check_hint(endpoint.as_deref(), allow_http, &limits);
        let store = builder.build().map_err(|e| Error::Backend {
            backend: BACKEND,
            message: format!(
                "cannot set up an S3 client for {url}: {e} (check the AWS_* environment variables)"
            ),
            source: Some(Box::new(e)),
        })?;
        Ok(ObjectStorage {
            store: Arc::new(store),
            prefix,
            base: format!("s3://{bucket}"),
            check: Some(check),
            appending: Arc::default(),
        })
    }
}

/// The time limits an `s3://` URL sets (`None`: not set there).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct UrlLimits {
    pub(super) request: Option<Duration>,
    pub(super) connect: Option<Duration>,
}

/// The time limits in effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Limits {
    pub(super) request: Duration,
    pub(super) connect: Duration,
}

impl UrlLimits {
    /// The limits in effect: the URL's, else the environment's, else the defaults.
    fn resolve(self, url: &str) -> Result<Limits> {
        self.resolve_with(url, |name| std::env::var(name).ok())
    }

    fn resolve_with(self, url: &str, variable: impl Fn(&str) -> Option<String>) -> Result<Limits> {
        let from_environment = |name: &str| -> Result<Option<Duration>> {
            let Some(value) = variable(name).filter(|value| !value.trim().is_empty()) else {
                return Ok(None);
            };
            parse_limit(&value).map(Some).map_err(|problem| Error::Backend {
                backend: BACKEND,
                message: format!(
                    "cannot set up an S3 client for {url}: the environment variable {name}={value:?} is not a time limit: {problem}"
                ),
                source: None,
            })
        };
        Ok(Limits {
            request: match self.request {
                Some(limit) => limit,
                None => from_environment("AWS_TIMEOUT")?.unwrap_or(DEFAULT_REQUEST_TIMEOUT),
            },
            connect: match self.connect {
                Some(limit) => limit,
                None => from_environment("AWS_CONNECT_TIMEOUT")?.unwrap_or(DEFAULT_CONNECT_TIMEOUT),
            },
        })
    }
}

/// A time limit: a number of seconds (`5`, `0.5`) or a duration (`500ms`, `2m`), more than
/// zero.
fn parse_limit(text: &str) -> std::result::Result<Duration, String> {
    let text = text.trim();
    let limit = if let Ok(seconds) = text.parse::<f64>() {
        Duration::try_from_secs_f64(seconds).map_err(|e| e.to_string())?
    } else {
        humantime::parse_duration(text).map_err(|e| e.to_string())?
    };
    if limit.is_zero() {
        return Err("it must be more than zero".to_owned());
    }
    Ok(limit)
}

/// The bucket, prefix and time limits of an `s3://bucket/prefix[?timeout=..&connect_timeout=..]`
/// URL.
fn parse_s3_url(url: &str) -> Result<(&str, &str, UrlLimits)> {
    let bad = |problem: &str| {
        Error::Backend {
        backend: BACKEND,
        message: format!(
            "invalid object-storage URL {url:?}: {problem}; expected s3://bucket or s3://bucket/prefix, optionally with ?timeout=SECONDS&connect_timeout=SECONDS"
        ),
        source: None,
    }
    };
    let rest = url
        .strip_prefix("s3://")
        .ok_or_else(|| bad("it does not start with s3://"))?;
    let (rest, query) = match rest.split_once('?') {
        Some((rest, query)) => (rest, Some(query)),
        None => (rest, None),
    };
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let valid_bucket = !bucket.is_empty()
        && bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'.'));
    if !valid_bucket {
        return Err(bad(
            "the bucket name is missing or has characters other than a-z, 0-9, '-' and '.'",
        ));
    }
    if prefix.contains('#') || query.is_some_and(|query| query.contains('#')) {
        return Err(bad("it has a fragment"));
    }
    let mut limits = UrlLimits::default();
    for parameter in query.into_iter().flat_map(|query| query.split('&')) {
        if parameter.is_empty() {
            continue;
        }
        let (name, value) = parameter.split_once('=').unwrap_or((parameter, ""));
        let slot = match name {
            "timeout" => &mut limits.request,
            "connect_timeout" => &mut limits.connect,
            _ => {
                return Err(bad(&format!(
                    "it has the parameter {name:?}, and knows only timeout and connect_timeout"
                )))
            }
        };
        let limit = parse_limit(value).map_err(|problem| {
            bad(&format!(
                "its {name} {value:?} is not a time limit ({problem}): write a number of seconds (5) or a duration (500ms, 2m)"
            ))
        })?;
        if slot.replace(limit).is_some() {
            return Err(bad(&format!("it sets {name} twice")));
        }
    }
    Ok((bucket, prefix.trim_matches('/'), limits))
}

/// What to check when requests to an S3 server at `endpoint` (`None`: AWS) fail without an
/// answer; `allow_http`: whether `AWS_ALLOW_HTTP` allows an http:// endpoint.
pub(super) fn check_hint(endpoint: Option<&str>, allow_http: bool, limits: &Limits) -> String {
    let server = match endpoint {
        Some(endpoint) => format!("the server at {endpoint} (AWS_ENDPOINT_URL)"),
        None => "the S3 endpoint (AWS_ENDPOINT_URL, unset: AWS itself, in AWS_REGION)".to_owned(),
    };
    let http = if !allow_http
        && endpoint.is_some_and(|endpoint| endpoint.to_ascii_lowercase().starts_with("http://"))
    {
        ", that AWS_ALLOW_HTTP=true is set (an http:// endpoint needs it)"
    } else {
        ""
    };
    format!(
        "check that {server} is up and answers{http}, and that the credentials \
         (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) are right; a request may take {}, and \
         making a connection {} (the URL's timeout and connect_timeout, or AWS_TIMEOUT and \
         AWS_CONNECT_TIMEOUT)",
        humantime::format_duration(limits.request),
        humantime::format_duration(limits.connect)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked() {
        let none = UrlLimits::default();
        assert_eq!(parse_s3_url("s3://bucket").unwrap(), ("bucket", "", none));
        assert_eq!(
            parse_s3_url("s3://my-bucket/a/b/").unwrap(),
            ("my-bucket", "a/b", none)
        );
        for bad in [
            "",
            "bucket",
            "http://bucket/x",
            "s3://",
            "s3:///x",
            "s3://Bucket_x/y",
            "s3://bucket/x#y",
            "s3://bucket/x?bogus=1",
            "s3://bucket/x?timeout",
            "s3://bucket/x?timeout=0",
            "s3://bucket/x?timeout=-1",
            "s3://bucket/x?timeout=soon",
            "s3://bucket/x?timeout=1&timeout=2",
        ] {
            let message = parse_s3_url(bad).unwrap_err().to_string();
            assert!(message.contains(&format!("{bad:?}")), "{message}");
            assert!(message.contains("s3://bucket/prefix"), "{message}");
        }
    }

    #[test]
    fn time_limits_come_from_the_url_then_the_environment_then_the_defaults() {
        let (_, prefix, limits) =
            parse_s3_url("s3://bucket/a/b?timeout=1.5&connect_timeout=250ms").unwrap();
        assert_eq!(prefix, "a/b");
        assert_eq!(
            limits,
            UrlLimits {
                request: Some(Duration::from_millis(1500)),
                connect: Some(Duration::from_millis(250)),
            }
        );
        let environment = |name: &str| match name {
            "AWS_TIMEOUT" => Some("7s".to_owned()),
            "AWS_CONNECT_TIMEOUT" => Some("3".to_owned()),
            _ => None,
        };
        let nothing = |_: &str| None;
        let url = "s3://bucket";
        assert_eq!(
            limits.resolve_with(url, environment).unwrap(),
            Limits {
                request: Duration::from_millis(1500),
                connect: Duration::from_millis(250),
            },
            "the URL first"
        );
        assert_eq!(
            UrlLimits::default().resolve_with(url, environment).unwrap(),
            Limits {
                request: Duration::from_secs(7),
                connect: Duration::from_secs(3),
            },
            "then the environment"
        );
        assert_eq!(
            UrlLimits::default().resolve_with(url, nothing).unwrap(),
            Limits {
                request: DEFAULT_REQUEST_TIMEOUT,
                connect: DEFAULT_CONNECT_TIMEOUT,
            },
            "then the defaults"
        );
        let error = UrlLimits::default()
            .resolve_with(url, |name| {
                (name == "AWS_TIMEOUT").then(|| "never".to_owned())
            })
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("AWS_TIMEOUT=\"never\"") && error.contains(url),
            "{error}"
        );
    }
}
