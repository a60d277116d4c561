//! `salvage` on the corpus' damaged copies and on damage made here from the
//! corpus' files. The truth is the intact file a server wrote: a restored
//! byte must give it back byte for byte, and the input is never modified.

use crate::common;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn salvage(input: &Path, out: &Path, report: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rdb-tool"))
        .arg("salvage")
        .arg(input)
        .arg("-o")
        .arg(out)
        .arg("--report")
        .arg(report)
        .output()
        .expect("run rdb-tool")
}

/// A file's bytes (the corpus' files are small: compared whole).
fn sha(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_default()
}

/// Every RDB case of the corpus' corruption oracle.
/// - A copy one `xor` away from a fixture with a checksum is restored to
///   that fixture exactly, with the report naming the offset and the byte;
///   so is a fixture without checksum whose zero checksum was changed.
/// - A copy the server loaded as it is (changed string bytes no check can
///   see, in a file without checksum) is intact: exit 0, a copy.
/// - The rest (cuts, structural flips without a checksum to locate them)
///   are read past: see [`judge_resync`]. Only a copy cut inside its header
///   is refused (exit 3): nothing says what version follows.
#[test]
fn corpus_damage_is_restored_kept_or_read_past_as_the_intact_file_says() {
    let scratch = common::Scratch::new("salvage-corpus");
    let (mut cases, mut restored, mut resynced, mut failures) = (0, 0, 0, Vec::new());
    let (mut recoverable_total, mut recovered_total) = (0, 0);
    for dir in common::version_dirs() {
        let oracle = dir.join("corrupt/corruption.json");
        if !oracle.is_file() {
            continue;
        }
        for group in common::read_json(&oracle)["rdb"].as_array().into_iter().flatten() {
            for case in group["cases"].as_array().into_iter().flatten() {
                cases += 1;
                let file = dir.join(case["file"].as_str().unwrap());
                let recipe = &case["recipe"];
                let original = dir.join(recipe["from"].as_str().unwrap());
                let before = sha(&file);
                let out = scratch.0.join(format!("out-{cases}.rdb"));
                let report_path = scratch.0.join(format!("report-{cases}.json"));
                let run = salvage(&file, &out, &report_path);
                let code = run.status.code();
                let name = format!("{} ({})", file.display(), case["case"]);
                if sha(&file) != before {
                    failures.push(format!("{name}: the input changed"));
                }
                let nochecksum = recipe["from"] == "dump-nochecksum.rdb";
                let one_byte = recipe["op"] == "xor";
                if one_byte && (!nochecksum || case["case"] == "flip-checksum") {
                    let report = common::read_json(&report_path);
                    let offset = recipe["offset"].as_u64().unwrap();
                    let xor = recipe["xor"].as_u64().unwrap();
                    let r = &report["repaired"];
                    let right = code == Some(1)
                        && sha(&out) == sha(&original)
                        && report["outcome"] == "repaired"
                        && r["offset"].as_u64() == Some(offset)
                        && r["old"].as_u64().zip(r["new"].as_u64()).map(|(a, b)| a ^ b) == Some(xor);
                    if right {
                        restored += 1;
                    } else {
                        failures.push(format!("{name}: exit {code:?}, report {report}"));
                    }
                    continue;
                }
                let server_loaded = case["server_load"]["started"].as_bool() == Some(true)
                    && case["server_load"]["exit_code"].is_null();
                // A version byte raised to a newer server's, over records that
                // version reads: intact, as `check` judges it (see
                // `corrupt::damaged_rdb_verdicts_match_redis_check_rdb`).
                let newer_header = case["case"] == "flip-version"
                    && case["check"]["output"].as_str().is_some_and(|o| o.contains("Can't handle RDB format version"));
                if server_loaded || newer_header {
                    if code != Some(0) || sha(&out) != before {
                        failures.push(format!("{name}: exit {code:?}, expected an intact copy"));
                    }
                    continue;
                }
                if case["case"] == "truncated-header" {
                    if code != Some(3) || out.exists() {
                        failures.push(format!("{name}: exit {code:?}, expected a refusal and no output"));
                    }
                    continue;
                }
                let damaged: std::ops::Range<u64> = match recipe["op"].as_str() {
                    Some("truncate") => recipe["length"].as_u64().unwrap()..u64::MAX,
                    _ => recipe["offset"].as_u64().unwrap()..recipe["offset"].as_u64().unwrap() + 1,
                };
                match judge_resync(&name, &original, damaged, code, &out) {
                    Ok((recoverable, recovered)) => {
                        resynced += 1;
                        recoverable_total += recoverable;
                        recovered_total += recovered;
                    }
                    Err(e) => failures.push(e),
                }
            }
        }
    }
    eprintln!(
        "{cases} cases: {restored} restored exactly, {resynced} read past; keys recovered {recovered_total} of \
         {recoverable_total} recoverable"
    );
    assert!(cases > 50 && restored >= 40 && resynced >= 25, "{cases} cases, {restored} restored, {resynced} read past");
    assert!(failures.is_empty(), "{} of {cases} cases:\n{}", failures.len(), failures.join("\n"));
}

