//! Records too large to hold twice: pages of a huge value in a file-backed map
//! are dropped from memory as it is walked (never pages of plain memory), and a
//! pipe holds large records in spill files whose number stays bounded.

use rdb_tool::event::parallel::{for_each_key, Merged};
use rdb_tool::event::{Event, Piece, RdbReader, ReaderOptions};
use rdb_tool::input::{Input, Window};
use std::path::Path;
use std::sync::Arc;

/// An RDB 9 with one plain set of `n` members of 60 bytes (24 MB for 400 k):
/// over the 16 MiB from which walks release pages.
fn big_set(n: u32) -> Vec<u8> {
    let mut b = b"REDIS0009".to_vec();
    b.extend_from_slice(&[0xfe, 0x00, 0x02, 0x01, b's', 0x80]);
    b.extend_from_slice(&n.to_be_bytes());
    for i in 0..n {
        b.push(60);
        b.extend(format!("{i:060}").bytes());
    }
    b.push(0xff);
    b.extend_from_slice(&[0; 8]);
    b
}

fn digest(b: &[u8]) -> u64 {
    crc_fast::checksum(crc_fast::CrcAlgorithm::Crc64Redis, b)
}

#[test]
fn a_huge_value_in_plain_memory_is_never_released() {
    let bytes = big_set(400_000);
    let before = digest(&bytes);
    let win = Window::Slice { all: &bytes, pos: 0, map: None };
    let mut reader = RdbReader::from_window(Arc::from(Path::new("heap")), win, ReaderOptions::default());
    let mut members = 0u64;
    for_each_key(
        &mut reader,
        |_, _| Ok(()),
        || (),
        |_, k| k.value.decode(&mut |_: Piece<'_>| Ok(())),
        |m: Merged<'_, ()>| {
            if let Merged::Serial(k) = m {
                k.value.decode(&mut |_: Piece<'_>| {
                    members += 1;
                    Ok(())
                })?;
            }
            Ok(())
        },
        |_| {},
    )
    .expect("walk");
    assert_eq!(members, 400_000);
    assert_eq!(digest(&bytes), before, "the input in memory changed");
}

#[test]
fn a_value_pointed_at_plain_memory_is_never_released() {
    let bytes = big_set(400_000);
    let path = std::env::temp_dir().join(format!("rdb-tool-huge-{}.rdb", std::process::id()));
    std::fs::write(&path, &bytes).expect("write");
    let mut input = Input::open(&path).expect("open");
    std::fs::remove_file(&path).ok();
    let mut reader = RdbReader::new(&mut input, ReaderOptions::default());
    loop {
        match reader.next().expect("read") {
            Some(Event::Key(k)) => {
                // `raw` is public: a copy of the value in memory, walked
                // through a value that came from the map.
                let copy = k.value.raw.to_vec();
                let before = digest(&copy);
                let mut moved = k.value;
                moved.raw = &copy;
                let mut members = 0u64;
                moved
                    .decode(&mut |_: Piece<'_>| {
                        members += 1;
                        Ok(())
                    })
                    .expect("decode");
                assert_eq!(members, 400_000);
                assert_eq!(digest(&copy), before, "the copy in memory changed");
                return;
            }
            Some(_) => {}
            None => panic!("no key"),
        }
    }
}

/// Spill-file maps alive in this process now.
fn spill_maps() -> usize {
    let tmp = std::env::temp_dir();
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    maps.lines().filter(|l| l.ends_with("(deleted)") && l.contains(tmp.to_str().unwrap_or("/tmp"))).count()
}

#[test]
fn spilled_records_held_by_the_pipeline_stay_few() {
    // 60 strings of 512 KiB through a pipe holding 16 KiB in memory: each
    // is spilled; batches of 4 MB keep about 8 of them each.
    let mut b = b"REDIS0009".to_vec();
    b.extend_from_slice(&[0xfe, 0x00]);
    for i in 0..60u8 {
        b.extend_from_slice(&[0x00, 0x01, i, 0x80]);
        b.extend_from_slice(&(512u32 << 10).to_be_bytes());
        b.extend(std::iter::repeat_n(i, 512 << 10));
    }
    b.push(0xff);
    b.extend_from_slice(&[0; 8]);
    let mut input = Input::from_reader("pipe", std::io::Cursor::new(b));
    let mut reader = RdbReader::new(&mut input, ReaderOptions { pipe_memory: 16 << 10, ..Default::default() });
    let most = std::sync::atomic::AtomicUsize::new(0);
    let mut keys = 0;
    for_each_key(
        &mut reader,
        |_, _| Ok(()),
        || 0u32,
        |n, k| {
            assert!(k.value.raw[5..].iter().all(|&c| c == k.key[0]));
            most.fetch_max(spill_maps(), std::sync::atomic::Ordering::Relaxed);
            *n += 1;
            Ok(())
        },
        |m| {
            if let Merged::Chunk(n) = m {
                keys += n;
            }
            Ok(())
        },
        |_| {},
    )
    .expect("walk");
    assert_eq!(keys, 60);
    let most = most.into_inner();
    assert!((1..=24).contains(&most), "{most} spill files mapped at once");
}
