//! The token and who may do what: writes need it, and every request does when the server
//! listens beyond loopback. The token is compared in constant time and never logged.

use std::path::Path;

use anyhow::{bail, Context};
use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use super::error::ApiError;
use super::Shared;

/// The environment variable that holds the token when no --token-file is given.
pub const TOKEN_ENV: &str = "FOLDSTORE_TOKEN";

/// The most of a token file read: a token is one short line.
const TOKEN_FILE_BYTES: u64 = 64 << 10;

/// The text of the token file at `file`: a regular file (a FIFO would keep the server from
/// starting, a device from ending the read), read no further than [`TOKEN_FILE_BYTES`].
/// Warns when users other than its owner may read it.
fn read_token_file(file: &Path) -> anyhow::Result<String> {
    use std::io::Read;
    let shown = file.display();
    let metadata =
        std::fs::metadata(file).with_context(|| format!("cannot read the token file {shown}"))?;
    if !metadata.is_file() {
        bail!("the token file {shown} is not a regular file: write the token into a file only you may read");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if metadata.permissions().mode() & 0o077 != 0 {
            eprintln!(
                "warning: the token file {shown} may be read by other users (mode {:o}): chmod 600 it",
                metadata.permissions().mode() & 0o777
            );
        }
    }
    // One byte more than the bound, to tell a file at the bound from a longer one.
    let mut bytes = Vec::new();
    std::fs::File::open(file)
        .and_then(|opened| opened.take(TOKEN_FILE_BYTES + 1).read_to_end(&mut bytes))
        .with_context(|| format!("cannot read the token file {shown}"))?;
    if bytes.len() as u64 > TOKEN_FILE_BYTES {
        bail!(
            "the token file {shown} is larger than {} KiB: a token is one short line; write only the token into it",
            TOKEN_FILE_BYTES >> 10
        );
    }
    String::from_utf8(bytes)
        .with_context(|| format!("cannot read the token file {shown}: it must be text"))
}

/// A secret token. Its `Debug` does not show it.
pub struct Token(Vec<u8>);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<hidden>)")
    }
}

impl Token {
    /// The token of `file` (its first line, surrounding whitespace removed), or else of
    /// FOLDSTORE_TOKEN; `None` when neither is given.
    ///
    /// # Errors
    /// A file that cannot be read, or an empty token.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Option<Token>> {
        let (text, source) = match file {
            Some(file) => (
                read_token_file(file)?,
                format!("the token file {}", file.display()),
            ),
            None => match std::env::var(TOKEN_ENV) {
                Ok(text) => (text, TOKEN_ENV.to_owned()),
                Err(std::env::VarError::NotPresent) => return Ok(None),
                Err(std::env::VarError::NotUnicode(_)) => {
                    bail!("{TOKEN_ENV} is not valid UTF-8: write the token in plain text")
                }
            },
        };
        let token = text.lines().next().unwrap_or("").trim();
        if token.is_empty() {
            bail!("{source} holds no token: write the token on its first line");
        }
        Ok(Some(Token(token.as_bytes().to_vec())))
    }

    /// A token of the given text (for a server made in this process, as `bench serve` does).
    pub fn new(text: &str) -> Token {
        Token(text.as_bytes().to_vec())
    }

    /// Whether `given` is the token, in time independent of where they differ.
    fn matches(&self, given: &[u8]) -> bool {
        self.0.ct_eq(given).into()
    }
}

/// What the server allows.
#[derive(Debug)]
pub struct Access {
    /// The token, when one was given.
    pub token: Option<Token>,
    /// Whether appends are accepted.
    pub writes: bool,
    /// Whether reads need the token too (listening beyond loopback).
    pub reads_need_token: bool,
}

/// Lets a request through, or answers 401 (no token sent), 403 (a wrong token, or a write to a
/// read-only server).
pub async fn check(State(shared): State<Shared>, request: Request, next: Next) -> Response {
    let access = &shared.access;
    let write = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if write && !access.writes {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "the server is read-only: start it with --allow-writes (and a token) to append",
        )
        .into_response();
    }
    if write || access.reads_need_token {
        // Checked at start: writes and reads beyond loopback are only served with a token.
        let Some(token) = &access.token else {
            return ApiError::new(StatusCode::FORBIDDEN, "the server has no token").into_response();
        };
        let sent = request
            .headers()
            .get(header::AUTHORIZATION)
            .map(|value| value.as_bytes());
        let Some(sent) = sent else {
            let mut response = ApiError::new(
                StatusCode::UNAUTHORIZED,
                "this request needs the header 'Authorization: Bearer TOKEN'",
            )
            .into_response();
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
            return response;
        };
        // The scheme's name is case-insensitive (RFC 9110).
        let given = match sent.split_at_checked(7) {
            Some((scheme, given)) if scheme.eq_ignore_ascii_case(b"bearer ") => given,
            _ => b"",
        };
        if !token.matches(given) {
            return ApiError::new(
                StatusCode::FORBIDDEN,
                "the token is wrong (send 'Authorization: Bearer TOKEN' with the server's token)",
            )
            .into_response();
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_file_over_the_bound_is_refused_not_cut() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        let bound = usize::try_from(TOKEN_FILE_BYTES).unwrap();
        std::fs::write(&file, "t".repeat(bound)).unwrap();
        assert_eq!(read_token_file(&file).unwrap().len(), bound);
        std::fs::write(&file, "t".repeat(bound + 1)).unwrap();
        let error = format!("{:#}", read_token_file(&file).unwrap_err());
        assert!(
            error.contains("larger than 64 KiB") && error.contains(&file.display().to_string()),
            "{error}"
        );
    }
}
