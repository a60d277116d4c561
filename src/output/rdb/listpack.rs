//! Building listpacks as Redis encodes them (src/listpack.c `lpInsert`):
//! strings that are the exact decimal form of an i64 become integers, in the
//! smallest integer form; every entry carries its back-length.

use crate::token::{parse_canonical_i64, Item};

/// Size in bytes of the back-length that encodes `l` (`lpEncodeBacklen`).
fn backlen_size(l: usize) -> usize {
    match l {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2097150 => 3,
        2097151..=268435454 => 4,
        _ => 5,
    }
}

/// The integer an item is stored as: strings that are the exact decimal form
/// of an i64 become integers (`lpStringToInt64`).
fn stored_int(item: Item<'_>) -> Option<i64> {
    match item {
        Item::Int(v) => Some(v),
        Item::Bytes(b) => parse_canonical_i64(b),
    }
}

/// Bytes of an integer entry before its back-length: 7-bit unsigned and
/// 13-bit forms carry the value in the encoding byte(s); wider ones take a
/// tag byte and 2, 3, 4 or 8 bytes.
fn int_width(v: i64) -> usize {
    match v {
        0..=127 => 1,
        -4096..=4095 => 2,
        _ if i16::try_from(v).is_ok() => 3,
        _ if (-(1 << 23)..(1 << 23)).contains(&v) => 4,
        _ if i32::try_from(v).is_ok() => 5,
        _ => 9,
    }
}

/// Bytes of a string entry's length header: 6, 12 or 32-bit lengths.
fn str_header(len: usize) -> usize {
    match len {
        0..=63 => 1,
        64..=4095 => 2,
        _ => 5,
    }
}

/// Bytes `item` takes in a listpack, back-length included (what `lpInsert`
/// adds to the blob).
pub fn entry_size(item: Item<'_>) -> usize {
    let l = match (stored_int(item), item) {
        (Some(v), _) => int_width(v),
        (None, Item::Bytes(s)) => str_header(s.len()) + s.len(),
        (None, Item::Int(_)) => unreachable!("integers always have a value"),
    };
    l + backlen_size(l)
}

/// An accumulating listpack.
#[derive(Debug, Default, Clone)]
pub struct ListpackBuilder {
    body: Vec<u8>,
    count: usize,
}

impl ListpackBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Bytes the finished listpack will take.
    pub fn bytes(&self) -> usize {
        self.body.len() + 7
    }

    pub fn push(&mut self, item: Item<'_>) {
        let start = self.body.len();
        let body = &mut self.body;
        match stored_int(item) {
            Some(v) => {
                let width = int_width(v);
                match width {
                    1 => body.push(v as u8),
                    2 => {
                        let u = (v as u16) & 0x1fff;
                        body.push(0xc0 | (u >> 8) as u8);
                        body.push(u as u8);
                    }
                    n => {
                        // 0xf1..0xf4: 16, 24, 32 and 64-bit integers follow.
                        body.push([0xf1, 0xf2, 0xf3, 0, 0, 0, 0xf4][n - 3]);
                        body.extend_from_slice(&v.to_le_bytes()[..n - 1]);
                    }
                }
            }
            None => {
                let s = match item {
                    Item::Bytes(s) => s,
                    Item::Int(_) => unreachable!("integers always have a value"),
                };
                match str_header(s.len()) {
                    1 => body.push(0x80 | s.len() as u8),
                    2 => {
                        body.push(0xe0 | (s.len() >> 8) as u8);
                        body.push(s.len() as u8);
                    }
                    _ => {
                        body.push(0xf0);
                        body.extend_from_slice(&(s.len() as u32).to_le_bytes());
                    }
                }
                body.extend_from_slice(s);
            }
        }
        let l = body.len() - start;
        let n = backlen_size(l);
        for k in (0..n).rev() {
            let group = ((l >> (7 * k)) & 0x7f) as u8;
            body.push(if k == n - 1 { group } else { group | 0x80 });
        }
        self.count += 1;
    }

    /// Append the entries of another builder.
    pub fn append(&mut self, other: &ListpackBuilder) {
        self.body.extend_from_slice(&other.body);
        self.count += other.count;
    }

    /// The finished blob: total bytes, count (65535 = "count it"), entries, 0xFF.
    pub fn finish(&self) -> Vec<u8> {
        let mut lp = Vec::with_capacity(self.bytes());
        lp.extend_from_slice(&(self.bytes() as u32).to_le_bytes());
        lp.extend_from_slice(&(self.count.min(65535) as u16).to_le_bytes());
        lp.extend_from_slice(&self.body);
        lp.push(0xff);
        lp
    }
}

/// A listpack of `items`.
pub fn build(items: &[Item<'_>]) -> Vec<u8> {
    let mut b = ListpackBuilder::new();
    for it in items {
        b.push(*it);
    }
    b.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::listpack::entries;

    #[test]
    fn documented_example_and_integer_strings() {
        // ["a", 1], the worked value in docs/format/ziplist-listpack.md, "Listpack".
        let lp = [0x0c, 0, 0, 0, 2, 0, 0x81, b'a', 2, 1, 1, 0xff];
        assert_eq!(build(&[Item::Bytes(b"a"), Item::Int(1)]), lp);
        // "1" is stored as the integer 1, as Redis does; "01" stays a string.
        assert_eq!(build(&[Item::Bytes(b"a"), Item::Bytes(b"1")]), lp);
        assert_eq!(entries(&build(&[Item::Bytes(b"01")])).unwrap(), vec![Item::Bytes(b"01")]);
    }

    #[test]
    fn entry_size_is_what_push_adds() {
        let long = vec![b'x'; 5000];
        let items = [
            Item::Int(0),
            Item::Int(127),
            Item::Int(128),
            Item::Int(-4096),
            Item::Int(40000),
            Item::Int(-8_000_000),
            Item::Int(2_000_000_000),
            Item::Int(i64::MIN),
            Item::Bytes(b""),
            Item::Bytes(b"0012"),
            Item::Bytes(&long[..63]),
            Item::Bytes(&long[..64]),
            Item::Bytes(&long[..4095]),
            Item::Bytes(&long),
        ];
        for it in items {
            let mut b = ListpackBuilder::new();
            b.push(it);
            assert_eq!(b.bytes() - 7, entry_size(it), "{it:?}");
        }
    }

    #[test]
    fn every_width_reads_back() {
        let long = vec![b'x'; 5000];
        let mid = vec![b'y'; 300];
        let items = [
            Item::Int(-1),
            Item::Int(300),
            Item::Int(-5000),
            Item::Int(100000),
            Item::Int(1_700_000_000_000),
            Item::Int(i64::MIN),
            Item::Int(-4096),
            Item::Bytes(&mid),
            Item::Bytes(&long),
            Item::Bytes(b""),
        ];
        assert_eq!(entries(&build(&items)).unwrap(), items.to_vec());
        assert_eq!(&build(&[Item::Int(-1)])[6..9], &[0xdf, 0xff, 0x02]);
        assert_eq!(&build(&[Item::Int(100000)])[6..11], &[0xf2, 0xa0, 0x86, 0x01, 0x04]);
    }
}
