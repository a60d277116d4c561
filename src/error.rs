//! The one error type of the crate: a small matchable kind plus where it happened
//! (file, absolute byte offset, what was being read, which key).
//!
//! Token parsers only know a kind and how much input was left; the readers turn
//! that into an absolute offset and add the file, phase and key.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

/// What went wrong, small and `Copy` so callers can match on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Not an RDB/AOF file at all (bad magic).
    BadMagic,
    /// The version is newer than this reader knows, or invalid for its magic.
    UnsupportedVersion(u32),
    /// A feature we recognise but cannot read (e.g. pre-GA module values).
    Unsupported(&'static str),
    /// The input ended inside a record.
    Truncated,
    /// One record would need more memory than `--max-record` allows (pipes only).
    RecordTooLarge,
    /// The stored CRC-64 does not match the computed one.
    ChecksumMismatch { stored: u64, computed: u64 },
    /// A length field that cannot be right (too large, wrong form).
    BadLength(&'static str),
    /// A byte that is not a valid type, opcode or encoding here.
    BadEncoding(&'static str),
    /// The structure decodes but breaks a consistency rule Redis checks.
    Integrity(Integrity),
    /// A list, set, sorted set or hash with no elements. Not damage: the
    /// server skips such a key on load (rdb.c `RDB_LOAD_ERR_EMPTY_KEY`), so
    /// writers refuse it with this kind and commands leave it out, counted.
    EmptyKey,
    /// Reading or writing failed.
    Io(std::io::ErrorKind),
    /// The input (or output) named is not one the command can take: a
    /// directory without a manifest, an RDB given to `fix`, … Nothing is
    /// wrong with its content.
    Input(InputProblem),
    /// Wrong use of the command line, or of the library's API.
    Usage(&'static str),
}

/// Error class names used in JSON output; stable, for scripts.
impl ErrorKind {
    pub fn class(&self) -> &'static str {
        match self {
            ErrorKind::BadMagic => "bad_magic",
            ErrorKind::UnsupportedVersion(_) => "unsupported_version",
            ErrorKind::Unsupported(_) => "unsupported_feature",
            ErrorKind::Truncated => "truncated",
            ErrorKind::RecordTooLarge => "record_too_large",
            ErrorKind::ChecksumMismatch { .. } => "checksum_mismatch",
            ErrorKind::BadLength(_) => "bad_length",
            ErrorKind::BadEncoding(_) => "bad_encoding",
            ErrorKind::Integrity(_) => "integrity",
            ErrorKind::EmptyKey => "empty_key",
            ErrorKind::Io(_) => "io",
            ErrorKind::Input(_) => "input",
            ErrorKind::Usage(_) => "usage",
        }
    }

    /// What the error makes of the input: the one mapping from kinds to exit
    /// classes, read by `check`'s reports and the CLI's exit codes. Never
    /// [`Verdict::Valid`].
    pub fn verdict(&self) -> Verdict {
        match self {
            ErrorKind::BadMagic
            | ErrorKind::Truncated
            | ErrorKind::ChecksumMismatch { .. }
            | ErrorKind::BadLength(_)
            | ErrorKind::BadEncoding(_)
            | ErrorKind::Integrity(_)
            | ErrorKind::EmptyKey => Verdict::Damaged,
            ErrorKind::UnsupportedVersion(_) | ErrorKind::Unsupported(_) | ErrorKind::RecordTooLarge => {
                Verdict::Unsupported
            }
            ErrorKind::Io(_) | ErrorKind::Input(_) | ErrorKind::Usage(_) => Verdict::Failed,
        }
    }
}

/// Exit status classes, in the order a multi-file run ranks them; an error's
/// is [`ErrorKind::verdict`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verdict {
    /// No error (exit 0).
    Valid,
    /// The input breaks the format or a rule the server checks (exit 1).
    Damaged,
    /// The input holds something this tool cannot read, or not within the
    /// limits it was given (exit 3).
    Unsupported,
    /// Nothing was judged: I/O failed, or the input or the command line is
    /// not one the command can take (exit 2).
    Failed,
}

impl Verdict {
    /// As the JSON reports name it.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Valid => "valid",
            Verdict::Damaged => "damaged",
            Verdict::Unsupported => "unsupported",
            Verdict::Failed => "error",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::BadMagic => write!(f, "not an RDB file (expected magic \"REDIS\" or \"VALKEY\" and a version)"),
            ErrorKind::UnsupportedVersion(v) => write!(
                f,
                "RDB version {v} is not supported (this reader knows Redis 1-{} and Valkey {})",
                crate::format::MAX_REDIS_VERSION,
                crate::format::MAX_VALKEY_VERSION
            ),
            ErrorKind::Unsupported(what) => write!(f, "unsupported: {what}"),
            ErrorKind::Truncated => write!(f, "unexpected end of file"),
            ErrorKind::RecordTooLarge => write!(f, "record larger than --max-record"),
            ErrorKind::ChecksumMismatch { stored, computed } => {
                write!(f, "checksum mismatch: file says {stored:#018x}, content gives {computed:#018x}")
            }
            ErrorKind::BadLength(what) => write!(f, "bad length: {what}"),
            ErrorKind::BadEncoding(what) => write!(f, "bad encoding: {what}"),
            ErrorKind::Integrity(what) => write!(f, "integrity check failed: {}", what.reason()),
            ErrorKind::EmptyKey => write!(f, "an empty collection, which the server skips on load"),
            ErrorKind::Io(k) => write!(f, "I/O error: {k}"),
            ErrorKind::Input(what) => f.write_str(what.message()),
            ErrorKind::Usage(what) => write!(f, "{what}"),
        }
    }
}

