//! Reading past damage inside an AOF: every layout (a single file, with or
//! without an RDB preamble, or a multi-part set), into an AOF the server
//! loads.
//!
//! Each file is read command by command, with `check`'s rules (token::resp).
//! At a fault, the skipped span starts where the item being read started
//! and ends where commands with known names run whole again (`runs_whole`:
//! `SYNC_ITEMS` in a row, or to the file's end, or a few up to more damage);
//! reading goes on from there. A command stream has no checksum and no
//! index, but a false start is hard to come by: commands are text with
//! counted lengths, and a run read from inside a bulk string's payload ends
//! at that string's closing `\r\n`, which starts no item. A command read
//! with a damaged count or length goes with the span (`read_wrong`), and
//! a command name that damage made of a known one is damage too
//! (`damaged_name`): the server stops at a command it does not know.
//!
//! Transactions: `MULTI … EXEC` runs as one in the server, and a file that
//! ends inside one is cut back to its `MULTI` on load (aof.c
//! `loadSingleAppendOnlyFile`, "Revert incomplete MULTI/EXEC transaction").
//! Salvage does the same at the end of a file. A span inside a transaction
//! leaves it whole around the span; a `MULTI` or `EXEC` read in a span is
//! put back; a marker whose partner was lost is dropped (a check, and
//! `redis-check-aof`, refuse it) and the commands outside the span run on
//! their own ([`TransactionFate`]).
//!
//! A `SELECT` read from a span is put back after it, so the commands that
//! follow still run in their database. The report names the keys the
//! commands of each span touch, and those that later commands touch
//! together with them (`Taint`).
//!
//! An RDB preamble (or an RDB base file) that is damaged is salvaged as
//! any RDB is ([`super::resync`], or the one-byte repair for a base file).

use super::resync::{self, Resynced};
use super::{SalvageConfig, SalvageReport};
use crate::cmd::check::aof::{check_aof, check_part, AofCheckOptions, AofReport, PartReport};
use crate::error::{Error, ErrorKind, Integrity, Result};
use crate::event::aof::starts_with_rdb;
use crate::event::AofRole;
use crate::input::layout::{load_multipart, MultiPart};
use crate::input::manifest::PartRole;
use crate::input::{Input, PipeLimits};
use crate::keyspace::command_keys::{touched, Touched};
use crate::source::{Kind, Source};
use crate::token::resp::{parse_aof_item, parse_bulk_run, parse_partial_command, AofItem};
use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Items that must parse in a row after an offset for reading to resume
/// there (fewer if the file ends first).
const SYNC_ITEMS: usize = 8;
/// Commands of a span listed one by one in the report (the rest counted).
const LISTED_COMMANDS: usize = 64;
/// Keys of a span's commands listed in the report (the rest counted).
const LISTED_KEYS: usize = 1024;
/// Bytes of an argument kept for the report.
const SHOWN_ARG: usize = 128;
/// Arguments of a command kept for the report (the rest counted).
const SHOWN_ARGS: usize = 16;

/// Where a salvaged AOF goes.
pub enum AofTarget<'a> {
    /// Nowhere (a dry run).
    Nowhere,
    /// A single-file AOF: this stream.
    File(&'a mut dyn Write),
    /// A multi-part set: this directory, which exists and is empty; the
    /// caller puts it in place once it is judged.
    Dir(&'a Path),
}

/// What was found, and what the output holds.
#[derive(Debug, Clone)]
pub struct AofSalvage {
    pub input: PathBuf,
    /// The check of the input as it is.
    pub check: AofReport,
    /// For a multi-part set, its manifest.
    pub manifest: Option<PathBuf>,
    /// Each file in load order, as salvaged; empty when nothing was damaged
    /// (the output is a copy).
    pub files: Vec<FileSalvage>,
    pub check_options: AofCheckOptions,
}

impl FileSalvage {
    /// The output differs from the input.
    pub fn changed(&self) -> bool {
        self.rdb.is_some() || !self.spans.is_empty()
    }
}

impl AofSalvage {
    pub fn intact(&self) -> bool {
        self.files.is_empty()
    }

    /// Commands the output holds.
    pub fn commands_written(&self) -> u64 {
        self.files.iter().map(|f| f.commands_written).sum()
    }
}

/// One file of the AOF, as salvaged.
#[derive(Debug, Clone)]
pub struct FileSalvage {
    pub file: PathBuf,
    pub role: AofRole,
    /// A damaged RDB preamble or base: what its salvage did.
    pub rdb: Option<SalvageReport>,
    /// Spans of the command stream that were skipped.
    pub spans: Vec<SkippedSpan>,
    /// Commands of the input kept in the output.
    pub commands_kept: u64,
    /// Commands written: those kept, and the `SELECT`s put back after spans.
    pub commands_written: u64,
    /// Keys that kept commands touched together with a key the lost
    /// commands touched (their values may differ too); the first
    /// `LISTED_KEYS`, the rest counted.
    pub affected: BTreeSet<Vec<u8>>,
    pub more_affected: u64,
}

/// A span of a command stream that was left out.
#[derive(Debug, Clone)]
pub struct SkippedSpan {
    pub start: u64,
    pub end: u64,
    /// What was wrong at its start.
    pub error: Error,
    /// Commands that could be read from it, whole or in part (the first
    /// `LISTED_COMMANDS`).
    pub commands: Vec<ReadCommand>,
    /// Command starts in it, listed or not.
    pub commands_seen: u64,
    /// Keys those commands name (the first `LISTED_KEYS`, sorted).
    pub keys: BTreeSet<Vec<u8>>,
    pub more_keys: u64,
    /// One of them flushes or swaps a whole database, or a kept command
    /// that may now run in another database (see `db_unsure_until`) does.
    pub touches_everything: bool,
    /// A `SELECT` read in it, put back after it.
    pub selects_db: Option<u64>,
    /// What became of a transaction the span touched.
    pub transaction: Option<TransactionFate>,
    /// Bytes no command could be read from: what they held is unknown.
    pub unread: u64,
    /// With unread bytes: a `SELECT` may have been among them, so the
    /// commands from the span's end to here (the next `SELECT`, or the
    /// file's end) may have run in another database than they now do.
    pub db_unsure_until: Option<u64>,
}

/// What became of a transaction (`MULTI … EXEC`) that a span touched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionFate {
    /// The file ends inside it (no `EXEC`): dropped whole, as the server
    /// drops it on load.
    DroppedUnterminated,
    /// The span lay inside it: it goes on after the span, without the
    /// commands in it.
    Bridged,
    /// Its `EXEC` was read in the span: it is closed where the span starts.
    Closed,
    /// A `MULTI` was read in the span: a transaction is opened after it.
    Reopened,
    /// Its `MULTI` or `EXEC` was lost: its commands outside the span run on
    /// their own.
    Unwrapped,
}

