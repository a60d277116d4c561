//! `rdb-tool memory` judged by the real servers (issue 15). For each server
//! that installs here, a seeded generator fills it with keys on every encoding
//! and allocation threshold (embstr 44/45 and Valkey's embedding budgets, sds
//! headers 31/32 and 255/256 and 65535/65536 for keys and values, integer
//! strings, listpack entry and value limits ±1, intset widths, the 8 KB
//! quicklist node, elements larger than a node, big and small streams with
//! deletions, groups, consumers and PELs, hash field TTLs on Valkey 9.1, key
//! TTLs, three databases), `SAVE`s, and a fresh server is started on the file:
//! the state right after a load is what the model mirrors. Per key the server's
//! `MEMORY USAGE key SAMPLES 0`, `OBJECT ENCODING` and `TYPE` are the truth;
//! `rdb-tool memory FILE --target … --allocator … --keys jsonl --format json`
//! must agree:
//!
//! - the encoding of every key;
//! - `memory_usage` byte for byte where the server is deterministic for a
//!   given file; where it is not, within what that nondeterminism allows
//!   (measured with `scripts/memory-oracle.py --repeat 2`, see
//!   `/work/golden/mem/README.md`):
//!   - skiplist zsets (random node levels) and, on Valkey 8.1/9.1, hashtable
//!     sets and hashes (the bucketed hashtable chains child buckets as the
//!     random hash seed fills them): statistical, per key within 20 % and
//!     the sum of the class within ±0.5 % (skiplists) or ±1.5 % (Valkey
//!     hashtables: 16 loads of one file gave 8.1 −0.50 … +0.05 % and 9.1
//!     −1.01 … −0.39 %), and `exact` false;
//!   - Redis 6.2/7.0 hashes that load as hashtable with no more fields than
//!     `hash-max-ziplist-entries`: they are loaded as listpack and converted
//!     when the first long field or value comes, the dict then grows with
//!     incremental rehashing, and whether the last rehash has finished at
//!     the end of the load depends on the random hash seed; MEMORY USAGE
//!     counts both bucket arrays meanwhile. Within 8 bytes × the table size;
//!   - glibc servers (6.2, 8.1, 9.1): glibc does not split a free chunk whose
//!     remainder would be under 32 bytes, so any allocation may be 16 bytes
//!     larger than its canonical usable size (`max(24, roundup16(n + 8) - 8)`),
//!     never smaller. The model computes canonical sizes, so the server's figure
//!     is ours plus 0..16 × the key's allocations (bounded per encoding below),
//!     and at least 90 % of the keys ours calls exact, in every class of 20
//!     such keys or more, are exact (keys ours calls estimates, such as Valkey
//!     streams whose radix trees grow by realloc as they load, are held to
//!     the bound only) (strings
//!     whose figure moved between loads of one file: 0.06 % on 6.2, 0.4 % on
//!     8.1, 4.3 % on 9.1);
//!   - Debian's Redis 7.0 (jemalloc): everything else exact;
//!   - a key judged exact that ours calls an estimate (`"exact": false`) is
//!     only counted in a note: conservative, not wrong;
//! - the total: our `used_memory_delta` within ±1 % of the server's
//!   `used_memory - used_memory_startup` right after the load.
//!
//! `RDB_TOOL_MEMORY_KEEP=DIR` keeps each server's file, its truth and our
//! output under DIR/<server>/ for a closer look.

use crate::common;

use common::redis::{Client, Kind, Reply, Server};
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};
use std::path::Path;

/// Far-future absolute expiry times (ms, 2036 and later): nothing expires
/// while the test runs, and the data do not depend on the clock.
const TTL_BASE_MS: u64 = 2_100_000_000_000;
const SEED: u64 = 0x1515_2024;

#[test]
fn memory_matches_redis_7_0_key_by_key() {
    check_server(Kind::Redis70);
}

#[test]
fn memory_matches_redis_6_2_key_by_key() {
    check_server(Kind::Redis62);
}

#[test]
fn memory_matches_valkey_8_1_key_by_key() {
    check_server(Kind::Valkey81);
}

#[test]
fn memory_matches_valkey_9_1_key_by_key() {
    check_server(Kind::Valkey91);
}

/// `--target` and `--allocator` of a server kind.
fn profile(kind: Kind) -> (&'static str, &'static str) {
    match kind {
        Kind::Redis70 => ("redis-7.0", "jemalloc16"),
        Kind::Redis62 => ("redis-6.2", "libc"),
        Kind::Valkey81 => ("valkey-8.1", "libc"),
        Kind::Valkey91 => ("valkey-9.1", "libc"),
    }
}

// ------------------------------------------------------------------ generator

/// splitmix64: a seeded, portable sequence (no dependency).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// Uniform in lo..=hi (any i64 range).
    fn int(&mut self, lo: i64, hi: i64) -> i64 {
        let span = (hi as i128 - lo as i128 + 1) as u128;
        (lo as i128 + (self.next() as u128 % span) as i128) as i64
    }
    fn between(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below((hi - lo + 1) as u64) as usize
    }
    fn chance(&mut self, p: f64) -> bool {
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64) < p
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len() as u64) as usize]
    }
    fn float(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * ((self.next() >> 11) as f64 / (1u64 << 53) as f64)
    }
}

type Cmd = Vec<Vec<u8>>;

fn b(s: impl ToString) -> Vec<u8> {
    s.to_string().into_bytes()
}

/// A command from byte strings of any kind.
fn args(parts: &[&[u8]]) -> Cmd {
    parts.iter().map(|p| p.to_vec()).collect()
}

fn cmd(name: &str, key: &[u8]) -> Cmd {
    vec![b(name), key.to_vec()]
}

/// `name key items…`, `per` items a command.
fn chunked(name: &str, key: &[u8], items: &[Vec<u8>], per: usize) -> Vec<Cmd> {
    items.chunks(per).map(|c| cmd(name, key).into_iter().chain(c.iter().cloned()).collect()).collect()
}

struct Spec {
    db: u32,
    key: Vec<u8>,
    cmds: Vec<Cmd>,
}

const LETTERS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

struct Gen {
    rng: Rng,
    used: HashSet<Vec<u8>>,
    one_byte_keys: Vec<u8>,
    specs: Vec<Spec>,
}

impl Gen {
    fn new(seed: u64) -> Gen {
        let mut rng = Rng(seed);
        let mut one_byte_keys: Vec<u8> = (0..=255).collect();
        for i in (1..one_byte_keys.len()).rev() {
            let j = rng.below(i as u64 + 1) as usize;
            one_byte_keys.swap(i, j);
        }
        Gen { rng, used: HashSet::new(), one_byte_keys, specs: Vec::new() }
    }

