//! `convert --to rdb` checked by the real server: every corpus snapshot (all ten
//! server versions) converted to RDB 10 and 9 is loaded by Debian's
//! redis-server 7.0, and every key it holds matches what the source server
//! recorded: type, expiry, and `DEBUG DIGEST-VALUE` (or, for sorted sets whose
//! digest text changed in 7.2, the members and scores themselves). Keys the
//! target cannot hold are dropped with `--drop-unsupported` and must be exactly
//! the ones whose data needs a newer version. Where nothing was dropped and the
//! source server computes digests as 7.0 does, the whole `DEBUG DIGEST` must equal
//! the recorded one.

use crate::common;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use common::redis::{Client, Reply, Server};
use rdb_tool::cmd::convert::{convert, convert_to_dir, ConvertConfig, ConvertReport, ConvertTo};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

fn bytes_of(v: &Value) -> Vec<u8> {
    match v {
        Value::String(s) => s.as_bytes().to_vec(),
        Value::Object(o) => BASE64.decode(o["base64"].as_str().unwrap()).unwrap(),
        other => panic!("not a byte string: {other}"),
    }
}

/// Whether the recorded key holds data RDB `target` cannot: the only keys we
/// may drop.
fn needs_newer(key: &Value, target: u32) -> bool {
    let ty = key["type"].as_str().unwrap();
    let field_ttls = key.get("field_expire_at_ms").is_some_and(|f| f.as_array().is_some_and(|a| !a.is_empty()));
    ty == "array" || (ty == "hash" && field_ttls && target < 12) || (ty == "stream" && target < 9)
}

/// The server versions whose DEBUG DIGEST hashes sorted-set scores as 7.0 does.
fn digests_like_7_0(server_version: &str) -> bool {
    server_version.starts_with("6.") || server_version.starts_with("7.0")
}

fn start(dir: &Path, label: &str) -> Server {
    let dir = dir.canonicalize().unwrap().display().to_string();
    Server::start(label, &["--dir", &dir, "--dbfilename", "dump.rdb", "--enable-debug-command", "yes"])
}

