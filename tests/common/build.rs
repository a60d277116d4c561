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
