//! Tests over the real-server corpus (`../shared/corpus`, or
//! `$RDB_TOOL_CORPUS`): files every supported server version wrote, what the
//! servers and their checkers said of them, damaged copies, other projects'
//! dumps. Every path into it comes from `common::corpus_dir`, which fails the
//! test when the corpus is missing: these tests never pass by skipping.

mod aof;
mod check_quick;
mod check_segments;
mod cli;
mod convert_roundtrip;
mod corrupt;
mod diff;
mod dump;
mod memory;
mod peers;
mod reader_equivalence;
mod replay_golden;
mod salvage;
