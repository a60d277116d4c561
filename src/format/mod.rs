//! Constants of the persistence formats, named as in Redis `src/rdb.h` and Valkey's
//! `src/rdb.h`. No logic beyond small lookups lives here.
//!
//! The same byte can mean different things in the Redis and the Valkey dialect
//! (type 22, opcode 243), so every lookup takes a [`Dialect`].

pub mod crc64;
pub mod limits;
pub mod numbers;
pub mod slot;
pub mod versions;

pub use limits::EncodingLimits;
pub use versions::{rdb_version_written_by, RDB_VERSIONS};

/// Highest Redis RDB version this reader knows (Redis 8.10).
pub const MAX_REDIS_VERSION: u32 = versions::newest(Dialect::Redis, false);
/// Highest Valkey RDB version this reader knows (Valkey 9.0 / 9.1).
pub const MAX_VALKEY_VERSION: u32 = versions::newest(Dialect::Valkey, false);
/// First version of the range Valkey reserves for Redis' formats.
pub const VALKEY_FIRST_OWN_VERSION: u32 = 80;

/// Which project's meaning applies to the ambiguous bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// `REDISnnnn`: Redis, and Valkey up to 8.x (which wrote RDB 11).
    Redis,
    /// `VALKEYnnn`: Valkey 9+.
    Valkey,
}

impl Dialect {
    pub fn magic(self) -> &'static str {
        match self {
            Dialect::Redis => "REDIS",
            Dialect::Valkey => "VALKEY",
        }
    }
}

/// Opcodes, read where a type byte is expected (`RDB_OPCODE_*`).
pub mod opcode {
    pub const EOF: u8 = 255;
    pub const SELECTDB: u8 = 254;
    pub const EXPIRETIME: u8 = 253;
    pub const EXPIRETIME_MS: u8 = 252;
    pub const RESIZEDB: u8 = 251;
    pub const AUX: u8 = 250;
    pub const FREQ: u8 = 249;
    pub const IDLE: u8 = 248;
    pub const MODULE_AUX: u8 = 247;
    pub const FUNCTION_PRE_GA: u8 = 246;
    pub const FUNCTION2: u8 = 245;
    pub const SLOT_INFO: u8 = 244;
    /// Redis 8.6+: KEY_META; Valkey 9: SLOT_IMPORT.
    pub const KEY_META_OR_SLOT_IMPORT: u8 = 243;
    /// Redis 8.10: hash template registry.
    pub const HASH_TEMPLATE: u8 = 242;
    /// Redis Enterprise: RAM_LRU (a length follows, placed like IDLE).
    pub const RE_RAM_LRU: u8 = 107;
    /// Redis Enterprise: SLOT_NUM (a length follows).
    pub const RE_SLOT_NUM: u8 = 121;
}

/// Module typed-value opcodes (`RDB_MODULE_OPCODE_*`).
pub mod module_opcode {
    pub const EOF: u64 = 0;
    pub const SINT: u64 = 1;
    pub const UINT: u64 = 2;
    pub const FLOAT: u64 = 3;
    pub const DOUBLE: u64 = 4;
    pub const STRING: u64 = 5;
}

/// Quicklist node containers (`QUICKLIST_NODE_CONTAINER_*`).
pub const QUICKLIST_NODE_PLAIN: u64 = 1;
pub const QUICKLIST_NODE_PACKED: u64 = 2;

/// Stream entry flags (`STREAM_ITEM_FLAG_*`).
/// Largest hash field TTL Redis accepts, in Unix ms (ebuckets.h `EB_EXPIRE_TIME_MAX`).
pub const MAX_HASH_FIELD_TTL_MS: i64 = (1 << 48) - 1;

pub const STREAM_ITEM_FLAG_DELETED: i64 = 1;
pub const STREAM_ITEM_FLAG_SAMEFIELDS: i64 = 2;

/// Value types (`RDB_TYPE_*`), resolved for a dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Type {
    String,
    List,
    Set,
    Zset,
    Hash,
    Zset2,
    ModulePreGa,
    Module2,
    HashZipmap,
    ListZiplist,
    SetIntset,
    ZsetZiplist,
    HashZiplist,
    ListQuicklist,
    StreamListpacks,
    HashListpack,
    ZsetListpack,
    ListQuicklist2,
    StreamListpacks2,
    SetListpack,
    StreamListpacks3,
    /// Redis 7.4 release candidates (22).
    HashMetadataPreGa,
    /// Redis 7.4 release candidates (23).
    HashListpackExPreGa,
    HashMetadata,
    HashListpackEx,
    StreamListpacks4,
    StreamListpacks5,
    Array,
    /// Valkey 9 (22): hash with field TTLs.
    Hash2,
    /// Redis 8.10 hash templates (29-32).
    HashTmplLp,
    HashTmplLpRef,
    HashTmplArray,
    HashTmplArrayRef,
}

/// The user-facing kind of a key, as `TYPE` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyType {
    String,
    List,
    Set,
    Zset,
    Hash,
    Stream,
    Module,
    Array,
}

