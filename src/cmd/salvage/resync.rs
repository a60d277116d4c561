//! Reading past damage inside the records of an RDB.
//!
//! Records are read in order, each key checked as deeply as `check` checks
//! it. At a fault (a record that does not frame, or a key that fails its
//! check), the damaged span starts where that record started. The next
//! offset from which 32 records frame and pass their checks in
//! a row (or records run whole to the file's end) ends it, and reading goes
//! on from there; repeat for every span. An RDB has no sync markers: this
//! is how `check`'s parallel framing finds record starts too
//! (`event::segment`), with each key's inside checked as well.
//!
//! What is kept is copied as stored: every record outside the spans, byte
//! for byte (a key with its expiry, LRU/LFU and metadata; aux fields,
//! functions, module data). The database selectors and size hints are
//! written anew: a selector may have been lost in a span, and the hints
//! no longer count the same keys. The file ends with a fresh checksum.

use crate::cmd::check::KeyValidator;
use crate::error::{Error, ErrorKind, Result};
use crate::event::reader::Forker;
use crate::event::{Event, RdbReader, ReaderOptions};
use crate::format::{opcode, Dialect};
use crate::input::Input;
use std::io::Write;
use std::path::Path;

/// Records that must frame and pass in a row after an offset for reading
/// to resume there.
const SYNC_RECORDS: usize = 32;
/// They must lie within this many bytes of it (a larger value after a
/// span delays the resync to the record after it, losing that one).
const SYNC_SPAN: usize = 16 << 20;

/// A span of the input from which no record could be kept.
#[derive(Debug, Clone)]
pub struct LostSpan {
    pub start: u64,
    pub end: u64,
    /// What was wrong at its start.
    pub error: Error,
    /// The key whose record it starts with, when its name could be read.
    pub first_key: Option<Vec<u8>>,
    /// A database selector found inside it: the keys after it are in that
    /// database (else in the one before the span).
    pub selects_db: Option<u64>,
}

/// What a walk kept and lost.
#[derive(Debug, Clone, Default)]
pub struct Resynced {
    pub spans: Vec<LostSpan>,
    pub keys_kept: u64,
    pub records_kept: u64,
    /// Where the RDB ended: just past its checksum, or the file's end. An
    /// AOF's commands follow its RDB preamble there.
    pub end: u64,
}

