//! Frame first, decode in parallel: the reader frames key records on one thread
//! (cheap: it only walks lengths) into bounded batches, while the previous batch
//! is decoded on all cores in chunks. Results are merged in file order, so
//! output and the first error reported are the same on every run.
//!
//! Mapped input is never copied: batch records point into the map. Pipe input
//! copies each record into the batch's arena (the pipe window moves on), except
//! a record the window holds in a spill file, whose map the batch shares.

use super::{Event, KeyAttrs, KeyEvent, RdbReader};
use crate::error::{Error, ErrorKind, Integrity, Result};
use crate::input::SharedBytes;
use crate::token::value::Templates;
use rayon::prelude::*;
use std::sync::Arc;

/// Keys per batch and bytes per batch: bounded memory, enough work to share.
const BATCH_KEYS: usize = 16 * 1024;
const BATCH_BYTES: usize = 4 << 20;
/// Keys per parallel task.
const CHUNK_KEYS: usize = 256;
/// Records larger than this are not handed to workers, whose output would have
/// to hold the whole value: they reach the merging side alone, in order, so a
/// consumer can stream them (see [`Merged::Serial`]).
const BIG_RECORD: usize = 4 << 20;

/// What the merging side receives, in file order.
pub enum Merged<'k, A> {
    /// The accumulator of a chunk of ordinary keys.
    Chunk(A),
    /// One big key, to be handled on the merging thread.
    Serial(&'k KeyEvent<'k>),
}

/// Where one framed key record is.
struct Framed {
    /// Absolute offset of the record.
    offset: u64,
    db: u64,
    /// Position in the map (= offset) or in the arena, or index in the
    /// batch's shared records.
    pos: usize,
    shared: bool,
    len: usize,
    /// What the framing learnt, so workers need not parse the record again.
    /// Positions are relative to the record's first byte.
    ty: crate::format::Type,
    key: KeyBytes,
    value: (usize, usize),
    key_meta: Option<(usize, usize)>,
    /// The key's attributes but its metadata (`key_meta` above holds where).
    attrs: KeyAttrs<'static>,
}

/// A key name: a range of the record, or decoded (integer or LZF-encoded names).
enum KeyBytes {
    InRecord(usize, usize),
    Decoded(Vec<u8>),
}

/// Position of `inner` relative to `anchor`, where `anchor` sits at
/// `anchor_pos` in the record and both lie in the same record.
fn rel(inner: &[u8], anchor: &[u8], anchor_pos: usize) -> (usize, usize) {
    let pos = anchor_pos + inner.as_ptr() as usize - anchor.as_ptr() as usize;
    (pos, inner.len())
}

impl Framed {
    fn new(pos: usize, len: usize, k: &KeyEvent<'_>) -> Framed {
        // Both the key name and the metadata precede the value in the record.
        let value_pos = (k.value.offset - k.offset) as usize;
        let key = match &k.key {
            std::borrow::Cow::Borrowed(b) => {
                let (p, l) = rel(b, k.value.raw, value_pos);
                KeyBytes::InRecord(p, l)
            }
            std::borrow::Cow::Owned(v) => KeyBytes::Decoded(v.clone()),
        };
        Framed {
            offset: k.offset,
            db: k.db,
            pos,
            len,
            shared: false,
            ty: k.value.ty,
            key,
            value: (value_pos, k.value.raw.len()),
            key_meta: k.attrs.key_meta.map(|m| rel(m, k.value.raw, value_pos)),
            attrs: k.attrs.without_meta(),
        }
    }
}

struct Batch<'s> {
    mapped: Option<&'s [u8]>,
    /// `mapped` is a file-backed map (not a slice of memory).
    file_map: bool,
    arena: Vec<u8>,
    /// Records held in a pipe's spill files, and their total size.
    shared: Vec<SharedBytes>,
    shared_bytes: usize,
    keys: Vec<Framed>,
    /// The hash templates its keys see (RDB 15), shared copy-on-write.
    templates: Option<Arc<Templates>>,
    /// Offset just past the last record framed into this batch.
    end: u64,
}

impl<'s> Batch<'s> {
    /// A batch reusing a spent one's buffers (`keys` grows to thousands of
    /// records: growing it afresh for every batch would copy it again and
    /// again).
    fn new(mapped: Option<&'s [u8]>, file_map: bool, spare: Option<Batch<'_>>) -> Self {
        let (mut arena, mut keys) = spare.map(|b| (b.arena, b.keys)).unwrap_or_default();
        arena.clear();
        keys.clear();
        Batch {
            mapped,
            file_map,
            arena,
            shared: Vec::new(),
            shared_bytes: 0,
            keys,
            templates: None,
            end: 0,
        }
    }

