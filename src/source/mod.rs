//! What an input is, decided once, and what it holds, handed out in one model.
//!
//! [`Source::open`] is the only place that tells inputs apart, by content and
//! never by name: an RDB, an AOF with an RDB preamble, an AOF of commands, a
//! multi-part AOF (its manifest or its directory), or one of our JSON dumps;
//! `-` is standard input, told apart by its first bytes. [`Source::visit`]
//! then hands out everything the input holds that a keyspace is made of
//! (aux fields, functions, module data, databases, keys), filtered, in the
//! input's order, to a [`Visitor`]: an RDB read record by record, an AOF
//! replayed into the keyspace model, a dump read back. `check` and `fix` read
//! raw records their own way, but take the detected input from here.
//!
//! Nothing here writes output or knows about commands.

pub mod aof;
pub mod duplicates;
pub mod filter;
mod json;
mod rdb;

pub use filter::KeyFilter;

use crate::error::{Error, ErrorKind, InputProblem, Result};
use crate::event::aof::AofFile;
use crate::event::{Event, KeyAttrs, ReaderOptions, ValueSource};
use crate::input::layout::{classify, sniff, Layout, HEAD_LEN};
use crate::input::Input;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What an input is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// An RDB snapshot, or bytes nothing else claims (the RDB reader then says
    /// what is wrong with them).
    Rdb,
    /// An AOF that starts with an RDB preamble (Redis 4.0–6.2 mark it with the
    /// `aof-preamble` aux field).
    PreambleAof,
    /// A single-file AOF of RESP commands.
    Aof,
    /// A multi-part AOF (Redis 7+), by its manifest.
    MultiPart { manifest: PathBuf },
    /// One of our JSON or JSONL dumps.
    JsonDump,
}

impl Kind {
    /// An AOF in any layout: its keys come from replaying it.
    pub fn is_aof(&self) -> bool {
        matches!(self, Kind::PreambleAof | Kind::Aof | Kind::MultiPart { .. })
    }
}

/// An input whose kind is known.
pub struct Source {
    path: PathBuf,
    kind: Kind,
    /// Standard input, already opened to read its first bytes: it cannot be
    /// opened a second time.
    pipe: Option<Input>,
}

impl Source {
    /// Find out what `path` is (`-`: standard input). Only the first bytes
    /// are read (and, for an RDB-looking file, its aux fields).
    pub fn open(path: &Path) -> Result<Source> {
        if path == Path::new("-") {
            return Source::from_pipe(path, Input::open(path)?);
        }
        let kind = match sniff(path)? {
            Layout::Aof => Kind::Aof,
            Layout::MultiPart { manifest } => Kind::MultiPart { manifest },
            Layout::Rdb if is_json_dump(path) => Kind::JsonDump,
            Layout::Rdb if is_preamble_aof(path) => Kind::PreambleAof,
            Layout::Rdb => Kind::Rdb,
        };
        Ok(Source { path: path.to_path_buf(), kind, pipe: None })
    }

    /// A pipe, told apart by its first bytes (which stay in front of the rest
    /// of its stream): RESP commands, or else an RDB.
    fn from_pipe(path: &Path, mut input: Input) -> Result<Source> {
        let kind = match classify(&input.peek(HEAD_LEN)?) {
            Layout::Aof => Kind::Aof,
            _ => Kind::Rdb,
        };
        Ok(Source { path: path.to_path_buf(), kind, pipe: Some(input) })
    }

    pub fn kind(&self) -> &Kind {
        &self.kind
    }

    /// The path as given (`-` for standard input).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Standard input (or another pipe): it can be read only once.
    pub fn is_pipe(&self) -> bool {
        self.pipe.is_some()
    }

    /// The bytes a visit reads, for progress: a file's size, or the sum of a
    /// multi-part AOF's files; `None` for a pipe.
    pub fn file_size(&self) -> Option<u64> {
        if self.pipe.is_some() {
            return None;
        }
        let size = |p: &Path| std::fs::metadata(p).ok().filter(|m| m.is_file()).map(|m| m.len());
        match &self.kind {
            Kind::MultiPart { manifest } => {
                let set = crate::input::layout::load_multipart(manifest).ok()?;
                set.parts.iter().map(|(_, p)| size(p)).sum()
            }
            _ => size(&self.path),
        }
    }

    /// The input's bytes, for reading it as an RDB (or checking it as one).
    pub fn open_input(&mut self) -> Result<Input> {
        match self.pipe.take() {
            Some(input) => Ok(input),
            None => Input::open(&self.path),
        }
    }

    /// Every file of an AOF, in load order, for an [`crate::event::AofReader`].
    pub fn aof_files(&mut self) -> Result<Vec<AofFile>> {
        aof::open_files(self)
    }

    /// Hand everything the input holds to `visitor`: see [`Visitor`] for the
    /// order. What the input itself made the visit leave out is in the
    /// returned report.
    pub fn visit(&mut self, opts: &VisitOptions, visitor: &mut dyn Visitor) -> Result<VisitReport> {
        let mut report = VisitReport::default();
        match self.kind {
            Kind::JsonDump => json::visit(self, opts, visitor)?,
            Kind::PreambleAof | Kind::Aof | Kind::MultiPart { .. } => aof::visit(self, opts, visitor, &mut report)?,
            Kind::Rdb => rdb::visit(self, opts, visitor)?,
        }
        Ok(report)
    }
}

