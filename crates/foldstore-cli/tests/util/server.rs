//! A running `foldstore serve` on a free port of loopback, for the tests of the page and its
//! paths.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

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
        let mut command = Command::new(FOLDSTORE);
        command
            .arg("serve")
            .arg(store)
            .args(["--listen", "127.0.0.1:0"])
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
        let base = line[start..].split_whitespace().next().unwrap().to_owned();
        Server { child, base }
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
