//! Stream values (docs/format/stream.md; rdb.c `rdbLoadObject`, t_stream.c
//! `streamValidateListpackIntegrity`): listpack nodes delta-encoded against their
//! master IDs, then the stream metadata, consumer groups, PELs, consumers,
//! NACK zones (v5) and the IDMP section (v4+). This is what a stream holds
//! besides its entries; `decode::stream` reads it.

use std::fmt;

/// A stream entry ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    /// The 16-byte big-endian form used for node keys and PEL entries.
    pub fn from_raw(b: &[u8]) -> Option<StreamId> {
        let b: &[u8; 16] = b.try_into().ok()?;
        let (ms, seq) = b.split_at(8);
        Some(StreamId { ms: u64::from_be_bytes(ms.try_into().ok()?), seq: u64::from_be_bytes(seq.try_into().ok()?) })
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// One pending (delivered, not acknowledged) entry of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingEntry {
    pub id: StreamId,
    pub delivery_time_ms: i64,
    pub delivery_count: u64,
    /// Index in the group's `consumers` of the consumer that owns it; `None`
    /// when NACKed (v5).
    pub consumer: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consumer {
    pub name: Vec<u8>,
    pub seen_time_ms: i64,
    /// v3+; `None` for older layouts.
    pub active_time_ms: Option<i64>,
    pub pending: Vec<StreamId>,
}

impl Group {
    /// The name of the consumer that owns a pending entry.
    pub fn owner(&self, p: &PendingEntry) -> Option<&[u8]> {
        p.consumer.and_then(|i| self.consumers.get(i)).map(|c| &c.name[..])
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub name: Vec<u8>,
    pub last_id: StreamId,
    /// v2+; `None` when unknown (stored as -1) or not stored.
    pub entries_read: Option<u64>,
    pub pending: Vec<PendingEntry>,
    pub consumers: Vec<Consumer>,
    /// v5: NACKed entries, in file order.
    pub nacked: Option<Vec<StreamId>>,
}

/// Idempotent-producer state (v4+).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idmp {
    pub duration_s: u64,
    pub max_entries: u64,
    pub producers: Vec<Producer>,
    pub iids_added: u64,
    pub iids_duplicates: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Producer {
    pub pid: Vec<u8>,
    pub entries: Vec<(Vec<u8>, StreamId)>,
}

/// Everything a stream holds besides its entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamMeta {
    pub version: u8,
    /// Number of listpack nodes (radix-tree keys).
    pub nodes: u64,
    pub length: u64,
    pub last_id: StreamId,
    pub first_id: Option<StreamId>,
    pub max_deleted_id: Option<StreamId>,
    pub entries_added: Option<u64>,
    pub groups: Vec<Group>,
    pub idmp: Option<Idmp>,
}
