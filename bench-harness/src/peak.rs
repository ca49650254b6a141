//! The machine's own peak: independent FMA (or mul + add) chains per instruction set, on 1 and
//! more threads. Efficiency elsewhere is `achieved GFLOP/s / peak of the ISA used`.

use serde::{Deserialize, Serialize};
use std::hint::black_box;
use std::sync::Barrier;
use std::time::Instant;

/// Independent accumulators per loop: FMA latency (4 cycles) x 2 ports needs 8; 12 leaves margin.
pub const CHAINS: usize = 12;

/// One instruction mix whose throughput is measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PeakKind {
    /// `vfmadd231ps zmm`: 16 lanes x 2 FLOP.
    Avx512Fma,
    /// `vfmadd231ps ymm`: 8 lanes x 2 FLOP.
    Avx2Fma,
    /// `vfmadd231ps xmm`: 4 lanes x 2 FLOP (what wasm `f32x4_relaxed_madd` becomes).
    Sse128Fma,
    /// `mulps` + `addps` on xmm: what baseline x86-64 code can use (wasm simd128, `wide`
    /// without AVX, and plain Rust loops that LLVM vectorises for SSE2).
    Sse128MulAdd,
}

impl PeakKind {
    pub const ALL: [PeakKind; 4] =
        [PeakKind::Avx512Fma, PeakKind::Avx2Fma, PeakKind::Sse128Fma, PeakKind::Sse128MulAdd];

    pub fn label(self) -> &'static str {
        match self {
            PeakKind::Avx512Fma => "AVX-512 zmm FMA",
            PeakKind::Avx2Fma => "AVX2 ymm FMA",
            PeakKind::Sse128Fma => "128-bit FMA",
            PeakKind::Sse128MulAdd => "128-bit mul + add",
        }
    }

    /// FLOP per loop iteration (all chains).
    fn flop_per_iter(self) -> f64 {
        let lanes = match self {
            PeakKind::Avx512Fma => 16,
            PeakKind::Avx2Fma => 8,
            PeakKind::Sse128Fma | PeakKind::Sse128MulAdd => 4,
        };
        (CHAINS * lanes * 2) as f64
    }

    pub fn is_available(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            match self {
                PeakKind::Avx512Fma => std::is_x86_feature_detected!("avx512f"),
                PeakKind::Avx2Fma | PeakKind::Sse128Fma => {
                    std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
                }
                PeakKind::Sse128MulAdd => true,
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    }

    /// Runs `iters` iterations of the chains; the result only defeats dead-code elimination.
    // The one unsafe block: calling the `#[target_feature]` loops.
    #[allow(unsafe_code)]
    fn run(self, iters: u64) -> f32 {
        #[cfg(target_arch = "x86_64")]
        {
            assert!(self.is_available(), "{} is not available on this CPU", self.label());
            let (x, y) = (black_box(0.999_999_f32), black_box(1e-7_f32));
            // SAFETY: each loop only needs the target features it is compiled with, and
            // `is_available` (checked just above) detected them on this CPU at run time.
            unsafe {
                match self {
                    PeakKind::Avx512Fma => x86::zmm_fma(iters, x, y),
                    PeakKind::Avx2Fma => x86::ymm_fma(iters, x, y),
                    PeakKind::Sse128Fma => x86::xmm_fma(iters, x, y),
                    PeakKind::Sse128MulAdd => x86::xmm_mul_add(iters, x, y),
                }
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = iters;
            unreachable!("peak loops exist for x86-64 only")
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::CHAINS;
    use std::arch::x86_64::*;

    /// `acc = acc * x + y` on `CHAINS` independent registers; `$set1`, `$step`, `$sum` are the
    /// vector type's broadcast, step and horizontal sum.
    macro_rules! chains {
        ($name:ident, $feat:literal, $set1:ident, $add:ident, |$a:ident, $x:ident, $y:ident| $step:expr, |$s:ident| $sum:expr) => {
            #[target_feature(enable = $feat)]
            pub(super) fn $name(iters: u64, x: f32, y: f32) -> f32 {
                let ($x, $y) = ($set1(x), $set1(y));
                let mut acc = [$set1(0.0); CHAINS];
                for _ in 0..iters {
                    for $a in acc.iter_mut() {
                        *$a = $step;
                    }
                }
                let mut $s = acc[0];
                for a in &acc[1..] {
                    $s = $add($s, *a);
                }
                $sum
            }
        };
    }

    chains!(zmm_fma, "avx512f", _mm512_set1_ps, _mm512_add_ps, |a, x, y| _mm512_fmadd_ps(*a, x, y), |s| {
        _mm512_reduce_add_ps(s)
    });
    chains!(ymm_fma, "avx2,fma", _mm256_set1_ps, _mm256_add_ps, |a, x, y| _mm256_fmadd_ps(*a, x, y), |s| {
        _mm_cvtss_f32(_mm256_castps256_ps128(s))
    });
    chains!(xmm_fma, "avx2,fma", _mm_set1_ps, _mm_add_ps, |a, x, y| _mm_fmadd_ps(*a, x, y), |s| _mm_cvtss_f32(s));
    chains!(xmm_mul_add, "sse2", _mm_set1_ps, _mm_add_ps, |a, x, y| _mm_add_ps(_mm_mul_ps(*a, x), y), |s| {
        _mm_cvtss_f32(s)
    });
}

/// One measured peak.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Peak {
    pub kind: PeakKind,
    pub label: String,
    pub threads: usize,
    /// Best of the repetitions: the peak.
    pub gflops: f64,
    /// Median of the repetitions: how steady the machine was.
    pub gflops_median: f64,
}

/// Total GFLOP/s of `threads` threads each running `iters` iterations at once.
fn measure_once(kind: PeakKind, iters: u64, threads: usize) -> f64 {
    let barrier = Barrier::new(threads);
    let times: Vec<f64> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    let t = Instant::now();
                    black_box(kind.run(iters));
                    t.elapsed().as_secs_f64()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("peak thread panicked")).collect()
    });
    let slowest = times.iter().copied().fold(0.0, f64::max);
    threads as f64 * kind.flop_per_iter() * iters as f64 / slowest / 1e9
}