/// A salvage that read past damage, judged by the intact file: exit 1; every
/// key whose record holds no damaged byte (offsets in `damaged`) is in the
/// output with the same record as in the original (value, TTL, metadata, as
/// our dump prints them); no key is there that the original does not hold,
/// or with other content. `(recoverable, recovered)` on success.
fn judge_resync(
    name: &str,
    original: &Path,
    damaged: std::ops::Range<u64>,
    code: Option<i32>,
    out: &Path,
) -> Result<(usize, usize), String> {
    if code != Some(1) {
        return Err(format!("{name}: exit {code:?}, expected 1 (read past the damage)"));
    }
    let intact = common::records::dump_keys(original);
    let salvaged = common::records::dump_keys(out);
    let spans = common::records::key_spans(original);
    let recoverable: Vec<(u64, String)> = spans
        .iter()
        .filter(|(s, e, _, _)| e.min(&damaged.end) <= s.max(&damaged.start))
        .map(|(_, _, db, key)| (*db, common::records::key_text(key)))
        .filter(|k| intact.contains_key(k))
        .collect();
    for (k, record) in &salvaged {
        match intact.get(k) {
            None => return Err(format!("{name}: key {k:?} is not in the original")),
            Some(r) if r != record => return Err(format!("{name}: key {k:?} differs: {record} vs {r}")),
            Some(_) => {}
        }
    }
    let missing: Vec<_> = recoverable.iter().filter(|k| !salvaged.contains_key(*k)).collect();
    if !missing.is_empty() {
        return Err(format!("{name}: {} recoverable keys lost: {:?}", missing.len(), &missing[..missing.len().min(5)]));
    }
    Ok((recoverable.len(), recoverable.len()))
}

