//! Stream writes (t_stream.c): XADD with trimming and idempotent producers
//! (8.6), XDEL, XTRIM, XSETID, XGROUP's subcommands, XACK, XCLAIM (how the
//! server propagates group reads), XNACK (8.8), XCFGSET and XIDMPRECORD.

use super::args::{int, is, uint};
use super::{Args, Replayer, Res, WRONGTYPE};
use crate::event::stream::{Group, PendingEntry};
use crate::event::value::Stream;
use crate::event::OwnedValue;
use crate::event::StreamId;
use crate::keyspace::stream::parse_id;
use crate::keyspace::Entry;
use std::collections::btree_map;

impl Replayer {
    fn stream_or_new(&mut self, key: &[u8]) -> Result<&mut Stream, String> {
        match self.obj_or(
            key,
            || OwnedValue::Stream(Box::new(Stream::new())),
            |o| matches!(o, OwnedValue::Stream(_)),
        )? {
            OwnedValue::Stream(s) => Ok(s),
            _ => unreachable!("obj_or checked the type"),
        }
    }

    /// The stream at `key` (`None` if missing); WRONGTYPE for another type.
    fn stream_mut(&mut self, key: &[u8]) -> Result<Option<&mut Stream>, String> {
        match self.get_mut(key) {
            Some(Entry { obj: OwnedValue::Stream(s), .. }) => Ok(Some(s)),
            Some(_) => Err(WRONGTYPE.into()),
            None => Ok(None),
        }
    }

    /// XADD key [NOMKSTREAM] [IDMP pid iid|IDMPAUTO pid] [MAXLEN|MINID [=|~] n
    /// [LIMIT c]] id|* field value… (t_stream.c `xaddCommand`).
    pub(super) fn xadd(&mut self, a: &Args<'_>) -> Res {
        let mut i = 2;
        let mut nomkstream = false;
        let mut trim: Option<(Vec<u8>, Vec<u8>)> = None;
        // Redis 8.6 idempotent producers: IDMP <pid> <iid> | IDMPAUTO <pid>.
        let mut idmp: Option<(Vec<u8>, Option<Vec<u8>>)> = None;
        loop {
            let opt = a.get(i).ok_or("ERR syntax error")?.to_ascii_uppercase();
            match opt.as_slice() {
                b"NOMKSTREAM" => nomkstream = true,
                b"IDMP" => {
                    let pid = a.get(i + 1).ok_or("ERR syntax error")?.to_vec();
                    let iid = a.get(i + 2).ok_or("ERR syntax error")?.to_vec();
                    idmp = Some((pid, Some(iid)));
                    i += 2;
                }
                b"IDMPAUTO" => {
                    idmp = Some((a.get(i + 1).ok_or("ERR syntax error")?.to_vec(), None));
                    i += 1;
                }
                b"MAXLEN" | b"MINID" => {
                    let mut j = i + 1;
                    if matches!(a.get(j).copied(), Some(b"=") | Some(b"~")) {
                        j += 1;
                    }
                    trim = Some((opt.clone(), a.get(j).ok_or("ERR syntax error")?.to_vec()));
                    i = j;
                    if a.get(i + 1).is_some_and(|x| is(x, "LIMIT")) {
                        i += 2;
                    }
                }
                _ => break,
            }
            i += 1;
        }
        let id_arg = a[i];
        let fields = &a[i + 1..];
        if fields.is_empty() || !fields.len().is_multiple_of(2) {
            return Err("ERR wrong number of arguments for 'xadd' command".into());
        }
        if nomkstream && !self.db().contains_key(a[1]) {
            return Ok(());
        }
        let last = match self.stream_mut(a[1])? {
            Some(s) => s.meta.last_id,
            None => StreamId::default(),
        };
        let id = if id_arg == b"*" {
            let now = self.now_ms.max(0) as u64;
            if now > last.ms {
                StreamId { ms: now, seq: 0 }
            } else {
                StreamId { ms: last.ms, seq: last.seq + 1 }
            }
        } else {
            parse_id(id_arg).ok_or("ERR Invalid stream ID specified as stream command argument")?
        };
        // A known (producer, iid) is a duplicate: nothing is added.
        if let Some((pid, Some(iid))) = &idmp {
            if let Some(s) = self.stream_mut(a[1])? {
                if s.idmp_duplicate(pid, iid) {
                    return Ok(());
                }
            }
        }
        if id <= last {
            return Err("ERR The ID specified in XADD is equal or smaller than the target stream top item".into());
        }
        if let Some((pid, None)) = &idmp {
            self.notes.push(format!(
                "XADD IDMPAUTO of producer \"{}\": the entry is added, but its content hash (the iid) is not computed, \
                 so the producer's tracked iids are incomplete",
                crate::escape::escape_bytes(pid)
            ));
        }
        let s = self.stream_or_new(a[1])?;
        match &idmp {
            Some((pid, Some(iid))) => s.idmp_record(pid, iid, id),
            Some((_, None)) => s.idmp_mut().iids_added += 1,
            None => {}
        }
        s.append(id, fields.chunks(2).map(|p| (p[0].to_vec(), p[1].to_vec())).collect());
        if let Some((strategy, threshold)) = trim {
            apply_trim(s, &strategy, &threshold)?;
        }
        Ok(())
    }