/// Iterations for one run of about `run_ms` on one thread.
fn calibrate(kind: PeakKind, run_ms: f64) -> u64 {
    let mut iters: u64 = 1 << 12;
    loop {
        let t = Instant::now();
        black_box(kind.run(iters));
        let ms = t.elapsed().as_secs_f64() * 1e3;
        if ms > run_ms / 4.0 || iters > 1 << 40 {
            return ((iters as f64) * run_ms / ms.max(1e-3)).max(1.0) as u64;
        }
        iters *= 4;
    }
}

fn summarise(kind: PeakKind, threads: usize, runs: &[f64]) -> Peak {
    let s = crate::measure::stats(runs);
    Peak { kind, label: kind.label().to_string(), threads, gflops: s.max, gflops_median: s.median }
}

/// Raw runs (GFLOP/s) per (kind, threads), to be merged across several measuring sessions.
#[derive(Clone, Debug, Default)]
pub struct PeakRuns(pub Vec<(PeakKind, usize, Vec<f64>)>);

impl PeakRuns {
    /// Every available kind on every thread count, `reps` rounds interleaved (so a busy moment
    /// of the shared machine costs one run of each, not all runs of one).
    pub fn measure(thread_counts: &[usize], reps: usize, run_ms: f64) -> Self {
        let kinds: Vec<PeakKind> = PeakKind::ALL.into_iter().filter(|k| k.is_available()).collect();
        let iters: Vec<u64> = kinds.iter().map(|&k| calibrate(k, run_ms)).collect();
        let mut out = PeakRuns::default();
        for &kind in &kinds {
            for &t in thread_counts {
                out.0.push((kind, t, Vec::new()));
            }
        }
        for _ in 0..reps.max(1) {
            for (ki, &kind) in kinds.iter().enumerate() {
                for (ti, &t) in thread_counts.iter().enumerate() {
                    out.0[ki * thread_counts.len() + ti].2.push(measure_once(kind, iters[ki], t));
                }
            }
        }
        out
    }

