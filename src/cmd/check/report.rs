//! Printing `check` reports: a human summary, or one JSON document per file.

use super::aof::{plan_repair, AofLayout, AofReport, PartReport, Repair};
use super::{CheckReport, Verdict};
use crate::escape::escape_bytes;
use crate::event::Checksum;
use crate::output::json::{error_json, error_text, write_bytes};
use serde_json::{json, Map, Value};
use std::io::{self, Write};

fn lossy(b: &[u8]) -> Value {
    let mut v = Vec::new();
    write_bytes(&mut v, b);
    serde_json::from_slice(&v).unwrap_or(Value::Null)
}

fn checksum_text(c: Option<Checksum>) -> String {
    match c {
        None => "not reached".into(),
        Some(Checksum::Absent) => "none (RDB version < 5)".into(),
        Some(Checksum::Disabled) => "disabled (stored as 0): no check performed".into(),
        Some(Checksum::Ok(v)) => format!("OK ({v:#018x})"),
    }
}

fn format_name(r: &CheckReport) -> String {
    match (r.dialect, r.version) {
        (Some(d), Some(v)) => {
            let header = match d {
                crate::format::Dialect::Redis => format!("REDIS{v:04}"),
                crate::format::Dialect::Valkey => format!("VALKEY{v:03}"),
            };
            format!("{} RDB {v} ({header})", if d == crate::format::Dialect::Redis { "Redis" } else { "Valkey" })
        }
        _ => "unknown".into(),
    }
}

/// Human-readable report.
pub fn write_text(w: &mut impl Write, r: &CheckReport) -> io::Result<()> {
    let status = match r.verdict() {
        Verdict::Valid => "OK",
        Verdict::Damaged => "DAMAGED",
        Verdict::Unsupported => "UNSUPPORTED",
        Verdict::Failed => "ERROR",
    };
    writeln!(w, "{}: {status}", r.file.display())?;
    if let Some(e) = &r.error {
        writeln!(w, "  error       {}", error_text(e))?;
    }
    writeln!(w, "  format      {}", format_name(r))?;
    if let Some(s) = r.size {
        writeln!(w, "  size        {s} bytes")?;
    }
    if !r.aux.is_empty() {
        let aux: Vec<String> = r.aux.iter().map(|(k, v)| format!("{}={}", escape_bytes(k), escape_bytes(v))).collect();
        writeln!(w, "  aux         {}", aux.join(" "))?;
    }
    if r.functions > 0 {
        writeln!(w, "  functions   {} libraries", r.functions)?;
    }
    if !r.module_aux.is_empty() {
        writeln!(w, "  module aux  {}", r.module_aux.join(", "))?;
    }
    let dbs: Vec<String> = r.keys_per_db.iter().map(|(db, n)| format!("db{db} {n}")).collect();
    writeln!(
        w,
        "  keys        {}{}",
        r.keys,
        if dbs.is_empty() { String::new() } else { format!(" ({})", dbs.join(", ")) }
    )?;
    if !r.keys_per_type.is_empty() {
        let t: Vec<String> = r.keys_per_type.iter().map(|(t, n)| format!("{} {n}", t.name())).collect();
        writeln!(w, "  by type     {}", t.join(", "))?;
        let e: Vec<String> = r.keys_per_encoding.iter().map(|(t, n)| format!("{t} {n}")).collect();
        writeln!(w, "  by encoding {}", e.join(", "))?;
    }
    if !r.modules.is_empty() {
        let m: Vec<String> = r.modules.iter().map(|(t, n)| format!("{t} {n}")).collect();
        writeln!(w, "  modules     {}", m.join(", "))?;
    }
    writeln!(w, "  expires     {} ({} already expired)", r.expires, r.already_expired)?;
    if r.hashes_with_field_ttls > 0 {
        writeln!(w, "  field TTLs  {} hashes", r.hashes_with_field_ttls)?;
    }
    if r.keys_with_meta > 0 {
        writeln!(w, "  key meta    {} keys", r.keys_with_meta)?;
    }
    if r.empty_keys > 0 {
        writeln!(w, "  empty keys  {} (the server skips them on load)", r.empty_keys)?;
    }
    writeln!(w, "  checksum    {}", checksum_text(r.checksum))?;
    if r.quick {
        writeln!(w, "  depth       quick: records framed and checksum compared; values not walked")?;
    }
    if r.trailing_bytes > 0 {
        writeln!(w, "  warning     {} bytes after the checksum (ignored by Redis)", r.trailing_bytes)?;
    }
    for warning in &r.warnings {
        writeln!(w, "  warning     {warning}")?;
    }
    if let Some(x) = &r.one_byte {
        writeln!(
            w,
            "  repairable  {} at offset {} ({}): `rdb-tool salvage` restores it exactly",
            if x.single_bit() { "single-bit error" } else { "one changed byte" },
            x.offset,
            x.place.describe()
        )?;
    }
    Ok(())
}

