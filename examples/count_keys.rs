//! Count the keys of an RDB file per type with the event model alone (no value
//! is decoded): the crate-level example as a program, and a measure of how fast
//! records are framed.
//!
//! `cargo run --release --example count_keys -- dump.rdb`

use rdb_tool::event::{Event, RdbReader, ReaderOptions};
use rdb_tool::input::Input;
use std::collections::BTreeMap;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: count_keys FILE")?;
    let mut input = Input::open(path.as_ref())?;
    let mut reader = RdbReader::new(&mut input, ReaderOptions::default());
    let mut per_type = BTreeMap::new();
    while let Some(event) = reader.next()? {
        if let Event::Key(key) = event {
            *per_type.entry(key.value.key_type().name()).or_insert(0u64) += 1;
        }
    }
    for (ty, n) in per_type {
        println!("{ty}: {n}");
    }
    Ok(())
}
