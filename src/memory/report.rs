//! The per-key rows of `memory` and what they add up to, in bounded memory
//! whatever the number of keys: sums, histograms with fixed buckets, bounded
//! heaps for the largest keys, and a prefix table with a cap.

use super::meter::{KeyCost, KeyspaceOverhead};
use super::profile::Profile;
use crate::error::Verdict;
use crate::format::slot::{key_slot, SLOTS};
use crate::format::KeyType;
use crate::output::json::{error_json, error_text, write_bytes, write_str, write_u64};
use serde_json::{json, Value};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::path::Path;

/// One key, as a row.
pub struct KeyRow<'a> {
    /// Index of the input among those given.
    pub file: usize,
    pub db: u64,
    pub key: &'a [u8],
    pub kind: KeyType,
    pub expire_at_ms: Option<i64>,
    pub cost: &'a KeyCost,
    pub facts: KeyFacts<'a>,
    /// The key's record in the RDB it was read from (prefixes, type, name
    /// and value); none for an AOF or a dump.
    pub rdb_bytes: Option<u64>,
}

/// What the summary needs of a key name, worked out where the key is
/// measured (on any thread) so that adding it up stays cheap: its slot, and
/// per prefix level the prefix's hash and length.
#[derive(Debug, Clone, Copy)]
pub struct KeyFacts<'a> {
    pub slot: u16,
    prefixes: &'a [(u64, u32)],
}

/// Prefix levels counted at most.
pub const MAX_PREFIX_DEPTH: usize = 8;

impl<'a> KeyFacts<'a> {
    /// A key's slot; its prefixes' hashes and lengths are appended to
    /// `prefixes` (one buffer for many keys: no allocation per key).
    pub fn compute(options: &SummaryOptions, key: &[u8], prefixes: &mut Vec<(u64, u32)>) -> u16 {
        let seps = &options.separators;
        let find = |rest: &[u8]| match seps[..] {
            [] => None,
            [a] => memchr::memchr(a, rest),
            [a, b] => memchr::memchr2(a, b, rest),
            [a, b, c] => memchr::memchr3(a, b, c, rest),
            _ => rest.iter().position(|b| seps.contains(b)),
        };
        let mut end = 0;
        for _ in 0..options.prefix_depth.min(MAX_PREFIX_DEPTH) {
            let Some(at) = find(&key[end..]) else { break };
            end += at + 1;
            prefixes.push((xxhash_rust::xxh3::xxh3_64(&key[..end]), end as u32));
        }
        key_slot(key)
    }

    /// The facts [`KeyFacts::compute`] worked out.
    pub fn new(slot: u16, prefixes: &'a [(u64, u32)]) -> KeyFacts<'a> {
        KeyFacts { slot, prefixes }
    }
}

impl KeyRow<'_> {
    pub const CSV_HEADER: &'static str =
        "file,db,key,type,encoding,elements,memory_usage,allocated,rdb_bytes,largest,expire_at_ms,slot,exact\n";

    /// One JSON object and a newline. The key is written as the dump writes
    /// strings (UTF-8 as is, else `base64:`), and as hex in `key_hex`.
    pub fn write_jsonl(&self, out: &mut Vec<u8>) {
        let c = self.cost;
        out.extend_from_slice(b"{\"file\":");
        write_u64(out, self.file as u64);
        out.extend_from_slice(b",\"db\":");
        write_u64(out, self.db);
        out.extend_from_slice(b",\"key\":");
        write_bytes(out, self.key);
        out.extend_from_slice(b",\"key_hex\":\"");
        hex(out, self.key);
        out.extend_from_slice(b"\",\"type\":");
        write_str(out, self.kind.name());
        out.extend_from_slice(b",\"encoding\":");
        write_str(out, c.encoding);
        for (name, v) in [
            ("elements", Some(c.elements)),
            ("memory_usage", Some(c.memory_usage)),
            ("allocated", Some(c.allocated)),
            ("rdb_bytes", self.rdb_bytes),
            ("largest", Some(c.largest)),
        ] {
            out.extend_from_slice(b",\"");
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b"\":");
            match v {
                Some(v) => write_u64(out, v),
                None => out.extend_from_slice(b"null"),
            }
        }
        out.extend_from_slice(b",\"expire_at_ms\":");
        match self.expire_at_ms {
            Some(t) => out.extend_from_slice(itoa::Buffer::new().format(t).as_bytes()),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"slot\":");
        write_u64(out, self.facts.slot.into());
        out.extend_from_slice(if c.exact { b",\"exact\":true}\n" } else { b",\"exact\":false}\n" });
    }

    /// One CSV line: the key is quoted, with `"` doubled; bytes that are not
    /// printable ASCII are written `\xNN` (and a backslash `\\`), so every
    /// line is one line of ASCII.
    pub fn write_csv(&self, out: &mut Vec<u8>) {
        let c = self.cost;
        let mut n = itoa::Buffer::new();
        out.extend_from_slice(n.format(self.file).as_bytes());
        out.push(b',');
        out.extend_from_slice(n.format(self.db).as_bytes());
        out.extend_from_slice(b",\"");
        for &b in self.key {
            match b {
                b'"' => out.extend_from_slice(b"\"\""),
                b'\\' => out.extend_from_slice(b"\\\\"),
                0x20..=0x7e => out.push(b),
                _ => {
                    const DIGITS: &[u8; 16] = b"0123456789abcdef";
                    out.extend_from_slice(&[b'\\', b'x', DIGITS[(b >> 4) as usize], DIGITS[(b & 15) as usize]]);
                }
            }
        }
        out.extend_from_slice(b"\",");
        out.extend_from_slice(self.kind.name().as_bytes());
        out.push(b',');
        out.extend_from_slice(c.encoding.as_bytes());
        for v in [Some(c.elements), Some(c.memory_usage), Some(c.allocated), self.rdb_bytes, Some(c.largest)] {
            out.push(b',');
            if let Some(v) = v {
                out.extend_from_slice(n.format(v).as_bytes());
            }
        }
        out.push(b',');
        if let Some(t) = self.expire_at_ms {
            out.extend_from_slice(n.format(t).as_bytes());
        }
        out.push(b',');
        out.extend_from_slice(n.format(self.facts.slot).as_bytes());
        out.extend_from_slice(if c.exact { b",true\n" } else { b",false\n" });
    }
}

