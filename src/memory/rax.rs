//! The shape of a radix tree (rax.c) holding 16-byte stream IDs inserted in
//! ascending order, as a server builds a stream's node index, a group's PEL
//! and a consumer's PEL when it loads them. `MEMORY USAGE` counts a rax by
//! its node count (Redis, object.c `streamRadixTreeMemoryUsage`) or by the
//! allocations of its nodes (Valkey, rax.c `raxAllocSize`); both follow
//! from the shape.
//!
//! Only the rightmost path can change when keys arrive in order: a new key
//! branches off it at the first byte where it differs from the previous key
//! (rax.c `raxGenericInsert`: split the node there, add a child, compress
//! the rest of the key into one node above a leaf).

use super::alloc::Allocator;

const KEY_LEN: usize = 16;

/// One node on the rightmost path.
#[derive(Debug, Clone, Copy)]
struct PathNode {
    /// Depth of its first byte.
    start: usize,
    /// Bytes it holds on the path: a compressed node's run, or the one child
    /// byte of a branching node that the path takes.
    len: usize,
    /// Children of a branching node (a compressed node has one).
    children: usize,
    compressed: bool,
}

#[derive(Debug, Clone)]
pub struct RaxShape {
    allocator: Allocator,
    /// Keys inserted.
    pub elements: u64,
    /// Nodes, the empty head of an empty tree included (`rax->numnodes`).
    pub nodes: u64,
    /// Requested bytes of the nodes that left the rightmost path, through
    /// the allocator.
    settled_alloc: u64,
    path: Vec<PathNode>,
    prev: [u8; KEY_LEN],
    /// A key arrived out of order: the shape is approximate.
    pub disordered: bool,
}

/// Bytes of a rax node (rax.h `raxNode`: a 4-byte header, its bytes padded
/// to pointer alignment, child pointers, and a value pointer when a key with
/// a value ends there).
fn node_bytes(size: usize, compressed: bool, has_value: bool) -> usize {
    let padding = (8 - (size + 4) % 8) % 8;
    let children = if compressed { 1 } else { size };
    4 + size + padding + 8 * children + if has_value { 8 } else { 0 }
}

impl RaxShape {
    pub fn new(allocator: Allocator) -> RaxShape {
        RaxShape {
            allocator,
            elements: 0,
            nodes: 1,
            settled_alloc: 0,
            path: Vec::new(),
            prev: [0; KEY_LEN],
            disordered: false,
        }
    }

    fn alloc_of(&self, n: &PathNode) -> u64 {
        let size = if n.compressed { n.len } else { n.children };
        self.allocator.usable(node_bytes(size, n.compressed, false)) as u64
    }

    fn settle(&mut self, n: PathNode) {
        self.settled_alloc += self.alloc_of(&n);
    }

    /// Insert the next key (keys must come in ascending order; one that does
    /// not is counted but leaves the shape approximate).
    pub fn insert(&mut self, key: [u8; KEY_LEN]) {
        if self.elements == 0 {
            // The empty head becomes a compressed node holding the whole key,
            // above a leaf.
            self.path.push(PathNode { start: 0, len: KEY_LEN, children: 1, compressed: true });
            self.nodes = 2;
            self.elements = 1;
            self.prev = key;
            return;
        }
        if key <= self.prev {
            self.disordered |= key < self.prev;
            if key < self.prev {
                self.elements += 1;
            }
            return;
        }
        let d = key.iter().zip(&self.prev).take_while(|(a, b)| a == b).count();
        self.prev = key;
        self.elements += 1;
        // The node holding depth `d`; the nodes below it leave the path, and
        // with them the old leaf.
        let at = self.path.iter().rposition(|n| n.start <= d).unwrap_or(0);
        for n in self.path.split_off(at + 1) {
            self.settle(n);
        }
        self.settled_alloc += self.allocator.usable(node_bytes(0, false, true)) as u64;
        let n = self.path.pop().expect("a non-empty tree has a path");
        if n.compressed {
            let j = d - n.start;
            let postfix = n.start + n.len - d - 1;
            if j > 0 {
                self.path.push(PathNode { start: n.start, len: j, children: 1, compressed: j > 1 });
            }
            if postfix > 0 {
                let p = PathNode { start: d + 1, len: postfix, children: 1, compressed: postfix > 1 };
                self.settle(p);
            }
            self.nodes += u64::from(j > 0) + u64::from(postfix > 0);
            self.path.push(PathNode { start: d, len: 1, children: 2, compressed: false });
        } else {
            self.path.push(PathNode { children: n.children + 1, ..n });
        }
        // The new branch: a child for the byte after `d`, then (if bytes are
        // left) one node holding them above the leaf.
        let rest = KEY_LEN - d - 1;
        if rest > 0 {
            self.path.push(PathNode { start: d + 1, len: rest, children: 1, compressed: rest > 1 });
            self.nodes += 2;
        } else {
            self.nodes += 1;
        }
    }

    /// Bytes of every node as allocated, plus the `rax` struct of
    /// `rax_struct` bytes (Valkey's `raxAllocSize`).
    pub fn alloc_size(&self, rax_struct: usize) -> u64 {
        let head = if self.elements == 0 { self.allocator.usable(node_bytes(0, false, false)) as u64 } else { 0 };
        let leaf = if self.elements > 0 { self.allocator.usable(node_bytes(0, false, true)) as u64 } else { 0 };
        let path: u64 = self.path.iter().map(|n| self.alloc_of(n)).sum();
        self.allocator.usable(rax_struct) as u64 + head + leaf + path + self.settled_alloc
    }

    /// What Redis's `streamRadixTreeMemoryUsage` says: 16 bytes per key, and
    /// per node the 4-byte header plus a flat 30 words.
    pub fn redis_usage(&self) -> u64 {
        self.elements * 16 + self.nodes * (4 + 8 * 30)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(ms: u64, seq: u64) -> [u8; 16] {
        let mut k = [0u8; 16];
        k[..8].copy_from_slice(&ms.to_be_bytes());
        k[8..].copy_from_slice(&seq.to_be_bytes());
        k
    }

    #[test]
    fn node_counts_follow_rax_inserts() {
        let mut r = RaxShape::new(Allocator::Jemalloc8);
        assert_eq!(r.nodes, 1, "an empty rax is its head");
        r.insert(id(1, 1));
        assert_eq!(r.nodes, 2, "head compressed over a leaf");
        r.insert(id(1, 2));
        assert_eq!(r.nodes, 4, "prefix, split node, two leaves");
        r.insert(id(1, 3));
        assert_eq!(r.nodes, 5, "one more child of the split node");
        r.insert(id(2, 0));
        // Differs at byte 7: the 15-byte prefix splits into a 7-byte prefix,
        // a split node, and a 7-byte postfix; the new branch adds a node for
        // its last 8 bytes and a leaf.
        assert_eq!(r.nodes, 9);
    }
}
