//! One changed byte, found from the checksum: the diagnosis `check` gives
//! and the repair `salvage` makes.
//!
//! Redis's checksum is linear, so a mismatch (computed xor stored: the
//! *syndrome*) is the checksum of the damage alone, and the changes of one
//! byte that explain it can be listed without reading the data
//! ([`crate::format::crc64`]). Each is tried by a full check of the file
//! with that byte restored, streamed through the checker (nothing is
//! written). It works whatever the byte broke: a flipped bit in a length
//! that derails every record after it is found like one inside a string.

use super::{check_input, CheckReport};
use crate::error::{Error, Result};
use crate::event::{Event, RdbReader, ReaderOptions};
use crate::format::crc64::{self, ByteFix};
use crate::input::Input;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

/// What a damaged file is read with, to try a restored byte.
#[derive(Debug, Clone)]
pub struct Subject {
    pub path: PathBuf,
    pub reader: ReaderOptions,
    pub now_ms: Option<i64>,
}

/// A one-byte change that explains the checksum, and whether the file with
/// it restored passes the full check.
#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    pub restored: Restored,
    pub passes: bool,
    /// Keys the file holds with it restored.
    pub keys: u64,
}

/// The one explanation that makes the file whole, if exactly one does.
pub fn the_repair(explanations: &[Explanation]) -> Option<&Explanation> {
    let mut passing = explanations.iter().filter(|e| e.passes);
    let first = passing.next()?;
    passing.next().is_none().then_some(first)
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

/// The checksum at the end of a file, and its content's.
#[derive(Debug, Clone, Copy)]
pub struct Trailer {
    /// Bytes the checksum covers (all but its own 8).
    pub len: u64,
    pub stored: u64,
    pub computed: u64,
}

/// The file's trailer when it disagrees with its content (RDB 5+).
pub fn mismatched_trailer(path: &Path) -> Result<Option<Trailer>> {
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
    // In chunks on all cores, each read at its offset, combined in order.
    use rayon::prelude::*;
    use std::os::unix::fs::FileExt;
    let digests: Vec<std::io::Result<crc_fast::Digest>> = (0..len.div_ceil(CRC_CHUNK))
        .into_par_iter()
        .map(|c| {
            let (from, to) = (c * CRC_CHUNK, ((c + 1) * CRC_CHUNK).min(len));
            let mut digest = crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc64Redis);
            let mut buf = vec![0u8; CRC_STEP];
            let mut at = from;
            while at < to {
                let n = ((to - at) as usize).min(CRC_STEP);
                file.read_exact_at(&mut buf[..n], at)?;
                digest.update(&buf[..n]);
                at += n as u64;
            }
            Ok(digest)
        })
        .collect();
    let mut digest = crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc64Redis);
    for d in digests {
        digest.combine(&d.map_err(io)?);
    }
    let mut stored = [0u8; 8];
    file.read_exact_at(&mut stored, len).map_err(io)?;
    let stored = u64::from_le_bytes(stored);
    let computed = digest.finalize();
    Ok((stored != computed).then_some(Trailer { len, stored, computed }))
}

/// Bytes of the file one core checksums, and reads at a time.
const CRC_CHUNK: u64 = 64 << 20;
const CRC_STEP: usize = 1 << 20;

/// Every one-byte change that explains the file's checksum mismatch (none
/// when the checksum matches, is absent or disabled), each tried.
pub fn explain(subject: &Subject) -> Result<Vec<Explanation>> {
    let Some(Trailer { len, stored, computed }) = mismatched_trailer(&subject.path)? else { return Ok(Vec::new()) };
    let syndrome = stored ^ computed;
    let mut fixes = Vec::new();
    // A stored 0 means "no checksum" (`rdbchecksum no`): then the content
    // explains nothing, but one changed byte of that 0 would.
    if let Some((i, xor)) = crc64::stored_byte_error(stored) {
        fixes.push(ByteFix { offset: len + u64::from(i), xor });
    }
    if stored != 0 {
        fixes.extend(crc64::locate_byte_errors(len, syndrome));
        if let Some((i, xor)) = crc64::stored_byte_error(syndrome) {
            fixes.push(ByteFix { offset: len + u64::from(i), xor });
        }
    }
    // Beyond a handful the checksum explains nothing: it is not one byte.
    if fixes.len() > MAX_EXPLANATIONS {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for fix in fixes {
        let old = byte_at(&subject.path, fix.offset)?;
        let new = old ^ fix.xor;
        let report = check_patched(subject, &[(fix.offset, new)])?;
        let (passes, keys) = (report.error.is_none(), report.keys);
        // Named as the restored file frames it.
        let place = if fix.offset >= len { Place::StoredChecksum } else { place_of(subject, fix.offset, new)? };
        out.push(Explanation { restored: Restored { offset: fix.offset, old, new, place }, passes, keys });
    }
    Ok(out)
}

/// One-byte explanations worth a full check each.
const MAX_EXPLANATIONS: usize = 16;

/// The full check of the input with `patches` applied, streamed.
fn check_patched(subject: &Subject, patches: &[(u64, u8)]) -> Result<CheckReport> {
    let size = std::fs::metadata(&subject.path).map_err(Error::io)?.len();
    let mut input = patched_input(subject, patches)?;
    Ok(check_input(&mut input, Some(size), subject.reader, subject.now_ms))
}

/// The input with `patches` applied, as a stream.
fn patched_input(subject: &Subject, patches: &[(u64, u8)]) -> Result<Input> {
    let file = File::open(&subject.path).map_err(|e| Error::io(e).in_file(&subject.path.as_path().into()))?;
    Ok(Input::from_reader(&subject.path.display().to_string(), Patched::new(file, patches.to_vec())))
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
fn place_of(subject: &Subject, offset: u64, new: u8) -> Result<Place> {
    let mut input = patched_input(subject, &[(offset, new)])?;
    let opts = ReaderOptions { check_values: false, verify_checksum: false, ..subject.reader };
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
pub(crate) struct Patched {
    inner: BufReader<File>,
    patches: Vec<(u64, u8)>,
    pos: u64,
}

impl Patched {
    pub(crate) fn new(file: File, patches: Vec<(u64, u8)>) -> Patched {
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
    pub fn describe(&self) -> String {
        match self {
            Place::Key { db, key } => format!("key \"{}\" in db {db}", crate::escape::escape_bytes(key)),
            Place::Record(kind) => format!("the {kind}"),
            Place::StoredChecksum => "the stored checksum".into(),
        }
    }

    pub fn json(&self) -> serde_json::Value {
        use serde_json::json;
        match self {
            Place::Key { db, key } => json!({"record": "key", "db": db, "key": crate::output::json::bytes_json(key)}),
            Place::Record(kind) => json!({"record": kind}),
            Place::StoredChecksum => json!({"record": "checksum"}),
        }
    }
}

pub fn restored_json(r: &Restored) -> serde_json::Value {
    serde_json::json!({
        "offset": r.offset,
        "old": r.old,
        "new": r.new,
        "single_bit": r.single_bit(),
        "in": r.place.json(),
    })
}
