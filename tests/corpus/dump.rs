//! `rdb-tool dump --format jsonl` against the real-server corpus (`../shared/corpus`).
//!
//! Every RDB fixture there was written by a real Redis / Valkey server, and its content was read
//! back from the live server into `expected-*.json` (see the corpus README, "The expected JSON").
//! That document is the oracle: this test never compares our output with an earlier run of our
//! own. Both sides are brought into one canonical shape (raw bytes, sorted where the two sides
//! legitimately order things differently) and every difference in every file is collected, so
//! one run shows the whole picture.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Value};

/// Past this many differences in one key, the rest of that key is not worth reading.
const MAX_DIFFS_PER_KEY: usize = 6;

/// Keys whose value is a shared small-integer object report that object's idle time (on 7.2+ the
/// LRU clock itself, ~190000 s), not the one in the IDLE opcode. README: "lru_idle_s".
const SHARED_OBJECT_IDLE_S: u64 = 100_000;

/// A key is identified by its database number and raw name.
type KeyId = (u64, Vec<u8>);

/// Our marker for byte strings that cannot be written as a plain JSON string.
const OUR_BASE64_PREFIX: &str = "base64:";

// ---------------------------------------------------------------------------------------------
// Reading the corpus (found by common::corpus_dir)

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// One RDB file with the expected document that describes it.
struct Fixture {
    /// Path relative to the corpus root, for messages.
    label: String,
    path: PathBuf,
    bytes: u64,
    expected: PathBuf,
    /// Written under an LRU / LFU policy: IDLE (248) / FREQ (249) opcodes before every key.
    lru: bool,
    lfu: bool,
}

/// The version directories: those listed in index.json plus any other directory holding a
/// fixtures.json (so a directory added without updating the index is not silently skipped).
fn version_dirs(root: &Path) -> BTreeSet<String> {
    let index = read_json(&root.join("index.json"));
    let mut dirs: BTreeSet<String> = index["sets"]
        .as_array()
        .expect("index.json: `sets` is not an array")
        .iter()
        .map(|set| set["dir"].as_str().expect("index.json: set without `dir`").to_owned())
        .collect();
    for entry in std::fs::read_dir(root).expect("cannot list the corpus root") {
        let entry = entry.expect("cannot list the corpus root");
        let name = entry.file_name().to_string_lossy().into_owned();
        // peers/ holds other projects' test files, not server-verified: no oracle.
        if name != "peers" && entry.path().join("fixtures.json").is_file() {
            dirs.insert(name);
        }
    }
    dirs
}

