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
//! A large mapped file is walked on all cores, cut as `check` cuts it: each
//! segment's walk counts once the walk before it has stopped exactly on its
//! start (a walk stops at the first record at or past its segment's end
//! that is not damaged). Where a walk resynced past the next segment's
//! start, that segment is walked again from where it stopped, so the outcome
//! is the sequential walk's whatever the cuts.
//!
//! What is kept is copied as stored: every record outside the spans, byte
//! for byte (a key with its expiry, LRU/LFU and metadata; aux fields,
//! functions, module data). The database selectors and size hints are
//! written anew: a selector may have been lost in a span, and the hints
//! no longer count the same keys. The file ends with a fresh checksum.
//!
//! A key the walk keeps twice in one database (a block of records copied
//! over the damage from elsewhere in the file, which the server would
//! refuse) is kept once: the copy in the shortest run of records between
//! spans is dropped, and the report names it.

use crate::cmd::check::KeyValidator;
use crate::error::{Error, ErrorKind, Result};
use crate::event::reader::Forker;
use crate::event::segment::Segment;
use crate::event::{Event, RdbReader, ReaderOptions};
use crate::format::{opcode, Dialect};
use crate::input::Input;
use crate::source::duplicates::{self, KeyHashStore, KeyHashes};
use rayon::prelude::*;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

/// Records that must frame and pass in a row after an offset for reading
/// to resume there.
const SYNC_RECORDS: usize = 32;
/// They must lie within this many bytes of it (a larger value after a
/// span delays the resync to the record after it, losing that one).
const SYNC_SPAN: usize = 16 << 20;
/// Mapped pages behind a segment's walk are handed back in steps of this
/// many bytes.
const RELEASE_STEP: u64 = 8 << 20;
/// Segments per thread, as `check` cuts a file.
const SEGMENTS_PER_THREAD: usize = 4;

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
    /// `check` faults here too. Not so for one record of a single repeated
    /// byte (`00 00 00` is the empty string key holding an empty string,
    /// which a server may write): taken for zeroed bytes only where the run
    /// goes on around it.
    pub certain: bool,
}

/// A key read whole and passing its checks, but kept elsewhere already: the
/// server refuses a file holding a key twice in one database.
#[derive(Debug, Clone)]
pub struct DroppedCopy {
    pub db: u64,
    pub key: Vec<u8>,
    /// Where the dropped copy's record starts, and the kept one's.
    pub offset: u64,
    pub kept_at: u64,
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
    pub dropped_copies: Vec<DroppedCopy>,
    /// The header's bytes, kept as stored.
    header_end: u64,
    /// What the output holds after the header, in file order.
    pieces: Vec<Piece>,
}

/// Records kept, contiguous in the input.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Piece {
    start: u64,
    end: u64,
    db: PieceDb,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum PieceDb {
    /// Not keys: aux fields, functions, module data (no selector before them).
    Other,
    Key(u64),
    /// Keys a segment read before its first selector: in the database the
    /// walk before it ended in.
    Inherited,
}

/// Walk the RDB at `path` past its damage: what [`write()`] will keep of it.
pub fn walk(path: &Path, reader_opts: ReaderOptions) -> Result<Resynced> {
    let name: Arc<Path> = path.into();
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
    let walk = Walk {
        forker: forker.clone(),
        name: name.clone(),
        // RDB 5+ ends with the EOF opcode and 8 bytes of checksum: a record
        // that starts among them was read from damage (a changed EOF opcode
        // reads as records made of the checksum). A record before them may
        // run to the end: the file may have been cut right after it.
        trailer_start: if dialect == Dialect::Valkey || version >= 5 { all.len().saturating_sub(9) } else { all.len() }
            as u64,
    };
    let header_end = reader.offset();
    let segments = crate::event::segment::split(&reader, rayon::current_num_threads() * SEGMENTS_PER_THREAD);
    let mut readers = vec![reader];
    readers.extend(segments[1..].iter().filter_map(|s| forker.at(s.start)));
    if readers.len() != segments.len() {
        return Err(unsupported("a segment start past the file's end"));
    }
    let results: Vec<Result<SegmentWalk>> = readers
        .into_par_iter()
        .zip(segments.par_iter())
        .enumerate()
        .map(|(i, (reader, seg))| walk.segment(reader, *seg, (i == 0).then_some(0)))
        .collect();
    let store = KeyHashStore::new();
    let mut walked = Resynced { end: all.len() as u64, header_end, ..Resynced::default() };
    let mut db = 0u64;
    let mut reached = header_end;
    for (seg, result) in segments.iter().zip(results) {
        if seg.end.is_some_and(|end| reached >= end) {
            // A span took the walk past this whole segment.
            continue;
        }
        let part = if reached == seg.start {
            result?
        } else {
            // The walk before resynced past this segment's start: walk the
            // rest of it again from where that one stopped.
            let Some(reader) = forker.at(reached) else { break };
            walk.segment(reader, Segment { start: reached, end: seg.end }, Some(db))?
        };
        let (part_reached, part_end) = (part.reached, part.end);
        part.absorb_into(&mut walked, &mut db, &store);
        reached = part_reached;
        if let Some(end) = part_end {
            walked.end = end;
            break;
        }
    }
    walked.drop_copies(&forker, &store)?;
    Ok(walked)
}

