//! Progress on a terminal for long runs: a byte-based bar on stderr, shown only
//! when stderr is a terminal and the input is large enough to be worth it.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

/// Inputs smaller than this finish before a bar would help.
const MIN_BYTES: u64 = 64 << 20;

pub struct Progress(Option<ProgressBar>);

impl Progress {
    /// A bar for reading `total` bytes of `name`, or nothing when not useful.
    pub fn new(name: &str, total: Option<u64>) -> Progress {
        let bar = Self::bar(name, total);
        if let Some(b) = &bar {
            b.set_draw_target(ProgressDrawTarget::stderr());
        }
        Progress(bar)
    }

    /// Bars for inputs read at the same time, one line each.
    pub fn several(inputs: &[(&str, Option<u64>)]) -> Vec<Progress> {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        inputs.iter().map(|(name, total)| Progress(Self::bar(name, *total).map(|b| multi.add(b)))).collect()
    }

    /// A styled bar not drawn anywhere yet.
    fn bar(name: &str, total: Option<u64>) -> Option<ProgressBar> {
        let total = total.filter(|&t| t >= MIN_BYTES && std::io::stderr().is_terminal())?;
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden());
        let style = ProgressStyle::with_template("{msg:20!} [{wide_bar}] {bytes}/{total_bytes} {bytes_per_sec} {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        bar.set_style(style);
        let short = std::path::Path::new(name).file_name().map_or(name.into(), |f| f.to_string_lossy());
        bar.set_message(short.into_owned());
        Some(bar)
    }

    pub fn set(&self, pos: u64) {
        if let Some(b) = &self.0 {
            b.set_position(pos);
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}
