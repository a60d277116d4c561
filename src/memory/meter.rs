//! What one key costs in the memory of a server that has just loaded it.
//!
//! A key's pieces are read once into a [`Shape`]: counts, the sizes its
//! elements take in each encoding the target could choose, and what the file
//! fixes (quicklist nodes, stream listpacks, blobs kept as read). The target
//! then chooses the encoding as its load does (rdb.c `rdbLoadObject`) and
//! prices it as `MEMORY USAGE key SAMPLES 0` does (object.c
//! `objectComputeSize` and `memoryCommand`), alongside what the allocations
//! really take (`allocated`).

use super::alloc::Allocator;
use super::dict::DictShape;
use super::profile::{Profile, Target};
use super::rax::RaxShape;
use crate::error::Result;
use crate::event::stream::{StreamId, StreamMeta};
use crate::event::{BlobEncoding, KeyAttrs, Layout, Piece, Sink, ValueSource};
use crate::format::KeyType;
use crate::output::rdb::{listpack, ziplist};
use crate::token::{parse_canonical_i64, Item};

/// What one key costs.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyCost {
    /// What `OBJECT ENCODING` would say on the target.
    pub encoding: &'static str,
    /// Elements (list elements, members, fields, stream entries; 1 for a string).
    pub elements: u64,
    /// What `MEMORY USAGE key SAMPLES 0` would say right after the load.
    pub memory_usage: u64,
    /// What the key's allocations take (what deleting it frees), its expiry
    /// entry included.
    pub allocated: u64,
    /// The largest element (or the string), in bytes.
    pub largest: u64,
    /// False where the figure is an estimate: random skiplist levels, a
    /// hash table whose rehash may or may not have finished, a module value,
    /// a target whose rules were never held to a server.
    pub exact: bool,
}

/// Two running sums: what `MEMORY USAGE` counts, and what the allocator
/// hands out for the same structures.
#[derive(Debug, Clone, Copy, Default)]
struct Cost {
    usage: u64,
    alloc: u64,
}

/// Prices keys for one profile.
#[derive(Debug, Clone)]
pub struct Meter {
    profile: Profile,
    /// Expected allocator size of a skiplist node (random level).
    skiplist_node: f64,
}

impl Meter {
    pub fn new(profile: Profile) -> Meter {
        let a = profile.allocator;
        // zslRandomLevel: each level above the first with probability 1/4,
        // up to 32 levels.
        let mut expected = 0.0;
        let mut p = 1.0;
        for level in 1..=32usize {
            let here = if level == 32 { p } else { p * 0.75 };
            expected += here * a.usable(SKIPLIST_NODE + SKIPLIST_LEVEL * level) as f64;
            p *= 0.25;
        }
        Meter { profile, skiplist_node: expected }
    }

    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// The cost of one key.
    pub fn measure(&self, key: &[u8], attrs: &KeyAttrs<'_>, value: &dyn ValueSource) -> Result<KeyCost> {
        let mut shape = Shape::new(self, value.key_type());
        value.pieces(&mut shape)?;
        shape.finish_list_node();
        let mut cost = self.value_cost(&mut shape);
        self.add_key(&mut cost, key, attrs.expire_at_ms.is_some(), &shape);
        Ok(cost)
    }

    /// The keyspace's own tables for a database of `keys` keys, `expires`
    /// of them with a TTL: sized for them by the file's RESIZEDB (rdb.c),
    /// 8 bytes per bucket (Redis); Valkey 8.1+ holds keys in 64-byte
    /// buckets of 7 (hashtable.c).
    pub fn keyspace_tables(&self, keys: u64, expires: u64) -> u64 {
        let table = |n: u64| -> u64 {
            if n == 0 {
                return 0;
            }
            if self.t() >= Target::Valkey81 {
                super::valkey::buckets(n) * 64
            } else {
                self.usable(8 * n.max(4).next_power_of_two() as usize)
            }
        };
        table(keys) + table(expires)
    }

    fn t(&self) -> Target {
        self.profile.target
    }

    fn a(&self) -> Allocator {
        self.profile.allocator
    }

