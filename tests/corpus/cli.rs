//! The binary as a user runs it, on the corpus's files: an AOF a real server
//! wrote checked, dumped and fixed; a record larger than a pipe's memory. (On
//! the repository's fixtures: hermetic::cli.)

use crate::common;
use crate::hermetic::cli::{run, SAMPLE};

use serde_json::Value;
use std::process::Command;

#[test]
fn an_aof_is_checked_and_dumped() {
    let aof = common_aof();
    let out = run(&["check", &aof]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stdout).contains("single-file AOF"));
    // Its keys are dumped by replaying the commands; its command log too.
    let out = run(&["dump", "--type", "hash", &aof]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let keys = String::from_utf8_lossy(&out.stdout).lines().count();
    assert!(keys > 5, "{keys} hashes");
    assert!(String::from_utf8_lossy(&out.stdout).lines().all(|l| l.contains("\"type\":\"hash\"")));
    let out = run(&["dump", "--commands", &aof]);
    assert_eq!(out.status.code(), Some(0));
    let first = String::from_utf8_lossy(&out.stdout).lines().next().unwrap().to_string();
    assert_eq!(first, r#"{"file":"appendonly.aof","offset":0,"db":0,"ts":null,"args":["SELECT","0"]}"#);
    // --commands on an RDB is a usage error.
    assert_eq!(run(&["dump", "--commands", SAMPLE]).status.code(), Some(2));
    // Anything else that is not an RDB is damage (bad magic), exit 1.
    assert_eq!(run(&["check", "Cargo.toml"]).status.code(), Some(1));
}

#[test]
fn fix_plans_confirms_backs_up_and_rechecks() {
    let dir = std::env::temp_dir().join(format!("rdb-tool-cli-fix-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let aof = dir.join("appendonly.aof");
    let original = std::fs::read(common_aof()).unwrap();
    let mut damaged = original.clone();
    damaged.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$1\r\nk");
    std::fs::write(&aof, &damaged).unwrap();
    let path = aof.to_str().unwrap();

    // check says damaged and what fix would do.
    let out = run(&["check", path]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!(
        "from {} to {} bytes",
        damaged.len(),
        original.len()
    )));
    // A dry run changes nothing.
    let out = run(&["fix", "--dry-run", path]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("dry run: nothing changed"));
    assert_eq!(std::fs::read(&aof).unwrap(), damaged);
    // Refusing the prompt changes nothing (exit 1).
    let out = run_with_stdin(&["fix", path], b"n\n");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(std::fs::read(&aof).unwrap(), damaged);
    // Accepting it cuts, keeps the cut bytes, and re-checks.
    let out = run_with_stdin(&["fix", path], b"y\n");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read(&aof).unwrap(), original);
    let backups: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().contains(".cut-at-"))
        .collect();
    assert_eq!(backups.len(), 1);
    assert_eq!(std::fs::read(&backups[0]).unwrap(), &damaged[original.len()..]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("re-check: valid"));
    // Nothing left to fix.
    assert_eq!(run(&["fix", "--yes", path]).status.code(), Some(0));
    // An RDB is not something fix cuts.
    assert_eq!(run(&["fix", "--yes", SAMPLE]).status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}

fn run_with_stdin(args: &[&str], input: &[u8]) -> std::process::Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_rdb-tool"))
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().expect("wait")
}

/// A RESP AOF written by a real server (shared corpus, Redis 6.2 `aof-plain`).
fn common_aof() -> String {
    common::corpus_dir().join("redis-6.2.16/aof-plain/appendonly.aof").display().to_string()
}

/// A record larger than `--pipe-memory` is read through a temporary file in
/// TMPDIR that is gone at once; `--max-record` still refuses with exit 3.
#[test]
fn a_pipe_reads_records_larger_than_its_memory_through_a_temporary_file() {
    // A 1.1 MB LZF string and a 1500-element quicklist, written by Redis 8.0.
    let path = common::corpus_dir().join("redis-8.0-m01/big/dump.rdb");
    let path = path.to_str().expect("UTF-8 path");
    let tmp = std::env::temp_dir().join(format!("rdb-tool-cli-spill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir(&tmp).expect("tmp dir");
    let piped = |args: &[&str], tmpdir: &std::path::Path| {
        let file = std::fs::File::open(path).expect("fixture");
        Command::new(env!("CARGO_BIN_EXE_rdb-tool")).args(args).env("TMPDIR", tmpdir).stdin(file).output().expect("run")
    };
    let from_file = run(&["dump", path]);
    assert_eq!(from_file.status.code(), Some(0));
    let out = piped(&["dump", "-", "--pipe-memory", "8192"], &tmp);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.stdout, from_file.stdout);
    let out = piped(&["check", "-", "--pipe-memory", "8192"], &tmp);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read_dir(&tmp).expect("tmp dir").count(), 0, "nothing left in TMPDIR");

    // Proof that the spill file is used: where TMPDIR cannot hold it, the run
    // fails as an I/O error naming the directory.
    let missing = tmp.join("missing");
    let out = piped(&["dump", "-", "--pipe-memory", "8192"], &missing);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("temporary file") && stderr.contains("missing"), "{stderr}");

    let out = piped(&["check", "-", "--max-record", "10000", "--format", "json"], &tmp);
    assert_eq!(out.status.code(), Some(3));
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_eq!(report["error"]["class"], "record_too_large", "{report}");
    std::fs::remove_dir_all(&tmp).expect("clean up");
}
