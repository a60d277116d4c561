//! `diff`: what changed between two snapshots — of content, never of
//! encodings (a listpack hash and a hashtable hash with the same fields are
//! equal). Inputs may be RDBs of any version, AOFs (replayed) or our dumps, in
//! any mix.
//!
//! Two passes. First, both inputs are read in parallel and each key is
//! reduced to a summary (type, expiry, a 128-bit digest of its value that does
//! not depend on member order), partitioned by key hash and spilled to disk
//! past the memory budget (`partition`); the two sides are then compared one
//! partition at a time. Second, the keys that differ are read again from both
//! sides (in as many rounds as the budget needs) and compared member by member.

mod partition;
pub mod report;

use crate::error::Result;
use crate::event::decode::Piece;
use crate::event::value::{Fields, HashField, Stream};
use crate::event::OwnedValue;
use crate::event::{ReaderOptions, ValueSource};
use crate::format::KeyType;
use crate::progress::Progress;
use crate::source::{KeyFilter, Kind, Source, VisitOptions};
use partition::{SpillDir, Summary, SummaryStore, NO_TTL, PARTITIONS};
use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct DiffConfig {
    pub a: PathBuf,
    pub b: PathBuf,
    pub filter: KeyFilter,
    /// Leave key and field TTLs out of the comparison.
    pub ignore_ttl: bool,
    /// TTLs closer than this (ms) are equal: snapshots taken at different
    /// times see different TTLs.
    pub ttl_tolerance_ms: i64,
    pub reader: ReaderOptions,
    /// About how many bytes of memory the comparison may use; beyond it,
    /// summaries go to disk and values are compared in several rounds.
    pub memory_budget: usize,
    /// Where spilled summaries go (the system's temporary directory by default).
    pub tmp_dir: Option<PathBuf>,
    /// The clock a replayed AOF's relative times count from (`--now`): read
    /// once, so that both inputs and every round of the comparison agree.
    pub now_ms: i64,
}

/// The default `memory_budget`: 1 GiB.
pub const DEFAULT_MEMORY_BUDGET: usize = 1 << 30;

impl DiffConfig {
    pub fn new(a: impl Into<PathBuf>, b: impl Into<PathBuf>) -> Self {
        DiffConfig {
            a: a.into(),
            b: b.into(),
            filter: KeyFilter::default(),
            ignore_ttl: false,
            ttl_tolerance_ms: 0,
            reader: ReaderOptions::default(),
            memory_budget: DEFAULT_MEMORY_BUDGET,
            tmp_dir: None,
            now_ms: crate::clock::system_now_ms(),
        }
    }
}

/// How a key differs.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Only in B.
    Added { kind: KeyType },
    /// Only in A.
    Removed { kind: KeyType },
    Changed {
        kind: KeyType,
        /// The type in A when it differs.
        type_before: Option<KeyType>,
        /// (A, B) when the TTLs differ (beyond the tolerance).
        ttl: Option<(Option<i64>, Option<i64>)>,
        value: Option<ValueDiff>,
    },
}

/// How a value differs (same type on both sides).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ValueDiff {
    /// Members, fields or stream entry IDs only in B.
    pub added: Vec<Vec<u8>>,
    /// Only in A.
    pub removed: Vec<Vec<u8>>,
    /// In both with another value or score (or field TTL).
    pub changed: Vec<Vec<u8>>,
    /// Lists: first differing position and the lengths.
    pub first_difference: Option<u64>,
    pub len_before: u64,
    pub len_after: u64,
    /// Strings, modules, arrays: the whole value differs.
    pub value_changed: bool,
}

/// One differing key.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyDiff {
    pub db: u64,
    pub key: Vec<u8>,
    pub change: Change,
}

impl ValueDiff {
    /// Nothing differs after all.
    pub fn is_empty(&self) -> bool {
        !self.value_changed
            && self.added.is_empty()
            && self.removed.is_empty()
            && self.changed.is_empty()
            && self.first_difference.is_none()
            && self.len_before == self.len_after
    }
}

