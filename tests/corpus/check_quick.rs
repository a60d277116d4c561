//! `check --quick` frames every record and compares the checksum without
//! walking the inside of values. On every RDB of the corpus it must agree
//! with the full check wherever it can: a file the full check accepts is
//! accepted with the same counts, and a file the full check rejects is
//! rejected too unless its damage lies inside a value of a file whose checksum
//! is disabled or absent (in the corpus: one such file).

use crate::common;

use rdb_tool::cmd::check::{check_file, CheckReport, Verdict};
use rdb_tool::event::{Checksum, ReaderOptions};

/// What both depths must report alike for a valid file.
fn counts(r: &CheckReport) -> String {
    format!(
        "{:?} {:?} {} {:?} {:?} {:?} {} {} {:?} {} {:?} {:?} {}",
        r.dialect,
        r.version,
        r.keys,
        r.keys_per_db,
        r.keys_per_type,
        r.keys_per_encoding,
        r.expires,
        r.already_expired,
        r.aux,
        r.functions,
        r.modules,
        r.checksum,
        r.trailing_bytes
    )
}

#[test]
fn quick_check_agrees_with_the_full_check_on_every_corpus_rdb() {
    let files = common::corpus_rdb_files();
    let quick_opts = ReaderOptions { check_values: false, ..Default::default() };
    let (mut valid, mut both_reject, mut value_damage) = (0, 0, Vec::new());
    for file in &files {
        let full = check_file(file, ReaderOptions::default(), Some(0));
        let quick = check_file(file, quick_opts, Some(0));
        assert!(quick.quick && !full.quick);
        match (full.verdict(), quick.verdict()) {
            (Verdict::Valid, v) => {
                assert_eq!(v, Verdict::Valid, "{}: {:?}", file.display(), quick.error);
                assert_eq!(counts(&full), counts(&quick), "{}", file.display());
                valid += 1;
            }
            (Verdict::Damaged, Verdict::Valid) => {
                // Only damage inside a value can pass, and only where the
                // checksum does not cover it.
                let e = full.error.as_ref().expect("an error");
                assert!(e.key.is_some(), "{}: {e}", file.display());
                value_damage.push((file.clone(), quick.checksum));
            }
            (a, b) => {
                assert_eq!(a, b, "{}: full {:?}, quick {:?}", file.display(), full.error, quick.error);
                both_reject += 1;
            }
        }
    }
    for (file, checksum) in &value_damage {
        eprintln!("passes the quick check: {} ({checksum:?})", file.display());
    }
    assert!(valid > 100 && both_reject > 50, "{valid} valid, {both_reject} rejected by both");
    // Values really are not walked: damage inside one, with no checksum to
    // betray it, passes.
    assert!(!value_damage.is_empty(), "no damaged value passed the quick check");
    // Where a checksum covers the file, the quick check misses no damage.
    assert!(value_damage.iter().all(|(_, c)| matches!(c, Some(Checksum::Disabled | Checksum::Absent))));
}
