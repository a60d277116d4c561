//! RDB string encodings, including LZF decompression with hostile lengths.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((_, s)) = rdb_tool::token::string::parse_str(data) {
        let _ = s.bytes();
    }
    let _ = rdb_tool::token::length::parse_len(data);
    let _ = rdb_tool::token::string::parse_string_double(data);
});