fn hex(out: &mut Vec<u8>, b: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for &c in b {
        out.push(DIGITS[(c >> 4) as usize]);
        out.push(DIGITS[(c & 15) as usize]);
    }
}

/// What the summary keeps, and how much of it.
#[derive(Debug, Clone)]
pub struct SummaryOptions {
    /// Keys in each top list.
    pub top: usize,
    /// Bytes that end a prefix segment (`:` by default).
    pub separators: Vec<u8>,
    /// Prefix segments kept.
    pub prefix_depth: usize,
    /// Distinct prefixes held at most; past it the smallest are folded into
    /// "other" (their share is then a lower bound).
    pub prefix_cap: usize,
}

impl Default for SummaryOptions {
    fn default() -> Self {
        SummaryOptions { top: 20, separators: b":".to_vec(), prefix_depth: 3, prefix_cap: 100_000 }
    }
}

/// Sizes by powers of 2^(1/8): quantiles within 9 %, in 512 counters.
#[derive(Debug, Clone)]
pub struct Histogram {
    counts: Vec<u64>,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram { counts: vec![0; 65 * 8], max: 0 }
    }
}

impl Histogram {
    /// `floor(8 · log2 v) + 1` (0 for 0), in integers: the exponent, then
    /// how many eighth-powers of two the mantissa reaches.
    fn bucket(v: u64) -> usize {
        /// `ceil(2^(64 + j/8))` for j in 1..8.
        const EIGHTHS: [u128; 7] = [
            0x1172b83c7d517adce,
            0x1306fe0a31b7152df,
            0x14bfdad5362a271d5,
            0x16a09e667f3bcc909,
            0x18ace5422aa0db5bb,
            0x1ae89f995ad3ad5e9,
            0x1d5818dcfba48725e,
        ];
        if v == 0 {
            return 0;
        }
        let k = 63 - v.leading_zeros() as usize;
        let scaled = u128::from(v) << (64 - k);
        let j = EIGHTHS.iter().take_while(|&&t| scaled >= t).count();
        8 * k + j + 1
    }

    fn add(&mut self, v: u64) {
        let b = Self::bucket(v).min(self.counts.len() - 1);
        self.counts[b] += 1;
        self.max = self.max.max(v);
    }

    /// The upper end of the bucket holding the q-quantile.
    fn quantile(&self, q: f64) -> u64 {
        let total: u64 = self.counts.iter().sum();
        if total == 0 {
            return 0;
        }
        let rank = (q * total as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (b, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                if b == 0 {
                    return 0;
                }
                return (2f64.powf(b as f64 / 8.0).floor() as u64).min(self.max);
            }
        }
        self.max
    }
}

/// Count and bytes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tally {
    pub keys: u64,
    pub memory_usage: u64,
    pub allocated: u64,
}

impl Tally {
    fn merge(&mut self, o: &Tally) {
        self.keys += o.keys;
        self.memory_usage += o.memory_usage;
        self.allocated += o.allocated;
    }

    fn add(&mut self, c: &KeyCost) {
        self.keys += 1;
        self.memory_usage += c.memory_usage;
        self.allocated += c.allocated;
    }
}

/// A cluster slot's keys and bytes.
#[derive(Debug, Clone, Copy, Default)]
pub struct SlotTally {
    pub keys: u64,
    pub memory_usage: u64,
}

/// Keys whose slot is added at once (see `Summary::slot_pending`).
const SLOT_BATCH: usize = 1024;

