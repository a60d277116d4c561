//! Arbitrary keyspaces for property tests and fuzzing: every type, binary
//! names and values, integers that look like text and the reverse, TTLs, field
//! TTLs, streams with groups. The round-trip check writes one as an RDB of a
//! version, reads it back, and compares what comes out with what went in.
//!
//! Above every layer it exercises: it builds keyspaces (`keyspace`), writes
//! them (`output::rdb`) and reads them back (`event`).

use crate::error::{ErrorKind, Integrity, Result};
use crate::event::json::OwnedKey;
use crate::event::stream::{Consumer, Group, PendingEntry, StreamMeta};
use crate::event::value::{Stream, Zset};
use crate::event::{Event, KeyAttrs, OwnedValue, RdbReader, ReaderOptions, StreamId};
use crate::input::Input;
use crate::keyspace::replay::Replayer;
use crate::output::rdb::writer::{EncodingLimits, RdbWriter};
use arbitrary::{Arbitrary, Unstructured};
use std::collections::BTreeMap;

/// Short byte strings from a small alphabet collide and look like numbers often.
fn bytes(u: &mut Unstructured<'_>) -> arbitrary::Result<Vec<u8>> {
    let len = u.int_in_range(0..=u8::MAX as usize)? % 40;
    let len = if u.ratio(1, 20)? { len * 50 } else { len };
    (0..len)
        .map(|_| {
            Ok(match u.int_in_range(0..=9)? {
                0..=5 => b"0123456789-"[u.int_in_range(0..=10)?],
                6..=7 => b'a' + u.int_in_range(0..=3)?,
                _ => u8::arbitrary(u)?,
            })
        })
        .collect()
}

/// One generated key.
#[derive(Debug, Clone)]
pub struct GenKey(pub OwnedKey);

impl<'a> Arbitrary<'a> for GenKey {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let n = u.int_in_range(1..=20)?;
        let ttl = |u: &mut Unstructured<'_>| -> arbitrary::Result<Option<i64>> {
            Ok(if u.ratio(1, 3)? { Some(u.int_in_range(1_000_000_000_000..=4_000_000_000_000)?) } else { None })
        };
        let value = match u.int_in_range(0..=5)? {
            0 => OwnedValue::Str(bytes(u)?),
            1 => OwnedValue::List((0..n).map(|_| bytes(u)).collect::<arbitrary::Result<_>>()?),
            2 => OwnedValue::Set((0..n).map(|_| bytes(u)).collect::<arbitrary::Result<_>>()?),
            3 => {
                let mut z = Zset::default();
                for _ in 0..n {
                    let score = match u.int_in_range(0..=3)? {
                        0 => f64::from(u.int_in_range(-1000..=1000)?),
                        1 => f64::from(i32::arbitrary(u)?) / 7.0,
                        2 => *u.choose(&[f64::INFINITY, f64::NEG_INFINITY, 0.1, 1e300, -0.0])?,
                        _ => f64::from_bits(u64::arbitrary(u)?),
                    };
                    let score = if score.is_nan() { 0.5 } else { score };
                    z.scores.insert(bytes(u)?, score);
                }
                OwnedValue::Zset(z)
            }
            4 => {
                let mut f = indexmap::IndexMap::new();
                for _ in 0..n {
                    f.insert(bytes(u)?, (bytes(u)?, ttl(u)?));
                }
                OwnedValue::Hash(f)
            }
            _ => {
                let mut id = StreamId { ms: u.int_in_range(1..=1_000_000)?, seq: 0 };
                let mut entries = BTreeMap::new();
                for _ in 0..n {
                    let fields = (0..u.int_in_range(1..=3)?)
                        .map(|_| Ok((bytes(u)?, bytes(u)?)))
                        .collect::<arbitrary::Result<Vec<_>>>()?;
                    entries.insert(id, fields);
                    id = if u.ratio(1, 2)? {
                        StreamId { ms: id.ms, seq: id.seq + 1 }
                    } else {
                        StreamId { ms: id.ms + 1, seq: 0 }
                    };
                }
                let last_id = entries.keys().next_back().copied().unwrap_or_default();
                let groups = if u.ratio(1, 2)? {
                    let pending: BTreeMap<StreamId, PendingEntry> = entries
                        .iter()
                        .take(2)
                        .map(|(id, _)| {
                            let p = PendingEntry {
                                delivery_time_ms: 1_700_000_000_000,
                                delivery_count: 1,
                                consumer: Some(0),
                            };
                            (*id, p)
                        })
                        .collect();
                    let consumer = Consumer {
                        name: b"c1".to_vec(),
                        seen_time_ms: 1_700_000_000_000,
                        active_time_ms: Some(1_700_000_000_000),
                    };
                    vec![Group {
                        name: bytes(u)?,
                        last_id,
                        entries_read: Some(entries.len() as u64),
                        pending,
                        consumers: vec![consumer],
                        nacked: None,
                    }]
                } else {
                    Vec::new()
                };
                let meta = StreamMeta {
                    version: 0,
                    nodes: 0,
                    length: entries.len() as u64,
                    last_id,
                    first_id: entries.keys().next().copied(),
                    max_deleted_id: Some(StreamId::default()),
                    entries_added: Some(entries.len() as u64),
                    groups,
                    idmp: None,
                };
                OwnedValue::Stream(Box::new(Stream { entries, meta }))
            }
        };
        Ok(GenKey(OwnedKey {
            db: u.int_in_range(0..=3)?,
            key: bytes(u)?,
            attrs: KeyAttrs { expire_at_ms: ttl(u)?, ..KeyAttrs::default() },
            key_meta: None,
            value,
        }))
    }
}

