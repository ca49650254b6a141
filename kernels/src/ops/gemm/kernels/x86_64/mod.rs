//! x86-64 GEMM microkernels, compiled with `#[target_feature]`.

mod avx512_tile;
pub(crate) mod sgemm_10x32_avx512;
pub(crate) mod sgemm_4x64_avx512;
pub(crate) mod sgemm_6x16_avx2_fma;
