//! Portable tier: a 3x16 tile written with `wide::f32x4` (compiled for the build's baseline
//! target features, so it runs on every target; wide picks SSE2/NEON/simd128 or scalar code).
//!
//! Sized for baseline x86-64, which has 16 xmm registers and no FMA: 12 accumulators (3 rows
//! of 4 `f32x4`), 4 B vectors, one broadcast of A and one product temporary. The ceiling is
//! the ports, not the registers: every `mul_add` is a `mulps` + an `addps`, and every broadcast
//! of A a `shufps` competing with them, so the more vectors a broadcast feeds (NR / 4) the
//! better; 3 rows keep the spills to two accumulators per k step, which cost less than a
//! fourth row's spills or a narrower tile's extra shuffles. Sapphire Rapids, through the
//! driver, against the former 4x16 tile of `f32x8` (16 stack accesses per k step): 1.06-1.27x
//! (paired) on every shape measured, 81-85% of the 128-bit mul + add peak on 64^3-1024^3; the
//! most consistent of 4x8, 5x8, 6x8, 3x12, 4x12, 2x16, 2x24, 3x24 and 2x32 (docs/gemm-tuning.md).

use super::dot::dot_rows;
use crate::isa::Isa;
use crate::ops::gemm::ukernel::{Dot, MicroKernel, Tile};
use crate::simd::vector::Portable;
use wide::f32x4;

const MR: usize = 3;
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

/// `M x 16` tile, `M <= 3`.
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

pub(crate) static SGEMM_3X16_PORTABLE: MicroKernel = MicroKernel {
    name: "sgemm_3x16_portable",
    isa: Isa::Portable,
    mr: MR,
    nr: NR,
    // KC 192-512, MC 60-240 and NC 2048 measured within the noise of KC 256 / MC 120 / NC 1024
    // on Sapphire Rapids (docs/gemm-tuning.md).
    kc: 256,
    mc: 120,
    nc: 1024,
    gemv: &[],
    gemv_rows: None,
    gemv_dot: &[dot_portable::<1>, dot_portable::<2>, dot_portable::<3>],
    rows_short_plain: &[],
    b_in_place: true,
    masked: &[],
    pack_b_tile: None,
    indirect: &[],
    rows: &[sgemm_mx16_portable::<1>, sgemm_mx16_portable::<2>, sgemm_mx16_portable::<3>],
};