    /// Letters only: never an integer.
    fn word(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| LETTERS[self.rng.below(52) as usize]).collect()
    }

    fn fresh(&mut self, k: Vec<u8>) -> Option<Vec<u8>> {
        self.used.insert(k.clone()).then_some(k)
    }

    /// A fresh key of exactly `n` bytes (one-byte keys: all 256 byte values).
    fn key_of_len(&mut self, n: usize, binary: bool) -> Vec<u8> {
        for _ in 0..200 {
            let k = if n == 1 {
                vec![self.one_byte_keys.pop().expect("out of one-byte keys")]
            } else if binary {
                (0..n).map(|_| self.rng.next() as u8).collect()
            } else if n <= 3 {
                (0..n).map(|_| 0x21 + self.rng.below(94) as u8).collect()
            } else {
                let mut k = b"k".to_vec();
                k.extend(self.word(n - 1));
                k
            };
            if let Some(k) = self.fresh(k) {
                return k;
            }
        }
        panic!("no fresh key of {n} bytes");
    }

    /// A key name: mostly `prefix:kind:id`, some of random length (2..300
    /// bytes), some binary, some UTF-8.
    fn name(&mut self, prefix: &str) -> Vec<u8> {
        let r = self.rng.below(100);
        if r < 70 {
            loop {
                let kind = *self.rng.pick(&["user", "session", "cache", "q"]);
                let digits = self.rng.between(1, 12) as u32;
                let id = self.rng.below(10u64.pow(digits));
                let mut k = format!("{prefix}:{kind}:{id}");
                if self.rng.chance(0.2) {
                    let n = self.rng.between(1, 60);
                    k = format!("{k}:{}", String::from_utf8(self.word(n)).unwrap());
                }
                if let Some(k) = self.fresh(k.into_bytes()) {
                    return k;
                }
            }
        } else if r < 85 {
            let n = self.rng.between(2, 300);
            self.key_of_len(n, false)
        } else if r < 93 {
            let n = self.rng.between(1, 64);
            self.key_of_len(n, true)
        } else {
            loop {
                let k = format!("{prefix}:ключ:{}:日本:é", self.rng.below(1_000_000_000));
                if let Some(k) = self.fresh(k.into_bytes()) {
                    return k;
                }
            }
        }
    }

    fn db(&mut self) -> u32 {
        match self.rng.below(100) {
            0..=93 => 0,
            94..=98 => 1,
            _ => 9,
        }
    }

    /// A key, its commands, a TTL on about 20 % of keys.
    fn add(&mut self, db: u32, key: Vec<u8>, cmds: Vec<Cmd>) {
        let ttl = self.rng.chance(0.2);
        self.add_ttl(db, key, cmds, ttl);
    }

    fn add_ttl(&mut self, db: u32, key: Vec<u8>, mut cmds: Vec<Cmd>, ttl: bool) {
        if ttl {
            let at = TTL_BASE_MS + self.rng.below(100_000_000_000);
            cmds.push(vec![b("PEXPIREAT"), key.clone(), b(at)]);
        }
        self.specs.push(Spec { db, key, cmds });
    }

    fn int_elem(&mut self) -> Vec<u8> {
        let (lo, hi) = *self.rng.pick(&[
            (0, 127),
            (-4096, 4095),
            (-32768, 32767),
            (-(1 << 23), (1 << 23) - 1),
            (i32::MIN as i64, i32::MAX as i64),
            (i64::MIN, i64::MAX),
            (0, 9999),
        ]);
        b(self.rng.int(lo, hi))
    }

    fn str_elem(&mut self, lo: usize, hi: usize) -> Vec<u8> {
        let hi = if self.rng.chance(0.6) { hi.min(40).max(lo) } else { hi };
        let n = self.rng.between(lo, hi);
        self.word(n)
    }

    fn elem(&mut self, int_share: f64, lo: usize, hi: usize) -> Vec<u8> {
        if self.rng.chance(int_share) {
            self.int_elem()
        } else {
            self.str_elem(lo, hi)
        }
    }

    fn distinct(&mut self, n: usize, mut f: impl FnMut(&mut Gen) -> Vec<u8>) -> Vec<Vec<u8>> {
        let mut seen = HashSet::new();
        let mut out = Vec::with_capacity(n);
        let mut tries = 0;
        while out.len() < n {
            let e = f(self);
            tries += 1;
            assert!(tries < n * 50 + 1000, "cannot draw {n} distinct elements");
            if seen.insert(e.clone()) {
                out.push(e);
            }
        }
        out
    }

    fn generate(mut self, hash_field_ttls: bool) -> Vec<Spec> {
        self.strings();
        self.lists();
        self.sets();
        self.zsets();
        self.hashes();
        self.streams();
        if hash_field_ttls {
            self.hash_field_ttls();
        }
        self.specs
    }

    fn set_cmd(key: &[u8], v: Vec<u8>) -> Vec<Cmd> {
        vec![vec![b("SET"), key.to_vec(), v]]
    }

    fn strings(&mut self) {
        // key length × value length 0..=130 (every third with a TTL): embstr
        // 44/45, Valkey 8.1's 64-byte and 9.1's 128-byte budgets, key sds
        // types (31/32, 255/256), the expire slot
        let klens = [
            1, 2, 5, 10, 16, 20, 24, 30, 31, 32, 33, 40, 41, 44, 47, 48, 50, 63, 64, 80, 100, 110, 111, 120, 127, 128,
            129, 200, 255, 256, 257, 300,
        ];
        for ttl in [false, true] {
            for &kl in &klens {
                for vl in (0..=130).step_by(if ttl { 3 } else { 1 }) {
                    let k = self.key_of_len(kl, false);
                    let v = self.word(vl);
                    self.add_ttl(0, k.clone(), Self::set_cmd(&k, v), ttl);
                }
            }
        }
        // value sds headers and allocation classes, mmapped sizes on glibc
        for vl in [31, 32, 33, 255, 256, 257, 4095, 4096, 4097, 65535, 65536, 65537, 100_000, 1 << 20] {
            for kl in [8, 40] {
                let k = self.key_of_len(kl, false);
                let v = self.word(vl);
                self.add(0, k.clone(), Self::set_cmd(&k, v));
            }
        }
        // keys with 16- and 32-bit sds headers
        for kl in [65535, 65536] {
            for vl in [0, 5, 44, 45, 100] {
                let k = self.key_of_len(kl, false);
                let v = self.word(vl);
                self.add(0, k.clone(), Self::set_cmd(&k, v));
            }
        }
        // integer-looking strings: shared integers, int encoding, and what is not canonical
        let mut ints: Vec<String> = [
            "0",
            "1",
            "9999",
            "10000",
            "-1",
            "-10000",
            "4294967296",
            "9223372036854775807",
            "-9223372036854775808",
            "9223372036854775808",
            "-9223372036854775809",
            "007",
            "+5",
            "1.5",
            "-0",
            " 5",
            "1e5",
            "",
            "-",
            "12345678901234567890",
            "123456789012345678901",
            "18446744073709551615",
            "inf",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for _ in 0..8 {
            ints.push(self.rng.int(0, 9999).to_string());
            ints.push(self.rng.int(i64::MIN, i64::MAX).to_string());
        }
        for v in ints {
            for kl in [4, 40, 130] {
                let k = self.key_of_len(kl, false);
                self.add(0, k.clone(), Self::set_cmd(&k, b(&v)));
            }
        }
        // a random population
        for _ in 0..1200 {
            let v = match self.rng.below(100) {
                0..=24 => self.int_elem(),
                25..=84 => {
                    let n = self.rng.between(0, 130);
                    self.word(n)
                }
                85..=96 => {
                    let n = self.rng.between(131, 2000);
                    self.word(n)
                }
                _ => (0..self.rng.between(1, 300)).map(|_| self.rng.next() as u8).collect(),
            };
            let (db, k) = (self.db(), self.name("str"));
            self.add(db, k.clone(), Self::set_cmd(&k, v));
        }
    }

    fn lists(&mut self) {
        for n in [1, 2, 127, 128, 129] {
            for kind in 0..3 {
                let items: Vec<Vec<u8>> = (0..n)
                    .map(|_| match kind {
                        0 => self.word(10),
                        1 => self.int_elem(),
                        _ => self.elem(0.4, 1, 200),
                    })
                    .collect();
                let k = self.name("l");
                self.add(0, k.clone(), chunked("RPUSH", &k, &items, 1000));
            }
        }
        // listpack (ziplist on 6.2) sizes at 4 KB, 8 KB, 16 KB ± one element
        for el in [1, 10, 62, 63, 64, 200, 1000] {
            for bound in [4096, 8192, 16384] {
                for ziplist in [false, true] {
                    let (mut total, mut n) = (if ziplist { 11 } else { 7 }, 0usize);
                    while total <= bound {
                        total += if ziplist { zl_str_entry(el) } else { lp_str_entry(el) };
                        n += 1;
                    }
                    for d in [-1i64, 0, 1] {
                        let count = (n as i64 + d) as usize;
                        let items: Vec<Vec<u8>> = (0..count).map(|_| self.word(el)).collect();
                        let k = self.name("l");
                        self.add(0, k.clone(), chunked("RPUSH", &k, &items, 2000));
                    }
                }
            }
        }
        // multi-node quicklists of 500..5000 elements, some with holes
        for i in 0..8 {
            let n = self.rng.between(500, 5000);
            let share = [0.0, 0.2, 0.5, 1.0][i % 4];
            let items: Vec<Vec<u8>> = (0..n).map(|_| self.elem(share, 1, 200)).collect();
            let k = self.name("l");
            let mut cmds: Vec<Cmd> = if i % 3 == 2 {
                items
                    .iter()
                    .map(|it| vec![b(if self.rng.chance(0.5) { "LPUSH" } else { "RPUSH" }), k.clone(), it.clone()])
                    .collect()
            } else {
                chunked(if i % 3 == 0 { "RPUSH" } else { "LPUSH" }, &k, &items, 1000)
            };
            if i % 2 == 0 {
                for _ in 0..self.rng.between(1, 30) {
                    match self.rng.below(3) {
                        0 => cmds.push(vec![b("LREM"), k.clone(), b("0"), self.rng.pick(&items).clone()]),
                        1 => {
                            let at = self.rng.below(n as u64 / 2);
                            let v = self.elem(0.3, 1, 200);
                            cmds.push(vec![b("LSET"), k.clone(), b(at), v]);
                        }
                        _ => {
                            let pivot = self.rng.pick(&items).clone();
                            let v = self.elem(0.3, 1, 200);
                            cmds.push(vec![b("LINSERT"), k.clone(), b("BEFORE"), pivot, v]);
                        }
                    }
                }
            }
            if i == 5 {
                cmds.push(vec![b("LTRIM"), k.clone(), b("17"), b("-23")]);
            }
            let db = self.db();
            self.add(db, k, cmds);
        }
        // elements larger than a node, alone and among small ones
        for big in [8191, 8192, 8193, 20000] {
            let k = self.name("l");
            let v = self.word(big);
            self.add(0, k.clone(), vec![vec![b("RPUSH"), k.clone(), v]]);
            let mut items: Vec<Vec<u8>> = (0..self.rng.between(10, 300)).map(|_| self.elem(0.3, 1, 200)).collect();
            let at = self.rng.below(items.len() as u64) as usize;
            items.insert(at, self.word(big));
            let k = self.name("l");
            self.add(0, k.clone(), chunked("RPUSH", &k, &items, 1000));
        }
        for _ in 0..100 {
            let n = self.rng.between(1, 200);
            let items: Vec<Vec<u8>> = (0..n).map(|_| self.elem(0.3, 1, 80)).collect();
            let (db, k) = (self.db(), self.name("l"));
            self.add(db, k.clone(), chunked("RPUSH", &k, &items, 1000));
        }
    }

    fn sets(&mut self) {
        // intsets of each width at 1, 2, 127..129, 511..513 members, one member at the width's edge
        for (lo, hi) in [(-32768i64, 32767i64), (i32::MIN as i64, i32::MAX as i64), (i64::MIN, i64::MAX)] {
            for n in [1, 2, 127, 128, 129, 511, 512, 513] {
                let mut members = self
                    .distinct(n - 1, |g| b(if g.rng.chance(0.3) { g.rng.int(-100, 100) } else { g.rng.int(lo, hi) }));
                let edge = if self.rng.chance(0.5) { lo } else { hi };
                if !members.contains(&b(edge)) {
                    members.push(b(edge));
                }
                let k = self.name("si");
                self.add(0, k.clone(), chunked("SADD", &k, &members, 1000));
            }
        }
        // string sets at 127..129 members (Valkey's set-max-listpack-entries) and member length 63..65
        for n in [1, 2, 127, 128, 129] {
            for ml in [8, 63, 64, 65] {
                let members = self.distinct(n, |g| g.word(ml));
                let k = self.name("ss");
                self.add(0, k.clone(), chunked("SADD", &k, &members, 1000));
            }
            let mut members = self.distinct(n, |g| g.word(8));
            *members.last_mut().unwrap() = self.word(65);
            let k = self.name("ss");
            self.add(0, k.clone(), chunked("SADD", &k, &members, 1000));
            let members = self.distinct(n, |g| g.elem(0.5, 1, 64));
            let k = self.name("ss");
            self.add(0, k.clone(), chunked("SADD", &k, &members, 1000));
        }
        for n in [1000, 5000] {
            let members = self.distinct(n, |g| g.elem(0.1, 4, 40));
            let (db, k) = (self.db(), self.name("sl"));
            self.add(db, k.clone(), chunked("SADD", &k, &members, 1000));
        }
        let members = self.distinct(1000, |g| b(g.rng.int(0, 1_000_000_000)));
        let k = self.name("sl");
        self.add(0, k.clone(), chunked("SADD", &k, &members, 1000));
        for _ in 0..100 {
            let n = self.rng.between(1, 300);
            let share = *self.rng.pick(&[0.0, 0.5, 1.0]);
            let members = self.distinct(n, |g| g.elem(share, 1, 70));
            let (db, k) = (self.db(), self.name("s"));
            self.add(db, k.clone(), chunked("SADD", &k, &members, 1000));
        }
    }

    fn score(&mut self) -> Vec<u8> {
        match self.rng.below(10) {
            0..=3 => b(self.rng.int(-1_000_000, 1_000_000)),
            4..=7 => b(format!("{:?}", self.rng.float(-1e6, 1e6))),
            8 => b(self.rng.pick(&["inf", "-inf", "+inf", "0", "-0", "1e300", "-1e-300", "0.1", "3.0"])),
            _ => b(self.rng.int(-(1 << 53), 1 << 53)),
        }
    }

    fn zadd(&mut self, key: &[u8], members: Vec<Vec<u8>>) -> Vec<Cmd> {
        let mut items = Vec::with_capacity(members.len() * 2);
        for m in members {
            items.push(self.score());
            items.push(m);
        }
        chunked("ZADD", key, &items, 2000)
    }

    fn zsets(&mut self) {
        for n in [1, 2, 127, 128, 129] {
            for ml in [8, 63, 64, 65] {
                let members = self.distinct(n, |g| g.word(ml));
                let k = self.name("z");
                let cmds = self.zadd(&k, members);
                self.add(0, k, cmds);
            }
            let members = self.distinct(n, |g| g.elem(0.5, 1, 64));
            let k = self.name("z");
            let cmds = self.zadd(&k, members);
            self.add(0, k, cmds);
        }
        // skiplists: 7,059 members for the ±0.5 % check
        for n in [129, 130, 200, 300, 500, 800, 1000, 1500, 2500] {
            let members = self.distinct(n, |g| g.elem(0.2, 1, 60));
            let (db, k) = (self.db(), self.name("zl"));
            let cmds = self.zadd(&k, members);
            self.add(db, k, cmds);
        }
        for _ in 0..60 {
            let n = self.rng.between(1, 150);
            let members = self.distinct(n, |g| g.elem(0.3, 1, 70));
            let (db, k) = (self.db(), self.name("z"));
            let cmds = self.zadd(&k, members);
            self.add(db, k, cmds);
        }
    }

    fn hset(key: &[u8], fields: Vec<Vec<u8>>, values: Vec<Vec<u8>>) -> Vec<Cmd> {
        let items: Vec<Vec<u8>> = fields.into_iter().zip(values).flat_map(|(f, v)| [f, v]).collect();
        chunked("HSET", key, &items, 2000)
    }

    fn hashes(&mut self) {
        // 511..513 fields (hash-max-listpack-entries), field and value length 63..65
        for n in [1, 2, 127, 128, 129, 511, 512, 513] {
            for (fl, vl) in [(8, 8), (8, 63), (8, 64), (8, 65), (64, 8), (65, 8)] {
                let fields = self.distinct(n, |g| g.word(fl));
                let values = (0..n).map(|_| self.word(vl)).collect();
                let k = self.name("h");
                self.add(0, k.clone(), Self::hset(&k, fields, values));
            }
            let fields = self.distinct(n, |g| g.elem(0.3, 1, 64));
            let values = (0..n).map(|_| self.elem(0.5, 0, 64)).collect();
            let k = self.name("h");
            self.add(0, k.clone(), Self::hset(&k, fields, values));
        }
        for n in [1000, 5000] {
            let fields = self.distinct(n, |g| g.elem(0.1, 4, 40));
            let values = (0..n).map(|_| self.elem(0.3, 0, 120)).collect();
            let (db, k) = (self.db(), self.name("hl"));
            self.add(db, k.clone(), Self::hset(&k, fields, values));
        }
        for _ in 0..80 {
            let (fields, values) = if self.rng.chance(0.6) {
                let n = self.rng.between(1, 512);
                let f = self.distinct(n, |g| g.elem(0.2, 1, 30));
                let v = (0..n).map(|_| self.elem(0.4, 0, 64)).collect();
                (f, v)
            } else {
                let n = self.rng.between(1, 600);
                let f = self.distinct(n, |g| g.elem(0.2, 1, 40));
                let v = (0..n).map(|_| self.elem(0.4, 0, 70)).collect();
                (f, v)
            };
            let (db, k) = (self.db(), self.name("h"));
            self.add(db, k.clone(), Self::hset(&k, fields, values));
        }
    }

    /// Valkey 9 hash field TTLs: one, half or all fields under a TTL, and a
    /// hash whose TTLs were all removed again.
    fn hash_field_ttls(&mut self) {
        for n in [1, 2, 10, 128, 129, 513] {
            for share in 0..3 {
                let fields = self.distinct(n, |g| g.elem(0.2, 1, 40));
                let values = (0..n).map(|_| self.elem(0.3, 0, 70)).collect();
                let k = self.name("hx");
                let mut cmds = Self::hset(&k, fields.clone(), values);
                let pick = match share {
                    0 => &fields[..1],
                    1 => &fields[..(n / 2).max(1)],
                    _ => &fields[..],
                };
                for part in pick.chunks(500) {
                    let at = TTL_BASE_MS + self.rng.below(100_000_000_000);
                    let mut c = vec![b("HPEXPIREAT"), k.clone(), b(at), b("FIELDS"), b(part.len())];
                    c.extend(part.iter().cloned());
                    cmds.push(c);
                }
                self.add(0, k, cmds);
            }
        }
        let fields = self.distinct(20, |g| g.word(8));
        let values = (0..20).map(|_| self.word(8)).collect();
        let k = self.name("hx");
        let mut cmds = Self::hset(&k, fields.clone(), values);
        let mut c = vec![b("HPEXPIREAT"), k.clone(), b(TTL_BASE_MS), b("FIELDS"), b(20)];
        c.extend(fields.iter().cloned());
        cmds.push(c);
        let mut c = vec![b("HPERSIST"), k.clone(), b("FIELDS"), b(20)];
        c.extend(fields.iter().cloned());
        cmds.push(c);
        self.add(0, k, cmds);
    }

    /// A stream of `n` entries with explicit IDs (the data do not depend on
    /// the clock), then deletions, a trim and consumer groups.
    fn stream(
        &mut self,
        key: &[u8],
        n: usize,
        same_fields: bool,
        deletes: Deletes,
        groups: usize,
        trim: Option<usize>,
    ) -> Vec<Cmd> {
        let mut pool: Vec<Vec<u8>> = ["f", "name", "temperature", "id", "payload", "ts", "1", "42"]
            .iter()
            .map(|f| f.as_bytes().to_vec())
            .collect();
        pool.extend([vec![b'a'; 30], vec![b'b'; 70]]);
        let sample = |g: &mut Gen, k: usize| {
            let mut idx: Vec<usize> = (0..pool.len()).collect();
            for i in 0..k {
                let j = i + g.rng.below((idx.len() - i) as u64) as usize;
                idx.swap(i, j);
            }
            idx[..k].iter().map(|&i| pool[i].clone()).collect::<Vec<_>>()
        };
        let mut cmds = Vec::new();
        let mut ids = Vec::new();
        let (mut ms, mut seq) = (1_700_000_000_000u64 + self.rng.below(1_000_000_000), 0u64);
        let k = self.rng.between(1, 4);
        let fixed = sample(self, k);
        for _ in 0..n {
            if self.rng.chance(0.7) {
                ms += self.rng.between(1, 5000) as u64;
                seq = 0;
            } else {
                seq += self.rng.between(1, 3) as u64;
            }
            let fields = if same_fields {
                fixed.clone()
            } else {
                let k = self.rng.between(1, 5);
                sample(self, k)
            };
            let id = b(format!("{ms}-{seq}"));
            let mut c = vec![b("XADD"), key.to_vec(), id.clone()];
            for f in fields {
                c.push(f);
                c.push(self.elem(0.4, 0, 60));
            }
            ids.push(id);
            cmds.push(c);
        }
        let dels: Vec<Vec<u8>> = match deletes {
            Deletes::None => Vec::new(),
            Deletes::Some => ids.iter().filter(|_| self.rng.chance(0.1)).cloned().collect(),
            Deletes::First => ids.iter().take(1).cloned().collect(),
            Deletes::All => ids.clone(),
        };
        cmds.extend(chunked("XDEL", key, &dels, 1000));
        if let Some(t) = trim {
            cmds.push(vec![b("XTRIM"), key.to_vec(), b("MAXLEN"), b(t)]);
        }
        for g in 0..groups {
            let mut name = b(format!("g{g}"));
            let extra = self.rng.between(0, 20);
            name.extend(self.word(extra));
            if ids.is_empty() {
                cmds.push(vec![b("XGROUP"), b("CREATE"), key.to_vec(), name.clone(), b("$"), b("MKSTREAM")]);
            } else {
                let start = match self.rng.below(4) {
                    0 | 1 => b("0"),
                    2 => b("$"),
                    _ => ids[ids.len() / 2].clone(),
                };
                cmds.push(vec![b("XGROUP"), b("CREATE"), key.to_vec(), name.clone(), start]);
            }
            let consumers: Vec<Vec<u8>> = (0..self.rng.between(0, 5))
                .map(|c| {
                    let mut n = b(format!("c{c}"));
                    let extra = self.rng.between(0, 30);
                    n.extend(self.word(extra));
                    n
                })
                .collect();
            for c in &consumers {
                if self.rng.chance(0.15) {
                    cmds.push(vec![b("XGROUP"), b("CREATECONSUMER"), key.to_vec(), name.clone(), c.clone()]);
                } else {
                    let count = *self.rng.pick(&[1, 5, 50, 100, 500]);
                    cmds.push(args(&[b"XREADGROUP", b"GROUP", &name, c, b"COUNT", &b(count), b"STREAMS", key, b">"]));
                }
            }
            if !consumers.is_empty() && !ids.is_empty() && self.rng.chance(0.6) {
                let mut c = vec![b("XACK"), key.to_vec(), name.clone()];
                for _ in 0..self.rng.between(1, 50) {
                    c.push(self.rng.pick(&ids).clone());
                }
                cmds.push(c);
            }
            if consumers.len() >= 2 && !ids.is_empty() && self.rng.chance(0.6) {
                let mut c =
                    vec![b("XCLAIM"), key.to_vec(), name.clone(), consumers[consumers.len() - 1].clone(), b("0")];
                for _ in 0..self.rng.between(1, 30) {
                    c.push(self.rng.pick(&ids).clone());
                }
                cmds.push(c);
            }
            if !consumers.is_empty() && !ids.is_empty() && self.rng.chance(0.3) {
                cmds.push(vec![
                    b("XAUTOCLAIM"),
                    key.to_vec(),
                    name.clone(),
                    consumers[0].clone(),
                    b("0"),
                    b("0-0"),
                    b("COUNT"),
                    b("25"),
                ]);
            }
            if self.rng.chance(0.2) {
                cmds.push(vec![b("XGROUP"), b("SETID"), key.to_vec(), name.clone(), b("$")]);
            }
        }
        cmds
    }

    fn streams(&mut self) {
        // stream-node-max-entries is 100: 100/101
        for n in [1, 100, 101, 1000, 3000] {
            for same in [true, false] {
                let k = self.name("x");
                let cmds = self.stream(&k, n, same, Deletes::None, 0, None);
                self.add(0, k, cmds);
            }
            let k = self.name("x");
            let cmds = self.stream(&k, n, n % 2 == 0, Deletes::Some, 0, None);
            self.add(0, k, cmds);
            for groups in 1..=3 {
                let k = self.name("x");
                let deletes = [Deletes::None, Deletes::Some, Deletes::First][groups - 1];
                let cmds = self.stream(&k, n, groups == 2, deletes, groups, None);
                self.add(0, k, cmds);
            }
        }
        let k = self.name("x");
        let cmds = self.stream(&k, 10, true, Deletes::All, 0, None);
        self.add(0, k, cmds);
        let k = self.name("x");
        let cmds = self.stream(&k, 50, true, Deletes::All, 2, None);
        self.add(0, k, cmds);
        let k = self.name("x");
        let cmds = self.stream(&k, 0, true, Deletes::None, 1, None);
        self.add(0, k, cmds);
        let k = self.name("x");
        let cmds = self.stream(&k, 2000, false, Deletes::None, 1, Some(777));
        self.add(0, k, cmds);
        for _ in 0..15 {
            let (n, same, groups) = (self.rng.between(1, 400), self.rng.chance(0.5), self.rng.between(0, 3));
            let deletes = if self.rng.chance(0.5) { Deletes::Some } else { Deletes::None };
            let (db, k) = (self.db(), self.name("x"));
            let cmds = self.stream(&k, n, same, deletes, groups, None);
            self.add(db, k, cmds);
        }
    }
}

