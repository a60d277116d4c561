//! What keys cost in a server's memory, byte for byte where the server is
//! deterministic: the model behind `rdb-tool memory`.
//!
//! [`meter::Meter`] prices one key for a [`profile::Profile`] (a server
//! version, its allocator, its encoding limits) from the key's pieces, as
//! the server would hold it right after loading it. The model mirrors the
//! server's own accounting (`MEMORY USAGE key SAMPLES 0`) and, beside it,
//! what the allocations take. docs/memory.md gives each rule's source and
//! what was checked against which live server.

pub mod alloc;
pub mod dict;
#[cfg(feature = "html")]
pub mod html;
pub mod meter;
pub mod profile;
pub mod rax;
pub mod report;
mod shape;
pub mod valkey;

pub use alloc::Allocator;
pub use meter::{KeyCost, Meter};
pub use profile::{Profile, Target};
