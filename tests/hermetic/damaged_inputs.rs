//! No input may make the reader panic, hang, or allocate more than the input
//! could justify. Replays damaged variants of small fixtures through `check`
//! and `dump` code paths: a cut at every byte, single-byte flips at every byte,
//! and absurd length fields spliced in.
//!
//! The counting global allocator (`common::alloc`) measures the peak heap use
//! of each parse, in a process of the test's own.

use crate::common;

use rdb_tool::cmd::check::{check_file, Verdict};
use rdb_tool::input::Input;

/// Parse `bytes` fully (every value decoded) through the pipe path and report
/// whether it was accepted and the heap growth it caused (see
/// `common::alloc`: a test that calls this runs alone in its own process).
pub(crate) fn parse(bytes: &[u8]) -> (bool, usize) {
    common::alloc::peak_during(|| {
        // One byte per read: the window never knows the input is about to end, so
        // a length field is all it has to go on.
        let mut input = Input::from_reader("mutant", common::events::OneByte(bytes.to_vec(), 0));
        let ok = common::events::render(&mut input).is_ok();
        drop(input);
        ok
    })
}

/// Where the RDB proper ends (after its checksum).
fn rdb_end(bytes: &[u8]) -> usize {
    let mut input = Input::from_reader("whole", std::io::Cursor::new(bytes.to_vec()));
    let mut reader = rdb_tool::event::RdbReader::new(&mut input, Default::default());
    while let Ok(Some(_)) = reader.next() {}
    reader.offset() as usize
}

/// What any input may cost: LZF may expand ~90x, the rest is linear.
fn budget(len: usize) -> usize {
    100 * len + (2 << 20)
}

fn small_fixtures() -> Vec<(String, Vec<u8>)> {
    let mut v = Vec::new();
    for e in std::fs::read_dir("testdata/rdb/peers").expect("testdata") {
        let p = e.expect("entry").path();
        if p.extension().is_some_and(|x| x == "rdb") {
            v.push((p.display().to_string(), std::fs::read(&p).expect("read")));
        }
    }
    v.sort();
    v
}

#[test]
fn truncations_flips_and_absurd_lengths_are_handled() {
    if !common::in_own_process() {
        return;
    }
    let mut runs = 0usize;
    for (name, bytes) in small_fixtures() {
        let (whole_ok, _) = parse(&bytes);
        let end = rdb_end(&bytes);
        for cut in 0..bytes.len() {
            let (ok, peak) = parse(&bytes[..cut]);
            // A cut before the end of the RDB proper (some peer files carry bytes
            // after the checksum) can never be a valid file.
            assert!(!(ok && whole_ok && cut < end), "{name}: cut at {cut} accepted");
            assert!(peak <= budget(cut), "{name}: cut at {cut} used {peak} bytes");
            runs += 1;
        }
        for pos in 0..bytes.len() {
            for x in [0xff, 0x01] {
                let mut m = bytes.clone();
                m[pos] ^= x;
                let (_, peak) = parse(&m);
                assert!(peak <= budget(m.len()), "{name}: flip {x:#x} at {pos} used {peak} bytes");
                runs += 1;
            }
        }
        // Splice a huge length in at every position.
        for pos in 9..bytes.len() {
            // Lengths beyond any limit, and lengths under the pipe's record
            // limit (256 MiB, 16 MiB) that the input still cannot back.
            let huge: [&[u8]; 4] = [
                &[0x81, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xf0],
                &[0x80, 0xff, 0xff, 0xff, 0xf0],
                &[0x80, 0x10, 0x00, 0x00, 0x00],
                &[0x80, 0x01, 0x00, 0x00, 0x00],
            ];
            for huge in huge {
                let mut m = bytes[..pos].to_vec();
                m.extend_from_slice(huge);
                m.extend_from_slice(&bytes[pos..]);
                let (_, peak) = parse(&m);
                assert!(peak <= budget(m.len()), "{name}: huge length at {pos} used {peak} bytes");
                runs += 1;
            }
        }
    }
    assert!(runs > 10_000, "only {runs} mutants");
}

#[test]
fn damaged_copies_of_a_real_file_are_rejected_with_an_offset() {
    for e in std::fs::read_dir("testdata/rdb/damaged").expect("testdata") {
        let p = e.expect("entry").path();
        let r = check_file(&p, Default::default(), None);
        assert_eq!(r.verdict(), Verdict::Damaged, "{}", p.display());
        let err = r.error.expect("error");
        assert!(err.offset.is_some(), "{}: {err}", p.display());
    }
}