    fn bytes(&self, f: &Framed) -> &[u8] {
        if f.shared {
            return &self.shared[f.pos];
        }
        let all = self.mapped.unwrap_or(&self.arena);
        &all[f.pos..f.pos + f.len]
    }

    /// Re-frame a record (it framed cleanly before) into a key event.
    fn key_event<'b>(&'b self, f: &'b Framed) -> Option<KeyEvent<'b>> {
        let bytes = self.bytes(f);
        let range = |(p, l): (usize, usize)| bytes.get(p..p + l);
        let key = match &f.key {
            KeyBytes::InRecord(p, l) => std::borrow::Cow::Borrowed(range((*p, *l))?),
            KeyBytes::Decoded(v) => std::borrow::Cow::Borrowed(&v[..]),
        };
        Some(KeyEvent {
            offset: f.offset,
            db: f.db,
            key,
            attrs: KeyAttrs {
                key_meta: match f.key_meta {
                    Some(r) => Some(range(r)?),
                    None => None,
                },
                ..f.attrs
            },
            value: super::Value {
                ty: f.ty,
                raw: range(f.value)?,
                offset: f.offset + f.value.0 as u64,
                templates: self.templates.as_deref()?,
                file_map: match f.shared {
                    true => Some(&self.shared[f.pos][..]),
                    false => self.mapped.filter(|_| self.file_map),
                },
            },
        })
    }
}

/// What one chunk produced: the accumulator and the error that stopped it, or
/// the index of a big key left for the merging side.
struct ChunkResult<A> {
    acc: A,
    error: Option<Error>,
    serial: Option<usize>,
}

/// Split a batch's keys into parallel chunks; every big record is a chunk of
/// its own, flagged serial.
fn spans(keys: &[Framed]) -> Vec<(std::ops::Range<usize>, bool)> {
    let mut spans = Vec::new();
    let mut start = 0;
    for (i, f) in keys.iter().enumerate() {
        if f.len > BIG_RECORD {
            if start < i {
                spans.push((start..i, false));
            }
            spans.push((i..i + 1, true));
            start = i + 1;
        } else if i + 1 - start == CHUNK_KEYS {
            spans.push((start..i + 1, false));
            start = i + 1;
        }
    }
    if start < keys.len() {
        spans.push((start..keys.len(), false));
    }
    spans
}

