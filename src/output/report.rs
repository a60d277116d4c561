//! Printing `check` reports: a human summary, or one JSON document per file.

use crate::cmd::check::{CheckReport, Verdict};
use crate::error::Error;
use crate::escape::escape_bytes;
use crate::event::Checksum;
use crate::output::json::write_bytes;
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
    writeln!(w, "  checksum    {}", checksum_text(r.checksum))?;
    if r.trailing_bytes > 0 {
        writeln!(w, "  warning     {} bytes after the checksum (ignored by Redis)", r.trailing_bytes)?;
    }
    Ok(())
}

/// One-line error text without the file name (the report names it).
pub fn error_text(e: &Error) -> String {
    let mut e = e.clone();
    e.file = None;
    e.to_string()
}

/// The error as JSON.
pub fn error_json(e: &Error) -> Value {
    json!({
        "class": e.kind.class(),
        "message": error_text(e),
        "file": e.file.as_ref().map(|f| f.display().to_string()),
        "offset": e.offset,
        "offset_hex": e.offset.map(|o| format!("{o:#x}")),
        "doing": e.doing.map(|d| d.to_string()),
        "key": e.key.as_ref().map(|k| lossy(k)),
    })
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
        "verdict": match r.verdict() {
            Verdict::Valid => "valid",
            Verdict::Damaged => "damaged",
            Verdict::Unsupported => "unsupported",
            Verdict::Failed => "error",
        },
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
        "hashes_with_field_ttls": r.hashes_with_field_ttls,
        "keys_with_meta": r.keys_with_meta,
        "checksum": checksum,
        "checksum_value": checksum_value,
        "trailing_bytes": r.trailing_bytes,
        "warnings": r.warnings,
        "error": r.error.as_ref().map(error_json),
    })
}
