//! AOFs written by real servers (`../shared/corpus`): every valid fixture checks
//! clean and has as many records as `redis-check-aof` counted; every damaged
//! copy gets the verdict `redis-check-aof` gave, and our repair plan cuts
//! exactly where its `--fix` cut (or refuses where it refused). Valkey 9's
//! checker cannot read its own `VALKEY080` bases (corpus README), so for those
//! cases the server's own truncation offset is the oracle. (Point-in-time
//! recovery, compared with `redis-check-aof` run here: live::aof.)

use crate::common;

use common::{copy_tree, Scratch};

use rdb_tool::cmd::check::aof::{check_aof, plan_repair, AofCheckOptions, Repair};
use rdb_tool::cmd::check::Verdict;
use rdb_tool::cmd::dump::dump_commands;
use rdb_tool::cmd::fix;
use rdb_tool::event::ReaderOptions;
use rdb_tool::source::Source;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The last `ok_up_to_line=N` of a redis-check-aof output.
fn last_ok_line(output: &str) -> Option<u64> {
    output
        .rsplit("ok_up_to_line=")
        .next()
        .filter(|_| output.contains("ok_up_to_line="))?
        .split(',')
        .next()?
        .parse()
        .ok()
}

/// Valkey 9's checker rejects its own `VALKEY` bases; its verdicts there are not an oracle.
fn checker_is_blind(version_dir: &Path, fixture: &str) -> bool {
    let v = version_dir.file_name().unwrap().to_string_lossy();
    v.starts_with("valkey-9") && fixture != "aof-plain-ts"
}

fn opts() -> AofCheckOptions {
    AofCheckOptions::default()
}

#[test]
fn every_server_aof_checks_clean_and_counts_like_redis_check_aof() {
    let mut checked = 0;
    for vdir in common::version_dirs() {
        let fixtures = common::read_json(&vdir.join("fixtures.json"));
        for fx in fixtures["fixtures"].as_array().unwrap() {
            let kind = fx["kind"].as_str().unwrap();
            if !kind.starts_with("aof") {
                continue;
            }
            let name = fx["name"].as_str().unwrap();
            let entry = fx["files"]
                .as_array()
                .unwrap()
                .iter()
                .find(|f| matches!(f["role"].as_str(), Some("manifest" | "single")))
                .unwrap();
            let path = vdir.join(entry["path"].as_str().unwrap());
            let report = check_aof(&Source::open(&path).unwrap(), &opts());
            assert_eq!(report.verdict(), Verdict::Valid, "{}: {:?}", path.display(), report.first_error());
            assert_eq!(plan_repair(&report), Repair::NothingToDo);
            // redis-check-aof counts 1 + one per CRLF of every RESP record, over all files.
            let mut expected_lines = 1u64;
            let mut out = Vec::new();
            let written = dump_commands(&path, &[], Default::default(), &mut out).unwrap();
            assert_eq!(written, report.commands(), "{}", path.display());
            for line in out.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                let v: Value = serde_json::from_slice(line).unwrap();
                expected_lines += 1 + 2 * v["args"].as_array().unwrap().len() as u64;
            }
            if fx["check"]["rc"] == 0 && !checker_is_blind(&vdir, name) {
                let tail = fx["check"]["output_tail"].as_str().unwrap();
                assert_eq!(Some(expected_lines), last_ok_line(tail), "{}: records/arguments differ", path.display());
            }
            checked += 1;
        }
    }
    assert!(checked >= 15, "only {checked} AOF fixtures found");
}

