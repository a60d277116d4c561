//! Classes of files found in the wild (other projects' repositories, old and
//! foreign writers), each built here by hand from the format and judged by a
//! real server: what the server loads, we read as it reads it.

mod common;

use common::redis::{Kind, Reply, Server};
use rdb_tool::cmd::check::{check_file, Verdict};
use rdb_tool::cmd::dump::{dump, DumpConfig, DumpFormat};
use rdb_tool::event::ReaderOptions;
use serde_json::Value;

/// A short string as the RDB stores it (6-bit length).
fn s(text: &str) -> Vec<u8> {
    assert!(text.len() < 64);
    let mut out = vec![text.len() as u8];
    out.extend_from_slice(text.as_bytes());
    out
}

/// `REDIS00nn`, the records, EOF and the CRC-64.
fn rdb(version: u32, records: &[Vec<u8>]) -> Vec<u8> {
    let mut out = format!("REDIS{version:04}").into_bytes();
    for r in records {
        out.extend_from_slice(r);
    }
    out.push(0xff);
    let crc = crc_fast::checksum(crc_fast::CrcAlgorithm::Crc64Redis, &out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

fn aux(key: &str, value: &str) -> Vec<u8> {
    [vec![0xfa], s(key), s(value)].concat()
}

fn string_key(key: &str, value: &str) -> Vec<u8> {
    [vec![0x00], s(key), s(value)].concat()
}

/// Year 2100 in Unix ms: in the future on any clock the suite runs under.
const FAR_MS: i64 = 4_102_444_800_000;

fn dump_lines(path: &std::path::Path) -> Vec<Value> {
    let mut out = Vec::new();
    dump(&DumpConfig::new(path, DumpFormat::Jsonl), &mut out).unwrap();
    String::from_utf8(out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

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

/// Cutting such a file into segments read in parallel (`check` on large
/// maps) gives the sequential report: a cut between an expiry and its key
/// is never confirmed, since the reader after it would not know the expiry.
#[test]
fn carried_key_attributes_survive_segmented_checks() {
    let scratch = common::Scratch::new("wild-carried-segments");
    let file = scratch.0.join("dump.rdb");
    let mut records = vec![aux("redis-ver", "6.2.0"), vec![0xfe, 0x00]];
    for i in 0..3000 {
        if i % 2 == 0 {
            records.push([vec![0xfc], (FAR_MS + i).to_le_bytes().to_vec()].concat());
            records.push(aux("mvcc-tstamp", &format!("{}", 1_645_954_001_566_433_280u64 + i as u64)));
        }
        records.push(string_key(&format!("key:{i}"), "value"));
    }
    std::fs::write(&file, rdb(9, &records)).unwrap();
    let segmented = ReaderOptions { segment_bytes: 256, ..Default::default() };
    let sequential = ReaderOptions { segment_bytes: u64::MAX, ..Default::default() };
    let a = check_file(&file, segmented, Some(0));
    let b = check_file(&file, sequential, Some(0));
    assert_eq!(b.verdict(), Verdict::Valid, "{:?}", b.error);
    assert_eq!((b.keys, b.expires), (3000, 1500));
    assert!(format!("{a:?}") == format!("{b:?}"), "segmented: {:?} keys, {} expires", a.error, a.expires);
    for (i, k) in dump_lines(&file).iter().enumerate() {
        let want = (i % 2 == 0).then_some(FAR_MS + i as i64);
        assert_eq!(k["expire_at_ms"].as_i64(), want, "{k}");
    }
}
