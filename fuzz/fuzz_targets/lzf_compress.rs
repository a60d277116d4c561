//! Our LZF compressor on arbitrary bytes: never panics, and what it produces
//! decompresses to the input (with our decoder) within the size limit given.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limit = data.len().saturating_sub(4);
    if let Some(c) = rdb_tool::output::rdb::lzf::compress(data, limit) {
        assert!(c.len() <= limit);
        let mut back = Vec::new();
        rdb_tool::token::lzf::decompress_into(&c, data.len(), &mut back).expect("decodes");
        assert_eq!(back, data);
    }
});