/// A consistency rule the structure breaks: each one Redis (or Valkey) checks
/// when it loads the file, named after the function that checks it, unless
/// the last group says otherwise. [`Integrity::reason`] is the text users see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Integrity {
    // Ziplists (RDB 2-9 lists, hashes, sorted sets, quicklist nodes): ziplist.c `ziplistValidateIntegrity`.
    /// Shorter than the 10-byte header and the end byte (`ziplistValidateIntegrity`).
    ZiplistTooShort,
    /// The `zlbytes` header differs from the length of the string that holds the ziplist (`ziplistValidateIntegrity`).
    ZiplistBytesMismatch,
    /// The `zltail` header points past the end byte (`ziplistValidateIntegrity`).
    ZiplistTailOutOfRange,
    /// The last byte is not the 0xFF end marker (`ziplistValidateIntegrity`).
    ZiplistNoEndByte,
    /// An entry's encoding or content reaches past the end byte (`zipEntrySafe`).
    ZiplistEntryPastEnd,
    /// An entry's encoding byte is none that ziplist.c writes (`zipEntrySafe`, `ZIP_ASSERT_ENCODING`).
    ZiplistBadEntryEncoding,
    /// A 5-byte previous-entry length reaches past the end byte (`zipEntrySafe`).
    ZiplistPrevlenPastEnd,
    /// A previous-entry length starts with 0xFF, which only the end marker may (`zipEntrySafe`).
    ZiplistBadPrevlen,
    /// An entry's previous-entry length is not the size of the entry before it (`ziplistValidateIntegrity`).
    ZiplistPrevlenMismatch,
    /// The last entry does not end exactly at the end byte (`ziplistValidateIntegrity`).
    ZiplistEntriesOverrunEnd,
    /// The `zltail` header does not point at the last entry (`ziplistValidateIntegrity`).
    ZiplistTailNotLastEntry,
    /// The `zllen` header is neither 65535 ("count them") nor the number of entries (`ziplistValidateIntegrity`).
    ZiplistCountMismatch,

    // Listpacks (RDB 10+ small collections, quicklist nodes, stream nodes): listpack.c `lpValidateIntegrity`.
    /// Shorter than the 6-byte header and the end byte (`lpValidateIntegrity`).
    ListpackTooShort,
    /// The total-bytes header differs from the length of the string that holds the listpack (`lpValidateIntegrity`).
    ListpackBytesMismatch,
    /// The last byte is not the 0xFF end marker (`lpValidateIntegrity`).
    ListpackNoEndByte,
    /// An entry's encoding or content reaches past the end byte (`lpValidateNext`).
    ListpackEntryPastEnd,
    /// A string entry's length overflows the address space (`lpValidateNext`).
    ListpackStringTooLong,
    /// An entry's encoding byte is none that listpack.c writes (`lpValidateNext`).
    ListpackBadEntryEncoding,
    /// The 0xFF end marker where an entry should start, before the end of the string (`lpValidateIntegrity`).
    ListpackEarlyEndByte,
    /// An entry's back-length reaches past the end byte (`lpValidateNext`).
    ListpackBacklenPastEnd,
    /// An entry's back-length is not the encoding of its size (`lpValidateNext`).
    ListpackBacklenMismatch,
    /// The element-count header is neither 65535 ("count them") nor the number of entries (`lpValidateIntegrity`).
    ListpackCountMismatch,

    // Intsets (RDB 2+ sets of integers): intset.c `intsetValidateIntegrity`.
    /// Shorter than the 8-byte header (`intsetValidateIntegrity`).
    IntsetTooShort,
    /// The member width is not 2, 4 or 8 bytes (`intsetValidateIntegrity`).
    IntsetBadEncoding,
    /// Header plus count times width is not the length of the string (`intsetValidateIntegrity`).
    IntsetSizeMismatch,
    /// No members (`intsetValidateIntegrity`).
    IntsetEmpty,
    /// Members out of order or repeated (`intsetValidateIntegrity`, deep).
    IntsetNotAscending,

    // Zipmaps (RDB 2 hashes from Redis 2.4): zipmap.c `zipmapValidateIntegrity`.
    /// Shorter than the count byte and the end byte (`zipmapValidateIntegrity`).
    ZipmapTooShort,
    /// The last byte is not the 0xFF end marker (`zipmapValidateIntegrity`).
    ZipmapNoEndByte,
    /// A length or free-space byte lies past the end of the string (`zipmapValidateIntegrity`).
    ZipmapPastEnd,
    /// A 5-byte length reaches past the end of the string (`zipmapValidateIntegrity`).
    ZipmapLengthPastEnd,
    /// A 5-byte length holding a value below 254, which zipmap.c writes in one byte (`zipmapEncodeLength`).
    ZipmapLongFormShortLength,
    /// A field, value or free space reaches past the end byte (`zipmapValidateIntegrity`).
    ZipmapEntryPastEnd,
    /// The end marker where a field's value should be (`zipmapValidateIntegrity`).
    ZipmapFieldWithoutValue,
    /// The entries end before the last byte of the string (`zipmapValidateIntegrity`).
    ZipmapBytesAfterEnd,
    /// No entries (`zipmapValidateIntegrity`).
    ZipmapEmpty,
    /// The count byte is neither 254 ("count them") nor the number of entries (`zipmapValidateIntegrity`).
    ZipmapCountMismatch,

    // Strings.
    /// LZF data that does not decompress to its stated length (rdb.c `rdbLoadLzfStringObject`).
    LzfInvalid,
    /// An LZF string whose decompressed length is 0, which no server writes and `lzf_decompress` cannot produce
    /// (`rdbLoadLzfStringObject`).
    LzfZeroLength,
    /// A decompressed length that LZF cannot reach from this many compressed bytes (`rdbLoadLzfStringObject` would fail
    /// in `lzf_decompress`).
    LzfImpossibleLength,

    // Values: rdb.c `rdbLoadObject`.
    /// Decoding a value ends before the bytes its record spans (the value's lengths disagree with each other).
    ValueTrailingBytes,
    /// A hash or sorted set ziplist/listpack with an odd number of entries (`ziplistPairsConvertAndValidateIntegrity`,
    /// `lpValidateIntegrityAndDups`).
    OddPairList,
    /// A sorted set score that is NaN (`rdbLoadObject`: "Zset with NAN score detected").
    ZsetScoreNan,
    /// A set member stored twice (`rdbLoadObject`: "Duplicate set members detected"; `lpValidateIntegrityAndDups`).
    DuplicateSetMember,
    /// A sorted set member stored twice (`rdbLoadObject`: "Duplicate zset fields detected";
    /// `lpValidateIntegrityAndDups`).
    DuplicateZsetMember,
    /// A hash field stored twice (`rdbLoadObject`: "Duplicate hash fields detected"; `lpValidateIntegrityAndDups`).
    DuplicateHashField,
    /// A quicklist node stored as an empty string (`rdbLoadObject` refuses `encoded_len == 0`).
    QuicklistEmptyNode,
    /// A quicklist node container that is neither PLAIN nor PACKED (`rdbLoadObject`: "Quicklist integrity check
    /// failed.").
    QuicklistBadContainer,

    // Hash field expiry (Redis 7.4+ `RDB_TYPE_HASH_METADATA`/`_LISTPACK_EX`, Valkey 9 `HASH_2`).
    /// The hash's minimum expire time is past `EB_EXPIRE_TIME_INVALID` (`rdbLoadObject`: "Hash read invalid minExpire
    /// value").
    HashMinExpireInvalid,
    /// A field's expire time is past `EB_EXPIRE_TIME_MAX` (`rdbLoadObject`: "invalid expireAt time").
    HashFieldExpireAtInvalid,
    /// A Valkey `HASH_2` field expiry below -1, the value meaning "none".
    HashFieldExpiryBelowMinusOne,
    /// A listpack-ex TTL entry that is not an integer from 0 to `EB_EXPIRE_TIME_MAX` (rdb.c `_lpEntryValidation`).
    HashFieldTtlInvalid,
    /// Listpack-ex fields with a TTL not first, in non-decreasing order (rdb.c `_lpEntryValidation`).
    HashFieldTtlsOutOfOrder,
    /// A listpack-ex whose entries are not (field, value, TTL) triples (`lpValidateIntegrityAndDups`).
    HashListpackExNotTriples,

    // Streams: t_stream.c `streamValidateListpackIntegrity` for a node's listpack, `rdbLoadObject` for the rest.
    /// A node key that is not a 16-byte stream ID (`rdbLoadObject`: "Stream node key entry is not the size of a stream
    /// ID").
    StreamNodeKeyNotId,
    /// Two nodes with the same key (`rdbLoadObject`: "Listpack re-added with existing key").
    StreamDuplicateNodeKey,
    /// A node whose listpack is empty (`rdbLoadObject`: "Empty listpack inside stream").
    StreamEmptyNode,
    /// A length above 0 with no nodes (`rdbLoadObject`: "Stream length inconsistent with rax entries").
    StreamLengthWithoutNodes,
    /// The master entry's entry count is missing or not an integer (`streamValidateListpackIntegrity`).
    StreamMasterBadCount,
    /// The master entry's deleted count is missing or not an integer (`streamValidateListpackIntegrity`).
    StreamMasterBadDeletedCount,
    /// The master entry's field count is missing or not an integer (`streamValidateListpackIntegrity`).
    StreamMasterBadFieldCount,
    /// The master entry's counts are negative or more than the listpack holds (`streamValidateListpackIntegrity`).
    StreamMasterImpossibleCounts,
    /// The master entry's closing 0 is missing or not an integer (`streamValidateListpackIntegrity`).
    StreamMasterNoTerminator,
    /// The master entry has fewer fields than it says, or does not close with 0 (`streamValidateListpackIntegrity`).
    StreamMasterMalformed,
    /// An entry's flags are missing or not an integer (`streamValidateListpackIntegrity`).
    StreamEntryBadFlags,
    /// An entry's ID deltas are missing or not integers (`streamValidateListpackIntegrity`).
    StreamEntryBadId,
    /// An entry's field count is missing or not an integer (`streamValidateListpackIntegrity`).
    StreamEntryBadFieldCount,
    /// An entry's field count is negative or more than the listpack holds (`streamValidateListpackIntegrity`).
    StreamEntryImpossibleFieldCount,
    /// The listpack ends inside an entry's fields (`streamValidateListpackIntegrity`).
    StreamEntryMissingField,
    /// The listpack ends inside an entry's values (`streamValidateListpackIntegrity`).
    StreamEntryMissingValue,
    /// An entry's closing entry count (`lp-count`) is missing or not an integer (`streamValidateListpackIntegrity`).
    StreamEntryMissingLpCount,
    /// An entry's closing entry count (`lp-count`) is not the number of its listpack entries
    /// (`streamValidateListpackIntegrity`).
    StreamEntryLpCountMismatch,
    /// A node's listpack goes on after the entries its master entry counts (`streamValidateListpackIntegrity`).
    StreamNodeExtraEntries,
    /// An ID twice in a consumer group's pending list (`rdbLoadObject`: "Duplicated global PEL entry loading stream
    /// consumer group").
    StreamDuplicateGroupPelId,
    /// A consumer's pending ID that is not in its group's pending list (`rdbLoadObject`: "Consumer entry not found in
    /// group global PEL").
    StreamConsumerPelNotInGroup,
    /// An ID twice in one consumer's pending list (`rdbLoadObject`: "Duplicated consumer PEL entry loading a stream
    /// consumer group"; every server refuses it).
    StreamDuplicateConsumerPelId,
    /// A pending ID that two consumers of a group list. Redis 6.2 and Valkey 8.1 load it with one entry shared by both
    /// lists; Redis 7.0.15 ("Stream consumer PEL entry already has a consumer assigned") and Valkey 9.1 ("NACK already
    /// assigned to a different consumer") refuse it, and no server writes it.
    StreamPelEntrySharedByConsumers,
    /// Two consumers of a group with the same name (`rdbLoadObject`: "Duplicate stream consumer detected.").
    StreamDuplicateConsumer,
    /// A NACKed ID (layout v5) that is not in its group's pending list (`rdbLoadObject`).
    StreamNackNotInGroupPel,
    /// A NACKed ID (layout v5) that a consumer also owns (`rdbLoadObject`).
    StreamNackHasConsumer,
    /// A pending ID that no consumer owns and (layout v5) is not NACKed (`rdbLoadObject`, deep: "Stream CG PEL entry
    /// without consumer").
    StreamGroupPelWithoutConsumer,
    /// Two consumer groups with the same name (`rdbLoadObject`: "Duplicated consumer group name").
    StreamDuplicateGroup,
    /// The idempotent-producer settings (layout v4+) are out of range: duration 1-86400 s, 1-10000 entries
    /// (`rdbLoadObject`).
    StreamIdmpOutOfRange,
    /// Two idempotent producers (layout v4+) with the same ID (`rdbLoadObject`).
    StreamDuplicateIdmpProducer,

    // Arrays (Redis RDB type 28).
    /// An array with no elements.
    ArrayEmpty,
    /// The insert-index flag is neither 0 (none) nor 1 (an index follows).
    ArrayBadInsertFlag,
    /// An element index that is not a plain length, or is the largest one.
    ArrayBadIndex,
    /// A SMALLSTR element longer than the 7 bytes that form holds.
    ArraySmallStrTooLong,
    /// An element tag that is none of bytes, integer, float or SMALLSTR.
    ArrayUnknownTag,

    // Template hashes (Redis 8.10, RDB types 29-32).
    /// The embedded field names are neither a listpack (0) nor a list (1).
    TemplateUnknownFieldFormat,
    /// The values listpack is empty: not even the template ID.
    TemplateEmptyListpack,
    /// The values listpack does not start with the template ID.
    TemplateNoId,
    /// The hash names a template no earlier template record defined.
    TemplateUnknown,
    /// The hash has not one value per template field.
    TemplateValueCountMismatch,

    // Other records of an RDB.
    /// A pre-release function record (`RDB_OPCODE_FUNCTION_PRE_GA`) whose name, engine or code does not decode.
    FunctionBadString,
    /// A key twice in one database: the server refuses the file (rdb.c `rdbLoadRioWithLoadingCtx`: "Duplicated key
    /// found in RDB file").
    DuplicateKey,

    // AOFs: aof.c.
    /// A file the manifest lists does not exist (`loadAppendOnlyFiles`).
    AofFileMissing,
    /// MULTI while a MULTI is open (redis-check-aof.c `processRESP`: "Unexpected MULTI").
    AofNestedMulti,
    /// EXEC with no MULTI open (redis-check-aof.c `processRESP`: "Unexpected EXEC").
    AofExecWithoutMulti,

    // Our own consistency checks, no rule of Redis.
    /// A record that framed cleanly once and not the second time: the file changed under the reader.
    RecordChanged,
    /// A file written and read back does not hold what was written (the round-trip generator's check).
    RoundTripChanged,
    /// A temporary file `diff` spilled to disk does not read back.
    DamagedSpillFile,
    /// Records before the file's header (a visitor or sink was driven out of order).
    NoHeader,
    /// A second header (a visitor or sink was driven out of order).
    TwoHeaders,
    /// A string value that produced no content to write.
    StringWithoutContent,
    /// A stream value that produced no metadata (length, last ID) to write.
    StreamWithoutMetadata,
}

