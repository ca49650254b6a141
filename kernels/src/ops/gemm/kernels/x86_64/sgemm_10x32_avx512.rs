//! AVX-512F: a 10x32 register tile (20 zmm accumulators + 2 B vectors + 1 broadcast), bias and
//! activation fused, with a B panel that stays in L1 (KC 256: 32 KiB of B beside 10 KiB of A):
//! a candidate for CPUs with two full 512-bit FMA units (Intel Sapphire Rapids class), where the
//! 4x64 tile reaches about 75% of the zmm peak. `registry::select` picks it for N <= 32 (where
//! 4x64 would run masked tiles with few accumulators); for wider products it measured +16-26%
//! at 256^3, 512^3 and 128x3072x768 but -6..-12% at 512x512x4608 and 3136x64x576 on Sapphire
//! Rapids, so 4x64 stays the default there (docs/gemm-tuning.md). 11 or 12 rows collapse to a
//! third of the speed.

use super::avx512_tile::sgemm_avx512;
use crate::isa::Isa;
use crate::ops::gemm::ukernel::variant::{GENERAL, MASKED, PACK_B, SHORT_PLAIN};
use crate::ops::gemm::ukernel::MicroKernel;

const MR: usize = 10;
const NR: usize = 32;

pub(crate) static SGEMM_10X32_AVX512: MicroKernel = MicroKernel {
    name: "sgemm_10x32_avx512",
    isa: Isa::Avx512,
    mr: MR,
    nr: NR,
    kc: 256,
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
    b_in_place: true,
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
    gemv_rows: None,
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
