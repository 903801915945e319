//! The backend's errors: what failed and where, a hint where one helps, and the cause shown
//! once (object_store's errors repeat their sources in their own text).

use object_store::path::Path;

use super::create::{CreateFailure, ReadBack};
use super::{ObjectStorage, BACKEND};
use crate::error::Error;

impl ObjectStorage {
    /// An error for a failed `action` on `path`, with a hint where one helps.
    pub(super) fn failure(&self, action: &str, path: &Path, source: object_store::Error) -> Error {
        self.failure_at(action, &self.location(path), &source)
    }

    /// An error for a failed `action` on the object(s) at `location`, with a hint where one
    /// helps.
    pub(super) fn failure_at(
        &self,
        action: &str,
        location: &str,
        source: &object_store::Error,
    ) -> Error {
        failure(action, location, source, self.check.as_deref())
    }

    /// The error for a create that failed.
    pub(super) fn create_failure(&self, path: &Path, failed: CreateFailure) -> Error {
        let location = self.location(path);
        match failed {
            CreateFailure::Refused(e) => self.failure_at("create", &location, &e),
            CreateFailure::Unknown { error, read_back } => {
                // The server did not answer as it should, twice.
                let check = match (&read_back, &self.check) {
                    (ReadBack::Failed(_), Some(check)) => format!("; {check}"),
                    _ => String::new(),
                };
                let why = match read_back {
                    ReadBack::Absent => {
                        "it is not there now, but the request may still be carried out later"
                            .to_owned()
                    }
                    ReadBack::SameBytesWithoutId => "it now holds the same bytes, but they carry no commitId to tell whether they are this writer's or another's".to_owned(),
                    ReadBack::Vanished => "the server said it exists, but it is gone now (moved aside by a repair?)".to_owned(),
                    ReadBack::Failed(e) => format!("reading it back failed too: {}", chain(&e)),
                };
                // The message holds the cause whole: see `failure`.
                Error::Backend {
                    backend: BACKEND,
                    message: format!(
                        "the outcome of creating {location} is unknown ({}): {why}; look at the object before writing again{check}",
                        chain(&error)
                    ),
                    source: None,
                }
            }
        }
    }
}

/// `error` and its sources, each shown once: object_store's errors show their source in their
/// own text, and often again as their source.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let shown = cause.to_string();
        if !text.contains(&shown) {
            text.push_str(": ");
            text.push_str(&shown);
        }
        source = cause.source();
    }
    text
}

/// An error for a failed `action` on the object at `location`, with a hint where one helps:
/// `check` says what to check when the server did not answer as it should (a store made from
/// a URL).
///
/// The message holds the cause whole (see [`chain`]) and the error has no source: shown with
/// its sources, as the command-line tool shows errors, the cause then appears once.
pub(super) fn failure(
    action: &str,
    location: &str,
    source: &object_store::Error,
    check: Option<&str>,
) -> Error {
    let hint = match source {
        object_store::Error::NotFound { .. } => {
            " (does the bucket exist? foldstore does not create buckets)".to_owned()
        }
        object_store::Error::PermissionDenied { .. }
        | object_store::Error::Unauthenticated { .. } => {
            " (check the credentials, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, and the bucket's permissions)".to_owned()
        }
        object_store::Error::NotImplemented { .. } | object_store::Error::NotSupported { .. } => {
            " (this object store cannot create objects exclusively, which foldstore needs)"
                .to_owned()
        }
        _ => String::new(),
    };
    let check = match (hint.is_empty(), check) {
        (true, Some(check)) => format!("; {check}"),
        _ => String::new(),
    };
    Error::Backend {
        backend: BACKEND,
        message: format!("cannot {action} {location}{hint}: {}{check}", chain(source)),
        source: None,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::storage::object::url::{check_hint, Limits};

    #[test]
    fn failures_say_what_to_check_and_their_cause_once() {
        let limits = Limits {
            request: Duration::from_secs(30),
            connect: Duration::from_secs(10),
        };
        let http = check_hint(Some("http://127.0.0.1:9000"), false, &limits);
        assert!(
            http.contains("the server at http://127.0.0.1:9000"),
            "{http}"
        );
        assert!(http.contains("AWS_ALLOW_HTTP=true"), "{http}");
        assert!(http.contains("AWS_ACCESS_KEY_ID"), "{http}");
        assert!(http.contains("30s"), "{http}");
        let allowed = check_hint(Some("http://127.0.0.1:9000"), true, &limits);
        assert!(!allowed.contains("AWS_ALLOW_HTTP"), "{allowed}");
        let https = check_hint(Some("https://s3.example.com"), false, &limits);
        assert!(!https.contains("AWS_ALLOW_HTTP"), "{https}");
        let aws = check_hint(None, false, &limits);
        assert!(aws.contains("AWS_REGION"), "{aws}");

        let cause = object_store::Error::Generic {
            store: "S3",
            source: "error sending request: operation timed out".into(),
        };
        let error = failure("read", "s3://b/1.log", &cause, Some(&http));
        let message = error.to_string();
        assert!(
            message.starts_with("object storage: cannot read s3://b/1.log: "),
            "{message}"
        );
        assert_eq!(
            message.matches("operation timed out").count(),
            1,
            "{message}"
        );
        assert_eq!(message.matches("check that").count(), 1, "{message}");
        assert!(std::error::Error::source(&error).is_none(), "{error:?}");
        // A failure with its own hint does not add the other.
        let missing = object_store::Error::NotFound {
            path: "1.log".into(),
            source: "no such bucket".into(),
        };
        let message = failure("read", "s3://b/1.log", &missing, Some(&http)).to_string();
        assert!(message.contains("does the bucket exist?"), "{message}");
        assert!(!message.contains("check that"), "{message}");
    }
}