impl KeyType {
    pub const ALL: [KeyType; 8] = [
        KeyType::String,
        KeyType::List,
        KeyType::Set,
        KeyType::Zset,
        KeyType::Hash,
        KeyType::Stream,
        KeyType::Module,
        KeyType::Array,
    ];
    pub fn name(self) -> &'static str {
        match self {
            KeyType::String => "string",
            KeyType::List => "list",
            KeyType::Set => "set",
            KeyType::Zset => "zset",
            KeyType::Hash => "hash",
            KeyType::Stream => "stream",
            KeyType::Module => "module",
            KeyType::Array => "array",
        }
    }
    pub fn from_name(s: &str) -> Option<KeyType> {
        KeyType::ALL.into_iter().find(|t| t.name() == s)
    }
    /// A list, set, sorted set or hash: the types whose key the server skips
    /// on load when it holds no element (rdb.c `RDB_LOAD_ERR_EMPTY_KEY`).
    pub fn is_collection(self) -> bool {
        matches!(self, KeyType::List | KeyType::Set | KeyType::Zset | KeyType::Hash)
    }
}

impl Type {
    /// Resolve a type byte; `None` if the byte is not a value type in this dialect.
    pub fn from_byte(b: u8, dialect: Dialect) -> Option<Type> {
        use Type::*;
        Some(match (b, dialect) {
            (0, _) => String,
            (1, _) => List,
            (2, _) => Set,
            (3, _) => Zset,
            (4, _) => Hash,
            (5, _) => Zset2,
            (6, _) => ModulePreGa,
            (7, _) => Module2,
            (9, _) => HashZipmap,
            (10, _) => ListZiplist,
            (11, _) => SetIntset,
            (12, _) => ZsetZiplist,
            (13, _) => HashZiplist,
            (14, _) => ListQuicklist,
            (15, _) => StreamListpacks,
            (16, _) => HashListpack,
            (17, _) => ZsetListpack,
            (18, _) => ListQuicklist2,
            (19, _) => StreamListpacks2,
            (20, _) => SetListpack,
            (21, _) => StreamListpacks3,
            (22, Dialect::Redis) => HashMetadataPreGa,
            (22, Dialect::Valkey) => Hash2,
            (23, Dialect::Redis) => HashListpackExPreGa,
            (24, Dialect::Redis) => HashMetadata,
            (25, Dialect::Redis) => HashListpackEx,
            (26, Dialect::Redis) => StreamListpacks4,
            (27, Dialect::Redis) => StreamListpacks5,
            (28, Dialect::Redis) => Array,
            (29, Dialect::Redis) => HashTmplLp,
            (30, Dialect::Redis) => HashTmplLpRef,
            (31, Dialect::Redis) => HashTmplArray,
            (32, Dialect::Redis) => HashTmplArrayRef,
            _ => return None,
        })
    }

    /// The byte this type is stored as.
    pub fn byte(self) -> u8 {
        use Type::*;
        match self {
            String => 0,
            List => 1,
            Set => 2,
            Zset => 3,
            Hash => 4,
            Zset2 => 5,
            ModulePreGa => 6,
            Module2 => 7,
            HashZipmap => 9,
            ListZiplist => 10,
            SetIntset => 11,
            ZsetZiplist => 12,
            HashZiplist => 13,
            ListQuicklist => 14,
            StreamListpacks => 15,
            HashListpack => 16,
            ZsetListpack => 17,
            ListQuicklist2 => 18,
            StreamListpacks2 => 19,
            SetListpack => 20,
            StreamListpacks3 => 21,
            HashMetadataPreGa | Hash2 => 22,
            HashListpackExPreGa => 23,
            HashMetadata => 24,
            HashListpackEx => 25,
            StreamListpacks4 => 26,
            StreamListpacks5 => 27,
            Array => 28,
            HashTmplLp => 29,
            HashTmplLpRef => 30,
            HashTmplArray => 31,
            HashTmplArrayRef => 32,
        }
    }

