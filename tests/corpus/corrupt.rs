//! Damaged RDB copies from the corpus: wherever `redis-check-rdb` (of the server
//! version that wrote the file) rejected a copy, `check` must reject it too and
//! name an offset; where it accepted one, so must we (those flips change string
//! bytes that no structure check can see).

use crate::common;

use rdb_tool::cmd::check::{check_file, Verdict};
use rdb_tool::event::ReaderOptions;

#[test]
fn damaged_rdb_verdicts_match_redis_check_rdb() {
    let mut failures = Vec::new();
    let mut cases = 0;
    for dir in common::version_dirs() {
        let oracle = dir.join("corrupt/corruption.json");
        if !oracle.is_file() {
            continue;
        }
        let doc = common::read_json(&oracle);
        for group in doc["rdb"].as_array().into_iter().flatten() {
            for case in group["cases"].as_array().into_iter().flatten() {
                let file = dir.join(case["file"].as_str().expect("case file"));
                let server_rejects = case["check"]["rc"].as_i64() != Some(0);
                let report = check_file(&file, ReaderOptions::default(), None);
                cases += 1;
                let we_reject = report.verdict() != Verdict::Valid;
                // The one place the servers overrule redis-check-rdb: a version
                // byte raised to one the writer's redis-check-rdb cannot read
                // ("Can't handle RDB format version"), over records that version
                // reads as they are. A server of that version loads them (as
                // Valkey 8.1 loads librdb's script.rdb, RDB 11 written by 7.0),
                // so `check` passes it with a warning naming the writer.
                let newer_header = case["case"] == "flip-version"
                    && case["check"]["output"].as_str().is_some_and(|o| o.contains("Can't handle RDB format version"))
                    && report.warnings.iter().any(|w| w.contains("header says RDB"));
                if we_reject != server_rejects && !newer_header {
                    failures.push(format!(
                        "{}: redis-check-rdb rc {}, we say {:?} ({:?})",
                        file.display(),
                        case["check"]["rc"],
                        report.verdict(),
                        report.error.as_ref().map(|e| e.to_string())
                    ));
                } else if let Some(e) = &report.error {
                    if e.offset.is_none() {
                        failures.push(format!("{}: error without offset: {e}", file.display()));
                    }
                }
            }
        }
    }
    assert!(cases > 50, "expected the corpus' damaged RDB cases, found {cases}");
    assert!(failures.is_empty(), "{} of {cases} cases disagree:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn every_valid_fixture_checks_clean() {
    let mut failures = Vec::new();
    let mut files = 0;
    for dir in common::version_dirs() {
        let fixtures = common::read_json(&dir.join("fixtures.json"));
        for fx in fixtures["fixtures"].as_array().into_iter().flatten() {
            for f in fx["files"].as_array().into_iter().flatten() {
                let path = f["path"].as_str().unwrap_or_default();
                let is_rdb = f["rdb_version"].is_number() && (path.ends_with(".rdb"));
                if !is_rdb {
                    continue;
                }
                files += 1;
                let report = check_file(&dir.join(path), ReaderOptions::default(), None);
                if let Some(e) = report.error {
                    failures.push(format!("{}/{path}: {e}", dir.display()));
                }
            }
        }
    }
    assert!(files > 40, "expected the corpus' RDB fixtures, found {files}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Every RDB file in the corpus (server fixtures, AOF base files, the other
/// projects' dumps) outside `corrupt/` reads and checks clean, except three
/// peer files that are meant to fail, each in its own documented way.
#[test]
fn every_rdb_in_the_corpus_is_read() {
    let corpus = common::corpus_dir();
    let files: Vec<_> = common::corpus_rdb_files()
        .into_iter()
        .filter(|f| !f.strip_prefix(&corpus).unwrap_or(f).components().any(|c| c.as_os_str() == "corrupt"))
        .collect();
    assert!(files.len() > 150, "found {} RDB files", files.len());
    let mut failures = Vec::new();
    for f in &files {
        let r = check_file(f, ReaderOptions::default(), None);
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let expected = match name.as_str() {
            // librdb's own negative cases: a version from the future, a bad CRC.
            "future_v19.rdb" => Some("unsupported_version"),
            "invalid_chksum_v8.rdb" => Some("checksum_mismatch"),
            // A zipmap whose header count is 255: Redis 6.2 and 7.0 refuse it
            // (zipmap.c `zipmapValidateIntegrity`: only 254 means "count them").
            "zipmap_big_len.rdb" => Some("integrity"),
            _ => None,
        };
        let got = r.error.as_ref().map(|e| e.kind.class());
        if got != expected {
            failures.push(format!("{}: expected {expected:?}, got {:?}", f.display(), r.error.map(|e| e.to_string())));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
