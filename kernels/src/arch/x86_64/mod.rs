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
