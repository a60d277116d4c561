//! `memory`: what every key of one or more inputs costs in a server's
//! memory (the model is `crate::memory`), streamed per key as CSV or JSONL,
//! and summed up: totals, per database, per type and encoding, the largest
//! keys, key prefixes, TTLs, cluster slots.
//!
//! An RDB is framed on one thread and its keys measured on all cores in
//! chunks (`event::parallel`), merged in file order, so the rows and the
//! summary are the same on every run; an AOF (replayed) or a dump is read
//! through `source::Source::visit`.

use crate::error::{Error, ErrorKind, Result, Verdict};
use crate::event::parallel::{for_each_key, Merged};
use crate::event::{Event, KeyAttrs, RdbReader, ReaderOptions, ValueSource};
use crate::format::{EncodingLimits, KeyType};
use crate::memory::report::{FileEnd, KeyFacts, KeyRow, Summary, SummaryOptions};
use crate::memory::{Allocator, KeyCost, Meter, Profile, Target};
use crate::progress::Progress;
use crate::source::{KeyFilter, Kind, Source, VisitOptions, Visitor};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

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
    /// The target runs as a cluster node.
    pub cluster: bool,
    pub keys: Option<KeysFormat>,
    pub filter: KeyFilter,
    /// Count keys already expired instead of leaving them out (by default
    /// they are left out, as a primary drops them on load, and counted).
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
            cluster: false,
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
    /// The worst of the inputs' verdicts: with several inputs, one that
    /// cannot be read to its end is a row of the report (its keys before
    /// the fault counted), not the end of the run.
    pub verdict: Verdict,
}

/// Measure every input; per-key rows go to `keys_out` when `cfg.keys` asks.
/// Several inputs are read in parallel when no rows are asked for (rows
/// must come out in input order), each into its own summary, merged in
/// input order. With one input, its error is the run's; with several, each
/// input's error goes to its row of the per-file table (see
/// [`MemoryReport::verdict`]), and only a failure to write rows ends the run.
pub fn memory(cfg: &MemoryConfig, mut keys_out: Option<&mut dyn Write>) -> Result<MemoryReport> {
    let several = cfg.inputs.len() > 1;
    if several && (cfg.keys.is_none() || keys_out.is_none()) {
        use rayon::prelude::*;
        let parts: Vec<Result<Summary>> = cfg
            .inputs
            .par_iter()
            .enumerate()
            .map(|(index, _)| {
                let mut summary = Summary::new(cfg.summary.clone());
                read_input(cfg, index, &mut summary, None)?;
                Ok(summary)
            })
            .collect();
        let mut summary = Summary::new(cfg.summary.clone());
        for part in parts {
            summary.merge(part?);
        }
        return Ok(report(summary));
    }
    let mut summary = Summary::new(cfg.summary.clone());
    if let (Some(KeysFormat::Csv), Some(out)) = (cfg.keys, keys_out.as_deref_mut()) {
        out.write_all(KeyRow::CSV_HEADER.as_bytes()).map_err(Error::io)?;
    }
    for index in 0..cfg.inputs.len() {
        // Not `as_deref_mut`: that would keep the trait object's own
        // lifetime, borrowed for good by the first file.
        #[allow(clippy::option_as_ref_deref)]
        read_input(cfg, index, &mut summary, keys_out.as_mut().map(|w| &mut **w))?;
    }
    if let Some(out) = keys_out {
        out.flush().map_err(Error::io)?;
    }
    Ok(report(summary))
}

fn report(summary: Summary) -> MemoryReport {
    let verdict = summary.files.iter().filter_map(|f| f.error.as_ref()).map(|e| e.kind.verdict()).max();
    MemoryReport { summary, verdict: verdict.unwrap_or(Verdict::Valid) }
}

