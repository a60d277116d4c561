//! Decoding framed values into their items (`rdbLoadObject`'s semantics), one
//! piece at a time into a [`Sink`], so a consumer never needs the whole
//! collection in memory at once. Structure is validated on the way (every blob
//! is walked with its integrity checks); semantic checks that need memory
//! (duplicates) belong to the consumers that want them (`cmd::check`).

mod stream;

use super::stream::{StreamId, StreamMeta};
use super::Value;
use crate::error::{Error, ErrorKind, Integrity, Phase, Result};
use crate::format::{self, Type};
use crate::token::length::{parse_len, parse_plain_len, Len};
use crate::token::string::{parse_str, parse_string_double, short_raw, RdbStr};
use crate::token::{intset, listpack, ziplist, zipmap, Item, TResult, TokenError};
use std::borrow::Cow;
use stream::decode_stream;

/// An array element's value: borrowed (`ArrayValue<&[u8]>`) in a piece,
/// owned (`ArrayValue<Vec<u8>>`) in an owned value (`event::value`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ArrayValue<B> {
    Bytes(B),
    Int(i64),
    Float(f64),
}

impl<B: AsRef<[u8]>> ArrayValue<B> {
    /// The same value, borrowed.
    pub fn borrowed(&self) -> ArrayValue<&[u8]> {
        match self {
            ArrayValue::Bytes(b) => ArrayValue::Bytes(b.as_ref()),
            ArrayValue::Int(i) => ArrayValue::Int(*i),
            ArrayValue::Float(f) => ArrayValue::Float(*f),
        }
    }

    /// The same value, owned.
    pub fn owned(&self) -> ArrayValue<Vec<u8>> {
        match self {
            ArrayValue::Bytes(b) => ArrayValue::Bytes(b.as_ref().to_vec()),
            ArrayValue::Int(i) => ArrayValue::Int(*i),
            ArrayValue::Float(f) => ArrayValue::Float(*f),
        }
    }
}

