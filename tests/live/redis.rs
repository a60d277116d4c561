//! Round trip through a real server: fill a fresh `redis-server` (Debian's 7.0)
//! with every type and encoding, SAVE, dump the RDB with rdb-tool, and compare
//! each key with what the live server returns for it.

use crate::common;

use base64::Engine;
use common::redis::{Reply, Server};
use rdb_tool::cmd::dump::{dump, DumpConfig, DumpFormat};
use serde_json::Value;
use std::collections::BTreeMap;

fn bytes_of(v: &Value) -> Vec<u8> {
    let s = v.as_str().unwrap_or_else(|| panic!("not a string: {v}"));
    match s.strip_prefix("base64:") {
        Some(b) => base64::engine::general_purpose::STANDARD.decode(b).expect("base64"),
        None => s.as_bytes().to_vec(),
    }
}

fn fill(c: &mut common::redis::Client) {
    let big: String = (0..3000).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
    c.ok(&["SET", "str:plain", "hello"]);
    c.ok(&["SET", "str:int", "12345"]);
    c.ok(&["SET", "str:neg", "-9223372036854775808"]);
    c.ok(&["SET", "str:compressible", big.as_str()]);
    c.ok(&[&b"SET"[..], b"str:binary", b"\x00\xff\xfe\r\n"]);
    c.ok(&["SET", "", "empty key name"]);
    c.ok(&["SET", "str:ttl", "x", "PX", "4000000000000"]);
    c.ok(&["RPUSH", "list:small", "a", "1", "-70000", "b"]);
    for i in 0..400 {
        c.ok(&["RPUSH", "list:big", &format!("element-{i}")]);
    }
    c.ok(&["RPUSH", "list:plainish", big.as_str(), "tail"]);
    c.ok(&["SADD", "set:intset", "1", "2", "-3", "4000000000"]);
    c.ok(&["SADD", "set:strings", "a", "b", "c"]);
    for i in 0..200 {
        c.ok(&["SADD", "set:hashtable", &format!("m{i}")]);
    }
    c.ok(&["ZADD", "zset:small", "1.5", "a", "-inf", "b", "inf", "c", "0.1", "d"]);
    for i in 0..200 {
        c.ok(&["ZADD", "zset:skiplist", &format!("{}", i as f64 / 7.0), &format!("m{i}")]);
    }
    c.ok(&["HSET", "hash:small", "f1", "v1", "f2", "2", "", "empty-field"]);
    for i in 0..600 {
        c.ok(&["HSET", "hash:big", &format!("field{i}"), &format!("value{i}")]);
    }
    for i in 1..=30 {
        c.ok(&["XADD", "stream:s", &format!("{i}-0"), "f", &format!("v{i}"), "g", "x"]);
    }
    c.ok(&["XADD", "stream:s", "31-0", "other", "fields"]);
    c.ok(&["XDEL", "stream:s", "5-0"]);
    c.ok(&["XGROUP", "CREATE", "stream:s", "grp", "0"]);
    c.ok(&["XREADGROUP", "GROUP", "grp", "alice", "COUNT", "3", "STREAMS", "stream:s", ">"]);
    c.ok(&["EXPIRE", "list:small", "900000000"]);
    c.ok(&["SELECT", "3"]);
    c.ok(&["SET", "db3:key", "in db 3"]);
    c.ok(&["SELECT", "0"]);
}

