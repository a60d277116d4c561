//! An AOF (commands, annotations, or an RDB preamble and a command tail) read
//! through a pipe window, walking every argument; and the same bytes parsed as
//! one slice, which must see the same commands. The window holds 4 KiB in
//! memory, so longer commands go through spill files.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rdb_tool::event::aof::AofFile;
use rdb_tool::event::{AofReader, AofRole, Event, ReaderOptions};
use rdb_tool::input::Input;

fuzz_target!(|data: &[u8]| {
    let input = Input::from_reader("fuzz.aof", std::io::Cursor::new(data.to_vec()));
    let mut files = vec![AofFile { role: AofRole::Single, input }];
    // Commands over 4 KiB are read through spill files.
    let opts = ReaderOptions { max_record: 1 << 20, pipe_memory: 4096, ..Default::default() };
    let mut reader = AofReader::new(&mut files, opts);
    let mut commands = 0u64;
    let mut failed = false;
    loop {
        match reader.next() {
            Ok(Some(Event::Command(c))) => {
                commands += 1;
                assert_eq!(c.args().count() as u64, c.frame.argc);
            }
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(_) => {
                failed = true;
                break;
            }
        }
    }
    // Without a preamble, the slice parser must agree with the pipe reader.
    if !data.starts_with(b"REDIS") && !data.starts_with(b"VALKEY") {
        let mut rest = data;
        let mut sliced = 0u64;
        let mut sliced_failed = false;
        while !rest.is_empty() {
            match rdb_tool::token::resp::parse_aof_item(rest) {
                Ok((r, item)) => {
                    if matches!(item, rdb_tool::token::resp::AofItem::Command(_)) {
                        sliced += 1;
                    }
                    rest = r;
                }
                Err(nom::Err::Incomplete(_)) if rest[0] == b'#' => break,
                Err(_) => {
                    sliced_failed = true;
                    break;
                }
            }
        }
        assert_eq!(sliced, commands);
        assert_eq!(sliced_failed, failed);
    }
});