/// Walk the RDB at `path`, writing what is kept to `out` (when given):
/// its header as stored, the records outside the damaged spans, a fresh
/// EOF and checksum. `checked_to`: a full check of the file found its first
/// fault at this offset, and no empty collection before it, so the keys
/// that end before it passed that check already and are not checked again
/// (0: check every key).
pub fn walk(path: &Path, reader_opts: ReaderOptions, checked_to: u64, out: Option<&mut dyn Write>) -> Result<Resynced> {
    let name: std::sync::Arc<Path> = path.into();
    let unsupported = |why: &'static str| Error::new(ErrorKind::Unsupported(why)).in_file(&name);
    let mut input = Input::open(path)?;
    let opts = ReaderOptions { verify_checksum: false, check_values: true, ..reader_opts };
    let mut reader = RdbReader::new(&mut input, opts);
    let Ok(Some(Event::Header { dialect, version })) = reader.next() else {
        return Err(unsupported("a header that cannot be read: the version of what follows is unknown"));
    };
    if dialect == Dialect::Redis && version >= 15 {
        return Err(unsupported(
            "RDB 15+ records refer to hash templates defined earlier: resync is not built for them",
        ));
    }
    let forker = reader.forker().ok_or_else(|| unsupported("salvage reads files, not pipes"))?;
    let all = forker.bytes();
    // RDB 5+ ends with the EOF opcode and 8 bytes of checksum: a record
    // that starts among them was read from damage (a changed EOF opcode
    // reads as records made of the checksum). A record before them may run
    // to the end: the file may have been cut right after it.
    let trailer_start =
        if dialect == Dialect::Valkey || version >= 5 { all.len().saturating_sub(9) } else { all.len() } as u64;
    let mut sink = Sink::new(out);
    sink.put(&all[..reader.offset() as usize])?;
    let mut validator = KeyValidator::default();
    let mut walked = Resynced { end: all.len() as u64, ..Resynced::default() };
    let mut db = 0u64;
    // The last key kept, written only once the record after it is judged:
    // damage that overwrote a run of one byte (a zeroed page) may have begun
    // inside it, where nothing else can tell.
    let mut held: Option<Held> = None;
    loop {
        let start = reader.offset();
        let step = match reader.next_releasing() {
            // Checked already (and, the caller says, not an empty collection).
            Ok(Some(Event::Key(k))) if k.value.offset + k.value.raw.len() as u64 <= checked_to => {
                Step::Key { loads: true }
            }
            Ok(Some(Event::Key(k))) => match validator.check(&k) {
                Ok(loads) => Step::Key { loads },
                Err(e) => Step::Fault(e.key(&k.key).at(start), Some(k.key.to_vec())),
            },
            Ok(Some(Event::SelectDb { db: n })) => Step::Select(n),
            Ok(Some(Event::ResizeDb { .. })) => Step::Skip,
            Ok(Some(Event::End { .. }) | None) => Step::End,
            Ok(Some(Event::HashTemplate { .. })) => {
                return Err(unsupported("hash templates: resync is not built for them"));
            }
            Ok(Some(_)) => Step::Record,
            Err(e) => {
                let key = e.key.as_ref().map(|k| k.to_vec());
                Step::Fault(e, key)
            }
        };
        let end = reader.offset();
        let record = &all[start as usize..end as usize];
        let step = match step {
            Step::End | Step::Fault(..) => step,
            _ if start >= trailer_start => {
                let e = Error::new(ErrorKind::BadEncoding("a record among the checksum's bytes")).at(start);
                Step::Fault(e, None)
            }
            // Bytes of one value (zeros, most often) frame as records of
            // empty strings, which no writer puts there.
            _ if record.len() > 1 && record.iter().all(|&b| b == record[0]) => {
                let e = Error::new(ErrorKind::BadEncoding("a run of one byte value where a record should be"));
                Step::Fault(e.at(start), None)
            }
            _ => step,
        };
        if !matches!(step, Step::Fault(..)) {
            if let Some(h) = held.take() {
                h.write(&mut sink, all, &mut walked)?;
            }
        }
        match step {
            Step::Key { loads } => held = Some(Held { start, end, db, loads }),
            Step::Record => {
                sink.put(record)?;
                walked.records_kept += 1;
            }
            Step::Select(n) => db = n,
            Step::Skip => {}
            Step::End => {
                walked.end = end.max(start);
                break;
            }
            Step::Fault(error, mut first_key) => {
                let mut start = start;
                // A run of one byte reaching back into the held key: the
                // damage began inside it.
                if let Some(h) = held.take() {
                    if run_back(all, start) >= start.saturating_sub(h.end) + MIN_RUN_INTO {
                        start = h.start;
                        first_key = None;
                    } else {
                        h.write(&mut sink, all, &mut walked)?;
                    }
                }
                let resume = resync(&forker, start + 1);
                let span_end = resume.unwrap_or(all.len() as u64);
                let selects_db = last_selector(&all[start as usize..span_end as usize]);
                if let Some(n) = selects_db {
                    db = n;
                }
                walked.spans.push(LostSpan {
                    start,
                    end: span_end,
                    error: error.in_file(&name),
                    first_key,
                    selects_db,
                });
                match resume.and_then(|at| forker.at(at)) {
                    Some(r) => reader = r,
                    None => break,
                }
            }
        }
    }
    if let Some(h) = held.take() {
        h.write(&mut sink, all, &mut walked)?;
    }
    sink.finish()?;
    Ok(walked)
}

