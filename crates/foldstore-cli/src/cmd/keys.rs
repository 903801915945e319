//! `foldstore forget` and `foldstore keys`: the subjects' keys, kept apart from the store.

use std::fs::{self, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use foldstore::{FolderKeyStore, KeyStore, MasterKey, MASTER_KEY_VARIABLE};
use serde_json::json;

use crate::cli::{BadCommandLine, KeysArgs};
use crate::output::printable;

/// Opens the key store of `args`: its folder, with the master key from the file or else the
/// environment variable.
fn open(args: &KeysArgs) -> anyhow::Result<FolderKeyStore> {
    let Some(folder) = &args.keys else {
        return Err(BadCommandLine(
            "which key store? Give --keys DIR (or set FOLDSTORE_KEYS)".to_owned(),
        )
        .into());
    };
    let master = match &args.master_key_file {
        Some(file) => MasterKey::from_file(file)?,
        None => MasterKey::from_env(MASTER_KEY_VARIABLE)?,
    };
    if !folder.is_dir() {
        anyhow::bail!(
            "no key store at {}: the folder does not exist (check the path; a store given a key store makes it)",
            folder.display()
        );
    }
    // Listing and forgetting make no key store: a folder without the check file is another
    // folder (a home folder, say), or a key store restored without it, into which a check
    // made with the master key given now would lock out the right one.
    if fs::symlink_metadata(folder.join("keys.check")).is_err() {
        anyhow::bail!(
            "no key store at {}: it holds no keys.check (the file a key store is made with); give the key store's folder",
            folder.display()
        );
    }
    Ok(FolderKeyStore::open(folder, master)?)
}

/// `foldstore forget SUBJECT`.
pub fn forget(subject: &str, args: &KeysArgs, json: bool) -> anyhow::Result<ExitCode> {
    let keys = open(args)?;
    let forgotten = keys.forget(subject)?;
    let mut out = io::stdout().lock();
    if json {
        serde_json::to_writer(
            &mut out,
            &json!({"subject": subject, "forgotten": forgotten, "keys": keys.location()}),
        )?;
        writeln!(out)?;
    } else if forgotten {
        writeln!(
            out,
            "forgot {}: its key is destroyed; its data in the store, its copies and its exports can no longer be read",
            printable(subject)
        )?;
    } else {
        writeln!(
            out,
            "{} has no key in {}: nothing to forget (check the subject with 'foldstore keys')",
            printable(subject),
            printable(&keys.location())
        )?;
    }
    out.flush()?;
    Ok(if forgotten {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `foldstore keys`: the subjects, never their keys.
pub fn list(args: &KeysArgs, json: bool) -> anyhow::Result<ExitCode> {
    let subjects = open(args)?.subjects()?;
    let mut out = BufWriter::new(io::stdout().lock());
    if json {
        serde_json::to_writer(&mut out, &subjects)?;
        writeln!(out)?;
    } else {
        for subject in &subjects {
            writeln!(out, "{}", printable(subject))?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// `foldstore keys --new-master-key FILE`: a new master key in a new file, readable by its
/// owner only.
pub fn new_master_key(file: &Path) -> anyhow::Result<ExitCode> {
    let key = MasterKey::generate()?;
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut handle = options
        .open(file)
        .with_context(|| format!("cannot create {} (it must not exist)", file.display()))?;
    let mut text = key.to_hex();
    text.push('\n');
    let folder = match file.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let written = handle
        .write_all(text.as_bytes())
        .and_then(|()| handle.sync_all());
    // The file's name made durable too before it is reported written.
    #[cfg(unix)]
    let written = written.and_then(|()| fs::File::open(folder)?.sync_all());
    if let Err(e) = written {
        // No partial key is left to be taken for one (nor to refuse the next try).
        let _ = fs::remove_file(file);
        return Err(e)
            .with_context(|| format!("cannot write {}; nothing was kept", file.display()));
    }
    println!(
        "wrote a new master key to {}: keep it apart from the store and from the key store",
        printable(&file.display().to_string())
    );
    Ok(ExitCode::SUCCESS)
}