/// JSON document for one file.
pub fn to_json(r: &CheckReport) -> Value {
    // Pairs, not an object: some aux keys repeat (Valkey `slot-info`, `lua`).
    let aux: Vec<Value> = r.aux.iter().map(|(k, v)| json!([lossy(k), lossy(v)])).collect();
    let (checksum, checksum_value) = match r.checksum {
        None => ("not_reached", None),
        Some(Checksum::Absent) => ("absent", None),
        Some(Checksum::Disabled) => ("disabled", None),
        Some(Checksum::Ok(v)) => ("ok", Some(format!("{v:#018x}"))),
    };
    json!({
        "file": r.file.display().to_string(),
        "ok": r.error.is_none(),
        "verdict": r.verdict().name(),
        "depth": if r.quick { "quick" } else { "full" },
        "dialect": r.dialect.map(|d| d.magic()),
        "version": r.version,
        "size": r.size,
        "aux": aux,
        "functions": r.functions,
        "module_aux": r.module_aux,
        "modules": r.modules,
        "keys": r.keys,
        "keys_per_db": r.keys_per_db.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<Map<_, _>>(),
        "keys_per_type": r.keys_per_type.iter().map(|(k, v)| (k.name().to_string(), json!(v))).collect::<Map<_, _>>(),
        "keys_per_encoding": r.keys_per_encoding,
        "expires": r.expires,
        "already_expired": r.already_expired,
        // Counting them needs the values walked.
        "hashes_with_field_ttls": (!r.quick).then_some(r.hashes_with_field_ttls),
        "keys_with_meta": r.keys_with_meta,
        // Finding them needs the values walked.
        "empty_keys": (!r.quick).then_some(r.empty_keys),
        "checksum": checksum,
        "checksum_value": checksum_value,
        "trailing_bytes": r.trailing_bytes,
        "warnings": r.warnings,
        "error": r.error.as_ref().map(error_json),
        "repairable": r.one_byte.as_ref().map(super::one_byte::restored_json),
    })
}

fn part_format(p: &PartReport) -> &'static str {
    match (&p.preamble, p.size) {
        (Some(_), _) => "rdb",
        (None, 0) => "empty",
        (None, _) => "resp",
    }
}