impl TransactionFate {
    pub fn name(self) -> &'static str {
        match self {
            TransactionFate::DroppedUnterminated => "dropped_unterminated",
            TransactionFate::Bridged => "bridged",
            TransactionFate::Closed => "closed",
            TransactionFate::Reopened => "reopened",
            TransactionFate::Unwrapped => "unwrapped",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            TransactionFate::DroppedUnterminated => {
                "the file ends inside this transaction (no EXEC): dropped whole, as the server drops it"
            }
            TransactionFate::Bridged => "this span lay inside a transaction, which goes on after it without it",
            TransactionFate::Closed => "a transaction's EXEC was read here: the transaction is closed before the span",
            TransactionFate::Reopened => "a MULTI was read here: a transaction is opened after the span",
            TransactionFate::Unwrapped => {
                "a transaction's MULTI or EXEC was lost: its commands outside the span run on their own"
            }
        }
    }
}

/// A command as far as it could be read.
#[derive(Debug, Clone)]
pub struct ReadCommand {
    pub offset: u64,
    pub argc: Option<i64>,
    /// The first arguments read (at most `SHOWN_ARGS`, each cut to
    /// `SHOWN_ARG` bytes).
    pub args: Vec<Vec<u8>>,
    /// Arguments read, shown or not.
    pub args_read: usize,
    pub whole: bool,
}

/// Check the AOF that `source` names and write its salvage to `target`:
/// a copy when nothing is damaged, else every file with its damaged spans
/// skipped (a multi-part set gets a new manifest that names the same
/// files).
pub fn salvage_aof(cfg: &SalvageConfig, source: &Source, target: AofTarget<'_>) -> Result<AofSalvage> {
    let check_options = AofCheckOptions { reader: cfg.reader, now_ms: cfg.now_ms, to_timestamp: None };
    let check = check_aof(source, &check_options);
    let manifest = match source.kind() {
        Kind::MultiPart { manifest } => Some(manifest.clone()),
        _ => None,
    };
    if let Some(e) = &check.error {
        return Err(e.clone().detail("the set itself is damaged (manifest or files): repair it by hand"));
    }
    if let Some(e) = check.first_error().filter(|e| e.kind.verdict() == crate::error::Verdict::Failed) {
        return Err(e.clone());
    }
    let mut report =
        AofSalvage { input: source.path().to_path_buf(), check, manifest, files: Vec::new(), check_options };
    let set = match &report.manifest {
        Some(m) => Some(load_multipart(m)?),
        None => None,
    };
    // The check passes well-formed records whatever their names.
    if report.check.first_error().is_none() && report.check.parts.iter().all(clean) {
        copy_intact(source.path(), set.as_ref(), target)?;
        return Ok(report);
    }
    // Each file on its own (the check of a set stops at the first bad one).
    let parts: Vec<PartReport> = match &set {
        Some(set) => {
            use rayon::prelude::*;
            let opts = &report.check_options;
            set.parts.par_iter().map(|(role, path)| check_part(path, aof_role(*role), opts, &mut None)).collect()
        }
        None => report.check.parts.clone(),
    };
    let mut taint = Taint::default();
    match (target, &set) {
        (AofTarget::Dir(dir), Some(set)) => {
            for part in &parts {
                let mut out = create(&dir.join(part.file.file_name().unwrap_or_default()))?;
                report.files.push(salvage_file(cfg, part, &mut taint, Some(&mut out))?);
                finish(out)?;
            }
            let first_changed = report.files.iter().position(FileSalvage::changed).unwrap_or(usize::MAX);
            write_manifest(&dir.join(set.manifest_path.file_name().unwrap_or_default()), set, first_changed)?;
        }
        (AofTarget::File(out), None) => {
            report.files.push(salvage_file(cfg, &parts[0], &mut taint, Some(out))?);
        }
        (AofTarget::Nowhere, _) => {
            for part in &parts {
                report.files.push(salvage_file(cfg, part, &mut taint, None)?);
            }
        }
        (AofTarget::File(_), Some(_)) | (AofTarget::Dir(_), None) => {
            return Err(Error::new(ErrorKind::Usage(
                "a multi-part AOF is salvaged into a directory, a single file into a file",
            )));
        }
    }
    Ok(report)
}

fn aof_role(role: PartRole) -> AofRole {
    if role == PartRole::Base {
        AofRole::Base
    } else {
        AofRole::Incr
    }
}

/// A file created new in the output directory.
fn create(path: &Path) -> Result<std::io::BufWriter<std::fs::File>> {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| Error::io(e).in_file(&path.into()))?;
    Ok(std::io::BufWriter::with_capacity(1 << 20, file))
}

fn finish(out: std::io::BufWriter<std::fs::File>) -> Result<()> {
    let file = out.into_inner().map_err(|e| Error::io(e.into_error()))?;
    file.sync_all().map_err(Error::io)
}

/// Nothing damaged: the output is the input, byte for byte.
fn copy_intact(path: &Path, set: Option<&MultiPart>, target: AofTarget<'_>) -> Result<()> {
    let copy = |from: &Path, to: &mut dyn Write| -> Result<()> {
        let mut f = std::fs::File::open(from).map_err(|e| Error::io(e).in_file(&from.into()))?;
        std::io::copy(&mut f, to).map_err(Error::io)?;
        Ok(())
    };
    match (target, set) {
        (AofTarget::Nowhere, _) => Ok(()),
        (AofTarget::File(out), _) => copy(path, out),
        (AofTarget::Dir(dir), Some(set)) => {
            let files = set.parts.iter().map(|(_, p)| p).chain(std::iter::once(&set.manifest_path));
            for from in files {
                let mut out = create(&dir.join(from.file_name().unwrap_or_default()))?;
                copy(from, &mut out)?;
                finish(out)?;
            }
            Ok(())
        }
        (AofTarget::Dir(_), None) => Err(Error::new(ErrorKind::Usage("a single-file AOF is salvaged into a file"))),
    }
}

/// The manifest of the salvaged set: its base and incr files under the
/// same names and numbers (history files are not loaded, and not kept).
/// The lines of the files before the first one the salvage changed are
/// kept as they are; from that one on, a line only names the file: the
/// replication offsets Redis 8 records (`startoffset`, `endoffset`) no
/// longer describe what the files hold, and a server that finds none does
/// not claim any.
fn write_manifest(path: &Path, set: &MultiPart, first_changed: usize) -> Result<()> {
    let original =
        std::fs::read(&set.manifest_path).map_err(|e| Error::io(e).in_file(&set.manifest_path.as_path().into()))?;
    let lines: Vec<&[u8]> = original.split(|&b| b == b'\n').collect();
    let mut text = Vec::new();
    for (n, e) in set.manifest.loaded().enumerate() {
        match lines.get(e.line.wrapping_sub(1)).filter(|_| n < first_changed) {
            Some(line) => text.extend_from_slice(line.strip_suffix(b"\r").unwrap_or(line)),
            None => {
                text.extend_from_slice(b"file ");
                manifest_name(&mut text, &e.file);
                let kind = if e.role == PartRole::Base { 'b' } else { 'i' };
                text.extend_from_slice(format!(" seq {} type {kind}", e.seq).as_bytes());
            }
        }
        text.push(b'\n');
    }
    let mut out = create(path)?;
    out.write_all(&text).map_err(Error::io)?;
    finish(out)
}

