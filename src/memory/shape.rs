//! What one key's pieces add up to, read in one pass: counts, the bytes its
//! elements take in each encoding the target could choose, and what the
//! file fixes (quicklist nodes, stream listpacks, blobs kept as read). The
//! [`super::meter::Meter`] then prices the encoding the target chooses.

use super::meter::{Cost, Meter, LISTPACK_OVERHEAD, ZIPLIST_OVERHEAD};
use super::profile::Target;
use super::rax::RaxShape;
use crate::error::Result;
use crate::event::stream::StreamMeta;
use crate::event::{BlobEncoding, Layout, Piece, Sink, StringInfo};
use crate::format::KeyType;
use crate::output::rdb::writer::StreamNode;
use crate::output::rdb::{listpack, ziplist};
use crate::token::{parse_canonical_i64, Item};

/// What one key's pieces add up to.
pub(super) struct Shape<'m> {
    meter: &'m Meter,
    pub(super) ty: KeyType,
    pub(super) count: u64,
    pub(super) largest: u64,
    /// Longest element (field or value for hashes), for listpack limits.
    pub(super) max_len: u64,
    pub(super) exact: bool,
    /// Bytes of a module or array value.
    pub(super) raw_bytes: u64,
    // Strings.
    pub(super) str_len: usize,
    pub(super) str_int: Option<i64>,
    // Sets.
    pub(super) all_int: bool,
    pub(super) int_min: i64,
    pub(super) int_max: i64,
    pub(super) first_non_int: Option<u64>,
    // Hashes: the first pair too long for a listpack.
    pub(super) first_long: Option<u64>,
    /// The file's blob, when the value is one.
    pub(super) blob: Option<(BlobEncoding, usize)>,
    /// The file's blob is in the target's compact encoding.
    blob_kept: bool,
    /// Entry bytes if the value were one listpack (header and end aside).
    pub(super) lp_bytes: u64,
    /// The same as a ziplist, and the last entry's length.
    pub(super) zl_bytes: u64,
    pub(super) zl_prev: usize,
    /// Sorted-set scores were stored as text the target formats alike.
    pub(super) scores_exact: bool,
    /// What the elements of a hash table allocate (members, fields and
    /// values as sds strings).
    pub(super) ht_elements: Cost,
    // Lists: each node's blob bytes, and the one being filled.
    pub(super) nodes: Vec<u64>,
    pub(super) node_open: bool,
    pub(super) node_bytes: u64,
    pub(super) node_count: u64,
    pub(super) node_prev: usize,
    pub(super) node_plain: bool,
    /// The last node was a plain one (a single large element).
    pub(super) last_node_plain: bool,
    /// Hash fields with a TTL.
    pub(super) field_ttls: u64,
    /// Sorted sets: the skiplist nodes (expected sizes).
    skiplist_expected: f64,
    /// The node's bytes as stored, when the target keeps them.
    pub(super) node_stored: Option<u64>,
    /// The file gave node boundaries.
    pub(super) nodes_from_file: bool,
    // Streams.
    pub(super) stream: StreamShape,
}

pub(super) struct StreamShape {
    /// The node being packed, for an input that does not give them.
    building: Option<StreamNode>,
    pub(super) nodes: RaxShape,
    pub(super) listpacks: Cost,
    pub(super) layout_known: bool,
    pub(super) meta: Option<StreamMeta>,
}

