//! NEON: an 8x12 register tile, 24 `float32x4_t` accumulators of AArch64's 32 vector
//! registers, plus 3 for the k step's B vectors and 2 for A's 8 values: 29, no spills. Each k
//! step is 24 `fmla` for 5 loads (packed A) against 2-4 FMA pipes and 2-3 load ports on
//! current cores, and 24 independent chains cover the 4-cycle FMA latency on 4 pipes (6 would
//! do on 2). Why this shape, and what it should reach on real cores: docs/neon.md.
//!
//! A is read two ways, chosen once per tile: when a k step's values are contiguous
//! (`rsa == 1`: packed panels, column-major A) four rows load as one vector and each row is a
//! lane of it (`fmla v.4s, v.4s, v.s[l]`, rows past the last group of four broadcast with
//! `ld1r`, so nothing past the tile's `m` rows is read); otherwise (row-major A in place) each
//! row's value is broadcast with `ld1r`; the indirect tiles (a convolution's rows through
//! pointers, `Tile::a_rows`) broadcast the same way. B is 3 contiguous vectors per k step, C
//! and the bias 12 contiguous values per row: the tiles always compute their full width (the
//! driver runs narrower panels through its stack tile), so no load or store is partial.

use super::super::dot::dot_rows;
use crate::isa::Isa;
use crate::ops::gemm::ukernel::variant::{GENERAL, INDIRECT};
use crate::ops::gemm::ukernel::{BInPlace, Dot, MicroKernel, Tile};
use crate::simd::aarch64::neon::activate;
use crate::simd::vector::Neon;
use core::arch::aarch64::*;

const MR: usize = 8;
const NR: usize = 12;
/// Vectors per row of the GEMM tiles.
const NV: usize = NR / 4;

/// `acc + b * a[lane]` (`fmla` by element; `lane` is a constant once the tile is unrolled).
#[target_feature(enable = "neon")]
#[inline]
fn fma_lane(acc: float32x4_t, b: float32x4_t, a: float32x4_t, lane: usize) -> float32x4_t {
    match lane {
        0 => vfmaq_laneq_f32::<0>(acc, b, a),
        1 => vfmaq_laneq_f32::<1>(acc, b, a),
        2 => vfmaq_laneq_f32::<2>(acc, b, a),
        _ => vfmaq_laneq_f32::<3>(acc, b, a),
    }
}

/// `M x (4*NV)` tile (`NV = 3`, `M <= 8` for the GEMM tiles; generic in the width for future
/// GEMV strips): `C[0..M, 0..4NV] = act(alpha * A*B + beta*C + bias)`. `VARIANT`: [`GENERAL`]
/// (A through `a`, `rsa`, `csa`) or [`INDIRECT`] (A through the row pointers `Tile::a_rows`,
/// run by run, each row's value broadcast with `ld1r` as for A in place; full width too).
///
/// # Safety
/// The `Tile` contract for an `M x 4NV` tile, and the CPU supports NEON.
#[target_feature(enable = "neon")]
unsafe fn sgemm_neon<const M: usize, const NV: usize, const VARIANT: u8>(t: &Tile) {
    let zero = vdupq_n_f32(0.0);
    let mut acc = [[zero; NV]; M];
    let (mut a, mut b) = (t.a, t.b);
    if VARIANT == INDIRECT {
        for r in 0..t.runs {
            // SAFETY: run r has run_len[r] steps and M row pointers, each to that many
            // readable values (the `Tile::a_rows` contract); B as in the plain loops.
            unsafe {
                let rows: [*const f32; M] = core::array::from_fn(|i| *t.a_rows.add(r * M + i));
                for c in 0..*t.run_len.add(r) {
                    let mut bv = [zero; NV];
                    for (j, v) in bv.iter_mut().enumerate() {
                        *v = vld1q_f32(b.add(4 * j));
                    }
                    for (row, &ap) in acc.iter_mut().zip(&rows) {
                        let ai = vld1q_dup_f32(ap.add(c));
                        for (r, &bj) in row.iter_mut().zip(&bv) {
                            *r = vfmaq_f32(*r, bj, ai);
                        }
                    }
                    b = b.wrapping_offset(t.ldb);
                }
            }
        }
    } else if t.rsa == 1 {
        for _ in 0..t.k {
            // SAFETY: one k step of B holds 4*NV values; of A, M contiguous values (rsa = 1):
            // whole groups of 4 rows are loaded as vectors, the rest one value at a time.
            unsafe {
                let mut bv = [zero; NV];
                for (j, v) in bv.iter_mut().enumerate() {
                    *v = vld1q_f32(b.add(4 * j));
                }
                for g in 0..M / 4 {
                    let av = vld1q_f32(a.add(4 * g));
                    for lane in 0..4 {
                        for (r, &bj) in acc[4 * g + lane].iter_mut().zip(&bv) {
                            *r = fma_lane(*r, bj, av, lane);
                        }
                    }
                }
                for (i, row) in acc.iter_mut().enumerate().skip(M / 4 * 4) {
                    let ai = vld1q_dup_f32(a.add(i));
                    for (r, &bj) in row.iter_mut().zip(&bv) {
                        *r = vfmaq_f32(*r, bj, ai);
                    }
                }
                // Wrapping: past the last k step these point beyond the operands (never read),
                // which with extreme strides may not even be an address.
                a = a.wrapping_offset(t.csa);
                b = b.wrapping_offset(t.ldb);
            }
        }
    } else {
        for _ in 0..t.k {
            // SAFETY: one k step of B holds 4*NV values; of A, M values `rsa` apart.
            unsafe {
                let mut bv = [zero; NV];
                for (j, v) in bv.iter_mut().enumerate() {
                    *v = vld1q_f32(b.add(4 * j));
                }
                for (i, row) in acc.iter_mut().enumerate() {
                    let ai = vld1q_dup_f32(a.offset(i as isize * t.rsa));
                    for (r, &bj) in row.iter_mut().zip(&bv) {
                        *r = vfmaq_f32(*r, bj, ai);
                    }
                }
                // Wrapping: as above.
                a = a.wrapping_offset(t.csa);
                b = b.wrapping_offset(t.ldb);
            }
        }
    }
    let alpha = vdupq_n_f32(t.alpha);
    let beta = vdupq_n_f32(t.beta);
    for (i, row) in acc.iter().enumerate() {
        for (j, &v) in row.iter().enumerate() {
            // SAFETY: row i < M of the tile holds 4*NV contiguous values; bias (if not null)
            // holds 4*NV values.
            unsafe {
                let c = t.c.offset(i as isize * t.rsc).add(4 * j);
                let mut v = vmulq_f32(v, alpha);
                if t.beta != 0.0 {
                    v = vfmaq_f32(v, vld1q_f32(c), beta);
                }
                if !t.bias.is_null() {
                    v = vaddq_f32(v, vld1q_f32(t.bias.add(4 * j)));
                }
                vst1q_f32(c, activate(v, t.act));
            }
        }
    }
}