/// A file name as the server writes it in a manifest: as is, or quoted
/// with escapes when it holds spaces, quotes or bytes that are not
/// printable (aof.c `getAofManifestAsString`, `sdscatrepr`), which
/// `sdssplitargs` reads back.
fn manifest_name(out: &mut Vec<u8>, name: &[u8]) {
    if name.iter().all(|&b| b.is_ascii_graphic() && b != b'"' && b != b'\'' && b != b'\\') {
        out.extend_from_slice(name);
        return;
    }
    out.push(b'"');
    for &b in name {
        match b {
            b'"' | b'\\' => out.extend_from_slice(&[b'\\', b]),
            b' ' => out.push(b),
            _ if b.is_ascii_graphic() => out.push(b),
            _ => out.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
        }
    }
    out.push(b'"');
}

/// Salvage one file of the AOF into `out`.
fn salvage_file(
    cfg: &SalvageConfig,
    part: &PartReport,
    taint: &mut Taint,
    mut out: Option<&mut dyn Write>,
) -> Result<FileSalvage> {
    let (path, role) = (part.file.as_path(), part.role.unwrap_or(AofRole::Single));
    let name: Arc<Path> = path.into();
    let mut file = FileSalvage {
        file: path.to_path_buf(),
        role,
        rdb: None,
        spans: Vec::new(),
        commands_kept: 0,
        commands_written: 0,
        affected: BTreeSet::new(),
        more_affected: 0,
    };
    let mut input = Input::open(path)?;
    let win = input.window(PipeLimits::default());
    let all = win.mapped().ok_or_else(|| Error::new(ErrorKind::Unsupported("salvage reads files, not pipes")))?;
    // A whole file, with no key to follow from an earlier one, is copied.
    if clean(part) && taint.keys.is_empty() && !taint.everything {
        put(&mut out, all)?;
        (file.commands_kept, file.commands_written) = (part.commands, part.commands);
        return Ok(file);
    }
    let mut from = 0;
    if starts_with_rdb(all) {
        from = match (&part.preamble_end, part.preamble_damaged()) {
            (Some(end), false) => {
                put(&mut out, &all[..*end as usize])?;
                *end
            }
            _ => {
                let (rdb, end) = salvage_rdb(cfg, part, role, out.as_mut().map(|o| o as &mut dyn Write))?;
                file.rdb = Some(rdb);
                end
            }
        };
    }
    let mut sink = CommandSink { out, written: 0 };
    walk_commands(&name, all, from, &mut sink, &mut file, taint)?;
    file.commands_written = sink.written;
    Ok(file)
}

/// A file the check found whole, with no damaged command name.
fn clean(part: &PartReport) -> bool {
    part.error.is_none() && part.commands_per_name.keys().all(|n| !damaged_name(n.as_bytes()))
}

fn put(out: &mut Option<&mut dyn Write>, bytes: &[u8]) -> Result<()> {
    match out {
        Some(o) => o.write_all(bytes).map_err(Error::io),
        None => Ok(()),
    }
}

/// A damaged RDB preamble or base: a base file is salvaged as any RDB (the
/// one-byte repair first); a preamble is walked past its damage (its
/// checksum is not the file's last bytes, which the repair needs), and the
/// commands after it are read from where the walk ended. Returns the
/// report and the offset the commands start at.
fn salvage_rdb(
    cfg: &SalvageConfig,
    part: &PartReport,
    role: AofRole,
    out: Option<&mut dyn Write>,
) -> Result<(SalvageReport, u64)> {
    let check = part.preamble.clone().unwrap_or_default();
    if role == AofRole::Base {
        let base = SalvageConfig { input: part.file.clone(), ..cfg.clone() };
        let report = super::salvage(&base, out)?;
        return Ok((report, part.size));
    }
    let walked: Resynced = resync::walk(&part.file, cfg.reader)?;
    if let Some(out) = out {
        resync::write(&part.file, &walked, out)?;
    }
    let end = walked.end;
    let keys = walked.keys_kept;
    let report = SalvageReport {
        file: part.file.clone(),
        check,
        outcome: super::Outcome::Resynced(walked),
        keys,
        check_options: cfg.reader,
    };
    Ok((report, end))
}

/// Keys whose values the lost commands may have changed: those the spans'
/// commands name, and then every key a later command touches together
/// with one of them (COPY, RENAME, SUNIONSTORE…: its value follows).
/// Carried from file to file of a set.
#[derive(Default)]
pub(crate) struct Taint {
    keys: std::collections::HashSet<Vec<u8>>,
    /// A lost command flushed or swapped a database: every key may differ.
    everything: bool,
}

impl Taint {
    fn add(&mut self, span: &SkippedSpan) {
        self.keys.extend(span.keys.iter().cloned());
        self.everything |= span.touches_everything;
    }

    /// A kept command: the keys it newly taints.
    fn follow(&mut self, record: &[u8], file: &mut FileSalvage) {
        if self.keys.is_empty() || self.everything {
            return;
        }
        let command = parse_partial_command(record);
        let Touched::Keys(keys) = touched(&command.args) else { return };
        if keys.len() < 2 || !keys.iter().any(|k| self.keys.contains(*k)) {
            return;
        }
        for k in keys {
            self.insert(k, file);
        }
    }

    /// A kept command that may run in another database than it did: every
    /// key it touches is tainted. `true` if it flushes or swaps a database.
    fn touch(&mut self, record: &[u8], file: &mut FileSalvage) -> bool {
        match touched(&parse_partial_command(record).args) {
            Touched::Everything => {
                self.everything = true;
                true
            }
            Touched::Keys(keys) => {
                keys.into_iter().for_each(|k| self.insert(k, file));
                false
            }
        }
    }

    fn insert(&mut self, key: &[u8], file: &mut FileSalvage) {
        if self.keys.insert(key.to_vec()) {
            if file.affected.len() < LISTED_KEYS {
                file.affected.insert(key.to_vec());
            } else {
                file.more_affected += 1;
            }
        }
    }
}

/// Where kept commands go.
struct CommandSink<'w> {
    out: Option<&'w mut dyn Write>,
    /// Commands written.
    written: u64,
}

impl CommandSink<'_> {
    fn put(&mut self, bytes: &[u8], commands: u64) -> Result<()> {
        self.written += commands;
        put(&mut self.out, bytes)
    }
}

/// An item at an offset, as the walk sees it.
enum Item {
    Command { end: u64, multi: bool, exec: bool, select: bool, argc: u64 },
    Annotation { end: u64 },
    Fault(Error),
}

