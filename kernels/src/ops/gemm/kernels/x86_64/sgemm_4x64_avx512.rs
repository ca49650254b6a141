//! AVX-512F: a 4x64 register tile (16 zmm accumulators, enough to cover the 4-cycle FMA
//! latency on both FMA ports; per k step one 64-wide row of B and 4 broadcasts of A), bias and
//! activation fused. Chosen over 8x32 by measurement (docs/gemm-tuning.md). Panels narrower
//! than 64 columns take masked 4x16, 4x32 or 4x48 tiles, so an odd N costs no more than with
//! narrower tiles.

use crate::isa::Isa;
use crate::ops::gemm::ukernel::variant::{GENERAL, MASKED, PACK_B, SHORT_PLAIN};
use crate::ops::gemm::ukernel::{MicroKernel, Tile};
use crate::simd::prefetch_row;
use crate::simd::x86_64::avx512::activate;
use crate::simd::x86_64::prefetch_next_a_row;
use core::arch::x86_64::*;

const MR: usize = 4;
const NR: usize = 64;
/// Rows of B ahead that the packing tile prefetches.
const B_PREFETCH_ROWS: isize = 16;
/// Rows of B ahead that the wide GEMV tiles prefetch (2 measured best of 1-16).
const GEMV_PREFETCH_ROWS: isize = 2;

/// `M x (16*NV)` tile: `NV = 4` for the GEMM tiles (`M <= 4`), `NV = 1..=4` masked ones,
/// `M = 1, NV = 24, 8, 2` for GEMV; `VARIANT` one of [`variant`](crate::ops::gemm::ukernel::variant).
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
    // The K loop is written out twice, with and without the A prefetch: left to LLVM, the
    // prefetch test (and its `kk % M`) sometimes stays inside the loop (AVX2 -6%).
    macro_rules! k_loop {
        ($prefetch_a:expr) => {
            for kk in 0..t.k {
                if $prefetch_a {
                    // One row per k step, into L2: the lines arrive ahead of that tile instead of on
                    // demand from L3.
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
        };
    }
    if prefetch_next_a {
        k_loop!(true);
    } else {
        k_loop!(false);
    }
    let alpha = _mm512_set1_ps(t.alpha);
    if VARIANT == SHORT_PLAIN {
        for (i, row) in acc.iter().enumerate() {
            for (h, &v) in row.iter().enumerate() {
                // alpha = 1 skips the multiplies, which the stores would wait on.
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

pub(crate) static SGEMM_4X64_AVX512: MicroKernel = MicroKernel {
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
