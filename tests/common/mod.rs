//! Shared helpers for integration tests: where the shared corpus is.

#![allow(dead_code)]

pub mod events;
pub mod redis;

use std::path::PathBuf;

/// The real-server corpus (`../shared/corpus`, or `$RDB_TOOL_CORPUS`). Missing
/// corpus is a test failure, never a silent pass.
pub fn corpus_dir() -> PathBuf {
    let dir = std::env::var_os("RDB_TOOL_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"));
    assert!(
        dir.join("index.json").is_file(),
        "the shared corpus is missing at {} (set RDB_TOOL_CORPUS)",
        dir.display()
    );
    dir
}

/// Version directories of the corpus (those with a fixtures.json).
pub fn version_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .expect("read corpus dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("fixtures.json").is_file())
        .collect();
    dirs.sort();
    dirs
}

pub fn read_json(path: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
