//! Writers for what commands produce: JSON (binary-safe) and text.

pub mod diff;
pub mod json;
pub mod progress;
pub mod rdb;
pub mod record;
pub mod report;
pub mod resp;