#[derive(Clone, Copy)]
enum Deletes {
    None,
    Some,
    First,
    All,
}

/// Bytes of a listpack string entry of `n` bytes (encoding, data, back length).
fn lp_str_entry(n: usize) -> usize {
    let body = n + if n < 64 {
        1
    } else if n < 4096 {
        2
    } else {
        5
    };
    body + if body < 128 {
        1
    } else if body < 16384 {
        2
    } else {
        3
    }
}

/// Bytes of a ziplist string entry of `n` bytes (previous length, encoding, data).
fn zl_str_entry(n: usize) -> usize {
    let body = n + if n < 64 {
        1
    } else if n < 16384 {
        2
    } else {
        5
    };
    body + if body + 1 < 254 { 1 } else { 5 }
}

// ------------------------------------------------------------------ the server's truth

struct Truth {
    db: u64,
    key: Vec<u8>,
    typ: String,
    encoding: String,
    memory_usage: i64,
    length: i64,
    ql_nodes: Option<i64>,
}

fn text(r: Reply) -> String {
    String::from_utf8(r.bytes()).expect("UTF-8 reply")
}

fn info_field(info: &str, name: &str) -> i64 {
    info.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(':')))
        .unwrap_or_else(|| panic!("INFO has no {name}"))
        .trim()
        .parse()
        .unwrap()
}

