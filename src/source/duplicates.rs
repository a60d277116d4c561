//! The same key twice in one database: the server refuses such a file
//! (rdb.c `rdbLoadRioWithLoadingCtx`: `dbAddRDBLoad` fails, "RDB has
//! duplicated key … in DB n", "Duplicated key found in RDB file").
//!
//! Names are not held: each key loaded leaves a 64-bit hash of (db, name),
//! partitioned by its top byte; a partition past its share of the memory
//! budget goes to the store's unnamed temporary file (one file a store,
//! each partition noting its chunks: creating a file costs about half a
//! millisecond on ext4, and a check of 4 M keys in 8 segments spilled to
//! 2,000 of them, a second of system time). After the walk each partition is
//! sorted on its own, so memory stays bounded whatever the number of keys
//! (8 bytes a key on disk: 800 MB for 100 M keys). Equal hashes are only
//! suspects: a second pass, framing records without walking values, reads
//! the names of the suspects and confirms (or clears) them.

use crate::error::{Error, ErrorKind, Integrity, Phase, Result};
use crate::event::{Event, RdbReader, ReaderOptions};
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Mutex};

/// Partitions, by the top byte of the hash.
const PARTITIONS: usize = 256;
/// Hashes one partition of a file's store holds in memory before it goes to
/// disk: 256 of them hold at most 32 MiB.
const HELD_PER_PARTITION: usize = 16 << 10;
/// The same for a segment's store (several run at once; each goes to the
/// file's store when its segment counts): 2 MiB a segment.
const HELD_PER_SEGMENT_PARTITION: usize = 1 << 10;
/// Hashes a chunk of keys gathers before handing them to the store.
const LOCAL_BATCH: usize = 4096;

/// The hash of a key's name.
pub(crate) fn name_hash(key: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(key)
}

