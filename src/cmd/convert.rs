//! `convert`: rewrite what a file holds in another format or RDB version. RDB
//! input goes to RDB (any version the writer knows; values re-encoded as that
//! version's Redis writes them, never copied blindly), to RESP commands (for
//! `redis-cli --pipe`), to an AOF file or multi-part AOF directory (as Redis's
//! rewrite writes them), or to the JSON dump formats.

use super::dump::{self, DumpConfig, DumpFormat};
use crate::error::{Error, ErrorKind, InputProblem, Integrity, Result};
use crate::event::{Event, RdbReader, ReaderOptions};
use crate::event::{KeyAttrs, ValueSource};
use crate::format::KeyType;
use crate::output::rdb::writer::{EncodingLimits, RdbWriter, MAX_WRITE_VERSION, VALKEY_VERSION};
use crate::output::resp::RespWriter;
use crate::progress::Progress;
use crate::source::{Kind, ModuleAux, Source, VisitOptions, Visitor};
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConvertTo {
    Rdb,
    Json,
    Jsonl,
    /// Commands for `redis-cli --pipe`.
    Resp,
    /// A single-file AOF (commands, or the RDB alone with `rdb_preamble`).
    Aof,
    /// A multi-part AOF directory (see [`convert_to_dir`]).
    AofDir,
}

#[derive(Debug, Clone)]
pub struct ConvertConfig {
    pub input: PathBuf,
    pub to: ConvertTo,
    /// Target RDB version (default: the source's, capped at what the writer knows).
    pub rdb_version: Option<u32>,
    pub limits: EncodingLimits,
    /// LZF-compress strings as Redis does with `rdbcompression yes`.
    pub compress: bool,
    /// Leave out data the target cannot hold (each dropped key is reported)
    /// instead of refusing the conversion.
    pub drop_unsupported: bool,
    /// AOF outputs: the base is an RDB (`aof-use-rdb-preamble yes`).
    pub rdb_preamble: bool,
    /// AOF input: skip (and count) commands the replay does not know instead
    /// of stopping.
    pub skip_unknown: bool,
    /// Items per RPUSH/SADD/ZADD/HMSET command.
    pub batch: usize,
    /// RESP/AOF output: RESTORE with DUMP payloads; `Some(true)` adds REPLACE.
    pub restore: Option<bool>,
    /// AOF input: the loading server's clock, from which relative times
    /// count (`--now`; default: the system clock).
    pub now_ms: Option<i64>,
    pub reader: ReaderOptions,
}

impl ConvertConfig {
    pub fn new(input: impl Into<PathBuf>, to: ConvertTo) -> Self {
        ConvertConfig {
            input: input.into(),
            to,
            rdb_version: None,
            limits: EncodingLimits::default(),
            compress: true,
            drop_unsupported: false,
            rdb_preamble: false,
            skip_unknown: false,
            batch: crate::output::resp::DEFAULT_BATCH,
            restore: None,
            now_ms: None,
            reader: ReaderOptions::default(),
        }
    }
}

/// What a conversion did.
#[derive(Debug, Clone, Default)]
pub struct ConvertReport {
    pub version: Option<u32>,
    pub keys: u64,
    /// Keys (db, name, why) left out with `--drop-unsupported`.
    pub dropped: Vec<(u64, Vec<u8>, String)>,
    /// Other things left out (module aux data, functions…).
    pub notes: Vec<String>,
    /// Empty lists, sets, sorted sets and hashes of the source, left out:
    /// the server skips them on load, and no output of ours holds one.
    pub empty_keys: u64,
}

/// The version aux field written for a target version (`redis-ver`, or
/// `valkey-ver` for Valkey's format): a release that writes that version, so
/// readers that compare the two agree (`format::versions`).
fn server_version_aux(version: u32) -> (&'static [u8], &'static [u8]) {
    let (key, release) =
        crate::format::versions::rdb_version(version).map_or(("redis-ver", "8.10.0"), |r| r.release_aux);
    (key.as_bytes(), release.as_bytes())
}

