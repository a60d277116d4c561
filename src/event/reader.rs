//! `RdbReader`: turns the token stream of an RDB file into [`Event`]s, pulled one
//! at a time (`while let Some(ev) = r.next()? { .. }`), over a map or a pipe.
//!
//! Callers never see `Incomplete`: over a pipe the reader refills its window, over
//! a map (or at the end of a pipe) it reports `Truncated` with the offset. After
//! an error the reader yields nothing more.

use super::{Checksum, Event, KeyEvent};
use crate::error::{Error, ErrorKind, Integrity, Phase, Result};
use crate::format::{self, Dialect};
use crate::input::{Input, PipeLimits, Window, DEFAULT_MAX_RECORD, DEFAULT_PIPE_MEMORY, HUGE_STEP};
use crate::token::record::{
    carried_prefix, key_context, parse_header, parse_record, Header, KeyAttrs, KeyContext, Record,
};
use crate::token::value::Templates;
use crate::token::{TResult, TokenError};
use std::borrow::Cow;
use std::path::Path;
use std::sync::Arc;

/// Segments are at least this long by default (`ReaderOptions::segment_bytes`;
/// `event::segment`): below it a sequential read is cheap.
pub const MIN_SEGMENT: u64 = 64 << 20;

/// How to read.
#[derive(Debug, Clone, Copy)]
pub struct ReaderOptions {
    /// Largest record read from a pipe (`usize::MAX` = no limit).
    pub max_record: usize,
    /// Bytes of a pipe held in memory; a larger record is held in a
    /// temporary file (see `input::pipe`).
    pub pipe_memory: usize,
    /// Read versions newer than we know instead of refusing them.
    pub force_version: bool,
    /// Compare the CRC-64 trailer with the content.
    pub verify_checksum: bool,
    /// Consumers that read a mapped file in parallel segments (see
    /// `event::segment`) make none smaller than this; `u64::MAX` = never.
    pub segment_bytes: u64,
    /// `check` walks the inside of every value (the default, as deep as
    /// `redis-check-rdb`); false = records framed and the checksum compared
    /// only (`check --quick`).
    pub check_values: bool,
    /// Where commands report how far they read (`progress`); none: silent.
    pub progress: Option<&'static dyn crate::progress::Reporter>,
}

impl ReaderOptions {
    /// What a pipe's window may hold.
    pub fn pipe_limits(&self) -> PipeLimits {
        PipeLimits { max_record: self.max_record, in_memory: self.pipe_memory }
    }
}

impl Default for ReaderOptions {
    fn default() -> Self {
        ReaderOptions {
            max_record: DEFAULT_MAX_RECORD,
            pipe_memory: DEFAULT_PIPE_MEMORY,
            force_version: false,
            verify_checksum: true,
            segment_bytes: MIN_SEGMENT,
            check_values: true,
            progress: None,
        }
    }
}

/// Streaming RDB reader.
pub struct RdbReader<'s> {
    name: Arc<Path>,
    win: Window<'s>,
    opts: ReaderOptions,
    header: Option<Header>,
    /// Bytes of the last returned record, consumed at the next call.
    pending: usize,
    db: u64,
    /// Shared with the batches of the parallel pipeline; copied on write.
    templates: Arc<Templates>,
    /// Pipes: the running checksum of the bytes consumed.
    crc: crc_fast::Digest,
    /// Maps: the checksum, computed a step ahead of the reader.
    crc_ahead: CrcAhead,
    /// Started in the middle of the file by a [`Forker`].
    forked: bool,
    state: State,
    /// Key attributes read before a record other than their key, waiting
    /// for the next key (see [`carried_prefix`]).
    carried: Option<KeyAttrs<'static>>,
    /// Where [`RdbReader::release_behind`] last dropped pages up to.
    released_to: u64,
}

/// How far a sequential walk goes between two releases of the pages behind it.
const RELEASE_STEP: u64 = 64 << 20;

const ALGORITHM: crc_fast::CrcAlgorithm = crc_fast::CrcAlgorithm::Crc64Redis;