    /// XDEL key id…: on an existing stream, every ID is validated before
    /// any is deleted (t_stream.c `xdelCommand`).
    pub(super) fn xdel(&mut self, a: &Args<'_>) -> Res {
        if let Some(s) = self.stream_mut(a[1])? {
            for id in parse_ids(&a[2..])? {
                s.delete(id);
            }
        }
        Ok(())
    }

    /// XTRIM key MAXLEN|MINID [=|~] threshold [LIMIT c].
    pub(super) fn xtrim(&mut self, a: &Args<'_>) -> Res {
        let (strategy, threshold) = trim_args(&a[2..])?;
        if let Some(s) = self.stream_mut(a[1])? {
            apply_trim(s, strategy, threshold)?;
        }
        Ok(())
    }

    /// XSETID key last-id [ENTRIESADDED n] [MAXDELETEDID id].
    pub(super) fn xsetid(&mut self, a: &Args<'_>) -> Res {
        let last = parse_id(a[2]).ok_or("ERR Invalid stream ID")?;
        let mut i = 3;
        let (mut added, mut maxdel) = (None, None);
        while i + 1 < a.len() {
            if is(a[i], "ENTRIESADDED") {
                added = Some(uint(a[i + 1])?);
            } else if is(a[i], "MAXDELETEDID") {
                maxdel = Some(parse_id(a[i + 1]).ok_or("ERR Invalid stream ID")?);
            }
            i += 2;
        }
        let Some(s) = self.stream_mut(a[1])? else { return Err("ERR no such key".into()) };
        s.meta.last_id = last;
        if let Some(n) = added {
            s.meta.entries_added = Some(n);
        }
        // MAXDELETEDID 0-0 leaves the stored value as it is (Redis 7.0).
        if let Some(m) = maxdel.filter(|m| *m != StreamId::default()) {
            s.meta.max_deleted_id = Some(m);
        }
        Ok(())
    }

    /// XGROUP CREATE key group id|$ [MKSTREAM] [ENTRIESREAD n].
    pub(super) fn xgroup_create(&mut self, a: &Args<'_>) -> Res {
        let key = a[2];
        let mkstream = a.iter().skip(5).any(|x| is(x, "MKSTREAM"));
        let entries_read = a.windows(2).skip(5).find(|w| is(w[0], "ENTRIESREAD")).map(|w| int(w[1])).transpose()?;
        if mkstream && !self.db().contains_key(key) {
            self.db().insert(key.to_vec(), Entry::new(OwnedValue::Stream(Box::new(Stream::new())), None));
        }
        let Some(s) = self.stream_mut(key)? else {
            return Err("ERR The XGROUP subcommand requires the key to exist".into());
        };
        if s.group(a[3]).is_some() {
            return Err("BUSYGROUP Consumer Group name already exists".into());
        }
        let id = if a[4] == b"$" { s.meta.last_id } else { parse_id(a[4]).ok_or("ERR Invalid stream ID")? };
        // Without ENTRIESREAD the server stores "unknown" (-1) and
        // estimates the lag when asked.
        let entries_read = entries_read.and_then(|n| u64::try_from(n).ok());
        s.meta.groups.push(Group::new(a[3].to_vec(), id, entries_read));
        Ok(())
    }

    /// XGROUP SETID key group id|$ [ENTRIESREAD n].
    pub(super) fn xgroup_setid(&mut self, a: &Args<'_>) -> Res {
        let entries_read = a.windows(2).skip(5).find(|w| is(w[0], "ENTRIESREAD")).map(|w| int(w[1])).transpose()?;
        let Some(s) = self.stream_mut(a[2])? else { return Err("ERR no such key".into()) };
        let last = s.meta.last_id;
        let g = s.group(a[3]).ok_or("NOGROUP No such consumer group")?;
        g.last_id = if a[4] == b"$" { last } else { parse_id(a[4]).ok_or("ERR Invalid stream ID")? };
        g.entries_read = entries_read.and_then(|n| u64::try_from(n).ok());
        Ok(())
    }

