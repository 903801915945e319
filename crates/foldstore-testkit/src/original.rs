//! The original Node.js package (`@scriptabuild/eventstore`), installed from the npm registry
//! with the one `package.json` of `node/`, which pins its version.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The original Node.js package.
pub const ORIGINAL_PACKAGE: &str = "@scriptabuild/eventstore";

/// The original package installed, ready to run with `node`.
#[derive(Clone, Debug)]
pub struct Original {
    /// The `node_modules` folder that holds it (for `NODE_PATH`).
    pub modules: PathBuf,
    /// The package's version.
    pub version: String,
    /// `node --version`.
    pub node_version: String,
}

/// The `package.json` that pins the original package's version.
pub fn package_json() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("node/package.json")
}

/// Finds Node.js and installs the original package into `dir` (its `node_modules` folder),
/// from the npm registry with [`package_json`]; an install of the pinned version already there
/// is reused.
///
/// # Errors
/// Why the package cannot be had: no Node.js or npm, or the install failed.
pub fn install_original(dir: &Path) -> Result<Original, String> {
    let node_version = match Command::new("node").arg("--version").output() {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        Ok(out) => return Err(format!("`node --version` failed: {}", out.status)),
        Err(e) => return Err(format!("cannot run `node` ({e}): install Node.js and npm")),
    };
    let pinned = pinned_version()?;
    let modules = dir.join("node_modules");
    if installed_version(&modules).as_deref() != Some(pinned.as_str()) {
        fs::create_dir_all(dir).map_err(|e| format!("cannot create {dir:?}: {e}"))?;
        fs::copy(package_json(), dir.join("package.json"))
            .map_err(|e| format!("cannot copy package.json into {dir:?}: {e}"))?;
        eprintln!(
            "installing {ORIGINAL_PACKAGE}@{pinned} into {}",
            dir.display()
        );
        let npm = if cfg!(windows) { "npm.cmd" } else { "npm" };
        let out = Command::new(npm)
            .args(["install", "--no-audit", "--no-fund"])
            .current_dir(dir)
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
            version,
            node_version,
        }),
        other => Err(format!(
            "`npm install` in {dir:?} installed {ORIGINAL_PACKAGE} {other:?}, not {pinned}"
        )),
    }
}

/// The version of [`ORIGINAL_PACKAGE`] that [`package_json`] pins.
fn pinned_version() -> Result<String, String> {
    let path = package_json();
    let text = fs::read_to_string(&path).map_err(|e| format!("cannot read {path:?}: {e}"))?;
    let manifest: Value =
        serde_json::from_str(&text).map_err(|e| format!("cannot parse {path:?}: {e}"))?;
    manifest["dependencies"][ORIGINAL_PACKAGE]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("{path:?} does not pin {ORIGINAL_PACKAGE}"))
}

/// The version of [`ORIGINAL_PACKAGE`] installed in `modules`, if any.
fn installed_version(modules: &Path) -> Option<String> {
    let text = fs::read_to_string(modules.join(ORIGINAL_PACKAGE).join("package.json")).ok()?;
    let manifest: Value = serde_json::from_str(&text).ok()?;
    manifest["version"].as_str().map(str::to_owned)
}
