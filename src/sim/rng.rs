//! Seeded random streams, one per component.
//!
//! - A stream is ChaCha8 keyed by SHA-256(`scenario seed` ‖ `label`), so each component's draws
//!   depend only on the seed and its own stable label: adding, removing or reordering other
//!   components never changes them.
//! - Labels are stable names such as `"apiserver"` or `"kubelet/node-3"`; never derive them
//!   from hash-map order or memory addresses.
//! - Nothing here touches OS randomness.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sha2::{Digest, Sha256};

/// One component's random stream. Implements [`rand::Rng`], so `rand::RngExt` methods
/// (`random_range`, ...) work on it.
pub type RngStream = ChaCha8Rng;

/// Forks per-component [`RngStream`]s from one scenario seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RngFactory {
    seed: u64,
}

impl RngFactory {
    pub const fn new(seed: u64) -> Self {
        RngFactory { seed }
    }

    pub const fn seed(&self) -> u64 {
        self.seed
    }

    /// The stream for `label`. The same `(seed, label)` always gives the same sequence.
    pub fn stream(&self, label: &str) -> RngStream {
        let mut hasher = Sha256::new();
        hasher.update(b"kubesim-rng-v1\0");
        hasher.update(self.seed.to_le_bytes());
        hasher.update(label.as_bytes());
        let key: [u8; 32] = hasher.finalize().into();
        ChaCha8Rng::from_seed(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    fn draws(f: &RngFactory, label: &str) -> Vec<u64> {
        let mut r = f.stream(label);
        (0..8).map(|_| r.next_u64()).collect()
    }

    #[test]
    fn same_seed_and_label_give_the_same_draws() {
        let f = RngFactory::new(42);
        assert_eq!(draws(&f, "scheduler"), draws(&f, "scheduler"));
    }

    #[test]
    fn labels_and_seeds_give_independent_streams() {
        let f = RngFactory::new(42);
        assert_ne!(draws(&f, "scheduler"), draws(&f, "kubelet/node-1"));
        assert_ne!(
            draws(&f, "scheduler"),
            draws(&RngFactory::new(43), "scheduler")
        );
    }

    #[test]
    fn streams_are_stable_across_releases() {
        // Pinned: a change here changes every scenario's output; bump the key prefix deliberately.
        let mut r = RngFactory::new(1).stream("apiserver");
        let first = r.next_u64();
        assert_eq!(first, PINNED_FIRST_DRAW, "rng derivation changed: {first}");
    }

    const PINNED_FIRST_DRAW: u64 = 4_450_076_874_853_744_131;
}
