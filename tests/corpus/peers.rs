//! Other projects' test dumps whose content they render themselves
//! (`shared/corpus/peers/newer/*.json`): our dump must say the same.

use crate::common;

use rdb_tool::cmd::dump::{dump, DumpConfig, DumpFormat};
use serde_json::{json, Value};

fn dump_file(path: &std::path::Path) -> Vec<Value> {
    let cfg = DumpConfig::new(path, DumpFormat::Jsonl);
    let mut out = Vec::new();
    dump(&cfg, &mut out).expect("dump");
    String::from_utf8(out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn valkey_hash2_matches_hdt3213s_rendering() {
    let dir = common::corpus_dir().join("peers/newer");
    let theirs = &common::read_json(&dir.join("valkey_hash2_with_hfe.json"))[0];
    let ours = &dump_file(&dir.join("valkey_hash2_with_hfe.rdb"))[0];
    assert_eq!(ours["key"], theirs["key"]);
    assert_eq!(ours["value"], theirs["hash"]);
    // HDT3213 writes "no TTL" as 0; we leave such fields out.
    let with_ttl: serde_json::Map<String, Value> = theirs["expire"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, t)| t != &&json!(0))
        .map(|(f, t)| (f.clone(), t.clone()))
        .collect();
    assert_eq!(ours["field_expire_at_ms"], Value::Object(with_ttl));
}

#[test]
fn cluster_slot_info_file_matches_librdbs_rendering() {
    // librdb's file: SLOT_INFO (slot 7638) then "abc" = "abc".
    let dir = common::corpus_dir().join("peers/newer");
    let ours = dump_file(&dir.join("cluster_slot_info.rdb"));
    assert_eq!(ours, vec![json!({"db": 0, "key": "abc", "type": "string", "value": "abc"})]);
    let text = std::fs::read_to_string(dir.join("cluster_slot_info.json")).unwrap();
    assert!(text.contains("\"slotId\": 7638") && text.contains("\"abc\":\"abc\""));
    let mut input = rdb_tool::input::Input::open(&dir.join("cluster_slot_info.rdb")).unwrap();
    let mut reader = rdb_tool::event::RdbReader::new(&mut input, Default::default());
    let mut slots = Vec::new();
    while let Some(ev) = reader.next().unwrap() {
        if let rdb_tool::event::Event::SlotInfo { slot, keys, expires } = ev {
            slots.push((slot, keys, expires));
        }
    }
    assert_eq!(slots, vec![(7638, 1, 0)]);
}
