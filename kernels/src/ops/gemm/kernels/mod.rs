//! GEMM microkernels, one file per named kernel (`sgemm_<MR>x<NR>_<isa>.rs`), grouped by
//! architecture. Each file holds its tile functions and its `MicroKernel` descriptor; the
//! registry lists them. Kernels import the contract (`ukernel`) and `simd/`, nothing else.

#[cfg(target_arch = "aarch64")]
pub(crate) mod aarch64;
pub(crate) mod dot;
#[cfg(any(target_arch = "x86_64", target_feature = "simd128"))]
pub(crate) mod gemv_rows;
pub(crate) mod sgemm_2x16_portable;
pub(crate) mod sgemm_4x4_scalar;
#[cfg(target_arch = "wasm32")]
pub(crate) mod wasm32;
#[cfg(target_arch = "x86_64")]
pub(crate) mod x86_64;
