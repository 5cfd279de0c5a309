//! Stable hashes: the blocking keys and fingerprints the index saves to disk must come out the same
//! in every process and every Rust release, which `std::hash::DefaultHasher` does not promise.
//! None of these is cryptographic; they detect corruption and spread keys, nothing more.

/// FNV-1a (64-bit) of a byte string.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hasher = Fnv1a::new();
    hasher.write(bytes);
    hasher.finish()
}

/// Incremental FNV-1a (64-bit).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fnv1a(u64);

impl Fnv1a {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;

    pub(crate) fn new() -> Self {
        Self(Self::OFFSET)
    }

    pub(crate) fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 ^= u64::from(byte);
            self.0 = self.0.wrapping_mul(Self::PRIME);
        }
    }

    pub(crate) fn finish(self) -> u64 {
        self.0
    }
}

/// A bijective 64-bit finaliser (the one splitmix64 uses): every input bit affects every output
/// bit, so combining already-hashed parts with it spreads well.
pub(crate) fn mix64(mut z: u64) -> u64 {
    z ^= z >> 30;
    z = z.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z ^= z >> 27;
    z = z.wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A small deterministic generator (splitmix64) for sampling training pairs: reproducible from
/// its seed, no dependency, not for anything secret.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix64(u64);

impl SplitMix64 {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix64(self.0)
    }

    /// Uniform in `0..bound` (0 when `bound` is 0), by the multiply-shift method.
    pub(crate) fn below(&mut self, bound: u64) -> u64 {
        // The product's high half is below `bound`, so it fits in u64.
        ((u128::from(self.next_u64()) * u128::from(bound)) >> 64) as u64
    }
}

/// Folds a 64-bit hash into 32 bits.
pub(crate) fn fold32(hash: u64) -> u32 {
    // The xor of both halves keeps the entropy of each; the shift leaves 32 significant bits.
    ((hash >> 32) ^ (hash & 0xFFFF_FFFF)) as u32
}

/// A streaming 64-bit checksum for snapshots, fast enough for gigabytes (four independent lanes
/// over 32-byte stripes, so the CPU overlaps the multiplications). The result depends only on the
/// bytes, not on how they were split across `update` calls.
#[derive(Debug, Clone)]
pub(crate) struct Checksum {
    lanes: [u64; 4],
    pending: [u8; 32],
    pending_len: usize,
    total: u64,
}

impl Checksum {
    const GOLDEN: u64 = 0x9e37_79b9_7f4a_7c15;
    const SPREAD: u64 = 0xbf58_476d_1ce4_e5b9;

    pub(crate) fn new() -> Self {
        Self {
            lanes: [
                Self::GOLDEN,
                Self::SPREAD,
                Self::GOLDEN.rotate_left(17),
                Self::SPREAD.rotate_left(29),
            ],
            pending: [0; 32],
            pending_len: 0,
            total: 0,
        }
    }

    fn round(lane: u64, word: u64) -> u64 {
        lane.wrapping_add(word.wrapping_mul(Self::SPREAD))
            .rotate_left(31)
            .wrapping_mul(Self::GOLDEN)
    }

    fn stripe(&mut self, stripe: &[u8]) {
        for (lane, word) in self.lanes.iter_mut().zip(stripe.chunks_exact(8)) {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(word);
            *lane = Self::round(*lane, u64::from_le_bytes(bytes));
        }
    }

    pub(crate) fn update(&mut self, mut bytes: &[u8]) {
        self.total = self.total.wrapping_add(bytes.len() as u64);
        if self.pending_len > 0 {
            let take = (32 - self.pending_len).min(bytes.len());
            self.pending[self.pending_len..self.pending_len + take].copy_from_slice(&bytes[..take]);
            self.pending_len += take;
            bytes = &bytes[take..];
            if self.pending_len < 32 {
                return;
            }
            let pending = self.pending;
            self.stripe(&pending);
            self.pending_len = 0;
        }
        let mut stripes = bytes.chunks_exact(32);
        for stripe in &mut stripes {
            self.stripe(stripe);
        }
        let rest = stripes.remainder();
        self.pending[..rest.len()].copy_from_slice(rest);
        self.pending_len = rest.len();
    }

    pub(crate) fn finish(&self) -> u64 {
        let [a, b, c, d] = self.lanes;
        let mut hash = a
            .rotate_left(1)
            .wrapping_add(b.rotate_left(7))
            .wrapping_add(c.rotate_left(12))
            .wrapping_add(d.rotate_left(18));
        hash = mix64(hash ^ self.total);
        for &byte in &self.pending[..self.pending_len] {
            hash = mix64(hash ^ u64::from(byte));
        }
        hash
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn fnv1a_known_values() {
        // Published FNV-1a 64 test vectors.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn checksum_sees_every_byte() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut whole = Checksum::new();
        whole.update(&data);
        for position in [0, 31, 32, 500, 999] {
            let mut flipped = data.clone();
            flipped[position] ^= 1;
            let mut other = Checksum::new();
            other.update(&flipped);
            assert_ne!(whole.finish(), other.finish(), "flip at {position}");
        }
        let mut shorter = Checksum::new();
        shorter.update(&data[..999]);
        assert_ne!(whole.finish(), shorter.finish());
    }

    #[test]
    fn splitmix_is_reproducible_and_bounded() {
        let mut a = SplitMix64::new(42);
        let mut b = SplitMix64::new(42);
        let draws: Vec<u64> = (0..1000).map(|_| a.below(7)).collect();
        assert!(draws.iter().all(|&d| d < 7));
        assert_eq!(draws, (0..1000).map(|_| b.below(7)).collect::<Vec<_>>());
        // Every value of a small range comes up.
        for value in 0..7 {
            assert!(draws.contains(&value));
        }
        assert_eq!(SplitMix64::new(1).below(0), 0);
    }

    proptest! {
        #[test]
        fn checksum_is_independent_of_chunking(
            data in proptest::collection::vec(any::<u8>(), 0..300),
            cuts in proptest::collection::vec(0usize..300, 0..6),
        ) {
            let mut whole = Checksum::new();
            whole.update(&data);
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(data.len())).collect();
            cuts.sort_unstable();
            let mut pieces = Checksum::new();
            let mut start = 0;
            for cut in cuts {
                pieces.update(&data[start..cut]);
                start = cut;
            }
            pieces.update(&data[start..]);
            prop_assert_eq!(whole.finish(), pieces.finish());
        }
    }
}
