//! Summary statistics over a profile's runs: mean, 95% confidence interval (Student's t), and
//! the best profile per metric.
//!
//! - The interval is `mean ± t(0.975, n−1) · s / √n` with `s` the sample standard deviation:
//!   the usual interval for the mean of independent runs (seeds) whose spread is unknown.
//! - `t` comes from the table for 1–30 degrees of freedom and from the Cornish–Fisher
//!   expansion beyond (within 0.001 of the exact quantile there).
//! - Sums run in the order the values are given (matrix order), so results do not depend on
//!   how the runs were scheduled.

/// Two-sided 95% quantiles of Student's t, `T_975[df - 1]`.
const T_975: [f64; 30] = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
    2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
    2.052, 2.048, 2.045, 2.042,
];

/// The 0.975 quantile of Student's t with `df` degrees of freedom (`df ≥ 1`).
pub fn t_975(df: usize) -> f64 {
    if df == 0 {
        return f64::INFINITY;
    }
    if let Some(t) = T_975.get(df - 1) {
        return *t;
    }
    // Cornish–Fisher expansion of t around the normal quantile.
    let z: f64 = 1.959_963_984_540_054;
    let v = df as f64;
    let (z3, z5, z7) = (z.powi(3), z.powi(5), z.powi(7));
    z + (z3 + z) / (4.0 * v)
        + (5.0 * z5 + 16.0 * z3 + 3.0 * z) / (96.0 * v * v)
        + (3.0 * z7 + 19.0 * z5 + 17.0 * z3 - 15.0 * z) / (384.0 * v * v * v)
}

/// Mean and 95% confidence half-width of some runs' values.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    pub count: usize,
    pub mean: f64,
    /// `None` with fewer than two values (no spread to estimate).
    pub half_width: Option<f64>,
}

/// The estimate for `values`; `None` when there are none.
pub fn estimate(values: &[f64]) -> Option<Estimate> {
    let n = values.len();
    if n == 0 {
        return None;
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    let half_width = (n >= 2).then(|| {
        let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1) as f64;
        t_975(n - 1) * (var / n as f64).sqrt()
    });
    Some(Estimate {
        count: n,
        mean,
        half_width,
    })
}

/// Which way a metric improves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Better {
    Lower,
    Higher,
    /// Descriptive only (e.g. the number of faults): no best.
    Neither,
}

/// The indexes of the best means (several when tied); empty when the metric has no
/// direction, fewer than two candidates have a mean, or all means are equal.
pub fn best(means: &[Option<f64>], better: Better) -> Vec<usize> {
    let present: Vec<(usize, f64)> = means
        .iter()
        .enumerate()
        .filter_map(|(i, m)| m.map(|m| (i, m)))
        .collect();
    if better == Better::Neither || present.len() < 2 {
        return Vec::new();
    }
    let pick = |a: f64, b: f64| match better {
        Better::Lower => a.min(b),
        _ => a.max(b),
    };
    let Some(target) = present.iter().map(|(_, m)| *m).reduce(pick) else {
        return Vec::new();
    };
    if present.iter().all(|(_, m)| *m == target) {
        return Vec::new();
    }
    present
        .iter()
        .filter(|(_, m)| *m == target)
        .map(|(i, _)| *i)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_quantiles_match_the_table_and_the_normal_limit() {
        assert_eq!(t_975(1), 12.706);
        assert_eq!(t_975(9), 2.262);
        // Exact values: 2.0211 (df 40), 2.0003 (df 60), 1.9799 (df 120).
        assert!((t_975(40) - 2.0211).abs() < 1e-3);
        assert!((t_975(60) - 2.0003).abs() < 1e-3);
        assert!((t_975(120) - 1.9799).abs() < 1e-3);
    }

    #[test]
    fn estimate_of_known_values() {
        let e = estimate(&[1.0, 2.0, 3.0, 4.0]).unwrap();
        assert_eq!(e.mean, 2.5);
        // s = sqrt(5/3), half width = 3.182 · s / 2.
        let hw = 3.182 * (5.0f64 / 3.0).sqrt() / 2.0;
        assert!((e.half_width.unwrap() - hw).abs() < 1e-12);
        assert_eq!(estimate(&[7.0]).unwrap().half_width, None);
        assert_eq!(estimate(&[]), None);
    }

    #[test]
    fn best_honours_direction_ties_and_equality() {
        let m = [Some(3.0), Some(1.0), None, Some(1.0)];
        assert_eq!(best(&m, Better::Lower), vec![1, 3]);
        assert_eq!(best(&m, Better::Higher), vec![0]);
        assert!(best(&m, Better::Neither).is_empty());
        assert!(best(&[Some(2.0), Some(2.0)], Better::Lower).is_empty());
    }
}
