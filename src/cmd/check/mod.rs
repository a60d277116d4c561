//! `check`: validate an RDB file completely (structure, every encoding, the deep
//! integrity checks of `sanitize-dump-payload`, duplicates, the checksum) and
//! summarise what it holds, like `redis-check-rdb`.

use crate::error::{Error, ErrorKind, Integrity, Phase, Result};
use crate::event::decode::{Piece, Sink};
use crate::event::parallel::Merged;
use crate::event::{Checksum, Event, RdbReader, ReaderOptions};
use crate::format::{Dialect, KeyType};
use crate::input::Input;
use crate::progress::Progress;
use crate::token::Item;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

pub mod aof;
pub mod one_byte;
pub mod report;
mod segments;

#[derive(Debug, Clone)]
pub struct CheckConfig {
    pub files: Vec<PathBuf>,
    pub reader: ReaderOptions,
    /// Unix ms used to count already-expired keys (default: now).
    pub now_ms: Option<i64>,
}

/// What a check found in one file.
#[derive(Debug, Clone, Default)]
pub struct CheckReport {
    pub file: PathBuf,
    pub dialect: Option<Dialect>,
    pub version: Option<u32>,
    pub size: Option<u64>,
    pub aux: Vec<(Vec<u8>, Vec<u8>)>,
    pub functions: u64,
    pub module_aux: Vec<String>,
    pub modules: BTreeMap<String, u64>,
    pub keys_per_db: BTreeMap<u64, u64>,
    pub keys_per_type: BTreeMap<KeyType, u64>,
    pub keys_per_encoding: BTreeMap<&'static str, u64>,
    pub keys: u64,
    pub expires: u64,
    pub already_expired: u64,
    pub hashes_with_field_ttls: u64,
    pub keys_with_meta: u64,
    /// Empty lists, sets, sorted sets and hashes: valid, but the server skips
    /// them on load, so they are not in `keys` (unknown with `quick`).
    pub empty_keys: u64,
    /// Only structure and checksum were checked (`--quick`).
    pub quick: bool,
    pub checksum: Option<Checksum>,
    pub trailing_bytes: u64,
    /// A damaged file that one restored byte makes whole, found from the
    /// checksum (see [`one_byte`]; looked for by [`check_any`] only).
    pub one_byte: Option<one_byte::Restored>,
    /// Findings that do not make the file unloadable.
    pub warnings: Vec<String>,
    pub error: Option<Error>,
}

pub use crate::error::Verdict;

impl CheckReport {
    pub fn verdict(&self) -> Verdict {
        self.error.as_ref().map_or(Verdict::Valid, |e| e.kind.verdict())
    }
}

/// Semantic checks on one value: duplicate members and fields, empty
/// collections. Members are remembered as 64-bit digests ([`Seen`]); equal
/// digests are confirmed on the real bytes before we call it damage.
struct ValueChecker<'d> {
    kind: KeyType,
    intset: bool,
    seen: &'d mut Seen,
    /// Keep only digests in this partition (`digest % parts == part`).
    part: (u64, u64),
    /// More members than fit the digest budget: another pass is needed.
    overflow: bool,
    items: u64,
    field_ttls: u64,
    module: Option<String>,
    /// A stream's recorded length (from its metadata) and its entries.
    stream: (Option<u64>, u64),
}

/// Digests one pass may hold (16 MB per worker): huge collections are checked
/// in several passes, one partition of the digest space each, so memory stays
/// bounded whatever the collection size.
const MAX_DIGESTS: usize = 2 << 20;
/// Beyond this many passes the duplicate check is skipped, with a warning.
const MAX_PASSES: u64 = 32;

impl ValueChecker<'_> {
    fn remember(&mut self, d: u64) {
        // One pass (the usual case) keeps all: no division per member.
        if self.part.1 > 1 && d % self.part.1 != self.part.0 {
            return;
        }
        if !self.seen.add(d) {
            self.overflow = true;
        }
    }
}

/// The member digests of one value. Most values are small (listpacks hold
/// at most a few hundred entries): their digests go into a small
/// open-addressing table that finds repeats as they arrive and is never
/// cleared (each slot carries the generation of the value that wrote it).
/// Past [`SMALL_MAX`] members they move to a list, sorted at the end.
struct Seen {
    table: Box<[(u32, u64)]>,
    generation: u32,
    in_table: usize,
    list: Vec<u64>,
    /// Digests met twice while in the table.
    repeated: Vec<u64>,
}

