//! What `salvage` writes loads into a real server with exactly the keys it
//! should hold: Debian's Redis 7.0 loads the salvage of a 7.0 file whose
//! checksum no single byte explains (every key kept as read, fresh
//! checksum), and saves back the same keys.

use crate::common;
use common::records::{dump_keys, normal};
use common::redis::Server;
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
