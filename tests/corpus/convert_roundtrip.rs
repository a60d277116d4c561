//! Round trips through `convert`, for every RDB the real servers wrote in the
//! corpus: RDB → RDB of the same version dumps exactly as the source does, and
//! RDB → JSON → RDB → JSON gives the same JSON; every file we write checks
//! clean. (Loading our output into a real server is tests/live_convert.rs.)

use crate::common;

use common::Scratch;

use rdb_tool::cmd::check::{check_file, Verdict};
use rdb_tool::cmd::convert::{convert, ConvertConfig, ConvertTo};
use rdb_tool::cmd::dump::{dump, DumpConfig, DumpFormat};
use rdb_tool::event::ReaderOptions;
use std::path::{Path, PathBuf};

fn dump_of(path: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    dump(&DumpConfig::new(path, DumpFormat::Jsonl), &mut out).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    out
}

fn convert_to_file(input: &Path, version: u32, output: &Path) {
    let mut cfg = ConvertConfig::new(input, ConvertTo::Rdb);
    cfg.rdb_version = Some(version);
    let mut out = Vec::new();
    convert(&cfg, &mut out).unwrap_or_else(|e| panic!("{} -> RDB {version}: {e}", input.display()));
    std::fs::write(output, out).unwrap();
    let report = check_file(output, ReaderOptions::default(), None);
    assert_eq!(report.verdict(), Verdict::Valid, "{}: our output: {:?}", input.display(), report.error);
}

/// Two dumps must be equal; on failure show the first record that differs.
fn same_lines(got: &[u8], want: &[u8], what: &str) {
    let got = String::from_utf8_lossy(got);
    let want = String::from_utf8_lossy(want);
    for (i, (g, w)) in got.lines().zip(want.lines()).enumerate() {
        assert!(
            g == w,
            "{what}: record {} differs\n got: {}\nwant: {}",
            i + 1,
            &g[..g.len().min(600)],
            &w[..w.len().min(600)]
        );
    }
    assert_eq!(got.lines().count(), want.lines().count(), "{what}: record count");
}

/// Every RDB fixture the servers wrote, with its RDB version.
fn server_rdbs() -> Vec<(PathBuf, u32)> {
    let mut files = Vec::new();
    for vdir in common::version_dirs() {
        let fixtures = common::read_json(&vdir.join("fixtures.json"));
        for fx in fixtures["fixtures"].as_array().unwrap() {
            if fx["kind"] != "rdb" {
                continue;
            }
            let f = &fx["files"][0];
            files.push((vdir.join(f["path"].as_str().unwrap()), f["rdb_version"].as_u64().unwrap() as u32));
        }
    }
    files
}

#[test]
fn rdb_to_rdb_of_the_same_version_dumps_the_same() {
    let dir = Scratch::new("roundtrip");
    let scratch = dir.0.as_path();
    let mut compared = 0;
    for (path, version) in server_rdbs() {
        let out = scratch.join("same.rdb");
        convert_to_file(&path, version, &out);
        let header = std::fs::read(&out).unwrap()[..9].to_vec();
        assert_eq!(header, std::fs::read(&path).unwrap()[..9], "{}: header", path.display());
        same_lines(&dump_of(&out), &dump_of(&path), &format!("{}: RDB {version} copy", path.display()));
        compared += 1;
        // Across dialects: Valkey 9 into Redis 7.4's RDB 12, and every file
        // from 7.4 on (hash field TTLs) into Valkey 9's format.
        let across = match version {
            80 => 12,
            12 => 80,
            _ => continue,
        };
        convert_to_file(&path, across, &out);
        same_lines(&dump_of(&out), &dump_of(&path), &format!("{}: RDB {version} as {across}", path.display()));
    }
    assert!(compared >= 40, "only {compared} files compared");
}

#[test]
fn rdb_to_json_to_rdb_to_json_is_identical() {
    let dir = Scratch::new("jsontrip");
    let scratch = dir.0.as_path();
    let mut compared = 0;
    for (path, version) in server_rdbs() {
        let target = version;
        let first = dump_of(&path);
        let json = scratch.join("first.jsonl");
        std::fs::write(&json, &first).unwrap();
        let rebuilt = scratch.join("rebuilt.rdb");
        convert_to_file(&json, target, &rebuilt);
        same_lines(&dump_of(&rebuilt), &first, &format!("{}: JSON -> RDB {target} -> JSON", path.display()));
        compared += 1;
    }
    assert!(compared >= 40, "only {compared} files compared");
}

