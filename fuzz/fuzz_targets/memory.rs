//! The memory model on one value of every type (as `value`: the first byte
//! picks the type, the rest is the value), priced for every server
//! generation: no panic, whatever the value holds.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rdb_tool::memory::{Allocator, Meter, Profile, Target};

fuzz_target!(|data: &[u8]| {
    let Some((&ty, rest)) = data.split_first() else { return };
    rdb_tool::testkit::with_one_key(b"REDIS0015", ty, rest, |k| {
        for target in Target::ALL {
            for allocator in Allocator::ALL {
                let meter = Meter::new(Profile::new(target, allocator, target.compiled_limits()));
                let _ = meter.measure(&k.key, &k.attrs, &k.value);
            }
        }
    });
});