#[derive(Debug, Clone, Default)]
pub struct DiffReport {
    pub keys_a: u64,
    pub keys_b: u64,
    pub same: u64,
    /// Summaries written to disk (both inputs), and the rounds of pass 2.
    pub spilled: u64,
    pub rounds: usize,
    /// In key order (db, then key bytes).
    pub diffs: Vec<KeyDiff>,
}

impl DiffReport {
    pub fn count(&self, f: impl Fn(&Change) -> bool) -> usize {
        self.diffs.iter().filter(|d| f(&d.change)).count()
    }
}

fn h(b: &[u8]) -> u128 {
    xxhash_rust::xxh3::xxh3_128(b)
}

/// A digest of a value that does not depend on how it is encoded or on the
/// order of unordered collections (members summed), but does on list and
/// stream order; and about how many bytes the value holds.
fn digest(v: &dyn ValueSource, with_field_ttls: bool) -> Result<(u128, u64)> {
    let kind = v.key_type();
    let mut acc: u128 = h(kind.name().as_bytes());
    let mut ordered = xxhash_rust::xxh3::Xxh3::new();
    let mut buf = Vec::new();
    let mut size = 0u64;
    let mut elements = 0u64;
    v.pieces(&mut |p: Piece<'_>| {
        // Each piece counts with a small overhead for its allocation.
        size += 16 + ordered_len(&p);
        elements += u64::from(matches!(p, Piece::Elem(_) | Piece::Member { .. } | Piece::Field { .. }));
        buf.clear();
        match p {
            Piece::Str(s) => ordered.update(s),
            Piece::Elem(it) if kind == KeyType::List => {
                let b = it.to_vec();
                ordered.update(&(b.len() as u64).to_le_bytes());
                ordered.update(&b);
            }
            Piece::Elem(it) => acc = acc.wrapping_add(h(&it.to_vec())),
            Piece::Member { member, score } => {
                buf.extend_from_slice(&member.to_vec());
                buf.extend_from_slice(&(if score == 0.0 { 0.0f64 } else { score }).to_bits().to_le_bytes());
                acc = acc.wrapping_add(h(&buf));
            }
            Piece::Field { field, value, expire_at_ms } => {
                let f = field.to_vec();
                buf.extend_from_slice(&(f.len() as u64).to_le_bytes());
                buf.extend_from_slice(&f);
                buf.extend_from_slice(&value.to_vec());
                if with_field_ttls {
                    buf.extend_from_slice(&expire_at_ms.unwrap_or(0).to_le_bytes());
                }
                acc = acc.wrapping_add(h(&buf));
            }
            Piece::StreamEntry { id, fields } => {
                ordered.update(&id.ms.to_le_bytes());
                ordered.update(&id.seq.to_le_bytes());
                for (f, v) in fields {
                    for x in [f.to_vec(), v.to_vec()] {
                        ordered.update(&(x.len() as u64).to_le_bytes());
                        ordered.update(&x);
                    }
                }
            }
            Piece::StreamMeta(m) => {
                // The content of a stream: its entries and its groups' names
                // and positions (not PEL timing, which replay cannot keep).
                ordered.update(&m.last_id.ms.to_le_bytes());
                ordered.update(&m.last_id.seq.to_le_bytes());
                for g in &m.groups {
                    ordered.update(&g.name);
                    ordered.update(&g.last_id.ms.to_le_bytes());
                    ordered.update(&g.last_id.seq.to_le_bytes());
                }
            }
            Piece::Module { name, encver, raw } => {
                ordered.update(name.as_bytes());
                ordered.update(&encver.to_le_bytes());
                ordered.update(raw);
            }
            // Never asked for: how a value is stored is not its content.
            Piece::ArrayHeader { .. } | Piece::Layout(_) => {}
            Piece::ArrayElem { index, value } => {
                buf.extend_from_slice(&index.to_le_bytes());
                match value {
                    crate::event::ArrayValue::Bytes(b) => buf.extend_from_slice(b),
                    crate::event::ArrayValue::Int(i) => buf.extend_from_slice(i.to_string().as_bytes()),
                    crate::event::ArrayValue::Float(f) => buf.extend_from_slice(f.to_string().as_bytes()),
                }
                acc = acc.wrapping_add(h(&buf));
            }
        }
        Ok(())
    })?;
    if kind.is_collection() && elements == 0 {
        return Err(crate::error::Error::new(crate::error::ErrorKind::EmptyKey));
    }
    Ok((acc ^ ordered.digest128(), size))
}

