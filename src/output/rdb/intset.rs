//! Building intsets (src/intset.c): the smallest width that holds every
//! member, members sorted ascending.

/// An intset of `members` (any order; duplicates are the caller's error).
pub fn build(members: &mut [i64]) -> Vec<u8> {
    members.sort_unstable();
    let width: usize = if members.iter().all(|v| i16::try_from(*v).is_ok()) {
        2
    } else if members.iter().all(|v| i32::try_from(*v).is_ok()) {
        4
    } else {
        8
    };
    let mut out = Vec::with_capacity(8 + width * members.len());
    out.extend_from_slice(&(width as u32).to_le_bytes());
    out.extend_from_slice(&(members.len() as u32).to_le_bytes());
    for v in members.iter() {
        out.extend_from_slice(&v.to_le_bytes()[..width]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_back_sorted_in_the_smallest_width() {
        for set in [vec![3i64, -1, 2], vec![70000, 1], vec![i64::MIN, 0, 5]] {
            let mut m = set.clone();
            let blob = build(&mut m);
            let mut back = Vec::new();
            crate::token::intset::walk(&blob, |v| {
                back.push(v);
                Ok(())
            })
            .unwrap();
            let mut sorted = set.clone();
            sorted.sort();
            assert_eq!(back, sorted);
        }
        assert_eq!(build(&mut [1, 2]), [2, 0, 0, 0, 2, 0, 0, 0, 1, 0, 2, 0]);
    }
}