    /// The label redis-check-rdb prints for this type.
    pub fn label(self) -> &'static str {
        use Type::*;
        match self {
            String => "string",
            List => "list-linked",
            Set => "set-hashtable",
            Zset => "zset-v1",
            Hash => "hash-hashtable",
            Zset2 => "zset-v2",
            ModulePreGa => "module-pre-release",
            Module2 => "module-value",
            HashZipmap => "hash-zipmap",
            ListZiplist => "list-ziplist",
            SetIntset => "set-intset",
            ZsetZiplist => "zset-ziplist",
            HashZiplist => "hash-ziplist",
            ListQuicklist => "quicklist",
            StreamListpacks => "stream",
            HashListpack => "hash-listpack",
            ZsetListpack => "zset-listpack",
            ListQuicklist2 => "quicklist-v2",
            StreamListpacks2 => "stream-v2",
            SetListpack => "set-listpack",
            StreamListpacks3 => "stream-v3",
            HashMetadataPreGa => "hash-hashtable-md-pre-release",
            HashListpackExPreGa => "hash-listpack-md-pre-release",
            HashMetadata => "hash-hashtable-md",
            HashListpackEx => "hash-listpack-md",
            StreamListpacks4 => "stream-v4",
            StreamListpacks5 => "stream-v5",
            Array => "array",
            Hash2 => "hash-2",
            HashTmplLp => "hash-template-listpack",
            HashTmplLpRef => "hash-template-listpack-ref",
            HashTmplArray => "hash-template-array",
            HashTmplArrayRef => "hash-template-array-ref",
        }
    }

    pub fn key_type(self) -> KeyType {
        use Type::*;
        match self {
            String => KeyType::String,
            List | ListZiplist | ListQuicklist | ListQuicklist2 => KeyType::List,
            Set | SetIntset | SetListpack => KeyType::Set,
            Zset | Zset2 | ZsetZiplist | ZsetListpack => KeyType::Zset,
            Hash | HashZipmap | HashZiplist | HashListpack | HashMetadataPreGa | HashListpackExPreGa | HashMetadata
            | HashListpackEx | Hash2 | HashTmplLp | HashTmplLpRef | HashTmplArray | HashTmplArrayRef => KeyType::Hash,
            StreamListpacks | StreamListpacks2 | StreamListpacks3 | StreamListpacks4 | StreamListpacks5 => {
                KeyType::Stream
            }
            ModulePreGa | Module2 => KeyType::Module,
            Array => KeyType::Array,
        }
    }

    /// Stream layout version (1-5) for stream types.
    pub fn stream_version(self) -> Option<u8> {
        Some(match self {
            Type::StreamListpacks => 1,
            Type::StreamListpacks2 => 2,
            Type::StreamListpacks3 => 3,
            Type::StreamListpacks4 => 4,
            Type::StreamListpacks5 => 5,
            _ => return None,
        })
    }
}

/// Decode the 9-character name of a module type id (`moduleTypeNameByID`).
const MODULE_CHARSET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// `moduleTypeEncodeId`: 9 name characters of 6 bits each, then 10 bits of encver.
/// Characters outside the charset encode as 0 ('A').
pub fn module_type_id(name: &str, encver: u64) -> u64 {
    let mut id = 0u64;
    for c in name.bytes().chain(std::iter::repeat(b'A')).take(9) {
        id = (id << 6) | MODULE_CHARSET.iter().position(|&x| x == c).unwrap_or(0) as u64;
    }
    (id << 10) | (encver & 1023)
}

pub fn module_type_name(id: u64) -> String {
    const CHARSET: &[u8; 64] = MODULE_CHARSET;
    let mut name = String::with_capacity(9);
    let mut bits = id >> 10;
    let mut chars = [0u8; 9];
    for c in chars.iter_mut().rev() {
        *c = CHARSET[(bits & 63) as usize];
        bits >>= 6;
    }
    name.extend(chars.iter().map(|&c| c as char));
    name
}

/// Encoding version of a module type id.
pub fn module_encver(id: u64) -> u64 {
    id & 1023
}

/// Encode a KEY_META class spec: 4 name characters (6 bits each, `keyMetaCharSet`),
/// 5 bits of version, 3 bits of flags. `None` for a name outside the charset.
pub fn key_meta_class_spec(name: &str, version: u8, flags: u8) -> Option<u32> {
    const CHARSET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
    if name.len() != 4 || version > 31 || flags > 7 {
        return None;
    }
    let mut bits = 0u32;
    for c in name.bytes() {
        bits = (bits << 6) | CHARSET.iter().position(|&x| x == c)? as u32;
    }
    Some((bits << 8) | (u32::from(version) << 3) | u32::from(flags))
}

/// Decode the 4-character class name of a KEY_META class spec (`keyMetaCharSet`:
/// `_` and `-` are swapped relative to module names).
pub fn key_meta_class_name(spec: u32) -> String {
    const CHARSET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
    let bits = spec >> 8;
    (0..4).map(|i| CHARSET[((bits >> (18 - 6 * i)) & 63) as usize] as char).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_name_from_id() {
        // "ReJSON-RL" encver 3 (docs/format/modules.md, "Module type id").
        assert_eq!(module_type_name(0x45E25238DF912C03), "ReJSON-RL");
        assert_eq!(module_encver(0x45E25238DF912C03), 3);
        assert_eq!(module_type_id("ReJSON-RL", 3), 0x45E25238DF912C03);
    }

    #[test]
    fn key_meta_class() {
        // 0x28C4F509 = "KMT1", version 1, flags 1 (docs/format/modules.md, "Key metadata").
        assert_eq!(key_meta_class_name(0x28C4F509), "KMT1");
        assert_eq!(key_meta_class_name(0x926FB6F9), "km_2");
        assert_eq!(key_meta_class_spec("KMT1", 1, 1), Some(0x28C4F509));
        assert_eq!(key_meta_class_spec("km_2", 31, 1), Some(0x926FB6F9));
    }

    #[test]
    fn dialect_decides_22() {
        assert_eq!(Type::from_byte(22, Dialect::Valkey), Some(Type::Hash2));
        assert_eq!(Type::from_byte(22, Dialect::Redis), Some(Type::HashMetadataPreGa));
        assert_eq!(Type::from_byte(24, Dialect::Valkey), None);
        assert_eq!(Type::from_byte(8, Dialect::Redis), None);
    }
}
