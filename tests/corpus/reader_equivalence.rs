//! Every RDB of the corpus (written by the real servers, damaged copies, AOF
//! bases, other projects' dumps; the largest a 1.1 MB LZF string and a
//! 1500-element quicklist) read mapped and through pipes gives identical
//! events and command output: hermetic::reader_equivalence, whose checks
//! these are, on the corpus.

use crate::common;
use crate::hermetic::reader_equivalence::{assert_dump_and_check_agree, assert_events_agree};

#[test]
fn mapped_and_one_byte_pipe_give_identical_events() {
    let files = common::corpus_rdb_files();
    let compared: usize = files.iter().map(|f| assert_events_agree(f)).sum();
    assert!(compared > 100, "only {compared} readings compared");
}

/// The commands run their parallel pipeline over both kinds of input: a pipe
/// (records copied into batches) must give byte-identical output to the map.
#[test]
fn dump_and_check_agree_between_map_and_pipe() {
    for file in common::corpus_rdb_files() {
        assert_dump_and_check_agree(&file);
    }
}
