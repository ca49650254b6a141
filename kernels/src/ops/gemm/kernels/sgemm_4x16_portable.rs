//! Portable tier: a 4x16 tile written with `wide::f32x8` (compiled for the build's baseline
//! target features, so it runs on every target; wide picks SSE2/NEON/simd128 or scalar).

use super::dot::dot_rows;
use crate::isa::Isa;
use crate::ops::gemm::ukernel::{Dot, MicroKernel, Tile};
use crate::simd::vector::Portable;
use wide::f32x8;

const MR: usize = 4;
const NR: usize = 16;

/// # Safety
/// `p` must be valid for reading 8 f32.
#[inline(always)]
unsafe fn load(p: *const f32) -> f32x8 {
    // SAFETY: caller guarantees 8 readable values; read_unaligned has no alignment needs.
    f32x8::from(unsafe { p.cast::<[f32; 8]>().read_unaligned() })
}

/// `M x 16` tile, `M <= 4`.
///
/// # Safety
/// The `Tile` contract.
unsafe fn sgemm_mx16_portable<const M: usize>(t: &Tile) {
    let mut acc = [[f32x8::ZERO; 2]; M];
    let (mut a, mut b) = (t.a, t.b);
    for _ in 0..t.k {
        // SAFETY: one k step of B holds NR values; of A, M values `rsa` apart.
        unsafe {
            let b0 = load(b);
            let b1 = load(b.add(8));
            for (i, row) in acc.iter_mut().enumerate() {
                let ai = f32x8::splat(*a.offset(i as isize * t.rsa));
                row[0] = ai.mul_add(b0, row[0]);
                row[1] = ai.mul_add(b1, row[1]);
            }
            // Wrapping: past the last k step these point beyond the operands (never read),
            // which with extreme strides may not even be an address.
            a = a.wrapping_offset(t.csa);
            b = b.wrapping_offset(t.ldb);
        }
    }
    let alpha = f32x8::splat(t.alpha);
    let beta = f32x8::splat(t.beta);
    for (i, row) in acc.iter().enumerate() {
        for (h, &v) in row.iter().enumerate() {
            // SAFETY: row i < M of the tile holds NR contiguous values; bias holds NR values.
            unsafe {
                let c = t.c.offset(i as isize * t.rsc).add(8 * h);
                let mut v = v * alpha;
                if t.beta != 0.0 {
                    v = load(c).mul_add(beta, v);
                }
                if !t.bias.is_null() {
                    v += load(t.bias.add(8 * h));
                }
                // Activations are applied lane by lane with the scalar definition: the
                // portable tier favours exactness over speed in the epilogue.
                let mut out = v.to_array();
                for x in &mut out {
                    *x = t.act.apply(*x);
                }
                c.cast::<[f32; 8]>().write_unaligned(out);
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

pub(crate) static SGEMM_4X16_PORTABLE: MicroKernel = MicroKernel {
    name: "sgemm_4x16_portable",
    isa: Isa::Portable,
    mr: MR,
    nr: NR,
    kc: 256,
    mc: 128,
    nc: 1024,
    gemv: &[],
    gemv_rows: None,
    gemv_dot: &[dot_portable::<1>, dot_portable::<2>, dot_portable::<3>],
    rows_short_plain: &[],
    b_in_place: true,
    masked: &[],
    pack_b_tile: None,
    indirect: &[],
    rows: &[sgemm_mx16_portable::<1>, sgemm_mx16_portable::<2>, sgemm_mx16_portable::<3>, sgemm_mx16_portable::<4>],
};