fn fill(c: &mut Client, specs: &[Spec]) {
    let mut db = u32::MAX;
    for s in specs {
        if s.db != db {
            c.ok(&[b("SELECT"), b(s.db)]);
            db = s.db;
        }
        for cmd in &s.cmds {
            c.ok(cmd);
        }
    }
    c.ok(&["SELECT", "0"]);
}

/// What the server says of its memory as the load left it.
struct ServerMemory {
    /// `used_memory - used_memory_startup`.
    delta: i64,
    /// `used_memory_dataset` with the clients' buffers added back: the
    /// data set as the file determines it (the one client is ours).
    dataset: i64,
    /// Per database, `MEMORY STATS`'s `overhead.hashtable.main` (with
    /// `.slot-to-keys` where a cluster node gives it) and `.expires`.
    overhead: BTreeMap<u64, (i64, i64)>,
}

/// Every key's truth, and the server's memory figures as the load left it
/// (read first, before our queries grow the client's buffers).
fn collect(c: &mut Client, debug: bool) -> (Vec<Truth>, ServerMemory) {
    let mem = text(c.ok(&["INFO", "memory"]));
    let delta = info_field(&mem, "used_memory") - info_field(&mem, "used_memory_startup");
    let dataset = info_field(&mem, "used_memory_dataset") + info_field(&mem, "mem_clients_normal");
    let mut overhead = BTreeMap::new();
    let stats = c.ok(&["MEMORY", "STATS"]).array();
    for pair in stats.chunks(2) {
        let name = text(pair[0].clone());
        let Some(db) = name.strip_prefix("db.").and_then(|d| d.parse::<u64>().ok()) else { continue };
        let fields = pair[1].array();
        let field = |n: &str| fields.chunks(2).find(|f| text(f[0].clone()) == n).map_or(0, |f| f[1].int());
        let main = field("overhead.hashtable.main") + field("overhead.hashtable.slot-to-keys");
        overhead.insert(db, (main, field("overhead.hashtable.expires")));
    }
    let server = ServerMemory { delta, dataset, overhead };
    let keyspace = text(c.ok(&["INFO", "keyspace"]));
    let dbs: Vec<u64> =
        keyspace.lines().filter_map(|l| l.strip_prefix("db")?.split(':').next()?.parse().ok()).collect();
    let mut out = Vec::new();
    for db in dbs {
        c.ok(&[b("SELECT"), b(db)]);
        let mut keys = Vec::new();
        let mut cursor = b("0");
        loop {
            let r = c.ok(&args(&[b"SCAN", &cursor, b"COUNT", b"1000"])).array();
            cursor = r[0].bytes();
            keys.extend(r[1].array().iter().map(Reply::bytes));
            if cursor == b"0" {
                break;
            }
        }
        keys.sort();
        keys.dedup();
        for key in keys {
            let memory_usage = c.ok(&args(&[b"MEMORY", b"USAGE", &key, b"SAMPLES", b"0"])).int();
            let encoding = text(c.ok(&args(&[b"OBJECT", b"ENCODING", &key])));
            let typ = text(c.ok(&args(&[b"TYPE", &key])));
            let len_cmd = match typ.as_str() {
                "string" => "STRLEN",
                "list" => "LLEN",
                "set" => "SCARD",
                "zset" => "ZCARD",
                "hash" => "HLEN",
                "stream" => "XLEN",
                other => panic!("unexpected type {other}"),
            };
            let length = c.ok(&args(&[len_cmd.as_bytes(), &key])).int();
            let ql_nodes = (debug && encoding == "quicklist").then(|| {
                let d = text(c.ok(&args(&[b"DEBUG", b"OBJECT", &key])));
                d.split_whitespace().find_map(|t| t.strip_prefix("ql_nodes:")?.parse().ok()).expect("ql_nodes")
            });
            out.push(Truth { db, key, typ, encoding, memory_usage, length, ql_nodes });
        }
    }
    c.ok(&["SELECT", "0"]);
    (out, server)
}

