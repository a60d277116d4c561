//! What one key costs in the memory of a server that has just loaded it.
//!
//! The key's pieces are read once into a `Shape` (`shape.rs`); the target then chooses
//! the encoding as its load does (rdb.c `rdbLoadObject`) and prices it as
//! `MEMORY USAGE key SAMPLES 0` does (object.c `objectComputeSize` and
//! `memoryCommand`), alongside what the allocations really take
//! (`allocated`). docs/memory.md gives every rule's source.

use super::alloc::Allocator;
use super::dict::DictShape;
use super::profile::{Profile, Target};
use super::rax::RaxShape;
use super::shape::Shape;
use super::valkey;
use crate::error::Result;
use crate::event::stream::{StreamId, StreamMeta};
use crate::event::{BlobEncoding, KeyAttrs, ValueSource};
use crate::format::KeyType;

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
    /// hash table whose rehash may or may not have finished or whose child
    /// buckets depend on the hash seed, a module value.
    pub exact: bool,
}

/// A database's overhead in the server's accounting (see
/// [`Meter::keyspace_overhead`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyspaceOverhead {
    /// `overhead.hashtable.main`: the key table and every key's object.
    pub main: u64,
    /// `overhead.hashtable.expires`.
    pub expires: u64,
}

impl KeyspaceOverhead {
    pub fn total(self) -> u64 {
        self.main + self.expires
    }
    pub fn add(&mut self, o: KeyspaceOverhead) {
        self.main += o.main;
        self.expires += o.expires;
    }
}

/// Two running sums: what `MEMORY USAGE` counts, and what the allocator
/// hands out for the same structures.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Cost {
    pub usage: u64,
    pub alloc: u64,
}

impl Cost {
    fn both(n: u64) -> Cost {
        Cost { usage: n, alloc: n }
    }
}

impl std::ops::Add for Cost {
    type Output = Cost;
    fn add(self, o: Cost) -> Cost {
        Cost { usage: self.usage + o.usage, alloc: self.alloc + o.alloc }
    }
}

impl std::ops::AddAssign for Cost {
    fn add_assign(&mut self, o: Cost) {
        *self = *self + o;
    }
}

