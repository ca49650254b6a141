//! Vector math shared by every operation, one module per architecture: exp, sigmoid, the
//! activations, loads/stores and prefetch. Operations' kernels import from here; nothing here
//! imports an operation.

pub(crate) mod vector;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub(crate) mod wasm32;
#[cfg(target_arch = "x86_64")]
pub(crate) mod x86_64;

/// Hints the caches to fetch `cols` values at `src`, one prefetch per 64-byte line (any
/// address: prefetches never fault). A no-op where the target has no prefetch instruction.
#[inline(always)]
pub(crate) fn prefetch_row(src: *const f32, cols: usize) {
    #[cfg(target_arch = "x86_64")]
    for j in (0..cols).step_by(16) {
        // SAFETY: a prefetch is a hint; it does not fault or read on invalid addresses.
        unsafe { core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(src.wrapping_add(j).cast()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (src, cols);
}
