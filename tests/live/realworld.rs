//! Every RDB file of `../shared/corpus/realworld/` (other projects' test
//! dumps, KeyDB's, module projects'), judged by the real servers that
//! install here: the oldest that reads its version (RDB ≤ 9: Redis 6.2,
//! 10: Redis 7.0, 11: Valkey 8.1, `VALKEY080`: Valkey 9.1; newer versions
//! have no server here and are only read). For each file:
//! - `check` and `dump` do not panic, and every `dump` line is a whole record;
//! - a file the server loads, `check` passes; one it refuses (other than for
//!   a module it lacks), `check` rejects;
//! - `dump` lists exactly the keys the server holds (less those expired at
//!   the server's clock, which it drops on load);
//! - what `convert` writes for the judge's version with exit 0, the judge
//!   loads with the same keys;
//! - `diff F F` finds them the same;
//! - module AUX records survive a conversion to the same version.

use crate::common;

use common::redis::{Client, Kind, Server};
use rdb_tool::cmd::check::{check_file, Verdict};
use rdb_tool::cmd::convert::{convert, ConvertConfig, ConvertTo};
use rdb_tool::cmd::diff::{diff, DiffConfig};
use rdb_tool::cmd::dump::{dump, DumpConfig, DumpFormat};
use rdb_tool::event::{Event, RdbReader, ReaderOptions};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

/// The server that judges a file, and the RDB version `convert` writes for it.
fn judge_of(path: &Path) -> Option<(Kind, u32)> {
    let head = std::fs::read(path).ok()?;
    let magic = head.get(..9)?;
    if magic == b"VALKEY080" {
        return Some((Kind::Valkey91, 80));
    }
    let version: u32 = std::str::from_utf8(magic.strip_prefix(b"REDIS")?).ok()?.parse().ok()?;
    match version {
        1..=9 => Some((Kind::Redis62, 9)),
        10 => Some((Kind::Redis70, 10)),
        11 => Some((Kind::Valkey81, 11)),
        _ => None,
    }
}

/// (db, key) of every key.
type Keys = BTreeSet<(u64, Vec<u8>)>;

/// (db, key) of every key a server holds.
fn server_keys(c: &mut Client) -> Keys {
    let mut keys = BTreeSet::new();
    for db in 0..16u64 {
        c.ok(&["SELECT".as_bytes(), db.to_string().as_bytes()]);
        let mut cursor = b"0".to_vec();
        loop {
            let reply = c.ok(&[b"SCAN".as_slice(), &cursor, b"COUNT", b"1000"]).array();
            cursor = reply[0].bytes();
            keys.extend(reply[1].array().iter().map(|k| (db, k.bytes())));
            if cursor == b"0" {
                break;
            }
        }
    }
    keys
}

fn bytes_of(v: &Value) -> Vec<u8> {
    use base64::Engine as _;
    let s = v.as_str().expect("a key is a string");
    match s.strip_prefix("base64:") {
        Some(b) => base64::engine::general_purpose::STANDARD.decode(b).expect("base64"),
        None => s.as_bytes().to_vec(),
    }
}

/// Our dump's keys, less those expired at `now`; every line must be whole.
fn dumped_keys(path: &Path, now: Option<i64>, label: &str) -> Keys {
    let mut out = Vec::new();
    let mut cfg = DumpConfig::new(path, DumpFormat::Jsonl);
    if let Some(now) = now {
        cfg.no_expired = true;
        cfg.now_ms = Some(now);
    }
    let _ = dump(&cfg, &mut out);
    let text = String::from_utf8(out).unwrap_or_else(|_| panic!("{label}: dump is not UTF-8"));
    text.lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{label}: half a record ({e}): {l:.200}"));
            (v["db"].as_u64().unwrap(), bytes_of(&v["key"]))
        })
        .collect()
}

fn module_aux_records(path: &Path) -> Vec<(String, u64, Vec<u8>)> {
    let mut input = rdb_tool::input::Input::open(path).unwrap();
    let mut reader = RdbReader::new(&mut input, ReaderOptions::default());
    let mut out = Vec::new();
    while let Ok(Some(ev)) = reader.next() {
        if let Event::ModuleAux { module, when, raw, .. } = ev {
            out.push((module, when, raw.to_vec()));
        }
    }
    out
}