#[test]
fn corpus_snapshots_converted_to_rdb_10_and_9_load_in_redis_7_0_as_recorded() {
    let mut checked_keys = 0;
    let mut whole_digests = 0u64;
    for vdir in common::version_dirs() {
        let version_name = vdir.file_name().unwrap().to_string_lossy().into_owned();
        let expected = common::read_json(&vdir.join("expected-main.json"));
        for target in [10u32, 9] {
            let label = format!("convert-{version_name}-v{target}");
            let scratch = std::env::temp_dir().join(format!("rdb-tool-{label}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&scratch);
            std::fs::create_dir_all(&scratch).unwrap();
            let mut cfg = ConvertConfig::new(vdir.join("dump.rdb"), ConvertTo::Rdb);
            cfg.rdb_version = Some(target);
            cfg.drop_unsupported = true;
            let mut out = Vec::new();
            let report = convert(&cfg, &mut out).unwrap_or_else(|e| panic!("{label}: {e}"));
            std::fs::write(scratch.join("dump.rdb"), &out).unwrap();
            assert_eq!(&out[..9], format!("REDIS{target:04}").as_bytes());
            // The server's own checker agrees the file is sound.
            let checked =
                common::redis::debian_command("redis-check-rdb").arg(scratch.join("dump.rdb")).output().unwrap();
            let said = String::from_utf8_lossy(&checked.stdout);
            assert!(checked.status.success() && said.contains("RDB looks OK"), "{label}: redis-check-rdb:\n{said}");

            let server = start(&scratch, &label);
            let mut c = server.client().unwrap();
            let (keys, whole) = verify(&mut c, &expected, &report, target, &label);
            checked_keys += keys;
            whole_digests += u64::from(whole);
            drop(c);
            drop(server);
            let _ = std::fs::remove_dir_all(&scratch);
        }
    }
    assert!(checked_keys > 1000, "only {checked_keys} keys checked");
    assert!(whole_digests >= 4, "only {whole_digests} whole-file digests compared");
}

/// Check a server loaded from a conversion against the source's recorded
/// expectations; returns (keys checked, whether the whole digest was compared).
fn verify(c: &mut Client, expected: &Value, report: &ConvertReport, target: u32, label: &str) -> (u64, bool) {
    let server_version = expected["server"]["version"].as_str().unwrap().to_string();
    let mut checked_keys = 0;
    let dropped: Vec<(u64, Vec<u8>)> = report.dropped.iter().map(|(db, k, _)| (*db, k.clone())).collect();
    let mut per_db: BTreeMap<u64, i64> = BTreeMap::new();
    let mut expired = 0;
    // Expiry as the server sees it: it may run on another clock than the test.
    let now_ms = c.time_ms();
    for db in expected["dbs"].as_array().unwrap() {
        let n = db["db"].as_u64().unwrap();
        c.ok(&["SELECT".as_bytes(), n.to_string().as_bytes()]);
        for key in db["keys"].as_array().unwrap() {
            let name = bytes_of(&key["key"]);
            let shown = String::from_utf8_lossy(&name).into_owned();
            if dropped.contains(&(n, name.clone())) {
                assert!(needs_newer(key, target), "{label}: dropped {shown}, which RDB {target} can hold");
                continue;
            }
            assert!(!needs_newer(key, target), "{label}: {shown} needs a newer RDB but was kept");
            // Keys whose recorded TTL has passed since the corpus was made are
            // gone in any server started today.
            if key["expire_at_ms"].as_i64().is_some_and(|t| t <= now_ms + 5_000) {
                expired += 1;
                continue;
            }
            *per_db.entry(n).or_default() += 1;
            let ty = key["type"].as_str().unwrap();
            assert_eq!(c.cmd(&[b"TYPE".as_slice(), &name]), Reply::Status(ty.into()), "{label}: type of {shown}");
            let want_exp = key["expire_at_ms"].as_i64().unwrap_or(-1);
            assert_eq!(c.cmd(&[b"PEXPIRETIME".as_slice(), &name]), Reply::Int(want_exp), "{label}: expiry of {shown}");
            let digest = c.cmd(&[b"DEBUG".as_slice(), b"DIGEST-VALUE", &name]).array()[0].bytes();
            let want = key["digest_value"].as_str().unwrap().as_bytes();
            let lossy_stream = report.notes.iter().any(|note| note.contains(&format!("key \"{shown}\"")));
            if ty == "zset" && !digests_like_7_0(&server_version) {
                // 7.2+ hash scores with another text form: compare the data.
                let got = c.cmd(&[b"ZRANGE".as_slice(), &name, b"0", b"-1", b"WITHSCORES"]).array();
                let want: Vec<(Vec<u8>, f64)> = key["value"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| (bytes_of(&p[0]), p[1].as_str().unwrap().parse().unwrap()))
                    .collect();
                let got: Vec<(Vec<u8>, f64)> = got
                    .chunks(2)
                    .map(|p| (p[0].bytes(), String::from_utf8(p[1].bytes()).unwrap().parse().unwrap()))
                    .collect();
                assert_eq!(got, want, "{label}: members and scores of {shown}");
            } else if lossy_stream {
                // IDMP state / NACKed entries were left out (and reported):
                // the entries themselves must all be there.
                let got = c.cmd(&[b"XLEN".as_slice(), &name]);
                assert_eq!(got, Reply::Int(key["value"]["length"].as_i64().unwrap()), "{label}: XLEN {shown}");
            } else {
                assert_eq!(digest, want, "{label}: DEBUG DIGEST-VALUE of {shown} ({ty})");
            }
            checked_keys += 1;
        }
    }
    for (db, n) in &per_db {
        c.ok(&["SELECT".as_bytes(), db.to_string().as_bytes()]);
        assert_eq!(c.cmd(&["DBSIZE"]), Reply::Int(*n), "{label}: keys in db {db}");
    }
    // Notes about functions do not touch the keyspace; notes about keys do.
    let keys_intact = dropped.is_empty() && !report.notes.iter().any(|n| n.contains(" key \""));
    let whole = keys_intact && expired == 0 && digests_like_7_0(&server_version);
    if whole {
        let digest = c.cmd(&["DEBUG", "DIGEST"]).bytes();
        assert_eq!(digest, expected["digest"].as_str().unwrap().as_bytes(), "{label}: DEBUG DIGEST");
    }
    // Functions survive to RDB 10 / Redis 7.0; older targets cannot hold them.
    if let Some(libs) = expected["functions"].as_array().filter(|l| !l.is_empty()) {
        let listed = c.cmd(&["FUNCTION", "LIST"]).array();
        let want = if target >= 10 { libs.len() } else { 0 };
        assert_eq!(listed.len(), want, "{label}: function libraries");
    }
    (checked_keys, whole)
}

/// The AOF and RESP outputs, each loaded the way a user would: `--to resp`
/// through `redis-cli --pipe` into an empty server, `--to aof` as the
/// `appendonly.aof` a 7.0 server upgrades from, `--to aof-dir` as its
/// `appendonlydir` (with and without an RDB preamble).
#[test]
fn corpus_snapshots_as_resp_and_aof_rebuild_the_same_data_in_redis_7_0() {
    let mut checked = 0;
    for vdir in common::version_dirs() {
        let version_name = vdir.file_name().unwrap().to_string_lossy().into_owned();
        let expected = common::read_json(&vdir.join("expected-main.json"));
        for (mode, preamble) in
            [("resp", false), ("resp-restore", false), ("aof", false), ("aof-dir", false), ("aof-dir", true)]
        {
            let label = format!("to-{mode}{}-{version_name}", if preamble { "-preamble" } else { "" });
            let scratch = std::env::temp_dir().join(format!("rdb-tool-{label}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&scratch);
            std::fs::create_dir_all(&scratch).unwrap();
            let to = match mode {
                "resp" | "resp-restore" => ConvertTo::Resp,
                "aof" => ConvertTo::Aof,
                _ => ConvertTo::AofDir,
            };
            let mut cfg = ConvertConfig::new(vdir.join("dump.rdb"), to);
            cfg.rdb_version = Some(10);
            cfg.drop_unsupported = true;
            cfg.rdb_preamble = preamble;
            cfg.restore = (mode == "resp-restore").then_some(false);
            let report = if mode == "aof-dir" {
                convert_to_dir(&cfg, &scratch.join("appendonlydir")).unwrap_or_else(|e| panic!("{label}: {e}"))
            } else {
                let mut out = Vec::new();
                let report = convert(&cfg, &mut out).unwrap_or_else(|e| panic!("{label}: {e}"));
                let file = if mode == "aof" { "appendonly.aof" } else { "commands.resp" };
                std::fs::write(scratch.join(file), out).unwrap();
                report
            };
            let dir = scratch.canonicalize().unwrap().display().to_string();
            let server = if mode.starts_with("resp") {
                let server = Server::start(&label, &["--dir", &dir, "--enable-debug-command", "yes"]);
                if let Err(out) = server.pipe(&scratch.join("commands.resp")) {
                    panic!("{label}: redis-cli --pipe reported errors:\n{out}");
                }
                server
            } else {
                Server::start(&label, &["--dir", &dir, "--appendonly", "yes", "--enable-debug-command", "yes"])
            };
            let mut c = server.client().unwrap();
            checked += verify(&mut c, &expected, &report, 10, &label).0;
            drop(c);
            drop(server);
            let _ = std::fs::remove_dir_all(&scratch);
        }
    }
    assert!(checked > 2000, "only {checked} keys checked");
}

/// AOF → RDB: every AOF fixture (single file, preamble, multi-part) replayed by
/// our keyspace model and written as RDB 10; the real 7.0 server loading it
/// holds what the source server held after loading the AOF (per-key digests,
/// types, expiries; the whole digest where comparable).
#[test]
fn corpus_aofs_replayed_to_rdb_load_in_redis_7_0_as_recorded() {
    let mut checked = 0;
    let mut sets = 0;
    for vdir in common::version_dirs() {
        let version_name = vdir.file_name().unwrap().to_string_lossy().into_owned();
        for fixture in ["aof-plain", "aof-preamble", "aof-plain-ts", "aof-multi-incr"] {
            let dir = vdir.join(fixture);
            if !dir.is_dir() {
                continue;
            }
            let input =
                if dir.join("appendonlydir").is_dir() { dir.join("appendonlydir") } else { dir.join("appendonly.aof") };
            let expected = common::read_json(&dir.join("expected.json"));
            let label = format!("replay-{version_name}-{fixture}");
            let mut cfg = ConvertConfig::new(&input, ConvertTo::Rdb);
            cfg.rdb_version = Some(10);
            cfg.drop_unsupported = true;
            let mut out = Vec::new();
            let report = match convert(&cfg, &mut out) {
                Ok(r) => r,
                // Commands of newer servers the model does not replay yet.
                Err(e) if matches!(e.kind, rdb_tool::error::ErrorKind::Unsupported(_)) => {
                    eprintln!("{label}: not replayed: {e}");
                    continue;
                }
                Err(e) => panic!("{label}: {e}"),
            };
            let scratch = std::env::temp_dir().join(format!("rdb-tool-{label}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&scratch);
            std::fs::create_dir_all(&scratch).unwrap();
            std::fs::write(scratch.join("dump.rdb"), &out).unwrap();
            let server = start(&scratch, &label);
            let mut c = server.client().unwrap();
            checked += verify(&mut c, &expected, &report, 10, &label).0;
            sets += 1;
            drop(c);
            drop(server);
            let _ = std::fs::remove_dir_all(&scratch);
        }
    }
    assert!(sets >= 29, "only {sets} AOFs replayed (every corpus AOF must)");
    assert!(checked > 1000, "only {checked} keys checked");
}