    fn usable(&self, n: usize) -> u64 {
        self.a().usable(n) as u64
    }

    /// The allocation of an sds string of `len` bytes as the load creates it
    /// (sds.c `sdsnewlen`: the smallest header type that holds the length;
    /// an empty string gets type 8).
    fn sds(&self, len: usize) -> u64 {
        self.usable(sds_header(len) + len + 1)
    }

    /// Size of a compact blob as the target counts it: 6.2 counts its
    /// ziplists and intsets by their length, later versions by allocation.
    fn blob(&self, bytes: u64) -> Cost {
        let alloc = self.usable(bytes as usize);
        let usage = if self.t() == Target::Redis62 { bytes } else { alloc };
        Cost { usage, alloc }
    }

    /// A fixed-size struct: `MEMORY USAGE` counts its `sizeof`.
    fn sized(&self, bytes: usize) -> Cost {
        Cost { usage: bytes as u64, alloc: self.usable(bytes) }
    }

    /// The main dictionary's part of a key: its name and entry (and the
    /// expires entry, which only the allocation counts).
    fn add_key(&self, cost: &mut KeyCost, key: &[u8], expires: bool, shape: &Shape) {
        let _ = shape;
        if self.t().is_valkey() && self.t() >= Target::Valkey81 {
            // The key lives in the object (and was counted with it); the
            // table holds a pointer in a bucket.
            if expires {
                cost.allocated += 0;
            }
            return;
        }
        let name = self.sds(key.len());
        cost.memory_usage += name + DICT_ENTRY as u64;
        cost.allocated += name + self.usable(DICT_ENTRY);
        if expires {
            cost.allocated += self.usable(DICT_ENTRY);
        }
    }

    fn value_cost(&self, s: &mut Shape) -> KeyCost {
        let robj = self.sized(ROBJ);
        let (encoding, cost, exact) = match s.ty {
            KeyType::String => self.string_cost(s),
            KeyType::List => self.list_cost(s),
            KeyType::Set => self.set_cost(s),
            KeyType::Zset => self.zset_cost(s),
            KeyType::Hash => self.hash_cost(s),
            KeyType::Stream => self.stream_cost(s),
            // A module's own `mem_usage` decides; its serialized size is
            // the best guess we have.
            KeyType::Module | KeyType::Array => {
                ("raw", Cost { usage: 16 + s.raw_bytes, alloc: 16 + s.raw_bytes }, false)
            }
        };
        let robj_counted = !matches!(encoding, "embstr" | "int");
        let (usage, alloc) = if robj_counted && s.ty != KeyType::String {
            (cost.usage + robj.usage, cost.alloc + robj.alloc)
        } else {
            (cost.usage, cost.alloc)
        };
        KeyCost {
            encoding,
            elements: s.count,
            memory_usage: usage,
            allocated: alloc,
            largest: s.largest,
            exact: exact && !self.profile.approximate() && s.exact,
        }
    }

    fn string_cost(&self, s: &Shape) -> (&'static str, Cost, bool) {
        let len = s.str_len;
        let robj = self.sized(ROBJ);
        if let Some(v) = s.str_int {
            // tryObjectEncoding: shared integers 0..9999 cost the key nothing
            // to allocate, but MEMORY USAGE still counts an object.
            let alloc = if (0..SHARED_INTEGERS).contains(&v) { 0 } else { robj.alloc };
            return ("int", Cost { usage: robj.usage, alloc }, true);
        }
        if len <= EMBSTR_MAX {
            // createEmbeddedStringObject: object, sds header 8, bytes, NUL.
            let bytes = ROBJ + 3 + len + 1;
            let alloc = self.usable(bytes);
            let usage = if self.t() == Target::Redis62 { (len + 2 + ROBJ) as u64 } else { alloc };
            return ("embstr", Cost { usage, alloc }, true);
        }
        let sds = self.sds(len);
        ("raw", Cost { usage: robj.usage + sds, alloc: robj.alloc + sds }, true)
    }

