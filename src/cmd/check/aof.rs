//! `check` for AOFs, and the repair plan `fix` applies: every layout (a single
//! file, with or without an RDB preamble, or a multi-part set from its
//! manifest), verdicts and cut offsets as `redis-check-aof` computes them
//! (src/redis-check-aof.c `checkSingleAof`):
//! - the last good offset (`ok_up_to`) is the start of the item being read when
//!   the damage was found, or of the open `MULTI` if one is open;
//! - a nested `MULTI`, an `EXEC` without `MULTI`, or the end of the file inside
//!   a `MULTI` are damage too;
//! - only the last file of a set may be cut; a damaged RDB preamble cannot be.

use super::{walk_rdb, CheckReport, Verdict};
use crate::error::{Error, ErrorKind, Integrity, Phase, Result};
use crate::event::aof::{starts_with_rdb, Record};
use crate::event::{AofRole, RdbReader, ReaderOptions, RespReader};
use crate::input::layout::load_multipart;
use crate::input::manifest::PartRole;
use crate::input::Input;
use crate::source::{Kind, Source};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, Default)]
pub struct AofCheckOptions {
    pub reader: ReaderOptions,
    /// Unix ms for counting already-expired keys of a preamble.
    pub now_ms: Option<i64>,
    /// `--truncate-to-timestamp`: stop at the first `#TS:` annotation later
    /// than this (Unix seconds), as the place to cut.
    pub to_timestamp: Option<i64>,
}

/// How the AOF is laid out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AofLayout {
    /// One file (Redis ≤ 6.2 style), possibly starting with an RDB preamble.
    Single,
    /// A Redis 7+ multi-part set, with its manifest.
    MultiPart { manifest: PathBuf },
}

/// What the check found in one file of the AOF.
#[derive(Debug, Clone, Default)]
pub struct PartReport {
    pub file: PathBuf,
    pub role: Option<AofRole>,
    pub size: u64,
    /// The RDB preamble or RDB base, checked like any RDB.
    pub preamble: Option<CheckReport>,
    /// Where a whole preamble ends (just past its checksum): the commands
    /// start there.
    pub preamble_end: Option<u64>,
    pub commands: u64,
    pub annotations: u64,
    /// By upper-cased command name.
    pub commands_per_name: BTreeMap<String, u64>,
    pub dbs: BTreeSet<u64>,
    pub multi_blocks: u64,
    pub first_timestamp: Option<i64>,
    pub last_timestamp: Option<i64>,
    /// Where a fix would cut this file (its size when nothing is wrong).
    pub ok_up_to: u64,
    /// Offset of the first `#TS:` later than `--truncate-to-timestamp`.
    pub timestamp_cut: Option<u64>,
    pub error: Option<Error>,
}

impl PartReport {
    /// Bytes after the last good command (what a fix would cut).
    pub fn bytes_after(&self) -> u64 {
        self.size.saturating_sub(self.ok_up_to)
    }

    /// Damage inside the RDB preamble: no command-level cut can repair it.
    pub fn preamble_damaged(&self) -> bool {
        self.preamble.as_ref().is_some_and(|p| p.error.is_some())
    }
}

/// What the check found in the whole AOF.
#[derive(Debug, Clone)]
pub struct AofReport {
    pub input: PathBuf,
    pub layout: AofLayout,
    pub parts: Vec<PartReport>,
    /// A fault of the set itself (manifest, a missing file).
    pub error: Option<Error>,
}

impl AofReport {
    /// The first error, of the set or of a part.
    pub fn first_error(&self) -> Option<&Error> {
        self.error.as_ref().or_else(|| self.parts.iter().find_map(|p| p.error.as_ref()))
    }

    pub fn verdict(&self) -> Verdict {
        self.first_error().map_or(Verdict::Valid, |e| e.kind.verdict())
    }

    /// Commands in all files.
    pub fn commands(&self) -> u64 {
        self.parts.iter().map(|p| p.commands).sum()
    }
}

/// What `fix` would do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Repair {
    /// The AOF is valid (and, with a timestamp, nothing is after it).
    NothingToDo,
    /// Cut the last file.
    Truncate(TruncatePlan),
    /// Damage a cut cannot repair without losing more than the tail of the last
    /// file; the reason and what the operator can do.
    Impossible(String),
}