impl Integrity {
    /// The reason as printed after "integrity check failed: ".
    pub fn reason(self) -> &'static str {
        use Integrity::*;
        match self {
            ZiplistTooShort => "ziplist shorter than its header",
            ZiplistBytesMismatch => "ziplist total size does not match its string length",
            ZiplistTailOutOfRange => "ziplist tail offset out of range",
            ZiplistNoEndByte => "ziplist does not end with 0xFF",
            ZiplistEntryPastEnd => "ziplist entry runs past the end",
            ZiplistBadEntryEncoding => "invalid ziplist entry encoding",
            ZiplistPrevlenPastEnd => "ziplist prevlen runs past the end",
            ZiplistBadPrevlen => "invalid ziplist prevlen",
            ZiplistPrevlenMismatch => "ziplist prevlen does not match the previous entry",
            ZiplistEntriesOverrunEnd => "ziplist entries overrun the terminator",
            ZiplistTailNotLastEntry => "ziplist tail offset does not point at the last entry",
            ZiplistCountMismatch => "ziplist entry count does not match its header",
            ListpackTooShort => "listpack shorter than its header",
            ListpackBytesMismatch => "listpack total size does not match its string length",
            ListpackNoEndByte => "listpack does not end with 0xFF",
            ListpackEntryPastEnd => "listpack entry runs past the end",
            ListpackStringTooLong => "listpack string too long",
            ListpackBadEntryEncoding => "invalid listpack entry encoding",
            ListpackEarlyEndByte => "unexpected listpack terminator",
            ListpackBacklenPastEnd => "listpack entry back-length runs past the end",
            ListpackBacklenMismatch => "listpack entry back-length does not match its size",
            ListpackCountMismatch => "listpack entry count does not match its header",
            IntsetTooShort => "intset shorter than its header",
            IntsetBadEncoding => "invalid intset encoding",
            IntsetSizeMismatch => "intset size does not match its length",
            IntsetEmpty => "empty intset",
            IntsetNotAscending => "intset members not strictly increasing",
            ZipmapTooShort => "zipmap too short",
            ZipmapNoEndByte => "zipmap does not end with 0xFF",
            ZipmapPastEnd => "zipmap runs past the end",
            ZipmapLengthPastEnd => "zipmap length runs past the end",
            ZipmapLongFormShortLength => "zipmap uses the long length form for a short length",
            ZipmapEntryPastEnd => "zipmap entry runs past the end",
            ZipmapFieldWithoutValue => "zipmap field without value",
            ZipmapBytesAfterEnd => "zipmap has bytes after its end marker",
            ZipmapEmpty => "empty zipmap",
            ZipmapCountMismatch => "zipmap entry count does not match its header",
            LzfInvalid => "invalid LZF compressed string",
            LzfZeroLength => "LZF string with decoded length 0",
            LzfImpossibleLength => "LZF decoded length impossible for its compressed size",
            ValueTrailingBytes => "value has bytes after its end",
            OddPairList => "odd number of entries in a pair list",
            ZsetScoreNan => "sorted set score is NaN",
            DuplicateSetMember => "duplicate set member",
            DuplicateZsetMember => "duplicate sorted set member",
            DuplicateHashField => "duplicate hash field",
            QuicklistEmptyNode => "empty quicklist node",
            QuicklistBadContainer => "invalid quicklist node container",
            HashMinExpireInvalid => "invalid hash minimum expire time",
            HashFieldExpireAtInvalid => "invalid hash field expireAt time",
            HashFieldExpiryBelowMinusOne => "hash field expiry below -1",
            HashFieldTtlInvalid => "invalid hash field TTL",
            HashFieldTtlsOutOfOrder => "hash field TTLs out of order",
            HashListpackExNotTriples => "hash listpack-ex entry count not a multiple of 3",
            StreamNodeKeyNotId => "stream node key is not 16 bytes",
            StreamDuplicateNodeKey => "duplicate stream node key",
            StreamEmptyNode => "empty stream node listpack",
            StreamLengthWithoutNodes => "stream has a length but no nodes",
            StreamMasterBadCount => "stream node master entry: bad count",
            StreamMasterBadDeletedCount => "stream node master entry: bad deleted count",
            StreamMasterBadFieldCount => "stream node master entry: bad field count",
            StreamMasterImpossibleCounts => "stream node master entry: negative or impossible counts",
            StreamMasterNoTerminator => "stream node master entry: missing terminator",
            StreamMasterMalformed => "stream node master entry is malformed",
            StreamEntryBadFlags => "stream entry: bad flags",
            StreamEntryBadId => "stream entry: bad ID",
            StreamEntryBadFieldCount => "stream entry: bad field count",
            StreamEntryImpossibleFieldCount => "stream entry: impossible field count",
            StreamEntryMissingField => "stream entry: missing field",
            StreamEntryMissingValue => "stream entry: missing value",
            StreamEntryMissingLpCount => "stream entry: missing back count",
            StreamEntryLpCountMismatch => "stream entry: back count does not match",
            StreamNodeExtraEntries => "stream node has entries beyond its counts",
            StreamDuplicateGroupPelId => "duplicate ID in a group PEL",
            StreamConsumerPelNotInGroup => "consumer PEL entry missing from the group PEL",
            StreamDuplicateConsumerPelId => "ID twice in a consumer PEL",
            StreamPelEntrySharedByConsumers => "pending entry listed by two consumers",
            StreamDuplicateConsumer => "duplicate consumer name",
            StreamNackNotInGroupPel => "NACK zone entry not in the group PEL",
            StreamNackHasConsumer => "NACK zone entry has a consumer",
            StreamGroupPelWithoutConsumer => "stream group PEL entry without consumer",
            StreamDuplicateGroup => "duplicate consumer group name",
            StreamIdmpOutOfRange => "stream IDMP settings out of range",
            StreamDuplicateIdmpProducer => "duplicate IDMP producer",
            ArrayEmpty => "empty array (count 0)",
            ArrayBadInsertFlag => "invalid array insert-index flag",
            ArrayBadIndex => "invalid array index",
            ArraySmallStrTooLong => "array SMALLSTR longer than 7 bytes",
            ArrayUnknownTag => "unknown array element tag",
            TemplateUnknownFieldFormat => "unknown hash template field format",
            TemplateEmptyListpack => "empty template hash listpack",
            TemplateNoId => "template hash listpack does not start with an integer",
            TemplateUnknown => "hash references an unknown template",
            TemplateValueCountMismatch => "template hash value count differs from its field count",
            FunctionBadString => "bad function string",
            DuplicateKey => "duplicate key",
            AofFileMissing => "a file listed in the manifest is missing",
            AofNestedMulti => "MULTI inside an open MULTI",
            AofExecWithoutMulti => "EXEC without MULTI",
            RecordChanged => "record changed between reads",
            RoundTripChanged => "round trip changed the data",
            DamagedSpillFile => "damaged spill file",
            NoHeader => "no header",
            TwoHeaders => "two headers",
            StringWithoutContent => "string value without content",
            StreamWithoutMetadata => "stream without metadata",
        }
    }
}

