//! `rdb-tool memory` as a user runs it, on small inputs built here: the
//! per-key rows (CSV, JSONL), cluster slots, expiry, filters, the top lists,
//! prefixes, exit codes, and one figure worked out by hand from the servers'
//! rules. (On the corpus's files: corpus::memory.)
//!
//! Every expected number comes from outside the tool: the Redis documentation
//! (CLUSTER KEYSLOT), the allocators' size classes and `object.c`'s sums
//! (worked out in the comments), or arithmetic on the input. Every run passes
//! `--now`, so nothing depends on today's date.

use super::cli::run;
use crate::common;
use crate::common::build;

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

/// The clock of every run: 2023-11-14T22:13:20Z.
const NOW: i64 = 1_700_000_000_000;
const NOW_ARG: &str = "1700000000000";

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

/// Run and require exit 0.
fn ok(args: &[&str]) -> Output {
    let out = run(args);
    assert_eq!(out.status.code(), Some(0), "{args:?}: {}", text(&out.stderr));
    out
}

fn p(path: &Path) -> &str {
    path.to_str().expect("UTF-8 scratch path")
}

/// A dump (JSONL) written by hand: `memory` takes our dumps as input.
fn write_dump(dir: &Path, name: &str, records: &[Value]) -> PathBuf {
    let path = dir.join(name);
    let lines: Vec<String> = records.iter().map(Value::to_string).collect();
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

/// The per-key JSONL rows of `memory FILE --keys jsonl ARGS…`.
fn rows(file: &Path, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["memory", p(file), "--keys", "jsonl", "--now", NOW_ARG];
    all.extend_from_slice(args);
    let out = ok(&all);
    text(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"))).collect()
}

/// The JSON summary of `memory FILE --format json ARGS…`.
fn summary(file: &Path, args: &[&str]) -> Value {
    let mut all = vec!["memory", p(file), "--format", "json", "--now", NOW_ARG];
    all.extend_from_slice(args);
    let out = ok(&all);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{args:?}: not one JSON document: {e}"))
}

fn by_key(rows: &[Value]) -> BTreeMap<String, Value> {
    rows.iter().map(|r| (r["key"].as_str().expect("key").to_string(), r.clone())).collect()
}

fn string(key: &str, value: &str) -> Value {
    json!({"db": 0, "key": key, "type": "string", "value": value})
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

// ---------------------------------------------------------------------------------------------
// One key worked out by hand

/// An RDB 9 holding `SET x y` in db 0, with an expiry if given.
fn set_x_y(expire_ms: Option<i64>) -> Vec<u8> {
    let mut records = vec![vec![0xfe, 0x00]];
    if let Some(ms) = expire_ms {
        records.push([vec![0xfc], ms.to_le_bytes().to_vec()].concat());
    }
    records.push(build::string_key("x", "y"));
    build::rdb(9, &records)
}

/// `SET x y`, then `MEMORY USAGE x`, on three builds, from the rules of
/// object.c `memoryCommand` (value + key sds allocation + a 24-byte
/// dictEntry) and the allocators' size classes:
///
/// - key "x": sds type 5, request 1 (header) + 1 + 1 (NUL) = 3 bytes;
/// - value "y": embstr, one allocation of robj 16 + sds8 header 3 + 1 + NUL 1 = 21 bytes.
///
/// | build | key sds | value | dictEntry | MEMORY USAGE |
/// |---|---|---|---|---|
/// | Debian Redis 7.0, jemalloc 16-byte quantum | 3 → 8 | 21 → 32 | 24 | 64 |
/// | Redis 6.2 on glibc malloc | usable(3) = 24 | 6.2 counts len + 2 + 16 = 19, unrounded | 24 | 67 |
/// | upstream Redis 7.2, jemalloc 8-byte quantum | 3 → 8 | 21 → 24 | 24 | 56 |
///
/// (glibc's usable size of a request n is max(24, roundup16(n + 8) − 8).)
/// 64 and 67 are also the issue's measured figures for Debian's 7.0 and a
/// libc-built 6.2, and 56 its figure for an upstream 7.2.
///
/// What deleting the key frees (`allocated`) is the allocations themselves,
/// with the dictEntry rounded as well: 8 + 32 + 32 = 72 on jemalloc16,
/// 24 + usable(21) 24 + 24 = 72 on glibc, 8 + 24 + 24 = 56 on jemalloc8; a
/// TTL adds one more dictEntry (in `db->expires`) and leaves MEMORY USAGE
/// alone.
#[test]
fn set_x_y_costs_what_each_server_build_reports() {
    let scratch = common::Scratch::new("memory-set-x-y");
    let plain = scratch.0.join("x.rdb");
    std::fs::write(&plain, set_x_y(None)).unwrap();
    let with_ttl = scratch.0.join("x-ttl.rdb");
    std::fs::write(&with_ttl, set_x_y(Some(build::FAR_MS))).unwrap();

    // (target, allocator, MEMORY USAGE, allocated, one dictEntry as allocated)
    let builds = [
        ("redis-7.0", "jemalloc16", 64, 72, 32),
        ("redis-6.2", "libc", 67, 72, 24),
        ("redis-7.2", "jemalloc8", 56, 56, 24),
    ];
    for (target, allocator, usage, allocated, entry) in builds {
        let args = ["--target", target, "--allocator", allocator];
        let row = &rows(&plain, &args)[..];
        assert_eq!(row.len(), 1, "{args:?}: {row:?}");
        let row = &row[0];
        assert_eq!(
            (row["key"].as_str(), row["type"].as_str(), row["encoding"].as_str()),
            (Some("x"), Some("string"), Some("embstr"))
        );
        assert_eq!(row["memory_usage"], usage, "{args:?}: MEMORY USAGE x");
        assert_eq!(row["allocated"], allocated, "{args:?}: what deleting x frees");
        // Deterministic, but exact only where the rules were held to a live
        // server: 7.2's come from its source alone.
        assert_eq!(row["exact"], target != "redis-7.2", "{args:?}: a string's figure is deterministic");

        let ttl = &rows(&with_ttl, &args)[0];
        assert_eq!(ttl["expire_at_ms"], build::FAR_MS);
        assert_eq!(ttl["memory_usage"], usage, "{args:?}: a TTL does not change MEMORY USAGE");
        assert_eq!(ttl["allocated"], allocated + entry, "{args:?}: the expires entry is freed too");

        // The summary adds the same numbers up.
        let doc = summary(&plain, &args);
        assert_eq!(doc["totals"]["keys"], 1);
        assert_eq!(doc["totals"]["memory_usage"], usage, "{args:?}");
        assert_eq!(doc["totals"]["allocated"], allocated, "{args:?}");
        assert_eq!(doc["files"][0]["profile"]["target"], target);
        assert_eq!(doc["files"][0]["profile"]["allocator"], allocator);
    }
}

// ---------------------------------------------------------------------------------------------
// Per-key rows

/// Keys every byte of which matters: quotes, commas, line breaks, bytes that
/// are not UTF-8, a literal backslash sequence that must not read back as
/// the byte it spells.
const AWKWARD_KEYS: &[&[u8]] = &[
    b"plain",
    b"with \"quotes\", and a comma",
    b"two\nlines\r\n",
    b"bin\x00key\xff",
    b"a\\x0a",
    b"a\n",
    "h\u{e9}llo \u{2603}".as_bytes(),
    b"",
];

fn dump_string(bytes: &[u8]) -> String {
    use base64::Engine as _;
    match std::str::from_utf8(bytes) {
        Ok(s) if !s.starts_with("base64:") => s.to_string(),
        _ => format!("base64:{}", base64::engine::general_purpose::STANDARD.encode(bytes)),
    }
}

fn awkward_dump(dir: &Path) -> PathBuf {
    let records: Vec<Value> = AWKWARD_KEYS
        .iter()
        .enumerate()
        .map(|(i, k)| json!({"db": i % 2, "key": dump_string(k), "type": "string", "value": "v"}))
        .collect();
    write_dump(dir, "awkward.jsonl", &records)
}

/// One CSV record (RFC 4180: fields quoted with `"` doubled inside).
fn csv_fields(line: &str) -> Vec<String> {
    let (mut fields, mut cur, mut quoted, mut chars) = (Vec::new(), String::new(), false, line.chars().peekable());
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                cur.push('"');
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    assert!(!quoted, "unterminated quote in {line:?}");
    fields.push(cur);
    fields
}

/// The key column's escapes as the command documents them: `\xNN` for a
/// byte that is not printable ASCII, `\\` for a backslash.
fn csv_unescape(field: &str) -> Vec<u8> {
    let b = field.as_bytes();
    let (mut out, mut i) = (Vec::new(), 0);
    while i < b.len() {
        if b[i] == b'\\' {
            match b.get(i + 1) {
                Some(b'\\') => {
                    out.push(b'\\');
                    i += 2;
                }
                Some(b'x') => {
                    let digits = std::str::from_utf8(&b[i + 2..i + 4]).expect("hex digits");
                    out.push(u8::from_str_radix(digits, 16).unwrap_or_else(|_| panic!("bad escape in {field:?}")));
                    i += 4;
                }
                _ => panic!("lone backslash in {field:?}"),
            }
        } else {
            assert!((0x20..0x7f).contains(&b[i]), "raw byte {:#x} in {field:?}", b[i]);
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

#[test]
fn csv_rows_are_one_line_each_and_give_the_key_bytes_back() {
    let scratch = common::Scratch::new("memory-csv");
    let dump = awkward_dump(&scratch.0);
    let out = ok(&["memory", p(&dump), "--keys", "csv", "--now", NOW_ARG]);
    let body = text(&out.stdout);
    assert!(body.is_ascii(), "CSV is ASCII: {body:?}");
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(
        lines[0],
        "file,db,key,type,encoding,elements,memory_usage,allocated,rdb_bytes,largest,expire_at_ms,slot,exact"
    );
    assert_eq!(lines.len(), 1 + AWKWARD_KEYS.len(), "one line per key:\n{body}");
    let mut keys = Vec::new();
    for line in &lines[1..] {
        let f = csv_fields(line);
        assert_eq!(f.len(), 13, "{line}");
        keys.push((f[1].parse::<u64>().expect("db"), csv_unescape(&f[2])));
        assert_eq!(
            (f[0].as_str(), f[3].as_str(), f[4].as_str(), f[5].as_str()),
            ("0", "string", "embstr", "1"),
            "{line}"
        );
        assert!(f[6].parse::<u64>().is_ok() && f[7].parse::<u64>().is_ok(), "{line}");
        assert_eq!(f[8], "", "a dump has no RDB record: {line}");
        assert_eq!(f[10], "", "no expiry: {line}");
        assert_eq!(f[11].parse::<u16>().ok(), Some(key_slot(keys.last().unwrap().1.as_slice())), "{line}");
        assert_eq!(f[12], "true", "{line}");
    }
    keys.sort();
    let mut want: Vec<(u64, Vec<u8>)> =
        AWKWARD_KEYS.iter().enumerate().map(|(i, k)| ((i % 2) as u64, k.to_vec())).collect();
    want.sort();
    assert_eq!(keys, want, "every key's bytes, once");

    // The CSV and JSONL rows agree on everything but the key's spelling.
    let jsonl = rows(&dump, &[]);
    assert_eq!(jsonl.len(), AWKWARD_KEYS.len());
    for (line, row) in lines[1..].iter().zip(&jsonl) {
        let f = csv_fields(line);
        let cols =
            ["file", "db", "key", "type", "encoding", "elements", "memory_usage", "allocated", "rdb_bytes", "largest"];
        for (i, col) in cols.iter().enumerate().filter(|(_, c)| **c != "key") {
            // An absent figure: null in JSONL, an empty field in CSV.
            let json_text = match &row[*col] {
                Value::Null => String::new(),
                Value::String(s) => s.clone(),
                v => v.to_string(),
            };
            assert_eq!(f[i], json_text, "{col}: {line} vs {row}");
        }
        assert_eq!(csv_unescape(&f[2]), rdb_tool::escape::decode_bytes(row["key"].as_str().unwrap()).unwrap());
    }
}

#[test]
fn jsonl_key_hex_is_the_key_bytes_and_key_is_the_dump_form() {
    let scratch = common::Scratch::new("memory-key-hex");
    let dump = awkward_dump(&scratch.0);
    let rows = rows(&dump, &[]);
    assert_eq!(rows.len(), AWKWARD_KEYS.len());
    for (row, (i, key)) in rows.iter().zip(AWKWARD_KEYS.iter().enumerate()) {
        assert_eq!(row["key_hex"], hex(key), "{row}");
        assert_eq!(row["key"], dump_string(key), "the dump's string form: {row}");
        assert_eq!(row["db"], i % 2);
        assert_eq!(row["file"], 0);
        for field in
            ["type", "encoding", "elements", "memory_usage", "allocated", "largest", "expire_at_ms", "slot", "exact"]
        {
            assert!(row.get(field).is_some(), "no {field}: {row}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Cluster slots

/// CRC16-CCITT (XMODEM) and the hash-tag rule of the cluster specification,
/// written here from the spec, to check keys the docs give no value for.
pub(crate) fn key_slot(key: &[u8]) -> u16 {
    let tagged = key
        .iter()
        .position(|&b| b == b'{')
        .and_then(|open| key[open + 1..].iter().position(|&b| b == b'}').map(|len| (open + 1, len)))
        .filter(|&(_, len)| len > 0)
        .map(|(start, len)| &key[start..start + len]);
    let mut crc: u16 = 0;
    for &b in tagged.unwrap_or(key) {
        crc ^= (b as u16) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 { (crc << 1) ^ 0x1021 } else { crc << 1 };
        }
    }
    crc % 16384
}

#[test]
fn slots_are_cluster_keyslot() {
    // Values from the Redis documentation (CLUSTER KEYSLOT, the cluster tutorial).
    let documented =
        [("foo", 12182), ("bar", 5061), ("somekey", 11058), ("foo{hash_tag}", 2515), ("bar{hash_tag}", 2515)];
    for (key, slot) in documented {
        assert_eq!(key_slot(key.as_bytes()), slot, "this test's own CRC16 on {key:?}");
    }
    // Hash tags (cluster spec): only the first {…} counts, an empty one does not.
    let tagged = [
        ("user1000", "user1000"),
        ("{user1000}.following", "user1000"),
        ("{user1000}.followers", "user1000"),
        ("foo{bar}{zap}", "bar"),
        ("foo{{bar}}zap", "{bar"),
        ("foo{}{bar}", "foo{}{bar}"),
        ("{}", "{}"),
        ("{a", "{a"),
    ];
    let scratch = common::Scratch::new("memory-slots");
    let mut records: Vec<Value> = documented.iter().map(|(k, _)| string(k, "v")).collect();
    records.extend(tagged.iter().map(|(k, _)| string(k, "v")));
    let dump = write_dump(&scratch.0, "slots.jsonl", &records);
    let rows = by_key(&rows(&dump, &[]));
    for (key, slot) in documented {
        assert_eq!(rows[key]["slot"], slot, "CLUSTER KEYSLOT {key}");
    }
    for (key, hashed) in tagged {
        assert_eq!(rows[key]["slot"], key_slot(hashed.as_bytes()), "{key:?} hashes {hashed:?}");
    }
    assert_eq!(rows["{user1000}.following"]["slot"], rows["user1000"]["slot"]);

    // The per-slot totals (CLUSTER SLOT-STATS form) add the rows up.
    let doc = summary(&dump, &[]);
    let mut want: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
    for r in rows.values() {
        let e = want.entry(r["slot"].as_u64().unwrap()).or_default();
        e.0 += 1;
        e.1 += r["memory_usage"].as_u64().unwrap();
    }
    let got: BTreeMap<u64, (u64, u64)> = doc["slots"]
        .as_array()
        .expect("slots")
        .iter()
        .map(|s| (s["slot"].as_u64().unwrap(), (s["key_count"].as_u64().unwrap(), s["memory_usage"].as_u64().unwrap())))
        .collect();
    assert_eq!(got, want);
    assert_eq!(got[&2515].0, 2, "foo{{hash_tag}} and bar{{hash_tag}} share a slot");
}

// ---------------------------------------------------------------------------------------------
// Expiry

const SECOND: i64 = 1000;
const MINUTE: i64 = 60 * SECOND;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// One key per TTL bucket, and two already expired at `NOW`.
fn ttl_dump(dir: &Path) -> PathBuf {
    let at = |key: &str, ms: Option<i64>| {
        let mut r = string(key, "v");
        if let Some(ms) = ms {
            r["expire_at_ms"] = json!(ms);
        }
        r
    };
    let records = [
        at("none", None),
        at("gone:long-ago", Some(1_000)),
        at("gone:just-now", Some(NOW - 1)),
        at("in-30s", Some(NOW + 30 * SECOND)),
        at("in-30min", Some(NOW + 30 * MINUTE)),
        at("in-2h", Some(NOW + 2 * HOUR)),
        at("in-2d", Some(NOW + 2 * DAY)),
        at("in-10d", Some(NOW + 10 * DAY)),
        at("in-60d", Some(NOW + 60 * DAY)),
    ];
    write_dump(dir, "ttl.jsonl", &records)
}

fn bucket_keys(doc: &Value) -> BTreeMap<String, u64> {
    doc["ttl"].as_object().expect("ttl").iter().map(|(k, v)| (k.clone(), v["keys"].as_u64().unwrap())).collect()
}

#[test]
fn expired_keys_are_left_out_and_counted_unless_included() {
    let scratch = common::Scratch::new("memory-expiry");
    let dump = ttl_dump(&scratch.0);

    let kept = rows(&dump, &[]);
    let names: Vec<&str> = kept.iter().map(|r| r["key"].as_str().unwrap()).collect();
    assert_eq!(names, ["none", "in-30s", "in-30min", "in-2h", "in-2d", "in-10d", "in-60d"]);
    let doc = summary(&dump, &[]);
    assert_eq!(doc["totals"]["keys"], 7);
    assert_eq!(doc["totals"]["expired_skipped"], 2);
    let usage: u64 = kept.iter().map(|r| r["memory_usage"].as_u64().unwrap()).sum();
    assert_eq!(doc["totals"]["memory_usage"], usage);
    let want: BTreeMap<String, u64> =
        [("none", 1), ("expired", 0), ("<1m", 1), ("<1h", 1), ("<1d", 1), ("<7d", 1), ("<30d", 1), ("later", 1)]
            .into_iter()
            .map(|(k, n)| (k.to_string(), n))
            .collect();
    assert_eq!(bucket_keys(&doc), want);

    let all = rows(&dump, &["--include-expired"]);
    assert_eq!(all.len(), 9);
    let doc = summary(&dump, &["--include-expired"]);
    assert_eq!(doc["totals"]["keys"], 9);
    assert_eq!(doc["totals"]["expired_skipped"], 0);
    assert_eq!(bucket_keys(&doc)["expired"], 2);

    // The clock decides: an hour earlier, "gone:just-now" was alive (< 1 h left).
    let earlier = (NOW - HOUR).to_string();
    let out = ok(&["memory", p(&dump), "--format", "json", "--now", &earlier]);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["totals"]["keys"], 8);
    assert_eq!(doc["totals"]["expired_skipped"], 1);

    // An RDB's key expiry (opcode 0xFC) is judged the same way.
    let rdb = scratch.0.join("x-ttl.rdb");
    std::fs::write(&rdb, set_x_y(Some(NOW - 1))).unwrap();
    assert_eq!(rows(&rdb, &[]).len(), 0);
    assert_eq!(summary(&rdb, &[])["totals"]["expired_skipped"], 1);
    assert_eq!(rows(&rdb, &["--include-expired"])[0]["expire_at_ms"], NOW - 1);
}

// ---------------------------------------------------------------------------------------------
// Filters, top lists, prefixes

fn mixed_dump(dir: &Path) -> PathBuf {
    let records = [
        json!({"db": 0, "key": "s:1", "type": "string", "value": "v"}),
        json!({"db": 0, "key": "l:1", "type": "list", "value": ["a", "b", "c"]}),
        json!({"db": 0, "key": "h:1", "type": "hash", "value": {"f": "v"}}),
        json!({"db": 1, "key": "s:2", "type": "string", "value": "v"}),
        json!({"db": 1, "key": "z:1", "type": "zset", "value": [["m", 1.5]]}),
        json!({"db": 1, "key": "t:1", "type": "set", "value": ["1", "2"]}),
        json!({"db": 3, "key": "s:3", "type": "string", "value": "v"}),
        json!({"db": 3, "key": "other", "type": "list", "value": ["x"]}),
    ];
    write_dump(dir, "mixed.jsonl", &records)
}

fn keys_of(rows: &[Value]) -> Vec<String> {
    rows.iter().map(|r| format!("{}/{}", r["db"], r["key"].as_str().unwrap())).collect()
}

#[test]
fn db_type_and_key_filters_choose_the_keys() {
    let scratch = common::Scratch::new("memory-filters");
    let dump = mixed_dump(&scratch.0);
    assert_eq!(keys_of(&rows(&dump, &["--db", "1"])), ["1/s:2", "1/z:1", "1/t:1"]);
    assert_eq!(keys_of(&rows(&dump, &["--db", "0", "--db", "3"])), ["0/s:1", "0/l:1", "0/h:1", "3/s:3", "3/other"]);
    assert_eq!(keys_of(&rows(&dump, &["--type", "string"])), ["0/s:1", "1/s:2", "3/s:3"]);
    assert_eq!(keys_of(&rows(&dump, &["--type", "list", "--type", "zset"])), ["0/l:1", "1/z:1", "3/other"]);
    assert_eq!(keys_of(&rows(&dump, &["--key", "s:*"])), ["0/s:1", "1/s:2", "3/s:3"]);
    assert_eq!(keys_of(&rows(&dump, &["--key", "?:1", "--key", "oth[e]r"])).len(), 6);
    // Filters combine: all must hold.
    assert_eq!(
        keys_of(&rows(&dump, &["--key", "s:*", "--db", "1", "--db", "3", "--type", "string"])),
        ["1/s:2", "3/s:3"]
    );
    assert!(rows(&dump, &["--db", "2"]).is_empty());

    // The summary counts what the filters let through, and nothing else.
    let filtered = rows(&dump, &["--db", "0"]);
    let doc = summary(&dump, &["--db", "0"]);
    assert_eq!(doc["totals"]["keys"], 3);
    let usage: u64 = filtered.iter().map(|r| r["memory_usage"].as_u64().unwrap()).sum();
    assert_eq!(doc["totals"]["memory_usage"], usage);
    assert_eq!(doc["per_db"].as_object().unwrap().keys().collect::<Vec<_>>(), ["0"]);

    for bad in [["--type", "nope"], ["--db", "x"]] {
        let out = run(&[&["memory", p(&dump), "--now", NOW_ARG][..], &bad[..]].concat());
        assert_eq!(out.status.code(), Some(2), "{bad:?}: a usage error");
    }
}

#[test]
fn top_n_limits_the_top_lists_and_orders_them() {
    let scratch = common::Scratch::new("memory-top");
    // Raw strings of 100…500 bytes: the larger the value, the larger the key.
    // Lists of 1…5 elements, small enough that element counts order them.
    let mut records = Vec::new();
    for i in 1..=5usize {
        records.push(string(&format!("str:{i}"), &"x".repeat(100 * i)));
        let items: Vec<String> = (0..i).map(|j| j.to_string()).collect();
        records.push(json!({"db": 0, "key": format!("list:{i}"), "type": "list", "value": items}));
    }
    let dump = write_dump(&scratch.0, "top.jsonl", &records);
    let doc = summary(&dump, &["--top", "2"]);
    let names = |list: &str| -> Vec<String> {
        doc[list].as_array().unwrap().iter().map(|r| r["key"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(names("top_by_memory"), ["str:5", "str:4"]);
    assert_eq!(names("top_by_elements"), ["list:5", "list:4"]);
    assert_eq!(doc["top_by_elements"][0]["elements"], 5);
    let rows = by_key(&rows(&dump, &[]));
    assert_eq!(doc["top_by_memory"][0]["memory_usage"], rows["str:5"]["memory_usage"]);
    assert_eq!(doc["totals"]["keys"], 10, "--top limits the lists, not what is counted");

    let all = summary(&dump, &["--top", "100"]);
    assert_eq!(all["top_by_memory"].as_array().unwrap().len(), 10);
    let usages: Vec<u64> =
        all["top_by_memory"].as_array().unwrap().iter().map(|r| r["memory_usage"].as_u64().unwrap()).collect();
    assert!(usages.windows(2).all(|w| w[0] >= w[1]), "largest first: {usages:?}");
}

#[test]
fn prefixes_count_keys_per_segment() {
    let scratch = common::Scratch::new("memory-prefixes");
    let records = [string("a:b:1", "v"), string("a:b:2", "v"), string("a:c:3", "v"), string("x", "v")];
    let dump = write_dump(&scratch.0, "prefixes.jsonl", &records);
    let rows = by_key(&rows(&dump, &[]));
    let usage = |keys: &[&str]| -> u64 { keys.iter().map(|k| rows[*k]["memory_usage"].as_u64().unwrap()).sum() };

    let prefixes = |args: &[&str]| -> BTreeMap<String, (u64, u64)> {
        let doc = summary(&dump, args);
        assert_eq!(doc["prefixes"]["pruned"], false);
        doc["prefixes"]["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .map(|e| {
                let n = (e["keys"].as_u64().unwrap(), e["memory_usage"].as_u64().unwrap());
                (e["prefix"].as_str().unwrap().to_string(), n)
            })
            .collect()
    };
    let depth2 = prefixes(&["--prefix-depth", "2"]);
    assert_eq!(depth2["a:"], (3, usage(&["a:b:1", "a:b:2", "a:c:3"])));
    assert_eq!(depth2["a:b:"], (2, usage(&["a:b:1", "a:b:2"])));
    assert_eq!(depth2["a:c:"], (1, usage(&["a:c:3"])));
    assert_eq!(depth2.len(), 3, "\"x\" has no prefix: {depth2:?}");

    let depth1 = prefixes(&["--prefix-depth", "1"]);
    assert_eq!(depth1.keys().collect::<Vec<_>>(), ["a:"]);

    // Other separators: "b" ends a segment too.
    let other = prefixes(&["--prefix-depth", "2", "--separators", ":b"]);
    assert_eq!(other["a:"].0, 3);
    assert!(!other.contains_key("a:b:"), "{other:?}");
}

// ---------------------------------------------------------------------------------------------
// Errors and exit codes (README "Exit codes": 1 damaged, 2 usage or I/O)

#[test]
fn a_missing_input_is_exit_2_naming_it() {
    let scratch = common::Scratch::new("memory-missing");
    let missing = scratch.0.join("no-such-file.rdb");
    let out = run(&["memory", p(&missing), "--now", NOW_ARG]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains(p(&missing)), "{}", text(&out.stderr));
    // Among good inputs too, and check says the same of it.
    let good = scratch.0.join("x.rdb");
    std::fs::write(&good, set_x_y(None)).unwrap();
    let out = run(&["memory", p(&good), p(&missing), "--format", "json", "--now", NOW_ARG]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains(p(&missing)), "{}", text(&out.stderr));
    assert_eq!(run(&["check", p(&missing)]).status.code(), Some(2));
}

#[test]
fn a_damaged_rdb_fails_as_check_and_dump_do_naming_file_and_offset() {
    let scratch = common::Scratch::new("memory-damaged");
    let whole = set_x_y(None);
    // Cut inside the value of "x" (after "REDIS0009", SELECTDB 0, type, key).
    let cut = scratch.0.join("cut.rdb");
    std::fs::write(&cut, &whole[..whole.len() - 11]).unwrap();
    // A flipped byte in the value: the checksum no longer matches.
    let mut flipped = whole.clone();
    let at = flipped.len() - 10;
    flipped[at] ^= 0x20;
    let flip = scratch.0.join("flip.rdb");
    std::fs::write(&flip, &flipped).unwrap();

    for file in [cut.as_path(), flip.as_path(), Path::new("testdata/rdb/damaged/truncated-middle.rdb")] {
        let check = run(&["check", "--format", "json", p(file)]);
        let report: Value = serde_json::from_slice(&check.stdout).expect("check's JSON report");
        assert_eq!(check.status.code(), Some(1), "{}", file.display());
        let offset = report["error"]["offset"].as_u64().expect("check names an offset");
        assert_eq!(run(&["dump", p(file)]).status.code(), Some(1));

        for format in ["text", "json"] {
            let out = run(&["memory", p(file), "--format", format, "--now", NOW_ARG]);
            let err = text(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{} ({format}): exit as check and dump: {err}", file.display());
            assert!(err.contains(p(file)), "names the file: {err}");
            assert!(err.contains(&format!("offset {offset}")), "names check's offset {offset}: {err}");
            assert!(out.stdout.is_empty(), "no summary of a file that could not be read: {}", text(&out.stdout));
        }
    }
}

#[test]
fn unknown_target_or_allocator_is_a_usage_error() {
    let scratch = common::Scratch::new("memory-usage-errors");
    let good = scratch.0.join("x.rdb");
    std::fs::write(&good, set_x_y(None)).unwrap();
    for bad in [
        ["--target", "redis-9.9"],
        ["--target", "redis"],
        ["--allocator", "tcmalloc"],
        ["--format", "xml"],
        ["--keys", "tsv"],
    ] {
        let out = run(&[&["memory", p(&good), "--now", NOW_ARG][..], &bad[..]].concat());
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {}", text(&out.stderr));
        assert!(text(&out.stderr).contains(bad[1]), "{bad:?}: names the value: {}", text(&out.stderr));
        assert!(out.stdout.is_empty());
    }
    assert_eq!(run(&["memory"]).status.code(), Some(2), "no input");
    // Every documented target is accepted.
    for target in [
        "redis-6.2",
        "redis-7.0",
        "redis-7.2",
        "redis-7.4",
        "redis-8.0",
        "valkey-8.0",
        "valkey-8.1",
        "valkey-9.0",
        "valkey-9.1",
    ] {
        let doc = summary(&good, &["--target", target]);
        assert_eq!(doc["files"][0]["profile"]["target"], target);
        assert_eq!(doc["totals"]["keys"], 1);
    }
}

// ---------------------------------------------------------------------------------------------
// Other inputs and outputs

/// An AOF is replayed on the `--now` clock: `EX 10` ends 10 s after it, and
/// a key whose absolute time is past is left out and counted.
#[test]
fn an_aof_is_replayed_on_the_now_clock() {
    let scratch = common::Scratch::new("memory-aof");
    let resp = |args: &[&str]| -> String {
        args.iter().fold(format!("*{}\r\n", args.len()), |s, a| s + &format!("${}\r\n{a}\r\n", a.len()))
    };
    let aof = scratch.0.join("appendonly.aof");
    let commands = [
        resp(&["SET", "k", "v"]),
        resp(&["SET", "rel", "v", "EX", "10"]),
        resp(&["SET", "past", "v", "PXAT", "1"]),
        resp(&["SELECT", "3"]),
        resp(&["RPUSH", "l", "a", "b"]),
    ];
    std::fs::write(&aof, commands.concat()).unwrap();
    let path = p(&aof);
    let out = ok(&["memory", path, "--keys", "jsonl", "--now", "1000"]);
    let rows: Vec<Value> = text(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let got: Vec<(u64, &str, &str, u64, Option<i64>)> = rows
        .iter()
        .map(|r| {
            let (db, key, ty) = (r["db"].as_u64().unwrap(), r["key"].as_str().unwrap(), r["type"].as_str().unwrap());
            (db, key, ty, r["elements"].as_u64().unwrap(), r["expire_at_ms"].as_i64())
        })
        .collect();
    assert_eq!(got, [(0, "k", "string", 1, None), (0, "rel", "string", 1, Some(11_000)), (3, "l", "list", 2, None)]);
    let out = ok(&["memory", path, "--format", "json", "--now", "1000"]);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["totals"]["keys"], 3);
    assert_eq!(doc["totals"]["expired_skipped"], 1);
    // The same keys as an RDB-less dump give the same figures.
    let dump = write_dump(
        &scratch.0,
        "same.jsonl",
        &[
            string("k", "v"),
            json!({"db": 0, "key": "rel", "type": "string", "value": "v", "expire_at_ms": 11_000}),
            json!({"db": 3, "key": "l", "type": "list", "value": ["a", "b"]}),
        ],
    );
    let out = ok(&["memory", p(&dump), "--keys", "jsonl", "--now", "1000"]);
    let from_dump: Vec<Value> = text(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(from_dump, rows);
}

/// `--keys` rows go to standard output or `--keys-output`; the summary to
/// standard output or `-o`; the two never mix.
#[test]
fn rows_and_summary_go_where_they_are_sent() {
    let scratch = common::Scratch::new("memory-outputs");
    let dump = mixed_dump(&scratch.0);
    let keys_file = scratch.0.join("keys.jsonl");
    let out = ok(&[
        "memory",
        p(&dump),
        "--keys",
        "jsonl",
        "--keys-output",
        p(&keys_file),
        "--format",
        "json",
        "--now",
        NOW_ARG,
    ]);
    let doc: Value = serde_json::from_slice(&out.stdout).expect("standard output is the summary alone");
    assert_eq!(doc["totals"]["keys"], 8);
    let in_file = std::fs::read_to_string(&keys_file).unwrap();
    assert_eq!(in_file.lines().count(), 8);

    let summary_file = scratch.0.join("summary.json");
    let out =
        ok(&["memory", p(&dump), "--keys", "jsonl", "-o", p(&summary_file), "--format", "json", "--now", NOW_ARG]);
    assert_eq!(text(&out.stdout), in_file, "standard output is the rows alone");
    let doc2: Value = serde_json::from_str(&std::fs::read_to_string(&summary_file).unwrap()).unwrap();
    assert_eq!(doc2, doc);
}

/// Several inputs without per-key rows are read in parallel, each into its
/// own summary merged in input order; with rows they are read one after
/// another. The summary must not tell the two apart, ties in the top lists
/// included (equal keys in every file: the earlier file ranks first).
#[test]
fn several_inputs_read_in_parallel_sum_up_as_read_in_order() {
    let scratch = common::Scratch::new("memory-parallel");
    let files: Vec<PathBuf> = (0..4)
        .map(|f| {
            let records: Vec<Value> = (0..30).map(|i| string(&format!("k:{i}"), &"v".repeat(10 + i % 3))).collect();
            write_dump(&scratch.0, &format!("shard{f}.jsonl"), &records)
        })
        .collect();
    let inputs: Vec<&str> = files.iter().map(|f| p(f)).collect();
    let run_summary = |extra: &[&str]| -> String {
        let mut args = vec!["memory"];
        args.extend_from_slice(&inputs);
        args.extend_from_slice(&["--format", "json", "--now", NOW_ARG, "--top", "3"]);
        args.extend_from_slice(extra);
        text(&ok(&args).stdout)
    };
    let rows = scratch.0.join("rows.jsonl");
    let in_order = {
        let summary = scratch.0.join("summary.json");
        run_summary(&["--keys", "jsonl", "--keys-output", p(&rows), "-o", p(&summary)]);
        std::fs::read_to_string(&summary).unwrap()
    };
    let parallel = run_summary(&[]);
    assert_eq!(parallel, in_order);
    let doc: Value = serde_json::from_str(&parallel).unwrap();
    assert_eq!(doc["totals"]["keys"], 120);
    assert_eq!(doc["files"].as_array().unwrap().len(), 4);
    // Every key costs the same (10- to 12-byte values fall in one size
    // class): the ties go to the first file, then to the names' byte order.
    let top: Vec<(u64, String)> = doc["top_by_memory"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["file"].as_u64().unwrap(), k["key"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(top, [(0, "k:0".to_string()), (0, "k:1".to_string()), (0, "k:10".to_string())]);
}

/// The model never panics, whatever a value holds: every small fixture cut
/// at every byte and flipped at every byte, each key that still frames
/// priced for every server generation and allocator (as the `memory` fuzz
/// target does with arbitrary values).
#[test]
fn damaged_values_are_priced_or_refused_never_a_panic() {
    use rdb_tool::memory::{Allocator, Meter, Profile, Target};
    let meters: Vec<Meter> = Target::ALL
        .iter()
        .flat_map(|t| Allocator::ALL.iter().map(move |a| Meter::new(Profile::new(*t, *a, t.compiled_limits()))))
        .collect();
    let price = |bytes: &[u8]| -> usize {
        let mut input = rdb_tool::input::Input::from_reader("mutant", std::io::Cursor::new(bytes.to_vec()));
        let mut reader = rdb_tool::event::RdbReader::new(&mut input, Default::default());
        let mut priced = 0;
        while let Ok(Some(event)) = reader.next() {
            if let rdb_tool::event::Event::Key(k) = event {
                for m in &meters {
                    if m.measure(&k.key, &k.attrs, &k.value).is_ok() {
                        priced += 1;
                    }
                }
            }
        }
        priced
    };
    let mut fixtures: Vec<PathBuf> = std::fs::read_dir("testdata/rdb/peers")
        .expect("testdata")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "rdb"))
        .collect();
    fixtures.sort();
    let (mut mutants, mut priced) = (0usize, 0usize);
    for path in fixtures {
        let bytes = std::fs::read(&path).unwrap();
        priced += price(&bytes);
        for cut in 0..bytes.len() {
            priced += price(&bytes[..cut]);
            mutants += 1;
        }
        for pos in 0..bytes.len() {
            for x in [0xff, 0x01] {
                let mut m = bytes.clone();
                m[pos] ^= x;
                priced += price(&m);
                mutants += 1;
            }
        }
    }
    assert!(mutants > 10_000, "only {mutants} mutants");
    assert!(priced > mutants, "the mutants' keys were mostly priced ({priced})");
}

/// The positions a task was told.
type Positions = std::sync::Arc<std::sync::Mutex<Vec<u64>>>;

/// A progress reporter that records what it is told.
#[derive(Debug, Default)]
struct Recorder {
    /// Per task: its name, its total, and the positions reported.
    tasks: std::sync::Mutex<Vec<(String, Option<u64>, Positions)>>,
}

struct Track(Positions);

impl rdb_tool::progress::Tracker for Track {
    fn set(&self, pos: u64) {
        self.0.lock().unwrap().push(pos);
    }
}

impl rdb_tool::progress::Reporter for Recorder {
    fn begin(&self, name: &str, total: Option<u64>) -> Option<Box<dyn rdb_tool::progress::Tracker>> {
        let positions = std::sync::Arc::default();
        self.tasks.lock().unwrap().push((name.to_string(), total, std::sync::Arc::clone(&positions)));
        Some(Box::new(Track(positions)))
    }
}

#[test]
fn progress_runs_to_the_input_size_for_an_rdb_an_aof_set_and_a_dump() {
    let scratch = common::Scratch::new("memory-progress");
    let testdata = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let rdb = testdata.join("rdb/all_types_v9.rdb");
    let aof = testdata.join("aof/multipart_v70");
    let dump = mixed_dump(&scratch.0);
    let size = |p: &Path| std::fs::metadata(p).unwrap().len();
    // A multi-part AOF is read file after file: its total is their sizes
    // (not the manifest's).
    let aof_total: u64 = ["appendonly.aof.2.base.rdb", "appendonly.aof.2.incr.aof", "appendonly.aof.3.incr.aof"]
        .iter()
        .map(|f| size(&aof.join(f)))
        .sum();
    for (input, total) in [(rdb.clone(), size(&rdb)), (aof.clone(), aof_total), (dump.clone(), size(&dump))] {
        let recorder: &'static Recorder = Box::leak(Box::default());
        let mut cfg = rdb_tool::cmd::memory::MemoryConfig::new(vec![input.clone()]);
        cfg.now_ms = Some(NOW);
        cfg.reader.progress = Some(recorder);
        rdb_tool::cmd::memory::memory(&cfg, None).unwrap_or_else(|e| panic!("{}: {e}", input.display()));
        let tasks = recorder.tasks.lock().unwrap();
        assert_eq!(tasks.len(), 1, "{}: one task per input", input.display());
        let (_, told_total, positions) = &tasks[0];
        assert_eq!(*told_total, Some(total), "{}", input.display());
        let positions = positions.lock().unwrap();
        assert!(positions.windows(2).all(|w| w[0] <= w[1]), "{}: {positions:?}", input.display());
        assert_eq!(positions.last(), Some(&total), "{}: the bar ends full", input.display());
    }
}

/// Several inputs, one of them damaged: the others are read whole, the
/// damaged one's row names the fault `check` names and holds the keys
/// before it, and the exit code is `check`'s for that file. The same
/// whether rows are streamed (inputs read in turn) or not (in parallel).
#[test]
fn a_damaged_input_among_several_is_a_row_not_the_end_of_the_run() {
    let scratch = common::Scratch::new("memory-one-damaged");
    let intact = Path::new("testdata/rdb/all_types_v9.rdb");
    let whole = std::fs::read(intact).unwrap();
    let cut = scratch.0.join("cut.rdb");
    std::fs::write(&cut, &whole[..whole.len() * 2 / 3]).unwrap();
    let check: Value = serde_json::from_slice(&run(&["check", "--format", "json", p(&cut)]).stdout).unwrap();
    let fault = check["error"]["offset"].as_u64().expect("check names the offset");
    // The keys whose records end before the fault, by the reader's offsets
    // in the intact file (keys expired at the pinned clock are left out).
    let keys_before: u64 = {
        let mut input = rdb_tool::input::Input::open(intact).unwrap();
        let mut reader = rdb_tool::event::RdbReader::new(&mut input, Default::default());
        let mut n = 0;
        loop {
            let live = match reader.next().unwrap() {
                None => break,
                Some(rdb_tool::event::Event::Key(k)) => k.attrs.expire_at_ms.is_none_or(|t| t > NOW),
                Some(_) => continue,
            };
            if reader.offset() <= fault && live {
                n += 1;
            }
        }
        n
    };
    let alone: Value = serde_json::from_slice(&ok(&["memory", p(intact), "--format", "json", "--now", NOW_ARG]).stdout)
        .expect("JSON summary");
    let rows = scratch.0.join("rows.jsonl");
    for extra in [&[][..], &["--keys", "jsonl", "--keys-output", p(&rows)][..]] {
        let mut args = vec!["memory", p(intact), p(&cut), p(intact), "--format", "json", "--now", NOW_ARG];
        args.extend_from_slice(extra);
        let out = run(&args);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{extra:?}: the exit code check gives the damaged file: {err}");
        assert!(err.contains(p(&cut)) && err.contains(&format!("offset {fault}")), "{extra:?}: {err}");
        let doc: Value = serde_json::from_slice(&out.stdout).expect("a summary of all three");
        let files = doc["files"].as_array().unwrap();
        assert_eq!(files.len(), 3);
        for i in [0, 2] {
            assert_eq!(files[i]["verdict"], "valid");
            assert_eq!(files[i]["totals"], alone["files"][0]["totals"], "{extra:?}: file {i} read whole");
        }
        assert_eq!(files[1]["verdict"], "damaged");
        assert_eq!(files[1]["error"]["offset"], fault);
        assert_eq!(files[1]["totals"]["keys"], keys_before, "{extra:?}: the keys before the fault");
        let sum: u64 = files.iter().map(|f| f["totals"]["keys"].as_u64().unwrap()).sum();
        assert_eq!(doc["totals"]["keys"], sum);
    }
    // One input alone: its error is the run's (no summary), as before.
    let out = run(&["memory", p(&cut), "--now", NOW_ARG]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
}

/// `rdb_bytes` is each key's record in the file: from its first prefix
/// (expiry, idle time) to the end of its value, as the reader's offsets
/// place it.
#[test]
fn rdb_bytes_is_each_keys_record_in_the_file() {
    let file = Path::new("testdata/rdb/all_types_v9.rdb");
    let mut want = BTreeMap::new();
    let mut input = rdb_tool::input::Input::open(file).unwrap();
    let mut reader = rdb_tool::event::RdbReader::new(&mut input, Default::default());
    loop {
        let before = reader.offset();
        let key = match reader.next().unwrap() {
            None => break,
            Some(rdb_tool::event::Event::Key(k)) => (k.db, hex(&k.key)),
            Some(_) => continue,
        };
        want.insert(key, reader.offset() - before);
    }
    let got: BTreeMap<(u64, String), u64> = rows(file, &["--include-expired"])
        .iter()
        .map(|r| {
            ((r["db"].as_u64().unwrap(), r["key_hex"].as_str().unwrap().to_string()), r["rdb_bytes"].as_u64().unwrap())
        })
        .collect();
    assert_eq!(got, want);
    assert!(want.values().any(|&n| n > 1000), "a value of some size among them");
}