impl<'m> Shape<'m> {
    pub(super) fn new(meter: &'m Meter, ty: KeyType) -> Shape<'m> {
        Shape {
            meter,
            ty,
            count: 0,
            largest: 0,
            max_len: 0,
            exact: true,
            raw_bytes: 0,
            str_len: 0,
            str_int: None,
            all_int: true,
            int_min: 0,
            int_max: 0,
            first_non_int: None,
            first_long: None,
            blob: None,
            blob_kept: false,
            lp_bytes: 0,
            zl_bytes: 0,
            zl_prev: 0,
            scores_exact: true,
            ht_elements: Cost::default(),
            nodes: Vec::new(),
            node_open: false,
            node_bytes: 0,
            node_count: 0,
            node_prev: 0,
            node_plain: false,
            last_node_plain: false,
            field_ttls: 0,
            skiplist_expected: 0.0,
            node_stored: None,
            nodes_from_file: false,
            stream: StreamShape {
                building: None,
                nodes: RaxShape::new(meter.a()),
                listpacks: Cost::default(),
                layout_known: false,
                meta: None,
            },
        }
    }

    /// A stream node the input did not give, packed here.
    fn add_stream_node(&mut self, node: StreamNode) {
        let (master, lp) = node.finish();
        self.stream.nodes.insert(super::meter::id_key(&master));
        let b = self.meter.usable(lp.len());
        self.stream.listpacks += Cost { usage: b, alloc: b };
    }

    /// The skiplist nodes' expected allocations.
    pub(super) fn skiplist_nodes(&self) -> Cost {
        let n = self.skiplist_expected.round() as u64;
        Cost { usage: n, alloc: n }
    }

    pub(super) fn string(&mut self, info: StringInfo) {
        self.count = 1;
        self.str_len = info.len;
        self.largest = info.len as u64;
        self.str_int = info.int;
    }

    fn is_62(&self) -> bool {
        self.meter.t().ziplists()
    }

    /// Account one element of a listpack or ziplist.
    fn compact(&mut self, item: Item<'_>) {
        if !self.compact_possible() {
            return;
        }
        if self.is_62() {
            let z = ziplist::entry_size(self.zl_prev, item);
            self.zl_bytes += z as u64;
            self.zl_prev = z;
        } else {
            self.lp_bytes += listpack::entry_size(item) as u64;
        }
    }

    /// Whether the value could still be one listpack (or ziplist) the
    /// target builds: not already one it keeps as read, and within its
    /// limits so far (sizes past them are never needed).
    fn compact_possible(&self) -> bool {
        if self.blob_kept {
            return false;
        }
        let l = &self.meter.profile().limits;
        let (entries, value) = match self.ty {
            KeyType::Hash => (l.hash_max_listpack_entries, l.hash_max_listpack_value),
            KeyType::Zset => (l.zset_max_listpack_entries, l.zset_max_listpack_value),
            KeyType::Set => (l.set_max_listpack_entries, l.set_max_listpack_value),
            _ => return true,
        };
        self.count <= entries && self.max_len <= value
    }

    fn seen(&mut self, len: usize) {
        self.largest = self.largest.max(len as u64);
        self.max_len = self.max_len.max(len as u64);
    }

    fn list_elem(&mut self, item: Item<'_>) {
        let len = item_len(item);
        let fill = self.meter.profile().limits.list_max_listpack_size;
        let entry =
            if self.is_62() { ziplist::entry_size(self.node_prev, item) } else { listpack::entry_size(item) } as u64;
        if !self.nodes_from_file
            && self.node_open
            && !allow_insert(self.is_62(), self.node_bytes, self.node_count, len, fill)
        {
            self.finish_list_node();
        }
        if !self.node_open {
            self.node_open = true;
            self.node_bytes = if self.is_62() { ZIPLIST_OVERHEAD } else { LISTPACK_OVERHEAD };
            self.node_count = 0;
            self.node_prev = 0;
        }
        if self.node_plain {
            self.node_bytes = len as u64;
        } else {
            self.node_bytes += entry;
        }
        self.node_prev = entry as usize;
        self.node_count += 1;
    }

    pub(super) fn finish_list_node(&mut self) {
        if self.node_open {
            self.last_node_plain = self.node_plain;
            self.nodes.push(self.node_stored.take().unwrap_or(self.node_bytes));
            self.node_open = false;
        }
    }

    pub(super) fn int_width(&self) -> u64 {
        let fits = |lo: i64, hi: i64| self.int_min >= lo && self.int_max <= hi;
        if fits(i16::MIN.into(), i16::MAX.into()) {
            2
        } else if fits(i32::MIN.into(), i32::MAX.into()) {
            4
        } else {
            8
        }
    }

    fn set_member(&mut self, item: Item<'_>) {
        let index = self.count;
        let int = match item {
            Item::Int(v) => Some(v),
            Item::Bytes(b) => parse_canonical_i64(b),
        };
        match int {
            Some(v) if self.all_int => {
                if index == 0 {
                    (self.int_min, self.int_max) = (v, v);
                }
                self.int_min = self.int_min.min(v);
                self.int_max = self.int_max.max(v);
            }
            Some(_) => {}
            None => {
                if self.all_int {
                    self.first_non_int = Some(index);
                }
                self.all_int = false;
            }
        }
        let len = item_len(item);
        self.seen(len);
        self.compact(item);
        let member = self.meter.member_cost(len);
        self.ht_elements += Cost { usage: member, alloc: member };
    }
}

/// `_quicklistNodeAllowInsert`: may an element of `len` bytes join a node of
/// `bytes` bytes and `count` elements? 6.2 estimates a ziplist entry's
/// overhead; 7.0+ adds a flat 8 bytes.
fn allow_insert(ziplist: bool, bytes: u64, count: u64, len: usize, fill: i64) -> bool {
    let overhead = if ziplist {
        let prev = if len < 254 { 1 } else { 5 };
        prev + if len < 64 {
            1
        } else if len < 16384 {
            2
        } else {
            5
        }
    } else {
        8
    };
    let new_sz = bytes + len as u64 + overhead;
    if fill < 0 {
        let level = (-fill - 1) as usize;
        if let Some(limit) = [4096u64, 8192, 16384, 32768, 65536].get(level) {
            if new_sz <= *limit {
                return true;
            }
        }
    }
    if new_sz > 8192 {
        return false;
    }
    fill > 0 && (count as i64) < fill
}

fn item_len(item: Item<'_>) -> usize {
    match item {
        Item::Bytes(b) => b.len(),
        Item::Int(v) => {
            let digits = v.unsigned_abs().checked_ilog10().map_or(1, |l| l as usize + 1);
            digits + usize::from(v < 0)
        }
    }
}

/// How a score is stored as text in a listpack or ziplist (util.c
/// `d2string`): `inf`, integers as integers, else `%.17g` up to 7.0 and the
/// shortest text that reads back from 7.2 (`fpconv_dtoa`).
fn score_text(score: f64, shortest: bool) -> String {
    if shortest || score.is_infinite() || (score == score.trunc() && score.abs() < (1u64 << 52) as f64) {
        return crate::format::numbers::score_text(score);
    }
    crate::format::numbers::format_g17(score)
}

impl Sink for Shape<'_> {
    fn wants_layout(&self) -> bool {
        true
    }