const SMALL_SLOTS: usize = 256;
const SMALL_MAX: usize = SMALL_SLOTS / 2;

impl Default for Seen {
    fn default() -> Self {
        Seen {
            table: vec![(0, 0); SMALL_SLOTS].into_boxed_slice(),
            generation: 0,
            in_table: 0,
            list: Vec::new(),
            repeated: Vec::new(),
        }
    }
}

impl Seen {
    /// Forget everything: a new value (or pass) starts.
    fn start(&mut self) {
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.table.fill((0, 0));
            self.generation = 1;
        }
        self.in_table = 0;
        self.list.clear();
        self.repeated.clear();
    }

    /// Remember `d`; `false` when the list is full ([`MAX_DIGESTS`]).
    fn add(&mut self, d: u64) -> bool {
        if self.list.is_empty() {
            if self.in_table < SMALL_MAX {
                // Packed short members are not hashed: mix before indexing.
                let mut i = (d.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 56) as usize % SMALL_SLOTS;
                loop {
                    let (g, v) = self.table[i];
                    if g != self.generation {
                        self.table[i] = (self.generation, d);
                        self.in_table += 1;
                        return true;
                    }
                    if v == d {
                        self.repeated.push(d);
                        return true;
                    }
                    i = (i + 1) % SMALL_SLOTS;
                }
            }
            let generation = self.generation;
            self.list.extend(self.table.iter().filter(|(g, _)| *g == generation).map(|(_, v)| *v));
        }
        if self.list.len() < MAX_DIGESTS {
            self.list.push(d);
            true
        } else {
            false
        }
    }

    /// Digests seen more than once.
    fn repeats(&mut self) -> Vec<u64> {
        let mut found = std::mem::take(&mut self.repeated);
        found.extend(duplicated(&mut self.list));
        found
    }
}

/// A 64-bit digest of a member's text form (integers as their decimal text, as
/// Redis compares them). Texts of up to 7 bytes are packed as they are (exact,
/// no hashing: most members are short); longer ones are hashed. Equal digests
/// are only suspects: `confirm_duplicate` compares the bytes.
fn digest(it: &Item<'_>) -> u64 {
    let mut buf = itoa::Buffer::new();
    let b = it.as_bytes(&mut buf);
    if b.len() <= 7 {
        // Byte by byte: a variable-length copy would be a memmove call.
        b.iter().rev().fold(b.len() as u64, |word, &x| (word << 8) | u64::from(x))
    } else {
        xxhash_rust::xxh3::xxh3_64(b)
    }
}

impl Sink for ValueChecker<'_> {
    fn piece(&mut self, piece: Piece<'_>) -> Result<()> {
        self.items += 1;
        match piece {
            // An intset's walk already proved its members strictly ascending.
            Piece::Elem(it) if self.kind == KeyType::Set && !self.intset => self.remember(digest(&it)),
            Piece::Member { member, .. } => self.remember(digest(&member)),
            Piece::Field { field, expire_at_ms, .. } => {
                self.field_ttls += u64::from(expire_at_ms.is_some());
                self.remember(digest(&field));
            }
            Piece::Module { name, .. } => self.module = Some(name.to_string()),
            Piece::StreamEntry { .. } => self.stream.1 += 1,
            Piece::StreamMeta(m) => self.stream.0 = Some(m.length),
            _ => {}
        }
        Ok(())
    }

    fn wants_scores(&self) -> bool {
        false
    }
}

/// Digests that occur more than once (sorts `digests`).
fn duplicated(digests: &mut [u64]) -> Vec<u64> {
    digests.sort_unstable();
    let mut d: Vec<u64> = digests.windows(2).filter(|w| w[0] == w[1]).map(|w| w[0]).collect();
    d.dedup();
    d
}

/// The member (set), member (zset) or field (hash) of a piece.
fn member_of(piece: &Piece<'_>) -> Option<Vec<u8>> {
    match piece {
        Piece::Elem(it) | Piece::Member { member: it, .. } | Piece::Field { field: it, .. } => Some(it.to_vec()),
        _ => None,
    }
}