/// The hash a key leaves: its name's, mixed with its database (so that a
/// segment's keys read before it knows their database can be mixed later).
fn key_hash(db: u64, name_hash: u64) -> u64 {
    name_hash ^ db.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

#[derive(Default)]
struct Partition {
    held: Vec<u64>,
    /// Spilled hashes: (offset, count) of each chunk in the store's file.
    chunks: Vec<(u64, usize)>,
}

impl Partition {
    /// Every hash it holds, in memory and spilled to `spill`; it is left
    /// empty.
    fn take_all(&mut self, spill: &Spill) -> Result<Vec<u64>> {
        let mut all = std::mem::take(&mut self.held);
        for (offset, count) in std::mem::take(&mut self.chunks) {
            all.extend(spill.read(offset, count)?);
        }
        Ok(all)
    }

    /// Move what it holds in memory to `spill`.
    fn spill(&mut self, spill: &Spill) -> Result<()> {
        let bytes: Vec<u8> = self.held.iter().flat_map(|h| h.to_le_bytes()).collect();
        self.chunks.push((spill.append(&bytes)?, self.held.len()));
        self.held.clear();
        Ok(())
    }
}

/// A store's spill file: unnamed, made at the first spill, appended to
/// under a lock; chunks are read back by offset, in parallel.
#[derive(Default)]
struct Spill {
    file: std::sync::OnceLock<std::fs::File>,
    /// Bytes appended (the lock appenders take).
    len: Mutex<u64>,
}

impl Spill {
    /// Append `bytes`; where they start.
    fn append(&self, bytes: &[u8]) -> Result<u64> {
        let mut len = self.len.lock().unwrap_or_else(|p| p.into_inner());
        if self.file.get().is_none() {
            let file = crate::input::pipe::unnamed_temp_file(&std::env::temp_dir(), "keys").map_err(spill_error)?;
            let _ = self.file.set(file);
        }
        let file = self.file.get().expect("made above");
        file.write_all_at(bytes, *len).map_err(spill_error)?;
        let at = *len;
        *len += bytes.len() as u64;
        Ok(at)
    }

    /// `count` hashes from `offset`.
    fn read(&self, offset: u64, count: usize) -> Result<Vec<u64>> {
        let Some(file) = self.file.get() else { return Ok(Vec::new()) };
        let mut bytes = vec![0u8; count * 8];
        file.read_exact_at(&mut bytes, offset).map_err(spill_error)?;
        Ok(bytes.chunks_exact(8).map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes"))).collect())
    }
}

/// Every loaded key's hash, for one file.
#[derive(Default)]
pub(crate) struct KeyHashStore {
    parts: Vec<Mutex<Partition>>,
    /// Hashes a partition holds before it spills.
    held_per_partition: usize,
    /// The first failure to spill (reported at the end).
    failed: Mutex<Option<Error>>,
    spill: Spill,
}

impl KeyHashStore {
    /// The store of a whole file.
    pub(crate) fn new() -> Arc<KeyHashStore> {
        Self::holding(HELD_PER_PARTITION)
    }

    /// The store of one segment of a file checked in parallel.
    pub(crate) fn for_segment() -> Arc<KeyHashStore> {
        Self::holding(HELD_PER_SEGMENT_PARTITION)
    }

    fn holding(held_per_partition: usize) -> Arc<KeyHashStore> {
        Arc::new(KeyHashStore {
            parts: (0..PARTITIONS).map(|_| Mutex::default()).collect(),
            held_per_partition,
            failed: Mutex::default(),
            spill: Spill::default(),
        })
    }

    fn absorb(&self, hashes: &mut Vec<u64>) {
        // Grouped by partition in one counting pass (a sort costs a few
        // times more per key, and there is one call per 4096 keys).
        let mut starts = [0usize; PARTITIONS + 1];
        for h in hashes.iter() {
            starts[(h >> 56) as usize + 1] += 1;
        }
        for i in 1..=PARTITIONS {
            starts[i] += starts[i - 1];
        }
        let mut grouped = vec![0u64; hashes.len()];
        let mut next = starts;
        for &h in hashes.iter() {
            let b = (h >> 56) as usize;
            grouped[next[b]] = h;
            next[b] += 1;
        }
        for b in 0..PARTITIONS {
            let run = &grouped[starts[b]..starts[b + 1]];
            if run.is_empty() {
                continue;
            }
            let mut part = self.parts[b].lock().unwrap_or_else(|p| p.into_inner());
            part.held.extend_from_slice(run);
            if part.held.len() >= self.held_per_partition {
                if let Err(e) = part.spill(&self.spill) {
                    self.record_failure(e);
                }
            }
        }
        hashes.clear();
    }

    /// Keep the first failure to spill, reported by `repeated`.
    fn record_failure(&self, e: Error) {
        self.failed.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert(e);
    }

    fn take_failure(&self) -> Option<Error> {
        self.failed.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// Take in everything `other` holds (a segment's keys, once it counts).
    pub(crate) fn absorb_store(&self, other: &KeyHashStore) {
        if let Some(e) = other.take_failure() {
            self.record_failure(e);
        }
        for part in &other.parts {
            match part.lock().unwrap_or_else(|p| p.into_inner()).take_all(&other.spill) {
                Ok(mut hashes) => self.absorb(&mut hashes),
                Err(e) => self.record_failure(e),
            }
        }
    }

    /// The hashes seen more than once, sorted.
    pub(crate) fn repeated(&self) -> Result<Vec<u64>> {
        if let Some(e) = self.take_failure() {
            return Err(e);
        }
        use rayon::prelude::*;
        // A partition at a time per core: memory holds a few partitions.
        let per_part: Vec<Result<Vec<u64>>> = self
            .parts
            .par_iter()
            .map(|part| {
                let mut all = part.lock().unwrap_or_else(|p| p.into_inner()).take_all(&self.spill)?;
                all.sort_unstable();
                Ok(all.windows(2).filter(|w| w[0] == w[1]).map(|w| w[0]).collect())
            })
            .collect();
        let mut repeated = Vec::new();
        for part in per_part {
            repeated.extend(part?);
        }
        repeated.sort_unstable();
        repeated.dedup();
        Ok(repeated)
    }
}

fn spill_error(e: std::io::Error) -> Error {
    Error::io(e)
        .detail(format!("spilling key hashes for the duplicate key check to {}", std::env::temp_dir().display()))
}

/// The hashes of a chunk, a segment or a whole file: gathered locally, and
/// handed to the file's store (when there is one) in batches.
#[derive(Default)]
pub(crate) struct KeyHashes {
    local: Vec<u64>,
    store: Option<Arc<KeyHashStore>>,
    /// Keys whose database is not known yet (a segment's keys before its
    /// first SELECTDB): their name hashes, held until `rebase`.
    deferred: Option<Partition>,
}

impl KeyHashes {
    /// Hashes that go to `store`.
    pub(crate) fn feeding(store: &Arc<KeyHashStore>) -> KeyHashes {
        KeyHashes { local: Vec::new(), store: Some(Arc::clone(store)), deferred: None }
    }

    /// Hashes of keys whose database `rebase` will tell.
    pub(crate) fn deferred(store: &Arc<KeyHashStore>) -> KeyHashes {
        KeyHashes { deferred: Some(Partition::default()), ..Self::feeding(store) }
    }

    pub(crate) fn push(&mut self, db: u64, key: &[u8]) {
        self.push_hashed(db, name_hash(key));
    }

    /// [`KeyHashes::push`] of a name already hashed ([`name_hash`]).
    pub(crate) fn push_hashed(&mut self, db: u64, name: u64) {
        match &mut self.deferred {
            Some(part) => {
                part.held.push(name);
                if part.held.len() >= HELD_PER_PARTITION {
                    if let Some(store) = &self.store {
                        if let Err(e) = part.spill(&store.spill) {
                            store.record_failure(e);
                        }
                    }
                }
            }
            None => {
                self.local.push(key_hash(db, name));
                if self.local.len() >= LOCAL_BATCH {
                    self.flush();
                }
            }
        }
    }

    /// The deferred keys are in database `db`.
    pub(crate) fn rebase(&mut self, db: u64) {
        let Some(part) = self.deferred.take() else { return };
        // A chunk at a time: a segment's keys before its first SELECTDB may
        // be millions.
        if let Some(store) = self.store.clone() {
            for &(offset, count) in &part.chunks {
                match store.spill.read(offset, count) {
                    Ok(hashes) => self.local.extend(hashes.iter().map(|&h| key_hash(db, h))),
                    Err(e) => store.record_failure(e),
                }
                self.flush();
            }
        }
        self.local.extend(part.held.iter().map(|&h| key_hash(db, h)));
        self.flush();
    }

    pub(crate) fn merge(&mut self, mut other: KeyHashes) {
        other.flush();
        self.local.append(&mut other.local);
        if self.local.len() >= LOCAL_BATCH {
            self.flush();
        }
    }

    /// Hand what is gathered to the store.
    pub(crate) fn flush(&mut self) {
        if let Some(store) = &self.store {
            store.absorb(&mut self.local);
        }
    }
}

/// After a walk that found nothing else: the first key (in file order)
/// loaded twice into one database, as damage at its second copy. Keys the
/// server does not load (already expired at `now`, as a primary drops them;
/// empty collections) are not counted. `path` is read a second time to
/// confirm suspects; where it cannot be (standard input), a suspect is a
/// warning instead.
pub(crate) fn find_duplicate(
    store: &KeyHashStore,
    path: &std::path::Path,
    opts: ReaderOptions,
    now: i64,
    warnings: &mut Vec<String>,
) -> Result<()> {
    let suspects = store.repeated()?;
    if suspects.is_empty() {
        return Ok(());
    }
    if !std::fs::metadata(path).is_ok_and(|m| m.is_file()) {
        warnings.push(format!(
            "{} key names share a 64-bit hash with another key of their database: maybe a duplicate key, \
             which the server refuses (check the file, not a pipe, to know)",
            suspects.len()
        ));
        return Ok(());
    }
    let mut input = crate::input::Input::open(path)?;
    let mut reader = RdbReader::new(&mut input, ReaderOptions { check_values: false, ..opts });
    let mut first_seen: std::collections::HashMap<(u64, Vec<u8>), u64> = std::collections::HashMap::new();
    while let Some(event) = reader.next_releasing()? {
        let Event::Key(k) = event else { continue };
        if k.attrs.expire_at_ms.is_some_and(|t| t < now)
            || suspects.binary_search(&key_hash(k.db, name_hash(&k.key))).is_err()
        {
            continue;
        }
        if !loaded(&k)? {
            continue;
        }
        let (db, offset) = (k.db, k.offset);
        match first_seen.entry((db, k.key.to_vec())) {
            std::collections::hash_map::Entry::Occupied(first) => {
                return Err(Error::new(ErrorKind::Integrity(Integrity::DuplicateKey))
                    .at(offset)
                    .doing(Phase::ReadingKey)
                    .key(&first.key().1)
                    .detail(format!(
                        "the same key as at offset {} in db {db}: the server refuses the file",
                        first.get()
                    )));
            }
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(offset);
            }
        }
    }
    Ok(())
}

/// Whether the server adds this key (an empty collection it skips).
fn loaded(k: &crate::event::KeyEvent<'_>) -> Result<bool> {
    if !k.value.key_type().is_collection() {
        return Ok(true);
    }
    let mut any = false;
    k.value.decode(&mut |p: crate::event::Piece<'_>| {
        any |= matches!(
            p,
            crate::event::Piece::Elem(_) | crate::event::Piece::Member { .. } | crate::event::Piece::Field { .. }
        );
        Ok(())
    })?;
    Ok(any)
}

/// The duplicate key check alone, over a whole RDB file: one pass framing
/// records without walking values, then the confirmation pass if any hash
/// repeats. For commands that write what they read (`convert`): a file the
/// server refuses must not become one it loads with a copy silently lost.
pub(crate) fn find_duplicate_key(path: &std::path::Path, opts: ReaderOptions, now: i64) -> Result<()> {
    let mut finder = DuplicateFinder::new();
    let mut input = crate::input::Input::open(path)?;
    let mut reader = RdbReader::new(&mut input, ReaderOptions { check_values: false, ..opts });
    // A whole file walked: without releasing, every page read stays resident.
    while let Some(event) = reader.next_releasing()? {
        if let Event::Key(k) = event {
            if k.attrs.expire_at_ms.is_none_or(|t| t >= now) {
                finder.key(k.db, &k.key);
            }
        }
    }
    finder.hashes.flush();
    find_duplicate(&finder.store, path, opts, now, &mut Vec::new())
}

/// The duplicate check for an input read some other way (a JSON dump):
/// `key` for every key as it is read, then `suspects`; a key whose hash is
/// among them (see [`is_suspect`]) is compared by name in a second read.
pub(crate) struct DuplicateFinder {
    store: Arc<KeyHashStore>,
    hashes: KeyHashes,
}

impl DuplicateFinder {
    pub(crate) fn new() -> DuplicateFinder {
        let store = KeyHashStore::new();
        let hashes = KeyHashes::feeding(&store);
        DuplicateFinder { store, hashes }
    }

    pub(crate) fn key(&mut self, db: u64, key: &[u8]) {
        self.hashes.push(db, key);
    }

    /// The hashes seen more than once (usually none), sorted.
    pub(crate) fn suspects(mut self) -> Result<Vec<u64>> {
        self.hashes.flush();
        self.store.repeated()
    }
}

/// Whether (db, key) has one of the `suspects` hashes.
pub(crate) fn is_suspect(suspects: &[u64], db: u64, key: &[u8]) -> bool {
    suspects.binary_search(&key_hash(db, name_hash(key))).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hashes past the memory share spill to disk, a segment's deferred
    /// hashes too, and a repeat across memory, files and segments is found.
    #[test]
    fn repeats_are_found_through_spills_and_deferred_segments() {
        // A small memory share, so that every partition spills.
        let store = KeyHashStore::holding(64);
        let mut file_level = KeyHashes::feeding(&store);
        let keys = 300_000u64;
        for i in 0..keys {
            file_level.push(0, format!("key:{i}").as_bytes());
        }
        // A segment whose database is learnt late, holding one key again.
        let segment = KeyHashStore::for_segment();
        let mut head = KeyHashes::deferred(&segment);
        for i in keys..keys + 40_000 {
            head.push(u64::MAX, format!("key:{i}").as_bytes());
        }
        head.push(u64::MAX, b"key:17");
        head.rebase(0);
        store.absorb_store(&segment);
        file_level.flush();
        let spilled = store.parts.iter().filter(|p| !p.lock().unwrap().chunks.is_empty()).count();
        assert!(spilled > 200, "only {spilled} partitions spilled");
        assert_eq!(store.repeated().unwrap(), vec![key_hash(0, name_hash(b"key:17"))]);
        // The same name in another database is no repeat.
        let other = KeyHashStore::new();
        let mut h = KeyHashes::feeding(&other);
        h.push(0, b"k");
        h.push(1, b"k");
        h.flush();
        assert!(other.repeated().unwrap().is_empty());
    }
}