    /// Adds the runs of another session.
    pub fn merge(&mut self, other: PeakRuns) {
        for (kind, t, runs) in other.0 {
            match self.0.iter_mut().find(|(k, tt, _)| *k == kind && *tt == t) {
                Some(entry) => entry.2.extend(runs),
                None => self.0.push((kind, t, runs)),
            }
        }
    }

    /// The peak (best run) and median per (kind, threads).
    pub fn summary(&self) -> Vec<Peak> {
        self.0.iter().filter(|(_, _, r)| !r.is_empty()).map(|(k, t, r)| summarise(*k, *t, r)).collect()
    }
}

/// Prints the peaks to stderr.
pub fn log(peaks: &[Peak]) {
    for p in peaks {
        eprintln!(
            "[peak] {:<18} {} thread(s): {:>7.1} GFLOP/s (median {:.1})",
            p.label, p.threads, p.gflops, p.gflops_median
        );
    }
}

/// Peaks whose multi-thread value is under 1.5x the one-thread value: a sign that another
/// process had a core while they were measured (the efficiencies at that count are then too high).
pub fn suspicious(peaks: &[Peak]) -> Vec<&Peak> {
    peaks
        .iter()
        .filter(|p| {
            p.threads > 1 && lookup(peaks, p.kind, 1).is_some_and(|one| p.gflops < 1.5 * one * (p.threads as f64 / 2.0))
        })
        .collect()
}

/// The peak of `kind` at `threads`, if measured.
pub fn lookup(peaks: &[Peak], kind: PeakKind, threads: usize) -> Option<f64> {
    peaks.iter().find(|p| p.kind == kind && p.threads == threads).map(|p| p.gflops)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn available_kinds_measure_something_positive() {
        let peaks = PeakRuns::measure(&[1], 2, 2.0).summary();
        let available = PeakKind::ALL.into_iter().filter(|k| k.is_available()).count();
        assert_eq!(peaks.len(), available);
        assert!(peaks.iter().all(|p| p.threads == 1 && p.gflops > 0.0 && p.gflops >= p.gflops_median), "{peaks:?}");
        let Some(p) = peaks.into_iter().find(|p| p.kind == PeakKind::Sse128MulAdd) else {
            return; // not x86-64: no peak loops
        };
        assert_eq!(lookup(std::slice::from_ref(&p), PeakKind::Sse128MulAdd, 1), Some(p.gflops));
        assert_eq!(lookup(&[p], PeakKind::Sse128MulAdd, 2), None);
    }

    #[test]
    fn runs_merge_and_flag_a_busy_machine() {
        let mut a = PeakRuns(vec![(PeakKind::Avx2Fma, 1, vec![100.0, 90.0]), (PeakKind::Avx2Fma, 2, vec![120.0])]);
        a.merge(PeakRuns(vec![(PeakKind::Avx2Fma, 2, vec![190.0, 180.0]), (PeakKind::Avx512Fma, 1, vec![5.0])]));
        let s = a.summary();
        assert_eq!(s.len(), 3);
        assert_eq!(lookup(&s, PeakKind::Avx2Fma, 2), Some(190.0));
        assert_eq!(s[1].gflops_median, 180.0);
        assert!(suspicious(&s).is_empty());
        let busy = PeakRuns(vec![(PeakKind::Avx2Fma, 1, vec![100.0]), (PeakKind::Avx2Fma, 2, vec![110.0])]).summary();
        assert_eq!(suspicious(&busy).len(), 1);
    }
}