// ------------------------------------------------------------------ judging

/// How a key's figure is judged (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Rule {
    /// Byte for byte.
    Exact,
    /// glibc: the server may be above ours by up to this many bytes, never below.
    Above(i64),
    /// A dict that may be mid-rehash: either way by up to this many bytes.
    Rehash(i64),
    /// Random by nature: checked as a class sum (per key only within 20 %).
    Statistical(&'static str),
}

fn rule(kind: Kind, t: &Truth, hash_listpack_entries: i64) -> Rule {
    let valkey = matches!(kind, Kind::Valkey81 | Kind::Valkey91);
    let glibc = kind != Kind::Redis70;
    if t.encoding == "skiplist" {
        return Rule::Statistical("skiplist zsets");
    }
    if valkey && t.encoding == "hashtable" {
        return Rule::Statistical("Valkey hashtables");
    }
    // Allocations that glibc may hand out 16 bytes larger: robj, key sds,
    // value or container, dict entry, plus per element or node.
    let allocations = match (t.typ.as_str(), t.encoding.as_str()) {
        (_, "quicklist") => 4 + 2 * t.ql_nodes.unwrap_or(t.length),
        ("set", "hashtable") => 5 + 2 * t.length,
        ("hash", "hashtable") => 5 + 3 * t.length,
        ("stream", _) => 16 + t.length / 8,
        _ => 4,
    };
    let slack = if glibc { 16 * allocations } else { 0 };
    if !valkey && t.typ == "hash" && t.encoding == "hashtable" && t.length <= hash_listpack_entries {
        return Rule::Rehash(8 * (t.length as u64).next_power_of_two() as i64 + slack);
    }
    if glibc {
        Rule::Above(slack)
    } else {
        Rule::Exact
    }
}