/// Frame events into `batch` until it is full. Non-key events go to
/// `on_event` in order. Returns `false` when the file has ended.
fn fill<'s>(
    reader: &mut RdbReader<'s>,
    batch: &mut Batch<'s>,
    on_event: &mut (dyn FnMut(&Event<'_>, u64) -> Result<()> + Send),
) -> Result<bool> {
    // Spilled records count too: the disk they hold stays bounded.
    while batch.keys.len() < BATCH_KEYS && batch.arena.len() + batch.shared_bytes < BATCH_BYTES {
        let at = reader.offset();
        let mut framed = match reader.next()? {
            None => return Ok(false),
            Some(Event::Key(k)) => Framed::new(0, 0, &k),
            Some(ev) => {
                let new_template = matches!(ev, Event::HashTemplate { .. });
                on_event(&ev, at)?;
                if new_template && !batch.keys.is_empty() {
                    // Keys framed so far keep the registry they saw.
                    return Ok(true);
                }
                continue;
            }
        };
        // The registry the batch's keys see (taken at its first key): only
        // template records change it, and those end a batch.
        batch.templates.get_or_insert_with(|| Arc::clone(reader.templates()));
        let record = reader.last_record();
        framed.len = record.len();
        batch.end = framed.offset + record.len() as u64;
        if batch.mapped.is_some() {
            framed.pos = framed.offset as usize;
        } else if let Some(shared) = reader.last_record_shared() {
            framed.pos = batch.shared.len();
            framed.shared = true;
            batch.shared_bytes += shared.len();
            batch.shared.push(shared);
        } else {
            batch.arena.extend_from_slice(record);
            framed.pos = batch.arena.len() - record.len();
        }
        let big_shared = framed.shared && framed.len > BIG_RECORD;
        batch.keys.push(framed);
        // A batch holds at most one big spilled record.
        if big_shared || batch.mapped.is_some() && batch.end - batch.keys[0].offset >= BATCH_BYTES as u64 {
            break;
        }
    }
    Ok(true)
}

/// Decode a batch on all cores, in chunks.
fn process<A, W>(batch: &Batch<'_>, init: &(dyn Fn() -> A + Sync), work: &W) -> Vec<ChunkResult<A>>
where
    A: Send,
    W: Fn(&mut A, &KeyEvent<'_>) -> Result<()> + Sync,
{
    spans(&batch.keys)
        .into_par_iter()
        .map(|(range, serial)| {
            let mut acc = init();
            if serial {
                return ChunkResult { acc, error: None, serial: Some(range.start) };
            }
            for f in &batch.keys[range] {
                let Some(key) = batch.key_event(f) else {
                    return ChunkResult { acc, error: Some(changed(f)), serial: None };
                };
                if let Err(e) = work(&mut acc, &key) {
                    return ChunkResult { acc, error: Some(e), serial: None };
                }
            }
            ChunkResult { acc, error: None, serial: None }
        })
        .collect()
}

/// A record that framed cleanly once and not the second time: the input
/// changed under us (a file rewritten while mapped).
fn changed(f: &Framed) -> Error {
    Error::new(ErrorKind::Integrity(Integrity::RecordChanged)).at(f.offset)
}

/// Hand one processed batch's results to `merge`, in file order.
fn merge_batch<A>(
    batch: &Batch<'_>,
    results: Vec<ChunkResult<A>>,
    merge: &mut impl FnMut(Merged<'_, A>) -> Result<()>,
) -> Result<()> {
    for r in results {
        if let Some(i) = r.serial {
            let f = &batch.keys[i];
            let key = batch.key_event(f).ok_or_else(|| changed(f))?;
            merge(Merged::Serial(&key))?;
            continue;
        }
        merge(Merged::Chunk(r.acc))?;
        if let Some(e) = r.error {
            return Err(e);
        }
    }
    Ok(())
}

/// Run `work` on every key of the file, in parallel, and `merge` the per-chunk
/// accumulators in file order; big keys reach `merge` themselves, in order (see
/// [`Merged`]). Non-key events reach `on_event` in order (with the offset of
/// their record), on the framing thread. `progress` hears the offset reached
/// after each batch. The first error in file order wins.
///
/// Three batches are in flight: while the pool decodes one and frames the
/// next, the calling thread merges the one before. A merge that costs as much
/// as a share of the decoding (a summary per key) then runs beside it instead
/// of leaving the cores idle, and `merge` need not be `Send`.
pub fn for_each_key<A, W>(
    reader: &mut RdbReader<'_>,
    mut on_event: impl FnMut(&Event<'_>, u64) -> Result<()> + Send,
    init: impl Fn() -> A + Sync,
    work: W,
    mut merge: impl FnMut(Merged<'_, A>) -> Result<()>,
    mut progress: impl FnMut(u64),
) -> Result<()>
where
    A: Send,
    W: Fn(&mut A, &KeyEvent<'_>) -> Result<()> + Sync,
{
    let mapped = reader.mapped();
    let file_map = reader.is_file_map();
    let mut current = Batch::new(mapped, file_map, None);
    // A framing error is reported only after the keys framed before it are
    // merged: those come first in the file.
    let mut framing_error = None;
    let mut more = fill(reader, &mut current, &mut on_event).unwrap_or_else(|e| {
        framing_error = Some(e);
        false
    });
    // Decoded, not yet merged.
    let mut pending: Option<(Batch<'_>, Vec<ChunkResult<A>>)> = None;
    // The batch merged last, whose buffers the next one takes over.
    let mut spare = None;
    loop {
        let mut next = Batch::new(mapped, file_map, spare.take());
        let mut decoded = Vec::new();
        let mut framed = Ok(false);
        let merged = rayon::in_place_scope(|scope| {
            scope.spawn(|_| {
                (decoded, framed) = rayon::join(
                    || process(&current, &init, &work),
                    || if more { fill(reader, &mut next, &mut on_event) } else { Ok(false) },
                );
            });
            pending.take().map(|(batch, results)| merge_batch(&batch, results, &mut merge).map(|()| batch))
        });
        if let Some(batch) = merged.transpose()? {
            reader.release_before(batch.end);
            progress(batch.end);
            spare = Some(batch);
        }
        if !more {
            // No batch was framed after this one.
            merge_batch(&current, decoded, &mut merge)?;
            if let Some(e) = framing_error.take() {
                return Err(e);
            }
            reader.release_before(current.end);
            // The reader has read the trailer too: the whole input is done.
            progress(current.end.max(reader.offset()));
            return Ok(());
        }
        pending = Some((current, decoded));
        more = framed.unwrap_or_else(|e| {
            framing_error = Some(e);
            false
        });
        current = next;
    }
}
