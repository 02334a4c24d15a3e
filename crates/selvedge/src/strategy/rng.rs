//! The one pseudo-random generator of the engine, with a pinned algorithm.
//!
//! Invariant: the output sequence for a seed never changes between releases (replay strings
//! and saved regressions depend on it), so the algorithm is written out here rather than
//! taken from a crate whose streams may change: SplitMix64 to expand the seed, then
//! xoshiro256++ (Blackman and Vigna) for the stream.

#[derive(Clone, Debug)]
pub(crate) struct Rng {
    state: [u64; 4],
}

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        let mut sm = seed;
        let mut next = || {
            sm = sm.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = sm;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        Rng {
            state: [next(), next(), next(), next()],
        }
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        let s = &mut self.state;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// A uniform value in `0..n` (Lemire's multiply-shift; the tiny bias is irrelevant here
    /// and the result is deterministic, which is what matters).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        assert!(n > 0, "Rng::below needs a non-empty range");
        ((self.next_u64() as u128 * n as u128) >> 64) as usize
    }
}

/// The seeds of `selvedge::rand`'s numbers, one per execution of a sampling strategy, so each
/// execution draws different data (the first number of every execution would otherwise be
/// the same). A stream of its own: drawing them never moves a strategy's scheduling stream,
/// so schedules stay what they were for a seed.
#[derive(Clone, Debug)]
pub(crate) struct DataSeeds(Rng);

impl DataSeeds {
    pub(crate) fn new(seed: u64) -> DataSeeds {
        // A different expansion of the same seed than the scheduling stream's.
        DataSeeds(Rng::new(seed ^ 0x5EED_DA7A_5EED_DA7A))
    }

    /// The next execution's seed.
    pub(crate) fn next(&mut self) -> u64 {
        self.0.next_u64()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Computed by an independent implementation of the same two published algorithms.
    const PINNED_SEED_7: [u64; 4] = [
        0x0e2c_1a00_2aae_913d,
        0x2c0f_c8dd_fa4e_9e14,
        0xb7b3_11b3_b0d4_5872,
        0x6d5d_9f6a_6318_013c,
    ];
    const PINNED_SEED_0: u64 = 0x5317_5d61_490b_23df;
    const PINNED_BELOW_10: [usize; 8] = [9, 4, 7, 3, 9, 0, 1, 1];

    #[test]
    fn stream_is_pinned() {
        // Goal: the generator's output never changes, or saved schedules would silently
        // explore something else. These are SplitMix64-seeded xoshiro256++ outputs, computed
        // once and pinned: a change to either algorithm fails here.
        let mut rng = Rng::new(7);
        let first: Vec<u64> = (0..4).map(|_| rng.next_u64()).collect();
        assert_eq!(first, PINNED_SEED_7);
        let mut zero = Rng::new(0);
        assert_eq!(zero.next_u64(), PINNED_SEED_0);
        let below: Vec<usize> = (0..8).map(|_| rng.below(10)).collect();
        assert_eq!(below, PINNED_BELOW_10);
        for n in 1..50 {
            assert!(rng.below(n) < n);
        }
    }
}