    fn list_cost(&self, s: &mut Shape) -> (&'static str, Cost, bool) {
        let node = self.sized(self.quicklist_node());
        let n = s.nodes.len() as u64;
        let mut elesize = 0u64;
        let mut alloc = self.usable(QUICKLIST);
        for bytes in &s.nodes {
            let b = self.blob(*bytes);
            elesize += node.usage + b.usage;
            alloc += node.alloc + b.alloc;
        }
        // objectComputeSize: `(double)elesize/samples*ql->len`.
        let usage = average_times(QUICKLIST as u64, elesize, n, n);
        ("quicklist", Cost { usage, alloc }, true)
    }

    fn quicklist_node(&self) -> usize {
        if self.t() == Target::Redis62 {
            32
        } else {
            40
        }
    }

    fn set_cost(&self, s: &mut Shape) -> (&'static str, Cost, bool) {
        let l = &self.profile.limits;
        if s.all_int && s.count <= l.set_max_intset_entries {
            let bytes = match s.blob {
                Some((BlobEncoding::Intset, b)) => b as u64,
                _ => 8 + s.int_width() * s.count,
            };
            return ("intset", self.blob(bytes), true);
        }
        let mut dict = DictShape::new();
        match s.blob {
            // An intset or listpack over the limits is converted whole, into
            // a dict sized for it (t_set.c `setTypeConvert`).
            Some(_) => {
                dict.expand(s.count);
                dict.add_n(s.count);
            }
            None => {
                if s.count > l.set_max_intset_entries {
                    // rdbLoadObject presizes a set that cannot be an intset.
                    if s.count > 4 {
                        dict.expand(s.count);
                    }
                    dict.add_n(s.count);
                } else {
                    // Read into an intset until the first member that is not
                    // an integer, then converted (sized for the members so
                    // far) and expanded for the whole set.
                    let before = s.first_non_int.unwrap_or(0);
                    dict.expand(before);
                    dict.add_n(before);
                    dict.expand(s.count);
                    dict.add_n(s.count - before);
                }
            }
        }
        self.dict_cost(&dict, s.ht_elements, s.count)
    }

    /// A hash table's cost: the dict struct, its bucket arrays, and per
    /// element its entry plus `elements` (what each element allocates).
    fn dict_cost(&self, dict: &DictShape, elements: Cost, count: u64) -> (&'static str, Cost, bool) {
        let dict_struct = self.sized(self.dict_struct());
        let slots = dict.slots();
        let table_alloc: u64 = dict.tables().iter().filter(|&&t| t > 0).map(|&t| self.usable(8 * t as usize)).sum();
        let entry = self.sized(DICT_ENTRY);
        let elesize = elements.usage + entry.usage * count;
        let usage = average_times(dict_struct.usage + 8 * slots, elesize, count, count);
        let alloc = dict_struct.alloc + table_alloc + elements.alloc + entry.alloc * count;
        ("hashtable", Cost { usage, alloc }, dict.certain())
    }

    fn dict_struct(&self) -> usize {
        if self.t() == Target::Redis62 {
            96
        } else {
            56
        }
    }

    fn zset_cost(&self, s: &mut Shape) -> (&'static str, Cost, bool) {
        let l = &self.profile.limits;
        if s.count <= l.zset_max_listpack_entries && s.max_len <= l.zset_max_listpack_value {
            return (self.compact_name(), self.compact_blob(s), s.scores_exact);
        }
        let mut dict = DictShape::new();
        if s.count > 4 && s.blob.is_none() {
            dict.expand(s.count);
        }
        dict.add_n(s.count);
        let header = self.usable(SKIPLIST_NODE + SKIPLIST_LEVEL * 32);
        let fixed = self.sized(ZSET + ZSKIPLIST);
        let base = Cost { usage: fixed.usage + header, alloc: fixed.alloc + header };
        let (_, d, certain) = self.dict_cost(&dict, s.ht_elements, s.count);
        let nodes = (self.skiplist_node * s.count as f64).round() as u64;
        let cost = Cost { usage: base.usage + d.usage + nodes, alloc: base.alloc + d.alloc + nodes };
        // Node levels are random: only the expectation is known.
        ("skiplist", cost, certain && s.count == 0)
    }

