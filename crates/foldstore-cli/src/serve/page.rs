//! The web page: its files, embedded in the binary (HTML, CSS and JavaScript modules, no
//! build step), and the security headers every answer carries.
//!
//! The page builds its DOM with `textContent` and `createElement` only: what the store holds
//! (names, headers, data) is never parsed as HTML. The Content-Security-Policy allows scripts
//! and styles from the server only, none inline, so that even a mistake there runs nothing.

use axum::extract::{Path, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;

/// The page's files: name, content type, content.
const FILES: [(&str, &str, &str); 6] = [
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("page/style.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("page/app.js"),
    ),
    (
        "dom.js",
        "text/javascript; charset=utf-8",
        include_str!("page/dom.js"),
    ),
    (
        "log.js",
        "text/javascript; charset=utf-8",
        include_str!("page/log.js"),
    ),
    (
        "views.js",
        "text/javascript; charset=utf-8",
        include_str!("page/views.js"),
    ),
    (
        "chart.js",
        "text/javascript; charset=utf-8",
        include_str!("page/chart.js"),
    ),
];

/// The policy: everything from this server only, nothing inline, no frames, no plugins.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

/// `GET /`: the page.
pub async fn index() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        include_str!("page/index.html"),
    )
        .into_response()
}

/// `GET /page/{file}`: one of the page's files.
pub async fn file(Path(name): Path<String>) -> Result<Response, ApiError> {
    match FILES.iter().find(|(file, _, _)| *file == name) {
        Some((_, kind, content)) => Ok((
            [
                (header::CONTENT_TYPE, *kind),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            *content,
        )
            .into_response()),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("the page has no file {name:?}"),
        )),
    }
}

/// Adds the security headers to every answer: the Content-Security-Policy, `nosniff` (a
/// browser takes each answer as the type it says), no referrer, no framing.
pub async fn secure(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}
