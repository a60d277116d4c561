//! The RDB file writer: header, aux fields, databases, keys in the encodings a
//! target version's Redis writes and loads, the EOF opcode and the CRC-64
//! trailer (RDB 5+).
//!
//! Values come from a [`ValueSource`]: anything that can hand out its pieces,
//! more than once (a framed value from the reader decodes again on demand). A
//! first pass measures a collection (count, longest item, all integers…) to
//! choose a compact or plain encoding as Redis does with its size limits; a
//! second pass writes it. Compact blobs are small by definition; plain
//! encodings stream, so no collection is ever held whole.

use super::encode::{put_binary_double, put_len, put_string, put_text_double};
use super::intset;
use super::listpack::ListpackBuilder;
use super::ziplist::ZiplistBuilder;
use super::PackedBuilder;
use crate::error::{Error, ErrorKind, Integrity, Result};
use crate::event::decode::Piece;
use crate::event::stream::StreamMeta;
use crate::event::StreamId;
use crate::format::numbers::score_text;
use crate::format::{versions, Dialect, KeyType};
use crate::token::Item;
use std::io::Write;

/// The newest Redis RDB version this writer produces (`format::versions`).
pub const MAX_WRITE_VERSION: u32 = versions::newest(Dialect::Redis, true);
/// The oldest (RDB 5 is the first with a checksum; older formats are not written).
pub const MIN_WRITE_VERSION: u32 = versions::oldest_writable();
/// Valkey 9's own format, `VALKEY080`: RDB 11's encodings, plus its HASH_2
/// (type 22) for hashes with field TTLs. No Redis 7.4+ type is written in it.
pub const VALKEY_VERSION: u32 = versions::newest(Dialect::Valkey, true);

/// The versions `--rdb-version` accepts, for messages.
pub fn writable_versions() -> String {
    format!("{MIN_WRITE_VERSION} to {MAX_WRITE_VERSION}, or {VALKEY_VERSION} (Valkey 9)")
}

/// Whether `version` can be written.
pub fn writable(version: u32) -> bool {
    versions::rdb_version(version).is_some_and(|r| r.writable)
}

/// The Redis RDB version whose encodings a target version uses (Valkey 80 is
/// RDB 11 plus HASH_2).
fn encoding_level(version: u32) -> u32 {
    versions::rdb_version(version).map_or(version, |r| r.encoding_level)
}

pub use crate::format::limits::EncodingLimits;

use crate::event::{KeyAttrs, ValueSource};

/// Redis Enterprise's RAM_LRU (opcode 107) is read, shown by `dump`, and
/// never written: no Redis or Valkey loads an RDB holding it (rdb.c
/// `rdbLoadRioWithLoadingCtx` knows no such opcode), and no command sets it.
pub(crate) const RAM_LRU_NOTE: &str = "Redis Enterprise RAM_LRU left out (no Redis or Valkey reads it)";

/// Forwards bytes to the output and folds them into the checksum.
struct CrcWriter<W: Write> {
    out: W,
    crc: crc_fast::Digest,
}

impl<W: Write> CrcWriter<W> {
    fn put(&mut self, b: &[u8]) -> Result<()> {
        self.crc.update(b);
        self.out.write_all(b).map_err(Error::io)
    }
}

/// Writes one RDB file.
pub struct RdbWriter<W: Write> {
    out: CrcWriter<W>,
    /// The version written in the header (80 for Valkey 9).
    version: u32,
    /// The Redis RDB version whose encodings are written (`encoding_level`).
    level: u32,
    limits: EncodingLimits,
    compress: bool,
    buf: Vec<u8>,
    /// Leave out parts of a value the target cannot hold (stream IDMP state,
    /// NACK zones) instead of failing; each omission is noted.
    pub lossy: bool,
    notes: Vec<String>,
    /// Writing a DUMP payload: values without their key.
    payload: bool,
    /// The database selected last.
    db: Option<u64>,
}

/// A value too big to buffer is flushed in pieces of this size.
const FLUSH_AT: usize = 1 << 20;

fn unsupported(what: &'static str) -> Error {
    Error::new(ErrorKind::Unsupported(what))
}

impl<W: Write> RdbWriter<W> {
    /// Start a file of RDB `version` ([`writable`]).
    pub fn new(out: W, version: u32, limits: EncodingLimits, compress: bool) -> Result<Self> {
        if !writable(version) {
            return Err(Error::new(ErrorKind::Usage("RDB version cannot be written"))
                .detail(format!("{version}; this writer writes RDB {}", writable_versions())));
        }
        let mut w = Self::unchecked(out, version, limits, compress, false, false);
        let magic =
            if version == VALKEY_VERSION { format!("VALKEY{version:03}") } else { format!("REDIS{version:04}") };
        w.out.put(magic.as_bytes())?;
        Ok(w)
    }

