//! The test kit shared by lanes' kernel tests, fuzz targets, lanes-web tests and the
//! benchmark's verification: seeded random data ([`Rng`]), operand layouts ([`Layout`]), the
//! f64 reference GEMM ([`gemm_reference`]) and the error bound results are checked with
//! ([`bound`], [`assert_close`]). Builds for wasm32 too (no OS entropy).

mod conv;
mod eltwise;
mod pool;
mod reference;

pub use conv::{conv2d_reference, oihw_to_hwio};
pub use eltwise::{
    erfc, layer_norm_reference, log_softmax_reference, rel_error, rms_norm_reference, softmax_reference, sweep_inputs,
    unary_reference,
};
use lanes_kernels::ops::gemm::DotArgs;
use lanes_kernels::{Activation, Epilogue, Gemm, Isa, MatMut, MatRef};
pub use pool::{global_avg_pool_reference, pool2d_reference};
use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
pub use reference::gemm_reference;

/// The ISAs to test: the one forced by `LANES_ISA`, else every ISA this machine (or wasm
/// build) has.
pub fn isas() -> Vec<Isa> {
    match std::env::var("LANES_ISA") {
        Ok(s) if !s.is_empty() && s != "auto" => vec![s.parse().expect("LANES_ISA names a known ISA")],
        _ => Isa::available(),
    }
}

/// A seeded generator: the same values on every run and every target.
pub struct Rng(Xoshiro256PlusPlus);

impl Rng {
    /// The generator for `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(Xoshiro256PlusPlus::seed_from_u64(seed))
    }
    /// Uniform in [-1, 1).
    pub fn next_f32(&mut self) -> f32 {
        self.0.random_range(-1.0f32..1.0)
    }
    /// Uniform in `0..end` (0 when `end` is 0).
    pub fn below(&mut self, end: usize) -> usize {
        self.0.random_range(0..end.max(1))
    }
    /// `len` values uniform in [-1, 1).
    pub fn vec(&mut self, len: usize) -> Vec<f32> {
        (0..len).map(|_| self.next_f32()).collect()
    }
}

/// A strided layout for an `r x c` operand inside a buffer.
#[derive(Clone, Copy, Debug)]
pub enum Layout {
    /// Dense row-major.
    RowMajor,
    /// Dense column-major.
    ColMajor,
    /// Row-major with padding: row stride `c * cs + pad`, column stride `cs`, and guard rows
    /// after the last row.
    Padded {
        /// Elements between rows.
        pad: usize,
        /// Column stride.
        cs: usize,
    },
    /// Rows and columns both reversed (negative strides).
    Reversed,
    /// Row-major, starting `off` elements into the buffer (any alignment of the rows).
    Shifted {
        /// First element's index.
        off: usize,
    },
}

/// The layouts every operand is tried in.
pub const LAYOUTS: [Layout; 4] =
    [Layout::RowMajor, Layout::ColMajor, Layout::Padded { pad: 3, cs: 2 }, Layout::Reversed];

/// Rows of padding after a `Padded` operand: more than any kernel's MR, so a tile that wrote
/// MR rows where fewer are left shows there.
const GUARD_ROWS: usize = 8;

/// (buffer length, offset, row stride, column stride) for an `r x c` operand.
pub fn geometry(layout: Layout, r: usize, c: usize) -> (usize, usize, isize, isize) {
    match layout {
        Layout::RowMajor => (r * c, 0, c as isize, 1),
        Layout::ColMajor => (r * c, 0, 1, r as isize),
        Layout::Padded { pad, cs } => {
            let rs = c * cs + pad;
            ((r + GUARD_ROWS) * rs + 1, 0, rs as isize, cs as isize)
        }
        Layout::Reversed => {
            let len = r * c;
            (len, len.saturating_sub(1), -(c as isize), -1)
        }
        Layout::Shifted { off } => (r * c + off, off, c as isize, 1),
    }
}

