//! Golden replay, without a server: every AOF under `testdata/` replayed by
//! the keyspace model (`keyspace::replay`) must hold, key by key, what the
//! server that wrote it held after loading it.
//!
//! The expectation is never our own output. testdata/README.md says which
//! corpus fixture each in-tree AOF was copied from; the corpus's
//! `expected.json` beside that fixture was read back from the live server
//! after it loaded the AOF (corpus README, "How each fixture was made").
//! This test checks that the in-tree copy is that fixture's bytes (or, for a
//! damaged copy, a cut of them) and compares every key with that document.
//! For a copy cut inside its last command, the server loads the commands
//! before the cut (`aof-load-truncated yes`, the default): the expectation
//! is the document less what the lost commands wrote, which the test derives
//! only where it is certain (a plain SET of a key nothing before it names).
//!
//! Not compared, because an AOF does not hold them: consumer seen/active
//! times (the loading server stamps its own clock, as the replay does) and
//! the encodings the server chose.

use crate::common;

use base64::Engine;
use rdb_tool::event::OwnedValue;
use rdb_tool::event::{Event, ReaderOptions};
use rdb_tool::keyspace::replay::{Outcome, Replayer};
use rdb_tool::keyspace::Keyspace;
use rdb_tool::source::Source;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The loading server's clock. The fixtures hold absolute times only
/// (PEXPIREAT, SET … PXAT, XCLAIM … TIME), so nothing compared depends on it.
const NOW_MS: i64 = 1_800_000_000_000;