fn rdb_fixtures(root: &Path) -> Vec<Fixture> {
    let mut out = Vec::new();
    for dir in version_dirs(root) {
        let dir_path = root.join(&dir);
        let index = read_json(&dir_path.join("fixtures.json"));
        for fixture in index["fixtures"].as_array().expect("fixtures.json: no `fixtures` array") {
            // AOF fixtures (and their RDB bases) are a later issue.
            if fixture["kind"] != "rdb" {
                continue;
            }
            let Some(expected) = fixture["expected"].as_str() else {
                continue;
            };
            let expected = dir_path.join(expected);
            assert!(expected.is_file(), "{} is listed but missing", expected.display());
            let policy = fixture["config"]["maxmemory-policy"].as_str().unwrap_or("");
            for file in fixture["files"].as_array().expect("fixture without `files`") {
                let rel = file["path"].as_str().expect("fixture file without `path`");
                out.push(Fixture {
                    label: format!("{dir}/{rel}"),
                    path: dir_path.join(rel),
                    bytes: file["bytes"].as_u64().expect("fixture file without `bytes`"),
                    expected: expected.clone(),
                    lru: policy.ends_with("-lru"),
                    lfu: policy.ends_with("-lfu"),
                });
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Byte strings

/// Expected side: a JSON string (valid UTF-8) or `{"base64": "..."}`.
fn expected_bytes(v: &Value) -> Result<Vec<u8>, String> {
    match v {
        Value::String(s) => Ok(s.as_bytes().to_vec()),
        Value::Object(o) if o.len() == 1 => {
            let encoded = o.get("base64").and_then(Value::as_str);
            let encoded = encoded.ok_or_else(|| format!("not a byte string: {}", abbrev(v)))?;
            BASE64.decode(encoded).map_err(|e| format!("bad base64 in expected {v}: {e}"))
        }
        _ => Err(format!("not a byte string: {}", abbrev(v))),
    }
}

/// Our side: a JSON string, or `"base64:" + base64` for bytes that are not valid UTF-8 or would
/// themselves start with the prefix. Any other use of the prefix is a format violation: it makes
/// the output ambiguous for readers that rely on it.
fn our_bytes(v: &Value) -> Result<Vec<u8>, String> {
    our_text_bytes(v.as_str().ok_or_else(|| format!("not a byte string: {}", abbrev(v)))?)
}

/// `our_bytes` for a JSON object key (hash fields).
fn our_text_bytes(s: &str) -> Result<Vec<u8>, String> {
    let Some(encoded) = s.strip_prefix(OUR_BASE64_PREFIX) else {
        return Ok(s.as_bytes().to_vec());
    };
    let bytes = BASE64.decode(encoded).map_err(|e| format!("bad base64 in {s:?}: {e}"))?;
    match std::str::from_utf8(&bytes) {
        Ok(text) if !text.starts_with(OUR_BASE64_PREFIX) => {
            Err(format!("{s:?} is base64 for valid UTF-8 {text:?}: should be a plain string"))
        }
        _ => Ok(bytes),
    }
}

/// Canonical, injective text for raw bytes (printable ASCII as is, everything else escaped), so
/// canonical values compare bytes and still read well in a report.
fn show(bytes: &[u8]) -> Value {
    Value::String(bytes.escape_ascii().to_string())
}

// ---------------------------------------------------------------------------------------------
// Small accessors, with errors that say what was expected

fn get<'a>(v: &'a Value, name: &str) -> Result<&'a Value, String> {
    v.get(name).ok_or_else(|| format!("no `{name}` in {}", abbrev(v)))
}

fn array<'a>(v: &'a Value, name: &str) -> Result<&'a Vec<Value>, String> {
    get(v, name)?.as_array().ok_or_else(|| format!("`{name}` is not an array"))
}

/// Applies `f` to every item of a JSON array.
fn each<T>(v: &Value, f: impl FnMut(&Value) -> Result<T, String>) -> Result<Vec<T>, String> {
    items(v)?.iter().map(f).collect()
}

fn items(v: &Value) -> Result<&Vec<Value>, String> {
    v.as_array().ok_or_else(|| format!("not an array: {}", abbrev(v)))
}

fn tuple<const N: usize>(v: &Value) -> Result<&[Value; N], String> {
    items(v)?.as_slice().try_into().map_err(|_| format!("not a {N}-tuple: {}", abbrev(v)))
}

fn text(v: &Value) -> Result<&str, String> {
    v.as_str().ok_or_else(|| format!("not a string: {}", abbrev(v)))
}

fn int(v: &Value) -> Result<Value, String> {
    if v.is_i64() || v.is_u64() {
        Ok(v.clone())
    } else {
        Err(format!("not an integer: {}", abbrev(v)))
    }
}

/// Absent and null both mean "not stored / not reported".
fn opt(v: &Value, name: &str) -> Value {
    v.get(name).cloned().unwrap_or(Value::Null)
}

/// Stream IDs sort numerically, not as text ("10-0" > "9-0").
fn id_order(id: &str) -> (u64, u64) {
    let (ms, seq) = id.split_once('-').unwrap_or((id, ""));
    (ms.parse().unwrap_or(u64::MAX), seq.parse().unwrap_or(u64::MAX))
}

fn sorted_ids(mut ids: Vec<String>) -> Value {
    ids.sort_by_key(|id| id_order(id));
    json!(ids)
}

/// Canonical score text: Rust's shortest round-trip form, so equal text <=> identical f64.
fn score(f: f64) -> Value {
    Value::String(format!("{f:?}"))
}

fn abbrev(v: &Value) -> String {
    const MAX: usize = 160;
    let s = v.to_string();
    match s.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…({} chars)", &s[..cut], s.chars().count()),
        None => s,
    }
}

// ---------------------------------------------------------------------------------------------
// Our output

