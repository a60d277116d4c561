//! `check`: validate an RDB file completely (structure, every encoding, the deep
//! integrity checks of `sanitize-dump-payload`, duplicates, the checksum) and
//! summarise what it holds, like `redis-check-rdb`.

use crate::error::{Error, ErrorKind, Phase, Result};
use crate::event::decode::{Piece, Sink};
use crate::event::{Checksum, Event, RdbReader, ReaderOptions};
use crate::format::{Dialect, KeyType};
use crate::input::Input;
use crate::token::Item;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

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
    pub checksum: Option<Checksum>,
    pub trailing_bytes: u64,
    /// Findings that do not make the file unloadable.
    pub warnings: Vec<String>,
    pub error: Option<Error>,
}

/// Exit status classes, in the order a multi-file run reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    Valid,
    Damaged,
    Unsupported,
    Failed,
}

impl CheckReport {
    pub fn verdict(&self) -> Verdict {
        match &self.error {
            None => Verdict::Valid,
            Some(e) => match e.kind {
                ErrorKind::UnsupportedVersion(_) | ErrorKind::Unsupported(_) | ErrorKind::RecordTooLarge => {
                    Verdict::Unsupported
                }
                ErrorKind::Io(_) | ErrorKind::Usage(_) => Verdict::Failed,
                _ => Verdict::Damaged,
            },
        }
    }
}

/// The digests are already uniformly random: hashing them again is waste.
#[derive(Default)]
struct DigestHasher(u64);

impl std::hash::Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u128(&mut self, v: u128) {
        self.0 = v as u64;
    }
}

type DigestSet = HashSet<u128, std::hash::BuildHasherDefault<DigestHasher>>;

/// Semantic checks on one value: duplicates, empty collections.
struct ValueChecker {
    kind: KeyType,
    /// Reused from key to key so its table is allocated once.
    seen: DigestSet,
    items: u64,
    field_ttls: u64,
    module: Option<String>,
}

fn digest(it: &Item<'_>) -> u128 {
    let mut buf = itoa::Buffer::new();
    xxhash_rust::xxh3::xxh3_128(it.as_bytes(&mut buf))
}

impl ValueChecker {
    fn unique(&mut self, it: &Item<'_>, what: &'static str) -> Result<()> {
        // 128-bit digests: a false "duplicate" would need a hash collision.
        if self.seen.insert(digest(it)) {
            Ok(())
        } else {
            Err(Error::new(ErrorKind::Integrity(what)))
        }
    }
}

impl Sink for ValueChecker {
    fn piece(&mut self, piece: Piece<'_>) -> Result<()> {
        self.items += 1;
        match piece {
            Piece::Elem(it) if self.kind == KeyType::Set => self.unique(&it, "duplicate set member"),
            Piece::Member { member, .. } => self.unique(&member, "duplicate sorted set member"),
            Piece::Field { field, expire_at_ms, .. } => {
                self.field_ttls += u64::from(expire_at_ms.is_some());
                self.unique(&field, "duplicate hash field")
            }
            Piece::Module { name, .. } => {
                self.module = Some(name.to_string());
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// Check one file.
pub fn check_file(path: &Path, opts: ReaderOptions, now: Option<i64>) -> CheckReport {
    let mut report = CheckReport { file: path.to_path_buf(), ..Default::default() };
    report.size = std::fs::metadata(path).ok().filter(|m| m.is_file()).map(|m| m.len());
    let mut input = match Input::open(path) {
        Ok(i) => i,
        Err(e) => {
            report.error = Some(e);
            return report;
        }
    };
    let name = input.name.clone();
    let mut reader = RdbReader::new(&mut input, opts);
    let now = now.unwrap_or_else(now_ms);
    if let Err(e) = walk(&mut reader, &mut report, now) {
        report.error = Some(e.in_file(&name));
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

fn walk(reader: &mut RdbReader<'_>, report: &mut CheckReport, now: i64) -> Result<()> {
    let mut version_conflict: Option<String> = None;
    let mut seen = DigestSet::default();
    while let Some(event) = reader.next()? {
        match event {
            Event::Header { dialect, version } => {
                report.dialect = Some(dialect);
                report.version = Some(version);
            }
            Event::Aux { key, value } => {
                let written = crate::format::rdb_version_written_by(&key, &value);
                if let (Some(expected), Some(header)) = (written, report.version) {
                    if expected != header {
                        version_conflict = Some(format!(
                            "header says RDB {header}, but aux {}={} writes RDB {expected}",
                            String::from_utf8_lossy(&key),
                            String::from_utf8_lossy(&value)
                        ));
                    }
                }
                report.aux.push((key.into_owned(), value.into_owned()));
            }
            Event::Function { .. } => report.functions += 1,
            Event::ModuleAux { module, .. } => report.module_aux.push(module),
            Event::Key(key) => {
                let kind = key.value.key_type();
                let mut checker =
                    ValueChecker { kind, seen: std::mem::take(&mut seen), items: 0, field_ttls: 0, module: None };
                let located = |e: Error| {
                    let label = key.value.ty.label();
                    e.at(key.value.offset).doing(Phase::ReadingValue(label)).key(&key.key)
                };
                key.value.decode(&mut checker).map_err(located)?;
                // Redis skips empty collections on load, but redis-check-rdb fails
                // on them; so do we (FORMAT.md §11.3).
                if checker.items == 0 && matches!(kind, KeyType::List | KeyType::Set | KeyType::Zset | KeyType::Hash) {
                    return Err(located(Error::new(ErrorKind::Integrity("empty key"))));
                }
                seen = std::mem::take(&mut checker.seen);
                report.keys += 1;
                *report.keys_per_db.entry(key.db).or_default() += 1;
                *report.keys_per_type.entry(kind).or_default() += 1;
                *report.keys_per_encoding.entry(key.value.ty.label()).or_default() += 1;
                if let Some(t) = key.expire_at_ms {
                    report.expires += 1;
                    if t < now {
                        report.already_expired += 1;
                    }
                }
                report.hashes_with_field_ttls += u64::from(checker.field_ttls > 0);
                report.keys_with_meta += u64::from(key.key_meta.is_some());
                if let Some(m) = checker.module {
                    *report.modules.entry(m).or_default() += 1;
                }
            }
            Event::End { checksum } => {
                report.checksum = Some(checksum);
                if let Some(conflict) = version_conflict.take() {
                    // A version digit that contradicts the writer's own version is
                    // damage unless the CRC proves the writer put it there.
                    if matches!(checksum, Checksum::Ok(_)) {
                        report.warnings.push(conflict);
                    } else {
                        let e = Error::new(ErrorKind::Integrity("header version contradicts the writer's version"))
                            .at(5)
                            .doing(Phase::ReadingHeader)
                            .detail(conflict);
                        return Err(e);
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Check every file, using all cores when there are several; reports come back
/// in the order of `cfg.files`.
pub fn check(cfg: &CheckConfig) -> Vec<CheckReport> {
    use rayon::prelude::*;
    cfg.files.par_iter().map(|f| check_file(f, cfg.reader, cfg.now_ms)).collect()
}