#[test]
fn real_server_save_dumps_as_the_server_answers() {
    let server = Server::start("live", &[]);
    let mut c = server.client().expect("connect");
    fill(&mut c);
    c.ok(&["SAVE"]);
    let cfg = DumpConfig::new(server.rdb_path(), DumpFormat::Jsonl);
    let mut out = Vec::new();
    let stats = dump(&cfg, &mut out).expect("dump");
    let records: Vec<Value> =
        String::from_utf8(out).unwrap().lines().map(|l| serde_json::from_str(l).expect("json line")).collect();
    assert_eq!(stats.keys_written as usize, records.len());

    let mut per_db: BTreeMap<i64, usize> = BTreeMap::new();
    for r in &records {
        let db = r["db"].as_i64().unwrap();
        *per_db.entry(db).or_default() += 1;
        c.ok(&["SELECT", &db.to_string()]);
        let key = bytes_of(&r["key"]);
        let ty = r["type"].as_str().unwrap();
        let server_type = c.ok(&[&b"TYPE"[..], &key]).bytes();
        assert_eq!(ty.as_bytes(), &server_type[..], "type of {key:?}");
        let expire = c.ok(&[&b"PEXPIRETIME"[..], &key]).int();
        assert_eq!(r.get("expire_at_ms").and_then(Value::as_i64).unwrap_or(-1), expire, "expiry of {key:?}");
        let v = &r["value"];
        match ty {
            "string" => assert_eq!(bytes_of(v), c.ok(&[&b"GET"[..], &key]).bytes(), "{key:?}"),
            "list" => {
                let ours: Vec<Vec<u8>> = v.as_array().unwrap().iter().map(bytes_of).collect();
                let theirs: Vec<Vec<u8>> =
                    c.ok(&[&b"LRANGE"[..], &key, b"0", b"-1"]).array().iter().map(Reply::bytes).collect();
                assert_eq!(ours, theirs, "{key:?}");
            }
            "set" => {
                let mut ours: Vec<Vec<u8>> = v.as_array().unwrap().iter().map(bytes_of).collect();
                let mut theirs: Vec<Vec<u8>> =
                    c.ok(&[&b"SMEMBERS"[..], &key]).array().iter().map(Reply::bytes).collect();
                ours.sort();
                theirs.sort();
                assert_eq!(ours, theirs, "{key:?}");
            }
            "zset" => {
                let score = |v: &Value| match v {
                    Value::String(s) => {
                        s.parse::<f64>().unwrap_or_else(|_| if s == "inf" { f64::INFINITY } else { f64::NEG_INFINITY })
                    }
                    n => n.as_f64().unwrap(),
                };
                let mut ours: Vec<(Vec<u8>, f64)> =
                    v.as_array().unwrap().iter().map(|p| (bytes_of(&p[0]), score(&p[1]))).collect();
                let flat = c.ok(&[&b"ZRANGE"[..], &key, b"0", b"-1", b"WITHSCORES"]).array();
                let mut theirs: Vec<(Vec<u8>, f64)> = flat
                    .chunks(2)
                    .map(|p| {
                        let s = String::from_utf8(p[1].bytes()).unwrap();
                        (p[0].bytes(), score(&Value::String(s)))
                    })
                    .collect();
                ours.sort_by(|a, b| a.0.cmp(&b.0));
                theirs.sort_by(|a, b| a.0.cmp(&b.0));
                assert_eq!(ours, theirs, "{key:?}");
            }
            "hash" => {
                let ours: BTreeMap<Vec<u8>, Vec<u8>> = v
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(f, x)| (bytes_of(&Value::String(f.clone())), bytes_of(x)))
                    .collect();
                let flat = c.ok(&[&b"HGETALL"[..], &key]).array();
                let theirs: BTreeMap<Vec<u8>, Vec<u8>> = flat.chunks(2).map(|p| (p[0].bytes(), p[1].bytes())).collect();
                assert_eq!(ours, theirs, "{key:?}");
            }
            "stream" => {
                let ours: Vec<(String, Vec<Vec<u8>>)> = v["entries"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| {
                        let flat = e["fields"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .flat_map(|p| [bytes_of(&p[0]), bytes_of(&p[1])])
                            .collect();
                        (e["id"].as_str().unwrap().to_string(), flat)
                    })
                    .collect();
                let theirs: Vec<(String, Vec<Vec<u8>>)> = c
                    .ok(&[&b"XRANGE"[..], &key, b"-", b"+"])
                    .array()
                    .iter()
                    .map(|e| {
                        let e = e.array();
                        (String::from_utf8(e[0].bytes()).unwrap(), e[1].array().iter().map(Reply::bytes).collect())
                    })
                    .collect();
                assert_eq!(ours, theirs, "{key:?}");
                assert_eq!(v["length"].as_i64().unwrap(), c.ok(&[&b"XLEN"[..], &key]).int());
                let pending = c.ok(&[&b"XPENDING"[..], &key, b"grp", b"-", b"+", b"100"]).array();
                let ours_pel: Vec<(String, Vec<u8>)> = v["groups"][0]["pending"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| (p["id"].as_str().unwrap().to_string(), bytes_of(&p["consumer"])))
                    .collect();
                let theirs_pel: Vec<(String, Vec<u8>)> = pending
                    .iter()
                    .map(|p| {
                        let p = p.array();
                        (String::from_utf8(p[0].bytes()).unwrap(), p[1].bytes())
                    })
                    .collect();
                assert_eq!(ours_pel, theirs_pel, "PEL of {key:?}");
            }
            other => panic!("unexpected type {other}"),
        }
    }
    // Every key the server holds was dumped.
    for (db, n) in per_db {
        c.ok(&["SELECT", &db.to_string()]);
        assert_eq!(c.ok(&["DBSIZE"]).int() as usize, n, "db {db}");
    }
    c.ok(&["SELECT", "0"]);
    let keys: Vec<String> = records.iter().map(|r| r["key"].to_string()).collect();
    assert_eq!(records.len(), 19, "{keys:?}");
}