struct Ours {
    encoding: String,
    typ: String,
    memory_usage: i64,
    exact: Option<bool>,
}

/// A key for the table: printable bytes as is, the rest as `\xNN`, cut to
/// about 36 characters with its length.
fn show_key(k: &[u8]) -> String {
    let mut s = String::new();
    for &c in k {
        let piece = if (0x20..0x7f).contains(&c) { (c as char).to_string() } else { format!("\\x{c:02x}") };
        if s.len() + piece.len() > 36 {
            return s + &format!("…({} B)", k.len());
        }
        s += &piece;
    }
    s
}

fn hex(k: &[u8]) -> String {
    k.iter().map(|c| format!("{c:02x}")).collect()
}

fn check_server(kind: Kind) {
    let (target, allocator) = profile(kind);
    let scratch = common::Scratch::new(&format!("memory-{target}"));

    // Fill, SAVE, and load the file into a fresh process.
    let filler = Server::start_kind(kind, &format!("memory-fill-{target}"), &[]);
    let mut c = filler.client().unwrap();
    let hfe = matches!(c.ok(&["COMMAND", "INFO", "HPEXPIREAT"]).array().first(), Some(Reply::Array(Some(_))));
    let specs = Gen::new(SEED).generate(hfe);
    fill(&mut c, &specs);
    c.ok(&["SAVE"]);
    drop(c);
    let rdb = scratch.0.join("dump.rdb");
    std::fs::copy(filler.rdb_path(), &rdb).unwrap();
    drop(filler);
    let load_dir = scratch.0.join("load");
    std::fs::create_dir_all(&load_dir).unwrap();
    std::fs::copy(&rdb, load_dir.join("dump.rdb")).unwrap();
    let dir = load_dir.display().to_string();
    let mut args = vec!["--dir", dir.as_str(), "--dbfilename", "dump.rdb"];
    if kind != Kind::Redis62 {
        args.extend(["--enable-debug-command", "yes"]);
    }
    let loaded = Server::start_kind(kind, &format!("memory-load-{target}"), &args);
    let mut c = loaded.client().unwrap();
    let (truth, server) = collect(&mut c, true);
    let server_delta = server.delta;
    let cfg = c.ok(&["CONFIG", "GET", "hash-max-ziplist-entries"]).array();
    let hash_listpack_entries: i64 = text(cfg[1].clone()).parse().unwrap();
    drop(c);
    drop(loaded);

    // The data set is what this test promises.
    let generated: HashSet<(u64, &[u8])> = specs.iter().map(|s| (s.db as u64, &s.key[..])).collect();
    let held: HashSet<(u64, &[u8])> = truth.iter().map(|t| (t.db, &t.key[..])).collect();
    assert!(generated == held && held.len() == specs.len(), "{target}: the server holds exactly the generated keys");
    let skiplist_members: i64 = truth.iter().filter(|t| t.encoding == "skiplist").map(|t| t.length).sum();
    assert!(skiplist_members >= 5000, "{target}: {skiplist_members} skiplist members");
    assert!(server_delta >= 5_000_000, "{target}: a data set of {server_delta} bytes");
    eprintln!(
        "{target}: {} keys, {skiplist_members} skiplist members, used_memory - used_memory_startup = {server_delta}",
        truth.len()
    );

    // Ours.
    let summary_path = scratch.0.join("summary.json");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rdb-tool"))
        .arg("memory")
        .arg(&rdb)
        .args(["--target", target, "--allocator", allocator, "--keys", "jsonl", "--format", "json", "-o"])
        .arg(&summary_path)
        .output()
        .expect("run rdb-tool");
    if let Some(keep) = std::env::var_os("RDB_TOOL_MEMORY_KEEP") {
        let d = Path::new(&keep).join(target);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::copy(&rdb, d.join("dump.rdb")).unwrap();
        std::fs::write(d.join("ours.jsonl"), &out.stdout).unwrap();
        let _ = std::fs::copy(&summary_path, d.join("summary.json"));
        let lines: String = truth
            .iter()
            .map(|t| {
                serde_json::json!({"db": t.db, "key_hex": hex(&t.key), "type": t.typ, "encoding": t.encoding,
                    "memory_usage": t.memory_usage, "length": t.length, "ql_nodes": t.ql_nodes})
                .to_string()
                    + "\n"
            })
            .collect();
        std::fs::write(d.join("truth.jsonl"), lines).unwrap();
        std::fs::write(
            d.join("server.json"),
            serde_json::json!({"used_memory_delta": server_delta, "dataset": server.dataset}).to_string(),
        )
        .unwrap();
    }
    assert!(
        out.status.success(),
        "rdb-tool memory {} --target {target} --allocator {allocator}: {}\n{}",
        rdb.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let mut ours: BTreeMap<(u64, String), Ours> = BTreeMap::new();
    for line in String::from_utf8(out.stdout).expect("UTF-8 output").lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{target}: bad JSONL line {line:?}: {e}"));
        let field = |name: &str| v.get(name).unwrap_or_else(|| panic!("{target}: no {name:?} in {line}"));
        let key = (field("db").as_u64().expect("db"), field("key_hex").as_str().expect("key_hex").to_string());
        let o = Ours {
            encoding: field("encoding").as_str().expect("encoding").to_string(),
            typ: field("type").as_str().expect("type").to_string(),
            memory_usage: field("memory_usage").as_i64().expect("memory_usage"),
            exact: v.get("exact").and_then(Value::as_bool),
        };
        assert!(ours.insert(key.clone(), o).is_none(), "{target}: key {key:?} listed twice");
    }
    let summary = common::read_json(&summary_path);
    let totals = &summary["totals"];

    // Judge.
    let mut failures: Vec<String> = Vec::new();
    let mut rows: Vec<String> = Vec::new();
    let mut row = |t: &Truth, ours: Option<&Ours>, why: String| {
        rows.push(format!(
            "{:>2} {:<44} {:<6} {:<10} {:>9} {:>9} {:>8}  {}",
            t.db,
            show_key(&t.key),
            t.typ,
            t.encoding,
            t.memory_usage,
            ours.map_or("-".into(), |o| o.memory_usage.to_string()),
            ours.map_or("".into(), |o| (o.memory_usage - t.memory_usage).to_string()),
            why
        ));
    };
    // (sum server, sum ours) per statistical class; (keys, exact keys) per type/encoding under Above.
    let mut classes: BTreeMap<&'static str, (i64, i64)> = BTreeMap::new();
    let mut above: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut matched = 0usize;
    let mut modest: BTreeMap<String, usize> = BTreeMap::new();
    for t in &truth {
        let Some(o) = ours.remove(&(t.db, hex(&t.key))) else {
            row(t, None, "missing from ours".into());
            continue;
        };
        // On glibc a string whose expiry pushed its value out of the object
        // stays embedded when the allocator happened to leave room for the
        // expiry (a chunk larger than asked): ours calls those estimates.
        let glibc_string = kind != Kind::Redis70 && t.typ == "string" && o.exact == Some(false);
        if o.typ != t.typ || (o.encoding != t.encoding && !glibc_string) {
            row(t, Some(&o), format!("ours says {} {}", o.typ, o.encoding));
            continue;
        }
        if o.encoding != t.encoding {
            matched += 1;
            continue;
        }
        let diff = t.memory_usage - o.memory_usage; // the server's figure above ours
        let r = rule(kind, t, hash_listpack_entries);
        let bad = match r {
            Rule::Exact => (diff != 0).then(|| "not exact".to_string()),
            Rule::Above(slack) => {
                // Keys ours calls estimates are held to the slack only.
                if o.exact == Some(true) {
                    let e = above.entry(format!("{}/{}", t.typ, t.encoding)).or_default();
                    e.0 += 1;
                    e.1 += (diff == 0) as usize;
                }
                (!(0..=slack).contains(&diff)).then(|| format!("server - ours not in 0..={slack} (glibc)"))
            }
            Rule::Rehash(bound) => (diff.abs() > bound).then(|| format!("|diff| > {bound} (mid-load rehash)")),
            Rule::Statistical(class) => {
                let e = classes.entry(class).or_default();
                e.0 += t.memory_usage;
                e.1 += o.memory_usage;
                (diff.abs() * 5 > t.memory_usage).then(|| format!("{class}: off by more than 20 %"))
            }
        };
        // An estimate must say so; a deterministic key called an estimate
        // is only counted (conservative, not wrong).
        let flag = match (r, o.exact) {
            (Rule::Statistical(_), Some(true)) => Some("exact: true for an estimate"),
            (_, None) => Some("no \"exact\""),
            (Rule::Exact, Some(false)) => {
                *modest.entry(format!("{}/{}", t.typ, t.encoding)).or_insert(0) += 1;
                None
            }
            _ => None,
        };
        match (bad, flag) {
            (None, None) => matched += 1,
            (Some(why), _) => row(t, Some(&o), why),
            (None, Some(why)) => row(t, Some(&o), why.into()),
        }
    }
    for (class, n) in &modest {
        eprintln!("{target}: note: {n} {class} keys are exact on the server but ours says \"exact\": false");
    }
    if !rows.is_empty() {
        failures.push(format!(
            "{} of {} keys do not match; the first {}:\n{:>2} {:<44} {:<6} {:<10} {:>9} {:>9} {:>8}  rule\n{}",
            rows.len(),
            truth.len(),
            rows.len().min(30),
            "db",
            "key",
            "type",
            "encoding",
            "server",
            "ours",
            "ours-srv",
            rows[..rows.len().min(30)].join("\n")
        ));
    }
    if !ours.is_empty() {
        let extra: Vec<String> = ours.keys().take(10).map(|(db, k)| format!("db{db} {k}")).collect();
        failures.push(format!("{} keys of ours the server does not hold: {}", ours.len(), extra.join(", ")));
    }
    for (class, (server, ours)) in &classes {
        // Valkey's child buckets follow the server's random hash seed: 16
        // loads of the same file gave Valkey 8.1 −0.50 … +0.05 % and 9.1
        // −1.01 … −0.39 % (9.1 sits about 0.6 % low, a bias not explained
        // yet), so ±1.5 % holds every seed seen.
        let tolerance = match *class {
            "skiplist zsets" => 0.005,
            "Valkey hashtables" => 0.015,
            _ => 0.01,
        };
        let off = (*ours - *server) as f64 / *server as f64;
        eprintln!("{target}: {class}: server {server}, ours {ours} ({:+.3} %)", off * 100.0);
        if off.abs() > tolerance {
            failures.push(format!(
                "{class}: sum {ours} vs the server's {server}: {:+.3} %, over ±{} %",
                off * 100.0,
                tolerance * 100.0
            ));
        }
    }
    for (class, (keys, exact)) in &above {
        if *keys >= 20 && *exact * 10 < *keys * 9 {
            failures.push(format!("{class}: only {exact} of {keys} keys exact (glibc allows a few above, not 10 %)"));
        }
    }
    let total = |name: &str| totals[name].as_i64().unwrap_or_else(|| panic!("{target}: no totals.{name} in summary"));
    if total("keys") != truth.len() as i64 {
        failures.push(format!("totals.keys {} vs {} keys", total("keys"), truth.len()));
    }
    let our_delta = total("used_memory_delta");
    let off = (our_delta - server_delta) as f64 / server_delta as f64;
    eprintln!(
        "{target}: used_memory - used_memory_startup: server {server_delta}, ours {our_delta} ({:+.3} %)",
        off * 100.0
    );
    if off.abs() > 0.01 {
        failures.push(format!(
            "used_memory_delta {our_delta} vs the server's used_memory - used_memory_startup {server_delta}: {:+.3} %, over ±1 %",
            off * 100.0
        ));
    }
    check_dataset(target, &summary, &server, &mut failures);
    assert!(
        failures.is_empty(),
        "rdb-tool memory --target {target} --allocator {allocator} ({matched} of {} keys matched):\n{}",
        truth.len(),
        failures.join("\n")
    );
}