/// Load `file` into a fresh server of `kind`: its keys, or its log.
fn load(kind: Kind, file: &Path, scratch: &Path, label: &str) -> Result<(Keys, i64), String> {
    load_with(kind, file, scratch, label, &[])
}

/// [`load`] with more configuration.
fn load_with(kind: Kind, file: &Path, scratch: &Path, label: &str, extra: &[&str]) -> Result<(Keys, i64), String> {
    let dir = scratch.join(label);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(file, dir.join("dump.rdb")).unwrap();
    let d = dir.canonicalize().unwrap().display().to_string();
    let mut args = vec!["--dir", d.as_str(), "--dbfilename", "dump.rdb"];
    args.extend(extra);
    let server = Server::try_start_kind(kind, label, &args)?;
    let mut c = server.client().unwrap();
    let now = c.time_ms();
    // What it holds, saved over the copy it loaded (for the value comparison).
    c.ok(&["SAVE"]);
    Ok((server_keys(&mut c), now))
}

/// What a sweep found.
#[derive(Default)]
struct Sweep {
    failures: Vec<String>,
    loaded: u64,
    refused: u64,
}

#[test]
fn realworld_files_are_judged_as_the_servers_judge_them() {
    let root = common::corpus_dir().join("realworld");
    let files = common::all_rdb_files_under(&root);
    assert!(files.len() > 150, "{} files", files.len());
    let s = sweep(&root, &files, "realworld");
    assert!(s.failures.is_empty(), "{} findings:\n{}", s.failures.len(), s.failures.join("\n"));
    assert!(s.loaded > 80 && s.refused > 0, "loaded {}, refused {}", s.loaded, s.refused);
}

/// The same judges on the files the servers of the corpus wrote, valid and
/// damaged (`corrupt/`), and the peers' dumps.
#[test]
fn corpus_files_are_judged_as_the_servers_judge_them() {
    let root = common::corpus_dir();
    let files = common::corpus_rdb_files();
    let s = sweep(&root, &files, "corpus");
    assert!(s.failures.is_empty(), "{} findings:\n{}", s.failures.len(), s.failures.join("\n"));
    assert!(s.loaded > 50 && s.refused > 20, "loaded {}, refused {}", s.loaded, s.refused);
}

