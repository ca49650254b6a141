//! The AVX-512F tile body shared by the AVX-512 kernels: an `M x (16*NV)` register tile, generic
//! over rows, vectors per row and variant, bias and activation fused; masked variants read and
//! write only `Tile::cols` columns. Also the kernels' dot-product GEMV ([`dot_avx512`]).

use super::super::dot::dot_rows;
use crate::activation::Activation;
use crate::ops::gemm::ukernel::variant::{GENERAL, INDIRECT, MASKED, PACK_B, SHORT_PLAIN};
use crate::ops::gemm::ukernel::{Dot, Tile};
use crate::simd::prefetch_row;
use crate::simd::vector::Avx512;
use crate::simd::x86_64::avx512::activate;
use crate::simd::x86_64::prefetch_next_a_row;
use core::arch::x86_64::*;

/// Rows of B ahead that the packing tile prefetches.
const B_PREFETCH_ROWS: isize = 16;
/// Rows of B ahead that the general and row-pointer tiles prefetch (B streams from memory when
/// few rows share it; docs/gemm-tuning.md).
const PACKED_B_PREFETCH_ROWS: isize = 8;
/// Rows of B ahead that the wide GEMV tiles prefetch (2 measured best of 1-16).
const GEMV_PREFETCH_ROWS: isize = 2;

