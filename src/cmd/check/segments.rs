//! `check` of a large mapped RDB on all cores: the file is cut into segments
//! (`event::segment`), each read and checked by its own reader, and the
//! results are merged in file order. A segment counts only once the reader
//! before it has landed exactly on its start; if one did not (a split point
//! guessed wrong), the first segment's reader, which read from the true
//! start, simply carries on alone.

use super::{check_key, FileFacts, KeyRule, KeyStats};
use crate::error::{Error, ErrorKind, Phase, Result};
use crate::event::segment::Segment;
use crate::event::{Checksum, Event, RdbReader};
use crate::progress::Progress;
use crate::source::duplicates::KeyHashStore;
use rayon::prelude::*;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Mapped pages behind a reader are released in steps of this many bytes.
const RELEASE_STEP: u64 = 8 << 20;

/// What reading one segment found.
struct SegmentResult {
    /// Keys read after the segment's first SELECTDB (all of them in the first
    /// segment, whose database is known from the start).
    stats: KeyStats,
    /// Keys before it, in the database the previous segment ended in.
    head: KeyStats,
    last_db: Option<u64>,
    facts: FileFacts,
    /// Offset of the first record not read.
    reached: u64,
    digest: Option<crc_fast::Digest>,
    /// The EOF record's checksum as stored (not judged by a forked reader).
    end: Option<Checksum>,
    /// Bytes after the checksum (last segment only).
    trailing: Option<u64>,
    error: Option<Error>,
    /// The reader stopped at a record that needs what came before the
    /// segment (hash templates): the segment cannot count.
    needs_history: bool,
    /// The reader ended holding key attributes for a key beyond its end,
    /// which the next segment's reader does not know: that cut cannot count.
    carries_key_attributes: bool,
    /// The hashes its keys left for the duplicate key check.
    key_hashes: Arc<KeyHashStore>,
}

/// How a segmented check ended.
pub(super) enum Outcome {
    /// The whole file was checked: `Ok(trailing bytes after the checksum)`.
    Done(Result<u64>),
    /// A split point was not confirmed: the first segment's results are in,
    /// and its reader stands at the end of what it read; the rest must be read
    /// sequentially.
    Unconfirmed,
}

/// Read one segment with `reader`, checking every key.
fn run(reader: &mut RdbReader<'_>, seg: Segment, db_known: bool, rule: KeyRule, done: &Shared<'_>) -> SegmentResult {
    // Its own: a segment that does not count must leave no key behind.
    let store = KeyHashStore::for_segment();
    let header = reader.header();
    let mut r = SegmentResult {
        stats: KeyStats::feeding(&store),
        head: KeyStats::deferred(&store),
        key_hashes: Arc::clone(&store),
        last_db: None,
        // Aux fields are judged against the header's version.
        facts: FileFacts {
            dialect: header.map(|h| h.dialect),
            version: header.map(|h| h.version),
            ..Default::default()
        },
        reached: seg.start,
        digest: None,
        end: None,
        trailing: None,
        error: None,
        needs_history: false,
        carries_key_attributes: false,
    };
    let mut db_known = db_known;
    let mut released = seg.start;
    loop {
        if seg.end.is_some_and(|end| reader.offset() >= end) {
            break;
        }
        let at = reader.offset();
        let outcome = match reader.next() {
            Ok(None) => break,
            Ok(Some(Event::Key(key))) => check_key(if db_known { &mut r.stats } else { &mut r.head }, &key, rule),
            Ok(Some(Event::SelectDb { db })) => {
                db_known = true;
                r.last_db = Some(db);
                Ok(())
            }
            Ok(Some(Event::End { checksum })) => {
                // The checksum covers everything before its own 8 bytes.
                let trailer = if checksum == Checksum::Absent { 0 } else { 8 };
                r.digest = reader.digest_since_start(reader.offset() - trailer);
                r.end = Some(checksum);
                Ok(())
            }
            Ok(Some(ev)) => r.facts.on_event(&ev, at),
            Err(e) => Err(e),
        };
        if let Err(e) = outcome {
            r.error = Some(e);
            break;
        }
        let at = reader.offset();
        if at - released >= RELEASE_STEP {
            reader.release(released, at);
            done.add(at - released);
            released = at;
        }
    }
    r.reached = reader.offset();
    r.needs_history = reader.needs_history();
    r.carries_key_attributes = reader.carries_key_attributes();
    reader.release(released, r.reached);
    done.add(r.reached - released);
    if r.end.is_none() {
        r.digest = reader.digest_since_start(r.reached);
    }
    if r.end.is_some() && r.error.is_none() {
        match reader.has_trailing_data() {
            Ok(true) => r.trailing = Some(reader.mapped().map_or(0, |m| m.len() as u64) - reader.offset()),
            Ok(false) => r.trailing = Some(0),
            Err(e) => r.error = Some(e),
        }
    }
    r
}

