//! The key summaries of one input, partitioned by key id and spilled to disk
//! past a memory budget: two inputs of any size are then compared one
//! partition at a time, so memory stays bounded whatever the number of keys.

use crate::error::{Error, ErrorKind, Integrity, Result};
use crate::format::KeyType;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Partitions by the top 8 bits of the key id (a hash: evenly filled).
pub const PARTITIONS: usize = 256;
/// Bytes of a summary on disk.
const RECORD: usize = 48;
/// Bytes a summary costs in memory, growth slack of the vectors included.
pub const IN_MEMORY: usize = 64;
/// Summaries held at least, whatever the budget.
const MIN_HELD: usize = 16;

/// What one key looks like, in brief.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// A 128-bit hash of (db, name): names are not held.
    pub id: u128,
    /// An order-free digest of the value (see `digest`).
    pub digest: u128,
    /// `NO_TTL` when the key does not expire.
    pub ttl: i64,
    /// About how many bytes the value holds (saturating), to size pass 2.
    pub size: u32,
    pub kind: KeyType,
}

pub const NO_TTL: i64 = i64::MIN;

impl Summary {
    pub fn ttl(&self) -> Option<i64> {
        (self.ttl != NO_TTL).then_some(self.ttl)
    }

    fn partition(&self) -> usize {
        (self.id >> 120) as usize
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.id.to_le_bytes());
        out.extend_from_slice(&self.digest.to_le_bytes());
        out.extend_from_slice(&self.ttl.to_le_bytes());
        out.extend_from_slice(&self.size.to_le_bytes());
        out.extend_from_slice(&[self.kind as u8, 0, 0, 0]);
    }

    fn decode(b: &[u8; RECORD]) -> Option<Summary> {
        let word = |at: usize, n: usize| &b[at..at + n];
        Some(Summary {
            id: u128::from_le_bytes(word(0, 16).try_into().ok()?),
            digest: u128::from_le_bytes(word(16, 16).try_into().ok()?),
            ttl: i64::from_le_bytes(word(32, 8).try_into().ok()?),
            size: u32::from_le_bytes(word(40, 4).try_into().ok()?),
            kind: *KeyType::ALL.get(b[44] as usize)?,
        })
    }
}

fn io_error(path: &Path, e: std::io::Error) -> Error {
    Error::io(e).in_file(&path.into())
}

/// A scratch directory for spilled partitions, removed when dropped.
pub struct SpillDir {
    path: PathBuf,
}

impl SpillDir {
    /// A new directory under `parent` (the system's temporary directory by
    /// default), private to this user. Never an existing one: a directory left
    /// by a killed run (or planted by someone else) would add its records.
    pub fn create(parent: Option<&Path>) -> Result<SpillDir> {
        use std::os::unix::fs::DirBuilderExt;
        let parent = parent.map(Path::to_path_buf).unwrap_or_else(std::env::temp_dir);
        static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        loop {
            let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let path = parent.join(format!("rdb-tool-diff-{}-{nanos:08x}-{n}", std::process::id()));
            match std::fs::DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => return Ok(SpillDir { path }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < 1000 => continue,
                Err(e) => return Err(io_error(&path, e)),
            }
        }
    }
}

impl Drop for SpillDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// One input's summaries.
pub struct SummaryStore<'d> {
    parts: Vec<Vec<Summary>>,
    /// Summaries held in memory, and how many may be before spilling.
    held: usize,
    cap: usize,
    dir: &'d SpillDir,
    side: &'static str,
    /// Summaries written to disk so far.
    pub spilled: u64,
    pub keys: u64,
}

impl<'d> SummaryStore<'d> {
    /// A store for input `side` ("a"/"b") holding at most about `budget` bytes
    /// in memory.
    pub fn new(dir: &'d SpillDir, side: &'static str, budget: usize) -> Self {
        SummaryStore {
            parts: vec![Vec::new(); PARTITIONS],
            held: 0,
            cap: (budget / IN_MEMORY).max(MIN_HELD),
            dir,
            side,
            spilled: 0,
            keys: 0,
        }
    }