    fn compact_name(&self) -> &'static str {
        if self.t() == Target::Redis62 {
            "ziplist"
        } else {
            "listpack"
        }
    }

    /// A listpack (or ziplist) holding the value: the file's blob when the
    /// target keeps it as read, else what the target would build.
    fn compact_blob(&self, s: &Shape) -> Cost {
        let (want, computed) = if self.t() == Target::Redis62 {
            (BlobEncoding::Ziplist, ZIPLIST_OVERHEAD + s.zl_bytes)
        } else {
            (BlobEncoding::Listpack, LISTPACK_OVERHEAD + s.lp_bytes)
        };
        match s.blob {
            Some((e, b)) if e == want => self.blob(b as u64),
            _ => self.blob(computed),
        }
    }

    fn hash_cost(&self, s: &mut Shape) -> (&'static str, Cost, bool) {
        let l = &self.profile.limits;
        if s.count <= l.hash_max_listpack_entries && s.max_len <= l.hash_max_listpack_value {
            return (self.compact_name(), self.compact_blob(s), true);
        }
        let mut dict = DictShape::new();
        match s.blob {
            // Converted whole, sized for it (t_hash.c `hashTypeConvertListpack`).
            Some(_) => {
                dict.expand(s.count);
                dict.add_n(s.count);
            }
            None if s.count > l.hash_max_listpack_entries => {
                dict.expand(s.count);
                dict.add_n(s.count);
            }
            None => {
                // Read into a listpack until the first pair too long for it;
                // converted (sized for the pairs so far), that pair added,
                // then expanded for the pairs left (rdbLoadObject).
                let before = s.first_long.unwrap_or(0);
                dict.expand(before);
                dict.add_n(before + 1);
                let left = s.count - before - 1;
                if left > 4 {
                    dict.expand(left);
                }
                dict.add_n(left);
            }
        }
        self.dict_cost(&dict, s.ht_elements, s.count)
    }

    fn stream_cost(&self, s: &mut Shape) -> (&'static str, Cost, bool) {
        let st = &s.stream;
        let fixed = self.sized(if self.t() == Target::Redis62 { 40 } else { 80 });
        let rax_struct = self.sized(24);
        let mut usage = fixed.usage + st.nodes.redis_usage();
        let mut alloc = fixed.alloc + rax_struct.alloc + st.nodes.alloc_size();
        usage += st.listpacks.usage;
        alloc += st.listpacks.alloc;
        let mut exact = !st.nodes.disordered && st.layout_known;
        if let Some(meta) = &st.meta {
            let (u, a, e) = self.groups_cost(meta);
            usage += u;
            alloc += a;
            exact &= e;
        }
        ("stream", Cost { usage, alloc }, exact)
    }

    /// Consumer groups: per group its struct, PEL tree and NACKs; per
    /// consumer its struct, name and PEL tree (object.c).
    fn groups_cost(&self, meta: &StreamMeta) -> (u64, u64, bool) {
        let (cg, consumer, nack) = if self.t() == Target::Redis62 { (32, 24, 24) } else { (40, 24, 24) };
        let (mut usage, mut alloc, mut exact) = (0u64, 0u64, true);
        for g in &meta.groups {
            let mut pel = RaxShape::new(self.a());
            for id in g.pending.keys() {
                pel.insert(id_key(id));
            }
            usage += cg + pel.redis_usage() + nack * g.pending.len() as u64;
            alloc += self.usable(cg as usize) + pel.alloc_size() + self.usable(nack as usize) * g.pending.len() as u64;
            exact &= !pel.disordered;
            for ids in g.consumer_pels() {
                let mut rax = RaxShape::new(self.a());
                for id in &ids {
                    rax.insert(id_key(id));
                }
                usage += consumer + rax.redis_usage();
                alloc += self.usable(consumer as usize) + rax.alloc_size();
            }
            for c in &g.consumers {
                usage += c.name.len() as u64;
                alloc += self.sds(c.name.len());
            }
        }
        (usage, alloc, exact)
    }
}

fn id_key(id: &StreamId) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&id.ms.to_be_bytes());
    k[8..].copy_from_slice(&id.seq.to_be_bytes());
    k
}