/// After two members shared a digest: decode again and compare their bytes.
fn confirm_duplicate(key: &crate::event::KeyEvent<'_>, suspects: &[u64]) -> Result<bool> {
    let mut seen: HashSet<Vec<u8>> = HashSet::new();
    let mut duplicate = false;
    key.value.decode(&mut |p: Piece<'_>| {
        if let Some(m) = member_of(&p) {
            let d = digest(&Item::Bytes(&m));
            if suspects.binary_search(&d).is_ok() && !seen.insert(m) {
                duplicate = true;
            }
        }
        Ok(())
    })?;
    Ok(duplicate)
}

/// Check one file.
pub fn check_file(path: &Path, opts: ReaderOptions, now: Option<i64>) -> CheckReport {
    let size = std::fs::metadata(path).ok().filter(|m| m.is_file()).map(|m| m.len());
    match Input::open(path) {
        Ok(mut input) => check_input(&mut input, size, opts, now),
        Err(e) => CheckReport { file: path.to_path_buf(), size, error: Some(e), ..Default::default() },
    }
}

/// Check an opened input of `size` bytes (if known).
pub fn check_input(input: &mut Input, size: Option<u64>, opts: ReaderOptions, now: Option<i64>) -> CheckReport {
    let name = input.name.clone();
    let mut report = CheckReport { file: name.to_path_buf(), size, ..Default::default() };
    let mut reader = RdbReader::new(input, opts);
    let now = now.unwrap_or_else(crate::clock::system_now_ms);
    let trailing = match walk_file(&mut reader, &mut report, now) {
        Ok(t) => t,
        Err(e) => {
            report.error = Some(e.in_file(&name));
            return report;
        }
    };
    if let Some(t) = trailing {
        report.trailing_bytes = t;
        return report;
    }
    match reader.has_trailing_data() {
        Ok(true) => {
            let end = reader.offset();
            report.trailing_bytes = report.size.map_or(1, |s| s.saturating_sub(end));
        }
        Ok(false) => {}
        Err(e) => report.error = Some(e),
    }
    report
}

/// Per-key counts, accumulated per chunk of keys and merged in file order.
/// Plain arrays: this runs for every key.
struct KeyStats {
    keys: u64,
    keys_per_db: Vec<(u64, u64)>,
    keys_per_type: [u64; KeyType::ALL.len()],
    /// By type byte (one dialect per file, so the byte is unambiguous).
    keys_per_type_byte: [u64; 256],
    expires: u64,
    already_expired: u64,
    hashes_with_field_ttls: u64,
    keys_with_meta: u64,
    empty_keys: u64,
    modules: BTreeMap<String, u64>,
    /// What the loaded keys leave for the duplicate key check.
    key_hashes: crate::source::duplicates::KeyHashes,
    /// Scratch for duplicate detection, reused from key to key.
    seen: Seen,
    warnings: Vec<String>,
}

impl Default for KeyStats {
    fn default() -> Self {
        KeyStats {
            keys: 0,
            keys_per_db: Vec::new(),
            keys_per_type: [0; KeyType::ALL.len()],
            keys_per_type_byte: [0; 256],
            expires: 0,
            already_expired: 0,
            hashes_with_field_ttls: 0,
            keys_with_meta: 0,
            empty_keys: 0,
            modules: BTreeMap::new(),
            key_hashes: crate::source::duplicates::KeyHashes::default(),
            seen: Seen::default(),
            warnings: Vec::new(),
        }
    }
}

fn add_db(dbs: &mut Vec<(u64, u64)>, db: u64, n: u64) {
    match dbs.iter_mut().find(|(d, _)| *d == db) {
        Some((_, count)) => *count += n,
        None => dbs.push((db, n)),
    }
}

