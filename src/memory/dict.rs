//! The bucket arrays of a Redis `dict` after a load has filled it, as dict.c
//! grows it: `dictExpand` to the next power of two (at least 4), doubling
//! when an add finds it full, and rehashing incrementally, one non-empty
//! bucket per add, once a second table exists. Nothing rehashes a value's
//! dict after the load (only the keyspace's tables are rehashed in the
//! background), so one can stay mid-rehash, both tables counted, until a
//! command touches it.
//!
//! How many adds a rehash takes is the number of non-empty buckets in the
//! old table, which depends on the server's random hash seed: the model
//! uses its expectation and says when the outcome is too close to call.

#[derive(Debug, Clone, Default)]
pub struct DictShape {
    size0: u64,
    used0: u64,
    size1: u64,
    used1: u64,
    /// Expected adds until the rehash in progress ends, and how many it had.
    steps_needed: f64,
    steps_taken: f64,
    /// Whether the last rehash's outcome is within the noise.
    close_call: bool,
    rehashed: bool,
}

impl DictShape {
    pub fn new() -> DictShape {
        DictShape::default()
    }

    fn rehashing(&self) -> bool {
        self.size1 > 0
    }

    /// `_dictExpand`: no-op while rehashing, below the elements held, or to
    /// the same size.
    pub fn expand(&mut self, size: u64) {
        if self.rehashing() || self.used0 > size {
            return;
        }
        let new = if size <= 4 { 4 } else { size.next_power_of_two() };
        if new == self.size0 {
            return;
        }
        if self.size0 == 0 {
            self.size0 = new;
            return;
        }
        self.size1 = new;
        self.rehashed = true;
        // Non-empty buckets among `size0` holding `used0` keys.
        let s = self.size0 as f64;
        self.steps_needed = s * (1.0 - (1.0 - 1.0 / s).powf(self.used0 as f64));
        self.steps_taken = 0.0;
        self.settle_if_empty();
    }

    fn settle_if_empty(&mut self) {
        if self.rehashing() && self.used0 == 0 {
            self.finish();
        }
    }

    fn finish(&mut self) {
        self.size0 = self.size1;
        self.used0 += self.used1;
        self.size1 = 0;
        self.used1 = 0;
    }

    /// `dictAdd`, `n` times.
    pub fn add_n(&mut self, n: u64) {
        for _ in 0..n {
            self.add();
        }
    }

    fn add(&mut self) {
        if self.rehashing() {
            self.steps_taken += 1.0;
            if self.steps_taken >= self.steps_needed {
                self.finish();
            }
        }
        // _dictExpandIfNeeded.
        if !self.rehashing() {
            if self.size0 == 0 {
                self.expand(4);
            } else if self.used0 >= self.size0 {
                self.expand(self.used0 + 1);
            }
        }
        if self.rehashing() {
            self.used1 += 1;
        } else {
            self.used0 += 1;
        }
        self.close_call = self.rehashed && (self.steps_taken - self.steps_needed).abs() < self.margin();
    }

    /// How far the true number of steps strays from the expectation: a few
    /// standard deviations of the non-empty bucket count, and the buckets a
    /// step may skip (up to ten empty ones end a step early).
    fn margin(&self) -> f64 {
        3.0 * self.steps_needed.sqrt() + 10.0
    }

    /// Buckets of both tables (`dictSlots`).
    pub fn slots(&self) -> u64 {
        self.size0 + self.size1
    }

    /// Each table's bucket count (0: none).
    pub fn tables(&self) -> [u64; 2] {
        [self.size0, self.size1]
    }

    /// Whether the shape is what the server has, whatever its hash seed.
    pub fn certain(&self) -> bool {
        !self.close_call
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presized_tables_hold_their_elements_without_rehashing() {
        let mut d = DictShape::new();
        d.expand(1000);
        d.add_n(1000);
        assert_eq!(d.slots(), 1024);
        assert!(d.certain());
    }

    #[test]
    fn growing_one_add_at_a_time_can_stop_mid_rehash() {
        // 9 adds: the 5th doubles 4 -> 8 and the rehash of 4 full-ish
        // buckets ends within the next few adds; the 9th doubles again and
        // nothing follows to move the old buckets: both tables count.
        let mut d = DictShape::new();
        d.add_n(9);
        assert_eq!(d.slots(), 8 + 16);
        // The 257th add doubles 256 -> 512; moving 256 keys' buckets takes
        // about 162 adds (256 * (1 - 1/e)).
        let mut d = DictShape::new();
        d.add_n(300);
        assert_eq!(d.slots(), 256 + 512);
        assert!(d.certain(), "43 adds are far from 162");
        let mut d = DictShape::new();
        d.add_n(500);
        assert_eq!(d.slots(), 512);
        let mut d = DictShape::new();
        d.add_n(257 + 162);
        assert!(!d.certain(), "too close to call");
    }
}
