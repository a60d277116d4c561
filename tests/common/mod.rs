//! Shared helpers for integration tests: where the shared corpus is (the
//! only place that knows), the in-tree fixtures, scratch directories, and a
//! test run alone in a process of its own.

#![allow(dead_code)]

pub mod alloc;
pub mod build;
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

/// Every `.rdb` file in the repository's `testdata/` (fixtures, damaged
/// copies, fuzz finds, the base of the multi-part AOF), sorted.
pub fn testdata_rdb_files() -> Vec<PathBuf> {
    all_rdb_files_under(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata"))
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

/// A name no other test of this process uses: all tests share one process,
/// and two may pick the same name for their scratch or server directory.
pub fn unique(name: &str) -> String {
    static SEQ: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{}-{n}-{name}", std::process::id())
}

/// A scratch directory removed at the end of the test.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("rdb-tool-test-{}", unique(name)));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // RDB_TOOL_KEEP_SCRATCH keeps what a failing test left, to look at.
        if std::thread::panicking() && std::env::var_os("RDB_TOOL_KEEP_SCRATCH").is_some() {
            eprintln!("scratch kept: {}", self.0.display());
            return;
        }
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

/// Whether the calling test is to run its body here. Some tests measure the
/// whole process (the heap's peak, the files it maps) while the other tests
/// of this binary run in threads beside them: such a test starts this binary
/// again to run itself alone (`--exact`, one thread) and fails if that run
/// fails; in the harness's process this returns false once that run passed,
/// in the child true.
///
/// ```ignore
/// if !common::in_own_process() { return; }
/// ```
pub fn in_own_process() -> bool {
    const ALONE: &str = "RDB_TOOL_TEST_ALONE";
    let name = std::thread::current().name().expect("libtest names a test's thread after the test").to_string();
    if let Some(alone) = std::env::var_os(ALONE) {
        // Never recurse: a child that is not running its test is lost.
        assert_eq!(alone.to_str(), Some(name.as_str()), "a child process running another test");
        return true;
    }
    let exe = std::env::current_exe().expect("the test binary");
    let out = std::process::Command::new(exe)
        .args([name.as_str(), "--exact", "--test-threads=1", "--nocapture"])
        .env(ALONE, &name)
        .output()
        .expect("run the test binary again");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("test result: ok. 1 passed"),
        "{name}, run alone: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    false
}
