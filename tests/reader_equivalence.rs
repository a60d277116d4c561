//! Parsing the same file mapped and through a pipe read one byte at a time must
//! give identical events, for every RDB fixture in testdata/ and the corpus.

mod common;

use rdb_tool::input::Input;
use std::path::PathBuf;

fn fixtures() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in ["testdata/rdb", "testdata/rdb/peers"] {
        for e in std::fs::read_dir(dir).expect("testdata") {
            let p = e.expect("entry").path();
            if p.extension().is_some_and(|x| x == "rdb") {
                files.push(p);
            }
        }
    }
    // The largest real file: a 1.1 MB LZF string, a 1500-element quicklist.
    files.push(common::corpus_dir().join("redis-8.0-m01/big/dump.rdb"));
    files.sort();
    files
}

#[test]
fn mapped_and_one_byte_pipe_give_identical_events() {
    let mut compared = 0;
    for path in fixtures() {
        let mut mapped = Input::open(&path).expect("open");
        let from_map = common::events::render(&mut mapped);
        let bytes = std::fs::read(&path).expect("read");
        let from_pipe = common::events::render_one_byte_pipe(&bytes);
        match (from_map, from_pipe) {
            (Ok(a), Ok(b)) => {
                assert_eq!(a, b, "{}", path.display());
                compared += 1;
            }
            // Files that fail (future version, bad checksum) must fail the same way.
            (Err(a), Err(b)) => {
                assert_eq!((a.kind, a.offset), (b.kind, b.offset), "{}", path.display())
            }
            (a, b) => panic!("{}: map {:?} vs pipe {:?}", path.display(), a.err(), b.err()),
        }
    }
    assert!(compared > 50, "only {compared} fixtures compared");
}