/// Bytes of a piece's payload, for sizing.
fn ordered_len(p: &Piece<'_>) -> u64 {
    let item = |it: &crate::token::Item<'_>| match it {
        crate::token::Item::Bytes(b) => b.len() as u64,
        _ => 8,
    };
    match p {
        Piece::Str(s) => s.len() as u64,
        Piece::Elem(it) => item(it),
        Piece::Member { member, .. } => item(member) + 8,
        Piece::Field { field, value, .. } => item(field) + item(value) + 8,
        Piece::StreamEntry { fields, .. } => 16 + fields.iter().map(|(f, v)| item(f) + item(v)).sum::<u64>(),
        Piece::Module { raw, .. } => raw.len() as u64,
        _ => 16,
    }
}

fn visit_options(cfg: &DiffConfig) -> VisitOptions {
    VisitOptions { reader: cfg.reader, filter: cfg.filter.clone(), now_ms: Some(cfg.now_ms), ..Default::default() }
}

/// A key's identity in the summaries: a 128-bit hash of (db, name), so that
/// names need not be held for the millions of keys that do not differ.
fn key_id(db: u64, key: &[u8]) -> u128 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(&db.to_le_bytes());
    h.update(key);
    h.digest128()
}

/// A key's summary; `None` for an empty list, set, sorted set or hash, which
/// a server skips on load: it is not there to differ.
fn summary(cfg: &DiffConfig, db: u64, key: &[u8], ttl: Option<i64>, v: &dyn ValueSource) -> Result<Option<Summary>> {
    let (digest, size) = match digest(v, !cfg.ignore_ttl) {
        Err(e) if e.kind == crate::error::ErrorKind::EmptyKey => return Ok(None),
        other => other?,
    };
    Ok(Some(Summary {
        id: key_id(db, key),
        digest,
        ttl: ttl.unwrap_or(NO_TTL),
        size: u32::try_from(size).unwrap_or(u32::MAX),
        kind: v.key_type(),
    }))
}

/// Every key's summary into `store`. RDB files go through the parallel
/// pipeline of `check` and `dump`; AOFs and dumps through `visit_keys`.
fn summaries(cfg: &DiffConfig, input: &Path, store: &mut SummaryStore<'_>, progress: &Progress) -> Result<()> {
    let mut source = Source::open(input)?;
    if *source.kind() != Kind::Rdb || source.is_pipe() {
        source.visit_keys(&visit_options(cfg), |db, key, attrs, v| {
            summary(cfg, db, key, attrs.expire_at_ms, v)?.map_or(Ok(()), |s| store.push(s))
        })?;
        return Ok(());
    }
    use crate::event::parallel::{for_each_key, Merged};
    let mut input = source.open_input()?;
    let name = input.name.clone();
    let mut reader = crate::event::RdbReader::new(&mut input, cfg.reader);
    let wanted = |k: &crate::event::KeyEvent<'_>| cfg.filter.selects(k.db, &k.key, k.value.key_type());
    for_each_key(
        &mut reader,
        |_, _| Ok(()),
        Vec::new,
        |acc: &mut Vec<Summary>, k| {
            if wanted(k) {
                acc.extend(summary(cfg, k.db, &k.key, k.attrs.expire_at_ms, &k.value)?);
            }
            Ok(())
        },
        |merged| match merged {
            Merged::Chunk(v) => v.into_iter().try_for_each(|s| store.push(s)),
            Merged::Serial(k) if wanted(k) => {
                summary(cfg, k.db, &k.key, k.attrs.expire_at_ms, &k.value)?.map_or(Ok(()), |s| store.push(s))
            }
            Merged::Serial(_) => Ok(()),
        },
        |offset| progress.set(offset),
    )
    .map_err(|e| e.in_file(&name))
}

