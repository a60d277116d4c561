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
        let value = match item {
            Item::Int(v) => Some(v),
            Item::Bytes(b) => parse_canonical_i64(b),
        };
        let start = self.body.len();
        let body = &mut self.body;
        match (value, item) {
            (Some(v), _) if (0..=127).contains(&v) => body.push(v as u8),
            (Some(v), _) if (-4096..=4095).contains(&v) => {
                let u = (v as u16) & 0x1fff;
                body.push(0xc0 | (u >> 8) as u8);
                body.push(u as u8);
            }
            (Some(v), _) if i16::try_from(v).is_ok() => {
                body.push(0xf1);
                body.extend_from_slice(&(v as i16).to_le_bytes());
            }
            (Some(v), _) if (-(1 << 23)..(1 << 23)).contains(&v) => {
                body.push(0xf2);
                body.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
            }
            (Some(v), _) if i32::try_from(v).is_ok() => {
                body.push(0xf3);
                body.extend_from_slice(&(v as i32).to_le_bytes());
            }
            (Some(v), _) => {
                body.push(0xf4);
                body.extend_from_slice(&v.to_le_bytes());
            }
            (None, Item::Bytes(s)) if s.len() < 64 => {
                body.push(0x80 | s.len() as u8);
                body.extend_from_slice(s);
            }
            (None, Item::Bytes(s)) if s.len() < 4096 => {
                body.push(0xe0 | (s.len() >> 8) as u8);
                body.push(s.len() as u8);
                body.extend_from_slice(s);
            }
            (None, Item::Bytes(s)) => {
                body.push(0xf0);
                body.extend_from_slice(&(s.len() as u32).to_le_bytes());
                body.extend_from_slice(s);
            }
            (None, Item::Int(_)) => unreachable!("integers always have a value"),
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