#[derive(Debug, Clone, Default)]
pub struct EncodingStats {
    pub tally: Tally,
    pub sizes: Histogram,
    pub exact: u64,
}

/// A key in a top list. Ordered by rank: the larger value first, then
/// the earlier input, database and name, so that a top list is the same
/// whatever order its keys arrived in (several inputs are read at once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopKey {
    pub value: u64,
    pub file: usize,
    pub db: u64,
    pub key: Vec<u8>,
    pub kind: &'static str,
    pub encoding: &'static str,
    pub memory_usage: u64,
    pub elements: u64,
}

/// Where a key is: input, database, name.
type KeyPlace<'a> = (usize, u64, &'a [u8]);

/// A top list's order: the value, then the earlier place.
type Rank<'a> = (u64, Reverse<KeyPlace<'a>>);

impl TopKey {
    /// Higher ranks first.
    fn rank(&self) -> Rank<'_> {
        (self.value, Reverse((self.file, self.db, &self.key)))
    }
}

impl Ord for TopKey {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.rank().cmp(&o.rank())
    }
}

impl PartialOrd for TopKey {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}

/// The N largest by some value, in a min-heap.
#[derive(Debug, Clone, Default)]
struct Top {
    n: usize,
    heap: BinaryHeap<Reverse<TopKey>>,
}

impl Top {
    /// Offer a key of `value`; `make` builds it only if it ranks high
    /// enough.
    fn offer(&mut self, value: u64, at: KeyPlace<'_>, make: impl FnOnce() -> TopKey) {
        if self.n == 0 {
            return;
        }
        if self.heap.len() == self.n {
            if self.heap.peek().is_some_and(|Reverse(min)| min.rank() >= (value, Reverse(at))) {
                return;
            }
            self.heap.pop();
        }
        let mut k = make();
        k.value = value;
        self.heap.push(Reverse(k));
    }

    fn merge(&mut self, o: &Top) {
        for Reverse(k) in o.heap.iter() {
            self.offer(k.value, (k.file, k.db, &k.key), || k.clone());
        }
    }

    fn sorted(&self) -> Vec<TopKey> {
        let mut v: Vec<TopKey> = self.heap.iter().map(|Reverse(k)| k.clone()).collect();
        v.sort_by(|a, b| b.cmp(a));
        v
    }
}

/// Key prefixes, by level, with a cap.
#[derive(Debug, Clone, Default)]
struct Prefixes {
    /// By the prefix's hash (already a hash: not hashed again).
    table: HashMap<u64, (Vec<u8>, Tally), std::hash::BuildHasherDefault<Identity>>,
    /// What pruning folded away.
    other: Tally,
    pruned: bool,
}

/// A hasher for keys that are hashes already.
#[derive(Default)]
struct Identity(u64);

impl std::hash::Hasher for Identity {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

/// The databases a server has unless configured otherwise (`databases`).
const DEFAULT_DATABASES: u64 = 16;

/// How long until a key expires.
pub const TTL_BUCKETS: [&str; 8] = ["none", "expired", "<1m", "<1h", "<1d", "<7d", "<30d", "later"];

/// One input's row in the per-file table.
#[derive(Debug, Clone)]
pub struct FileRow {
    pub path: String,
    pub profile: Option<Profile>,
    pub tally: Tally,
    pub exact: u64,
    /// Our estimate of `used_memory − used_memory_startup` after the load.
    pub used_memory_delta: u64,
    /// The keyspace's overhead as the server counts it (`MEMORY STATS`).
    pub overhead: KeyspaceOverhead,
    /// Our estimate of `used_memory_dataset` after the load, client
    /// buffers aside: `used_memory_delta` less `overhead`.
    pub dataset: u64,
    /// The file's own `used-mem` aux field (the writer's `used_memory`).
    pub used_mem_aux: Option<u64>,
    /// What the reader should know about how the file was modelled.
    pub notes: Vec<String>,
    /// Why reading stopped early: the totals hold the keys before it.
    pub error: Option<crate::error::Error>,
}

/// What a file said of itself, and how reading it ended (see
/// [`Summary::add_file`]).
#[derive(Debug, Clone, Default)]
pub struct FileEnd {
    /// The profile its keys were priced by (`None`: no key was read).
    pub profile: Option<Profile>,
    /// Its `used-mem` aux field.
    pub used_mem_aux: Option<u64>,
    pub notes: Vec<String>,
    /// The error that stopped reading it, if any.
    pub error: Option<crate::error::Error>,
}

/// Everything the summary adds up.
pub struct Summary {
    pub options: SummaryOptions,
    pub total: Tally,
    pub exact: u64,
    pub expired_skipped: u64,
    pub per_db: BTreeMap<u64, Tally>,
    /// Per database, its keyspace's overhead as the server counts it,
    /// summed over the files.
    pub per_db_overhead: BTreeMap<u64, KeyspaceOverhead>,
    /// Per type and encoding (a handful: searched in order).
    per_encoding: Vec<((&'static str, &'static str), EncodingStats)>,
    top_memory: Top,
    top_elements: Top,
    prefixes: Prefixes,
    pub ttl: [Tally; 8],
    /// Keys and bytes per cluster slot (what `CLUSTER SLOT-STATS` shows).
    slots: Vec<SlotTally>,
    /// Keys not yet added to `slots`: slots are hit at random, so they are
    /// added in batches, in a loop that does nothing else and lets the
    /// processor wait for many cache lines at once.
    slot_pending: Vec<(u16, u64)>,
    /// Per type (in `KeyType::ALL`'s order), keys by the power of two at or
    /// below their size (strings: bytes; collections: elements), as `INFO
    /// KEYSIZES`: index 0 for size 0, k + 1 for 2^k.
    keysizes: [[u64; 65]; 8],
    /// Keys by the power of two at or below their MEMORY USAGE.
    memory_hist: [u64; 65],
    /// Keys one element away from leaving their compact encoding.
    pub near_limit: BTreeMap<&'static str, u64>,
    pub files: Vec<FileRow>,
    // The file being read: its keys and keys with a TTL per database.
    file_tally: Tally,
    file_exact: u64,
    file_db_keys: BTreeMap<u64, (u64, u64)>,
}

impl Summary {
    pub fn new(options: SummaryOptions) -> Summary {
        Summary {
            top_memory: Top { n: options.top, heap: BinaryHeap::new() },
            top_elements: Top { n: options.top, heap: BinaryHeap::new() },
            options,
            total: Tally::default(),
            exact: 0,
            expired_skipped: 0,
            per_db: BTreeMap::new(),
            per_db_overhead: BTreeMap::new(),
            per_encoding: Vec::new(),
            prefixes: Prefixes::default(),
            ttl: [Tally::default(); 8],
            slots: vec![SlotTally::default(); SLOTS],
            slot_pending: Vec::with_capacity(SLOT_BATCH),
            keysizes: [[0; 65]; 8],
            memory_hist: [0; 65],
            near_limit: BTreeMap::new(),
            files: Vec::new(),
            file_tally: Tally::default(),
            file_exact: 0,
            file_db_keys: BTreeMap::new(),
        }
    }