fn item_at(all: &[u8], at: u64) -> Item {
    let rest = &all[at as usize..];
    match parse_aof_item(rest) {
        Ok((_, AofItem::Command(c))) if damaged_name(c.name) => Item::Fault(
            Error::new(ErrorKind::BadEncoding("a damaged command name (the server refuses an unknown command)"))
                .at(at)
                .detail(crate::escape::escape_bytes(c.name).to_string()),
        ),
        Ok((after, AofItem::Command(c))) => Item::Command {
            end: (all.len() - after.len()) as u64,
            multi: c.name.eq_ignore_ascii_case(b"multi"),
            exec: c.name.eq_ignore_ascii_case(b"exec"),
            select: c.name.eq_ignore_ascii_case(b"select"),
            argc: c.argc,
        },
        Ok((after, AofItem::Annotation(_))) => Item::Annotation { end: (all.len() - after.len()) as u64 },
        // At the end of the input an annotation may lack its newline.
        Err(nom::Err::Incomplete(_)) if rest[0] == b'#' => Item::Annotation { end: all.len() as u64 },
        Err(nom::Err::Incomplete(_)) => Item::Fault(
            Error::new(ErrorKind::Truncated)
                .at(all.len() as u64)
                .detail(format!("the item at offset {at} is cut short")),
        ),
        Err(nom::Err::Error(t) | nom::Err::Failure(t)) => {
            Item::Fault(Error::new(t.kind).at(all.len() as u64 - t.remaining.min(rest.len()) as u64))
        }
    }
}

/// A command name that damage made of a known one: the server stops
/// loading at a command it does not know ("Unknown command … reading the
/// append only file"), while a well-formed record passes `check` (as it
/// passes `redis-check-aof`). A name unknown here may be a newer server's
/// command, or a module's: only a name with bytes no command has, or one
/// byte or two away from a known name of its length, is taken as damaged.
fn damaged_name(name: &[u8]) -> bool {
    if crate::keyspace::replay::is_command(name) {
        return false;
    }
    !name.iter().all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'|'))
        || probable_name(name).is_some()
}

/// The known command a damaged name is closest to: of its length, at most
/// two bytes away (the nearest).
fn probable_name(name: &[u8]) -> Option<&'static str> {
    let distance = |known: &str| known.bytes().zip(name).filter(|(k, n)| !k.eq_ignore_ascii_case(n)).count();
    crate::keyspace::replay::command_names()
        .into_iter()
        .filter(|known| known.len() == name.len() && distance(known) <= 2)
        .min_by_key(|known| distance(known))
}

/// Bytes in the output: from the input, or made by the salvage.
enum Piece {
    Input(u64, u64),
    Made(Vec<u8>),
}

const MADE_MULTI: &[u8] = b"*1\r\n$5\r\nMULTI\r\n";
const MADE_EXEC: &[u8] = b"*1\r\n$4\r\nEXEC\r\n";

/// An open transaction, held until its `EXEC`: the server runs it only
/// then, and drops it if the file ends first.
struct Open {
    multi_at: u64,
    /// The `MULTI` first.
    pieces: Vec<Piece>,
    /// Commands in the pieces, the `MULTI` included: from the input, and made.
    from_input: u64,
    made: u64,
    /// A span lies inside it: that its `EXEC` never came is not sure.
    bridged: bool,
    /// Where its last command from the input starts.
    last: Option<u64>,
}

impl Open {
    /// Take back its last command, which ends at `at` (see
    /// [`Written::held`]): where it starts.
    fn pop_last(&mut self, at: u64) -> Option<u64> {
        let start = self.last.take()?;
        let several = self.pieces.len() > 1;
        match self.pieces.last_mut() {
            Some(Piece::Input(from, to)) if *to == at && *from < start => *to = start,
            Some(Piece::Input(from, to)) if *to == at && *from == start && several => {
                self.pieces.pop();
            }
            _ => return None,
        }
        self.from_input -= 1;
        Some(start)
    }

    fn push(&mut self, from: u64, to: u64, commands: u64) {
        self.last = (commands == 1).then_some(from);
        self.from_input += commands;
        // Never into the MULTI's piece: unwrapped, the transaction is
        // written without it.
        if let [_, .., Piece::Input(_, end)] = self.pieces.as_mut_slice() {
            if *end == from {
                *end = to;
                return;
            }
        }
        self.pieces.push(Piece::Input(from, to));
    }

    fn push_made(&mut self, bytes: Vec<u8>) {
        self.made += 1;
        self.pieces.push(Piece::Made(bytes));
    }
}

/// Written and kept commands of one file.
struct Written<'s, 'w> {
    sink: &'s mut CommandSink<'w>,
    all: &'s [u8],
    kept: u64,
    /// The last command kept, written once the item after it reads: if
    /// that one starts with an argument, the command's count was damaged
    /// (made smaller), and it goes too.
    held: Option<(u64, u64)>,
}

impl Written<'_, '_> {
    fn input(&mut self, from: u64, to: u64, commands: u64) -> Result<()> {
        self.flush()?;
        if commands == 1 {
            self.held = Some((from, to));
            return Ok(());
        }
        self.kept += commands;
        self.sink.put(&self.all[from as usize..to as usize], commands)
    }

    fn flush(&mut self) -> Result<()> {
        if let Some((from, to)) = self.held.take() {
            self.kept += 1;
            self.sink.put(&self.all[from as usize..to as usize], 1)?;
        }
        Ok(())
    }

    fn made(&mut self, bytes: &[u8]) -> Result<()> {
        self.flush()?;
        self.sink.put(bytes, 1)
    }

    /// The transaction as one (`whole`), or its commands on their own.
    fn transaction(&mut self, open: Open, whole: bool) -> Result<()> {
        self.flush()?;
        let skip = usize::from(!whole);
        let mut commands = open.from_input + open.made;
        if !whole {
            commands -= 1;
        }
        for piece in &open.pieces[skip..] {
            match piece {
                Piece::Input(a, b) => self.sink.put(&self.all[*a as usize..*b as usize], 0)?,
                Piece::Made(bytes) => self.sink.put(bytes, 0)?,
            }
        }
        self.sink.written += commands;
        self.kept += open.from_input - u64::from(!whole && matches!(open.pieces[0], Piece::Input(..)));
        Ok(())
    }
}

