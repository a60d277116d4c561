//! Streams in the keyspace model: entries by ID, the stream counters, consumer
//! groups with their PELs and consumers (src/t_stream.c semantics for what an
//! AOF replays).

use crate::error::Result;
use crate::event::decode::{Piece, Sink};
use crate::event::stream::{Consumer, Group, Idmp, PendingEntry, Producer, StreamMeta};
use crate::event::StreamId;
use crate::token::Item;
use std::collections::BTreeMap;

/// An entry's field/value pairs.
pub type Fields = Vec<(Vec<u8>, Vec<u8>)>;

/// A pending entry: owner, delivery time, delivery count.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    pub consumer: Option<Vec<u8>>,
    pub delivery_time_ms: i64,
    pub delivery_count: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ConsumerObj {
    pub name: Vec<u8>,
    pub seen_time_ms: i64,
    pub active_time_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GroupObj {
    pub name: Vec<u8>,
    pub last_id: StreamId,
    pub entries_read: Option<u64>,
    pub pel: BTreeMap<StreamId, Pending>,
    /// In creation order.
    pub consumers: Vec<ConsumerObj>,
    /// 8.8 NACK zone (PEL ids owned by nobody), kept from RDB input.
    pub nacked: Option<Vec<StreamId>>,
}

impl GroupObj {
    pub fn consumer(&mut self, name: &[u8], now: i64) -> &mut ConsumerObj {
        match self.consumers.iter().position(|c| c.name == name) {
            Some(i) => &mut self.consumers[i],
            None => {
                self.consumers.push(ConsumerObj { name: name.to_vec(), seen_time_ms: now, active_time_ms: None });
                self.consumers.last_mut().expect("just pushed")
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
    pub groups: Vec<GroupObj>,
    pub idmp: Option<Idmp>,
}

impl StreamObj {
    /// Take the metadata of a stream read from an RDB.
    pub fn set_meta(&mut self, m: &StreamMeta) {
        self.last_id = m.last_id;
        self.max_deleted_id = m.max_deleted_id.unwrap_or_default();
        self.entries_added = m.entries_added.unwrap_or(m.length);
        self.idmp = m.idmp.clone();
        self.groups = m
            .groups
            .iter()
            .map(|g| GroupObj {
                name: g.name.clone(),
                last_id: g.last_id,
                entries_read: g.entries_read,
                pel: g
                    .pending
                    .iter()
                    .map(|p| {
                        let owner = g.owner(p).map(<[u8]>::to_vec);
                        (
                            p.id,
                            Pending {
                                consumer: owner,
                                delivery_time_ms: p.delivery_time_ms,
                                delivery_count: p.delivery_count,
                            },
                        )
                    })
                    .collect(),
                consumers: g
                    .consumers
                    .iter()
                    .map(|c| ConsumerObj {
                        name: c.name.clone(),
                        seen_time_ms: c.seen_time_ms,
                        active_time_ms: c.active_time_ms,
                    })
                    .collect(),
                nacked: g.nacked.clone(),
            })
            .collect();
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

    pub fn group(&mut self, name: &[u8]) -> Option<&mut GroupObj> {
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
        let groups = self
            .groups
            .iter()
            .map(|g| {
                let consumers: Vec<Consumer> = g
                    .consumers
                    .iter()
                    .map(|c| Consumer {
                        name: c.name.clone(),
                        seen_time_ms: c.seen_time_ms,
                        active_time_ms: c.active_time_ms,
                        pending: g
                            .pel
                            .iter()
                            .filter(|(_, p)| p.consumer.as_deref() == Some(&c.name[..]))
                            .map(|(id, _)| *id)
                            .collect(),
                    })
                    .collect();
                let pending = g
                    .pel
                    .iter()
                    .map(|(id, p)| PendingEntry {
                        id: *id,
                        delivery_time_ms: p.delivery_time_ms,
                        delivery_count: p.delivery_count,
                        consumer: p.consumer.as_ref().and_then(|n| consumers.iter().position(|c| &c.name == n)),
                    })
                    .collect();
                Group {
                    name: g.name.clone(),
                    last_id: g.last_id,
                    entries_read: g.entries_read,
                    pending,
                    consumers,
                    nacked: g.nacked.clone(),
                }
            })
            .collect();
        StreamMeta {
            version: 0,
            nodes: 0,
            length: self.entries.len() as u64,
            last_id: self.last_id,
            first_id: Some(self.first_id()),
            max_deleted_id: Some(self.max_deleted_id),
            entries_added: Some(self.entries_added),
            groups,
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
