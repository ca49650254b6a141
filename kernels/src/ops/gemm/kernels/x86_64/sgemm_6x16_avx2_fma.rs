//! AVX2+FMA: a 6x16 register tile (12 ymm accumulators of the 16 registers, enough to cover
//! the 4-cycle FMA latency on both ports), A broadcast from the packed panel, epilogue fused.
//! Edge tiles (a panel of fewer than 16 columns) are masked 6x8 / 6x16 tiles (`vmaskmovps`):
//! they read and write only their columns, so C and a partial panel of B stay in place.

use super::super::dot::dot_rows;
use super::super::gemv_rows::gemv_rows;
use crate::activation::Activation;
use crate::isa::Isa;
use crate::ops::gemm::ukernel::variant::{GENERAL, INDIRECT, MASKED, PACK_B, SHORT_PLAIN};
use crate::ops::gemm::ukernel::{BInPlace, Dot, MicroKernel, Tile};
use crate::simd::prefetch_row;
use crate::simd::vector::Avx2;
use crate::simd::x86_64::avx2_fma::activate;
use crate::simd::x86_64::{prefetch_next_a_line, prefetch_next_a_row};
use core::arch::x86_64::*;

const MR: usize = 6;
const NR: usize = 16;
/// Rows of B ahead that the packing tile prefetches.
const B_PREFETCH_ROWS: isize = 16;
/// Rows of B ahead that the wide GEMV tiles prefetch (as for AVX-512).
const GEMV_PREFETCH_ROWS: isize = 2;

// The K loop over row pointers, 4 steps per round, as in the AVX-512 tiles: no integer
// chain of row strides beside the FMAs; B's offsets constant when B is a packed panel.
// `$csa`: distance between a row's k steps (1, or M for packed panels). Expanded inside a
// function generic over `M` and `NV`; `$acc` the accumulators, `$b` B's pointer (advanced).
macro_rules! rows_loop {
    ($acc:ident, $b:ident, $ldb:expr, $rows:expr, $csa:expr, $steps:expr, $load:expr) => {{
        rows_loop!($acc, $b, $ldb, $rows, $csa, $steps, $load, |_: usize| {})
    }};
    ($acc:ident, $b:ident, $ldb:expr, $rows:expr, $csa:expr, $steps:expr, $load:expr, $group:expr) => {{
        if $ldb == (8 * NV) as isize {
            rows_loop!(@ $acc, $b, (8 * NV) as isize, $rows, $csa, $steps, $load, $group);
        } else {
            rows_loop!(@ $acc, $b, $ldb, $rows, $csa, $steps, $load, $group);
        }
    }};
    (@ $acc:ident, $b:ident, $ldb:expr, $rows:expr, $csa:expr, $steps:expr, $load:expr, $group:expr) => {{
        const UNROLL: usize = 4;
        let rows: [*const f32; M] = $rows;
        let steps: usize = $steps;
        let mut step = |c: usize, b: *const f32| {
            // SAFETY: step c < steps of every row is readable (the caller's row contract);
            // one k step of B holds NR values.
            unsafe {
                let bv: [__m256; NV] = core::array::from_fn(|h| $load(h, b.add(8 * h)));
                for (row, &ap) in $acc.iter_mut().zip(&rows) {
                    let ai = _mm256_set1_ps(*ap.add(c * $csa));
                    for (acc, &bh) in row.iter_mut().zip(&bv) {
                        *acc = _mm256_fmadd_ps(ai, bh, *acc);
                    }
                }
            }
        };
        let mut c = 0;
        #[allow(unused_mut)]
        let mut group = $group;
        while c + UNROLL <= steps {
            group(c);
            for u in 0..UNROLL {
                step(c + u, $b.wrapping_offset((u as isize).wrapping_mul($ldb)));
            }
            $b = $b.wrapping_offset((UNROLL as isize).wrapping_mul($ldb));
            c += UNROLL;
        }
        while c < steps {
            step(c, $b);
            $b = $b.wrapping_offset($ldb);
            c += 1;
        }
    }};
}