/// Second pass over one input: the names of `ids`, and the whole values of
/// those in `values`.
#[allow(clippy::type_complexity)]
fn load(
    cfg: &DiffConfig,
    input: &Path,
    ids: &HashSet<u128>,
    values: &HashSet<u128>,
) -> Result<(HashMap<u128, (u64, Vec<u8>)>, HashMap<u128, OwnedValue>)> {
    let (mut names, mut objs) = (HashMap::new(), HashMap::new());
    Source::open(input)?.visit_keys(&visit_options(cfg), |db, key, _, v| {
        let id = key_id(db, key);
        if ids.contains(&id) {
            names.insert(id, (db, key.to_vec()));
            if values.contains(&id) {
                objs.insert(id, OwnedValue::from_source(v)?);
            }
        }
        Ok(())
    })?;
    Ok((names, objs))
}

fn ttl_differs(cfg: &DiffConfig, a: Option<i64>, b: Option<i64>) -> bool {
    if cfg.ignore_ttl {
        return false;
    }
    match (a, b) {
        (Some(x), Some(y)) => (x - y).abs() > cfg.ttl_tolerance_ms,
        (None, None) => false,
        _ => true,
    }
}

/// Member-level differences of two values of the same type.
fn compare(cfg: &DiffConfig, a: &OwnedValue, b: &OwnedValue) -> ValueDiff {
    let mut d = ValueDiff::default();
    fn keyed<V: PartialEq>(
        d: &mut ValueDiff,
        a: &BTreeMap<Vec<u8>, V>,
        b: &BTreeMap<Vec<u8>, V>,
        same: impl Fn(&V, &V) -> bool,
    ) {
        for (k, va) in a {
            match b.get(k) {
                None => d.removed.push(k.clone()),
                Some(vb) if !same(va, vb) => d.changed.push(k.clone()),
                Some(_) => {}
            }
        }
        d.added.extend(b.keys().filter(|k| !a.contains_key(*k)).cloned());
    }
    match (a, b) {
        (OwnedValue::List(x), OwnedValue::List(y)) => {
            d.len_before = x.len() as u64;
            d.len_after = y.len() as u64;
            d.first_difference = x
                .iter()
                .zip(y.iter())
                .position(|(p, q)| p != q)
                .or((x.len() != y.len()).then_some(x.len().min(y.len())))
                .map(|i| i as u64);
        }
        (OwnedValue::Set(x), OwnedValue::Set(y)) => {
            // Listed sorted, whatever order each side holds them in.
            d.removed = x.difference(y).cloned().collect();
            d.added = y.difference(x).cloned().collect();
            d.removed.sort_unstable();
            d.added.sort_unstable();
        }
        (OwnedValue::Zset(x), OwnedValue::Zset(y)) => {
            let (x, y): (BTreeMap<_, _>, BTreeMap<_, _>) = (
                x.scores.iter().map(|(k, v)| (k.clone(), *v)).collect(),
                y.scores.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            );
            keyed(&mut d, &x, &y, |p, q| p == q);
        }
        (OwnedValue::Hash(x), OwnedValue::Hash(y)) => {
            let ignore_ttl = cfg.ignore_ttl;
            let tol = cfg.ttl_tolerance_ms;
            let sorted = |h: &indexmap::IndexMap<Vec<u8>, HashField>| -> BTreeMap<Vec<u8>, HashField> {
                h.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
            };
            keyed(&mut d, &sorted(x), &sorted(y), |p, q| {
                p.0 == q.0
                    && (ignore_ttl
                        || match (p.1, q.1) {
                            (Some(s), Some(t)) => (s - t).abs() <= tol,
                            (s, t) => s == t,
                        })
            });
        }
        (OwnedValue::Stream(x), OwnedValue::Stream(y)) => {
            let ids = |s: &Stream| -> BTreeMap<Vec<u8>, Fields> {
                s.entries.iter().map(|(id, f)| (id.to_string().into_bytes(), f.clone())).collect()
            };
            keyed(&mut d, &ids(x), &ids(y), |p, q| p == q);
            let groups = |s: &Stream| -> BTreeSet<Vec<u8>> { s.meta.groups.iter().map(|g| g.name.clone()).collect() };
            if groups(x) != groups(y) {
                d.changed.push(b"(consumer groups)".to_vec());
            }
        }
        _ => d.value_changed = a != b,
    }
    d
}

