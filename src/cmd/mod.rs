//! Commands: each a function over writers, so tests can call them directly.

pub mod aof;
pub mod check;
pub mod convert;
pub mod diff;
pub mod dump;
pub mod filter;
pub mod fix;