/// Write `keys` as an RDB of `version`, read it back, and check that every key
/// the version can hold comes back equal (and the others were refused as
/// unsupported, never written wrong). Keys are deduplicated per db, the last
/// one winning, as a server would have them.
pub fn check_round_trip(keys: &[GenKey], version: u32) -> Result<()> {
    // The model of what goes in: replaying loads into a keyspace.
    let mut model = Replayer::new();
    for GenKey(k) in keys {
        model.load_key(k.db, k.key.clone(), OwnedValue::from_source(&k.value)?, &k.attrs);
    }
    let mut out = Vec::new();
    let mut written = Replayer::new();
    {
        let mut w = RdbWriter::new(&mut out, version, EncodingLimits::default(), true)?;
        for (db, entries) in &model.keyspace.dbs {
            w.select_db(*db)?;
            for (key, e) in entries {
                let meta = KeyAttrs { expire_at_ms: e.expire_at_ms, ..KeyAttrs::default() };
                match w.key(key, &meta, &e.obj) {
                    Ok(()) => written.load_key(*db, key.clone(), e.obj.clone(), &meta),
                    Err(err) if matches!(err.kind, ErrorKind::Unsupported(_)) => {}
                    Err(err) => return Err(err),
                }
            }
        }
        w.finish()?;
    }
    let mut input = Input::from_reader("round-trip", std::io::Cursor::new(out));
    let mut reader = RdbReader::new(&mut input, ReaderOptions::default());
    let mut back = Replayer::new();
    while let Some(ev) = reader.next()? {
        if let Event::Key(k) = ev {
            back.load_key(k.db, k.key.to_vec(), OwnedValue::from_source(&k.value)?, &k.attrs);
        }
    }
    let normal = |r: &Replayer| {
        r.keyspace
            .dbs
            .iter()
            .filter(|(_, keys)| !keys.is_empty())
            .map(|(db, keys)| {
                (*db, keys.iter().map(|(k, e)| (k.clone(), normalize(&e.obj), e.expire_at_ms)).collect::<Vec<_>>())
            })
            .collect::<Vec<_>>()
    };
    let (want, got) = (normal(&written), normal(&back));
    if want != got {
        let first = want
            .iter()
            .flat_map(|(db, keys)| keys.iter().map(move |k| (db, k)))
            .zip(got.iter().flat_map(|(db, keys)| keys.iter().map(move |k| (db, k))))
            .find(|(a, b)| a != b)
            .map(|(a, b)| format!("wrote {a:?}, read {b:?}"))
            .unwrap_or_else(|| "key sets differ".into());
        return Err(crate::error::Error::new(ErrorKind::Integrity(Integrity::RoundTripChanged))
            .detail(format!("RDB {version}: {}", &first[..first.len().min(1500)])));
    }
    Ok(())
}

/// Scores compared by bits (so -0.0 and 0.0 differ only where Redis keeps them
/// apart: compact encodings store integral scores as integers).
fn normalize(o: &OwnedValue) -> String {
    match o {
        OwnedValue::Zset(z) => format!(
            "{:?}",
            z.sorted()
                .iter()
                .map(|(m, s)| (m.to_vec(), if *s == 0.0 { 0.0 } else { *s }.to_bits()))
                .collect::<Vec<_>>()
        ),
        // Compact encodings order members their own way (an intset sorts
        // them): compared as sets.
        OwnedValue::Set(set) => {
            let mut members: Vec<&Vec<u8>> = set.iter().collect();
            members.sort();
            format!("Set{members:?}")
        }
        OwnedValue::Hash(h) => {
            let mut fields: Vec<_> = h.iter().collect();
            fields.sort();
            format!("Hash{fields:?}")
        }
        OwnedValue::Stream(s) => {
            let mut m = s.meta.clone();
            // Encoding details of the file read back.
            m.version = 0;
            m.nodes = 0;
            for g in &mut m.groups {
                for c in &mut g.consumers {
                    // Versions before 11 do not store the active time.
                    c.active_time_ms = None;
                }
                // Versions before 10 do not store entries_read; from 14 an
                // empty NACK zone is stored (as none before).
                g.entries_read = None;
                g.nacked = g.nacked.take().filter(|n| !n.is_empty());
            }
            m.first_id = None;
            m.max_deleted_id = None;
            m.entries_added = None;
            // RDB 13+ writes the server's IDMP defaults for a stream that never
            // used IDMP: the same as none.
            if m.idmp.as_ref().is_some_and(|i| {
                i.duration_s == 100 && i.max_entries == 100 && i.producers.is_empty() && i.iids_added == 0
            }) {
                m.idmp = None;
            }
            format!("{:?}{:?}", s.entries, m)
        }
        other => format!("{other:?}"),
    }
}

/// Frame `value` as the one key ("k", type byte `ty`) of an RDB that starts
/// with `header` (`REDIS0015`, `VALKEY080`…), and hand its event to `each`
/// if it frames: how the fuzz targets feed arbitrary values to a decoder.
pub fn with_one_key(header: &[u8], ty: u8, value: &[u8], each: impl FnOnce(&crate::event::KeyEvent<'_>)) {
    let mut file = header.to_vec();
    file.extend_from_slice(&[ty, 1, b'k']);
    file.extend_from_slice(value);
    let mut input = Input::from_reader("fuzz", std::io::Cursor::new(file));
    let mut reader = RdbReader::new(&mut input, ReaderOptions::default());
    if let Ok(Some(_header)) = reader.next() {
        if let Ok(Some(Event::Key(k))) = reader.next() {
            each(&k);
        }
    }
}
