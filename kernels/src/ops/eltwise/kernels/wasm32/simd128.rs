//! wasm simd128: the shared kernels on `v128` (unfused multiply-adds).

use crate::simd::wasm32::*;

eltwise_kernels!();