    pub fn add_key(&mut self, row: &KeyRow<'_>, now_ms: i64) {
        let c = row.cost;
        self.total.add(c);
        self.file_tally.add(c);
        self.exact += u64::from(c.exact);
        self.file_exact += u64::from(c.exact);
        self.per_db.entry(row.db).or_default().add(c);
        let e = self.file_db_keys.entry(row.db).or_default();
        e.0 += 1;
        e.1 += u64::from(row.expire_at_ms.is_some());
        let id = (row.kind.name(), c.encoding);
        // The names are static: the same pointer is the same name, and only
        // a miss compares the text.
        let same_ptr = |(a, b): (&str, &str)| std::ptr::eq(a, id.0) && std::ptr::eq(b, id.1);
        let found = self.per_encoding.iter().position(|(k, _)| same_ptr(*k));
        let at = match found.or_else(|| self.per_encoding.iter().position(|(k, _)| *k == id)) {
            Some(at) => at,
            None => {
                self.per_encoding.push((id, EncodingStats::default()));
                self.per_encoding.len() - 1
            }
        };
        let enc = &mut self.per_encoding[at].1;
        enc.tally.add(c);
        enc.sizes.add(c.memory_usage);
        enc.exact += u64::from(c.exact);
        let top = |value| {
            move || TopKey {
                value,
                file: row.file,
                db: row.db,
                key: row.key.to_vec(),
                kind: row.kind.name(),
                encoding: c.encoding,
                memory_usage: c.memory_usage,
                elements: c.elements,
            }
        };
        let at = (row.file, row.db, row.key);
        self.top_memory.offer(c.memory_usage, at, top(c.memory_usage));
        self.top_elements.offer(c.elements, at, top(c.elements));
        self.add_prefixes(row.key, row.facts, c);
        self.ttl[ttl_bucket(row.expire_at_ms, now_ms)].add(c);
        self.slot_pending.push((row.facts.slot, c.memory_usage));
        if self.slot_pending.len() == SLOT_BATCH {
            self.flush_slots();
        }
        let size = if row.kind == KeyType::String { c.largest } else { c.elements };
        let bucket = if size == 0 { 0 } else { 64 - size.leading_zeros() as usize };
        let kind = KeyType::ALL.iter().position(|k| *k == row.kind).unwrap_or(0);
        self.keysizes[kind][bucket] += 1;
        self.memory_hist[64 - c.memory_usage.leading_zeros() as usize] += 1;
    }