/// How an in-tree AOF relates to its corpus fixture (testdata/README.md, "aof/").
enum Origin {
    /// The same bytes (a file, or every file of a directory).
    Copy(&'static str),
    /// The fixture's bytes cut short.
    Cut(&'static str),
}

/// Every AOF in `testdata/`, with the corpus fixture it came from.
const FIXTURES: &[(&str, Origin)] = &[
    ("aof/plain_v62.aof", Origin::Copy("redis-6.2.16/aof-plain/appendonly.aof")),
    ("aof/multipart_v70", Origin::Copy("redis-7.0.15/aof-multi-incr/appendonlydir")),
    ("aof/preamble_v62_truncated_mid_bulk.aof", Origin::Cut("redis-6.2.16/aof-preamble/appendonly.aof")),
];

/// Keys where the replay knowingly differs from the server that wrote the
/// AOF: Redis 6.2's XCLAIM … FORCE (its rewrite logs the PEL that way) keeps
/// a pending entry whose stream entry was deleted, and the 6.2 server held
/// it; the replay drops such a dangling entry, as Redis 7.0+ does. For these
/// keys the expectation loses its dangling pending entries, and must lose
/// some: when the replay follows the AOF's version, this list must shrink.
const DANGLING_PEL_DROPPED: &[(&str, &str)] = &[("aof/plain_v62.aof", "stream:main")];

/// Drop the pending entries of an expected stream whose entry is gone; how many.
fn drop_dangling_pending(stream: &mut Value) -> usize {
    let ids: BTreeSet<String> = stream["entries"].as_array().unwrap().iter().map(|e| e[0].to_string()).collect();
    let mut dropped = 0;
    for g in stream["groups"].as_array_mut().unwrap() {
        let pel = g["pel"].as_array_mut().unwrap();
        let before = pel.len();
        pel.retain(|p| ids.contains(&p[0].to_string()));
        dropped += before - pel.len();
        for c in g["consumers"].as_array_mut().unwrap() {
            c["pending"].as_array_mut().unwrap().retain(|id| ids.contains(&id.to_string()));
        }
    }
    dropped
}

fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata")
}

/// The AOFs under `dir`: `.aof` files and multi-part directories (those
/// holding a manifest), relative to `testdata/`.
fn aofs_under(dir: &Path, out: &mut BTreeSet<String>) {
    let entries: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    let relative = |p: &Path| p.strip_prefix(testdata()).unwrap().to_string_lossy().into_owned();
    if entries.iter().any(|p| p.to_string_lossy().ends_with(".manifest")) {
        out.insert(relative(dir));
        return;
    }
    for p in entries {
        if p.is_dir() {
            aofs_under(&p, out);
        } else if p.extension().is_some_and(|e| e == "aof") {
            out.insert(relative(&p));
        }
    }
}

/// What the replay ends with, the commands it applied (file number in the
/// set, offset), and where the input turned out cut short.
struct Replayed {
    keyspace: Keyspace,
    applied: BTreeSet<(usize, u64)>,
    cut_at: Option<u64>,
}

/// Replay as convert does (`cmd::convert`), stopping where the server stops
/// loading a cut AOF: at the first incomplete command.
fn replay(path: &Path) -> Replayed {
    let mut files = Source::open(path).unwrap().aof_files().unwrap();
    let mut reader = rdb_tool::event::AofReader::new(&mut files, ReaderOptions::default());
    let mut replay = Replayer::at(NOW_MS);
    let (mut applied, mut cut_at, mut file) = (BTreeSet::new(), None, 0);
    loop {
        let event = match reader.next() {
            Ok(Some(event)) => event,
            Ok(None) => break,
            Err(e) => {
                cut_at = Some(e.offset.unwrap_or_default());
                break;
            }
        };
        match event {
            Event::AofFile { .. } => {
                replay.new_client();
                file += 1;
            }
            Event::Function { code } => replay.load_function(&code),
            Event::Key(k) => {
                let obj = OwnedValue::from_source(&k.value).unwrap();
                if !obj.is_empty_collection() {
                    replay.load_key(k.db, k.key.to_vec(), obj, &k.attrs);
                }
            }
            Event::Command(c) => {
                let args: Vec<&[u8]> = c.args().collect();
                // A server's own AOF: every command known, none refused.
                let outcome = replay.apply(&args);
                assert_eq!(outcome, Outcome::Applied, "{}: {:?}", path.display(), show_args(&args));
                applied.insert((file, c.offset));
            }
            _ => {}
        }
    }
    Replayed { keyspace: replay.keyspace, applied, cut_at }
}

/// Every command of `path`: (file number in the set, offset, db, args).
fn commands(path: &Path) -> Vec<(usize, u64, u64, Vec<Vec<u8>>)> {
    let mut files = Source::open(path).unwrap().aof_files().unwrap();
    let mut reader = rdb_tool::event::AofReader::new(&mut files, ReaderOptions::default());
    let (mut out, mut file) = (Vec::new(), 0);
    while let Some(event) = reader.next().unwrap() {
        match event {
            Event::AofFile { .. } => file += 1,
            Event::Command(c) => out.push((file, c.offset, c.db, c.args().map(<[u8]>::to_vec).collect())),
            _ => {}
        }
    }
    out
}

/// The keys of an AOF's RDB part (preamble or base), by (db, name).
fn base_keys(path: &Path) -> BTreeSet<(u64, Vec<u8>)> {
    let mut files = Source::open(path).unwrap().aof_files().unwrap();
    let mut reader = rdb_tool::event::AofReader::new(&mut files, ReaderOptions::default());
    let mut keys = BTreeSet::new();
    while let Some(event) = reader.next().unwrap() {
        if let Event::Key(k) = event {
            keys.insert((k.db, k.key.to_vec()));
        }
    }
    keys
}

fn show_args(args: &[&[u8]]) -> Vec<String> {
    args.iter().map(|a| String::from_utf8_lossy(a).into_owned()).collect()
}

// ---------------------------------------------------------------------------
// One canonical shape for both sides.

/// Bytes as text: themselves when UTF-8, else tagged base64 (injective).
fn text(b: &[u8]) -> Value {
    match std::str::from_utf8(b) {
        Ok(s) if !s.starts_with("base64:") => json!(s),
        _ => json!(format!("base64:{}", base64::engine::general_purpose::STANDARD.encode(b))),
    }
}

/// The expected document's bytes: a string, or `{"base64": …}`.
fn bytes(v: &Value) -> Vec<u8> {
    match v {
        Value::String(s) => s.as_bytes().to_vec(),
        Value::Object(o) => base64::engine::general_purpose::STANDARD.decode(o["base64"].as_str().unwrap()).unwrap(),
        other => panic!("not bytes: {other}"),
    }
}

fn etext(v: &Value) -> Value {
    text(&bytes(v))
}

/// A score as its shortest round-trip text: equal text, equal double.
fn score(f: f64) -> Value {
    json!(format!("{f:?}"))
}

type Keys = BTreeMap<(u64, Vec<u8>), Value>;

/// The expected document's keys and function libraries.
fn expected(doc: &Value) -> (Keys, Value) {
    let mut keys = Keys::new();
    for db in doc["dbs"].as_array().unwrap() {
        let n = db["db"].as_u64().unwrap();
        for key in db["keys"].as_array().unwrap() {
            let v = &key["value"];
            let (ty, value) = match key["type"].as_str().unwrap() {
                "string" => ("string", etext(v)),
                "list" => ("list", v.as_array().unwrap().iter().map(etext).collect()),
                "set" => {
                    let members: BTreeSet<Vec<u8>> = v.as_array().unwrap().iter().map(bytes).collect();
                    ("set", members.iter().map(|m| text(m)).collect())
                }
                "zset" => {
                    let pairs: BTreeMap<Vec<u8>, f64> = v
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|p| (bytes(&p[0]), p[1].as_str().unwrap().parse::<f64>().unwrap()))
                        .collect();
                    ("zset", pairs.iter().map(|(m, s)| json!([text(m), score(*s)])).collect())
                }
                "hash" => {
                    let ttls: BTreeMap<Vec<u8>, i64> = match key.get("field_expire_at_ms") {
                        Some(Value::Array(t)) => t.iter().map(|p| (bytes(&p[0]), p[1].as_i64().unwrap())).collect(),
                        _ => BTreeMap::new(),
                    };
                    let fields: BTreeMap<Vec<u8>, Vec<u8>> =
                        v.as_array().unwrap().iter().map(|p| (bytes(&p[0]), bytes(&p[1]))).collect();
                    let value = fields.iter().map(|(f, x)| json!([text(f), text(x), ttls.get(f)])).collect();
                    ("hash", value)
                }
                "stream" => ("stream", expected_stream(v)),
                other => panic!("type {other} is not in the in-tree AOFs; teach this test to compare it"),
            };
            let record = json!({"type": ty, "expire_at_ms": key["expire_at_ms"], "value": value});
            keys.insert((n, bytes(&key["key"])), record);
        }
    }
    let mut libraries: Vec<(Vec<u8>, Value)> = doc["functions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|l| (bytes(&l["library_name"]), etext(&l["code"])))
        .collect();
    libraries.sort_by(|a, b| a.0.cmp(&b.0));
    (keys, libraries.into_iter().map(|(n, c)| json!([text(&n), c])).collect())
}

/// A stream: what the server reported, less consumer times. The counters of
/// RDB 10+ (entries added, max deleted ID, first ID, entries read) only where
/// the document has them (7.0+).
fn expected_stream(v: &Value) -> Value {
    let entries: Vec<Value> = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let fields: Vec<Value> =
                e[1].as_array().unwrap().iter().map(|p| json!([etext(&p[0]), etext(&p[1])])).collect();
            json!([e[0], fields])
        })
        .collect();
    let mut groups: Vec<(Vec<u8>, Value)> = Vec::new();
    for g in v["groups"].as_array().unwrap() {
        let pel: Vec<Value> = g["pel"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                let owner = bytes(&p[1]);
                let owner = if owner.is_empty() { Value::Null } else { text(&owner) };
                json!([p[0], owner, p[2], p[3]])
            })
            .collect();
        let mut consumers: Vec<(Vec<u8>, Value)> = g["consumers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                let pending: Vec<&Value> = c["pel"].as_array().unwrap().iter().map(|p| &p[0]).collect();
                (bytes(&c["name"]), json!({"name": etext(&c["name"]), "pending": pending}))
            })
            .collect();
        consumers.sort_by(|a, b| a.0.cmp(&b.0));
        let mut group = json!({
            "name": etext(&g["name"]),
            "last_id": g["last_delivered_id"],
            "pel": pel,
            "consumers": consumers.into_iter().map(|(_, c)| c).collect::<Vec<_>>(),
        });
        if let Some(read) = g.get("entries_read") {
            group["entries_read"] = read.clone();
        }
        groups.push((bytes(&g["name"]), group));
    }
    groups.sort_by(|a, b| a.0.cmp(&b.0));
    let mut stream = json!({
        "entries": entries,
        "length": v["length"],
        "last_id": v["last_generated_id"],
        "groups": groups.into_iter().map(|(_, g)| g).collect::<Vec<_>>(),
    });
    for (ours, theirs) in [
        ("entries_added", "entries_added"),
        ("max_deleted_id", "max_deleted_entry_id"),
        ("first_id", "recorded_first_entry_id"),
    ] {
        if let Some(x) = v.get(theirs) {
            stream[ours] = x.clone();
        }
    }
    stream
}

