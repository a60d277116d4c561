//! Printing `diff` results: a human summary with the first changes of each
//! kind, one JSON record per differing key, or counts only.

use super::{Change, DiffReport, KeyDiff, ValueDiff};
use crate::escape::escape_bytes;
use crate::output::json::{write_bytes, write_i64, write_u64};
use std::io::{self, Write};

fn write_list(out: &mut Vec<u8>, name: &str, items: &[Vec<u8>]) {
    out.extend_from_slice(format!(",\"{name}\":[").as_bytes());
    for (i, it) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_bytes(out, it);
    }
    out.push(b']');
}

fn write_ttl(out: &mut Vec<u8>, name: &str, ttl: Option<i64>) {
    out.extend_from_slice(format!(",\"{name}\":").as_bytes());
    match ttl {
        Some(t) => write_i64(out, t),
        None => out.extend_from_slice(b"null"),
    }
}

/// `{"db":0,"key":"k","change":"changed","type":"hash","fields_added":[..],…}`.
pub fn write_record(out: &mut Vec<u8>, d: &KeyDiff) {
    out.extend_from_slice(b"{\"db\":");
    write_u64(out, d.db);
    out.extend_from_slice(b",\"key\":");
    write_bytes(out, &d.key);
    let (change, kind) = match &d.change {
        Change::Added { kind } => ("added", kind),
        Change::Removed { kind } => ("removed", kind),
        Change::Changed { kind, .. } => ("changed", kind),
    };
    out.extend_from_slice(format!(",\"change\":\"{change}\",\"type\":\"{}\"", kind.name()).as_bytes());
    if let Change::Changed { type_before, ttl, value, kind } = &d.change {
        if let Some(t) = type_before {
            out.extend_from_slice(format!(",\"type_before\":\"{}\"", t.name()).as_bytes());
        }
        if let Some((before, after)) = ttl {
            write_ttl(out, "ttl_before", *before);
            write_ttl(out, "ttl_after", *after);
        }
        if let Some(v) = value {
            write_value(out, kind.name(), v);
        }
    }
    out.push(b'}');
}

fn write_value(out: &mut Vec<u8>, kind: &str, v: &ValueDiff) {
    let noun = match kind {
        "hash" => "fields",
        "stream" => "entries",
        _ => "members",
    };
    match kind {
        "string" => out.extend_from_slice(b",\"value_changed\":true"),
        "list" => {
            out.extend_from_slice(b",\"first_difference\":");
            match v.first_difference {
                Some(i) => write_u64(out, i),
                None => out.extend_from_slice(b"null"),
            }
            out.extend_from_slice(b",\"len_before\":");
            write_u64(out, v.len_before);
            out.extend_from_slice(b",\"len_after\":");
            write_u64(out, v.len_after);
        }
        _ => {
            write_list(out, &format!("{noun}_added"), &v.added);
            write_list(out, &format!("{noun}_removed"), &v.removed);
            write_list(out, &format!("{noun}_changed"), &v.changed);
        }
    }
}

/// Counts only.
pub fn write_stat(w: &mut impl Write, r: &DiffReport) -> io::Result<()> {
    writeln!(
        w,
        "keys: {} in A, {} in B; same {}, added {}, removed {}, changed {}",
        r.keys_a,
        r.keys_b,
        r.same,
        r.count(|c| matches!(c, Change::Added { .. })),
        r.count(|c| matches!(c, Change::Removed { .. })),
        r.count(|c| matches!(c, Change::Changed { .. }))
    )
}

/// The summary and the first `limit` changes of each kind.
pub fn write_text(w: &mut impl Write, r: &DiffReport, limit: usize) -> io::Result<()> {
    write_stat(w, r)?;
    type IsKind = fn(&Change) -> bool;
    let kinds: [(&str, IsKind); 3] = [
        ("added", |c| matches!(c, Change::Added { .. })),
        ("removed", |c| matches!(c, Change::Removed { .. })),
        ("changed", |c| matches!(c, Change::Changed { .. })),
    ];
    for (name, is) in kinds {
        let all: Vec<&KeyDiff> = r.diffs.iter().filter(|d| is(&d.change)).collect();
        if all.is_empty() {
            continue;
        }
        writeln!(w, "{name}:")?;
        for d in all.iter().take(limit) {
            let mut line = format!("  db{} \"{}\"", d.db, escape_bytes(&d.key));
            match &d.change {
                Change::Added { kind } | Change::Removed { kind } => line += &format!(" ({})", kind.name()),
                Change::Changed { kind, type_before, ttl, value } => {
                    line += &format!(" ({})", kind.name());
                    if let Some(t) = type_before {
                        line += &format!(": type {} -> {}", t.name(), kind.name());
                    }
                    if let Some((a, b)) = ttl {
                        let show = |t: &Option<i64>| t.map_or("none".to_string(), |t| t.to_string());
                        line += &format!(": TTL {} -> {}", show(a), show(b));
                    }
                    if let Some(v) = value {
                        if kind.name() == "list" {
                            line += &format!(
                                ": {} -> {} elements, first difference at {}",
                                v.len_before,
                                v.len_after,
                                v.first_difference.map_or("-".into(), |i| i.to_string())
                            );
                        } else if kind.name() == "string" {
                            line += ": value changed";
                        } else {
                            line += &format!(
                                ": {} added, {} removed, {} changed",
                                v.added.len(),
                                v.removed.len(),
                                v.changed.len()
                            );
                        }
                    }
                }
            }
            writeln!(w, "{line}")?;
        }
        if all.len() > limit {
            writeln!(w, "  … {} more (--limit, or --format jsonl for all)", all.len() - limit)?;
        }
    }
    Ok(())
}
