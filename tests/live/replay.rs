//! AOF replay checked against the real server, differentially.
//!
//! A live `redis-server` 7.0 ("A", `appendonly yes`, `appendfsync always`) gets
//! a long, seeded, broad workload: every string, keyspace, list, set, sorted
//! set, hash and stream write an AOF has to replay, bit operations, HyperLogLogs
//! (PFCOUNT too: it rewrites the cached cardinality), geo sets, the storing
//! commands (SORT … STORE, *STORE), LMPOP/ZMPOP, blocking pops served at once,
//! RESTORE (as MIGRATE sends it), MULTI/EXEC blocks (with a runtime error and
//! an aborted one), SELECT, SWAPDB, FLUSHDB in a scratch database, EVAL and
//! FCALL (propagated as their effects), FUNCTION LOAD/REPLACE/DELETE, expiries
//! a day or more ahead and a few already past (those keys must not exist
//! anywhere). Four variants:
//! - `plain`: no RDB preamble, no rewrite: every command is in the incr file;
//! - `plain_rewritten`: no preamble, a BGREWRITEAOF midway: the base is the
//!   server's own rewrite (RPUSH/ZADD batches, XSETID, XGROUP CREATE …
//!   ENTRIESREAD, XCLAIM for the PELs …), later commands in the incr file;
//! - `preamble`: `aof-use-rdb-preamble yes` and a BGREWRITEAOF midway: the base
//!   is an RDB, later commands in the incr file.
//! - `computed`: like `plain`, but mostly the writes whose result the replay
//!   computes as the server does: geo searches that store (radius and box,
//!   COUNT/ANY, STOREDIST, radii right at a member's distance), SORT with BY
//!   and GET patterns, HyperLogLogs (sparse and dense), bit operations; each
//!   search or SORT stores into a key of its own, so every result is compared.
//!
//! A's `appendonlydir` is copied and converted by `convert` to RDB 10; a second
//! server ("B") loads that RDB, and a third ("C") loads the copied AOF itself,
//! which is what replaying it must give. Checked: B's `DEBUG DIGEST` equals A's
//! (and C's), the key counts per database, for every key of every database its
//! TYPE, PEXPIRETIME and `DEBUG DIGEST-VALUE`, the function libraries (names
//! and code), and, since the digest of a stream covers its entries only, each
//! stream's `XINFO STREAM FULL` (groups, PELs, consumers, ids and counters;
//! not consumer seen-times nor the radix tree's shape) against C's.
//!
//! A command the replay does not know fails the conversion; the test then
//! converts again skipping unknown commands, so that one run names every such
//! command and still shows every key that comes out differently (flagged when
//! the key's history holds a skipped command). Mismatches print both values and
//! the last commands the workload sent that name the key.

use crate::common;

use common::{copy_tree, Scratch};

use common::redis::{Client, Reply, Server};
use rdb_tool::cmd::convert::{convert, ConvertConfig, ConvertTo};
use rdb_tool::error::ErrorKind;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

const DAY_MS: i64 = 86_400_000;
/// Databases the workload writes (the scratch one is flushed now and then).
const DBS: [u64; 3] = [0, 1, 2];
const SCRATCH_DB: u64 = 9;
/// Keys whose expiry was already past when set: gone everywhere.
const DOOMED: [&str; 4] = ["doomed:expireat", "doomed:pexpireat", "doomed:set-exat", "doomed:getex-pxat"];

fn local_now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

/// How far the servers' clock is from ours: Redis 7.0 runs on the real clock
/// even when the suite runs under a fake one (tests/common/redis.rs).
static SERVER_CLOCK_OFFSET: std::sync::OnceLock<i64> = std::sync::OnceLock::new();

/// "Now" as the servers see it: the workload's times are relative to theirs.
fn now_ms() -> i64 {
    local_now_ms() + SERVER_CLOCK_OFFSET.get().copied().expect("the server clock is read at the start")
}

macro_rules! args {
    ($($x:expr),* $(,)?) => { vec![$($x.to_string()),*] };
}

/// xorshift64: deterministic, no crates.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

/// A reply as text, for messages and comparisons.
fn show(r: &Reply) -> String {
    match r {
        Reply::Status(s) => s.clone(),
        Reply::Error(e) => format!("(error {e})"),
        Reply::Int(i) => i.to_string(),
        Reply::Bulk(None) | Reply::Array(None) => "(nil)".into(),
        Reply::Bulk(Some(b)) => format!("{:?}", String::from_utf8_lossy(b)),
        Reply::Array(Some(items)) => format!("[{}]", items.iter().map(show).collect::<Vec<_>>().join(", ")),
    }
}

/// Fields of `XINFO STREAM FULL` that replaying cannot reproduce: when a
/// consumer was last seen (the replay's clock) and the radix tree's shape
/// (how the entries were packed into nodes).
const UNREPRODUCIBLE: [&[u8]; 3] = [b"seen-time", b"radix-tree-keys", b"radix-tree-nodes"];

/// `show`, leaving out the `UNREPRODUCIBLE` name/value pairs of flat maps.
fn normalized(r: &Reply) -> String {
    let Reply::Array(Some(items)) = r else { return show(r) };
    let mut parts = Vec::new();
    let mut i = 0;
    while i < items.len() {
        if let Reply::Bulk(Some(name)) = &items[i] {
            if UNREPRODUCIBLE.contains(&name.as_slice()) && i + 1 < items.len() {
                i += 2;
                continue;
            }
        }
        parts.push(normalized(&items[i]));
        i += 1;
    }
    format!("[{}]", parts.join(", "))
}

/// The value of a flat `[name, value, …]` map reply.
fn field(r: &Reply, name: &str) -> Option<Reply> {
    let items = r.array();
    items.chunks(2).find(|p| p[0] == Reply::Bulk(Some(name.as_bytes().to_vec()))).map(|p| p[1].clone())
}

fn text(r: &Reply) -> String {
    String::from_utf8(r.bytes()).unwrap()
}

/// "ms-seq" → (ms, seq).
fn split_id(id: &str) -> (u64, u64) {
    let (ms, seq) = id.split_once('-').unwrap();
    (ms.parse().unwrap(), seq.parse().unwrap())
}

// ---------------------------------------------------------------------------
// The workload
// ---------------------------------------------------------------------------

/// One write command the workload sent, for failure messages.
struct Sent {
    db: u64,
    /// Which data the database held then (SWAPDB exchanges them).
    data: u64,
    args: Vec<String>,
    error: Option<String>,
}

const FAMILIES: [&str; 12] =
    ["str", "counter", "float", "list", "set", "iset", "zset", "hash", "stream", "bits", "hll", "geo"];

const LIB_V1: &str = "#!lua name=replaylib
redis.register_function('push_count', function(keys, args)
  redis.call('RPUSH', keys[1], args[1])
  return redis.call('INCR', keys[2])
end)
redis.register_function('hash_bump', function(keys, args)
  redis.call('HINCRBYFLOAT', keys[1], 'x0', args[1])
  return redis.call('HSET', keys[1], 'last', args[1])
end)";

const LIB_V2: &str = "#!lua name=replaylib
redis.register_function('push_count', function(keys, args)
  redis.call('LPUSH', keys[1], args[1])
  return redis.call('INCRBY', keys[2], 2)
end)
redis.register_function('hash_bump', function(keys, args)
  redis.call('HINCRBYFLOAT', keys[1], 'x1', args[1])
  return redis.call('HSET', keys[1], 'last', args[1])
end)
redis.register_function('zbump', function(keys, args)
  return redis.call('ZINCRBY', keys[1], args[1], args[2])
end)";

const LIB_TEMP: &str = "#!lua name=templib
redis.register_function('noop', function(keys, args) return 0 end)";

const LIB_OTHER: &str = "#!lua name=otherlib
redis.register_function{function_name='peek', callback=function(keys, args)
  return redis.call('GET', keys[1])
end, flags={'no-writes'}}";

/// Scripts run with EVAL; effects are what 7.0 propagates.
const SCRIPTS: [(&str, &[&str]); 4] = [
    (
        "redis.call('SET', KEYS[1], ARGV[1]); redis.call('HINCRBY', KEYS[2], 'n0', 1); \
         return redis.call('RPUSH', KEYS[3], ARGV[1])",
        &["str", "hash", "list"],
    ),
    ("redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2]); return redis.call('PEXPIRE', KEYS[1], ARGV[3])", &["zset"]),
    ("local v = redis.call('SPOP', KEYS[1]); if v then redis.call('SADD', KEYS[2], v) end; return v", &["set", "set"]),
    (
        "redis.call('XADD', KEYS[1], '*', 'from', 'lua'); return redis.call('INCRBYFLOAT', KEYS[2], ARGV[1])",
        &["stream", "float"],
    ),
];

struct Workload {
    c: Client,
    rng: Rng,
    db: u64,
    /// `data[db]`: which of the original databases' data `db` holds now.
    data: [u64; 16],
    log: Vec<Sent>,
    /// Next ms of the explicit IDs of `stream:x`.
    explicit_ms: u64,
    lib_v2: bool,
    mix: Mix,
    /// Between MULTI and EXEC (replies are QUEUED).
    in_multi: bool,
}

/// What a workload sends.
#[derive(Clone, Copy, PartialEq)]
enum Mix {
    /// Every family, as above.
    Broad,
    /// Mostly the writes whose result the replay has to compute the way the
    /// server does (geo searches, SORT with patterns, HyperLogLogs, bit
    /// operations), on top of the broad mix.
    Computed,
}

impl Workload {
    fn new(c: Client, seed: u64, mix: Mix) -> Workload {
        let data = std::array::from_fn(|i| i as u64);
        Workload {
            c,
            rng: Rng(seed),
            db: 0,
            data,
            log: Vec::new(),
            explicit_ms: 1,
            lib_v2: false,
            mix,
            in_multi: false,
        }
    }