impl KeyStats {
    fn merge(&mut self, other: KeyStats) {
        self.keys += other.keys;
        for (db, n) in other.keys_per_db {
            add_db(&mut self.keys_per_db, db, n);
        }
        for (a, b) in self.keys_per_type.iter_mut().zip(other.keys_per_type) {
            *a += b;
        }
        for (a, b) in self.keys_per_type_byte.iter_mut().zip(other.keys_per_type_byte) {
            *a += b;
        }
        for (k, v) in other.modules {
            *self.modules.entry(k).or_default() += v;
        }
        self.expires += other.expires;
        self.already_expired += other.already_expired;
        self.hashes_with_field_ttls += other.hashes_with_field_ttls;
        self.keys_with_meta += other.keys_with_meta;
        self.empty_keys += other.empty_keys;
        self.key_hashes.merge(other.key_hashes);
        self.warnings.extend(other.warnings);
    }

    /// Count every key as being in `db` (keys read before their segment's
    /// first SELECTDB, once the database they are in is known).
    fn rebase_db(&mut self, db: u64) {
        let n = self.keys_per_db.iter().map(|(_, n)| n).sum();
        self.keys_per_db = if n > 0 { vec![(db, n)] } else { Vec::new() };
        self.key_hashes.rebase(db);
    }

    /// Stats whose keys go to the duplicate check's `store`.
    fn feeding(store: &std::sync::Arc<crate::source::duplicates::KeyHashStore>) -> KeyStats {
        KeyStats { key_hashes: crate::source::duplicates::KeyHashes::feeding(store), ..KeyStats::default() }
    }

    /// Stats of keys whose database is not known yet (see `rebase_db`).
    fn deferred(store: &std::sync::Arc<crate::source::duplicates::KeyHashStore>) -> KeyStats {
        KeyStats { key_hashes: crate::source::duplicates::KeyHashes::deferred(store), ..KeyStats::default() }
    }

    fn into_report(self, r: &mut CheckReport) {
        let dialect = r.dialect.unwrap_or(Dialect::Redis);
        r.keys = self.keys;
        r.keys_per_db = self.keys_per_db.into_iter().collect();
        for (t, n) in KeyType::ALL.iter().zip(self.keys_per_type) {
            if n > 0 {
                r.keys_per_type.insert(*t, n);
            }
        }
        for (b, n) in self.keys_per_type_byte.iter().enumerate() {
            if let (true, Some(ty)) = (*n > 0, crate::format::Type::from_byte(b as u8, dialect)) {
                r.keys_per_encoding.insert(ty.label(), *n);
            }
        }
        r.modules = self.modules;
        r.expires = self.expires;
        r.already_expired = self.already_expired;
        r.hashes_with_field_ttls = self.hashes_with_field_ttls;
        r.keys_with_meta = self.keys_with_meta;
        r.empty_keys = self.empty_keys;
        r.warnings.extend(self.warnings);
    }
}

/// How each key is checked.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeyRule {
    /// Unix ms that decides which keys have already expired.
    now: i64,
    /// Walk the inside of values (else only count them: `--quick`).
    deep: bool,
}

impl KeyRule {
    fn new(reader: &RdbReader<'_>, now: i64) -> Self {
        KeyRule { now, deep: reader.options().check_values }
    }
}

/// Checks keys one at a time as deeply as `check` does (the inside of the
/// value, duplicate members, empty collections), for a reader that decides
/// key by key what to keep (`salvage`).
#[derive(Default)]
pub struct KeyValidator {
    stats: KeyStats,
}

impl KeyValidator {
    /// `Ok(true)`: a key the server loads; `Ok(false)`: an empty collection,
    /// which it skips. Expiry does not matter here.
    pub fn check(&mut self, key: &crate::event::KeyEvent<'_>) -> Result<bool> {
        let empty_before = self.stats.empty_keys;
        let checked = check_key(&mut self.stats, key, KeyRule { now: 0, deep: true })
            .map(|()| self.stats.empty_keys == empty_before);
        // Nothing may grow with the keys: only the verdict is wanted.
        self.stats.key_hashes = Default::default();
        self.stats.warnings.clear();
        checked
    }
}