/// Judge `files` (shown relative to `root`); the counts go to standard error.
fn sweep(root: &Path, files: &[std::path::PathBuf], name: &str) -> Sweep {
    let scratch = common::Scratch::new(name);
    let mut failures = Vec::new();
    let (mut loaded, mut refused, mut module_refused, mut unjudged, mut refused_when_sanitizing) = (0, 0, 0, 0, 0);
    let (mut converted, mut keys_compared, mut module_aux_kept) = (0, 0, 0);
    for (n, file) in files.iter().enumerate() {
        let label = format!("{name}{n}");
        let shown = file.strip_prefix(root).unwrap().display().to_string();
        let report = check_file(file, ReaderOptions::default(), None);
        let _ = dumped_keys(file, None, &shown);
        let same = diff(&DiffConfig::new(file, file));
        if let Ok(r) = &same {
            if !r.diffs.is_empty() {
                failures.push(format!("{shown}: diff F F found {} differences", r.diffs.len()));
            }
        }
        // Module AUX records through a same-version conversion.
        let aux = module_aux_records(file);
        if !aux.is_empty() && report.verdict() == Verdict::Valid {
            let mut out = Vec::new();
            match convert(&ConvertConfig::new(file, ConvertTo::Rdb), &mut out) {
                Ok(_) => {
                    let path = scratch.0.join(format!("{label}.same.rdb"));
                    std::fs::write(&path, &out).unwrap();
                    if module_aux_records(&path) != aux {
                        failures.push(format!("{shown}: module AUX records changed by a same-version convert"));
                    }
                    module_aux_kept += 1;
                }
                Err(e) => failures.push(format!("{shown}: same-version convert failed: {e}")),
            }
        }
        let Some((kind, target)) = judge_of(file) else {
            unjudged += 1;
            continue;
        };
        let (theirs, now) = match load(kind, file, &scratch.0, &label) {
            Ok(v) => v,
            // The module's own data: not ours to judge without the module.
            Err(log) if log.contains("no matching module") || log.contains("module data I can't load") => {
                if std::env::var_os("RW_VERBOSE").is_some() {
                    eprintln!("module: {shown}");
                }
                module_refused += 1;
                continue;
            }
            Err(log) => {
                if std::env::var_os("RW_VERBOSE").is_some() {
                    eprintln!(
                        "refused: {shown}: {:?} / ours: {:?}",
                        log.lines().last(),
                        report.error.as_ref().map(|e| e.to_string())
                    );
                }
                refused += 1;
                if report.verdict() == Verdict::Valid {
                    let said = log.lines().rfind(|l| l.contains('#')).unwrap_or_default().to_string();
                    failures.push(format!("{shown}: {kind:?} refuses it ({said}), check passes it"));
                }
                continue;
            }
        };
        if report.verdict() != Verdict::Valid {
            // By default a server walks values only as far as it needs to;
            // with sanitize-dump-payload it checks them as `check` does.
            let strict = load_with(kind, file, &scratch.0, &format!("{label}s"), &["--sanitize-dump-payload", "yes"]);
            match strict {
                Err(_) => refused_when_sanitizing += 1,
                Ok(_) => failures.push(format!(
                    "{shown}: {kind:?} loads it (even sanitizing), check says {:?}",
                    report.error.map(|e| e.to_string())
                )),
            }
            continue;
        }
        loaded += 1;
        let ours = dumped_keys(file, Some(now), &shown);
        keys_compared += theirs.len();
        // Values, types and TTLs too: what the server saves after loading.
        let saved = scratch.0.join(&label).join("dump.rdb");
        let (want, got) = (common::records::dump_keys(file), common::records::dump_keys(&saved));
        for (id, record) in &want {
            let Some(mut expected) = common::records::normal(record, now, false) else { continue };
            if let Some(mut r) = got.get(id).and_then(|r| common::records::normal(r, now, false)) {
                if r["type"] == "stream" {
                    common::records::drop_unrecorded(&mut expected, &mut r);
                }
                if let Some(d) = common::records::first_difference(&expected, &r, "") {
                    failures.push(format!("{shown}: {id:?} differs from what {kind:?} saved at {d}"));
                }
            }
        }
        if ours != theirs {
            let missing: Vec<_> = theirs.difference(&ours).take(3).collect();
            let extra: Vec<_> = ours.difference(&theirs).take(3).collect();
            failures.push(format!("{shown}: dump differs from {kind:?}: missing {missing:?}, extra {extra:?}"));
        }
        // Converted for the judge: loads with the same keys.
        let mut cfg = ConvertConfig::new(file, ConvertTo::Rdb);
        cfg.rdb_version = Some(target);
        let mut out = Vec::new();
        if convert(&cfg, &mut out).is_ok() {
            let path = scratch.0.join(format!("{label}.converted.rdb"));
            std::fs::write(&path, &out).unwrap();
            match load(kind, &path, &scratch.0, &format!("{label}c")) {
                Ok((keys, _)) => {
                    converted += 1;
                    // Keys that expired between the two loads are gone from the second.
                    let ours_now = dumped_keys(file, Some(now.max(crate_now())), &shown);
                    if keys != ours_now && keys != theirs {
                        failures.push(format!("{shown}: its conversion to {target} loads with other keys"));
                    }
                }
                Err(log) => {
                    let said = log.lines().rfind(|l| l.contains('#')).unwrap_or_default().to_string();
                    failures.push(format!("{shown}: convert exit 0, {kind:?} refuses the output ({said})"));
                }
            }
        }
    }
    eprintln!(
        "{name}: {} files; loaded {loaded}, refused {refused}, refused only when sanitizing {refused_when_sanitizing}, \
         refused for a module {module_refused}, no server for the version {unjudged}; {keys_compared} keys \
         compared; {converted} conversions loaded; module AUX kept in {module_aux_kept}",
        files.len()
    );
    Sweep { failures, loaded, refused }
}

fn crate_now() -> i64 {
    rdb_tool::clock::system_now_ms()
}