/// The RDB version written when the source is not an RDB (Redis 7.4: the
/// oldest that holds every type but 8.x streams' state, arrays and key
/// metadata, for which `--rdb-version` must say so).
const DEFAULT_VERSION: u32 = 12;

/// The RDB version to write for a source of `source` (`--rdb-version`, else
/// the source's: Valkey's format stays Valkey's).
fn target_version(cfg: &ConvertConfig, source: u32) -> u32 {
    cfg.rdb_version.unwrap_or(if source == VALKEY_VERSION { source } else { source.min(MAX_WRITE_VERSION) })
}

/// Run a conversion, writing the result to `out`.
pub fn convert(cfg: &ConvertConfig, out: &mut dyn Write) -> Result<ConvertReport> {
    if cfg.to == ConvertTo::AofDir {
        return Err(Error::new(ErrorKind::Usage("--to aof-dir writes a directory: use convert_to_dir")));
    }
    let mut source = Source::open(&cfg.input)?;
    let kind = source.kind().clone();
    match cfg.to {
        ConvertTo::Json | ConvertTo::Jsonl => {
            let format = if cfg.to == ConvertTo::Json { DumpFormat::Json } else { DumpFormat::Jsonl };
            let mut d = DumpConfig::new(cfg.input.clone(), format);
            d.reader = cfg.reader;
            d.now_ms = cfg.now_ms;
            d.skip_unknown = cfg.skip_unknown;
            let stats = dump::dump_source(&mut source, &d, out)?;
            if kind == Kind::Rdb {
                return Ok(ConvertReport::default());
            }
            Ok(ConvertReport {
                version: Some(cfg.rdb_version.unwrap_or(DEFAULT_VERSION)),
                keys: stats.keys_written,
                notes: stats.notes,
                empty_keys: stats.empty_keys,
                ..Default::default()
            })
        }
        // From an RDB file, the common migrations: keys encoded on all cores.
        _ if kind == Kind::Rdb && !source.is_pipe() && (cfg.to != ConvertTo::Aof || !cfg.rdb_preamble) => {
            rdb_parallel(cfg, &mut source, out)
        }
        _ => {
            if kind == Kind::Rdb {
                refuse_duplicate_keys(cfg)?;
            }
            let mut report = ConvertReport::default();
            // An AOF whose rewrite used the RDB preamble is the snapshot alone.
            let rdb_out = cfg.to == ConvertTo::Rdb || (cfg.to == ConvertTo::Aof && cfg.rdb_preamble);
            let opts = VisitOptions {
                reader: cfg.reader,
                now_ms: cfg.now_ms,
                skip_unknown: cfg.skip_unknown,
                ..VisitOptions::default()
            };
            let mut visitor =
                Converting { cfg, rdb_out, out: Some(out), target: None, report: &mut report, progress: None };
            if kind == Kind::Rdb {
                visitor.progress =
                    Some(Progress::new(cfg.reader.progress, &source.path().display().to_string(), source.file_size()));
            }
            let visited = source.visit(&opts, &mut visitor)?;
            report.empty_keys += visited.empty_keys;
            if kind == Kind::Rdb {
                report.notes.dedup();
            }
            Ok(report)
        }
    }
}

/// What a source hands out, written to the target made for it once its
/// version is known; each key accounted for in the report.
struct Converting<'c, 'w> {
    cfg: &'c ConvertConfig,
    /// An RDB is written (else RESP commands).
    rdb_out: bool,
    out: Option<&'w mut dyn Write>,
    target: Option<Box<dyn Target + 'w>>,
    report: &'c mut ConvertReport,
    progress: Option<Progress>,
}

impl<'w> Converting<'_, 'w> {
    fn target(&mut self) -> Result<&mut (dyn Target + 'w)> {
        self.target.as_deref_mut().ok_or_else(|| Error::new(ErrorKind::Integrity(Integrity::NoHeader)))
    }
}