/// Bytes a run of one value must reach into the key before a fault for
/// that key to count as damaged too (a key may end in a few equal bytes).
const MIN_RUN_INTO: u64 = 16;

/// How many bytes before `at` equal the byte at `at`.
fn run_back(all: &[u8], at: u64) -> u64 {
    let Some(&b) = all.get(at as usize) else { return 0 };
    all[..at as usize].iter().rev().take_while(|&&x| x == b).count() as u64
}

/// A key record kept, not yet written.
struct Held {
    start: u64,
    end: u64,
    db: u64,
    loads: bool,
}

impl Held {
    fn write(self, sink: &mut Sink<'_>, all: &[u8], walked: &mut Resynced) -> Result<()> {
        sink.select(self.db)?;
        sink.put(&all[self.start as usize..self.end as usize])?;
        walked.keys_kept += u64::from(self.loads);
        walked.records_kept += 1;
        Ok(())
    }
}

enum Step {
    /// A key that passed; `loads`: not an empty collection (which is kept
    /// as stored, and which the server skips).
    Key {
        loads: bool,
    },
    Record,
    Select(u64),
    Skip,
    End,
    Fault(Error, Option<Vec<u8>>),
}

/// The first offset at or after `from` where records run whole again.
///
/// A run can start with a bogus record whose length fields jump over real
/// records and land in step with the ones after (a "key" of megabytes read
/// from the middle of a value). The real records it swallowed run whole
/// too, several of them inside that one record; so an offset is taken only
/// if no other offset inside its first record starts [`SWALLOWED`] whole
/// records that end within it. (The converse, a few bogus records read
/// inside a real record's value that land in step at its end, is common
/// and proves nothing: a real record start is kept over them.)
fn resync(forker: &Forker<'_>, from: u64) -> Option<u64> {
    let len = forker.bytes().len() as u64;
    let mut validator = KeyValidator::default();
    let mut at = (from..len).find(|&at| runs_whole(forker, at, len, &mut validator).is_some())?;
    loop {
        let first_end = runs_whole(forker, at, len, &mut validator)?[0];
        let swallowed = (at + 1..first_end).find(|&inner| {
            runs_whole(forker, inner, len, &mut validator)
                .is_some_and(|ends| ends.len() >= SWALLOWED && ends[SWALLOWED - 1] <= first_end)
        });
        match swallowed {
            Some(inner) => at = inner,
            None => return Some(at),
        }
    }
}

/// Whole records inside one that make it a bogus record over real ones.
const SWALLOWED: usize = 4;

/// Whether [`SYNC_RECORDS`] records frame and pass from `at`, or records
/// run whole from it to an EOF and checksum that end the file (or that an
/// AOF's first command follows, after a preamble): the
/// ends of its first records (up to [`SWALLOWED`]) when they do. No record
/// may be one repeated byte: a zeroed span frames as empty strings, which
/// no writer put there.
fn runs_whole(forker: &Forker<'_>, at: u64, len: u64, validator: &mut KeyValidator) -> Option<Vec<u64>> {
    let bytes = forker.bytes();
    let first = bytes[at as usize];
    let is_opcode = first >= opcode::HASH_TEMPLATE || first == opcode::RE_RAM_LRU || first == opcode::RE_SLOT_NUM;
    if !is_opcode && crate::format::Type::from_byte(first, forker.header().dialect).is_none() {
        return None;
    }
    let mut probe = forker.probe_at(at, SYNC_SPAN)?;
    let mut ends = Vec::with_capacity(SWALLOWED);
    for n in 0..SYNC_RECORDS {
        let before = probe.offset();
        // Keys and the hints between them: aux fields, functions and module
        // data come before the keys (module data may follow them), and
        // garbage read as one jumps far on its lengths.
        let ok = match probe.next() {
            Ok(Some(Event::Key(k))) => validator.check(&k).is_ok(),
            Ok(Some(Event::End { .. })) => {
                // The file's end, or an AOF's commands after its preamble.
                let at = probe.offset() as usize;
                let commands = matches!(
                    crate::token::resp::parse_aof_item(&bytes[at.min(bytes.len())..]),
                    Ok((_, crate::token::resp::AofItem::Command(_)))
                );
                return (n > 0 && (at as u64 == len || commands)).then_some(ends);
            }
            Ok(Some(
                Event::SelectDb { .. } | Event::ResizeDb { .. } | Event::SlotInfo { .. } | Event::SlotNum { .. },
            )) => true,
            Ok(Some(_)) | Ok(None) | Err(_) => false,
        };
        let record = &bytes[before as usize..probe.offset() as usize];
        if !ok || (record.len() > 1 && record.iter().all(|&b| b == record[0])) {
            return None;
        }
        if ends.len() < SWALLOWED {
            ends.push(probe.offset());
        }
    }
    Some(ends)
}

