//! A small, portable random-number generator and the samplers both generators share.
//!
//! The generator is xoshiro256++ seeded through SplitMix64: its output is fixed by its
//! definition (not by a crate version), so a seed gives the same files on every platform and
//! with every `rand` release. It implements [`rand::RngCore`], so `rand_distr`'s ziggurat
//! samplers work with it.

use std::f64::consts::PI;

use rand::{Rng, RngCore};
use rand_distr::{Exp1, StandardNormal};

/// One SplitMix64 step: advances `state` and returns a well-mixed 64-bit value.
pub(crate) fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Derives an independent seed for work item (`a`, `b`) from the user's seed.
pub(crate) fn derive_seed(seed: u64, a: u64, b: u64) -> u64 {
    let mut state = seed;
    let x = splitmix64(&mut state);
    let mut state = x ^ a.wrapping_mul(0xD1B5_4A32_D192_ED03);
    let y = splitmix64(&mut state);
    let mut state = y ^ b.wrapping_mul(0x8CB9_2BA7_2F3D_8DD7);
    splitmix64(&mut state)
}

/// A stable hash of `x` mapped to `[0, 1)`, for per-detector constants.
pub(crate) fn hash01(x: u64) -> f64 {
    let mut state = x;
    (splitmix64(&mut state) >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// xoshiro256++ (Blackman & Vigna), seeded with SplitMix64.
#[derive(Debug, Clone)]
pub(crate) struct Rng64 {
    s: [u64; 4],
}

impl Rng64 {
    /// A generator whose whole stream is fixed by `seed`.
    pub(crate) fn new(seed: u64) -> Self {
        let mut state = seed;
        let s = [
            splitmix64(&mut state),
            splitmix64(&mut state),
            splitmix64(&mut state),
            splitmix64(&mut state),
        ];
        Self { s }
    }

    #[inline]
    fn step(&mut self) -> u64 {
        let s = &mut self.s;
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

    /// Uniform in `[0, 1)`.
    #[inline]
    pub(crate) fn uniform(&mut self) -> f64 {
        (self.step() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `(0, 1]` (safe to take the logarithm of).
    #[inline]
    pub(crate) fn uniform_open(&mut self) -> f64 {
        ((self.step() >> 11) + 1) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `[lo, hi)`.
    #[inline]
    pub(crate) fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }

    /// Uniform integer in `[0, n)` (`n` > 0; returns 0 for `n == 0`).
    #[inline]
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        // Lemire's multiply-shift; the tiny bias is irrelevant here.
        ((u128::from(self.step()) * u128::from(n)) >> 64) as u64
    }

    /// True with probability `p`.
    #[inline]
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.uniform() < p
    }

    /// +1 or -1 with equal probability.
    #[inline]
    pub(crate) fn sign(&mut self) -> i32 {
        if self.step() >> 63 == 0 { 1 } else { -1 }
    }

    /// Azimuth, uniform in `[-pi, pi)`.
    #[inline]
    pub(crate) fn phi(&mut self) -> f64 {
        self.range(-PI, PI)
    }

    /// Standard normal (ziggurat).
    #[inline]
    pub(crate) fn normal(&mut self) -> f64 {
        self.sample::<f64, _>(StandardNormal)
    }

    /// Normal with mean `mu` and standard deviation `sigma`.
    #[inline]
    pub(crate) fn gauss(&mut self, mu: f64, sigma: f64) -> f64 {
        mu + sigma * self.normal()
    }

    /// Exponential with the given mean (ziggurat).
    #[inline]
    pub(crate) fn exp(&mut self, mean: f64) -> f64 {
        mean * self.sample::<f64, _>(Exp1)
    }

    /// Gamma with integer shape `k` and scale `theta` (sum of `k` exponentials).
    pub(crate) fn gamma_int(&mut self, k: u32, theta: f64) -> f64 {
        (0..k).map(|_| self.exp(theta)).sum()
    }

    /// Beta with integer shape parameters, through two integer-shape gammas.
    pub(crate) fn beta_int(&mut self, a: u32, b: u32) -> f64 {
        let x = self.gamma_int(a, 1.0);
        let y = self.gamma_int(b, 1.0);
        x / (x + y)
    }

    /// Pareto (power law `x^-(alpha+1)`) above `min`.
    #[inline]
    pub(crate) fn pareto(&mut self, min: f64, alpha: f64) -> f64 {
        min * self.uniform_open().powf(-1.0 / alpha)
    }

    /// Pareto above `min`, redrawn (a few times, then clamped) until below `max`.
    pub(crate) fn pareto_below(&mut self, min: f64, alpha: f64, max: f64) -> f64 {
        for _ in 0..8 {
            let x = self.pareto(min, alpha);
            if x < max {
                return x;
            }
        }
        min
    }

    /// Normal with mean 0 and width `sigma`, redrawn until `|x| < limit`.
    pub(crate) fn gauss_within(&mut self, sigma: f64, limit: f64) -> f64 {
        for _ in 0..16 {
            let x = sigma * self.normal();
            if x.abs() < limit {
                return x;
            }
        }
        self.range(-limit, limit)
    }

    /// Poisson with mean `lambda` (Knuth's method; meant for `lambda` below ~30).
    pub(crate) fn poisson(&mut self, lambda: f64) -> u32 {
        let limit = (-lambda).exp();
        let mut k = 0u32;
        let mut p = self.uniform();
        while p > limit && k < 1000 {
            k += 1;
            p *= self.uniform();
        }
        k
    }

    /// Breit-Wigner (Cauchy) with pole `m0` and full width `gamma`, truncated to `[lo, hi]`
    /// by inverting the cumulative distribution (no rejection).
    pub(crate) fn breit_wigner(&mut self, m0: f64, gamma: f64, lo: f64, hi: f64) -> f64 {
        let half = gamma / 2.0;
        let cdf = |x: f64| 0.5 + ((x - m0) / half).atan() / PI;
        let u = self.range(cdf(lo), cdf(hi));
        (m0 + half * (PI * (u - 0.5)).tan()).clamp(lo, hi)
    }

    /// Index drawn from a cumulative-weight table (see [`cumulative`]).
    pub(crate) fn pick(&mut self, cumulative: &[f64]) -> usize {
        let total = cumulative.last().copied().unwrap_or(0.0);
        let u = self.uniform() * total;
        cumulative
            .iter()
            .position(|&c| u < c)
            .unwrap_or(cumulative.len().saturating_sub(1))
    }
}

/// Running sums of `weights`, for [`Rng64::pick`].
pub(crate) fn cumulative(weights: &[f64]) -> Vec<f64> {
    weights
        .iter()
        .scan(0.0, |acc, w| {
            *acc += w;
            Some(*acc)
        })
        .collect()
}

impl RngCore for Rng64 {
    fn next_u32(&mut self) -> u32 {
        (self.step() >> 32) as u32
    }

    fn next_u64(&mut self) -> u64 {
        self.step()
    }

    fn fill_bytes(&mut self, dst: &mut [u8]) {
        for chunk in dst.chunks_mut(8) {
            let bytes = self.step().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream() {
        let mut a = Rng64::new(7);
        let mut b = Rng64::new(7);
        let mut c = Rng64::new(8);
        let xa: Vec<u64> = (0..16).map(|_| a.next_u64()).collect();
        let xb: Vec<u64> = (0..16).map(|_| b.next_u64()).collect();
        let xc: Vec<u64> = (0..16).map(|_| c.next_u64()).collect();
        assert_eq!(xa, xb);
        assert_ne!(xa, xc);
        assert_ne!(derive_seed(1, 0, 1), derive_seed(1, 1, 0));
    }

    #[test]
    fn samplers_have_the_right_moments() {
        let mut rng = Rng64::new(1);
        let n = 200_000;
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let u: Vec<f64> = (0..n).map(|_| rng.uniform()).collect();
        assert!((mean(&u) - 0.5).abs() < 0.01);
        let g: Vec<f64> = (0..n).map(|_| rng.gauss(3.0, 2.0)).collect();
        assert!((mean(&g) - 3.0).abs() < 0.03);
        let p: Vec<f64> = (0..n).map(|_| f64::from(rng.poisson(4.0))).collect();
        assert!((mean(&p) - 4.0).abs() < 0.05);
        let b: Vec<f64> = (0..n).map(|_| rng.beta_int(3, 5)).collect();
        assert!((mean(&b) - 0.375).abs() < 0.01);
        let bw: Vec<f64> = (0..n)
            .map(|_| rng.breit_wigner(91.19, 2.5, 60.0, 120.0))
            .collect();
        let central = bw.iter().filter(|m| (*m - 91.19).abs() < 1.25).count() as f64 / n as f64;
        // Half the untruncated Cauchy lies within half a width of the pole.
        assert!((central - 0.5).abs() < 0.03, "{central}");
        assert!(bw.iter().all(|m| (60.0..=120.0).contains(m)));
        let w = cumulative(&[1.0, 3.0]);
        let ones = (0..n).filter(|_| rng.pick(&w) == 1).count() as f64 / n as f64;
        assert!((ones - 0.75).abs() < 0.01);
    }
}