/// Dot-product GEMV against `N` columns (`ukernel::GemvDotFn`): 4 rows x N x U `float32x4_t`
/// accumulators (16 for N = 1, 2; 12 for N = 3, whose 3 x vectors and 4 A vectors then keep
/// the total under the 32 registers).
///
/// # Safety
/// The `Dot` contract, and the CPU supports NEON.
#[target_feature(enable = "neon")]
unsafe fn dot_neon<const N: usize, const U: usize>(d: &Dot) {
    // SAFETY: forwarded contract.
    unsafe { dot_rows::<Neon, N, U>(d) }
}

pub(crate) static SGEMM_8X12_NEON: MicroKernel = MicroKernel {
    name: "sgemm_8x12_neon",
    isa: Isa::Neon,
    mr: MR,
    nr: NR,
    // Not measured on hardware yet (docs/neon.md). KC 256: the 256x12 B panel (12 KiB) and
    // the 8x256 A panel (8 KiB) stay in a 64 KiB L1 (Cortex-A76, Neoverse N1) with room for C;
    // MC 128 (a multiple of 8): the A block (128 KiB) stays in L2 (512 KiB-1 MiB); NC 1536 (a
    // multiple of 12): a 1.5 MiB B block for the shared L2/L3.
    kc: 256,
    mc: 128,
    nc: 1536,
    // M = 1 runs the 1x12 tile (no GEMV strips yet: without a prefetch they would wait on B's
    // rows, as on wasm; docs/neon.md).
    gemv: &[],
    gemv_rows: None,
    gemv_dot: &[dot_neon::<1, 4>, dot_neon::<2, 2>, dot_neon::<3, 1>],
    rows_short_plain: &[],
    // Row-major B with more than one row of tiles is packed, as for the 6x16 AVX2 tile (each k
    // step reads 48 bytes of a different row of B; unmeasured on NEON, the conservative choice).
    b_in_place: BInPlace::Never,
    masked: &[],
    pack_b_tile: None,
    indirect: &[&[
        sgemm_neon::<1, NV, INDIRECT>,
        sgemm_neon::<2, NV, INDIRECT>,
        sgemm_neon::<3, NV, INDIRECT>,
        sgemm_neon::<4, NV, INDIRECT>,
        sgemm_neon::<5, NV, INDIRECT>,
        sgemm_neon::<6, NV, INDIRECT>,
        sgemm_neon::<7, NV, INDIRECT>,
        sgemm_neon::<8, NV, INDIRECT>,
    ]],
    rows_a_broadcast: &[],
    rows: &[
        sgemm_neon::<1, NV, GENERAL>,
        sgemm_neon::<2, NV, GENERAL>,
        sgemm_neon::<3, NV, GENERAL>,
        sgemm_neon::<4, NV, GENERAL>,
        sgemm_neon::<5, NV, GENERAL>,
        sgemm_neon::<6, NV, GENERAL>,
        sgemm_neon::<7, NV, GENERAL>,
        sgemm_neon::<8, NV, GENERAL>,
    ],
};
