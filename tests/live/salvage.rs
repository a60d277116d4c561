//! What `salvage` writes loads into a real server with exactly the keys it
//! should hold: the server saves back the keys our dump of the output
//! shows. Debian's Redis 7.0 loads the salvage of a 7.0 file whose checksum
//! no single byte explains (every key kept as read, fresh checksum), and
//! the salvages read past the corpus' damage load into the servers that
//! install here, for the versions they read.

use crate::common;
use common::records::{dump_keys, normal};
use common::redis::{Kind, Server};
use std::process::Command;

#[test]
fn an_unlocated_salvage_loads_in_redis_7_0_with_every_key_as_read() {
    let scratch = common::Scratch::new("salvage-live");
    let original = common::corpus_dir().join("redis-7.0.15/dump.rdb");
    let mut bytes = std::fs::read(&original).unwrap();
    // Two bytes near the end of the data, inside the last key's value.
    let n = bytes.len();
    bytes[n - 12] ^= 0x01;
    bytes[n - 13] ^= 0x01;
    let input = scratch.0.join("damaged.rdb");
    std::fs::write(&input, &bytes).unwrap();
    let load_dir = scratch.0.join("load");
    std::fs::create_dir_all(&load_dir).unwrap();
    let out = scratch.0.join("salvaged.rdb");
    let run =
        Command::new(env!("CARGO_BIN_EXE_rdb-tool")).arg("salvage").arg(&input).arg("-o").arg(&out).output().unwrap();
    let text = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(1), "{text}{}", String::from_utf8_lossy(&run.stderr));
    assert!(text.contains("cannot be located"), "{text}");

    std::fs::copy(&out, load_dir.join("dump.rdb")).unwrap();
    let dir = load_dir.canonicalize().unwrap().display().to_string();
    let server = Server::start("salvage-load", &["--dir", &dir, "--dbfilename", "dump.rdb"]);
    let mut c = server.client().unwrap();
    let now = c.time_ms();
    c.ok(&["SAVE"]);
    drop(c);
    let saved = dump_keys(&load_dir.join("dump.rdb"));
    drop(server);
    let ours: Vec<_> = dump_keys(&out).into_iter().filter_map(|(k, v)| Some((k, normal(&v, now, false)?))).collect();
    let theirs: Vec<_> = saved.into_iter().filter_map(|(k, v)| Some((k, normal(&v, now, false)?))).collect();
    assert!(ours.len() > 50, "{} keys", ours.len());
    assert_eq!(ours, theirs, "the server holds exactly the salvaged file's keys");
}

/// Load `file` into a fresh `kind` server and return its keys as it saves
/// them, against our dump of `file`, both as a server holds them at its clock.
fn load_and_compare(kind: Kind, label: &str, file: &std::path::Path) -> usize {
    let scratch = common::Scratch::new(&format!("{label}-files"));
    std::fs::copy(file, scratch.0.join("dump.rdb")).unwrap();
    let dir = scratch.0.canonicalize().unwrap().display().to_string();
    let server = Server::start_kind(kind, label, &["--dir", &dir, "--dbfilename", "dump.rdb"]);
    let mut c = server.client().unwrap();
    let now = c.time_ms();
    c.ok(&["SAVE"]);
    drop(c);
    drop(server);
    let saved = dump_keys(&scratch.0.join("dump.rdb"));
    // A server of a newer version adds stream metadata the file's version
    // had no room for: streams are compared by their entries.
    let held = |(k, v): ((u64, String), serde_json::Value)| {
        let mut v = normal(&v, now, false)?;
        if v["type"] == "stream" {
            v["value"] = v["value"]["entries"].clone();
        }
        Some((k, v))
    };
    let ours: Vec<_> = dump_keys(file).into_iter().filter_map(held).collect();
    let theirs: Vec<_> = saved.into_iter().filter_map(held).collect();
    let first_diff = ours.iter().zip(&theirs).find(|(a, b)| a != b);
    assert!(
        ours.len() == theirs.len() && first_diff.is_none(),
        "{label}: the server holds other keys than the salvaged file: {} against {}; first difference {first_diff:?}",
        ours.len(),
        theirs.len()
    );
    ours.len()
}