/// The `r x c` view of `buf` in `layout`.
pub fn view(buf: &[f32], layout: Layout, r: usize, c: usize) -> MatRef<'_> {
    let (_, off, rs, cs) = geometry(layout, r, c);
    MatRef::with_offset(buf, off, r, c, rs, cs).unwrap()
}

/// The mutable `r x c` view of `buf` in `layout`.
pub fn view_mut(buf: &mut [f32], layout: Layout, r: usize, c: usize) -> MatMut<'_> {
    let (_, off, rs, cs) = geometry(layout, r, c);
    MatMut::with_offset(buf, off, r, c, rs, cs).unwrap()
}

/// Per-element error bound for `alpha*A*B + beta*C + bias` at `(i, j)`: a few ulps times
/// (k + 2) times the magnitude of the terms (sum of |a||b| products), as for any summation
/// order, fused or unfused multiply-adds.
#[allow(clippy::too_many_arguments)]
pub fn bound(
    alpha: f32,
    a: MatRef<'_>,
    b: MatRef<'_>,
    beta: f32,
    c0: &MatRef<'_>,
    bias: Option<&[f32]>,
    i: usize,
    j: usize,
) -> f32 {
    let k = a.cols();
    let mut mag = 0.0f32;
    for p in 0..k {
        mag += (a.get(i, p) * b.get(p, j)).abs();
    }
    let mut total = alpha.abs() * mag;
    if beta != 0.0 {
        total += (beta * c0.get(i, j)).abs();
    }
    if let Some(bias) = bias {
        total += bias[j].abs();
    }
    4.0 * f32::EPSILON * (k as f32 + 2.0) * total + 1e-30
}

/// Every activation (ReLU6 for `Clamp`): the list the kernel suites sweep.
pub const ACTIVATIONS: [Activation; 6] = [
    Activation::Identity,
    Activation::Relu,
    Activation::RELU6,
    Activation::Gelu,
    Activation::GeluErf,
    Activation::Silu,
];

/// Relative slack for an activation approximated in vector code (the GELUs and SiLU go through a
/// polynomial `exp`).
pub fn activation_slack(act: Activation) -> f32 {
    if matches!(act, Activation::Gelu | Activation::GeluErf | Activation::Silu) {
        2e-6
    } else {
        0.0
    }
}

/// Whether `got` is within `tol` of `want` (equal infinities and NaN for NaN count as equal).
pub fn close(got: f32, want: f32, tol: f32) -> bool {
    if want.is_nan() {
        return got.is_nan();
    }
    got == want || (got - want).abs() <= tol
}

/// Largest `|x - reference|` over a whole result, divided by the largest `|reference|` (NaN
/// anywhere gives infinity): for comparing implementations whose summation orders differ.
pub fn normwise_error(x: &[f32], reference: &[f32]) -> f64 {
    assert_eq!(x.len(), reference.len());
    let scale = reference.iter().fold(0.0f64, |s, &r| s.max((r as f64).abs())).max(f64::MIN_POSITIVE);
    let worst = x.iter().zip(reference).fold(0.0f64, |w, (&a, &b)| {
        let d = (a as f64 - b as f64).abs();
        if d.is_nan() {
            f64::INFINITY
        } else {
            w.max(d)
        }
    });
    worst / scale
}

/// Accepted [`normwise_error`] for a product of depth `k` of values in [-1, 1): f32 rounding
/// grows like sqrt(k); a wrong kernel (a lost K block, a wrong tile) is off by 1e-2 or more.
pub fn normwise_tolerance(k: usize) -> f64 {
    5e-6 * (k as f64).sqrt().max(4.0)
}

