//! FUNCTION LOAD / RESTORE / DELETE / FLUSH (functions.c): the libraries
//! the keyspace holds beside its databases, by name. Their code is kept as
//! it is, never run: an AOF logs what FCALL wrote.

use super::args::is;
use super::{Args, Replayer, Res};

impl Replayer {
    /// FUNCTION LOAD [REPLACE] code (functions.c `functionLoadCommand`): the
    /// code must carry its `#!engine name=…` line; an existing library needs
    /// REPLACE. The pre-release form (`FUNCTION LOAD Lua lib code`) is
    /// refused, as the server refuses it ("Unknown option given").
    pub(super) fn function_load(&mut self, a: &Args<'_>) -> Res {
        let (options, code) = a[2..].split_at(a.len() - 3);
        let mut replace = false;
        for o in options {
            if !is(o, "REPLACE") {
                return Err(format!("ERR Unknown option given: {}", String::from_utf8_lossy(o)));
            }
            replace = true;
        }
        let code = code[0];
        let name = library_metadata(code)?;
        if !replace && self.keyspace.functions.iter().any(|(n, _)| *n == name) {
            return Err(format!("ERR Library '{}' already exists", String::from_utf8_lossy(&name)));
        }
        self.load_function(code);
        Ok(())
    }

    /// FUNCTION RESTORE payload [APPEND|REPLACE|FLUSH] (functions.c
    /// `functionRestoreCommand`): the libraries of a `FUNCTION DUMP` payload,
    /// all or none.
    pub(super) fn function_restore(&mut self, a: &Args<'_>) -> Res {
        if a.len() > 4 {
            return Err("ERR syntax error".into());
        }
        let policy = a.get(3).map_or(b"APPEND".to_vec(), |p| p.to_ascii_uppercase());
        if !matches!(policy.as_slice(), b"APPEND" | b"REPLACE" | b"FLUSH") {
            return Err("ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.".into());
        }
        let body = crate::event::dump_payload_body(a[2])
            .map_err(|_| "ERR DUMP payload version or checksum are wrong".to_string())?;
        let libraries = function_payload_libraries(body)?;
        let mut names = Vec::with_capacity(libraries.len());
        for code in &libraries {
            let name = library_metadata(code)?;
            if names.contains(&name) {
                return Err(format!("ERR Library '{}' already exists", String::from_utf8_lossy(&name)));
            }
            names.push(name);
        }
        match policy.as_slice() {
            b"FLUSH" => self.keyspace.functions.clear(),
            b"APPEND" => {
                if let Some(n) = names.iter().find(|n| self.keyspace.functions.iter().any(|(m, _)| m == *n)) {
                    return Err(format!("ERR Library {} already exists", String::from_utf8_lossy(n)));
                }
            }
            _ => {}
        }
        for code in &libraries {
            self.load_function(code);
        }
        Ok(())
    }

    /// FUNCTION DELETE name.
    pub(super) fn function_delete(&mut self, a: &Args<'_>) -> Res {
        if !self.keyspace.functions.iter().any(|(n, _)| n == a[2]) {
            return Err("ERR Library not found".into());
        }
        self.keyspace.functions.retain(|(n, _)| n != a[2]);
        Ok(())
    }

    /// FUNCTION FLUSH [ASYNC|SYNC].
    pub(super) fn function_flush(&mut self, _: &Args<'_>) -> Res {
        self.keyspace.functions.clear();
        Ok(())
    }
}

/// The library name of `code`, checked as functions.c
/// `functionExtractLibMetaData` and `functionsCreateWithLibraryCtx` check
/// it: a first line `#!<engine> name=<name>` and nothing else, a known
/// engine, a name of letters, digits and underscores.
fn library_metadata(code: &[u8]) -> Result<Vec<u8>, String> {
    if !code.starts_with(b"#!") {
        return Err("ERR Missing library metadata".into());
    }
    let Some(end) = code.iter().position(|&c| c == b'\n') else {
        return Err("ERR Invalid library metadata".into());
    };
    let mut parts = code[2..end].split(|c| c.is_ascii_whitespace()).filter(|p| !p.is_empty());
    let engine = parts.next().unwrap_or_default();
    let mut name = None;
    for part in parts {
        match part.get(..5) {
            Some(p) if p.eq_ignore_ascii_case(b"name=") && name.is_none() => name = Some(part[5..].to_vec()),
            Some(p) if p.eq_ignore_ascii_case(b"name=") => {
                return Err("ERR Invalid metadata value, name argument was given multiple times".into())
            }
            _ => return Err(format!("ERR Invalid metadata value given: {}", String::from_utf8_lossy(part))),
        }
    }
    let name = name.ok_or("ERR Library name was not given")?;
    if name.is_empty() || !name.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_') {
        return Err("ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one \
                    character long"
            .into());
    }
    if !engine.eq_ignore_ascii_case(b"lua") {
        return Err(format!("ERR Engine '{}' not found", String::from_utf8_lossy(engine)));
    }
    Ok(name)
}

/// The library codes of a `FUNCTION DUMP` payload's records: FUNCTION2
/// records only (rdb.c's pre-release form is refused, as the server does).
fn function_payload_libraries(mut body: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    use crate::format::opcode;
    let mut libraries = Vec::new();
    while let Some((&ty, rest)) = body.split_first() {
        match ty {
            opcode::FUNCTION2 => {}
            opcode::FUNCTION_PRE_GA => return Err("ERR Pre-GA function format not supported".into()),
            _ => return Err("ERR given type is not a function".into()),
        }
        let (rest, code) =
            crate::token::string::parse_str(rest).map_err(|_| "ERR failed loading the given functions payload")?;
        libraries.push(code.bytes().map_err(|_| "ERR failed loading the given functions payload")?.into_owned());
        body = rest;
    }
    Ok(libraries)
}

/// The library name in a function's code: `#!<engine> name=<name>`.
pub(super) fn library_name(code: &[u8]) -> Option<Vec<u8>> {
    let first = code.split(|&c| c == b'\n').next()?;
    let pos = first.windows(5).position(|w| w == b"name=")?;
    let rest = &first[pos + 5..];
    Some(rest.split(|c| c.is_ascii_whitespace()).next()?.to_vec())
}
