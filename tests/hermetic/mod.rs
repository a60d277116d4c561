//! Tests that need nothing but the repository: the fixtures in `testdata/`,
//! files built byte by byte, and the built binary. No corpus, no server: they
//! never call `common::corpus_dir` nor start a server, so they run anywhere.

pub(crate) mod cli;
mod constructed;
pub(crate) mod damaged_inputs;
pub(crate) mod memory;
mod property_roundtrip;
pub(crate) mod reader_equivalence;
mod regression;
mod replay;
mod salvage;
mod snapshots;
mod wild_files;