impl Visitor for Converting<'_, '_> {
    fn begin(&mut self, rdb_version: Option<u32>) -> Result<()> {
        // An RDB's values stay in its version unless told; an AOF or a dump
        // is written in the default version.
        let version = match rdb_version {
            Some(v) => {
                self.report.version = Some(target_version(self.cfg, v));
                v
            }
            None => {
                let v = self.cfg.rdb_version.unwrap_or(DEFAULT_VERSION);
                self.report.version = Some(v);
                v
            }
        };
        let out = self.out.take().ok_or_else(|| Error::new(ErrorKind::Integrity(Integrity::TwoHeaders)))?;
        self.target =
            Some(if self.rdb_out { rdb_target(self.cfg, version, out)? } else { Box::new(resp_writer(self.cfg, out)) });
        Ok(())
    }
    fn aux(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        // The writer's own version stands in for the source's.
        if matches!(key, b"redis-ver" | b"valkey-ver") {
            return Ok(());
        }
        self.target()?.aux(key, value)
    }
    fn function(&mut self, code: &[u8]) -> Result<()> {
        if let Err(e) = self.target()?.function(code) {
            if !self.cfg.drop_unsupported {
                return Err(e.detail("a function library (--drop-unsupported leaves it out)"));
            }
            self.report.notes.push(format!("function library left out: {e}"));
        }
        Ok(())
    }
    fn module_aux(&mut self, aux: &ModuleAux) -> Result<()> {
        let t = self.target.as_deref_mut().ok_or_else(|| Error::new(ErrorKind::Integrity(Integrity::NoHeader)))?;
        module_aux_to(self.cfg, t, self.report, aux)
    }
    fn select_db(&mut self, db: u64) -> Result<()> {
        self.target()?.select_db(db)
    }
    fn resize_db(&mut self, keys: u64, expires: u64) -> Result<()> {
        self.target()?.resize_db(keys, expires)
    }
    fn key(&mut self, db: u64, key: &[u8], attrs: &KeyAttrs<'_>, value: &dyn ValueSource) -> Result<()> {
        let t = self.target.as_deref_mut().ok_or_else(|| Error::new(ErrorKind::Integrity(Integrity::NoHeader)))?;
        let written = t.key(db, key, attrs, value);
        record_key(self.cfg, t, self.report, db, key, value.key_type(), written)
    }
    fn end(&mut self) -> Result<()> {
        match self.target.take() {
            Some(t) => t.finish(),
            None => Err(Error::new(ErrorKind::Integrity(Integrity::NoHeader))),
        }
    }
    fn note(&mut self, note: String) {
        self.report.notes.push(note);
    }
    fn progress(&mut self, offset: u64) {
        if let Some(p) = &self.progress {
            p.set(offset);
        }
    }
}

