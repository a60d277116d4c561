//! Command-line parsing (clap derive) and its conversion into plain per-command
//! configs (clap types never leave this module), and the progress bars.

pub mod progress;

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
pub enum ConvertToArg {
    Rdb,
    Json,
    Jsonl,
    Resp,
    Aof,
    AofDir,
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
    /// Refuse a record larger than this many bytes when reading from a pipe
    /// (exit 3); default: no limit.
    #[arg(long, value_name = "BYTES")]
    pub max_record: Option<usize>,
    /// Bytes of a pipe held in memory: a larger record is held in a temporary
    /// file (in TMPDIR, removed at once) while it is read.
    #[arg(long, value_name = "BYTES", default_value_t = rdb_tool::input::DEFAULT_PIPE_MEMORY)]
    pub pipe_memory: usize,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Validate RDB files and AOFs (single file, RDB preamble, or multi-part
    /// directory/manifest): structure, encodings, deep integrity, checksum.
    #[command(after_help = EXIT_CODES)]
    Check {
        /// Files to check: RDB, AOF, AOF manifest or AOF directory (`-` = standard
        /// input, RDB only). Several files are checked in parallel.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
        format: ReportFormat,
        /// Structure and checksum only: frame every record (types, opcodes,
        /// lengths) and compare the CRC-64, without walking the inside of values
        /// (listpacks, ziplists, intsets, LZF streams, duplicate members).
        /// Several times faster; the default check is as deep as redis-check-rdb.
        /// For an AOF this applies to its RDB base or preamble.
        #[arg(long)]
        quick: bool,
        /// Unix time in ms used to count already-expired keys (default: the
        /// system clock).
        #[arg(long, value_name = "MS")]
        now: Option<i64>,
        #[command(flatten)]
        read: ReadArgs,
    },
    /// Write every key as JSON (one record per key, in file order), or an
    /// AOF's command log with --commands. Empty collections (which the server
    /// skips) are left out; a key stored twice is written twice, as stored.
    #[command(after_help = EXIT_CODES)]
    Dump(DumpArgs),
    /// Rewrite a file in another format or RDB version: `--to rdb` re-encodes every
    /// value as the target version's Redis writes it; `resp` gives commands for
    /// `redis-cli --pipe`; `aof` / `aof-dir` an AOF as Redis's rewrite writes it;
    /// `json|jsonl` the dump. An RDB holding a key twice in one database (which
    /// the server refuses) is not converted; empty collections are left out.
    #[command(after_help = EXIT_CODES)]
    Convert {
        /// The input: an RDB (`-` = standard input), an AOF in any layout (replayed
        /// into an in-memory keyspace), or one of our JSON/JSONL dumps.
        input: PathBuf,
        #[arg(long, value_enum)]
        to: ConvertToArg,
        /// AOF input: skip (and count) commands the replay does not know.
        #[arg(long)]
        skip_unknown: bool,
        /// AOF input: the loading server's clock in Unix ms, from which relative
        /// times count (`EXPIRE k 10` in pre-7.0 AOFs, `XADD *`; default: the
        /// system clock). Times already past are kept, as the server keeps them.
        #[arg(long, value_name = "MS")]
        now: Option<i64>,
        /// Target RDB version (6 to 15, or 80 = Valkey 9's VALKEY080; default: the source's). For `resp`/`aof` output:
        /// the RDB version of the server the commands are for (10 = Redis 7.0).
        #[arg(long)]
        rdb_version: Option<u32>,
        /// Leave out (and report) keys the target version cannot hold instead of failing.
        #[arg(long)]
        drop_unsupported: bool,
        /// Do not LZF-compress strings (as `rdbcompression no`).
        #[arg(long)]
        no_compression: bool,
        /// AOF outputs: write the base as an RDB (`aof-use-rdb-preamble yes`).
        #[arg(long)]
        rdb_preamble: bool,
        /// Take the compact-encoding size limits from this redis.conf (default: Redis's).
        #[arg(long, value_name = "REDIS_CONF")]
        encoding_limits: Option<PathBuf>,
        /// `resp`/`aof`: RESTORE with DUMP payloads for the target version (exact,
        /// keeps TTLs and LRU/LFU) instead of data commands.
        #[arg(long)]
        restore: bool,
        /// With --restore: add REPLACE (overwrite existing keys).
        #[arg(long, requires = "restore")]
        replace: bool,
        /// Items per RPUSH/SADD/ZADD/HMSET command (Redis's rewrite uses 64).
        #[arg(long, default_value_t = rdb_tool::output::resp::DEFAULT_BATCH)]
        batch: usize,
        /// Write here (atomically: a temporary file renamed into place) instead of
        /// standard output; a new directory for `--to aof-dir`.
        #[arg(short, long)]
        output: Option<PathBuf>,
        #[command(flatten)]
        read: ReadArgs,
    },
    /// What changed between two snapshots (RDB, AOF or dump, any mix): keys added,
    /// removed and changed (type, TTL, members/fields), compared by content. A
    /// key stored twice counts once (its first copy); empty collections not at all.
    #[command(after_help = DIFF_EXIT_CODES)]
    Diff {
        /// The "before" input.
        a: PathBuf,
        /// The "after" input.
        b: PathBuf,
        #[arg(long, value_enum, default_value_t = DiffFormatArg::Text)]
        format: DiffFormatArg,
        /// Counts only.
        #[arg(long)]
        stat: bool,
        /// Changes of each kind shown in the text summary.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Leave key and field TTLs out of the comparison.
        #[arg(long)]
        ignore_ttl: bool,
        /// TTLs closer than this many ms are equal.
        #[arg(long, default_value_t = 0, value_name = "MS")]
        ttl_tolerance: i64,
        /// Only keys of this database (repeatable).
        #[arg(long = "db")]
        dbs: Vec<u64>,
        /// Only keys matching this Redis glob pattern (repeatable).
        #[arg(long = "key")]
        keys: Vec<String>,
        /// Only keys of this type (repeatable).
        #[arg(long = "type")]
        types: Vec<String>,
        /// Memory to use, in MiB: beyond it key summaries are spilled to disk and
        /// differing values are compared in several rounds.
        #[arg(long, default_value_t = 1024, value_name = "MIB")]
        memory: usize,
        /// Directory for spilled summaries (default: the system's temporary directory).
        #[arg(long, value_name = "DIR")]
        tmp_dir: Option<PathBuf>,
        /// AOF inputs: the clock in Unix ms their relative times count from
        /// (default: the system clock).
        #[arg(long, value_name = "MS")]
        now: Option<i64>,
        #[command(flatten)]
        read: ReadArgs,
    },
    /// Repair a damaged AOF by cutting the tail of its last file back to the end
    /// of the last complete command (as `redis-check-aof --fix`), after saving
    /// the cut bytes to a backup file next to it.
    #[command(after_help = FIX_EXIT_CODES)]
    Fix(FixArgs),
    /// What every key costs in a server's memory right after it loads the
    /// input(s): `MEMORY USAGE key SAMPLES 0` byte for byte where the server
    /// is deterministic, per key (--keys) and summed up (totals, types and
    /// encodings, largest keys, prefixes, TTLs, slots). Several inputs (the
    /// shards of a cluster) give one report and a row per file.
    #[command(after_help = EXIT_CODES)]
    Memory(MemoryArgs),
    /// Save what can be saved of a damaged RDB or AOF into a new file (the
    /// input is never modified). Damage only the checksum sees (bit rot) is
    /// located from the checksum itself: a byte whose restoration passes the
    /// full check is restored, exactly. Damage inside the records or commands
    /// is read past: what lies outside the damaged spans is kept.
    #[command(after_help = SALVAGE_EXIT_CODES)]
    Salvage(SalvageArgs),
}

pub const SALVAGE_EXIT_CODES: &str = "\
Exit codes:
  0  nothing was damaged (the output is a copy)
  1  repaired, or salvaged with losses or with no guarantee (see the report)
  2  usage or I/O error
  3  cannot be salvaged (see the message), or an unsupported input";

/// Arguments of `salvage`.
#[derive(clap::Args, Debug)]
pub struct SalvageArgs {
    /// The damaged RDB, or AOF in any layout (a multi-part set by its
    /// manifest or directory).
    pub input: PathBuf,
    /// Where to write the salvaged file (atomically: a temporary file renamed
    /// into place); for a multi-part AOF, a new directory. Required unless
    /// --dry-run.
    #[arg(short, long, required_unless_present = "dry_run")]
    pub output: Option<PathBuf>,
    /// Also write the report as JSON here.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Show the report and write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Unix time in ms used to judge TTLs (default: the system clock).
    #[arg(long, value_name = "MS")]
    pub now: Option<i64>,
    /// Write the salvage in another format, as `convert --to` writes it
    /// (an AOF is replayed); default: the input's own format and version.
    #[arg(long, value_enum)]
    pub to: Option<ConvertToArg>,
    /// With --to: the target RDB version, as for `convert`.
    #[arg(long, requires = "to")]
    pub rdb_version: Option<u32>,
    /// With --to: leave out (and report) keys the target cannot hold.
    #[arg(long, requires = "to")]
    pub drop_unsupported: bool,
    /// The output named in messages and the report, when the salvage is
    /// written elsewhere first (`--to`).
    #[arg(skip)]
    pub shown_output: Option<PathBuf>,
    #[command(flatten)]
    pub read: ReadArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum KeysFormatArg {
    Csv,
    Jsonl,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum SummaryFormatArg {
    Text,
    Json,
}

/// Arguments of `memory`.
#[derive(clap::Args, Debug)]
pub struct MemoryArgs {
    /// RDB files, AOFs in any layout (replayed), or our dumps.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// The server to model: redis-6.2, redis-7.0, redis-7.2, redis-7.4,
    /// redis-8.0, redis-8.6 (8.2 and later), valkey-8.0, valkey-8.1, valkey-9.0, valkey-9.1 (default:
    /// the version that wrote each file, from its aux fields).
    #[arg(long)]
    pub target: Option<String>,
    /// The server's allocator: jemalloc8 (upstream builds, the default),
    /// jemalloc16 (Debian's packages), libc (glibc malloc).
    #[arg(long)]
    pub allocator: Option<String>,
    /// Take the encoding limits from this redis.conf (default: the target's
    /// compiled-in limits).
    #[arg(long, value_name = "REDIS_CONF")]
    pub encoding_limits: Option<PathBuf>,
    /// Model a node with `cluster-enabled yes` (Redis 7.0 and 7.2 then give
    /// each key 16 bytes of slot links).
    #[arg(long)]
    pub cluster: bool,
    /// Write one row per key, streamed, in this format (to standard output,
    /// or --keys-output; the summary then goes to -o only).
    #[arg(long, value_enum)]
    pub keys: Option<KeysFormatArg>,
    /// Where the per-key rows go.
    #[arg(long, value_name = "FILE", requires = "keys")]
    pub keys_output: Option<PathBuf>,
    /// The summary's format.
    #[arg(long, value_enum, default_value_t = SummaryFormatArg::Text)]
    pub format: SummaryFormatArg,
    /// Write the summary here instead of standard output.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Also write the report as one self-contained HTML page (flame graph
    /// of memory by key prefix, charts, largest keys; loads nothing).
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Keys in each top list, and prefixes listed (the largest).
    #[arg(long, default_value_t = 20)]
    pub top: usize,
    /// Bytes that end a key prefix segment.
    #[arg(long, default_value = ":")]
    pub separators: String,
    /// Prefix segments counted.
    #[arg(long, default_value_t = 3)]
    pub prefix_depth: usize,
    /// Distinct prefixes held at most, 16 or more: past it the smaller half
    /// is folded into "other", and a prefix folded away that comes back
    /// counts from then on (the summary says when this happened).
    #[arg(long, default_value_t = 100_000)]
    pub prefix_cap: usize,
    /// Count keys already expired (a primary drops them on load, so by
    /// default they are left out and counted apart).
    #[arg(long)]
    pub include_expired: bool,
    /// Unix time in ms expiry is judged by (default: each file's ctime aux
    /// field, else the system clock); also an AOF replay's clock.
    #[arg(long, value_name = "MS")]
    pub now: Option<i64>,
    /// Only keys of this database (repeatable).
    #[arg(long = "db")]
    pub dbs: Vec<u64>,
    /// Only keys matching this Redis glob pattern (repeatable).
    #[arg(long = "key")]
    pub keys_glob: Vec<String>,
    /// Only keys of this type (repeatable).
    #[arg(long = "type")]
    pub types: Vec<String>,
    /// AOF input: skip (and count) commands the replay does not know.
    #[arg(long)]
    pub skip_unknown: bool,
    #[command(flatten)]
    pub read: ReadArgs,
}

/// Arguments of `dump`.
#[derive(clap::Args, Debug)]
pub struct DumpArgs {
    /// The RDB file (`-` = standard input), or with --commands the AOF
    /// (file, manifest or directory).
    pub file: PathBuf,
    /// Dump an AOF's commands as JSONL: file, offset, db, ts, args.
    #[arg(long)]
    pub commands: bool,
    #[arg(long, value_enum, default_value_t = DumpFormatArg::Jsonl)]
    pub format: DumpFormatArg,
    /// Only keys of this database (repeatable).
    #[arg(long = "db")]
    pub dbs: Vec<u64>,
    /// Only keys matching this Redis glob pattern (repeatable).
    #[arg(long = "key")]
    pub keys: Vec<String>,
    /// Only keys matching this regular expression.
    #[arg(long)]
    pub key_regex: Option<String>,
    /// Only keys of this type: string, list, set, zset, hash, stream, module, array (repeatable).
    #[arg(long = "type")]
    pub types: Vec<String>,
    /// Leave out keys already expired at --now (default: the file's ctime aux field).
    #[arg(long)]
    pub no_expired: bool,
    /// AOF input (replayed): skip (and count) commands the replay does not know.
    #[arg(long)]
    pub skip_unknown: bool,
    /// Unix time in ms for --no-expired, and the clock an AOF's relative
    /// times count from when it is replayed (default: the system clock).
    #[arg(long, value_name = "MS")]
    pub now: Option<i64>,
    /// Write to this file instead of standard output.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub read: ReadArgs,
}

pub const DIFF_EXIT_CODES: &str = "\
Exit codes (as diff(1)):
  0  same content
  1  different
  2  error";

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum DiffFormatArg {
    Text,
    Jsonl,
}

pub const FIX_EXIT_CODES: &str = "\
Exit codes:
  0  nothing to fix, or fixed
  1  cannot be fixed safely (or the confirmation was refused)
  2  usage or I/O error";

/// Arguments of `fix`.
#[derive(clap::Args, Debug)]
pub struct FixArgs {
    /// The AOF: a single file, a manifest, or the directory holding one.
    pub file: PathBuf,
    /// Show what would be cut (file, sizes, a preview of the bytes) and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for confirmation.
    #[arg(short, long)]
    pub yes: bool,
    /// Point-in-time recovery: cut at the first `#TS:` annotation later than this
    /// Unix time (seconds), as `redis-check-aof --truncate-to-timestamp`; 0 = off.
    #[arg(long, value_name = "UNIX_SECONDS")]
    pub truncate_to_timestamp: Option<i64>,
    #[command(flatten)]
    pub read: ReadArgs,
}

impl ReadArgs {
    pub fn options(&self) -> rdb_tool::event::ReaderOptions {
        rdb_tool::event::ReaderOptions {
            max_record: self.max_record.unwrap_or(rdb_tool::input::DEFAULT_MAX_RECORD),
            pipe_memory: self.pipe_memory,
            force_version: self.force_version,
            progress: Some(progress::Bars::reporter()),
            ..Default::default()
        }
    }
}
