//! How far a long run got, for whoever shows it. Commands report the input
//! offset they reached; the library draws nothing. The CLI hands in a
//! [`Reporter`] that turns each task into a bar on the terminal
//! (`src/cli/progress.rs`); a library user may log, or give none.
//!
//! The reporter travels in `ReaderOptions::progress`, which every command's
//! configuration already carries, as a `&'static` so the options stay `Copy`.

use std::fmt;

/// Receives the tasks of a run: one per input read (two for `diff`, read
/// side by side).
pub trait Reporter: Sync + fmt::Debug {
    /// Reading `total` bytes (when known) of the input `name` begins; `None`
    /// when this task is not shown (a hot loop then reports to nothing at
    /// no cost).
    fn begin(&self, name: &str, total: Option<u64>) -> Option<Box<dyn Tracker>>;
}

/// One task under way; dropping it ends the task.
pub trait Tracker: Send + Sync {
    /// The task reached byte `pos` of its input.
    fn set(&self, pos: u64);
}

/// A task as a command holds it: tracked when a reporter was given.
pub struct Progress(Option<Box<dyn Tracker>>);

impl Progress {
    /// Begin reading `total` bytes of `name`, told to `reporter` if any.
    pub fn new(reporter: Option<&dyn Reporter>, name: &str, total: Option<u64>) -> Progress {
        Progress(reporter.and_then(|r| r.begin(name, total)))
    }

    pub fn set(&self, pos: u64) {
        if let Some(t) = &self.0 {
            t.set(pos);
        }
    }
}