/// `M x (8*NV)` tile: `NV = 2` for the GEMM tiles (`M <= 6`), `M = 1, NV = 12, 4, 2` for GEMV,
/// `NV = 1, 2` for the masked and indirect tiles. `VARIANT`: [`GENERAL`], [`SHORT_PLAIN`],
/// [`PACK_B`], [`MASKED`] or [`INDIRECT`] (masked like `MASKED` when `t.cols < 8*NV`).
///
/// # Safety
/// The `Tile` contract, and the CPU supports AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
unsafe fn sgemm_avx2_fma<const M: usize, const NV: usize, const VARIANT: u8>(t: &Tile) {
    let mut acc = [[_mm256_setzero_ps(); NV]; M];
    // Start fetching the C tile now so the epilogue's loads/stores do not wait on memory.
    if VARIANT != SHORT_PLAIN && !t.is_short() {
        for i in 0..M {
            prefetch_row(t.c.wrapping_offset(i as isize * t.rsc), 8 * NV);
        }
    }
    // MASKED (and INDIRECT with fewer columns): the last vector's lanes inside the tile's
    // `cols` columns, as a `vmaskmovps` mask (all bits of a lane set). The vectors before it
    // are whole (a masked tile has `cols > 8*(NV-1)`): one mask register, not NV, beside the
    // 12 accumulators (two made the 6x16 tiles spill accumulators).
    let mask = {
        let inside = t.cols.saturating_sub(8 * (NV - 1)).min(8) as i32;
        _mm256_cmpgt_epi32(_mm256_set1_epi32(inside), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
    };
    let masked = VARIANT == MASKED || (VARIANT == INDIRECT && t.cols < 8 * NV);
    let (mut a, mut b, mut b_pack) = (t.a, t.b, t.b_pack);
    // `Tile::prefetch_next_a`: prefetch the rows of the next tile down, one per k step.
    let prefetch_next_a = VARIANT == GENERAL && M == MR && NV == 2 && t.prefetch_next_a;
    // The K loop is written out twice, with and without the A prefetch: left to LLVM, the
    // prefetch test (and its `kk % M`) sometimes stays inside the loop (AVX2 -6%).
    macro_rules! k_loop {
        ($prefetch_a:expr) => {
            for kk in 0..t.k {
                if $prefetch_a {
                    prefetch_next_a_row::<M>(a, t.rsa, kk);
                }
                if M == 1 && NV > 2 {
                    // GEMV strips: B's rows are pages apart, where hardware prefetchers stop.
                    prefetch_row(b.wrapping_offset(GEMV_PREFETCH_ROWS.wrapping_mul(t.ldb)), 8 * NV);
                }
                if VARIANT == PACK_B {
                    // B rows are often pages apart here, where hardware prefetchers stop.
                    prefetch_row(b.wrapping_offset(B_PREFETCH_ROWS.wrapping_mul(t.ldb)), 8 * NV);
                }
                // SAFETY: one k step of B holds NR values; of A, M values `rsa` apart.
                unsafe {
                    let mut bv = [_mm256_setzero_ps(); NV];
                    for (h, v) in bv.iter_mut().enumerate() {
                        *v = if VARIANT == MASKED && h == NV - 1 {
                            // Only the tile's `cols` columns of B are read (the rest are zero).
                            _mm256_maskload_ps(b.add(8 * h), mask)
                        } else {
                            _mm256_loadu_ps(b.add(8 * h))
                        };
                        if VARIANT == PACK_B {
                            // SAFETY: b_pack holds k steps of 8*NV values (the PACK_B contract).
                            _mm256_storeu_ps(b_pack.add(8 * h), *v);
                        }
                    }
                    if VARIANT == PACK_B {
                        b_pack = b_pack.wrapping_add(8 * NV);
                    }
                    for (i, row) in acc.iter_mut().enumerate() {
                        let ai = _mm256_set1_ps(*a.offset(i as isize * t.rsa));
                        for (acc, &bh) in row.iter_mut().zip(&bv) {
                            *acc = _mm256_fmadd_ps(ai, bh, *acc);
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
    // SAFETY: called by `rows_loop` on one k step of B, which holds the tile's columns.
    let plain = |_: usize, p: *const f32| unsafe { _mm256_loadu_ps(p) };
    if VARIANT == GENERAL && prefetch_next_a && t.csa == 1 {
        // Row-major A in place, as below, with two rows of the next tile down prefetched per 4
        // k steps (each row every 12 steps: once per 16-step cache line). Zen 3, prepacked B:
        // 3136x64x576 +2-3%, 256^3 +0.6% over one row per step in the plain k loop.
        let rows = core::array::from_fn(|i| a.wrapping_offset((i as isize).wrapping_mul(t.rsa)));
        let next = a.wrapping_offset((M as isize).wrapping_mul(t.rsa));
        let rsa = t.rsa;
        let mut r = 0usize;
        let group = |c: usize| {
            for _ in 0..2 {
                prefetch_next_a_line(next.wrapping_offset((r as isize).wrapping_mul(rsa)).wrapping_add(c));
                r = if r + 1 == M { 0 } else { r + 1 };
            }
        };
        rows_loop!(acc, b, t.ldb, core::hint::black_box(rows), 1, t.k, plain, group);
    } else if VARIANT == GENERAL && M > 1 && !prefetch_next_a && t.rsa == 1 && t.csa == M as isize {
        // A packed in M-row panels.
        rows_loop!(acc, b, t.ldb, core::array::from_fn(|i| a.wrapping_add(i)), M, t.k, plain);
    } else if VARIANT == GENERAL && M > 1 && !prefetch_next_a && t.csa == 1 {
        // Row-major A in place; `black_box` keeps LLVM from interleaving the strided row
        // streams (as in the AVX-512 tile).
        let rows = core::array::from_fn(|i| a.wrapping_offset((i as isize).wrapping_mul(t.rsa)));
        rows_loop!(acc, b, t.ldb, core::hint::black_box(rows), 1, t.k, plain);
    } else if VARIANT == PACK_B && M > 1 && (t.csa == 1 || (t.rsa == 1 && t.csa == M as isize)) {
        // SAFETY: the PACK_B contract; see `pack_b_runs`.
        unsafe { pack_b_rows::<M, NV>(&mut acc, t) };
    } else if VARIANT == INDIRECT {
        // SAFETY: the `Tile::a_rows` contract holds (an INDIRECT tile); B holds the tile's
        // columns for every k step (masked: only its `cols` columns are read).
        unsafe {
            if masked {
                indirect_runs::<M, NV, true>(&mut acc, t, mask);
            } else {
                indirect_runs::<M, NV, false>(&mut acc, t, mask);
            }
        }
    } else if prefetch_next_a {
        k_loop!(true);
    } else {
        k_loop!(false);
    }
    let alpha = _mm256_set1_ps(t.alpha);
    if VARIANT == SHORT_PLAIN {
        for (i, row) in acc.iter().enumerate() {
            for (h, &v) in row.iter().enumerate() {
                // SAFETY: row i < M of the tile holds NR contiguous values.
                unsafe { _mm256_storeu_ps(t.c.offset(i as isize * t.rsc).add(8 * h), _mm256_mul_ps(v, alpha)) };
            }
        }
        return;
    }
    let beta = _mm256_set1_ps(t.beta);
    // ReLU in one maxps, zero first: it yields v when v is NaN.
    let relu = t.act == Activation::Relu;
    let act = |v| if relu { _mm256_max_ps(_mm256_setzero_ps(), v) } else { activate(v, t.act) };
    for (i, row) in acc.iter().enumerate() {
        for (h, &v) in row.iter().enumerate() {
            // SAFETY: row i < M of the tile holds 8*NV contiguous values, bias as many (only
            // the first `t.cols` of each when masked: masked-off lanes are neither read nor
            // written, and do not fault; the same holds for B in the K loop).
            unsafe {
                let c = t.c.offset(i as isize * t.rsc).add(8 * h);
                let bias = t.bias.wrapping_add(8 * h);
                let mut v = _mm256_mul_ps(v, alpha);
                if masked && h == NV - 1 {
                    let k = mask;
                    if t.beta != 0.0 {
                        v = _mm256_fmadd_ps(_mm256_maskload_ps(c, k), beta, v);
                    }
                    if !t.bias.is_null() {
                        v = _mm256_add_ps(v, _mm256_maskload_ps(bias, k));
                    }
                    _mm256_maskstore_ps(c, k, act(v));
                } else {
                    if t.beta != 0.0 {
                        v = _mm256_fmadd_ps(_mm256_loadu_ps(c), beta, v);
                    }
                    if !t.bias.is_null() {
                        v = _mm256_add_ps(v, _mm256_loadu_ps(bias));
                    }
                    _mm256_storeu_ps(c, act(v));
                }
            }
        }
    }
}

/// The K loop of the row-pointer (convolution) tile: its runs (`Tile::a_rows`), each `len` k
/// steps of `M` row pointers, against B from `t.b`, added to `acc`. Not inlined: in the tile
/// function the masks stayed live beside the 12 accumulators, and LLVM spilled accumulators
/// on every round (the tile ran at half speed on Zen 3).
///
/// # Safety
/// The `Tile` contract of an INDIRECT tile (masked: `mask` enables the last vector's columns
/// of the `t.cols`); the CPU supports AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
#[inline(never)]
unsafe fn indirect_runs<const M: usize, const NV: usize, const MASK: bool>(
    acc: &mut [[__m256; NV]; M],
    t: &Tile,
    mask: __m256i,
) {
    let mut sums = *acc;
    let mut b = t.b;
    // SAFETY: called by `rows_loop` on one k step of B, which holds the tile's columns (only
    // those `mask` enables of the last vector are read when masked).
    let load = |h: usize, p: *const f32| unsafe {
        if MASK && h == NV - 1 {
            _mm256_maskload_ps(p, mask)
        } else {
            _mm256_loadu_ps(p)
        }
    };
    for r in 0..t.runs {
        // SAFETY: run r has run_len[r] steps and M row pointers, each to that many readable
        // values (the `Tile::a_rows` contract).
        let (rows, len) = unsafe { (core::array::from_fn(|i| *t.a_rows.add(r * M + i)), *t.run_len.add(r)) };
        rows_loop!(sums, b, t.ldb, rows, 1, len, load);
    }
    *acc = sums;
}

/// The packing tile's K loop: A through row pointers (as the general tiles), B read in place
/// (prefetched `B_PREFETCH_ROWS` ahead) and copied to `t.b_pack` as it goes. Its own function,
/// not `k_loop`'s chain of row strides: Zen 3, 16x768x768 +12-16%, 24x768x768 +9%.
///
/// # Safety
/// The `Tile` contract of a PACK_B tile; the CPU supports AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
#[inline(never)]
unsafe fn pack_b_rows<const M: usize, const NV: usize>(acc: &mut [[__m256; NV]; M], t: &Tile) {
    let mut sums = *acc;
    let (mut b, mut bp, ldb) = (t.b, t.b_pack, t.ldb);
    let rows: [*const f32; M] = if t.csa == 1 {
        core::array::from_fn(|i| t.a.wrapping_offset((i as isize).wrapping_mul(t.rsa)))
    } else {
        core::array::from_fn(|i| t.a.wrapping_add(i))
    };
    let csa = t.csa as usize;
    for c in 0..t.k {
        prefetch_row(b.wrapping_offset(B_PREFETCH_ROWS.wrapping_mul(ldb)), 8 * NV);
        // SAFETY: one k step of B holds 8*NV values, of b_pack as many (the PACK_B contract);
        // step c of every row of A is readable.
        unsafe {
            let bv: [__m256; NV] = core::array::from_fn(|h| _mm256_loadu_ps(b.add(8 * h)));
            for (h, &v) in bv.iter().enumerate() {
                _mm256_storeu_ps(bp.add(8 * h), v);
            }
            for (row, &ap) in sums.iter_mut().zip(&rows) {
                let ai = _mm256_set1_ps(*ap.add(c * csa));
                for (s, &bh) in row.iter_mut().zip(&bv) {
                    *s = _mm256_fmadd_ps(ai, bh, *s);
                }
            }
        }
        b = b.wrapping_offset(ldb);
        bp = bp.wrapping_add(8 * NV);
    }
    *acc = sums;
}

/// Dot-product GEMV against `N` columns (`ukernel::GemvDotFn`): 4 rows x N ymm accumulators,
/// two sets for N = 1 (8), one for N = 2, 3 (8, 12 of the 16 registers).
///
/// # Safety
/// The `Dot` contract, and the CPU supports AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
unsafe fn dot_avx2_fma<const N: usize, const U: usize>(d: &Dot) {
    // SAFETY: forwarded contract; AVX2 and FMA are enabled here.
    unsafe { dot_rows::<Avx2, N, U>(d) }
}

pub(crate) static SGEMM_6X16_AVX2_FMA: MicroKernel = MicroKernel {
    name: "sgemm_6x16_avx2_fma",
    isa: Isa::Avx2,
    mr: MR,
    nr: NR,
    // KC 576: one depth block for k <= 576 (a 3x3 convolution over 64 channels) instead of
    // three that re-read C: Zen 3, 1 thread, 3136x64x576 +21-31%, 3x3 conv layers +11-14%, large
    // squares equal (docs/gemm-tuning.md). The 36 KiB B panel streams from L2.
    kc: 576,
    mc: 120,
    // NC 1024 (a B block of 1.5-2.25 MiB) rather than 2048: Zen 3, 1 thread, 128x3072x768 +8%,
    // 256x3072x768 +3-6%, 2048^3 +3%; 2 threads equal.
    nc: 1024,
    gemv: &[
        (sgemm_avx2_fma::<1, 12, GENERAL>, 96),
        (sgemm_avx2_fma::<1, 4, GENERAL>, 32),
        (sgemm_avx2_fma::<1, 2, GENERAL>, 16),
    ],
    rows: &[
        sgemm_avx2_fma::<1, 2, GENERAL>,
        sgemm_avx2_fma::<2, 2, GENERAL>,
        sgemm_avx2_fma::<3, 2, GENERAL>,
        sgemm_avx2_fma::<4, 2, GENERAL>,
        sgemm_avx2_fma::<5, 2, GENERAL>,
        sgemm_avx2_fma::<6, 2, GENERAL>,
    ],
    b_in_place: BInPlace::Never,
    masked: &[
        &[
            sgemm_avx2_fma::<1, 1, MASKED>,
            sgemm_avx2_fma::<2, 1, MASKED>,
            sgemm_avx2_fma::<3, 1, MASKED>,
            sgemm_avx2_fma::<4, 1, MASKED>,
            sgemm_avx2_fma::<5, 1, MASKED>,
            sgemm_avx2_fma::<6, 1, MASKED>,
        ],
        &[
            sgemm_avx2_fma::<1, 2, MASKED>,
            sgemm_avx2_fma::<2, 2, MASKED>,
            sgemm_avx2_fma::<3, 2, MASKED>,
            sgemm_avx2_fma::<4, 2, MASKED>,
            sgemm_avx2_fma::<5, 2, MASKED>,
            sgemm_avx2_fma::<6, 2, MASKED>,
        ],
    ],
    pack_b_tile: Some(sgemm_avx2_fma::<MR, 2, PACK_B>),
    indirect: &[
        &[
            sgemm_avx2_fma::<1, 1, INDIRECT>,
            sgemm_avx2_fma::<2, 1, INDIRECT>,
            sgemm_avx2_fma::<3, 1, INDIRECT>,
            sgemm_avx2_fma::<4, 1, INDIRECT>,
            sgemm_avx2_fma::<5, 1, INDIRECT>,
            sgemm_avx2_fma::<6, 1, INDIRECT>,
        ],
        &[
            sgemm_avx2_fma::<1, 2, INDIRECT>,
            sgemm_avx2_fma::<2, 2, INDIRECT>,
            sgemm_avx2_fma::<3, 2, INDIRECT>,
            sgemm_avx2_fma::<4, 2, INDIRECT>,
            sgemm_avx2_fma::<5, 2, INDIRECT>,
            sgemm_avx2_fma::<6, 2, INDIRECT>,
        ],
    ],
    rows_a_broadcast: &[],
    gemv_rows: Some(gemv_rows_avx2_fma),
    gemv_dot: &[dot_avx2_fma::<1, 2>, dot_avx2_fma::<2, 1>, dot_avx2_fma::<3, 1>],
    rows_short_plain: &[
        sgemm_avx2_fma::<1, 2, SHORT_PLAIN>,
        sgemm_avx2_fma::<2, 2, SHORT_PLAIN>,
        sgemm_avx2_fma::<3, 2, SHORT_PLAIN>,
        sgemm_avx2_fma::<4, 2, SHORT_PLAIN>,
        sgemm_avx2_fma::<5, 2, SHORT_PLAIN>,
        sgemm_avx2_fma::<6, 2, SHORT_PLAIN>,
    ],
};

/// Whole-row GEMV (`ukernel::GemvRowsFn`): [`gemv_rows`] compiled for AVX2 + FMA, chunks of 4
/// ymm (32 columns), passes of 4 rows unrolled.
///
/// # Safety
/// `gemv_rows`' contract, and the CPU supports AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
unsafe fn gemv_rows_avx2_fma(k: usize, n: usize, a: *const f32, csa: isize, b: *const f32, ldb: isize, acc: *mut f32) {
    // SAFETY: forwarded contract.
    unsafe { gemv_rows::<Avx2, 4, true>(k, n, a, csa, b, ldb, acc) }
}
