//! NEON: the shared kernels on `float32x4_t` (fused multiply-adds, partial frames through a
//! stack buffer).

use crate::simd::aarch64::neon::*;

eltwise_kernels!(#[target_feature(enable = "neon")]);