    /// XGROUP DESTROY key group.
    pub(super) fn xgroup_destroy(&mut self, a: &Args<'_>) -> Res {
        if let Some(s) = self.stream_mut(a[2])? {
            s.meta.groups.retain(|g| g.name != a[3]);
        }
        Ok(())
    }

    /// XGROUP CREATECONSUMER key group consumer.
    pub(super) fn xgroup_createconsumer(&mut self, a: &Args<'_>) -> Res {
        let now = self.now_ms;
        if let Some(g) = self.stream_mut(a[2])?.and_then(|s| s.group(a[3])) {
            g.consumer_index(a[4], now);
        }
        Ok(())
    }

    /// XGROUP DELCONSUMER key group consumer: its pending entries go too.
    pub(super) fn xgroup_delconsumer(&mut self, a: &Args<'_>) -> Res {
        if let Some(g) = self.stream_mut(a[2])?.and_then(|s| s.group(a[3])) {
            g.remove_consumer(a[4]);
        }
        Ok(())
    }

    /// XACK key group id…: on an existing group, every ID is validated
    /// before any is acknowledged (t_stream.c `xackCommand`).
    pub(super) fn xack(&mut self, a: &Args<'_>) -> Res {
        if let Some(g) = self.stream_mut(a[1])?.and_then(|s| s.group(a[2])) {
            g.drop_pending(&parse_ids(&a[3..])?);
        }
        Ok(())
    }

    /// XCFGSET key [IDMP-DURATION s] [IDMP-MAXSIZE n] (8.6).
    pub(super) fn xcfgset(&mut self, a: &Args<'_>) -> Res {
        let mut cfg = (None, None);
        for pair in a[2..].chunks(2) {
            let v = uint(pair.get(1).ok_or("ERR syntax error")?)?;
            match pair[0].to_ascii_uppercase().as_slice() {
                b"IDMP-DURATION" => cfg.0 = Some(v),
                b"IDMP-MAXSIZE" => cfg.1 = Some(v),
                _ => return Err("ERR syntax error".into()),
            }
        }
        let Some(s) = self.stream_mut(a[1])? else { return Err("ERR no such key".into()) };
        let idmp = s.idmp_mut();
        // A new configuration empties the tracked iids; the counters stay.
        idmp.producers.clear();
        if let Some(d) = cfg.0 {
            idmp.duration_s = d;
        }
        if let Some(m) = cfg.1 {
            idmp.max_entries = m;
        }
        Ok(())
    }

    /// XIDMPRECORD key pid iid id (8.6): how the server propagates an IDMP record.
    pub(super) fn xidmprecord(&mut self, a: &Args<'_>) -> Res {
        let id = parse_id(a[4]).ok_or("ERR Invalid stream ID")?;
        let Some(s) = self.stream_mut(a[1])? else { return Err("ERR no such key".into()) };
        s.idmp_record(a[2], a[3], id);
        Ok(())
    }

    /// XNACK key group FAIL|SILENT|FATAL IDS n id… [RETRYCOUNT c] [FORCE] (8.8):
    /// the entries leave their consumer for the group's NACK zone; FATAL makes
    /// the delivery count the maximum, SILENT takes one back, FAIL keeps it,
    /// RETRYCOUNT sets it; FORCE creates missing pending entries.
    pub(super) fn xnack(&mut self, a: &Args<'_>) -> Res {
        let mode = a[3].to_ascii_uppercase();
        if !is(a[4], "IDS") {
            return Err("ERR syntax error".into());
        }
        let n = uint(a[5])? as usize;
        let ids: Vec<StreamId> = a
            .get(6..6 + n)
            .ok_or("ERR syntax error")?
            .iter()
            .map(|i| parse_id(i).ok_or("ERR Invalid stream ID".to_string()))
            .collect::<Result<_, _>>()?;
        let (mut retry, mut force) = (None, false);
        let mut i = 6 + n;
        while i < a.len() {
            if is(a[i], "RETRYCOUNT") {
                retry = Some(uint(a.get(i + 1).ok_or("ERR syntax error")?)?);
                i += 2;
            } else if is(a[i], "FORCE") {
                force = true;
                i += 1;
            } else {
                return Err("ERR syntax error".into());
            }
        }
        let Some(s) = self.stream_mut(a[1])? else { return Err("NOGROUP No such key".into()) };
        let g = s.group(a[2]).ok_or("NOGROUP No such consumer group")?;
        for id in ids {
            let p = match g.pending.entry(id) {
                btree_map::Entry::Occupied(o) => o.into_mut(),
                btree_map::Entry::Vacant(v) if force => {
                    v.insert(PendingEntry { consumer: None, delivery_time_ms: 0, delivery_count: 0 })
                }
                btree_map::Entry::Vacant(_) => continue,
            };
            p.consumer = None;
            p.delivery_time_ms = 0;
            p.delivery_count = match (retry, mode.as_slice()) {
                (Some(c), _) => c,
                (None, b"FATAL") => i64::MAX as u64,
                (None, b"SILENT") => p.delivery_count.saturating_sub(1),
                (None, _) => p.delivery_count,
            };
            let zone = g.nacked.get_or_insert_with(Vec::new);
            zone.retain(|z| *z != id);
            zone.push(id);
        }
        Ok(())
    }

