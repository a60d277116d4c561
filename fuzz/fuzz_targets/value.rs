//! One value of every type: the first byte picks the type, the rest is the value.
//! Frames it and decodes it in both dialects.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rdb_tool::format::Dialect;

fuzz_target!(|data: &[u8]| {
    let Some((&ty, rest)) = data.split_first() else { return };
    for dialect in [Dialect::Redis, Dialect::Valkey] {
        // A one-key RDB body: type, key "k", value.
        let mut file = match dialect {
            Dialect::Redis => b"REDIS0015".to_vec(),
            Dialect::Valkey => b"VALKEY080".to_vec(),
        };
        file.extend_from_slice(&[ty, 1, b'k']);
        file.extend_from_slice(rest);
        let mut input = rdb_tool::input::Input::from_reader("fuzz", std::io::Cursor::new(file));
        let mut reader = rdb_tool::event::RdbReader::new(&mut input, Default::default());
        if let Ok(Some(_header)) = reader.next() {
            if let Ok(Some(rdb_tool::event::Event::Key(k))) = reader.next() {
                let _ = k.value.decode(&mut |_p: rdb_tool::event::Piece<'_>| Ok(()));
            }
        }
    }
});
