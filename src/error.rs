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
    Integrity(&'static str),
    /// A list, set, sorted set or hash with no elements. Not damage: the
    /// server skips such a key on load (rdb.c `RDB_LOAD_ERR_EMPTY_KEY`), so
    /// writers refuse it with this kind and commands leave it out, counted.
    EmptyKey,
    /// Reading or writing failed.
    Io(std::io::ErrorKind),
    /// Wrong use of the command line.
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
            ErrorKind::Usage(_) => "usage",
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
            ErrorKind::Integrity(what) => write!(f, "integrity check failed: {what}"),
            ErrorKind::EmptyKey => write!(f, "an empty collection, which the server skips on load"),
            ErrorKind::Io(k) => write!(f, "I/O error: {k}"),
            ErrorKind::Usage(what) => write!(f, "{what}"),
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
