//! The binary as a user runs it: exit codes, JSON reports, dump filters. (On
//! the corpus's files: corpus::cli.)

use crate::common;

use rdb_tool::error::{ErrorKind, InputProblem};
use serde_json::Value;
use std::process::{Command, Output};

pub(crate) fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rdb-tool")).args(args).output().expect("run rdb-tool")
}

fn jsonl(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).expect("JSON line")).collect()
}

fn keys(out: &Output) -> Vec<String> {
    jsonl(out).iter().map(|r| r["key"].as_str().unwrap_or("<binary>").to_string()).collect()
}

pub(crate) const SAMPLE: &str = "testdata/rdb/sample_v12.rdb";

#[test]
fn exit_codes_follow_the_documented_contract() {
    assert_eq!(run(&["check", SAMPLE]).status.code(), Some(0));
    assert_eq!(run(&["check", "testdata/rdb/damaged/flip-middle.rdb"]).status.code(), Some(1));
    assert_eq!(run(&["check", "testdata/rdb/peers/redis_future_v19.rdb"]).status.code(), Some(3));
    assert_eq!(run(&["check", "testdata/does-not-exist.rdb"]).status.code(), Some(2));
    assert_eq!(run(&["check"]).status.code(), Some(2), "usage error");
    assert_eq!(run(&["dump", "testdata/rdb/damaged/truncated-middle.rdb"]).status.code(), Some(1));
    // Several files: the worst verdict wins, reports stay in argument order.
    let out = run(&["check", "--format", "json", SAMPLE, "testdata/rdb/damaged/truncated-middle.rdb"]);
    assert_eq!(out.status.code(), Some(1));
    let docs = jsonl(&out);
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[0]["verdict"], "valid");
    assert_eq!(docs[1]["verdict"], "damaged");
    assert_eq!(docs[1]["error"]["class"], "truncated");
    assert!(docs[1]["error"]["offset"].as_u64().is_some());
}

/// An input the command cannot take fails the run (exit 2) as class "input",
/// with the message it always had; "usage" is only for the command line.
#[test]
fn an_input_the_command_cannot_take_is_an_input_error() {
    let out = run(&["check", "--format", "json", "testdata/rdb"]);
    assert_eq!(out.status.code(), Some(2));
    let doc = &jsonl(&out)[0];
    assert_eq!(doc["verdict"], "error");
    assert_eq!(doc["error"]["class"], "input");
    assert_eq!(doc["error"]["message"], "no AOF manifest (*.manifest) in this directory");
    let plan = rdb_tool::cmd::fix::plan(std::path::Path::new(SAMPLE), &Default::default());
    assert_eq!(plan.err().map(|e| e.kind), Some(ErrorKind::Input(InputProblem::FixOfRdb)));
    for args in [["fix", "--dry-run", SAMPLE], ["dump", "--commands", SAMPLE]] {
        assert_eq!(run(&args).status.code(), Some(2), "{args:?}");
    }
}

#[test]
fn check_json_report_matches_the_live_server_counts() {
    // shared/corpus/redis-7.4.1/expected-main.json: 90 keys (82 + 5 + 3), 10 with a TTL.
    let out = run(&["check", "--format", "json", SAMPLE]);
    let doc = &jsonl(&out)[0];
    assert_eq!(doc["keys"], 90);
    assert_eq!(doc["keys_per_db"], serde_json::json!({"0": 82, "1": 5, "5": 3}));
    assert_eq!(doc["expires"], 10);
    assert_eq!(doc["functions"], 2);
    assert_eq!(doc["checksum"], "ok");
    assert!(doc["aux"].as_array().unwrap().contains(&serde_json::json!(["redis-ver", "7.4.1"])));
}

#[test]
fn dump_filters() {
    let all = keys(&run(&["dump", SAMPLE]));
    assert_eq!(all.len(), 90);
    let db1 = keys(&run(&["dump", SAMPLE, "--db", "1"]));
    assert_eq!(db1.len(), 5);
    assert!(db1.iter().all(|k| k.starts_with("db1:") || k == "str:short"));
    let globbed = keys(&run(&["dump", SAMPLE, "--key", "zset:*", "--key", "ttl:z?et"]));
    assert!(!globbed.is_empty());
    assert!(globbed.iter().all(|k| k.starts_with("zset:") || k == "ttl:zset"), "{globbed:?}");
    let regex = keys(&run(&["dump", SAMPLE, "--key-regex", "^stream:.*trim"]));
    assert_eq!(regex, ["stream:minid-trimmed", "stream:trimmed"]);
    let streams = jsonl(&run(&["dump", SAMPLE, "--type", "stream"]));
    assert_eq!(streams.len(), 8);
    assert!(streams.iter().all(|r| r["type"] == "stream"));
    // Every TTL in the sample is far in the future except none; at a "now" past
    // all of them, --no-expired drops exactly the 10 keys with a TTL.
    let kept = keys(&run(&["dump", SAMPLE, "--no-expired", "--now", "9999999999999"]));
    assert_eq!(kept.len(), 80);
    let kept_at_ctime = keys(&run(&["dump", SAMPLE, "--no-expired"]));
    assert_eq!(kept_at_ctime.len(), 90, "nothing had expired when the file was saved");
    assert_eq!(run(&["dump", SAMPLE, "--type", "nope"]).status.code(), Some(2));
}