/// What is wrong with the input (or output) a command was given, as opposed
/// to its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InputProblem {
    /// A directory where a file is read.
    IsADirectory,
    /// A directory with no AOF manifest, itself or in its `appendonlydir`.
    NoManifest,
    /// A directory with more than one AOF manifest.
    SeveralManifests,
    /// An RDB or a JSON dump where an AOF is read.
    NotAnAof,
    /// `dump --commands` of an RDB file.
    CommandsOfRdb,
    /// `dump --commands` of standard input that is not a RESP AOF.
    CommandsOfPipe,
    /// `fix` of standard input: it cuts a file.
    FixOfPipe,
    /// `fix` of an RDB: cutting its tail repairs nothing.
    FixOfRdb,
    /// The file `fix` checked changed before it was cut.
    ChangedSinceCheck,
    /// `convert --to aof-dir` to a directory that exists.
    OutputDirExists,
}

impl InputProblem {
    /// The message users see.
    pub fn message(self) -> &'static str {
        use InputProblem::*;
        match self {
            IsADirectory => "is a directory",
            NoManifest => "no AOF manifest (*.manifest) in this directory",
            SeveralManifests => "several AOF manifests in this directory; name one",
            NotAnAof => "not an AOF",
            CommandsOfRdb => "--commands needs an AOF; this is an RDB file",
            CommandsOfPipe => "--commands on standard input needs a RESP AOF",
            FixOfPipe => "fix cuts a file: standard input cannot be fixed",
            FixOfRdb => "not an AOF (an RDB file cannot be fixed by cutting its tail)",
            ChangedSinceCheck => "the file changed since it was checked; run fix again",
            OutputDirExists => "the output directory already exists",
        }
    }
}