/// One piece of a value, in file order.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Piece<'b> {
    /// The whole value of a string key.
    Str(&'b [u8]),
    /// A list element or set member.
    Elem(Item<'b>),
    /// A sorted-set member and its score.
    Member {
        member: Item<'b>,
        score: f64,
    },
    /// A hash field, its value and its TTL if it has one.
    Field {
        field: Item<'b>,
        value: Item<'b>,
        expire_at_ms: Option<i64>,
    },
    /// Start of an array: element count and the insert cursor if one is stored.
    ArrayHeader {
        count: u64,
        cursor: Option<u64>,
    },
    ArrayElem {
        index: u64,
        value: ArrayValue<&'b [u8]>,
    },
    /// A module value kept raw: typed values up to and including their EOF opcode.
    Module {
        name: &'b str,
        encver: u64,
        raw: &'b [u8],
    },
    /// A live stream entry.
    StreamEntry {
        id: StreamId,
        fields: &'b [(Item<'b>, Item<'b>)],
    },
    /// Everything else a stream holds (after its entries).
    StreamMeta(&'b StreamMeta),
    /// How the value is stored, for a sink that asked ([`Sink::wants_layout`]).
    Layout(Layout),
}

/// How a value is stored where the file decides it and its items do not: a
/// server keeps quicklist nodes and stream listpacks as it reads them
/// (rdb.c `rdbLoadObject`), so their boundaries and sizes are the file's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// A quicklist node begins: the elements up to the next node are in it.
    /// `blob`: its encoding and bytes; `None` for a node holding one large
    /// element as is (a plain node, RDB 11+).
    ListNode { blob: Option<(BlobEncoding, usize)> },
    /// A stream node begins: its master ID (its key in the radix tree) and
    /// the bytes of its listpack, deleted entries included.
    StreamNode { master: StreamId, listpack_bytes: usize },
    /// The whole value is one blob of this encoding, which a server keeps
    /// as read when its limits allow (an intset stays as wide as it once
    /// grew; a ziplist keeps long back-lengths a cascade left).
    Blob { encoding: BlobEncoding, bytes: usize },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobEncoding {
    Intset,
    Ziplist,
    Listpack,
    /// Redis 7.4+: a hash listpack with a TTL per field (`listpackex`).
    ListpackEx,
}

/// Say what blob a value is, to a sink that asked.
fn blob_layout(sink: &mut dyn Sink, encoding: BlobEncoding, blob: &[u8]) -> Result<()> {
    if sink.wants_layout() {
        sink.piece(Piece::Layout(Layout::Blob { encoding, bytes: blob.len() }))?;
    }
    Ok(())
}

/// Receives the pieces of a value.
pub trait Sink {
    fn piece(&mut self, piece: Piece<'_>) -> Result<()>;

    /// Whether the scores of listpack and ziplist sorted sets are wanted. They
    /// are stored as text, which Redis never rejects (see `score_of`), so a
    /// consumer that only validates can skip parsing them (`Member` then
    /// carries 0).
    fn wants_scores(&self) -> bool {
        true
    }

    /// Whether [`Piece::Layout`] pieces are wanted (only the memory model
    /// needs them; nobody else sees them).
    fn wants_layout(&self) -> bool {
        false
    }
}

impl<F: FnMut(Piece<'_>) -> Result<()>> Sink for F {
    fn piece(&mut self, piece: Piece<'_>) -> Result<()> {
        self(piece)
    }
}

/// A cursor over a complete value, turning token errors into located errors.
pub(crate) struct Cursor<'a> {
    raw: &'a [u8],
    rest: &'a [u8],
    base: u64,
    what: &'static str,
    /// Offset of the last string read: where a decompressed blob came from.
    last_str: u64,
    /// For a huge value in a file-backed map: how far its pages have been
    /// dropped from memory.
    released: Option<usize>,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(raw: &'a [u8], base: u64, what: &'static str) -> Self {
        Cursor { raw, rest: raw, base, what, last_str: base, released: None }
    }

    /// The cursor over `value`, dropping the pages behind it from memory as
    /// it goes when the value is huge and file-backed.
    pub(crate) fn over(value: &Value<'a>) -> Self {
        let mut cur = Cursor::new(value.raw, value.offset, value.ty.label());
        // `raw` is public: only release pages if it still lies in the map.
        let inside = |map: &[u8]| {
            let (m, r) = (map.as_ptr_range(), value.raw.as_ptr_range());
            m.start <= r.start && r.end <= m.end
        };
        if value.raw.len() > 2 * crate::input::HUGE_STEP && value.file_map.is_some_and(inside) {
            cur.released = Some(0);
        }
        cur
    }

    /// Called before each element: release the pages before `at` (a later
    /// look at them, e.g. by a sink still holding an element, faults them
    /// back in from the file).
    #[inline]
    fn release_behind(&mut self, at: &[u8]) {
        if let Some(done) = self.released {
            let pos = at.as_ptr() as usize - self.raw.as_ptr() as usize;
            if pos >= done + crate::input::HUGE_STEP {
                // SAFETY: `released` is set only for values whose `raw` lies in
                // a read-only file-backed map that outlives them (`Value::file_map`).
                unsafe { crate::input::release_file_pages(&self.raw[done..pos]) };
                self.released = Some(pos);
            }
        }
    }

    /// Absolute offset of a position inside `raw` (or of the value start when the
    /// slice lives elsewhere, e.g. in a decompressed buffer).
    pub(crate) fn offset_of(&self, at: &[u8]) -> u64 {
        let start = self.raw.as_ptr() as usize;
        let p = at.as_ptr() as usize;
        if p >= start && p <= start + self.raw.len() {
            self.base + (p - start) as u64
        } else {
            self.base
        }
    }

    pub(crate) fn err(&self, kind: ErrorKind, at: &[u8]) -> Error {
        Error::new(kind).at(self.offset_of(at)).doing(Phase::ReadingValue(self.what))
    }

    /// Error from walking a blob: at the faulty byte when the blob is a slice
    /// of the file (at its start for faults of the blob as a whole), else at the
    /// compressed string it was decompressed from.
    pub(crate) fn blob_err(&self, blob: &[u8], e: TokenError) -> Error {
        let start = self.raw.as_ptr() as usize;
        let p = blob.as_ptr() as usize;
        let in_file = !blob.is_empty() && p >= start && p + blob.len() <= start + self.raw.len();
        let at = match (in_file, e.remaining) {
            (false, _) => self.last_str,
            (true, 0) => self.offset_of(blob),
            (true, r) => self.offset_of(&blob[blob.len() - r.min(blob.len())..]),
        };
        Error::new(e.kind).at(at).doing(Phase::ReadingValue(self.what))
    }

    fn run<T>(&mut self, parse: impl FnOnce(&'a [u8]) -> TResult<'a, T>) -> Result<T> {
        match parse(self.rest) {
            Ok((rest, v)) => {
                self.rest = rest;
                Ok(v)
            }
            Err(nom::Err::Incomplete(_)) => Err(self.err(ErrorKind::Truncated, &self.raw[self.raw.len()..])),
            Err(nom::Err::Error(e)) | Err(nom::Err::Failure(e)) => {
                let at = &self.raw[self.raw.len() - e.remaining.min(self.raw.len())..];
                Err(self.err(e.kind, at))
            }
        }
    }

    pub(crate) fn len(&mut self) -> Result<u64> {
        self.run(parse_plain_len)
    }

    pub(crate) fn raw_len(&mut self) -> Result<Len> {
        self.run(parse_len)
    }

    pub(crate) fn str(&mut self) -> Result<Cow<'a, [u8]>> {
        let at = self.rest;
        self.release_behind(at);
        self.last_str = self.offset_of(at);
        if let Some((s, rest)) = short_raw(at) {
            self.rest = rest;
            return Ok(Cow::Borrowed(s));
        }
        let s: RdbStr<'a> = self.run(parse_str)?;
        s.bytes().map_err(|e| self.err(e.kind, at))
    }

    /// A string that holds an encoded blob (listpack, ziplist, intset…): in
    /// place when stored raw, else decoded into `scratch`, whose allocation is
    /// reused from blob to blob (compressed blobs are the common case).
    pub(crate) fn blob<'s>(&mut self, scratch: &'s mut Vec<u8>) -> Result<&'s [u8]>
    where
        'a: 's,
    {
        let at = self.rest;
        self.release_behind(at);
        self.last_str = self.offset_of(at);
        match self.run(parse_str)? {
            RdbStr::Raw(b) => Ok(b),
            s => {
                s.bytes_into(scratch).map_err(|e| self.err(e.kind, at))?;
                Ok(scratch)
            }
        }
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        self.run(|i| nom::bytes::streaming::take(n)(i))
    }

    pub(crate) fn i64_le(&mut self) -> Result<i64> {
        let b = self.take(8)?;
        Ok(i64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
    }

    pub(crate) fn f64_le(&mut self) -> Result<f64> {
        Ok(f64::from_bits(self.i64_le()? as u64))
    }

    pub(crate) fn string_double(&mut self) -> Result<f64> {
        self.run(parse_string_double)
    }

    pub(crate) fn rest(&self) -> &'a [u8] {
        self.rest
    }

    pub(crate) fn finish(&self) -> Result<()> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(self.err(ErrorKind::Integrity(Integrity::ValueTrailingBytes), self.rest))
        }
    }
}

