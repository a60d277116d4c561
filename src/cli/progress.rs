//! Progress bars on the terminal (indicatif): the CLI's [`Reporter`]. A bar
//! is drawn only when stderr is a terminal and the input large enough to be
//! worth one; bars of inputs read side by side (`diff`) share the screen, a
//! line each.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use rdb_tool::progress::{Reporter, Tracker};
use std::io::IsTerminal;

/// Inputs smaller than this finish before a bar would help.
const MIN_BYTES: u64 = 64 << 20;

pub struct Bars(MultiProgress);

impl std::fmt::Debug for Bars {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Bars")
    }
}

impl Bars {
    /// The reporter of this process, for `ReaderOptions::progress`.
    pub fn reporter() -> &'static Bars {
        static BARS: std::sync::OnceLock<Bars> = std::sync::OnceLock::new();
        BARS.get_or_init(|| Bars(MultiProgress::with_draw_target(ProgressDrawTarget::stderr())))
    }
}

struct Bar(ProgressBar);

impl Reporter for Bars {
    fn begin(&self, name: &str, total: Option<u64>) -> Option<Box<dyn Tracker>> {
        let total = total.filter(|&t| t >= MIN_BYTES && std::io::stderr().is_terminal())?;
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden());
        let style = ProgressStyle::with_template("{msg:20!} [{wide_bar}] {bytes}/{total_bytes} {bytes_per_sec} {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        bar.set_style(style);
        let short = std::path::Path::new(name).file_name().map_or(name.into(), |f| f.to_string_lossy());
        bar.set_message(short.into_owned());
        Some(Box::new(Bar(self.0.add(bar))))
    }
}

impl Tracker for Bar {
    fn set(&self, pos: u64) {
        self.0.set_position(pos);
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}