#[test]
fn dump_reads_standard_input() {
    let file = std::fs::File::open("testdata/rdb/all_types_v9.rdb").expect("fixture");
    let out = Command::new(env!("CARGO_BIN_EXE_rdb-tool")).args(["dump", "-"]).stdin(file).output().expect("run");
    assert_eq!(out.status.code(), Some(0));
    let from_file = run(&["dump", "testdata/rdb/all_types_v9.rdb"]);
    assert_eq!(out.stdout, from_file.stdout);
}

#[test]
fn a_closed_output_pipe_is_not_an_error() {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(env!("CARGO_BIN_EXE_rdb-tool"))
        .args(["dump", SAMPLE])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).expect("line");
    // The reader is gone now (like `| head -1`).
    let out = child.wait_with_output().expect("wait");
    assert!(first.starts_with("{\"db\":"));
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn quick_check_says_so() {
    let out = run(&["check", "--quick", SAMPLE]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("depth       quick"), "{text}");
    let full = run(&["check", SAMPLE]);
    assert!(!String::from_utf8_lossy(&full.stdout).contains("depth"));
    let out = run(&["check", "--quick", "--format", "json", SAMPLE]);
    let doc: Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_eq!(doc["depth"], "quick");
    assert_eq!(doc["keys"], 90);
    // Field TTLs are counted by walking hashes: unknown here, not zero.
    assert!(doc["hashes_with_field_ttls"].is_null(), "{doc}");
    let out = run(&["check", "--format", "json", SAMPLE]);
    let doc: Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_eq!(doc["depth"], "full");
}

/// `--now` is the clock an AOF's relative times count from, for every
/// command that replays one; times already past are kept (as a loading
/// server keeps them) and only `--no-expired` leaves them out.
#[test]
fn now_pins_the_clock_of_a_replayed_aof() {
    let scratch = common::Scratch::new("cli-now");
    let aof = scratch.0.join("appendonly.aof");
    let resp = |args: &[&str]| -> String {
        args.iter().fold(format!("*{}\r\n", args.len()), |s, a| s + &format!("${}\r\n{a}\r\n", a.len()))
    };
    let text = [
        resp(&["SET", "rel", "v", "EX", "10"]),
        resp(&["HSET", "h", "f", "v"]),
        resp(&["HPEXPIRE", "h", "500", "FIELDS", "1", "f"]),
        resp(&["SET", "past", "v", "PXAT", "1"]),
    ]
    .concat();
    std::fs::write(&aof, text).unwrap();
    let path = aof.to_str().unwrap();
    for args in [
        vec!["convert", path, "--to", "jsonl", "--now", "1000"],
        vec!["dump", path, "--now", "1000"],
        vec!["dump", path, "--now", "1000", "--no-expired"],
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        let records = jsonl(&out);
        let by_key = |k: &str| records.iter().find(|r| r["key"] == k).cloned();
        assert_eq!(by_key("rel").unwrap()["expire_at_ms"], 11_000, "{args:?}");
        assert_eq!(by_key("h").unwrap()["field_expire_at_ms"]["f"], 1_500, "{args:?}");
        let past = by_key("past");
        if args.contains(&"--no-expired") {
            assert!(past.is_none(), "{args:?}: expired at --now");
        } else {
            assert_eq!(past.unwrap()["expire_at_ms"], 1, "{args:?}: kept, as the loading server keeps it");
        }
    }
    // Both sides of a diff replay on one clock: an AOF equals itself.
    let same = run(&["diff", path, path, "--now", "1000"]);
    assert_eq!(same.status.code(), Some(0), "{}", String::from_utf8_lossy(&same.stdout));
}

/// An AOF holding a command the replay does not know: `dump` stops and
/// names `--skip-unknown`, which it accepts, as `convert` does.
#[test]
fn dump_of_an_aof_takes_skip_unknown_as_it_suggests() {
    let scratch = common::Scratch::new("cli-skip-unknown");
    let aof = scratch.0.join("appendonly.aof");
    std::fs::write(&aof, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*3\r\n$8\r\nJSON.SET\r\n$1\r\nj\r\n$1\r\n1\r\n")
        .unwrap();
    let path = aof.to_str().unwrap();
    let out = run(&["dump", path]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--skip-unknown"));
    let out = run(&["dump", path, "--skip-unknown"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(keys(&out), ["k"]);
}
