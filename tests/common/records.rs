//! Key records compared as a server holds them: our JSONL dump of a file,
//! normalised so that what a server may change on load (set and hash order,
//! recency, what expired, stream state one side does not record) does not
//! count.

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// Records by (db, key).
pub type Keys = BTreeMap<(u64, String), Value>;

pub fn dump_keys(path: &Path) -> Keys {
    use rdb_tool::cmd::dump::{dump, DumpConfig, DumpFormat};
    let mut out = Vec::new();
    dump(&DumpConfig::new(path, DumpFormat::Jsonl), &mut out).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            ((v["db"].as_u64().unwrap(), v["key"].as_str().unwrap().to_string()), v)
        })
        .collect()
}

/// A key name as [`dump_keys`] indexes it (the dump's string form).
pub fn key_text(key: &[u8]) -> String {
    rdb_tool::output::json::bytes_json(key).as_str().unwrap_or_default().to_string()
}

/// Our JSONL dump of a file, a value per record, in file order.
pub fn dump_lines(path: &Path) -> Vec<Value> {
    use rdb_tool::cmd::dump::{dump, DumpConfig, DumpFormat};
    let mut out = Vec::new();
    dump(&DumpConfig::new(path, DumpFormat::Jsonl), &mut out).unwrap();
    String::from_utf8(out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// A record as the server must hold it at `now`, compared order-free where
/// the type is: `None` when the key is gone by then.
pub fn normal(record: &Value, now: i64, via_commands: bool) -> Option<Value> {
    let mut r = record.clone();
    let o = r.as_object_mut().unwrap();
    if o.get("expire_at_ms").and_then(Value::as_i64).is_some_and(|t| t <= now) {
        return None;
    }
    // Recency is the loading server's, not the file's.
    o.remove("idle_s");
    o.remove("freq");
    let ty = o["type"].as_str().unwrap().to_string();
    match ty.as_str() {
        "set" | "zset" => {
            let mut items = o["value"].as_array().unwrap().clone();
            items.sort_by_key(|v| v.to_string());
            o.insert("value".into(), Value::Array(items));
        }
        "hash" => {
            // Fields past their TTL: servers drop them when they load or soon
            // after; only the live ones must be there.
            let ttls = o.remove("field_expire_at_ms").unwrap_or(Value::Null);
            let mut live = serde_json::Map::new();
            let mut live_ttls = serde_json::Map::new();
            for (f, v) in o["value"].as_object().unwrap() {
                match ttls.get(f).and_then(Value::as_i64) {
                    Some(t) if t <= now => continue,
                    Some(t) => {
                        live_ttls.insert(f.clone(), t.into());
                    }
                    None => {}
                }
                live.insert(f.clone(), v.clone());
            }
            if live.is_empty() {
                return None;
            }
            o.insert("value".into(), Value::Object(live));
            if !live_ttls.is_empty() {
                o.insert("field_expire_at_ms".into(), Value::Object(live_ttls));
            }
        }
        "stream" if via_commands => {
            // Consumers' seen/active times and PEL delivery times are set by
            // the server that runs the commands.
            let v = o.get_mut("value").unwrap().as_object_mut().unwrap();
            for g in v.get_mut("groups").and_then(Value::as_array_mut).into_iter().flatten() {
                let g = g.as_object_mut().unwrap();
                for c in g.get_mut("consumers").and_then(Value::as_array_mut).into_iter().flatten() {
                    let c = c.as_object_mut().unwrap();
                    c.remove("seen_time_ms");
                    c.remove("active_time_ms");
                }
                for p in g.get_mut("pending").and_then(Value::as_array_mut).into_iter().flatten() {
                    p.as_object_mut().unwrap().remove("delivery_time_ms");
                }
            }
        }
        _ => {}
    }
    Some(r)
}

/// Where two records first differ, as a path.
pub fn first_difference(a: &Value, b: &Value, path: &str) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for k in x.keys().chain(y.keys()) {
                let (u, v) = (x.get(k).unwrap_or(&Value::Null), y.get(k).unwrap_or(&Value::Null));
                if let Some(d) = first_difference(u, v, &format!("{path}.{k}")) {
                    return Some(d);
                }
            }
            None
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            x.iter().zip(y).enumerate().find_map(|(i, (u, v))| first_difference(u, v, &format!("{path}[{i}]")))
        }
        _ if a == b => None,
        _ => Some(format!("{path}: want {a:.120}, got {b:.120}")),
    }
}

/// Stream state one side does not record (`null`: the source was written by
/// a version before it existed, and the loading server derives it; or the
/// target's version cannot hold it): not compared.
pub fn drop_unrecorded(want: &mut Value, got: &mut Value) {
    if let (Value::Object(w), Value::Object(g)) = (want, got) {
        let unknown: Vec<String> = w
            .iter()
            .filter(|(k, v)| v.is_null() || g.get(*k).is_none_or(Value::is_null))
            .map(|(k, _)| k.clone())
            .collect();
        for k in unknown {
            w.remove(&k);
            g.remove(&k);
        }
        for (k, v) in w.iter_mut() {
            if let Some(gv) = g.get_mut(k) {
                match (v, gv) {
                    (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
                        a.iter_mut().zip(b.iter_mut()).for_each(|(x, y)| drop_unrecorded(x, y))
                    }
                    (x, y) => drop_unrecorded(x, y),
                }
            }
        }
    }
}

/// Where each key's record starts and ends in an intact file, as the
/// reader frames it: `(start, end, db, key)`, the key a byte belongs to.
pub fn key_spans(path: &Path) -> Vec<(u64, u64, u64, Vec<u8>)> {
    let mut input = rdb_tool::input::Input::open(path).unwrap();
    let mut reader = rdb_tool::event::RdbReader::new(&mut input, rdb_tool::event::ReaderOptions::default());
    let mut spans = Vec::new();
    let mut db = 0;
    loop {
        let start = reader.offset();
        let key = match reader.next().unwrap() {
            Some(rdb_tool::event::Event::Key(k)) => Some(k.key.to_vec()),
            Some(rdb_tool::event::Event::SelectDb { db: n }) => {
                db = n;
                None
            }
            Some(rdb_tool::event::Event::End { .. }) | None => break,
            Some(_) => None,
        };
        if let Some(key) = key {
            spans.push((start, reader.offset(), db, key));
        }
    }
    spans
}

/// Where an AOF file's RDB preamble ends, as the reader frames it (`None`
/// without one, or when it does not read).
pub fn preamble_end(path: &Path) -> Option<u64> {
    let head = std::fs::read(path).ok()?;
    if !(head.starts_with(b"REDIS") || head.starts_with(b"VALKEY")) {
        return None;
    }
    let mut input = rdb_tool::input::Input::open(path).ok()?;
    let mut reader = rdb_tool::event::RdbReader::new(&mut input, rdb_tool::event::ReaderOptions::default());
    loop {
        match reader.next() {
            Ok(Some(rdb_tool::event::Event::End { .. })) | Ok(None) => return Some(reader.offset()),
            Ok(Some(_)) => {}
            Err(_) => return None,
        }
    }
}
