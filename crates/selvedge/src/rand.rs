//! shuttle's `rand`: a `thread_rng()` whose numbers come from the model, not the OS, so a
//! failure that depends on them replays exactly. Built on the `rand` crate (0.8, as shuttle's):
//! [`Rng`] gives `gen`, `gen_range`, `gen_bool` and the rest.
//!
//! Each number is a pure function of the execution's data seed, the interleaving so far (the
//! tasks chosen and what they did) and how many numbers the execution drew before it. The data
//! seed is drawn per execution from `Config::seed` (`SELVEDGE_SEED` in the test entry points)
//! by the sampling strategies (random, PCT, POS), so every execution draws different numbers
//! from its first on; exhaustive strategies use `Config::seed` itself; a replay string carries
//! its execution's data seed. So the same seed and schedule give the same numbers, a replay
//! gives the ones the failing run saw, and two interleavings draw different ones.
//!
//! Invariant: nothing here decides a schedule; the numbers are user data. (Exhaustive
//! strategies do not enumerate them: each interleaving gets one draw sequence.)
//!
//! ```
//! use selvedge::rand::{thread_rng, Rng};
//!
//! selvedge::check_random(|| {
//!     let n: u32 = thread_rng().gen_range(0..10);
//!     assert!(n < 10);
//! }, 20);
//! ```

use std::cell::Cell;

pub use rand::{Rng, RngCore};

use crate::runtime::{self, with_state};

/// Random number generators.
pub mod rngs {
    /// The model's generator, as shuttle's `ThreadRng` (all tasks draw from one stream, which
    /// the model controls).
    #[derive(Clone, Debug, Default)]
    pub struct ThreadRng {
        _private: (),
    }

    impl ThreadRng {
        pub(crate) fn new() -> ThreadRng {
            ThreadRng { _private: () }
        }
    }

    impl rand::RngCore for ThreadRng {
        fn next_u32(&mut self) -> u32 {
            (super::next_u64() >> 32) as u32
        }

        fn next_u64(&mut self) -> u64 {
            super::next_u64()
        }

        fn fill_bytes(&mut self, dest: &mut [u8]) {
            for chunk in dest.chunks_mut(8) {
                let bytes = super::next_u64().to_le_bytes();
                chunk.copy_from_slice(&bytes[..chunk.len()]);
            }
        }

        fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand::Error> {
            self.fill_bytes(dest);
            Ok(())
        }
    }
}

/// The model's random number generator (see the module docs).
///
/// # Panics
/// Outside a model, with a message saying how to run the code under selvedge.
pub fn thread_rng() -> rngs::ThreadRng {
    rngs::ThreadRng::new()
}

thread_local! {
    /// For the execution running on this OS thread (by generation): numbers drawn so far, and
    /// the fingerprint of the trace up to `hashed` events, extended as the trace grows.
    static DRAWS: Cell<Draws> = const { Cell::new(Draws { generation: u64::MAX, drawn: 0, hashed: 0, fingerprint: FNV_OFFSET }) };
}

#[derive(Clone, Copy)]
struct Draws {
    generation: u64,
    drawn: u64,
    hashed: usize,
    fingerprint: u64,
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0100_0000_01b3;

fn next_u64() -> u64 {
    if !runtime::in_model() {
        runtime::outside_model("selvedge::rand::thread_rng");
    }
    with_state("selvedge::rand::thread_rng", |s| {
        let mut draws = DRAWS.with(Cell::get);
        if draws.generation != s.generation {
            draws = Draws {
                generation: s.generation,
                drawn: 0,
                hashed: 0,
                fingerprint: FNV_OFFSET,
            };
        }
        for event in &s.trace[draws.hashed..] {
            for word in [u64::from(event.task.0), u64::from(event.op.kind.code())] {
                draws.fingerprint = (draws.fingerprint ^ word).wrapping_mul(FNV_PRIME);
            }
        }
        draws.hashed = s.trace.len();
        s.data_drawn = true;
        let value = mix(s.settings.data_seed ^ mix(draws.fingerprint ^ mix(draws.drawn)));
        draws.drawn += 1;
        DRAWS.with(|d| d.set(draws));
        value
    })
}

/// SplitMix64's finaliser: a bijection that spreads every input bit over the output.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
