//! The microkernel contract and the one table of microkernels that the driver, the tests and
//! the benchmarks all iterate.

use crate::dispatch::Isa;
use crate::gemm::epilogue::Activation;

/// Arguments of one microkernel call: an `m x NR` tile of C, `m <= MR` chosen by the entry of
/// [`MicroKernel::rows`] that is called.
pub(crate) struct Tile {
    /// Depth of the product (may be 0: then only the epilogue runs).
    pub k: usize,
    /// Packed A: `k` steps of `m` contiguous values.
    pub a: *const f32,
    /// B: `k` steps of `NR` contiguous values, consecutive steps `ldb` elements apart.
    pub b: *const f32,
    pub ldb: isize,
    /// C: `m` rows of `NR` contiguous values, `rsc` elements apart.
    pub c: *mut f32,
    pub rsc: isize,
    pub alpha: f32,
    /// `beta == 0.0` means C is not read (BLAS semantics).
    pub beta: f32,
    /// `NR` bias values, or null for none.
    pub bias: *const f32,
    pub act: Activation,
}

/// A tile kernel: `C[0..m, 0..NR] = act(alpha * A*B + beta*C + bias)`.
///
/// # Safety
/// Every pointer in `Tile` must be valid for the reads/writes described on its field, and the
/// CPU must support the kernel's ISA (guaranteed by only reaching kernels through
/// [`MicroKernel::for_isa`], which checks availability).
pub(crate) type TileFn = unsafe fn(&Tile);

/// One microkernel family: an `MR x NR` register tile plus its `m < MR` variants and blocking.
pub struct MicroKernel {
    /// Self-describing name, e.g. `sgemm_8x32_avx512`.
    pub name: &'static str,
    pub isa: Isa,
    pub mr: usize,
    pub nr: usize,
    /// Cache blocking: depth (`KC`), rows of A per packed block (`MC`), columns of B per packed block (`NC`).
    pub kc: usize,
    pub mc: usize,
    pub nc: usize,
    /// `rows[m - 1]` computes an `m x NR` tile, for `m` in `1..=mr`.
    pub(crate) rows: &'static [TileFn],
}

impl std::fmt::Debug for MicroKernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (MR={}, NR={}, KC={}, MC={}, NC={})", self.name, self.mr, self.nr, self.kc, self.mc, self.nc)
    }
}

/// Every GEMM microkernel compiled into this build, slowest ISA first.
pub fn microkernels() -> &'static [&'static MicroKernel] {
    KERNELS
}

static KERNELS: &[&MicroKernel] = &[
    &crate::arch::scalar::SGEMM_SCALAR,
    &crate::arch::portable::SGEMM_PORTABLE,
    #[cfg(target_arch = "x86_64")]
    &crate::arch::x86_64::avx2_fma::SGEMM_AVX2_FMA,
    #[cfg(target_arch = "x86_64")]
    &crate::arch::x86_64::avx512::SGEMM_AVX512,
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    &crate::arch::wasm32::simd128::SGEMM_WASM_SIMD128,
    #[cfg(all(target_arch = "wasm32", target_feature = "relaxed-simd"))]
    &crate::arch::wasm32::relaxed::SGEMM_WASM_RELAXED,
];

impl MicroKernel {
    /// The kernel for `isa`, only if the CPU can run it: holding the reference is the proof
    /// that calling its functions is sound.
    pub fn for_isa(isa: Isa) -> Option<&'static MicroKernel> {
        if !isa.is_available() {
            return None;
        }
        KERNELS.iter().copied().find(|k| k.isa == isa)
    }
}
