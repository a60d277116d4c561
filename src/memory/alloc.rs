//! What an allocator hands out for a request: the size `zmalloc_size` (or
//! `malloc_usable_size`) reports, which is what the server counts.

/// The allocator a server was built with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Allocator {
    /// jemalloc as Redis and Valkey bundle it (8-byte quantum): size classes
    /// 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, …
    Jemalloc8,
    /// A system jemalloc built with a 16-byte quantum, as Debian's packages
    /// link: 8, 16, 32, 48, 64, 80, 96, 112, 128, 160, …
    Jemalloc16,
    /// glibc malloc (`USE_LIBC`, as the PyPI-packaged servers are built).
    Libc,
}

impl Allocator {
    pub const ALL: [Allocator; 3] = [Allocator::Jemalloc8, Allocator::Jemalloc16, Allocator::Libc];

    pub fn name(self) -> &'static str {
        match self {
            Allocator::Jemalloc8 => "jemalloc8",
            Allocator::Jemalloc16 => "jemalloc16",
            Allocator::Libc => "libc",
        }
    }

    pub fn from_name(name: &str) -> Option<Allocator> {
        Allocator::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The usable size of an allocation of `n` bytes.
    pub fn usable(self, n: usize) -> usize {
        match self {
            Allocator::Jemalloc8 => jemalloc_class(n, 8),
            Allocator::Jemalloc16 => jemalloc_class(n, 16),
            Allocator::Libc => glibc_usable(n),
        }
    }

    /// Whether the same request always gets the same usable size. glibc's
    /// does not: a free chunk up to 31 bytes larger than asked is handed out
    /// whole (malloc.c `_int_malloc` splits only remainders of `MINSIZE` or
    /// more), so a size depends on the heap's history. Its figures are the
    /// size a fresh chunk has.
    pub fn deterministic(self) -> bool {
        self != Allocator::Libc
    }
}

/// jemalloc's size class of `n` with quantum `q`: multiples of `q` up to
/// `4q` (and an 8-byte class below a 16-byte quantum), then four classes per
/// doubling (jemalloc's `sc.c`: `LG_SIZE_CLASS_GROUP` = 2). Large and huge
/// sizes follow the same series.
fn jemalloc_class(n: usize, q: usize) -> usize {
    if n <= 8 {
        return 8;
    }
    if n <= 4 * q {
        return n.div_ceil(q) * q;
    }
    let lg = usize::BITS - 1 - (n - 1).leading_zeros();
    let delta = 1usize << (lg - 2);
    n.div_ceil(delta) * delta
}

/// glibc's `malloc_usable_size` of a fresh chunk for `n` bytes: chunks are
/// 16-aligned with an 8-byte header and at least 32 bytes; from the mmap
/// threshold (128 KiB by default) up, a chunk is whole pages with a 16-byte
/// header.
fn glibc_usable(n: usize) -> usize {
    const MMAP_THRESHOLD: usize = 128 * 1024;
    let chunk = ((n + 8 + 15) & !15).max(32);
    if n >= MMAP_THRESHOLD {
        return (chunk + 8).div_ceil(4096) * 4096 - 16;
    }
    chunk - 8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jemalloc_series_match_the_documented_classes() {
        let classes = |a: Allocator| {
            let mut v: Vec<usize> = (1..=700).map(|n| a.usable(n)).collect();
            v.dedup();
            v
        };
        assert_eq!(
            classes(Allocator::Jemalloc8),
            [8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512, 640, 768]
        );
        assert_eq!(
            classes(Allocator::Jemalloc16),
            [8, 16, 32, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512, 640, 768]
        );
        // Large classes (past 14 KiB with 4 KiB pages) continue the series.
        assert_eq!(Allocator::Jemalloc16.usable(14337), 16384);
        assert_eq!(Allocator::Jemalloc16.usable(16385), 20480);
    }

    #[test]
    fn glibc_chunks() {
        let a = Allocator::Libc;
        assert_eq!([a.usable(1), a.usable(24), a.usable(25), a.usable(40), a.usable(41)], [24, 24, 40, 40, 56]);
    }
}