/// Decode and check one key, counting it into `stats`.
fn check_key(stats: &mut KeyStats, key: &crate::event::KeyEvent<'_>, rule: KeyRule) -> Result<()> {
    let kind = key.value.key_type();
    if !rule.deep && kind != KeyType::Module {
        // Module values are still read: their module's name is reported.
        count_key(stats, key, rule.now, 0, None);
        return Ok(());
    }
    let intset = key.value.ty == crate::format::Type::SetIntset;
    let located = |e: Error| e.at(key.value.offset).doing(Phase::ReadingValue(key.value.ty.label())).key(&key.key);
    let seen = &mut stats.seen;
    seen.start();
    let mut checker = ValueChecker {
        kind,
        intset,
        seen,
        part: (0, 1),
        overflow: false,
        items: 0,
        field_ttls: 0,
        module: None,
        stream: (None, 0),
    };
    key.value.validate(&mut checker).map_err(located)?;
    if let (Some(length), entries) = checker.stream {
        if length != entries {
            stats.warnings.push(format!(
                "key \"{}\": stream length {length} recorded with {entries} entries: Redis loads it, Valkey 9.1 \
                 refuses the file (\"Stream length inconsistent with the number of valid entries\")",
                crate::escape::escape_bytes(&key.key)
            ));
        }
    }
    let (items, field_ttls, module, overflow) = (checker.items, checker.field_ttls, checker.module, checker.overflow);
    let mut suspects = seen.repeats();
    if overflow {
        let parts = (items / MAX_DIGESTS as u64) * 2 + 1;
        if parts > MAX_PASSES {
            stats.warnings.push(format!(
                "key \"{}\": {items} members, duplicate check skipped (over {} passes)",
                crate::escape::escape_bytes(&key.key),
                MAX_PASSES
            ));
        } else {
            for part in 0..parts {
                seen.start();
                let mut pass = ValueChecker {
                    kind,
                    intset,
                    seen,
                    part: (part, parts),
                    overflow: false,
                    items: 0,
                    field_ttls: 0,
                    module: None,
                    stream: (None, 0),
                };
                key.value.decode(&mut pass).map_err(located)?;
                suspects.extend(seen.repeats());
            }
        }
    }
    suspects.sort_unstable();
    suspects.dedup();
    if !suspects.is_empty() && confirm_duplicate(key, &suspects).map_err(located)? {
        let what = match kind {
            KeyType::Set => Integrity::DuplicateSetMember,
            KeyType::Zset => Integrity::DuplicateZsetMember,
            _ => Integrity::DuplicateHashField,
        };
        return Err(located(Error::new(ErrorKind::Integrity(what))));
    }
    // The server skips an empty collection on load (rdb.c
    // `RDB_LOAD_ERR_EMPTY_KEY`) and loads the rest: valid, counted apart.
    // (redis-check-rdb says "Unexpected EOF" here; the server is the judge.)
    if items == 0 && kind.is_collection() {
        stats.empty_keys += 1;
        return Ok(());
    }
    count_key(stats, key, rule.now, field_ttls, module);
    Ok(())
}

/// Count a checked key into `stats`.
fn count_key(
    stats: &mut KeyStats,
    key: &crate::event::KeyEvent<'_>,
    now: i64,
    field_ttls: u64,
    module: Option<String>,
) {
    let kind = key.value.key_type();
    stats.keys += 1;
    add_db(&mut stats.keys_per_db, key.db, 1);
    stats.keys_per_type[kind as usize] += 1;
    stats.keys_per_type_byte[usize::from(key.value.ty.byte())] += 1;
    if let Some(t) = key.attrs.expire_at_ms {
        stats.expires += 1;
        stats.already_expired += u64::from(t < now);
    }
    // A primary loads no key already expired: no duplicate of one either.
    if key.attrs.expire_at_ms.is_none_or(|t| t >= now) {
        stats.key_hashes.push(key.db, &key.key);
    }
    stats.hashes_with_field_ttls += u64::from(field_ttls > 0);
    stats.keys_with_meta += u64::from(key.attrs.key_meta.is_some());
    if let Some(m) = module {
        *stats.modules.entry(m).or_default() += 1;
    }
}

/// What the non-key records say (framing thread).
#[derive(Default)]
/// Each fact keeps the offset of its record: after a failure, only what
/// precedes it counts (the framing may have read past it).
struct FileFacts {
    dialect: Option<Dialect>,
    version: Option<u32>,
    aux: Vec<(u64, Vec<u8>, Vec<u8>)>,
    functions: Vec<u64>,
    module_aux: Vec<(u64, String)>,
    checksum: Option<Checksum>,
    warnings: Vec<String>,
    version_conflict: Option<String>,
}