    /// Send a write; logged.
    fn send(&mut self, args: Vec<String>) -> Reply {
        let reply = self.c.cmd(&args);
        let done = matches!(&reply, Reply::Status(s) if s == "OK" || s == "QUEUED");
        if args[0] == "SELECT" && done {
            self.db = args[1].parse().unwrap();
        }
        if args[0] == "SWAPDB" && reply == Reply::Status("OK".into()) {
            let (x, y) = (args[1].parse::<usize>().unwrap(), args[2].parse::<usize>().unwrap());
            self.data.swap(x, y);
        }
        let error = match &reply {
            Reply::Error(e) => Some(e.clone()),
            _ => None,
        };
        self.log.push(Sent { db: self.db, data: self.data[self.db as usize], args, error });
        reply
    }

    /// Send a write with binary arguments; logged (lossily).
    fn send_bytes(&mut self, args: Vec<Vec<u8>>) -> Reply {
        let reply = self.c.cmd(&args);
        let error = match &reply {
            Reply::Error(e) => Some(e.clone()),
            _ => None,
        };
        let shown = args.iter().map(|a| String::from_utf8_lossy(a).into_owned()).collect();
        self.log.push(Sent { db: self.db, data: self.data[self.db as usize], args: shown, error });
        reply
    }

    /// A write that must succeed.
    fn must(&mut self, args: Vec<String>) -> Reply {
        let r = self.send(args.clone());
        assert!(!matches!(r, Reply::Error(_)), "{args:?}: {}", show(&r));
        r
    }

    /// A read (not logged).
    fn read(&mut self, args: Vec<String>) -> Reply {
        self.c.cmd(&args)
    }

    fn key(&mut self, family: &str) -> String {
        let n = match family {
            "str" => 8,
            "counter" | "float" => 3,
            "iset" | "geo" => 2,
            "stream" | "bits" | "hll" => 3,
            _ => 5,
        };
        format!("{family}:{}", self.rng.below(n))
    }

    /// Whether a BYLEX write on `key` gives the same result when the AOF is
    /// loaded: with unequal scores Redis walks a skiplist's random levels (the
    /// result is unspecified), so only keys not in skiplist form get one, and
    /// none inside MULTI (the encoding at EXEC time is not known).
    fn lex_reproducible(&mut self, key: &str) -> bool {
        if self.in_multi {
            return false;
        }
        let encoding = args!["OBJECT", "ENCODING", key];
        !matches!(self.c.cmd(&encoding), Reply::Bulk(Some(e)) if e == b"skiplist")
    }

    /// A new key for a search's or SORT's result: each result stays to be
    /// compared (a shared destination would keep only the last).
    fn found_key(&mut self) -> String {
        format!("found:{}", self.log.len())
    }

    fn any_key(&mut self) -> String {
        let f = self.rng.pick(&FAMILIES);
        self.key(f)
    }

    /// A stream key: mostly the `*` ones, sometimes the explicit-ID one.
    fn stream_key(&mut self) -> String {
        if self.rng.chance(20) {
            "stream:x".into()
        } else {
            self.key("stream")
        }
    }

    fn value(&mut self) -> String {
        match self.rng.below(12) {
            0..=4 => self.rng.pick(&["a", "b", "c", "d", "e", "f"]).into(),
            5 => self.rng.range(-1000, 100_000).to_string(),
            6 => "x".repeat(self.rng.range(40, 90) as usize),
            7 => self
                .rng
                .pick(&["", "with space", "crlf\r\ninside", "ünïcödé", "quote\"d", "0", "-0", "3.14", "1e3", "007"])
                .into(),
            8 => i64::MAX.to_string(),
            _ => format!("v{}", self.rng.below(50)),
        }
    }

    fn member(&mut self) -> String {
        if self.rng.chance(60) {
            format!("m{}", self.rng.below(20))
        } else {
            self.value()
        }
    }

    fn score(&mut self) -> String {
        match self.rng.below(10) {
            0..=4 => self.rng.range(-100, 100).to_string(),
            5..=7 => format!("{}", self.rng.range(-800, 800) as f64 / 8.0),
            8 => self.rng.pick(&["0.1", "1e10", "-2.5e-3", "3.3333333333333335"]).into(),
            _ => self.rng.pick(&["inf", "-inf", "+inf"]).into(),
        }
    }

    /// A duration of a day or two, in ms.
    fn far_ms(&mut self) -> i64 {
        DAY_MS + self.rng.below(DAY_MS as u64) as i64
    }

    /// `EX s` / `PX ms` / `EXAT t` / `PXAT t`, all a day or more ahead.
    fn ttl_option(&mut self) -> Vec<String> {
        let ms = self.far_ms();
        match self.rng.below(4) {
            0 => args!["EX", ms / 1000],
            1 => args!["PX", ms],
            2 => args!["EXAT", (now_ms() + ms) / 1000],
            _ => args!["PXAT", now_ms() + ms],
        }
    }

    /// Data every type in every encoding, and the function libraries.
    fn setup(&mut self) {
        self.must(args!["FUNCTION", "LOAD", LIB_V1]);
        self.must(args!["FUNCTION", "LOAD", LIB_OTHER]);
        self.must(args!["FUNCTION", "LOAD", LIB_TEMP]);
        for db in DBS {
            self.must(args!["SELECT", db]);
            // Big enough for the non-compact encodings.
            let mut a = args!["RPUSH", "list:big"];
            a.extend((0..300).map(|i| format!("item-{i}")));
            self.must(a);
            let mut a = args!["SADD", "set:big"];
            a.extend((0..200).map(|i| format!("member-{i}")));
            self.must(a);
            let mut a = args!["SADD", "iset:big"];
            a.extend((0..200).map(|i| (i * 7 - 300).to_string()));
            self.must(a);
            let mut a = args!["ZADD", "zset:big"];
            for i in 0..200 {
                a.push(format!("{}", i as f64 * 0.5 - 20.0));
                a.push(format!("member-{i}"));
            }
            self.must(a);
            let mut a = args!["HSET", "hash:big"];
            for i in 0..200 {
                a.push(format!("field-{i}"));
                a.push(format!("value-{i}"));
            }
            self.must(a);
            self.must(args!["SET", "str:long", "y".repeat(5000)]);
            self.must(args!["SET", "str:int", "123456789"]);
            self.must(args!["SET", "str:ttl", "far", "PXAT", now_ms() + 3 * DAY_MS]);
            for i in 0..3 {
                self.must(args!["XADD", format!("stream:{i}"), "*", "seed", i]);
                self.must(args!["XGROUP", "CREATE", format!("stream:{i}"), "g0", "0"]);
            }
        }
        self.must(args!["SELECT", 0]);
        self.must(args!["XGROUP", "CREATE", "stream:x", "g0", "$", "MKSTREAM"]);
    }

    /// One step: mostly a single command, sometimes a MULTI block or a
    /// database change.
    fn step(&mut self) {
        if self.mix == Mix::Computed && self.rng.chance(80) {
            match self.rng.below(4) {
                0 => self.geo(),
                1 => self.sort(),
                2 => self.hll(),
                _ => self.bits(),
            }
            return;
        }
        match self.rng.below(1000) {
            0..=19 => {
                let db = DBS[self.rng.below(3) as usize];
                self.send(args!["SELECT", db]);
            }
            20..=22 => {
                let (x, y) = (self.rng.below(3), self.rng.below(3));
                self.send(args!["SWAPDB", x, y]);
            }
            23..=26 => self.scratch_flush(),
            27..=66 => self.multi_block(),
            67..=366 => self.read_op(),
            _ => self.blind_op(),
        }
    }

    /// Writes into the scratch database, FLUSHDB, one key left behind.
    fn scratch_flush(&mut self) {
        let back = self.db;
        self.send(args!["SELECT", SCRATCH_DB]);
        self.send(args!["SET", "scratch:str", "gone soon"]);
        self.send(args!["RPUSH", "scratch:list", "a", "b"]);
        self.send(args!["FLUSHDB"]);
        let v = self.value();
        self.send(args!["SET", "scratch:after-flush", v]);
        self.send(args!["SELECT", back]);
    }

    fn multi_block(&mut self) {
        self.must(args!["MULTI"]);
        self.in_multi = true;
        let first = self.log.len();
        for _ in 0..self.rng.range(2, 5) {
            self.blind_op();
        }
        match self.rng.below(10) {
            // A runtime error inside: the other commands still run.
            0 => {
                self.send(args!["LPUSH", "str:0", "not-a-list"]);
                self.send(args!["SET", "str:0", "set-after-wrongtype"]);
            }
            // An error while queueing: EXECABORT, nothing happens.
            1 => {
                self.send(args!["SET", "str:aborted"]);
                self.send(args!["SET", "str:1", "never"]);
            }
            // SELECT inside the transaction.
            2 => {
                let back = self.db;
                self.send(args!["SELECT", 2]);
                self.send(args!["INCR", "counter:in-multi"]);
                self.send(args!["SELECT", back]);
            }
            _ => {}
        }
        self.in_multi = false;
        // Note in the log what EXEC did with each queued command.
        match self.send(args!["EXEC"]) {
            Reply::Array(Some(results)) => {
                let queued = self.log[first..].iter_mut().filter(|s| s.error.is_none() && s.args[0] != "EXEC");
                for (sent, result) in queued.zip(results) {
                    if let Reply::Error(e) = result {
                        sent.error = Some(format!("{e} (in EXEC)"));
                    }
                }
            }
            _ => {
                for sent in &mut self.log[first..] {
                    sent.error.get_or_insert_with(|| "not run: the transaction was aborted".into());
                }
            }
        }
    }

