//! Decoding a stream value (docs/format/stream.md; rdb.c `rdbLoadObject`, `RDB_TYPE_STREAM_LISTPACKS*`):
//! its entries from listpack nodes delta-encoded against their master IDs,
//! sent one by one, then what else it holds (`event::stream::StreamMeta`).

use super::{Cursor, Layout, Piece, Sink};
use crate::error::{ErrorKind, Integrity, Result};
use crate::event::stream::{Consumer, Group, Idmp, PendingEntry, Producer, StreamId, StreamMeta};
use crate::format::{STREAM_ITEM_FLAG_DELETED, STREAM_ITEM_FLAG_SAMEFIELDS};
use crate::token::{listpack, Item};
use std::collections::{BTreeMap, HashSet};

fn id_pair(cur: &mut Cursor<'_>) -> Result<StreamId> {
    Ok(StreamId { ms: cur.len()?, seq: cur.len()? })
}

fn raw_id(cur: &mut Cursor<'_>) -> Result<StreamId> {
    let b = cur.take(16)?;
    Ok(StreamId::from_raw(b).unwrap_or_default())
}

/// Decode one node's listpack, sending its live entries. Returns the number of
/// live entries.
fn decode_node(cur: &Cursor<'_>, master: StreamId, lp: &[u8], sink: &mut dyn Sink) -> Result<u64> {
    let items = listpack::entries(lp).map_err(|e| cur.blob_err(lp, e))?;
    let bad = |what: Integrity| cur.err(ErrorKind::Integrity(what), lp);
    let mut it = items.iter().copied();
    let int = |it: &mut dyn Iterator<Item = Item<'_>>, what| -> Result<i64> {
        it.next().and_then(|i| i.as_int()).ok_or_else(|| bad(what))
    };
    let count = int(&mut it, Integrity::StreamMasterBadCount)?;
    let deleted = int(&mut it, Integrity::StreamMasterBadDeletedCount)?;
    let nfields = int(&mut it, Integrity::StreamMasterBadFieldCount)?;
    if count < 0 || deleted < 0 || nfields < 0 || nfields as usize > items.len() {
        return Err(bad(Integrity::StreamMasterImpossibleCounts));
    }
    let master_fields: Vec<Item<'_>> = it.by_ref().take(nfields as usize).collect();
    if master_fields.len() != nfields as usize || int(&mut it, Integrity::StreamMasterNoTerminator)? != 0 {
        return Err(bad(Integrity::StreamMasterMalformed));
    }
    let mut fields: Vec<(Item<'_>, Item<'_>)> = Vec::new();
    let mut live = 0u64;
    for _ in 0..(count as u64 + deleted as u64) {
        let flags = int(&mut it, Integrity::StreamEntryBadFlags)?;
        let ms_delta = int(&mut it, Integrity::StreamEntryBadId)?;
        let seq_delta = int(&mut it, Integrity::StreamEntryBadId)?;
        fields.clear();
        let n;
        if flags & STREAM_ITEM_FLAG_SAMEFIELDS != 0 {
            n = nfields;
            for f in &master_fields {
                let v = it.next().ok_or_else(|| bad(Integrity::StreamEntryMissingValue))?;
                fields.push((*f, v));
            }
        } else {
            n = int(&mut it, Integrity::StreamEntryBadFieldCount)?;
            if n < 0 || n as usize > items.len() {
                return Err(bad(Integrity::StreamEntryImpossibleFieldCount));
            }
            for _ in 0..n {
                let f = it.next().ok_or_else(|| bad(Integrity::StreamEntryMissingField))?;
                let v = it.next().ok_or_else(|| bad(Integrity::StreamEntryMissingValue))?;
                fields.push((f, v));
            }
        }
        let lp_count = int(&mut it, Integrity::StreamEntryMissingLpCount)?;
        let expected = if flags & STREAM_ITEM_FLAG_SAMEFIELDS != 0 { n + 3 } else { 2 * n + 4 };
        if lp_count != expected {
            return Err(bad(Integrity::StreamEntryLpCountMismatch));
        }
        if flags & STREAM_ITEM_FLAG_DELETED == 0 {
            let id = StreamId {
                ms: master.ms.wrapping_add(ms_delta as u64),
                seq: master.seq.wrapping_add(seq_delta as u64),
            };
            sink.piece(Piece::StreamEntry { id, fields: &fields })?;
            live += 1;
        }
    }
    if it.next().is_some() {
        return Err(bad(Integrity::StreamNodeExtraEntries));
    }
    // Redis does not compare the DELETED flags with the master count: neither do we.
    Ok(live)
}

