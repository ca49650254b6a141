//! One thread count, in its own process: for each shape, check every implementation against
//! lanes, warm each up, then take samples round-robin (the order rotates each round) so that
//! the machine's slow moments hit every implementation alike.

use crate::measure::{self, Budget};
use crate::peers::{self, Impl, Problem, RosterOptions};
use crate::record::Measurement;
use crate::shapes::Shape;
use std::time::{Duration, Instant};

/// Pause after a sample of an implementation whose threads spin-wait after a call (OpenBLAS'
/// idle workers spin for ~2^28 cycles): the next implementation must not share a core with them.
const COOL_DOWN_SPINNING: Duration = Duration::from_millis(120);
/// A short pause after every other sample (rayon workers going back to sleep).
const COOL_DOWN: Duration = Duration::from_millis(1);

/// Verification failed: an implementation disagrees with lanes (or lanes with f64).
#[derive(Debug)]
pub struct Mismatch(pub String);

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Mismatch {}

/// Checks lanes' result at up to 256 spread-out entries against f64 sums.
fn check_reference(p: &Problem, c: &[f32]) -> Result<f64, Mismatch> {
    let Shape { m, n, k } = p.shape;
    let total = m * n;
    let step = (total / 256).max(1);
    let idx: Vec<usize> = (0..total).step_by(step).chain([total - 1]).collect();
    let got: Vec<f32> = idx.iter().map(|&ij| c[ij]).collect();
    let want: Vec<f32> = idx.iter().map(|&ij| p.exact(ij / n, ij % n) as f32).collect();
    let err = peers::rel_error(&got, &want);
    if err > peers::tolerance(k) {
        return Err(Mismatch(format!(
            "lanes is wrong on {}: relative error {err:.2e} against f64 (tolerance {:.1e})",
            p.shape,
            peers::tolerance(k)
        )));
    }
    Ok(err)
}

/// Measures every implementation on every shape at `threads` threads. Must run inside a rayon
/// pool of `threads` threads; calls `emit` after each shape.
pub fn run(
    shapes: &[Shape],
    threads: usize,
    roster: &RosterOptions,
    budget: Budget,
    mut emit: impl FnMut(&[Measurement]),
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let impls = peers::roster(threads, roster)?;
    eprintln!(
        "[{threads}t] implementations: {}",
        impls.iter().map(|i| format!("{} ({})", i.name, i.isa)).collect::<Vec<_>>().join(", ")
    );
    for (si, &shape) in shapes.iter().enumerate() {
        let started = Instant::now();
        let ms = run_case(shape, threads, &impls, budget)?;
        let summary: Vec<String> = ms.iter().map(|m| format!("{} {:.1}", m.impl_name, m.gflops)).collect();
        eprintln!(
            "[{threads}t] {}/{} {:<14} {:>5.1}s  GFLOP/s: {}",
            si + 1,
            shapes.len(),
            shape.name(),
            started.elapsed().as_secs_f64(),
            summary.join(", ")
        );
        emit(&ms);
    }
    Ok(())
}

fn run_case(shape: Shape, threads: usize, impls: &[Impl], budget: Budget) -> Result<Vec<Measurement>, Mismatch> {
    let p = Problem::new(shape);
    let active: Vec<&Impl> = impls.iter().filter(|i| i.runs(&shape)).collect();
    let mut c = vec![f32::NAN; shape.m * shape.n];

    // Reference: lanes (first in the roster), itself checked against f64.
    active[0].run(&p, &mut c);
    let reference = c.clone();
    let ref_err = check_reference(&p, &reference)?;

    // Verify each implementation, then measure them all interleaved.
    let mut errors = Vec::with_capacity(active.len());
    for imp in &active {
        c.fill(f32::NAN); // beta = 0: C must be overwritten, never read
        imp.run(&p, &mut c);
        let err = if imp.name == peers::LANES { ref_err } else { peers::rel_error(&c, &reference) };
        if err > peers::tolerance(shape.k) {
            return Err(Mismatch(format!(
                "{} disagrees with lanes on {shape} at {threads} thread(s): relative error {err:.2e} (tolerance {:.1e})",
                imp.name,
                peers::tolerance(shape.k)
            )));
        }
        errors.push(err);
    }
    let (plans, times) = measure::interleaved(
        active.len(),
        budget,
        |i| active[i].run(&p, &mut c),
        // OpenBLAS' and ONNX Runtime's idle workers spin after a call.
        |i| {
            let spins = (active[i].name == peers::OPENBLAS || active[i].name == peers::ONNXRUNTIME) && threads > 1;
            if spins {
                COOL_DOWN_SPINNING
            } else {
                COOL_DOWN
            }
        },
    );

    let flop = shape.flop();
    Ok(active
        .iter()
        .enumerate()
        .map(|(i, imp)| Measurement {
            suite: "gemm".into(),
            case: shape.name(),
            m: shape.m,
            n: shape.n,
            k: shape.k,
            impl_name: imp.name.clone(),
            isa: imp.isa.clone(),
            threads,
            rel_err: errors[i],
            peak: imp.peak,
            ..Measurement::timed(flop, &times[i], plans[i].iters)
        })
        .collect())
}