    /// Scores only matter for the text a listpack the target builds holds;
    /// a blob kept as read (announced before its members) holds its own.
    fn wants_scores(&self) -> bool {
        !self.blob_kept
    }

    fn piece(&mut self, piece: Piece<'_>) -> Result<()> {
        match piece {
            Piece::Str(b) => self.string(StringInfo { len: b.len(), int: parse_canonical_i64(b) }),
            Piece::Elem(item) if self.ty == KeyType::List => {
                let len = item_len(item);
                self.seen(len);
                self.list_elem(item);
                self.count += 1;
            }
            Piece::Elem(item) => {
                self.set_member(item);
                self.count += 1;
            }
            Piece::Member { member, score } => {
                let len = item_len(member);
                self.seen(len);
                self.compact(member);
                if self.compact_possible() {
                    let text = score_text(score, self.meter.t() >= Target::Redis72);
                    if self.meter.t() >= Target::Redis72 && text.contains(['.', 'e']) {
                        // 7.2+ prints the shortest form (fpconv_dtoa), not modelled.
                        self.scores_exact = false;
                    }
                    self.compact(Item::Bytes(text.as_bytes()));
                }
                let sds = self.meter.zset_member_sds(len);
                self.ht_elements += Cost { usage: sds, alloc: sds };
                self.skiplist_expected += self.meter.skiplist_node_cost(len);
                self.count += 1;
            }
            Piece::Field { field, value, expire_at_ms } => {
                let (fl, vl) = (item_len(field), item_len(value));
                self.seen(fl);
                self.seen(vl);
                let limit = self.meter.profile().limits.hash_max_listpack_value as usize;
                if self.first_long.is_none() && (fl > limit || vl > limit) {
                    self.first_long = Some(self.count);
                }
                self.compact(field);
                self.compact(value);
                let entry = self.meter.field_cost(fl, vl, expire_at_ms.is_some());
                self.ht_elements += Cost { usage: entry, alloc: entry };
                self.field_ttls += u64::from(expire_at_ms.is_some());
                self.count += 1;
            }
            Piece::StreamEntry { id, fields } => {
                self.count += 1;
                if !self.stream.layout_known {
                    // No nodes from the file (an AOF or a dump): packed as
                    // the server packs entries it appends.
                    let limits = self.meter.profile().limits;
                    let node = self.stream.building.get_or_insert_with(Default::default);
                    if node.full(fields.len(), &limits) {
                        let done = std::mem::take(node);
                        self.add_stream_node(done);
                    }
                    let node = self.stream.building.get_or_insert_with(Default::default);
                    node.push(id, fields);
                }
            }
            Piece::StreamMeta(m) => {
                if let Some(node) = self.stream.building.take().filter(|n| n.count > 0) {
                    self.add_stream_node(node);
                }
                self.count = m.length;
                self.stream.meta = Some(m.clone());
            }
            Piece::Layout(Layout::ListNode { blob }) => {
                self.nodes_from_file = true;
                self.finish_list_node();
                self.node_plain = blob.is_none();
                // A node already in the target's encoding is kept as read.
                let want = if self.is_62() { BlobEncoding::Ziplist } else { BlobEncoding::Listpack };
                self.node_stored = blob.filter(|(e, _)| *e == want).map(|(_, b)| b as u64);
            }
            Piece::Layout(Layout::StreamNode { master, listpack_bytes }) => {
                self.stream.layout_known = true;
                self.stream.nodes.insert(super::meter::id_key(&master));
                let b = self.meter.usable(listpack_bytes);
                self.stream.listpacks.usage += b;
                self.stream.listpacks.alloc += b;
            }
            Piece::Layout(Layout::Blob { encoding, bytes }) => {
                self.blob = Some((encoding, bytes));
                // A blob in the target's own compact encoding is kept as read:
                // its elements' sizes in it need not be worked out.
                let own = if self.is_62() { BlobEncoding::Ziplist } else { BlobEncoding::Listpack };
                self.blob_kept = encoding == own;
            }
            Piece::Module { raw, .. } => self.raw_bytes += raw.len() as u64,
            Piece::ArrayHeader { .. } => {}
            Piece::ArrayElem { value, .. } => {
                self.count += 1;
                // An estimate by the element's text, so that it is the same
                // whether the input stored numbers as numbers (an RDB) or as
                // their text (a dump).
                let len = match value {
                    crate::event::ArrayValue::Bytes(b) => b.len(),
                    crate::event::ArrayValue::Int(v) => item_len(Item::Int(v)),
                    crate::event::ArrayValue::Float(f) => {
                        let mut text = Vec::new();
                        crate::output::record::write_float_text(&mut text, f);
                        text.len()
                    }
                };
                self.raw_bytes += 16 + len as u64;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_print_as_d2string_does() {
        assert_eq!(score_text(1.0, false), "1");
        assert_eq!(score_text(-3.0, false), "-3");
        assert_eq!(score_text(1.5, false), "1.5");
        assert_eq!(score_text(0.1, false), "0.10000000000000001");
        assert_eq!(score_text(0.1, true), "0.1");
        assert_eq!(score_text(1e300, false), "1.0000000000000001e+300");
        assert_eq!(score_text(f64::INFINITY, false), "inf");
        assert_eq!(score_text(-0.0, false), "0");
    }
}