/// CRC-64 of a mapped file, computed one step *ahead* of the reader: the SIMD
/// pass is then the first to touch each page (streaming at full memory
/// bandwidth), and framing finds the bytes in cache. The checksum is wanted
/// up to where the reader stands (the end of the RDB proper, or of a segment),
/// which lies inside the last two steps: the states before them are kept.
#[derive(Clone, Copy)]
struct CrcAhead {
    /// Off for readers whose checksum nobody wants (split-point probes).
    enabled: bool,
    base: usize,
    upto: usize,
    digest: crc_fast::Digest,
    /// `(offset, state there)` before the last step, and before the one before.
    earlier: [(usize, crc_fast::Digest); 2],
}

const CRC_STEP: usize = 512 << 10;

impl CrcAhead {
    /// The checksum of the bytes from `base` on.
    fn new(base: usize) -> Self {
        let d = crc_fast::Digest::new(ALGORITHM);
        CrcAhead { enabled: true, base, upto: base, digest: d, earlier: [(base, d); 2] }
    }

    /// Make sure the checksum covers at least one step past `pos`.
    fn advance(&mut self, all: &[u8], pos: usize) {
        while self.enabled && self.upto < all.len() && self.upto < pos + CRC_STEP {
            let end = (self.upto + CRC_STEP).min(all.len());
            self.earlier = [(self.upto, self.digest), self.earlier[0]];
            self.digest.update(&all[self.upto..end]);
            self.upto = end;
        }
    }

    /// The checksum state of `all[base..end]`, for an `end` at or past the
    /// last `pos` given to `advance` (cheap: at most two steps are re-read).
    fn prefix(&self, all: &[u8], end: usize) -> crc_fast::Digest {
        let (mut d, from) = match self.earlier {
            _ if end >= self.upto => (self.digest, self.upto),
            [(at, d), _] if end >= at => (d, at),
            [_, (at, d)] if end >= at => (d, at),
            _ => (crc_fast::Digest::new(ALGORITHM), self.base),
        };
        d.update(&all[from..end]);
        d
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Running,
    Finished,
    Failed,
    /// A fork met a record that depends on earlier ones (hash templates).
    NeedsHistory,
}

/// Types whose values can only be read with the templates defined earlier.
fn needs_templates(ty: format::Type) -> bool {
    matches!(ty, format::Type::HashTmplLpRef | format::Type::HashTmplArrayRef)
}

/// Starts readers of a mapped file in the middle (see [`RdbReader::forker`]).
#[derive(Clone)]
pub struct Forker<'s> {
    name: Arc<Path>,
    all: &'s [u8],
    map: Option<&'s memmap2::Mmap>,
    header: Header,
    opts: ReaderOptions,
    db: u64,
    templates: Arc<Templates>,
}

impl<'s> Forker<'s> {
    /// A reader that starts at `offset`, as if a record began there, with the
    /// original reader's header: the speculative half of parallel framing
    /// (`event::segment`). Its database is unknown until it meets a SELECTDB
    /// (it reports the original reader's until then), it knows only the hash
    /// templates the original reader knew when the forker was made (files that
    /// define templates are never cut), and it never judges the checksum
    /// trailer (its End reports
    /// the stored value as `Ok`): its own checksum covers only the bytes from
    /// `offset` on, see [`RdbReader::digest_since_start`].
    pub fn at(&self, offset: u64) -> Option<RdbReader<'s>> {
        let pos = usize::try_from(offset).ok().filter(|p| *p <= self.all.len())?;
        let win = Window::Slice { all: self.all, pos, map: self.map };
        let opts = ReaderOptions { verify_checksum: false, ..self.opts };
        let mut fork = RdbReader::from_window(self.name.clone(), win, opts);
        // Shared, not rebuilt: no allocation per probe.
        fork.templates = self.templates.clone();
        fork.header = Some(self.header);
        fork.db = self.db;
        fork.crc_ahead = CrcAhead::new(pos);
        fork.forked = true;
        Some(fork)
    }

    /// Like [`Forker::at`], for a reader that only looks at the next `span`
    /// bytes (a record beyond them reads as truncated): it computes no
    /// checksum, and however wrong the guess, it touches no more of the file.
    pub fn probe_at(&self, offset: u64, span: usize) -> Option<RdbReader<'s>> {
        let mut probe = self.at(offset)?;
        let end = (offset as usize).saturating_add(span).min(self.all.len());
        probe.win = Window::Slice { all: &self.all[..end], pos: offset as usize, map: None };
        probe.crc_ahead.enabled = false;
        Some(probe)
    }

    pub fn options(&self) -> ReaderOptions {
        self.opts
    }

    /// The whole mapped input.
    pub fn bytes(&self) -> &'s [u8] {
        self.all
    }

    pub fn header(&self) -> Header {
        self.header
    }
}