/// Walk the command stream of `all` from `from`, writing what is kept.
fn walk_commands(
    name: &Arc<Path>,
    all: &[u8],
    from: u64,
    sink: &mut CommandSink<'_>,
    file: &mut FileSalvage,
    taint: &mut Taint,
) -> Result<()> {
    let len = all.len() as u64;
    let mut pos = from;
    let mut out = Written { sink, all, kept: 0, held: None };
    let mut open: Option<Open> = None;
    // The last span that may have held an unread SELECT, until the next one.
    let mut unsure: Option<usize> = None;
    while pos < len {
        let fault = match item_at(all, pos) {
            Item::Command { multi: true, .. } if open.is_some() => {
                Error::new(ErrorKind::Integrity(Integrity::AofNestedMulti)).at(pos)
            }
            Item::Command { exec: true, .. } if open.is_none() => {
                Error::new(ErrorKind::Integrity(Integrity::AofExecWithoutMulti)).at(pos)
            }
            Item::Command { end, multi: true, .. } => {
                out.flush()?;
                let pieces = vec![Piece::Input(pos, end)];
                open = Some(Open { multi_at: pos, pieces, from_input: 1, made: 0, bridged: false, last: None });
                pos = end;
                continue;
            }
            Item::Command { end, exec: true, .. } => {
                let mut t = open.take().expect("checked above");
                t.push(pos, end, 1);
                out.transaction(t, true)?;
                pos = end;
                continue;
            }
            Item::Command { end, select, argc, .. } => {
                let record = &all[pos as usize..end as usize];
                match (select, unsure) {
                    (true, Some(i)) => {
                        file.spans[i].db_unsure_until = Some(pos);
                        unsure = None;
                    }
                    // It may run in another database than it did.
                    (false, Some(i)) => {
                        if taint.touch(record, file) {
                            file.spans[i].touches_everything = true;
                        }
                    }
                    (_, None) => {}
                }
                // Two keys take at least three words.
                if argc >= 3 {
                    taint.follow(record, file);
                }
                match open.as_mut() {
                    Some(t) => t.push(pos, end, 1),
                    None => out.input(pos, end, 1)?,
                }
                pos = end;
                continue;
            }
            Item::Annotation { end } => {
                match open.as_mut() {
                    Some(t) => t.push(pos, end, 0),
                    None => out.input(pos, end, 0)?,
                }
                pos = end;
                continue;
            }
            Item::Fault(e) => e,
        };
        // The command before may have been read with a damaged count or
        // length (see `read_wrong`): it is lost too.
        let mut start = pos;
        let before = match &open {
            Some(t) => t.last.map(|s| (s, pos)),
            None => out.held.filter(|&(_, end)| end == pos),
        };
        let wrong = before.and_then(|(s, _)| read_wrong(all, s, pos));
        if wrong.is_some() {
            start = match open.as_mut() {
                Some(t) => t.pop_last(pos).unwrap_or(pos),
                None => out.held.take().map_or(pos, |(s, _)| s),
            };
        }
        out.flush()?;
        let resume = match wrong {
            Some(Some(swallowed)) => Some(swallowed),
            _ => resync_commands(all, pos + 1).map(|at| chained_back(all, pos + 1, at)),
        };
        let span_end = resume.unwrap_or(len);
        let nested = matches!(fault.kind, ErrorKind::Integrity(Integrity::AofNestedMulti));
        let orphan = matches!(fault.kind, ErrorKind::Integrity(Integrity::AofExecWithoutMulti));
        let mut span = read_span(all, start, span_end, fault.in_file(name));
        let marker = last_transaction_marker(&span);
        span.transaction = match (open.take(), resume) {
            // The file ends in it: as the server does, unless a span in it
            // leaves its end unsure.
            (Some(t), None) if !t.bridged => {
                let whole = read_span(all, t.multi_at, len, span.error.clone());
                span = SkippedSpan { transaction: None, ..whole };
                Some(TransactionFate::DroppedUnterminated)
            }
            (Some(t), None) => {
                out.transaction(t, false)?;
                Some(TransactionFate::Unwrapped)
            }
            (Some(mut t), Some(_)) if !nested && marker.is_some() => {
                t.push_made(MADE_EXEC.to_vec());
                out.transaction(t, true)?;
                if let Some(db) = span.selects_db {
                    out.made(&select_command(db))?;
                }
                Some(TransactionFate::Closed)
            }
            (Some(mut t), Some(_)) => {
                t.bridged = true;
                if let Some(db) = span.selects_db {
                    t.push_made(select_command(db));
                }
                open = Some(t);
                Some(TransactionFate::Bridged)
            }
            (None, Some(_)) if !orphan && marker == Some(Marker::Multi) => {
                let mut t = Open {
                    multi_at: start,
                    pieces: vec![Piece::Made(MADE_MULTI.to_vec())],
                    from_input: 0,
                    made: 1,
                    bridged: true,
                    last: None,
                };
                if let Some(db) = span.selects_db {
                    t.push_made(select_command(db));
                }
                open = Some(t);
                Some(TransactionFate::Reopened)
            }
            (None, _) => {
                if let Some(db) = span.selects_db {
                    out.made(&select_command(db))?;
                }
                orphan.then_some(TransactionFate::Unwrapped)
            }
        };
        taint.add(&span);
        if span.unread > 0 && span.selects_db.is_none() {
            span.db_unsure_until = Some(len);
            unsure = Some(file.spans.len());
        }
        file.spans.push(span);
        pos = span_end;
    }
    out.flush()?;
    if let Some(t) = open {
        if t.bridged {
            // Its EXEC may have been in a span: its commands are kept.
            out.transaction(t, false)?;
            if let Some(last) = file.spans.last_mut() {
                last.transaction = Some(TransactionFate::Unwrapped);
            }
        } else {
            let e = Error::new(ErrorKind::Truncated)
                .at(len)
                .detail(format!("the file ends inside the MULTI at offset {} (no EXEC)", t.multi_at))
                .in_file(name);
            let mut span = read_span(all, t.multi_at, len, e);
            span.transaction = Some(TransactionFate::DroppedUnterminated);
            file.spans.push(span);
        }
    }
    file.commands_kept = out.kept;
    Ok(())
}

