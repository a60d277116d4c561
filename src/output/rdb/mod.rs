//! Writing RDB files: the primitive encodings, the compact blobs (listpack,
//! ziplist, intset) built as Redis builds them, and the file writer with its
//! CRC-64 trailer.

pub mod encode;
pub mod intset;
pub mod listpack;
pub mod lzf;
pub mod writer;
pub mod ziplist;

use crate::token::Item;
use listpack::ListpackBuilder;
use ziplist::ZiplistBuilder;

/// The compact blob a target version packs small collections into: a
/// listpack from RDB 10 (Redis 7.0) on, a ziplist before.
#[derive(Debug, Clone)]
pub enum PackedBuilder {
    Listpack(ListpackBuilder),
    Ziplist(ZiplistBuilder),
}

impl PackedBuilder {
    pub fn new(listpack: bool) -> Self {
        if listpack {
            Self::Listpack(ListpackBuilder::new())
        } else {
            Self::Ziplist(ZiplistBuilder::new())
        }
    }

    pub fn push(&mut self, item: Item<'_>) {
        match self {
            Self::Listpack(b) => b.push(item),
            Self::Ziplist(b) => b.push(item),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Self::Listpack(b) => b.len(),
            Self::Ziplist(b) => b.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes the finished blob will take.
    pub fn bytes(&self) -> usize {
        match self {
            Self::Listpack(b) => b.bytes(),
            Self::Ziplist(b) => b.bytes(),
        }
    }

    /// The finished blob; the builder starts over empty.
    pub fn take(&mut self) -> Vec<u8> {
        let (blob, listpack) = match self {
            Self::Listpack(b) => (b.finish(), true),
            Self::Ziplist(b) => (b.finish(), false),
        };
        *self = Self::new(listpack);
        blob
    }
}
