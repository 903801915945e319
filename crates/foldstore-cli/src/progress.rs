//! Progress bars on standard error, for work that can take more than a moment.
//!
//! A bar is drawn only when standard error is a terminal, and only once the work has taken
//! longer than [`DELAY`], so quick runs print nothing extra. It is cleared when the work ends,
//! so only the command's own output stays on the screen.

use std::io::{self, IsTerminal};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How long work runs before its bar appears.
const DELAY: Duration = Duration::from_millis(300);

/// The progress of one piece of work, counted in items (commits, snapshots, files).
#[derive(Debug)]
pub struct Progress {
    message: &'static str,
    total: u64,
    done: u64,
    started: Instant,
    /// Whether a bar may be drawn at all.
    enabled: bool,
    bar: Option<ProgressBar>,
}

impl Progress {
    /// Progress of `total` items, described by `message` (e.g. "verifying").
    pub fn new(message: &'static str, total: u64) -> Progress {
        Progress::with_enabled(message, total, io::stderr().is_terminal())
    }

    /// As [`Progress::new`], drawn only when `enabled` and standard error is a terminal.
    pub fn when(enabled: bool, message: &'static str, total: u64) -> Progress {
        Progress::with_enabled(message, total, enabled && io::stderr().is_terminal())
    }

    fn with_enabled(message: &'static str, total: u64, enabled: bool) -> Progress {
        Progress {
            message,
            total,
            done: 0,
            started: Instant::now(),
            enabled,
            bar: None,
        }
    }

    /// Sets the number of items done.
    pub fn set(&mut self, done: u64) {
        self.done = done;
        if let Some(bar) = &self.bar {
            bar.set_position(done);
        } else if self.enabled && self.started.elapsed() >= DELAY {
            self.bar = Some(self.draw());
        }
    }

    /// Counts one more item done.
    pub fn inc(&mut self) {
        self.set(self.done + 1);
    }

    /// Sets the number of items done and the total, as work that reports its own progress
    /// tells them.
    pub fn update(&mut self, done: u64, total: u64) {
        self.set_total(total);
        self.set(done);
    }

    /// Changes the total (when more work turns up).
    pub fn set_total(&mut self, total: u64) {
        self.total = total;
        if let Some(bar) = &self.bar {
            bar.set_length(total);
        }
    }

    fn draw(&self) -> ProgressBar {
        let bar = ProgressBar::with_draw_target(Some(self.total), ProgressDrawTarget::stderr());
        let style =
            ProgressStyle::with_template("{msg} {wide_bar} {human_pos}/{human_len} ({eta} left)")
                .map(|style| style.progress_chars("=> "))
                .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_message(self.message);
        bar.set_position(self.done);
        bar.enable_steady_tick(Duration::from_millis(100));
        bar
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}