/// Pairs up a flat sequence of items (hash field/value, zset member/score).
fn pairs<'b>(
    items: impl FnOnce(&mut dyn FnMut(Item<'b>) -> Result<(), TokenError>) -> Result<usize, TokenError>,
    mut each: impl FnMut(Item<'b>, Item<'b>) -> Result<(), TokenError>,
) -> Result<usize, TokenError> {
    let mut first: Option<Item<'b>> = None;
    let n = items(&mut |it| match first.take() {
        None => {
            first = Some(it);
            Ok(())
        }
        Some(a) => each(a, it),
    })?;
    if first.is_some() {
        return Err(TokenError { kind: ErrorKind::Integrity(Integrity::OddPairList), remaining: 0 });
    }
    Ok(n)
}

/// The score of a zset entry stored in a ziplist or listpack. Redis reads
/// these with strtod and never rejects one (text that is no number reads as 0);
/// neither do we.
fn score_of(it: Item<'_>) -> f64 {
    match it {
        Item::Int(v) => v as f64,
        Item::Bytes(b) => crate::token::string::parse_double_text(b).unwrap_or(0.0),
    }
}

/// Forward sink errors through a token walker: the walker only carries
/// `TokenError`, so the real error waits in `slot`.
struct Forward<'s, 'k> {
    sink: &'s mut dyn Sink,
    slot: &'k mut Option<Error>,
}

const SINK_FAILED: TokenError = TokenError { kind: ErrorKind::Io(std::io::ErrorKind::Other), remaining: 0 };

impl Forward<'_, '_> {
    fn send(&mut self, p: Piece<'_>) -> Result<(), TokenError> {
        self.sink.piece(p).map_err(|e| {
            *self.slot = Some(e);
            SINK_FAILED
        })
    }
}

/// Walk a blob with `walk`, forwarding pieces; map errors to located ones.
fn with_blob<'b>(
    cur: &Cursor<'_>,
    blob: &'b [u8],
    sink: &mut dyn Sink,
    walk: impl FnOnce(&'b [u8], &mut Forward<'_, '_>) -> Result<usize, TokenError>,
) -> Result<usize> {
    let mut slot = None;
    let mut fwd = Forward { sink, slot: &mut slot };
    match walk(blob, &mut fwd) {
        Ok(n) => Ok(n),
        Err(e) => match slot {
            Some(err) => Err(err),
            None => Err(cur.blob_err(blob, e)),
        },
    }
}

fn listpack_elems(cur: &Cursor<'_>, blob: &[u8], sink: &mut dyn Sink) -> Result<usize> {
    with_blob(cur, blob, sink, |b, f| listpack::walk(b, |it| f.send(Piece::Elem(it))))
}

fn ziplist_elems(cur: &Cursor<'_>, blob: &[u8], sink: &mut dyn Sink) -> Result<usize> {
    with_blob(cur, blob, sink, |b, f| ziplist::walk(b, |it| f.send(Piece::Elem(it))))
}

type Walker<'b> = fn(&'b [u8], &mut dyn FnMut(Item<'b>) -> Result<(), TokenError>) -> Result<usize, TokenError>;

fn walk_lp<'b>(b: &'b [u8], f: &mut dyn FnMut(Item<'b>) -> Result<(), TokenError>) -> Result<usize, TokenError> {
    listpack::walk(b, f)
}

fn walk_zl<'b>(b: &'b [u8], f: &mut dyn FnMut(Item<'b>) -> Result<(), TokenError>) -> Result<usize, TokenError> {
    ziplist::walk(b, f)
}

fn hash_pairs<'b>(cur: &Cursor<'_>, blob: &'b [u8], walker: Walker<'b>, sink: &mut dyn Sink) -> Result<usize> {
    with_blob(cur, blob, sink, |b, f| {
        pairs(|each| walker(b, each), |field, value| f.send(Piece::Field { field, value, expire_at_ms: None }))
    })
}

fn zset_pairs<'b>(cur: &Cursor<'_>, blob: &'b [u8], walker: Walker<'b>, sink: &mut dyn Sink) -> Result<usize> {
    let wants_scores = sink.wants_scores();
    with_blob(cur, blob, sink, |b, f| {
        pairs(
            |each| walker(b, each),
            |member, score| {
                let score = if wants_scores { score_of(score) } else { 0.0 };
                f.send(Piece::Member { member, score })
            },
        )
    })
}