/// Decode a stream of layout version `v` (1-5).
pub(crate) fn decode_stream(cur: &mut Cursor<'_>, v: u8, sink: &mut dyn Sink) -> Result<()> {
    let nodes = cur.len()?;
    let mut masters: HashSet<StreamId> = HashSet::new();
    for _ in 0..nodes {
        let at = cur.rest();
        let key = cur.str()?;
        let Some(master) = StreamId::from_raw(&key) else {
            return Err(cur.err(ErrorKind::Integrity(Integrity::StreamNodeKeyNotId), at));
        };
        // Redis rejects a node key seen twice ("Listpack re-added with existing key").
        if !masters.insert(master) {
            return Err(cur.err(ErrorKind::Integrity(Integrity::StreamDuplicateNodeKey), at));
        }
        let lp = cur.str()?;
        if lp.is_empty() {
            return Err(cur.err(ErrorKind::Integrity(Integrity::StreamEmptyNode), at));
        }
        if sink.wants_layout() {
            sink.piece(Piece::Layout(Layout::StreamNode { master, listpack_bytes: lp.len() }))?;
        }
        decode_node(cur, master, &lp, sink)?;
    }
    let at = cur.rest();
    let length = cur.len()?;
    if length > 0 && nodes == 0 {
        return Err(cur.err(ErrorKind::Integrity(Integrity::StreamLengthWithoutNodes), at));
    }
    let last_id = id_pair(cur)?;
    let (mut first_id, mut max_deleted_id, mut entries_added) = (None, None, None);
    if v >= 2 {
        first_id = Some(id_pair(cur)?);
        max_deleted_id = Some(id_pair(cur)?);
        entries_added = Some(cur.len()?);
    }
    let ngroups = cur.len()?;
    let mut groups = Vec::new();
    let mut group_names: HashSet<Vec<u8>> = HashSet::new();
    for _ in 0..ngroups {
        let at = cur.rest();
        let name = cur.str()?.into_owned();
        let last = id_pair(cur)?;
        let entries_read = if v >= 2 {
            let e = cur.len()?;
            (e != u64::MAX).then_some(e)
        } else {
            None
        };
        let npel = cur.len()?;
        let mut pending = BTreeMap::new();
        for _ in 0..npel {
            let pat = cur.rest();
            let id = raw_id(cur)?;
            let delivery_time_ms = cur.i64_le()?;
            let delivery_count = cur.len()?;
            let p = PendingEntry { delivery_time_ms, delivery_count, consumer: None };
            if pending.insert(id, p).is_some() {
                return Err(cur.err(ErrorKind::Integrity(Integrity::StreamDuplicateGroupPelId), pat));
            }
        }
        let nconsumers = cur.len()?;
        let mut consumers: Vec<Consumer> = Vec::new();
        let mut consumer_names: HashSet<Vec<u8>> = HashSet::new();
        for _ in 0..nconsumers {
            let cat = cur.rest();
            let cname = cur.str()?.into_owned();
            // Checked before anything else of the consumer, as the loader
            // does (rdb.c `rdbLoadObject`: "Duplicate stream consumer").
            if !consumer_names.insert(cname.clone()) {
                return Err(cur.err(ErrorKind::Integrity(Integrity::StreamDuplicateConsumer), cat));
            }
            let seen_time_ms = cur.i64_le()?;
            let active_time_ms = if v >= 3 { Some(cur.i64_le()?) } else { None };
            let n = cur.len()?;
            let this = Some(consumers.len());
            for _ in 0..n {
                let iat = cur.rest();
                let id = raw_id(cur)?;
                let Some(p) = pending.get_mut(&id) else {
                    return Err(cur.err(ErrorKind::Integrity(Integrity::StreamConsumerPelNotInGroup), cat));
                };
                // Every server refuses an ID twice in one consumer's PEL
                // (rdb.c `rdbLoadObject`: "Duplicated consumer PEL entry"),
                // and Redis 7.0.15 and Valkey 9.1 one that an earlier
                // consumer already owns: a pending entry has one owner, so
                // a consumer's list is not kept but derived from the owners
                // (`Group::consumer_pels`).
                match p.consumer {
                    None => p.consumer = this,
                    Some(_) if p.consumer == this => {
                        return Err(cur.err(ErrorKind::Integrity(Integrity::StreamDuplicateConsumerPelId), iat))
                    }
                    Some(_) => {
                        return Err(cur.err(ErrorKind::Integrity(Integrity::StreamPelEntrySharedByConsumers), iat))
                    }
                }
            }
            consumers.push(Consumer { name: cname, seen_time_ms, active_time_ms });
        }
        let nacked = if v >= 5 {
            let n = cur.len()?;
            let mut ids = Vec::new();
            for _ in 0..n {
                let nat = cur.rest();
                let id = raw_id(cur)?;
                match pending.get(&id) {
                    None => return Err(cur.err(ErrorKind::Integrity(Integrity::StreamNackNotInGroupPel), nat)),
                    Some(p) if p.consumer.is_some() => {
                        return Err(cur.err(ErrorKind::Integrity(Integrity::StreamNackHasConsumer), nat))
                    }
                    Some(_) => ids.push(id),
                }
            }
            Some(ids)
        } else {
            None
        };
        // Deep sanitization: every PEL entry has an owner, or (v5) is NACKed.
        let nacked_set: HashSet<StreamId> = nacked.iter().flatten().copied().collect();
        if pending.iter().any(|(id, p)| p.consumer.is_none() && !nacked_set.contains(id)) {
            return Err(cur.err(ErrorKind::Integrity(Integrity::StreamGroupPelWithoutConsumer), at));
        }
        if !group_names.insert(name.clone()) {
            return Err(cur.err(ErrorKind::Integrity(Integrity::StreamDuplicateGroup), at));
        }
        groups.push(Group { name, last_id: last, entries_read, pending, consumers, nacked });
    }
    let idmp = if v >= 4 {
        let at = cur.rest();
        let duration_s = cur.len()?;
        let max_entries = cur.len()?;
        if !(1..=86400).contains(&duration_s) || !(1..=10000).contains(&max_entries) {
            return Err(cur.err(ErrorKind::Integrity(Integrity::StreamIdmpOutOfRange), at));
        }
        let nproducers = cur.len()?;
        let mut producers: Vec<Producer> = Vec::new();
        let mut pids: HashSet<Vec<u8>> = HashSet::new();
        for _ in 0..nproducers {
            let pat = cur.rest();
            let pid = cur.str()?.into_owned();
            if !pids.insert(pid.clone()) {
                return Err(cur.err(ErrorKind::Integrity(Integrity::StreamDuplicateIdmpProducer), pat));
            }
            let n = cur.len()?;
            let mut entries = Vec::new();
            for _ in 0..n {
                let iid = cur.str()?.into_owned();
                let id = id_pair(cur)?;
                entries.push((iid, id));
            }
            producers.push(Producer { pid, entries });
        }
        let iids_added = cur.len()?;
        let iids_duplicates = cur.len()?;
        Some(Idmp { duration_s, max_entries, producers, iids_added, iids_duplicates })
    } else {
        None
    };
    let meta = StreamMeta { version: v, nodes, length, last_id, first_id, max_deleted_id, entries_added, groups, idmp };
    sink.piece(Piece::StreamMeta(&meta))
}
