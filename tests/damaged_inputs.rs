//! No input may make the reader panic, hang, or allocate more than the input
//! could justify. Replays damaged variants of small fixtures through `check`
//! and `dump` code paths: a cut at every byte, single-byte flips at every byte,
//! and absurd length fields spliced in.
//!
//! A counting global allocator measures the peak heap use of each parse.

mod common;

use rdb_tool::cmd::check::{check_file, Verdict};
use rdb_tool::input::Input;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(now, Ordering::Relaxed);
        // SAFETY: forwarding the caller's layout to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// The counters are global: tests of this file run one at a time so that one
/// test's allocations never land in another's measurement.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Parse `bytes` fully (every value decoded) through the pipe path and report
/// whether it was accepted and the heap growth it caused.
fn parse(bytes: &[u8]) -> (bool, usize) {
    let base = CURRENT.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    // One byte per read: the window never knows the input is about to end, so
    // a length field is all it has to go on.
    let mut input = Input::from_reader("mutant", common::events::OneByte(bytes.to_vec(), 0));
    let ok = common::events::render(&mut input).is_ok();
    drop(input);
    (ok, PEAK.load(Ordering::Relaxed).saturating_sub(base))
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
    let _serial = serial();
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
    let _serial = serial();
    for e in std::fs::read_dir("testdata/rdb/damaged").expect("testdata") {
        let p = e.expect("entry").path();
        let r = check_file(&p, Default::default(), None);
        assert_eq!(r.verdict(), Verdict::Damaged, "{}", p.display());
        let err = r.error.expect("error");
        assert!(err.offset.is_some(), "{}: {err}", p.display());
    }
}

#[test]
fn a_length_field_alone_does_not_make_the_pipe_window_grow() {
    let _serial = serial();
    // A 256 MiB string length (under the 1 GiB record limit) followed by only
    // 200 KB of data: the window may grow with the data that arrives, not with
    // the length it was promised.
    let mut b = b"REDIS0009\xfe\x00\x00\x01k\x80\x10\x00\x00\x00".to_vec();
    b.extend(std::iter::repeat_n(b'x', 200_000));
    let (ok, peak) = parse(&b);
    assert!(!ok);
    assert!(peak < 4 * b.len() + (1 << 20), "peak {peak} for {} input bytes", b.len());
}

#[test]
fn a_bogus_huge_length_is_the_same_damage_from_a_pipe_as_from_a_file() {
    let _serial = serial();
    // A 4 GiB string length (beyond the pipe's record limit) in a small file:
    // the file is truncated, whichever way it is read.
    let mut b = b"REDIS0009\xfe\x00\x00\x01k\x80\xff\xff\xff\xf0".to_vec();
    b.extend(std::iter::repeat_n(b'x', 10_000));
    let path = std::env::temp_dir().join(format!("rdb-tool-bogus-{}.rdb", std::process::id()));
    std::fs::write(&path, &b).expect("write");
    let mapped = check_file(&path, Default::default(), Some(0));
    std::fs::remove_file(&path).ok();
    let mut pipe = Input::from_reader("pipe", common::events::OneByte(b.clone(), 0));
    let piped = rdb_tool::cmd::check::check_input(&mut pipe, None, Default::default(), Some(0));
    assert_eq!(mapped.verdict(), Verdict::Damaged);
    assert_eq!(piped.verdict(), Verdict::Damaged);
    let (m, p) = (mapped.error.unwrap(), piped.error.unwrap());
    assert_eq!((m.kind, m.offset), (p.kind, p.offset), "{m} / {p}");
}
