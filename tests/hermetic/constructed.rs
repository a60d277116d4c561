//! RDB files built byte by byte from the annotated layouts in `docs/format/`
//! (newer.md, modules.md, stream.md), for formats no server here can write: Redis
//! 8.10 hash templates (RDB 15), Valkey 9 SLOT_IMPORT, the worked ARRAY and
//! KEY_META examples. Each test states the bytes and what they must decode to.

use rdb_tool::cmd::check::{check_input, Verdict};
use rdb_tool::cmd::dump::{dump_input, DumpConfig, DumpFormat};
use rdb_tool::error::{ErrorKind, Integrity};
use rdb_tool::event::{Event, RdbReader};
use rdb_tool::input::Input;
use serde_json::{json, Value};

/// Header + body + EOF + CRC-64/Jones trailer.
fn rdb(magic: &[u8], body: &[u8]) -> Vec<u8> {
    let mut f = magic.to_vec();
    f.extend_from_slice(body);
    f.push(0xff);
    let crc = crc_fast::checksum(crc_fast::CrcAlgorithm::Crc64Redis, &f);
    f.extend_from_slice(&crc.to_le_bytes());
    f
}

fn input(bytes: &[u8]) -> Input {
    Input::from_reader("constructed.rdb", std::io::Cursor::new(bytes.to_vec()))
}

