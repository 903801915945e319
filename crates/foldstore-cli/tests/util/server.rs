//! A running `foldstore serve` on a free port of loopback, for the tests of the page and its
//! paths.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use super::FOLDSTORE;

/// A running `foldstore serve`, killed when dropped.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

impl Server {
    /// Starts `foldstore serve store ARGS` on a free port of loopback (with FOLDSTORE_TOKEN
    /// set to `token`, when given).
    pub fn start(store: &Path, args: &[&str], token: Option<&str>) -> Server {
        Server::start_on(store, "127.0.0.1:0", args, token)
    }

    /// As [`start`](Self::start), listening on `listen` (port 0: a free one); reached through
    /// loopback on the port it prints.
    pub fn start_on(store: &Path, listen: &str, args: &[&str], token: Option<&str>) -> Server {
        let mut command = Command::new(FOLDSTORE);
        command
            .arg("serve")
            .arg(store)
            .args(["--listen", listen])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        match token {
            Some(token) => command.env("FOLDSTORE_TOKEN", token),
            None => command.env_remove("FOLDSTORE_TOKEN"),
        };
        let mut child = command.spawn().expect("start foldstore serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("its output"))
            .read_line(&mut line)
            .expect("read the address");
        let start = line
            .find("http://")
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        let address = line[start..].split_whitespace().next().unwrap();
        let port = address.rsplit(':').next().unwrap();
        Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    /// The address of `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP client that hands every status back (none is an error) and gives up after two
/// minutes.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into()
}

/// GET: the status and the JSON body.
pub fn get(server: &Server, path: &str) -> (u16, Value) {
    let mut response = agent().get(&server.url(path)).call().expect("GET");
    let status = response.status().as_u16();
    (
        status,
        response.body_mut().read_json().expect("a JSON body"),
    )
}

/// The numbers of the commits of a page of `/api/commits`.
pub fn numbers(page: &Value) -> Vec<u64> {
    page["commits"]
        .as_array()
        .unwrap_or_else(|| panic!("no commits in {page}"))
        .iter()
        .map(|c| c["number"].as_u64().unwrap())
        .collect()
}
