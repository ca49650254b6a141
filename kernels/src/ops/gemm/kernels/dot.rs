//! The dot-product GEMV body shared by every ISA ([`GemvDotFn`](crate::ops::gemm::ukernel::GemvDotFn)):
//! written once over [`F32Vector`] and instantiated by each kernel file inside its
//! `#[target_feature]` entry point, so every instruction is compiled for that ISA.
//!
//! For N < 4 a tile would use one to three of its NR columns per broadcast of A; here A's rows
//! stream once, contiguous, `DOT_ROWS` of them at a time so each load of x serves several rows,
//! into `U x DOT_ROWS x N` vector accumulators (`U` independent sets over consecutive vectors
//! of k hide the multiply-add latency), reduced horizontally at the end of the row.

use crate::activation::Activation;
use crate::ops::gemm::ukernel::{Dot, DOT_ROWS};
use crate::simd::vector::{load_n, F32Vector};

/// `C[i, j] = act(alpha * A[i, ..] . x[.., j] + beta*C[i, j] + bias[i, j])` for every row
/// `i < d.m` and column `j < N`, `U` accumulator sets per row and column.
///
/// # Safety
/// The [`Dot`] contract, and the ISA of `V` is available.
#[inline(always)]
pub(crate) unsafe fn dot_rows<V: F32Vector, const N: usize, const U: usize>(d: &Dot) {
    let mut i = 0;
    while i + DOT_ROWS <= d.m {
        // SAFETY: rows i..i+DOT_ROWS < m (forwarded contract).
        unsafe { block::<V, DOT_ROWS, N, U>(d, i) };
        i += DOT_ROWS;
    }
    while i < d.m {
        // SAFETY: row i < m (forwarded contract).
        unsafe { block::<V, 1, N, U>(d, i) };
        i += 1;
    }
}

/// Rows `i0..i0 + R` of [`dot_rows`].
///
/// # Safety
/// As for [`dot_rows`], with `i0 + R <= d.m`.
#[inline(always)]
unsafe fn block<V: F32Vector, const R: usize, const N: usize, const U: usize>(d: &Dot, i0: usize) {
    // SAFETY: the ISA of V is available (the caller's contract) for every V:: call below.
    let zero = unsafe { V::splat(0.0) };
    let mut acc = [[[zero; N]; R]; U];
    // Wrapping: with k = 0 these are never read, and may then be anything.
    // (The products too: with k = 0 an extreme stride is allowed and may overflow.)
    let rows: [*const f32; R] = core::array::from_fn(|r| d.a.wrapping_offset(((i0 + r) as isize).wrapping_mul(d.lda)));
    let xs: [*const f32; N] = core::array::from_fn(|j| d.x.wrapping_offset((j as isize).wrapping_mul(d.ldx)));
    let step = V::N;
    let mut p = 0;
    while p + U * step <= d.k {
        for (u, set) in acc.iter_mut().enumerate() {
            let q = p + u * step;
            // SAFETY: q + step <= k: every row of A and column of x holds k values.
            unsafe {
                // Indexed loops, not `zip`: built for wasm without LTO, `Zip::new` stayed a call.
                let xv: [V; N] = core::array::from_fn(|j| V::load(xs[j].add(q)));
                for (r, row) in set.iter_mut().enumerate() {
                    let av = V::load(rows[r].add(q));
                    for (j, s) in row.iter_mut().enumerate() {
                        *s = V::madd(av, xv[j], *s);
                    }
                }
            }
        }
        p += U * step;
    }
    while p < d.k {
        // The last vectors of k: whole ones, then one partial (fewer than V::N values left).
        let n = (d.k - p).min(step);
        // SAFETY: p + n <= k values of every row and column (partial loads read only n).
        unsafe {
            let xv: [V; N] = core::array::from_fn(|j| load_n::<V>(xs[j].add(p), n));
            for (r, row) in acc[0].iter_mut().enumerate() {
                let av = load_n::<V>(rows[r].add(p), n);
                for (j, s) in row.iter_mut().enumerate() {
                    *s = V::madd(av, xv[j], *s);
                }
            }
        }
        p += n;
    }
    // Reduce, then the epilogue on the R x N values (at most DOT_ROWS * 3 = 12), activation
    // vectorised.
    let mut out = [0.0f32; DOT_ROWS * 3];
    for r in 0..R {
        for j in 0..N {
            let mut s = acc[0][r][j];
            for set in &acc[1..] {
                // SAFETY: as above.
                s = unsafe { V::add(s, set[r][j]) };
            }
            // SAFETY: as above.
            let mut v = d.alpha * unsafe { V::hsum(s) };
            let (ii, jj) = ((i0 + r) as isize, j as isize);
            if d.beta != 0.0 {
                // SAFETY: (i, j) is an element of C (i < m, j < N).
                v += d.beta * unsafe { *d.c.offset(ii * d.rsc + jj * d.csc) };
            }
            if !d.bias.is_null() {
                // SAFETY: the bias of (i, j) (the Dot contract).
                v += unsafe { *d.bias.offset(ii * d.bias_rs + jj * d.bias_cs) };
            }
            out[r * N + j] = v;
        }
    }
    let len = R * N;
    if d.act != Activation::Identity {
        let mut j = 0;
        while j < len {
            let n = (len - j).min(step);
            // SAFETY: out holds len values from j (partial loads and stores touch only n).
            unsafe {
                let p = out.as_mut_ptr().add(j);
                if n == step {
                    V::store(p, V::activate(V::load(p), d.act));
                } else {
                    V::store_part(p, n, V::activate(V::load_part(p, n), d.act));
                }
            }
            j += n;
        }
    }
    for r in 0..R {
        for j in 0..N {
            // SAFETY: (i0 + r, j) is an element of C.
            unsafe { *d.c.offset((i0 + r) as isize * d.rsc + j as isize * d.csc) = out[r * N + j] };
        }
    }
}
