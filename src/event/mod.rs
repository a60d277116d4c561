//! The public event model: what an RDB or AOF file holds, one record at a time.
//!
//! Events borrow from the reader's window (the map, or the pipe buffer until the
//! next call). Values are framed, not decoded: [`Value::decode`] walks a value
//! only for the consumers that need its items. No JSON, RESP or clap here.

pub mod aof;
pub mod decode;
pub mod json;
internal_mod!(parallel);
pub mod reader;
internal_mod!(segment);
pub mod stream;
pub mod value;

pub use crate::token::record::KeyAttrs;
pub use crate::token::Item;
pub use aof::{AnnotationEvent, AofReader, AofRole, CommandEvent, RespReader};
pub use decode::{ArrayValue, BlobEncoding, Layout, Piece, Sink};
pub use reader::{RdbReader, ReaderOptions};
pub use stream::{StreamId, StreamMeta};
pub use value::OwnedValue;

use crate::format::{Dialect, KeyType, Type};
use crate::token::value::Templates;
use std::borrow::Cow;

/// One thing read from an RDB file.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event<'a> {
    /// The magic and version.
    Header { dialect: Dialect, version: u32 },
    /// An AUX field (`redis-ver`, `ctime`, …).
    Aux { key: Cow<'a, [u8]>, value: Cow<'a, [u8]> },
    /// Module data saved outside any key; kept raw.
    /// Module data outside the keyspace (MODULE_AUX): `module_id` as stored
    /// (name and encoding version), `raw` its typed values up to and
    /// including their EOF marker.
    ModuleAux { module: String, encver: u64, module_id: u64, when: u64, raw: &'a [u8] },
    /// A function library (FUNCTION2), as its source code; the 7.0 pre-GA form is
    /// converted into the same shape.
    Function { code: Cow<'a, [u8]> },
    /// Start of a database.
    SelectDb { db: u64 },
    /// Size hints.
    ResizeDb { keys: u64, expires: u64 },
    /// Cluster slot hint (Redis 7.4+).
    SlotInfo { slot: u64, keys: u64, expires: u64 },
    /// Valkey 9 slot migration in progress.
    SlotImport { name: Cow<'a, [u8]>, ranges: Vec<(u64, u64)> },
    /// Redis Enterprise SLOT_NUM hint.
    SlotNum { slot: u64 },
    /// Redis 8.10 hash template definition.
    HashTemplate { id: u64, fields: Vec<Vec<u8>> },
    /// A key and its value.
    Key(KeyEvent<'a>),
    /// End of file, with the checksum as stored and as computed.
    End { checksum: Checksum },
    /// AOF: the start of one of its files (what follows comes from that file).
    AofFile { name: std::sync::Arc<std::path::Path>, role: AofRole },
    /// AOF: an annotation line (`#TS:<unix-seconds>`).
    Annotation(AnnotationEvent<'a>),
    /// AOF: a logged command.
    Command(CommandEvent<'a>),
}

/// The trailer of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checksum {
    /// RDB versions before 5 have none.
    Absent,
    /// Stored as zero: the writer had `rdbchecksum no`.
    Disabled,
    /// Stored and equal to the computed value.
    Ok(u64),
}

/// A key record.
#[derive(Debug)]
pub struct KeyEvent<'a> {
    /// Offset of the record's first byte (its first prefix opcode or type byte).
    pub offset: u64,
    pub db: u64,
    pub key: Cow<'a, [u8]>,
    /// Expiry, LRU idle time, LFU frequency, RAM_LRU, module key metadata.
    pub attrs: KeyAttrs<'a>,
    pub value: Value<'a>,
}

impl<'a> KeyEvent<'a> {
    /// Build the event for a framed key record starting at `offset`.
    pub(crate) fn from_frame(
        offset: u64,
        db: u64,
        key: Cow<'a, [u8]>,
        frame: &crate::token::record::KeyFrame<'a>,
        templates: &'a Templates,
        file_map: Option<&'a [u8]>,
    ) -> Self {
        KeyEvent {
            offset,
            db,
            key,
            attrs: frame.attrs,
            value: Value {
                ty: frame.ty,
                raw: frame.value,
                offset: offset + frame.value_pos as u64,
                templates,
                file_map,
            },
        }
    }
}

/// One class of key metadata.
#[derive(Debug, Clone)]
pub struct KeyMetaClass<'a> {
    pub name: String,
    pub version: u8,
    pub flags: u8,
    /// The class's typed values up to and including their EOF opcode.
    pub raw: &'a [u8],
}

/// The classes of a key's module metadata (`KeyAttrs::key_meta`, the
/// RDB 13+ KEY_META body), in file order.
pub fn key_meta_classes(raw: &[u8]) -> Vec<KeyMetaClass<'_>> {
    let mut out = Vec::new();
    let Ok((mut rest, n)) = crate::token::length::parse_plain_len(raw) else {
        return out;
    };
    for _ in 0..n {
        if rest.len() < 4 {
            break;
        }
        let spec = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]);
        let body = &rest[4..];
        let Ok((after, ())) = crate::token::module::skip_typed_values(body) else {
            break;
        };
        out.push(KeyMetaClass {
            name: crate::format::key_meta_class_name(spec),
            version: ((spec >> 3) & 31) as u8,
            flags: (spec & 7) as u8,
            raw: &body[..body.len() - after.len()],
        });
        rest = after;
    }
    out
}

