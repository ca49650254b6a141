//! AVX-512F: a 4x64 register tile (16 zmm accumulators, enough to cover the 4-cycle FMA
//! latency on both FMA ports; per k step one 64-wide row of B and 4 broadcasts of A, 8 loads
//! per 16 FMAs), bias/activation fused. 4x64 measured 1-1.5% faster than 8x32 (10 loads per
//! 16 FMAs) at 64^3, 1024^3, 128x3072x768 and 512x512x4608 on Zen 4. Panels narrower than
//! 64 columns take masked 4x16, 4x32 or 4x48 tiles (`masked`), so an odd N costs no more than
//! with narrower tiles.

use super::prefetch_next_a_row;
use super::variant::{GENERAL, MASKED, PACK_B, SHORT_PLAIN};
use crate::dispatch::Isa;
use crate::gemm::epilogue::{Activation, GELU_C, GELU_K};
use crate::gemm::kernel::{MicroKernel, Tile};
use crate::gemm::pack::prefetch_row;
use core::arch::x86_64::*;

const MR: usize = 4;
const NR: usize = 64;
/// Rows of B ahead that the packing tile prefetches.
const B_PREFETCH_ROWS: isize = 16;
/// Rows of B ahead that the wide GEMV tiles prefetch: 2 measured best of 1-16 (1x3072x768
/// +6%, 1x4096x1024 +10%; 8 and more rows lost 15%).
const GEMV_PREFETCH_ROWS: isize = 2;

/// `M x (16*NV)` tile: `NV = 4` for the GEMM tiles (`M <= 4`), `NV = 1..=4` masked ones,
/// `M = 1, NV = 24, 8, 2` for GEMV; `VARIANT` one of [`super::variant`].
///
/// # Safety
/// The `Tile` contract, and the CPU supports AVX-512F.
#[target_feature(enable = "avx512f")]
unsafe fn sgemm_avx512<const M: usize, const NV: usize, const VARIANT: u8>(t: &Tile) {
    let mut acc = [[_mm512_setzero_ps(); NV]; M];
    // Start fetching the C tile now so the epilogue's loads/stores do not wait on memory.
    if VARIANT != SHORT_PLAIN && !t.is_short() {
        for i in 0..M {
            prefetch_row(t.c.wrapping_offset(i as isize * t.rsc), 16 * NV);
        }
    }
    // MASKED: lanes of vector h inside the tile's `cols` columns.
    let masks: [__mmask16; NV] =
        core::array::from_fn(|h| ((1u32 << t.cols.saturating_sub(16 * h).min(16)) - 1) as __mmask16);
    let (mut a, mut b, mut b_pack) = (t.a, t.b, t.b_pack);
    // `Tile::prefetch_next_a`: the next tile down reads the M rows of A after these.
    let prefetch_next_a = VARIANT == GENERAL && M == MR && NV == 4 && t.prefetch_next_a;
    for kk in 0..t.k {
        if prefetch_next_a {
            // One of them per k step, at this step's column, into L2: the lines arrive ahead
            // of that tile instead of on demand from L3 (3136x64x576 +1.5%, 3136x128x576 +3%,
            // 512x512x4608 +1%).
            prefetch_next_a_row::<M>(a, t.rsa, kk);
        }
        if M == 1 && NV > 2 {
            // GEMV strips: B's rows are pages apart, where hardware prefetchers stop.
            prefetch_row(b.wrapping_offset(GEMV_PREFETCH_ROWS.wrapping_mul(t.ldb)), 16 * NV);
        }
        if VARIANT == PACK_B {
            // B rows are often pages apart here, where hardware prefetchers stop.
            prefetch_row(b.wrapping_offset(B_PREFETCH_ROWS.wrapping_mul(t.ldb)), 16 * NV);
        }
        // SAFETY: one k step of B holds NR values; of A, M values `rsa` apart.
        unsafe {
            let mut bv = [_mm512_setzero_ps(); NV];
            for (h, v) in bv.iter_mut().enumerate() {
                *v = if VARIANT == MASKED {
                    // Only the tile's `cols` columns of B are read (the rest are zero).
                    _mm512_maskz_loadu_ps(masks[h], b.add(16 * h))
                } else {
                    _mm512_loadu_ps(b.add(16 * h))
                };
                if VARIANT == PACK_B {
                    // SAFETY: b_pack holds k steps of 16*NV values (the PACK_B contract).
                    _mm512_storeu_ps(b_pack.add(16 * h), *v);
                }
            }
            if VARIANT == PACK_B {
                b_pack = b_pack.wrapping_add(16 * NV);
            }
            for (i, row) in acc.iter_mut().enumerate() {
                let ai = _mm512_set1_ps(*a.offset(i as isize * t.rsa));
                for (acc, &bh) in row.iter_mut().zip(&bv) {
                    *acc = _mm512_fmadd_ps(ai, bh, *acc);
                }
            }
            // Wrapping: past the last k step these point beyond the operands (never read),
            // which with extreme strides may not even be an address.
            a = a.wrapping_offset(t.csa);
            b = b.wrapping_offset(t.ldb);
        }
    }
    let alpha = _mm512_set1_ps(t.alpha);
    if VARIANT == SHORT_PLAIN {
        for (i, row) in acc.iter().enumerate() {
            for (h, &v) in row.iter().enumerate() {
                // alpha = 1 skips the multiplies: 16 of them are 1.5% of a k = 64 tile's FMA
                // port time, and the stores wait on them (64^3 through the API: +1.6%).
                let v = if t.alpha == 1.0 { v } else { _mm512_mul_ps(v, alpha) };
                // SAFETY: row i < M of the tile holds NR contiguous values.
                unsafe { _mm512_storeu_ps(t.c.offset(i as isize * t.rsc).add(16 * h), v) };
            }
        }
        return;
    }
    let beta = _mm512_set1_ps(t.beta);
    for (i, row) in acc.iter().enumerate() {
        for (h, &v) in row.iter().enumerate() {
            // SAFETY: row i < M of the tile holds 16*NV contiguous values, bias as many (only
            // the first `t.cols` of each when MASKED: masked-off lanes are neither read nor
            // written, and do not fault; the same holds for B in the K loop).
            unsafe {
                let c = t.c.offset(i as isize * t.rsc).add(16 * h);
                let bias = t.bias.wrapping_add(16 * h);
                let mut v = _mm512_mul_ps(v, alpha);
                if VARIANT == MASKED {
                    let k = masks[h];
                    if t.beta != 0.0 {
                        v = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, c), beta, v);
                    }
                    if !t.bias.is_null() {
                        v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(k, bias));
                    }
                    _mm512_mask_storeu_ps(c, k, activate(v, t.act));
                } else {
                    if t.beta != 0.0 {
                        v = _mm512_fmadd_ps(_mm512_loadu_ps(c), beta, v);
                    }
                    if !t.bias.is_null() {
                        v = _mm512_add_ps(v, _mm512_loadu_ps(bias));
                    }
                    _mm512_storeu_ps(c, activate(v, t.act));
                }
            }
        }
    }
}