/// Was the command at `start`, which parsed up to a fault at `end`, read
/// with a damaged count or length? A count made smaller leaves its last
/// arguments where the next item should be: bulk strings that run up to a
/// command. A length made larger swallows the next record's first lines
/// into its last argument, which then holds a line starting a record.
/// (Damage at the start of the next item leaves neither.) `Some` with
/// where reading may resume: the swallowed record's start, or `None` to
/// look for it as for any damage.
fn read_wrong(all: &[u8], start: u64, end: u64) -> Option<Option<u64>> {
    // A record starting inside the last argument that parses whole past
    // the command's end: the length swallowed its first lines.
    let command = &all[start as usize..end as usize];
    let swallowed = memchr::memmem::find_iter(command, b"\r\n*").map(|p| start + p as u64 + 2).find(|&q| {
        let whole = matches!(parse_aof_item(&all[q as usize..]),
            Ok((rest, AofItem::Command(_))) if all.len() - rest.len() > end as usize);
        whole && runs_whole(all, q)
    });
    if swallowed.is_some() {
        return Some(swallowed);
    }
    let rest = &all[end as usize..];
    let (args, used) = parse_bulk_run(rest);
    (!args.is_empty() && matches!(rest.get(used), None | Some(b'*') | Some(b'#'))).then_some(None)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Marker {
    Multi,
    Exec,
}

/// The last `MULTI` or `EXEC` read in a span (its name is enough: a
/// damaged count does not make it another command).
fn last_transaction_marker(span: &SkippedSpan) -> Option<Marker> {
    span.commands.iter().rev().find_map(|c| match c.args.first().map(|n| n.to_ascii_uppercase()) {
        Some(n) if n == b"MULTI" => Some(Marker::Multi),
        Some(n) if n == b"EXEC" => Some(Marker::Exec),
        _ => None,
    })
}

/// `SELECT db` as a command record, for the database a span changed to.
fn select_command(db: u64) -> Vec<u8> {
    let n = db.to_string();
    format!("*2\r\n$6\r\nSELECT\r\n${}\r\n{n}\r\n", n.len()).into_bytes()
}

/// The first offset at or after `from` from which [`SYNC_ITEMS`] items
/// parse in a row, the first of them a command, or items parse to the end.
fn resync_commands(all: &[u8], from: u64) -> Option<u64> {
    let mut at = from as usize;
    while at < all.len() {
        let star = at + memchr::memchr(b'*', &all[at..])?;
        if runs_whole(all, star as u64) {
            return Some(star as u64);
        }
        at = star + 1;
    }
    None
}

/// The first command start in `from..to` from which whole items run
/// exactly to `to`, where reading resumes: the commands between two
/// damages closer than [`SYNC_ITEMS`] items are kept. A run read from
/// inside a bulk string's payload cannot end there: the payload's closing
/// `\r\n` starts no item (unless the payload is itself a command record
/// without its last `\r\n`).
fn chained_back(all: &[u8], from: u64, to: u64) -> u64 {
    let starts = memchr::memchr_iter(b'\n', &all[from as usize..to as usize])
        .map(|p| from + p as u64 + 1)
        .filter(|&q| q < to && all[q as usize] == b'*');
    for q in starts {
        let mut at = q;
        while at < to {
            at = match item_at(all, at) {
                Item::Command { end, .. } | Item::Annotation { end } => end,
                Item::Fault(_) => break,
            };
        }
        if at == to {
            return q;
        }
    }
    to
}

/// Whether reading may resume at `at`: [`SYNC_ITEMS`] items parse in a
/// row from it, the first a command; or fewer that reach the file's end;
/// or at least [`SHORT_RUN`] that end at more damage, which is not where
/// a bulk string's payload would close (`\r\n`). A run read from inside a
/// payload ends there, unless the payload holds commands and then other
/// text; real commands between two damages end at the second.
fn runs_whole(all: &[u8], at: u64) -> bool {
    let mut pos = at;
    for n in 0..SYNC_ITEMS {
        if pos == all.len() as u64 {
            return n > 0;
        }
        pos = match item_at(all, pos) {
            // Arguments read as a command have no command's name.
            Item::Command { .. } if !known_name(all, pos) => return false,
            Item::Command { end, .. } => end,
            Item::Annotation { end } if n > 0 => end,
            Item::Fault(_) => return n >= SHORT_RUN && !all[pos as usize..].starts_with(b"\r\n"),
            Item::Annotation { .. } => return false,
        };
    }
    true
}

/// Does the command at `at` have the name of one the replay knows, or of
/// a module's (`JSON.SET`)?
fn known_name(all: &[u8], at: u64) -> bool {
    match parse_aof_item(&all[at as usize..]) {
        Ok((_, AofItem::Command(c))) => crate::keyspace::replay::is_command(c.name) || c.name.contains(&b'.'),
        _ => false,
    }
}

/// Items that may resume reading before more damage (see [`runs_whole`]).
const SHORT_RUN: usize = 2;

/// What can be read of the commands in `start..end`: one at its start, and
/// one after each line end in it that a `*` follows.
fn read_span(all: &[u8], start: u64, end: u64, error: Error) -> SkippedSpan {
    let bytes = &all[start as usize..end as usize];
    let mut span = SkippedSpan {
        start,
        end,
        error,
        commands: Vec::new(),
        commands_seen: 0,
        keys: BTreeSet::new(),
        more_keys: 0,
        touches_everything: false,
        selects_db: None,
        transaction: None,
        unread: 0,
        db_unsure_until: None,
    };
    // The span's start is read whatever its first byte (a damaged `*`).
    let starts = std::iter::once(0)
        .chain(memchr::memchr_iter(b'\n', bytes).map(|p| p + 1).filter(|&p| p > 0 && bytes.get(p) == Some(&b'*')));
    // Bytes read as parts of commands, as `(from, to)` in order.
    let mut read: Vec<(usize, usize)> = Vec::new();
    let mut last_cut_short = false;
    for at in starts {
        let command = parse_partial_command(&bytes[at..]);
        span.commands_seen += 1;
        read.push((at + command.from, at + command.len));
        // Its name and key read: an end read later is its own.
        last_cut_short = !command.whole && command.args.len() >= 2;
        let args = match command.argc {
            Some(_) => command.args,
            // After a count that did not read, the damage may have taken
            // more: the name too, unless the first argument is one.
            None => named_or_not(command.args),
        };
        span.record(start + at as u64, &args, command.argc, command.whole);
    }
    // A command whose start was damaged may still end in whole arguments
    // that run to the span's end: its first one read names a key, or the
    // command if the damage took only the count.
    let read_to = read.iter().map(|r| r.1).max().unwrap_or(0);
    let tail = (read_to..bytes.len())
        .filter(|&q| bytes[q] == b'$' && (q == 0 || bytes[q - 1] == b'\n'))
        .take(TAIL_CANDIDATES)
        .find_map(|q| {
            let (args, used) = parse_bulk_run(&bytes[q..]);
            (!args.is_empty() && q + used == bytes.len()).then_some((q, args))
        });
    if let Some((q, args)) = tail {
        read.push((q, bytes.len()));
        if !last_cut_short {
            let args = named_or_not(args);
            span.commands_seen += 1;
            span.record(start + q as u64, &args, None, false);
        }
    }
    read.sort_unstable();
    let mut covered = 0;
    let mut reached = 0;
    for (a, b) in read {
        let a = a.max(reached);
        if b > a {
            covered += b - a;
            reached = b;
        }
    }
    span.unread = (bytes.len() - covered) as u64;
    span
}

/// Arguments read from somewhere inside a command: as they are when the
/// first is a command's name, else after an empty (unknown) name, so that
/// the first is taken as the key.
fn named_or_not(args: Vec<&[u8]>) -> Vec<&[u8]> {
    match args.first() {
        Some(first) if !crate::keyspace::replay::is_command(first) => std::iter::once(&b""[..]).chain(args).collect(),
        _ => args,
    }
}

/// Arguments read from their end tried per span: a span of garbage may
/// hold many `$` lines.
const TAIL_CANDIDATES: usize = 4096;

impl SkippedSpan {
    /// A command read in the span: its keys, its `SELECT`, its listing.
    /// An unknown name (empty when not read) takes the first argument after
    /// it as its key.
    fn record(&mut self, offset: u64, args: &[&[u8]], argc: Option<i64>, whole: bool) {
        let span = self;
        // A damaged name counts as the command it is nearest to.
        let probable = args.first().filter(|n| !crate::keyspace::replay::is_command(n)).and_then(|n| probable_name(n));
        let mut named: Vec<&[u8]> = args.to_vec();
        if let Some(name) = probable {
            named[0] = name.as_bytes();
        }
        let args = &named[..];
        if args.first().is_some_and(|n| n.eq_ignore_ascii_case(b"select")) {
            if let Some(db) = args.get(1).and_then(|a| std::str::from_utf8(a).ok()).and_then(|a| a.parse().ok()) {
                span.selects_db = Some(db);
            }
        }
        match touched(args) {
            Touched::Everything => span.touches_everything = true,
            Touched::Keys(keys) => {
                for k in keys {
                    if span.keys.len() < LISTED_KEYS {
                        span.keys.insert(k.to_vec());
                    } else if !span.keys.contains(k) {
                        span.more_keys += 1;
                    }
                }
            }
        }
        if span.commands.len() < LISTED_COMMANDS {
            span.commands.push(ReadCommand {
                offset,
                argc,
                args: args.iter().take(SHOWN_ARGS).map(|a| a[..a.len().min(SHOWN_ARG)].to_vec()).collect(),
                args_read: args.len(),
                whole,
            });
        }
    }
}

/// Judge a written salvage before it is put in place: it must pass the
/// full check and hold the commands the report counts.
pub fn verify(report: &AofSalvage, written: &Path) -> Result<()> {
    if report.intact() {
        return Ok(());
    }
    let source = Source::open(written)?;
    let check = check_aof(&source, &report.check_options);
    let refuse = |why: String| {
        Err(Error::new(ErrorKind::Unsupported("a salvage that fails its own check (nothing was written)"))
            .detail(why)
            .in_file(&report.input.as_path().into()))
    };
    if let Some(e) = check.first_error() {
        return refuse(e.to_string());
    }
    let read = check.commands();
    if read != report.commands_written() {
        return refuse(format!("it holds {read} commands where the report counts {}", report.commands_written()));
    }
    Ok(())
}

/// The report as text, one finding a line.
pub fn to_text(r: &AofSalvage) -> String {
    let mut t = String::new();
    if r.intact() {
        t.push_str(&format!("{}: nothing damaged ({} commands)\n", r.input.display(), r.check.commands()));
        return t;
    }
    let spans: usize = r.files.iter().map(|f| f.spans.len()).sum();
    t.push_str(&format!(
        "{}: damaged: {spans} span{} of commands skipped, {} commands kept\n",
        r.input.display(),
        if spans == 1 { "" } else { "s" },
        r.files.iter().map(|f| f.commands_kept).sum::<u64>()
    ));
    for f in &r.files {
        if f.rdb.is_none() && f.spans.is_empty() && f.affected.is_empty() {
            continue;
        }
        t.push_str(&format!("  {} ({}):\n", f.file.display(), f.role.name()));
        if let Some(rdb) = &f.rdb {
            for line in super::to_text(rdb).lines() {
                t.push_str(&format!("    RDB {}: {line}\n", if f.role == AofRole::Base { "base" } else { "preamble" }));
            }
        }
        for s in &f.spans {
            t.push_str(&format!(
                "    skipped {} bytes at offset {}..{}: {}\n",
                s.end - s.start,
                s.start,
                s.end,
                crate::output::json::error_text(&s.error)
            ));
            for c in &s.commands {
                // A few arguments: enough to tell the command.
                let args: Vec<String> =
                    c.args.iter().take(4).map(|a| crate::escape::escape_bytes(a).to_string()).collect();
                let more = if c.args_read > 4 { " …" } else { "" };
                let count = c.argc.map_or("?".to_string(), |n| n.to_string());
                let what = if args.is_empty() { "(no argument readable)".to_string() } else { args.join(" ") };
                t.push_str(&format!(
                    "      at {}: {what}{more} [{} of {count} arguments read]\n",
                    c.offset, c.args_read
                ));
            }
            if s.commands_seen > s.commands.len() as u64 {
                t.push_str(&format!("      … {} more\n", s.commands_seen - s.commands.len() as u64));
            }
            if s.unread > 0 {
                t.push_str(&format!("      {} of its bytes read as no command: what they held is unknown\n", s.unread));
            }
            if let Some(until) = s.db_unsure_until {
                t.push_str(&format!(
                    "      if they held a SELECT, the commands from offset {} to {until} ran in another database \
                     than they now do\n",
                    s.end
                ));
            }
            if let Some(fate) = s.transaction {
                t.push_str(&format!("      {}\n", fate.describe()));
            }
            if let Some(db) = s.selects_db {
                t.push_str(&format!("      a SELECT {db} was read here and is put back after the span\n"));
            }
            if !s.keys.is_empty() || s.touches_everything {
                let keys: Vec<String> =
                    s.keys.iter().map(|k| format!("\"{}\"", crate::escape::escape_bytes(k))).collect();
                t.push_str(&format!(
                    "      these commands are lost; later commands on the keys they touch now act on other \
                     values: {}{}{}\n",
                    keys.join(" "),
                    if s.more_keys > 0 { format!(" and {} more", s.more_keys) } else { String::new() },
                    if s.touches_everything { " (and one flushes or swaps a whole database)" } else { "" }
                ));
            }
        }
        if !f.affected.is_empty() {
            let keys: Vec<String> =
                f.affected.iter().map(|k| format!("\"{}\"", crate::escape::escape_bytes(k))).collect();
            t.push_str(&format!(
                "    kept commands touched these keys together with one of those, so they may differ too: {}{}\n",
                keys.join(" "),
                if f.more_affected > 0 { format!(" and {} more", f.more_affected) } else { String::new() }
            ));
        }
    }
    t
}

/// The report as JSON (`--report`).
pub fn to_json(r: &AofSalvage, written: Option<&Path>) -> serde_json::Value {
    use crate::output::json::{bytes_json, error_json};
    use serde_json::json;
    let files: Vec<serde_json::Value> = r
        .files
        .iter()
        .map(|f| {
            let spans: Vec<serde_json::Value> = f
                .spans
                .iter()
                .map(|s| {
                    json!({
                        "start": s.start,
                        "end": s.end,
                        "bytes": s.end - s.start,
                        "error": error_json(&s.error),
                        "commands": s.commands.iter().map(|c| json!({
                            "offset": c.offset,
                            "argc": c.argc,
                            "args": c.args.iter().map(|a| bytes_json(a)).collect::<Vec<_>>(),
                            "args_read": c.args_read,
                            "whole": c.whole,
                        })).collect::<Vec<_>>(),
                        "commands_seen": s.commands_seen,
                        "keys": s.keys.iter().map(|k| bytes_json(k)).collect::<Vec<_>>(),
                        "more_keys": s.more_keys,
                        "touches_everything": s.touches_everything,
                        "selects_db": s.selects_db,
                        "transaction": s.transaction.map(TransactionFate::name),
                        "unread": s.unread,
                        "db_unsure_until": s.db_unsure_until,
                    })
                })
                .collect();
            json!({
                "file": f.file.display().to_string(),
                "role": f.role.name(),
                "rdb": f.rdb.as_ref().map(|rdb| super::to_json(rdb, None)),
                "skipped_spans": spans,
                "commands_kept": f.commands_kept,
                "commands_written": f.commands_written,
                "affected_keys": f.affected.iter().map(|k| bytes_json(k)).collect::<Vec<_>>(),
                "more_affected": f.more_affected,
            })
        })
        .collect();
    json!({
        "file": r.input.display().to_string(),
        "outcome": if r.intact() { "intact" } else { "resynced" },
        "affected_keys": r.files.iter().flat_map(|f| f.affected.iter().map(|k| bytes_json(k))).collect::<Vec<_>>(),
        "error": r.check.first_error().map(error_json),
        "files": files,
        "output": written.map(|p| p.display().to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(args: &[&str]) -> Vec<u8> {
        let mut r = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            r.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
        }
        r
    }

    /// The salvage of a command stream, its spans, and the commands it writes.
    fn salvaged(input: &[u8]) -> (Vec<u8>, FileSalvage) {
        let mut out = Vec::new();
        let mut file = FileSalvage {
            file: "t.aof".into(),
            role: AofRole::Single,
            rdb: None,
            spans: Vec::new(),
            commands_kept: 0,
            commands_written: 0,
            affected: BTreeSet::new(),
            more_affected: 0,
        };
        let mut sink = CommandSink { out: Some(&mut out), written: 0 };
        let name: Arc<Path> = Path::new("t.aof").into();
        walk_commands(&name, input, 0, &mut sink, &mut file, &mut Taint::default()).unwrap();
        file.commands_written = sink.written;
        (out, file)
    }

    fn joined(parts: &[Vec<u8>]) -> Vec<u8> {
        parts.concat()
    }

    #[test]
    fn a_garbled_command_is_the_only_one_lost_and_its_key_is_named() {
        let mut garbled = cmd(&["SET", "b", "2"]);
        garbled[0] = b'!';
        let input = joined(&[cmd(&["SET", "a", "1"]), garbled, cmd(&["SET", "c", "3"])]);
        let (out, file) = salvaged(&input);
        assert_eq!(out, joined(&[cmd(&["SET", "a", "1"]), cmd(&["SET", "c", "3"])]));
        assert_eq!(file.spans.len(), 1);
        assert_eq!(file.spans[0].keys.iter().collect::<Vec<_>>(), vec![b"b"]);
        assert_eq!((file.commands_kept, file.commands_written), (2, 2));
    }

    #[test]
    fn a_transaction_whose_exec_is_lost_keeps_its_commands_on_their_own() {
        let exec = vec![0u8; cmd(&["EXEC"]).len()];
        let input =
            joined(&[cmd(&["MULTI"]), cmd(&["SET", "a", "1"]), cmd(&["SET", "b", "2"]), exec, cmd(&["SET", "c", "3"])]);
        let (out, file) = salvaged(&input);
        assert_eq!(out, joined(&[cmd(&["SET", "a", "1"]), cmd(&["SET", "b", "2"]), cmd(&["SET", "c", "3"])]));
        assert_eq!(file.commands_written, 3);
        assert_eq!(file.spans.last().unwrap().transaction, Some(TransactionFate::Unwrapped));
    }

    #[test]
    fn a_span_inside_a_transaction_leaves_the_transaction_whole_around_it() {
        let mut garbled = cmd(&["SET", "b", "2"]);
        garbled[1] = b'x';
        let input =
            joined(&[cmd(&["MULTI"]), cmd(&["SET", "a", "1"]), garbled, cmd(&["SET", "c", "3"]), cmd(&["EXEC"])]);
        let (out, file) = salvaged(&input);
        let want = joined(&[cmd(&["MULTI"]), cmd(&["SET", "a", "1"]), cmd(&["SET", "c", "3"]), cmd(&["EXEC"])]);
        assert_eq!(out, want);
        assert_eq!(file.spans[0].transaction, Some(TransactionFate::Bridged));
        assert_eq!(file.commands_written, 4);
    }

    #[test]
    fn a_file_ending_inside_a_transaction_drops_it_as_the_server_does() {
        let input = joined(&[cmd(&["SET", "a", "1"]), cmd(&["MULTI"]), cmd(&["SET", "b", "2"])]);
        let (out, file) = salvaged(&input);
        assert_eq!(out, cmd(&["SET", "a", "1"]));
        assert_eq!(file.spans[0].transaction, Some(TransactionFate::DroppedUnterminated));
    }

    #[test]
    fn a_select_with_a_damaged_name_is_put_back() {
        let input = joined(&[cmd(&["SET", "a", "1"]), cmd(&["SyLECT", "3"]), cmd(&["SET", "b", "2"])]);
        let (out, file) = salvaged(&input);
        assert_eq!(out, joined(&[cmd(&["SET", "a", "1"]), cmd(&["SELECT", "3"]), cmd(&["SET", "b", "2"])]));
        assert_eq!(file.spans[0].selects_db, Some(3));
        assert_eq!((file.commands_kept, file.commands_written), (2, 3));
    }

    #[test]
    fn commands_between_two_close_damages_are_kept() {
        let junk = b"\x00\x17garbage\xff".to_vec();
        let input = joined(&[
            cmd(&["SET", "a", "1"]),
            junk.clone(),
            cmd(&["SET", "b", "2"]),
            cmd(&["SET", "c", "3"]),
            junk,
            cmd(&["SET", "d", "4"]),
        ]);
        let (out, file) = salvaged(&input);
        let want = joined(&[
            cmd(&["SET", "a", "1"]),
            cmd(&["SET", "b", "2"]),
            cmd(&["SET", "c", "3"]),
            cmd(&["SET", "d", "4"]),
        ]);
        assert_eq!(out, want);
        assert_eq!(file.spans.len(), 2);
    }

    #[test]
    fn a_command_read_short_by_a_damaged_count_is_lost_with_the_arguments_it_left() {
        let mut damaged = cmd(&["RPUSH", "l", "a", "b", "c"]);
        damaged[1] = b'3';
        let input = joined(&[cmd(&["SET", "x", "1"]), damaged, cmd(&["SET", "y", "2"])]);
        let (out, file) = salvaged(&input);
        assert_eq!(out, joined(&[cmd(&["SET", "x", "1"]), cmd(&["SET", "y", "2"])]));
        // (The arguments it left read as a command of unknown name: its
        // first is named too, as a key it may have been.)
        assert!(file.spans[0].keys.contains(&b"l"[..]), "{:?}", file.spans[0].keys);
    }

    #[test]
    fn a_length_made_larger_loses_its_command_but_not_the_record_it_swallowed() {
        // `$1` made `$9`: the value swallows "1\r\n*3\r\n$3" of the next record.
        let mut damaged = cmd(&["SET", "a", "1"]);
        let at = damaged.len() - 7;
        assert_eq!(&damaged[at..at + 2], b"$1");
        damaged[at + 1] = b'9';
        let input = joined(&[damaged, cmd(&["SET", "b", "2"]), cmd(&["SET", "c", "3"])]);
        let (out, file) = salvaged(&input);
        assert_eq!(out, joined(&[cmd(&["SET", "b", "2"]), cmd(&["SET", "c", "3"])]));
        assert_eq!(file.spans[0].keys.iter().collect::<Vec<_>>(), vec![b"a"]);
    }

    #[test]
    fn a_command_inside_a_payload_is_not_where_reading_resumes() {
        // The damaged command's value holds a command record: reading
        // resumes at the real command after it.
        let inner = String::from_utf8(cmd(&["SET", "fake", "x"])).unwrap();
        let mut damaged = cmd(&["SET", "k", &inner]);
        damaged[0] = b'?';
        let input = joined(&[damaged, cmd(&["SET", "real", "1"])]);
        let (out, _) = salvaged(&input);
        assert_eq!(out, cmd(&["SET", "real", "1"]));
    }
}
