//! A whole RDB file through the pipe window with short reads (first byte sets
//! the read size) and records over 4 KiB held in spill files, checking it sees
//! the same events as one large read.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rdb_tool::event::{Event, RdbReader, ReaderOptions};
use rdb_tool::input::Input;
use std::io::Read;

struct Chunked(Vec<u8>, usize, usize);

impl Read for Chunked {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.2.min(buf.len()).min(self.0.len() - self.1);
        buf[..n].copy_from_slice(&self.0[self.1..self.1 + n]);
        self.1 += n;
        Ok(n)
    }
}

fn events(input: &mut Input, pipe_memory: usize) -> Vec<String> {
    let opts = ReaderOptions { force_version: true, max_record: 1 << 20, pipe_memory, ..Default::default() };
    let mut reader = RdbReader::new(input, opts);
    let mut out = Vec::new();
    loop {
        match reader.next() {
            Ok(Some(Event::Key(k))) => out.push(format!("{:?} {:?} {:?}", k.key, k.value.ty, k.value.raw)),
            Ok(Some(ev)) => out.push(format!("{ev:?}")),
            Ok(None) => break,
            Err(e) => {
                out.push(format!("{:?} {:?}", e.kind, e.offset));
                break;
            }
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&chunk, body)) = data.split_first() else { return };
    let mut whole = Input::from_reader("whole", std::io::Cursor::new(body.to_vec()));
    let mut chunked = Input::from_reader("chunked", Chunked(body.to_vec(), 0, usize::from(chunk).max(1)));
    let default = ReaderOptions::default().pipe_memory;
    assert_eq!(events(&mut whole, default), events(&mut chunked, 4096));
});