/// Write what `walked` kept of the RDB at `path` to `out`: its header as
/// stored, the records outside the damaged spans, a fresh EOF and checksum.
pub fn write(path: &Path, walked: &Resynced, out: &mut dyn Write) -> Result<()> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(e).in_file(&path.into()))?;
    walked.write(&file, out)
}

/// A record's bytes: `start..end`.
type Range = (u64, u64);

/// What every segment's walk shares.
struct Walk<'s> {
    forker: Forker<'s>,
    name: Arc<Path>,
    trailer_start: u64,
}

/// What one segment's walk kept and lost.
struct SegmentWalk {
    pieces: Vec<Piece>,
    spans: Vec<LostSpan>,
    keys_kept: u64,
    records_kept: u64,
    /// The first record not taken: at or past the segment's end, or the
    /// file's end.
    reached: u64,
    /// Where the RDB ended, when this walk read its EOF.
    end: Option<u64>,
    /// The database the walk ended in, if it met a selector.
    last_db: Option<u64>,
    store: Arc<KeyHashStore>,
    /// Kept keys' name hashes: before the first selector (database not
    /// known yet), and after it.
    head: KeyHashes,
    body: KeyHashes,
}

impl SegmentWalk {
    fn push(&mut self, start: u64, end: u64, db: PieceDb) {
        match self.pieces.last_mut() {
            Some(last) if last.end == start && last.db == db => last.end = end,
            _ => self.pieces.push(Piece { start, end, db }),
        }
    }

    /// Add this segment's findings to the file's, its keys before its first
    /// selector being in `db`; `db` becomes the database it ended in.
    fn absorb_into(mut self, walked: &mut Resynced, db: &mut u64, store: &KeyHashStore) {
        for piece in &mut self.pieces {
            if piece.db == PieceDb::Inherited {
                piece.db = PieceDb::Key(*db);
            }
        }
        for piece in self.pieces {
            match walked.pieces.last_mut() {
                Some(last) if last.end == piece.start && last.db == piece.db => last.end = piece.end,
                _ => walked.pieces.push(piece),
            }
        }
        walked.spans.extend(self.spans);
        walked.keys_kept += self.keys_kept;
        walked.records_kept += self.records_kept;
        self.head.rebase(*db);
        self.body.flush();
        store.absorb_store(&self.store);
        *db = self.last_db.unwrap_or(*db);
    }
}