/// A priced value: its encoding, cost, and whether the figure is exact.
type Priced = (&'static str, Cost, bool);

/// Prices keys for one profile.
#[derive(Debug, Clone)]
pub struct Meter {
    profile: Profile,
    /// `sds(len)` for short strings, looked up once per element.
    sds_small: Box<[u32; SDS_TABLE]>,
    /// Expected allocation of a skiplist node holding a pointer to its
    /// member (its level is random).
    skiplist_node: f64,
}

impl Meter {
    pub fn new(profile: Profile) -> Meter {
        let skiplist_node = expected_node(profile.allocator, SKIPLIST_NODE);
        let mut sds_small = Box::new([0u32; SDS_TABLE]);
        for (len, size) in sds_small.iter_mut().enumerate() {
            *size = profile.allocator.usable(sds_size(len)) as u32;
        }
        Meter { profile, sds_small, skiplist_node }
    }

    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// The cost of one key.
    pub fn measure(&self, key: &[u8], attrs: &KeyAttrs<'_>, value: &dyn ValueSource) -> Result<KeyCost> {
        let mut shape = Shape::new(self, value.key_type());
        match value.string_info() {
            Some(info) => shape.string(info?),
            None => value.pieces(&mut shape)?,
        }
        shape.finish_list_node();
        let expires = attrs.expire_at_ms.is_some();
        let (encoding, value_cost, exact) = self.value_cost(&mut shape, key.len(), expires);
        let key_cost = self.key_cost(key.len());
        let cost = value_cost + key_cost;
        // The expires table's entry: only the allocation counts it (Redis,
        // Valkey 8.0; Valkey 8.1+ points at the same object).
        let expiry = match self.t() {
            _ if !expires => 0,
            t if t.keys_in_objects() => 0,
            // The expires table points at the same object, from an entry
            // without a value slot.
            t if t.kvobj() => self.usable(DICT_ENTRY_NO_VALUE),
            _ => self.usable(DICT_ENTRY),
        };
        Ok(KeyCost {
            encoding,
            elements: shape.count,
            memory_usage: cost.usage,
            allocated: cost.alloc + expiry,
            largest: shape.largest,
            // A target never held to a server is an estimate everywhere.
            exact: exact && shape.exact && !self.profile.approximate(),
        })
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
            if self.t().keys_in_objects() {
                let b = valkey::buckets(n);
                64 * (b + valkey::expected_children(n, b).round() as u64)
            } else {
                self.usable(8 * n.max(4).next_power_of_two() as usize)
            }
        };
        table(keys) + table(expires)
    }

    /// A database's overhead as the server's own accounting counts it
    /// (object.c `getMemoryOverheadData`, shown by `MEMORY STATS` as
    /// `overhead.hashtable.main` and `.expires`): the figures it subtracts
    /// from `used_memory` to give `used_memory_dataset`. They are struct
    /// sizes times counts, not allocations, so they are computed apart from
    /// [`Meter::keyspace_tables`]. The tables are as the file's RESIZEDB
    /// sized them, with no rehash under way.
    pub fn keyspace_overhead(&self, keys: u64, expires: u64) -> KeyspaceOverhead {
        // dictSlots after `dictExpand(n)`: the power of two at or above n, at least 4.
        let dict_buckets = |n: u64| if n == 0 { 0 } else { n.max(4).next_power_of_two() };
        // Every key's object (robj) is counted as overhead, whatever holds it.
        let objects = ROBJ as u64 * keys;
        let (main, expires) = match self.t() {
            // dict.c: one 24-byte entry per key, 8 bytes per bucket.
            Target::Redis62 | Target::Redis70 | Target::Redis72 => {
                let dict = |n: u64| DICT_ENTRY as u64 * n + 8 * dict_buckets(n);
                // Cluster mode: each entry's slot links (7.0
                // `overhead_ht_slot_to_keys`; 7.2 adds the table's pointer
                // back to its db).
                let links = match (self.profile.cluster, self.t()) {
                    (true, Target::Redis70) => SLOT_LINKS as u64 * keys,
                    (true, Target::Redis72) => SLOT_LINKS as u64 * keys + 8,
                    _ => 0,
                };
                (dict(keys) + objects + links, dict(expires))
            }
            // kvstore.c `kvstoreMemUsage`: the store, and its one table
            // (allocated on demand) with that table's metadata pointer. Redis
            // 8.2+ keeps the keys in the buckets (no entry counted).
            Target::Redis74 | Target::Redis80 | Target::Redis86 | Target::Valkey80 => {
                let (store, entry) = match self.t() {
                    Target::Valkey80 => (VALKEY80_KVSTORE, DICT_ENTRY as u64),
                    Target::Redis86 => (REDIS_KVSTORE, 0),
                    _ => (REDIS_KVSTORE, DICT_ENTRY as u64),
                };
                let kvstore = |n: u64| match n {
                    0 => store,
                    _ => store + entry * n + 8 * dict_buckets(n) + DICT_STRUCT + 8,
                };
                (kvstore(keys) + objects, kvstore(expires))
            }
            // Valkey 8.1+: the store counts its hashtables' requested sizes,
            // 64 bytes per bucket, child buckets included (kvstore.c
            // `kvstoreHashtableTrackMemUsage`). Which buckets need children
            // follows the hash seed: the expected count is taken.
            Target::Valkey81 | Target::Valkey90 | Target::Valkey91 => {
                // The table's struct and its kvstore metadata (9.1: measured).
                let header = if self.t() == Target::Valkey91 { 112 } else { 88 };
                let kvstore = |n: u64| {
                    if n == 0 {
                        return VALKEY_HASHTABLE_KVSTORE;
                    }
                    let b = valkey::buckets(n);
                    VALKEY_HASHTABLE_KVSTORE + header + 64 * (b + valkey::expected_children(n, b).round() as u64)
                };
                (kvstore(keys) + objects, kvstore(expires))
            }
        };
        KeyspaceOverhead { main, expires }
    }

    /// What the accounting counts for a database that holds no key: Valkey
    /// 8.1+ counts every database's two stores (measured on 8.1 and 9.1),
    /// Redis only databases with keys (object.c `getMemoryOverheadData`).
    pub fn empty_db_overhead(&self) -> u64 {
        if self.t().keys_in_objects() {
            2 * VALKEY_HASHTABLE_KVSTORE
        } else {
            0
        }
    }

    pub(super) fn t(&self) -> Target {
        self.profile.target
    }

    pub(super) fn a(&self) -> Allocator {
        self.profile.allocator
    }

    pub(super) fn usable(&self, n: usize) -> u64 {
        self.a().usable(n) as u64
    }

    /// The allocation of an sds string of `len` bytes as a load creates it
    /// (sds.c `sdsnewlen`: the smallest header type that holds the length;
    /// an empty string gets type 8).
    pub(super) fn sds(&self, len: usize) -> u64 {
        match self.sds_small.get(len) {
            Some(&size) => size.into(),
            None => self.usable(sds_size(len)),
        }
    }

    /// Size of a compact blob as the target counts it: 6.2 counts its
    /// ziplists and intsets by their length, later versions by allocation.
    fn blob(&self, bytes: u64) -> Cost {
        let alloc = self.usable(bytes as usize);
        let usage = if self.t().ziplists() { bytes } else { alloc };
        Cost { usage, alloc }
    }

    /// A fixed-size struct: `MEMORY USAGE` counts its `sizeof`.
    fn sized(&self, bytes: usize) -> Cost {
        Cost { usage: bytes as u64, alloc: self.usable(bytes) }
    }

    /// The key's own part, beside its value: its name and the main table's
    /// entry (Redis: an sds and a 24-byte dictEntry; Valkey 8.0: one entry
    /// embedding the name; Valkey 8.1+: nothing, the name is in the object).
    fn key_cost(&self, key_len: usize) -> Cost {
        match self.t() {
            t if t.keys_in_objects() => Cost::default(),
            // Redis 8.2+: the name is in the object; the table's entry (no
            // value slot) is not counted by `MEMORY USAGE`, only allocated.
            t if t.kvobj() => Cost { usage: 0, alloc: self.usable(DICT_ENTRY_NO_VALUE) },
            Target::Valkey80 => Cost::both(self.usable(17 + sds_size(key_len))),
            _ => Cost::both(self.sds(key_len)) + self.main_entry(),
        }
    }

    /// The main table's entry of a key (Redis up to 8.0), with the slot
    /// links a cluster node adds in 7.0 and 7.2 (7.4+ keeps a table per
    /// slot instead).
    fn main_entry(&self) -> Cost {
        let links = self.profile.cluster && matches!(self.t(), Target::Redis70 | Target::Redis72);
        if !links {
            return Cost { usage: DICT_ENTRY as u64, alloc: self.usable(DICT_ENTRY) };
        }
        // 7.0 counts the entry's metadata; 7.2 the table's (a pointer back
        // to its db), once per key (object.c `memoryCommand`).
        let counted = if self.t() == Target::Redis70 { SLOT_LINKS } else { 8 };
        Cost { usage: (DICT_ENTRY + counted) as u64, alloc: self.usable(DICT_ENTRY + SLOT_LINKS) }
    }

    /// The value's object (robj). Valkey 8.1+ embeds the key in it, and its
    /// expiry when the key has one or a name of 128 bytes or more (object.c
    /// `createObjectWithKeyAndExpire`); `MEMORY USAGE` then counts the
    /// object's allocation.
    fn object(&self, key_len: usize, expires: bool) -> Cost {
        if self.t().kvobj() {
            return Cost::both(self.usable(kvobj_size(key_len, expires)));
        }
        if self.t().keys_in_objects() {
            let expire = if expires || key_len >= 128 { 8 } else { 0 };
            Cost::both(self.usable(ROBJ + 1 + embedded_sds_size(key_len) + expire))
        } else {
            self.sized(ROBJ)
        }
    }

    fn value_cost(&self, s: &mut Shape, key_len: usize, expires: bool) -> Priced {
        if s.ty == KeyType::String {
            return self.string_cost(s, key_len, expires);
        }
        let (encoding, cost, exact) = match s.ty {
            KeyType::List => self.list_cost(s),
            KeyType::Set => self.set_cost(s),
            KeyType::Zset => self.zset_cost(s),
            KeyType::Hash => self.hash_cost(s),
            KeyType::Stream => self.stream_cost(s),
            // Redis 8.8's arrays: priced by their elements' text (an
            // estimate); the encoding is the one `OBJECT ENCODING` names.
            KeyType::Array => ("sliced-array", Cost::both(s.raw_bytes), false),
            // A module's own `mem_usage` callback decides; its serialized
            // size is the best guess there is.
            _ => ("raw", Cost::both(s.raw_bytes), false),
        };
        (encoding, self.object(key_len, expires) + cost, exact)
    }

    fn string_cost(&self, s: &Shape, key_len: usize, expires: bool) -> Priced {
        let len = s.str_len;
        if self.t().keys_in_objects() {
            return self.valkey_string(s, key_len, expires);
        }
        if self.t().kvobj() {
            return self.kvobj_string(s, key_len, expires);
        }
        let robj = self.sized(ROBJ);
        if let Some(v) = s.str_int {
            // tryObjectEncoding: integers 0..9999 share one object, which
            // deleting the key does not free; MEMORY USAGE counts one anyway.
            let alloc = if (0..SHARED_INTEGERS).contains(&v) { 0 } else { robj.alloc };
            return ("int", Cost { usage: robj.usage, alloc }, true);
        }
        if len <= EMBSTR_MAX {
            // createEmbeddedStringObject: object, an sds header of 3, the
            // bytes, a NUL, in one allocation. 6.2 counts `len + 2 + 16`.
            let alloc = self.usable(ROBJ + 3 + len + 1);
            let usage = if self.t().ziplists() { (len + 2 + ROBJ) as u64 } else { alloc };
            return ("embstr", Cost { usage, alloc }, true);
        }
        ("raw", robj + Cost::both(self.sds(len)), true)
    }

    /// Valkey 8.1+ strings: the key is attached to the value's object as it
    /// loads, without its TTL (which is set after); an object with 8 spare
    /// bytes takes the expiry in them, else it is rebuilt 8 bytes larger,
    /// which may push an embedded value out (object.c
    /// `objectSetKeyAndExpire`).
    fn valkey_string(&self, s: &Shape, key_len: usize, expires: bool) -> Priced {
        let (k, v) = (key_len, s.str_len);
        let key_sds = embedded_sds_size(k);
        let value_sds = 3 + v + 1;
        // The object's request without the value, and the test whether the
        // value fits in it too (`shouldEmbedStringObject`).
        let (header, fits): (usize, Box<dyn Fn(usize) -> bool>) = match self.t() {
            // 8.1.8 still budgets the key as `len + 3` (an sds type 5).
            Target::Valkey81 => (ROBJ, Box::new(move |extra| ROBJ + (k + 3) + extra + (v + 4) <= 64)),
            Target::Valkey90 => (ROBJ, Box::new(move |extra| ROBJ + key_sds + 1 + extra + value_sds <= 64)),
            // 9.1: no pointer slot (8 bytes), a 128-byte budget, the value
            // padded to 8 bytes so it can leave in place.
            _ => (8, Box::new(move |extra| v <= 255 && 8 + key_sds + 1 + extra + value_sds <= 128)),
        };
        let embedded = |extra: usize| header + extra + 1 + key_sds + value_sds.max(if header == 8 { 8 } else { 0 });
        let plain = |extra: usize| self.usable(ROBJ + 1 + key_sds + extra);
        if s.str_int.is_some() {
            let extra = if expires || k >= 128 { 8 } else { 0 };
            return ("int", Cost::both(plain(extra)), true);
        }
        let embeddable = v <= if self.t() >= Target::Valkey91 { 255 } else { EMBSTR_MAX };
        if embeddable && fits(0) {
            let n0 = embedded(0);
            let u0 = self.usable(n0);
            if !expires || u0 - n0 as u64 >= 8 {
                return ("embstr", Cost::both(u0), true);
            }
            if fits(8) {
                return ("embstr", Cost::both(self.usable(embedded(8))), true);
            }
            // Pushed out by the expiry; but an allocator that handed out a
            // larger chunk than asked (glibc, now and then) left room for
            // it, and then the value stays embedded: an estimate there.
            let extra = 8;
            return ("raw", Cost::both(plain(extra) + self.sds(v)), self.a().deterministic());
        }
        let extra = if expires || k >= 128 { 8 } else { 0 };
        ("raw", Cost::both(plain(extra) + self.sds(v)), true)
    }

    /// Redis 8.2+ strings (object.c `kvobjSet`): an integer lives in the
    /// object's pointer (shared integers cannot be: the object holds the
    /// key); a value of up to 44 bytes stays in the object when object, key
    /// and value take at most 64 bytes, the metadata (expiry) aside; else
    /// the value is an sds of its own.
    fn kvobj_string(&self, s: &Shape, key_len: usize, expires: bool) -> Priced {
        let (k, v) = (key_len, s.str_len);
        let object = kvobj_size(k, expires);
        if s.str_int.is_some() {
            return ("int", Cost::both(self.usable(object)), true);
        }
        if v <= EMBSTR_MAX && ROBJ + (k + 3) + (4 + v) <= KVOBJ_EMBED_BUDGET {
            return ("embstr", Cost::both(self.usable(object + 3 + v + 1)), true);
        }
        ("raw", Cost::both(self.usable(object) + self.sds(v)), true)
    }

    fn list_cost(&self, s: &mut Shape) -> Priced {
        // 7.2+: a list of one node within the node limits is a plain
        // listpack (t_list.c `listTypeTryConvertQuicklist` after the load).
        if self.t().small_listpacks() && s.nodes.len() == 1 && !s.last_node_plain {
            let (max_bytes, max_count) = self.profile.limits.list_node();
            if s.nodes[0] <= max_bytes as u64 && s.count <= max_count as u64 {
                return ("listpack", self.blob(s.nodes[0]), s.nodes_from_file);
            }
        }
        let node = self.sized(if self.t().ziplists() { 32 } else { 40 });
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
        // Nodes the input did not give are packed as pushes pack them; a
        // list the server edited, or one under other limits, may have had
        // other boundaries.
        ("quicklist", Cost { usage, alloc }, s.nodes_from_file)
    }

    fn set_cost(&self, s: &mut Shape) -> Priced {
        let l = self.profile.limits;
        if s.all_int && s.count <= l.set_max_intset_entries {
            let bytes = match s.blob {
                Some((BlobEncoding::Intset, b)) => b as u64,
                _ => 8 + s.int_width() * s.count,
            };
            return ("intset", self.blob(bytes), true);
        }
        if self.t().small_listpacks() && s.count <= l.set_max_listpack_entries && s.max_len <= l.set_max_listpack_value
        {
            return ("listpack", self.compact_blob(s), true);
        }
        if self.t().keys_in_objects() {
            return self.hashtable_cost(s.count, s.ht_elements, 0);
        }
        let mut dict = DictShape::new();
        match s.blob {
            // An intset or listpack over the limits is converted whole, into
            // a dict sized for it (t_set.c `setTypeConvert`).
            Some(_) => {
                dict.expand(s.count);
                dict.add_n(s.count);
            }
            None if s.count > l.set_max_intset_entries || self.t().small_listpacks() => {
                // rdbLoadObject presizes a set that cannot be an intset (7.2+:
                // whatever it turns out to be, `setTypeConvertAndExpand`).
                dict.expand(s.count);
                dict.add_n(s.count);
            }
            None => {
                // Read into an intset until the first member that is not an
                // integer, converted (sized for the members so far), then
                // expanded for the whole set.
                let before = s.first_non_int.unwrap_or(0);
                dict.expand(before);
                dict.add_n(before);
                dict.expand(s.count);
                dict.add_n(s.count - before);
            }
        }
        self.dict_cost(&dict, s.ht_elements, s.count)
    }

    /// A `dict`'s cost: its struct, its bucket arrays, and per element its
    /// entry plus what the element allocates.
    fn dict_cost(&self, dict: &DictShape, elements: Cost, count: u64) -> Priced {
        let dict_struct = self.sized(if self.t().ziplists() { 96 } else { 56 });
        let slots = dict.slots();
        let tables: u64 = dict.tables().iter().filter(|&&t| t > 0).map(|&t| self.usable(8 * t as usize)).sum();
        let entry = self.sized(DICT_ENTRY);
        let elesize = elements.usage + entry.usage * count;
        let usage = average_times(dict_struct.usage + 8 * slots, elesize, count, count);
        let alloc = dict_struct.alloc + tables + elements.alloc + entry.alloc * count;
        ("hashtable", Cost { usage, alloc }, dict.certain())
    }

    /// Valkey 8.1+'s `hashtable` holding `count` elements, sized once for
    /// them by the load: its struct (and `metadata` bytes), 64-byte buckets
    /// and the child buckets that overflowing ones chain (their number
    /// depends on the hash seed: an estimate), and the elements.
    fn hashtable_cost(&self, count: u64, elements: Cost, metadata: usize) -> Priced {
        let table = self.hashtable(count, metadata);
        ("hashtable", table + elements, false)
    }

    fn hashtable(&self, count: u64, metadata: usize) -> Cost {
        let b = valkey::buckets(count);
        let children = valkey::expected_children(count, b).round() as u64;
        let strukt = if self.t() >= Target::Valkey91 { 80 } else { 72 } + metadata;
        Cost {
            usage: (strukt as u64) + 64 * (b + children),
            alloc: self.usable(strukt) + self.usable(64 * b as usize) + 64 * children,
        }
    }

    fn zset_cost(&self, s: &mut Shape) -> Priced {
        let l = self.profile.limits;
        if s.count <= l.zset_max_listpack_entries && s.max_len <= l.zset_max_listpack_value {
            return (self.compact_name(), self.compact_blob(s), s.scores_exact);
        }
        let nodes = s.skiplist_nodes();
        if self.t().keys_in_objects() {
            // 9.1: the members live in their nodes, and the skiplist with its
            // 32-level header is one block counted as 544 bytes.
            let (fixed, header) = if self.t() >= Target::Valkey91 {
                (Cost::both(544), Cost::default())
            } else {
                (self.sized(ZSET + ZSKIPLIST), Cost::both(self.usable(SKIPLIST_NODE + SKIPLIST_LEVEL * 32)))
            };
            let table = self.hashtable(s.count, 0);
            return ("skiplist", fixed + header + table + s.ht_elements + nodes, false);
        }
        let mut dict = DictShape::new();
        if s.blob.is_some() {
            // A listpack over the limits is converted without presizing
            // (6.2/7.0 `zsetConvert`); 7.2+ `zsetConvertAndExpand` sizes it.
            if self.t().small_listpacks() {
                dict.expand(s.count);
            }
        } else if s.count > 4 {
            dict.expand(s.count);
        }
        dict.add_n(s.count);
        let header = Cost::both(self.usable(SKIPLIST_NODE + SKIPLIST_LEVEL * 32));
        let (_, d, _) = self.dict_cost(&dict, s.ht_elements, s.count);
        // Node levels are random: only the expectation is known.
        ("skiplist", self.sized(ZSET + ZSKIPLIST) + header + d + nodes, false)
    }

    fn compact_name(&self) -> &'static str {
        if self.t().ziplists() {
            "ziplist"
        } else {
            "listpack"
        }
    }

    /// A listpack (or ziplist) holding the value: the file's blob when the
    /// target keeps it as read, else what the target would build.
    fn compact_blob(&self, s: &Shape) -> Cost {
        let (want, computed) = if self.t().ziplists() {
            (BlobEncoding::Ziplist, ZIPLIST_OVERHEAD + s.zl_bytes)
        } else {
            (BlobEncoding::Listpack, LISTPACK_OVERHEAD + s.lp_bytes)
        };
        match s.blob {
            Some((e, b)) if e == want => self.blob(b as u64),
            _ => self.blob(computed),
        }
    }

    fn hash_cost(&self, s: &mut Shape) -> Priced {
        let l = self.profile.limits;
        let field_ttls = s.field_ttls > 0;
        // Valkey 9: a field with a TTL makes the hash a hashtable.
        let ttl_forces_table = field_ttls && self.t() >= Target::Valkey90;
        if !ttl_forces_table && s.count <= l.hash_max_listpack_entries && s.max_len <= l.hash_max_listpack_value {
            if field_ttls && matches!(self.t(), Target::Redis74 | Target::Redis80 | Target::Redis86) {
                // `listpackex`: a 32-byte struct and a listpack of (field,
                // value, TTL) triples, a TTL taking 10 bytes, none 2 (t_hash.c).
                let lp = match s.blob {
                    Some((BlobEncoding::ListpackEx, b)) => b as u64,
                    _ => LISTPACK_OVERHEAD + s.lp_bytes + 10 * s.field_ttls + 2 * (s.count - s.field_ttls),
                };
                return ("listpackex", Cost::both(self.usable(32)) + self.blob(lp), false);
            }
            return (self.compact_name(), self.compact_blob(s), !field_ttls);
        }
        if self.t().keys_in_objects() {
            // 9.x hashes carry 8 bytes of metadata (their volatile set), and
            // the set's own size when two fields or more have a TTL.
            let metadata = if self.t() >= Target::Valkey90 { 8 } else { 0 };
            let (enc, cost, _) = self.hashtable_cost(s.count, s.ht_elements, metadata);
            let vset = if s.field_ttls > 1 { Cost::both(12 * s.field_ttls) } else { Cost::default() };
            return (enc, cost + vset, false);
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
        let (enc, cost, exact) = self.dict_cost(&dict, s.ht_elements, s.count);
        (enc, cost, exact && !field_ttls)
    }

    fn stream_cost(&self, s: &mut Shape) -> Priced {
        let st = &s.stream;
        let mut cost = self.sized(if self.t().ziplists() { 40 } else { 80 }) + self.rax(&st.nodes) + st.listpacks;
        let mut exact = !st.nodes.disordered && st.layout_known && self.rax_exact(&st.nodes);
        if let Some(meta) = &st.meta {
            let (groups, e) = self.groups_cost(meta);
            cost += groups;
            exact &= e;
        }
        ("stream", cost, exact)
    }

    /// A stream's radix tree: Redis counts 16 bytes per key and 244 per
    /// node (object.c `streamRadixTreeMemoryUsage`); Valkey 8.1+ counts
    /// what its nodes allocate (rax.c `raxAllocSize`).
    fn rax(&self, rax: &RaxShape) -> Cost {
        let alloc = rax.alloc_size(if self.t().keys_in_objects() { 32 } else { 24 });
        if self.t().keys_in_objects() {
            Cost::both(alloc)
        } else {
            Cost { usage: rax.redis_usage(), alloc }
        }
    }

    /// Whether a radix tree's figure is exact. Valkey counts its nodes'
    /// allocations, and a load grows each branching node by `realloc` one
    /// child at a time; glibc often leaves a grown node in a chunk larger
    /// than asked, differently from one load of a file to the next (38 % of
    /// the streams of a test file moved between loads on Valkey 8.1, 78 % on
    /// 9.1; none on Redis, which counts nodes): a lower bound there.
    fn rax_exact(&self, _rax: &RaxShape) -> bool {
        !self.t().keys_in_objects() || self.a().deterministic()
    }

    /// Consumer groups: per group its struct, PEL tree and NACKs; per
    /// consumer its struct, name and PEL tree (object.c).
    fn groups_cost(&self, meta: &StreamMeta) -> (Cost, bool) {
        let cg = if self.t().ziplists() { 32 } else { 40 };
        let consumer = if self.t().small_listpacks() { 32 } else { 24 };
        let nack = 24;
        let (mut cost, mut exact) = (Cost::default(), true);
        for g in &meta.groups {
            let mut pel = RaxShape::new(self.a());
            for id in g.pending.keys() {
                pel.insert(id_key(id));
            }
            exact &= !pel.disordered && self.rax_exact(&pel);
            cost += self.sized(cg) + self.rax(&pel);
            let nacks = self.sized(nack);
            cost += Cost { usage: nacks.usage * g.pending.len() as u64, alloc: nacks.alloc * g.pending.len() as u64 };
            for (c, ids) in g.consumers.iter().zip(g.consumer_pels()) {
                let mut rax = RaxShape::new(self.a());
                for id in &ids {
                    rax.insert(id_key(id));
                }
                exact &= self.rax_exact(&rax);
                cost += self.sized(consumer) + self.rax(&rax);
                // MEMORY USAGE counts the name's length, the allocation its sds.
                cost += Cost { usage: c.name.len() as u64, alloc: self.sds(c.name.len()) };
            }
        }
        (cost, exact)
    }

    /// What one hashtable (or dict) element allocates beside its entry: a
    /// set member's sds.
    pub(super) fn member_cost(&self, len: usize) -> u64 {
        self.sds(len)
    }

    /// What one hash field allocates: field and value sds (Redis, Valkey
    /// 8.0); Valkey 8.1+ puts both in one allocation when it is small
    /// (t_hash.c `hashTypeCreateEntry`, 9.x entry.c), with the field's TTL.
    pub(super) fn field_cost(&self, field: usize, value: usize, ttl: bool) -> u64 {
        if !self.t().keys_in_objects() {
            return self.sds(field) + self.sds(value);
        }
        let nine = self.t() >= Target::Valkey90;
        let expiry = if nine && ttl { 8 } else { 0 };
        // A field with a TTL needs a type-8 header (type 5 has no spare bits).
        let field_sds = if nine && ttl { sds_size_at_least_8(field) } else { embedded_sds_size(field) };
        let value_sds = 3 + value + 1;
        if expiry + field_sds + value_sds <= 128 {
            return self.usable(expiry + field_sds + value_sds);
        }
        self.usable(expiry + 8 + sds_size_at_least_8(field)) + self.sds(value)
    }

    /// What one sorted-set member's skiplist node allocates (expected over
    /// its random level); 9.1 embeds the member in it.
    pub(super) fn skiplist_node_cost(&self, len: usize) -> f64 {
        if self.t() >= Target::Valkey91 {
            return expected_node(self.a(), 16 + 1 + embedded_sds_size(len));
        }
        self.skiplist_node
    }

    /// Whether a sorted-set member has an sds of its own (not 9.1's).
    pub(super) fn zset_member_sds(&self, len: usize) -> u64 {
        if self.t() >= Target::Valkey91 {
            0
        } else {
            self.sds(len)
        }
    }
}