/// The value in a `DUMP` / `RESTORE` payload: the type byte and the value as in
/// an RDB, then the RDB version (2 bytes LE) and the CRC-64 of all before it
/// (8 bytes LE). The checksum is verified; a Redis-dialect type byte is assumed.
pub fn dump_payload_value<'a>(payload: &'a [u8], templates: &'a Templates) -> crate::error::Result<Value<'a>> {
    let body = dump_payload_body(payload)?;
    let ty = Type::from_byte(body[0], crate::format::Dialect::Redis)
        .ok_or(crate::error::Error::new(crate::error::ErrorKind::BadEncoding("DUMP payload type")))?;
    Ok(Value { ty, raw: &body[1..], offset: 0, templates, file_map: None })
}

/// The records of a `DUMP` / `FUNCTION DUMP` payload (never empty), once its
/// footer checks out: the RDB version (2 bytes LE, one this reader knows) and
/// the CRC-64 of all before it (8 bytes LE), as `verifyDumpPayload` checks.
pub fn dump_payload_body(payload: &[u8]) -> crate::error::Result<&[u8]> {
    use crate::error::{Error, ErrorKind};
    let bad = |what| Error::new(ErrorKind::BadEncoding(what));
    if payload.len() < 11 {
        return Err(bad("DUMP payload too short"));
    }
    let (body, footer) = payload.split_at(payload.len() - 10);
    let version = u16::from_le_bytes([footer[0], footer[1]]);
    let stored = u64::from_le_bytes(footer[2..10].try_into().map_err(|_| bad("DUMP payload footer"))?);
    let computed = crc_fast::checksum(crc_fast::CrcAlgorithm::Crc64Redis, &payload[..payload.len() - 8]);
    if stored != computed {
        return Err(Error::new(ErrorKind::ChecksumMismatch { stored, computed }));
    }
    if u32::from(version) > crate::format::MAX_REDIS_VERSION {
        return Err(Error::new(ErrorKind::UnsupportedVersion(u32::from(version))));
    }
    Ok(body)
}

/// A value that can hand out its pieces, as many times as needed: a framed
/// value from an RDB, or an owned one (read from a JSON dump, or replayed).
pub trait ValueSource {
    fn key_type(&self) -> KeyType;
    fn pieces(&self, sink: &mut dyn Sink) -> crate::error::Result<()>;

    /// A string value's length, and its integer when it is the exact
    /// decimal form of one, where that is cheaper than its bytes (a
    /// compressed string is validated, not decompressed); `None`: read the
    /// pieces.
    fn string_info(&self) -> Option<crate::error::Result<StringInfo>> {
        None
    }
}

/// What a string value is, short of its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StringInfo {
    pub len: usize,
    /// The value as an integer, if its bytes are the exact decimal form of one.
    pub int: Option<i64>,
}

impl ValueSource for Value<'_> {
    fn key_type(&self) -> KeyType {
        Value::key_type(self)
    }
    fn pieces(&self, sink: &mut dyn Sink) -> crate::error::Result<()> {
        self.decode(sink)
    }
    fn string_info(&self) -> Option<crate::error::Result<StringInfo>> {
        (self.ty == Type::String).then(|| decode::string_info(self))
    }
}

/// A framed value: its type and raw bytes, decoded on demand.
#[derive(Debug, Clone, Copy)]
pub struct Value<'a> {
    pub ty: Type,
    /// The value's bytes as stored, after the key name.
    pub raw: &'a [u8],
    /// Absolute offset of `raw[0]`.
    pub offset: u64,
    pub(crate) templates: &'a Templates,
    /// The read-only file-backed map `raw` came from (a mapped input or a
    /// pipe's spill file), if any: a walk through a huge value inside it may
    /// drop the pages behind it from memory.
    pub(crate) file_map: Option<&'a [u8]>,
}

impl<'a> Value<'a> {
    pub fn key_type(&self) -> KeyType {
        self.ty.key_type()
    }

    /// Validate the value completely without handing out its pieces: the same
    /// verdict as [`Value::decode`], cheaper where pieces need not be built
    /// (string values are checked without decompressing them).
    pub fn validate(&self, sink: &mut dyn Sink) -> crate::error::Result<()> {
        if self.ty == Type::String {
            return decode::validate_string(self);
        }
        self.decode(sink)
    }

    /// Walk the value, handing every piece to `sink`, validating as it goes.
    pub fn decode(&self, sink: &mut dyn Sink) -> crate::error::Result<()> {
        decode::decode_value(self, sink)
    }
}
