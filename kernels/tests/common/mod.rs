//! Shared test helpers: seeded data, strided layouts, NaN-poisoned outputs and a tolerance
//! that scales with K (any summation order, fused or unfused multiply-adds, as wasm's
//! `f32x4.relaxed_madd` may be either). Used by the native suite and, through `#[path]`, by
//! the wasm suite in browser-bench/tests (so no `rand`: it needs OS entropy plumbing on wasm).
#![allow(dead_code)]

use lanes_kernels::gemm::reference::gemm_reference;
use lanes_kernels::{Activation, Epilogue, Gemm, Isa, MatMut, MatRef, MicroKernel};

/// The ISAs to test: the one forced by `LANES_ISA`, else every ISA this machine (or wasm
/// build) has.
pub fn isas() -> Vec<Isa> {
    match std::env::var("LANES_ISA") {
        Ok(s) if !s.is_empty() && s != "auto" => {
            vec![s.parse().expect("LANES_ISA names a known ISA")]
        }
        _ => Isa::available(),
    }
}

pub fn kernel(isa: Isa) -> &'static MicroKernel {
    MicroKernel::for_isa(isa).expect("ISA available")
}

/// xorshift64*: seeded, identical on every run and every target.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    /// Uniform in [-1, 1).
    pub fn next_f32(&mut self) -> f32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D);
        ((x >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
    pub fn vec(&mut self, len: usize) -> Vec<f32> {
        (0..len).map(|_| self.next_f32()).collect()
    }
}

/// A strided layout for an `r x c` operand inside a buffer.
#[derive(Clone, Copy, Debug)]
pub enum Layout {
    RowMajor,
    ColMajor,
    /// Row-major with padding: row stride `c + pad`, column stride `cs`.
    Padded {
        pad: usize,
        cs: usize,
    },
    /// Rows and columns both reversed (negative strides).
    Reversed,
    /// Row-major, starting `off` elements into the buffer (any alignment of the rows).
    Shifted {
        off: usize,
    },
}

pub const LAYOUTS: [Layout; 4] =
    [Layout::RowMajor, Layout::ColMajor, Layout::Padded { pad: 3, cs: 2 }, Layout::Reversed];

/// Rows of padding after a `Padded` operand: more than any kernel's MR.
const GUARD_ROWS: usize = 8;

/// (buffer length, offset, row stride, column stride) for an `r x c` operand.
pub fn geometry(layout: Layout, r: usize, c: usize) -> (usize, usize, isize, isize) {
    match layout {
        Layout::RowMajor => (r * c, 0, c as isize, 1),
        Layout::ColMajor => (r * c, 0, 1, r as isize),
        Layout::Padded { pad, cs } => {
            // Guard rows after the last one: a tile that wrote MR rows where fewer are left
            // would show there (check_case compares everything outside the view).
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

pub fn view(buf: &[f32], layout: Layout, r: usize, c: usize) -> MatRef<'_> {
    let (_, off, rs, cs) = geometry(layout, r, c);
    MatRef::with_offset(buf, off, r, c, rs, cs).unwrap()
}

pub fn view_mut(buf: &mut [f32], layout: Layout, r: usize, c: usize) -> MatMut<'_> {
    let (_, off, rs, cs) = geometry(layout, r, c);
    MatMut::with_offset(buf, off, r, c, rs, cs).unwrap()
}

/// Per-element error bound for `alpha*A*B + beta*C + bias`: a few ulps times (k + 2) times the
/// magnitude of the terms (sum of |a||b| products), as for any summation order.
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

/// Compares `got` with the reference result, element by element, with `bound` (plus a relative
/// slack `rel` for approximated activations). Panics with the first offending element.
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
            if w.is_nan() {
                assert!(g.is_nan(), "{what}: ({i},{j}) got {g}, want NaN");
                continue;
            }
            let tol = bound(alpha, a, b, beta, &c0, epi.bias, i, j) * 4.0 + rel * w.abs() + rel;
            // `g == w` covers equal infinities, whose difference is NaN.
            assert!(
                g == w || approx::abs_diff_eq!(g, w, epsilon = tol),
                "{what}: ({i},{j}) got {g}, want {w}, |diff| {} > tol {tol}",
                (g - w).abs()
            );
        }
    }
}

/// Runs one case: random A, B, C in the given layouts, then compares with the reference.
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
        // BLAS semantics: C is not read, so NaN in it must not leak.
        c0.iter_mut().for_each(|x| *x = f32::NAN);
    }
    let mut c = c0.clone();
    gemm.run_fused(alpha, view(&a, la, m, k), view(&b, lb, k, n), beta, view_mut(&mut c, lc, m, n), epi).unwrap();
    let what = format!("{:?} {m}x{n}x{k} alpha={alpha} beta={beta} {layouts:?} {:?}", gemm.isa(), epi.activation);
    let c0_for_ref: Vec<f32> = if beta == 0.0 { vec![0.0; c0.len()] } else { c0.clone() };
    let rel = if matches!(epi.activation, Activation::Gelu | Activation::Silu) { 2e-6 } else { 0.0 };
    assert_close(
        &what,
        alpha,
        view(&a, la, m, k),
        view(&b, lb, k, n),
        beta,
        view(&c0_for_ref, lc, m, n),
        view(&c, lc, m, n),
        epi,
        rel,
    );
    // Elements of the buffer outside the C view must be untouched.
    let (_, off, rs, cs) = geometry(lc, m, n);
    let mut inside = vec![false; c.len()];
    for i in 0..m {
        for j in 0..n {
            inside[(off as isize + i as isize * rs + j as isize * cs) as usize] = true;
        }
    }
    for (idx, (&x, &y)) in c.iter().zip(&c0).enumerate() {
        if !inside[idx] {
            assert!(x.to_bits() == y.to_bits(), "{what}: wrote outside C at {idx}");
        }
    }
}