/// How many more bytes a parse needs, if it ran out of input.
fn missing<T>(r: TResult<'_, T>) -> Option<usize> {
    match r {
        Err(nom::Err::Incomplete(nom::Needed::Size(s))) => Some(s.get()),
        Err(nom::Err::Incomplete(nom::Needed::Unknown)) => Some(1),
        _ => None,
    }
}

macro_rules! bail {
    ($self:ident, $err:expr) => {{
        $self.state = State::Failed;
        return Err($err.in_file(&$self.name));
    }};
}

/// What a key's value is in the error message.
fn context_error(err: Error, ctx: KeyContext<'_>) -> Error {
    match ctx {
        KeyContext::NotAKey => err.doing(Phase::ReadingOpcode),
        KeyContext::InPrefix => err.doing(Phase::ReadingOpcode),
        KeyContext::InKeyName => err.doing(Phase::ReadingKey),
        KeyContext::InValue(ty, key) => {
            let err = err.doing(Phase::ReadingValue(ty.label()));
            match key.bytes() {
                Ok(k) => err.key(&k),
                Err(_) => err,
            }
        }
    }
}

fn phase_of(first_byte: Option<u8>) -> Option<Phase> {
    use format::opcode::*;
    Some(match first_byte? {
        AUX => Phase::ReadingAux,
        MODULE_AUX => Phase::ReadingModuleAux,
        FUNCTION2 | FUNCTION_PRE_GA => Phase::ReadingFunction,
        _ => return None,
    })
}

impl<'s> RdbReader<'s> {
    pub fn new(input: &'s mut Input, opts: ReaderOptions) -> Self {
        let name = input.name.clone();
        let win = input.window(opts.pipe_limits());
        RdbReader::from_window(name, win, opts)
    }

    /// Read from a window that may already be partly consumed (AOF preambles).
    pub fn from_window(name: Arc<Path>, win: Window<'s>, opts: ReaderOptions) -> Self {
        RdbReader {
            name,
            win,
            opts,
            header: None,
            pending: 0,
            db: 0,
            templates: Arc::default(),
            crc: crc_fast::Digest::new(ALGORITHM),
            crc_ahead: CrcAhead::new(0),
            forked: false,
            state: State::Running,
            carried: None,
            released_to: 0,
        }
    }

    pub fn name(&self) -> &Arc<Path> {
        &self.name
    }

    pub fn options(&self) -> ReaderOptions {
        self.opts
    }

    /// The EOF opcode and checksum have been read.
    pub fn is_finished(&self) -> bool {
        self.state == State::Finished
    }

    /// An error was returned; nothing more will be.
    pub fn is_failed(&self) -> bool {
        self.state == State::Failed
    }

    /// A fork (see [`Forker::at`]) stopped before a record that depends on
    /// records before its start (a hash template or a key that uses one): only
    /// the sequential reader can read on.
    pub fn needs_history(&self) -> bool {
        self.state == State::NeedsHistory
    }

    pub fn header(&self) -> Option<Header> {
        self.header
    }

    /// Whether key attributes read so far wait for a key that has not come
    /// yet: a reader that starts here would not know them.
    pub fn carries_key_attributes(&self) -> bool {
        self.carried.is_some()
    }

