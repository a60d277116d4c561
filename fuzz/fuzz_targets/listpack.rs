//! The listpack walker on arbitrary bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = rdb_tool::token::listpack::walk(data, |_| Ok(()));
});
