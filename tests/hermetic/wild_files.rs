//! Classes of files found in the wild, built here by hand from the format,
//! whose reading needs no server to judge it (those that do:
//! live::wild_files).

use crate::common;

use common::build::{aux, rdb, string_key, FAR_MS};
use common::records::dump_lines;
use rdb_tool::cmd::check::{check_file, Verdict};
use rdb_tool::event::ReaderOptions;

/// KeyDB writes an AUX record (`mvcc-tstamp`) between a key's expiry and the
/// key, and the loader carries the expiry across it (live::wild_files, judged
/// by Redis 7.0 and 6.2). Cutting such a file into segments read in parallel
/// (`check` on large maps) gives the sequential report: a cut between an expiry and its key
/// is never confirmed, since the reader after it would not know the expiry.
#[test]
fn carried_key_attributes_survive_segmented_checks() {
    let scratch = common::Scratch::new("wild-carried-segments");
    let file = scratch.0.join("dump.rdb");
    let mut records = vec![aux("redis-ver", "6.2.0"), vec![0xfe, 0x00]];
    for i in 0..3000 {
        if i % 2 == 0 {
            records.push([vec![0xfc], (FAR_MS + i).to_le_bytes().to_vec()].concat());
            records.push(aux("mvcc-tstamp", &format!("{}", 1_645_954_001_566_433_280u64 + i as u64)));
        }
        records.push(string_key(&format!("key:{i}"), "value"));
    }
    std::fs::write(&file, rdb(9, &records)).unwrap();
    let segmented = ReaderOptions { segment_bytes: 256, ..Default::default() };
    let sequential = ReaderOptions { segment_bytes: u64::MAX, ..Default::default() };
    let a = check_file(&file, segmented, Some(0));
    let b = check_file(&file, sequential, Some(0));
    assert_eq!(b.verdict(), Verdict::Valid, "{:?}", b.error);
    assert_eq!((b.keys, b.expires), (3000, 1500));
    assert!(format!("{a:?}") == format!("{b:?}"), "segmented: {:?} keys, {} expires", a.error, a.expires);
    for (i, k) in dump_lines(&file).iter().enumerate() {
        let want = (i % 2 == 0).then_some(FAR_MS + i as i64);
        assert_eq!(k["expire_at_ms"].as_i64(), want, "{k}");
    }
}
