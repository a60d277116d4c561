//! `memory`: what every key of one or more inputs costs in a server's
//! memory (the model is `crate::memory`), streamed per key as CSV or JSONL,
//! and summed up: totals, per database, per type and encoding, the largest
//! keys, key prefixes, TTLs, cluster slots.

use crate::error::{Error, Result};
use crate::event::{KeyAttrs, ReaderOptions, ValueSource};
use crate::format::EncodingLimits;
use crate::memory::report::{KeyRow, Summary, SummaryOptions};
use crate::memory::{Allocator, Meter, Profile, Target};
use crate::source::{KeyFilter, Source, VisitOptions, Visitor};
use std::io::Write;
use std::path::PathBuf;

/// How per-key rows are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeysFormat {
    Csv,
    Jsonl,
}

#[derive(Debug, Clone)]
pub struct MemoryConfig {
    pub inputs: Vec<PathBuf>,
    /// The server to model (default: each file's own, from its aux fields).
    pub target: Option<Target>,
    /// Default: the target's usual build (jemalloc, 8-byte quantum).
    pub allocator: Option<Allocator>,
    /// The target's configured limits (default: compiled-in).
    pub limits: Option<EncodingLimits>,
    pub keys: Option<KeysFormat>,
    pub filter: KeyFilter,
    /// Count keys already expired at this Unix ms instead of leaving them
    /// out (default: they are left out, as a primary drops them on load).
    pub include_expired: bool,
    /// The clock expiry is judged by (default: the file's `ctime`, else now).
    pub now_ms: Option<i64>,
    pub summary: SummaryOptions,
    pub skip_unknown: bool,
    pub reader: ReaderOptions,
}

impl MemoryConfig {
    pub fn new(inputs: Vec<PathBuf>) -> MemoryConfig {
        MemoryConfig {
            inputs,
            target: None,
            allocator: None,
            limits: None,
            keys: None,
            filter: KeyFilter::default(),
            include_expired: false,
            now_ms: None,
            summary: SummaryOptions::default(),
            skip_unknown: false,
            reader: ReaderOptions::default(),
        }
    }
}

/// The report of one run.
pub struct MemoryReport {
    pub summary: Summary,
}

/// Measure every input; per-key rows go to `keys_out` when `cfg.keys` asks.
pub fn memory(cfg: &MemoryConfig, mut keys_out: Option<&mut dyn Write>) -> Result<MemoryReport> {
    let mut summary = Summary::new(cfg.summary.clone());
    if let (Some(KeysFormat::Csv), Some(out)) = (cfg.keys, keys_out.as_deref_mut()) {
        out.write_all(KeyRow::CSV_HEADER.as_bytes()).map_err(Error::io)?;
    }
    for (index, path) in cfg.inputs.iter().enumerate() {
        let mut source = Source::open(path)?;
        let opts = VisitOptions {
            reader: cfg.reader,
            filter: cfg.filter.clone(),
            expired_before: None,
            now_ms: cfg.now_ms,
            skip_unknown: cfg.skip_unknown,
        };
        let mut visitor = Measure {
            cfg,
            file: index,
            meter: None,
            redis_ver: None,
            valkey_ver: None,
            ctime_ms: None,
            used_mem: None,
            summary: &mut summary,
            // Not `as_deref_mut`: that would keep the trait object's own
            // lifetime, borrowed for good by the first file's visit.
            #[allow(clippy::option_as_ref_deref)]
            out: keys_out.as_mut().map(|w| &mut **w),
            row: Vec::new(),
        };
        source.visit(&opts, &mut visitor).map_err(|e| e.in_file(&path.as_path().into()))?;
        let (profile, used_mem) = (visitor.meter.map(|m| *m.profile()), visitor.used_mem);
        summary.add_file(path, profile, used_mem);
    }
    if let Some(out) = keys_out {
        out.flush().map_err(Error::io)?;
    }
    Ok(MemoryReport { summary })
}

struct Measure<'a, 'b> {
    cfg: &'a MemoryConfig,
    file: usize,
    /// Built at the first key, once the aux fields have said which server
    /// wrote the file.
    meter: Option<Meter>,
    redis_ver: Option<String>,
    valkey_ver: Option<String>,
    ctime_ms: Option<i64>,
    used_mem: Option<u64>,
    summary: &'a mut Summary,
    out: Option<&'a mut (dyn Write + 'b)>,
    row: Vec<u8>,
}

impl Measure<'_, '_> {
    fn meter(&mut self) -> &Meter {
        if self.meter.is_none() {
            let target = self
                .cfg
                .target
                .or_else(|| Target::of_server(self.redis_ver.as_deref(), self.valkey_ver.as_deref()))
                .unwrap_or(Target::Redis70);
            let profile = Profile::new(
                target,
                self.cfg.allocator.unwrap_or(target.default_allocator()),
                self.cfg.limits.unwrap_or(target.compiled_limits()),
            );
            self.meter = Some(Meter::new(profile));
        }
        self.meter.as_ref().expect("just built")
    }
}

impl Visitor for Measure<'_, '_> {
    fn begin(&mut self, _rdb_version: Option<u32>) -> Result<()> {
        Ok(())
    }

    fn aux(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        let text = || String::from_utf8_lossy(value).into_owned();
        match key {
            b"redis-ver" => self.redis_ver = Some(text()),
            b"valkey-ver" => self.valkey_ver = Some(text()),
            b"ctime" => self.ctime_ms = text().parse::<i64>().ok().and_then(|s| s.checked_mul(1000)),
            b"used-mem" => self.used_mem = text().parse().ok(),
            _ => {}
        }
        Ok(())
    }

    fn key(&mut self, db: u64, key: &[u8], attrs: &KeyAttrs<'_>, value: &dyn ValueSource) -> Result<()> {
        let now = self.cfg.now_ms.or(self.ctime_ms).unwrap_or_else(crate::clock::system_now_ms);
        let expired = attrs.expire_at_ms.is_some_and(|t| t <= now);
        if expired && !self.cfg.include_expired {
            self.summary.expired_skipped += 1;
            return Ok(());
        }
        let cost = match self.meter().measure(key, attrs, value) {
            Ok(c) => c,
            Err(e) if e.kind == crate::error::ErrorKind::EmptyKey => return Ok(()),
            Err(e) => return Err(e.key(key)),
        };
        let row =
            KeyRow { file: self.file, db, key, kind: value.key_type(), expire_at_ms: attrs.expire_at_ms, cost: &cost };
        if let Some(out) = self.out.as_deref_mut() {
            self.row.clear();
            match self.cfg.keys {
                Some(KeysFormat::Csv) => row.write_csv(&mut self.row),
                Some(KeysFormat::Jsonl) => row.write_jsonl(&mut self.row),
                None => {}
            }
            out.write_all(&self.row).map_err(Error::io)?;
        }
        self.summary.add_key(&row, now);
        Ok(())
    }
}
