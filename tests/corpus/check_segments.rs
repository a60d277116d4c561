//! `check` reads a large mapped RDB in segments on all cores (split points
//! guessed, then confirmed). Forcing tiny segments on every RDB of the corpus,
//! valid and damaged, must give exactly the report of the sequential read:
//! same verdict, same error at the same offset, same counts and checksum.
//! (The files the `check_segments` fuzz target found: hermetic::regression.)

use crate::common;

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
