//! Stream values (docs/format/stream.md; rdb.c `rdbLoadObject`, t_stream.c
//! `streamValidateListpackIntegrity`): listpack nodes delta-encoded against their
//! master IDs, then the stream metadata, consumer groups, PELs, consumers,
//! NACK zones (v5) and the IDMP section (v4+). This is what a stream holds
//! besides its entries: `decode::stream` and the dump reader build it, the
//! writers read it, and the AOF replay (`keyspace::stream`) changes it.

use std::collections::BTreeMap;
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

/// One pending (delivered, not acknowledged) entry of a group: a `streamNACK`
/// (t_stream.c `streamCreateNACK`). Its ID is its key in [`Group::pending`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingEntry {
    pub delivery_time_ms: i64,
    pub delivery_count: u64,
    /// Index in the group's `consumers` of the consumer that owns it; `None`
    /// when NACKed (v5).
    pub consumer: Option<usize>,
}

/// A consumer of a group. Its own PEL is not kept: it is the group's pending
/// entries it owns ([`Group::consumer_pels`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consumer {
    pub name: Vec<u8>,
    pub seen_time_ms: i64,
    /// v3+; `None` for older layouts.
    pub active_time_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub name: Vec<u8>,
    pub last_id: StreamId,
    /// v2+; `None` when unknown (stored as -1) or not stored.
    pub entries_read: Option<u64>,
    /// The group PEL by ID: the server keeps it in a rax, so in ID order,
    /// which is the order it writes it in (rdb.c `rdbSaveStreamPEL`); a file
    /// listing it in another order (never one a server wrote) is read into
    /// this one.
    pub pending: BTreeMap<StreamId, PendingEntry>,
    /// In file order, or for a replayed group in creation order.
    pub consumers: Vec<Consumer>,
    /// v5: NACKed entries, in file order.
    pub nacked: Option<Vec<StreamId>>,
}

impl Group {
    /// A group with no pending entries and no consumers.
    pub fn new(name: Vec<u8>, last_id: StreamId, entries_read: Option<u64>) -> Group {
        Group { name, last_id, entries_read, pending: BTreeMap::new(), consumers: Vec::new(), nacked: None }
    }

    /// The name of the consumer that owns a pending entry.
    pub fn owner(&self, p: &PendingEntry) -> Option<&[u8]> {
        p.consumer.and_then(|i| self.consumers.get(i)).map(|c| &c.name[..])
    }

    /// Each consumer's own PEL, by index in `consumers`: the IDs of the
    /// pending entries it owns, in ID order. The server shares one
    /// `streamNACK` between the group PEL and its owner's PEL (t_stream.c
    /// `streamCreateNACK`, rdb.c `rdbLoadObject`), both rax trees, so a
    /// file it writes lists exactly these (rdb.c `rdbSaveStreamConsumers`).
    pub fn consumer_pels(&self) -> Vec<Vec<StreamId>> {
        let mut pels = vec![Vec::new(); self.consumers.len()];
        for (id, p) in &self.pending {
            if let Some(pel) = p.consumer.and_then(|i| pels.get_mut(i)) {
                pel.push(*id);
            }
        }
        pels
    }
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
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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
