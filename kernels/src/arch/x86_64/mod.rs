//! x86-64 microkernels. Each is compiled with `#[target_feature]` and only reached through
//! `MicroKernel::for_isa`, which checks the CPU first.

pub(crate) mod avx2_fma;
pub(crate) mod avx512;

/// Variants of the x86 tile functions (their `VARIANT` parameter), one function each.
pub(crate) mod variant {
    /// The general tile: any k, any epilogue, all NR columns.
    pub const GENERAL: u8 = 0;
    /// [`Tile::is_short_plain`](crate::gemm::kernel::Tile::is_short_plain) tiles: no C prefetch,
    /// store-only epilogue.
    pub const SHORT_PLAIN: u8 = 1;
    /// Also copies B to `t.b_pack` (`MicroKernel::pack_b_tile`).
    pub const PACK_B: u8 = 2;
    /// Reads and writes only the first `t.cols` columns of B, C and bias (AVX-512 masks), so
    /// a partial panel of B can be read in place.
    pub const MASKED: u8 = 3;
}

/// `Tile::prefetch_next_a` for an `M`-row tile at k step `kk`: prefetches (into L2) the line
/// at A's current column in one of the `M` rows the next tile down reads, a different row each
/// step (`a` is A at this step; any address: prefetches never fault).
#[inline(always)]
pub(crate) fn prefetch_next_a_row<const M: usize>(a: *const f32, rsa: isize, kk: usize) {
    let row = a.wrapping_offset(((M + kk % M) as isize).wrapping_mul(rsa));
    // SAFETY: a prefetch is a hint; it does not fault or read on invalid addresses.
    unsafe { core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T1 }>(row.cast()) };
}
