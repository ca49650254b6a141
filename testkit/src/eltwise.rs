//! f64 references for the element-wise and row operations (`lanes_kernels::ops::eltwise`)
//! and the error measure their results are checked with.

use lanes_kernels::ops::eltwise::Unary;

/// `2 sqrt(2/pi)` and the cubic coefficient of the tanh-form GELU, in f64.
const GELU_K: f64 = 1.595_769_121_605_730_8;
const GELU_C: f64 = 0.044_715;

/// `erfc(z)` in f64 to about 1e-15 relative: the Taylor series of erf for |z| <= 2.5, a
/// continued fraction (evaluated backwards, 200 terms) beyond.
pub fn erfc(z: f64) -> f64 {
    if z.is_nan() {
        return z;
    }
    if z < -2.5 {
        return 2.0 - erfc(-z);
    }
    if z <= 2.5 {
        // erf(z) = 2/sqrt(pi) sum (-1)^n z^(2n+1) / (n! (2n+1))
        let (mut term, mut sum, z2) = (z, z, z * z);
        for n in 1..200 {
            term *= -z2 / n as f64;
            let t = term / (2 * n + 1) as f64;
            sum += t;
            if t.abs() < 1e-18 * sum.abs() {
                break;
            }
        }
        return 1.0 - sum * std::f64::consts::FRAC_2_SQRT_PI;
    }
    let mut f = z;
    for k in (1..200).rev() {
        f = z + (k as f64 / 2.0) / f;
    }
    (-z * z).exp() / std::f64::consts::PI.sqrt() / f
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// `op(x)` in f64 (the mathematical function, not the f32 evaluation).
pub fn unary_reference(op: Unary, x: f32) -> f64 {
    let x = x as f64;
    match op {
        Unary::Identity => x,
        Unary::Relu => {
            if x.is_nan() {
                x
            } else {
                x.max(0.0)
            }
        }
        Unary::Clamp { min, max } => {
            if x.is_nan() {
                x
            } else {
                x.max(min as f64).min(max as f64)
            }
        }
        Unary::Gelu => x * sigmoid(GELU_K * (x + GELU_C * x * x * x)),
        Unary::GeluErf => x * 0.5 * erfc(-x / std::f64::consts::SQRT_2),
        Unary::Silu => x * sigmoid(x),
        Unary::Sigmoid => sigmoid(x),
        Unary::Tanh => x.tanh(),
        Unary::Exp => x.exp(),
    }
}

/// Softmax of one row in f64. A row with NaN or +Inf, or all -Inf, gives NaN everywhere.
pub fn softmax_reference(row: &[f32]) -> Vec<f64> {
    let m = row.iter().fold(f64::NEG_INFINITY, |m, &x| if x.is_nan() { f64::NAN } else { m.max(x as f64) });
    let e: Vec<f64> = row.iter().map(|&x| (x as f64 - m).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|v| v / s).collect()
}

/// Log-softmax of one row in f64 (NaN where softmax is NaN).
pub fn log_softmax_reference(row: &[f32]) -> Vec<f64> {
    let m = row.iter().fold(f64::NEG_INFINITY, |m, &x| if x.is_nan() { f64::NAN } else { m.max(x as f64) });
    let s: f64 = row.iter().map(|&x| (x as f64 - m).exp()).sum();
    row.iter().map(|&x| (x as f64 - m) - s.ln()).collect()
}

/// Layer norm of one row in f64 (biased variance).
pub fn layer_norm_reference(row: &[f32], gamma: &[f32], beta: &[f32], eps: f32) -> Vec<f64> {
    let n = row.len() as f64;
    let mean = row.iter().map(|&x| x as f64).sum::<f64>() / n;
    let var = row.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n;
    let rstd = 1.0 / (var + eps as f64).sqrt();
    row.iter().zip(gamma).zip(beta).map(|((&x, &g), &b)| (x as f64 - mean) * rstd * g as f64 + b as f64).collect()
}

/// RMS norm of one row in f64.
pub fn rms_norm_reference(row: &[f32], gamma: &[f32], eps: f32) -> Vec<f64> {
    let ms = row.iter().map(|&x| (x as f64).powi(2)).sum::<f64>() / row.len() as f64;
    let rstd = 1.0 / (ms + eps as f64).sqrt();
    row.iter().zip(gamma).map(|(&x, &g)| x as f64 * rstd * g as f64).collect()
}

/// The error of `got` against the f64 `want`, relative to `max(|want|, floor)`: 0 when both
/// are NaN or the same infinity (after rounding `want` to f32), infinity when only one is
/// NaN or infinite. `floor` makes errors on tiny results absolute (e.g. `f32::MIN_POSITIVE`
/// for subnormal results, 1 for log-probabilities).
pub fn rel_error(got: f32, want: f64, floor: f64) -> f64 {
    let w32 = want as f32;
    if want.is_nan() || got.is_nan() {
        return if want.is_nan() && got.is_nan() { 0.0 } else { f64::INFINITY };
    }
    if w32.is_infinite() || got.is_infinite() {
        return if w32 == got { 0.0 } else { f64::INFINITY };
    }
    (got as f64 - want).abs() / want.abs().max(floor)
}

/// Inputs over the whole f32 range: signed zeros, infinities, NaN, subnormals, every decade
/// from 1e-45 to 3e38 (several mantissas, both signs), the edges of `exp` (+-87..104), a dense
/// grid over [-20, 20] and seeded random values in [-12, 12].
pub fn sweep_inputs(seed: u64) -> Vec<f32> {
    let mut v = vec![
        0.0,
        -0.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        f32::MIN_POSITIVE,
        -f32::MIN_POSITIVE,
        1e-45,
        -1e-45,
        1e-40,
        -1e-40,
        f32::MAX,
        f32::MIN,
        1e30,
        -1e30,
        f32::EPSILON,
    ];
    for e in -45..=38 {
        for m in [1.0f64, 1.5, 2.7, 7.3] {
            let x = (m * 10f64.powi(e)) as f32;
            if x.is_finite() {
                v.extend([x, -x]);
            }
        }
    }
    for i in 0..=400 {
        let x = 80.0 + i as f32 * 0.06; // 80 .. 104
        v.extend([x, -x]);
    }
    for i in -4000..=4000 {
        v.push(i as f32 * 0.005);
    }
    let mut r = crate::Rng::new(seed);
    for _ in 0..4000 {
        v.push(12.0 * r.next_f32());
    }
    v
}