/// What the reader was doing when the error happened (mirrors redis-check-rdb's states).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Phase {
    ReadingHeader,
    ReadingOpcode,
    ReadingAux,
    ReadingModuleAux,
    ReadingFunction,
    ReadingKey,
    ReadingValue(&'static str),
    ReadingChecksum,
    /// An AOF command or annotation.
    ReadingCommand,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Phase::ReadingHeader => write!(f, "reading the header"),
            Phase::ReadingOpcode => write!(f, "reading a type or opcode"),
            Phase::ReadingAux => write!(f, "reading an aux field"),
            Phase::ReadingModuleAux => write!(f, "reading module aux data"),
            Phase::ReadingFunction => write!(f, "reading a function library"),
            Phase::ReadingKey => write!(f, "reading a key"),
            Phase::ReadingValue(t) => write!(f, "reading the value ({t})"),
            Phase::ReadingChecksum => write!(f, "reading the checksum"),
            Phase::ReadingCommand => write!(f, "reading an AOF command"),
        }
    }
}

/// A located error.
#[derive(Debug, Clone)]
pub struct Error {
    pub kind: ErrorKind,
    pub file: Option<Arc<Path>>,
    pub offset: Option<u64>,
    pub doing: Option<Phase>,
    pub key: Option<Box<[u8]>>,
    /// Free-form detail (an I/O message, the byte seen…).
    pub detail: Option<String>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind) -> Self {
        Error { kind, file: None, offset: None, doing: None, key: None, detail: None }
    }
    pub fn at(mut self, offset: u64) -> Self {
        self.offset.get_or_insert(offset);
        self
    }
    pub fn in_file(mut self, file: &Arc<Path>) -> Self {
        if self.file.is_none() {
            self.file = Some(file.clone());
        }
        self
    }
    pub fn doing(mut self, phase: Phase) -> Self {
        self.doing.get_or_insert(phase);
        self
    }
    pub fn key(mut self, key: &[u8]) -> Self {
        if self.key.is_none() {
            self.key = Some(key.into());
        }
        self
    }
    pub fn detail(mut self, d: impl Into<String>) -> Self {
        self.detail = Some(d.into());
        self
    }
    pub fn io(e: std::io::Error) -> Self {
        Error::new(ErrorKind::Io(e.kind())).detail(e.to_string())
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::io(e)
    }
}

