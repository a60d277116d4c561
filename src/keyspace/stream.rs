//! Streams in the keyspace model: entries by ID, the stream counters, and the
//! consumer groups and IDMP state of the one stream model (`event::stream`),
//! changed with t_stream.c's semantics for what an AOF replays.

use crate::event::stream::{Consumer, Group, Idmp, Producer};
use crate::event::value::{Fields, Stream};
use crate::event::StreamId;

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

    /// Drop pending entries (XACK, or a claim of entries no longer in the
    /// stream), from the NACK zone too: the zone lists pending entries that
    /// nobody owns, and a server refuses a file whose zone names an ID its
    /// PEL lacks (rdb.c `rdbLoadObject`). One pass over the zone, however
    /// many IDs.
    pub fn drop_pending(&mut self, ids: &[StreamId]) {
        let dropped: std::collections::HashSet<StreamId> =
            ids.iter().filter(|id| self.pending.remove(id).is_some()).copied().collect();
        if let Some(zone) = self.nacked.as_mut().filter(|_| !dropped.is_empty()) {
            zone.retain(|z| !dropped.contains(z));
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

/// What the replay does to a stream (t_stream.c). Its counters are kept as
/// a server keeps them: `length` and `first_id` follow the entries, and the
/// others are set once the stream is in the keyspace ([`Stream::new`],
/// [`Stream::derive_on_load`]).
impl Stream {
    /// A stream as XADD creates it.
    pub fn new() -> Stream {
        let mut s = Stream::default();
        s.derive_on_load();
        s
    }

    /// The counters a server derives when it loads a stream whose file did
    /// not store them (RDB 9 and older, rdb.c `rdbLoadObject`): the first
    /// entry's ID, no deleted ID, every entry added; and the length, from the
    /// entries themselves.
    pub fn derive_on_load(&mut self) {
        let m = &mut self.meta;
        m.max_deleted_id.get_or_insert_with(StreamId::default);
        m.entries_added.get_or_insert(m.length);
        self.entries_changed();
    }

    /// Keep `length` and `first_id` in step with the entries.
    fn entries_changed(&mut self) {
        self.meta.length = self.entries.len() as u64;
        self.meta.first_id = Some(self.entries.keys().next().copied().unwrap_or_default());
    }

    /// Add an entry (XADD): the stream's last ID and count of added entries move.
    pub fn append(&mut self, id: StreamId, fields: Fields) {
        self.entries.insert(id, fields);
        self.meta.last_id = id;
        *self.meta.entries_added.get_or_insert(0) += 1;
        self.entries_changed();
    }

    /// The IDMP state, created with the server defaults (100 s, 100 iids).
    pub fn idmp_mut(&mut self) -> &mut Idmp {
        self.meta.idmp.get_or_insert_with(|| Idmp {
            duration_s: 100,
            max_entries: 100,
            producers: Vec::new(),
            iids_added: 0,
            iids_duplicates: 0,
        })
    }

    /// Is (producer, iid) already tracked? Counts the duplicate if so.
    pub fn idmp_duplicate(&mut self, pid: &[u8], iid: &[u8]) -> bool {
        let Some(idmp) = &mut self.meta.idmp else { return false };
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

    pub fn group(&mut self, name: &[u8]) -> Option<&mut Group> {
        self.meta.groups.iter_mut().find(|g| g.name == name)
    }

    /// Remove an entry (XDEL), keeping the counters as Redis does.
    pub fn delete(&mut self, id: StreamId) -> bool {
        if self.entries.remove(&id).is_none() {
            return false;
        }
        let max = self.meta.max_deleted_id.get_or_insert_with(StreamId::default);
        *max = (*max).max(id);
        self.entries_changed();
        true
    }

    /// XTRIM / XADD trimming with an exact threshold. Unlike XDEL, trimming
    /// leaves `max_deleted_id` alone (Redis 7.0 `streamTrim`).
    pub fn trim_maxlen(&mut self, maxlen: u64) {
        while self.entries.len() as u64 > maxlen {
            if self.entries.pop_first().is_none() {
                break;
            }
        }
        self.entries_changed();
    }

    pub fn trim_minid(&mut self, minid: StreamId) {
        while self.entries.first_key_value().is_some_and(|(id, _)| *id < minid) {
            self.entries.pop_first();
        }
        self.entries_changed();
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
