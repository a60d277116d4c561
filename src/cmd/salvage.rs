//! `salvage`: what can be saved of a damaged RDB, into a new file the server
//! loads. The input is never modified.
//!
//! This part handles the damage only the checksum sees (bit rot): every
//! record passes the deep checks, yet the checksum mismatches. The checksum
//! is linear, so the mismatch itself says which one-byte changes explain it
//! ([`crate::format::crc64`]). Each explanation is tried by a full check of
//! the file with that byte restored, streamed through the checker without
//! writing anything; exactly one that passes is a repair, restored to the
//! original bytes. Anything else is said plainly, and the keys are kept as
//! read under a fresh checksum, with no guarantee. Damage inside the records
//! is refused as unsupported for now.

use super::check::{check_file, check_input, CheckReport};
use crate::error::{Error, ErrorKind, Result};
use crate::event::{Event, RdbReader, ReaderOptions};
use crate::format::crc64::{self, ByteFix};
use crate::input::Input;
use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct SalvageConfig {
    pub input: PathBuf,
    pub reader: ReaderOptions,
    /// Unix ms used to judge TTLs (default: now).
    pub now_ms: Option<i64>,
}

/// What was found, and what the output holds.
#[derive(Debug, Clone)]
pub struct SalvageReport {
    pub file: PathBuf,
    /// The check of the input as it is.
    pub check: CheckReport,
    pub outcome: Outcome,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Nothing is damaged: the output is a copy.
    Intact,
    /// One byte explained the mismatch and, restored, passes the full
    /// check: the output is the original file.
    Repaired(Restored),
    /// The checksum mismatches, and no single restored byte (or several)
    /// makes the file whole: the output keeps every key as read, under a
    /// fresh checksum, with no guarantee that none changed.
    Unlocated {
        /// One-byte changes that explain the checksum, each of which failed
        /// the full check (or several passed it).
        explanations: Vec<Restored>,
    },
}

/// One byte to restore.
#[derive(Debug, Clone, PartialEq)]
pub struct Restored {
    pub offset: u64,
    /// The byte in the damaged file, and as restored.
    pub old: u8,
    pub new: u8,
    /// Where the byte lies: a key (its database and name), another record,
    /// or the stored checksum.
    pub place: Place,
}