/// A dump with its order-free parts sorted (record order, set members, hash
/// fields, sorted-set members), so that two files holding the same data compare
/// equal whatever order their writers chose. `via_commands`: leave out what
/// Redis's own command form (AOF rewrite) cannot carry either: consumer
/// seen/active times (XCLAIM sets them), and pending entries whose stream entry
/// was deleted (`XCLAIM … FORCE` only claims existing entries).
fn canonical(dump: &[u8], via_commands: bool) -> Vec<String> {
    use serde_json::Value;
    let mut out: Vec<String> = String::from_utf8_lossy(dump)
        .lines()
        .map(|l| {
            let mut r: Value = serde_json::from_str(l).unwrap();
            let ty = r["type"].as_str().unwrap().to_string();
            let v = &mut r["value"];
            if ty == "stream" {
                // What RDB 13/14 write for a stream that never used them: the
                // server's IDMP defaults and empty NACK zones.
                let default_idmp = serde_json::json!({"duration_s":100,"max_entries":100,"iids_added":0,"iids_duplicates":0,"producers":[]});
                if v.get("idmp") == Some(&default_idmp) {
                    v.as_object_mut().unwrap().remove("idmp");
                }
                for g in v["groups"].as_array_mut().unwrap() {
                    if g.get("nacked").is_some_and(|n| n.as_array().is_some_and(Vec::is_empty)) {
                        g.as_object_mut().unwrap().remove("nacked");
                    }
                }
            }
            match ty.as_str() {
                "set" => v.as_array_mut().unwrap().sort_by_key(|m| m.to_string()),
                "zset" => v.as_array_mut().unwrap().sort_by_key(|m| m[0].to_string()),
                "hash" => {
                    let mut fields: Vec<(String, Value)> =
                        v.as_object().unwrap().iter().map(|(k, x)| (k.clone(), x.clone())).collect();
                    fields.sort_by(|a, b| a.0.cmp(&b.0));
                    *v = Value::Object(fields.into_iter().collect());
                    if let Some(ttls) = r.get_mut("field_expire_at_ms") {
                        let mut t: Vec<(String, Value)> =
                            ttls.as_object().unwrap().iter().map(|(k, x)| (k.clone(), x.clone())).collect();
                        t.sort_by(|a, b| a.0.cmp(&b.0));
                        *ttls = Value::Object(t.into_iter().collect());
                    }
                }
                "stream" if via_commands => {
                    let live: std::collections::HashSet<String> =
                        v["entries"].as_array().unwrap().iter().map(|e| e["id"].to_string()).collect();
                    for g in v["groups"].as_array_mut().unwrap() {
                        g["pending"].as_array_mut().unwrap().retain(|p| live.contains(&p["id"].to_string()));
                        for c in g["consumers"].as_array_mut().unwrap() {
                            c["seen_time_ms"] = Value::Null;
                            c["active_time_ms"] = Value::Null;
                            c["pending"].as_array_mut().unwrap().retain(|id| live.contains(&id.to_string()));
                        }
                    }
                }
                _ => {}
            }
            r.to_string()
        })
        .collect();
    out.sort();
    out
}

/// RDB → RESP commands (plain, and RESTORE payloads) → replayed by our AOF model
/// → RDB: the same data, for every server RDB the writer can produce.
#[test]
fn rdb_to_commands_replayed_back_to_rdb_holds_the_same_data() {
    let dir = Scratch::new("resptrip");
    let scratch = dir.0.as_path();
    let mut compared = 0;
    for (path, version) in server_rdbs() {
        let target = if version == 80 { 12 } else { version };
        if !path.ends_with("dump.rdb") {
            continue;
        }
        for restore in [false, true] {
            let mut cfg = ConvertConfig::new(&path, ConvertTo::Aof);
            cfg.rdb_version = Some(target);
            cfg.restore = restore.then_some(false);
            let mut commands = Vec::new();
            match convert(&cfg, &mut commands) {
                Ok(_) => {}
                // Key metadata, arrays, IDMP and NACK zones have no command form here.
                Err(e) if matches!(e.kind, rdb_tool::error::ErrorKind::Unsupported(_)) && !restore => continue,
                Err(e) => panic!("{}: {e}", path.display()),
            }
            let aof = scratch.join("commands.aof");
            std::fs::write(&aof, commands).unwrap();
            let rebuilt = scratch.join("replayed.rdb");
            convert_to_file(&aof, target, &rebuilt);
            let what = format!("{} via {}", path.display(), if restore { "RESTORE" } else { "commands" });
            let (got, want) = (canonical(&dump_of(&rebuilt), !restore), canonical(&dump_of(&path), !restore));
            for (g, w) in got.iter().zip(&want) {
                assert!(g == w, "{what}: differs\n got: {}\nwant: {}", &g[..g.len().min(500)], &w[..w.len().min(500)]);
            }
            assert_eq!(got.len(), want.len(), "{what}: key count");
            compared += 1;
        }
    }
    assert!(compared >= 12, "only {compared} round trips compared");
}