impl Source {
    /// Only the keys, each to `f(db, name, attributes, value)`.
    pub fn visit_keys(
        &mut self,
        opts: &VisitOptions,
        f: impl FnMut(u64, &[u8], &KeyAttrs<'_>, &dyn ValueSource) -> Result<()>,
    ) -> Result<VisitReport> {
        struct Keys<F>(F);
        impl<F: FnMut(u64, &[u8], &KeyAttrs<'_>, &dyn ValueSource) -> Result<()>> Visitor for Keys<F> {
            fn begin(&mut self, _rdb_version: Option<u32>) -> Result<()> {
                Ok(())
            }
            fn key(&mut self, db: u64, key: &[u8], attrs: &KeyAttrs<'_>, value: &dyn ValueSource) -> Result<()> {
                (self.0)(db, key, attrs, value)
            }
        }
        self.visit(opts, &mut Keys(f))
    }
}

/// Is the file one of our JSON dumps (JSONL or a JSON array)?
fn is_json_dump(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 64];
    let n = std::fs::File::open(path).and_then(|mut f| f.read(&mut head)).unwrap_or(0);
    matches!(head[..n].iter().find(|c| !c.is_ascii_whitespace()), Some(b'{' | b'['))
}

/// Is this RDB-looking file an AOF with an RDB preamble? Redis 4.0–6.2 mark the
/// preamble with the aux field `aof-preamble` = 1 (7.0+ bases say `aof-base`,
/// but those are RDB files of their own). Only the header and aux fields are read.
fn is_preamble_aof(path: &Path) -> bool {
    let Ok(mut input) = Input::open(path) else {
        return false;
    };
    let mut reader =
        crate::event::RdbReader::new(&mut input, ReaderOptions { verify_checksum: false, ..Default::default() });
    while let Ok(Some(event)) = reader.next() {
        match event {
            Event::Header { .. } => {}
            Event::Aux { key, value } => {
                if &*key == b"aof-preamble" {
                    return &*value != b"0";
                }
            }
            _ => return false,
        }
    }
    false
}

/// How a visit reads its input and which keys it hands out.
#[derive(Debug, Clone, Default)]
pub struct VisitOptions {
    pub reader: ReaderOptions,
    /// Only the keys this selects.
    pub filter: KeyFilter,
    /// Leave out keys expired at this Unix ms.
    pub expired_before: Option<i64>,
    /// AOF: the loading server's clock, from which relative times count
    /// (default: the system clock).
    pub now_ms: Option<i64>,
    /// AOF: skip (and count) commands the replay does not know instead of
    /// stopping.
    pub skip_unknown: bool,
}

impl VisitOptions {
    /// Does the key pass the filter and the expiry cut?
    pub fn selects(&self, db: u64, key: &[u8], kind: crate::format::KeyType, expire_at_ms: Option<i64>) -> bool {
        self.filter.selects(db, key, kind) && self.expired_before.zip(expire_at_ms).is_none_or(|(now, t)| t > now)
    }
}

/// What the input made a visit leave out (notes go to [`Visitor::note`]).
#[derive(Debug, Clone, Default)]
pub struct VisitReport {
    /// Empty collections of an AOF's RDB preamble or base: the loading server
    /// skips them, so later commands find no key there.
    pub empty_keys: u64,
}

/// What an input holds, handed out in this order: [`Visitor::begin`] once,
/// then (RDB) its records in file order, or (AOF, dump) functions, module
/// data saved before the keys, each database's keys, module data saved after
/// them; then [`Visitor::end`] once the input has been read to its end.
pub trait Visitor {
    /// First call: the RDB version of an RDB input (its values are in that
    /// version's encodings), `None` for an AOF or a dump.
    fn begin(&mut self, rdb_version: Option<u32>) -> Result<()>;
    fn aux(&mut self, _key: &[u8], _value: &[u8]) -> Result<()> {
        Ok(())
    }
    fn function(&mut self, _code: &[u8]) -> Result<()> {
        Ok(())
    }
    fn module_aux(&mut self, _aux: &ModuleAux) -> Result<()> {
        Ok(())
    }
    fn select_db(&mut self, _db: u64) -> Result<()> {
        Ok(())
    }
    fn resize_db(&mut self, _keys: u64, _expires: u64) -> Result<()> {
        Ok(())
    }
    fn key(&mut self, db: u64, key: &[u8], attrs: &KeyAttrs<'_>, value: &dyn ValueSource) -> Result<()>;
    fn end(&mut self) -> Result<()> {
        Ok(())
    }
    /// Something the input made the visit leave out or approximate (AOF:
    /// commands skipped, replay errors), in the order found, before `begin`.
    fn note(&mut self, _note: String) {}
    /// How far into the input the visit is: bytes read, out of
    /// [`Source::file_size`] (the files of a multi-part AOF one after the
    /// other).
    fn progress(&mut self, _offset: u64) {}
}

/// Module data saved outside the keyspace (MODULE_AUX), owned.
#[derive(Debug, Clone)]
pub struct ModuleAux {
    pub module: String,
    pub module_id: u64,
    pub when: u64,
    /// Its typed values up to and including their EOF marker.
    pub raw: Vec<u8>,
}

impl ModuleAux {
    pub fn of(ev: &Event<'_>) -> Option<ModuleAux> {
        match ev {
            Event::ModuleAux { module, module_id, when, raw, .. } => {
                Some(ModuleAux { module: module.clone(), module_id: *module_id, when: *when, raw: raw.to_vec() })
            }
            _ => None,
        }
    }

    /// Written after the keys (`REDISMODULE_AUX_AFTER_RDB` alone), as the
    /// server saves and loads it; otherwise before them.
    pub fn after_keys(&self) -> bool {
        self.when == 2
    }
}

/// The name errors carry for the input.
fn name(path: &Path) -> Arc<Path> {
    path.into()
}

fn bad_input(what: InputProblem, path: &Path) -> Error {
    Error::new(ErrorKind::Input(what)).in_file(&name(path))
}
