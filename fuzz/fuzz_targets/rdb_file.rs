//! A whole RDB file, mapped-style (one slice): every event, every value decoded.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rdb_tool::event::{Event, RdbReader, ReaderOptions};
use rdb_tool::input::Input;

fuzz_target!(|data: &[u8]| {
    let mut input = Input::from_reader("fuzz", std::io::Cursor::new(data.to_vec()));
    let opts = ReaderOptions { force_version: true, ..Default::default() };
    let mut reader = RdbReader::new(&mut input, opts);
    while let Ok(Some(ev)) = reader.next() {
        if let Event::Key(k) = ev {
            let _ = k.value.decode(&mut |_p: rdb_tool::event::Piece<'_>| Ok(()));
            if let Some(m) = k.attrs.key_meta {
                let _ = rdb_tool::event::key_meta_classes(m);
            }
        }
    }
});