/// Read input `index` into `summary`, rows to `out`, and close its row of
/// the per-file table. An error reading it is the run's with one input, and
/// its row's with several; a failure to write rows is always the run's.
fn read_input<'b>(
    cfg: &MemoryConfig,
    index: usize,
    summary: &mut Summary,
    out: Option<&mut (dyn Write + 'b)>,
) -> Result<()> {
    let path = &cfg.inputs[index];
    let mut fold = Fold { cfg, file: index, summary, out, row: Vec::new(), write_error: None };
    let mut facts = FileFacts::default();
    let read = measure_file(cfg, path, &mut fold, &mut facts);
    if let Some(e) = fold.write_error.take() {
        return Err(e);
    }
    let error = match read.map_err(|e| e.in_file(&path.as_path().into())) {
        Ok(()) => None,
        Err(e) if cfg.inputs.len() > 1 => Some(e),
        Err(e) => return Err(e),
    };
    let notes = facts.notes(cfg);
    summary.add_file(path, FileEnd { profile: facts.profile, used_mem_aux: facts.used_mem, notes, error });
    Ok(())
}

/// What a file's aux fields say about the server that wrote it.
#[derive(Debug, Clone, Default)]
struct FileFacts {
    redis_ver: Option<String>,
    valkey_ver: Option<String>,
    ctime_ms: Option<i64>,
    used_mem: Option<u64>,
    profile: Option<Profile>,
}

impl FileFacts {
    fn aux(&mut self, key: &[u8], value: &[u8]) {
        let text = || String::from_utf8_lossy(value).into_owned();
        match key {
            b"redis-ver" => self.redis_ver = Some(text()),
            b"valkey-ver" => self.valkey_ver = Some(text()),
            b"ctime" => self.ctime_ms = text().parse::<i64>().ok().and_then(|s| s.checked_mul(1000)),
            b"used-mem" => self.used_mem = text().parse().ok(),
            _ => {}
        }
    }

    /// The profile for the keys that follow: the one asked for, else the
    /// writer's version (Redis 7.0 when the file does not say).
    fn profile(&self, cfg: &MemoryConfig) -> Profile {
        let target = cfg
            .target
            .or_else(|| Target::of_server(self.redis_ver.as_deref(), self.valkey_ver.as_deref()))
            .unwrap_or(Target::Redis70);
        Profile::new(
            target,
            cfg.allocator.unwrap_or(target.default_allocator()),
            cfg.limits.unwrap_or(target.compiled_limits()),
        )
        .in_cluster(cfg.cluster)
    }

    /// What the report should say about the choice of profile.
    fn notes(&self, cfg: &MemoryConfig) -> Vec<String> {
        let mut notes = Vec::new();
        if cfg.target.is_some() || self.profile.is_none() {
            return notes;
        }
        match (&self.redis_ver, &self.valkey_ver) {
            (None, None) => notes.push(
                "the input does not say which server wrote it: modelled as redis-7.0 (--target picks another)".into(),
            ),
            (Some(v), None) => {
                let mut parts = v.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
                let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
                if (8, 2) <= (major, minor) && (major, minor) < (8, 6) {
                    notes.push(format!(
                        "written by Redis {v}: modelled with the rules of redis-8.6, which may differ in detail \
                         (8.2's objects count the expiry in the 64 bytes a value may share with its key)"
                    ));
                }
            }
            _ => {}
        }
        notes
    }

    /// The clock expiry is judged by.
    fn now_ms(&self, cfg: &MemoryConfig) -> i64 {
        cfg.now_ms.or(self.ctime_ms).unwrap_or_else(crate::clock::system_now_ms)
    }
}

/// One key, measured, to travel from a worker to the merging side. Its name
/// and prefix hashes are in its chunk's buffers.
struct Measured {
    db: u64,
    name: std::ops::Range<usize>,
    prefixes: std::ops::Range<usize>,
    slot: u16,
    kind: KeyType,
    expire_at_ms: Option<i64>,
    cost: KeyCost,
    rdb_bytes: Option<u64>,
}

/// Keys measured, in file order, and the expired keys left out among them.
/// Names and prefix hashes go to one buffer each: no allocation per key.
#[derive(Default)]
struct Chunk {
    keys: Vec<Measured>,
    names: Vec<u8>,
    prefixes: Vec<(u64, u32)>,
    expired: u64,
}