/// zslRandomLevel: each level above the first with probability 1/4, up to
/// 32; a node is `base` bytes plus 16 per level.
fn expected_node(a: Allocator, base: usize) -> f64 {
    let mut expected = 0.0;
    let mut p = 1.0;
    for level in 1..=32usize {
        let here = if level == 32 { p } else { p * 0.75 };
        expected += here * a.usable(base + SKIPLIST_LEVEL * level) as f64;
        p *= 0.25;
        if p < 1e-12 {
            break;
        }
    }
    expected
}

pub(super) fn id_key(id: &StreamId) -> [u8; 16] {
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

/// Lengths whose sds size is looked up rather than worked out.
const SDS_TABLE: usize = 256;
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
/// Redis 8.2+: object, key and value kept in one allocation up to a cache
/// line (`kvobjSet`).
const KVOBJ_EMBED_BUDGET: usize = 64;
/// A cluster node's links between the keys of one slot, in each main
/// table entry (Redis 7.0, 7.2: `clusterDictEntryMetadata`).
const SLOT_LINKS: usize = 16;
/// The dict struct of Redis 7.4+ and Valkey 8.0 (dict.h `struct dict`).
const DICT_STRUCT: u64 = 56;
/// `sizeof(kvstore)`: Redis 7.4+ embeds its dictType (kvstore.c); Valkey
/// 8.0 points at it; Valkey 8.1+ holds hashtables.
const REDIS_KVSTORE: u64 = 216;
const VALKEY80_KVSTORE: u64 = 104;
const VALKEY_HASHTABLE_KVSTORE: u64 = 96;
/// A table entry without a value slot (key pointer and next).
const DICT_ENTRY_NO_VALUE: usize = 16;
/// Listpack header (total bytes, count) and end byte.
pub(super) const LISTPACK_OVERHEAD: u64 = 7;
/// Ziplist header (total bytes, tail offset, count) and end byte.
pub(super) const ZIPLIST_OVERHEAD: u64 = 11;

/// Bytes of an sds string of `len` bytes as `sdsnewlen` makes it: the
/// smallest header type that holds the length (sds.c `sdsReqType`), type 8
/// for an empty one, and a NUL.
fn sds_size(len: usize) -> usize {
    let header = match len {
        0 => 3,
        1..=31 => 1,
        32..=255 => 3,
        256..=65535 => 5,
        _ if len as u64 <= u32::MAX as u64 => 9,
        _ => 17,
    };
    header + len + 1
}

/// A Redis 8.2+ object holding its key: the object, one 8-byte slot per
/// metadata (the expiry, reserved for names of 128 bytes or more too), a
/// byte giving the key's header size, and the key as an sds.
fn kvobj_size(key_len: usize, expires: bool) -> usize {
    let metadata = if expires || key_len >= 128 { 8 } else { 0 };
    ROBJ + metadata + 1 + embedded_sds_size(key_len)
}

/// An sds embedded in an object or entry (Valkey): type 5 even when empty.
fn embedded_sds_size(len: usize) -> usize {
    if len == 0 {
        2
    } else {
        sds_size(len)
    }
}

/// An sds with a header of type 8 or larger.
fn sds_size_at_least_8(len: usize) -> usize {
    if len < 32 {
        3 + len + 1
    } else {
        sds_size(len)
    }
}
