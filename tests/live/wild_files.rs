//! Classes of files found in the wild (other projects' repositories, old and
//! foreign writers), each built here by hand from the format and judged by a
//! real server: what the server loads, we read as it reads it. (What needs no
//! judge: hermetic::wild_files.)

use crate::common;

use common::build::{aux, rdb, s, string_key, FAR_MS};
use common::records::dump_lines;
use common::redis::{Kind, Reply, Server};
use rdb_tool::cmd::check::{check_file, Verdict};
use rdb_tool::error::{ErrorKind, Integrity};
use rdb_tool::event::ReaderOptions;
use serde_json::Value;

/// KeyDB writes an AUX record (`mvcc-tstamp`) between a key's EXPIRETIME_MS
/// and the key. The loader keeps an expiry, LRU idle time or LFU counter
/// across any record until a key takes it (rdb.c `rdbLoadRioWithLoadingCtx`
/// resets them only after a key): here across an AUX, a SELECTDB and a
/// RESIZEDB. Redis 7.0 and 6.2 load the file with those attributes on the
/// keys that follow.
#[test]
fn key_attributes_carry_across_records_to_their_key_as_the_loader_carries_them() {
    let scratch = common::Scratch::new("wild-carried-prefix");
    let file = scratch.0.join("dump.rdb");
    let records = vec![
        aux("redis-ver", "6.2.0"),
        vec![0xfe, 0x00],
        vec![0xfb, 0x02, 0x01],
        [vec![0xfc], FAR_MS.to_le_bytes().to_vec()].concat(),
        aux("mvcc-tstamp", "1645954001566433280"),
        string_key("carried", "v"),
        string_key("plain", "v"),
        // An LRU idle time, then a database switch, then its key.
        vec![0xf8, 0x3f],
        vec![0xfe, 0x01],
        vec![0xfb, 0x01, 0x00],
        string_key("idle", "v"),
    ];
    std::fs::write(&file, rdb(9, &records)).unwrap();

    let report = check_file(&file, ReaderOptions::default(), Some(0));
    assert_eq!(report.verdict(), Verdict::Valid, "{:?}", report.error);
    assert_eq!(report.keys, 3);
    assert_eq!(report.expires, 1);
    let keys = dump_lines(&file);
    assert_eq!(keys[0]["key"], "carried");
    assert_eq!(keys[0]["expire_at_ms"], FAR_MS);
    assert!(keys[1].get("expire_at_ms").is_none(), "taken by the key before: {}", keys[1]);
    assert_eq!((keys[2]["db"].as_u64(), keys[2]["idle_s"].as_u64()), (Some(1), Some(0x3f)));

    // The judges.
    for kind in [Kind::Redis70, Kind::Redis62] {
        let dir = scratch.0.join(format!("{kind:?}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(&file, dir.join("dump.rdb")).unwrap();
        let d = dir.canonicalize().unwrap().display().to_string();
        let server = Server::start_kind(kind, &format!("wild-carried-{kind:?}"), &["--dir", &d]);
        let mut c = server.client().unwrap();
        assert_eq!(c.cmd(&["DBSIZE"]), Reply::Int(2), "{kind:?}");
        let ttl_error = c.cmd(&["PTTL", "carried"]).int() - (FAR_MS - c.time_ms());
        assert!(ttl_error.abs() < 5_000, "{kind:?}: the expiry is not the carried one ({ttl_error} ms off)");
        assert_eq!(c.cmd(&["PTTL", "plain"]), Reply::Int(-1), "{kind:?}");
        c.ok(&["SELECT", "1"]);
        let idle = c.cmd(&["OBJECT", "IDLETIME", "idle"]).int();
        assert!((0x3f..0x3f + 60).contains(&idle), "{kind:?}: idle {idle}");
    }
}

/// An empty ziplist (`zlbytes`, `zltail`, `zllen` 0, end byte) as an RDB string.
fn empty_ziplist() -> Vec<u8> {
    let mut zl = 11u32.to_le_bytes().to_vec();
    zl.extend_from_slice(&10u32.to_le_bytes());
    zl.extend_from_slice(&0u16.to_le_bytes());
    zl.push(0xff);
    [vec![zl.len() as u8], zl].concat()
}

/// Old writers left lists, sets, sorted sets and hashes with no element
/// (redis #8453). The server loads such a file and skips them ("empty keys
/// skipped"); so `check` passes it and counts them, `dump`, `convert` and
/// `diff` leave them out, and nothing we write holds one.
fn file_with_empty_keys() -> Vec<u8> {
    let typed = |ty: u8, key: &str, body: Vec<u8>| [vec![ty], s(key), body].concat();
    rdb(
        9,
        &[
            aux("redis-ver", "6.2.0"),
            vec![0xfe, 0x00],
            typed(1, "list", vec![0]),
            typed(2, "set", vec![0]),
            typed(3, "zset", vec![0]),
            typed(4, "hash", vec![0]),
            typed(5, "zset2", vec![0]),
            typed(10, "list_ziplist", empty_ziplist()),
            typed(12, "zset_ziplist", empty_ziplist()),
            typed(13, "hash_ziplist", empty_ziplist()),
            typed(14, "list_quicklist", vec![0]),
            typed(14, "list_quicklist_empty_ziplist", [vec![1], empty_ziplist()].concat()),
            string_key("kept", "v"),
        ],
    )
}

const EMPTY_KEYS: u64 = 10;

#[test]
fn empty_keys_are_skipped_as_the_server_skips_them() {
    let scratch = common::Scratch::new("wild-empty-keys");
    let file = scratch.0.join("dump.rdb");
    std::fs::write(&file, file_with_empty_keys()).unwrap();

    let report = check_file(&file, ReaderOptions::default(), Some(0));
    assert_eq!(report.verdict(), Verdict::Valid, "{:?}", report.error);
    assert_eq!((report.keys, report.empty_keys), (1, EMPTY_KEYS));
    let keys = dump_lines(&file);
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert_eq!(keys[0]["key"], "kept");

    let tool = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_rdb-tool")).args(args).output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let path = file.to_str().unwrap();
    let (code, _, err) = tool(&["dump", path]);
    assert_eq!(code, Some(0));
    assert!(err.contains(&format!("{EMPTY_KEYS} empty keys")), "dump says so: {err}");
    let (code, out, _) = tool(&["diff", path, path]);
    assert_eq!(code, Some(0), "{out}");

    // Every conversion leaves them out, says so, and the judges load it.
    for (target, kind) in [("10", Kind::Redis70), ("9", Kind::Redis62)] {
        let dir = scratch.0.join(format!("v{target}"));
        std::fs::create_dir_all(&dir).unwrap();
        let converted = dir.join("dump.rdb");
        let (code, _, err) =
            tool(&["convert", path, "--to", "rdb", "--rdb-version", target, "-o", converted.to_str().unwrap()]);
        assert_eq!(code, Some(0), "{err}");
        assert!(err.contains(&format!("{EMPTY_KEYS} empty keys")), "convert says so: {err}");
        let back = check_file(&converted, ReaderOptions::default(), Some(0));
        assert_eq!((back.verdict(), back.keys, back.empty_keys), (Verdict::Valid, 1, 0), "{:?}", back.error);
        let (code, out, _) = tool(&["diff", path, converted.to_str().unwrap()]);
        assert_eq!(code, Some(0), "the server holds the same: {out}");
        for source in [&file, &converted] {
            let judge = scratch.0.join(format!("judge-{target}"));
            let _ = std::fs::remove_dir_all(&judge);
            std::fs::create_dir_all(&judge).unwrap();
            std::fs::copy(source, judge.join("dump.rdb")).unwrap();
            let d = judge.canonicalize().unwrap().display().to_string();
            let server = Server::start_kind(kind, &format!("wild-empty-{target}"), &["--dir", &d]);
            let mut c = server.client().unwrap();
            assert_eq!(c.cmd(&["DBSIZE"]), Reply::Int(1), "{kind:?} loading {}", source.display());
            assert_eq!(c.cmd(&["GET", "kept"]), Reply::Bulk(Some(b"v".to_vec())));
        }
    }
    // Commands for redis-cli --pipe: none creates an empty key.
    let (code, out, _) = tool(&["convert", path, "--to", "resp"]);
    assert_eq!(code, Some(0));
    assert_eq!(out.matches("$3\r\nSET\r\n").count(), 1, "{out:?}");
    assert!(!out.contains("list") && !out.contains("zset"), "{out:?}");
}

/// `dump` of a damaged file: the records before the fault, each whole, and
/// nothing of the record that is damaged (exit 1). An empty zipmap is such
/// damage: unlike the empty collections above, the server refuses it
/// ("Zipmap integrity check failed").
#[test]
fn dump_of_a_damaged_file_writes_whole_records_only() {
    let scratch = common::Scratch::new("wild-dump-damaged");
    let file = scratch.0.join("dump.rdb");
    let zipmap_empty = vec![2, 0x00, 0xff];
    let records = vec![
        vec![0xfe, 0x00],
        string_key("before", "v"),
        [vec![9], s("hash_zipmap"), zipmap_empty].concat(),
        string_key("after", "v"),
    ];
    std::fs::write(&file, rdb(9, &records)).unwrap();
    assert_eq!(check_file(&file, ReaderOptions::default(), Some(0)).verdict(), Verdict::Damaged);
    for format in ["jsonl", "json"] {
        let out = scratch.0.join(format!("out.{format}"));
        let status = std::process::Command::new(env!("CARGO_BIN_EXE_rdb-tool"))
            .args(["dump", file.to_str().unwrap(), "--format", format, "-o", out.to_str().unwrap()])
            .status()
            .unwrap();
        assert_eq!(status.code(), Some(1));
        let text = std::fs::read_to_string(&out).unwrap();
        assert!(!text.contains("hash_zipmap"), "{format}: a partial record: {text:?}");
        assert!(text.contains("\"before\""), "{format}: {text:?}");
        if format == "jsonl" {
            for line in text.lines() {
                serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
            }
        }
    }
    // The judge refuses the file.
    let said = refused_by_redis_7_0(&file, &scratch.0.join("judge")).expect("Redis 7.0 loaded it");
    assert!(said.contains("Zipmap integrity check failed"), "{said}");
}

/// The MODULE_AUX records of a file, as (module, when, raw bytes).
fn module_aux_records(path: &std::path::Path) -> Vec<(String, u64, Vec<u8>)> {
    let mut input = rdb_tool::input::Input::open(path).unwrap();
    let mut reader = rdb_tool::event::RdbReader::new(&mut input, ReaderOptions::default());
    let mut out = Vec::new();
    while let Some(ev) = reader.next().unwrap() {
        if let rdb_tool::event::Event::ModuleAux { module, when, raw, .. } = ev {
            out.push((module, when, raw.to_vec()));
        }
    }
    out
}

/// Module data outside the keyspace (RediSearch indexes, RedisGraph graphs,
/// in MODULE_AUX records) is copied raw wherever the target can hold it, and
/// otherwise refused naming the module, or left out and reported with
/// `--drop-unsupported`. A server without the module refuses the original:
/// it must refuse the conversion too, not load it without the index.
#[test]
fn module_aux_records_survive_conversion_or_are_refused_by_name() {
    let scratch = common::Scratch::new("wild-module-aux");
    let tool = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_rdb-tool")).args(args).output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let mut copied = 0;
    for (name, version) in [
        ("redis_module_aux.rdb", "11"),
        ("redis_module_aux_empty.rdb", "12"),
        ("redis_module_aux_v12.rdb", "12"),
        ("sripathikrishnan_redis_60_with_module_aux.rdb", "9"),
    ] {
        let source = std::path::Path::new("testdata/rdb/peers").join(name);
        let want = module_aux_records(&source);
        assert!(!want.is_empty(), "{name}");
        for target in [version, "10", "11", "80"] {
            let out = scratch.0.join(format!("{name}-{target}.rdb"));
            let (code, err) = tool(&[
                "convert",
                source.to_str().unwrap(),
                "--to",
                "rdb",
                "--rdb-version",
                target,
                "-o",
                out.to_str().unwrap(),
            ]);
            assert_eq!(code, Some(0), "{name} to {target}: {err}");
            assert_eq!(module_aux_records(&out), want, "{name} to {target}");
            copied += 1;
        }
        // RDB 8 has no MODULE_AUX; commands cannot carry it.
        for args in [vec!["--to", "rdb", "--rdb-version", "8"], vec!["--to", "resp"]] {
            let out = scratch.0.join(format!("{name}-refused"));
            let _ = std::fs::remove_file(&out);
            let mut full = vec!["convert", source.to_str().unwrap(), "-o", out.to_str().unwrap()];
            full.extend(&args);
            let (code, err) = tool(&full);
            assert_eq!(code, Some(3), "{name} {args:?}: {err}");
            assert!(err.contains(&want[0].0), "{name} {args:?}: the module is named: {err}");
            assert!(!out.exists(), "no output left behind");
            full.push("--drop-unsupported");
            let (code, err) = tool(&full);
            assert_eq!(code, Some(0), "{name} {args:?} --drop-unsupported: {err}");
            assert!(err.contains("module aux data of module"), "{name}: reported: {err}");
        }
    }
    assert_eq!(copied, 16);

    // The judge: Redis 7.0 without the module refuses the original and the
    // conversion alike.
    let source = std::path::Path::new("testdata/rdb/peers/sripathikrishnan_redis_60_with_module_aux.rdb");
    let converted = scratch.0.join("sripathikrishnan_redis_60_with_module_aux.rdb-10.rdb");
    for (label, file) in [("original", source), ("converted", converted.as_path())] {
        let said = refused_by_redis_7_0(file, &scratch.0.join(format!("judge-{label}")));
        assert!(said.as_deref().is_some_and(|s| s.contains("AUX module data")), "{label}: {said:?}");
    }
}

/// Start Debian's Redis 7.0 on `file`; its log when it refuses to load it.
fn refused_by_redis_7_0(file: &std::path::Path, dir: &std::path::Path) -> Option<String> {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::copy(file, dir.join("dump.rdb")).unwrap();
    let d = dir.canonicalize().unwrap().display().to_string();
    let log = dir.join("probe.log");
    let mut child = common::redis::debian_command("redis-server")
        .args(["--port", "0", "--save", "", "--daemonize", "no", "--unixsocket"])
        .arg(dir.join("probe.sock"))
        .args(["--dir", &d, "--logfile"])
        .arg(&log)
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(!status.success());
            return Some(std::fs::read_to_string(&log).unwrap());
        }
        let said = std::fs::read_to_string(&log).unwrap_or_default();
        if said.to_ascii_lowercase().contains("ready to accept connections") {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("redis-server neither loaded nor refused:\n{said}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// The same key twice in one database: Redis 7.0 refuses the file
/// ("Duplicated key found in RDB file"). `check` reports it as integrity
/// damage with the key and both offsets, in bounded memory (hashes spilled
/// by partition) and alike when the file is cut into segments; `convert`
/// writes nothing; `diff F F` says "same". A copy already expired does not
/// count: a primary drops it before adding the key, and loads the file.
#[test]
fn duplicate_keys_are_damage_as_the_server_judges_them() {
    let scratch = common::Scratch::new("wild-duplicates");
    let file = scratch.0.join("dup.rdb");
    std::fs::write(&file, common::build::file_with_a_duplicate_key()).unwrap();
    let second = std::fs::metadata(&file).unwrap().len() - 8 - 1 - string_key("key:17", "again").len() as u64;

    for segment_bytes in [u64::MAX, 256] {
        let opts = ReaderOptions { segment_bytes, ..Default::default() };
        let r = check_file(&file, opts, Some(0));
        let e = r.error.as_ref().unwrap_or_else(|| panic!("segments {segment_bytes}: no error"));
        assert_eq!(e.kind, ErrorKind::Integrity(Integrity::DuplicateKey), "{e}");
        assert_eq!(e.offset, Some(second), "{e}");
        assert_eq!(e.key.as_deref(), Some(b"key:17".as_slice()), "{e}");
        assert!(e.to_string().contains("the same key as at offset"), "{e}");
    }
    let log = refused_by_redis_7_0(&file, &scratch.0.join("judge-dup")).expect("Redis 7.0 loaded a duplicate key");
    assert!(log.contains("Duplicated key"), "{log}");

    let tool = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_rdb-tool")).args(args).output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let path = file.to_str().unwrap();
    let out = scratch.0.join("converted.rdb");
    let (code, err) = tool(&["convert", path, "--to", "rdb", "-o", out.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("duplicate key") && !out.exists(), "{err}");
    assert_eq!(tool(&["diff", path, path]).0, Some(0));
    // Its JSON dump converted back: hermetic::regression::duplicate_key_in_json_dump_is_refused.

    // One copy already expired: loaded, and valid for us.
    let expired = [vec![0xfc], 1000i64.to_le_bytes().to_vec(), string_key("k", "expired")].concat();
    let file = scratch.0.join("dup-expired.rdb");
    std::fs::write(&file, rdb(9, &[vec![0xfe, 0x00], expired, string_key("k", "live")])).unwrap();
    let r = check_file(&file, ReaderOptions::default(), None);
    assert_eq!(r.verdict(), Verdict::Valid, "{:?}", r.error);
    assert_eq!(refused_by_redis_7_0(&file, &scratch.0.join("judge-expired")), None, "Redis 7.0 loads it");
}

/// A pending ID listed twice by one consumer, or by two consumers: no server
/// writes either. Every server refuses the first ("Duplicated consumer PEL
/// entry"). The second splits them: Redis 6.2 and Valkey 8.1 load it, one
/// pending entry shared by both lists; Redis 7.0.15 and Valkey 9.1 refuse it.
/// `check` calls both damage, as the newer servers do: a file that a current
/// server refuses is not one to migrate with. Each judge runs on the same
/// RDB 9 bytes, which all four load when the lists are sound.
#[test]
fn a_pending_id_in_two_consumer_lists_is_damage_as_current_servers_judge_it() {
    use common::build::stream_with_consumer_pels;
    let scratch = common::Scratch::new("wild-consumer-pels");
    let cases = [
        ("sound", stream_with_consumer_pels(9, &[("c1", &[1]), ("c2", &[2])]), None, [true; 4]),
        (
            "twice-in-one",
            stream_with_consumer_pels(9, &[("c1", &[1, 1]), ("c2", &[2])]),
            Some(Integrity::StreamDuplicateConsumerPelId),
            [false; 4],
        ),
        (
            "shared",
            stream_with_consumer_pels(9, &[("c1", &[1]), ("c2", &[1, 2])]),
            Some(Integrity::StreamPelEntrySharedByConsumers),
            [true, false, true, false],
        ),
    ];
    let judges = [Kind::Redis62, Kind::Redis70, Kind::Valkey81, Kind::Valkey91];
    for (label, bytes, damage, loads) in cases {
        let file = scratch.0.join(format!("{label}.rdb"));
        std::fs::write(&file, &bytes).unwrap();
        for (kind, loads) in judges.into_iter().zip(loads) {
            let dir = scratch.0.join(format!("{label}-{kind:?}"));
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::copy(&file, dir.join("dump.rdb")).unwrap();
            let d = dir.display().to_string();
            let started = Server::try_start_kind(kind, &format!("pel-{label}"), &["--dir", &d]);
            assert_eq!(started.is_ok(), loads, "{label} on {kind:?}: {:?}", started.err());
        }
        let report = check_file(&file, ReaderOptions::default(), Some(0));
        match damage {
            None => assert_eq!(report.verdict(), Verdict::Valid, "{label}"),
            Some(kind) => {
                assert_eq!(report.verdict(), Verdict::Damaged, "{label}");
                let e = report.error.expect("damaged");
                assert_eq!(e.kind, ErrorKind::Integrity(kind), "{label}: {e}");
                assert_eq!(e.key.as_deref(), Some(&b"s"[..]), "{label}: {e}");
            }
        }
    }
}
