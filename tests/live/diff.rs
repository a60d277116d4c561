//! `diff` against a real server's snapshots: a dataset is written and saved,
//! a known list of changes is applied (adds, deletes, value changes of every
//! type, TTL changes, a type change, and a change only in encoding: a hash
//! grown past the listpack limit and shrunk back), and saved again. The diff
//! reports exactly those changes, for RDB vs RDB, RDB vs the AOF directory, and
//! our JSON dump vs RDB; the same snapshot against itself is "same" (exit 0).

use crate::common;

use common::copy_tree;

use common::redis::Server;
use rdb_tool::cmd::diff::{diff, Change, DiffConfig, DEFAULT_MEMORY_BUDGET};
use rdb_tool::cmd::dump::{dump, DumpConfig, DumpFormat};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const FAR: i64 = 4_000_000_000_000;

fn save(server: &Server, c: &mut common::redis::Client, to: &Path) {
    c.ok(&["SAVE"]);
    std::fs::copy(server.rdb_path(), to).unwrap();
}

/// (key, summary of the change) for every differing key. Computed twice:
/// with the default memory budget (all in memory, one round) and with a tiny
/// one (summaries spilled to disk, values compared in several rounds); both
/// must say the same.
fn changes(a: &PathBuf, b: &PathBuf) -> BTreeMap<String, String> {
    let roomy = changes_within(a, b, DEFAULT_MEMORY_BUDGET);
    let tight = changes_within(a, b, 512);
    assert_eq!(tight.0, roomy.0, "{} vs {}: spilled and in-memory diffs agree", a.display(), b.display());
    assert!(roomy.1 == 0 && roomy.2 <= 1, "with room: nothing spilled, at most one round");
    assert!(tight.1 > 0, "the tight budget spills");
    if !tight.0.is_empty() && tight.0.values().any(|c| c.starts_with("changed")) {
        assert!(tight.2 > 1, "the tight budget compares values in rounds: {}", tight.2);
    }
    roomy.0
}

/// The changes, how many summaries went to disk, and the rounds of pass 2.
fn changes_within(a: &PathBuf, b: &PathBuf, budget: usize) -> (BTreeMap<String, String>, u64, usize) {
    let mut cfg = DiffConfig::new(a, b);
    cfg.memory_budget = budget;
    let report = diff(&cfg).unwrap_or_else(|e| panic!("{} vs {}: {e}", a.display(), b.display()));
    let listed = report
        .diffs
        .iter()
        .map(|d| {
            let key = String::from_utf8_lossy(&d.key).into_owned();
            let what = match &d.change {
                Change::Added { kind } => format!("added {}", kind.name()),
                Change::Removed { kind } => format!("removed {}", kind.name()),
                Change::Changed { kind, type_before, ttl, value } => {
                    let mut s = format!("changed {}", kind.name());
                    if let Some(t) = type_before {
                        s += &format!(" type_before={}", t.name());
                    }
                    if let Some((x, y)) = ttl {
                        s += &format!(" ttl={x:?}->{y:?}");
                    }
                    if let Some(v) = value {
                        let names = |l: &Vec<Vec<u8>>| {
                            l.iter().map(|m| String::from_utf8_lossy(m).into_owned()).collect::<Vec<_>>()
                        };
                        if v.value_changed {
                            s += " value";
                        }
                        if !v.added.is_empty() {
                            s += &format!(" +{:?}", names(&v.added));
                        }
                        if !v.removed.is_empty() {
                            s += &format!(" -{:?}", names(&v.removed));
                        }
                        if !v.changed.is_empty() {
                            s += &format!(" ~{:?}", names(&v.changed));
                        }
                        if let Some(i) = v.first_difference {
                            s += &format!(" at={i} len={}->{}", v.len_before, v.len_after);
                        }
                    }
                    s
                }
            };
            (key, what)
        })
        .collect();
    (listed, report.spilled, report.rounds)
}