/// Build the damaged AOF of a corruption case in `scratch`; returns the path to
/// give the checker (manifest or single file) and the damaged file's path.
pub(crate) fn build_case(vdir: &Path, case: &Value, scratch: &Path) -> (PathBuf, PathBuf) {
    let replaces = case["replaces"].as_str().unwrap();
    let fixture_root = replaces.split('/').next().unwrap();
    copy_tree(&vdir.join(fixture_root), &scratch.join(fixture_root));
    let damaged = scratch.join(replaces);
    std::fs::write(
        &damaged,
        std::fs::read(vdir.join("corrupt").join(case["file"].as_str().unwrap().trim_start_matches("corrupt/")))
            .unwrap(),
    )
    .unwrap();
    let argv = case["check"]["argv"].as_array().unwrap();
    let target = argv.last().unwrap().as_str().unwrap();
    let target = damaged.parent().unwrap().join(target);
    (target, damaged)
}

/// The server's own cut, from its log ("Truncating the AOF <f> at offset N").
pub(crate) fn server_cut(case: &Value) -> Option<u64> {
    let log = case["server_load"]["log"].as_array()?;
    log.iter().filter_map(Value::as_str).find_map(|l| {
        let rest = l.split(" at offset ").nth(1)?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

#[test]
fn damaged_aofs_match_redis_check_aof_and_its_fix() {
    let mut cases = 0;
    for vdir in common::version_dirs() {
        let path = vdir.join("corrupt/corruption.json");
        if !path.is_file() {
            continue;
        }
        let corruption = common::read_json(&path);
        for group in corruption["aof"].as_array().into_iter().flatten() {
            let fixture = group["fixture"].as_str().unwrap();
            for case in group["cases"].as_array().unwrap() {
                let name = format!(
                    "{}/{fixture}/{}",
                    vdir.file_name().unwrap().to_string_lossy(),
                    case["case"].as_str().unwrap()
                );
                let scratch = Scratch::new(&name.replace('/', "_"));
                let (target, damaged) = build_case(&vdir, case, &scratch.0);
                let report = check_aof(&Source::open(&target).unwrap(), &opts());
                let checker_rc = case["check"]["rc"].as_i64().unwrap();
                assert_eq!(checker_rc, 1, "{name}: the corpus only holds damaged cases");
                assert_eq!(report.verdict(), Verdict::Damaged, "{name}");
                let repair = plan_repair(&report);
                let fix_rc = case["fix"]["rc"].as_i64().unwrap();
                let measured = case["fix"]["measured_file"].as_str().map(|f| damaged.parent().unwrap().join(f));
                if checker_is_blind(&vdir, fixture) {
                    // The server's truncation (EOF-type damage) is the oracle.
                    if let (Some(cut), Repair::Truncate(plan)) = (server_cut(case), &repair) {
                        assert_eq!(plan.new_size, cut, "{name}: server cut");
                    }
                    let base_damaged = case["case"] == "truncated-base";
                    assert_eq!(matches!(repair, Repair::Impossible(_)), base_damaged, "{name}: {repair:?}");
                } else if fix_rc == 0 {
                    let Repair::Truncate(plan) = &repair else { panic!("{name}: expected a cut, got {repair:?}") };
                    assert_eq!(plan.new_size, case["fix"]["bytes_after"].as_u64().unwrap(), "{name}: cut offset");
                    assert_eq!(Some(&plan.file), measured.as_ref(), "{name}: cut file");
                } else {
                    assert!(
                        matches!(repair, Repair::Impossible(_)),
                        "{name}: redis-check-aof refused, we plan {repair:?}"
                    );
                }
                // Apply our plan: the AOF is cut where planned, the backup holds the
                // cut bytes, and the result checks clean.
                if let Repair::Truncate(plan) = repair {
                    let before = std::fs::read(&plan.file).unwrap();
                    let applied = fix::apply(&plan).unwrap();
                    let after = std::fs::read(&plan.file).unwrap();
                    assert_eq!(after, before[..plan.new_size as usize], "{name}");
                    assert_eq!(std::fs::read(&applied.backup).unwrap(), before[plan.new_size as usize..], "{name}");
                    let re = fix::recheck(&target, &opts()).unwrap();
                    assert_eq!(re.verdict(), Verdict::Valid, "{name}: after fix {:?}", re.first_error());
                }
                cases += 1;
            }
        }
    }
    assert!(cases >= 80, "only {cases} damaged AOF cases");
}

/// Every event of an AOF file (preamble keys included), one line each.
fn render_aof(input: rdb_tool::input::Input, opts: ReaderOptions) -> rdb_tool::error::Result<Vec<String>> {
    use rdb_tool::event::aof::AofFile;
    use rdb_tool::event::{AofReader, AofRole, Event};
    let mut files = vec![AofFile { role: AofRole::Single, input }];
    let mut reader = AofReader::new(&mut files, opts);
    let mut lines = Vec::new();
    while let Some(ev) = reader.next()? {
        lines.push(match ev {
            Event::Key(k) => {
                let mut out = format!("@{} ", k.offset).into_bytes();
                rdb_tool::output::record::write_key_record(&mut out, &k)?;
                String::from_utf8(out).unwrap()
            }
            Event::AofFile { role, .. } => format!("file {role:?}"),
            other => format!("{other:?}"),
        });
    }
    Ok(lines)
}

/// Mapped and through a pipe read one byte at a time: the same events, and for
/// damaged copies the same error at the same offset. Also with a pipe that holds
/// only 4 KiB in memory, reading the rest through spill files.
#[test]
fn aof_events_are_the_same_mapped_and_through_a_one_byte_pipe() {
    let mut files = Vec::new();
    for vdir in common::version_dirs() {
        for sub in ["aof-plain", "aof-preamble", "aof-plain-ts", "aof-multi-incr", "corrupt"] {
            let mut stack = vec![vdir.join(sub)];
            while let Some(d) = stack.pop() {
                for e in std::fs::read_dir(&d).into_iter().flatten() {
                    let p = e.unwrap().path();
                    if p.is_dir() {
                        stack.push(p);
                    } else if p.to_string_lossy().ends_with(".aof") || p.to_string_lossy().ends_with("base.rdb") {
                        files.push(p);
                    }
                }
            }
        }
    }
    files.sort();
    let (mut same, mut failing) = (0, 0);
    for path in &files {
        let mapped = render_aof(rdb_tool::input::Input::open(path).unwrap(), Default::default());
        let bytes = std::fs::read(path).unwrap();
        let pipe = || rdb_tool::input::Input::from_reader("pipe", common::events::OneByte(bytes.clone(), 0));
        let piped = render_aof(pipe(), Default::default());
        let spilled = render_aof(pipe(), ReaderOptions { pipe_memory: 4096, ..Default::default() });
        for (how, piped) in [("pipe", piped), ("spilling pipe", spilled)] {
            match (&mapped, piped) {
                (Ok(a), Ok(b)) => {
                    assert_eq!(a, &b, "{how}: {}", path.display());
                    same += 1;
                }
                (Err(a), Err(b)) => {
                    assert_eq!((a.kind, a.offset), (b.kind, b.offset), "{how}: {}", path.display());
                    failing += 1;
                }
                (a, b) => panic!("{how}: {}: map {:?} vs pipe {:?}", path.display(), a.as_ref().err(), b.err()),
            }
        }
    }
    assert!(same >= 60 && failing >= 80, "{same} clean and {failing} failing readings compared");
}

/// Redis 8.6/8.8 AOFs replayed: arrays (ARMSET/ARSET/ARDEL/ARSEEK/ARINSERT/
/// ARRING) and NACK zones (XNACK, XCLAIM out of the zone) come out as the live
/// server recorded them.
#[test]
fn newer_server_aofs_replay_to_the_recorded_arrays_and_nack_zones() {
    use rdb_tool::cmd::convert::{convert, ConvertConfig, ConvertTo};
    let mut checked = 0;
    for vdir in common::version_dirs() {
        for fixture in ["aof-plain-ts", "aof-preamble", "aof-multi-incr"] {
            let dir = vdir.join(fixture).join("appendonlydir");
            if !dir.is_dir() {
                continue;
            }
            let expected = common::read_json(&vdir.join(fixture).join("expected.json"));
            let mut out = Vec::new();
            convert(&ConvertConfig::new(&dir, ConvertTo::Jsonl), &mut out)
                .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
            let ours: std::collections::HashMap<String, Value> = String::from_utf8(out)
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str::<Value>(l).unwrap())
                .map(|r| (format!("{}/{}", r["db"], r["key"].as_str().unwrap()), r))
                .collect();
            for db in expected["dbs"].as_array().unwrap() {
                for key in db["keys"].as_array().unwrap() {
                    let Some(name) = key["key"].as_str() else { continue };
                    let what = format!("{}: {name}", dir.display());
                    let ours = ours.get(&format!("{}/{name}", db["db"]));
                    match key["type"].as_str().unwrap() {
                        "array" => {
                            let ours = ours.unwrap_or_else(|| panic!("{what}: missing"));
                            let want: Vec<(u64, String)> = key["value"]["elements"]
                                .as_array()
                                .unwrap()
                                .iter()
                                .map(|e| {
                                    // Binary values: {"base64": …} there, "base64:…" here.
                                    let text = match &e[1] {
                                        Value::Object(o) => format!("base64:{}", o["base64"].as_str().unwrap()),
                                        v => v.as_str().unwrap().to_string(),
                                    };
                                    (e[0].as_u64().unwrap(), text)
                                })
                                .collect();
                            let got: Vec<(u64, String)> = ours["value"]["elements"]
                                .as_array()
                                .unwrap()
                                .iter()
                                .map(|e| (e[0].as_u64().unwrap(), e[1].as_str().unwrap_or_default().to_string()))
                                .collect();
                            assert_eq!(got, want, "{what}: elements");
                            // The recorded next insert index is our cursor + 1.
                            let next = key["value"]["next_insert_index"].as_u64();
                            let cursor = ours["value"]["cursor"].as_u64();
                            if let (Some(next), Some(cursor)) = (next, cursor) {
                                assert_eq!(cursor.wrapping_add(1), next, "{what}: insert cursor");
                            }
                            checked += 1;
                        }
                        "stream" if name == "stream:nack" => {
                            let ours = ours.unwrap_or_else(|| panic!("{what}: missing"));
                            for g in key["value"]["groups"].as_array().unwrap() {
                                let gname = g["name"].as_str().unwrap();
                                let og = ours["value"]["groups"]
                                    .as_array()
                                    .unwrap()
                                    .iter()
                                    .find(|x| x["name"] == gname)
                                    .unwrap_or_else(|| panic!("{what}: group {gname}"));
                                let nacked = og.get("nacked").and_then(Value::as_array).map_or(0, Vec::len);
                                assert_eq!(
                                    nacked as u64,
                                    g["nacked_count"].as_u64().unwrap(),
                                    "{what}: {gname} NACK zone"
                                );
                                // Pending entries: id, owner ("" = NACKed), delivery count.
                                let want: Vec<(String, String, u64)> = g["pel"]
                                    .as_array()
                                    .unwrap()
                                    .iter()
                                    .map(|p| {
                                        (
                                            p[0].as_str().unwrap().into(),
                                            p[1].as_str().unwrap().into(),
                                            p[3].as_u64().unwrap(),
                                        )
                                    })
                                    .collect();
                                let got: Vec<(String, String, u64)> = og["pending"]
                                    .as_array()
                                    .unwrap()
                                    .iter()
                                    .map(|p| {
                                        (
                                            p["id"].as_str().unwrap().into(),
                                            p["consumer"].as_str().unwrap_or("").into(),
                                            p["delivery_count"].as_u64().unwrap(),
                                        )
                                    })
                                    .collect();
                                assert_eq!(got, want, "{what}: {gname} pending entries");
                            }
                            checked += 1;
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    assert!(checked >= 20, "only {checked} arrays and NACK streams checked");
}