/// Cut `file` from `old_size` to `new_size` bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TruncatePlan {
    pub file: PathBuf,
    pub old_size: u64,
    pub new_size: u64,
    /// Why: the error found, or the timestamp annotation.
    pub reason: String,
}

impl TruncatePlan {
    pub fn bytes_cut(&self) -> u64 {
        self.old_size - self.new_size
    }
}

/// Check an AOF given as a file (single or manifest) or directory, as
/// `source` told it apart (a file that is no AOF is checked as one anyway).
pub fn check_aof(source: &Source, opts: &AofCheckOptions) -> AofReport {
    let path = source.path();
    match source.kind() {
        Kind::MultiPart { manifest } => check_multipart(path, manifest, opts),
        _ => {
            let mut ts = None;
            let part = check_part(path, AofRole::Single, opts, &mut ts);
            AofReport { input: path.to_path_buf(), layout: AofLayout::Single, parts: vec![part], error: None }
        }
    }
}

/// Check a single-file AOF from an opened input (standard input).
pub fn check_aof_input(input: &mut Input, opts: &AofCheckOptions) -> AofReport {
    let part = check_part_input(input, None, AofRole::Single, opts, &mut None);
    AofReport { input: input.name.to_path_buf(), layout: AofLayout::Single, parts: vec![part], error: None }
}

fn check_multipart(input: &Path, manifest: &Path, opts: &AofCheckOptions) -> AofReport {
    let mut report = AofReport {
        input: input.to_path_buf(),
        layout: AofLayout::MultiPart { manifest: manifest.to_path_buf() },
        parts: Vec::new(),
        error: None,
    };
    let set = match load_multipart(manifest) {
        Ok(set) => set,
        Err(e) => {
            report.error = Some(e);
            return report;
        }
    };
    // A missing file makes the set unloadable: report it before reading any.
    if let Some((_, missing)) = set.parts.iter().find(|(_, p)| !p.is_file()) {
        report.error = Some(
            Error::new(ErrorKind::Integrity(Integrity::AofFileMissing))
                .in_file(&manifest.into())
                .detail(missing.display().to_string()),
        );
        return report;
    }
    // Files are independent for checking (each is replayed by a fresh client),
    // so they are read in parallel; the report stops at the first bad file, as
    // redis-check-aof and the server do.
    use rayon::prelude::*;
    let parts: Vec<PartReport> = set
        .parts
        .par_iter()
        .map(|(role, path)| {
            let role = if *role == PartRole::Base { AofRole::Base } else { AofRole::Incr };
            check_part(path, role, opts, &mut None)
        })
        .collect();
    for part in parts {
        let stop = part.error.is_some() || part.timestamp_cut.is_some();
        report.parts.push(part);
        if stop {
            break;
        }
    }
    report
}

/// Counts of one file's commands, by name as logged; upper-cased at the end.
/// Runs once per command, and a log holds few distinct names: a small
/// open-addressing table with a cheap hash, growing when half full.
struct NameCounts {
    slots: Vec<Option<(Box<[u8]>, u64)>>,
    used: usize,
}

impl Default for NameCounts {
    fn default() -> Self {
        NameCounts { slots: vec![None; 64], used: 0 }
    }
}

impl NameCounts {
    fn hash(name: &[u8]) -> usize {
        // FNV-1a: a few bytes, no allocation, good enough for a handful of names.
        name.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)) as usize
    }

    fn add(&mut self, name: &[u8]) {
        let mask = self.slots.len() - 1;
        let mut i = Self::hash(name) & mask;
        loop {
            match &mut self.slots[i] {
                Some((n, count)) if &**n == name => {
                    *count += 1;
                    return;
                }
                Some(_) => i = (i + 1) & mask,
                slot @ None => {
                    *slot = Some((name.into(), 1));
                    self.used += 1;
                    if self.used * 2 > self.slots.len() {
                        self.grow();
                    }
                    return;
                }
            }
        }
    }

    fn grow(&mut self) {
        let bigger = vec![None; self.slots.len() * 2];
        let old = std::mem::replace(&mut self.slots, bigger);
        let mask = self.slots.len() - 1;
        for (name, count) in old.into_iter().flatten() {
            let mut i = Self::hash(&name) & mask;
            while self.slots[i].is_some() {
                i = (i + 1) & mask;
            }
            self.slots[i] = Some((name, count));
        }
    }

    fn into_sorted(self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        for (name, n) in self.slots.into_iter().flatten() {
            let name = crate::escape::escape_bytes(&name.to_ascii_uppercase()).to_string();
            *out.entry(name).or_default() += n;
        }
        out
    }
}