impl FileFacts {
    /// Take in a non-key record found at offset `at`.
    fn on_event(&mut self, event: &Event<'_>, at: u64) -> Result<()> {
        match event {
            Event::Header { dialect, version } => {
                self.dialect = Some(*dialect);
                self.version = Some(*version);
            }
            Event::Aux { key, value } => {
                let written = crate::format::rdb_version_written_by(key, value);
                if let (Some(expected), Some(header)) = (written, self.version) {
                    if expected != header {
                        self.version_conflict = Some(format!(
                            "header says RDB {header}, but aux {}={} writes RDB {expected}",
                            String::from_utf8_lossy(key),
                            String::from_utf8_lossy(value)
                        ));
                    }
                }
                self.aux.push((at, key.to_vec(), value.to_vec()));
            }
            Event::Function { .. } => self.functions.push(at),
            Event::ModuleAux { module, .. } => self.module_aux.push((at, module.clone())),
            Event::End { checksum } => self.checksum = Some(*checksum),
            _ => {}
        }
        Ok(())
    }

    /// After the last key was checked. A version digit that contradicts the
    /// writer's own version is damage unless the CRC proves the writer put it
    /// there. If the walk failed, the checksum was not reached in file order
    /// (the framing may have read ahead), so none is reported.
    fn finish(&mut self, walked: Result<()>) -> Result<()> {
        if let Err(e) = &walked {
            let cut = e.offset.unwrap_or(u64::MAX);
            self.aux.retain(|(at, ..)| *at < cut);
            self.functions.retain(|at| *at < cut);
            self.module_aux.retain(|(at, _)| *at < cut);
            self.checksum = None;
            return walked;
        }
        // The server reads the records the header's version allows and
        // never compares the writer's version (Valkey 8.1 loads librdb's
        // script.rdb, RDB 11 "written by" 7.0.0): a warning, not damage.
        if let Some(conflict) = self.version_conflict.take() {
            self.warnings.push(conflict);
        }
        Ok(())
    }

    /// Take in what a later part of the same file said (segments).
    fn absorb(&mut self, later: FileFacts) {
        self.aux.extend(later.aux);
        self.functions.extend(later.functions);
        self.module_aux.extend(later.module_aux);
        self.warnings.extend(later.warnings);
        self.checksum = later.checksum.or(self.checksum);
        self.version_conflict = later.version_conflict.or(self.version_conflict.take());
    }

    fn merge_into(self, r: &mut CheckReport) {
        r.dialect = self.dialect;
        r.version = self.version;
        r.aux = self.aux.into_iter().map(|(_, k, v)| (k, v)).collect();
        r.functions = self.functions.len() as u64;
        r.module_aux = self.module_aux.into_iter().map(|(_, m)| m).collect();
        r.checksum = self.checksum;
        r.warnings.extend(self.warnings);
    }
}

/// Check an RDB from `reader`'s position to its end (also AOF preambles).
/// Never cut: the RESP part of a preamble AOF follows the RDB in the same map.
pub(crate) fn walk_rdb(reader: &mut RdbReader<'_>, report: &mut CheckReport, now: i64) -> Result<()> {
    walk_file_cut(reader, report, now, |r| vec![crate::event::segment::Segment { start: r.offset(), end: None }])
        .map(|_| ())
}

/// Check a whole RDB file; a large mapped one is cut into segments checked
/// on all cores. Returns the bytes after the checksum when a segment's reader
/// found them (`None`: ask `reader`).
fn walk_file(reader: &mut RdbReader<'_>, report: &mut CheckReport, now: i64) -> Result<Option<u64>> {
    walk_file_cut(reader, report, now, |r| {
        crate::event::segment::split(r, rayon::current_num_threads() * SEGMENTS_PER_THREAD)
    })
}