    /// Absolute offset of the next unread byte.
    pub fn offset(&self) -> u64 {
        self.win.offset() + self.pending as u64
    }

    /// The dialect, once the header has been read.
    pub fn dialect(&self) -> Option<Dialect> {
        self.header.map(|h| h.dialect)
    }

    /// The hash templates defined so far (RDB 15).
    pub fn templates(&self) -> &Arc<Templates> {
        &self.templates
    }

    /// The whole input when it is mapped.
    pub fn mapped(&self) -> Option<&'s [u8]> {
        self.win.mapped()
    }

    /// Whether the whole input is a file-backed map (not a slice of memory).
    pub fn is_file_map(&self) -> bool {
        matches!(self.win, Window::Slice { map: Some(_), .. })
    }

    /// What it takes to start more readers of the same mapped file, on any
    /// thread (see [`Forker::at`]). `None` over a pipe or before the header.
    pub fn forker(&self) -> Option<Forker<'s>> {
        let Window::Slice { all, map, .. } = &self.win else {
            return None;
        };
        Some(Forker {
            name: self.name.clone(),
            all,
            map: *map,
            header: self.header?,
            opts: self.opts,
            db: self.db,
            templates: self.templates.clone(),
        })
    }

    /// The CRC-64 state of the mapped bytes from where this reader started up
    /// to `end` (at most what it has consumed, records returned so far included).
    pub fn digest_since_start(&mut self, end: u64) -> Option<crc_fast::Digest> {
        self.flush_pending();
        match &self.win {
            Window::Slice { all, pos, .. } if end <= *pos as u64 => Some(self.crc_ahead.prefix(all, end as usize)),
            _ => None,
        }
    }

    /// Drop mapped pages of `from..to` from memory (see `Window::release`).
    pub fn release(&self, from: u64, to: u64) {
        self.win.release(from, to)
    }

    /// The bytes of the record returned by the last `next()`.
    pub fn last_record(&self) -> &[u8] {
        &self.win.avail()[..self.pending]
    }

    /// The bytes of the record returned by the last `next()`, when a pipe holds
    /// them in a spill file: they outlive the reader's next step.
    pub fn last_record_shared(&self) -> Option<crate::input::SharedBytes> {
        self.win.shared(self.pending)
    }

    /// Drop mapped pages before `offset` from memory (see `Window::release`).
    pub fn release_before(&self, offset: u64) {
        self.win.release(0, offset)
    }

    /// For a walk record by record: once the reader is `RELEASE_STEP` past
    /// the last release, drop the mapped pages behind it, so that the
    /// resident memory stays flat whatever the input size (a mapped page
    /// read once stays resident until then). True when it released: a
    /// moment to report progress.
    pub fn release_behind(&mut self) -> bool {
        let at = self.offset();
        if at < self.released_to.saturating_add(RELEASE_STEP) {
            return false;
        }
        self.release_before(at);
        self.released_to = at;
        true
    }

    /// The next event of a walk through the whole file, with the pages
    /// behind dropped on the way ([`RdbReader::release_behind`]).
    pub fn next_releasing(&mut self) -> Result<Option<Event<'_>>> {
        self.release_behind();
        self.next()
    }

    /// After the end: are there bytes after the checksum?
    pub fn has_trailing_data(&mut self) -> Result<bool> {
        self.flush_pending();
        self.win.fill(1).map_err(|e| e.in_file(&self.name))
    }

    /// Give the window back (to continue reading an AOF after its preamble).
    pub fn into_window(mut self) -> Window<'s> {
        self.flush_pending();
        self.win
    }

    fn flush_pending(&mut self) {
        if self.pending > 0 {
            match &self.win {
                Window::Pipe(_) => {
                    // In steps, dropping each from memory: a record in a
                    // spill file may be gigabytes.
                    let mut at = self.win.offset();
                    for step in self.win.avail()[..self.pending].chunks(HUGE_STEP) {
                        self.crc.update(step);
                        self.win.release(at, at + step.len() as u64);
                        at += step.len() as u64;
                    }
                }
                Window::Slice { all, pos, .. } => {
                    let (all, end) = (*all, pos + self.pending);
                    let mut at = *pos;
                    while end - at > HUGE_STEP {
                        at += HUGE_STEP;
                        self.crc_ahead.advance(all, at);
                        self.win.release((at - HUGE_STEP) as u64, at as u64);
                    }
                    self.crc_ahead.advance(all, end);
                }
            }
            self.win.consume(self.pending);
            self.pending = 0;
        }
    }

    fn fail(&mut self, e: Error) -> Error {
        self.state = State::Failed;
        e.in_file(&self.name)
    }

    /// Over a pipe, make sure the window holds the whole next record (parsed by
    /// `parse`), refilling as needed. Over a map this is a no-op.
    fn ensure_complete(&mut self, missing: impl Fn(&[u8]) -> Option<usize>) -> Result<()> {
        if self.win.at_eof() {
            return Ok(());
        }
        loop {
            let avail = self.win.avail();
            let have = avail.len();
            let Some(needed) = missing(avail) else {
                return Ok(());
            };
            let required = have.saturating_add(needed);
            if required > self.opts.max_record {
                // Too large to buffer. Whether the input even holds that many
                // bytes decides the verdict: truncated (damage) or too large.
                return match self.win.skip_ahead(required)? {
                    true => Err(Error::new(ErrorKind::RecordTooLarge)
                        .detail(format!("a record needs {required} bytes; --max-record is {}", self.opts.max_record))),
                    false => Ok(()),
                };
            }
            // Ask for at least double so that re-parsing stays linear.
            let want = required.max(have.saturating_mul(2)).max(4096).min(self.opts.max_record);
            if !self.win.fill(want)? && self.win.at_eof() {
                return Ok(());
            }
        }
    }

    /// The next event, or `None` after the end (or after an error).
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<Event<'_>>> {
        if self.state != State::Running {
            return Ok(None);
        }
        self.flush_pending();
        let Some(header) = self.header else {
            return self.read_header().map(Some);
        };
        let dialect = header.dialect;
        // A map holds every record already (and this runs once per record:
        // no refcount traffic there).
        let ensured = if self.win.at_eof() {
            Ok(())
        } else {
            let templates = Arc::clone(&self.templates);
            self.ensure_complete(|i| missing(parse_record(i, dialect, &templates)))
        };
        if let Err(e) = ensured {
            let off = self.win.offset();
            bail!(self, e.at(off));
        }
        if let Some((len, prefix)) = carried_prefix(self.win.avail(), dialect) {
            // Held for the next key, as the loader holds it; nothing to report.
            self.carried = Some(match self.carried {
                Some(earlier) => prefix.after(earlier),
                None => prefix,
            });
            self.pending = len;
            return self.next();
        }
        if self.win.avail().first() == Some(&format::opcode::EOF) {
            return self.read_trailer(header).map(Some);
        }
        let start = self.win.offset();
        let file_map = self.win.file_map();
        let avail = self.win.avail();
        let (rest, record) = match parse_record(avail, dialect, &self.templates) {
            Ok((_, Record::HashTemplate { .. })) if self.forked => {
                self.state = State::NeedsHistory;
                return Ok(None);
            }
            Ok((_, Record::Key(frame))) if self.forked && needs_templates(frame.ty) => {
                self.state = State::NeedsHistory;
                return Ok(None);
            }
            Ok(v) => v,
            Err(_)
                if self.forked
                    && matches!(key_context(avail, dialect), KeyContext::InValue(ty, _) if needs_templates(ty)) =>
            {
                self.state = State::NeedsHistory;
                return Ok(None);
            }
            Err(e) => {
                let err = token_error(e, avail.len() + self.win.skipped() as usize, start);
                let err = match phase_of(avail.first().copied()) {
                    Some(p) => err.doing(p),
                    None => context_error(err, key_context(avail, dialect)),
                };
                bail!(self, err);
            }
        };
        let len = avail.len() - rest.len();
        self.pending = len;
        if len > 2 * HUGE_STEP && file_map.is_some() {
            // Framing walked it all; the consumer's walk faults pages back
            // in as it needs them (and drops them behind it).
            self.win.release(start, start + len as u64);
        }
        let bad_str = |e: TokenError| Error::new(e.kind).at(start);
        let event = match record {
            Record::Eof => unreachable!("EOF is handled before parsing"),
            Record::Aux { key, value } => match (key.bytes(), value.bytes()) {
                (Ok(key), Ok(value)) => Event::Aux { key, value },
                (Err(e), _) | (_, Err(e)) => bail!(self, bad_str(e).doing(Phase::ReadingAux)),
            },
            Record::SelectDb(db) => {
                self.db = db;
                Event::SelectDb { db }
            }
            Record::ResizeDb { keys, expires } => Event::ResizeDb { keys, expires },
            Record::SlotInfo { slot, keys, expires } => Event::SlotInfo { slot, keys, expires },
            Record::SlotNum(slot) => Event::SlotNum { slot },
            Record::SlotImport { name, ranges } => match name.bytes() {
                Ok(name) => Event::SlotImport { name, ranges },
                Err(e) => bail!(self, bad_str(e)),
            },
            Record::ModuleAux { module_id, when, raw } => Event::ModuleAux {
                module_id,
                module: format::module_type_name(module_id),
                encver: format::module_encver(module_id),
                when,
                raw,
            },
            Record::Function(code) => match code.bytes() {
                Ok(code) => Event::Function { code },
                Err(e) => bail!(self, bad_str(e).doing(Phase::ReadingFunction)),
            },
            Record::FunctionPreGa { name, engine, code } => {
                match (name.bytes(), engine.bytes(), code.bytes()) {
                    (Ok(name), Ok(engine), Ok(code)) => {
                        // 7.0.x converted the pre-GA form into a library the same way.
                        let mut lib = b"#!".to_vec();
                        lib.extend_from_slice(&engine);
                        lib.extend_from_slice(b" name=");
                        lib.extend_from_slice(&name);
                        lib.push(b'\n');
                        lib.extend_from_slice(&code);
                        Event::Function { code: Cow::Owned(lib) }
                    }
                    _ => bail!(
                        self,
                        Error::new(ErrorKind::Integrity(Integrity::FunctionBadString))
                            .at(start)
                            .doing(Phase::ReadingFunction)
                    ),
                }
            }
            Record::HashTemplate { id, fields } => {
                let mut names = Vec::with_capacity(fields.len());
                for f in &fields {
                    match f.bytes() {
                        Ok(b) => names.push(b.into_owned()),
                        Err(e) => bail!(self, bad_str(e)),
                    }
                }
                Arc::make_mut(&mut self.templates).fields.insert(id, names.clone());
                Event::HashTemplate { id, fields: names }
            }
            Record::Key(mut frame) => {
                if let Some(carried) = self.carried.take() {
                    frame.attrs = frame.attrs.after(carried);
                }
                let key = match frame.key.bytes() {
                    Ok(k) => k,
                    Err(e) => bail!(self, bad_str(e).doing(Phase::ReadingKey)),
                };
                Event::Key(KeyEvent::from_frame(start, self.db, key, &frame, &self.templates, file_map))
            }
        };
        Ok(Some(event))
    }

    fn read_header(&mut self) -> Result<Event<'_>> {
        if let Err(e) = self.ensure_complete(|i| missing(parse_header(i))) {
            return Err(self.fail(e.at(0)));
        }
        let avail = self.win.avail();
        let header = match parse_header(avail) {
            Ok((_, h)) => h,
            Err(nom::Err::Incomplete(_)) if avail.is_empty() => {
                let e = Error::new(ErrorKind::Truncated).at(0).detail("the file is empty");
                return Err(self.fail(e.doing(Phase::ReadingHeader)));
            }
            Err(nom::Err::Incomplete(_)) => {
                let seen = String::from_utf8_lossy(avail).into_owned();
                let e = Error::new(ErrorKind::Truncated)
                    .at(avail.len() as u64)
                    .detail(format!("the header {seen:?} is cut short"));
                return Err(self.fail(e.doing(Phase::ReadingHeader)));
            }
            Err(_) => {
                let seen = String::from_utf8_lossy(&avail[..avail.len().min(9)]).into_owned();
                // An AOF (RESP commands, maybe timestamp annotations) is a known
                // format this reader does not take: say so rather than "damaged".
                let e = if avail.starts_with(b"*") || avail.starts_with(b"#TS:") {
                    Error::new(ErrorKind::Unsupported(
                        "this is an AOF file, not an RDB snapshot (AOF reading is not available yet)",
                    ))
                } else {
                    Error::new(ErrorKind::BadMagic)
                };
                let e = e.at(0).detail(format!("found {seen:?}"));
                return Err(self.fail(e.doing(Phase::ReadingHeader)));
            }
        };
        let known = match header.dialect {
            Dialect::Redis => (1..=format::MAX_REDIS_VERSION).contains(&header.version),
            Dialect::Valkey => header.version == format::MAX_VALKEY_VERSION,
        };
        let impossible = match header.dialect {
            Dialect::Redis => header.version == 0 || header.version >= format::VALKEY_FIRST_OWN_VERSION,
            Dialect::Valkey => header.version < format::VALKEY_FIRST_OWN_VERSION,
        };
        if impossible || (!known && !self.opts.force_version) {
            let raw = String::from_utf8_lossy(&avail[..9]).into_owned();
            let why = if impossible {
                "no server writes this version with this magic; not read even with --force-version"
            } else {
                "--force-version reads it anyway"
            };
            let e = Error::new(ErrorKind::UnsupportedVersion(header.version))
                .at(5)
                .detail(format!("header {raw:?}: {why}"));
            return Err(self.fail(e.doing(Phase::ReadingHeader)));
        }
        self.header = Some(header);
        self.pending = 9;
        Ok(Event::Header { dialect: header.dialect, version: header.version })
    }

    /// After the EOF opcode: the CRC-64 trailer (RDB 5+).
    fn read_trailer(&mut self, header: Header) -> Result<Event<'_>> {
        // The EOF byte itself is covered by the checksum.
        self.pending = 1;
        self.flush_pending();
        self.state = State::Finished;
        if header.version < 5 {
            return Ok(Event::End { checksum: Checksum::Absent });
        }
        let at = self.win.offset();
        if !self.win.fill(8).map_err(|e| e.in_file(&self.name))? {
            let e = Error::new(ErrorKind::Truncated).at(at).doing(Phase::ReadingChecksum);
            return Err(self.fail(e));
        }
        let b = &self.win.avail()[..8];
        let stored = u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
        let computed = match &self.win {
            Window::Slice { all, pos, .. } => self.crc_ahead.prefix(all, *pos).finalize(),
            Window::Pipe(_) => self.crc.finalize(),
        };
        self.win.consume(8);
        let checksum = if stored == 0 {
            Checksum::Disabled
        } else if stored == computed || !self.opts.verify_checksum {
            Checksum::Ok(stored)
        } else {
            let e = Error::new(ErrorKind::ChecksumMismatch { stored, computed }).at(at).doing(Phase::ReadingChecksum);
            return Err(self.fail(e));
        };
        Ok(Event::End { checksum })
    }
}

/// Turn a token failure into a located error.
fn token_error(e: nom::Err<TokenError>, avail_len: usize, start: u64) -> Error {
    match e {
        nom::Err::Incomplete(_) => Error::new(ErrorKind::Truncated)
            .at(start + avail_len as u64)
            .detail(format!("the record that starts at offset {start} needs more bytes")),
        nom::Err::Error(t) | nom::Err::Failure(t) => {
            Error::new(t.kind).at(start + (avail_len - t.remaining.min(avail_len)) as u64)
        }
    }
}