/// AOF → JSON (replayed, written straight as the dump) holds the same records
/// as AOF → RDB → dump, for every corpus AOF the replay knows.
#[test]
fn aof_to_json_equals_the_dump_of_aof_to_rdb() {
    let dir = Scratch::new("aofjson");
    let scratch = dir.0.as_path();
    let mut compared = 0;
    for vdir in common::version_dirs() {
        for fixture in ["aof-plain", "aof-preamble", "aof-plain-ts", "aof-multi-incr"] {
            let dir = vdir.join(fixture);
            let input =
                if dir.join("appendonlydir").is_dir() { dir.join("appendonlydir") } else { dir.join("appendonly.aof") };
            if !input.exists() {
                continue;
            }
            let mut cfg = ConvertConfig::new(&input, ConvertTo::Jsonl);
            let mut json = Vec::new();
            match convert(&cfg, &mut json) {
                Ok(_) => {}
                Err(e) if matches!(e.kind, rdb_tool::error::ErrorKind::Unsupported(_)) => continue,
                Err(e) => panic!("{}: {e}", input.display()),
            }
            cfg.to = ConvertTo::Rdb;
            // The newest version holds everything a replayed AOF can hold (8.6 IDMP, 8.8 arrays).
            cfg.rdb_version = Some(14);
            let rdb = scratch.join("replayed.rdb");
            let mut out = Vec::new();
            convert(&cfg, &mut out).unwrap();
            std::fs::write(&rdb, out).unwrap();
            // Replay stamps consumer seen-times with the clock: two replays differ there.
            let (got, want) = (canonical(&json, true), canonical(&dump_of(&rdb), true));
            for (g, w) in got.iter().zip(&want) {
                assert!(
                    g == w,
                    "{}: differs\n got: {}\nwant: {}",
                    input.display(),
                    &g[..g.len().min(400)],
                    &w[..w.len().min(400)]
                );
            }
            assert_eq!(got.len(), want.len(), "{}", input.display());
            compared += 1;
        }
    }
    assert!(compared >= 29, "only {compared} AOFs compared (every corpus AOF)");
}

/// Valkey 9's HASH_2 as Valkey writes it: a hash with field TTLs read from a
/// file Valkey 9.0.1 wrote (a peer project's test file) and written again as
/// `VALKEY080`, uncompressed, gives that key's record byte for byte (field,
/// value, absolute expiry in ms as 8 bytes LE, -1 for none).
#[test]
fn valkey_hash2_is_written_as_valkey_writes_it() {
    let source = common::corpus_dir().join("peers/newer/valkey_hash2_with_hfe.rdb");
    let mut cfg = ConvertConfig::new(&source, ConvertTo::Rdb);
    cfg.compress = false;
    let mut out = Vec::new();
    let report = convert(&cfg, &mut out).unwrap();
    assert_eq!(report.version, Some(80), "a Valkey source stays in Valkey's format");
    assert_eq!(&out[..9], b"VALKEY080");
    let original = std::fs::read(&source).unwrap();
    let record = |file: &[u8]| {
        let at = file.windows(11).position(|w| w == b"\x16\x09hash2-hfe").expect("the HASH_2 record");
        file[at..file.len() - 9].to_vec() // up to the EOF opcode and CRC
    };
    assert_eq!(record(&out), record(&original));
    // And into Redis's dialect: RDB 12's own field-TTL hash, same content.
    let scratch = Scratch::new("valkey-redis");
    let redis = scratch.0.join("redis.rdb");
    convert_to_file(&source, 12, &redis);
    assert_eq!(&std::fs::read(&redis).unwrap()[..9], b"REDIS0012");
    same_lines(&dump_of(&redis), &dump_of(&source), "Valkey HASH_2 as RDB 12");
}
