//! Round trips through `convert`, for every RDB the real servers wrote in the
//! corpus: RDB → RDB of the same version dumps exactly as the source does, and
//! RDB → JSON → RDB → JSON gives the same JSON; every file we write checks
//! clean. (Loading our output into a real server is tests/live_convert.rs.)

mod common;

use rdb_tool::cmd::check::{check_file, Verdict};
use rdb_tool::cmd::convert::{convert, ConvertConfig, ConvertTo};
use rdb_tool::cmd::dump::{dump, DumpConfig, DumpFormat};
use rdb_tool::event::ReaderOptions;
use rdb_tool::output::rdb::writer::MAX_WRITE_VERSION;
use std::path::{Path, PathBuf};

fn dump_of(path: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    dump(&DumpConfig::new(path, DumpFormat::Jsonl), &mut out).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    out
}

fn convert_to_file(input: &Path, version: u32, output: &Path) {
    let mut cfg = ConvertConfig::new(input, ConvertTo::Rdb);
    cfg.rdb_version = Some(version);
    let mut out = Vec::new();
    convert(&cfg, &mut out).unwrap_or_else(|e| panic!("{} -> RDB {version}: {e}", input.display()));
    std::fs::write(output, out).unwrap();
    let report = check_file(output, ReaderOptions::default(), None);
    assert_eq!(report.verdict(), Verdict::Valid, "{}: our output: {:?}", input.display(), report.error);
}

/// Two dumps must be equal; on failure show the first record that differs.
fn same_lines(got: &[u8], want: &[u8], what: &str) {
    let got = String::from_utf8_lossy(got);
    let want = String::from_utf8_lossy(want);
    for (i, (g, w)) in got.lines().zip(want.lines()).enumerate() {
        assert!(
            g == w,
            "{what}: record {} differs\n got: {}\nwant: {}",
            i + 1,
            &g[..g.len().min(600)],
            &w[..w.len().min(600)]
        );
    }
    assert_eq!(got.lines().count(), want.lines().count(), "{what}: record count");
}

/// Every RDB fixture the servers wrote, with its RDB version.
fn server_rdbs() -> Vec<(PathBuf, u32)> {
    let mut files = Vec::new();
    for vdir in common::version_dirs() {
        let fixtures = common::read_json(&vdir.join("fixtures.json"));
        for fx in fixtures["fixtures"].as_array().unwrap() {
            if fx["kind"] != "rdb" {
                continue;
            }
            let f = &fx["files"][0];
            files.push((vdir.join(f["path"].as_str().unwrap()), f["rdb_version"].as_u64().unwrap() as u32));
        }
    }
    files
}

#[test]
fn rdb_to_rdb_of_the_same_version_dumps_the_same() {
    let scratch = std::env::temp_dir().join(format!("rdb-tool-roundtrip-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let mut compared = 0;
    for (path, version) in server_rdbs() {
        // Valkey 9 (`VALKEY080`) is written in the Redis dialect as RDB 12, the
        // Redis version holding the same data; versions we cannot write are skipped.
        let target = if version == 80 { 12 } else { version };
        if target > MAX_WRITE_VERSION {
            continue;
        }
        let out = scratch.join("same.rdb");
        convert_to_file(&path, target, &out);
        same_lines(&dump_of(&out), &dump_of(&path), &format!("{}: RDB {target} copy", path.display()));
        compared += 1;
    }
    let _ = std::fs::remove_dir_all(&scratch);
    assert!(compared >= 40, "only {compared} files compared");
}

#[test]
fn rdb_to_json_to_rdb_to_json_is_identical() {
    let scratch = std::env::temp_dir().join(format!("rdb-tool-jsontrip-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let mut compared = 0;
    for (path, version) in server_rdbs() {
        let target = if version == 80 { 12 } else { version };
        if target > MAX_WRITE_VERSION {
            continue;
        }
        let first = dump_of(&path);
        let json = scratch.join("first.jsonl");
        std::fs::write(&json, &first).unwrap();
        let rebuilt = scratch.join("rebuilt.rdb");
        convert_to_file(&json, target, &rebuilt);
        same_lines(&dump_of(&rebuilt), &first, &format!("{}: JSON -> RDB {target} -> JSON", path.display()));
        compared += 1;
    }
    let _ = std::fs::remove_dir_all(&scratch);
    assert!(compared >= 40, "only {compared} files compared");
}
