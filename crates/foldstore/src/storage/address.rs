//! From a path or URL to a backend: `postgres://`, `postgresql://` and `s3://` addresses name
//! networked backends; anything else is a folder path. The one place that names every
//! networked backend, so that the [`Storage`] trait's file names none.

use std::path::Path;
use std::sync::Arc;

#[cfg(feature = "s3")]
use super::object::ObjectStorage;
#[cfg(feature = "postgres")]
use super::postgres::PostgresStorage;
use super::Storage;
use crate::error::{Error, Result};

/// `url` with any password replaced by `***` (in the user part and in a `password`
/// parameter).
pub(crate) fn redact_url(url: &str) -> String {
    let mut text = url.to_owned();
    if let Some(start) = text.find("://").map(|i| i + 3) {
        let end = text[start..]
            .find(['/', '?'])
            .map_or(text.len(), |i| start + i);
        if let Some(at) = text[start..end].rfind('@').map(|i| start + i) {
            if let Some(colon) = text[start..at].find(':').map(|i| start + i) {
                text.replace_range(colon + 1..at, "***");
            }
        }
    }
    let mut redacted = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(index) = rest.find("password=") {
        let value = index + "password=".len();
        redacted.push_str(&rest[..value]);
        redacted.push_str("***");
        rest = &rest[value..];
        let end = rest.find(['&', ' ']).unwrap_or(rest.len());
        rest = &rest[end..];
    }
    redacted.push_str(rest);
    redacted
}

/// `path` as foldstore shows it in messages and reports: a folder path as it is, a URL with
/// any password replaced by `***` (in its user part, or in a `password` parameter), so that
/// messages and logs never hold the password of a server's address.
///
/// ```
/// # use std::path::Path;
/// assert_eq!(
///     foldstore::shown_address(Path::new("postgres://app:s3cret@db/shop?table=orders")),
///     "postgres://app:***@db/shop?table=orders"
/// );
/// assert_eq!(foldstore::shown_address(Path::new("./members")), "./members");
/// ```
pub fn shown_address(path: &Path) -> String {
    let text = path.display().to_string();
    if text.contains("://") {
        redact_url(&text)
    } else {
        text
    }
}

/// The backend named by a URL (`postgres://...`, `postgresql://...`, `s3://...`), or `None`
/// when `path` is a folder path.
///
/// # Errors
/// A URL of a backend this build lacks the feature for, or one the backend refuses.
pub(crate) fn address(path: &Path) -> Result<Option<Arc<dyn Storage>>> {
    let Some(text) = path.to_str() else {
        return Ok(None);
    };
    let Some((scheme, _)) = text.split_once("://") else {
        return Ok(None);
    };
    match scheme {
        "postgres" | "postgresql" => {
            #[cfg(feature = "postgres")]
            {
                Ok(Some(Arc::new(PostgresStorage::connect(text)?)))
            }
            #[cfg(not(feature = "postgres"))]
            {
                Err(missing_feature(scheme, "postgres"))
            }
        }
        "s3" => {
            #[cfg(feature = "s3")]
            {
                Ok(Some(Arc::new(ObjectStorage::from_url(text)?)))
            }
            #[cfg(not(feature = "s3"))]
            {
                Err(missing_feature(scheme, "s3"))
            }
        }
        "file" => Ok(None),
        _ => Err(Error::Backend {
            backend: "address",
            message: format!(
                "{text}: foldstore knows folder paths and postgres://, postgresql:// and s3:// addresses, not {scheme}://"
            ),
            source: None,
        }),
    }
}

/// The error for an address whose backend this build lacks.
#[cfg_attr(all(feature = "postgres", feature = "s3"), allow(dead_code))]
fn missing_feature(scheme: &str, feature: &'static str) -> Error {
    Error::Backend {
        backend: feature,
        message: format!(
            "{scheme}:// addresses need foldstore built with the `{feature}` feature (cargo add foldstore --features {feature})"
        ),
        source: None,
    }
}
