//! Parsing the same file mapped and through a pipe read one byte at a time must
//! give identical events, for every RDB fixture in testdata/ and the corpus;
//! also when the pipe may hold only a few hundred bytes in memory, so that
//! every larger record is read through a spill file.

mod common;

use rdb_tool::event::ReaderOptions;
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

/// A pipe that holds at most 8 KiB in memory: larger records spill (and
/// the window returns to memory after them).
fn spilling() -> ReaderOptions {
    ReaderOptions { pipe_memory: 8192, ..Default::default() }
}

#[test]
fn mapped_and_one_byte_pipe_give_identical_events() {
    let mut compared = 0;
    for path in fixtures() {
        let mut mapped = Input::open(&path).expect("open");
        let from_map = common::events::render(&mut mapped);
        let bytes = std::fs::read(&path).expect("read");
        let from_pipe = common::events::render_one_byte_pipe(&bytes);
        let from_spill = common::events::render_one_byte_pipe_with(&bytes, spilling());
        for (how, from_pipe) in [("pipe", from_pipe), ("spilling pipe", from_spill)] {
            match (&from_map, from_pipe) {
                (Ok(a), Ok(b)) => {
                    assert_eq!(a, &b, "{how}: {}", path.display());
                    compared += 1;
                }
                // Files that fail (future version, bad checksum) must fail the same way.
                (Err(a), Err(b)) => {
                    assert_eq!((a.kind, a.offset), (b.kind, b.offset), "{how}: {}", path.display())
                }
                (a, b) => panic!("{how}: {}: map {:?} vs pipe {:?}", path.display(), a.as_ref().err(), b.err()),
            }
        }
    }
    assert!(compared > 100, "only {compared} readings compared");
}

/// The commands run their parallel pipeline over both kinds of input: a pipe
/// (records copied into batches) must give byte-identical output to the map.
#[test]
fn dump_and_check_agree_between_map_and_pipe() {
    use rdb_tool::cmd::check::check_input;
    use rdb_tool::cmd::check::report;
    use rdb_tool::cmd::dump::{dump_input, DumpConfig, DumpFormat};

    let cfg = |format| DumpConfig::new(PathBuf::new(), format);
    for path in fixtures() {
        let bytes = std::fs::read(&path).expect("read");
        for format in [DumpFormat::Jsonl, DumpFormat::Json] {
            let mut from_map = Vec::new();
            let a = dump_input(&mut Input::open(&path).expect("open"), None, &cfg(format), &mut from_map);
            let mut from_pipe = Vec::new();
            let mut pipe = Input::from_reader("pipe", common::events::OneByte(bytes.clone(), 0));
            let b = dump_input(&mut pipe, None, &cfg(format), &mut from_pipe);
            assert_eq!(a.as_ref().map_err(|e| e.kind), b.as_ref().map_err(|e| e.kind), "{}", path.display());
            assert_eq!(from_map, from_pipe, "{}", path.display());
            // Records over 8 KiB reach the batches as shared spill-file maps.
            let mut from_spill = Vec::new();
            let mut pipe = Input::from_reader("pipe", common::events::OneByte(bytes.clone(), 0));
            let spill_cfg = DumpConfig { reader: spilling(), ..cfg(format) };
            let c = dump_input(&mut pipe, None, &spill_cfg, &mut from_spill);
            assert_eq!(a.as_ref().map_err(|e| e.kind), c.as_ref().map_err(|e| e.kind), "{}", path.display());
            assert_eq!(from_map, from_spill, "spilling pipe: {}", path.display());
            if a.is_ok() && format == DumpFormat::Json {
                let v: serde_json::Value = serde_json::from_slice(&from_map).expect("valid JSON array");
                assert!(v.is_array());
            }
        }
        let text = |mut r: rdb_tool::cmd::check::CheckReport| {
            r.file = PathBuf::from("x");
            r.trailing_bytes = r.trailing_bytes.min(1);
            let mut out = Vec::new();
            report::write_text(&mut out, &r).expect("report");
            String::from_utf8(out).expect("utf-8")
        };
        let size = Some(bytes.len() as u64);
        let mapped = check_input(&mut Input::open(&path).expect("open"), size, Default::default(), Some(0));
        let mut pipe = Input::from_reader("pipe", common::events::OneByte(bytes.clone(), 0));
        let piped = check_input(&mut pipe, size, Default::default(), Some(0));
        let mut pipe = Input::from_reader("pipe", common::events::OneByte(bytes.clone(), 0));
        let spilled = check_input(&mut pipe, size, spilling(), Some(0));
        let mapped = text(mapped);
        assert_eq!(mapped, text(piped), "{}", path.display());
        assert_eq!(mapped, text(spilled), "spilling pipe: {}", path.display());
    }
}
