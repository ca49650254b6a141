//! AVX-512F: the shared kernels on `__m512`, masked loads/stores for the tail.

use crate::simd::x86_64::avx512::*;

eltwise_kernels!(#[target_feature(enable = "avx512f")]);