    /// Commands whose arguments need no reply from the server: usable inside
    /// MULTI.
    fn blind_op(&mut self) {
        match self.rng.below(42) {
            0 | 1 => {
                let (k, v) = (self.key("str"), self.value());
                let mut a = args!["SET", k, v];
                match self.rng.below(5) {
                    0 => a.push("NX".into()),
                    1 => a.push("XX".into()),
                    _ => {}
                }
                if self.rng.chance(30) {
                    a.push("GET".into());
                }
                match self.rng.below(6) {
                    0..=2 => a.extend(self.ttl_option()),
                    3 => a.push("KEEPTTL".into()),
                    _ => {}
                }
                self.send(a);
            }
            2 => {
                let (k, v) = (self.key("str"), self.value());
                match self.rng.below(3) {
                    0 => self.send(args!["SETNX", k, v]),
                    1 => {
                        let s = self.far_ms() / 1000;
                        self.send(args!["SETEX", k, s, v])
                    }
                    _ => {
                        let ms = self.far_ms();
                        self.send(args!["PSETEX", k, ms, v])
                    }
                };
            }
            3 => {
                let k = self.key("str");
                if self.rng.chance(50) {
                    let v = self.value();
                    self.send(args!["GETSET", k, v]);
                } else {
                    self.send(args!["GETDEL", k]);
                }
            }
            4 => {
                let k = self.key("str");
                let ms = self.far_ms();
                let a = match self.rng.below(5) {
                    0 => args!["GETEX", k, "PERSIST"],
                    1 => args!["GETEX", k, "PX", ms],
                    2 => args!["GETEX", k, "EX", ms / 1000],
                    3 => args!["GETEX", k, "EXAT", (now_ms() + ms) / 1000],
                    _ => args!["GETEX", k, "PXAT", now_ms() + ms],
                };
                self.send(a);
            }
            5 => {
                let nx = self.rng.chance(40);
                let mut a = args![if nx { "MSETNX" } else { "MSET" }];
                for _ in 0..self.rng.range(1, 3) {
                    let k = if nx { format!("nx:{}", self.rng.below(30)) } else { self.key("str") };
                    a.push(k);
                    a.push(self.value());
                }
                self.send(a);
            }
            6 => {
                let (k, v) = (self.key("str"), self.value());
                if self.rng.chance(50) {
                    self.send(args!["APPEND", k, v]);
                } else {
                    let off = if self.rng.chance(25) { self.rng.range(100, 200) } else { self.rng.range(0, 12) };
                    self.send(args!["SETRANGE", k, off, v]);
                }
            }
            7 => {
                let k = self.key("counter");
                let by = self.rng.range(-50, 50);
                match self.rng.below(4) {
                    0 => self.send(args!["INCR", k]),
                    1 => self.send(args!["DECR", k]),
                    2 => self.send(args!["INCRBY", k, by]),
                    _ => self.send(args!["DECRBY", k, by]),
                };
            }
            8 => {
                let k = self.key("float");
                let by = self.rng.pick(&["0.1", "-1.5", "2.5e2", "3", "-0.0001", "1e-5", "7.25"]);
                self.send(args!["INCRBYFLOAT", k, by]);
            }
            9 => {
                let cmd = self.rng.pick(&["DEL", "UNLINK"]);
                let mut a = args![cmd, self.any_key()];
                if self.rng.chance(30) {
                    a.push(self.any_key());
                }
                self.send(a);
            }
            10 => {
                let f = self.rng.pick(&FAMILIES);
                let (from, to) = (self.key(f), self.key(f));
                let cmd = self.rng.pick(&["RENAME", "RENAMENX"]);
                self.send(args![cmd, from, to]);
            }
            11 => {
                let k = self.any_key();
                let db = DBS[self.rng.below(3) as usize];
                if self.rng.chance(40) {
                    self.send(args!["MOVE", k, db]);
                } else {
                    let to = if self.rng.chance(50) { k.clone() } else { format!("{k}:copy") };
                    let mut a = args!["COPY", k, to];
                    if self.rng.chance(60) {
                        a.extend(args!["DB", db]);
                    }
                    if self.rng.chance(50) {
                        a.push("REPLACE".into());
                    }
                    self.send(a);
                }
            }
            12 => {
                let k = self.any_key();
                let ms = self.far_ms();
                let mut a = match self.rng.below(5) {
                    0 => args!["EXPIRE", k, ms / 1000],
                    1 => args!["PEXPIRE", k, ms],
                    2 => args!["EXPIREAT", k, (now_ms() + ms) / 1000],
                    3 => args!["PEXPIREAT", k, now_ms() + ms],
                    _ => args!["PERSIST", k],
                };
                if a[0] != "PERSIST" && self.rng.chance(30) {
                    a.push(self.rng.pick(&["NX", "XX", "GT", "LT"]).into());
                }
                self.send(a);
            }
            13 | 14 => {
                let k = self.key("list");
                let cmd = self.rng.pick(&["LPUSH", "RPUSH", "LPUSH", "RPUSH", "LPUSHX", "RPUSHX"]);
                let mut a = args![cmd, k];
                for _ in 0..self.rng.range(1, 5) {
                    a.push(self.value());
                }
                self.send(a);
            }
            15 => {
                let k = self.key("list");
                let cmd = self.rng.pick(&["LPOP", "RPOP"]);
                let mut a = args![cmd, k];
                if self.rng.chance(50) {
                    a.push(self.rng.range(1, 4).to_string());
                }
                self.send(a);
            }
            16 => {
                let k = self.key("list");
                if self.rng.chance(60) {
                    let (i, v) = (self.rng.range(-5, 5), self.value());
                    self.send(args!["LSET", k, i, v]);
                } else {
                    let start = self.rng.range(0, 1);
                    let stop = if self.rng.chance(50) { self.rng.range(-2, -1) } else { self.rng.range(10, 30) };
                    self.send(args!["LTRIM", k, start, stop]);
                }
            }
            17 => {
                let k = self.key("list");
                let v = self.rng.pick(&["a", "b", "c", "d", "e", "f"]);
                if self.rng.chance(50) {
                    let count = self.rng.range(-2, 2);
                    self.send(args!["LREM", k, count, v]);
                } else {
                    let (at, new) = (self.rng.pick(&["BEFORE", "AFTER"]), self.value());
                    self.send(args!["LINSERT", k, at, v, new]);
                }
            }
            18 => {
                let (from, to) = (self.key("list"), self.key("list"));
                if self.rng.chance(60) {
                    let (x, y) = (self.rng.pick(&["LEFT", "RIGHT"]), self.rng.pick(&["LEFT", "RIGHT"]));
                    self.send(args!["LMOVE", from, to, x, y]);
                } else {
                    self.send(args!["RPOPLPUSH", from, to]);
                }
            }
            19 => {
                let f = self.rng.pick(&["set", "set", "iset"]);
                let k = self.key(f);
                let cmd = self.rng.pick(&["SADD", "SADD", "SREM"]);
                let mut a = args![cmd, k];
                for _ in 0..self.rng.range(1, 4) {
                    a.push(if f == "iset" { self.rng.range(-20, 20).to_string() } else { self.member() });
                }
                self.send(a);
            }
            20 => {
                let (from, to) = (self.key("set"), self.key("set"));
                if self.rng.chance(50) {
                    let m = self.member();
                    self.send(args!["SMOVE", from, to, m]);
                } else {
                    let mut a = args!["SPOP", from];
                    if self.rng.chance(50) {
                        a.push(self.rng.range(1, 3).to_string());
                    }
                    self.send(a);
                }
            }
            21 => {
                let cmd = self.rng.pick(&["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"]);
                let f = self.rng.pick(&["set", "iset"]);
                let (dst, x, y) = (self.key("set"), self.key(f), self.key("set"));
                self.send(args![cmd, dst, x, y]);
            }
            22 | 23 => {
                let k = self.key("zset");
                let mut a = args!["ZADD", k];
                let incr = self.rng.chance(15);
                match self.rng.below(6) {
                    0 => a.push("NX".into()),
                    1 => a.push("XX".into()),
                    2 => a.push("GT".into()),
                    3 => a.push("LT".into()),
                    _ => {}
                }
                if self.rng.chance(30) {
                    a.push("CH".into());
                }
                if incr {
                    a.push("INCR".into());
                }
                for _ in 0..if incr { 1 } else { self.rng.range(1, 4) } {
                    a.push(self.score());
                    a.push(self.member());
                }
                self.send(a);
            }
            24 => {
                let k = self.key("zset");
                let m = self.member();
                if self.rng.chance(60) {
                    let by = self.score();
                    self.send(args!["ZINCRBY", k, by, m]);
                } else {
                    self.send(args!["ZREM", k, m]);
                }
            }
            25 => {
                let k = self.key("zset");
                let cmd = self.rng.pick(&["ZPOPMIN", "ZPOPMAX"]);
                let mut a = args![cmd, k];
                if self.rng.chance(50) {
                    a.push(self.rng.range(1, 3).to_string());
                }
                self.send(a);
            }
            26 => {
                let k = self.key("zset");
                match self.rng.below(3) {
                    0 => {
                        let (s, e) = (self.rng.range(0, 2), self.rng.range(-3, 3));
                        self.send(args!["ZREMRANGEBYRANK", k, s, e]);
                    }
                    1 => {
                        let lo = self.rng.range(-100, 90);
                        let (min, max) = match self.rng.below(3) {
                            0 => (format!("({lo}"), format!("{}", lo + 5)),
                            1 => ("-inf".to_string(), format!("({}", lo - 50)),
                            _ => (format!("{lo}"), format!("{}", lo + 10)),
                        };
                        self.send(args!["ZREMRANGEBYSCORE", k, min, max]);
                    }
                    _ => {
                        let (min, max) =
                            (self.rng.pick(&["[m1", "(m3", "-", "[a"]), self.rng.pick(&["[m2", "(m5", "+", "(c"]));
                        if self.lex_reproducible(&k) {
                            self.send(args!["ZREMRANGEBYLEX", k, min, max]);
                        }
                    }
                }
            }
            27 => {
                let cmd = self.rng.pick(&["ZUNIONSTORE", "ZINTERSTORE"]);
                let other = if self.rng.chance(20) { "set" } else { "zset" };
                let (dst, x, y) = (self.key("zset"), self.key("zset"), self.key(other));
                let mut a = args![cmd, dst, 2, x, y];
                if self.rng.chance(40) {
                    a.extend(args!["WEIGHTS", self.rng.range(-2, 3), "0.5"]);
                }
                if self.rng.chance(40) {
                    a.extend(args!["AGGREGATE", self.rng.pick(&["SUM", "MIN", "MAX"])]);
                }
                self.send(a);
            }
            28 | 29 => {
                let k = self.key("hash");
                let mut a = args![self.rng.pick(&["HSET", "HSET", "HMSET"]), k];
                for _ in 0..self.rng.range(1, 3) {
                    a.push(format!("f{}", self.rng.below(10)));
                    a.push(self.value());
                }
                self.send(a);
            }
            30 => {
                let k = self.key("hash");
                let f = format!("f{}", self.rng.below(10));
                if self.rng.chance(50) {
                    let v = self.value();
                    self.send(args!["HSETNX", k, f, v]);
                } else {
                    let g = format!("f{}", self.rng.below(10));
                    self.send(args!["HDEL", k, f, g]);
                }
            }
            31 => {
                let k = self.key("hash");
                if self.rng.chance(50) {
                    let (f, by) = (format!("n{}", self.rng.below(3)), self.rng.range(-20, 20));
                    self.send(args!["HINCRBY", k, f, by]);
                } else {
                    let f = format!("x{}", self.rng.below(2));
                    let by = self.rng.pick(&["0.1", "-2.5", "1e3", "0.3333"]);
                    self.send(args!["HINCRBYFLOAT", k, f, by]);
                }
            }
            32 => self.xadd(),
            33 => self.xgroup(),
            34 => self.eval(),
            35 => self.fcall(),
            36 => self.bits(),
            37 => self.hll(),
            38 => self.geo(),
            39 => {
                let (dst, x, y) = (self.key("zset"), self.key("zset"), self.key("zset"));
                if self.rng.chance(50) {
                    let mut a = args!["ZRANGESTORE", dst, x];
                    match self.rng.below(3) {
                        0 => a.extend(args![0, self.rng.range(-3, 5)]),
                        1 => a.extend(args!["(-10", "50", "BYSCORE"]),
                        _ if self.lex_reproducible(&x) => a.extend(args!["[a", "[m5", "BYLEX", "LIMIT", 0, 3]),
                        _ => return,
                    }
                    self.send(a);
                } else {
                    self.send(args!["ZDIFFSTORE", dst, 2, x, y]);
                }
            }
            40 => self.sort(),
            _ => {
                let count = self.rng.range(1, 3);
                if self.rng.chance(50) {
                    let (x, y, side) = (self.key("list"), self.key("list"), self.rng.pick(&["LEFT", "RIGHT"]));
                    self.send(args!["LMPOP", 2, x, y, side, "COUNT", count]);
                } else {
                    let (x, y, side) = (self.key("zset"), self.key("zset"), self.rng.pick(&["MIN", "MAX"]));
                    self.send(args!["ZMPOP", 2, x, y, side, "COUNT", count]);
                }
            }
        }
    }