/// Human-readable report of an AOF check.
pub fn write_aof_text(w: &mut impl Write, r: &AofReport) -> io::Result<()> {
    let status = match r.verdict() {
        Verdict::Valid => "OK",
        Verdict::Damaged => "DAMAGED",
        Verdict::Unsupported => "UNSUPPORTED",
        Verdict::Failed => "ERROR",
    };
    writeln!(w, "{}: {status}", r.input.display())?;
    match &r.layout {
        AofLayout::Single => writeln!(w, "  layout      single-file AOF")?,
        AofLayout::MultiPart { manifest } => {
            writeln!(w, "  layout      multi-part AOF, manifest {}", manifest.display())?;
        }
    }
    if let Some(e) = &r.error {
        writeln!(w, "  error       {e}")?;
    }
    for p in &r.parts {
        let role = p.role.map_or("", |r| r.name());
        writeln!(w, "  {} ({role}, {}, {} bytes)", p.file.display(), part_format(p), p.size)?;
        if let Some(pre) = &p.preamble {
            let dbs: Vec<String> = pre.keys_per_db.iter().map(|(db, n)| format!("db{db} {n}")).collect();
            writeln!(w, "    rdb         {}, {} keys ({})", format_name(pre), pre.keys, dbs.join(", "))?;
            writeln!(w, "    checksum    {}", checksum_text(pre.checksum))?;
        }
        let names: Vec<String> = p.commands_per_name.iter().map(|(n, c)| format!("{n} {c}")).collect();
        writeln!(
            w,
            "    commands    {}{}",
            p.commands,
            if names.is_empty() { String::new() } else { format!(" ({})", names.join(", ")) }
        )?;
        if !p.dbs.is_empty() {
            let dbs: Vec<String> = p.dbs.iter().map(|d| d.to_string()).collect();
            writeln!(w, "    databases   {}", dbs.join(", "))?;
        }
        if p.multi_blocks > 0 {
            writeln!(w, "    MULTI/EXEC  {} blocks", p.multi_blocks)?;
        }
        if let (Some(a), Some(b)) = (p.first_timestamp, p.last_timestamp) {
            writeln!(w, "    timestamps  {a} .. {b} ({} annotations)", p.annotations)?;
        }
        if let Some(e) = &p.error {
            writeln!(w, "    error       {}", error_text(e))?;
            if !p.preamble_damaged() {
                writeln!(
                    w,
                    "    last good   offset {} (command #{}); {} bytes follow it",
                    p.ok_up_to,
                    p.commands,
                    p.bytes_after()
                )?;
            }
        }
    }
    match plan_repair(r) {
        Repair::NothingToDo => {}
        Repair::Truncate(plan) => writeln!(
            w,
            "  repair      `rdb-tool fix` would cut {} from {} to {} bytes ({} bytes)",
            plan.file.display(),
            plan.old_size,
            plan.new_size,
            plan.bytes_cut()
        )?,
        Repair::Impossible(why) => writeln!(w, "  repair      not possible by cutting: {why}")?,
    }
    Ok(())
}

/// JSON document for an AOF check.
pub fn aof_to_json(r: &AofReport) -> Value {
    let parts: Vec<Value> = r
        .parts
        .iter()
        .map(|p| {
            json!({
                "file": p.file.display().to_string(),
                "role": p.role.map(|r| r.name()),
                "format": part_format(p),
                "size": p.size,
                "preamble": p.preamble.as_ref().map(to_json),
                "commands": p.commands,
                "annotations": p.annotations,
                "commands_per_name": p.commands_per_name,
                "dbs": p.dbs,
                "multi_blocks": p.multi_blocks,
                "first_timestamp": p.first_timestamp,
                "last_timestamp": p.last_timestamp,
                "ok_up_to": p.ok_up_to,
                "bytes_after": p.bytes_after(),
                "failed_command_index": p.error.as_ref().map(|_| p.commands),
                "error": p.error.as_ref().map(error_json),
            })
        })
        .collect();
    let repair = match plan_repair(r) {
        Repair::NothingToDo => json!({"action": "none"}),
        Repair::Truncate(p) => json!({
            "action": "truncate",
            "file": p.file.display().to_string(),
            "old_size": p.old_size,
            "new_size": p.new_size,
            "bytes_cut": p.bytes_cut(),
        }),
        Repair::Impossible(why) => json!({"action": "impossible", "reason": why}),
    };
    json!({
        "file": r.input.display().to_string(),
        "kind": "aof",
        "layout": match r.layout { AofLayout::Single => "single", AofLayout::MultiPart { .. } => "multi-part" },
        "manifest": match &r.layout { AofLayout::MultiPart { manifest } => Some(manifest.display().to_string()), _ => None },
        "ok": r.first_error().is_none(),
        "verdict": r.verdict().name(),
        "commands": r.commands(),
        "parts": parts,
        "error": r.first_error().map(error_json),
        "repair": repair,
    })
}