/// Listpack of (field, value, ttl) triples; ttl 0 = none.
fn hash_triples(cur: &Cursor<'_>, blob: &[u8], sink: &mut dyn Sink) -> Result<usize> {
    with_blob(cur, blob, sink, |b, f| {
        let mut held: [Option<Item<'_>>; 2] = [None, None];
        let mut last_ttl: Option<i64> = None;
        let n = listpack::walk(b, |it| {
            match (held[0], held[1]) {
                (None, _) => held[0] = Some(it),
                (Some(_), None) => held[1] = Some(it),
                (Some(field), Some(value)) => {
                    held = [None, None];
                    let ttl = match it {
                        Item::Int(v) if (0..=MAX_HFE_MS).contains(&v) => v,
                        _ => {
                            return Err(TokenError {
                                kind: ErrorKind::Integrity(Integrity::HashFieldTtlInvalid),
                                remaining: 0,
                            })
                        }
                    };
                    // Deep rule: TTL'd fields first in non-decreasing TTL order,
                    // then the fields without one (ttl 0).
                    let in_order = match (last_ttl, ttl) {
                        (Some(0), t) => t == 0,
                        (Some(prev), t) => t == 0 || t >= prev,
                        (None, _) => true,
                    };
                    if !in_order {
                        return Err(TokenError {
                            kind: ErrorKind::Integrity(Integrity::HashFieldTtlsOutOfOrder),
                            remaining: 0,
                        });
                    }
                    last_ttl = Some(ttl);
                    f.send(Piece::Field { field, value, expire_at_ms: (ttl != 0).then_some(ttl) })?;
                }
            }
            Ok(())
        })?;
        if held[0].is_some() {
            return Err(TokenError { kind: ErrorKind::Integrity(Integrity::HashListpackExNotTriples), remaining: 0 });
        }
        Ok(n)
    })
}

use crate::format::MAX_HASH_FIELD_TTL_MS as MAX_HFE_MS;

/// Validate a string value without materialising it.
pub(crate) fn validate_string(value: &Value<'_>) -> Result<()> {
    // A short raw string that covers the value exactly is valid as it is.
    if short_raw(value.raw).is_some_and(|(_, rest)| rest.is_empty()) {
        return Ok(());
    }
    let mut cur = Cursor::over(value);
    let at = cur.rest();
    let s: RdbStr<'_> = cur.run(parse_str)?;
    s.validate().map_err(|e| cur.err(e.kind, at))?;
    cur.finish()
}

/// A string value's length and integer form. A compressed string longer
/// than 20 bytes (as Redis writes them) is neither decompressed nor walked:
/// it cannot be an integer, and its header gives its length. Its body is
/// left to the file's checksum, which the reader verifies as it goes (a
/// twentieth of `memory`'s time on the bench file went to walking these
/// bodies); `check` validates them.
pub(crate) fn string_info(value: &Value<'_>) -> Result<super::StringInfo> {
    let mut cur = Cursor::over(value);
    let at = cur.rest();
    let s: RdbStr<'_> = cur.run(parse_str)?;
    let info = match s {
        RdbStr::Raw(b) => super::StringInfo { len: b.len(), int: crate::token::parse_canonical_i64(b) },
        RdbStr::Int(v) => super::StringInfo { len: itoa::Buffer::new().format(v).len(), int: Some(v) },
        RdbStr::Lzf { len, .. } if len > 20 => super::StringInfo { len, int: None },
        RdbStr::Lzf { .. } => {
            let b = s.bytes().map_err(|e| cur.err(e.kind, at))?;
            super::StringInfo { len: b.len(), int: crate::token::parse_canonical_i64(&b) }
        }
    };
    cur.finish()?;
    Ok(info)
}

/// Decode a value into pieces.
pub(crate) fn decode_value(value: &Value<'_>, sink: &mut dyn Sink) -> Result<()> {
    let mut scratch = SCRATCH.with(|s| s.take());
    let result = decode_with(value, sink, &mut scratch);
    if scratch.capacity() <= MAX_KEPT_SCRATCH {
        SCRATCH.with(|s| s.replace(scratch));
    }
    result
}

thread_local! {
    /// Decoded blobs of the values this thread decodes, one allocation reused.
    static SCRATCH: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

/// A scratch buffer larger than this is freed after use, not kept.
const MAX_KEPT_SCRATCH: usize = 4 << 20;

fn decode_with(value: &Value<'_>, sink: &mut dyn Sink, scratch: &mut Vec<u8>) -> Result<()> {
    use Type::*;
    let mut cur = Cursor::over(value);
    match value.ty {
        String => {
            let s = cur.str()?;
            sink.piece(Piece::Str(&s))?;
        }
        List | Set => {
            let n = cur.len()?;
            for _ in 0..n {
                let s = cur.str()?;
                sink.piece(Piece::Elem(Item::Bytes(&s)))?;
            }
        }
        Zset | Zset2 => {
            let n = cur.len()?;
            for _ in 0..n {
                let at = cur.rest();
                let member = cur.str()?;
                let score = if value.ty == Zset { cur.string_double()? } else { cur.f64_le()? };
                if score.is_nan() {
                    return Err(cur.err(ErrorKind::Integrity(Integrity::ZsetScoreNan), at));
                }
                sink.piece(Piece::Member { member: Item::Bytes(&member), score })?;
            }
        }
        Hash => {
            let n = cur.len()?;
            for _ in 0..n {
                let field = cur.str()?;
                let v = cur.str()?;
                sink.piece(Piece::Field { field: Item::Bytes(&field), value: Item::Bytes(&v), expire_at_ms: None })?;
            }
        }
        HashMetadataPreGa | HashMetadata => {
            let at = cur.rest();
            let min = if value.ty == HashMetadata { Some(cur.i64_le()?) } else { None };
            if min.is_some_and(|m| !(0..=MAX_HFE_MS + 1).contains(&m)) {
                return Err(cur.err(ErrorKind::Integrity(Integrity::HashMinExpireInvalid), at));
            }
            let n = cur.len()?;
            for _ in 0..n {
                let at = cur.rest();
                let ttl = cur.len()?;
                let field = cur.str()?;
                let v = cur.str()?;
                let expire = match (ttl, min) {
                    (0, _) => None,
                    (t, Some(min)) => Some((t as i64).wrapping_add(min).wrapping_sub(1)),
                    (t, None) => Some(t as i64),
                };
                if expire.is_some_and(|e| !(0..=MAX_HFE_MS).contains(&e)) {
                    return Err(cur.err(ErrorKind::Integrity(Integrity::HashFieldExpireAtInvalid), at));
                }
                sink.piece(Piece::Field { field: Item::Bytes(&field), value: Item::Bytes(&v), expire_at_ms: expire })?;
            }
        }
        Hash2 => {
            let n = cur.len()?;
            for _ in 0..n {
                let field = cur.str()?;
                let v = cur.str()?;
                let at = cur.rest();
                let exp = cur.i64_le()?;
                if exp < -1 {
                    return Err(cur.err(ErrorKind::Integrity(Integrity::HashFieldExpiryBelowMinusOne), at));
                }
                let expire_at_ms = (exp != -1).then_some(exp);
                sink.piece(Piece::Field { field: Item::Bytes(&field), value: Item::Bytes(&v), expire_at_ms })?;
            }
        }
        HashListpackEx | HashListpackExPreGa => {
            if value.ty == HashListpackEx {
                let at = cur.rest();
                let min = cur.i64_le()?;
                if !(0..=MAX_HFE_MS + 1).contains(&min) {
                    return Err(cur.err(ErrorKind::Integrity(Integrity::HashMinExpireInvalid), at));
                }
            }
            let blob = cur.blob(scratch)?;
            blob_layout(sink, BlobEncoding::ListpackEx, blob)?;
            hash_triples(&cur, blob, sink)?;
        }
        HashZipmap => {
            let blob = cur.blob(scratch)?;
            with_blob(&cur, blob, sink, |b, f| {
                zipmap::walk(b, |field, value| {
                    f.send(Piece::Field { field: Item::Bytes(field), value: Item::Bytes(value), expire_at_ms: None })
                })
            })?;
        }
        ListZiplist => {
            let blob = cur.blob(scratch)?;
            ziplist_elems(&cur, blob, sink)?;
        }
        SetIntset => {
            let blob = cur.blob(scratch)?;
            blob_layout(sink, BlobEncoding::Intset, blob)?;
            with_blob(&cur, blob, sink, |b, f| intset::walk(b, |v| f.send(Piece::Elem(Item::Int(v)))))?;
        }
        ZsetZiplist => {
            let blob = cur.blob(scratch)?;
            blob_layout(sink, BlobEncoding::Ziplist, blob)?;
            zset_pairs(&cur, blob, walk_zl, sink)?;
        }
        HashZiplist => {
            let blob = cur.blob(scratch)?;
            blob_layout(sink, BlobEncoding::Ziplist, blob)?;
            hash_pairs(&cur, blob, walk_zl, sink)?;
        }
        HashListpack => {
            let blob = cur.blob(scratch)?;
            blob_layout(sink, BlobEncoding::Listpack, blob)?;
            hash_pairs(&cur, blob, walk_lp, sink)?;
        }
        ZsetListpack => {
            let blob = cur.blob(scratch)?;
            blob_layout(sink, BlobEncoding::Listpack, blob)?;
            zset_pairs(&cur, blob, walk_lp, sink)?;
        }
        SetListpack => {
            let blob = cur.blob(scratch)?;
            blob_layout(sink, BlobEncoding::Listpack, blob)?;
            listpack_elems(&cur, blob, sink)?;
        }
        ListQuicklist => {
            let n = cur.len()?;
            let layout = sink.wants_layout();
            for _ in 0..n {
                let blob = cur.blob(scratch)?;
                if layout {
                    let blob = Some((BlobEncoding::Ziplist, blob.len()));
                    sink.piece(Piece::Layout(Layout::ListNode { blob }))?;
                }
                ziplist_elems(&cur, blob, sink)?;
            }
        }
        ListQuicklist2 => {
            let n = cur.len()?;
            let layout = sink.wants_layout();
            for _ in 0..n {
                let at = cur.rest();
                let container = cur.len()?;
                let blob = cur.blob(scratch)?;
                if blob.is_empty() {
                    return Err(cur.err(ErrorKind::Integrity(Integrity::QuicklistEmptyNode), at));
                }
                if layout {
                    let plain = container == format::QUICKLIST_NODE_PLAIN;
                    let blob = (!plain).then_some((BlobEncoding::Listpack, blob.len()));
                    sink.piece(Piece::Layout(Layout::ListNode { blob }))?;
                }
                match container {
                    format::QUICKLIST_NODE_PLAIN => sink.piece(Piece::Elem(Item::Bytes(blob)))?,
                    format::QUICKLIST_NODE_PACKED => {
                        listpack_elems(&cur, blob, sink)?;
                    }
                    _ => return Err(cur.err(ErrorKind::Integrity(Integrity::QuicklistBadContainer), at)),
                }
            }
        }
        ModulePreGa => {
            return Err(cur.err(ErrorKind::Unsupported("pre-release module value (RDB type 6)"), value.raw));
        }
        Module2 => {
            let id = cur.len()?;
            let name = format::module_type_name(id);
            let raw = cur.rest();
            cur.run(crate::token::module::skip_typed_values)?;
            sink.piece(Piece::Module { name: &name, encver: format::module_encver(id), raw })?;
        }
        StreamListpacks | StreamListpacks2 | StreamListpacks3 | StreamListpacks4 | StreamListpacks5 => {
            decode_stream(&mut cur, value.ty.stream_version().unwrap_or(1), sink)?;
        }
        Array => decode_array(&mut cur, sink)?,
        HashTmplLp | HashTmplLpRef | HashTmplArray | HashTmplArrayRef => {
            decode_template_hash(&mut cur, value, sink)?;
        }
    }
    cur.finish()
}

fn decode_array(cur: &mut Cursor<'_>, sink: &mut dyn Sink) -> Result<()> {
    let at = cur.rest();
    let count = cur.len()?;
    if count == 0 {
        return Err(cur.err(ErrorKind::Integrity(Integrity::ArrayEmpty), at));
    }
    let at = cur.rest();
    let cursor = match cur.len()? {
        0 => None,
        1 => Some(cur.len()?),
        _ => return Err(cur.err(ErrorKind::Integrity(Integrity::ArrayBadInsertFlag), at)),
    };
    sink.piece(Piece::ArrayHeader { count, cursor })?;
    for _ in 0..count {
        let at = cur.rest();
        let index = match cur.raw_len()? {
            Len::Plain(i) if i != u64::MAX => i,
            _ => return Err(cur.err(ErrorKind::Integrity(Integrity::ArrayBadIndex), at)),
        };
        let tag_at = cur.rest();
        let value_bytes;
        let value = match cur.len()? {
            0 => {
                value_bytes = cur.str()?;
                ArrayValue::Bytes(&value_bytes[..])
            }
            3 => {
                value_bytes = cur.str()?;
                if value_bytes.len() > 7 {
                    return Err(cur.err(ErrorKind::Integrity(Integrity::ArraySmallStrTooLong), tag_at));
                }
                ArrayValue::Bytes(&value_bytes[..])
            }
            1 => ArrayValue::Int(cur.i64_le()?),
            2 => ArrayValue::Float(cur.f64_le()?),
            _ => return Err(cur.err(ErrorKind::Integrity(Integrity::ArrayUnknownTag), tag_at)),
        };
        sink.piece(Piece::ArrayElem { index, value })?;
    }
    Ok(())
}

/// Redis 8.10 template hashes (docs/format/newer.md, "Hash templates"; the layout is unconfirmed).
fn decode_template_hash(cur: &mut Cursor<'_>, value: &Value<'_>, sink: &mut dyn Sink) -> Result<()> {
    use Type::*;
    let bad = |cur: &Cursor<'_>, what| cur.err(ErrorKind::Integrity(what), value.raw);
    // Field names: embedded (self-contained forms) or from the template registry.
    let mut embedded: Vec<Vec<u8>> = Vec::new();
    if matches!(value.ty, HashTmplLp | HashTmplArray) {
        match cur.len()? {
            0 => {
                let lp = cur.str()?;
                listpack::walk(&lp, |it| {
                    embedded.push(it.to_vec());
                    Ok(())
                })
                .map_err(|e| cur.blob_err(&lp, e))?;
            }
            1 => {
                let n = cur.len()?;
                for _ in 0..n {
                    embedded.push(cur.str()?.into_owned());
                }
            }
            _ => return Err(bad(cur, Integrity::TemplateUnknownFieldFormat)),
        }
    }
    let lookup = |id: u64| value.templates.fields.get(&id).map(|v| v.as_slice());
    match value.ty {
        HashTmplLp | HashTmplLpRef => {
            let lp = cur.str()?;
            let items = listpack::entries(&lp).map_err(|e| cur.blob_err(&lp, e))?;
            let Some((first, values)) = items.split_first() else {
                return Err(bad(cur, Integrity::TemplateEmptyListpack));
            };
            let Some(id) = first.as_int() else {
                return Err(bad(cur, Integrity::TemplateNoId));
            };
            let fields: &[Vec<u8>] = if value.ty == HashTmplLp {
                &embedded
            } else {
                lookup(id as u64).ok_or_else(|| bad(cur, Integrity::TemplateUnknown))?
            };
            if fields.len() != values.len() {
                return Err(bad(cur, Integrity::TemplateValueCountMismatch));
            }
            for (f, v) in fields.iter().zip(values) {
                sink.piece(Piece::Field { field: Item::Bytes(f), value: *v, expire_at_ms: None })?;
            }
        }
        _ => {
            let fields: Vec<Vec<u8>> = if value.ty == HashTmplArray {
                embedded
            } else {
                let id = cur.len()?;
                lookup(id).ok_or_else(|| bad(cur, Integrity::TemplateUnknown))?.to_vec()
            };
            for f in &fields {
                let v = cur.str()?;
                sink.piece(Piece::Field { field: Item::Bytes(f), value: Item::Bytes(&v), expire_at_ms: None })?;
            }
        }
    }
    Ok(())
}
