//! `dump`: one JSON record per key, in file order, streamed. Keys are framed on
//! one thread and serialised on all cores in chunks; chunks are written in
//! file order, so the output is the same on every run.

use crate::error::{Error, ErrorKind, InputProblem, Result};
use crate::event::parallel::for_each_key;
use crate::event::parallel::Merged;
use crate::event::{Event, KeyEvent, RdbReader, ReaderOptions};
use crate::event::{KeyAttrs, ValueSource};
use crate::input::Input;
use crate::output::record::{write_key_record_spilling, write_record, Spill};
use crate::progress::Progress;
use crate::source::{KeyFilter, Kind, Source, VisitOptions, Visitor};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DumpFormat {
    /// One JSON object per line.
    Jsonl,
    /// One JSON array of the same objects.
    Json,
}

#[derive(Debug, Clone)]
pub struct DumpConfig {
    pub input: PathBuf,
    pub format: DumpFormat,
    pub filter: KeyFilter,
    /// `--no-expired`: drop keys expired at `now_ms`, or at the file's `ctime`
    /// aux field when `now_ms` is not given, or at the current time when the
    /// file has no `ctime`.
    pub no_expired: bool,
    pub now_ms: Option<i64>,
    /// AOF input: skip (and count) commands the replay does not know.
    pub skip_unknown: bool,
    pub reader: ReaderOptions,
}

impl DumpConfig {
    /// Every key of `input` in `format`, no filter, default reading options.
    pub fn new(input: impl Into<PathBuf>, format: DumpFormat) -> Self {
        DumpConfig {
            input: input.into(),
            format,
            filter: KeyFilter::default(),
            no_expired: false,
            now_ms: None,
            skip_unknown: false,
            reader: ReaderOptions::default(),
        }
    }
}

/// What a dump wrote.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DumpStats {
    pub keys_read: u64,
    pub keys_written: u64,
    /// Empty lists, sets, sorted sets and hashes left out: the server skips
    /// them on load (and `check` counts them).
    pub empty_keys: u64,
    /// What an AOF's replay skipped or approximated.
    pub notes: Vec<String>,
}

/// Records of one chunk of keys, serialised.
struct Chunk {
    text: Vec<u8>,
    read: u64,
    written: u64,
    /// Empty collections left out (the server skips them on load).
    empty: u64,
}

impl Default for Chunk {
    fn default() -> Self {
        // About what 256 ordinary keys take: no regrowing on the way.
        Chunk { text: Vec::with_capacity(128 << 10), read: 0, written: 0, empty: 0 }
    }
}

const UNSET: i64 = i64::MIN;

fn ctime_ms(value: &[u8]) -> Option<i64> {
    std::str::from_utf8(value).ok()?.parse::<i64>().ok()?.checked_mul(1000)
}

use crate::clock::system_now_ms as now_ms;

/// Serialise one key into the chunk (with its separator) if the filter keeps
/// it; `spill` drains the chunk while a huge value is written.
fn write_key(
    chunk: &mut Chunk,
    key: &KeyEvent<'_>,
    cfg: &DumpConfig,
    expired_before: &AtomicI64,
    spill: Option<Spill<'_>>,
) -> Result<()> {
    chunk.read += 1;
    let mut filter_ok = cfg.filter.matches(key);
    if cfg.no_expired {
        let mut threshold = expired_before.load(Ordering::Relaxed);
        if threshold == UNSET {
            // No --now and no ctime aux before the first key: the current time.
            let _ = expired_before.compare_exchange(UNSET, now_ms(), Ordering::Relaxed, Ordering::Relaxed);
            threshold = expired_before.load(Ordering::Relaxed);
        }
        filter_ok &= key.attrs.expire_at_ms.is_none_or(|t| t >= threshold);
    }
    if !filter_ok {
        return Ok(());
    }
    let start = chunk.text.len();
    if cfg.format == DumpFormat::Json {
        chunk.text.extend_from_slice(b",\n");
    }
    match write_key_record_spilling(&mut chunk.text, key, spill) {
        Ok(()) => {}
        Err(e) if e.kind == crate::error::ErrorKind::EmptyKey => {
            chunk.text.truncate(start);
            chunk.empty += 1;
            return Ok(());
        }
        Err(e) => {
            // Whole records or none: the records before this one still go out.
            chunk.text.truncate(start);
            return Err(e.key(&key.key));
        }
    }
    if cfg.format == DumpFormat::Jsonl {
        chunk.text.push(b'\n');
    }
    chunk.written += 1;
    Ok(())
}