/// Dump to JSON records.
fn dump(bytes: &[u8]) -> Vec<Value> {
    let cfg = DumpConfig::new(std::path::PathBuf::new(), DumpFormat::Jsonl);
    let mut out = Vec::new();
    dump_input(&mut input(bytes), None, &cfg, &mut out).expect("dump");
    String::from_utf8(out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn assert_valid(bytes: &[u8]) {
    let r = check_input(&mut input(bytes), Some(bytes.len() as u64), Default::default(), Some(0));
    assert_eq!(r.verdict(), Verdict::Valid, "{:?}", r.error.map(|e| e.to_string()));
}

#[test]
fn crc_is_crc64_jones() {
    // The check value the brief gives for crc-fast's Crc64Redis.
    assert_eq!(crc_fast::checksum(crc_fast::CrcAlgorithm::Crc64Redis, b"123456789"), 0xe9c6d914c4b8d9ca);
}

#[test]
fn hash_templates_rdb15_reference_forms() {
    // docs/format/newer.md, "Hash templates", the file example: template 0 =
    // {name, email} (length order), k1 as TMPL_LP_REF with listpack
    // [0, "alice", "a@x"], k2 as TMPL_ARRAY_REF.
    let mut body = vec![0xf2, 0x00, 0x02, 0x04];
    body.extend_from_slice(b"name");
    body.push(0x05);
    body.extend_from_slice(b"email");
    body.extend_from_slice(&[0xfe, 0x00]);
    body.extend_from_slice(&[0x1e, 0x02, b'k', b'1', 0x15]);
    body.extend_from_slice(&[0x15, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x01, 0x85]);
    body.extend_from_slice(b"alice");
    body.extend_from_slice(&[0x06, 0x83]);
    body.extend_from_slice(b"a@x");
    body.extend_from_slice(&[0x04, 0xff]);
    body.extend_from_slice(&[0x20, 0x02, b'k', b'2', 0x00, 0x05]);
    body.extend_from_slice(b"alice");
    body.push(0x03);
    body.extend_from_slice(b"a@x");
    let file = rdb(b"REDIS0015", &body);
    let recs = dump(&file);
    assert_eq!(recs.len(), 2);
    for (r, key) in recs.iter().zip(["k1", "k2"]) {
        assert_eq!(r["key"], key);
        assert_eq!(r["type"], "hash");
        assert_eq!(r["value"], json!({"name": "alice", "email": "a@x"}));
    }
    assert_valid(&file);
}

#[test]
fn hash_templates_self_contained_forms_from_redis_dump_payloads() {
    // The DUMP payload bodies in docs/format/newer.md, "Hash templates" (fields
    // field1, field2; values 1, 2), stored as keys of an RDB 15 file.
    let mut body = vec![0xfe, 0x00, 0x1d, 0x01, b'a', 0x00, 0x17];
    body.extend_from_slice(&[0x17, 0x00, 0x00, 0x00, 0x02, 0x00, 0x86]);
    body.extend_from_slice(b"field1");
    body.extend_from_slice(&[0x07, 0x86]);
    body.extend_from_slice(b"field2");
    body.extend_from_slice(&[0x07, 0xff, 0x0d]);
    body.extend_from_slice(&[0x0d, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x01, 0x01, 0x01, 0x02, 0x01, 0xff]);
    body.extend_from_slice(&[0x1f, 0x01, b'b', 0x01, 0x02, 0x06]);
    body.extend_from_slice(b"field1");
    body.push(0x06);
    body.extend_from_slice(b"field2");
    body.extend_from_slice(&[0xc0, 0x01, 0xc0, 0x02]);
    let file = rdb(b"REDIS0015", &body);
    let recs = dump(&file);
    assert_eq!(recs.len(), 2);
    for r in &recs {
        assert_eq!(r["value"], json!({"field1": "1", "field2": "2"}), "{r}");
    }
    assert_valid(&file);
}

#[test]
fn template_reference_to_an_unknown_template_is_damage() {
    let body = [0xfe, 0x00, 0x20, 0x01, b'k', 0x07, 0x01, b'v'];
    let file = rdb(b"REDIS0015", &body);
    let r = check_input(&mut input(&file), None, Default::default(), Some(0));
    assert_eq!(r.verdict(), Verdict::Damaged);
    assert!(r.error.unwrap().to_string().contains("unknown template"));
}

#[test]
fn array_worked_example() {
    // docs/format/newer.md, "ARRAY": key a, cursor 9, 0 -> "hello" (SMALLSTR),
    // 5 -> 42 (INT), 7 -> 1.5 (FLOAT), 9 -> "a-long-str" (SDS).
    let mut body = vec![0xfe, 0x00, 0x1c, 0x01, b'a', 0x04, 0x01, 0x09, 0x00, 0x03, 0x05];
    body.extend_from_slice(b"hello");
    body.extend_from_slice(&[0x05, 0x01, 0x2a, 0, 0, 0, 0, 0, 0, 0]);
    body.extend_from_slice(&[0x07, 0x02, 0, 0, 0, 0, 0, 0, 0xf8, 0x3f]);
    body.extend_from_slice(&[0x09, 0x00, 0x0a]);
    body.extend_from_slice(b"a-long-str");
    let file = rdb(b"REDIS0014", &body);
    let recs = dump(&file);
    assert_eq!(recs[0]["type"], "array");
    assert_eq!(
        recs[0]["value"],
        json!({"elements": [[0, "hello"], [5, "42"], [7, "1.5"], [9, "a-long-str"]], "count": 4, "len": 10, "cursor": 9})
    );
    assert_valid(&file);
}

#[test]
fn key_meta_worked_example() {
    // docs/format/modules.md, "Key metadata": class KMT1 v1 ALLOW_IGNORE, value
    // UINT 42, key k = v.
    let body = [0xfe, 0x00, 0xf3, 0x01, 0x09, 0xf5, 0xc4, 0x28, 0x02, 0x2a, 0x00, 0x00, 0x01, b'k', 0x01, b'v'];
    let file = rdb(b"REDIS0013", &body);
    let recs = dump(&file);
    assert_eq!(recs[0]["key"], "k");
    assert_eq!(recs[0]["value"], "v");
    // The class's typed values, raw: UINT 42, EOF; version 1, flags 1 (ALLOW_IGNORE).
    assert_eq!(recs[0]["key_meta"], json!([["KMT1", "\u{2}*\u{0}", 1, 1]]));
    assert_valid(&file);
}

#[test]
fn valkey_slot_import_and_hash2() {
    // docs/format/newer.md, "Valkey SLOT_IMPORT": a 40-byte job name and one
    // range 0-100, then a HASH_2 ("Valkey HASH_2") with one TTL field and one
    // without.
    let mut body = vec![0xf3, 0x28];
    body.extend_from_slice(&[b'j'; 40]);
    body.extend_from_slice(&[0x01, 0x00, 0x40, 0x64]);
    body.extend_from_slice(&[0xfe, 0x00, 0x16, 0x01, b'h', 0x02]);
    body.extend_from_slice(&[0x02, b'F', b'1', 0x02, b'V', b'1', 0x40, 0x38, 0x70, 0x51, 0x78, 0x02, 0x00, 0x00]);
    body.extend_from_slice(&[0x02, b'F', b'3', 0x02, b'V', b'3', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    let file = rdb(b"VALKEY080", &body);
    let mut inp = input(&file);
    let mut reader = RdbReader::new(&mut inp, Default::default());
    let mut saw_import = false;
    while let Some(ev) = reader.next().expect("read") {
        if let Event::SlotImport { name, ranges } = ev {
            assert_eq!(&*name, &[b'j'; 40][..]);
            assert_eq!(ranges, vec![(0, 100)]);
            saw_import = true;
        }
    }
    assert!(saw_import);
    let recs = dump(&file);
    assert_eq!(recs[0]["value"], json!({"F1": "V1", "F3": "V3"}));
    assert_eq!(recs[0]["field_expire_at_ms"], json!({"F1": 2715785640000i64}));
    // The same bytes under a Redis header mean KEY_META: a different file.
    let redis = rdb(b"REDIS0013", &body);
    assert!(check_input(&mut input(&redis), None, Default::default(), Some(0)).error.is_some());
}

#[test]
fn stream_v4_idmp_tail() {
    // docs/format/stream.md, "Value layout": an empty type-26 stream whose IDMP
    // tail holds producer p1 with iid i1 -> 1700000000000-0.
    let mut body = vec![0xfe, 0x00, 0x1a, 0x01, b's'];
    body.extend_from_slice(&[0x00, 0x00, 0x00, 0x00]); // no nodes, length 0, last id 0-0
    body.extend_from_slice(&[0x00, 0x00, 0x00, 0x00, 0x00]); // first id, max deleted, entries added
    body.push(0x00); // no groups
    body.extend_from_slice(&[0x40, 0x64, 0x40, 0x64, 0x01, 0x02, b'p', b'1', 0x01, 0x02, b'i', b'1']);
    body.extend_from_slice(&[0x81, 0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00, 0x00, 0x01, 0x00]);
    let file = rdb(b"REDIS0013", &body);
    let recs = dump(&file);
    let idmp = &recs[0]["value"]["idmp"];
    assert_eq!(idmp["duration_s"], 100);
    assert_eq!(idmp["max_entries"], 100);
    assert_eq!(idmp["producers"], json!([{"pid": "p1", "iids": [["i1", "1700000000000-0"]]}]));
    assert_eq!(idmp["iids_added"], 1);
    assert_valid(&file);
}

/// Values over the parallel pipeline's big-record threshold (4 MiB) are
/// streamed in order on the merging side; the output must be the same JSON.
#[test]
fn big_values_stream_through_in_order() {
    // small key, 40 MB string, a 1.2M-member plain set (24 MB), small key:
    // both big records are over 16 MB, so the mapped reader drops their pages
    // as it walks them, and a pipe holds them in spill files.
    let big_string: Vec<u8> = (0..40u32 << 20).map(|i| b'a' + (i % 7 + i / 4093 % 13) as u8).collect();
    let mut body = vec![0xfe, 0x00, 0x00, 0x01, b'a', 0x01, b'1'];
    body.extend_from_slice(&[0x00, 0x03, b'b', b'i', b'g', 0x80]);
    body.extend_from_slice(&(big_string.len() as u32).to_be_bytes());
    body.extend_from_slice(&big_string);
    let members = 1_200_000u32;
    body.extend_from_slice(&[0x02, 0x03, b's', b'e', b't', 0x80]);
    body.extend_from_slice(&members.to_be_bytes());
    for i in 0..members {
        let m = format!("member-{i:012}");
        body.push(m.len() as u8);
        body.extend_from_slice(m.as_bytes());
    }
    body.extend_from_slice(&[0x00, 0x01, b'z', 0x01, b'2']);
    let file = rdb(b"REDIS0009", &body);
    let path = std::env::temp_dir().join(format!("rdb-tool-big-{}.rdb", std::process::id()));
    std::fs::write(&path, &file).expect("write temp file");
    for format in [DumpFormat::Jsonl, DumpFormat::Json] {
        let cfg = DumpConfig::new(path.clone(), format);
        let mut out = Vec::new();
        let stats = rdb_tool::cmd::dump::dump(&cfg, &mut out).expect("dump");
        assert_eq!(stats.keys_written, 4);
        // The same bytes through a pipe (the big records are spilled).
        let mut piped = Vec::new();
        let mut pipe = Input::from_reader("pipe", std::io::Cursor::new(file.clone()));
        dump_input(&mut pipe, None, &cfg, &mut piped).expect("dump from a pipe");
        assert!(piped == out, "pipe and map dumps differ");
        let records: Vec<Value> = match format {
            DumpFormat::Jsonl => {
                String::from_utf8(out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
            }
            DumpFormat::Json => serde_json::from_slice::<Vec<Value>>(&out).expect("one JSON array"),
        };
        let keys: Vec<&str> = records.iter().map(|r| r["key"].as_str().unwrap()).collect();
        assert_eq!(keys, ["a", "big", "set", "z"]);
        assert!(records[1]["value"].as_str().unwrap().as_bytes() == &big_string[..]);
        let set = records[2]["value"].as_array().unwrap();
        assert_eq!(set.len(), members as usize);
        for (i, m) in set.iter().enumerate() {
            assert_eq!(m.as_str().unwrap(), format!("member-{i:012}"));
        }
    }
    let r = rdb_tool::cmd::check::check_file(&path, Default::default(), Some(0));
    std::fs::remove_file(&path).ok();
    assert_eq!(r.verdict(), Verdict::Valid, "{:?}", r.error);
    assert_eq!(r.keys, 4);
}

/// The mapped reader checksums ahead of itself in 512 KB steps; the end of the
/// RDB proper can fall anywhere inside a step, with bytes after it that the
/// checksum must not cover.
#[test]
fn checksum_is_right_wherever_the_file_ends_in_a_step() {
    for (value_len, trailing) in [(600_000usize, 0usize), (600_000, 700_000), (1_000_000, 30_000), (100, 600_000)] {
        let mut body = vec![0xfe, 0x00, 0x00, 0x01, b'k', 0x80];
        body.extend_from_slice(&(value_len as u32).to_be_bytes());
        body.extend(std::iter::repeat_n(b'v', value_len));
        let mut file = rdb(b"REDIS0011", &body);
        file.extend(std::iter::repeat_n(0x55, trailing));
        let path = std::env::temp_dir().join(format!("rdb-tool-crc-{}-{value_len}-{trailing}.rdb", std::process::id()));
        std::fs::write(&path, &file).expect("write");
        let r = rdb_tool::cmd::check::check_file(&path, Default::default(), Some(0));
        std::fs::remove_file(&path).ok();
        assert_eq!(r.verdict(), Verdict::Valid, "{value_len}/{trailing}: {:?}", r.error.map(|e| e.to_string()));
        assert_eq!(r.trailing_bytes, trailing as u64);
        // And a flipped value byte is caught by the same checksum.
        let mut bad = file.clone();
        bad[20] ^= 1;
        let path =
            std::env::temp_dir().join(format!("rdb-tool-crcbad-{}-{value_len}-{trailing}.rdb", std::process::id()));
        std::fs::write(&path, &bad).expect("write");
        let r = rdb_tool::cmd::check::check_file(&path, Default::default(), Some(0));
        std::fs::remove_file(&path).ok();
        assert_eq!(r.error.map(|e| e.kind.class()), Some("checksum_mismatch"), "{value_len}/{trailing}");
    }
}

/// Errors inside a blob name the byte where the fault is, not the blob.
#[test]
fn blob_faults_are_located_to_the_byte() {
    // A set listpack ["a", "bb", "ccc"] at offset 15; the second entry's
    // back-length (listpack byte 12) is wrong.
    let lp = [0x13, 0, 0, 0, 3, 0, 0x81, b'a', 0x02, 0x82, b'b', b'b', 0x09, 0x83, b'c', b'c', b'c', 0x04, 0xff];
    let mut body = vec![0xfe, 0x00, 0x14, 0x01, b'k', lp.len() as u8];
    body.extend_from_slice(&lp);
    let file = rdb(b"REDIS0011", &body);
    let r = check_input(&mut input(&file), None, Default::default(), Some(0));
    let e = r.error.expect("damaged");
    assert_eq!(e.offset, Some(15 + 12), "{e}");
    assert!(e.to_string().contains("back-length"), "{e}");
    assert_eq!(e.key.as_deref(), Some(&b"k"[..]));

    // An intset {1, 3, 2} (16-bit) at offset 15: the third member (intset byte
    // 12) breaks the order.
    let is = [2, 0, 0, 0, 3, 0, 0, 0, 1, 0, 3, 0, 2, 0];
    let mut body = vec![0xfe, 0x00, 0x0b, 0x01, b'k', is.len() as u8];
    body.extend_from_slice(&is);
    let file = rdb(b"REDIS0011", &body);
    let e = check_input(&mut input(&file), None, Default::default(), Some(0)).error.expect("damaged");
    assert_eq!(e.offset, Some(15 + 12), "{e}");
}

/// Each key sees the templates defined before it, even when an id is
/// redefined later in the same batch; many template records stay cheap.
#[test]
fn template_redefinition_and_many_templates() {
    let mut body = Vec::new();
    for id in 1..20_000u32 {
        // Template id (14-bit length form), one field "f".
        body.extend_from_slice(&[0xf2, 0x40 | (id >> 8) as u8, id as u8, 0x01, 0x01, b'f']);
    }
    body.extend_from_slice(&[0xf2, 0x00, 0x01, 0x01, b'a']); // template 0 = {a}
    body.extend_from_slice(&[0xfe, 0x00, 0x20, 0x02, b'k', b'1', 0x00, 0x01, b'1']);
    body.extend_from_slice(&[0xf2, 0x00, 0x02, 0x01, b'b', 0x01, b'c']); // template 0 = {b, c}
    body.extend_from_slice(&[0x20, 0x02, b'k', b'2', 0x00, 0x01, b'2', 0x01, b'3']);
    let file = rdb(b"REDIS0015", &body);
    let recs = dump(&file);
    assert_eq!(recs[0]["value"], json!({"a": "1"}));
    assert_eq!(recs[1]["value"], json!({"b": "2", "c": "3"}));
    assert_valid(&file);
}

/// A set too big for one pass of the duplicate check (over 2 Mi members) is
/// checked in partitions: a duplicate is still found, memory stays bounded.
#[test]
fn duplicate_check_of_a_huge_set_runs_in_passes() {
    let n = 2_200_000u32;
    let build = |dup: bool| {
        let mut body = vec![0xfe, 0x00, 0x02, 0x01, b's', 0x80];
        body.extend_from_slice(&n.to_be_bytes());
        for i in 0..n {
            // Members as INT32 strings; the last repeats the first when `dup`.
            let v: i32 = if dup && i == n - 1 { 1_000_000 } else { i as i32 + 1_000_000 };
            body.push(0xc2);
            body.extend_from_slice(&v.to_le_bytes());
        }
        rdb(b"REDIS0009", &body)
    };
    for (dup, expect) in [(false, Verdict::Valid), (true, Verdict::Damaged)] {
        let file = build(dup);
        let path = std::env::temp_dir().join(format!("rdb-tool-hugeset-{}-{dup}.rdb", std::process::id()));
        std::fs::write(&path, &file).expect("write");
        let r = rdb_tool::cmd::check::check_file(&path, Default::default(), Some(0));
        std::fs::remove_file(&path).ok();
        assert_eq!(r.verdict(), expect, "{:?}", r.error.as_ref().map(|e| e.to_string()));
        if dup {
            assert_eq!(r.error.map(|e| e.kind), Some(ErrorKind::Integrity(Integrity::DuplicateSetMember)));
        }
    }
}

/// Duplicate fields are found whether short (packed digests) or long (hashed).
#[test]
fn duplicate_fields_short_and_long() {
    fn listpack(items: &[&[u8]]) -> Vec<u8> {
        let mut body = Vec::new();
        for it in items {
            body.push(0x80 | it.len() as u8);
            body.extend_from_slice(it);
            body.push(1 + it.len() as u8);
        }
        let mut lp = ((body.len() + 7) as u32).to_le_bytes().to_vec();
        lp.extend_from_slice(&(items.len() as u16).to_le_bytes());
        lp.extend_from_slice(&body);
        lp.push(0xff);
        lp
    }
    for (fields, dup) in [
        (["f", "g"], false),
        (["f", "f"], true),
        (["a-long-field-name", "a-long-field-namf"], false),
        (["a-long-field-name", "a-long-field-name"], true),
    ] {
        let lp = listpack(&[fields[0].as_bytes(), b"1", fields[1].as_bytes(), b"2"]);
        // Type 16 (hash listpack), key "h", value stored raw.
        let mut body = vec![0xfe, 0x00, 0x10, 0x01, b'h', lp.len() as u8];
        body.extend_from_slice(&lp);
        let file = rdb(b"REDIS0010", &body);
        let r = check_input(&mut input(&file), None, Default::default(), Some(0));
        match dup {
            false => assert_eq!(r.verdict(), Verdict::Valid, "{fields:?}: {:?}", r.error.map(|e| e.to_string())),
            true => assert_eq!(
                r.error.map(|e| e.kind),
                Some(ErrorKind::Integrity(Integrity::DuplicateHashField)),
                "{fields:?}"
            ),
        }
    }
}
