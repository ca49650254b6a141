//! Portable tier: a 2x16 tile written with `wide::f32x4` (compiled for the build's baseline
//! target features, so it runs on every target; wide picks SSE2/NEON/simd128 or scalar code).
//!
//! Sized for baseline x86-64, which has 16 xmm registers and no FMA: 8 accumulators (2 rows of
//! 4 `f32x4`), 4 B vectors, A's two values and product temporaries, so nothing spills (a 3x16
//! tile kept two accumulators on the stack). Every `mul_add` is a `mulps`, an `addps` and
//! often a `movaps` copy (SSE's multiply overwrites an operand): the tile is bound by
//! instructions per cycle, not by the FP ports. So on x86-64 the driver packs A with each value
//! repeated 4 times (`rows_a_broadcast`): one load per value instead of `movss` + `shufps`, and
//! the K loop unrolled by 4. On AMD Zen 3 that took the tier from 50-60% of the 128-bit
//! mul + add peak to 65-77% on products from 256^3 up (docs/gemm-tuning.md).

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

/// One k step: `acc += a[0..M] x b[0..NR]`, A's row `i` value at `a + i*rsa`: a float
/// splatted, or with `BROADCAST` already 4 copies.
///
/// # Safety
/// `b` valid for reading NR values; `a + i*rsa` for 1 value (4 with `BROADCAST`), `i < M`.
#[inline(always)]
unsafe fn step<const M: usize, const BROADCAST: bool>(
    acc: &mut [[f32x4; V]; M],
    a: *const f32,
    rsa: isize,
    b: *const f32,
) {
    // SAFETY: NR readable values at b (caller).
    let bv: [f32x4; V] = core::array::from_fn(|j| unsafe { load(b.add(4 * j)) });
    for (i, row) in acc.iter_mut().enumerate() {
        // SAFETY: row i < M's value(s) of A are readable (caller).
        let ai = unsafe {
            let p = a.offset(i as isize * rsa);
            if BROADCAST {
                load(p)
            } else {
                f32x4::splat(*p)
            }
        };
        for (r, &bj) in row.iter_mut().zip(&bv) {
            // A mul + add on SSE2 (fused where the build's baseline has FMA).
            *r = ai.mul_add(bj, *r);
        }
    }
}

/// The product of a tile: `BROADCAST`, A broadcast-packed (`Tile::a_broadcast`: each value of
/// A one 16-byte load) and K unrolled by 4, since with the broadcasts gone the loop's own
/// instructions were the next largest overhead (docs/gemm-tuning.md); else A splatted.
///
/// # Safety
/// The `Tile` contract (A broadcast-packed with `BROADCAST`).
#[inline(always)]
unsafe fn product<const M: usize, const BROADCAST: bool>(t: &Tile) -> [[f32x4; V]; M] {
    let mut acc = [[f32x4::ZERO; V]; M];
    let (mut a, mut b) = (t.a, t.b);
    let (rsa, csa, ldb) = (t.rsa, t.csa, t.ldb);
    let unrolled = if BROADCAST { t.k / 4 } else { 0 };
    for _ in 0..unrolled {
        // SAFETY: k steps p..p+4 < k of A (M values `rsa` apart, 4 copies each) and of B (NR
        // values) are inside the operands.
        unsafe {
            step::<M, BROADCAST>(&mut acc, a, rsa, b);
            step::<M, BROADCAST>(&mut acc, a.offset(csa), rsa, b.offset(ldb));
            step::<M, BROADCAST>(&mut acc, a.offset(2 * csa), rsa, b.offset(2 * ldb));
            step::<M, BROADCAST>(&mut acc, a.offset(3 * csa), rsa, b.offset(3 * ldb));
        }
        // Wrapping: past the last k step these point beyond the operands (never read), which
        // with extreme strides may not even be an address.
        a = a.wrapping_offset(4 * csa);
        b = b.wrapping_offset(4 * ldb);
    }
    for _ in 4 * unrolled..t.k {
        // SAFETY: one k step p < k of A and B.
        unsafe { step::<M, BROADCAST>(&mut acc, a, rsa, b) };
        a = a.wrapping_offset(csa);
        b = b.wrapping_offset(ldb);
    }
    acc
}

/// `M x 16` tile, `M <= 2`; `BROADCAST`: A broadcast-packed.
///
/// # Safety
/// The `Tile` contract (A broadcast-packed with `BROADCAST`).
unsafe fn sgemm_mx16_portable<const M: usize, const BROADCAST: bool>(t: &Tile) {
    // SAFETY: forwarded contract.
    let acc = unsafe { product::<M, BROADCAST>(t) };
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
    // MC 60: a block of broadcast-packed A (60 x 256 x 16 bytes) in half of Zen 3's L2; KC 128
    // measured lower there (docs/gemm-tuning.md).
    kc: 256,
    mc: 60,
    nc: 1024,
    gemv: &[],
    gemv_rows: None,
    gemv_dot: &[dot_portable::<1>, dot_portable::<2>, dot_portable::<3>],
    rows_short_plain: &[],
    // Packed with more rows: 16-column panels of row-major B read in place conflict in L1 on
    // most widths (512^3 45% of the peak in place, 60% packed; 16 x 1024 x 1024 0.78x; Zen 3).
    b_in_place: BInPlace::FewRows,
    masked: &[],
    pack_b_tile: None,
    indirect: &[],
    // SSE2 has no broadcast load (`movss` + `shufps` per value of A); other targets do.
    rows_a_broadcast: if cfg!(target_arch = "x86_64") {
        &[sgemm_mx16_portable::<1, true>, sgemm_mx16_portable::<2, true>]
    } else {
        &[]
    },
    rows: &[sgemm_mx16_portable::<1, false>, sgemm_mx16_portable::<2, false>],
};