    /// Add another summary of other inputs (read apart, e.g. in parallel)
    /// as if its keys had come after these.
    pub fn merge(&mut self, mut o: Summary) {
        self.flush_slots();
        o.flush_slots();
        self.total.merge(&o.total);
        self.exact += o.exact;
        self.expired_skipped += o.expired_skipped;
        for (db, t) in &o.per_db {
            self.per_db.entry(*db).or_default().merge(t);
        }
        for (db, o) in &o.per_db_overhead {
            self.per_db_overhead.entry(*db).or_default().add(*o);
        }
        for (id, st) in &o.per_encoding {
            match self.per_encoding.iter_mut().find(|(k, _)| k == id) {
                Some((_, mine)) => {
                    mine.tally.merge(&st.tally);
                    mine.exact += st.exact;
                    for (a, b) in mine.sizes.counts.iter_mut().zip(&st.sizes.counts) {
                        *a += b;
                    }
                    mine.sizes.max = mine.sizes.max.max(st.sizes.max);
                }
                None => self.per_encoding.push((*id, st.clone())),
            }
        }
        // Top lists before the prefixes: a key's ties with another's keep
        // the earlier input's.
        self.top_memory.merge(&o.top_memory);
        self.top_elements.merge(&o.top_elements);
        let mut entries: Vec<_> = o.prefixes.table.into_iter().collect();
        entries.sort_by_key(|(hash, _)| *hash);
        for (hash, (name, t)) in entries {
            match self.prefixes.table.get_mut(&hash) {
                Some((mine, tally)) if *mine == name => tally.merge(&t),
                Some(_) => {}
                None => {
                    self.prefixes.table.insert(hash, (name, t));
                    if self.prefixes.table.len() > self.options.prefix_cap {
                        self.prune_prefixes();
                    }
                }
            }
        }
        self.prefixes.other.merge(&o.prefixes.other);
        self.prefixes.pruned |= o.prefixes.pruned;
        for (a, b) in self.ttl.iter_mut().zip(&o.ttl) {
            a.merge(b);
        }
        for (a, b) in self.slots.iter_mut().zip(&o.slots) {
            a.keys += b.keys;
            a.memory_usage += b.memory_usage;
        }
        for (a, b) in self.keysizes.iter_mut().zip(&o.keysizes) {
            for (x, y) in a.iter_mut().zip(b) {
                *x += y;
            }
        }
        for (a, b) in self.memory_hist.iter_mut().zip(&o.memory_hist) {
            *a += b;
        }
        for (kind, n) in o.near_limit {
            *self.near_limit.entry(kind).or_default() += n;
        }
        self.files.extend(o.files);
    }

    /// Count a key one element short of (or at) its compact encoding's
    /// entry limit.
    pub fn near_limit(&mut self, kind: KeyType) {
        *self.near_limit.entry(kind.name()).or_default() += 1;
    }

    fn add_prefixes(&mut self, key: &[u8], facts: KeyFacts<'_>, c: &KeyCost) {
        for &(hash, end) in facts.prefixes {
            let prefix = &key[..end as usize];
            match self.prefixes.table.get_mut(&hash) {
                Some((name, t)) if name == prefix => t.add(c),
                // Two prefixes with one 64-bit hash: the later one is left out.
                Some(_) => {}
                None => {
                    let mut t = Tally::default();
                    t.add(c);
                    self.prefixes.table.insert(hash, (prefix.to_vec(), t));
                    if self.prefixes.table.len() > self.options.prefix_cap {
                        self.prune_prefixes();
                    }
                }
            }
        }
    }

    /// Keep the larger half of the prefixes by bytes: heavy hitters survive,
    /// the long tail goes to "other".
    fn prune_prefixes(&mut self) {
        let mut sizes: Vec<u64> = self.prefixes.table.values().map(|(_, t)| t.memory_usage).collect();
        let mid = sizes.len() / 2;
        let (_, median, _) = sizes.select_nth_unstable(mid);
        let median = *median;
        let other = &mut self.prefixes.other;
        self.prefixes.table.retain(|_, (_, t)| {
            let keep = t.memory_usage > median;
            if !keep {
                other.keys += t.keys;
                other.memory_usage += t.memory_usage;
                other.allocated += t.allocated;
            }
            keep
        });
        self.prefixes.pruned = true;
    }

    /// Close the file just read: its row, with the keyspace tables a load
    /// builds for its databases.
    pub fn add_file(&mut self, path: &Path, file: FileEnd) {
        let FileEnd { profile, used_mem_aux, notes, error } = file;
        self.flush_slots();
        let mut tables = 0;
        let mut overhead = KeyspaceOverhead::default();
        if let Some(p) = &profile {
            let meter = super::Meter::new(*p);
            // The stores of the databases without keys, of the default 16.
            let empty = DEFAULT_DATABASES.saturating_sub(self.file_db_keys.range(..DEFAULT_DATABASES).count() as u64);
            overhead.main += empty * meter.empty_db_overhead();
            for (&db, &(keys, expires)) in &self.file_db_keys {
                tables += meter.keyspace_tables(keys, expires);
                let o = meter.keyspace_overhead(keys, expires);
                overhead.add(o);
                self.per_db_overhead.entry(db).or_default().add(o);
            }
        }
        let used_memory_delta = self.file_tally.allocated + tables;
        self.files.push(FileRow {
            path: path.display().to_string(),
            profile,
            tally: self.file_tally,
            exact: self.file_exact,
            used_memory_delta,
            overhead,
            // What the server would call the data set: used_memory less its
            // startup and the keyspace's overhead, with no client buffers.
            dataset: used_memory_delta.saturating_sub(overhead.total()),
            used_mem_aux,
            notes,
            error,
        });
        self.file_tally = Tally::default();
        self.file_exact = 0;
        self.file_db_keys.clear();
    }

