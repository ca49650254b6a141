//! Helpers of the wasm test suites: seeded data, strided layouts, NaN-poisoned outputs and a
//! tolerance that scales with K (accepting any summation order and fused or unfused
//! multiply-adds, as `f32x4.relaxed_madd` may be either).
#![allow(dead_code)]

use lanes_kernels::gemm::reference::gemm_reference;
use lanes_kernels::{Epilogue, MatMut, MatRef};

/// xorshift64*: seeded, identical on every run.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
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

/// How an `r x c` operand sits in its buffer.
#[derive(Clone, Copy, Debug)]
pub enum Layout {
    RowMajor,
    ColMajor,
    /// Row stride `c*2 + 3`, column stride 2.
    Padded,
    /// Rows and columns reversed (negative strides).
    Reversed,
}

pub const LAYOUTS: [Layout; 4] = [Layout::RowMajor, Layout::ColMajor, Layout::Padded, Layout::Reversed];

/// (buffer length, offset, row stride, column stride).
pub fn geometry(layout: Layout, r: usize, c: usize) -> (usize, usize, isize, isize) {
    match layout {
        Layout::RowMajor => (r * c, 0, c as isize, 1),
        Layout::ColMajor => (r * c, 0, 1, r as isize),
        Layout::Padded => {
            let rs = 2 * c + 3;
            (r * rs + 1, 0, rs as isize, 2)
        }
        Layout::Reversed => (r * c, (r * c).saturating_sub(1), -(c as isize), -1),
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

/// Checks `got` against the f64 reference of `act(alpha*A*B + beta*C0 + bias)`; `rel` adds
/// relative slack for approximated activations. Panics naming the first bad element.
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
    let (m, n, k) = (a.rows(), b.cols(), a.cols());
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
            let mut mag = 0.0f32;
            for p in 0..k {
                mag += (a.get(i, p) * b.get(p, j)).abs();
            }
            let mut total = alpha.abs() * mag;
            if beta != 0.0 {
                total += (beta * c0.get(i, j)).abs();
            }
            if let Some(bias) = epi.bias {
                total += bias[j].abs();
            }
            let tol = 16.0 * f32::EPSILON * (k as f32 + 2.0) * total + rel * w.abs() + rel + 1e-30;
            assert!(
                g == w || (g - w).abs() <= tol,
                "{what}: ({i},{j}) got {g}, want {w}, |diff| {} > tol {tol}",
                (g - w).abs()
            );
        }
    }
}
