//! AVX-512F: a 10x32 register tile (20 zmm accumulators + 2 B vectors + 1 broadcast), bias and
//! activation fused: the AVX-512 kernel for CPUs with two full 512-bit FMA units (Intel,
//! Sapphire Rapids class), where the 4x64 tile reaches only 50-70% of the zmm peak, and for
//! products with N <= 32 everywhere. KC 768 (a 96 KiB B panel from L2): KC 256 lost 25% at
//! 512x512x4608 (C re-read every depth block). B is packed unless a single row of tiles reads it
//! or a block fits in L1 (`BInPlace::Never`): a 32-wide panel read in place streams badly
//! (512^3 1.47x, 3136x64x576 1.33x, 2 threads 512x512x4608 0.65x -> 1.01x). 11 or 12 rows
//! collapse to a third of the speed.
//! Measurements: docs/gemm-tuning.md.

use super::avx512_tile::{dot_avx512, sgemm_avx512};
use crate::isa::Isa;
use crate::ops::gemm::ukernel::variant::{GENERAL, INDIRECT, MASKED, PACK_B, SHORT_PLAIN};
use crate::ops::gemm::ukernel::{BInPlace, MicroKernel};

const MR: usize = 10;
const NR: usize = 32;

pub(crate) static SGEMM_10X32_AVX512: MicroKernel = MicroKernel {
    name: "sgemm_10x32_avx512",
    isa: Isa::Avx512,
    mr: MR,
    nr: NR,
    kc: 768,
    mc: 320,
    nc: 1024,
    gemv: &[
        (sgemm_avx512::<1, 24, GENERAL>, 384),
        (sgemm_avx512::<1, 8, GENERAL>, 128),
        (sgemm_avx512::<1, 2, GENERAL>, 32),
    ],
    rows: &[
        sgemm_avx512::<1, 2, GENERAL>,
        sgemm_avx512::<2, 2, GENERAL>,
        sgemm_avx512::<3, 2, GENERAL>,
        sgemm_avx512::<4, 2, GENERAL>,
        sgemm_avx512::<5, 2, GENERAL>,
        sgemm_avx512::<6, 2, GENERAL>,
        sgemm_avx512::<7, 2, GENERAL>,
        sgemm_avx512::<8, 2, GENERAL>,
        sgemm_avx512::<9, 2, GENERAL>,
        sgemm_avx512::<10, 2, GENERAL>,
    ],
    b_in_place: BInPlace::Never,
    masked: &[
        &[
            sgemm_avx512::<1, 1, MASKED>,
            sgemm_avx512::<2, 1, MASKED>,
            sgemm_avx512::<3, 1, MASKED>,
            sgemm_avx512::<4, 1, MASKED>,
            sgemm_avx512::<5, 1, MASKED>,
            sgemm_avx512::<6, 1, MASKED>,
            sgemm_avx512::<7, 1, MASKED>,
            sgemm_avx512::<8, 1, MASKED>,
            sgemm_avx512::<9, 1, MASKED>,
            sgemm_avx512::<10, 1, MASKED>,
        ],
        &[
            sgemm_avx512::<1, 2, MASKED>,
            sgemm_avx512::<2, 2, MASKED>,
            sgemm_avx512::<3, 2, MASKED>,
            sgemm_avx512::<4, 2, MASKED>,
            sgemm_avx512::<5, 2, MASKED>,
            sgemm_avx512::<6, 2, MASKED>,
            sgemm_avx512::<7, 2, MASKED>,
            sgemm_avx512::<8, 2, MASKED>,
            sgemm_avx512::<9, 2, MASKED>,
            sgemm_avx512::<10, 2, MASKED>,
        ],
    ],
    pack_b_tile: Some(sgemm_avx512::<MR, 2, PACK_B>),
    indirect: &[
        &[
            sgemm_avx512::<1, 1, INDIRECT>,
            sgemm_avx512::<2, 1, INDIRECT>,
            sgemm_avx512::<3, 1, INDIRECT>,
            sgemm_avx512::<4, 1, INDIRECT>,
            sgemm_avx512::<5, 1, INDIRECT>,
            sgemm_avx512::<6, 1, INDIRECT>,
            sgemm_avx512::<7, 1, INDIRECT>,
            sgemm_avx512::<8, 1, INDIRECT>,
            sgemm_avx512::<9, 1, INDIRECT>,
            sgemm_avx512::<10, 1, INDIRECT>,
        ],
        &[
            sgemm_avx512::<1, 2, INDIRECT>,
            sgemm_avx512::<2, 2, INDIRECT>,
            sgemm_avx512::<3, 2, INDIRECT>,
            sgemm_avx512::<4, 2, INDIRECT>,
            sgemm_avx512::<5, 2, INDIRECT>,
            sgemm_avx512::<6, 2, INDIRECT>,
            sgemm_avx512::<7, 2, INDIRECT>,
            sgemm_avx512::<8, 2, INDIRECT>,
            sgemm_avx512::<9, 2, INDIRECT>,
            sgemm_avx512::<10, 2, INDIRECT>,
        ],
    ],
    rows_a_broadcast: &[],
    gemv_rows: None,
    gemv_dot: &[dot_avx512::<1>, dot_avx512::<2>, dot_avx512::<3>],
    rows_short_plain: &[
        sgemm_avx512::<1, 2, SHORT_PLAIN>,
        sgemm_avx512::<2, 2, SHORT_PLAIN>,
        sgemm_avx512::<3, 2, SHORT_PLAIN>,
        sgemm_avx512::<4, 2, SHORT_PLAIN>,
        sgemm_avx512::<5, 2, SHORT_PLAIN>,
        sgemm_avx512::<6, 2, SHORT_PLAIN>,
        sgemm_avx512::<7, 2, SHORT_PLAIN>,
        sgemm_avx512::<8, 2, SHORT_PLAIN>,
        sgemm_avx512::<9, 2, SHORT_PLAIN>,
        sgemm_avx512::<10, 2, SHORT_PLAIN>,
    ],
};
