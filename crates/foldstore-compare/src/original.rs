//! The original Node.js package, `@scriptabuild/eventstore` 1.3.0, installed from the npm
//! registry into the cargo target folder (`<target>/tmp/node-compare`) with the `package.json`
//! of `node/`, and driven by `node/bench.js`, which times the work itself.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};
use serde_json::Value;

use crate::workload::Measured;

const PACKAGE: &str = "@scriptabuild/eventstore";

/// The folder of `bench.js` and its `package.json`.
fn scripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("node")
}

fn npm() -> &'static str {
    if cfg!(windows) {
        "npm.cmd"
    } else {
        "npm"
    }
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
        let node_version = match Command::new("node").arg("--version").output() {
            Ok(out) if out.status.success() => {
                String::from_utf8_lossy(&out.stdout).trim().to_owned()
            }
            Ok(out) => return Err(format!("`node --version` failed: {}", out.status)),
            Err(e) => return Err(format!("cannot run `node` ({e}): install Node.js and npm")),
        };
        let pinned = pinned_version()?;
        let dir = target_folder()?.join("tmp").join("node-compare");
        let modules = dir.join("node_modules");
        if installed_version(&modules).as_deref() != Some(pinned.as_str()) {
            fs::create_dir_all(&dir).map_err(|e| format!("cannot create {dir:?}: {e}"))?;
            fs::copy(scripts().join("package.json"), dir.join("package.json"))
                .map_err(|e| format!("cannot copy package.json into {dir:?}: {e}"))?;
            eprintln!("installing {PACKAGE}@{pinned} into {}", dir.display());
            let out = Command::new(npm())
                .args(["install", "--no-audit", "--no-fund"])
                .current_dir(&dir)
                .output()
                .map_err(|e| format!("cannot run `npm` ({e}): install npm"))?;
            if !out.status.success() {
                return Err(format!(
                    "`npm install` in {dir:?} failed ({}):\n{}{}",
                    out.status,
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
        }
        match installed_version(&modules) {
            Some(version) if version == pinned => Ok(Original {
                modules,
                node_version,
                version,
            }),
            other => Err(format!(
                "`npm install` in {dir:?} installed {PACKAGE} {other:?}, not {pinned}"
            )),
        }
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
            (Some(commits), Some(events), Some(seconds)) => Ok(Measured {
                commits,
                events,
                seconds,
                peak_bytes: None,
            }),
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

/// The version of `PACKAGE` that `node/package.json` pins.
fn pinned_version() -> Result<String, String> {
    let path = scripts().join("package.json");
    let text = fs::read_to_string(&path).map_err(|e| format!("cannot read {path:?}: {e}"))?;
    let manifest: Value =
        serde_json::from_str(&text).map_err(|e| format!("cannot parse {path:?}: {e}"))?;
    manifest["dependencies"][PACKAGE]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("{path:?} does not pin {PACKAGE}"))
}

/// The version of `PACKAGE` installed in `modules`, if any.
fn installed_version(modules: &Path) -> Option<String> {
    let text = fs::read_to_string(modules.join(PACKAGE).join("package.json")).ok()?;
    let manifest: Value = serde_json::from_str(&text).ok()?;
    manifest["version"].as_str().map(str::to_owned)
}
