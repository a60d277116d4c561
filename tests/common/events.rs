//! Render a whole RDB as text through the public event model, so tests can
//! compare two ways of reading the same bytes.

use rdb_tool::error::Result;
use rdb_tool::event::{Event, RdbReader, ReaderOptions};
use rdb_tool::input::Input;
use rdb_tool::output::record::write_key_record;
use std::io::Read;

/// Every event, with key values fully decoded, one line each.
pub fn render(input: &mut Input) -> Result<Vec<String>> {
    render_with(input, ReaderOptions::default())
}

/// [`render`] with these options.
pub fn render_with(input: &mut Input, opts: ReaderOptions) -> Result<Vec<String>> {
    let mut reader = RdbReader::new(input, opts);
    let mut lines = Vec::new();
    while let Some(ev) = reader.next()? {
        let line = match ev {
            Event::Key(k) => {
                let mut out = format!("@{} ", k.offset).into_bytes();
                write_key_record(&mut out, &k)?;
                String::from_utf8(out).expect("JSON is UTF-8")
            }
            other => format!("{other:?}"),
        };
        lines.push(line);
    }
    Ok(lines)
}

/// A reader that hands out one byte per `read` call: the worst pipe.
pub struct OneByte(pub Vec<u8>, pub usize);

impl Read for OneByte {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.1 >= self.0.len() || buf.is_empty() {
            return Ok(0);
        }
        buf[0] = self.0[self.1];
        self.1 += 1;
        Ok(1)
    }
}

/// Render from memory as a pipe that yields one byte at a time.
pub fn render_one_byte_pipe(bytes: &[u8]) -> Result<Vec<String>> {
    render_one_byte_pipe_with(bytes, ReaderOptions::default())
}

/// [`render_one_byte_pipe`] with these options.
pub fn render_one_byte_pipe_with(bytes: &[u8], opts: ReaderOptions) -> Result<Vec<String>> {
    let mut input = Input::from_reader("pipe", OneByte(bytes.to_vec(), 0));
    render_with(&mut input, opts)
}