/// The replayed keyspace in the same shape, with the fields `like` (the
/// expected record of the key, if any) has.
fn ours(ks: &Keyspace, expected: &Keys) -> (Keys, Value) {
    let mut keys = Keys::new();
    for (db, entries) in &ks.dbs {
        for (name, entry) in entries {
            let like = expected.get(&(*db, name.clone()));
            let (ty, value) = match &entry.obj {
                OwnedValue::Str(s) => ("string", text(s)),
                OwnedValue::List(l) => ("list", l.iter().map(|x| text(x)).collect()),
                // The recorded sets and hashes are sorted; ours keep the
                // order of the commands, as the server's listpacks do.
                OwnedValue::Set(s) => ("set", s.iter().collect::<BTreeSet<_>>().into_iter().map(|m| text(m)).collect()),
                OwnedValue::Zset(z) => {
                    let pairs: BTreeMap<&Vec<u8>, f64> = z.scores.iter().map(|(m, s)| (m, *s)).collect();
                    ("zset", pairs.iter().map(|(m, s)| json!([text(m), score(*s)])).collect())
                }
                OwnedValue::Hash(h) => {
                    let sorted: BTreeMap<_, _> = h.iter().collect();
                    ("hash", sorted.into_iter().map(|(f, (v, t))| json!([text(f), text(v), t])).collect())
                }
                OwnedValue::Stream(s) => {
                    let id = |id: &rdb_tool::event::StreamId| json!(format!("{}-{}", id.ms, id.seq));
                    let entries: Vec<Value> = s
                        .entries
                        .iter()
                        .map(|(k, fields)| {
                            json!([id(k), fields.iter().map(|(f, v)| json!([text(f), text(v)])).collect::<Vec<_>>()])
                        })
                        .collect();
                    let like_groups: Vec<Value> =
                        like.and_then(|l| l["value"]["groups"].as_array().cloned()).unwrap_or_default();
                    let mut groups: Vec<(Vec<u8>, Value)> = Vec::new();
                    for g in &s.meta.groups {
                        let pel: Vec<Value> = g
                            .pending
                            .iter()
                            .map(|(i, p)| json!([id(i), g.owner(p).map(text), p.delivery_time_ms, p.delivery_count]))
                            .collect();
                        let mut consumers: Vec<(Vec<u8>, Value)> = g
                            .consumers
                            .iter()
                            .zip(g.consumer_pels())
                            .map(|(c, pel)| {
                                let pending: Vec<Value> = pel.iter().map(id).collect();
                                (c.name.clone(), json!({"name": text(&c.name), "pending": pending}))
                            })
                            .collect();
                        consumers.sort_by(|a, b| a.0.cmp(&b.0));
                        let mut group = json!({
                            "name": text(&g.name),
                            "last_id": id(&g.last_id),
                            "pel": pel,
                            "consumers": consumers.into_iter().map(|(_, c)| c).collect::<Vec<_>>(),
                        });
                        if like_groups.iter().any(|x| x["name"] == text(&g.name) && x.get("entries_read").is_some()) {
                            group["entries_read"] = json!(g.entries_read);
                        }
                        groups.push((g.name.clone(), group));
                    }
                    groups.sort_by(|a, b| a.0.cmp(&b.0));
                    let mut stream = json!({
                        "entries": entries,
                        "length": s.entries.len(),
                        "last_id": id(&s.meta.last_id),
                        "groups": groups.into_iter().map(|(_, g)| g).collect::<Vec<_>>(),
                    });
                    let has = |f: &str| like.is_some_and(|l| l["value"].get(f).is_some());
                    if has("entries_added") {
                        stream["entries_added"] = json!(s.meta.entries_added);
                    }
                    if has("max_deleted_id") {
                        stream["max_deleted_id"] = id(&s.meta.max_deleted_id.unwrap_or_default());
                    }
                    if has("first_id") {
                        stream["first_id"] = s.entries.keys().next().map_or(json!("0-0"), id);
                    }
                    ("stream", stream)
                }
                other => ("other", json!(format!("{other:?}"))),
            };
            keys.insert((*db, name.clone()), json!({"type": ty, "expire_at_ms": entry.expire_at_ms, "value": value}));
        }
    }
    let mut libraries: Vec<&(Vec<u8>, Vec<u8>)> = ks.functions.iter().collect();
    libraries.sort_by(|a, b| a.0.cmp(&b.0));
    (keys, libraries.into_iter().map(|(n, c)| json!([text(n), text(c)])).collect())
}

