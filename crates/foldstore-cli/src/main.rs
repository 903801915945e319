//! `foldstore`: the command-line tool for foldstore event stores.

/// The allocator: the system allocator slows down when threads free what others allocated
/// (a replay decodes on two threads and hands commits over).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod access;
mod cli;
mod cmd;
mod condition;
mod demo;
mod filter;
mod output;
mod progress;
mod serve;
mod template;

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use crate::access::open_existing;
use crate::cli::{BadCommandLine, Cli, ColorWhen, Command, TimeArgs};
use crate::cmd::events::Style as EventStyle;
use crate::cmd::log::Style as LogStyle;
use crate::condition::Condition;
use crate::filter::{query, Selection};
use crate::output::{error_text, is_broken_pipe, printable, styled, Diagnostics, Palette};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.color {
        ColorWhen::Auto => {}
        ColorWhen::Always => anstream::ColorChoice::Always.write_global(),
        ColorWhen::Never => anstream::ColorChoice::Never.write_global(),
    }
    init_logging();
    access::set_archive(cli.archive);
    match run(cli.command) {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            let code = if e.downcast_ref::<BadCommandLine>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            };
            let p = Palette::stderr();
            // Nothing more can be done if standard error is closed too.
            let _ = writeln!(
                io::stderr(),
                "{} {}",
                styled(p.bad, "error:"),
                printable(&error_text(&e))
            );
            code
        }
    }
}

fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Append {
            store,
            name,
            data,
            stdin,
            layout,
            headers,
            chain,
            boundary,
        } => cmd::append::run(
            &store,
            name,
            data.as_deref(),
            stdin,
            cmd::append::StoreOptions {
                layout,
                headers,
                chain,
            },
            &boundary,
        ),
        Command::Events {
            mut scan,
            name,
            exact_names,
            tag,
            after,
            pretty,
            tsv,
            csv,
            format,
            follow,
            reverse,
        } => {
            let from_flag = match after {
                Some(after) => {
                    scan.range.from = Some(after.saturating_add(1));
                    format!("--after {after}")
                }
                None => format!("--from {}", scan.range.from.unwrap_or(1)),
            };
            scan.range.check(&from_flag)?;
            let query = (!name.is_empty() || !tag.is_empty()).then(|| query(&name, &tag));
            cmd::events::run(
                &open_existing(&scan.store)?,
                scan.range,
                &selection(
                    scan.time,
                    scan.limit,
                    scan.headers,
                    scan.conditions,
                    name,
                    exact_names,
                ),
                query.as_ref(),
                if let Some(template) = format {
                    EventStyle::Template(template)
                } else if csv {
                    EventStyle::Csv
                } else if tsv {
                    EventStyle::Tsv
                } else if pretty {
                    EventStyle::Pretty
                } else {
                    EventStyle::Json
                },
                follow,
                reverse,
            )
        }
        Command::Log {
            scan,
            name,
            exact_names,
            json,
            tsv,
            csv,
            format,
            reverse,
        } => {
            scan.range
                .check(&format!("--from {}", scan.range.from.unwrap_or(1)))?;
            let style = if let Some(template) = format {
                LogStyle::Template(template)
            } else if csv {
                LogStyle::Csv
            } else if tsv {
                LogStyle::Tsv
            } else if json {
                LogStyle::Json
            } else {
                LogStyle::Table
            };
            cmd::log::run(
                &open_existing(&scan.store)?,
                scan.range,
                &selection(
                    scan.time,
                    scan.limit,
                    scan.headers,
                    scan.conditions,
                    name,
                    exact_names,
                ),
                &style,
                reverse,
            )
        }
        Command::Show {
            store,
            commit,
            json,
            raw,
        } => cmd::show::run(&open_existing(&store)?, commit, json, raw),
        Command::Tail {
            store,
            lines,
            follow,
            json,
        } => cmd::tail::run(&open_existing(&store)?, lines, follow, json),
        Command::Stats {
            store,
            json,
            exact_names,
            by,
        } => cmd::stats::run(&open_existing(&store)?, json, exact_names, by),
        Command::Schema { store, name, json } => {
            cmd::schema::run(&open_existing(&store)?, name, json)
        }
        Command::Snapshots { store, json } => cmd::snapshots::run(&open_existing(&store)?, json),
        Command::Verify {
            store,
            json,
            chain,
            checkpoint,
            public_key,
        } => {
            let chain = chain.then(|| cmd::verify::ChainArgs {
                checkpoint: checkpoint.zip(public_key),
            });
            cmd::verify::run(&open_existing(&store)?, json, chain)
        }
        Command::Checkpoint {
            store,
            signing_key,
            out,
            generate_key,
        } => match (generate_key, store, signing_key, out) {
            (Some(key), ..) => cmd::checkpoint::generate(&key),
            (None, Some(store), Some(key), Some(out)) => {
                cmd::checkpoint::run(&open_existing(&store)?, &key, &out)
            }
            _ => Err(BadCommandLine(
                "checkpoint needs STORE, --signing-key and --out, or --generate-key".to_owned(),
            )
            .into()),
        },
        Command::Repair {
            store,
            dry_run,
            json,
        } => cmd::repair::run(&open_existing(&store)?, dry_run, json),
        Command::Copy {
            from,
            to,
            force,
            json,
            layout,
        } => cmd::copy::run(&from, &to, force, json, layout),
        Command::Gc {
            store,
            apply,
            quarantine_older_than,
        } => cmd::gc::run(&open_existing(&store)?, apply, quarantine_older_than),
        Command::Init { store, layout } => cmd::init::run(&store, layout),
        Command::Archive {
            store,
            to,
            up_to,
            up_to_snapshot,
            before,
            apply,
            unreadable_by_original,
            json,
        } => {
            let up_to = match (up_to, up_to_snapshot, before) {
                (Some(n), _, _) => foldstore::ArchiveUpTo::Commit(n),
                (_, Some(model), _) => foldstore::ArchiveUpTo::Snapshot(model),
                (_, _, Some(time)) => foldstore::ArchiveUpTo::Time(time.start()),
                _ => unreachable!("clap requires one"),
            };
            cmd::archive::run(
                &open_existing(&store)?,
                cmd::archive::Request {
                    to: &to,
                    up_to,
                    apply,
                    unreadable_by_original,
                    json,
                },
            )
        }
        Command::Forget {
            subject,
            keys,
            json,
        } => cmd::keys::forget(&subject, &keys, json),
        Command::Keys {
            keys,
            new_master_key,
            json,
        } => match new_master_key {
            Some(file) => cmd::keys::new_master_key(&file),
            None => cmd::keys::list(&keys, json),
        },
        Command::Export { store, range } => {
            range.check(&format!("--from {}", range.from.unwrap_or(1)))?;
            cmd::export::run(&open_existing(&store)?, range)
        }
        Command::Import {
            store,
            file,
            layout,
        } => cmd::import::run(&store, file.as_deref(), layout),
        Command::Serve(args) => serve::run(args),
        Command::Bench { workload } => cmd::bench::run(workload),
        Command::Demo { store } => demo(&store),
        Command::Completions { shell } => {
            // Generated into memory first: clap_complete panics when it cannot write.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "foldstore", &mut script);
            let mut out = io::stdout().lock();
            out.write_all(&script)?;
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn selection(
    time: TimeArgs,
    limit: Option<u64>,
    headers: Vec<(String, String)>,
    conditions: Vec<Condition>,
    names: Vec<String>,
    exact_names: bool,
) -> Selection {
    Selection {
        headers,
        conditions,
        since: time.since,
        until: time.until,
        names,
        exact_names,
        limit,
    }
}

/// Sends the library's diagnostics (warnings by default) to standard error, in the style of
/// foldstore's own (`warning: ...`).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("FOLDSTORE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(io::stderr)
        .event_format(Diagnostics)
        .init();
}

fn demo(path: &Path) -> anyhow::Result<ExitCode> {
    let mut out = io::stdout().lock();
    demo::run(path, &mut out)?;
    Ok(ExitCode::SUCCESS)
}