/// A JSON object read as its list of members. serde_json's map would silently keep the last of
/// two equal field names, which would hide a hash field our dump wrote twice.
struct Members(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Members {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Members;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Members, A::Error> {
                let mut members = Vec::new();
                while let Some(member) = map.next_entry()? {
                    members.push(member);
                }
                Ok(Members(members))
            }
        }
        d.deserialize_map(Visitor)
    }
}

/// The parts of a hash record whose JSON objects are keyed by (binary-safe) field names.
#[derive(Deserialize)]
struct HashLine {
    value: Members,
    field_expire_at_ms: Option<Members>,
}

struct OurRecord {
    record: Value,
    hash: Option<HashLine>,
}

const OUR_RECORD_FIELDS: &[&str] =
    &["db", "key", "type", "expire_at_ms", "idle_s", "freq", "value", "field_expire_at_ms", "key_meta"];

/// Runs the binary; returns the records by (db, key), plus problems with individual lines.
fn dump(path: &Path) -> Result<(BTreeMap<KeyId, OurRecord>, Vec<String>), String> {
    let output = Command::new(env!("CARGO_BIN_EXE_rdb-tool"))
        .arg("dump")
        .arg(path)
        .args(["--format", "jsonl"])
        .output()
        .map_err(|e| format!("cannot run rdb-tool: {e}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(format!("rdb-tool dump exited with {}: {}", output.status, stderr.trim()));
    }
    let stdout = String::from_utf8(output.stdout).map_err(|e| format!("stdout is not UTF-8: {e}"))?;
    let mut records = BTreeMap::new();
    let mut problems = Vec::new();
    for (n, line) in stdout.lines().enumerate() {
        let line_no = n + 1;
        let record: Value = match serde_json::from_str(line) {
            Ok(record) => record,
            Err(e) => {
                problems.push(format!("line {line_no} is not JSON ({e}): {line:.160}"));
                continue;
            }
        };
        let (Some(db), Ok(key)) = (record["db"].as_u64(), our_bytes(&record["key"])) else {
            problems.push(format!("line {line_no} has no usable db/key: {line:.160}"));
            continue;
        };
        let hash = if record["type"] == "hash" {
            match serde_json::from_str::<HashLine>(line) {
                Ok(hash) => Some(hash),
                Err(e) => {
                    problems.push(format!("line {line_no}: hash record not readable ({e})"));
                    None
                }
            }
        } else {
            None
        };
        let unknown: Vec<&String> = record
            .as_object()
            .into_iter()
            .flat_map(|o| o.keys())
            .filter(|k| !OUR_RECORD_FIELDS.contains(&k.as_str()))
            .collect();
        if !unknown.is_empty() {
            problems.push(format!("line {line_no}: unknown record fields {unknown:?}"));
        }
        if records.insert((db, key.clone()), OurRecord { record, hash }).is_some() {
            problems.push(format!("line {line_no}: db {db} key {} written twice", show(&key)));
        }
    }
    Ok((records, problems))
}

// ---------------------------------------------------------------------------------------------
// The expected document

struct ExpectedDoc {
    keys: BTreeMap<KeyId, Value>,
    /// `dump-keymeta` only: the key-metadata classes that have rdb_save, i.e. can be in the file.
    saved_meta_classes: Option<BTreeSet<String>>,
}

fn load_expected(path: &Path) -> ExpectedDoc {
    let doc = read_json(path);
    let what = path.display();
    assert_eq!(doc["schema"], "redis-corpus-expected/1", "{what}: unknown schema");
    let mut keys = BTreeMap::new();
    for db in doc["dbs"].as_array().unwrap_or_else(|| panic!("{what}: no `dbs`")) {
        let n = db["db"].as_u64().unwrap_or_else(|| panic!("{what}: db without number"));
        for key in db["keys"].as_array().unwrap_or_else(|| panic!("{what}: db {n} without keys")) {
            let name = expected_bytes(&key["key"]).unwrap_or_else(|e| panic!("{what}: {e}"));
            assert!(keys.insert((n, name), key.clone()).is_none(), "{what}: duplicate key in db {n}");
        }
    }
    assert_eq!(doc["key_count"].as_u64(), Some(keys.len() as u64), "{what}: key_count disagrees");
    let saved_meta_classes = doc.get("keymeta_classes").map(|classes| {
        classes
            .as_array()
            .unwrap_or_else(|| panic!("{what}: keymeta_classes is not an array"))
            .iter()
            .filter(|class| class["saved"] == true)
            .map(|class| class["name"].as_str().expect("keymeta class without name").to_owned())
            .collect()
    });
    ExpectedDoc { keys, saved_meta_classes }
}

// ---------------------------------------------------------------------------------------------
// Canonical values. Each type has one normalizer per side producing the same shape.

fn expected_value(ty: &str, v: &Value) -> Result<Value, String> {
    Ok(match ty {
        "string" => show(&expected_bytes(v)?),
        "list" => json!(each(v, |e| Ok(show(&expected_bytes(e)?)))?),
        "set" => sorted_set(each(v, expected_bytes)?),
        "zset" => sorted_zset(each(v, |pair| {
            let [member, s] = tuple(pair)?;
            let s = text(s)?;
            let f = s.parse::<f64>().map_err(|_| format!("bad expected score {s:?}"))?;
            Ok((expected_bytes(member)?, f))
        })?),
        "hash" => sorted_pairs(each(v, expected_pair)?),
        "stream" => expected_stream(v)?,
        "array" => json!({
            "count": int(get(v, "count")?)?,
            "len": int(get(v, "len")?)?,
            "next_insert_index": get(v, "next_insert_index")?.clone(),
            "elements": each(get(v, "elements")?, |e| {
                let [index, value] = tuple(e)?;
                Ok(json!([int(index)?, show(&expected_bytes(value)?)]))
            })?,
        }),
        other => return Err(format!("type {other:?} is not covered by this test")),
    })
}

fn our_value(ty: &str, record: &OurRecord) -> Result<Value, String> {
    let v = &record.record["value"];
    Ok(match ty {
        "string" => show(&our_bytes(v)?),
        "list" => json!(each(v, |e| Ok(show(&our_bytes(e)?)))?),
        "set" => sorted_set(each(v, our_bytes)?),
        "zset" => sorted_zset(each(v, |pair| {
            let [member, s] = tuple(pair)?;
            let f = match s {
                Value::Number(n) => n.as_f64().ok_or("score out of range")?,
                Value::String(s) if s == "inf" => f64::INFINITY,
                Value::String(s) if s == "-inf" => f64::NEG_INFINITY,
                Value::String(s) if s == "nan" => f64::NAN,
                _ => return Err(format!("bad score {}", abbrev(s))),
            };
            Ok((our_bytes(member)?, f))
        })?),
        "hash" => {
            let hash = record.hash.as_ref().ok_or("hash record could not be read")?;
            let pairs =
                hash.value.0.iter().map(|(field, value)| Ok((our_text_bytes(field)?, show(&our_bytes(value)?))));
            sorted_pairs(pairs.collect::<Result<_, String>>()?)
        }
        "stream" => our_stream(v)?,
        "array" => {
            // Our `cursor` is the RDB's; the server reports ARNEXT: 0 = no cursor, null = the
            // terminal cursor 2^64-2, otherwise cursor + 1 (README, "array").
            let next_insert_index = match get(v, "cursor")? {
                Value::Null => json!(0),
                c => match c.as_u64().ok_or_else(|| format!("bad cursor {c}"))? {
                    c if c == u64::MAX - 1 => Value::Null,
                    c => json!(c.checked_add(1).ok_or("cursor 2^64-1 has no ARNEXT")?),
                },
            };
            json!({
                "count": int(get(v, "count")?)?,
                "len": int(get(v, "len")?)?,
                "next_insert_index": next_insert_index,
                "elements": each(get(v, "elements")?, |e| {
                    let [index, value] = tuple(e)?;
                    Ok(json!([int(index)?, show(&our_bytes(value)?)]))
                })?,
            })
        }
        other => return Err(format!("type {other:?} is not covered by this test")),
    })
}

/// Sets have no order: the server reports them sorted, the file holds hash-table order.
fn sorted_set(mut members: Vec<Vec<u8>>) -> Value {
    members.sort();
    Value::Array(members.iter().map(|m| show(m)).collect())
}

/// The server reports ZRANGE order, the file holds listpack or skiplist-dump order (a skiplist
/// is written backwards). Members are unique, so sorting by member compares the two as sets.
fn sorted_zset(mut pairs: Vec<(Vec<u8>, f64)>) -> Value {
    pairs.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
    Value::Array(pairs.iter().map(|(m, f)| json!([show(m), score(*f)])).collect())
}

/// Hash fields have no order either (the server's listing is sorted by field bytes).
fn sorted_pairs(mut pairs: Vec<(Vec<u8>, Value)>) -> Value {
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    Value::Array(pairs.into_iter().map(|(f, v)| json!([show(&f), v])).collect())
}

fn expected_pair(pair: &Value) -> Result<(Vec<u8>, Value), String> {
    let [field, value] = tuple(pair)?;
    Ok((expected_bytes(field)?, show(&expected_bytes(value)?)))
}

fn expected_field_ttls(key: &Value) -> Result<Value, String> {
    match key.get("field_expire_at_ms") {
        None | Some(Value::Null) => Ok(Value::Null),
        Some(ttls) => Ok(sorted_pairs(each(ttls, |pair| {
            let [field, ms] = tuple(pair)?;
            Ok((expected_bytes(field)?, int(ms)?))
        })?)),
    }
}

fn our_field_ttls(record: &OurRecord) -> Result<Value, String> {
    let Some(ttls) = record.hash.as_ref().and_then(|h| h.field_expire_at_ms.as_ref()) else {
        return Ok(opt(&record.record, "field_expire_at_ms")); // null, or a non-hash oddity
    };
    let pairs = ttls.0.iter().map(|(field, ms)| Ok((our_text_bytes(field)?, int(ms)?)));
    Ok(sorted_pairs(pairs.collect::<Result<_, String>>()?))
}

/// Streams: entries, PELs and consumer PELs keep their (ascending ID) order; groups and
/// consumers are sorted by name, as the server lists them. Fields the file format of the
/// version does not store (6.2: first/max-deleted IDs, entries_added, entries_read; before 7.2:
/// active_time; before 8.6: IDMP; before 8.8: the NACK zone) are absent from the expected side
/// and must be null / absent on ours.
fn expected_stream(v: &Value) -> Result<Value, String> {
    let entries = each(get(v, "entries")?, |e| {
        let [id, fields] = tuple(e)?;
        // Entry fields keep their stored order (and may repeat), so they stay a list.
        Ok(json!([
            text(id)?,
            each(fields, |pair| {
                let (field, value) = expected_pair(pair)?;
                Ok(json!([show(&field), value]))
            })?
        ]))
    })?;
    let mut groups = Vec::new();
    for g in array(v, "groups")? {
        let mut pending = Vec::new();
        let mut nacked = Vec::new();
        for p in array(g, "pel")? {
            let [id, consumer, time, count] = tuple(p)?;
            // A NACKed entry belongs to no consumer; the server shows it with consumer "".
            let consumer = match expected_bytes(consumer)? {
                name if name.is_empty() => {
                    nacked.push(text(id)?.to_owned());
                    Value::Null
                }
                name => show(&name),
            };
            pending.push(json!([text(id)?, consumer, int(time)?, int(count)?]));
        }
        let mut consumers = Vec::new();
        for c in array(g, "consumers")? {
            let name = expected_bytes(get(c, "name")?)?;
            let consumer = json!({
                "name": show(&name),
                "seen_time_ms": int(get(c, "seen_time")?)?,
                "active_time_ms": opt(c, "active_time"),
                "pending": each(get(c, "pel")?, |p| {
                    let [id, _time, _count] = tuple(p)?;
                    Ok(text(id)?.to_owned())
                })?,
            });
            consumers.push((name, consumer));
        }
        let has_nack_zone = g.get("nacked_count").is_some();
        let name = expected_bytes(get(g, "name")?)?;
        let group = json!({
            "name": show(&name),
            "last_id": text(get(g, "last_delivered_id")?)?,
            "entries_read": opt(g, "entries_read"),
            "pending": pending,
            "consumers": by_name(consumers),
            "nacked_count": opt(g, "nacked_count"),
            // The server reports only the count; the IDs are the PEL entries without consumer.
            "nacked": if has_nack_zone { sorted_ids(nacked) } else { Value::Null },
        });
        groups.push((name, group));
    }
    let idmp = match v.get("idmp_duration") {
        None => Value::Null,
        Some(duration) => json!({
            "duration_s": int(duration)?,
            "max_entries": int(get(v, "idmp_maxsize")?)?,
            "pids_tracked": int(get(v, "pids_tracked")?)?,
            "iids_tracked": int(get(v, "iids_tracked")?)?,
            "iids_added": int(get(v, "iids_added")?)?,
            "iids_duplicates": int(get(v, "iids_duplicates")?)?,
        }),
    };
    Ok(json!({
        "entries": entries,
        "length": int(get(v, "length")?)?,
        "last_id": text(get(v, "last_generated_id")?)?,
        "first_id": opt(v, "recorded_first_entry_id"),
        "max_deleted_id": opt(v, "max_deleted_entry_id"),
        "entries_added": opt(v, "entries_added"),
        "groups": by_name(groups),
        "idmp": idmp,
    }))
}

fn our_stream(v: &Value) -> Result<Value, String> {
    let entries = each(get(v, "entries")?, |e| {
        Ok(json!([
            text(get(e, "id")?)?,
            each(get(e, "fields")?, |pair| {
                let [field, value] = tuple(pair)?;
                Ok(json!([show(&our_bytes(field)?), show(&our_bytes(value)?)]))
            })?
        ]))
    })?;
    let ids = |v: &Value| each(v, |id| Ok(text(id)?.to_owned()));
    let mut groups = Vec::new();
    for g in array(v, "groups")? {
        let pending = each(get(g, "pending")?, |p| {
            let consumer = match get(p, "consumer")? {
                Value::Null => Value::Null,
                name => show(&our_bytes(name)?),
            };
            Ok(json!([
                text(get(p, "id")?)?,
                consumer,
                int(get(p, "delivery_time_ms")?)?,
                int(get(p, "delivery_count")?)?,
            ]))
        })?;
        let mut consumers = Vec::new();
        for c in array(g, "consumers")? {
            let name = our_bytes(get(c, "name")?)?;
            let consumer = json!({
                "name": show(&name),
                "seen_time_ms": int(get(c, "seen_time_ms")?)?,
                "active_time_ms": opt(c, "active_time_ms"),
                "pending": ids(get(c, "pending")?)?,
            });
            consumers.push((name, consumer));
        }
        let (nacked_count, nacked) = match g.get("nacked") {
            None | Some(Value::Null) => (Value::Null, Value::Null),
            Some(zone) => {
                let zone = ids(zone)?;
                (json!(zone.len()), sorted_ids(zone))
            }
        };
        let name = our_bytes(get(g, "name")?)?;
        let group = json!({
            "name": show(&name),
            "last_id": text(get(g, "last_id")?)?,
            "entries_read": opt(g, "entries_read"),
            "pending": pending,
            "consumers": by_name(consumers),
            "nacked_count": nacked_count,
            "nacked": nacked,
        });
        groups.push((name, group));
    }
    let idmp = match v.get("idmp") {
        None | Some(Value::Null) => Value::Null,
        Some(idmp) => {
            // The server reports only counts; the pids and iids must still be byte strings.
            let producers = each(get(idmp, "producers")?, |p| {
                our_bytes(get(p, "pid")?)?;
                let iids = each(get(p, "iids")?, |pair| {
                    let [iid, id] = tuple(pair)?;
                    our_bytes(iid)?;
                    text(id).map(drop)
                })?;
                Ok(iids.len())
            })?;
            json!({
                "duration_s": int(get(idmp, "duration_s")?)?,
                "max_entries": int(get(idmp, "max_entries")?)?,
                "pids_tracked": producers.len(),
                "iids_tracked": producers.iter().sum::<usize>(),
                "iids_added": int(get(idmp, "iids_added")?)?,
                "iids_duplicates": int(get(idmp, "iids_duplicates")?)?,
            })
        }
    };
    Ok(json!({
        "entries": entries,
        "length": int(get(v, "length")?)?,
        "last_id": text(get(v, "last_id")?)?,
        "first_id": opt(v, "first_id"),
        "max_deleted_id": opt(v, "max_deleted_id"),
        "entries_added": opt(v, "entries_added"),
        "groups": by_name(groups),
        "idmp": idmp,
    }))
}

fn by_name(mut named: Vec<(Vec<u8>, Value)>) -> Value {
    named.sort_by(|a, b| a.0.cmp(&b.0));
    Value::Array(named.into_iter().map(|(_, v)| v).collect())
}

// ---------------------------------------------------------------------------------------------
// Comparing

/// Reports where two canonical values differ, at most MAX_DIFFS_PER_KEY places.
fn diff(path: &str, expected: &Value, ours: &Value, out: &mut Vec<String>) {
    if out.len() >= MAX_DIFFS_PER_KEY || expected == ours {
        return;
    }
    match (expected, ours) {
        (Value::Object(e), Value::Object(o)) => {
            let names: BTreeSet<&String> = e.keys().chain(o.keys()).collect();
            for name in names {
                let (e, o) = (e.get(name).unwrap_or(&Value::Null), o.get(name).unwrap_or(&Value::Null));
                diff(&format!("{path}.{name}"), e, o, out);
            }
        }
        (Value::Array(e), Value::Array(o)) if e.len() == o.len() => {
            for (i, (e, o)) in e.iter().zip(o).enumerate() {
                diff(&format!("{path}[{i}]"), e, o, out);
            }
        }
        (Value::Array(e), Value::Array(o)) => {
            out.push(format!("{path}: expected {} items, ours {}", e.len(), o.len()));
            // The first difference usually tells what went missing or came extra.
            if let Some(i) = (0..e.len().max(o.len())).find(|&i| e.get(i) != o.get(i)) {
                let (e, o) = (e.get(i).unwrap_or(&Value::Null), o.get(i).unwrap_or(&Value::Null));
                out.push(format!("{path}[{i}] first difference: expected {}, ours {}", abbrev(e), abbrev(o)));
            }
        }
        _ => out.push(format!("{path}: expected {}, ours {}", abbrev(expected), abbrev(ours))),
    }
}

/// The canonical per-key view: everything the server reported that the file must reproduce.
/// `lru_idle_s` is handled apart because it has a tolerance.
fn canonical_expected(key: &Value, doc: &ExpectedDoc, fx: &Fixture) -> Result<Value, String> {
    let ty = text(get(key, "type")?)?;
    let key_meta = match &doc.saved_meta_classes {
        None => Value::Null,
        Some(saved) => {
            // Classes without rdb_save (KMT3) have metadata in memory but never reach the file.
            let mut names = Vec::new();
            for pair in key.get("key_meta").map(items).transpose()?.into_iter().flatten() {
                let [class, _value] = tuple(pair)?;
                names.extend(Some(text(class)?.to_owned()).filter(|c| saved.contains(c)));
            }
            names.sort();
            if names.is_empty() {
                Value::Null
            } else {
                json!(names)
            }
        }
    };
    Ok(json!({
        "type": ty,
        "expire_at_ms": opt(key, "expire_at_ms"),
        "freq": if fx.lfu { get(key, "lfu_freq")?.clone() } else { Value::Null },
        "value": expected_value(ty, get(key, "value")?)?,
        "field_expire_at_ms": expected_field_ttls(key)?,
        "key_meta_classes": key_meta,
    }))
}

fn canonical_ours(record: &OurRecord) -> Result<Value, String> {
    let r = &record.record;
    let ty = text(get(r, "type")?)?;
    let key_meta = match r.get("key_meta") {
        None | Some(Value::Null) => Value::Null,
        Some(meta) => {
            let mut names = Vec::new();
            for pair in items(meta)? {
                let [class, raw, version, flags] = tuple(pair)?;
                our_bytes(raw)?;
                int(version)?;
                int(flags)?;
                names.push(text(class)?.to_owned());
            }
            names.sort();
            json!(names)
        }
    };
    Ok(json!({
        "type": ty,
        "expire_at_ms": opt(r, "expire_at_ms"),
        "freq": opt(r, "freq"),
        "value": our_value(ty, record)?,
        "field_expire_at_ms": our_field_ttls(record)?,
        "key_meta_classes": key_meta,
    }))
}

fn compare_key(fx: &Fixture, doc: &ExpectedDoc, expected: &Value, ours: &OurRecord) -> Vec<String> {
    let mut out = Vec::new();
    match (canonical_expected(expected, doc, fx), canonical_ours(ours)) {
        (Err(e), _) => out.push(format!("expected side unreadable: {e}")),
        (_, Err(e)) => out.push(format!("our record unreadable: {e}")),
        (Ok(e), Ok(o)) => diff("", &e, &o, &mut out),
    }
    // IDLE: only dump-lru.rdb has the opcode, and the server's reading may be 1 s off.
    let idle = &ours.record["idle_s"];
    match (fx.lru, idle.as_u64()) {
        (false, _) if !idle.is_null() => out.push(format!("idle_s {idle} in a file without IDLE opcodes")),
        (true, None) => out.push(format!("idle_s missing or not a number: {idle}")),
        (true, Some(ours)) => match expected["lru_idle_s"].as_u64() {
            None => out.push("expected side has no lru_idle_s".into()),
            Some(exp) if exp > SHARED_OBJECT_IDLE_S => {}
            Some(exp) if exp.abs_diff(ours) > 1 => out.push(format!(".idle_s: expected {exp} (+-1), ours {ours}")),
            Some(_) => {}
        },
        _ => {}
    }
    out
}

// ---------------------------------------------------------------------------------------------

struct Mismatch {
    file: String,
    key: Option<KeyId>,
    what: String,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match &self.key {
            Some((db, key)) => write!(f, "{} db {db} key {}: {}", self.file, show(key), self.what),
            None => write!(f, "{}: {}", self.file, self.what),
        }
    }
}