    /// SETBIT / BITFIELD / BITOP on `bits:*` (strings).
    fn bits(&mut self) {
        let k = self.key("bits");
        match self.rng.below(3) {
            0 => {
                let (off, bit) = (self.rng.range(0, 300), self.rng.below(2));
                self.send(args!["SETBIT", k, off, bit]);
            }
            1 => {
                let mut a = args!["BITFIELD", k];
                if self.rng.chance(40) {
                    a.extend(args!["OVERFLOW", self.rng.pick(&["WRAP", "SAT", "FAIL"])]);
                }
                a.extend(args!["INCRBY", "i8", format!("#{}", self.rng.below(8)), self.rng.range(-100, 100)]);
                a.extend(args!["SET", "u16", self.rng.range(0, 64), self.rng.range(0, 65535)]);
                self.send(a);
            }
            _ => {
                let op = self.rng.pick(&["AND", "OR", "XOR", "NOT"]);
                let (dst, x) = (self.key("bits"), self.key("bits"));
                let mut a = args!["BITOP", op, dst, x];
                if op != "NOT" {
                    a.push(self.key("bits"));
                }
                self.send(a);
            }
        }
    }

    /// HyperLogLogs: PFADD, PFMERGE, and PFCOUNT (which rewrites the cached
    /// cardinality, so the server propagates it).
    fn hll(&mut self) {
        let k = self.key("hll");
        match self.rng.below(4) {
            0 | 1 => {
                let mut a = args!["PFADD", k];
                // Now and then enough to outgrow the sparse encoding.
                let n = if self.rng.chance(5) { self.rng.range(300, 900) } else { self.rng.range(0, 20) };
                for _ in 0..n {
                    a.push(format!("e{}", self.rng.below(3000)));
                }
                self.send(a);
            }
            2 => {
                let (x, y) = (self.key("hll"), self.key("hll"));
                self.send(args!["PFMERGE", k, x, y]);
            }
            _ => {
                self.send(args!["PFCOUNT", k]);
            }
        }
    }

    /// SORT … STORE: by the elements (ALPHA or numeric), or BY weights read
    /// from other keys (strings `w:N`, hash fields `wh:N->f`), with GET
    /// patterns, `BY nosort`, DESC and LIMIT. `sortsrc` holds numbers that
    /// name the weight keys. (No ALPHA with BY: Redis leaves equal weights in
    /// an undefined order there.)
    fn sort(&mut self) {
        match self.rng.below(5) {
            0 => {
                let n = self.rng.below(12);
                self.send(args!["RPUSH", "sortsrc", n]);
            }
            1 => {
                let (n, w) = (self.rng.below(12), self.rng.range(-3, 3));
                if self.rng.chance(50) {
                    self.send(args!["SET", format!("w:{n}"), w]);
                } else {
                    let name = format!("n{}", self.rng.below(5));
                    self.send(args!["HSET", format!("wh:{n}"), "f", w, "name", name]);
                }
            }
            2 => {
                let (k, dst) = (self.key("list"), self.key("list"));
                let mut a = args!["SORT", k, "ALPHA"];
                if self.rng.chance(50) {
                    a.push("DESC".into());
                }
                if self.rng.chance(30) {
                    a.extend(args!["LIMIT", 1, self.rng.range(1, 5)]);
                }
                a.extend(args!["STORE", dst]);
                self.send(a);
            }
            _ => {
                let mut a = args!["SORT", "sortsrc"];
                match self.rng.below(4) {
                    0 => {}
                    1 => a.extend(args!["BY", "w:*"]),
                    2 => a.extend(args!["BY", "wh:*->f"]),
                    _ => a.extend(args!["BY", "nosort"]),
                }
                for _ in 0..self.rng.below(3) {
                    a.extend(args!["GET", self.rng.pick(&["#", "w:*", "wh:*->name", "wh:*->f"])]);
                }
                if self.rng.chance(40) {
                    a.push("DESC".into());
                }
                if self.rng.chance(30) {
                    a.extend(args!["LIMIT", self.rng.range(0, 3), self.rng.range(-1, 6)]);
                }
                a.extend(args!["STORE", self.found_key()]);
                self.send(a);
            }
        }
    }

    /// GEOADD and the storing searches (geo sets are sorted sets): by radius
    /// and by box, from a position or a member, with COUNT (nearest first,
    /// or ANY), ASC/DESC, STORE and STOREDIST, radii from a few hundred km
    /// (few of the nine geohash boxes searched) to most of the globe.
    fn geo(&mut self) {
        let k = self.key("geo");
        let lon = format!("{:.6}", self.rng.range(-179_000_000, 179_000_000) as f64 / 1e6);
        let lat = format!("{:.6}", self.rng.range(-84_000_000, 84_000_000) as f64 / 1e6);
        let radius = self.rng.pick(&["300", "1500", "5000", "15000", "20000"]);
        let place = format!("place{}", self.rng.below(40));
        let mut options = Vec::new();
        if self.rng.chance(30) {
            options.extend(args!["COUNT", self.rng.range(1, 6)]);
            if self.rng.chance(30) {
                options.push("ANY".into());
            }
        }
        if self.rng.chance(30) {
            options.push(self.rng.pick(&["ASC", "DESC"]).into());
        }
        match self.rng.below(6) {
            0..=2 => {
                let mut a = args!["GEOADD", k];
                if self.rng.chance(30) {
                    a.push(self.rng.pick(&["NX", "XX", "CH"]).into());
                }
                a.extend(args![lon, lat, place]);
                // Some more nearby (some searches find many).
                for _ in 0..self.rng.below(4) {
                    let near = |v: &str, rng: &mut Rng| {
                        let x: f64 = v.parse().unwrap();
                        format!("{:.6}", x + rng.range(-3_000_000, 3_000_000) as f64 / 1e6)
                    };
                    let (lon2, lat2) = (near(&lon, &mut self.rng), near(&lat, &mut self.rng));
                    a.extend(args![lon2, lat2, format!("place{}", self.rng.below(40))]);
                }
                self.send(a);
            }
            3 => {
                let dst = self.found_key();
                let mut a = args!["GEOSEARCHSTORE", dst, k];
                if self.rng.chance(50) {
                    a.extend(args!["FROMLONLAT", lon, lat]);
                } else {
                    a.extend(args!["FROMMEMBER", place]);
                }
                if self.rng.chance(50) {
                    a.extend(args!["BYRADIUS", radius, "km"]);
                } else {
                    let (w, h) = (self.rng.range(100, 8000), self.rng.range(100, 8000));
                    a.extend(args!["BYBOX", w, h, self.rng.pick(&["km", "mi"])]);
                }
                a.extend(options);
                if self.rng.chance(50) {
                    a.push("STOREDIST".into());
                }
                self.send(a);
            }
            4 => {
                let dst = self.found_key();
                let store = self.rng.pick(&["STORE", "STOREDIST"]);
                let mut a = args!["GEORADIUS", k, lon, lat, radius, "km"];
                a.extend(options);
                a.extend(args![store, dst]);
                self.send(a);
            }
            5 if self.rng.chance(50) => {
                // A radius right at another member's distance (GEODIST's four
                // decimals): that member is in or out by a hair.
                let other = format!("place{}", self.rng.below(40));
                let geodist = args!["GEODIST", k, place, other, "m"];
                let Reply::Bulk(Some(d)) = self.c.cmd(&geodist) else { return };
                let dst = self.found_key();
                self.send(args!["GEORADIUSBYMEMBER", k, place, String::from_utf8(d).unwrap(), "m", "STOREDIST", dst]);
            }
            _ => {
                let dst = self.found_key();
                let store = self.rng.pick(&["STORE", "STOREDIST"]);
                let mut a = args!["GEORADIUSBYMEMBER", k, place, radius, self.rng.pick(&["km", "mi", "m"])];
                a.extend(options);
                a.extend(args![store, dst]);
                self.send(a);
            }
        }
    }