/// [`walk_file`] with the cutting chosen by `cut` (tests cut wrongly on purpose).
fn walk_file_cut(
    reader: &mut RdbReader<'_>,
    report: &mut CheckReport,
    now: i64,
    cut: impl FnOnce(&RdbReader<'_>) -> Vec<crate::event::segment::Segment>,
) -> Result<Option<u64>> {
    let progress = Progress::new(reader.options().progress, &report.file.display().to_string(), report.size);
    let mut facts = FileFacts::default();
    let store = crate::source::duplicates::KeyHashStore::new();
    let mut stats = KeyStats::feeding(&store);
    let rule = KeyRule::new(reader, now);
    let opts = reader.options();
    report.quick = !rule.deep;
    let walk = || {
        // The segments need the header.
        match reader.next()? {
            Some(ev) => facts.on_event(&ev, 0)?,
            None => return Ok(None),
        }
        let cuts = cut(reader);
        if cuts.len() > 1 {
            match segments::check(reader, &cuts, &mut facts, &mut stats, rule, &store, &progress) {
                segments::Outcome::Done(result) => return result.map(Some),
                segments::Outcome::Unconfirmed => {}
            }
        }
        walk_sequential(reader, &mut facts, &mut stats, rule, &progress).map(|()| None)
    };
    let walked = walk();
    // Only a file sound otherwise is read again for the names of suspects.
    let walked = walked.and_then(|t| {
        stats.key_hashes.flush();
        crate::source::duplicates::find_duplicate(&store, &report.file, opts, now, &mut stats.warnings).map(|()| t)
    });
    let mut trailing = None;
    let result = facts.finish(walked.map(|t| trailing = t));
    facts.merge_into(report);
    stats.into_report(report);
    result.map(|()| trailing)
}

/// Segments per thread: more segments than threads keep both busy when one
/// part of the file is costlier than another.
const SEGMENTS_PER_THREAD: usize = 4;

/// One reader frames, all cores check (`event::parallel`).
fn walk_sequential(
    reader: &mut RdbReader<'_>,
    facts: &mut FileFacts,
    stats: &mut KeyStats,
    rule: KeyRule,
    progress: &Progress,
) -> Result<()> {
    crate::event::parallel::for_each_key(
        reader,
        |ev, at| facts.on_event(ev, at),
        KeyStats::default,
        |acc, key| check_key(acc, key, rule),
        |merged| {
            match merged {
                Merged::Chunk(acc) => stats.merge(acc),
                Merged::Serial(key) => {
                    let mut acc = KeyStats::default();
                    check_key(&mut acc, key, rule)?;
                    stats.merge(acc);
                }
            }
            Ok(())
        },
        |offset| progress.set(offset),
    )
}

/// The report for one input: an RDB, or an AOF in any layout.
#[derive(Debug, Clone)]
pub enum FileReport {
    Rdb(Box<CheckReport>),
    Aof(aof::AofReport),
}

impl FileReport {
    pub fn verdict(&self) -> Verdict {
        match self {
            FileReport::Rdb(r) => r.verdict(),
            FileReport::Aof(r) => r.verdict(),
        }
    }

    pub fn error(&self) -> Option<&Error> {
        match self {
            FileReport::Rdb(r) => r.error.as_ref(),
            FileReport::Aof(r) => r.first_error(),
        }
    }
}

/// Check one input of any kind, told apart by content.
pub fn check_any(path: &Path, opts: ReaderOptions, now: Option<i64>) -> FileReport {
    use crate::source::{Kind, Source};
    let aof_opts = aof::AofCheckOptions { reader: opts, now_ms: now, to_timestamp: None };
    let failed =
        |e| FileReport::Rdb(Box::new(CheckReport { file: path.to_path_buf(), error: Some(e), ..Default::default() }));
    let mut source = match Source::open(path) {
        Ok(s) => s,
        Err(e) => return failed(e),
    };
    if source.is_pipe() {
        let mut input = match source.open_input() {
            Ok(i) => i,
            Err(e) => return failed(e),
        };
        return match source.kind() {
            Kind::Aof => FileReport::Aof(aof::check_aof_input(&mut input, &aof_opts)),
            _ => FileReport::Rdb(Box::new(check_input(&mut input, None, opts, now))),
        };
    }
    match source.kind() {
        Kind::MultiPart { .. } | Kind::Aof | Kind::PreambleAof => FileReport::Aof(aof::check_aof(&source, &aof_opts)),
        // A dump is not an RDB: the RDB check says why.
        Kind::JsonDump => FileReport::Rdb(Box::new(check_file(path, opts, now))),
        Kind::Rdb => {
            let mut report = check_file(path, opts, now);
            // A damaged file may be one changed byte away from whole: the
            // checksum says which, and `salvage` restores it.
            if matches!(report.verdict(), Verdict::Damaged | Verdict::Unsupported) {
                let subject = one_byte::Subject { path: path.to_path_buf(), reader: opts, now_ms: now };
                report.one_byte = one_byte::explain(&subject)
                    .ok()
                    .and_then(|explanations| one_byte::the_repair(&explanations).map(|e| e.restored.clone()));
            }
            FileReport::Rdb(Box::new(report))
        }
    }
}

/// Check every input, using all cores when there are several; reports come
/// back in the order of `cfg.files`.
pub fn check(cfg: &CheckConfig) -> Vec<FileReport> {
    use rayon::prelude::*;
    cfg.files.par_iter().map(|f| check_any(f, cfg.reader, cfg.now_ms)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::segment::Segment;

    const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/rdb/sample_v12.rdb");

    fn report_with(cut: impl FnOnce(&RdbReader<'_>) -> Vec<Segment>) -> CheckReport {
        let mut input = Input::open(Path::new(SAMPLE)).unwrap();
        let mut report = CheckReport { file: SAMPLE.into(), ..Default::default() };
        let mut reader = RdbReader::new(&mut input, ReaderOptions::default());
        let walked = walk_file_cut(&mut reader, &mut report, 0, cut);
        assert!(walked.is_ok(), "{walked:?}");
        report
    }

    /// Offsets where the sequential reader found records.
    fn record_starts() -> Vec<u64> {
        let mut input = Input::open(Path::new(SAMPLE)).unwrap();
        let mut reader = RdbReader::new(&mut input, ReaderOptions::default());
        let mut starts = Vec::new();
        loop {
            let at = reader.offset();
            match reader.next().unwrap() {
                Some(Event::Key(_)) => starts.push(at),
                Some(Event::End { .. }) | None => return starts,
                Some(_) => {}
            }
        }
    }

    fn summary(r: &CheckReport) -> String {
        format!(
            "{} {:?} {:?} {:?} {} {:?} {:?}",
            r.keys, r.keys_per_db, r.keys_per_type, r.keys_per_encoding, r.expires, r.checksum, r.aux
        )
    }

    #[test]
    fn seen_finds_repeats_in_the_table_in_the_list_and_across() {
        let mut seen = Seen::default();
        for round in 0..3u64 {
            // Small: repeats found in the table; nothing left from the last value.
            seen.start();
            for d in [1, 2, 3, 2, 1 + round * 1000] {
                assert!(seen.add(d));
            }
            let mut r = seen.repeats();
            r.sort_unstable();
            assert_eq!(r, if round == 0 { vec![1, 2] } else { vec![2] });
            // Large: the first copy stays in the table, the second arrives
            // after the move to the list.
            seen.start();
            for d in 0..(SMALL_MAX as u64 + 50) {
                assert!(seen.add(d * 7919));
            }
            seen.add(5 * 7919);
            seen.add(SMALL_MAX as u64 * 7919 + 7919);
            let mut r = seen.repeats();
            r.sort_unstable();
            assert_eq!(r, vec![5 * 7919, (SMALL_MAX as u64 + 1) * 7919]);
        }
    }

    #[test]
    fn right_and_wrong_cuts_give_the_sequential_report() {
        let sequential = report_with(|r| vec![Segment { start: r.offset(), end: None }]);
        let starts = record_starts();
        assert_eq!(sequential.keys, starts.len() as u64);
        let (a, b) = (starts[starts.len() / 3], starts[2 * starts.len() / 3]);
        // Confirmed cuts: the same report, assembled from three segments.
        let right = report_with(|r| {
            vec![
                Segment { start: r.offset(), end: Some(a) },
                Segment { start: a, end: Some(b) },
                Segment { start: b, end: None },
            ]
        });
        assert_eq!(summary(&right), summary(&sequential));
        // A cut inside a record is never confirmed: the first reader carries on.
        for wrong in [a + 1, b - 1] {
            let report = report_with(|r| {
                vec![Segment { start: r.offset(), end: Some(wrong) }, Segment { start: wrong, end: None }]
            });
            assert_eq!(summary(&report), summary(&sequential), "cut at {wrong}");
        }
    }
}
