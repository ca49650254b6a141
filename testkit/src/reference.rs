//! The scalar reference GEMM: the test oracle. Deliberately simple; accumulates in f64.

use lanes_kernels::{Epilogue, MatMut, MatRef};

/// `C = act(alpha*A*B + beta*C + bias)` with BLAS semantics (beta = 0: C is not read;
/// alpha = 0: A and B are not read). Shapes must already agree (panics otherwise).
pub fn gemm_reference(alpha: f32, a: MatRef<'_>, b: MatRef<'_>, beta: f32, mut c: MatMut<'_>, epi: &Epilogue<'_>) {
    let (m, k, n) = (a.rows(), a.cols(), b.cols());
    assert!(b.rows() == k && c.rows() == m && c.cols() == n, "reference: shapes do not agree");
    for i in 0..m {
        for j in 0..n {
            let mut acc = 0.0f64;
            if alpha != 0.0 {
                for p in 0..k {
                    acc += a.get(i, p) as f64 * b.get(p, j) as f64;
                }
            }
            let mut v = if alpha == 0.0 { 0.0 } else { alpha * acc as f32 };
            if beta != 0.0 {
                v += beta * c.get(i, j);
            }
            if let Some(bias) = epi.bias {
                v += bias[j];
            }
            c.set(i, j, epi.activation.apply(v));
        }
    }
}