/// Bytes read by all segments, for the progress bar.
struct Shared<'p> {
    done: AtomicU64,
    progress: &'p Progress,
}

impl Shared<'_> {
    fn add(&self, n: u64) {
        let total = self.done.fetch_add(n, Ordering::Relaxed) + n;
        self.progress.set(total);
    }
}

/// Check `segments` of the file `reader` (header read, standing at the first
/// segment's start) in parallel, merging into `facts` and `stats`.
pub(super) fn check(
    reader: &mut RdbReader<'_>,
    segments: &[Segment],
    facts: &mut FileFacts,
    stats: &mut KeyStats,
    rule: KeyRule,
    store: &Arc<KeyHashStore>,
    progress: &Progress,
) -> Outcome {
    let shared = Shared { done: AtomicU64::new(reader.offset()), progress };
    let Some(forker) = reader.forker() else {
        return Outcome::Unconfirmed;
    };
    let mut forks: Vec<RdbReader<'_>> = segments[1..].iter().filter_map(|s| forker.at(s.start)).collect();
    if forks.len() + 1 != segments.len() {
        return Outcome::Unconfirmed;
    }
    let (first, rest) = rayon::join(
        || run(reader, segments[0], true, rule, &shared),
        || forks.par_iter_mut().zip(&segments[1..]).map(|(f, s)| run(f, *s, false, rule, &shared)).collect::<Vec<_>>(),
    );
    let results: Vec<SegmentResult> = std::iter::once(first).chain(rest).collect();
    // The segments that count: each confirmed by the one before it and read
    // to its end without needing earlier records, up to the first that failed
    // or read the EOF record.
    let mut counted = 0;
    for (i, r) in results.iter().enumerate() {
        let confirmed = |p: &SegmentResult| segments[i - 1].confirms(p.reached) && !p.carries_key_attributes;
        if (i > 0 && !confirmed(&results[i - 1])) || r.needs_history {
            break;
        }
        counted = i + 1;
        if r.error.is_some() || r.end.is_some() {
            break;
        }
    }
    let last = &results[counted - 1];
    if last.error.is_none() && last.end.is_none() {
        counted = 1;
    }
    let mut digest = crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc64Redis);
    let mut db = 0;
    for r in results.into_iter().take(counted) {
        facts.absorb(r.facts);
        let mut head = r.head;
        head.rebase_db(db);
        stats.merge(head);
        stats.merge(r.stats);
        store.absorb_store(&r.key_hashes);
        if let Some(e) = r.error {
            return Outcome::Done(Err(e));
        }
        if let Some(d) = &r.digest {
            digest.combine(d);
        }
        db = r.last_db.unwrap_or(db);
        if let Some(checksum) = r.end {
            let verdict = judge_checksum(checksum, digest.finalize(), r.reached);
            let ended = verdict.and_then(|c| facts.on_event(&Event::End { checksum: c }, r.reached));
            return Outcome::Done(ended.map(|()| r.trailing.unwrap_or(0)));
        }
    }
    Outcome::Unconfirmed
}

/// The verdict on a stored checksum, given the CRC-64 of everything before it.
fn judge_checksum(stored: Checksum, computed: u64, reached: u64) -> Result<Checksum> {
    match stored {
        Checksum::Ok(s) if s != computed => {
            let at = reached - 8;
            Err(Error::new(ErrorKind::ChecksumMismatch { stored: s, computed }).at(at).doing(Phase::ReadingChecksum))
        }
        other => Ok(other),
    }
}
