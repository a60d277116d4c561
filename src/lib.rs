//! # rdb-tool
//!
//! Offline reader, checker and converter for Redis and Valkey persistence files.
//!
//! The crate is a pipeline: `input` (maps and pipes) → `token` (nom parsers) →
//! `event` (the public event model) → `keyspace` (the in-memory model an AOF
//! replay builds) → `source` (what an input is, and its keys, whatever it is)
//! → `output` (sinks: JSON, RESP, RDB) → `cmd` (check, dump, convert, diff,
//! fix). README's "Layout" has the table; `scripts/layers.py imports` checks
//! that no module names a layer above its own.
//!
//! ## API structure
//!
//! Most users need one of three entry points:
//!
//! - **The keys of any input**: [`source::Source::open`] decides once what a
//!   path is (RDB, RDB-preamble AOF, AOF, multi-part directory or manifest,
//!   our JSON dump, `-` for standard input), and
//!   [`source::Source::visit_keys`] hands out each key, filtered, in file
//!   order: its database, name, [`event::KeyAttrs`] (expiry, LRU, LFU, module
//!   metadata) and value as an [`event::ValueSource`], whose
//!   [`pieces`](event::ValueSource::pieces) stream the members one
//!   [`event::Piece`] at a time. [`source::Source::visit`] gives the rest
//!   too (aux fields, functions, module aux) to a [`source::Visitor`].
//! - **The records of one file, as events**: [`event::RdbReader`] and
//!   [`event::AofReader`] yield [`event::Event`]s; values are decoded only
//!   when asked.
//! - **A whole command**, as the CLI runs it, with a config in and data or a
//!   writer out: [`cmd::check::check`], [`cmd::dump::dump`],
//!   [`cmd::convert::convert`], [`cmd::diff::diff`], [`cmd::fix::plan`] and
//!   [`cmd::fix::apply`].
//!
//! Writers, for building files: [`output::rdb::writer::RdbWriter`] (RDB of a
//! chosen version), [`output::resp::RespWriter`] (commands, AOF). Every
//! failure is an [`error::Error`]: a matchable [`error::ErrorKind`] with the
//! file, byte offset, phase and key. Long runs report how far they read to a
//! [`progress::Reporter`] given in [`event::ReaderOptions`].
//!
//! Features: `cli` (default) builds the `rdb-tool` program (clap, indicatif);
//! a library user sets `default-features = false`. `arbitrary` adds
//! `testkit` (arbitrary keyspaces, the RDB round trip) for property tests and
//! fuzzing; `internals` makes the parsers (`token`) and the parallel reader
//! public for the fuzz targets and tests, with no promise of stability.
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
//!
//! The same count from any input, an AOF replayed or a dump read back:
//!
//! ```no_run
//! use rdb_tool::source::{Source, VisitOptions};
//! use std::collections::BTreeMap;
//!
//! # fn main() -> rdb_tool::error::Result<()> {
//! let mut source = Source::open("appendonlydir".as_ref())?;
//! let mut per_type = BTreeMap::new();
//! source.visit_keys(&VisitOptions::default(), |_db, _key, _attrs, value| {
//!     *per_type.entry(value.key_type().name()).or_insert(0u64) += 1;
//!     Ok(())
//! })?;
//! # Ok(())
//! # }
//! ```

/// A module public only with the `internals` feature: the parsers and the
/// parallel machinery the fuzz targets and tests drive directly, which are
/// not an API we keep stable.
macro_rules! internal_mod {
    ($name:ident) => {
        #[cfg(feature = "internals")]
        pub mod $name;
        #[cfg(not(feature = "internals"))]
        pub(crate) mod $name;
    };
}

pub mod clock;
pub mod cmd;
pub mod error;
pub mod escape;
pub mod event;
pub mod format;
pub mod input;
pub mod keyspace;
pub mod memory;
pub mod output;
pub mod progress;
pub mod source;
#[cfg(feature = "arbitrary")]
pub mod testkit;
internal_mod!(token);
