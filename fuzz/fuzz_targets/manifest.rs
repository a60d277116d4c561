//! The AOF manifest parser and its tokenizer on arbitrary bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rdb_tool::input::manifest::{looks_like_manifest, parse_manifest, split_args};

fuzz_target!(|data: &[u8]| {
    let _ = looks_like_manifest(data);
    if let Ok(m) = parse_manifest(data) {
        // Incr files come in strictly increasing order; names are plain file names.
        for w in m.incrs.windows(2) {
            assert!(w[0].seq < w[1].seq);
        }
        for e in m.loaded() {
            assert!(!e.file.contains(&b'/') && !e.file.is_empty());
        }
    }
    let _ = split_args(data);
});
