//! `salvage`: what can be saved of a damaged RDB, into a new file the server
//! loads. The input is never modified.
//!
//! This part repairs what one changed byte did, wherever it lies: the
//! checksum's mismatch lists the one-byte changes that explain it, and one
//! whose restoration passes the full check is restored, exactly
//! ([`super::check::one_byte`]). When the records are whole and only the
//! checksum disagrees, with no such byte, the keys are kept as read under a
//! fresh checksum, and the report says there is no guarantee. Other damage
//! inside the records is read past, span by span ([`resync`]); AOFs are
//! salvaged command by command ([`aof`]).

pub mod aof;
pub mod resync;

use super::check::one_byte::{self, Explanation, Patched, Restored, Subject};
use super::check::{check_file, CheckReport};
use crate::error::{Error, ErrorKind, Result};
use crate::event::ReaderOptions;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct SalvageConfig {
    pub input: PathBuf,
    pub reader: ReaderOptions,
    /// Unix ms used to judge TTLs (default: now).
    pub now_ms: Option<i64>,
}

/// What was found, and what the output holds.
#[derive(Debug, Clone)]
pub struct SalvageReport {
    pub file: PathBuf,
    /// The check of the input as it is.
    pub check: CheckReport,
    pub outcome: Outcome,
    /// Keys the output holds.
    pub keys: u64,
    /// How the input was read (the write reads it again).
    pub check_options: ReaderOptions,
}

#[derive(Debug, Clone)]
pub enum Outcome {
    /// Nothing is damaged: the output is a copy.
    Intact,
    /// One byte explained the mismatch and, restored, passes the full
    /// check: the output is the original file.
    Repaired(Restored),
    /// The records are whole, the checksum mismatches, and no single
    /// restored byte makes the file whole: the output keeps every key as
    /// read, under a fresh checksum, with no guarantee that none changed.
    Unlocated {
        /// The one-byte changes that explain the checksum: each failed the
        /// full check, or several passed it.
        explanations: Vec<Explanation>,
    },
    /// Damage inside the records: read past, span by span; the output holds
    /// every record outside the spans.
    Resynced(resync::Resynced),
}

impl SalvageReport {
    /// The bytes the output holds: the input with at most one byte
    /// changed and, when unlocated, the fresh checksum.
    pub fn patches(&self) -> Vec<(u64, u8)> {
        match &self.outcome {
            Outcome::Intact | Outcome::Resynced(_) => Vec::new(),
            Outcome::Repaired(r) => vec![(r.offset, r.new)],
            Outcome::Unlocated { .. } => match self.check.error.as_ref().map(|e| (e.kind, e.offset)) {
                Some((ErrorKind::ChecksumMismatch { computed, .. }, Some(at))) => {
                    computed.to_le_bytes().iter().enumerate().map(|(i, &b)| (at + i as u64, b)).collect()
                }
                _ => Vec::new(),
            },
        }
    }
}

/// Check the input, work out what its salvage holds and, when `out` is
/// given, write it there (the caller makes the write atomic): the input with
/// at most a restored byte or a fresh checksum, or what a walk past the
/// damage kept.
pub fn salvage(cfg: &SalvageConfig, out: Option<&mut dyn Write>) -> Result<SalvageReport> {
    // The walk past damage reads every record and checks every key as
    // `check` does, on all cores: where it meets damage that `check` surely
    // faults on too, it stands in for the check (one pass of the file
    // fewer); where it meets none, the full check judges the file.
    let walked = resync::walk(&cfg.input, cfg.reader);
    let stands_in = walked.as_ref().ok().filter(|w| w.spans.first().is_some_and(|s| s.certain));
    let check = match stands_in {
        Some(w) => CheckReport {
            file: cfg.input.clone(),
            size: std::fs::metadata(&cfg.input).ok().map(|m| m.len()),
            error: w.spans.first().map(|s| s.error.clone()),
            ..CheckReport::default()
        },
        None => check_file(&cfg.input, cfg.reader, cfg.now_ms),
    };
    let report = |check: CheckReport, outcome: Outcome, keys: u64| SalvageReport {
        file: cfg.input.clone(),
        check,
        outcome,
        keys,
        check_options: cfg.reader,
    };
    let Some(error) = &check.error else {
        let keys = check.keys;
        return copy_patched(report(check, Outcome::Intact, keys), out);
    };
    // I/O and usage errors judge nothing. An unsupported version may be
    // one changed byte of a supported one, which the checksum tells.
    if error.kind.verdict() == crate::error::Verdict::Failed {
        return Err(error.clone());
    }
    let subject = Subject { path: cfg.input.clone(), reader: cfg.reader, now_ms: cfg.now_ms };
    let explanations = one_byte::explain(&subject)?;
    match (one_byte::the_repair(&explanations), error.kind) {
        (Some(only), _) => {
            let (restored, keys) = (only.restored.clone(), only.keys);
            copy_patched(report(check, Outcome::Repaired(restored), keys), out)
        }
        (None, ErrorKind::ChecksumMismatch { .. }) => {
            let keys = check.keys;
            copy_patched(report(check, Outcome::Unlocated { explanations }, keys), out)
        }
        (None, kind) if kind.verdict() != crate::error::Verdict::Damaged => Err(error.clone()),
        (None, _) => {
            let walked = walked?;
            if let Some(out) = out {
                resync::write(&cfg.input, &walked, out)?;
            }
            let keys = walked.keys_kept;
            Ok(report(check, Outcome::Resynced(walked), keys))
        }
    }
}

/// Write the input with the report's patches to `out` (if any).
fn copy_patched(report: SalvageReport, out: Option<&mut dyn Write>) -> Result<SalvageReport> {
    if let Some(out) = out {
        let file = File::open(&report.file).map_err(|e| Error::io(e).in_file(&report.file.as_path().into()))?;
        let mut patched = Patched::new(file, report.patches());
        std::io::copy(&mut patched, out).map_err(Error::io)?;
    }
    Ok(report)
}

