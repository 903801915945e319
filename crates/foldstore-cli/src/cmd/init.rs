//! `foldstore init`: an empty store, in the layout asked for, made explicitly.

use std::fs;
use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context};
use foldstore::{Layout, Store};

use crate::cli::LayoutArg;
use crate::output::{plural, printable, styled, Palette};

/// Makes an empty store at `path` (a folder, created with its parents, or a server's store),
/// in `layout` (default: loose). A store that exists already is left as it is (with a note),
/// unless it has another layout than the one asked for.
///
/// # Errors
/// A store of another layout; a folder that holds other files but no store; errors of the
/// store.
pub fn run(path: &Path, layout: Option<LayoutArg>) -> anyhow::Result<ExitCode> {
    let mut builder = Store::builder(path);
    if let Some(layout) = layout {
        builder = builder.layout(layout.into());
    }
    let store = builder.open()?;
    let shown = printable(&foldstore::shown_address(path)).into_owned();
    let mut out = io::stdout().lock();
    let p = Palette::stdout();
    let Some(folder) = store.path() else {
        // A store on a server: its table or prefix is made when first written.
        let existed = store.exists()?;
        store.ensure_folder()?;
        let tip = store.tip()?;
        if existed {
            writeln!(
                out,
                "{} {shown} is a store already ({}); nothing was changed",
                styled(p.label, "note:"),
                plural(tip, "commit")
            )?;
        } else {
            writeln!(out, "created an empty store at {shown}")?;
        }
        return Ok(ExitCode::SUCCESS);
    };
    let entries = match fs::read_dir(folder) {
        Ok(entries) => Some(entries.count()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("cannot list {shown}")),
    };
    let found = Layout::detect(folder)?;
    if let Some(found) = found {
        writeln!(
            out,
            "{} {shown} is a store already ({} layout, {}); nothing was changed",
            styled(p.label, "note:"),
            found.name(),
            plural(store.tip()?, "commit")
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    if entries == Some(0) && layout != Some(LayoutArg::Journal) {
        // An empty folder is an empty store of the loose layout.
        writeln!(
            out,
            "{} {shown} is an empty store already (loose layout); nothing was changed",
            styled(p.label, "note:")
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(entries) = entries.filter(|&n| n > 0) {
        bail!(
            "{shown} holds {} but no store: init makes a store only in a new or empty folder \
             (check the path; 'foldstore verify' looks at what is there); nothing was changed",
            if entries == 1 {
                "1 other entry".to_owned()
            } else {
                format!("{entries} other entries")
            }
        );
    }
    store.ensure_folder()?;
    let (name, about) = match layout.unwrap_or(LayoutArg::Loose) {
        LayoutArg::Loose => ("loose", "the original package can share it"),
        LayoutArg::Journal => (
            "journal",
            "foldstore only: the original package cannot read it",
        ),
    };
    writeln!(
        out,
        "created an empty store at {shown} ({name} layout: {about})"
    )?;
    Ok(ExitCode::SUCCESS)
}