/// The keyspace's overhead per database as `MEMORY STATS` counts it, and
/// the data set `INFO memory` derives from it. The overhead is struct sizes
/// times counts, so it is exact where the tables are: Redis sizes them from
/// the file, while a Valkey 8.1+ table's child buckets follow its random
/// hash seed (a few per thousand keys). The data set carries every key's
/// allocation error, so it is held to ±1 % like `used_memory`.
fn check_dataset(target: &str, summary: &serde_json::Value, server: &ServerMemory, failures: &mut Vec<String>) {
    let valkey_buckets = target.starts_with("valkey-") && target != "valkey-8.0";
    for (db, &(main, expires)) in &server.overhead {
        let ours = &summary["per_db"][db.to_string()];
        if ours.is_null() {
            // A database without keys: Valkey 8.1+ counts its two empty
            // stores, which the data set estimate takes off.
            if (main, expires) != (96, 96) {
                failures.push(format!("db {db} holds no key, and the server counts {main} + {expires} for it"));
            }
            continue;
        }
        for (name, theirs) in [("main", main), ("expires", expires)] {
            let field = format!("overhead_hashtable_{name}");
            let Some(mine) = ours[&field].as_i64() else {
                failures.push(format!("db {db}: no {field} in the summary (the server: {theirs})"));
                continue;
            };
            // Valkey's child buckets follow the hash seed: ±1 % and four.
            let slack = if valkey_buckets { theirs / 100 + 4 * 64 } else { 0 };
            eprintln!("{target}: db {db} overhead.hashtable.{name}: server {theirs}, ours {mine}");
            if (mine - theirs).abs() > slack {
                failures.push(format!("db {db} overhead.hashtable.{name}: ours {mine}, the server's {theirs}"));
            }
        }
    }
    let ours = summary["totals"]["dataset"].as_i64().unwrap_or(0);
    let off = (ours - server.dataset) as f64 / server.dataset as f64;
    eprintln!(
        "{target}: used_memory_dataset + mem_clients_normal: server {}, ours {ours} ({:+.3} %)",
        server.dataset,
        off * 100.0
    );
    if off.abs() > 0.01 {
        failures.push(format!(
            "dataset {ours} vs the server's used_memory_dataset + mem_clients_normal {}: {:+.3} %, over ±1 %",
            server.dataset,
            off * 100.0
        ));
    }
}