fn check_fixture(fx: &Fixture, doc: &ExpectedDoc, mismatches: &mut Vec<Mismatch>) {
    let mut report = |key: Option<&KeyId>, what: String| {
        mismatches.push(Mismatch { file: fx.label.clone(), key: key.cloned(), what })
    };
    // A file that is not the one the oracle describes (e.g. an LFS pointer) proves nothing.
    match std::fs::metadata(&fx.path) {
        Ok(meta) if meta.len() == fx.bytes => {}
        Ok(meta) => return report(None, format!("file has {} bytes, fixtures.json says {}", meta.len(), fx.bytes)),
        Err(e) => return report(None, format!("cannot read the fixture: {e}")),
    }
    let (ours, problems) = match dump(&fx.path) {
        Ok(dumped) => dumped,
        Err(e) => return report(None, e),
    };
    for problem in problems {
        report(None, problem);
    }
    for (id, expected) in &doc.keys {
        match ours.get(id) {
            None => report(Some(id), format!("missing from our dump ({} expected)", expected["type"])),
            Some(record) => {
                for what in compare_key(fx, doc, expected, record) {
                    report(Some(id), what);
                }
            }
        }
    }
    for (id, record) in &ours {
        if !doc.keys.contains_key(id) {
            report(Some(id), format!("not in the expected document: {}", abbrev(&record.record)));
        }
    }
}

#[test]
fn every_real_server_rdb_dumps_as_recorded() {
    let root = common::corpus_dir();
    let fixtures = rdb_fixtures(&root);
    assert!(!fixtures.is_empty(), "no RDB fixtures found under {}", root.display());

    let mut docs: BTreeMap<PathBuf, ExpectedDoc> = BTreeMap::new();
    let mut mismatches = Vec::new();
    for fx in &fixtures {
        let doc = docs.entry(fx.expected.clone()).or_insert_with(|| load_expected(&fx.expected));
        check_fixture(fx, doc, &mut mismatches);
    }

    let mut per_file: BTreeMap<&str, usize> = BTreeMap::new();
    for m in &mismatches {
        eprintln!("{m}");
        *per_file.entry(&m.file).or_default() += 1;
    }
    eprintln!("checked {} RDB files against the server-recorded JSON", fixtures.len());
    if !mismatches.is_empty() {
        let summary: Vec<String> = per_file.iter().map(|(file, n)| format!("  {file}: {n}")).collect();
        panic!(
            "{} mismatches in {} of {} files (details above):\n{}",
            mismatches.len(),
            per_file.len(),
            fixtures.len(),
            summary.join("\n")
        );
    }
}