impl Chunk {
    /// Measure one key into the chunk, unless it is expired (counted) or
    /// an empty collection (the server skips those on load).
    #[allow(clippy::too_many_arguments)]
    fn measure(
        &mut self,
        meter: &Meter,
        now_ms: i64,
        cfg: &MemoryConfig,
        db: u64,
        key: &[u8],
        attrs: &KeyAttrs<'_>,
        value: &dyn ValueSource,
        rdb_bytes: Option<u64>,
    ) -> Result<()> {
        if attrs.expire_at_ms.is_some_and(|t| t <= now_ms) && !cfg.include_expired {
            self.expired += 1;
            return Ok(());
        }
        match meter.measure(key, attrs, value) {
            Ok(cost) => {
                let name = self.names.len()..self.names.len() + key.len();
                self.names.extend_from_slice(key);
                let first = self.prefixes.len();
                let slot = KeyFacts::compute(&cfg.summary, key, &mut self.prefixes);
                self.keys.push(Measured {
                    db,
                    name,
                    prefixes: first..self.prefixes.len(),
                    slot,
                    kind: value.key_type(),
                    expire_at_ms: attrs.expire_at_ms,
                    cost,
                    rdb_bytes,
                })
            }
            Err(e) if e.kind == ErrorKind::EmptyKey => {}
            Err(e) => return Err(e.key(key)),
        }
        Ok(())
    }
}

/// The merging side: rows out, summary up, in input order.
struct Fold<'a, 'b> {
    cfg: &'a MemoryConfig,
    file: usize,
    summary: &'a mut Summary,
    out: Option<&'a mut (dyn Write + 'b)>,
    row: Vec<u8>,
    /// Writing rows failed: the run's error, not the input's.
    write_error: Option<Error>,
}

impl Fold<'_, '_> {
    fn add(&mut self, chunk: Chunk, profile: &Profile, now_ms: i64) -> Result<()> {
        self.summary.expired_skipped += chunk.expired;
        for m in &chunk.keys {
            self.add_key(&chunk, m, profile, now_ms)?;
        }
        Ok(())
    }

    fn add_key(&mut self, chunk: &Chunk, m: &Measured, profile: &Profile, now_ms: i64) -> Result<()> {
        let row = KeyRow {
            file: self.file,
            db: m.db,
            key: &chunk.names[m.name.clone()],
            kind: m.kind,
            expire_at_ms: m.expire_at_ms,
            cost: &m.cost,
            facts: KeyFacts::new(m.slot, &chunk.prefixes[m.prefixes.clone()]),
            rdb_bytes: m.rdb_bytes,
        };
        if let Some(out) = self.out.as_deref_mut() {
            self.row.clear();
            match self.cfg.keys {
                Some(KeysFormat::Csv) => row.write_csv(&mut self.row),
                Some(KeysFormat::Jsonl) => row.write_jsonl(&mut self.row),
                None => {}
            }
            if let Err(e) = out.write_all(&self.row) {
                self.write_error = Some(Error::io(e));
                return Err(Error::io(std::io::Error::other("writing rows failed")));
            }
        }
        self.summary.add_key(&row, now_ms);
        if at_encoding_limit(profile, m) {
            self.summary.near_limit(m.kind);
        }
        Ok(())
    }
}

/// A key one element (or one byte of its largest element) away from
/// leaving its compact encoding.
fn at_encoding_limit(p: &Profile, m: &Measured) -> bool {
    let l = &p.limits;
    let c = &m.cost;
    let entries = match (m.kind, c.encoding) {
        (KeyType::Set, "intset") => l.set_max_intset_entries,
        (KeyType::Set, "listpack") => l.set_max_listpack_entries,
        (KeyType::Hash, "listpack" | "ziplist") => l.hash_max_listpack_entries,
        (KeyType::Zset, "listpack" | "ziplist") => l.zset_max_listpack_entries,
        _ => return false,
    };
    let value = match m.kind {
        KeyType::Set if c.encoding == "listpack" => Some(l.set_max_listpack_value),
        KeyType::Hash => Some(l.hash_max_listpack_value),
        KeyType::Zset => Some(l.zset_max_listpack_value),
        _ => None,
    };
    c.elements >= entries || value.is_some_and(|v| c.largest >= v)
}