/// Dump the keys of `cfg.input` to `out`.
pub fn dump(cfg: &DumpConfig, out: &mut dyn Write) -> Result<DumpStats> {
    dump_source(&mut Source::open(&cfg.input)?, cfg, out)
}

/// Dump the keys of an input already told apart (`cfg.input` is not used):
/// an RDB on all cores; an AOF replayed (see `convert`) and a dump read back,
/// each database in key order, with the same filters.
pub fn dump_source(source: &mut Source, cfg: &DumpConfig, out: &mut dyn Write) -> Result<DumpStats> {
    if *source.kind() == Kind::Rdb {
        let size = source.file_size();
        return dump_input(&mut source.open_input()?, size, cfg, out);
    }
    let opts = VisitOptions {
        reader: cfg.reader,
        filter: cfg.filter.clone(),
        expired_before: cfg.no_expired.then(|| cfg.now_ms.unwrap_or_else(now_ms)),
        now_ms: cfg.now_ms,
        skip_unknown: cfg.skip_unknown,
    };
    let progress = Progress::new(cfg.reader.progress, &source.path().display().to_string(), source.file_size());
    let mut records =
        Records { out, array: cfg.format == DumpFormat::Json, buf: Vec::new(), stats: DumpStats::default(), progress };
    let visited = source.visit(&opts, &mut records)?;
    let mut stats = records.stats;
    stats.empty_keys += visited.empty_keys;
    Ok(stats)
}

/// Module values are kept raw: said once per such key when converting.
pub(super) const MODULE_NOTE: &str = "module values are copied raw; the target server needs the same module";

/// Dump records of the keys a source hands out, one at a time.
struct Records<'w> {
    out: &'w mut dyn Write,
    /// One JSON array (else one record per line).
    array: bool,
    buf: Vec<u8>,
    progress: Progress,
    stats: DumpStats,
}

impl Visitor for Records<'_> {
    fn begin(&mut self, _rdb_version: Option<u32>) -> Result<()> {
        Ok(())
    }
    fn key(&mut self, db: u64, key: &[u8], attrs: &KeyAttrs<'_>, value: &dyn ValueSource) -> Result<()> {
        self.buf.clear();
        if self.array {
            self.buf.push(if self.stats.keys_written == 0 { b'[' } else { b',' });
        }
        match write_record(&mut self.buf, db, key, attrs, value, None) {
            Ok(()) => {}
            Err(e) if e.kind == ErrorKind::EmptyKey => {
                self.stats.empty_keys += 1;
                return Ok(());
            }
            Err(e) => return Err(e),
        }
        if !self.array {
            self.buf.push(b'\n');
        }
        self.stats.keys_read += 1;
        self.stats.keys_written += 1;
        if value.key_type() == crate::format::KeyType::Module {
            self.stats.notes.push(MODULE_NOTE.into());
        }
        self.out.write_all(&self.buf).map_err(Error::io)
    }
    fn end(&mut self) -> Result<()> {
        if self.array {
            self.out.write_all(if self.stats.keys_written == 0 { b"[]\n" } else { b"]\n" }).map_err(Error::io)?;
        }
        self.out.flush().map_err(Error::io)
    }
    fn progress(&mut self, offset: u64) {
        self.progress.set(offset);
    }
    fn note(&mut self, note: String) {
        self.stats.notes.push(note);
    }
}

