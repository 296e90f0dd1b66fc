//! Seed derivation for the whole engine: every stream of randomness (dropout masks,
//! ensemble members, the loader's streams, simulated maps, test-time augmentation) is a
//! seed mixed from the run's seed and numbers naming its purpose, so results depend on
//! (seed, purpose) only, never on threads, timing or order. The CUDA kernels mix the same
//! way (`kernels/params.h`), so these functions are fixed bit for bit.

/// splitmix64's finaliser: spreads nearby seeds over unrelated 64-bit keys.
pub fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The seed of purpose (`a`, `b`) under `seed` (dropout: step and layer; members: a tag
/// and the member's index).
pub fn derive(seed: u64, a: u64, b: u64) -> u64 {
    mix64(mix64(mix64(seed) ^ a) ^ b)
}

/// The seed of a purpose named by a tuple of numbers (the loader's split, order and
/// per-image streams).
pub fn fold(parts: &[u64]) -> u64 {
    parts.iter().fold(0x5eed_u64, |h, &p| mix64(h ^ mix64(p)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_are_the_values_every_saved_run_was_made_with() {
        // Golden values: a change here changes every run's masks, splits and maps.
        assert_eq!(mix64(0), 0xe220a8397b1dcdaf);
        assert_eq!(mix64(1), 0x910a2dec89025cc1);
        assert_eq!(derive(1, 5, 3), 0xd680afa1ba831b7);
        assert_eq!(fold(&[]), 0x5eed);
        assert_eq!(fold(&[7]), mix64(0x5eed ^ mix64(7)));
    }

    #[test]
    fn nearby_purposes_get_unrelated_seeds() {
        let seeds = [
            derive(1, 0, 0),
            derive(1, 0, 1),
            derive(1, 1, 0),
            derive(2, 0, 0),
        ];
        for (i, a) in seeds.iter().enumerate() {
            for b in &seeds[i + 1..] {
                assert!(
                    (a ^ b).count_ones() > 16,
                    "{a:#x} and {b:#x} share too many bits"
                );
            }
        }
    }
}
