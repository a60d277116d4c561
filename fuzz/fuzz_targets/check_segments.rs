//! Differential: `check` of a mapped file cut into tiny segments (split points
//! guessed, then confirmed) must report exactly what the sequential read
//! reports, on any input: verdict, error and offset, counts, checksum.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rdb_tool::cmd::check::check_file;
use rdb_tool::event::ReaderOptions;
use std::io::Write;

fuzz_target!(|data: &[u8]| {
    let path = std::env::temp_dir().join(format!("rdb-tool-fuzz-segments-{}.rdb", std::process::id()));
    let mut f = std::fs::File::create(&path).expect("temp file");
    f.write_all(data).expect("write");
    drop(f);
    let opts = ReaderOptions { force_version: true, ..Default::default() };
    let segmented = check_file(&path, ReaderOptions { segment_bytes: 64, ..opts }, Some(0));
    let sequential = check_file(&path, ReaderOptions { segment_bytes: u64::MAX, ..opts }, Some(0));
    assert_eq!(format!("{segmented:?}"), format!("{sequential:?}"));
});
