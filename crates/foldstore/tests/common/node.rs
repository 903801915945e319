//! The original Node.js package, installed for the live tests that run it beside foldstore,
//! and `node` commands that find it.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Once, OnceLock};

use foldstore_testkit::{install_original, ORIGINAL_PACKAGE};

/// The folder of the helper scripts for the original package.
pub fn node_scripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/node")
}

/// The `node_modules` folder holding the original package, or `None` when the test should be
/// skipped: without Node.js and npm, or when the install fails, unless the environment
/// variable `CI` is `true` (then the test fails). `tests` names the tests that need it, for
/// the message that says they were skipped (once a test binary).
///
/// The package is installed from the npm registry once a test binary, into the cargo target
/// folder (`<target>/tmp/node-interop`, shared by every test file), by
/// [`foldstore_testkit::install_original`], and reused while the version it pins is there.
pub fn original_package(tests: &str) -> Option<&'static Path> {
    static INSTALLED: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let installed = INSTALLED.get_or_init(|| {
        install_original(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("node-interop"))
            .map(|original| original.modules)
    });
    match installed {
        Ok(modules) => Some(modules),
        Err(why) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!(
                "CI is true, and {tests} cannot run without Node.js and {ORIGINAL_PACKAGE}: {why}"
            )
        }
        Err(why) => {
            static SAID: Once = Once::new();
            // Straight to the stderr handle: libtest captures `eprintln!` of passing tests.
            SAID.call_once(|| {
                let bang = "!".repeat(100);
                let _ = writeln!(
                    io::stderr(),
                    "\n{bang}\n!!! SKIPPED: {tests}, with the original Node.js package.\
                     \n!!! {why}\n!!! With CI=true this fails instead.\n{bang}\n"
                );
            });
            None
        }
    }
}

/// A `node` command that finds the original package in `modules` (from [`original_package`]).
pub fn node(modules: &Path) -> Command {
    let mut command = Command::new("node");
    command.env("NODE_PATH", modules);
    command
}

/// Runs `command` (a [`node`] command) to its end and returns what it printed; fails the test,
/// with its output, when it fails.
pub fn node_output(command: &mut Command) -> String {
    let out = command.output().expect("run node");
    let stdout = String::from_utf8(out.stdout).expect("node prints UTF-8");
    assert!(
        out.status.success(),
        "node {:?} failed ({}):\n{}\nstdout:\n{stdout}",
        command.get_args().collect::<Vec<_>>(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}