/// What comparing one partition's summaries found.
#[derive(Default)]
struct Classified {
    same: u64,
    /// Differing keys by id; names come in pass 2.
    differing: Vec<(u128, Change)>,
    /// Ids of the keys whose values differ, with the bytes both values hold.
    values: Vec<(u128, u64)>,
}

/// Compare one partition of both sides. A key read twice from one side (a
/// file the server refuses, which `check` reports) counts once, its first
/// copy on both sides: a file then equals itself.
fn classify(cfg: &DiffConfig, a: Vec<Summary>, b: Vec<Summary>) -> Classified {
    let mut out = Classified::default();
    // (summary, matched by a key of B)
    let mut first: HashMap<u128, (Summary, bool)> = HashMap::with_capacity(a.len());
    for s in a {
        first.entry(s.id).or_insert((s, false));
    }
    let mut a = first;
    let mut added: HashSet<u128> = HashSet::new();
    for y in b {
        let x = match a.get_mut(&y.id) {
            Some((_, true)) => continue,
            Some((x, matched)) => {
                *matched = true;
                *x
            }
            None => {
                if added.insert(y.id) {
                    out.differing.push((y.id, Change::Added { kind: y.kind }));
                }
                continue;
            }
        };
        let ttl = ttl_differs(cfg, x.ttl(), y.ttl()).then_some((x.ttl(), y.ttl()));
        let type_before = (x.kind != y.kind).then_some(x.kind);
        let value_differs = x.kind == y.kind && x.digest != y.digest;
        if value_differs {
            out.values.push((y.id, x.size as u64 + y.size as u64));
        }
        if ttl.is_some() || type_before.is_some() || value_differs {
            out.differing.push((y.id, Change::Changed { kind: y.kind, type_before, ttl, value: None }));
        } else {
            out.same += 1;
        }
    }
    out.differing
        .extend(a.into_values().filter(|(_, matched)| !matched).map(|(x, _)| (x.id, Change::Removed { kind: x.kind })));
    out
}

/// How many bytes of memory a value of `size` bytes costs once loaded (each
/// member is its own allocation).
const LOADED_OVERHEAD: u64 = 3;
/// At most this many reads of the inputs in pass 2.
const MAX_ROUNDS: u64 = 64;

