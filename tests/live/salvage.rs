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