/// The corpus' cut and flipped copies that `salvage` reads past, for the
/// versions a server here loads: Redis 6.2's files in Debian's Redis 7.0,
/// Valkey 8.0's in Valkey 8.1, Valkey 9.0's and 9.1's in Valkey 9.1.
#[test]
fn salvages_read_past_corpus_damage_load_into_real_servers() {
    let scratch = common::Scratch::new("salvage-resynced");
    let mut loaded = 0;
    for (version, kind) in [
        ("redis-6.2.16", Kind::Redis70),
        ("valkey-8.0.1", Kind::Valkey81),
        ("valkey-9.0.4", Kind::Valkey91),
        ("valkey-9.1.0", Kind::Valkey91),
    ] {
        for case in ["truncated-before-db", "truncated-middle", "truncated-before-eof", "truncated-checksum"] {
            let input = common::corpus_dir().join(version).join(format!("corrupt/dump/{case}.rdb"));
            let out = scratch.0.join(format!("{version}-{case}.rdb"));
            let run = Command::new(env!("CARGO_BIN_EXE_rdb-tool"))
                .arg("salvage")
                .arg(&input)
                .arg("-o")
                .arg(&out)
                .output()
                .unwrap();
            assert_eq!(run.status.code(), Some(1), "{version} {case}: {}", String::from_utf8_lossy(&run.stderr));
            let keys = load_and_compare(kind, &format!("salvage-{version}-{case}"), &out);
            assert!(case == "truncated-before-db" || keys > 10, "{version} {case}: {keys} keys");
            loaded += 1;
        }
    }
    assert_eq!(loaded, 16);
}

