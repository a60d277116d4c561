//! Parsing the same file mapped and through a pipe read one byte at a time must
//! give identical events, for every RDB in testdata/ (here) and in the corpus
//! (corpus::reader_equivalence); also when the pipe may hold little in memory:
//! 8 KiB, so that the larger records of real files are read through a spill
//! file and the window returns to memory after them, and a single byte, the
//! smallest window, so that every record is.

use crate::common;

use rdb_tool::cmd::check::report;
use rdb_tool::cmd::check::{check_input, CheckReport};
use rdb_tool::cmd::dump::{dump_input, DumpConfig, DumpFormat};
use rdb_tool::event::ReaderOptions;
use rdb_tool::input::Input;
use std::path::{Path, PathBuf};

/// The pipes every file is read through besides its map: a name for
/// failures, and the reader options.
pub(crate) fn pipes() -> [(&'static str, ReaderOptions); 3] {
    let holding = |pipe_memory| ReaderOptions { pipe_memory, ..Default::default() };
    [("pipe", ReaderOptions::default()), ("spilling pipe", holding(8192)), ("smallest window", holding(1))]
}

/// `path` read mapped and through every pipe of [`pipes`]: the same events,
/// or, for a file that fails (damage, a future version, a bad checksum), the
/// same error at the same offset. Returns how many pipe readings gave events
/// (equal to the map's).
pub(crate) fn assert_events_agree(path: &Path) -> usize {
    let from_map = common::events::render(&mut Input::open(path).expect("open"));
    let bytes = std::fs::read(path).expect("read");
    let mut compared = 0;
    for (how, opts) in pipes() {
        match (&from_map, common::events::render_one_byte_pipe_with(&bytes, opts)) {
            (Ok(a), Ok(b)) => {
                assert_eq!(a, &b, "{how}: {}", path.display());
                compared += 1;
            }
            (Err(a), Err(b)) => {
                assert_eq!((a.kind, a.offset), (b.kind, b.offset), "{how}: {}", path.display())
            }
            (a, b) => panic!("{how}: {}: map {:?} vs pipe {:?}", path.display(), a.as_ref().err(), b.err()),
        }
    }
    compared
}

/// The commands run their parallel pipeline over both kinds of input: through
/// every pipe of [`pipes`] (records copied into batches, or, past the pipe's
/// memory, shared as spill-file maps), `dump` (JSONL and JSON) and `check` of
/// `path` give byte-identical output to the map's, and the same error.
pub(crate) fn assert_dump_and_check_agree(path: &Path) {
    let bytes = std::fs::read(path).expect("read");
    let pipe = || Input::from_reader("pipe", common::events::OneByte(bytes.clone(), 0));
    for format in [DumpFormat::Jsonl, DumpFormat::Json] {
        let cfg = |reader| DumpConfig { reader, ..DumpConfig::new(PathBuf::new(), format) };
        let mut from_map = Vec::new();
        let a = dump_input(&mut Input::open(path).expect("open"), None, &cfg(Default::default()), &mut from_map);
        for (how, opts) in pipes() {
            let mut from_pipe = Vec::new();
            let b = dump_input(&mut pipe(), None, &cfg(opts), &mut from_pipe);
            assert_eq!(a.as_ref().map_err(|e| e.kind), b.as_ref().map_err(|e| e.kind), "{how}: {}", path.display());
            assert_eq!(from_map, from_pipe, "{how}: {}", path.display());
        }
        if a.is_ok() && format == DumpFormat::Json {
            let v: serde_json::Value = serde_json::from_slice(&from_map).expect("valid JSON array");
            assert!(v.is_array());
        }
    }
    let text = |mut r: CheckReport| {
        r.file = PathBuf::from("x");
        r.trailing_bytes = r.trailing_bytes.min(1);
        let mut out = Vec::new();
        report::write_text(&mut out, &r).expect("report");
        String::from_utf8(out).expect("utf-8")
    };
    let size = Some(bytes.len() as u64);
    let mapped = text(check_input(&mut Input::open(path).expect("open"), size, Default::default(), Some(0)));
    for (how, opts) in pipes() {
        assert_eq!(mapped, text(check_input(&mut pipe(), size, opts, Some(0))), "{how}: {}", path.display());
    }
}

#[test]
fn every_in_tree_rdb_gives_identical_events_mapped_and_through_pipes() {
    let files = common::testdata_rdb_files();
    assert!(files.len() >= 90, "only {} RDB files in testdata/", files.len());
    let compared: usize = files.iter().map(|f| assert_events_agree(f)).sum();
    // Most files read to the end; damaged ones fail alike.
    assert!(compared > 3 * 70, "only {compared} readings compared");
}

#[test]
fn every_in_tree_rdb_dumps_and_checks_alike_mapped_and_through_pipes() {
    for file in common::testdata_rdb_files() {
        assert_dump_and_check_agree(&file);
    }
}