impl Restored {
    /// One bit differs.
    pub fn single_bit(&self) -> bool {
        (self.old ^ self.new).is_power_of_two()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Place {
    Key {
        db: u64,
        key: Vec<u8>,
    },
    /// A record that is not a key (header, aux field, function, …): its kind.
    Record(&'static str),
    StoredChecksum,
}

impl SalvageReport {
    /// The bytes the output holds: the input with at most one byte
    /// changed and, when unlocated, the fresh checksum.
    pub fn patches(&self) -> Vec<(u64, u8)> {
        match &self.outcome {
            Outcome::Intact => Vec::new(),
            Outcome::Repaired(r) => vec![(r.offset, r.new)],
            Outcome::Unlocated { .. } => match self.check.error.as_ref().map(|e| (e.kind, e.offset)) {
                Some((ErrorKind::ChecksumMismatch { computed, .. }, Some(at))) => {
                    computed.to_le_bytes().iter().enumerate().map(|(i, &b)| (at + i as u64, b)).collect()
                }
                _ => Vec::new(),
            },
        }
    }
}

/// Check the input and work out what its salvage holds.
pub fn plan(cfg: &SalvageConfig) -> Result<SalvageReport> {
    let check = check_file(&cfg.input, cfg.reader, cfg.now_ms);
    let Some(error) = &check.error else {
        return Ok(SalvageReport { file: cfg.input.clone(), check, outcome: Outcome::Intact });
    };
    let name: std::sync::Arc<Path> = cfg.input.as_path().into();
    if error.kind.verdict() != crate::error::Verdict::Damaged {
        return Err(error.clone());
    }
    // The checksum covers everything before its own 8 bytes, at the end of
    // the file: it can locate one changed byte whatever the damage did to
    // the structure (a flipped bit in a length breaks every record after it).
    let explanations = match trailer_syndrome(&cfg.input)? {
        Some((len, syndrome)) => explain(cfg, len, syndrome)?,
        None => Vec::new(),
    };
    let passing: Vec<&(Restored, bool)> = explanations.iter().filter(|(_, passes)| *passes).collect();
    let outcome = match (passing.as_slice(), error.kind) {
        ([(only, _)], _) => Outcome::Repaired(only.clone()),
        // The records are whole and only the checksum disagrees.
        (_, ErrorKind::ChecksumMismatch { .. }) => {
            Outcome::Unlocated { explanations: explanations.into_iter().map(|(r, _)| r).collect() }
        }
        _ => {
            return Err(Error::new(ErrorKind::Unsupported(
                "damage inside the records that no single changed byte explains: resyncing past it is not built yet",
            ))
            .in_file(&name));
        }
    };
    Ok(SalvageReport { file: cfg.input.clone(), check, outcome })
}

/// `(checksummed length, computed xor stored)` when the file ends in a
/// checksum that disagrees with its content (RDB 5+, not disabled).
fn trailer_syndrome(path: &Path) -> Result<Option<(u64, u64)>> {
    let io = |e: std::io::Error| Error::io(e).in_file(&path.into());
    let mut file = File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    let mut head = [0u8; 9];
    if size < 17 || file.read_exact(&mut head).is_err() {
        return Ok(None);
    }
    let version = std::str::from_utf8(&head[5..9]).ok().and_then(|v| v.parse::<u32>().ok());
    let dialect_version = if &head[..5] == b"REDIS" { version } else { Some(u32::MAX) };
    if dialect_version.is_none_or(|v| v < 5) {
        return Ok(None);
    }
    let len = size - 8;
    let mut digest = crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc64Redis);
    digest.update(&head);
    let mut rest = BufReader::with_capacity(1 << 20, File::open(path).map_err(io)?);
    std::io::Seek::seek(&mut rest, std::io::SeekFrom::Start(9)).map_err(io)?;
    let mut left = len - 9;
    let mut buf = vec![0u8; 1 << 20];
    while left > 0 {
        let n = (left as usize).min(buf.len());
        rest.read_exact(&mut buf[..n]).map_err(io)?;
        digest.update(&buf[..n]);
        left -= n as u64;
    }
    let mut stored = [0u8; 8];
    rest.read_exact(&mut stored).map_err(io)?;
    let stored = u64::from_le_bytes(stored);
    let syndrome = stored ^ digest.finalize();
    Ok((stored != 0 && syndrome != 0).then_some((len, syndrome)))
}

/// Every one-byte change that explains `syndrome`, with whether the file
/// with that byte restored passes the full check.
fn explain(cfg: &SalvageConfig, len: u64, syndrome: u64) -> Result<Vec<(Restored, bool)>> {
    let mut fixes: Vec<ByteFix> = crc64::locate_byte_errors(len, syndrome);
    if let Some((i, xor)) = crc64::stored_byte_error(syndrome) {
        fixes.push(ByteFix { offset: len + u64::from(i), xor });
    }
    // Beyond a handful the checksum explains nothing: it is not one byte.
    if fixes.len() > MAX_EXPLANATIONS {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for fix in fixes {
        let old = byte_at(&cfg.input, fix.offset)?;
        let new = old ^ fix.xor;
        let passes = check_patched(cfg, &[(fix.offset, new)])?.error.is_none();
        // Named as the restored file frames it.
        let place = if fix.offset >= len { Place::StoredChecksum } else { place_of(cfg, fix.offset, new)? };
        out.push((Restored { offset: fix.offset, old, new, place }, passes));
    }
    Ok(out)
}

/// One-byte explanations worth a full check each.
const MAX_EXPLANATIONS: usize = 16;

/// Write the salvaged file: the input with the report's patches, through
/// `out`. The caller makes the write atomic.
pub fn write(report: &SalvageReport, out: &mut dyn Write) -> Result<()> {
    let file = File::open(&report.file).map_err(|e| Error::io(e).in_file(&report.file.as_path().into()))?;
    let mut patched = Patched::new(file, report.patches());
    std::io::copy(&mut patched, out).map_err(Error::io)?;
    Ok(())
}

/// The full check of the input with `patches` applied, streamed.
fn check_patched(cfg: &SalvageConfig, patches: &[(u64, u8)]) -> Result<CheckReport> {
    let size = std::fs::metadata(&cfg.input).map_err(Error::io)?.len();
    let mut input = patched_input(cfg, patches)?;
    Ok(check_input(&mut input, Some(size), cfg.reader, cfg.now_ms))
}

/// The input with `patches` applied, as a stream.
fn patched_input(cfg: &SalvageConfig, patches: &[(u64, u8)]) -> Result<Input> {
    let file = File::open(&cfg.input).map_err(|e| Error::io(e).in_file(&cfg.input.as_path().into()))?;
    Ok(Input::from_reader(&cfg.input.display().to_string(), Patched::new(file, patches.to_vec())))
}

fn byte_at(path: &Path, offset: u64) -> Result<u8> {
    use std::io::{Seek, SeekFrom};
    let mut f = File::open(path).map_err(|e| Error::io(e).in_file(&path.into()))?;
    f.seek(SeekFrom::Start(offset)).map_err(Error::io)?;
    let mut b = [0u8];
    f.read_exact(&mut b).map_err(Error::io)?;
    Ok(b[0])
}

/// Which record holds the byte at `offset` once it is `new`: one framing
/// pass (no value decoded) up to it. Where framing fails before it, the
/// byte lies in an unreadable span.
fn place_of(cfg: &SalvageConfig, offset: u64, new: u8) -> Result<Place> {
    let mut input = patched_input(cfg, &[(offset, new)])?;
    let opts = ReaderOptions { check_values: false, verify_checksum: false, ..cfg.reader };
    let mut reader = RdbReader::new(&mut input, opts);
    let mut db = 0;
    loop {
        let place = match reader.next() {
            Err(_) => return Ok(Place::Record("unreadable span")),
            Ok(Some(Event::Key(k))) => Place::Key { db, key: k.key.to_vec() },
            Ok(Some(Event::SelectDb { db: n })) => {
                db = n;
                Place::Record("database selector")
            }
            Ok(Some(Event::End { .. }) | None) => return Ok(Place::Record("end of file")),
            Ok(Some(other)) => Place::Record(record_kind(&other)),
        };
        if reader.offset() > offset {
            return Ok(place);
        }
    }
}

/// What a record other than a key is, for the report.
fn record_kind(event: &Event<'_>) -> &'static str {
    match event {
        Event::Header { .. } => "header",
        Event::Aux { .. } => "aux field",
        Event::Function { .. } => "function",
        Event::ModuleAux { .. } => "module aux data",
        Event::ResizeDb { .. } => "size hint",
        _ => "record",
    }
}

/// A file read with some bytes replaced (sorted by offset or not).
struct Patched {
    inner: BufReader<File>,
    patches: Vec<(u64, u8)>,
    pos: u64,
}

impl Patched {
    fn new(file: File, patches: Vec<(u64, u8)>) -> Patched {
        Patched { inner: BufReader::with_capacity(1 << 20, file), patches, pos: 0 }
    }
}

impl Read for Patched {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let range = self.pos..self.pos + n as u64;
        for &(at, b) in &self.patches {
            if range.contains(&at) {
                buf[(at - self.pos) as usize] = b;
            }
        }
        self.pos += n as u64;
        Ok(n)
    }
}

impl Place {
    fn describe(&self) -> String {
        match self {
            Place::Key { db, key } => format!("key \"{}\" in db {db}", crate::escape::escape_bytes(key)),
            Place::Record(kind) => format!("the {kind}"),
            Place::StoredChecksum => "the stored checksum".into(),
        }
    }

    fn json(&self) -> serde_json::Value {
        use serde_json::json;
        match self {
            Place::Key { db, key } => json!({"record": "key", "db": db, "key": crate::output::json::bytes_json(key)}),
            Place::Record(kind) => json!({"record": kind}),
            Place::StoredChecksum => json!({"record": "checksum"}),
        }
    }
}

fn restored_json(r: &Restored) -> serde_json::Value {
    serde_json::json!({
        "offset": r.offset,
        "old": r.old,
        "new": r.new,
        "single_bit": r.single_bit(),
        "in": r.place.json(),
    })
}

/// The report as text, one finding a line.
pub fn to_text(r: &SalvageReport) -> String {
    let mut t = format!("{}: ", r.file.display());
    match &r.outcome {
        Outcome::Intact => t.push_str(&format!("nothing damaged ({} keys)\n", r.check.keys)),
        Outcome::Repaired(x) => t.push_str(&format!(
            "checksum mismatch explained by one {} at offset {} in {}: byte {:#04x} restored to {:#04x}; \
             the restored file passes the full check ({} keys, all kept)\n",
            if x.single_bit() { "flipped bit" } else { "changed byte" },
            x.offset,
            x.place.describe(),
            x.old,
            x.new,
            r.check.keys
        )),
        Outcome::Unlocated { explanations } => {
            t.push_str(&format!(
                "checksum mismatch that cannot be located: every key is kept as read ({}), under a fresh \
                 checksum, with no guarantee that none changed\n",
                r.check.keys
            ));
            for x in explanations {
                t.push_str(&format!(
                    "  one-byte explanation at offset {} in {} ({:#04x} → {:#04x}): {}\n",
                    x.offset,
                    x.place.describe(),
                    x.old,
                    x.new,
                    if explanations.len() > 1 { "one of several" } else { "fails the full check" }
                ));
            }
        }
    }
    t
}

/// The report as JSON (`--report`): what was damaged, what the output holds.
pub fn to_json(r: &SalvageReport, written: Option<&Path>) -> serde_json::Value {
    use serde_json::json;
    let (outcome, repaired, explanations) = match &r.outcome {
        Outcome::Intact => ("intact", None, Vec::new()),
        Outcome::Repaired(x) => ("repaired", Some(restored_json(x)), Vec::new()),
        Outcome::Unlocated { explanations } => ("unlocated", None, explanations.iter().map(restored_json).collect()),
    };
    json!({
        "file": r.file.display().to_string(),
        "outcome": outcome,
        "error": r.check.error.as_ref().map(crate::output::json::error_json),
        "keys": r.check.keys,
        "keys_kept": r.check.keys,
        "keys_lost": 0,
        "repaired": repaired,
        "explanations": explanations,
        "output": written.map(|p| p.display().to_string()),
    })
}
