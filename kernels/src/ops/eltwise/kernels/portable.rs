//! Portable tier: the shared kernels on `wide::f32x8` (`simd::portable`).

use crate::simd::portable::*;

eltwise_kernels!();