/// The last database selector in `span` that reads as one: its opcode, a
/// length-encoded number, and the size hint a writer always puts after it.
fn last_selector(span: &[u8]) -> Option<u64> {
    let mut found = None;
    for (i, _) in span.iter().enumerate().filter(|(_, &b)| b == opcode::SELECTDB) {
        let rest = &span[i + 1..];
        let (db, used) = match rest.first()? {
            b @ 0x00..=0x3f => (u64::from(*b), 1),
            b @ 0x40..=0x7f => (u64::from(*b & 0x3f) << 8 | u64::from(*rest.get(1)?), 2),
            _ => continue,
        };
        if rest.get(used) == Some(&opcode::RESIZEDB) {
            found = Some(db);
        }
    }
    found
}

/// Where kept bytes go: the output (if any), with the checksum of
/// everything written.
struct Sink<'w> {
    out: Option<&'w mut dyn Write>,
    digest: crc_fast::Digest,
    db: Option<u64>,
}

impl<'w> Sink<'w> {
    fn new(out: Option<&'w mut dyn Write>) -> Self {
        Sink { out, digest: crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc64Redis), db: None }
    }

    fn put(&mut self, bytes: &[u8]) -> Result<()> {
        if let Some(out) = self.out.as_mut() {
            self.digest.update(bytes);
            out.write_all(bytes).map_err(Error::io)?;
        }
        Ok(())
    }

    /// A database selector before a key of another database than the last.
    fn select(&mut self, db: u64) -> Result<()> {
        if self.db == Some(db) {
            return Ok(());
        }
        self.db = Some(db);
        let mut record = vec![opcode::SELECTDB];
        crate::output::rdb::encode::put_len(&mut record, db);
        self.put(&record)
    }

    fn finish(mut self) -> Result<()> {
        self.put(&[opcode::EOF])?;
        let crc = self.digest.finalize();
        if let Some(out) = self.out.as_mut() {
            out.write_all(&crc.to_le_bytes()).map_err(Error::io)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_selector_in_a_span_is_one_followed_by_a_size_hint() {
        // 6-bit and 14-bit database numbers; the last one counts.
        assert_eq!(last_selector(&[0x00, 0xfe, 0x05, 0xfb, 0x01, 0x01, 0xfe, 0x41, 0x02, 0xfb]), Some(0x102));
        // Without the size hint after it, a 0xfe is just a byte.
        assert_eq!(last_selector(&[0xfe, 0x05, 0x00, 0xfe]), None);
        assert_eq!(last_selector(&[0xfe, 0x05, 0xfb, 0xfe, 0xc0, 0xfb]), Some(5));
    }

    #[test]
    fn a_run_of_one_byte_is_counted_back_from_where_it_is_met() {
        let bytes = [1, 2, 0, 0, 0, 0, 3];
        assert_eq!(run_back(&bytes, 5), 3);
        assert_eq!(run_back(&bytes, 2), 0);
        assert_eq!(run_back(&bytes, 7), 0);
    }
}