impl From<ErrorKind> for Error {
    fn from(k: ErrorKind) -> Self {
        Error::new(k)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{}: ", file.display())?;
        }
        if let Some(off) = self.offset {
            write!(f, "offset {off} ({off:#x}): ")?;
        }
        write!(f, "{}", self.kind)?;
        if let Some(d) = &self.detail {
            write!(f, " ({d})")?;
        }
        if let Some(p) = self.doing {
            write!(f, " while {p}")?;
        }
        if let Some(k) = &self.key {
            write!(f, " of key \"{}\"", crate::escape::escape_bytes(k))?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_problems_fail_the_run_apart_from_usage() {
        let kind = ErrorKind::Input(InputProblem::NoManifest);
        assert_eq!((kind.class(), kind.verdict()), ("input", Verdict::Failed));
        assert_eq!(kind.to_string(), "no AOF manifest (*.manifest) in this directory");
        assert_eq!(ErrorKind::Usage("invalid argument").verdict(), Verdict::Failed);
    }

    #[test]
    fn integrity_reasons_print_as_before() {
        let kind = ErrorKind::Integrity(Integrity::ZiplistTailOutOfRange);
        assert_eq!(kind.to_string(), "integrity check failed: ziplist tail offset out of range");
        assert_eq!((kind.class(), kind.verdict()), ("integrity", Verdict::Damaged));
    }
}