impl<'s> Walk<'s> {
    /// Walk from `reader`'s position to the first record at or past the
    /// segment's end that is not damaged (or to the RDB's end), in database
    /// `db` (`None`: not known until a selector).
    fn segment(&self, mut reader: RdbReader<'s>, seg: Segment, db: Option<u64>) -> Result<SegmentWalk> {
        let (forker, all) = (&self.forker, self.forker.bytes());
        let store = KeyHashStore::for_segment();
        let mut w = SegmentWalk {
            pieces: Vec::new(),
            spans: Vec::new(),
            keys_kept: 0,
            records_kept: 0,
            reached: seg.start,
            end: None,
            last_db: None,
            head: KeyHashes::deferred(&store),
            body: KeyHashes::feeding(&store),
            store,
        };
        let mut db = db;
        let mut validator = KeyValidator::default();
        // The last key kept, taken only once the record after it is judged:
        // damage that overwrote a run of one byte (a zeroed page) may have
        // begun inside it, where nothing else can tell.
        let mut held: Option<Held> = None;
        let mut released = seg.start;
        let mut certain = true;
        loop {
            let start = reader.offset();
            if start - released >= RELEASE_STEP {
                reader.release(released, start);
                released = start;
            }
            let step = match reader.next() {
                Ok(Some(Event::Key(k))) => match validator.check(&k) {
                    Ok(loads) => Step::Key { loads, name: duplicates::name_hash(&k.key) },
                    Err(e) => Step::Fault(e.key(&k.key).at(start), Some(k.key.to_vec())),
                },
                Ok(Some(Event::SelectDb { db: n })) => Step::Select(n),
                Ok(Some(Event::ResizeDb { .. })) => Step::Skip,
                Ok(Some(Event::End { .. }) | None) => Step::End,
                Ok(Some(Event::HashTemplate { .. })) => {
                    let why = "hash templates: resync is not built for them";
                    return Err(Error::new(ErrorKind::Unsupported(why)).in_file(&self.name));
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
                _ if start >= self.trailer_start => {
                    let e = Error::new(ErrorKind::BadEncoding("a record among the checksum's bytes")).at(start);
                    Step::Fault(e, None)
                }
                // Bytes of one value (zeros, most often) frame as records of
                // empty strings, which no writer puts there.
                _ if record.len() > 1 && record.iter().all(|&b| b == record[0]) => {
                    let e = Error::new(ErrorKind::BadEncoding("a run of one byte value where a record should be"));
                    let run = run_back(all, start) + run_forward(all, start);
                    certain = run > record.len() as u64;
                    Step::Fault(e.at(start), None)
                }
                _ => step,
            };
            if !matches!(step, Step::Fault(..)) {
                if let Some(h) = held.take() {
                    h.take(&mut w);
                }
                // The next segment's walk goes on from here.
                if seg.end.is_some_and(|e| start >= e) && !matches!(step, Step::End) {
                    w.reached = start;
                    break;
                }
            }
            match step {
                Step::Key { loads, name } => held = Some(Held { start, end, db, loads, name }),
                Step::Record => {
                    w.push(start, end, PieceDb::Other);
                    w.records_kept += 1;
                }
                Step::Select(n) => {
                    db = Some(n);
                    w.last_db = db;
                }
                Step::Skip => {}
                Step::End => {
                    w.end = Some(end.max(start));
                    w.reached = end.max(start);
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
                            h.take(&mut w);
                        }
                    }
                    let resume = resync(forker, start + 1);
                    let span_end = resume.unwrap_or(all.len() as u64);
                    let selects_db = last_selector(&all[start as usize..span_end as usize]);
                    if let Some(n) = selects_db {
                        db = Some(n);
                        w.last_db = db;
                    }
                    w.spans.push(LostSpan {
                        start,
                        end: span_end,
                        error: error.in_file(&self.name),
                        first_key,
                        selects_db,
                        certain: std::mem::replace(&mut certain, true),
                    });
                    match resume.and_then(|at| forker.at(at)) {
                        Some(r) => reader = r,
                        None => {
                            w.reached = all.len() as u64;
                            break;
                        }
                    }
                }
            }
        }
        if let Some(h) = held.take() {
            h.take(&mut w);
        }
        reader.release(released, reader.offset().max(released));
        Ok(w)
    }
}

impl Resynced {
    /// Keep one copy of each key kept twice in one database (see the module
    /// docs): names are compared only for the hashes that repeat.
    fn drop_copies(&mut self, forker: &Forker<'_>, store: &KeyHashStore) -> Result<()> {
        let suspects = store.repeated()?;
        if suspects.is_empty() {
            return Ok(());
        }
        // Every kept copy of a suspect: (db, name) → record ranges.
        let mut copies: std::collections::HashMap<(u64, Vec<u8>), Vec<Range>> = Default::default();
        for piece in &self.pieces {
            let PieceDb::Key(db) = piece.db else { continue };
            let Some(mut reader) = forker.at(piece.start) else { continue };
            while reader.offset() < piece.end {
                let start = reader.offset();
                let key = match reader.next() {
                    Ok(Some(Event::Key(k))) if duplicates::is_suspect(&suspects, db, &k.key) => k.key.to_vec(),
                    Ok(Some(Event::Key(_))) => continue,
                    _ => break,
                };
                copies.entry((db, key)).or_default().push((start, reader.offset()));
            }
        }
        // Runs of records between spans, as (start, end).
        let mut bounds = vec![self.header_end];
        for s in &self.spans {
            bounds.extend([s.start, s.end]);
        }
        bounds.push(self.end);
        let run_len = |at: u64| {
            let i = bounds.partition_point(|&b| b <= at);
            bounds.get(i).copied().unwrap_or(self.end) - bounds[i.saturating_sub(1)]
        };
        let mut dropped: Vec<Range> = Vec::new();
        for ((db, key), mut at) in copies.into_iter().filter(|(_, at)| at.len() > 1) {
            // The copy in the longest run stays (the first of equals).
            at.sort_by_key(|&(start, _)| (std::cmp::Reverse(run_len(start)), start));
            let kept_at = at[0].0;
            for &(start, end) in &at[1..] {
                dropped.push((start, end));
                self.dropped_copies.push(DroppedCopy { db, key: key.clone(), offset: start, kept_at });
            }
        }
        self.dropped_copies.sort_by_key(|d| d.offset);
        dropped.sort_unstable();
        for (start, end) in dropped {
            let i = self.pieces.partition_point(|p| p.end <= start);
            let piece = self.pieces[i];
            let rest = [Piece { end: start, ..piece }, Piece { start: end, ..piece }];
            self.pieces.splice(i..=i, rest.into_iter().filter(|p| p.start < p.end));
            self.keys_kept -= 1;
            self.records_kept -= 1;
        }
        Ok(())
    }

