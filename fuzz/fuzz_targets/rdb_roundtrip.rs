//! An arbitrary keyspace written as an RDB of every version the writer knows
//! reads back identical (keys a version cannot hold are refused, never written
//! wrong): the property of tests/hermetic/property_roundtrip.rs, driven by the fuzzer.
#![no_main]
use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use rdb_tool::testkit::{check_round_trip, GenKey};
use rdb_tool::output::rdb::writer::{MAX_WRITE_VERSION, MIN_WRITE_VERSION, VALKEY_VERSION};

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let mut keys = Vec::new();
    while keys.len() < 20 {
        match GenKey::arbitrary(&mut u) {
            Ok(k) => keys.push(k),
            Err(_) => break,
        }
    }
    for version in (MIN_WRITE_VERSION..=MAX_WRITE_VERSION).chain([VALKEY_VERSION]) {
        if let Err(e) = check_round_trip(&keys, version) {
            panic!("RDB {version}: {e}");
        }
    }
});
