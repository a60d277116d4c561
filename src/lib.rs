//! # rdb-tool
//!
//! Offline reader, checker and converter for Redis and Valkey persistence files.
//!
//! The crate is a pipeline: `input` (maps and pipes) → `token` (nom parsers) →
//! `event` (the public event model) → `source` (what an input is, and its keys,
//! whatever it is) → `output` (sinks: JSON, RESP, RDB) → `cmd` (check, dump,
//! convert, diff, fix); `keyspace` is the in-memory model an AOF replay builds.
//!
//! Counting keys per type with the event model:
//!
//! ```no_run
//! use rdb_tool::event::{Event, RdbReader, ReaderOptions};
//! use rdb_tool::input::Input;
//! use std::collections::BTreeMap;
//!
//! # fn main() -> rdb_tool::error::Result<()> {
//! let mut input = Input::open("dump.rdb".as_ref())?;
//! let mut reader = RdbReader::new(&mut input, ReaderOptions::default());
//! let mut per_type = BTreeMap::new();
//! while let Some(event) = reader.next()? {
//!     if let Event::Key(key) = event {
//!         *per_type.entry(key.value.key_type().name()).or_insert(0u64) += 1;
//!     }
//! }
//! for (ty, n) in per_type {
//!     println!("{ty}: {n}");
//! }
//! # Ok(())
//! # }
//! ```

pub mod clock;
pub mod cmd;
pub mod error;
pub mod escape;
pub mod event;
pub mod format;
pub mod input;
pub mod keyspace;
pub mod output;
pub mod source;
pub mod testkit;
pub mod token;
