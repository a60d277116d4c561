//! The memory model on one value of every type (as `value`: the first byte
//! picks the type, the rest is the value), priced for every server
//! generation: no panic, whatever the value holds.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rdb_tool::memory::{Allocator, Meter, Profile, Target};

fuzz_target!(|data: &[u8]| {
    let Some((&ty, rest)) = data.split_first() else { return };
    let mut file = b"REDIS0015".to_vec();
    file.extend_from_slice(&[ty, 1, b'k']);
    file.extend_from_slice(rest);
    let mut input = rdb_tool::input::Input::from_reader("fuzz", std::io::Cursor::new(file));
    let mut reader = rdb_tool::event::RdbReader::new(&mut input, Default::default());
    if let Ok(Some(_header)) = reader.next() {
        if let Ok(Some(rdb_tool::event::Event::Key(k))) = reader.next() {
            for target in Target::ALL {
                for allocator in Allocator::ALL {
                    let meter = Meter::new(Profile::new(target, allocator, target.compiled_limits()));
                    let _ = meter.measure(&k.key, &k.attrs, &k.value);
                }
            }
        }
    }
});
