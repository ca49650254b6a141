//! AArch64 GEMM microkernels (NEON), compiled with `#[target_feature]`.

pub(crate) mod sgemm_8x12_neon;
