//! Top-level records of an RDB body: one opcode record, or one key with the
//! per-key opcodes (expire, idle, freq, KEY_META) that precede its type byte.

use super::length::parse_plain_len;
use super::module::skip_typed_values;
use super::string::{parse_str, RdbStr};
use super::value::{frame_value, Templates};
use super::{fail, TResult};
use crate::error::ErrorKind;
use crate::format::{opcode, Dialect, Type};
use nom::bytes::streaming::take;
use nom::number::streaming::{le_i32, le_i64, le_u32, u8 as byte};

/// The 9-byte header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub dialect: Dialect,
    pub version: u32,
}

/// Parse `REDISnnnn` or `VALKEYnnn`. Digits must be digits (Redis' `atoi` would
/// accept garbage; we are stricter and say so).
pub fn parse_header(i: &[u8]) -> TResult<'_, Header> {
    let (rest, magic) = take(9usize)(i)?;
    let (dialect, digits) = if magic.starts_with(b"REDIS") {
        (Dialect::Redis, &magic[5..])
    } else if magic.starts_with(b"VALKEY") {
        (Dialect::Valkey, &magic[6..])
    } else {
        return fail(i, ErrorKind::BadMagic);
    };
    if !digits.iter().all(u8::is_ascii_digit) {
        return fail(i, ErrorKind::BadMagic);
    }
    let version = digits.iter().fold(0u32, |v, d| v * 10 + u32::from(d - b'0'));
    Ok((rest, Header { dialect, version }))
}

/// What a key carries besides its database, name and value: in an RDB, what
/// the opcodes before its type byte set. The one per-key attribute struct of
/// the crate (re-exported as `event::KeyAttrs`): the readers fill it, so do
/// the dump reader and the replay, and every writer writes from it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyAttrs<'a> {
    pub expire_at_ms: Option<i64>,
    pub idle_s: Option<u64>,
    pub freq: Option<u8>,
    /// Redis Enterprise RAM_LRU (opcode 107).
    pub ram_lru: Option<u64>,
    /// Redis 8.6+ KEY_META body (after the opcode byte), kept raw.
    pub key_meta: Option<&'a [u8]>,
}

/// One key: its attributes, type, name and the raw bytes of its value.
#[derive(Debug, Clone, Copy)]
pub struct KeyFrame<'a> {
    pub attrs: KeyAttrs<'a>,
    pub ty: Type,
    pub key: RdbStr<'a>,
    /// Position of the value's first byte from the start of the record.
    pub value_pos: usize,
    pub value: &'a [u8],
}

/// One top-level record.
#[derive(Debug, Clone)]
pub enum Record<'a> {
    Aux {
        key: RdbStr<'a>,
        value: RdbStr<'a>,
    },
    SelectDb(u64),
    ResizeDb {
        keys: u64,
        expires: u64,
    },
    SlotInfo {
        slot: u64,
        keys: u64,
        expires: u64,
    },
    /// Valkey 9 atomic slot migration job.
    SlotImport {
        name: RdbStr<'a>,
        ranges: Vec<(u64, u64)>,
    },
    ModuleAux {
        module_id: u64,
        when: u64,
        raw: &'a [u8],
    },
    Function(RdbStr<'a>),
    FunctionPreGa {
        name: RdbStr<'a>,
        engine: RdbStr<'a>,
        code: RdbStr<'a>,
    },
    HashTemplate {
        id: u64,
        fields: Vec<RdbStr<'a>>,
    },
    /// Redis Enterprise SLOT_NUM (opcode 121).
    SlotNum(u64),
    Key(KeyFrame<'a>),
    Eof,
}

/// Where a failure was, for error messages: which part of a key record.
#[derive(Debug, Clone, Copy)]
pub enum KeyContext<'a> {
    NotAKey,
    InPrefix,
    InKeyName,
    InValue(Type, RdbStr<'a>),
}

/// Parse a KEY_META body (after the opcode): class count, then per class a
/// 4-byte spec and module typed values. Returns its raw bytes.
fn parse_key_meta(i: &[u8]) -> TResult<'_, &[u8]> {
    let (mut rest, n) = parse_plain_len(i)?;
    if n > 7 {
        return fail(i, ErrorKind::BadLength("KEY_META with more than 7 classes"));
    }
    for _ in 0..n {
        let (r, _spec) = le_u32(rest)?;
        rest = skip_typed_values(r)?.0;
    }
    Ok((rest, &i[..i.len() - rest.len()]))
}

