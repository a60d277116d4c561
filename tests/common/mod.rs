//! Shared helpers for integration tests: where the shared corpus is.

#![allow(dead_code)]

pub mod events;
pub mod records;
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

/// Every `.rdb` file the real servers of the corpus wrote, and the peers'
/// dumps, sorted (fixtures, damaged copies, AOF bases, `peers/`). Not
/// `realworld/`: those files are judged by what a real server does with
/// each (the realworld sweep), not by the rules these tests hold.
pub fn corpus_rdb_files() -> Vec<PathBuf> {
    let realworld = corpus_dir().join("realworld");
    let mut files = all_rdb_files_under(&corpus_dir());
    files.retain(|f| !f.starts_with(&realworld));
    files
}

/// Every `.rdb` file under `dir`, sorted.
pub fn all_rdb_files_under(dir: &std::path::Path) -> Vec<PathBuf> {
    fn walk(dir: &std::path::Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).expect("read dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rdb") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(dir, &mut files);
    files.sort();
    files
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

/// A scratch directory removed at the end of the test.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("rdb-tool-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Copy a file or directory (writable copies: the corpus is read-only).
pub fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            copy_tree(&e.path(), &to.join(e.file_name()));
        }
    } else {
        std::fs::write(to, std::fs::read(from).unwrap()).unwrap();
    }
}
