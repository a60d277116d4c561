//! Building ziplists as Redis ≤ 6.2 encodes them (src/ziplist.c): strings
//! shorter than 32 bytes that are the exact decimal form of an i64 become
//! integers in the smallest form (4-bit immediate for 0..=12), every entry
//! starts with the previous entry's length.

use crate::token::{parse_canonical_i64, Item};

/// Bytes `item` takes in a ziplist after an entry of `prev_len` bytes (what
/// `__ziplistInsert` adds, before any cascade update of the next entry).
pub fn entry_size(prev_len: usize, item: Item<'_>) -> usize {
    let prevlen = if prev_len < 254 { 1 } else { 5 };
    let body = match stored_int(item) {
        Some(v) if (0..=12).contains(&v) => 1,
        Some(v) if i8::try_from(v).is_ok() => 2,
        Some(v) if i16::try_from(v).is_ok() => 3,
        Some(v) if (-(1 << 23)..(1 << 23)).contains(&v) => 4,
        Some(v) if i32::try_from(v).is_ok() => 5,
        Some(_) => 9,
        None => {
            let n = item_len(item);
            n + if n < 64 {
                1
            } else if n < 16384 {
                2
            } else {
                5
            }
        }
    };
    prevlen + body
}

/// The integer an item is stored as (`zipTryEncoding`: only entries of
/// 1..=31 bytes are tried).
fn stored_int(item: Item<'_>) -> Option<i64> {
    match item {
        Item::Int(v) => Some(v),
        Item::Bytes(b) if !b.is_empty() && b.len() < 32 => parse_canonical_i64(b),
        Item::Bytes(_) => None,
    }
}

fn item_len(item: Item<'_>) -> usize {
    match item {
        Item::Bytes(b) => b.len(),
        Item::Int(v) => itoa::Buffer::new().format(v).len(),
    }
}

#[derive(Debug, Default, Clone)]
pub struct ZiplistBuilder {
    body: Vec<u8>,
    count: usize,
    last_entry_len: usize,
    last_entry_start: usize,
}

impl ZiplistBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Bytes the finished ziplist will take.
    pub fn bytes(&self) -> usize {
        self.body.len() + 11
    }

    pub fn push(&mut self, item: Item<'_>) {
        let value = stored_int(item);
        let start = self.body.len();
        let body = &mut self.body;
        if self.last_entry_len < 254 {
            body.push(self.last_entry_len as u8);
        } else {
            body.push(0xfe);
            body.extend_from_slice(&(self.last_entry_len as u32).to_le_bytes());
        }
        match (value, item) {
            (Some(v), _) if (0..=12).contains(&v) => body.push(0xf1 + v as u8),
            (Some(v), _) if i8::try_from(v).is_ok() => {
                body.push(0xfe);
                body.push(v as i8 as u8);
            }
            (Some(v), _) if i16::try_from(v).is_ok() => {
                body.push(0xc0);
                body.extend_from_slice(&(v as i16).to_le_bytes());
            }
            (Some(v), _) if (-(1 << 23)..(1 << 23)).contains(&v) => {
                body.push(0xf0);
                body.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
            }
            (Some(v), _) if i32::try_from(v).is_ok() => {
                body.push(0xd0);
                body.extend_from_slice(&(v as i32).to_le_bytes());
            }
            (Some(v), _) => {
                body.push(0xe0);
                body.extend_from_slice(&v.to_le_bytes());
            }
            (None, Item::Bytes(s)) => {
                let n = s.len();
                if n < 64 {
                    body.push(n as u8);
                } else if n < 16384 {
                    body.push(0x40 | (n >> 8) as u8);
                    body.push(n as u8);
                } else {
                    body.push(0x80);
                    body.extend_from_slice(&(n as u32).to_be_bytes());
                }
                body.extend_from_slice(s);
            }
            (None, Item::Int(_)) => unreachable!("integers always have a value"),
        }
        debug_assert_eq!(self.body.len() - start, entry_size(self.last_entry_len, item));
        self.last_entry_start = start;
        self.last_entry_len = self.body.len() - start;
        self.count += 1;
    }

    /// The blob: total bytes, offset of the last entry, count (65535 = "count
    /// it"), entries, 0xFF.
    pub fn finish(&self) -> Vec<u8> {
        let mut zl = Vec::with_capacity(self.bytes());
        zl.extend_from_slice(&(self.bytes() as u32).to_le_bytes());
        let tail = if self.count == 0 { 10 } else { 10 + self.last_entry_start };
        zl.extend_from_slice(&(tail as u32).to_le_bytes());
        zl.extend_from_slice(&(self.count.min(65535) as u16).to_le_bytes());
        zl.extend_from_slice(&self.body);
        zl.push(0xff);
        zl
    }
}

pub fn build(items: &[Item<'_>]) -> Vec<u8> {
    let mut b = ZiplistBuilder::new();
    for it in items {
        b.push(*it);
    }
    b.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::ziplist::walk;

    fn read(zl: &[u8]) -> Vec<Item<'_>> {
        let mut v = Vec::new();
        walk(zl, |it| {
            v.push(it);
            Ok(())
        })
        .unwrap();
        v
    }

    #[test]
    fn every_form_reads_back_through_the_validating_walker() {
        let long = vec![b'x'; 300];
        let huge = vec![b'y'; 20000];
        let items = [
            Item::Int(0),
            Item::Int(12),
            Item::Int(13),
            Item::Int(-128),
            Item::Int(1000),
            Item::Int(-8_000_000),
            Item::Int(2_000_000_000),
            Item::Int(i64::MAX),
            Item::Bytes(b"abc"),
            Item::Bytes(&long),
            Item::Bytes(&huge),
            Item::Bytes(b"7"),
        ];
        let zl = build(&items);
        let mut expected = items.to_vec();
        expected[11] = Item::Int(7);
        assert_eq!(read(&zl), expected);
        assert_eq!(read(&build(&[])), vec![]);
    }

    #[test]
    fn documented_example() {
        // The ziplist of [2, 5]: zlbytes 15, zltail 12, zllen 2 (docs/format/ziplist-listpack.md, "Ziplist").
        assert_eq!(build(&[Item::Int(2), Item::Int(5)]), [0x0f, 0, 0, 0, 0x0c, 0, 0, 0, 2, 0, 0, 0xf3, 2, 0xf6, 0xff]);
    }
}