/// Parse the next record, in the given dialect.
pub fn parse_record<'a>(i: &'a [u8], dialect: Dialect, templates: &Templates) -> TResult<'a, Record<'a>> {
    let (rest, op) = byte(i)?;
    match op {
        opcode::EOF => Ok((rest, Record::Eof)),
        opcode::SELECTDB => parse_plain_len(rest).map(|(r, db)| (r, Record::SelectDb(db))),
        opcode::RESIZEDB => {
            let (r, keys) = parse_plain_len(rest)?;
            let (r, expires) = parse_plain_len(r)?;
            Ok((r, Record::ResizeDb { keys, expires }))
        }
        opcode::AUX => {
            let (r, key) = parse_str(rest)?;
            let (r, value) = parse_str(r)?;
            Ok((r, Record::Aux { key, value }))
        }
        opcode::MODULE_AUX => {
            let (r, module_id) = parse_plain_len(rest)?;
            let (r, when_op) = parse_plain_len(r)?;
            if when_op != crate::format::module_opcode::UINT {
                return fail(rest, ErrorKind::BadEncoding("bad when_opcode in MODULE_AUX"));
            }
            let (r, when) = parse_plain_len(r)?;
            let start = r;
            let (r, ()) = skip_typed_values(r)?;
            Ok((r, Record::ModuleAux { module_id, when, raw: &start[..start.len() - r.len()] }))
        }
        opcode::FUNCTION2 => parse_str(rest).map(|(r, s)| (r, Record::Function(s))),
        opcode::FUNCTION_PRE_GA => {
            let (r, name) = parse_str(rest)?;
            let (r, engine) = parse_str(r)?;
            let (r, has_desc) = parse_plain_len(r)?;
            // The description is read past: no output of ours shows it, and
            // a function is rewritten from its code alone.
            let r = if has_desc != 0 { parse_str(r)?.0 } else { r };
            let (r, code) = parse_str(r)?;
            Ok((r, Record::FunctionPreGa { name, engine, code }))
        }
        opcode::SLOT_INFO => {
            let (r, slot) = parse_plain_len(rest)?;
            let (r, keys) = parse_plain_len(r)?;
            let (r, expires) = parse_plain_len(r)?;
            Ok((r, Record::SlotInfo { slot, keys, expires }))
        }
        opcode::KEY_META_OR_SLOT_IMPORT if dialect == Dialect::Valkey => {
            let (r, name) = parse_str(rest)?;
            let (mut r, n) = parse_plain_len(r)?;
            let mut ranges = Vec::new();
            for _ in 0..n {
                let (r2, start) = parse_plain_len(r)?;
                let (r2, end) = parse_plain_len(r2)?;
                ranges.push((start, end));
                r = r2;
            }
            Ok((r, Record::SlotImport { name, ranges }))
        }
        opcode::HASH_TEMPLATE if dialect == Dialect::Redis => {
            let (r, id) = parse_plain_len(rest)?;
            let (mut r, n) = parse_plain_len(r)?;
            let mut fields = Vec::new();
            for _ in 0..n {
                let (r2, f) = parse_str(r)?;
                fields.push(f);
                r = r2;
            }
            Ok((r, Record::HashTemplate { id, fields }))
        }
        opcode::RE_SLOT_NUM if dialect == Dialect::Redis => parse_plain_len(rest).map(|(r, v)| (r, Record::SlotNum(v))),
        _ => parse_key(i, dialect, templates).map(|(r, k)| (r, Record::Key(k))),
    }
}