    fn xadd(&mut self) {
        if self.rng.chance(25) {
            // Explicit IDs (and ms-*) on stream:x.
            self.explicit_ms += self.rng.range(1, 3) as u64;
            let id = match self.rng.below(10) {
                0..=2 => format!("{}-*", self.explicit_ms),
                3 => "1-1".to_string(), // too small: an error, nothing written
                _ => format!("{}-{}", self.explicit_ms, self.rng.below(5)),
            };
            let mut a = args!["XADD", "stream:x"];
            if self.rng.chance(20) {
                a.extend(args!["MAXLEN", self.rng.range(5, 20)]);
            }
            a.extend(args![id, "n", self.explicit_ms]);
            self.send(a);
            return;
        }
        let k = self.key("stream");
        let mut a = args!["XADD", k];
        if self.rng.chance(10) {
            a.push("NOMKSTREAM".into());
        }
        match self.rng.below(8) {
            0 | 1 => {
                let how = self.rng.pick(&["=", "~", ""]);
                a.push("MAXLEN".into());
                if !how.is_empty() {
                    a.push(how.into());
                }
                a.push(self.rng.range(3, 30).to_string());
                if how == "~" && self.rng.chance(30) {
                    a.extend(args!["LIMIT", self.rng.range(1, 20)]);
                }
            }
            2 => {
                let how = self.rng.pick(&["=", "~"]);
                let minid = now_ms() - self.rng.range(200, 3000);
                a.extend(args!["MINID", how, format!("{minid}-0")]);
            }
            _ => {}
        }
        a.push("*".into());
        for _ in 0..self.rng.range(1, 3) {
            a.push(format!("f{}", self.rng.below(4)));
            a.push(self.value());
        }
        self.send(a);
    }

    fn group(&mut self) -> String {
        format!("g{}", self.rng.below(3))
    }

    fn consumer(&mut self) -> String {
        format!("c{}", self.rng.below(3))
    }

    fn xgroup(&mut self) {
        let (k, g, c) = (self.stream_key(), self.group(), self.consumer());
        match self.rng.below(20) {
            0..=6 => {
                let from = self.rng.pick(&["$", "0", "$", "0-0"]);
                let mut a = args!["XGROUP", "CREATE", k, g, from];
                if self.rng.chance(30) {
                    a.push("MKSTREAM".into());
                }
                if self.rng.chance(25) {
                    a.extend(args!["ENTRIESREAD", self.rng.range(0, 5)]);
                }
                self.send(a);
            }
            7..=14 => {
                self.send(args!["XGROUP", "CREATECONSUMER", k, g, c]);
            }
            15..=18 => {
                self.send(args!["XGROUP", "DELCONSUMER", k, g, c]);
            }
            _ => {
                self.send(args!["XGROUP", "DESTROY", k, g]);
            }
        }
    }

    fn eval(&mut self) {
        let (script, families) = SCRIPTS[self.rng.below(SCRIPTS.len() as u64) as usize];
        let mut a = args!["EVAL", script, families.len()];
        for f in families {
            a.push(self.key(f));
        }
        match a[3].split(':').next().unwrap() {
            "str" => a.push(self.value()),
            "zset" => {
                let (s, m, ms) = (self.score(), self.member(), self.far_ms());
                a.extend(args![s, m, ms]);
            }
            "stream" => a.push("0.25".into()),
            _ => {}
        }
        self.send(a);
    }

    fn fcall(&mut self) {
        let v = self.value();
        match self.rng.below(if self.lib_v2 { 3 } else { 2 }) {
            0 => {
                let (l, n) = (self.key("list"), self.key("counter"));
                self.send(args!["FCALL", "push_count", 2, l, n, v]);
            }
            1 => {
                let h = self.key("hash");
                self.send(args!["FCALL", "hash_bump", 1, h, "1.5"]);
            }
            _ => {
                let (z, by, m) = (self.key("zset"), self.score(), self.member());
                self.send(args!["FCALL", "zbump", 1, z, by, m]);
            }
        }
    }

    /// Commands that look at the server first (pending IDs, entries, lengths):
    /// never inside MULTI.
    fn read_op(&mut self) {
        match self.rng.below(12) {
            11 => self.restore(),
            0 => self.blocking_pop(),
            1..=3 => self.xreadgroup(),
            4 => self.xack(),
            5 => self.xclaim(),
            6 => self.xautoclaim(),
            7 => self.xdel(),
            8 => self.xtrim(),
            9 => self.xsetid(),
            _ => self.xgroup_setid(),
        }
    }

    /// Served at once (the key is not empty), propagated as the plain pop.
    fn blocking_pop(&mut self) {
        let (l, other) = (self.key("list"), self.key("list"));
        if self.read(args!["LLEN", l]).int() > 0 {
            match self.rng.below(3) {
                0 => self.send(args!["BLPOP", l, other, "0.01"]),
                1 => self.send(args!["BRPOP", l, "0.01"]),
                _ => self.send(args!["BLMOVE", l, other, "RIGHT", "LEFT", "0.01"]),
            };
        }
        let (z, other) = (self.key("zset"), self.key("zset"));
        if self.read(args!["ZCARD", z]).int() > 0 {
            if self.rng.chance(30) {
                self.send(args!["BZMPOP", "0.01", 2, z, other, "MAX", "COUNT", 2]);
            } else {
                let cmd = self.rng.pick(&["BZPOPMIN", "BZPOPMAX"]);
                self.send(args![cmd, z, "0.01"]);
            }
        }
        let l = self.key("list");
        if self.read(args!["LLEN", l]).int() > 0 {
            self.send(args!["BLMPOP", "0.01", 1, l, "RIGHT", "COUNT", 2]);
        }
    }

    /// DUMP a key, RESTORE it under another name (as MIGRATE does).
    fn restore(&mut self) {
        let k = self.any_key();
        let Reply::Bulk(Some(payload)) = self.read(args!["DUMP", k]) else { return };
        let to = format!("restored:{}", self.rng.below(4));
        let mut a: Vec<Vec<u8>> = vec![b"RESTORE".to_vec(), to.into_bytes()];
        if self.rng.chance(50) {
            a.push((now_ms() + self.far_ms()).to_string().into_bytes());
            a.push(payload);
            a.push(b"ABSTTL".to_vec());
        } else {
            a.push(b"0".to_vec());
            a.push(payload);
        }
        a.push(b"REPLACE".to_vec());
        if self.rng.chance(30) {
            a.extend([b"IDLETIME".to_vec(), b"1000".to_vec()]);
        }
        self.send_bytes(a);
    }

    fn xreadgroup(&mut self) {
        let (k, g, c) = (self.stream_key(), self.group(), self.consumer());
        let mut a = args!["XREADGROUP", "GROUP", g, c, "COUNT", self.rng.range(1, 4)];
        if self.rng.chance(10) {
            a.push("NOACK".into());
        }
        let from = if self.rng.chance(15) { "0" } else { ">" };
        a.extend(args!["STREAMS", k, from]);
        self.send(a);
    }

    /// IDs pending in a group (up to 20).
    fn pending(&mut self, k: &str, g: &str) -> Vec<String> {
        match self.read(args!["XPENDING", k, g, "-", "+", 20]) {
            Reply::Array(Some(items)) => items.iter().map(|p| text(&p.array()[0])).collect(),
            _ => Vec::new(),
        }
    }

    /// IDs of the stream's entries.
    fn entries(&mut self, k: &str) -> Vec<String> {
        match self.read(args!["XRANGE", k, "-", "+"]) {
            Reply::Array(Some(items)) => items.iter().map(|e| text(&e.array()[0])).collect(),
            _ => Vec::new(),
        }
    }

    fn some_of(&mut self, ids: &[String], most: i64) -> Vec<String> {
        let n = self.rng.range(1, most).min(ids.len() as i64);
        let mut chosen = Vec::new();
        for _ in 0..n {
            let id = ids[self.rng.below(ids.len() as u64) as usize].clone();
            if !chosen.contains(&id) {
                chosen.push(id);
            }
        }
        chosen
    }

    fn xack(&mut self) {
        let (k, g) = (self.stream_key(), self.group());
        let ids = self.pending(&k, &g);
        if ids.is_empty() {
            return;
        }
        let mut a = args!["XACK", k, g];
        a.extend(self.some_of(&ids, 3));
        if self.rng.chance(10) {
            a.push("1-1".into());
        }
        self.send(a);
    }

