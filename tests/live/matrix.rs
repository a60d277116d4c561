//! Exit 0 means the server takes it: every valid corpus snapshot (all ten
//! server versions) and every peer dump a server can load without a module,
//! converted for each real server that installs here and loaded by it:
//!
//! | target | server |
//! |---|---|
//! | RDB 9 | Redis 6.2 |
//! | RDB 10 | Redis 7.0 |
//! | RDB 11 | Valkey 8.1 |
//! | `VALKEY080` | Valkey 9.1 |
//!
//! each as an RDB, as RESP commands and as RESTORE commands (through
//! `redis-cli --pipe`), as a single-file AOF and as a multi-part AOF
//! directory (`appendonly yes`; not Redis 6.2, which has none). With
//! `--drop-unsupported`: what the target cannot hold is reported per key.
//!
//! The server then `SAVE`s, and what it holds is compared key by key with
//! the source's dump: the same keys (less those reported dropped, and those
//! expired at the server's clock, which it drops), the same types, TTLs and
//! values (sets, hashes and sorted sets as sets; hash fields past their TTL
//! are dropped by servers that load them, so only live fields count; stream
//! consumers' times are the server's own after RESP). The source's dump and
//! the server's are both read by our reader, which the corpus tests hold to
//! what the live servers recorded.
//!
//! The migration users ask for most, Redis 7.4 / 8.x → Valkey 9.1, is part
//! of it: every Redis 7.4, 8.0, 8.6 and 8.8 snapshot goes to `VALKEY080`.

use crate::common;

use common::records::{drop_unrecorded, dump_keys, first_difference, normal};
use common::redis::{Kind, Server};
use rdb_tool::cmd::check::{check_file, Verdict};
use rdb_tool::cmd::convert::{convert, convert_to_dir, ConvertConfig, ConvertReport, ConvertTo};
use rdb_tool::event::ReaderOptions;
use std::path::{Path, PathBuf};

const TARGETS: [(Kind, u32); 4] = [(Kind::Redis62, 9), (Kind::Redis70, 10), (Kind::Valkey81, 11), (Kind::Valkey91, 80)];
const MODES: [&str; 5] = ["rdb", "resp", "restore", "aof", "aof-dir"];

/// The sources: every version's main snapshot and the peers' dumps that
/// check passes and hold no module data.
fn sources() -> Vec<(String, PathBuf)> {
    let mut out: Vec<(String, PathBuf)> = common::version_dirs()
        .into_iter()
        .map(|d| (d.file_name().unwrap().to_string_lossy().into_owned(), d.join("dump.rdb")))
        .collect();
    for f in common::all_rdb_files_under(&common::corpus_dir().join("peers")) {
        let r = check_file(&f, ReaderOptions::default(), None);
        if r.verdict() == Verdict::Valid && r.modules.is_empty() && r.module_aux.is_empty() && r.keys > 0 {
            out.push((format!("peers/{}", f.file_name().unwrap().to_string_lossy()), f));
        }
    }
    out
}

struct Loaded {
    server: Server,
    report: ConvertReport,
}

/// Convert `source` for `kind`/`version` in `mode` into `dir` and start the
/// server on it; what went wrong otherwise.
fn convert_and_load(
    source: &Path,
    kind: Kind,
    version: u32,
    mode: &str,
    dir: &Path,
    label: &str,
) -> Result<Loaded, String> {
    let to = match mode {
        "rdb" => ConvertTo::Rdb,
        "resp" | "restore" => ConvertTo::Resp,
        "aof" => ConvertTo::Aof,
        _ => ConvertTo::AofDir,
    };
    let mut cfg = ConvertConfig::new(source, to);
    cfg.rdb_version = Some(version);
    cfg.drop_unsupported = true;
    cfg.restore = (mode == "restore").then_some(false);
    let d = dir.canonicalize().unwrap().display().to_string();
    let report = if mode == "aof-dir" {
        convert_to_dir(&cfg, &dir.join("appendonlydir")).unwrap_or_else(|e| panic!("{label}: {e}"))
    } else {
        let mut out = Vec::new();
        let report = convert(&cfg, &mut out).unwrap_or_else(|e| panic!("{label}: {e}"));
        let file = match mode {
            "rdb" => "dump.rdb",
            "aof" => "appendonly.aof",
            _ => "commands.resp",
        };
        std::fs::write(dir.join(file), out).unwrap();
        report
    };
    let mut args = vec!["--dir", d.as_str(), "--dbfilename", "dump.rdb"];
    if mode.starts_with("aof") {
        args.extend(["--appendonly", "yes"]);
    }
    let server = Server::try_start_kind(kind, label, &args).map_err(|log| {
        let said = log.lines().filter(|l| l.contains(" # ")).collect::<Vec<_>>().join(" / ");
        format!("exit 0, but the server refuses the output: {said}")
    })?;
    if matches!(mode, "resp" | "restore") {
        server.pipe(&dir.join("commands.resp")).map_err(|said| format!("redis-cli --pipe reported errors: {said}"))?;
    }
    Ok(Loaded { server, report })
}