    fn flush_slots(&mut self) {
        for &(slot, bytes) in &self.slot_pending {
            let t = &mut self.slots[slot as usize];
            t.keys += 1;
            t.memory_usage += bytes;
        }
        self.slot_pending.clear();
    }

    /// Per cluster slot, once every input is closed ([`Summary::add_file`]).
    pub fn slots(&self) -> &[SlotTally] {
        debug_assert!(self.slot_pending.is_empty(), "slots read before the file was closed");
        &self.slots
    }

    pub fn top_by_memory(&self) -> Vec<TopKey> {
        self.top_memory.sorted()
    }

    pub fn top_by_elements(&self) -> Vec<TopKey> {
        self.top_elements.sorted()
    }

    /// Prefixes by bytes, largest first, and whether pruning made them
    /// lower bounds.
    pub fn prefixes(&self) -> (Vec<(Vec<u8>, Tally)>, Tally, bool) {
        let mut v: Vec<(Vec<u8>, Tally)> = self.prefixes.table.values().map(|(k, t)| (k.clone(), *t)).collect();
        v.sort_by(|a, b| b.1.memory_usage.cmp(&a.1.memory_usage).then_with(|| a.0.cmp(&b.0)));
        (v, self.prefixes.other, self.prefixes.pruned)
    }

    /// Per type and encoding, sorted.
    pub fn per_encoding(&self) -> Vec<((&'static str, &'static str), &EncodingStats)> {
        let mut v: Vec<_> = self.per_encoding.iter().map(|(k, st)| (*k, st)).collect();
        v.sort_by_key(|(k, _)| *k);
        v
    }

    /// Per type, `(power of two, keys)` for each non-empty bucket.
    pub fn keysizes(&self) -> Vec<(&'static str, Vec<(u64, u64)>)> {
        KeyType::ALL
            .iter()
            .zip(&self.keysizes)
            .filter(|(_, h)| h.iter().any(|&n| n > 0))
            .map(|(k, h)| {
                let buckets = h
                    .iter()
                    .enumerate()
                    .filter(|(_, &n)| n > 0)
                    .map(|(b, &n)| (if b == 0 { 0 } else { 1u64 << (b - 1) }, n))
                    .collect();
                (k.name(), buckets)
            })
            .collect()
    }

    /// `(power of two, keys)` by MEMORY USAGE, from the smallest bucket
    /// used to the largest.
    pub fn memory_histogram(&self) -> Vec<(u64, u64)> {
        let used = |&(_, n): &(usize, &u64)| *n > 0;
        let first = self.memory_hist.iter().enumerate().position(|e| used(&e)).unwrap_or(0);
        let last = self.memory_hist.iter().enumerate().rposition(|e| used(&e)).unwrap_or(0);
        (first..=last).map(|b| (if b == 0 { 0 } else { 1u64 << (b - 1) }, self.memory_hist[b])).collect()
    }

    pub fn used_memory_delta(&self) -> u64 {
        self.files.iter().map(|f| f.used_memory_delta).sum()
    }