/// Damage made in the middle of the corpus' AOF command streams (zeroed,
/// overwritten and inserted spans), salvaged, then loaded into a real
/// server of the version, which refuses a truncated AOF: it holds what it
/// holds after loading the intact AOF, except keys the report names as
/// touched by the commands that were lost. The layouts: Redis 6.2's single
/// file with an RDB preamble, 7.0's and Valkey 9.1's multi-part sets with
/// a command base, Valkey 8.0's with an RDB base (loaded by Valkey 8.1).
#[test]
fn aof_salvages_load_to_the_intact_state_minus_the_keys_the_report_names() {
    let scratch = common::Scratch::new("salvage-aof-live");
    let mut seed = 0xa0f_5a1e_u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let (mut loads, mut differing, mut named_total, mut unnamed, mut undetectable) = (0, 0, 0, 0, 0);
    for (version, fixture, damaged_file, kind) in [
        ("redis-6.2.16", "aof-preamble", "appendonly.aof", Kind::Redis62),
        ("redis-7.0.15", "aof-plain-ts", "appendonlydir/appendonly.aof.2.base.aof", Kind::Redis70),
        ("valkey-8.0.1", "aof-preamble", "appendonlydir/appendonly.aof.2.incr.aof", Kind::Valkey81),
        ("valkey-9.1.0", "aof-plain-ts", "appendonlydir/appendonly.aof.2.base.aof", Kind::Valkey91),
    ] {
        let fixture_dir = common::corpus_dir().join(version).join(fixture);
        let single = !damaged_file.contains('/');
        let intact = load_aof(kind, &format!("{version}-intact"), &fixture_dir, single);
        let original = std::fs::read(fixture_dir.join(damaged_file)).unwrap();
        // Commands start after a preamble.
        let from = common::records::preamble_end(&fixture_dir.join(damaged_file)).unwrap_or(0) as usize;
        for round in 0..25u64 {
            let label = format!("{version}-{round}");
            let root = scratch.0.join(&label);
            common::copy_tree(&fixture_dir, &root);
            let mut bytes = original.clone();
            // Two damages, the later one first: both offsets stay the original's.
            let mut damages: Vec<(usize, usize, u64)> = (0..2)
                .map(|_| (from + (next() as usize) % (bytes.len() - from - 80), 1 + (next() as usize) % 64, next()))
                .collect();
            damages.sort_unstable_by(|a, b| b.cmp(a));
            for &(at, n, how) in &damages {
                match (round + how) % 3 {
                    0 => bytes[at..at + n].iter_mut().for_each(|b| *b = 0),
                    1 => bytes[at..at + n].iter_mut().for_each(|b| *b = next() as u8),
                    _ => {
                        let junk: Vec<u8> = (0..n).map(|_| next() as u8).collect();
                        bytes.splice(at..at, junk);
                    }
                }
            }
            std::fs::write(root.join(damaged_file), &bytes).unwrap();
            let input = if single { root.join(damaged_file) } else { root.join("appendonlydir") };
            let out_root = scratch.0.join(format!("{label}-out"));
            std::fs::create_dir_all(&out_root).unwrap();
            let out = if single { out_root.join("appendonly.aof") } else { out_root.join("appendonlydir") };
            let report = scratch.0.join(format!("{label}.json"));
            let run = Command::new(env!("CARGO_BIN_EXE_rdb-tool"))
                .arg("salvage")
                .arg(&input)
                .arg("-o")
                .arg(&out)
                .arg("--report")
                .arg(&report)
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&run.stdout).to_string();
            if run.status.code() == Some(0) {
                // Bytes changed inside a payload, leaving every command well
                // formed: nothing can tell (an AOF has no checksum); a copy.
                assert!(text.contains("nothing damaged"), "{label}: {text}");
                let copied =
                    if single { out.clone() } else { out.join(damaged_file.trim_start_matches("appendonlydir/")) };
                assert_eq!(std::fs::read(copied).unwrap(), bytes, "{label}: not a copy");
                undetectable += 1;
                continue;
            }
            assert_eq!(run.status.code(), Some(1), "{label}: {text}{}", String::from_utf8_lossy(&run.stderr));
            let report = common::read_json(&report);
            let text_of = |v: &serde_json::Value| v.as_str().unwrap().to_string();
            let mut named: std::collections::BTreeSet<String> =
                report["affected_keys"].as_array().unwrap().iter().map(text_of).collect();
            let mut unread = false;
            let mut everything = false;
            for file in report["files"].as_array().unwrap() {
                for span in file["skipped_spans"].as_array().unwrap() {
                    // A lost FLUSHDB or SWAPDB: the report says any key may differ.
                    everything |= span["touches_everything"] == true;
                    assert_eq!(span["more_keys"], 0, "{label}: {span}");
                    named.extend(span["keys"].as_array().unwrap().iter().map(text_of));
                    unread |= span["unread"].as_u64().unwrap() > 0;
                }
            }
            // The keys of the commands the damage reached, for when one
            // could not be read at all (which the report must then say).
            // ... and those later commands touched together with them, in
            // this file and the ones after it.
            let mut reached = reached_keys(&original, from, &damages);
            let later: Vec<std::path::PathBuf> = if single {
                Vec::new()
            } else {
                let set =
                    rdb_tool::input::layout::load_multipart(&fixture_dir.join("appendonlydir/appendonly.aof.manifest"))
                        .unwrap();
                let at = set
                    .parts
                    .iter()
                    .position(|(_, p)| p.ends_with(damaged_file.trim_start_matches("appendonlydir/")))
                    .unwrap();
                set.parts[at..].iter().map(|(_, p)| p.clone()).collect()
            };
            follow_keys(&mut reached, &original, from, &later);
            // A damage inside a payload leaves its command well formed: it
            // runs on changed bytes (an AOF has no checksum to tell).
            let shifted: Vec<(usize, usize, u64)> = damages
                .iter()
                .map(|&(at, n, how)| {
                    let before: usize = damages
                        .iter()
                        .filter(|&&(other, m, h)| other < at && (round + h) % 3 == 2 && m > 0)
                        .map(|&(_, m, _)| m)
                        .sum();
                    (at + before, n, how)
                })
                .collect();
            let mut changed = reached_keys(&bytes, from, &shifted);
            follow_keys(&mut changed, &bytes, from, &later);
            let salvaged = load_aof(kind, &label, &out_root, single);
            loads += 1;
            let keys: std::collections::BTreeSet<_> = intact.keys().chain(salvaged.keys()).collect();
            for k in keys {
                if intact.get(k) != salvaged.get(k) {
                    differing += 1;
                    if !named.contains(&k.1) && !everything {
                        assert!(
                            (unread && (reached.contains(&k.1) || reached.contains(EVERY_KEY)))
                                || changed.contains(&k.1)
                                || changed.contains(EVERY_KEY),
                            "{label}: key {k:?} differs from the intact AOF's but the report does not name it \
                             (named: {named:?}; the damage reached {reached:?})\n{text}\nintact: {:?}\nsalvaged: {:?}",
                            intact.get(k),
                            salvaged.get(k)
                        );
                        unnamed += 1;
                    }
                }
            }
            named_total += named.len();
        }
    }
    eprintln!(
        "{loads} salvaged AOFs loaded; {differing} keys differ from the intact state ({unnamed} of them in commands \
         no byte of which could be read), {named_total} named; {undetectable} damages left every command well formed"
    );
    assert_eq!(loads + undetectable, 100);
}

