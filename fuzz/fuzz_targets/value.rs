//! One value of every type: the first byte picks the type, the rest is the value.
//! Frames it and decodes it in both dialects.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&ty, rest)) = data.split_first() else { return };
    for header in [&b"REDIS0015"[..], b"VALKEY080"] {
        rdb_tool::testkit::with_one_key(header, ty, rest, |k| {
            let _ = k.value.decode(&mut |_p: rdb_tool::event::Piece<'_>| Ok(()));
        });
    }
});