    /// A writer without its header (key records, DUMP payloads).
    fn unchecked(out: W, target: u32, limits: EncodingLimits, compress: bool, lossy: bool, payload: bool) -> Self {
        RdbWriter {
            out: CrcWriter { out, crc: crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc64Redis) },
            version: target,
            level: encoding_level(target),
            limits,
            compress,
            buf: Vec::with_capacity(1 << 16),
            lossy,
            notes: Vec::new(),
            payload,
            db: None,
        }
    }

    /// The version in the header.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// What was left out of the values written since the last call (`lossy`).
    pub fn take_notes(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notes)
    }

    fn flush_buf(&mut self) -> Result<()> {
        let buf = std::mem::take(&mut self.buf);
        let r = self.out.put(&buf);
        self.buf = buf;
        self.buf.clear();
        r
    }

    /// An AUX field (RDB 7+; older versions have none and the call is a no-op).
    pub fn aux(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        if self.level < 7 {
            return Ok(());
        }
        self.buf.push(0xfa);
        put_string(&mut self.buf, key, false);
        put_string(&mut self.buf, value, false);
        self.flush_buf()
    }

    /// A function library (FUNCTION2, RDB 10+).
    pub fn function(&mut self, code: &[u8]) -> Result<()> {
        if self.level < 10 {
            return Err(unsupported("functions need RDB 10 (Redis 7.0) or later"));
        }
        self.buf.push(0xf5);
        put_string(&mut self.buf, code, self.compress);
        self.flush_buf()
    }

    /// A module's data outside the keyspace (MODULE_AUX, RDB 9+), copied as
    /// read: its layout (module id, `when`, typed values) is the same in
    /// every version that has it, and only the module reads what is inside.
    pub fn module_aux(&mut self, module_id: u64, when: u64, raw: &[u8]) -> Result<()> {
        if self.level < 9 {
            return Err(unsupported("module aux data needs RDB 9 (Redis 5.0) or later"));
        }
        self.buf.push(0xf7);
        put_len(&mut self.buf, module_id);
        put_len(&mut self.buf, crate::format::module_opcode::UINT);
        put_len(&mut self.buf, when);
        self.buf.extend_from_slice(raw);
        self.flush_buf()
    }

    /// SELECTDB, unless `db` is the database selected last.
    pub fn select_db(&mut self, db: u64) -> Result<()> {
        if self.db == Some(db) {
            return Ok(());
        }
        self.db = Some(db);
        self.buf.push(0xfe);
        put_len(&mut self.buf, db);
        self.flush_buf()
    }

    /// Size hints for the database just selected (RDB 7+).
    pub fn resize_db(&mut self, keys: u64, expires: u64) -> Result<()> {
        if self.level < 7 {
            return Ok(());
        }
        self.buf.push(0xfb);
        put_len(&mut self.buf, keys);
        put_len(&mut self.buf, expires);
        self.flush_buf()
    }

    /// One key and its value.
    pub fn key(&mut self, key: &[u8], meta: &KeyAttrs<'_>, value: &dyn ValueSource) -> Result<()> {
        // A refused value leaves nothing behind, prefix opcodes included.
        let start = self.buf.len();
        if let Some(t) = meta.expire_at_ms {
            self.buf.push(0xfc);
            self.buf.extend_from_slice(&t.to_le_bytes());
        }
        if self.level >= 9 {
            if let Some(idle) = meta.idle_s {
                self.buf.push(0xf8);
                put_len(&mut self.buf, idle);
            }
            if let Some(freq) = meta.freq {
                self.buf.push(0xf9);
                self.buf.push(freq);
            }
        }
        if meta.ram_lru.is_some() {
            self.notes.push(RAM_LRU_NOTE.into());
        }
        if let Some(body) = meta.key_meta {
            if self.level < 13 {
                if !self.lossy {
                    self.buf.truncate(start);
                    return Err(unsupported("module key metadata needs RDB 13 (Redis 8.6)").key(key));
                }
                self.notes.push("module key metadata left out".into());
            } else {
                self.buf.push(0xf3);
                self.buf.extend_from_slice(body);
            }
        }
        if let Err(e) = self.value(key, value) {
            self.buf.truncate(start);
            return Err(e.key(key));
        }
        self.flush_buf()
    }

    /// Append records encoded elsewhere (by a [`RecordEncoder`] of the same
    /// version), in file order; the checksum covers them.
    pub fn raw_records(&mut self, bytes: &[u8]) -> Result<()> {
        self.out.put(bytes)
    }

    /// End the file: EOF opcode and, from RDB 5, the CRC-64 of everything before it.
    pub fn finish(mut self) -> Result<W> {
        self.out.put(&[0xff])?;
        let crc = self.out.crc.finalize();
        self.out.put(&crc.to_le_bytes())?;
        self.out.out.flush().map_err(Error::io)?;
        Ok(self.out.out)
    }

    /// The type byte and the key name: written once the encoding is chosen.
    fn begin(&mut self, ty: u8, key: &[u8]) {
        self.buf.push(ty);
        if !self.payload {
            put_string(&mut self.buf, key, self.compress);
        }
    }

    /// Write the type, key and value (large values are flushed as they go).
    fn value(&mut self, key: &[u8], v: &dyn ValueSource) -> Result<()> {
        match v.key_type() {
            KeyType::String => {
                self.begin(0, key);
                let mut done = false;
                let (buf, compress) = (&mut self.buf, self.compress);
                v.pieces(&mut |p: Piece<'_>| {
                    if let Piece::Str(s) = p {
                        put_string(buf, s, compress);
                        done = true;
                    }
                    Ok(())
                })?;
                if !done {
                    return Err(Error::new(ErrorKind::Integrity(Integrity::StringWithoutContent)));
                }
                Ok(())
            }
            KeyType::List => self.list(key, v),
            KeyType::Set => self.set(key, v),
            KeyType::Zset => self.zset(key, v),
            KeyType::Hash => self.hash(key, v),
            KeyType::Stream => self.stream(key, v),
            KeyType::Module => self.module(key, v),
            KeyType::Array => self.array(key, v),
        }
    }

    /// The shape of a list, set, sorted set or hash; an empty one is
    /// refused (`EmptyKey`): the server would skip it, or refuse it as an
    /// empty intset, so no file of ours holds one.
    fn measure(v: &dyn ValueSource) -> Result<Shape> {
        let mut s = Shape { all_int: true, ..Default::default() };
        v.pieces(&mut |p: Piece<'_>| {
            s.add(&p);
            Ok(())
        })?;
        if s.count == 0 {
            return Err(Error::new(ErrorKind::EmptyKey));
        }
        Ok(s)
    }

    fn list(&mut self, key: &[u8], v: &dyn ValueSource) -> Result<()> {
        let shape = Self::measure(v)?;
        if self.level < 7 {
            if shape.count <= 512 && shape.max_len <= 64 {
                let mut zl = ZiplistBuilder::new();
                each_item(v, |it| zl.push(it))?;
                self.begin(10, key);
                put_string(&mut self.buf, &zl.finish(), self.compress);
                return Ok(());
            }
            self.begin(1, key);
            put_len(&mut self.buf, shape.count);
            return self.stream_items(v);
        }
        let (max_bytes, max_entries) = self.limits.list_node();
        let quicklist2 = self.level >= 10;
        // First pass: how many nodes (written before them).
        let mut nodes = 0u64;
        pack_list(v, quicklist2, max_bytes, max_entries, |_| {
            nodes += 1;
            Ok(())
        })?;
        self.begin(if quicklist2 { 18 } else { 14 }, key);
        put_len(&mut self.buf, nodes);
        let compress = self.compress;
        let mut flush_err = Ok(());
        let (buf, out) = (&mut self.buf, &mut self.out);
        pack_list(v, quicklist2, max_bytes, max_entries, |node| {
            match node {
                Node::Plain(b) => {
                    put_len(buf, crate::format::QUICKLIST_NODE_PLAIN);
                    put_string(buf, b, compress);
                }
                Node::Packed(blob) => {
                    if quicklist2 {
                        put_len(buf, crate::format::QUICKLIST_NODE_PACKED);
                    }
                    put_string(buf, blob, compress);
                }
            }
            if buf.len() >= FLUSH_AT {
                flush_err = out.put(buf);
                buf.clear();
            }
            Ok(())
        })?;
        flush_err
    }

    /// Each piece of `v` encoded by `each` into the buffer, which is flushed as
    /// it grows (a huge value streams through).
    fn put_pieces(&mut self, v: &dyn ValueSource, mut each: impl FnMut(&mut Vec<u8>, Piece<'_>)) -> Result<()> {
        let (buf, out) = (&mut self.buf, &mut self.out);
        let mut flush_err = Ok(());
        v.pieces(&mut |p: Piece<'_>| {
            each(buf, p);
            if buf.len() >= FLUSH_AT && flush_err.is_ok() {
                flush_err = out.put(buf);
                buf.clear();
            }
            Ok(())
        })?;
        flush_err
    }

    /// Plain collection members as strings, flushing as the buffer grows.
    fn stream_items(&mut self, v: &dyn ValueSource) -> Result<()> {
        let compress = self.compress;
        let (buf, out) = (&mut self.buf, &mut self.out);
        let mut flush_err = Ok(());
        each_item(v, |it| {
            put_item(buf, it, compress);
            if buf.len() >= FLUSH_AT && flush_err.is_ok() {
                flush_err = out.put(buf);
                buf.clear();
            }
        })?;
        flush_err
    }

    fn set(&mut self, key: &[u8], v: &dyn ValueSource) -> Result<()> {
        let shape = Self::measure(v)?;
        let l = &self.limits;
        if shape.all_int && shape.count <= l.set_max_intset_entries {
            let mut members = Vec::with_capacity(shape.count as usize);
            each_item(v, |it| members.extend(it.as_int()))?;
            self.begin(11, key);
            put_string(&mut self.buf, &intset::build(&mut members), self.compress);
            return Ok(());
        }
        if self.level >= 11
            && shape.count <= l.set_max_listpack_entries
            && shape.max_len as u64 <= l.set_max_listpack_value
        {
            let mut lp = ListpackBuilder::new();
            each_item(v, |it| lp.push(it))?;
            self.begin(20, key);
            put_string(&mut self.buf, &lp.finish(), self.compress);
            return Ok(());
        }
        self.begin(2, key);
        put_len(&mut self.buf, shape.count);
        self.stream_items(v)
    }

    fn zset(&mut self, key: &[u8], v: &dyn ValueSource) -> Result<()> {
        let shape = Self::measure(v)?;
        let l = &self.limits;
        if shape.count <= l.zset_max_listpack_entries && shape.max_len as u64 <= l.zset_max_listpack_value {
            // Compact sorted sets are kept sorted by (score, member).
            let mut members: Vec<(f64, Vec<u8>)> = Vec::with_capacity(shape.count as usize);
            v.pieces(&mut |p: Piece<'_>| {
                if let Piece::Member { member, score } = p {
                    members.push((score, member.to_vec()));
                }
                Ok(())
            })?;
            members.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
            let listpack = self.level >= 10;
            let mut packed = PackedBuilder::new(listpack);
            for (score, member) in &members {
                let text = score_text(*score);
                packed.push(Item::Bytes(member));
                packed.push(Item::Bytes(text.as_bytes()));
            }
            let blob = packed.take();
            self.begin(if listpack { 17 } else { 12 }, key);
            put_string(&mut self.buf, &blob, self.compress);
            return Ok(());
        }
        let binary = self.level >= 8;
        self.begin(if binary { 5 } else { 3 }, key);
        put_len(&mut self.buf, shape.count);
        let compress = self.compress;
        self.put_pieces(v, |buf, p| {
            if let Piece::Member { member, score } = p {
                put_item(buf, member, compress);
                if binary {
                    put_binary_double(buf, score);
                } else {
                    put_text_double(buf, score);
                }
            }
        })
    }

    fn hash(&mut self, key: &[u8], v: &dyn ValueSource) -> Result<()> {
        let shape = Self::measure(v)?;
        let l = &self.limits;
        let small = shape.count <= l.hash_max_listpack_entries && shape.max_len as u64 <= l.hash_max_listpack_value;
        if shape.field_ttls > 0 {
            if self.version == VALKEY_VERSION {
                return self.valkey_hash2(key, v, &shape);
            }
            if self.level < 12 {
                return Err(unsupported("hash field TTLs need RDB 12 (Redis 7.4) or later"));
            }
            return self.hash_with_ttls(key, v, &shape, small);
        }
        if small && self.level >= 4 {
            let listpack = self.level >= 10;
            let mut packed = PackedBuilder::new(listpack);
            v.pieces(&mut |p: Piece<'_>| {
                if let Piece::Field { field, value, .. } = p {
                    packed.push(field);
                    packed.push(value);
                }
                Ok(())
            })?;
            let blob = packed.take();
            self.begin(if listpack { 16 } else { 13 }, key);
            put_string(&mut self.buf, &blob, self.compress);
            return Ok(());
        }
        self.begin(4, key);
        put_len(&mut self.buf, shape.count);
        let compress = self.compress;
        self.put_pieces(v, |buf, p| {
            if let Piece::Field { field, value, .. } = p {
                put_item(buf, field, compress);
                put_item(buf, value, compress);
            }
        })
    }

    /// Valkey's HASH_2 (22): per field its value and absolute expiry in ms
    /// (8 bytes LE, -1 for none).
    fn valkey_hash2(&mut self, key: &[u8], v: &dyn ValueSource, shape: &Shape) -> Result<()> {
        self.begin(22, key);
        put_len(&mut self.buf, shape.count);
        let compress = self.compress;
        self.put_pieces(v, |buf, p| {
            if let Piece::Field { field, value, expire_at_ms } = p {
                put_item(buf, field, compress);
                put_item(buf, value, compress);
                buf.extend_from_slice(&expire_at_ms.unwrap_or(-1).to_le_bytes());
            }
        })
    }

    /// HASH_LISTPACK_EX (25) or HASH_METADATA (24), Redis 7.4+.
    fn hash_with_ttls(&mut self, key: &[u8], v: &dyn ValueSource, shape: &Shape, small: bool) -> Result<()> {
        let min = shape.min_ttl.unwrap_or(0);
        if small {
            // HASH_LISTPACK_EX must hold the fields with a TTL first, by TTL,
            // then the others. When the source has another order, the
            // hashtable form keeps it (both load the same).
            let mut fields: Vec<(i64, Vec<u8>, Vec<u8>)> = Vec::new();
            v.pieces(&mut |p: Piece<'_>| {
                if let Piece::Field { field, value, expire_at_ms } = p {
                    fields.push((expire_at_ms.unwrap_or(0), field.to_vec(), value.to_vec()));
                }
                Ok(())
            })?;
            let rank = |t: &i64| if *t == 0 { i64::MAX } else { *t };
            if fields.windows(2).all(|w| rank(&w[0].0) <= rank(&w[1].0)) {
                self.begin(25, key);
                self.buf.extend_from_slice(&min.to_le_bytes());
                let mut lp = ListpackBuilder::new();
                for (t, f, val) in &fields {
                    lp.push(Item::Bytes(f));
                    lp.push(Item::Bytes(val));
                    lp.push(Item::Int(*t));
                }
                put_string(&mut self.buf, &lp.finish(), self.compress);
                return Ok(());
            }
        }
        self.begin(24, key);
        self.buf.extend_from_slice(&min.to_le_bytes());
        put_len(&mut self.buf, shape.count);
        let compress = self.compress;
        let buf = &mut self.buf;
        v.pieces(&mut |p: Piece<'_>| {
            if let Piece::Field { field, value, expire_at_ms } = p {
                put_len(buf, expire_at_ms.map_or(0, |t| (t - min + 1) as u64));
                put_item(buf, field, compress);
                put_item(buf, value, compress);
            }
            Ok(())
        })
    }

    fn module(&mut self, key: &[u8], v: &dyn ValueSource) -> Result<()> {
        self.begin(7, key);
        let buf = &mut self.buf;
        let mut done = false;
        v.pieces(&mut |p: Piece<'_>| {
            if let Piece::Module { name, encver, raw } = p {
                put_len(buf, crate::format::module_type_id(name, encver));
                buf.extend_from_slice(raw);
                done = true;
            }
            Ok(())
        })?;
        if !done {
            return Err(unsupported("module value without its data"));
        }
        Ok(())
    }

    fn stream(&mut self, key: &[u8], v: &dyn ValueSource) -> Result<()> {
        let version = match self.level {
            ..=8 => return Err(unsupported("streams need RDB 9 (Redis 5.0) or later")),
            9 => 1,
            10 => 2,
            11 | 12 => 3,
            13 => 4,
            _ => 5,
        };
        let mut nodes: Vec<(StreamId, Vec<u8>)> = Vec::new();
        let mut meta: Option<StreamMeta> = None;
        let mut node = StreamNode::default();
        let mut first_entry: Option<StreamId> = None;
        let mut entries = 0u64;
        let limits = self.limits;
        v.pieces(&mut |p: Piece<'_>| {
            match p {
                Piece::StreamEntry { id, fields } => {
                    first_entry.get_or_insert(id);
                    entries += 1;
                    if node.full(fields.len(), &limits) {
                        nodes.push(std::mem::take(&mut node).finish());
                    }
                    node.push(id, fields);
                }
                Piece::StreamMeta(m) => meta = Some(m.clone()),
                _ => {}
            }
            Ok(())
        })?;
        if node.count > 0 {
            nodes.push(node.finish());
        }
        let mut meta = meta.ok_or_else(|| Error::new(ErrorKind::Integrity(Integrity::StreamWithoutMetadata)))?;
        if self.version == VALKEY_VERSION && meta.length != entries {
            // Valkey 9.1 counts the entries when it loads ("Stream length
            // inconsistent with the number of valid entries"); Redis does not.
            return Err(Error::new(ErrorKind::Unsupported(
                "a stream whose recorded length differs from its entries (Valkey 9 refuses it)",
            ))
            .detail(format!("length {}, {entries} entries", meta.length)));
        }
        if version < 4 {
            strip_newer_stream_state(&mut meta, self.lossy, &mut self.notes)?;
        } else if version < 5 {
            // v4 has IDMP but no NACK zones.
            let idmp = meta.idmp.take();
            strip_newer_stream_state(&mut meta, self.lossy, &mut self.notes)?;
            meta.idmp = idmp;
        }
        self.begin(
            match version {
                1 => 15,
                2 => 19,
                3 => 21,
                4 => 26,
                _ => 27,
            },
            key,
        );
        let buf = &mut self.buf;
        put_len(buf, nodes.len() as u64);
        for (master, lp) in &nodes {
            let mut key = [0u8; 16];
            key[..8].copy_from_slice(&master.ms.to_be_bytes());
            key[8..].copy_from_slice(&master.seq.to_be_bytes());
            put_string(buf, &key, false);
            put_string(buf, lp, self.compress);
        }
        put_len(buf, meta.length);
        put_id(buf, meta.last_id);
        if version >= 2 {
            // A source older than RDB 10 has none: its first entry, as the
            // server derives it when it loads one (`streamGetEdgeID`);
            // Valkey 9.1 refuses a first ID that no entry bears.
            put_id(buf, meta.first_id.or(first_entry).unwrap_or_default());
            put_id(buf, meta.max_deleted_id.unwrap_or_default());
            put_len(buf, meta.entries_added.unwrap_or(meta.length));
        }
        put_len(buf, meta.groups.len() as u64);
        for g in &meta.groups {
            put_string(buf, &g.name, false);
            put_id(buf, g.last_id);
            if version >= 2 {
                put_len(buf, g.entries_read.unwrap_or(u64::MAX));
            }
            put_len(buf, g.pending.len() as u64);
            for (id, p) in &g.pending {
                put_raw_id(buf, *id);
                buf.extend_from_slice(&p.delivery_time_ms.to_le_bytes());
                put_len(buf, p.delivery_count);
            }
            put_len(buf, g.consumers.len() as u64);
            for (c, pel) in g.consumers.iter().zip(g.consumer_pels()) {
                put_string(buf, &c.name, false);
                buf.extend_from_slice(&c.seen_time_ms.to_le_bytes());
                if version >= 3 {
                    buf.extend_from_slice(&c.active_time_ms.unwrap_or(c.seen_time_ms).to_le_bytes());
                }
                put_len(buf, pel.len() as u64);
                for id in pel {
                    put_raw_id(buf, id);
                }
            }
            if version >= 5 {
                let nacked = g.nacked.as_deref().unwrap_or(&[]);
                put_len(buf, nacked.len() as u64);
                for id in nacked {
                    put_raw_id(buf, *id);
                }
            }
        }
        if version >= 4 {
            // A stream that never used IDMP gets the server defaults (100 s,
            // 100 entries): 8.6 refuses values outside its ranges.
            match &meta.idmp {
                Some(idmp) => {
                    put_len(buf, idmp.duration_s);
                    put_len(buf, idmp.max_entries);
                    put_len(buf, idmp.producers.len() as u64);
                    for p in &idmp.producers {
                        put_string(buf, &p.pid, false);
                        put_len(buf, p.entries.len() as u64);
                        for (iid, id) in &p.entries {
                            put_string(buf, iid, false);
                            put_id(buf, *id);
                        }
                    }
                    put_len(buf, idmp.iids_added);
                    put_len(buf, idmp.iids_duplicates);
                }
                None => buf.extend_from_slice(&[0x40, 0x64, 0x40, 0x64, 0, 0, 0]),
            }
        }
        Ok(())
    }

    /// ARRAY (28, RDB 14): count, insert cursor, then (index, tag, payload)
    /// in index order; strings as SDS (tag 0), as the format notes advise.
    fn array(&mut self, key: &[u8], v: &dyn ValueSource) -> Result<()> {
        if self.level < 14 {
            return Err(unsupported("array values need RDB 14 (Redis 8.8)"));
        }
        self.begin(28, key);
        let compress = self.compress;
        let buf = &mut self.buf;
        v.pieces(&mut |p: Piece<'_>| {
            match p {
                Piece::ArrayHeader { count, cursor } => {
                    put_len(buf, count);
                    match cursor {
                        Some(c) => {
                            put_len(buf, 1);
                            put_len(buf, c);
                        }
                        None => put_len(buf, 0),
                    }
                }
                Piece::ArrayElem { index, value } => {
                    put_len(buf, index);
                    match value {
                        crate::event::ArrayValue::Bytes(b) => {
                            put_len(buf, 0);
                            put_string(buf, b, compress);
                        }
                        crate::event::ArrayValue::Int(i) => {
                            put_len(buf, 1);
                            buf.extend_from_slice(&i.to_le_bytes());
                        }
                        crate::event::ArrayValue::Float(f) => {
                            put_len(buf, 2);
                            buf.extend_from_slice(&f.to_le_bytes());
                        }
                    }
                }
                _ => {}
            }
            Ok(())
        })
    }
}