/// Compares `got` with the reference result, element by element, with [`bound`] (plus a
/// relative slack `rel` for approximated activations). Panics with the first offending
/// element.
#[allow(clippy::too_many_arguments)]
pub fn assert_close(
    what: &str,
    alpha: f32,
    a: MatRef<'_>,
    b: MatRef<'_>,
    beta: f32,
    c0: MatRef<'_>,
    got: MatRef<'_>,
    epi: &Epilogue<'_>,
    rel: f32,
) {
    let (m, n) = (a.rows(), b.cols());
    let mut want = vec![0.0f32; m * n];
    for i in 0..m {
        for j in 0..n {
            want[i * n + j] = c0.get(i, j);
        }
    }
    gemm_reference(alpha, a, b, beta, MatMut::row_major(&mut want, m, n).unwrap(), epi);
    for i in 0..m {
        for j in 0..n {
            let (g, w) = (got.get(i, j), want[i * n + j]);
            let tol = bound(alpha, a, b, beta, &c0, epi.bias, i, j) * 4.0 + rel * w.abs() + rel;
            assert!(close(g, w, tol), "{what}: ({i},{j}) got {g}, want {w}, |diff| {} > tol {tol}", (g - w).abs());
        }
    }
}

/// Runs one case through `gemm`: random A, B, C in the given layouts, then compares with the
/// reference and checks that nothing outside C's view was written. With `beta = 0`, C starts
/// as NaN (BLAS semantics: it must not be read).
#[allow(clippy::too_many_arguments)]
pub fn check_case(
    gemm: &Gemm,
    (m, n, k): (usize, usize, usize),
    alpha: f32,
    beta: f32,
    layouts: (Layout, Layout, Layout),
    epi: &Epilogue<'_>,
    seed: u64,
) {
    let mut r = Rng::new(seed);
    let (la, lb, lc) = layouts;
    let a = r.vec(geometry(la, m, k).0);
    let b = r.vec(geometry(lb, k, n).0);
    let mut c0 = r.vec(geometry(lc, m, n).0);
    if beta == 0.0 {
        c0.iter_mut().for_each(|x| *x = f32::NAN);
    }
    let mut c = c0.clone();
    gemm.run_fused(alpha, view(&a, la, m, k), view(&b, lb, k, n), beta, view_mut(&mut c, lc, m, n), epi).unwrap();
    let what = format!("{:?} {m}x{n}x{k} alpha={alpha} beta={beta} {layouts:?} {:?}", gemm.isa(), epi.activation);
    let c0_for_ref: Vec<f32> = if beta == 0.0 { vec![0.0; c0.len()] } else { c0.clone() };
    assert_close(
        &what,
        alpha,
        view(&a, la, m, k),
        view(&b, lb, k, n),
        beta,
        view(&c0_for_ref, lc, m, n),
        view(&c, lc, m, n),
        epi,
        activation_slack(epi.activation),
    );
    assert_untouched_outside(&what, &c, &c0, lc, m, n);
}

/// Every element of `c` outside the `m x n` view in `layout` is bit-identical to `c0`.
pub fn assert_untouched_outside(what: &str, c: &[f32], c0: &[f32], layout: Layout, m: usize, n: usize) {
    let (_, off, rs, cs) = geometry(layout, m, n);
    let mut inside = vec![false; c.len()];
    for i in 0..m {
        for j in 0..n {
            inside[(off as isize + i as isize * rs + j as isize * cs) as usize] = true;
        }
    }
    for (idx, (&x, &y)) in c.iter().zip(c0).enumerate() {
        if !inside[idx] {
            assert!(x.to_bits() == y.to_bits(), "{what}: wrote outside C at {idx}");
        }
    }
}

/// Plain operands of a direct dot-GEMV call (`AvailableKernel::run_gemv_dot`): `m x k` A, `w`
/// columns of x, `m x w` C, all dense, and a bias per column of C if given.
pub fn dense_dot_args<'a>(
    (m, k, w): (usize, usize, usize),
    a: &'a [f32],
    x: &'a [f32],
    c: &'a mut [f32],
    bias: Option<&'a [f32]>,
) -> DotArgs<'a> {
    DotArgs {
        m,
        k,
        a,
        lda: k,
        x,
        ldx: k,
        c,
        rsc: w,
        csc: 1,
        alpha: 1.0,
        beta: 0.0,
        bias,
        bias_rs: w,
        bias_cs: 1,
        act: Activation::Identity,
    }
}
