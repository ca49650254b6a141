//! Timing: warm-up, adaptive batch sizes, and median/min/max of the samples.

use std::time::{Duration, Instant};

/// Summary of per-call times, in seconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stats {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub samples: usize,
}

/// Median (mean of the two middle values for an even count), min and max. Panics when empty.
pub fn stats(times: &[f64]) -> Stats {
    assert!(!times.is_empty(), "no samples");
    let mut v = times.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 { v[n / 2] } else { 0.5 * (v[n / 2 - 1] + v[n / 2]) };
    Stats { median, min: v[0], max: v[n - 1], samples: n }
}

/// How one implementation is sampled in a case: `rounds` samples of `iters` back-to-back calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    pub iters: usize,
    pub rounds: usize,
}

/// Timing budget per implementation and case.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    /// Measured time to aim for per implementation per case (warm-up not included).
    pub per_impl: Duration,
    /// Samples to aim for; fewer when one call is long, never fewer than `min_rounds`.
    pub rounds: usize,
    pub min_rounds: usize,
}

impl Budget {
    pub const DEFAULT: Budget = Budget { per_impl: Duration::from_millis(1000), rounds: 15, min_rounds: 3 };
    pub const QUICK: Budget = Budget { per_impl: Duration::from_millis(60), rounds: 5, min_rounds: 3 };

    /// Chooses batch size and sample count from the time of one call: each sample lasts about
    /// `per_impl / rounds` (so the clock's resolution and one-off hiccups matter little), and
    /// slow calls get fewer samples, but at least `min_rounds`.
    pub fn plan(&self, call: Duration) -> Plan {
        let call = call.as_secs_f64().max(1e-9);
        let total = self.per_impl.as_secs_f64();
        let sample = total / self.rounds as f64;
        let iters = ((sample / call).round() as usize).max(1);
        let rounds = ((total / (iters as f64 * call)).round() as usize).clamp(self.min_rounds, self.rounds);
        Plan { iters, rounds }
    }
}

/// Calls `f` until both `min_calls` calls and `min_time` have passed; returns the fastest call.
pub fn warm_up(mut f: impl FnMut(), min_calls: usize, min_time: Duration) -> Duration {
    let start = Instant::now();
    let mut best = Duration::MAX;
    let mut calls = 0;
    while calls < min_calls || start.elapsed() < min_time {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed());
        calls += 1;
    }
    best
}

/// Runs `f` `iters` times; returns the mean time per call in seconds.
pub fn time_batch(mut f: impl FnMut(), iters: usize) -> f64 {
    let t = Instant::now();
    for _ in 0..iters {
        f();
    }
    t.elapsed().as_secs_f64() / iters as f64
}

/// The measuring loop every suite shares: warms up each of `n` implementations and plans its
/// samples from one call's time, then takes the samples round by round with a rotating start,
/// so the machine's slow moments hit every implementation alike. `run(i)` makes one call of
/// implementation `i`; `pause(i)` is how long to wait after one of its samples (idle workers
/// that spin). Returns the plans and, per implementation, the seconds per call of each sample
/// in round order.
pub fn interleaved(
    n: usize,
    budget: Budget,
    mut run: impl FnMut(usize),
    pause: impl Fn(usize) -> Duration,
) -> (Vec<Plan>, Vec<Vec<f64>>) {
    let plans: Vec<Plan> = (0..n).map(|i| budget.plan(warm_up(|| run(i), 2, budget.per_impl / 8))).collect();
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); n];
    let rounds = plans.iter().map(|p| p.rounds).max().unwrap_or(0);
    for r in 0..rounds {
        for j in 0..n {
            let i = (r + j) % n;
            let Plan { iters, rounds: mine } = plans[i];
            if r >= mine {
                continue;
            }
            times[i].push(time_batch(|| run(i), iters));
            let wait = pause(i);
            if !wait.is_zero() {
                std::thread::sleep(wait);
            }
        }
    }
    (plans, times)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_of_odd_and_even_counts() {
        let s = stats(&[3.0, 1.0, 2.0]);
        assert_eq!((s.median, s.min, s.max, s.samples), (2.0, 1.0, 3.0, 3));
        let s = stats(&[4.0, 1.0, 3.0, 2.0]);
        assert_eq!(s.median, 2.5);
    }

    #[test]
    fn plan_batches_fast_calls_and_caps_slow_ones() {
        let b = Budget { per_impl: Duration::from_millis(400), rounds: 10, min_rounds: 3 };
        // 10 us per call: 40 ms samples of 4000 calls, 10 of them.
        assert_eq!(b.plan(Duration::from_micros(10)), Plan { iters: 4000, rounds: 10 });
        // 100 ms per call: one call per sample, 4 samples.
        assert_eq!(b.plan(Duration::from_millis(100)), Plan { iters: 1, rounds: 4 });
        // 2 s per call: still the minimum of 3 samples.
        assert_eq!(b.plan(Duration::from_secs(2)), Plan { iters: 1, rounds: 3 });
    }

    #[test]
    fn interleaved_samples_every_implementation_its_planned_rounds() {
        let b = Budget { per_impl: Duration::from_millis(4), rounds: 5, min_rounds: 3 };
        let mut calls = [0usize; 3];
        let (plans, times) = interleaved(3, b, |i| calls[i] += 1, |_| Duration::ZERO);
        for i in 0..3 {
            assert_eq!(times[i].len(), plans[i].rounds);
            assert!(calls[i] >= plans[i].rounds * plans[i].iters);
        }
    }
}