// ------------------------------------------------------------------ cluster mode

/// Debian's Redis 7.0 as a cluster node (`cluster-enabled yes`): each key's
/// table entry carries 16 bytes of links to the other keys of its slot,
/// which `MEMORY USAGE` counts. The generated keys of db 0 (a cluster has one
/// database) are saved by a plain server and loaded by a cluster node; with
/// `--cluster` every deterministic key is exact, and without it each is
/// exactly those 16 bytes short, so the term is what the test sees.
#[test]
fn memory_matches_a_redis_7_0_cluster_node_key_by_key() {
    let scratch = common::Scratch::new("memory-cluster-7.0");
    let filler = Server::start("memory-cluster-fill", &[]);
    let mut c = filler.client().unwrap();
    let specs: Vec<Spec> = Gen::new(SEED).generate(false).into_iter().filter(|s| s.db == 0).collect();
    fill(&mut c, &specs);
    c.ok(&["SAVE"]);
    drop(c);
    let load_dir = scratch.0.join("load");
    std::fs::create_dir_all(&load_dir).unwrap();
    let rdb = load_dir.join("dump.rdb");
    std::fs::copy(filler.rdb_path(), &rdb).unwrap();
    drop(filler);
    let dir = load_dir.display().to_string();
    let cluster_args = [
        "--dir",
        dir.as_str(),
        "--dbfilename",
        "dump.rdb",
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        "nodes.conf",
        // The node claims the slots its keys are in as it loads them (and
        // no others): answer for those anyway.
        "--cluster-require-full-coverage",
        "no",
    ];
    let loaded = Server::start("memory-cluster-load", &cluster_args);
    let mut c = loaded.client().unwrap();
    let cluster = text(c.ok(&["INFO", "cluster"]));
    assert!(cluster.contains("cluster_enabled:1"), "a cluster node: {cluster}");
    // A master that just started holds its state "fail" for a moment
    // (cluster.c `CLUSTER_WRITABLE_DELAY`) and answers CLUSTERDOWN meanwhile.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !text(c.ok(&["CLUSTER", "INFO"])).contains("cluster_state:ok") {
        assert!(std::time::Instant::now() < deadline, "the node's cluster state never became ok");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let (truth, server) = collect(&mut c, false);
    drop(c);
    drop(loaded);
    assert_eq!(truth.len(), specs.len(), "the node holds every key of db 0");

    let summary_path = scratch.0.join("summary.json");
    let ours = |extra: &[&str]| -> BTreeMap<String, i64> {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_rdb-tool"))
            .arg("memory")
            .arg(&rdb)
            .args(["--target", "redis-7.0", "--allocator", "jemalloc16", "--keys", "jsonl", "--format", "json", "-o"])
            .arg(&summary_path)
            .args(extra)
            .output()
            .expect("run rdb-tool");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l).unwrap();
                (v["key_hex"].as_str().unwrap().to_string(), v["memory_usage"].as_i64().unwrap())
            })
            .collect()
    };
    let (plain, node) = (ours(&[]), ours(&["--cluster"]));
    // The slot links are also the node's `overhead.hashtable.slot-to-keys`.
    let mut failures = Vec::new();
    check_dataset("redis-7.0 cluster", &common::read_json(&summary_path), &server, &mut failures);
    let mut exact = 0;
    for t in &truth {
        if rule(Kind::Redis70, t, 512) != Rule::Exact {
            continue;
        }
        let k = hex(&t.key);
        let (n, p) = (node[&k], plain[&k]);
        if n == t.memory_usage && p == t.memory_usage - 16 {
            exact += 1;
        } else {
            failures.push(format!(
                "{} {} {}: server {}, --cluster {n}, without {p}",
                show_key(&t.key),
                t.typ,
                t.encoding,
                t.memory_usage
            ));
        }
    }
    assert!(failures.is_empty(), "{} keys off:\n{}", failures.len(), failures.join("\n"));
    assert!(exact >= 1000, "{exact} keys compared exactly");
}
