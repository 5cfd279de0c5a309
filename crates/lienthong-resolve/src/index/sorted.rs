//! Sorted `u64` keys with a sparse sample ("fences") of every 128th key.
//!
//! A plain binary search over 10 million keys touches ~24 cache lines scattered over 80 MB,
//! nearly all of them misses. The fences (1/128 of the keys: 0.06 bytes per key) fit in the CPU
//! cache, so the search over them is cheap and the remaining search touches one 1 KiB run.

use std::mem::size_of;

const STRIDE: usize = 128;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FencedKeys {
    keys: Vec<u64>,
    fences: Vec<u64>,
}

impl FencedKeys {
    /// Takes keys already sorted ascending (duplicates allowed).
    pub(crate) fn new(mut keys: Vec<u64>) -> Self {
        debug_assert!(keys.windows(2).all(|w| w[0] <= w[1]), "keys must be sorted");
        keys.shrink_to_fit();
        let fences: Vec<u64> = keys.iter().step_by(STRIDE).copied().collect();
        Self { keys, fences }
    }

    pub(crate) fn as_slice(&self) -> &[u64] {
        &self.keys
    }

    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    /// The position of the first key ≥ `key` (the length when there is none).
    pub(crate) fn lower_bound(&self, key: u64) -> usize {
        // Fences below `key`: the answer lies after the last of them and at or before the next.
        let below = self.fences.partition_point(|&f| f < key);
        let start = match below {
            0 => 0,
            n => (n - 1) * STRIDE + 1,
        };
        let end = (below * STRIDE).min(self.keys.len());
        start + self.keys[start..end].partition_point(|&k| k < key)
    }

    pub(crate) fn memory_bytes(&self) -> usize {
        (self.keys.capacity() + self.fences.capacity()) * size_of::<u64>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn lower_bound_agrees_with_a_plain_search(
            mut keys in proptest::collection::vec(0u64..5_000, 0..2_000),
            probes in proptest::collection::vec(0u64..5_100, 1..50),
        ) {
            keys.sort_unstable();
            let fenced = FencedKeys::new(keys.clone());
            for probe in probes {
                prop_assert_eq!(fenced.lower_bound(probe), keys.partition_point(|&k| k < probe));
            }
        }
    }

    #[test]
    fn edges() {
        let empty = FencedKeys::new(Vec::new());
        assert_eq!(empty.lower_bound(7), 0);
        let keys: Vec<u64> = (0..1000).map(|k| k * 2).collect();
        let fenced = FencedKeys::new(keys);
        assert_eq!(fenced.lower_bound(0), 0);
        assert_eq!(fenced.lower_bound(256), 128);
        assert_eq!(fenced.lower_bound(257), 129);
        assert_eq!(fenced.lower_bound(5000), 1000);
        assert_eq!(fenced.memory_bytes(), (1000 + 8) * 8);
    }
}
