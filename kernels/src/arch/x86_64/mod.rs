//! x86-64 microkernels. Each is compiled with `#[target_feature]` and only reached through
//! `MicroKernel::for_isa`, which checks the CPU first.

pub(crate) mod avx2_fma;
pub(crate) mod avx512;
