//! Property: an arbitrary keyspace (every type, binary strings, integer-like
//! text, TTLs, field TTLs, streams with groups) written as an RDB of every
//! version the writer knows (Valkey 9's too) reads back identical, except for keys that version
//! cannot hold, which are refused as unsupported. The same check runs under
//! cargo-fuzz (`fuzz/fuzz_targets/rdb_roundtrip.rs`).

use arbitrary::{Arbitrary, Unstructured};
use rdb_tool::output::rdb::writer::{MAX_WRITE_VERSION, MIN_WRITE_VERSION, VALKEY_VERSION};
use rdb_tool::testkit::{check_round_trip, GenKey};

fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 32) as u8
        })
        .collect()
}

#[test]
fn arbitrary_keyspaces_read_back_identical_in_every_version() {
    let mut keys_checked = 0;
    for seed in 0..150u64 {
        let bytes = noise(seed, 32768);
        let mut u = Unstructured::new(&bytes);
        let mut keys: Vec<GenKey> = Vec::new();
        while keys.len() < 30 {
            match GenKey::arbitrary(&mut u) {
                Ok(k) => keys.push(k),
                Err(_) => break,
            }
        }
        keys_checked += keys.len();
        for version in (MIN_WRITE_VERSION..=MAX_WRITE_VERSION).chain([VALKEY_VERSION]) {
            check_round_trip(&keys, version).unwrap_or_else(|e| panic!("seed {seed}, RDB {version}: {e}"));
        }
    }
    assert!(keys_checked > 1000, "only {keys_checked} keys generated");
}
