//! The integration tests: one binary (each binary links the whole crate and
//! its dependencies again), its modules in tiers by what a test needs to run.
//! tests/README.md says what each tier needs and how to run one:
//!
//! - [`hermetic`]: the repository only (`testdata/`, the built binary), and
//!   its [`hermetic::regression`] module, a test per past bug or fuzz find;
//! - [`corpus`]: the real-server corpus (`../shared/corpus` or
//!   `$RDB_TOOL_CORPUS`), read through `common::corpus_dir`, which fails the
//!   test when the corpus is missing;
//! - [`live`]: real servers and their tools (`scripts/install-servers.sh`),
//!   and mostly the corpus too; a missing server fails the test.
//!
//! `cargo test --test integration hermetic::` runs one tier.

mod common;
mod corpus;
mod hermetic;
mod live;
