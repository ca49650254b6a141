//! AArch64 element-wise kernels: NEON.

pub(crate) mod neon;
