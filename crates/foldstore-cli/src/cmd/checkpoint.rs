//! `foldstore checkpoint`: sign the end of a store's chain into a checkpoint file, after
//! verifying the chain; or make a new signing key.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::bail;
use foldstore::{CheckpointSigningKey, Store};

use crate::output::{plural, printable};
use crate::progress::Progress;

/// Verifies `store`'s chain and, when it is sound, writes a checkpoint of its last commit,
/// signed with the key in `key`, to `out`.
///
/// # Errors
/// A broken chain or a store without one (nothing written), a key file that cannot be read,
/// or a checkpoint that cannot be written.
pub fn run(store: &Store, key: &Path, out: &Path) -> anyhow::Result<ExitCode> {
    // Read first: a missing key fails before the long verification.
    let key = CheckpointSigningKey::read(key)?;
    let mut progress = Progress::new("verifying the chain", 0);
    let report = store.verify_chain(|done, total| progress.update(done, total))?;
    drop(progress);
    if let Some(problem) = report.problems.first() {
        bail!(
            "{}: {}; no checkpoint was written (run 'foldstore verify --chain' for every problem)",
            printable(&problem.location),
            printable(&problem.problem)
        );
    }
    // The commit verified above, never one written since.
    let checkpoint = store.checkpoint_verified(&report, &key)?;
    checkpoint.write(out)?;
    let chained = report.chain.map_or(0, |chain| chain.chained);
    println!(
        "checkpoint of commit {} ({}; {} verified) written to {}",
        checkpoint.commit,
        checkpoint.hash,
        plural(chained, "chained commit"),
        printable(&out.display().to_string())
    );
    Ok(ExitCode::SUCCESS)
}

/// Writes a new signing key to `path` (owner-only, never replacing a file) and its public
/// key to `path.pub`, and prints where; the secret key is never printed.
///
/// # Errors
/// When either file exists or cannot be written (then neither is left behind).
pub fn generate(path: &Path) -> anyhow::Result<ExitCode> {
    let public_path = {
        let mut name = OsString::from(path.as_os_str());
        name.push(".pub");
        PathBuf::from(name)
    };
    if public_path.exists() {
        bail!(
            "{} exists: a key file is never replaced; choose another name",
            printable(&public_path.display().to_string())
        );
    }
    let key = CheckpointSigningKey::write_new(path)?;
    let public = key.public_key();
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&public_path)
        .and_then(|mut file| {
            std::io::Write::write_all(&mut file, format!("{public}\n").as_bytes())
        });
    if let Err(e) = written {
        let _ = std::fs::remove_file(path);
        bail!(
            "{} cannot be written: {e}; the signing key was not kept either",
            printable(&public_path.display().to_string())
        );
    }
    println!(
        "signing key written to {} (readable by its owner only: keep it away from the store)",
        printable(&path.display().to_string())
    );
    println!(
        "public key {public} written to {}",
        printable(&public_path.display().to_string())
    );
    Ok(ExitCode::SUCCESS)
}
