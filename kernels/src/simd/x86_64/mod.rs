//! x86-64 vector math. Every function is compiled with `#[target_feature]`; callers hold an
//! `AvailableKernel` (or otherwise checked the CPU) before reaching them.

pub(crate) mod avx2_fma;
pub(crate) mod avx512;

/// Prefetches (into L2) the line holding `p`, a value of A that the next tile down will read
/// (any address: prefetches never fault). Used by tiles that read A in place.
#[inline(always)]
pub(crate) fn prefetch_next_a_line(p: *const f32) {
    // SAFETY: a prefetch is a hint; it does not fault or read on invalid addresses.
    unsafe { core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T1 }>(p.cast()) };
}

/// Prefetches (into L2) the line at A's current column in one of the `M` rows that the next
/// tile down reads, a different row at each k step `kk` (`a` is A at this step).
#[inline(always)]
pub(crate) fn prefetch_next_a_row<const M: usize>(a: *const f32, rsa: isize, kk: usize) {
    prefetch_next_a_line(a.wrapping_offset(((M + kk % M) as isize).wrapping_mul(rsa)));
}