/// Hash field TTLs appear in the value rows; a document without them says
/// null for every field, as ours does for a field without TTL.
fn differences(label: &str, expected: &Keys, ours: &Keys) -> Vec<String> {
    let mut out = Vec::new();
    for (id, want) in expected {
        let what = format!("{label}: db {} key {}", id.0, text(&id.1));
        match ours.get(id) {
            None => out.push(format!("{what}: missing (expected {})", want["type"])),
            Some(got) if got != want => out.push(format!("{what}:\n  expected {want}\n  ours     {got}")),
            Some(_) => {}
        }
    }
    for (id, got) in ours {
        if !expected.contains_key(id) {
            out.push(format!("{label}: db {} key {}: not expected, ours {got}", id.0, text(&id.1)));
        }
    }
    out
}

#[test]
fn every_in_tree_aof_replays_to_what_its_server_held() {
    let corpus = common::corpus_dir();
    let mut found = BTreeSet::new();
    aofs_under(&testdata(), &mut found);
    let listed: BTreeSet<String> = FIXTURES.iter().map(|(p, _)| p.to_string()).collect();
    assert_eq!(found, listed, "every AOF in testdata/ needs its origin here (testdata/README.md says it)");

    let mut problems = Vec::new();
    let mut compared = 0;
    for (path, origin) in FIXTURES {
        let ours_path = testdata().join(path);
        let (source, cut) = match origin {
            Origin::Copy(s) => (corpus.join(s), false),
            Origin::Cut(s) => (corpus.join(s), true),
        };
        // The oracle speaks of the source's bytes: the copy must be them.
        if ours_path.is_dir() {
            let names =
                |d: &Path| -> BTreeSet<_> { std::fs::read_dir(d).unwrap().map(|e| e.unwrap().file_name()).collect() };
            assert_eq!(names(&ours_path), names(&source), "{path}: not the same files as {}", source.display());
            for name in names(&ours_path) {
                let same = std::fs::read(ours_path.join(&name)).unwrap() == std::fs::read(source.join(&name)).unwrap();
                assert!(same, "{path}/{name:?} differs from the corpus");
            }
        } else {
            let (mine, theirs) = (std::fs::read(&ours_path).unwrap(), std::fs::read(&source).unwrap());
            if cut {
                assert!(
                    mine.len() < theirs.len() && theirs.starts_with(&mine),
                    "{path}: not a cut of {}",
                    source.display()
                );
            } else {
                assert!(mine == theirs, "{path}: not the bytes of {}", source.display());
            }
        }
        let doc = common::read_json(&source.parent().unwrap().join("expected.json"));
        let (mut want_keys, want_functions) = expected(&doc);

        let replayed = replay(&ours_path);
        // The only damage of a cut copy is its end.
        let end = std::fs::metadata(&ours_path).unwrap().len();
        assert_eq!(replayed.cut_at, cut.then_some(end), "{path}: where the reading stopped");
        if cut {
            // The commands past the cut, which the server did not load.
            let all = commands(&source);
            let lost: Vec<_> = all.iter().filter(|c| !replayed.applied.contains(&(c.0, c.1))).collect();
            assert!(!lost.is_empty(), "{path}: nothing lost at the cut");
            let base = base_keys(&source);
            for (_, offset, db, args) in lost {
                let plain_set = args.len() == 3 && args[0].eq_ignore_ascii_case(b"SET");
                let named_before = base.contains(&(*db, args[1].clone()))
                    || all.iter().any(|c| c.1 < *offset && c.3.iter().skip(1).any(|a| *a == args[1]));
                assert!(
                    plain_set && !named_before,
                    "{path}: the expectation cannot be derived past the lost command at {offset}: {:?}",
                    show_args(&args.iter().map(Vec::as_slice).collect::<Vec<_>>())
                );
                // A new key the lost SET would have created.
                assert!(want_keys.remove(&(*db, args[1].clone())).is_some());
            }
        }
        for (_, key) in DANGLING_PEL_DROPPED.iter().filter(|(p, _)| p == path) {
            let stream = &mut want_keys.get_mut(&(0, key.as_bytes().to_vec())).unwrap()["value"];
            assert!(drop_dangling_pending(stream) > 0, "{path}: {key} has no dangling pending entry any more");
        }
        let (got_keys, got_functions) = ours(&replayed.keyspace, &want_keys);
        problems.extend(differences(path, &want_keys, &got_keys));
        if got_functions != want_functions {
            problems.push(format!("{path}: functions\n  expected {want_functions}\n  ours     {got_functions}"));
        }
        compared += want_keys.len();
    }
    assert!(problems.is_empty(), "{} differences:\n{}", problems.len(), problems.join("\n"));
    assert!(compared > 250, "only {compared} keys compared");
}