/// `asize += (double)elesize/samples*n`, as C computes it: in doubles, then
/// truncated back into a `size_t`.
fn average_times(base: u64, elesize: u64, samples: u64, n: u64) -> u64 {
    if samples == 0 {
        return base;
    }
    (base as f64 + elesize as f64 / samples as f64 * n as f64) as u64
}

const ROBJ: usize = 16;
const DICT_ENTRY: usize = 24;
const QUICKLIST: usize = 40;
const ZSET: usize = 16;
const ZSKIPLIST: usize = 32;
/// zskiplistNode: member, score, backward pointer; then 16 bytes per level.
const SKIPLIST_NODE: usize = 24;
const SKIPLIST_LEVEL: usize = 16;
/// The longest string kept in one allocation with its object
/// (`OBJ_ENCODING_EMBSTR_SIZE_LIMIT`).
const EMBSTR_MAX: usize = 44;
const SHARED_INTEGERS: i64 = 10000;
/// Listpack header (total bytes, count) and end byte.
const LISTPACK_OVERHEAD: u64 = 7;
/// Ziplist header (total bytes, tail offset, count) and end byte.
const ZIPLIST_OVERHEAD: u64 = 11;

/// The header of an sds string of `len` bytes (sds.c `sdsReqType`).
fn sds_header(len: usize) -> usize {
    match len {
        0 => 3,
        1..=31 => 1,
        32..=255 => 3,
        256..=65535 => 5,
        _ if len as u64 <= u32::MAX as u64 => 9,
        _ => 17,
    }
}

/// What one key's pieces add up to.
struct Shape<'m> {
    meter: &'m Meter,
    ty: KeyType,
    count: u64,
    largest: u64,
    /// Longest element (field or value for hashes), for listpack limits.
    max_len: u64,
    exact: bool,
    /// Bytes of a module or array value.
    raw_bytes: u64,
    // Strings.
    str_len: usize,
    str_int: Option<i64>,
    // Sets.
    all_int: bool,
    int_min: i64,
    int_max: i64,
    first_non_int: Option<u64>,
    // Hashes: the first pair too long for a listpack.
    first_long: Option<u64>,
    /// The file's blob, when the value is one.
    blob: Option<(BlobEncoding, usize)>,
    /// Entry bytes if the value were one listpack (header and end aside).
    lp_bytes: u64,
    /// The same as a ziplist, and the last entry's length.
    zl_bytes: u64,
    zl_prev: usize,
    /// Sorted-set scores were stored as text the target formats alike.
    scores_exact: bool,
    /// What the elements of a hash table allocate (members, fields and
    /// values as sds strings).
    ht_elements: Cost,
    // Lists: each node's blob bytes, and the one being filled.
    nodes: Vec<u64>,
    node_open: bool,
    node_bytes: u64,
    node_count: u64,
    node_prev: usize,
    node_plain: bool,
    /// The node's bytes as stored, when the target keeps them.
    node_stored: Option<u64>,
    /// The file gave node boundaries.
    nodes_from_file: bool,
    // Streams.
    stream: StreamShape,
}

struct StreamShape {
    nodes: RaxShape,
    listpacks: Cost,
    layout_known: bool,
    meta: Option<StreamMeta>,
}

impl<'m> Shape<'m> {
    fn new(meter: &'m Meter, ty: KeyType) -> Shape<'m> {
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
            node_stored: None,
            nodes_from_file: false,
            stream: StreamShape {
                nodes: RaxShape::new(meter.a()),
                listpacks: Cost::default(),
                layout_known: false,
                meta: None,
            },
        }
    }

    fn is_62(&self) -> bool {
        self.meter.t() == Target::Redis62
    }

    /// Account one element of a listpack or ziplist.
    fn compact(&mut self, item: Item<'_>) {
        self.lp_bytes += listpack::entry_size(item) as u64;
        let z = ziplist::entry_size(self.zl_prev, item);
        self.zl_bytes += z as u64;
        self.zl_prev = z;
    }

    fn seen(&mut self, len: usize) {
        self.largest = self.largest.max(len as u64);
        self.max_len = self.max_len.max(len as u64);
    }