    fn xclaim(&mut self) {
        let (k, g, c) = (self.stream_key(), self.group(), self.consumer());
        let pending = self.pending(&k, &g);
        let entries = self.entries(&k);
        let mut ids = if pending.is_empty() { Vec::new() } else { self.some_of(&pending, 2) };
        let force = self.rng.chance(30);
        if !entries.is_empty() && (ids.is_empty() || self.rng.chance(20)) {
            // An entry perhaps never delivered: claimed only with FORCE.
            let id = self.some_of(&entries, 1).remove(0);
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        if ids.is_empty() {
            return;
        }
        let min_idle = if self.rng.chance(10) { 10_000_000 } else { 0 };
        let mut a = args!["XCLAIM", k, g, c, min_idle];
        a.extend(ids);
        match self.rng.below(5) {
            0 => a.extend(args!["IDLE", self.rng.range(0, 100_000)]),
            1 => a.extend(args!["TIME", now_ms() - self.rng.range(0, 100_000)]),
            _ => {}
        }
        if self.rng.chance(30) {
            a.extend(args!["RETRYCOUNT", self.rng.range(0, 5)]);
        }
        if force {
            a.push("FORCE".into());
        }
        if self.rng.chance(30) {
            a.push("JUSTID".into());
        }
        self.send(a);
    }

    fn xautoclaim(&mut self) {
        let (k, g, c) = (self.stream_key(), self.group(), self.consumer());
        let mut a = args!["XAUTOCLAIM", k, g, c, 0, "0-0", "COUNT", self.rng.range(1, 5)];
        if self.rng.chance(30) {
            a.push("JUSTID".into());
        }
        self.send(a);
    }

    fn xdel(&mut self) {
        let k = self.stream_key();
        // Half the time a pending entry: the PELs keep dangling IDs.
        let g = self.group();
        let pending = self.pending(&k, &g);
        let ids = if !pending.is_empty() && self.rng.chance(50) { pending } else { self.entries(&k) };
        if ids.is_empty() {
            return;
        }
        let mut a = args!["XDEL", k];
        a.extend(self.some_of(&ids, 2));
        self.send(a);
    }

    fn xtrim(&mut self) {
        let k = self.stream_key();
        let entries = self.entries(&k);
        if entries.len() < 2 {
            return;
        }
        let how = self.rng.pick(&["=", "~", ""]);
        let mut a = args!["XTRIM", k];
        if self.rng.chance(50) {
            a.push("MAXLEN".into());
            if !how.is_empty() {
                a.push(how.into());
            }
            a.push((entries.len() as i64 - self.rng.range(1, 3)).max(0).to_string());
        } else {
            a.push("MINID".into());
            if !how.is_empty() {
                a.push(how.into());
            }
            let id = entries[self.rng.below(entries.len() as u64 / 2 + 1) as usize].clone();
            a.push(id);
        }
        if how == "~" && self.rng.chance(30) {
            a.extend(args!["LIMIT", self.rng.range(1, 20)]);
        }
        self.send(a);
    }

    fn xsetid(&mut self) {
        // Not stream:x: its explicit IDs must stay ahead.
        let k = self.key("stream");
        let info = self.read(args!["XINFO", "STREAM", k]);
        if matches!(info, Reply::Error(_)) {
            return;
        }
        let (ms, _) = split_id(&text(&field(&info, "last-generated-id").unwrap()));
        let added = field(&info, "entries-added").unwrap().int();
        let max_deleted = text(&field(&info, "max-deleted-entry-id").unwrap());
        let mut a = args!["XSETID", k, format!("{}-0", ms + self.rng.below(5) + 1)];
        if self.rng.chance(50) {
            a.extend(args!["ENTRIESADDED", added + self.rng.range(0, 3), "MAXDELETEDID", max_deleted]);
        }
        self.send(a);
    }

    fn xgroup_setid(&mut self) {
        let (k, g) = (self.stream_key(), self.group());
        let entries = self.entries(&k);
        let id = match self.rng.below(4) {
            0 => "$".to_string(),
            1 => "0".to_string(),
            _ if !entries.is_empty() => entries[self.rng.below(entries.len() as u64) as usize].clone(),
            _ => "0-0".to_string(),
        };
        let mut a = args!["XGROUP", "SETID", k, g, id];
        if self.rng.chance(30) {
            a.extend(args!["ENTRIESREAD", self.rng.range(0, entries.len() as i64)]);
        }
        self.send(a);
    }

    /// Library changes and expiries already past, once.
    fn midway_specials(&mut self) {
        self.must(args!["FUNCTION", "LOAD", "REPLACE", LIB_V2]);
        self.lib_v2 = true;
        self.must(args!["FUNCTION", "DELETE", "templib"]);
        let back = self.db;
        self.must(args!["SELECT", 0]);
        self.must(args!["SET", DOOMED[0], "x"]);
        self.must(args!["EXPIREAT", DOOMED[0], 1000]);
        self.must(args!["HSET", DOOMED[1], "f", "v"]);
        self.must(args!["PEXPIREAT", DOOMED[1], 1]);
        self.must(args!["SET", DOOMED[2], "x", "EXAT", 1000]);
        self.must(args!["SET", DOOMED[3], "x"]);
        self.must(args!["GETEX", DOOMED[3], "PXAT", 1000]);
        self.must(args!["SELECT", back]);
    }

    fn rewrite(&mut self) {
        self.must(args!["BGREWRITEAOF"]);
        // Keep writing while the child works.
        for _ in 0..20 {
            self.blind_op();
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let info = text(&self.read(args!["INFO", "persistence"]));
            let busy = info.lines().any(|l| l == "aof_rewrite_in_progress:1" || l == "aof_rewrite_scheduled:1");
            if !busy {
                break;
            }
            assert!(Instant::now() < deadline, "the AOF rewrite did not finish in 20 s");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

// ---------------------------------------------------------------------------
// Snapshots and comparison
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
struct KeyState {
    ty: String,
    pexpiretime: i64,
    digest: String,
    /// Normalized `XINFO STREAM FULL` of a stream.
    stream: Option<String>,
}

struct State {
    digest: String,
    dbsize: BTreeMap<u64, i64>,
    keys: BTreeMap<(u64, Vec<u8>), KeyState>,
    /// (name, code) of every library.
    functions: Vec<(String, String)>,
}

fn snapshot(c: &mut Client) -> State {
    let digest = text(&c.ok(&["DEBUG", "DIGEST"]));
    let mut dbsize = BTreeMap::new();
    let mut keys = BTreeMap::new();
    for db in 0..16u64 {
        c.ok(&["SELECT".to_string(), db.to_string()]);
        let n = c.ok(&["DBSIZE"]).int();
        if n == 0 {
            continue;
        }
        dbsize.insert(db, n);
        for key in c.ok(&["KEYS", "*"]).array() {
            let key = key.bytes();
            let k = key.as_slice();
            let ty = text(&c.ok(&[b"TYPE".as_slice(), k]));
            let pexpiretime = c.ok(&[b"PEXPIRETIME".as_slice(), k]).int();
            let digest = text(&c.ok(&[b"DEBUG".as_slice(), b"DIGEST-VALUE", k]).array()[0]);
            let stream = (ty == "stream")
                .then(|| normalized(&c.ok(&[b"XINFO".as_slice(), b"STREAM", k, b"FULL", b"COUNT", b"0"])));
            keys.insert((db, key), KeyState { ty, pexpiretime, digest, stream });
        }
    }
    c.ok(&["SELECT", "0"]);
    let mut functions: Vec<(String, String)> = c
        .ok(&["FUNCTION", "LIST", "WITHCODE"])
        .array()
        .iter()
        .map(|lib| (text(&field(lib, "library_name").unwrap()), text(&field(lib, "library_code").unwrap())))
        .collect();
    functions.sort();
    State { digest, dbsize, keys, functions }
}

/// Where two texts part: a little common context, then what each side holds.
fn difference(la: &str, a: &str, lb: &str, b: &str) -> String {
    let mut at = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
    // Both agree up to `at`, so a boundary of one is a boundary of the other.
    while !a.is_char_boundary(at) {
        at -= 1;
    }
    let mut from = at.saturating_sub(120);
    while !a.is_char_boundary(from) {
        from -= 1;
    }
    let tail = |s: &str| -> String { s[at..].chars().take(160).collect() };
    format!("differ after …{}\n      {la}: …{}\n      {lb}: …{}", &a[from..at], tail(a), tail(b))
}

/// The value of a key, shown whole (truncated when long).
fn value_of(c: &mut Client, db: u64, key: &[u8]) -> String {
    c.ok(&["SELECT".to_string(), db.to_string()]);
    let ty = text(&c.ok(&[b"TYPE".as_slice(), key]));
    let r = match ty.as_str() {
        "string" => c.cmd(&[b"GET".as_slice(), key]),
        "list" => c.cmd(&[b"LRANGE".as_slice(), key, b"0", b"-1"]),
        "set" => {
            let mut m = c.cmd(&[b"SMEMBERS".as_slice(), key]).array();
            m.sort_by_key(show);
            Reply::Array(Some(m))
        }
        "zset" => c.cmd(&[b"ZRANGE".as_slice(), key, b"0", b"-1", b"WITHSCORES"]),
        "hash" => {
            let flat = c.cmd(&[b"HGETALL".as_slice(), key]).array();
            let mut pairs: Vec<Reply> = flat.chunks(2).map(|p| Reply::Array(Some(p.to_vec()))).collect();
            pairs.sort_by_key(show);
            Reply::Array(Some(pairs))
        }
        "stream" => Reply::Array(Some(vec![
            c.cmd(&[b"XRANGE".as_slice(), key, b"-", b"+"]),
            c.cmd(&[b"XINFO".as_slice(), b"STREAM", key, b"FULL", b"COUNT", b"0"]),
        ])),
        _ => Reply::Status("(missing)".into()),
    };
    c.ok(&["SELECT", "0"]);
    let mut s = format!("{ty} {}", show(&r));
    if s.len() > 3000 {
        let mut cut = 3000;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

/// The last commands the workload sent that name `key` while its database
/// held `data` (and the MOVE / COPY … DB that may have brought it there).
/// Also returns the names of all those commands.
fn history(log: &[Sent], data: u64, key: &str) -> (String, BTreeSet<String>) {
    let sent: Vec<&Sent> = log
        .iter()
        .filter(|s| {
            s.args.iter().any(|a| a == key) && (s.data == data || matches!(s.args[0].as_str(), "MOVE" | "COPY"))
        })
        .collect();
    let names = sent.iter().map(|s| s.args[0].clone()).collect();
    let lines: Vec<String> = sent
        .iter()
        .map(|s| {
            let mut line =
                format!("    [db {}] {}", s.db, s.args.iter().map(|a| format!("{a:?}")).collect::<Vec<_>>().join(" "));
            if let Some(e) = &s.error {
                line.push_str(&format!("  -> {e}"));
            }
            line
        })
        .collect();
    let skip = lines.len().saturating_sub(30);
    let mut out = if skip > 0 { format!("    … {skip} earlier commands\n") } else { String::new() };
    out.push_str(&lines[skip..].join("\n"));
    (out, names)
}

fn differential(variant: &str, seed: u64, preamble: bool, rewrite: bool, steps: usize, mix: Mix) {
    let started = Instant::now();
    let yes_no = if preamble { "yes" } else { "no" };
    let a = Server::start(
        &format!("replay-{variant}-a"),
        &[
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--aof-use-rdb-preamble",
            yes_no,
            "--enable-debug-command",
            "yes",
            // Small stream nodes: `~` trims whole nodes, so it really trims.
            "--stream-node-max-entries",
            "8",
        ],
    );
    SERVER_CLOCK_OFFSET.get_or_init(|| a.client().unwrap().time_ms() - local_now_ms());
    let mut w = Workload::new(a.client().unwrap(), seed, mix);
    w.setup();
    for i in 0..steps {
        if i == steps / 2 {
            w.midway_specials();
            if rewrite {
                w.rewrite();
            }
        }
        w.step();
    }
    let sent = w.log.len();
    let errors = w.log.iter().filter(|s| s.error.is_some()).count();
    let mut ca = a.client().unwrap();
    let state_a = snapshot(&mut ca);
    for k in DOOMED {
        assert!(!state_a.keys.contains_key(&(0, k.as_bytes().to_vec())), "{variant}: A still holds {k}");
    }

    let scratch = Scratch::new(variant);
    let src = a.dir.join("appendonlydir");
    let aof = scratch.0.join("aof").join("appendonlydir");
    copy_tree(&src, &aof);
    copy_tree(&src, &scratch.0.join("c").join("appendonlydir"));
    let workload_s = started.elapsed().as_secs_f64();

    // Ours: the AOF replayed into an RDB 10.
    let mut failures: Vec<String> = Vec::new();
    let mut cfg = ConvertConfig::new(&aof, ConvertTo::Rdb);
    cfg.rdb_version = Some(10);
    let mut out = Vec::new();
    let mut skipped: BTreeSet<String> = BTreeSet::new();
    let report = match convert(&cfg, &mut out) {
        Ok(r) => r,
        Err(e) if matches!(e.kind, ErrorKind::Unsupported(_)) => {
            failures.push(format!("convert refused the AOF: {e}"));
            cfg.skip_unknown = true;
            out.clear();
            let r = convert(&cfg, &mut out).unwrap_or_else(|e| panic!("{variant}: convert --skip-unknown: {e}"));
            let unknown: Vec<&String> = r.notes.iter().filter(|n| n.contains("unknown to the replay")).collect();
            for n in &unknown {
                // "<n> <NAME> commands skipped …"
                skipped.insert(n.split_whitespace().nth(1).unwrap().to_string());
            }
            failures.push(format!(
                "commands the server wrote into the AOF that our replay does not know: {} ({})",
                skipped.iter().cloned().collect::<Vec<_>>().join(", "),
                unknown.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("; ")
            ));
            r
        }
        Err(e) => panic!("{variant}: convert: {e}"),
    };
    assert!(report.dropped.is_empty(), "{variant}: dropped keys {:?}", report.dropped);
    for n in &report.notes {
        eprintln!("{variant}: note: {n}");
    }
    let scratch_b = scratch.0.join("b");
    std::fs::create_dir_all(&scratch_b).unwrap();
    std::fs::write(scratch_b.join("dump.rdb"), &out).unwrap();
    assert_eq!(&out[..9], b"REDIS0010");

    let b_dir = scratch_b.canonicalize().unwrap().display().to_string();
    let b = Server::start(
        &format!("replay-{variant}-b"),
        &["--dir", &b_dir, "--dbfilename", "dump.rdb", "--enable-debug-command", "yes"],
    );
    let mut cb = b.client().unwrap();
    let state_b = snapshot(&mut cb);

    // Redis itself replaying the same AOF.
    let c_dir = scratch.0.join("c").canonicalize().unwrap().display().to_string();
    let c = Server::start(
        &format!("replay-{variant}-c"),
        &["--dir", &c_dir, "--appendonly", "yes", "--aof-use-rdb-preamble", yes_no, "--enable-debug-command", "yes"],
    );
    let mut cc = c.client().unwrap();
    let state_c = snapshot(&mut cc);
    if state_c.digest != state_a.digest {
        // Not ours to fix, but say which keys and what was sent to them.
        let ids: BTreeSet<&(u64, Vec<u8>)> = state_a.keys.keys().chain(state_c.keys.keys()).collect();
        let brief = |k: Option<&KeyState>| k.map(|k| format!("{} ttl {} digest {}", k.ty, k.pexpiretime, k.digest));
        let mut lines = Vec::new();
        for id in ids {
            let (x, z) = (state_a.keys.get(id), state_c.keys.get(id));
            if brief(x) != brief(z) {
                let name = String::from_utf8_lossy(&id.1).into_owned();
                let (hist, _) = history(&w.log, w.data[id.0 as usize], &name);
                lines.push(format!("[db {}] {name:?}: A {:?}, C {:?}\n{hist}", id.0, brief(x), brief(z)));
            }
        }
        panic!(
            "{variant}: Redis itself does not rebuild A from the AOF (DEBUG DIGEST A {} C {}):\n{}",
            state_a.digest,
            state_c.digest,
            lines.join("\n")
        );
    }

    if state_b.digest != state_a.digest {
        failures.push(format!("DEBUG DIGEST: A {} but B (our RDB) {}", state_a.digest, state_b.digest));
    }
    if state_b.dbsize != state_a.dbsize {
        failures.push(format!("keys per db: A {:?} but B {:?}", state_a.dbsize, state_b.dbsize));
    }
    if state_b.functions != state_a.functions {
        let names = |s: &State| s.functions.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
        failures.push(format!(
            "function libraries: A {:?} but B {:?} (or their code differs)",
            names(&state_a),
            names(&state_b)
        ));
    }
    let all: BTreeSet<&(u64, Vec<u8>)> = state_a.keys.keys().chain(state_b.keys.keys()).collect();
    // (whether the key's history holds a skipped command, the message)
    let mut key_failures: Vec<(bool, String)> = Vec::new();
    let mut lossy_notes = 0;
    for id in all {
        let (db, key) = id;
        let name = String::from_utf8_lossy(key).into_owned();
        let (ka, kb, kc) = (state_a.keys.get(id), state_b.keys.get(id), state_c.keys.get(id));
        let mut what = Vec::new();
        match (ka, kb) {
            (Some(x), Some(y)) => {
                if x.ty != y.ty {
                    what.push(format!("TYPE A {} B {}", x.ty, y.ty));
                }
                if x.pexpiretime != y.pexpiretime {
                    what.push(format!("PEXPIRETIME A {} B {}", x.pexpiretime, y.pexpiretime));
                }
                if x.digest != y.digest {
                    what.push(format!("DIGEST-VALUE A {} B {}", x.digest, y.digest));
                }
                // Groups and PELs: what Redis rebuilds from the same AOF.
                if let (Some(sc), Some(sb)) = (kc.and_then(|k| k.stream.as_ref()), y.stream.as_ref()) {
                    if sc != sb {
                        what.push(format!("XINFO STREAM FULL {}", difference("C (redis replay)", sc, "B (ours)", sb)));
                    }
                }
            }
            (Some(_), None) => what.push("missing in B".into()),
            (None, _) => what.push("in B but not in A".into()),
        }
        // Where Redis' own replay differs from A, say so (not ours to fix).
        if let (Some(x), Some(z)) = (ka, kc) {
            if x.stream != z.stream && lossy_notes < 3 {
                lossy_notes += 1;
                let (sa, sc) = (x.stream.clone().unwrap_or_default(), z.stream.clone().unwrap_or_default());
                eprintln!(
                    "{variant}: note: [db {db}] {name:?}: Redis' own AOF replay loses stream state: {}",
                    difference("A", &sa, "C", &sc)
                );
            }
        }
        if what.is_empty() {
            continue;
        }
        let (hist, mut names) = history(&w.log, w.data[*db as usize], &name);
        // A copy inherits what made its source (in whichever database).
        if let Some(source) = name.strip_suffix(":copy") {
            names.extend(w.log.iter().filter(|s| s.args.iter().any(|a| a == source)).map(|s| s.args[0].clone()));
        }
        let tainted: Vec<&String> = skipped.iter().filter(|cmd| names.contains(*cmd)).collect();
        let taint = if tainted.is_empty() {
            String::new()
        } else {
            format!(" (its history holds commands the replay skipped: {tainted:?})")
        };
        let message = format!(
            "[db {db}] {name:?}{taint}: {}\n  A: {}\n  B: {}\n  commands sent naming it:\n{hist}",
            what.join("; "),
            if ka.is_some() { value_of(&mut ca, *db, key) } else { "(missing)".into() },
            if kb.is_some() { value_of(&mut cb, *db, key) } else { "(missing)".into() },
        );
        key_failures.push((!tainted.is_empty(), message));
    }
    // The keys no skipped command explains first.
    key_failures.sort_by_key(|(tainted, _)| *tainted);
    let (unexplained, total) = (key_failures.iter().filter(|(t, _)| !t).count(), key_failures.len());
    if total > 0 {
        failures.push(format!(
            "{total} keys differ ({unexplained} of them with no skipped command in their history); the first {}:",
            total.min(12)
        ));
    }
    failures.extend(key_failures.into_iter().take(12).map(|(_, m)| m));
    eprintln!(
        "{variant}: {sent} commands sent ({errors} error replies), {} keys in A, workload {workload_s:.1} s, total {:.1} s",
        state_a.keys.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(state_a.keys.len() > 60, "{variant}: only {} keys: the workload is too thin", state_a.keys.len());
    assert!(failures.is_empty(), "{variant}: our AOF replay differs from the server:\n\n{}", failures.join("\n\n"));
}

/// One variant at a time: servers started concurrently by `Server::start` can
/// be handed the same free port (it is only reserved until the bind returns).
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serialized(f: impl FnOnce()) {
    let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    f();
}

#[test]
fn plain_aof_replays_as_the_server_wrote_it() {
    serialized(|| differential("plain", 0x9e37_79b9_7f4a_7c15, false, false, 4000, Mix::Broad));
}

#[test]
fn plain_aof_with_a_rewritten_base_replays_as_the_server_wrote_it() {
    serialized(|| differential("plain_rewritten", 0xd1b5_4a32_d192_ed03, false, true, 4000, Mix::Broad));
}

#[test]
fn preamble_aof_replays_as_the_server_wrote_it() {
    serialized(|| differential("preamble", 0x2545_f491_4f6c_dd1d, true, true, 4000, Mix::Broad));
}

#[test]
fn computed_writes_replay_as_the_server_computed_them() {
    serialized(|| differential("computed", 0x6c8e_9cf5_7093_2a1b, false, false, 3000, Mix::Computed));
}

/// Commands a hand-made or foreign AOF may hold and a server never writes
/// itself, each at an edge where the replay once went wrong
/// (tests/hermetic/regression.rs, "Replay"): Redis 7.0 loading the AOF is
/// the oracle, and the RDB `convert` makes of it must load into the same
/// keys. A loading server checks no arity and drops every error
/// (aof.c `loadSingleAppendOnlyFile`).
#[test]
fn edge_commands_replay_as_the_loading_server_runs_them() {
    let commands: &[&[&str]] = &[
        // A count past the length pops everything.
        &["RPUSH", "list", "a", "b", "c"],
        &["LPOP", "list", "9223372036854775807"],
        &["RPUSH", "kept", "a", "b", "c"],
        &["RPOP", "kept", "2"],
        // A command name is no GETEX option: a syntax error, the TTL stays.
        &["SET", "str", "v"],
        &["GETEX", "str", "PEXPIREAT", "4102444800000"],
        &["SET", "timed", "v"],
        &["GETEX", "timed", "PXAT", "4102444800000"],
        // Extra words: the loading server runs SETNX anyway.
        &["SETNX", "extra", "v", "surplus"],
        // Words missing where the command needs none more: nothing happens.
        &["DEL"],
        &["MSETNX"],
        // IDLE i64::MIN: the delivery time wraps below zero and becomes now.
        &["XADD", "stream", "1-1", "f", "v"],
        &["XGROUP", "CREATE", "stream", "g", "0"],
        &["XCLAIM", "stream", "g", "alice", "0", "1-1", "FORCE", "IDLE", "-9223372036854775808"],
    ];
    let scratch = Scratch::new("replay-edge");
    let root = scratch.0.join("c");
    let dir = root.join("appendonlydir");
    std::fs::create_dir_all(&dir).unwrap();
    let mut resp = b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n".to_vec();
    for words in commands {
        resp.extend(format!("*{}\r\n", words.len()).bytes());
        for w in *words {
            resp.extend(format!("${}\r\n{w}\r\n", w.len()).bytes());
        }
    }
    std::fs::write(dir.join("appendonly.aof.1.incr.aof"), &resp).unwrap();
    std::fs::write(dir.join("appendonly.aof.manifest"), "file appendonly.aof.1.incr.aof seq 1 type i\n").unwrap();
    let ours_input = scratch.0.join("ours").join("appendonlydir");
    copy_tree(&dir, &ours_input);

    let c_dir = root.canonicalize().unwrap().display().to_string();
    let c = Server::start("replay-edge-c", &["--dir", &c_dir, "--appendonly", "yes", "--enable-debug-command", "yes"]);
    let mut cc = c.client().unwrap();
    let server_now = cc.time_ms();
    let theirs = snapshot(&mut cc);

    let mut cfg = ConvertConfig::new(&ours_input, ConvertTo::Rdb);
    cfg.rdb_version = Some(10);
    // The replay's clock is the server's: the claim's delivery time is "now".
    cfg.now_ms = Some(server_now);
    let mut out = Vec::new();
    convert(&cfg, &mut out).expect("convert the edge AOF");
    let b_root = scratch.0.join("b");
    std::fs::create_dir_all(&b_root).unwrap();
    std::fs::write(b_root.join("dump.rdb"), &out).unwrap();
    let b_dir = b_root.canonicalize().unwrap().display().to_string();
    let b = Server::start("replay-edge-b", &["--dir", &b_dir, "--enable-debug-command", "yes"]);
    let mut cb = b.client().unwrap();
    let ours = snapshot(&mut cb);

    let names = |s: &State| s.keys.keys().map(|(_, k)| String::from_utf8_lossy(k).into_owned()).collect::<Vec<_>>();
    assert_eq!(names(&theirs), ["extra", "kept", "str", "stream", "timed"], "what Redis 7.0 loaded");
    assert_eq!(names(&ours), names(&theirs));
    for (id, t) in &theirs.keys {
        let o = &ours.keys[id];
        assert_eq!((&o.ty, o.pexpiretime, &o.digest), (&t.ty, t.pexpiretime, &t.digest), "{id:?}");
    }
    assert_eq!(theirs.keys[&(0, b"str".to_vec())].pexpiretime, -1, "GETEX … PEXPIREAT is a syntax error");
    // The claimed entry is pending with alice, delivered "now" on both sides.
    for (side, client) in [("Redis 7.0", &mut cc), ("ours", &mut cb)] {
        let pending = client.ok(&["XPENDING", "stream", "g", "-", "+", "10"]).array();
        assert_eq!(pending.len(), 1, "{side}");
        let entry = pending[0].array();
        assert_eq!(text(&entry[1]), "alice", "{side}");
        let idle = entry[2].int();
        assert!((0..600_000).contains(&idle), "{side}: idle {idle} ms");
    }
}

/// Sets and hashes small enough to be listpacks keep the order their
/// commands gave them, in the server and in the RDB it saves (t_set.c,
/// t_hash.c: new members go at the end, a removed one closes up, an updated
/// field stays where it is; an all-integer set is an intset, sorted, and
/// keeps that order when a string makes it a listpack). The
/// same commands replayed from an AOF and converted to the server's RDB
/// version give the same order, member for member, as Valkey 8.1's own save.
#[test]
fn small_sets_and_hashes_keep_the_order_the_server_saves_them_in() {
    use common::redis::Kind;
    let commands: &[&[&str]] = &[
        &["SADD", "set", "c", "a", "b"],
        &["SADD", "set", "d"],
        &["SREM", "set", "a"],
        &["SADD", "set", "a", "c"],
        &["SADD", "ints", "30", "1", "20"],
        &["HSET", "hash", "z", "1", "y", "2", "x", "3"],
        &["HDEL", "hash", "y"],
        &["HSET", "hash", "z", "9", "w", "4"],
        &["HSETNX", "hash", "x", "ignored"],
        &["HINCRBY", "hash", "v", "5"],
        &["SADD", "src", "q", "p"],
        &["SMOVE", "src", "set", "p"],
        &["SUNIONSTORE", "union", "src", "set"],
        // An intset turned listpack keeps its sorted order.
        &["SADD", "mixed", "3", "1", "a"],
        &["SADD", "later", "5", "2"],
        &["SADD", "later", "x", "0"],
    ];
    let scratch = Scratch::new("listpack-order");
    let server = Server::start_kind(Kind::Valkey81, "listpack-order", &[]);
    let mut client = server.client().expect("connect");
    let mut aof = Vec::new();
    for words in commands {
        client.ok(words);
        aof.extend(format!("*{}\r\n", words.len()).bytes());
        for w in words.iter() {
            aof.extend(format!("${}\r\n{w}\r\n", w.len()).bytes());
        }
    }
    client.ok(&["SAVE"]);
    let saved = scratch.0.join("server.rdb");
    std::fs::copy(server.rdb_path(), &saved).unwrap();
    let aof_path = scratch.0.join("commands.aof");
    std::fs::write(&aof_path, aof).unwrap();
    let ours = scratch.0.join("ours.rdb");
    let tool = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_rdb-tool")).args(args).output().expect("run");
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        out.stdout
    };
    tool(&["convert", aof_path.to_str().unwrap(), "--to", "rdb", "--rdb-version", "11", "-o", ours.to_str().unwrap()]);
    let values = |rdb: &std::path::Path| -> BTreeMap<String, String> {
        String::from_utf8(tool(&["dump", rdb.to_str().unwrap()]))
            .unwrap()
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                (v["key"].as_str().unwrap().to_string(), v["value"].to_string())
            })
            .collect()
    };
    let (server_has, we_wrote) = (values(&saved), values(&ours));
    assert_eq!(server_has.len(), 7, "{server_has:?}");
    assert_eq!(server_has["mixed"], r#"["1","3","a"]"#, "the server's own order");
    assert_eq!(server_has["set"], r#"["c","b","d","a","p"]"#, "the server's own order");
    assert_eq!(server_has, we_wrote);
}
