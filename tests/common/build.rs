//! RDB files built byte by byte, for the classes of files found in the wild
//! (hermetic and live `wild_files`) and the regression tests.

/// A short string as the RDB stores it (6-bit length).
pub fn s(text: &str) -> Vec<u8> {
    assert!(text.len() < 64);
    let mut out = vec![text.len() as u8];
    out.extend_from_slice(text.as_bytes());
    out
}

/// `REDIS00nn`, the records, EOF and the CRC-64.
pub fn rdb(version: u32, records: &[Vec<u8>]) -> Vec<u8> {
    let mut out = format!("REDIS{version:04}").into_bytes();
    for r in records {
        out.extend_from_slice(r);
    }
    out.push(0xff);
    let crc = crc_fast::checksum(crc_fast::CrcAlgorithm::Crc64Redis, &out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

pub fn aux(key: &str, value: &str) -> Vec<u8> {
    [vec![0xfa], s(key), s(value)].concat()
}

pub fn string_key(key: &str, value: &str) -> Vec<u8> {
    [vec![0x00], s(key), s(value)].concat()
}

/// Year 2100 in Unix ms: in the future on any clock the suite runs under.
pub const FAR_MS: i64 = 4_102_444_800_000;

/// An RDB 9 that holds `key:17` twice in db 1, the second copy last: "k" in
/// db 0 and "k" again in db 1 (not a duplicate), and many keys in db 1 between
/// the copies, so that segments start without knowing their db.
pub fn file_with_a_duplicate_key() -> Vec<u8> {
    let mut records = vec![vec![0xfe, 0x00], string_key("k", "first")];
    records.push(vec![0xfe, 0x01]);
    for i in 0..4000 {
        records.push(string_key(&format!("key:{i}"), "value"));
    }
    records.push(string_key("k", "in db 1: not a duplicate"));
    records.push(string_key("key:17", "again"));
    rdb(9, &records)
}

/// Consumers by name, each with the pending IDs (ms parts) it lists.
pub type ConsumerLists<'a> = &'a [(&'a str, &'a [u64])];

/// A raw stream ID as a PEL stores it: 128 bits, big-endian.
fn raw_id(ms: u64) -> Vec<u8> {
    [ms.to_be_bytes(), 0u64.to_be_bytes()].concat()
}

/// An RDB (9: stream layout v1; 10: v2) holding stream `s`: entries 1-0 and
/// 2-0 added then deleted, group `g` with both pending, and consumers that
/// each list the pending IDs given (ms parts). A server writes each pending
/// ID in exactly one consumer's list; the lists can be made to break that.
pub fn stream_with_consumer_pels(version: u32, consumers: ConsumerLists<'_>) -> Vec<u8> {
    let v2 = version >= 10;
    let mut r = vec![0xfe, 0x00, if v2 { 19 } else { 15 }];
    r.extend(s("s"));
    r.extend([0, 0, 2, 0]); // no nodes, no entries, last ID 2-0
    if v2 {
        r.extend([0, 0, 2, 0, 2]); // no first ID, max deleted 2-0, 2 added
    }
    r.push(1);
    r.extend(s("g"));
    r.extend([2, 0]); // the group read up to 2-0
    if v2 {
        r.push(2); // entries read
    }
    r.push(2);
    for ms in [1, 2] {
        r.extend(raw_id(ms));
        r.extend(1_000i64.to_le_bytes());
        r.push(1); // delivered once
    }
    r.push(consumers.len() as u8);
    for (name, ids) in consumers {
        r.extend(s(name));
        r.extend(1_000i64.to_le_bytes());
        r.push(ids.len() as u8);
        for ms in *ids {
            r.extend(raw_id(*ms));
        }
    }
    rdb(version, &[r])
}