    pub fn dataset(&self) -> u64 {
        self.files.iter().map(|f| f.dataset).sum()
    }
}

fn ttl_bucket(expire_at_ms: Option<i64>, now_ms: i64) -> usize {
    let Some(t) = expire_at_ms else { return 0 };
    let left = t.saturating_sub(now_ms);
    match left {
        ..=0 => 1,
        1..60_000 => 2,
        60_000..3_600_000 => 3,
        3_600_000..86_400_000 => 4,
        86_400_000..604_800_000 => 5,
        604_800_000..2_592_000_000 => 6,
        _ => 7,
    }
}

impl Histogram {
    pub fn p(&self, q: f64) -> u64 {
        self.quantile(q)
    }
    pub fn max(&self) -> u64 {
        self.max
    }
}

/// A key name as the dump writes it (UTF-8 as is, else `base64:`).
fn dump_string(b: &[u8]) -> String {
    let mut quoted = Vec::with_capacity(b.len() + 2);
    write_bytes(&mut quoted, b);
    serde_json::from_slice(&quoted).unwrap_or_default()
}

fn tally_json(t: &Tally) -> Value {
    json!({"keys": t.keys, "memory_usage": t.memory_usage, "allocated": t.allocated})
}

impl Summary {
    /// The totals, by the names the JSON summary gives them (and the HTML
    /// page shows).
    pub fn totals(&self) -> [(&'static str, u64); 7] {
        [
            ("keys", self.total.keys),
            ("memory_usage", self.total.memory_usage),
            ("allocated", self.total.allocated),
            ("used_memory_delta", self.used_memory_delta()),
            ("dataset", self.dataset()),
            ("exact_keys", self.exact),
            ("expired_skipped", self.expired_skipped),
        ]
    }
}

/// The summary as JSON.
pub fn write_json(s: &Summary, out: &mut Vec<u8>) {
    let totals: serde_json::Map<String, Value> = s.totals().iter().map(|(k, v)| (k.to_string(), json!(v))).collect();
    let files: Vec<Value> = s
        .files
        .iter()
        .map(|f| {
            let profile = f.profile.as_ref().map(|p| {
                json!({
                    "target": p.target.name(),
                    "allocator": p.allocator.name(),
                    "label": p.label(),
                    "approximate": p.approximate(),
                })
            });
            json!({
                "path": f.path,
                "profile": profile,
                "totals": tally_json(&f.tally),
                "exact_keys": f.exact,
                "used_memory_delta": f.used_memory_delta,
                "dataset": f.dataset,
                "used_mem_aux": f.used_mem_aux,
                "notes": f.notes,
                "verdict": f.error.as_ref().map_or(Verdict::Valid, |e| e.kind.verdict()).name(),
                "error": f.error.as_ref().map(error_json),
            })
        })
        .collect();
    let per_db: serde_json::Map<String, Value> = s
        .per_db
        .iter()
        .map(|(db, t)| {
            let mut v = tally_json(t);
            let o = s.per_db_overhead.get(db).copied().unwrap_or_default();
            v["overhead_hashtable_main"] = json!(o.main);
            v["overhead_hashtable_expires"] = json!(o.expires);
            (db.to_string(), v)
        })
        .collect();
    let per_encoding: Vec<Value> = s
        .per_encoding()
        .into_iter()
        .map(|((kind, enc), st)| {
            json!({
                "type": kind, "encoding": enc,
                "keys": st.tally.keys, "memory_usage": st.tally.memory_usage, "allocated": st.tally.allocated,
                "exact_keys": st.exact,
                "p50": st.sizes.p(0.5), "p90": st.sizes.p(0.9), "p99": st.sizes.p(0.99), "max": st.sizes.max(),
            })
        })
        .collect();
    let top = |keys: Vec<TopKey>| -> Vec<Value> {
        keys.iter()
            .map(|k| {
                json!({
                    "file": k.file, "db": k.db, "key": dump_string(&k.key), "type": k.kind,
                    "encoding": k.encoding, "memory_usage": k.memory_usage, "elements": k.elements,
                })
            })
            .collect()
    };
    let (prefixes, other, pruned) = s.prefixes();
    let entries: Vec<Value> = prefixes
        .iter()
        .take(s.options.top)
        .map(|(p, t)| {
            json!({"prefix": dump_string(p), "keys": t.keys, "memory_usage": t.memory_usage, "allocated": t.allocated})
        })
        .collect();
    let ttl: serde_json::Map<String, Value> =
        TTL_BUCKETS.iter().zip(&s.ttl).map(|(name, t)| (name.to_string(), tally_json(t))).collect();
    let slots: Vec<Value> = s
        .slots()
        .iter()
        .enumerate()
        .filter(|(_, t)| t.keys > 0)
        .map(|(slot, t)| json!({"slot": slot, "key_count": t.keys, "memory_usage": t.memory_usage}))
        .collect();
    let keysizes: serde_json::Map<String, Value> = s
        .keysizes()
        .into_iter()
        .map(|(kind, buckets)| {
            let b: serde_json::Map<String, Value> =
                buckets.iter().map(|(pow, n)| (pow.to_string(), json!(n))).collect();
            (kind.to_string(), Value::Object(b))
        })
        .collect();
    let doc = json!({
        "totals": totals,
        "files": files,
        "per_db": per_db,
        "per_encoding": per_encoding,
        "top_by_memory": top(s.top_by_memory()),
        "top_by_elements": top(s.top_by_elements()),
        "prefixes": {"entries": entries, "other": tally_json(&other), "pruned": pruned},
        "ttl": ttl,
        "slots": slots,
        "keysizes": keysizes,
        "near_limit": s.near_limit,
    });
    // Writing to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, &doc);
    out.push(b'\n');
}

/// Bytes in a human unit.
pub(super) fn human(n: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < units.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", units[u])
    }
}

/// The summary as text.
pub fn write_text(s: &Summary, out: &mut Vec<u8>) {
    use std::fmt::Write as _;
    let mut t = String::new();
    for f in &s.files {
        let label = f.profile.as_ref().map_or("(no keys)".to_string(), |p| p.label());
        let _ = writeln!(t, "{}: {}", f.path, label);
        let _ = writeln!(
            t,
            "  {} keys, MEMORY USAGE sum {} ({}), allocated {}, used_memory after load ≈ startup + {}, dataset ≈ {}{}",
            f.tally.keys,
            f.tally.memory_usage,
            human(f.tally.memory_usage),
            human(f.tally.allocated),
            human(f.used_memory_delta),
            human(f.dataset),
            f.used_mem_aux.map(|u| format!(" (the writer's used_memory: {})", human(u))).unwrap_or_default()
        );
        for n in &f.notes {
            let _ = writeln!(t, "  note: {n}");
        }
        if let Some(e) = &f.error {
            let _ = writeln!(
                t,
                "  {}: {} (the figures hold the keys read before it)",
                e.kind.verdict().name().to_uppercase(),
                error_text(e)
            );
        }
    }
    if s.files.len() > 1 {
        let unread = s.files.iter().filter(|f| f.error.is_some()).count();
        let _ = writeln!(
            t,
            "all {} files{}: {} keys, MEMORY USAGE sum {}, used_memory ≈ startup + {}, dataset ≈ {}",
            s.files.len(),
            match unread {
                0 => String::new(),
                n => format!(" ({n} not read to the end)"),
            },
            s.total.keys,
            human(s.total.memory_usage),
            human(s.used_memory_delta()),
            human(s.dataset())
        );
    }
    let _ = writeln!(
        t,
        "{} of {} keys exact{}",
        s.exact,
        s.total.keys,
        match s.expired_skipped {
            0 => String::new(),
            1 => "; 1 expired key left out".into(),
            n => format!("; {n} expired keys left out"),
        }
    );
    let _ = writeln!(t, "\nby type and encoding:");
    let _ = writeln!(
        t,
        "  {:<8} {:<11} {:>10} {:>12} {:>9} {:>9} {:>9} {:>10}",
        "type", "encoding", "keys", "bytes", "p50", "p90", "p99", "max"
    );
    for ((kind, enc), st) in s.per_encoding() {
        let _ = writeln!(
            t,
            "  {:<8} {:<11} {:>10} {:>12} {:>9} {:>9} {:>9} {:>10}",
            kind,
            enc,
            st.tally.keys,
            human(st.tally.memory_usage),
            st.sizes.p(0.5),
            st.sizes.p(0.9),
            st.sizes.p(0.99),
            st.sizes.max()
        );
    }
    let _ = writeln!(t, "\nlargest keys:");
    for k in s.top_by_memory() {
        let _ = writeln!(
            t,
            "  {:>10}  db{} \"{}\" ({} {}, {} element{})",
            human(k.memory_usage),
            k.db,
            crate::escape::escape_bytes(&k.key),
            k.kind,
            k.encoding,
            k.elements,
            if k.elements == 1 { "" } else { "s" }
        );
    }
    let (prefixes, other, pruned) = s.prefixes();
    if !prefixes.is_empty() {
        let _ = writeln!(t, "\nprefixes{}:", if pruned { " (the smallest were folded into other)" } else { "" });
        for (p, tally) in prefixes.iter().take(s.options.top) {
            let _ = writeln!(
                t,
                "  {:>10}  {:>9} keys  \"{}\"",
                human(tally.memory_usage),
                tally.keys,
                crate::escape::escape_bytes(p)
            );
        }
        if pruned {
            let _ = writeln!(t, "  {:>10}  {:>9} keys  (other)", human(other.memory_usage), other.keys);
        }
    }
    let _ = writeln!(t, "\nTTL:");
    for (name, tally) in TTL_BUCKETS.iter().zip(&s.ttl).filter(|(_, t)| t.keys > 0) {
        let _ = writeln!(t, "  {:<8} {:>10} keys {:>12}", name, tally.keys, human(tally.memory_usage));
    }
    if !s.near_limit.is_empty() {
        let _ = writeln!(t, "\nkeys at their compact encoding's limit (one more element converts them):");
        for (kind, n) in &s.near_limit {
            let _ = writeln!(t, "  {kind}: {n}");
        }
    }
    out.extend_from_slice(t.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::Histogram;

    #[test]
    fn histogram_buckets_are_eighths_of_a_power_of_two() {
        assert_eq!(Histogram::bucket(0), 0);
        assert_eq!(Histogram::bucket(1), 1);
        assert_eq!(Histogram::bucket(2), 9);
        assert_eq!(Histogram::bucket(u64::MAX), 8 * 63 + 7 + 1);
        // Just below a power of two, where floating point rounds up.
        assert_eq!(Histogram::bucket((1 << 49) - 1), 8 * 48 + 7 + 1);
        // Where the float is exact enough, the same as floor(8 log2 v) + 1.
        for v in (1..100_000u64).chain((1..40).map(|k| (1u64 << k) - 1)).chain((1..64).map(|k| 1u64 << k)) {
            let float = ((v as f64).log2() * 8.0).floor() as usize + 1;
            assert_eq!(Histogram::bucket(v), float, "{v}");
        }
    }
}