/// Check one file of an AOF; `ts` is the annotation in force, carried from file to file.
pub(crate) fn check_part(path: &Path, role: AofRole, opts: &AofCheckOptions, ts: &mut Option<i64>) -> PartReport {
    let size = std::fs::metadata(path).ok().filter(|m| m.is_file()).map(|m| m.len());
    let mut part =
        PartReport { file: path.to_path_buf(), role: Some(role), size: size.unwrap_or(0), ..Default::default() };
    match Input::open(path) {
        Ok(mut input) => check_part_input(&mut input, size, role, opts, ts),
        Err(e) => {
            part.error = Some(e);
            part
        }
    }
}

/// Check an opened AOF file of `size` bytes (unknown for a pipe).
fn check_part_input(
    input: &mut Input,
    size: Option<u64>,
    role: AofRole,
    opts: &AofCheckOptions,
    ts: &mut Option<i64>,
) -> PartReport {
    let mut part =
        PartReport { file: input.name.to_path_buf(), role: Some(role), size: size.unwrap_or(0), ..Default::default() };
    if let Err(e) = read_part(input, size, opts, ts, &mut part) {
        part.error = Some(e.in_file(&input.name));
    }
    if part.error.is_none() && part.timestamp_cut.is_none() {
        part.ok_up_to = part.size;
    }
    part
}

/// The reading half of `check_part`; returns the fault, if any, after
/// recording `ok_up_to`.
fn read_part(
    input: &mut Input,
    size: Option<u64>,
    opts: &AofCheckOptions,
    ts: &mut Option<i64>,
    part: &mut PartReport,
) -> Result<()> {
    let name = input.name.clone();
    let mut win = input.window(opts.reader.pipe_limits());
    win.fill(6)?;
    if starts_with_rdb(win.avail()) {
        let mut rdb = RdbReader::from_window(name.clone(), win, opts.reader);
        let mut pre = CheckReport { file: name.to_path_buf(), size, ..Default::default() };
        let now = opts.now_ms.unwrap_or_else(crate::clock::system_now_ms);
        let walked = walk_rdb(&mut rdb, &mut pre, now);
        if let Err(e) = walked {
            pre.error = Some(e.clone().in_file(&name));
            part.preamble = Some(pre);
            return Err(e);
        }
        part.preamble = Some(pre);
        win = rdb.into_window();
        part.preamble_end = Some(win.offset());
    }
    let mut resp = RespReader::from_window(name.clone(), win, opts.reader.max_record, *ts);
    let progress = crate::progress::Progress::new(opts.reader.progress, &name.display().to_string(), size);
    let mut names = NameCounts::default();
    let mut multi_start: Option<u64> = None;
    let mut last_db = None;
    let mut pos = resp.offset();
    let result = loop {
        if multi_start.is_none() {
            pos = resp.offset();
        }
        let record = match resp.read() {
            Ok(Some(ev)) => ev,
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        };
        match record {
            Record::Annotation(a) => {
                part.annotations += 1;
                if let Some(t) = a.timestamp {
                    part.first_timestamp.get_or_insert(t);
                    part.last_timestamp = Some(t);
                }
                if let (Some(limit), true) = (opts.to_timestamp, a.line.starts_with(b"#TS:")) {
                    match a.timestamp {
                        None => {
                            break Err(Error::new(ErrorKind::BadEncoding("invalid timestamp annotation"))
                                .at(a.offset)
                                .detail(crate::escape::escape_bytes(a.line).to_string()))
                        }
                        Some(t) if t > limit => {
                            // redis-check-aof cuts at the annotation even inside a
                            // MULTI; we cut before that MULTI, so the result loads
                            // without the server having to revert a transaction.
                            part.timestamp_cut = Some(a.offset);
                            part.ok_up_to = multi_start.unwrap_or(a.offset);
                            break Ok(());
                        }
                        Some(_) => {}
                    }
                }
            }
            Record::Command(c) => {
                part.commands += 1;
                names.add(c.name());
                if last_db != Some(c.db) {
                    part.dbs.insert(c.db);
                    last_db = Some(c.db);
                }
                if c.index % 65536 == 0 {
                    progress.set(c.offset);
                }
                if c.name().eq_ignore_ascii_case(b"multi") {
                    if multi_start.is_some() {
                        break Err(Error::new(ErrorKind::Integrity(Integrity::AofNestedMulti))
                            .at(c.offset)
                            .detail(format!("command #{}", c.index)));
                    }
                    multi_start = Some(c.offset);
                    part.multi_blocks += 1;
                } else if c.name().eq_ignore_ascii_case(b"exec") {
                    if multi_start.is_none() {
                        break Err(Error::new(ErrorKind::Integrity(Integrity::AofExecWithoutMulti))
                            .at(c.offset)
                            .detail(format!("command #{}", c.index)));
                    }
                    multi_start = None;
                }
            }
        }
    };
    *ts = resp.timestamp();
    if size.is_none() {
        // A pipe: its size is what was read (up to the fault, if any).
        part.size = resp.offset();
    }
    part.commands_per_name = names.into_sorted();
    let result = result.and_then(|()| match multi_start {
        Some(start) if part.timestamp_cut.is_none() => Err(Error::new(ErrorKind::Truncated)
            .at(part.size)
            .detail(format!("the file ends inside the MULTI at offset {start} (no EXEC)"))),
        _ => Ok(()),
    });
    if let Err(e) = &result {
        part.ok_up_to = pos;
        if size.is_none() {
            // A pipe: at least up to the fault was read.
            part.size = part.size.max(e.offset.unwrap_or(0));
        }
    }
    result.map_err(|e| e.doing(Phase::ReadingCommand))
}

