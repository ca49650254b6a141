//! Portable tier: a 2x16 tile written with `wide::f32x4` (compiled for the build's baseline
//! target features, so it runs on every target; wide picks SSE2/NEON/simd128 or scalar code).
//!
//! Sized for baseline x86-64, which has 16 xmm registers and no FMA: 8 accumulators (2 rows of
//! 4 `f32x4`), 4 B vectors, one broadcast of A and one product temporary, 14 registers, so
//! nothing spills. Every `mul_add` is a `mulps`, an `addps` and a `movaps` copy (SSE's multiply
//! overwrites an operand) and every broadcast of A a `movss` + `shufps`: the tile is bound by
//! instructions per cycle, not by the FP ports. The former 3x16 tile (12 accumulators, 18
//! registers) kept two accumulators on the stack, whose store-to-load round trip each k step
//! capped it at 45-50% of the 128-bit mul + add peak on AMD Zen 3; 2x16 runs at 56-61% there
//! through the driver, and measured level with 3x16 on Sapphire Rapids (docs/gemm-tuning.md).

use super::dot::dot_rows;
use crate::isa::Isa;
use crate::ops::gemm::ukernel::{BInPlace, Dot, MicroKernel, Tile};
use crate::simd::vector::Portable;
use wide::f32x4;

const MR: usize = 2;
/// `f32x4` vectors per row of the tile.
const V: usize = 4;
const NR: usize = 4 * V;

/// # Safety
/// `p` must be valid for reading 4 f32.
#[inline(always)]
unsafe fn load(p: *const f32) -> f32x4 {
    // SAFETY: caller guarantees 4 readable values; read_unaligned has no alignment needs.
    f32x4::from(unsafe { p.cast::<[f32; 4]>().read_unaligned() })
}

/// `M x 16` tile, `M <= 2`.
///
/// # Safety
/// The `Tile` contract.
unsafe fn sgemm_mx16_portable<const M: usize>(t: &Tile) {
    let mut acc = [[f32x4::ZERO; V]; M];
    let (mut a, mut b) = (t.a, t.b);
    for _ in 0..t.k {
        // SAFETY: one k step of B holds NR values; of A, M values `rsa` apart.
        unsafe {
            let bv: [f32x4; V] = core::array::from_fn(|j| load(b.add(4 * j)));
            for (i, row) in acc.iter_mut().enumerate() {
                let ai = f32x4::splat(*a.offset(i as isize * t.rsa));
                for (r, &bj) in row.iter_mut().zip(&bv) {
                    // A mul + add on SSE2 (fused where the build's baseline has FMA).
                    *r = ai.mul_add(bj, *r);
                }
            }
            // Wrapping: past the last k step these point beyond the operands (never read),
            // which with extreme strides may not even be an address.
            a = a.wrapping_offset(t.csa);
            b = b.wrapping_offset(t.ldb);
        }
    }
    let alpha = f32x4::splat(t.alpha);
    let beta = f32x4::splat(t.beta);
    for (i, row) in acc.iter().enumerate() {
        for (h, &v) in row.iter().enumerate() {
            // SAFETY: row i < M of the tile holds NR contiguous values; bias holds NR values.
            unsafe {
                let c = t.c.offset(i as isize * t.rsc).add(4 * h);
                let mut v = v * alpha;
                if t.beta != 0.0 {
                    v = load(c).mul_add(beta, v);
                }
                if !t.bias.is_null() {
                    v += load(t.bias.add(4 * h));
                }
                // Activations are applied lane by lane with the scalar definition: the
                // portable tier favours exactness over speed in the epilogue.
                let mut out = v.to_array();
                for x in &mut out {
                    *x = t.act.apply(*x);
                }
                c.cast::<[f32; 4]>().write_unaligned(out);
            }
        }
    }
}

/// Dot-product GEMV against `N` columns (`ukernel::GemvDotFn`): 4 rows x N `f32x8`
/// accumulators.
///
/// # Safety
/// The `Dot` contract.
unsafe fn dot_portable<const N: usize>(d: &Dot) {
    // SAFETY: forwarded contract (the portable tier runs everywhere).
    unsafe { dot_rows::<Portable, N, 1>(d) }
}

pub(crate) static SGEMM_2X16_PORTABLE: MicroKernel = MicroKernel {
    name: "sgemm_2x16_portable",
    isa: Isa::Portable,
    mr: MR,
    nr: NR,
    // KC 192-512, MC 60-240 and NC 2048 measured within the noise of KC 256 / MC 120 / NC 1024
    // on Sapphire Rapids with the 3x16 tile (docs/gemm-tuning.md).
    kc: 256,
    mc: 120,
    nc: 1024,
    gemv: &[],
    gemv_rows: None,
    gemv_dot: &[dot_portable::<1>, dot_portable::<2>, dot_portable::<3>],
    rows_short_plain: &[],
    // Packed with more rows: 16-column panels of row-major B read in place conflict in L1 on
    // most widths (512^3 45% of the peak in place, 60% packed; Zen 3).
    b_in_place: BInPlace::FewRows,
    masked: &[],
    pack_b_tile: None,
    indirect: &[],
    rows: &[sgemm_mx16_portable::<1>, sgemm_mx16_portable::<2>],
};
