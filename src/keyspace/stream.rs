//! Streams in the keyspace model: entries by ID, the stream counters, and the
//! consumer groups and IDMP state of the one stream model (`event::stream`),
//! changed with t_stream.c's semantics for what an AOF replays.

use crate::error::Result;
use crate::event::decode::{Piece, Sink};
use crate::event::stream::{Consumer, Group, Idmp, Producer, StreamMeta};
use crate::event::StreamId;
use crate::token::Item;
use std::collections::BTreeMap;

/// An entry's field/value pairs.
pub type Fields = Vec<(Vec<u8>, Vec<u8>)>;

/// What the replay does to a group besides reading its fields.
impl Group {
    /// The index of the consumer `name`, created first if missing, seen now
    /// (t_stream.c `streamCreateConsumer`; the replay keeps creation order).
    pub fn consumer_index(&mut self, name: &[u8], now: i64) -> usize {
        match self.consumers.iter().position(|c| c.name == name) {
            Some(i) => i,
            None => {
                self.consumers.push(Consumer { name: name.to_vec(), seen_time_ms: now, active_time_ms: None });
                self.consumers.len() - 1
            }
        }
    }

    /// Drop a pending entry (XACK, or a claim of an entry no longer in the
    /// stream), from the NACK zone too: the zone lists pending entries that
    /// nobody owns, and a server refuses a file whose zone names an ID its
    /// PEL lacks (rdb.c `rdbLoadObject`).
    pub fn drop_pending(&mut self, id: &StreamId) {
        if self.pending.remove(id).is_some() {
            if let Some(zone) = &mut self.nacked {
                zone.retain(|z| z != id);
            }
        }
    }

    /// Delete the consumer `name` and the pending entries it owns (t_stream.c
    /// `streamDelConsumer`); the owners after it move down one place. A name
    /// is unique in a group, but a hand-written dump may repeat it: all go.
    pub fn remove_consumer(&mut self, name: &[u8]) {
        while let Some(gone) = self.consumers.iter().position(|c| c.name == name) {
            self.consumers.remove(gone);
            self.pending.retain(|_, p| p.consumer != Some(gone));
            for p in self.pending.values_mut() {
                if let Some(i) = p.consumer.as_mut().filter(|i| **i > gone) {
                    *i -= 1;
                }
            }
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct StreamObj {
    pub entries: BTreeMap<StreamId, Fields>,
    pub last_id: StreamId,
    pub max_deleted_id: StreamId,
    pub entries_added: u64,
    pub groups: Vec<Group>,
    pub idmp: Option<Idmp>,
}

impl StreamObj {
    /// Take the metadata of a stream read from an RDB.
    pub fn set_meta(&mut self, m: &StreamMeta) {
        self.last_id = m.last_id;
        self.max_deleted_id = m.max_deleted_id.unwrap_or_default();
        self.entries_added = m.entries_added.unwrap_or(m.length);
        self.idmp = m.idmp.clone();
        self.groups = m.groups.clone();
    }

    /// The IDMP state, created with the server defaults (100 s, 100 iids).
    pub fn idmp_mut(&mut self) -> &mut Idmp {
        self.idmp.get_or_insert_with(|| Idmp {
            duration_s: 100,
            max_entries: 100,
            producers: Vec::new(),
            iids_added: 0,
            iids_duplicates: 0,
        })
    }

    /// Is (producer, iid) already tracked? Counts the duplicate if so.
    pub fn idmp_duplicate(&mut self, pid: &[u8], iid: &[u8]) -> bool {
        let Some(idmp) = &mut self.idmp else { return false };
        let dup = idmp.producers.iter().any(|p| p.pid == pid && p.entries.iter().any(|(i, _)| i == iid));
        if dup {
            idmp.iids_duplicates += 1;
        }
        dup
    }

    /// Track an iid for a producer (XADD IDMP, XIDMPRECORD): the oldest go
    /// beyond the configured maximum; producers stay in pid order.
    pub fn idmp_record(&mut self, pid: &[u8], iid: &[u8], id: StreamId) {
        let idmp = self.idmp_mut();
        idmp.iids_added += 1;
        let max = idmp.max_entries.max(1) as usize;
        let at = match idmp.producers.binary_search_by(|p| p.pid.as_slice().cmp(pid)) {
            Ok(i) => i,
            Err(i) => {
                idmp.producers.insert(i, Producer { pid: pid.to_vec(), entries: Vec::new() });
                i
            }
        };
        let entries = &mut idmp.producers[at].entries;
        entries.push((iid.to_vec(), id));
        if entries.len() > max {
            let excess = entries.len() - max;
            entries.drain(..excess);
        }
    }

    pub fn first_id(&self) -> StreamId {
        self.entries.keys().next().copied().unwrap_or_default()
    }

    pub fn group(&mut self, name: &[u8]) -> Option<&mut Group> {
        self.groups.iter_mut().find(|g| g.name == name)
    }

    /// Remove an entry (XDEL), keeping the counters as Redis does.
    pub fn delete(&mut self, id: StreamId) -> bool {
        if self.entries.remove(&id).is_some() {
            self.max_deleted_id = self.max_deleted_id.max(id);
            true
        } else {
            false
        }
    }

    /// XTRIM / XADD trimming with an exact threshold. Unlike XDEL, trimming
    /// leaves `max_deleted_id` alone (Redis 7.0 `streamTrim`).
    pub fn trim_maxlen(&mut self, maxlen: u64) {
        while self.entries.len() as u64 > maxlen {
            let Some(first) = self.entries.keys().next().copied() else { break };
            self.entries.remove(&first);
        }
    }

    pub fn trim_minid(&mut self, minid: StreamId) {
        while let Some(first) = self.entries.keys().next().copied().filter(|id| *id < minid) {
            self.entries.remove(&first);
        }
    }

    /// The metadata the writers need.
    pub fn meta(&self) -> StreamMeta {
        StreamMeta {
            version: 0,
            nodes: 0,
            length: self.entries.len() as u64,
            last_id: self.last_id,
            first_id: Some(self.first_id()),
            max_deleted_id: Some(self.max_deleted_id),
            entries_added: Some(self.entries_added),
            groups: self.groups.clone(),
            idmp: self.idmp.clone(),
        }
    }

    pub fn pieces(&self, sink: &mut dyn Sink) -> Result<()> {
        for (id, fields) in &self.entries {
            let items: Vec<(Item<'_>, Item<'_>)> =
                fields.iter().map(|(f, v)| (Item::Bytes(f), Item::Bytes(v))).collect();
            sink.piece(Piece::StreamEntry { id: *id, fields: &items })?;
        }
        sink.piece(Piece::StreamMeta(&self.meta()))
    }
}

/// Parse `<ms>-<seq>` (or `<ms>`, seq 0) as an ID.
pub fn parse_id(b: &[u8]) -> Option<StreamId> {
    let s = std::str::from_utf8(b).ok()?;
    match s.split_once('-') {
        Some((ms, seq)) => Some(StreamId { ms: ms.parse().ok()?, seq: seq.parse().ok()? }),
        None => Some(StreamId { ms: s.parse().ok()?, seq: 0 }),
    }
}