/// Stream state that only RDB 13+/14+ servers hold: IDMP (idempotent producer)
/// tracking and NACK zones. Refused, or (`lossy`) left out with a note; NACKed
/// pending entries go too, since older servers need an owner for each one.
pub(crate) fn strip_newer_stream_state(meta: &mut StreamMeta, lossy: bool, notes: &mut Vec<String>) -> Result<()> {
    if meta.idmp.take().is_some() {
        if !lossy {
            return Err(unsupported("stream IDMP state needs RDB 13 (Redis 8.6)"));
        }
        notes.push("stream IDMP (idempotent producer) state left out".into());
    }
    for g in &mut meta.groups {
        let Some(nacked) = g.nacked.take().filter(|n| !n.is_empty()) else { continue };
        if !lossy {
            return Err(unsupported("stream NACK zones need RDB 14 (Redis 8.8)"));
        }
        g.pending.retain(|id, _| !nacked.contains(id));
        notes.push(format!(
            "{} NACKed pending entries of group \"{}\" left out",
            nacked.len(),
            crate::escape::escape_bytes(&g.name)
        ));
    }
    Ok(())
}

/// Encodes key records (prefix opcodes, type, key, value) into memory, for
/// writing many keys in parallel and appending them in order with
/// [`RdbWriter::raw_records`].
pub struct RecordEncoder(RdbWriter<Vec<u8>>);