/// What `fix` should do about a checked AOF.
pub fn plan_repair(report: &AofReport) -> Repair {
    if report.input == Path::new("<stdin>") && report.first_error().is_some() {
        return Repair::Impossible("read from standard input: run fix on the file itself".into());
    }
    if let Some(e) = &report.error {
        return Repair::Impossible(format!("{e}; the server will not load this AOF until the set is repaired by hand"));
    }
    let total = match &report.layout {
        AofLayout::Single => 1,
        AofLayout::MultiPart { manifest } => match load_multipart(manifest) {
            Ok(set) => set.parts.len(),
            Err(e) => return Repair::Impossible(e.to_string()),
        },
    };
    let Some((index, part)) =
        report.parts.iter().enumerate().find(|(_, p)| p.error.is_some() || p.timestamp_cut.is_some())
    else {
        return Repair::NothingToDo;
    };
    let is_last = index + 1 == total;
    if part.preamble_damaged() {
        return Repair::Impossible(format!(
            "{}: the RDB {} is damaged; cutting commands cannot repair it (restore it from a backup, or \
             salvage its keys with `rdb-tool dump`)",
            part.file.display(),
            if part.role == Some(AofRole::Base) { "base file" } else { "preamble" }
        ));
    }
    if let Some(e) = &part.error {
        if matches!(e.kind, ErrorKind::Io(_) | ErrorKind::Input(_) | ErrorKind::Usage(_) | ErrorKind::RecordTooLarge) {
            return Repair::Impossible(e.to_string());
        }
    }
    let reason = match (&part.error, part.timestamp_cut) {
        (Some(e), _) => e.to_string(),
        (None, Some(off)) => format!("first timestamp annotation after the limit at offset {off}"),
        (None, None) => unreachable!("found by the search above"),
    };
    if part.timestamp_cut == Some(0) {
        return Repair::Impossible(format!("{}: nothing in it is before the timestamp", part.file.display()));
    }
    if !is_last {
        return Repair::Impossible(format!(
            "{} is not the last file of the set ({reason}); only the last file may be cut. \
             If you accept losing everything after it, delete the later files and their manifest lines, \
             then run fix again",
            part.file.display()
        ));
    }
    if part.bytes_after() == 0 {
        return Repair::NothingToDo;
    }
    Repair::Truncate(TruncatePlan { file: part.file.clone(), old_size: part.size, new_size: part.ok_up_to, reason })
}