/// The AOFs of `realworld/` (single files, RDB preambles, multi-part
/// directories): `check` and `dump --commands` do not panic; where Redis
/// 7.0 (with `aof-load-truncated no`, the strict reading that `check`
/// reports) loads one, `check` passes it, and where it refuses one for its
/// structure, `check` rejects it (commands of modules it lacks are not
/// judged); the replay of what it loads, converted to RDB 10, loads with
/// the same keys.
#[test]
fn realworld_aofs_are_judged_as_redis_7_0_judges_them() {
    use rdb_tool::cmd::check::check_any;
    let root = common::corpus_dir().join("realworld");
    let mut inputs: Vec<std::path::PathBuf> = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            if p.file_name().is_some_and(|n| n == "appendonlydir") {
                inputs.push(p);
            } else if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "aof") {
                inputs.push(p);
            }
        }
    }
    inputs.sort();
    assert!(inputs.len() >= 10, "{} AOF inputs", inputs.len());
    let scratch = common::Scratch::new("realworld-aof");
    let (mut loaded, mut refused, mut unknown_commands, mut converted) = (0, 0, 0, 0);
    let mut failures = Vec::new();
    for (n, input) in inputs.iter().enumerate() {
        let shown = input.strip_prefix(&root).unwrap().display().to_string();
        let verdict = check_any(input, ReaderOptions::default(), None).verdict();
        let mut commands = Vec::new();
        let _ = rdb_tool::cmd::dump::dump_commands(input, &[], ReaderOptions::default(), &mut commands);
        for line in String::from_utf8_lossy(&commands).lines() {
            if serde_json::from_str::<Value>(line).is_err() {
                failures.push(format!("{shown}: dump --commands wrote half a record"));
                break;
            }
        }
        let dir = scratch.0.join(format!("aof{n}"));
        std::fs::create_dir_all(&dir).unwrap();
        if input.is_dir() {
            common::copy_tree(input, &dir.join("appendonlydir"));
        } else {
            std::fs::copy(input, dir.join("appendonly.aof")).unwrap();
        }
        let d = dir.canonicalize().unwrap().display().to_string();
        let args = ["--dir", d.as_str(), "--appendonly", "yes", "--aof-load-truncated", "no"];
        match Server::try_start_kind(Kind::Redis70, &format!("rwaof{n}"), &args) {
            Err(log)
                if log.contains("Unknown command")
                    || log.contains("unknown command")
                    || log.contains("no matching module") =>
            {
                unknown_commands += 1
            }
            Err(log) => {
                refused += 1;
                if verdict == Verdict::Valid {
                    let said = log.lines().rfind(|l| l.contains(" # ")).unwrap_or_default().to_string();
                    failures.push(format!("{shown}: Redis 7.0 refuses it ({said}), check passes it"));
                }
            }
            Ok(server) => {
                loaded += 1;
                if verdict != Verdict::Valid {
                    failures.push(format!("{shown}: Redis 7.0 loads it, check says {verdict:?}"));
                    continue;
                }
                let mut c = server.client().unwrap();
                let theirs = server_keys(&mut c);
                drop(c);
                drop(server);
                let mut cfg = ConvertConfig::new(input, ConvertTo::Rdb);
                cfg.rdb_version = Some(10);
                let mut out = Vec::new();
                if convert(&cfg, &mut out).is_ok() {
                    let path = scratch.0.join(format!("aof{n}.rdb"));
                    std::fs::write(&path, &out).unwrap();
                    match load(Kind::Redis70, &path, &scratch.0, &format!("aof{n}c")) {
                        Ok((keys, _)) if keys == theirs => converted += 1,
                        Ok(_) => failures.push(format!("{shown}: the replay's RDB loads with other keys")),
                        Err(_) => failures.push(format!("{shown}: convert exit 0, Redis 7.0 refuses the output")),
                    }
                }
            }
        }
    }
    eprintln!(
        "realworld AOFs: {} inputs; loaded {loaded}, refused {refused}, module commands or data \
         {unknown_commands}; {converted} replays converted and loaded with the same keys",
        inputs.len()
    );
    assert!(failures.is_empty(), "{} findings:\n{}", failures.len(), failures.join("\n"));
}
