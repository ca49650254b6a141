//! AVX2+FMA: the shared kernels on `__m256`.

use crate::simd::x86_64::avx2_fma::*;

eltwise_kernels!(#[target_feature(enable = "avx2,fma")]);