/// Load the AOF under `root` (a single `appendonly.aof`, or an
/// `appendonlydir/`) into a fresh `kind` server that refuses a truncated
/// AOF; its keys, as it saves them, at its clock.
fn load_aof(kind: Kind, label: &str, root: &std::path::Path, single: bool) -> common::records::Keys {
    let files = common::Scratch::new(&format!("{label}-load"));
    common::copy_tree(root, &files.0);
    let dir = files.0.canonicalize().unwrap().display().to_string();
    let layout: &[&str] =
        if single { &["--appendfilename", "appendonly.aof"] } else { &["--appenddirname", "appendonlydir"] };
    let mut args = vec!["--dir", &dir, "--appendonly", "yes", "--aof-load-truncated", "no", "--dbfilename", "dump.rdb"];
    args.extend_from_slice(layout);
    let server = Server::start_kind(kind, label, &args);
    let mut c = server.client().unwrap();
    let now = c.time_ms();
    c.ok(&["SAVE"]);
    drop(c);
    drop(server);
    // A consumer's seen and active times are the loading server's clock
    // where a replayed XCLAIM sets them (Redis 6.2).
    let unclocked = |mut v: serde_json::Value| {
        if v["type"] != "stream" {
            return v;
        }
        for group in v["value"]["groups"].as_array_mut().into_iter().flatten() {
            for consumer in group["consumers"].as_array_mut().into_iter().flatten() {
                let c = consumer.as_object_mut().unwrap();
                c.remove("seen_time_ms");
                c.remove("active_time_ms");
            }
        }
        v
    };
    dump_keys(&files.0.join("dump.rdb"))
        .into_iter()
        .filter_map(|(k, v)| Some((k, unclocked(normal(&v, now, false)?))))
        .collect()
}

/// Stands for every key in the sets of [`reached_keys`].
const EVERY_KEY: &str = "<every key>";