impl RecordEncoder {
    pub fn new(version: u32, limits: EncodingLimits, compress: bool, lossy: bool) -> Self {
        RecordEncoder(RdbWriter::unchecked(Vec::new(), version, limits, compress, lossy, false))
    }

    /// Encode one key after those already encoded; what was left out (lossy).
    pub fn key(&mut self, key: &[u8], meta: &KeyAttrs<'_>, value: &dyn ValueSource) -> Result<Vec<String>> {
        self.0.key(key, meta, value)?;
        Ok(self.0.take_notes())
    }

    /// Bytes encoded so far.
    pub fn len(&self) -> usize {
        self.0.out.out.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.out.out.is_empty()
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.0.out.out
    }
}

/// A `DUMP` payload of `value` for a server of RDB `version`: the type byte and
/// the value as in an RDB, the version (2 bytes LE) and the CRC-64 of all that
/// (8 bytes LE), as `RESTORE` expects.
pub fn dump_payload(
    value: &dyn ValueSource,
    version: u32,
    limits: EncodingLimits,
    lossy: bool,
) -> Result<(Vec<u8>, Vec<String>)> {
    let mut w = RdbWriter::unchecked(Vec::new(), version, limits, true, lossy, true);
    w.value(b"", value)?;
    w.flush_buf()?;
    let notes = w.take_notes();
    let mut out = w.out.out;
    out.extend_from_slice(&(version as u16).to_le_bytes());
    let crc = crc_fast::checksum(crc_fast::CrcAlgorithm::Crc64Redis, &out);
    out.extend_from_slice(&crc.to_le_bytes());
    Ok((out, notes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_from_redis_conf() {
        let l = EncodingLimits::from_redis_conf(
            "# comment\nhash-max-ziplist-entries 512\nzset-max-listpack-value 128\nlist-max-ziplist-size 16\nport 6379\n",
        )
        .unwrap();
        assert_eq!(l.hash_max_listpack_entries, 512);
        assert_eq!(l.zset_max_listpack_value, 128);
        assert_eq!(l.list_node(), (usize::MAX, 16));
        assert_eq!(l.set_max_intset_entries, 512);
        assert!(EncodingLimits::from_redis_conf("set-max-intset-entries lots").is_err());
    }
}

fn put_id(buf: &mut Vec<u8>, id: StreamId) {
    put_len(buf, id.ms);
    put_len(buf, id.seq);
}

fn put_raw_id(buf: &mut Vec<u8>, id: StreamId) {
    buf.extend_from_slice(&id.ms.to_be_bytes());
    buf.extend_from_slice(&id.seq.to_be_bytes());
}

/// An item as an RDB string (integers as their decimal text, as Redis stores them).
fn put_item(buf: &mut Vec<u8>, it: Item<'_>, compress: bool) {
    match it {
        Item::Bytes(b) => put_string(buf, b, compress),
        Item::Int(i) => super::encode::put_int_as_string(buf, i),
    }
}

/// Call `f` with each list element / set member.
fn each_item(v: &dyn ValueSource, mut f: impl FnMut(Item<'_>)) -> Result<()> {
    v.pieces(&mut |p: Piece<'_>| {
        if let Piece::Elem(it) = p {
            f(it);
        }
        Ok(())
    })
}

/// What the first pass learns about a collection.
#[derive(Debug, Default)]
struct Shape {
    count: u64,
    /// Longest member, field or value, in bytes of its text form.
    max_len: usize,
    /// Every element is an integer (sets: intset candidates).
    all_int: bool,
    field_ttls: u64,
    min_ttl: Option<i64>,
}

fn item_len(it: &Item<'_>) -> usize {
    match it {
        Item::Bytes(b) => b.len(),
        Item::Int(i) => itoa::Buffer::new().format(*i).len(),
    }
}

impl Shape {
    fn add(&mut self, p: &Piece<'_>) {
        match p {
            Piece::Elem(it) => {
                self.count += 1;
                self.max_len = self.max_len.max(item_len(it));
                self.all_int &= it.as_int().is_some();
            }
            Piece::Member { member, .. } => {
                self.count += 1;
                self.max_len = self.max_len.max(item_len(member));
            }
            Piece::Field { field, value, expire_at_ms } => {
                self.count += 1;
                self.max_len = self.max_len.max(item_len(field)).max(item_len(value));
                if let Some(t) = expire_at_ms {
                    self.field_ttls += 1;
                    self.min_ttl = Some(self.min_ttl.map_or(*t, |m| m.min(*t)));
                }
            }
            _ => {}
        }
    }
}

enum Node<'a> {
    Packed(&'a [u8]),
    Plain(&'a [u8]),
}

/// Split a list into quicklist nodes as Redis fills them (`list-max-listpack-size`),
/// calling `emit` per node; elements larger than a node become PLAIN nodes
/// (quicklist 2 only).
fn pack_list(
    v: &dyn ValueSource,
    quicklist2: bool,
    max_bytes: usize,
    max_entries: usize,
    mut emit: impl FnMut(Node<'_>) -> Result<()>,
) -> Result<()> {
    let mut packed = PackedBuilder::new(quicklist2);
    let mut result = Ok(());
    v.pieces(&mut |p: Piece<'_>| {
        let Piece::Elem(it) = p else { return Ok(()) };
        if result.is_err() {
            return Ok(());
        }
        let len = item_len(&it);
        if quicklist2 && len > max_bytes {
            if !packed.is_empty() {
                result = emit(Node::Packed(&packed.take()));
            }
            let text = it.to_vec();
            if result.is_ok() {
                result = emit(Node::Plain(&text));
            }
            return Ok(());
        }
        let count = packed.len();
        if count > 0 && (count >= max_entries || packed.bytes() + len + 11 > max_bytes) {
            result = emit(Node::Packed(&packed.take()));
        }
        packed.push(it);
        Ok(())
    })?;
    result?;
    if !packed.is_empty() {
        emit(Node::Packed(&packed.take()))?;
    }
    Ok(())
}

/// One stream node (a listpack delta-encoded against its first entry's ID),
/// built as `streamAppendItem` does.
#[derive(Default)]
pub(crate) struct StreamNode {
    master: StreamId,
    master_fields: Vec<Vec<u8>>,
    pub(crate) count: u64,
    lp: ListpackBuilder,
}

impl StreamNode {
    /// Would an entry of `nfields` fields start a new node?
    pub(crate) fn full(&self, nfields: usize, l: &EncodingLimits) -> bool {
        self.count > 0
            && (self.count >= l.stream_node_max_entries
                || (self.lp.bytes() + nfields * 16) as u64 >= l.stream_node_max_bytes)
    }

    pub(crate) fn push(&mut self, id: StreamId, fields: &[(Item<'_>, Item<'_>)]) {
        if self.count == 0 {
            self.master = id;
            self.master_fields = fields.iter().map(|(f, _)| f.to_vec()).collect();
            // The master entry's counts are patched in `finish`.
        }
        let same = fields.len() == self.master_fields.len()
            && fields.iter().zip(&self.master_fields).all(|((f, _), m)| f.to_vec() == *m);
        let flags = if same { crate::format::STREAM_ITEM_FLAG_SAMEFIELDS } else { 0 };
        let lp = &mut self.lp;
        lp.push(Item::Int(flags));
        lp.push(Item::Int(id.ms.wrapping_sub(self.master.ms) as i64));
        lp.push(Item::Int(id.seq.wrapping_sub(self.master.seq) as i64));
        if !same {
            lp.push(Item::Int(fields.len() as i64));
        }
        for (f, val) in fields {
            if !same {
                lp.push(*f);
            }
            lp.push(*val);
        }
        let lp_count = if same { fields.len() + 3 } else { 2 * fields.len() + 4 };
        lp.push(Item::Int(lp_count as i64));
        self.count += 1;
    }

    /// The node's master ID (its key in the radix tree) and listpack.
    pub(crate) fn finish(self) -> (StreamId, Vec<u8>) {
        let mut lp = ListpackBuilder::new();
        lp.push(Item::Int(self.count as i64));
        lp.push(Item::Int(0));
        lp.push(Item::Int(self.master_fields.len() as i64));
        for f in &self.master_fields {
            lp.push(Item::Bytes(f));
        }
        lp.push(Item::Int(0));
        lp.append(&self.lp);
        (self.master, lp.finish())
    }
}
