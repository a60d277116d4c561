//! The commands: each takes a config, reads its input through `source`, and
//! returns data or writes to a writer. No clap, prompts or exit codes here.

pub mod check;
pub mod convert;
pub mod diff;
pub mod dump;
pub mod fix;
pub mod memory;
pub mod salvage;