/// The keys (as the dump writes them) of the commands of `original` (from
/// `from`) that a damage `(offset, length, _)` reaches (an insertion reaches the command
/// it lands in).
fn reached_keys(original: &[u8], from: usize, damages: &[(usize, usize, u64)]) -> std::collections::BTreeSet<String> {
    use rdb_tool::keyspace::command_keys::{touched, Touched};
    use rdb_tool::token::resp::{parse_aof_item, AofItem};
    let mut keys = std::collections::BTreeSet::new();
    let mut at = from;
    while let Ok((rest, item)) = parse_aof_item(&original[at..]) {
        let end = original.len() - rest.len();
        if let AofItem::Command(c) = item {
            if damages.iter().any(|&(d, n, _)| d < end && d + n > at) {
                match touched(&c.args().collect::<Vec<_>>()) {
                    Touched::Keys(ks) => keys.extend(ks.into_iter().map(common::records::key_text)),
                    // A flush: any key; marked by a name no key has here.
                    Touched::Everything => drop(keys.insert(EVERY_KEY.to_string())),
                }
            }
        }
        at = end;
    }
    keys
}

/// Add to `keys` every key a command touches together with one of them,
/// in the commands of `original` from `from` and then of the files `later`
/// (the first of which is `original` itself, for a set).
fn follow_keys(
    keys: &mut std::collections::BTreeSet<String>,
    original: &[u8],
    from: usize,
    later: &[std::path::PathBuf],
) {
    use rdb_tool::keyspace::command_keys::{touched, Touched};
    use rdb_tool::token::resp::{parse_aof_item, AofItem};
    let mut streams: Vec<(Vec<u8>, usize)> = vec![(original.to_vec(), from)];
    for path in later.iter().skip(1) {
        let from = common::records::preamble_end(path).unwrap_or(0) as usize;
        streams.push((std::fs::read(path).unwrap(), from));
    }
    for (bytes, mut at) in streams {
        while let Ok((rest, item)) = parse_aof_item(&bytes[at..]) {
            if let AofItem::Command(c) = item {
                if let Touched::Keys(ks) = touched(&c.args().collect::<Vec<_>>()) {
                    let names: Vec<String> = ks.into_iter().map(common::records::key_text).collect();
                    if names.len() > 1 && names.iter().any(|k| keys.contains(k)) {
                        keys.extend(names);
                    }
                }
            }
            at = bytes.len() - rest.len();
        }
    }
}

/// `salvage --to rdb --rdb-version 10`: the salvage of Valkey 9.1's cut
/// file, converted for Redis 7.0, loads there with the keys our dump of it
/// shows; as many as the salvage in the file's own version kept, less the
/// ones RDB 10 cannot hold (left out and named).
#[test]
fn a_salvage_converted_for_redis_7_0_loads_there() {
    let scratch = common::Scratch::new("salvage-to");
    let input = common::corpus_dir().join("valkey-9.1.0/corrupt/dump/truncated-middle.rdb");
    let as_is = scratch.0.join("as-is.rdb");
    let converted = scratch.0.join("for-7.0.rdb");
    let run = |out: &std::path::Path, extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_rdb-tool"))
            .arg("salvage")
            .arg(&input)
            .arg("-o")
            .arg(out)
            .args(extra)
            .output()
            .unwrap()
    };
    assert_eq!(run(&as_is, &[]).status.code(), Some(1));
    let out = run(&converted, &["--to", "rdb", "--rdb-version", "10", "--drop-unsupported"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let dropped = stderr.lines().filter(|l| l.contains("dropped db")).count();
    assert!(std::fs::read(&converted).unwrap().starts_with(b"REDIS0010"));
    // No intermediate file is left next to the output.
    assert_eq!(std::fs::read_dir(&scratch.0).unwrap().count(), 2);
    // The server holds exactly the converted file's keys (as live at its clock).
    load_and_compare(Kind::Redis70, "salvage-to-7.0", &converted);
    let keys = dump_keys(&converted).len();
    assert_eq!(keys + dropped, dump_keys(&as_is).len(), "{stderr}");
    assert!(keys > 40, "{keys} keys");
}
