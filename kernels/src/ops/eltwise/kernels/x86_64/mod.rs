//! x86-64 element-wise kernels: AVX-512F and AVX2+FMA.

pub(crate) mod avx2_fma;
pub(crate) mod avx512;