/// Compare two inputs.
pub fn diff(cfg: &DiffConfig) -> Result<DiffReport> {
    let dir = SpillDir::create(cfg.tmp_dir.as_deref())?;
    // Pass 1: both inputs at once, each with half of the budget.
    let half = cfg.memory_budget / 2;
    let (mut store_a, mut store_b) = (SummaryStore::new(&dir, "a", half), SummaryStore::new(&dir, "b", half));
    // A bar per input on a terminal (RDB files; AOFs and dumps are replayed or read first).
    let size = |p: &Path| std::fs::metadata(p).ok().filter(|m| m.is_file()).map(|m| m.len());
    let (name_a, name_b) = (cfg.a.display().to_string(), cfg.b.display().to_string());
    let bars = [(&name_a, size(&cfg.a)), (&name_b, size(&cfg.b))]
        .map(|(name, total)| Progress::new(cfg.reader.progress, name, total));
    let (a, b) = rayon::join(
        || summaries(cfg, &cfg.a, &mut store_a, &bars[0]),
        || summaries(cfg, &cfg.b, &mut store_b, &bars[1]),
    );
    drop(bars);
    a?;
    b?;
    let mut report = DiffReport {
        keys_a: store_a.keys,
        keys_b: store_b.keys,
        spilled: store_a.spilled + store_b.spilled,
        ..Default::default()
    };
    // Partition by partition, on as many cores as the budget allows (each
    // holds one partition of both sides and a map of A's).
    store_a.settle()?;
    store_b.settle()?;
    let per_partition = (store_a.largest_partition() + store_b.largest_partition()) * 2 * partition::IN_MEMORY as u64;
    let affordable = (cfg.memory_budget as u64 / per_partition.max(1)).max(1) as usize;
    let one = |p: usize| Ok(classify(cfg, store_a.partition(p)?, store_b.partition(p)?));
    let parts: Vec<Classified> = if affordable >= rayon::current_num_threads() {
        (0..PARTITIONS).into_par_iter().map(one).collect::<Result<_>>()?
    } else {
        (0..PARTITIONS).map(one).collect::<Result<_>>()?
    };
    // Summaries and spill files are no longer needed.
    drop((store_a, store_b));
    drop(dir);
    let mut differing: HashMap<u128, Change> = HashMap::new();
    let mut values: HashMap<u128, u64> = HashMap::new();
    for c in parts {
        report.same += c.same;
        differing.extend(c.differing);
        values.extend(c.values);
    }

    // Pass 2: names of the differing keys and the values that differ, in
    // rounds (by id) small enough for the budget.
    let loaded: u64 = values.values().sum::<u64>().saturating_mul(LOADED_OVERHEAD);
    // (More rounds than MAX_ROUNDS would read the inputs too often to pay off.)
    let rounds = if differing.is_empty() {
        0
    } else {
        (loaded / cfg.memory_budget.max(1) as u64).saturating_add(1).min(MAX_ROUNDS) as usize
    };
    report.rounds = rounds;
    let mut diffs: Vec<KeyDiff> = Vec::with_capacity(differing.len());
    for round in 0..rounds {
        let in_round = |id: &u128| (*id as u64 % rounds as u64) as usize == round;
        let ids: HashSet<u128> = differing.keys().copied().filter(in_round).collect();
        let wanted: HashSet<u128> = values.keys().copied().filter(in_round).collect();
        let (la, lb) = rayon::join(|| load(cfg, &cfg.a, &ids, &wanted), || load(cfg, &cfg.b, &ids, &wanted));
        let ((names_a, objs_a), (names_b, objs_b)) = (la?, lb?);
        for id in ids {
            let Some(mut change) = differing.remove(&id) else { continue };
            let Some((db, key)) = names_a.get(&id).or_else(|| names_b.get(&id)).cloned() else { continue };
            if let Change::Changed { value, .. } = &mut change {
                if let (Some(x), Some(y)) = (objs_a.get(&id), objs_b.get(&id)) {
                    *value = Some(compare(cfg, x, y));
                }
            }
            diffs.push(KeyDiff { db, key, change });
        }
    }
    diffs.sort_by(|p, q| (p.db, &p.key).cmp(&(q.db, &q.key)));
    report.diffs = diffs;
    // Values whose digests differed only by field TTLs within the tolerance.
    let before = report.diffs.len();
    report.diffs.retain(
        |d| !matches!(&d.change, Change::Changed { type_before: None, ttl: None, value: Some(v), .. } if v.is_empty()),
    );
    report.same += (before - report.diffs.len()) as u64;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(id: u128, digest: u128) -> Summary {
        Summary { id, digest, ttl: NO_TTL, size: 1, kind: KeyType::String }
    }

    /// A key read twice from either side (a damaged input) is one key: never
    /// reported as added or removed when both sides hold it.
    #[test]
    fn a_key_repeated_on_one_side_counts_once() {
        let cfg = DiffConfig::new("a", "b");
        let a = vec![summary(1, 10), summary(1, 10), summary(2, 20)];
        let b = vec![summary(1, 10), summary(1, 10), summary(3, 30), summary(3, 30)];
        let c = classify(&cfg, a, b);
        assert_eq!(c.same, 1);
        let mut changes: Vec<(u128, &'static str)> = c
            .differing
            .iter()
            .map(|(id, ch)| (*id, if matches!(ch, Change::Added { .. }) { "added" } else { "removed" }))
            .collect();
        changes.sort();
        assert_eq!(changes, vec![(2, "removed"), (3, "added")]);
    }

    /// A file holding a key twice (with two values) equals itself.
    #[test]
    fn a_file_with_a_repeated_key_equals_itself() {
        let cfg = DiffConfig::new("a", "b");
        let side = vec![summary(1, 10), summary(1, 11), summary(2, 20)];
        let c = classify(&cfg, side.clone(), side);
        assert_eq!((c.same, c.differing.len()), (2, 0));
    }
}