/// Judge a written salvage before it is put in place: it must pass the
/// check and hold the keys the report counts. Only a walk past damage
/// needs it: the other outputs are the input with at most one byte or the
/// checksum changed, checked in full as such before they were written. The
/// check frames every record, judges every non-key record, the duplicate
/// keys and the checksum, but does not walk values again: each kept key's
/// value passed the deep check in the walk, and is copied byte for byte.
pub fn verify(report: &SalvageReport, written: &Path) -> Result<()> {
    if !matches!(report.outcome, Outcome::Resynced(_)) {
        return Ok(());
    }
    let check = check_file(written, ReaderOptions { check_values: false, ..report.check_options }, Some(0));
    let refuse = |why: String| {
        Err(Error::new(ErrorKind::Unsupported("a salvage that fails its own check (nothing was written)"))
            .detail(why)
            .in_file(&report.file.as_path().into()))
    };
    if let Some(e) = check.error {
        return refuse(e.to_string());
    }
    if check.keys != report.keys {
        return refuse(format!("it holds {} keys where the report counts {}", check.keys, report.keys));
    }
    Ok(())
}

/// The report as text, one finding a line.
pub fn to_text(r: &SalvageReport) -> String {
    let mut t = format!("{}: ", r.file.display());
    match &r.outcome {
        Outcome::Intact => t.push_str(&format!("nothing damaged ({} keys)\n", r.keys)),
        Outcome::Repaired(x) => t.push_str(&format!(
            "one {} at offset {} in {}, located by the checksum: byte {:#04x} restored to {:#04x}; \
             the restored file passes the full check ({} keys, all kept)\n",
            if x.single_bit() { "flipped bit" } else { "changed byte" },
            x.offset,
            x.place.describe(),
            x.old,
            x.new,
            r.keys
        )),
        Outcome::Unlocated { explanations } => {
            t.push_str(&format!(
                "checksum mismatch that cannot be located: every key is kept as read ({}), under a fresh \
                 checksum, with no guarantee that none changed\n",
                r.keys
            ));
            for Explanation { restored: x, .. } in explanations {
                t.push_str(&format!(
                    "  one-byte explanation at offset {} in {} ({:#04x} → {:#04x}): {}\n",
                    x.offset,
                    x.place.describe(),
                    x.old,
                    x.new,
                    if explanations.len() > 1 { "one of several" } else { "fails the full check" }
                ));
            }
        }
        Outcome::Resynced(w) => {
            t.push_str(&format!(
                "damaged inside the records: {} span{} lost, {} keys kept\n",
                w.spans.len(),
                if w.spans.len() == 1 { "" } else { "s" },
                w.keys_kept
            ));
            for span in &w.spans {
                t.push_str(&format!(
                    "  lost {} bytes at offset {}..{}{}: {}{}\n",
                    span.end - span.start,
                    span.start,
                    span.end,
                    span.first_key
                        .as_ref()
                        .map(|k| format!(" (from key \"{}\" on)", crate::escape::escape_bytes(k)))
                        .unwrap_or_default(),
                    crate::output::json::error_text(&span.error),
                    span.selects_db.map(|d| format!("; the keys after it are in db {d}")).unwrap_or_default()
                ));
            }
            for copy in &w.dropped_copies {
                t.push_str(&format!(
                    "  dropped a second copy of key \"{}\" in db {} at offset {} (read past damage; the copy at \
                     offset {} is kept: the server refuses a key twice)\n",
                    crate::escape::escape_bytes(&copy.key),
                    copy.db,
                    copy.offset,
                    copy.kept_at
                ));
            }
        }
    }
    t
}

/// The report as JSON (`--report`): what was damaged, what the output holds.
pub fn to_json(r: &SalvageReport, written: Option<&Path>) -> serde_json::Value {
    use serde_json::json;
    let (outcome, repaired, explanations) = match &r.outcome {
        Outcome::Intact => ("intact", None, Vec::new()),
        Outcome::Repaired(x) => ("repaired", Some(one_byte::restored_json(x)), Vec::new()),
        Outcome::Unlocated { explanations } => {
            ("unlocated", None, explanations.iter().map(|e| one_byte::restored_json(&e.restored)).collect())
        }
        Outcome::Resynced(_) => ("resynced", None, Vec::new()),
    };
    let spans: Vec<serde_json::Value> = match &r.outcome {
        Outcome::Resynced(w) => w
            .spans
            .iter()
            .map(|s| {
                json!({
                    "start": s.start,
                    "end": s.end,
                    "bytes": s.end - s.start,
                    "first_key": s.first_key.as_deref().map(crate::output::json::bytes_json),
                    "error": crate::output::json::error_json(&s.error),
                    "selects_db": s.selects_db,
                })
            })
            .collect(),
        _ => Vec::new(),
    };
    let dropped: Vec<serde_json::Value> = match &r.outcome {
        Outcome::Resynced(w) => w
            .dropped_copies
            .iter()
            .map(|c| {
                json!({
                    "db": c.db,
                    "key": crate::output::json::bytes_json(&c.key),
                    "offset": c.offset,
                    "kept_at": c.kept_at,
                })
            })
            .collect(),
        _ => Vec::new(),
    };
    json!({
        "file": r.file.display().to_string(),
        "outcome": outcome,
        "error": r.check.error.as_ref().map(crate::output::json::error_json),
        "keys_kept": r.keys,
        "lost_spans": spans,
        "dropped_copies": dropped,
        "repaired": repaired,
        "explanations": explanations,
        "output": written.map(|p| p.display().to_string()),
    })
}
