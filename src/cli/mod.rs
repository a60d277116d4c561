//! Command-line parsing (clap derive) and its conversion into plain per-command
//! configs. Clap types never leave this module.

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

pub const EXIT_CODES: &str = "\
Exit codes:
  0  valid / done
  1  damaged input (truncated, checksum mismatch, bad length, bad encoding, integrity)
  2  usage or I/O error
  3  unsupported version or feature";

#[derive(Parser, Debug)]
#[command(
    name = "rdb-tool",
    version,
    about = "Analyze, check, dump and convert Redis and Valkey persistence files (RDB and AOF)",
    after_help = EXIT_CODES
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ReportFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum DumpFormatArg {
    Jsonl,
    Json,
}

#[derive(clap::Args, Debug, Clone)]
pub struct ReadArgs {
    /// Read RDB versions newer than this tool knows instead of refusing them.
    #[arg(long)]
    pub force_version: bool,
    /// Largest single record buffered when reading from a pipe, in bytes.
    #[arg(long, default_value_t = rdb_tool::input::DEFAULT_MAX_RECORD)]
    pub max_record: usize,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Validate RDB files: structure, encodings, deep integrity, checksum.
    #[command(after_help = EXIT_CODES)]
    Check {
        /// Files to check (`-` = standard input). Several files are checked in parallel.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
        format: ReportFormat,
        /// Unix time in ms used to count already-expired keys (default: now).
        #[arg(long)]
        now: Option<i64>,
        #[command(flatten)]
        read: ReadArgs,
    },
    /// Write every key as JSON (one record per key, in file order).
    #[command(after_help = EXIT_CODES)]
    Dump {
        /// The RDB file (`-` = standard input).
        file: PathBuf,
        #[arg(long, value_enum, default_value_t = DumpFormatArg::Jsonl)]
        format: DumpFormatArg,
        /// Only keys of this database (repeatable).
        #[arg(long = "db")]
        dbs: Vec<u64>,
        /// Only keys matching this Redis glob pattern (repeatable).
        #[arg(long = "key")]
        keys: Vec<String>,
        /// Only keys matching this regular expression.
        #[arg(long)]
        key_regex: Option<String>,
        /// Only keys of this type: string, list, set, zset, hash, stream, module, array (repeatable).
        #[arg(long = "type")]
        types: Vec<String>,
        /// Leave out keys already expired at --now (default: the file's ctime aux field).
        #[arg(long)]
        no_expired: bool,
        /// Unix time in ms for --no-expired.
        #[arg(long)]
        now: Option<i64>,
        /// Write to this file instead of standard output.
        #[arg(short, long)]
        output: Option<PathBuf>,
        #[command(flatten)]
        read: ReadArgs,
    },
}

impl ReadArgs {
    pub fn options(&self) -> rdb_tool::event::ReaderOptions {
        rdb_tool::event::ReaderOptions {
            max_record: self.max_record,
            force_version: self.force_version,
            verify_checksum: true,
        }
    }
}