/// Measure one input into `fold`; `facts` holds what its aux fields said,
/// also when reading it fails part way.
fn measure_file(cfg: &MemoryConfig, path: &Path, fold: &mut Fold<'_, '_>, facts: &mut FileFacts) -> Result<()> {
    let mut source = Source::open(path)?;
    if *source.kind() == Kind::Rdb {
        return measure_rdb(cfg, &mut source, fold, facts);
    }
    let opts = VisitOptions {
        reader: cfg.reader,
        filter: cfg.filter.clone(),
        expired_before: None,
        now_ms: cfg.now_ms,
        skip_unknown: cfg.skip_unknown,
    };
    let progress = Progress::new(cfg.reader.progress, &source.path().display().to_string(), source.file_size());
    let mut visitor = Measure { fold, facts, meter: None, progress };
    source.visit(&opts, &mut visitor).map(|_| ())
}

/// An AOF or a dump, key by key.
struct Measure<'f, 'a, 'b> {
    fold: &'f mut Fold<'a, 'b>,
    facts: &'f mut FileFacts,
    /// Built at the first key, once the aux fields have said which server
    /// wrote the file.
    meter: Option<(Meter, i64)>,
    progress: Progress,
}

impl Visitor for Measure<'_, '_, '_> {
    fn begin(&mut self, _rdb_version: Option<u32>) -> Result<()> {
        Ok(())
    }

    fn aux(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.facts.aux(key, value);
        Ok(())
    }

    fn progress(&mut self, offset: u64) {
        self.progress.set(offset);
    }

    fn key(&mut self, db: u64, key: &[u8], attrs: &KeyAttrs<'_>, value: &dyn ValueSource) -> Result<()> {
        let cfg = self.fold.cfg;
        if self.meter.is_none() {
            let profile = self.facts.profile(cfg);
            self.facts.profile = Some(profile);
            self.meter = Some((Meter::new(profile), self.facts.now_ms(cfg)));
        }
        let (meter, now) = self.meter.as_ref().expect("just built");
        let mut chunk = Chunk::default();
        chunk.measure(meter, *now, cfg, db, key, attrs, value, None)?;
        self.fold.add(chunk, meter.profile(), *now)
    }
}

/// An RDB on all cores.
fn measure_rdb(
    cfg: &MemoryConfig,
    source: &mut Source,
    fold: &mut Fold<'_, '_>,
    file_facts: &mut FileFacts,
) -> Result<()> {
    let size = source.file_size();
    let mut input = source.open_input()?;
    let name = input.name.display().to_string();
    let mut reader = RdbReader::new(&mut input, cfg.reader);
    let progress = Progress::new(cfg.reader.progress, &name, size);
    // The aux fields come before the keys: the framing thread reads them,
    // and the first key (on any thread) fixes the profile from them.
    let facts = Mutex::new(FileFacts::default());
    let meter: OnceLock<(Meter, i64)> = OnceLock::new();
    let meter_of = || {
        meter.get_or_init(|| {
            let f = facts.lock().unwrap_or_else(|e| e.into_inner());
            (Meter::new(f.profile(cfg)), f.now_ms(cfg))
        })
    };
    let filter = &cfg.filter;
    let measure = |chunk: &mut Chunk, k: &crate::event::KeyEvent<'_>| -> Result<()> {
        if !filter.matches(k) {
            return Ok(());
        }
        let (m, now) = meter_of();
        // The record runs from its first prefix to the value's end.
        let rdb_bytes = k.value.offset + k.value.raw.len() as u64 - k.offset;
        chunk.measure(m, *now, cfg, k.db, &k.key, &k.attrs, &k.value, Some(rdb_bytes))
    };
    let read = for_each_key(
        &mut reader,
        |ev, _| {
            if let Event::Aux { key, value } = ev {
                facts.lock().unwrap_or_else(|e| e.into_inner()).aux(key, value);
            }
            Ok(())
        },
        Chunk::default,
        measure,
        |merged| {
            let (m, now) = meter_of();
            let profile = *m.profile();
            let chunk = match merged {
                Merged::Chunk(chunk) => chunk,
                Merged::Serial(key) => {
                    let mut chunk = Chunk::default();
                    measure(&mut chunk, key)?;
                    chunk
                }
            };
            fold.add(chunk, &profile, *now)
        },
        |offset| progress.set(offset),
    );
    *file_facts = facts.into_inner().unwrap_or_else(|e| e.into_inner());
    file_facts.profile = meter.get().map(|(m, _)| *m.profile());
    read
}
