//! `salvage`: what can be saved of a damaged RDB, into a new file the server
//! loads. The input is never modified.
//!
//! This part repairs what one changed byte did, wherever it lies: the
//! checksum's mismatch lists the one-byte changes that explain it, and one
//! whose restoration passes the full check is restored, exactly
//! ([`super::check::one_byte`]). When the records are whole and only the
//! checksum disagrees, with no such byte, the keys are kept as read under a
//! fresh checksum, and the report says there is no guarantee. Other damage
//! inside the records is refused as unsupported for now.

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
}

#[derive(Debug, Clone, PartialEq)]
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
}

impl SalvageReport {
    /// The bytes the output holds: the input with at most one byte
    /// changed and, when unlocated, the fresh checksum.
    pub fn patches(&self) -> Vec<(u64, u8)> {
        match &self.outcome {
            Outcome::Intact => Vec::new(),
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

/// Check the input and work out what its salvage holds.
pub fn plan(cfg: &SalvageConfig) -> Result<SalvageReport> {
    let check = check_file(&cfg.input, cfg.reader, cfg.now_ms);
    let Some(error) = &check.error else {
        let keys = check.keys;
        return Ok(SalvageReport { file: cfg.input.clone(), check, outcome: Outcome::Intact, keys });
    };
    // I/O and usage errors judge nothing. An unsupported version may be
    // one changed byte of a supported one, which the checksum tells.
    if error.kind.verdict() == crate::error::Verdict::Failed {
        return Err(error.clone());
    }
    let subject = Subject { path: cfg.input.clone(), reader: cfg.reader, now_ms: cfg.now_ms };
    let explanations = one_byte::explain(&subject)?;
    let (outcome, keys) = match (one_byte::the_repair(&explanations), error.kind) {
        (Some(only), _) => (Outcome::Repaired(only.restored.clone()), only.keys),
        (None, ErrorKind::ChecksumMismatch { .. }) => (Outcome::Unlocated { explanations }, check.keys),
        (None, kind) if kind.verdict() != crate::error::Verdict::Damaged => return Err(error.clone()),
        (None, _) => {
            return Err(Error::new(ErrorKind::Unsupported(
                "damage inside the records that no single changed byte explains: resyncing past it is not built yet",
            ))
            .in_file(&cfg.input.as_path().into()));
        }
    };
    Ok(SalvageReport { file: cfg.input.clone(), check, outcome, keys })
}

/// Write the salvaged file: the input with the report's patches, through
/// `out`. The caller makes the write atomic.
pub fn write(report: &SalvageReport, out: &mut dyn Write) -> Result<()> {
    let file = File::open(&report.file).map_err(|e| Error::io(e).in_file(&report.file.as_path().into()))?;
    let mut patched = Patched::new(file, report.patches());
    std::io::copy(&mut patched, out).map_err(Error::io)?;
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
    };
    json!({
        "file": r.file.display().to_string(),
        "outcome": outcome,
        "error": r.check.error.as_ref().map(crate::output::json::error_json),
        "keys": r.keys,
        "keys_kept": r.keys,
        "keys_lost": 0,
        "repaired": repaired,
        "explanations": explanations,
        "output": written.map(|p| p.display().to_string()),
    })
}