/// Applies `act` lane-wise; NaN propagates (max/min return their second operand on NaN).
#[target_feature(enable = "avx512f")]
#[inline]
fn activate(x: __m512, act: Activation) -> __m512 {
    match act {
        Activation::Identity => x,
        Activation::Relu | Activation::Clamp { .. } => {
            let (lo, hi) = act.bounds();
            _mm512_min_ps(_mm512_set1_ps(hi), _mm512_max_ps(_mm512_set1_ps(lo), x))
        }
        Activation::Gelu => {
            let x3 = _mm512_mul_ps(_mm512_mul_ps(x, x), x);
            let z = _mm512_mul_ps(_mm512_set1_ps(GELU_K), _mm512_fmadd_ps(_mm512_set1_ps(GELU_C), x3, x));
            _mm512_mul_ps(x, sigmoid(z))
        }
        Activation::Silu => _mm512_mul_ps(x, sigmoid(x)),
    }
}

#[target_feature(enable = "avx512f")]
#[inline]
fn sigmoid(z: __m512) -> __m512 {
    let one = _mm512_set1_ps(1.0);
    _mm512_div_ps(one, _mm512_add_ps(one, exp(_mm512_sub_ps(_mm512_setzero_ps(), z))))
}

/// `e^x`: x = n ln2 + r, |r| <= ln2/2, degree-6 polynomial for e^r (rel. error < 2e-7),
/// scaled by 2^n with `vscalefps` (overflows to +inf, underflows to 0 like libm).
#[target_feature(enable = "avx512f")]
#[inline]
fn exp(x: __m512) -> __m512 {
    let x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-104.0)), _mm512_set1_ps(89.0));
    let n = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(_mm512_mul_ps(
        x,
        _mm512_set1_ps(std::f32::consts::LOG2_E),
    ));
    let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693_145_75), x);
    let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428_606_8e-6), r);
    let mut p = _mm512_set1_ps(1.0 / 720.0);
    for c in [1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0] {
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(c));
    }
    _mm512_scalef_ps(p, n)
}

pub(crate) static SGEMM_AVX512: MicroKernel = MicroKernel {
    name: "sgemm_4x64_avx512",
    isa: Isa::Avx512,
    mr: MR,
    nr: NR,
    kc: 1152,
    mc: 192,
    nc: 2048,
    gemv: &[
        (sgemm_avx512::<1, 24, GENERAL>, 384),
        (sgemm_avx512::<1, 8, GENERAL>, 128),
        (sgemm_avx512::<1, 2, GENERAL>, 32),
    ],
    rows: &[
        sgemm_avx512::<1, 4, GENERAL>,
        sgemm_avx512::<2, 4, GENERAL>,
        sgemm_avx512::<3, 4, GENERAL>,
        sgemm_avx512::<4, 4, GENERAL>,
    ],
    b_in_place: true,
    masked: &[
        &[
            sgemm_avx512::<1, 1, MASKED>,
            sgemm_avx512::<2, 1, MASKED>,
            sgemm_avx512::<3, 1, MASKED>,
            sgemm_avx512::<4, 1, MASKED>,
        ],
        &[
            sgemm_avx512::<1, 2, MASKED>,
            sgemm_avx512::<2, 2, MASKED>,
            sgemm_avx512::<3, 2, MASKED>,
            sgemm_avx512::<4, 2, MASKED>,
        ],
        &[
            sgemm_avx512::<1, 3, MASKED>,
            sgemm_avx512::<2, 3, MASKED>,
            sgemm_avx512::<3, 3, MASKED>,
            sgemm_avx512::<4, 3, MASKED>,
        ],
        &[
            sgemm_avx512::<1, 4, MASKED>,
            sgemm_avx512::<2, 4, MASKED>,
            sgemm_avx512::<3, 4, MASKED>,
            sgemm_avx512::<4, 4, MASKED>,
        ],
    ],
    pack_b_tile: Some(sgemm_avx512::<MR, 4, PACK_B>),
    gemv_rows: None,
    rows_short_plain: &[
        sgemm_avx512::<1, 4, SHORT_PLAIN>,
        sgemm_avx512::<2, 4, SHORT_PLAIN>,
        sgemm_avx512::<3, 4, SHORT_PLAIN>,
        sgemm_avx512::<4, 4, SHORT_PLAIN>,
    ],
};
