//! The arguments of `foldstore bench`.

use std::path::PathBuf;

use clap::{Subcommand, ValueEnum};

use super::LayoutArg;

/// What `foldstore bench` measures.
#[derive(Debug, Subcommand)]
pub enum BenchWorkload {
    /// Append N commits to a new store (in a temporary folder, removed afterwards, or --dir,
    /// kept), from W threads sharing one store.
    Append {
        /// How many commits to append.
        #[arg(long, value_name = "N", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
        commits: u64,
        /// How many events each commit holds.
        #[arg(long, value_name = "E", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
        events_per_commit: u64,
        /// How many threads append at once, to one store (they share the commits out).
        #[arg(long, value_name = "W", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=1024))]
        writers: u64,
        /// immediate: each commit is synced before the call returns (the library's default);
        /// none: no syncs.
        #[arg(long, value_name = "D", default_value = "immediate")]
        durability: BenchDurability,
        /// Make the store in this folder (which must not exist, or be empty) and keep it.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// The layout of the store made.
        #[arg(long, value_name = "LAYOUT", default_value = "loose")]
        layout: LayoutArg,
        /// Chain the commits (see 'foldstore verify --chain').
        #[arg(long)]
        chain: bool,
    },

    /// Replay every event of a store: one it makes first (N commits, in a temporary folder,
    /// not timed), or an existing STORE.
    ///
    /// The replay is timed from opening the store to its last event. A store just made is read
    /// back from the operating system's cache; an existing one may be read from the disk.
    Replay {
        /// An existing store to replay (default: make one of --commits commits).
        #[arg(conflicts_with_all = ["commits", "events_per_commit"])]
        store: Option<PathBuf>,
        /// How many commits the store made for the replay holds (default 10000).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
        commits: Option<u64>,
        /// How many events each commit of the store made for the replay holds (default 1).
        #[arg(long, value_name = "E", value_parser = clap::value_parser!(u64).range(1..))]
        events_per_commit: Option<u64>,
        /// The layout of the store made for the replay (default: loose).
        #[arg(long, value_name = "LAYOUT", conflicts_with = "store")]
        layout: Option<LayoutArg>,
    },
}

/// The durability of the commits `foldstore bench append` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BenchDurability {
    /// Sync each commit file and the folder before the write returns.
    Immediate,
    /// No syncs.
    None,
}