/// `M x (16*NV)` tile: the GEMM tiles of each kernel (`M <= MR`, `NV = NR / 16`), masked ones
/// and indirect ones (`NV` up to `NR / 16`), `M = 1, NV = 24, 8, 2` for GEMV; `VARIANT` one of [`variant`](crate::ops::gemm::ukernel::variant).
///
/// # Safety
/// The `Tile` contract, and the CPU supports AVX-512F.
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn sgemm_avx512<const M: usize, const NV: usize, const VARIANT: u8>(t: &Tile) {
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
    // Masked loads and stores: a row-pointer tile only when it is partial (masked stores,
    // and masked loads of B, cost more).
    let masked = VARIANT == MASKED || (VARIANT == INDIRECT && t.cols < 16 * NV);
    let (mut a, mut b, mut b_pack) = (t.a, t.b, t.b_pack);
    // `Tile::prefetch_next_a`: the next tile down reads the M rows of A after these.
    // (The driver sets it only on full tiles.)
    let prefetch_next_a = VARIANT == GENERAL && M >= 4 && t.prefetch_next_a;
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
                if VARIANT == GENERAL && M > 1 {
                    prefetch_row(b.wrapping_offset(PACKED_B_PREFETCH_ROWS.wrapping_mul(t.ldb)), 16 * NV);
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
    // The K loop over row pointers, 4 steps per round: every address is a row pointer or B
    // plus a constant, so no integer chain of row strides competes with the FMAs for ports
    // (the general loop below: 0.85 of the zmm peak in L1, this one 0.90; docs/gemm-tuning.md).
    // `$csa`: distance between a row's k steps (1, or M for packed panels); B's rows are
    // `t.ldb` apart, a constant when B is a packed panel (its offsets then need no registers).
    macro_rules! rows_loop {
        ($rows:expr, $csa:expr, $steps:expr, $load:expr) => {{
            if t.ldb == (16 * NV) as isize {
                rows_loop!($rows, $csa, $steps, $load, (16 * NV) as isize);
            } else {
                rows_loop!($rows, $csa, $steps, $load, t.ldb);
            }
        }};
        ($rows:expr, $csa:expr, $steps:expr, $load:expr, $ldb:expr) => {{
            const UNROLL: usize = 4;
            let rows: [*const f32; M] = $rows;
            let steps: usize = $steps;
            let mut step = |c: usize, b: *const f32| {
                // A convolution's packed filter panel feeds every tile of the task and stays in
                // L2, where the hardware prefetchers keep up (conv layers +2-3% without it).
                if VARIANT != INDIRECT || $ldb != (16 * NV) as isize {
                    prefetch_row(b.wrapping_offset(PACKED_B_PREFETCH_ROWS.wrapping_mul($ldb)), 16 * NV);
                }
                // SAFETY: step c < steps of every row is readable (the caller's row contract);
                // one k step of B holds the tile's columns.
                unsafe {
                    let bv: [__m512; NV] = core::array::from_fn(|h| $load(h, b.add(16 * h)));
                    for (row, &ap) in acc.iter_mut().zip(&rows) {
                        let ai = _mm512_set1_ps(*ap.add(c * $csa));
                        for (acc, &bh) in row.iter_mut().zip(&bv) {
                            *acc = _mm512_fmadd_ps(ai, bh, *acc);
                        }
                    }
                }
            };
            let mut c = 0;
            while c + UNROLL <= steps {
                for u in 0..UNROLL {
                    step(c + u, b.wrapping_offset((u as isize).wrapping_mul($ldb)));
                }
                b = b.wrapping_offset((UNROLL as isize).wrapping_mul($ldb));
                c += UNROLL;
            }
            while c < steps {
                step(c, b);
                b = b.wrapping_offset($ldb);
                c += 1;
            }
        }};
    }
    // SAFETY: called by `rows_loop` on one k step of B, which holds the tile's columns.
    let plain = |_: usize, p: *const f32| unsafe { _mm512_loadu_ps(p) };
    // SAFETY: as for `plain`; masked-off lanes are not read.
    let masked_load = |h: usize, p: *const f32| unsafe { _mm512_maskz_loadu_ps(masks[h], p) };
    if VARIANT == GENERAL && M > 1 && !prefetch_next_a && t.rsa == 1 && t.csa == M as isize {
        // A packed in M-row panels.
        rows_loop!(core::array::from_fn(|i| a.wrapping_add(i)), M, t.k, plain);
    } else if VARIANT == GENERAL && M > 1 && !prefetch_next_a && t.csa == 1 {
        // Row-major A in place. The row pointers go through `black_box` so that LLVM treats them
        // like the indirect tile's table instead of interleaving ten strided streams (it then
        // hoisted and spilled the broadcasts: half speed).
        let rows = core::array::from_fn(|i| a.wrapping_offset((i as isize).wrapping_mul(t.rsa)));
        rows_loop!(core::hint::black_box(rows), 1, t.k, plain);
    } else if VARIANT == INDIRECT {
        // The run loop is written out twice, with plain and masked loads of B: a masked load
        // is one more uop on the FMA ports.
        for r in 0..t.runs {
            // SAFETY: run r has run_len[r] steps and M row pointers, each to that many
            // readable values (the `Tile::a_rows` contract).
            let (rows, len) = unsafe { (core::array::from_fn(|i| *t.a_rows.add(r * M + i)), *t.run_len.add(r)) };
            if masked {
                rows_loop!(rows, 1, len, masked_load);
            } else {
                rows_loop!(rows, 1, len, plain);
            }
        }
    } else if prefetch_next_a {
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
    // ReLU in one maxps, zero first: it yields v when v is NaN.
    let relu = t.act == Activation::Relu;
    let act = |v| if relu { _mm512_max_ps(_mm512_setzero_ps(), v) } else { activate(v, t.act) };
    for (i, row) in acc.iter().enumerate() {
        for (h, &v) in row.iter().enumerate() {
            // SAFETY: row i < M of the tile holds 16*NV contiguous values, bias as many (only
            // the first `t.cols` of each when masked: masked-off lanes are neither read nor
            // written, and do not fault; the same holds for B in the K loop).
            unsafe {
                let c = t.c.offset(i as isize * t.rsc).add(16 * h);
                let bias = t.bias.wrapping_add(16 * h);
                let mut v = _mm512_mul_ps(v, alpha);
                if masked {
                    let k = masks[h];
                    if t.beta != 0.0 {
                        v = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, c), beta, v);
                    }
                    if !t.bias.is_null() {
                        v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(k, bias));
                    }
                    _mm512_mask_storeu_ps(c, k, act(v));
                } else {
                    if t.beta != 0.0 {
                        v = _mm512_fmadd_ps(_mm512_loadu_ps(c), beta, v);
                    }
                    if !t.bias.is_null() {
                        v = _mm512_add_ps(v, _mm512_loadu_ps(bias));
                    }
                    _mm512_storeu_ps(c, act(v));
                }
            }
        }
    }
}

/// Dot-product GEMV against `N` columns (`ukernel::GemvDotFn`): 4 rows x N x 2 sets of zmm
/// accumulators (8-24 of the 32 registers).
///
/// # Safety
/// The `Dot` contract, and the CPU supports AVX-512F.
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn dot_avx512<const N: usize>(d: &Dot) {
    // SAFETY: forwarded contract; AVX-512F is enabled here.
    unsafe { dot_rows::<Avx512, N, 2>(d) }
}
