//! Scalar tier: the shared kernels on one lane (`simd::scalar`, libm's `expf`).

use crate::simd::scalar::*;

eltwise_kernels!();
