//! The whole-row GEMV body shared by the kernels that have one
//! ([`GemvRowsFn`](crate::ops::gemm::ukernel::GemvRowsFn): AVX2, wasm): written once over
//! [`F32Vector`] and instantiated by each kernel file inside its `#[target_feature]` entry point,
//! as [`dot_rows`](super::dot::dot_rows) is.
//!
//! `acc[j] = sum_p a[p*csa] * b[p*ldb + j]` for `j < n`: row-major B read [`GEMV_ROWS`] whole
//! rows at a time, the partial sums in `acc` (hot in L1), so each row of B is one sequential
//! stream (as BLAS's `sgemv_n` reads its columns); a strip of a few columns instead touches a
//! new row, often a new page, at every k step (docs/gemm-tuning.md, docs/wasm.md).

use crate::simd::vector::F32Vector;

/// Rows of B streamed at a time (8 measured 0.94-1.04x on AVX2).
const GEMV_ROWS: usize = 4;

/// See the module. `C` vectors per chunk of columns (32 columns on AVX2 and wasm). `UNROLL`:
/// whole passes of `GEMV_ROWS` rows with the row loop unrolled (AVX2: 2-4% faster than a
/// run-time row count); wasm keeps the loop (unrolled, V8 ran it 3x slower: Node 20, relaxed).
///
/// # Safety
/// `a` readable at `p*csa`, B at `p*ldb + j` for `p < k`, `j < n`; `acc` writable for `n`
/// values; the ISA of `V` is available.
#[inline(always)]
pub(crate) unsafe fn gemv_rows<V: F32Vector, const C: usize, const UNROLL: bool>(
    k: usize,
    n: usize,
    a: *const f32,
    csa: isize,
    b: *const f32,
    ldb: isize,
    acc: *mut f32,
) {
    let mut p0 = 0;
    while p0 < k {
        // SAFETY: rows p0..p0 + rows <= k of A and B; the caller's contract for acc and the ISA.
        unsafe {
            if UNROLL && k - p0 >= GEMV_ROWS {
                pass::<V, C>(p0, GEMV_ROWS, n, a, csa, b, ldb, acc);
                p0 += GEMV_ROWS;
            } else {
                let rows = GEMV_ROWS.min(k - p0);
                pass::<V, C>(p0, rows, n, a, csa, b, ldb, acc);
                p0 += rows;
            }
        }
    }
}

/// `acc[j] (+)= sum_r a[(p0+r)*csa] * b[(p0+r)*ldb + j]` for `r < rows`, `j < n` (`=` when
/// p0 = 0): chunks of `C` vectors, then single vectors, then the last columns one by one
/// (multiply, then add).
///
/// # Safety
/// Rows p0..p0 + rows (at most `GEMV_ROWS`) of A and B exist; `acc` holds n values; the ISA of
/// `V` is available.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn pass<V: F32Vector, const C: usize>(
    p0: usize,
    rows: usize,
    n: usize,
    a: *const f32,
    csa: isize,
    b: *const f32,
    ldb: isize,
    acc: *mut f32,
) {
    // SAFETY: rows p0..p0 + rows <= k, columns below n (the caller's contract); the ISA of V.
    unsafe {
        let mut ar = [0.0f32; GEMV_ROWS];
        let mut bp = [b; GEMV_ROWS];
        for r in 0..rows {
            ar[r] = *a.offset((p0 + r) as isize * csa);
            bp[r] = b.offset((p0 + r) as isize * ldb);
        }
        let av: [V; GEMV_ROWS] = core::array::from_fn(|r| V::splat(ar[r]));
        let first = p0 == 0;
        let mut j = 0;
        while j + C * V::N <= n {
            let mut s = [V::splat(0.0); C];
            if !first {
                for (h, s) in s.iter_mut().enumerate() {
                    *s = V::load(acc.add(j + h * V::N));
                }
            }
            for r in 0..rows {
                for (h, s) in s.iter_mut().enumerate() {
                    *s = V::madd(av[r], V::load(bp[r].add(j + h * V::N)), *s);
                }
            }
            for (h, s) in s.iter().enumerate() {
                V::store(acc.add(j + h * V::N), *s);
            }
            j += C * V::N;
        }
        while j + V::N <= n {
            let mut s = if first { V::splat(0.0) } else { V::load(acc.add(j)) };
            for r in 0..rows {
                s = V::madd(av[r], V::load(bp[r].add(j)), s);
            }
            V::store(acc.add(j), s);
            j += V::N;
        }
        for j in j..n {
            let mut s = if first { 0.0 } else { *acc.add(j) };
            for r in 0..rows {
                s += ar[r] * *bp[r].add(j);
            }
            *acc.add(j) = s;
        }
    }
}
