//! Plain scalar tile kernel: the blocked driver without SIMD, and the floor on every target.

use super::dot::dot_rows;
use crate::isa::Isa;
use crate::ops::gemm::ukernel::{BInPlace, Dot, MicroKernel, Tile};

const NR: usize = 4;

/// `M x 4` tile, `M <= 4`.
///
/// # Safety
/// The `Tile` contract (see `ops::gemm::ukernel::Tile`).
unsafe fn sgemm_mx4_scalar<const M: usize>(t: &Tile) {
    let mut acc = [[0.0f32; NR]; M];
    for p in 0..t.k {
        // SAFETY: step p < k of the packed A panel (M values) and of B (NR values).
        let (a, b) = unsafe { (t.a.offset(p as isize * t.csa), t.b.offset(p as isize * t.ldb)) };
        for (i, row) in acc.iter_mut().enumerate() {
            // SAFETY: i < M, j < NR inside the step.
            let ai = unsafe { *a.offset(i as isize * t.rsa) };
            for (j, v) in row.iter_mut().enumerate() {
                // SAFETY: j < NR values of B's step.
                *v += ai * unsafe { *b.add(j) };
            }
        }
    }
    for (i, row) in acc.iter().enumerate() {
        // SAFETY: row i < M of the C tile, NR contiguous values.
        let c = unsafe { t.c.offset(i as isize * t.rsc) };
        for (j, v) in row.iter().enumerate() {
            let mut x = t.alpha * v;
            if t.beta != 0.0 {
                // SAFETY: inside the tile.
                x += t.beta * unsafe { *c.add(j) };
            }
            if !t.bias.is_null() {
                // SAFETY: bias holds NR values.
                x += unsafe { *t.bias.add(j) };
            }
            // SAFETY: inside the tile.
            unsafe { *c.add(j) = t.act.apply(x) };
        }
    }
}

/// Dot-product GEMV against `N` columns (`ukernel::GemvDotFn`): 4 rows x N scalar
/// accumulators, two sets for N = 1.
///
/// # Safety
/// The `Dot` contract.
unsafe fn dot_scalar<const N: usize, const U: usize>(d: &Dot) {
    // SAFETY: forwarded contract.
    unsafe { dot_rows::<f32, N, U>(d) }
}

pub(crate) static SGEMM_4X4_SCALAR: MicroKernel = MicroKernel {
    name: "sgemm_4x4_scalar",
    isa: Isa::Scalar,
    mr: 4,
    nr: NR,
    kc: 256,
    mc: 64,
    nc: 1024,
    gemv: &[],
    gemv_rows: None,
    gemv_dot: &[dot_scalar::<1, 2>, dot_scalar::<2, 1>, dot_scalar::<3, 1>],
    rows_short_plain: &[],
    b_in_place: BInPlace::ByShape,
    masked: &[],
    pack_b_tile: None,
    indirect: &[],
    rows_a_broadcast: &[],
    rows: &[sgemm_mx4_scalar::<1>, sgemm_mx4_scalar::<2>, sgemm_mx4_scalar::<3>, sgemm_mx4_scalar::<4>],
};
