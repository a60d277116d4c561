//! Writing RDB files: the primitive encodings, the compact blobs (listpack,
//! ziplist, intset) built as Redis builds them, and the file writer with its
//! CRC-64 trailer.

pub mod encode;
pub mod intset;
pub mod listpack;
pub mod lzf;
pub mod writer;
pub mod ziplist;
