//! The benchmark matrix: every (scenario, profile, seed), numbered in one fixed order, and
//! the deterministic slices (`--shard I/N`) that split it across machines.
//!
//! - Order: scenarios in the order given, then profiles in the order given (files in order,
//!   profiles within a file in order), then seeds ascending. A run's index is its position
//!   in that order, whatever shard runs it, so shard outputs merge by index.
//! - Shard `I/N` holds the runs whose index is `I` modulo `N`: every shard gets a share of
//!   every scenario and profile, and the shards together hold each run exactly once.

use std::fmt;

/// Most runs one matrix may hold (a bound on the sweep).
pub const MAX_RUNS: u64 = 10_000_000;

/// One run of the matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cell {
    /// Position in matrix order.
    pub index: u64,
    /// Index into the scenario list.
    pub scenario: usize,
    /// Index into the profile list.
    pub profile: usize,
    pub seed: u64,
}

/// An inclusive range of seeds: `A..B` (or `A..=B`) is A, A+1, …, B; `A` alone is one seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seeds {
    pub first: u64,
    pub last: u64,
}

impl Seeds {
    pub fn parse(text: &str) -> Result<Seeds, String> {
        let num = |s: &str| {
            s.trim()
                .parse::<u64>()
                .map_err(|_| format!("{text:?}: expected A..B with integer seeds (e.g. 1..10)"))
        };
        let (first, last) = match text.split_once("..") {
            Some((a, b)) => (num(a)?, num(b.strip_prefix('=').unwrap_or(b))?),
            None => {
                let s = num(text)?;
                (s, s)
            }
        };
        if last < first {
            return Err(format!("{text:?}: the last seed is below the first"));
        }
        Ok(Seeds { first, last })
    }

    /// How many seeds (saturating).
    pub fn count(&self) -> u64 {
        (self.last - self.first).saturating_add(1)
    }
}

/// `--shard I/N`: this process runs the matrix indexes congruent to `I` modulo `N`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    /// The whole matrix.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    pub fn parse(text: &str) -> Result<Shard, String> {
        let bad = || format!("{text:?}: expected I/N with 0 ≤ I < N (e.g. 0/4)");
        let (i, n) = text.split_once('/').ok_or_else(bad)?;
        let index: u64 = i.trim().parse().map_err(|_| bad())?;
        let count: u64 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    pub fn contains(&self, run: u64) -> bool {
        run % self.count == self.index
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The cells of the matrix that `shard` runs, in matrix order. Errors when the whole matrix
/// is larger than [`MAX_RUNS`].
pub fn cells(
    scenarios: usize,
    profiles: usize,
    seeds: Seeds,
    shard: Shard,
) -> Result<Vec<Cell>, String> {
    let total = (scenarios as u64)
        .saturating_mul(profiles as u64)
        .saturating_mul(seeds.count());
    if total > MAX_RUNS {
        return Err(format!(
            "{total} runs: more than the {MAX_RUNS} one sweep may hold"
        ));
    }
    let mut out = Vec::new();
    let mut index = 0u64;
    for scenario in 0..scenarios {
        for profile in 0..profiles {
            for seed in seeds.first..=seeds.last {
                if shard.contains(index) {
                    out.push(Cell {
                        index,
                        scenario,
                        profile,
                        seed,
                    });
                }
                index += 1;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_parse_inclusive_ranges() {
        assert_eq!(Seeds::parse("1..10").unwrap().count(), 10);
        assert_eq!(Seeds::parse("1..=3").unwrap(), Seeds { first: 1, last: 3 });
        assert_eq!(Seeds::parse("7").unwrap(), Seeds { first: 7, last: 7 });
        assert!(Seeds::parse("5..1").is_err());
        assert!(Seeds::parse("a..b").is_err());
    }

    #[test]
    fn shards_partition_the_matrix_in_order() {
        let seeds = Seeds { first: 1, last: 5 };
        let all = cells(2, 3, seeds, Shard::ALL).unwrap();
        assert_eq!(all.len(), 30);
        assert_eq!(
            all[7],
            Cell {
                index: 7,
                scenario: 0,
                profile: 1,
                seed: 3
            }
        );
        let mut merged: Vec<Cell> = (0..4)
            .flat_map(|i| cells(2, 3, seeds, Shard { index: i, count: 4 }).unwrap())
            .collect();
        merged.sort_by_key(|c| c.index);
        assert_eq!(merged, all);
        assert!(Shard::parse("2/2").is_err());
        assert!(Shard::parse("0/0").is_err());
        assert_eq!(Shard::parse("1/3").unwrap(), Shard { index: 1, count: 3 });
    }
}
