//! Sinks: what commands write. JSON (binary-safe) key and command records,
//! RESP commands and AOFs, RDB files (with their CRC-64), progress. Nothing
//! here reads files or knows about commands.

pub mod json;
pub mod rdb;
pub mod record;
pub mod resp;
