//! The original Node.js package, `@scriptabuild/eventstore` 1.3.0, installed from the npm
//! registry into the cargo target folder (`<target>/tmp/node-compare`) by foldstore-testkit
//! (with its `package.json`), and driven by `node/bench.js`, which times the work itself.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};
use foldstore_testkit::install_original;
use serde_json::Value;

use crate::workload::Measured;

/// The folder of `bench.js`.
fn scripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("node")
}

/// The original package, ready to run.
#[derive(Debug)]
pub struct Original {
    modules: PathBuf,
    /// `node --version`.
    pub node_version: String,
    /// The package's version.
    pub version: String,
}

impl Original {
    /// Finds Node.js and installs the package (once: it is reused while it is there).
    ///
    /// # Errors
    /// Why the original cannot be run: no Node.js or npm, or the install failed.
    pub fn install() -> Result<Original, String> {
        let installed = install_original(&target_folder()?.join("tmp").join("node-compare"))?;
        Ok(Original {
            modules: installed.modules,
            node_version: installed.node_version,
            version: installed.version,
        })
    }

    /// `store.log(event)` for each event of `events_file` (one JSON object a line), one
    /// commit each, into a new store at `folder`.
    ///
    /// # Errors
    /// When the script fails or prints something else than its figures.
    pub fn append(&self, folder: &Path, events_file: &Path) -> anyhow::Result<Measured> {
        self.run(&[
            "append".as_ref(),
            folder.as_os_str(),
            events_file.as_os_str(),
        ])
    }

    /// `store.replayEventStream` over the whole store at `folder`.
    ///
    /// # Errors
    /// When the script fails or prints something else than its figures.
    pub fn replay(&self, folder: &Path) -> anyhow::Result<Measured> {
        self.run(&["replay".as_ref(), folder.as_os_str()])
    }

    fn run(&self, args: &[&std::ffi::OsStr]) -> anyhow::Result<Measured> {
        let script = scripts().join("bench.js");
        let out = Command::new("node")
            .arg(&script)
            .args(args)
            .env("NODE_PATH", &self.modules)
            .output()
            .with_context(|| format!("cannot run node {}", script.display()))?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            bail!(
                "node {} {args:?} failed ({}):\n{}{stdout}",
                script.display(),
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let figures: Value = serde_json::from_str(stdout.trim())
            .with_context(|| format!("bench.js printed {stdout:?}, not its figures"))?;
        match (
            figures["commits"].as_u64(),
            figures["events"].as_u64(),
            figures["seconds"].as_f64(),
        ) {
            (Some(commits), Some(events), Some(seconds)) => {
                Ok(Measured::new(commits, events, seconds))
            }
            _ => bail!("bench.js printed {figures}, not {{commits, events, seconds}}"),
        }
    }
}

/// The cargo target folder this program was built in: `<target>/<profile>/foldstore-compare`.
fn target_folder() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    exe.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .ok_or_else(|| format!("cannot find the target folder from {}", exe.display()))
}