    /// The output: the header as stored, the pieces (a selector before keys
    /// of another database than the last), the EOF opcode and a fresh
    /// checksum. The bytes are read from `file` (the input), not its map:
    /// the walk handed the mapped pages back, and a write from unmapped
    /// pages faults them in one at a time inside the kernel (8× slower
    /// than reading them, measured on 1 GB).
    fn write(&self, file: &std::fs::File, out: &mut dyn Write) -> Result<()> {
        let mut out = Output { out, digest: crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc64Redis) };
        let mut buf = vec![0u8; COPY_STEP];
        out.copy(file, &mut buf, 0, self.header_end)?;
        let mut current = None;
        for piece in &self.pieces {
            if let PieceDb::Key(db) = piece.db {
                if current != Some(db) {
                    current = Some(db);
                    let mut record = vec![opcode::SELECTDB];
                    crate::output::rdb::encode::put_len(&mut record, db);
                    out.put(&record)?;
                }
            }
            out.copy(file, &mut buf, piece.start, piece.end)?;
        }
        out.put(&[opcode::EOF])?;
        let crc = out.digest.finalize();
        out.out.write_all(&crc.to_le_bytes()).map_err(Error::io)
    }
}

/// The output being written, and the checksum of what it holds so far.
struct Output<'w> {
    out: &'w mut dyn Write,
    digest: crc_fast::Digest,
}

impl Output<'_> {
    fn put(&mut self, bytes: &[u8]) -> Result<()> {
        self.digest.update(bytes);
        self.out.write_all(bytes).map_err(Error::io)
    }

    /// Bytes `start..end` of the input `file`, through `buf`.
    fn copy(&mut self, file: &std::fs::File, buf: &mut [u8], start: u64, end: u64) -> Result<()> {
        use std::os::unix::fs::FileExt;
        let mut at = start;
        while at < end {
            let n = (end - at).min(buf.len() as u64) as usize;
            file.read_exact_at(&mut buf[..n], at).map_err(Error::io)?;
            self.put(&buf[..n])?;
            at += n as u64;
        }
        Ok(())
    }
}

/// Bytes read and written at a time when the output is written.
const COPY_STEP: usize = 1 << 20;

/// Bytes a run of one value must reach into the key before a fault for
/// that key to count as damaged too (a key may end in a few equal bytes).
const MIN_RUN_INTO: u64 = 4;

/// How many bytes from `at` on equal the byte at `at`.
fn run_forward(all: &[u8], at: u64) -> u64 {
    let Some(&b) = all.get(at as usize) else { return 0 };
    all[at as usize..].iter().take_while(|&&x| x == b).count() as u64
}

/// How many bytes before `at` equal the byte at `at`.
fn run_back(all: &[u8], at: u64) -> u64 {
    let Some(&b) = all.get(at as usize) else { return 0 };
    all[..at as usize].iter().rev().take_while(|&&x| x == b).count() as u64
}

/// A key record kept, not yet taken.
struct Held {
    start: u64,
    end: u64,
    /// `None`: before the segment's first selector.
    db: Option<u64>,
    loads: bool,
    name: u64,
}

impl Held {
    fn take(self, w: &mut SegmentWalk) {
        match self.db {
            Some(db) => {
                w.push(self.start, self.end, PieceDb::Key(db));
                if self.loads {
                    w.body.push_hashed(db, self.name);
                }
            }
            None => {
                w.push(self.start, self.end, PieceDb::Inherited);
                if self.loads {
                    w.head.push_hashed(0, self.name);
                }
            }
        }
        w.keys_kept += u64::from(self.loads);
        w.records_kept += 1;
    }
}

enum Step {
    /// A key that passed; `loads`: not an empty collection (which is kept
    /// as stored, and which the server skips).
    Key {
        loads: bool,
        name: u64,
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