    /// XCLAIM key group consumer min-idle id… [IDLE ms] [TIME ms] [RETRYCOUNT n]
    /// [FORCE] [JUSTID] [LASTID id]: how group reads are propagated too.
    pub(super) fn xclaim(&mut self, a: &Args<'_>) -> Res {
        let now = self.now_ms;
        let mut ids = Vec::new();
        let mut i = 5;
        while i < a.len() {
            match parse_id(a[i]) {
                Some(id) if !a[i].is_empty() && a[i][0].is_ascii_digit() => ids.push(id),
                _ => break,
            }
            i += 1;
        }
        let (mut time, mut retry, mut force, mut justid, mut lastid) = (None, None, false, false, None);
        while i < a.len() {
            match a[i].to_ascii_uppercase().as_slice() {
                b"IDLE" => {
                    // Wrapping, as the server's C arithmetic does; the result
                    // is then bounded below like any other time.
                    time = Some(now.wrapping_sub(int(a.get(i + 1).ok_or("ERR syntax error")?)?));
                    i += 1;
                }
                b"TIME" => {
                    time = Some(int(a.get(i + 1).ok_or("ERR syntax error")?)?);
                    i += 1;
                }
                b"RETRYCOUNT" => {
                    retry = Some(uint(a.get(i + 1).ok_or("ERR syntax error")?)?);
                    i += 1;
                }
                b"FORCE" => force = true,
                b"JUSTID" => justid = true,
                b"LASTID" => {
                    lastid = Some(parse_id(a.get(i + 1).ok_or("ERR syntax error")?).ok_or("ERR Invalid stream ID")?);
                    i += 1;
                }
                _ => return Err("ERR syntax error".into()),
            }
            i += 1;
        }
        // A delivery time before the epoch or after now becomes now
        // (t_stream.c `xclaimCommand`).
        let time = time.map(|t| if t < 0 || t > now { now } else { t });
        let Some(s) = self.stream_mut(a[1])? else { return Err("NOGROUP No such key".into()) };
        let exists: Vec<bool> = ids.iter().map(|id| s.entries.contains_key(id)).collect();
        let g = s.group(a[2]).ok_or("NOGROUP No such consumer group")?;
        if let Some(l) = lastid {
            if l > g.last_id {
                g.last_id = l;
            }
        }
        for (id, exists) in ids.into_iter().zip(exists) {
            if !exists {
                // A pending entry whose stream entry is gone is dropped (a
                // dangling reference), never claimed.
                g.drop_pending(&[id]);
                continue;
            }
            if !force && !g.pending.contains_key(&id) {
                continue;
            }
            // The consumer exists once it has claimed something.
            let owner = g.consumer_index(a[3], now);
            g.consumers[owner].seen_time_ms = now;
            let p = g.pending.entry(id).or_insert(PendingEntry {
                consumer: None,
                delivery_time_ms: now,
                delivery_count: 0,
            });
            p.consumer = Some(owner);
            p.delivery_time_ms = time.unwrap_or(now);
            if let Some(zone) = &mut g.nacked {
                zone.retain(|z| *z != id);
            }
            match retry {
                Some(n) => p.delivery_count = n,
                None if !justid => p.delivery_count += 1,
                None => {}
            }
        }
        Ok(())
    }
}

fn trim_args<'a>(a: &'a [&'a [u8]]) -> Result<(&'a [u8], &'a [u8]), String> {
    let strategy = a[0];
    let mut j = 1;
    if matches!(a.get(j).copied(), Some(b"=") | Some(b"~")) {
        j += 1;
    }
    Ok((strategy, a.get(j).ok_or("ERR syntax error")?))
}

/// Stream IDs, all valid or an error.
fn parse_ids(words: &[&[u8]]) -> Result<Vec<StreamId>, String> {
    words.iter().map(|id| parse_id(id).ok_or_else(|| "ERR Invalid stream ID".to_string())).collect()
}

fn apply_trim(s: &mut Stream, strategy: &[u8], threshold: &[u8]) -> Res {
    if is(strategy, "MAXLEN") {
        s.trim_maxlen(uint(threshold)?);
    } else {
        s.trim_minid(parse_id(threshold).ok_or("ERR Invalid stream ID")?);
    }
    Ok(())
}
