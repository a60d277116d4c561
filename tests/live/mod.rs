//! Tests judged by real servers: they start Debian's Redis 7.0 and the
//! servers `scripts/install-servers.sh` puts in `target/servers/` (Redis 6.2,
//! Valkey 8.1, 9.1) through `common::redis`, or run their tools
//! (`redis-check-aof`, `redis-cli`); most read the corpus too. A missing
//! server or tool fails the test, naming the script that installs it.

mod aof;
mod convert;
mod diff;
mod loading;
mod matrix;
mod memory;
mod memory_html;
mod realworld;
mod redis;
mod replay;
mod salvage;
mod wild_files;
