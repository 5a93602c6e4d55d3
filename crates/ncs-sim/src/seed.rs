//! Seed derivation: every random stream of the simulator is a ChaCha generator whose seed is
//! mixed from the user's seed and a fixed tag, so streams never depend on call order.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// SplitMix64 finaliser: a bijective mix with good avalanche, used to derive sub-seeds.
pub(crate) fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Derives a sub-seed from a seed and a tag path.
pub(crate) fn derive(seed: u64, tags: &[u64]) -> u64 {
    tags.iter()
        .fold(splitmix(seed), |acc, &t| splitmix(acc ^ splitmix(t)))
}

/// A ChaCha8 generator for one purpose (tags name the purpose, e.g. `[TAG_NOISE, channel]`).
pub(crate) fn rng(seed: u64, tags: &[u64]) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(derive(seed, tags))
}

/// Tags of the independent random streams.
pub(crate) mod tag {
    pub const UNITS: u64 = 1;
    pub const BLOCK: u64 = 2;
    pub const DISPERSION: u64 = 3;
    pub const NOISE: u64 = 4;
    pub const MAINS: u64 = 5;
    pub const DRIFT: u64 = 6;
    pub const SHAPE: u64 = 7;
    pub const NERVE: u64 = 8;
}
