//! AVX-512F: a 4x64 register tile (16 zmm accumulators, enough to cover the 4-cycle FMA
//! latency on both FMA ports; per k step one 64-wide row of B and 4 broadcasts of A), bias and
//! activation fused. The AVX-512 kernel for CPUs that run a zmm FMA as two 256-bit halves (AMD
//! Zen 4): chosen over 8x32 there by measurement, with one deep depth block (KC 1152) whose B
//! panel streams from L2 (docs/gemm-tuning.md). Panels narrower than 64 columns take masked
//! 4x16, 4x32 or 4x48 tiles, so an odd N costs no more than with narrower tiles.

use super::avx512_tile::{dot_avx512, sgemm_avx512};
use crate::isa::Isa;
use crate::ops::gemm::ukernel::variant::{GENERAL, INDIRECT, MASKED, PACK_B, SHORT_PLAIN};
use crate::ops::gemm::ukernel::{BInPlace, MicroKernel};

const MR: usize = 4;
const NR: usize = 64;

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
    b_in_place: BInPlace::ByShape,
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
    indirect: &[
        &[
            sgemm_avx512::<1, 1, INDIRECT>,
            sgemm_avx512::<2, 1, INDIRECT>,
            sgemm_avx512::<3, 1, INDIRECT>,
            sgemm_avx512::<4, 1, INDIRECT>,
        ],
        &[
            sgemm_avx512::<1, 2, INDIRECT>,
            sgemm_avx512::<2, 2, INDIRECT>,
            sgemm_avx512::<3, 2, INDIRECT>,
            sgemm_avx512::<4, 2, INDIRECT>,
        ],
        &[
            sgemm_avx512::<1, 3, INDIRECT>,
            sgemm_avx512::<2, 3, INDIRECT>,
            sgemm_avx512::<3, 3, INDIRECT>,
            sgemm_avx512::<4, 3, INDIRECT>,
        ],
        &[
            sgemm_avx512::<1, 4, INDIRECT>,
            sgemm_avx512::<2, 4, INDIRECT>,
            sgemm_avx512::<3, 4, INDIRECT>,
            sgemm_avx512::<4, 4, INDIRECT>,
        ],
    ],
    rows_a_broadcast: &[],
    gemv_rows: None,
    gemv_dot: &[dot_avx512::<1>, dot_avx512::<2>, dot_avx512::<3>],
    rows_short_plain: &[
        sgemm_avx512::<1, 4, SHORT_PLAIN>,
        sgemm_avx512::<2, 4, SHORT_PLAIN>,
        sgemm_avx512::<3, 4, SHORT_PLAIN>,
        sgemm_avx512::<4, 4, SHORT_PLAIN>,
    ],
};
