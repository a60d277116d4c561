//! Cluster hash slots (cluster.c `keyHashSlot`): CRC16-XMODEM of the key, or
//! of its hash tag (the bytes between the first `{` and the next `}`, when
//! not empty), modulo 16384.

pub const SLOTS: usize = 16384;

/// CRC-16/XMODEM tables: `TABLES[0]` is the byte-at-a-time table, and
/// `TABLES[k][b]` the CRC of byte `b` followed by `k` zero bytes, so eight
/// bytes fold in with eight independent lookups (slicing-by-8): key names
/// are hashed once per key in `memory`, where this shows.
const TABLES: [[u16; 256]; 8] = {
    let mut t = [[0u16; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut crc = (i as u16) << 8;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 0x8000 != 0 { (crc << 1) ^ 0x1021 } else { crc << 1 };
            bit += 1;
        }
        t[0][i] = crc;
        i += 1;
    }
    let mut k = 1;
    while k < 8 {
        let mut i = 0;
        while i < 256 {
            let prev = t[k - 1][i];
            t[k][i] = (prev << 8) ^ t[0][(prev >> 8) as usize];
            i += 1;
        }
        k += 1;
    }
    t
};

/// CRC-16/XMODEM (polynomial 0x1021, initial 0), as crc16.c computes it.
fn crc16(bytes: &[u8]) -> u16 {
    let mut crc = 0u16;
    let mut blocks = bytes.chunks_exact(8);
    for b in &mut blocks {
        let head = crc ^ u16::from_be_bytes([b[0], b[1]]);
        crc = TABLES[7][(head >> 8) as usize]
            ^ TABLES[6][(head & 0xff) as usize]
            ^ TABLES[5][b[2] as usize]
            ^ TABLES[4][b[3] as usize]
            ^ TABLES[3][b[4] as usize]
            ^ TABLES[2][b[5] as usize]
            ^ TABLES[1][b[6] as usize]
            ^ TABLES[0][b[7] as usize];
    }
    blocks.remainder().iter().fold(crc, |crc, &b| (crc << 8) ^ TABLES[0][((crc >> 8) as u8 ^ b) as usize])
}

/// The slot of `key`.
pub fn key_slot(key: &[u8]) -> u16 {
    let hashed = match memchr::memchr(b'{', key) {
        Some(open) => match memchr::memchr(b'}', &key[open + 1..]) {
            Some(len) if len > 0 => &key[open + 1..open + 1 + len],
            _ => key,
        },
        None => key,
    };
    crc16(hashed) & (SLOTS as u16 - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_as_cluster_keyslot_reports_them() {
        // CRC-16/XMODEM check value.
        assert_eq!(crc16(b"123456789"), 0x31c3);
        // `CLUSTER KEYSLOT` on Redis: foo 12182, bar 5061; hash tags.
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"bar"), 5061);
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
        assert_eq!(key_slot(b"foo{}{bar}"), key_slot(b"foo{}{bar}"));
        assert_eq!(key_slot(b"foo{{bar}}zap"), key_slot(b"{bar"));
    }

    #[test]
    fn eight_bytes_at_a_time_is_the_bitwise_crc() {
        let bitwise = |bytes: &[u8]| {
            bytes.iter().fold(0u16, |mut crc, &b| {
                crc ^= u16::from(b) << 8;
                for _ in 0..8 {
                    crc = if crc & 0x8000 != 0 { (crc << 1) ^ 0x1021 } else { crc << 1 };
                }
                crc
            })
        };
        let data: Vec<u8> = (0..200u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        for start in 0..9 {
            for end in start..data.len() {
                assert_eq!(crc16(&data[start..end]), bitwise(&data[start..end]), "{start}..{end}");
            }
        }
    }
}