#[test]
fn every_conversion_with_exit_0_loads_into_its_server_with_the_keys_it_should_hold() {
    let scratch = common::Scratch::new("live-matrix");
    let (mut loads, mut keys_verified, mut dropped_by_design) = (0u64, 0u64, 0u64);
    let mut failures = Vec::new();
    for (name, source) in sources() {
        let want = dump_keys(&source);
        for (kind, version) in TARGETS {
            for mode in MODES {
                if mode == "aof-dir" && kind == Kind::Redis62 {
                    continue; // Redis 6.2 has no multi-part AOF.
                }
                let label = format!("matrix-{loads}");
                let shown = format!("{name} → {kind:?} as {mode}");
                let dir = scratch.0.join(&label);
                std::fs::create_dir_all(&dir).unwrap();
                let Loaded { server, report } = match convert_and_load(&source, kind, version, mode, &dir, &label) {
                    Ok(l) => l,
                    Err(why) => {
                        failures.push(format!("{shown}: {why}"));
                        continue;
                    }
                };
                loads += 1;
                let mut c = server.client().unwrap();
                let now = c.time_ms();
                c.ok(&["SAVE"]);
                let got = dump_keys(&dir.join("dump.rdb"));
                drop(c);
                drop(server);
                let dropped: Vec<(u64, String)> =
                    report.dropped.iter().map(|(db, k, _)| (*db, String::from_utf8_lossy(k).into_owned())).collect();
                dropped_by_design += dropped.len() as u64;
                // Keys whose value was reported lossy (stream state, key metadata).
                let lossy = |k: &str| report.notes.iter().any(|n| n.contains(&format!("key \"{k}\"")));
                let via_commands = matches!(mode, "resp" | "aof" | "aof-dir");
                for (id, record) in &want {
                    if dropped.contains(id) {
                        if got.contains_key(id) {
                            failures.push(format!("{shown}: {id:?} reported dropped but present"));
                        }
                        continue;
                    }
                    let Some(expected) = normal(record, now, via_commands) else { continue };
                    let mut expected = expected;
                    let got_now = got.get(id).and_then(|r| normal(r, now, via_commands)).map(|mut r| {
                        if r["type"] == "stream" {
                            drop_unrecorded(&mut expected, &mut r);
                        }
                        r
                    });
                    match got_now {
                        None => failures.push(format!("{shown}: {id:?} missing")),
                        Some(r) if lossy(&id.1) => {
                            if r["type"] != expected["type"] {
                                failures.push(format!("{shown}: {id:?} type {} vs {}", r["type"], expected["type"]));
                            }
                            keys_verified += 1;
                        }
                        Some(r) if r != expected => failures.push(format!(
                            "{shown}: {id:?} differs at {}",
                            first_difference(&expected, &r, "").unwrap_or_default()
                        )),
                        Some(_) => keys_verified += 1,
                    }
                }
                for id in got.keys() {
                    if !want.contains_key(id) {
                        failures.push(format!("{shown}: {id:?} is not in the source"));
                    }
                }
                let _ = std::fs::remove_dir_all(&dir);
            }
        }
    }
    eprintln!("matrix: {loads} loads, {keys_verified} keys verified, {dropped_by_design} keys dropped by design");
    assert!(failures.is_empty(), "{} findings:\n{}", failures.len(), failures.join("\n"));
    assert!(loads > 500 && keys_verified > 20_000, "{loads} loads, {keys_verified} keys");
}
