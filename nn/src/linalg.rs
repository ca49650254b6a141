//! Small dense linear algebra in safe Rust: a Cholesky solve and least squares through the
//! normal equations (the Gram matrix from lanes-kernels' GEMM).

use crate::error::{NnError, Result};
use crate::tensor::Tensor;
use lanes_kernels::{Gemm, MatMut, MatRef, Parallelism};

/// Solves `a x = b` for a symmetric positive definite `n x n` matrix `a` (row-major) by
/// Cholesky factorisation `a = L L^T`, in f64. A pivot that is not positive, or not above
/// `1e-10` of its diagonal entry (the matrix is singular to rounding), is an
/// [`NnError::InvalidArgument`] naming it.
pub fn cholesky_solve(a: &[f64], b: &[f64]) -> Result<Vec<f64>> {
    let n = b.len();
    if a.len() != n * n {
        return Err(NnError::Shape { what: "Cholesky matrix".into(), expected: vec![n, n], found: vec![a.len()] });
    }
    let mut l = vec![0.0f64; n * n];
    for j in 0..n {
        let d = a[j * n + j] - (0..j).map(|k| l[j * n + k] * l[j * n + k]).sum::<f64>();
        if d.is_nan() || d <= 1e-10 * a[j * n + j].abs() {
            return Err(NnError::InvalidArgument(format!(
                "matrix is not positive definite (pivot {j} is {d}): add a ridge term"
            )));
        }
        let d = d.sqrt();
        l[j * n + j] = d;
        for i in j + 1..n {
            let s = a[i * n + j] - (0..j).map(|k| l[i * n + k] * l[j * n + k]).sum::<f64>();
            l[i * n + j] = s / d;
        }
    }
    // L z = b, then L^T x = z.
    let mut z = vec![0.0f64; n];
    for i in 0..n {
        z[i] = (b[i] - (0..i).map(|k| l[i * n + k] * z[k]).sum::<f64>()) / l[i * n + i];
    }
    let mut x = vec![0.0f64; n];
    for i in (0..n).rev() {
        x[i] = (z[i] - (i + 1..n).map(|k| l[k * n + i] * x[k]).sum::<f64>()) / l[i * n + i];
    }
    Ok(x)
}

/// Linear least squares with an intercept: the `w` (one per column of `x`, an `n x d` tensor)
/// and `b` minimising `|x w + b - y|^2 + ridge * |w|^2` (the intercept is not penalised),
/// through the normal equations `[x 1]^T [x 1] [w; b] = [x 1]^T y`: the Gram matrix and the
/// right-hand side are GEMMs, the `(d + 1) x (d + 1)` system a Cholesky solve in f64.
pub fn least_squares(x: &Tensor, y: &[f32], ridge: f64) -> Result<(Vec<f32>, f32)> {
    let (n, d) = x.dims2("least-squares input")?;
    if y.len() != n {
        return Err(NnError::Shape { what: "least-squares target".into(), expected: vec![n], found: vec![y.len()] });
    }
    if !(ridge >= 0.0 && ridge.is_finite()) {
        return Err(NnError::InvalidArgument(format!("ridge {ridge} is not a finite value >= 0")));
    }
    let m = d + 1;
    // [x 1 y]: one GEMM gives the Gram matrix of [x 1] and, in its last column, [x 1]^T y.
    let mut a = Vec::with_capacity(n * (m + 1));
    // By index, not `rows`: with d = 0 (an intercept-only fit) there are n empty rows.
    for (i, &t) in y.iter().enumerate() {
        a.extend_from_slice(&x.data()[i * d..(i + 1) * d]);
        a.push(1.0);
        a.push(t);
    }
    // The first m rows of [x 1 y]^T [x 1 y] (the last row, with y^T y, is not needed):
    // lhs is [x 1]^T, a strided view of the same storage.
    let mut gram = vec![0.0f32; m * (m + 1)];
    let rhs_view = MatRef::row_major(&a, n, m + 1)?;
    let lhs = MatRef::new(&a, m, n, 1, (m + 1) as isize)?;
    Gemm::new().parallelism(Parallelism::Auto).run(1.0, lhs, rhs_view, 0.0, MatMut::row_major(&mut gram, m, m + 1)?)?;
    let mut g = vec![0.0f64; m * m];
    let mut rhs = vec![0.0f64; m];
    for i in 0..m {
        for j in 0..m {
            g[i * m + j] = f64::from(gram[i * (m + 1) + j]);
        }
        rhs[i] = f64::from(gram[i * (m + 1) + m]);
    }
    for i in 0..d {
        g[i * m + i] += ridge;
    }
    let sol = cholesky_solve(&g, &rhs)?;
    Ok((sol[..d].iter().map(|&v| v as f32).collect(), sol[d] as f32))
}