    fn file(&self, partition: usize) -> PathBuf {
        self.dir.path.join(format!("{}-{partition:03}", self.side))
    }

    pub fn push(&mut self, s: Summary) -> Result<()> {
        self.parts[s.partition()].push(s);
        self.held += 1;
        self.keys += 1;
        if self.held >= self.cap {
            self.spill()?;
        }
        Ok(())
    }

    /// Append every partition held in memory to its file, and free it.
    fn spill(&mut self) -> Result<()> {
        let mut buf = Vec::new();
        for p in 0..PARTITIONS {
            let part = std::mem::take(&mut self.parts[p]);
            if part.is_empty() {
                continue;
            }
            buf.clear();
            for s in &part {
                s.encode(&mut buf);
            }
            let path = self.file(p);
            let mut f =
                std::fs::OpenOptions::new().create(true).append(true).open(&path).map_err(|e| io_error(&path, e))?;
            f.write_all(&buf).map_err(|e| io_error(&path, e))?;
            self.spilled += part.len() as u64;
        }
        self.held = 0;
        Ok(())
    }

    /// Once anything went to disk, send the rest too and free the memory, so
    /// that comparing partitions has the budget to itself.
    pub fn settle(&mut self) -> Result<()> {
        if self.spilled > 0 {
            self.spill()?;
            self.parts = vec![Vec::new(); PARTITIONS];
        }
        Ok(())
    }

    /// The summaries of the largest partition, about.
    pub fn largest_partition(&self) -> u64 {
        // Key ids are hashes: partitions fill evenly; allow for the spread.
        self.keys / PARTITIONS as u64 * 2 + 16
    }

    /// Every summary of one partition (from disk, then from memory).
    pub fn partition(&self, p: usize) -> Result<Vec<Summary>> {
        let path = self.file(p);
        let mut out = Vec::new();
        match std::fs::read(&path) {
            Ok(bytes) => {
                out.reserve(bytes.len() / RECORD + self.parts[p].len());
                for chunk in bytes.chunks_exact(RECORD) {
                    let record: &[u8; RECORD] = chunk.try_into().expect("chunks_exact");
                    out.push(Summary::decode(record).ok_or_else(|| {
                        Error::new(ErrorKind::Integrity(Integrity::DamagedSpillFile)).in_file(&path.as_path().into())
                    })?);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error(&path, e)),
        }
        out.extend_from_slice(&self.parts[p]);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(i: u128) -> Summary {
        let id = i.wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835);
        Summary { id, digest: !id, ttl: i as i64 - 5, size: i as u32, kind: KeyType::ALL[(i % 8) as usize] }
    }

    #[test]
    fn records_round_trip() {
        for i in 0..100 {
            let s = summary(i);
            let mut b = Vec::new();
            s.encode(&mut b);
            assert_eq!(b.len(), RECORD);
            assert_eq!(Summary::decode(b.as_slice().try_into().unwrap()), Some(s));
        }
        let s = Summary { ttl: NO_TTL, ..summary(7) };
        let mut b = Vec::new();
        s.encode(&mut b);
        assert_eq!(Summary::decode(b.as_slice().try_into().unwrap()).unwrap().ttl(), None);
    }

    /// A tiny budget spills many times; every summary comes back in its
    /// partition, none lost or doubled.
    #[test]
    fn spilled_and_held_summaries_all_come_back() {
        let dir = SpillDir::create(None).unwrap();
        let mut store = SummaryStore::new(&dir, "a", 1);
        let n = 5000;
        for i in 0..n {
            store.push(summary(i)).unwrap();
        }
        assert!(store.spilled > 0 && store.spilled < n as u64, "spilled {}", store.spilled);
        let mut back: Vec<Summary> = Vec::new();
        for p in 0..PARTITIONS {
            let part = store.partition(p).unwrap();
            assert!(part.iter().all(|s| s.partition() == p));
            back.extend(part);
        }
        back.sort_by_key(|s| s.size);
        assert_eq!(back, (0..n).map(summary).collect::<Vec<_>>());
        let path = dir.path.clone();
        drop(store);
        drop(dir);
        assert!(!path.exists(), "the spill directory is removed");
    }
}