/// Seeded single-bit flips and single-byte changes anywhere in three
/// servers' files (Redis 6.2, 7.0 and Valkey 9.1): each is found and
/// restored to the server's file byte for byte, and where the byte lies in
/// a key's record the report names that key.
#[test]
fn generated_flips_and_byte_changes_are_restored_to_the_servers_file() {
    let scratch = common::Scratch::new("salvage-generated");
    let corpus = common::corpus_dir();
    let mut seed = 0x5eed_u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut failures = Vec::new();
    let mut runs = 0;
    for name in ["redis-6.2.16/dump.rdb", "redis-7.0.15/dump.rdb", "valkey-9.1.0/dump.rdb"] {
        let original: PathBuf = corpus.join(name);
        let bytes = std::fs::read(&original).unwrap();
        let spans = common::records::key_spans(&original);
        for round in 0..30 {
            let offset = (next() % bytes.len() as u64) as usize;
            let xor = if round % 3 == 2 { (next() % 255 + 1) as u8 } else { 1 << (next() % 8) };
            let mut damaged = bytes.clone();
            damaged[offset] ^= xor;
            let input = scratch.0.join("damaged.rdb");
            std::fs::write(&input, &damaged).unwrap();
            let (out, report_path) = (scratch.0.join("out.rdb"), scratch.0.join("report.json"));
            let _ = std::fs::remove_file(&out);
            let run = salvage(&input, &out, &report_path);
            runs += 1;
            let report: Value = common::read_json(&report_path);
            let key = spans.iter().find(|(s, e, _, _)| (*s..*e).contains(&(offset as u64))).map(|(_, _, _, k)| k);
            let named = &report["repaired"]["in"]["key"];
            let ok = run.status.code() == Some(1)
                && std::fs::read(&out).unwrap() == bytes
                && report["repaired"]["offset"].as_u64() == Some(offset as u64)
                && key.is_none_or(|k| named.as_str().map(str::as_bytes) == Some(&k[..]));
            if !ok {
                failures.push(format!(
                    "{name} offset {offset} xor {xor:#04x} (key {:?}): exit {:?}, report {report}",
                    key.map(|k| String::from_utf8_lossy(k).into_owned()),
                    run.status.code()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{} of {runs}:\n{}", failures.len(), failures.join("\n"));
}

/// Two changed bytes inside one string value: every record still passes,
/// only the checksum disagrees, and no single byte explains it. The output
/// keeps every key as read under a fresh checksum (what the damaged file's
/// records hold), and says so.
#[test]
fn checksum_damage_no_single_byte_explains_keeps_every_key_as_read() {
    let scratch = common::Scratch::new("salvage-unlocated");
    let original = common::corpus_dir().join("redis-7.0.15/dump.rdb");
    let mut bytes = std::fs::read(&original).unwrap();
    // Inside a long string value: its record's last bytes, far from any
    // length or encoding byte.
    let spans = common::records::key_spans(&original);
    let (_, end, _, key) = spans.iter().max_by_key(|(s, e, _, _)| e - s).unwrap().clone();
    let at = end as usize - 3;
    bytes[at] ^= 0x01;
    bytes[at - 1] ^= 0x02;
    let input = scratch.0.join("two-bytes.rdb");
    std::fs::write(&input, &bytes).unwrap();
    let (out, report_path) = (scratch.0.join("out.rdb"), scratch.0.join("report.json"));
    let run = salvage(&input, &out, &report_path);
    let report = common::read_json(&report_path);
    assert_eq!(run.status.code(), Some(1), "{report}");
    assert_eq!(report["outcome"], "unlocated", "{report} (key {})", String::from_utf8_lossy(&key));
    // The output is the input with the checksum its content gives.
    let written = std::fs::read(&out).unwrap();
    assert_eq!(written[..written.len() - 8], bytes[..bytes.len() - 8]);
    let check = Command::new(env!("CARGO_BIN_EXE_rdb-tool")).arg("check").arg(&out).output().unwrap();
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stdout));
    let text = String::from_utf8_lossy(&run.stdout);
    assert!(text.contains("cannot be located") && text.contains("no guarantee"), "{text}");
}

/// `check` names a byte `salvage` can restore, and `--dry-run` writes nothing.
#[test]
fn check_names_the_repairable_byte_and_a_dry_run_writes_nothing() {
    let scratch = common::Scratch::new("salvage-check");
    let original = common::corpus_dir().join("redis-7.0.15/dump.rdb");
    let spans = common::records::key_spans(&original);
    let (start, end, _, key) = spans[spans.len() / 2].clone();
    let offset = (start + end) / 2;
    let mut bytes = std::fs::read(&original).unwrap();
    bytes[offset as usize] ^= 0x40;
    let input = scratch.0.join("flip.rdb");
    std::fs::write(&input, &bytes).unwrap();
    let check = Command::new(env!("CARGO_BIN_EXE_rdb-tool")).arg("check").arg(&input).output().unwrap();
    assert_eq!(check.status.code(), Some(1));
    let text = String::from_utf8_lossy(&check.stdout);
    let line = format!("single-bit error at offset {offset} (key \"{}\" in db ", String::from_utf8_lossy(&key));
    assert!(text.contains(&line) && text.contains("rdb-tool salvage"), "{text}\nwanted: {line}");
    let out = scratch.0.join("never.rdb");
    let dry = Command::new(env!("CARGO_BIN_EXE_rdb-tool"))
        .args(["salvage", "--dry-run", "-o"])
        .arg(&out)
        .arg(&input)
        .output()
        .unwrap();
    assert_eq!(dry.status.code(), Some(1));
    assert!(!out.exists(), "a dry run wrote {}", out.display());
}

/// Every AOF case of the corpus' corruption oracle, in every version and
/// layout (cut, garbled or appended commands, a transaction left open, a
/// cut RDB preamble or base, a cut incr file that is not the last): exit 1,
/// the input untouched, and an output that checks clean in which:
/// - the files the damage did not reach are copied byte for byte;
/// - a damaged command stream holds exactly the original's commands minus
///   those whose bytes the damage reached (and a transaction the file ends
///   inside, which the server drops), in order, byte for byte;
/// - where the server itself cut the damaged file on load (its log says
///   where), the salvaged file is the damaged one cut there;
/// - a damaged RDB preamble or base is judged as the RDB cases are
///   ([`judge_resync`]), against the intact file's RDB part.
#[test]
fn corpus_aof_damage_loses_exactly_the_damaged_commands() {
    use rdb_tool::cmd::check::aof::{check_aof, AofCheckOptions};
    use rdb_tool::source::Source;
    let scratch = common::Scratch::new("salvage-aof-corpus");
    let (mut cases, mut server_cuts, mut rdb_parts, mut failures) = (0, 0, 0, Vec::new());
    for vdir in common::version_dirs() {
        let oracle = vdir.join("corrupt/corruption.json");
        if !oracle.is_file() {
            continue;
        }
        for group in common::read_json(&oracle)["aof"].as_array().into_iter().flatten() {
            for case in group["cases"].as_array().into_iter().flatten() {
                cases += 1;
                let name = format!("{} {} {}", vdir.display(), group["fixture"], case["case"]);
                let dir = scratch.0.join(format!("case-{cases}"));
                std::fs::create_dir_all(&dir).unwrap();
                let (target, damaged) = super::aof::build_case(&vdir, case, &dir);
                let original = vdir.join(case["replaces"].as_str().unwrap());
                let set_dir = damaged.parent().unwrap().to_path_buf();
                let before = files_in(&set_dir);
                let out = dir.join("salvaged");
                let run = salvage(&target, &out, &dir.join("report.json"));
                let code = run.status.code();
                if files_in(&set_dir) != before {
                    failures.push(format!("{name}: the input changed"));
                }
                if code != Some(1) {
                    failures.push(format!("{name}: exit {code:?}: {}", String::from_utf8_lossy(&run.stderr)));
                    continue;
                }
                let check = check_aof(&Source::open(&out).unwrap(), &AofCheckOptions::default());
                if let Some(e) = check.first_error() {
                    failures.push(format!("{name}: the output fails its check: {e}"));
                }
                let multipart = out.is_dir();
                let salvaged = if multipart { out.join(damaged.file_name().unwrap()) } else { out.clone() };
                if multipart {
                    for (file, bytes) in &before {
                        // The manifest is written anew: as it was up to the
                        // damaged file; Redis 8's replication offsets are
                        // dropped from there (see `write_manifest`).
                        let copied = sha(&out.join(file.file_name().unwrap()));
                        let manifest = file.extension().is_some_and(|e| e == "manifest");
                        let same = if manifest {
                            without_offsets(&copied) == without_offsets(bytes)
                        } else {
                            copied == *bytes
                        };
                        if *file != damaged && !same {
                            failures.push(format!("{name}: {} was not copied as it is", file.display()));
                        }
                    }
                }
                let (o, d, s) = (sha(&original), sha(&damaged), sha(&salvaged));
                let region = damage_region(&o, &d);
                let rdb_end = common::records::preamble_end(&original);
                if rdb_end.is_some_and(|end| region.start < end) {
                    // The RDB part: judged by the intact file's RDB part.
                    let end = rdb_end.unwrap() as usize;
                    let intact_rdb = dir.join("intact-part.rdb");
                    std::fs::write(&intact_rdb, &o[..end]).unwrap();
                    let salvaged_rdb = dir.join("salvaged-part.rdb");
                    let salvaged_end = common::records::preamble_end(&salvaged).unwrap_or(s.len() as u64) as usize;
                    std::fs::write(&salvaged_rdb, &s[..salvaged_end]).unwrap();
                    match judge_resync(&name, &intact_rdb, region.start..u64::MAX, Some(1), &salvaged_rdb) {
                        Ok(_) => rdb_parts += 1,
                        Err(e) => failures.push(e),
                    }
                    continue;
                }
                let from = rdb_end.unwrap_or(0) as usize;
                if s[..from] != o[..from] {
                    failures.push(format!("{name}: the intact RDB preamble was not copied as it is"));
                }
                // MULTI and EXEC are compared apart: a damaged one is put
                // back where it was read, one whose partner was lost is
                // dropped; the check above found them balanced.
                let kept: Vec<&[u8]> =
                    commands(&s, from).into_iter().map(|(_, c)| c).filter(|c| !is_marker(c)).collect();
                let mut expected = expected_commands(&o, from, &region);
                expected.retain(|c| !is_marker(c));
                if kept != expected {
                    failures.push(format!(
                        "{name}: {} commands kept where {} are outside the damage",
                        kept.len(),
                        expected.len()
                    ));
                }
                if let Some(cut) = super::aof::server_cut(case) {
                    server_cuts += 1;
                    if s != d[..cut as usize] {
                        failures.push(format!("{name}: the server cut at {cut}; the salvage holds {} bytes", s.len()));
                    }
                }
            }
        }
    }
    eprintln!("{cases} AOF cases: {server_cuts} equal to the server's own cut, {rdb_parts} RDB parts read past");
    assert!(
        cases >= 80 && server_cuts >= 40 && rdb_parts >= 8,
        "{cases} cases, {server_cuts} cuts, {rdb_parts} RDB parts"
    );
    assert!(failures.is_empty(), "{} of {cases} cases:\n{}", failures.len(), failures.join("\n"));
}

/// The files of a directory with their bytes.
fn files_in(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            let b = sha(&p);
            (p, b)
        })
        .collect();
    files.sort();
    files
}

/// Where a damaged copy differs from its original, in the original's
/// offsets: from the first differing byte to where their common ending
/// starts (empty at the end when bytes were only appended).
fn damage_region(original: &[u8], damaged: &[u8]) -> std::ops::Range<u64> {
    let prefix = original.iter().zip(damaged).take_while(|(a, b)| a == b).count();
    if prefix == original.len() {
        return prefix as u64..prefix as u64;
    }
    let suffix =
        original[prefix..].iter().rev().zip(damaged[prefix..].iter().rev()).take_while(|(a, b)| a == b).count();
    prefix as u64..(original.len() - suffix) as u64
}

/// The commands of a command stream from `from`, up to the first item that
/// does not parse: `(offset, record)`.
fn commands(bytes: &[u8], from: usize) -> Vec<(usize, &[u8])> {
    use rdb_tool::token::resp::{parse_aof_item, AofItem};
    let mut at = from;
    let mut out = Vec::new();
    while at < bytes.len() {
        match parse_aof_item(&bytes[at..]) {
            Ok((rest, item)) => {
                let end = bytes.len() - rest.len();
                if let AofItem::Command(c) = item {
                    out.push((at, c.raw));
                }
                at = end;
            }
            Err(_) => break,
        }
    }
    out
}

/// The original's commands outside the damaged region, without a
/// transaction that the damage leaves open at the end (the server drops
/// it on load).
fn expected_commands<'a>(original: &'a [u8], from: usize, region: &std::ops::Range<u64>) -> Vec<&'a [u8]> {
    let mut kept: Vec<&[u8]> = commands(original, from)
        .into_iter()
        .filter(|(at, c)| {
            let (s, e) = (*at as u64, (*at + c.len()) as u64);
            e <= region.start || s >= region.end
        })
        .map(|(_, c)| c)
        .collect();
    if region.end as usize == original.len() {
        let open = kept
            .iter()
            .rposition(|c| is_named(c, b"MULTI"))
            .filter(|&m| !kept[m..].iter().any(|c| is_named(c, b"EXEC")));
        if let Some(m) = open {
            kept.truncate(m);
        }
    }
    kept
}

/// A command record whose name is `name`.
fn is_named(record: &[u8], name: &[u8]) -> bool {
    let argc_end = record.iter().position(|&b| b == b'\n').map_or(0, |p| p + 1);
    let len_end = record[argc_end..].iter().position(|&b| b == b'\n').map_or(0, |p| argc_end + p + 1);
    record.get(len_end..len_end + name.len()).is_some_and(|n| n.eq_ignore_ascii_case(name))
        && record.get(len_end + name.len()) == Some(&b'\r')
}

fn is_marker(record: &[u8]) -> bool {
    is_named(record, b"MULTI") || is_named(record, b"EXEC")
}

/// A manifest without Redis 8's replication offsets.
fn without_offsets(manifest: &[u8]) -> String {
    String::from_utf8_lossy(manifest)
        .lines()
        .map(|l| l.split(" startoffset ").next().unwrap_or(l).to_string() + "\n")
        .collect()
}