    fn list_elem(&mut self, item: Item<'_>) {
        let len = item_len(item);
        let fill = self.meter.profile.limits.list_max_listpack_size;
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

    fn finish_list_node(&mut self) {
        if self.node_open {
            self.nodes.push(self.node_stored.take().unwrap_or(self.node_bytes));
            self.node_open = false;
        }
    }

    fn int_width(&self) -> u64 {
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
        let sds = self.meter.sds(len);
        self.ht_elements.usage += sds;
        self.ht_elements.alloc += sds;
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
        Item::Int(v) => itoa::Buffer::new().format(v).len(),
    }
}

/// How a score is stored as text in a listpack or ziplist (util.c
/// `d2string`): integers in the exact range as integers, else `%.17g`.
fn score_text(score: f64) -> String {
    if score.is_infinite() {
        return if score > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if score == 0.0 {
        return if score.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    if score.abs() < 4503599627370496.0 && score == score.trunc() {
        return format!("{}", score as i64);
    }
    format_g17(score)
}

/// C's `%.17g`.
fn format_g17(v: f64) -> String {
    let e = format!("{v:.16e}");
    let (mantissa, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let trim = |s: &str| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s.to_string()
        }
    };
    if !(-4..17).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim(mantissa), exp.abs())
    } else {
        let decimals = (16 - exp).max(0) as usize;
        trim(&format!("{v:.decimals$}"))
    }
}

impl Sink for Shape<'_> {
    fn wants_layout(&self) -> bool {
        true
    }

    fn piece(&mut self, piece: Piece<'_>) -> Result<()> {
        match piece {
            Piece::Str(b) => {
                self.count = 1;
                self.str_len = b.len();
                self.largest = b.len() as u64;
                self.str_int = if b.len() <= 20 { parse_canonical_i64(b) } else { None };
            }
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
                let text = score_text(score);
                if self.meter.t() >= Target::Redis72 && text.contains(['.', 'e']) {
                    // 7.2+ prints the shortest form (fpconv_dtoa), not modelled.
                    self.scores_exact = false;
                }
                self.compact(Item::Bytes(text.as_bytes()));
                let sds = self.meter.sds(len);
                self.ht_elements.usage += sds;
                self.ht_elements.alloc += sds;
                self.count += 1;
            }
            Piece::Field { field, value, expire_at_ms } => {
                let (fl, vl) = (item_len(field), item_len(value));
                self.seen(fl);
                self.seen(vl);
                let limit = self.meter.profile.limits.hash_max_listpack_value as usize;
                if self.first_long.is_none() && (fl > limit || vl > limit) {
                    self.first_long = Some(self.count);
                }
                self.compact(field);
                self.compact(value);
                let sds = self.meter.sds(fl) + self.meter.sds(vl);
                self.ht_elements.usage += sds;
                self.ht_elements.alloc += sds;
                if expire_at_ms.is_some() {
                    self.exact = false;
                }
                self.count += 1;
            }
            Piece::StreamEntry { .. } => self.count += 1,
            Piece::StreamMeta(m) => {
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
                self.stream.nodes.insert(id_key(&master));
                let b = self.meter.usable(listpack_bytes);
                self.stream.listpacks.usage += b;
                self.stream.listpacks.alloc += b;
            }
            Piece::Layout(Layout::Blob { encoding, bytes }) => self.blob = Some((encoding, bytes)),
            Piece::Module { raw, .. } => self.raw_bytes += raw.len() as u64,
            Piece::ArrayHeader { .. } => {}
            Piece::ArrayElem { value, .. } => {
                self.count += 1;
                self.raw_bytes += match value {
                    crate::event::ArrayValue::Bytes(b) => b.len() as u64 + 8,
                    _ => 16,
                };
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
        assert_eq!(score_text(1.0), "1");
        assert_eq!(score_text(-3.0), "-3");
        assert_eq!(score_text(1.5), "1.5");
        assert_eq!(score_text(0.1), "0.10000000000000001");
        assert_eq!(score_text(1e300), "1.0000000000000001e+300");
        assert_eq!(score_text(f64::INFINITY), "inf");
        assert_eq!(score_text(-0.0), "-0");
    }
}