/// One per-key opcode (`b`, its body at `r`) into `prefix`: the bytes after
/// it, or `None` when `b` is not a per-key opcode.
fn prefix_opcode<'a>(
    b: u8,
    r: &'a [u8],
    dialect: Dialect,
    prefix: &mut KeyAttrs<'a>,
) -> Option<Result<&'a [u8], nom::Err<super::TokenError>>> {
    Some(match b {
        opcode::EXPIRETIME_MS => le_i64(r).map(|(r, ms)| {
            prefix.expire_at_ms = Some(ms);
            r
        }),
        opcode::EXPIRETIME => le_i32(r).map(|(r, s)| {
            prefix.expire_at_ms = Some(i64::from(s) * 1000);
            r
        }),
        opcode::IDLE => parse_plain_len(r).map(|(r, v)| {
            prefix.idle_s = Some(v);
            r
        }),
        opcode::FREQ => byte(r).map(|(r, v)| {
            prefix.freq = Some(v);
            r
        }),
        opcode::RE_RAM_LRU if dialect == Dialect::Redis => parse_plain_len(r).map(|(r, v)| {
            prefix.ram_lru = Some(v);
            r
        }),
        opcode::KEY_META_OR_SLOT_IMPORT if dialect == Dialect::Redis => parse_key_meta(r).and_then(|(r, meta)| {
            prefix.key_meta = Some(meta);
            // Redis requires the type byte right after the metadata.
            let (_, next) = byte(r)?;
            match Type::from_byte(next, dialect) {
                Some(_) => Ok(r),
                None => fail(r, ErrorKind::BadEncoding("KEY_META not followed by a value type")).map(|(r, ())| r),
            }
        }),
        _ => return None,
    })
}

/// Parse a key record: prefix opcodes, type, key, value.
fn parse_key<'a>(i: &'a [u8], dialect: Dialect, templates: &Templates) -> TResult<'a, KeyFrame<'a>> {
    let mut prefix = KeyAttrs::default();
    let mut rest = i;
    let ty = loop {
        let at = rest;
        let (r, b) = byte(rest)?;
        if let Some(read) = prefix_opcode(b, r, dialect, &mut prefix) {
            rest = read?;
            continue;
        }
        match Type::from_byte(b, dialect) {
            Some(ty) => {
                rest = r;
                break ty;
            }
            None => return fail(at, ErrorKind::BadEncoding("invalid object type or opcode")),
        }
    };
    let (r, key) = parse_str(rest)?;
    let value_pos = i.len() - r.len();
    let (r, ()) = frame_value(r, ty, templates)?;
    let value = &i[value_pos..i.len() - r.len()];
    Ok((r, KeyFrame { attrs: prefix, ty, key, value_pos, value }))
}

/// Whether `b` starts a top-level record that is not a key.
fn is_record_opcode(b: u8, dialect: Dialect) -> bool {
    match b {
        opcode::EOF
        | opcode::SELECTDB
        | opcode::RESIZEDB
        | opcode::AUX
        | opcode::MODULE_AUX
        | opcode::FUNCTION2
        | opcode::FUNCTION_PRE_GA
        | opcode::SLOT_INFO => true,
        opcode::KEY_META_OR_SLOT_IMPORT => dialect == Dialect::Valkey,
        opcode::HASH_TEMPLATE | opcode::RE_SLOT_NUM => dialect == Dialect::Redis,
        _ => false,
    }
}

/// Per-key opcodes (expiry, LRU idle, LFU frequency) followed by another
/// record instead of their key, as KeyDB writes them (an AUX `mvcc-tstamp`
/// between EXPIRETIME_MS and the key). The loader accepts this: it keeps what
/// these opcodes set across any other record until a key takes it, and resets
/// it only after a key (rdb.c `rdbLoadRioWithLoadingCtx`). Returns the length
/// of the opcodes and what they set; `None` when `i` does not start so (a key
/// record, another record, or too few bytes to tell).
pub fn carried_prefix(i: &[u8], dialect: Dialect) -> Option<(usize, KeyAttrs<'static>)> {
    let mut prefix = KeyAttrs::default();
    let mut rest = i;
    loop {
        let (r, b) = byte::<_, super::TokenError>(rest).ok()?;
        match prefix_opcode(b, r, dialect, &mut prefix) {
            Some(read) => rest = read.ok()?,
            None if rest.len() < i.len() && is_record_opcode(b, dialect) => break,
            None => return None,
        }
    }
    Some((i.len() - rest.len(), prefix.without_meta()))
}