#[test]
fn diff_reports_exactly_the_changes_made_on_a_real_server() {
    let dir = std::env::temp_dir().join(format!("rdb-tool-live-diff-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let server =
        Server::start("diff", &["--appendonly", "yes", "--appendfsync", "always", "--aof-use-rdb-preamble", "no"]);
    let mut c = server.client().unwrap();
    let far = FAR.to_string();
    // The dataset.
    c.ok(&["SET", "str:same", "unchanged"]);
    c.ok(&["SET", "str:changed", "before"]);
    c.ok(&["SET", "str:gone", "x"]);
    c.ok(&["SET", "ttl:moved", "v", "PXAT", &far]);
    c.ok(&["SET", "ttl:dropped", "v", "PXAT", &far]);
    c.ok(&["SET", "type:flip", "a string"]);
    c.ok(&["RPUSH", "list", "a", "b", "c"]);
    c.ok(&["SADD", "set", "m0", "m1", "m2"]);
    c.ok(&["ZADD", "zset", "1", "a", "2", "b"]);
    c.ok(&["HSET", "hash", "f", "old", "g", "gone", "k", "kept"]);
    c.ok(&["XADD", "stream", "1-1", "f", "v"]);
    c.ok(&["HSET", "hash:encoding", "a", "1", "b", "2"]);
    // Unchanged keys enough for a small memory budget to spill.
    for i in 0..300 {
        c.ok(&["SET", &format!("filler:{i}"), &"v".repeat(i % 50)]);
    }
    let a_rdb = dir.join("a.rdb");
    save(&server, &mut c, &a_rdb);
    let a_json = dir.join("a.jsonl");
    let mut out = Vec::new();
    dump(&DumpConfig::new(&a_rdb, DumpFormat::Jsonl), &mut out).unwrap();
    std::fs::write(&a_json, out).unwrap();

    // The changes.
    c.ok(&["SET", "str:changed", "after"]);
    c.ok(&["DEL", "str:gone"]);
    c.ok(&["SET", "str:new", "fresh"]);
    c.ok(&["PEXPIREAT", "ttl:moved", &(FAR + 60_000).to_string()]);
    c.ok(&["PERSIST", "ttl:dropped"]);
    c.ok(&["DEL", "type:flip"]);
    c.ok(&["SADD", "type:flip", "now a set"]);
    c.ok(&["RPUSH", "list", "d"]);
    c.ok(&["SADD", "set", "m3"]);
    c.ok(&["SREM", "set", "m0"]);
    c.ok(&["ZADD", "zset", "5", "a"]);
    c.ok(&["HSET", "hash", "f", "new", "n", "added"]);
    c.ok(&["HDEL", "hash", "g"]);
    c.ok(&["XADD", "stream", "2-1", "f", "w"]);
    // Only the encoding changes: past the listpack limit and back.
    for i in 0..200 {
        c.ok(&["HSET", "hash:encoding", &format!("tmp{i}"), "x"]);
    }
    for i in 0..200 {
        c.ok(&["HDEL", "hash:encoding", &format!("tmp{i}")]);
    }
    let b_rdb = dir.join("b.rdb");
    save(&server, &mut c, &b_rdb);
    let b_aof = dir.join("b-appendonlydir");
    copy_tree(&server.dir.join("appendonlydir"), &b_aof);

    let expected: BTreeMap<String, String> = [
        ("hash", r#"changed hash +["n"] -["g"] ~["f"]"#),
        ("list", "changed list at=3 len=3->4"),
        ("set", r#"changed set +["m3"] -["m0"]"#),
        ("str:changed", "changed string value"),
        ("str:gone", "removed string"),
        ("str:new", "added string"),
        ("stream", r#"changed stream +["2-1"]"#),
        ("ttl:dropped", &format!("changed string ttl=Some({FAR})->None")),
        ("ttl:moved", &format!("changed string ttl=Some({FAR})->Some({})", FAR + 60_000)),
        ("type:flip", "changed set type_before=string"),
        ("zset", r#"changed zset ~["a"]"#),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(changes(&a_rdb, &b_rdb), expected, "RDB vs RDB");
    assert_eq!(changes(&a_rdb, &b_aof), expected, "RDB vs the AOF directory");
    assert_eq!(changes(&a_json, &b_rdb), expected, "JSON dump vs RDB");
    assert!(changes(&b_rdb, &b_aof).is_empty(), "a snapshot and the AOF of the same state");
    // The binary: exit 1 when different, 0 when same, 2 on error; JSONL records.
    let bin = env!("CARGO_BIN_EXE_rdb-tool");
    let run = |args: &[&str]| std::process::Command::new(bin).args(args).output().unwrap();
    let out = run(&["diff", "--format", "jsonl", a_rdb.to_str().unwrap(), b_rdb.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), expected.len());
    assert!(text.contains(r#"{"db":0,"key":"hash","change":"changed","type":"hash","fields_added":["n"],"fields_removed":["g"],"fields_changed":["f"]}"#), "{text}");
    assert_eq!(run(&["diff", b_rdb.to_str().unwrap(), b_aof.to_str().unwrap()]).status.code(), Some(0));
    assert_eq!(run(&["diff", a_rdb.to_str().unwrap(), "/nonexistent"]).status.code(), Some(2));
    drop(c);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
