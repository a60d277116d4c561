//! `diff` over the corpus (against a real server's snapshots: live::diff).

use crate::common;

use rdb_tool::cmd::diff::{diff, DiffConfig};

/// The same data written by two server versions (corpus, same seed) is equal.
#[test]
fn the_same_dataset_from_two_server_versions_is_equal() {
    let corpus = common::corpus_dir();
    let a = corpus.join("redis-7.0.15/dump.rdb");
    let b = corpus.join("redis-7.2.6/dump.rdb");
    let report = diff(&DiffConfig::new(&a, &b)).unwrap();
    assert!(report.diffs.is_empty(), "{:?}", report.diffs.first());
    assert_eq!(report.same, 86);
}
