//! Parallel framing of a mapped RDB. An RDB has no sync markers, so one
//! reader alone would have to frame the whole file. Instead the file is cut
//! into segments: for each cut, a reader forked at a nominal offset steps
//! forward byte by byte until `SYNC_RECORDS` records frame one after
//! another; the cut goes after them. Each segment can then be read by its own
//! thread.
//!
//! A split point found this way is only a guess until it is confirmed: the
//! reader of the previous segment, which started from a known boundary, must
//! land exactly on it. Consumers check that ([`Segment::confirms`]) and, if a
//! guess was wrong (32 bogus records that never fall in step with the real
//! ones: not seen in files a server wrote), fall back to reading
//! sequentially, so the verdict never depends on the speculation.

use super::reader::Forker;
use super::{Event, RdbReader};
use crate::format::{opcode, Dialect, Type};
use rayon::prelude::*;

/// Records that must follow a candidate split point.
const SYNC_RECORDS: usize = 32;
/// They must lie within this many bytes of it: a wrong guess can then cost
/// no more than framing this much.
const SYNC_SPAN: usize = 1 << 20;
/// How far past a nominal cut we look for a split point (a value larger than
/// this spanning the cut just makes the segment before it longer).
const SYNC_WINDOW: u64 = 4 << 20;

/// One segment of the file: `start..end`, read by a reader forked at `start`
/// (the first segment uses the reader that read the header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    pub start: u64,
    /// The next segment's start, or `None` for the last segment.
    pub end: Option<u64>,
}

impl Segment {
    /// Whether a reader of this segment that stopped at `reached` (the offset
    /// of the first record it did not read) landed on the next segment's start,
    /// confirming it.
    pub fn confirms(&self, reached: u64) -> bool {
        self.end == Some(reached)
    }
}

/// Cut `reader`'s file (mapped, header read, nothing else yet) into about
/// `wanted` segments. One segment (no parallelism) when the input is not
/// mapped, too small, or of a version whose records depend on earlier ones
/// (RDB 15 hash templates, and versions newer than we know).
pub fn split(reader: &RdbReader<'_>, wanted: usize) -> Vec<Segment> {
    let start = reader.offset();
    let single = vec![Segment { start, end: None }];
    let Some(forker) = reader.forker() else {
        return single;
    };
    let (all, header) = (forker.bytes(), forker.header());
    let independent = match header.dialect {
        // RDB 15's hash templates (and whatever newer versions hold) make a
        // record depend on earlier ones.
        Dialect::Redis => header.version < 15,
        Dialect::Valkey => header.version == crate::format::MAX_VALKEY_VERSION,
    };
    let len = all.len() as u64;
    let n = (wanted as u64).min(len / forker.options().segment_bytes.max(1));
    if !independent || n < 2 {
        return single;
    }
    let cuts: Vec<u64> = (1..n)
        .into_par_iter()
        .filter_map(|k| {
            let nominal = len / n * k;
            (nominal..(nominal + SYNC_WINDOW).min(len)).find_map(|p| synchronise(&forker, p))
        })
        .collect();
    let mut starts = vec![start];
    for c in cuts {
        // A cut found inside the previous one's search window repeats nothing.
        if c > *starts.last().unwrap_or(&0) {
            starts.push(c);
        }
    }
    let ends = starts.iter().skip(1).map(|&e| Some(e)).chain([None]);
    starts.iter().zip(ends).map(|(&start, end)| Segment { start, end }).collect()
}

/// Where records surely start, if they start at `offset`: after
/// [`SYNC_RECORDS`] records framed from there (framing walks every length of
/// every value, so this is already hard to fool). The cut is put *after*
/// them, not at `offset`: a wrong guess usually frames one bogus record that
/// skips over the rest of the value it landed in and then falls in step with
/// the real records, and two readers in step stay in step. `None` when the
/// records do not frame, or the file ends first (no segment worth having).
fn synchronise(forker: &Forker<'_>, offset: u64) -> Option<u64> {
    // Most bytes are neither a type nor an opcode: no reader needed to say so.
    let first = *forker.bytes().get(offset as usize)?;
    let opcode = first >= opcode::HASH_TEMPLATE || first == opcode::RE_RAM_LRU || first == opcode::RE_SLOT_NUM;
    if !opcode && Type::from_byte(first, forker.header().dialect).is_none() {
        return None;
    }
    let mut probe = forker.probe_at(offset, SYNC_SPAN)?;
    for _ in 0..SYNC_RECORDS {
        match probe.next() {
            // State that only the sequential reader can carry.
            Ok(Some(Event::HashTemplate { .. } | Event::End { .. })) => return None,
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => return None,
        }
    }
    Some(probe.offset())
}