/// Dump the keys of an opened input (`cfg.input` is not used).
pub fn dump_input(input: &mut Input, size: Option<u64>, cfg: &DumpConfig, out: &mut dyn Write) -> Result<DumpStats> {
    let name = input.name.clone();
    let mut reader = RdbReader::new(input, cfg.reader);
    let progress = Progress::new(cfg.reader.progress, &name.display().to_string(), size);
    let expired_before = AtomicI64::new(cfg.now_ms.unwrap_or(UNSET));
    let mut stats = DumpStats::default();
    // Chunks of keys (~100 KB of JSON) are larger than the buffer, so they go
    // straight to `out` instead of being copied through it.
    let mut out = std::io::BufWriter::with_capacity(64 << 10, out);
    let io = |e: std::io::Error| Error::io(e);
    if cfg.format == DumpFormat::Json {
        out.write_all(b"[").map_err(io)?;
    }
    let result = for_each_key(
        &mut reader,
        |ev, _| {
            // Decided on the framing thread before any key is framed: the
            // `ctime` aux field (written before the databases), else now.
            let decided = match ev {
                Event::Aux { key, value } if &**key == b"ctime" => ctime_ms(value),
                Event::SelectDb { .. } => Some(now_ms()),
                _ => None,
            };
            if let (true, Some(t)) = (cfg.no_expired, decided) {
                let _ = expired_before.compare_exchange(UNSET, t, Ordering::Relaxed, Ordering::Relaxed);
            }
            Ok(())
        },
        Chunk::default,
        |chunk, key| write_key(chunk, key, cfg, &expired_before, None),
        |merged| {
            let chunk = match merged {
                Merged::Chunk(chunk) => chunk,
                Merged::Serial(key) => {
                    // A big key, in order: stream it out as it is written,
                    // once a first walk has found it whole (a fault inside
                    // must not leave half a record in the output).
                    key.value.decode(&mut |_: crate::event::Piece<'_>| Ok(())).map_err(|e| e.key(&key.key))?;
                    let mut chunk = Chunk::default();
                    let mut first = stats.keys_written == 0;
                    let mut drain = |buf: &mut Vec<u8>| -> Result<()> {
                        let skip = if cfg.format == DumpFormat::Json && first { 2 } else { 0 };
                        first = false;
                        out.write_all(&buf[skip..]).map_err(io)?;
                        buf.clear();
                        Ok(())
                    };
                    write_key(&mut chunk, key, cfg, &expired_before, Some(&mut drain))?;
                    if chunk.written > 0 && !first {
                        // Part of the record went out already: no separator left to skip.
                        stats.keys_written += chunk.written;
                        stats.keys_read += chunk.read;
                        stats.empty_keys += chunk.empty;
                        out.write_all(&chunk.text).map_err(io)?;
                        return Ok(());
                    }
                    chunk
                }
            };
            // The first JSON record has no separator before it.
            let skip =
                if cfg.format == DumpFormat::Json && stats.keys_written == 0 && chunk.written > 0 { 2 } else { 0 };
            out.write_all(&chunk.text[skip..]).map_err(io)?;
            stats.keys_read += chunk.read;
            stats.keys_written += chunk.written;
            stats.empty_keys += chunk.empty;
            Ok(())
        },
        |offset| progress.set(offset),
    );
    result.map_err(|e| e.in_file(&name))?;
    if cfg.format == DumpFormat::Json {
        out.write_all(b"\n]\n").map_err(io)?;
    }
    out.flush().map_err(io)?;
    Ok(stats)
}

/// `dump --commands`: the command log as JSONL, one record per command, for
/// every file of the AOF in load order (an RDB preamble's keys are not
/// commands and are left out). `dbs` filters by the database in force.
pub fn dump_commands(path: &Path, dbs: &[u64], opts: ReaderOptions, out: &mut dyn Write) -> Result<u64> {
    let mut source = Source::open(path)?;
    if !source.kind().is_aof() {
        let why = if source.is_pipe() { InputProblem::CommandsOfPipe } else { InputProblem::CommandsOfRdb };
        let e = Error::new(ErrorKind::Input(why));
        return Err(if source.is_pipe() { e } else { e.in_file(&path.into()) });
    }
    let mut files = source.aof_files()?;
    let mut reader = crate::event::AofReader::new(&mut files, opts);
    let mut buf = Vec::with_capacity(1 << 16);
    let mut file_name = String::new();
    let mut written = 0;
    while let Some(event) = reader.next()? {
        match event {
            Event::AofFile { name, .. } => {
                file_name = name.file_name().map_or_else(|| name.display().to_string(), |n| n.to_string_lossy().into());
            }
            Event::Command(c) if dbs.is_empty() || dbs.contains(&c.db) => {
                crate::output::record::write_command_record(&mut buf, &file_name, &c);
                buf.push(b'\n');
                written += 1;
                if buf.len() >= 1 << 16 {
                    out.write_all(&buf).map_err(Error::io)?;
                    buf.clear();
                }
            }
            _ => {}
        }
    }
    out.write_all(&buf).map_err(Error::io)?;
    out.flush().map_err(Error::io)?;
    Ok(written)
}
