//! Microkernels, one module per ISA. Nothing but tile kernels and their vector helpers.

pub(crate) mod portable;
pub(crate) mod scalar;
#[cfg(target_arch = "wasm32")]
pub(crate) mod wasm32;
#[cfg(target_arch = "x86_64")]
pub(crate) mod x86_64;
