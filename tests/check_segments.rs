//! `check` reads a large mapped RDB in segments on all cores (split points
//! guessed, then confirmed). Forcing tiny segments on every RDB of the corpus,
//! valid and damaged, must give exactly the report of the sequential read:
//! same verdict, same error at the same offset, same counts and checksum.

mod common;

use rdb_tool::cmd::check::check_file;
use rdb_tool::event::segment::split;
use rdb_tool::event::{Event, RdbReader, ReaderOptions};
use rdb_tool::input::Input;
use std::path::Path;

fn segmented() -> ReaderOptions {
    ReaderOptions { segment_bytes: 256, ..Default::default() }
}

fn sequential() -> ReaderOptions {
    ReaderOptions { segment_bytes: u64::MAX, ..Default::default() }
}

/// The cuts `check` would make with tiny segments, and the offsets where
/// the sequential reader found records.
fn cuts_and_records(path: &Path) -> Option<(Vec<u64>, Vec<u64>)> {
    let mut input = Input::open(path).ok()?;
    let mut reader = RdbReader::new(&mut input, segmented());
    reader.next().ok()??;
    let cuts: Vec<u64> = split(&reader, 8).iter().skip(1).map(|s| s.start).collect();
    let mut records = Vec::new();
    loop {
        records.push(reader.offset());
        match reader.next() {
            Ok(Some(Event::End { .. })) | Ok(None) | Err(_) => return Some((cuts, records)),
            Ok(Some(_)) => {}
        }
    }
}

#[test]
fn tiny_segments_give_the_sequential_report_for_every_corpus_rdb() {
    let files = common::corpus_rdb_files();
    let (mut split_files, mut damaged_split, mut confirmed_cuts) = (0, 0, 0);
    let mut failures = Vec::new();
    for file in &files {
        let a = check_file(file, segmented(), Some(0));
        let b = check_file(file, sequential(), Some(0));
        if format!("{a:?}") != format!("{b:?}") {
            failures.push(format!("{}:\n  segments:   {a:?}\n  sequential: {b:?}", file.display()));
        }
        if let Some((cuts, records)) = cuts_and_records(file) {
            if !cuts.is_empty() {
                split_files += 1;
                damaged_split += usize::from(b.error.is_some());
                // On files that read to the end, every cut is a record boundary.
                if b.error.is_none() {
                    for c in &cuts {
                        if records.binary_search(c).is_err() {
                            failures.push(format!("{}: cut at {c} is not a record start", file.display()));
                        }
                    }
                    confirmed_cuts += cuts.len();
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} of {} files differ:\n{}", failures.len(), files.len(), failures.join("\n"));
    // The property is only worth something if segments were actually used.
    assert!(split_files > 100, "only {split_files} of {} files were cut", files.len());
    assert!(damaged_split > 30, "only {damaged_split} damaged files were cut");
    assert!(confirmed_cuts > 300, "only {confirmed_cuts} cuts in valid files");
}

/// A damaged file (found by the `check_segments` fuzz target) whose second
/// half repeats a header's aux fields and functions after the first fault:
/// what lies past the fault is not reported, however far the reading got.
#[test]
fn nothing_past_the_first_fault_is_reported() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/rdb/damaged/aux-after-fault.rdb");
    for opts in [segmented(), sequential()] {
        let report = check_file(&file, opts, Some(0));
        let e = report.error.as_ref().expect("damaged");
        assert_eq!(e.offset, Some(6804), "{e}");
        let aux: Vec<String> = report.aux.iter().map(|(k, _)| String::from_utf8_lossy(k).into_owned()).collect();
        assert_eq!(aux, ["redis-ver", "redis-bits", "ctime", "used-mem", "aof-preamble"]);
        assert_eq!(report.functions, 0);
        assert_eq!(report.checksum, None);
    }
}

/// Found by the `check_segments` fuzz target: an RDB 10 header, then hash
/// templates (an RDB 15 record) and keys that use them. A segment's reader
/// does not know templates defined before its start; it stops there and the
/// sequential reader reads on, so the report is the sequential one.
#[test]
fn records_that_need_earlier_templates_are_read_sequentially() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/fuzz/templates-in-rdb10.rdb");
    let mut input = Input::open(&file).expect("open");
    let mut reader = RdbReader::new(&mut input, ReaderOptions { segment_bytes: 64, ..Default::default() });
    reader.next().expect("header");
    assert!(split(&reader, 8).len() > 1, "the file must be cut for this test to mean anything");
    let a = check_file(&file, ReaderOptions { segment_bytes: 64, ..Default::default() }, Some(0));
    let b = check_file(&file, sequential(), Some(0));
    assert_eq!(format!("{a:?}"), format!("{b:?}"));
    assert!(matches!(
        b.error.as_ref().map(|e| &e.kind),
        Some(rdb_tool::error::ErrorKind::Integrity("duplicate hash field"))
    ));
}
