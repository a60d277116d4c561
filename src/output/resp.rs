//! Writing keys as RESP commands, as Redis's AOF rewrite does (src/aof.c
//! `rewriteAppendOnlyFileRio`): `SELECT` when the database changes, one command
//! per string, collections in batches (`RPUSH`/`SADD`/`ZADD`/`HMSET` of at most
//! `batch` items), `PEXPIREAT` for TTLs, streams as `XADD`s then `XSETID`,
//! `XGROUP CREATE`, `XCLAIM … JUSTID FORCE` per pending entry and
//! `XGROUP CREATECONSUMER`. The output is an AOF body and valid input for
//! `redis-cli --pipe`.

use crate::error::{Error, ErrorKind, Integrity, Result};
use crate::event::decode::Piece;
use crate::event::stream::StreamMeta;
use crate::event::{KeyAttrs, ValueSource};
use crate::format::numbers::score_text;
use crate::format::KeyType;
use crate::token::Item;
use std::io::Write;

/// `AOF_REWRITE_ITEMS_PER_CMD`.
pub const DEFAULT_BATCH: usize = 64;

/// Append one RESP command (`*N` then `$len` bulk strings) to `out`.
pub fn put_command(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.push(b'*');
    out.extend_from_slice(itoa::Buffer::new().format(args.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    for a in args {
        out.push(b'$');
        out.extend_from_slice(itoa::Buffer::new().format(a.len()).as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

fn text(it: &Item<'_>) -> Vec<u8> {
    it.to_vec()
}

fn id_text(id: crate::event::StreamId) -> Vec<u8> {
    id.to_string().into_bytes()
}

/// Writes keys as commands.
pub struct RespWriter<W: Write> {
    out: W,
    buf: Vec<u8>,
    batch: usize,
    db: Option<u64>,
    /// The RDB version of the server the commands are for: commands and
    /// options newer than that server are not used (or the key is refused).
    target_version: u32,
    /// Leave out stream state the target cannot hold, with a note.
    pub lossy: bool,
    notes: Vec<String>,
    /// Write `RESTORE` with DUMP payloads instead of data commands
    /// (`Some(replace)`).
    pub restore: Option<bool>,
    /// Size limits for the encodings inside DUMP payloads.
    pub limits: crate::output::rdb::writer::EncodingLimits,
    /// Times the buffer went out (a key's commands can only be taken back
    /// while it has not).
    flushes: u64,
}

const FLUSH_AT: usize = 1 << 20;

impl RespWriter<Vec<u8>> {
    /// Bytes encoded so far.
    pub fn encoded_len(&self) -> usize {
        self.out.len() + self.buf.len()
    }

    /// Forget what was encoded after the first `len` bytes (a key that failed
    /// half way, perhaps after a flush).
    pub fn truncate_encoded(&mut self, len: usize) {
        if len <= self.out.len() {
            self.out.truncate(len);
            self.buf.clear();
        } else {
            self.buf.truncate(len - self.out.len());
        }
    }
}

impl<W: Write> RespWriter<W> {
    /// Commands for a server of RDB `target_version` (12 = Redis 7.4+).
    pub fn new(out: W, batch: usize, target_version: u32) -> Self {
        RespWriter {
            out,
            buf: Vec::with_capacity(1 << 16),
            batch: batch.max(1),
            db: None,
            target_version,
            lossy: false,
            notes: Vec::new(),
            restore: None,
            limits: Default::default(),
            flushes: 0,
        }
    }

    /// What was left out since the last call (`lossy`).
    pub fn take_notes(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notes)
    }

    fn flush_if_big(&mut self) -> Result<()> {
        if self.buf.len() >= FLUSH_AT {
            self.out.write_all(&self.buf).map_err(Error::io)?;
            self.buf.clear();
            self.flushes += 1;
        }
        Ok(())
    }

    /// Any command, as is.
    pub fn command(&mut self, args: &[&[u8]]) -> Result<()> {
        put_command(&mut self.buf, args);
        self.flush_if_big()
    }

    /// `FUNCTION LOAD <code>` (written first, as the rewrite does).
    pub fn function(&mut self, code: &[u8]) -> Result<()> {
        if self.target_version < 10 {
            return Err(Error::new(ErrorKind::Unsupported("functions need Redis 7.0 (RDB 10) or later")));
        }
        self.command(&[b"FUNCTION", b"LOAD", code])
    }

    /// Bytes already encoded (commands written through `raw` included).
    pub fn raw(&mut self, bytes: &[u8]) -> Result<()> {
        self.buf.extend_from_slice(bytes);
        self.flush_if_big()
    }

    /// Take `db` as selected without writing SELECT (for commands whose
    /// SELECT is written by whoever appends them).
    pub fn assume_db(&mut self, db: u64) {
        self.db = Some(db);
    }

    /// SELECT `db` unless it is the current one.
    pub fn select(&mut self, db: u64) -> Result<()> {
        if self.db != Some(db) {
            self.command(&[b"SELECT", itoa::Buffer::new().format(db).as_bytes()])?;
            self.db = Some(db);
        }
        Ok(())
    }

    /// The commands that rebuild one key.
    /// A key that cannot be written leaves nothing behind, not even its
    /// SELECT (unless a huge value was already partly flushed).
    pub fn key(&mut self, db: u64, key: &[u8], meta: &KeyAttrs<'_>, value: &dyn ValueSource) -> Result<()> {
        let (start, db_before, flushes_before) = (self.buf.len(), self.db, self.flushes);
        if self.db != Some(db) {
            put_command(&mut self.buf, &[b"SELECT", itoa::Buffer::new().format(db).as_bytes()]);
            self.db = Some(db);
        }
        let written = self.key_commands(key, meta, value);
        if let Err(e) = written {
            if self.flushes == flushes_before {
                self.buf.truncate(start);
                self.db = db_before;
            }
            return Err(e.key(key));
        }
        if meta.ram_lru.is_some() {
            self.notes.push(crate::output::rdb::writer::RAM_LRU_NOTE.into());
        }
        Ok(())
    }

    fn key_commands(&mut self, key: &[u8], meta: &KeyAttrs<'_>, value: &dyn ValueSource) -> Result<()> {
        if let Some(replace) = self.restore {
            return self.restore_key(key, meta, value, replace);
        }
        let written = match value.key_type() {
            KeyType::String => self.string(key, value),
            KeyType::List => self.batched(key, value, b"RPUSH"),
            KeyType::Set => self.batched(key, value, b"SADD"),
            KeyType::Zset => self.batched(key, value, b"ZADD"),
            KeyType::Hash => self.hash(key, value),
            KeyType::Stream => self.stream(key, value),
            KeyType::Module => {
                Err(Error::new(ErrorKind::Unsupported("module values have no generic command form (use --restore)")))
            }
            KeyType::Array => Err(Error::new(ErrorKind::Unsupported("array values have no command form here"))),
        };
        written?;
        if let Some(t) = meta.expire_at_ms {
            self.command(&[b"PEXPIREAT", key, itoa::Buffer::new().format(t).as_bytes()])?;
        }
        Ok(())
    }

    /// `RESTORE key <abs-ms|0> <payload> ABSTTL [REPLACE] [IDLETIME s] [FREQ f]`:
    /// exact, keeps TTL and LRU/LFU, and fast to load.
    fn restore_key(&mut self, key: &[u8], meta: &KeyAttrs<'_>, value: &dyn ValueSource, replace: bool) -> Result<()> {
        let (payload, notes) =
            crate::output::rdb::writer::dump_payload(value, self.target_version, self.limits, self.lossy)
                .map_err(|e| e.key(key))?;
        self.notes.extend(notes);
        let ttl = meta.expire_at_ms.unwrap_or(0).to_string().into_bytes();
        let mut args: Vec<Vec<u8>> = vec![b"RESTORE".to_vec(), key.to_vec(), ttl, payload, b"ABSTTL".to_vec()];
        if replace {
            args.push(b"REPLACE".to_vec());
        }
        if let Some(idle) = meta.idle_s {
            args.push(b"IDLETIME".to_vec());
            args.push(idle.to_string().into_bytes());
        }
        if let Some(freq) = meta.freq {
            args.push(b"FREQ".to_vec());
            args.push(freq.to_string().into_bytes());
        }
        let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        self.command(&refs)
    }

    pub fn finish(mut self) -> Result<W> {
        self.out.write_all(&self.buf).map_err(Error::io)?;
        self.out.flush().map_err(Error::io)?;
        Ok(self.out)
    }

    fn string(&mut self, key: &[u8], value: &dyn ValueSource) -> Result<()> {
        let buf = &mut self.buf;
        value.pieces(&mut |p: Piece<'_>| {
            if let Piece::Str(s) = p {
                put_command(buf, &[b"SET", key, s]);
            }
            Ok(())
        })?;
        self.flush_if_big()
    }

    /// RPUSH / SADD / ZADD in batches of `batch` items.
    fn batched(&mut self, key: &[u8], value: &dyn ValueSource, verb: &'static [u8]) -> Result<()> {
        let batch = self.batch;
        let mut pending: Vec<Vec<u8>> = Vec::with_capacity(batch * 2);
        let per_item = if verb == b"ZADD" { 2 } else { 1 };
        let (buf, out) = (&mut self.buf, &mut self.out);
        let mut emit = |pending: &mut Vec<Vec<u8>>, buf: &mut Vec<u8>| -> Result<()> {
            let mut args: Vec<&[u8]> = Vec::with_capacity(pending.len() + 2);
            args.push(verb);
            args.push(key);
            args.extend(pending.iter().map(Vec::as_slice));
            put_command(buf, &args);
            pending.clear();
            if buf.len() >= FLUSH_AT {
                out.write_all(buf).map_err(Error::io)?;
                buf.clear();
            }
            Ok(())
        };
        let mut items = 0u64;
        value.pieces(&mut |p: Piece<'_>| {
            match p {
                Piece::Elem(it) => pending.push(text(&it)),
                Piece::Member { member, score } => {
                    pending.push(score_text(score).into_bytes());
                    pending.push(text(&member));
                }
                _ => return Ok(()),
            }
            items += 1;
            if pending.len() >= batch * per_item {
                emit(&mut pending, buf)?;
            }
            Ok(())
        })?;
        if items == 0 {
            // Nothing was written: no command creates an empty key.
            return Err(Error::new(ErrorKind::EmptyKey));
        }
        if !pending.is_empty() {
            emit(&mut pending, buf)?;
        }
        Ok(())
    }

    /// HMSET in batches; a hash with field TTLs is written field by field with
    /// `HPEXPIREAT … FIELDS 1 f`, as the 7.4+ rewrite does.
    fn hash(&mut self, key: &[u8], value: &dyn ValueSource) -> Result<()> {
        let (mut has_ttls, mut fields) = (false, 0u64);
        value.pieces(&mut |p: Piece<'_>| {
            if let Piece::Field { expire_at_ms, .. } = p {
                has_ttls |= expire_at_ms.is_some();
                fields += 1;
            }
            Ok(())
        })?;
        if fields == 0 {
            return Err(Error::new(ErrorKind::EmptyKey));
        }
        if has_ttls && self.target_version < 12 {
            return Err(Error::new(ErrorKind::Unsupported("hash field TTLs need Redis 7.4 (RDB 12) or later")));
        }
        if !has_ttls {
            let batch = self.batch;
            let mut pending: Vec<Vec<u8>> = Vec::new();
            let buf = &mut self.buf;
            let emit = |pending: &mut Vec<Vec<u8>>, buf: &mut Vec<u8>| {
                let mut args: Vec<&[u8]> = vec![b"HMSET", key];
                args.extend(pending.iter().map(Vec::as_slice));
                put_command(buf, &args);
                pending.clear();
            };
            value.pieces(&mut |p: Piece<'_>| {
                if let Piece::Field { field, value, .. } = p {
                    pending.push(text(&field));
                    pending.push(text(&value));
                    if pending.len() >= batch * 2 {
                        emit(&mut pending, buf);
                    }
                }
                Ok(())
            })?;
            if !pending.is_empty() {
                emit(&mut pending, buf);
            }
            return self.flush_if_big();
        }
        let buf = &mut self.buf;
        value.pieces(&mut |p: Piece<'_>| {
            if let Piece::Field { field, value, expire_at_ms } = p {
                let (f, v) = (text(&field), text(&value));
                put_command(buf, &[b"HMSET", key, &f, &v]);
                if let Some(t) = expire_at_ms {
                    put_command(
                        buf,
                        &[b"HPEXPIREAT", key, itoa::Buffer::new().format(t).as_bytes(), b"FIELDS", b"1", &f],
                    );
                }
            }
            Ok(())
        })?;
        self.flush_if_big()
    }

    fn stream(&mut self, key: &[u8], value: &dyn ValueSource) -> Result<()> {
        if self.target_version < 9 {
            return Err(Error::new(ErrorKind::Unsupported("streams need Redis 5.0 (RDB 9) or later")));
        }
        // ENTRIESADDED / MAXDELETEDID / ENTRIESREAD are Redis 7.0 options.
        let v7 = self.target_version >= 10;
        let mut meta: Option<StreamMeta> = None;
        let mut entries = 0u64;
        // In ID order, as stored: XCLAIM can only claim what is there.
        let mut ids = Vec::new();
        let buf = &mut self.buf;
        value.pieces(&mut |p: Piece<'_>| {
            match p {
                Piece::StreamEntry { id, fields } => {
                    ids.push(id);
                    let id = id_text(id);
                    let texts: Vec<Vec<u8>> = fields.iter().flat_map(|(f, v)| [text(f), text(v)]).collect();
                    let mut args: Vec<&[u8]> = vec![b"XADD", key, &id];
                    args.extend(texts.iter().map(Vec::as_slice));
                    put_command(buf, &args);
                    entries += 1;
                }
                Piece::StreamMeta(m) => meta = Some(m.clone()),
                _ => {}
            }
            Ok(())
        })?;
        let mut meta = meta.ok_or_else(|| Error::new(ErrorKind::Integrity(Integrity::StreamWithoutMetadata)))?;
        if self.target_version < 13 {
            crate::output::rdb::writer::strip_newer_stream_state(&mut meta, self.lossy, &mut self.notes)?;
        } else if meta.idmp.is_some() || meta.groups.iter().any(|g| g.nacked.as_ref().is_some_and(|n| !n.is_empty())) {
            return Err(Error::new(ErrorKind::Unsupported(
                "stream IDMP state and NACK zones have no command form here",
            )));
        }
        if meta.length != entries {
            self.notes.push(format!(
                "stream length {} recorded with {entries} entries: the commands rebuild {entries}",
                meta.length
            ));
        }
        if entries == 0 {
            // An empty stream: create it, then trim the placeholder away.
            self.command(&[b"XADD", key, b"MAXLEN", b"0", b"0-1", b"x", b"y"])?;
        }
        let last = id_text(meta.last_id);
        let added = meta.entries_added.unwrap_or(meta.length).to_string().into_bytes();
        let max_deleted = id_text(meta.max_deleted_id.unwrap_or_default());
        if v7 {
            self.command(&[b"XSETID", key, &last, b"ENTRIESADDED", &added, b"MAXDELETEDID", &max_deleted])?;
        } else {
            self.command(&[b"XSETID", key, &last])?;
        }
        for g in &meta.groups {
            let gid = id_text(g.last_id);
            match g.entries_read.filter(|_| v7) {
                Some(n) => {
                    let n = n.to_string().into_bytes();
                    self.command(&[b"XGROUP", b"CREATE", key, &g.name, &gid, b"ENTRIESREAD", &n])?
                }
                None => self.command(&[b"XGROUP", b"CREATE", key, &g.name, &gid])?,
            }
            let exists = |id: &crate::event::StreamId| ids.binary_search(id).is_ok();
            let gone = g.pending.keys().filter(|id| !exists(id)).count();
            if gone > 0 {
                // XCLAIM … FORCE ignores IDs no longer in the stream, as
                // the server's own AOF rewrite does.
                self.notes.push(format!(
                    "group \"{}\": {gone} pending entries of deleted messages left out (no command recreates \
                     them; --restore keeps them)",
                    crate::escape::escape_bytes(&g.name)
                ));
            }
            for (id, p) in g.pending.iter().filter(|(id, _)| exists(id)) {
                let Some(owner) = g.owner(p) else { continue };
                let (id, time, count) = (
                    id_text(*id),
                    p.delivery_time_ms.to_string().into_bytes(),
                    p.delivery_count.to_string().into_bytes(),
                );
                self.command(&[
                    b"XCLAIM",
                    key,
                    &g.name,
                    owner,
                    b"0",
                    &id,
                    b"TIME",
                    &time,
                    b"RETRYCOUNT",
                    &count,
                    b"JUSTID",
                    b"FORCE",
                ])?;
            }
            // A consumer that claims nothing is created on its own.
            for (c, _) in g.consumers.iter().zip(g.consumer_pels()).filter(|(_, pel)| !pel.iter().any(exists)) {
                self.command(&[b"XGROUP", b"CREATECONSUMER", key, &g.name, &c.name])?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_resp_arrays_of_bulk_strings() {
        let mut out = Vec::new();
        put_command(&mut out, &[b"SET", b"k", b"a\r\nb"]);
        assert_eq!(out, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\na\r\nb\r\n");
        let (_, item) = crate::token::resp::parse_aof_item(&out).unwrap();
        assert!(matches!(item, crate::token::resp::AofItem::Command(f) if f.argc == 3));
    }

    #[test]
    fn scores_read_back_exactly() {
        for s in [0.1, -1.5, 3.0, 1e300, -2.2250738585072014e-308, 123456789.125, f64::INFINITY, f64::NEG_INFINITY] {
            let t = score_text(s);
            let back: f64 = match t.as_str() {
                "inf" => f64::INFINITY,
                "-inf" => f64::NEG_INFINITY,
                t => t.parse().unwrap(),
            };
            assert_eq!(back.to_bits(), s.to_bits(), "{t}");
        }
        assert_eq!(score_text(3.0), "3");
    }
}