/// `--to aof-dir`: a Redis 7+ multi-part AOF directory at `dir` (which must
/// not exist): `appendonly.aof.1.base.{aof,rdb}`, an empty
/// `appendonly.aof.1.incr.aof` and the manifest. Built in a temporary
/// directory next to it and renamed into place.
pub fn convert_to_dir(cfg: &ConvertConfig, dir: &std::path::Path) -> Result<ConvertReport> {
    let named: std::sync::Arc<std::path::Path> = dir.into();
    if dir.exists() {
        return Err(Error::new(ErrorKind::Input(InputProblem::OutputDirExists)).in_file(&named));
    }
    let parent = dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    let tmp = parent.join(format!(
        ".{}.rdb-tool-tmp.{}",
        dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        std::process::id()
    ));
    let io = |e: std::io::Error| Error::io(e).in_file(&named);
    let result = (|| {
        std::fs::create_dir_all(&tmp).map_err(io)?;
        let base = if cfg.rdb_preamble { "appendonly.aof.1.base.rdb" } else { "appendonly.aof.1.base.aof" };
        let file = std::fs::File::create(tmp.join(base)).map_err(io)?;
        let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
        let mut sub = cfg.clone();
        sub.to = ConvertTo::Aof;
        let report = convert(&sub, &mut out)?;
        out.into_inner().map_err(|e| io(e.into_error()))?.sync_all().map_err(io)?;
        std::fs::File::create(tmp.join("appendonly.aof.1.incr.aof")).map_err(io)?.sync_all().map_err(io)?;
        let manifest = format!("file {base} seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n");
        std::fs::write(tmp.join("appendonly.aof.manifest"), manifest).map_err(io)?;
        std::fs::rename(&tmp, dir).map_err(io)?;
        Ok(report)
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result
}

/// Where converted records go: an RDB writer or a RESP command writer.
trait Target {
    fn aux(&mut self, _key: &[u8], _value: &[u8]) -> Result<()> {
        Ok(())
    }
    fn function(&mut self, code: &[u8]) -> Result<()>;
    /// Module data outside the keyspace, for targets that can hold it.
    fn module_aux(&mut self, _module_id: u64, _when: u64, _raw: &[u8]) -> Result<()> {
        Err(Error::new(ErrorKind::Unsupported("module aux data has no command form")))
    }
    fn select_db(&mut self, _db: u64) -> Result<()> {
        Ok(())
    }
    fn resize_db(&mut self, _keys: u64, _expires: u64) -> Result<()> {
        Ok(())
    }
    fn key(&mut self, db: u64, key: &[u8], meta: &KeyAttrs<'_>, value: &dyn ValueSource) -> Result<()>;
    /// Parts of values left out (lossy mode) since the last call.
    fn take_notes(&mut self) -> Vec<String> {
        Vec::new()
    }
    /// What the output is, for messages ("RDB 9", "RESP commands").
    fn describe(&self) -> String;
    fn finish(self: Box<Self>) -> Result<()>;
}

impl<W: Write> Target for RdbWriter<W> {
    fn aux(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        RdbWriter::aux(self, key, value)
    }
    fn function(&mut self, code: &[u8]) -> Result<()> {
        RdbWriter::function(self, code)
    }
    fn module_aux(&mut self, module_id: u64, when: u64, raw: &[u8]) -> Result<()> {
        RdbWriter::module_aux(self, module_id, when, raw)
    }
    fn select_db(&mut self, db: u64) -> Result<()> {
        RdbWriter::select_db(self, db)
    }
    fn resize_db(&mut self, keys: u64, expires: u64) -> Result<()> {
        RdbWriter::resize_db(self, keys, expires)
    }
    fn key(&mut self, _db: u64, key: &[u8], meta: &KeyAttrs<'_>, value: &dyn ValueSource) -> Result<()> {
        RdbWriter::key(self, key, meta, value)
    }
    fn take_notes(&mut self) -> Vec<String> {
        RdbWriter::take_notes(self)
    }
    fn describe(&self) -> String {
        format!("RDB {}", self.version())
    }
    fn finish(self: Box<Self>) -> Result<()> {
        RdbWriter::finish(*self).map(|_| ())
    }
}

impl<W: Write> Target for RespWriter<W> {
    fn function(&mut self, code: &[u8]) -> Result<()> {
        RespWriter::function(self, code)
    }
    fn key(&mut self, db: u64, key: &[u8], meta: &KeyAttrs<'_>, value: &dyn ValueSource) -> Result<()> {
        RespWriter::key(self, db, key, meta, value)
    }
    fn take_notes(&mut self) -> Vec<String> {
        RespWriter::take_notes(self)
    }
    fn describe(&self) -> String {
        "RESP commands".into()
    }
    fn finish(self: Box<Self>) -> Result<()> {
        RespWriter::finish(*self).map(|_| ())
    }
}

/// The server generation commands are written for (`--rdb-version`, else the newest).
fn resp_version(cfg: &ConvertConfig) -> u32 {
    cfg.rdb_version.unwrap_or(MAX_WRITE_VERSION)
}

/// A command writer as the configuration asks.
fn resp_writer<W: Write>(cfg: &ConvertConfig, out: W) -> RespWriter<W> {
    let mut w = RespWriter::new(out, cfg.batch, resp_version(cfg));
    w.lossy = cfg.drop_unsupported;
    w.restore = cfg.restore;
    w.limits = cfg.limits;
    w
}

/// An RDB target for a source of RDB `source_version`.
fn rdb_target<'w>(cfg: &ConvertConfig, source_version: u32, out: &'w mut dyn Write) -> Result<Box<dyn Target + 'w>> {
    let target = target_version(cfg, source_version);
    let mut w = RdbWriter::new(out, target, cfg.limits, cfg.compress)?;
    w.lossy = cfg.drop_unsupported;
    let (aux_key, aux_value) = server_version_aux(target);
    w.aux(aux_key, aux_value)?;
    Ok(Box::new(w))
}

/// An RDB holding one key twice in a database is refused by the server
/// (see `check`), so it is not converted: writing either copy would make a
/// file the server loads with the other one silently gone. Read before
/// anything is written, in a pass that frames records without walking
/// values. A pipe cannot be read twice and is not checked.
fn refuse_duplicate_keys(cfg: &ConvertConfig) -> Result<()> {
    if !std::fs::metadata(&cfg.input).is_ok_and(|m| m.is_file()) {
        return Ok(());
    }
    let now = cfg.now_ms.unwrap_or_else(crate::clock::system_now_ms);
    crate::source::duplicates::find_duplicate_key(&cfg.input, cfg.reader, now).map_err(|e| {
        let e = if e.file.is_none() { e.in_file(&cfg.input.as_path().into()) } else { e };
        let why = "convert writes no file with a duplicate key: the server refuses the source";
        let detail = match &e.detail {
            Some(d) => format!("{d}; {why}"),
            None => why.to_string(),
        };
        e.detail(detail)
    })
}

/// One MODULE_AUX record into `t`: copied raw where the target can hold it;
/// otherwise refused, naming the module, or with `--drop-unsupported` left
/// out and reported (a server without the data would load silently without
/// the module's index or graph).
fn module_aux_to(cfg: &ConvertConfig, t: &mut dyn Target, report: &mut ConvertReport, aux: &ModuleAux) -> Result<()> {
    match t.module_aux(aux.module_id, aux.when, &aux.raw) {
        Ok(()) => Ok(()),
        Err(e) if matches!(e.kind, ErrorKind::Unsupported(_)) && cfg.drop_unsupported => {
            report.notes.push(format!("module aux data of module {} left out: {}", aux.module, e.kind));
            Ok(())
        }
        Err(e) => Err(e.detail(format!(
            "module aux data of module {} in {} (--drop-unsupported leaves it out)",
            aux.module,
            t.describe()
        ))),
    }
}

use super::dump::MODULE_NOTE;

/// Account for one written (or refused) key.
fn record_key(
    cfg: &ConvertConfig,
    t: &mut dyn Target,
    report: &mut ConvertReport,
    db: u64,
    key: &[u8],
    kind: KeyType,
    written: Result<()>,
) -> Result<()> {
    for note in t.take_notes() {
        report.notes.push(format!("db {db} key \"{}\": {note}", crate::escape::escape_bytes(key)));
    }
    match written {
        Ok(()) => report.keys += 1,
        Err(e) if e.kind == ErrorKind::EmptyKey => {
            report.empty_keys += 1;
            return Ok(());
        }
        Err(e) if matches!(e.kind, ErrorKind::Unsupported(_)) && cfg.drop_unsupported => {
            report.dropped.push((db, key.to_vec(), e.kind.to_string()));
        }
        Err(e) if matches!(e.kind, ErrorKind::Unsupported(_)) => {
            return Err(e.detail(format!(
                "{} cannot hold this {} (--drop-unsupported leaves such keys out)",
                t.describe(),
                kind.name()
            )));
        }
        Err(e) => return Err(e),
    }
    if kind == KeyType::Module {
        report.notes.push(MODULE_NOTE.into());
    }
    Ok(())
}

/// What the framing thread learns before any key: the source version, and the
/// aux and function records (written before the first key).
#[derive(Default)]
struct Preamble {
    source_version: Option<u32>,
    aux: Vec<(Vec<u8>, Vec<u8>)>,
    functions: Vec<Vec<u8>>,
    module_aux: Vec<ModuleAux>,
    notes: Vec<String>,
}

/// What a worker learnt about its chunk of keys (their bytes are in its
/// encoder).
#[derive(Default)]
struct EncodedChunk {
    /// Runs of keys of one database: (db, end of the run in `bytes`).
    runs: Vec<(u64, usize)>,
    dropped: Vec<(u64, Vec<u8>, String)>,
    notes: Vec<String>,
    keys: u64,
    empty_keys: u64,
}

/// Encodes keys on a worker into bytes that the merging thread appends in
/// file order, writing the database switches itself.
trait ChunkEncoder: Send {
    /// One key of database `db` (no database switch written); what was left
    /// out (lossy).
    fn key(&mut self, db: u64, key: &[u8], meta: &KeyAttrs<'_>, value: &dyn ValueSource) -> Result<Vec<String>>;
    fn len(&self) -> usize;
    fn into_bytes(self: Box<Self>) -> Result<Vec<u8>>;
}

impl ChunkEncoder for crate::output::rdb::writer::RecordEncoder {
    fn key(&mut self, _db: u64, key: &[u8], meta: &KeyAttrs<'_>, value: &dyn ValueSource) -> Result<Vec<String>> {
        crate::output::rdb::writer::RecordEncoder::key(self, key, meta, value)
    }
    fn len(&self) -> usize {
        crate::output::rdb::writer::RecordEncoder::len(self)
    }
    fn into_bytes(self: Box<Self>) -> Result<Vec<u8>> {
        Ok(crate::output::rdb::writer::RecordEncoder::into_bytes(*self))
    }
}

impl ChunkEncoder for RespWriter<Vec<u8>> {
    fn key(&mut self, db: u64, key: &[u8], meta: &KeyAttrs<'_>, value: &dyn ValueSource) -> Result<Vec<String>> {
        let before = self.encoded_len();
        self.assume_db(db);
        let written = RespWriter::key(self, db, key, meta, value);
        let notes = self.take_notes();
        if written.is_err() {
            self.truncate_encoded(before);
        }
        written.map(|()| notes)
    }
    fn len(&self) -> usize {
        self.encoded_len()
    }
    fn into_bytes(self: Box<Self>) -> Result<Vec<u8>> {
        RespWriter::finish(*self)
    }
}

/// The output side of [`rdb_parallel`]: a writer that appends encoded chunks.
trait ChunkSink: Target {
    /// Append keys of database `db` encoded by a [`ChunkEncoder`] (the
    /// database switch written if needed).
    fn append(&mut self, db: u64, bytes: &[u8]) -> Result<()>;
    /// Write one key here (a big one, not encoded by a worker).
    fn serial_key(&mut self, db: u64, key: &[u8], meta: &KeyAttrs<'_>, value: &dyn ValueSource) -> Result<()>;
}

impl<W: Write> ChunkSink for RdbWriter<W> {
    fn append(&mut self, db: u64, bytes: &[u8]) -> Result<()> {
        self.select_db(db)?;
        self.raw_records(bytes)
    }
    fn serial_key(&mut self, db: u64, key: &[u8], meta: &KeyAttrs<'_>, value: &dyn ValueSource) -> Result<()> {
        self.select_db(db)?;
        RdbWriter::key(self, key, meta, value)
    }
}

impl<W: Write> ChunkSink for RespWriter<W> {
    fn append(&mut self, db: u64, bytes: &[u8]) -> Result<()> {
        self.select(db)?;
        self.raw(bytes)
    }
    fn serial_key(&mut self, db: u64, key: &[u8], meta: &KeyAttrs<'_>, value: &dyn ValueSource) -> Result<()> {
        // Selects the database itself, and not for a key it cannot write.
        RespWriter::key(self, db, key, meta, value)
    }
}

/// RDB → RDB or RESP with the frame-then-decode pipeline of `check` and
/// `dump`: one thread frames records, all cores encode keys in chunks, the
/// chunks are appended in file order (a database switch written where the
/// database changes).
fn rdb_parallel(cfg: &ConvertConfig, source: &mut Source, out: &mut dyn Write) -> Result<ConvertReport> {
    use crate::event::parallel::{for_each_key, Merged};
    use crate::output::rdb::writer::RecordEncoder;
    use std::sync::Mutex;
    refuse_duplicate_keys(cfg)?;
    let mut input = source.open_input()?;
    let name = input.name.clone();
    let progress = Progress::new(cfg.reader.progress, &name.display().to_string(), source.file_size());
    let mut reader = RdbReader::new(&mut input, cfg.reader);
    let preamble = Mutex::new(Preamble::default());
    let rdb_out = cfg.to == ConvertTo::Rdb;
    // The version written: RDB's follows the source's; commands are for the
    // server named (the newest by default).
    let target_of = |source: u32| if rdb_out { target_version(cfg, source) } else { resp_version(cfg) };
    let mut report = ConvertReport::default();
    let mut writer: Option<Box<dyn ChunkSink + '_>> = None;
    let mut out = Some(out);

    // The writer, created at the first key (or at the end): the preamble is
    // complete by then, since aux fields and functions precede every key.
    fn open<'w>(
        writer: &mut Option<Box<dyn ChunkSink + 'w>>,
        out: &mut Option<&'w mut dyn Write>,
        pre: &Mutex<Preamble>,
        cfg: &ConvertConfig,
        report: &mut ConvertReport,
    ) -> Result<()> {
        if writer.is_some() {
            return Ok(());
        }
        let pre = pre.lock().unwrap_or_else(|p| p.into_inner());
        let source = pre.source_version.ok_or_else(|| Error::new(ErrorKind::Integrity(Integrity::NoHeader)))?;
        let out = out.take().expect("opened once");
        let mut w: Box<dyn ChunkSink + 'w> = if cfg.to == ConvertTo::Rdb {
            let target = target_version(cfg, source);
            report.version = Some(target);
            let mut w = RdbWriter::new(out, target, cfg.limits, cfg.compress)?;
            w.lossy = cfg.drop_unsupported;
            let (aux_key, aux_value) = server_version_aux(target);
            w.aux(aux_key, aux_value)?;
            for (k, v) in &pre.aux {
                w.aux(k, v)?;
            }
            Box::new(w)
        } else {
            report.version = Some(target_version(cfg, source));
            Box::new(resp_writer(cfg, out))
        };
        for code in &pre.functions {
            if let Err(e) = w.function(code) {
                if !cfg.drop_unsupported {
                    return Err(e.detail("a function library (--drop-unsupported leaves it out)"));
                }
                report.notes.push(format!("function library left out: {e}"));
            }
        }
        for aux in pre.module_aux.iter().filter(|a| !a.after_keys()) {
            module_aux_to(cfg, w.as_mut(), report, aux)?;
        }
        report.notes.extend(pre.notes.iter().cloned());
        *writer = Some(w);
        Ok(())
    }

    let on_event = |ev: &Event<'_>, _at: u64| -> Result<()> {
        let mut pre = preamble.lock().unwrap_or_else(|p| p.into_inner());
        match ev {
            Event::Header { version, .. } => pre.source_version = Some(*version),
            Event::Aux { key, .. } if matches!(&**key, b"redis-ver" | b"valkey-ver") => {}
            Event::Aux { key, value } => pre.aux.push((key.to_vec(), value.to_vec())),
            Event::Function { code } => pre.functions.push(code.to_vec()),
            Event::ModuleAux { .. } => pre.module_aux.extend(ModuleAux::of(ev)),
            _ => {}
        }
        Ok(())
    };
    let source_version = || preamble.lock().unwrap_or_else(|p| p.into_inner()).source_version.unwrap_or(0);
    let describe = || if rdb_out { format!("RDB {}", target_of(source_version())) } else { "RESP commands".into() };
    type Acc = (Option<Box<dyn ChunkEncoder>>, EncodedChunk);
    let encode = |acc: &mut Acc, k: &crate::event::KeyEvent<'_>| -> Result<()> {
        let (enc, chunk) = acc;
        let enc = enc.get_or_insert_with(|| -> Box<dyn ChunkEncoder> {
            if rdb_out {
                let version = target_of(source_version());
                Box::new(RecordEncoder::new(version, cfg.limits, cfg.compress, cfg.drop_unsupported))
            } else {
                Box::new(resp_writer(cfg, Vec::new()))
            }
        });
        match enc.key(k.db, &k.key, &k.attrs, &k.value) {
            Ok(notes) => {
                for note in notes {
                    chunk.notes.push(format!("db {} key \"{}\": {note}", k.db, crate::escape::escape_bytes(&k.key)));
                }
                chunk.keys += 1;
                if k.value.key_type() == KeyType::Module {
                    chunk.notes.push(MODULE_NOTE.into());
                }
                match chunk.runs.last_mut() {
                    Some((d, end)) if *d == k.db => *end = enc.len(),
                    _ => chunk.runs.push((k.db, enc.len())),
                }
                Ok(())
            }
            Err(e) if e.kind == ErrorKind::EmptyKey => {
                chunk.empty_keys += 1;
                Ok(())
            }
            Err(e) if matches!(e.kind, ErrorKind::Unsupported(_)) && cfg.drop_unsupported => {
                chunk.dropped.push((k.db, k.key.to_vec(), e.kind.to_string()));
                Ok(())
            }
            Err(e) if matches!(e.kind, ErrorKind::Unsupported(_)) => {
                Err(e.in_file(&name).at(k.offset).detail(format!(
                    "{} cannot hold this {} (--drop-unsupported leaves such keys out)",
                    describe(),
                    k.value.key_type().name()
                )))
            }
            Err(e) => Err(e.in_file(&name)),
        }
    };
    for_each_key(
        &mut reader,
        on_event,
        || (None, EncodedChunk::default()),
        encode,
        |merged| {
            open(&mut writer, &mut out, &preamble, cfg, &mut report)?;
            let w = writer.as_mut().expect("opened");
            match merged {
                Merged::Chunk((enc, chunk)) => {
                    let bytes = match enc {
                        Some(e) => e.into_bytes()?,
                        None => Vec::new(),
                    };
                    let mut start = 0;
                    for (d, end) in chunk.runs {
                        w.append(d, &bytes[start..end])?;
                        start = end;
                    }
                    report.keys += chunk.keys;
                    report.empty_keys += chunk.empty_keys;
                    report.dropped.extend(chunk.dropped);
                    report.notes.extend(chunk.notes);
                }
                Merged::Serial(k) => {
                    let written = w.serial_key(k.db, &k.key, &k.attrs, &k.value);
                    record_key(cfg, w.as_mut(), &mut report, k.db, &k.key, k.value.key_type(), written)
                        .map_err(|e| e.in_file(&name).at(k.offset))?;
                }
            }
            Ok(())
        },
        |offset| progress.set(offset),
    )?;
    open(&mut writer, &mut out, &preamble, cfg, &mut report)?;
    let mut w = writer.take().expect("opened");
    let after: Vec<ModuleAux> = preamble.lock().unwrap_or_else(|p| p.into_inner()).module_aux.clone();
    for aux in after.iter().filter(|a| a.after_keys()) {
        module_aux_to(cfg, w.as_mut(), &mut report, aux)?;
    }
    w.finish()?;
    // Each note once, in the order first seen.
    let mut seen = std::collections::HashSet::new();
    report.notes.retain(|n| seen.insert(n.clone()));
    Ok(report)
}
