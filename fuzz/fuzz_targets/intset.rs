//! The intset walker on arbitrary bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = rdb_tool::token::intset::walk(data, |_| Ok(()));
});
