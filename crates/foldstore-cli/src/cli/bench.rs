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

    /// Measure `foldstore serve` in this process, over real HTTP on loopback: paging deep
    /// into a large journal, many Server-Sent Events followers, and appends from concurrent
    /// clients against `bench append` of the same commits.
    ///
    /// The large journal is made once (without syncs) and kept in --cache, so that a second
    /// run starts at once. The other stores are made in temporary folders and removed.
    Serve(BenchServe),
}

/// The parameters of `foldstore bench serve`.
#[derive(Debug, clap::Args)]
pub struct BenchServe {
    /// How many commits the journal paged through holds.
    #[arg(long, value_name = "N", default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub commits: u64,
    /// The commit the paging requests reach: each asks for the 100 commits up to it, newest
    /// first, a page further back each time.
    #[arg(long, value_name = "K", default_value_t = 900_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub page_at: u64,
    /// How many paging requests are timed.
    #[arg(long, value_name = "R", default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub requests: u64,
    /// How many clients follow /api/stream at once.
    #[arg(long, value_name = "F", default_value_t = 100, value_parser = clap::value_parser!(u64).range(0..=10_000))]
    pub followers: u64,
    /// How many commits are appended (by the library, in this process) while they follow.
    #[arg(long, value_name = "C", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub follow_commits: u64,
    /// How many clients append through the API at once (durable, journal layout).
    #[arg(long, value_name = "W", default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub clients: u64,
    /// How many commits they append in all (and `bench append` appends, with as many writers).
    #[arg(long, value_name = "A", default_value_t = 4_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub appends: u64,
    /// Where the large journal is kept between runs.
    #[arg(long, value_name = "DIR", default_value = "target/foldstore-bench")]
    pub cache: PathBuf,
}

/// The durability of the commits `foldstore bench append` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BenchDurability {
    /// Sync each commit file and the folder before the write returns.
    Immediate,
    /// No syncs.
    None,
}