impl<'a> KeyAttrs<'a> {
    /// The same attributes but the module metadata, which borrows the
    /// record: what can be kept once the record is gone.
    pub fn without_meta(&self) -> KeyAttrs<'static> {
        let KeyAttrs { expire_at_ms, idle_s, freq, ram_lru, key_meta: _ } = *self;
        KeyAttrs { expire_at_ms, idle_s, freq, ram_lru, key_meta: None }
    }

    /// These attributes, with those `carried` from before set where the
    /// key's own opcodes did not set them (a later opcode overwrites an
    /// earlier one, as in the loader).
    pub fn after(self, carried: KeyAttrs<'static>) -> KeyAttrs<'a> {
        KeyAttrs {
            expire_at_ms: self.expire_at_ms.or(carried.expire_at_ms),
            idle_s: self.idle_s.or(carried.idle_s),
            freq: self.freq.or(carried.freq),
            ram_lru: self.ram_lru.or(carried.ram_lru),
            key_meta: self.key_meta,
        }
    }
}

/// After a failure inside a key record, find out how far it got (for the error
/// message). Only called on the error path.
pub fn key_context<'a>(i: &'a [u8], dialect: Dialect) -> KeyContext<'a> {
    let Ok((_, op)) = byte::<_, super::TokenError>(i) else {
        return KeyContext::NotAKey;
    };
    let is_prefix = matches!(op, opcode::EXPIRETIME_MS | opcode::EXPIRETIME | opcode::IDLE | opcode::FREQ)
        || (dialect == Dialect::Redis && matches!(op, opcode::KEY_META_OR_SLOT_IMPORT | opcode::RE_RAM_LRU));
    if !is_prefix && Type::from_byte(op, dialect).is_none() {
        return KeyContext::NotAKey;
    }
    let mut rest = i;
    loop {
        let Ok((r, b)) = byte::<_, super::TokenError>(rest) else {
            return KeyContext::InPrefix;
        };
        let skipped: Result<&[u8], ()> = match b {
            opcode::EXPIRETIME_MS => take::<_, _, super::TokenError>(8usize)(r).map(|x| x.0).map_err(|_| ()),
            opcode::EXPIRETIME => take::<_, _, super::TokenError>(4usize)(r).map(|x| x.0).map_err(|_| ()),
            opcode::FREQ => take::<_, _, super::TokenError>(1usize)(r).map(|x| x.0).map_err(|_| ()),
            opcode::IDLE => parse_plain_len(r).map(|x| x.0).map_err(|_| ()),
            opcode::RE_RAM_LRU if dialect == Dialect::Redis => parse_plain_len(r).map(|x| x.0).map_err(|_| ()),
            opcode::KEY_META_OR_SLOT_IMPORT if dialect == Dialect::Redis => {
                parse_key_meta(r).map(|x| x.0).map_err(|_| ())
            }
            b => {
                let Some(ty) = Type::from_byte(b, dialect) else {
                    return KeyContext::InPrefix;
                };
                return match parse_str(r) {
                    Ok((_, key)) => KeyContext::InValue(ty, key),
                    Err(_) => KeyContext::InKeyName,
                };
            }
        };
        match skipped {
            Ok(r) => rest = r,
            Err(()) => return KeyContext::InPrefix,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_forms() {
        let h = parse_header(b"REDIS0011").unwrap().1;
        assert_eq!((h.dialect, h.version), (Dialect::Redis, 11));
        let h = parse_header(b"VALKEY080").unwrap().1;
        assert_eq!((h.dialect, h.version), (Dialect::Valkey, 80));
        assert!(parse_header(b"REDIS00x1").is_err());
        assert!(parse_header(b"RUBIS0011").is_err());
        assert!(matches!(parse_header(b"REDIS"), Err(nom::Err::Incomplete(_))));
    }

    #[test]
    fn key_meta_example() {
        // The worked KEY_META value in docs/format/modules.md, "Key metadata".
        let b = [0xf3, 0x01, 0x09, 0xf5, 0xc4, 0x28, 0x02, 0x2a, 0x00, 0x00, 0x01, b'k', 0x01, b'v'];
        let (rest, rec) = parse_record(&b, Dialect::Redis, &Templates::default()).unwrap();
        assert!(rest.is_empty());
        let Record::Key(k) = rec else { panic!("not a key") };
        assert_eq!(k.ty, Type::String);
        assert_eq!(k.key, RdbStr::Raw(b"k"));
        assert_eq!(k.attrs.key_meta, Some(&b[1..9]));
        // The same byte in a Valkey file is SLOT_IMPORT.
        assert!(!matches!(parse_record(&b, Dialect::Valkey, &Templates::default()), Ok((_, Record::Key(_)))));
    }
}
