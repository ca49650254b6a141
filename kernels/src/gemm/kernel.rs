//! The microkernel contract and the one table of microkernels that the driver, the tests and
//! the benchmarks all iterate.

use crate::dispatch::Isa;
use crate::gemm::epilogue::Activation;

/// Arguments of one microkernel call: an `m x NR` tile of C, `m <= MR` chosen by the entry of
/// [`MicroKernel::rows`] that is called.
pub(crate) struct Tile {
    /// Depth of the product (may be 0: then only the epilogue runs).
    pub k: usize,
    /// A: element `(i, p)` at `a + i*rsa + p*csa`. Packed panels have `rsa = 1, csa = m`;
    /// row-major A read in place has `rsa = lda, csa = 1`.
    pub a: *const f32,
    pub rsa: isize,
    pub csa: isize,
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
    /// Columns of the tile, `1..=NR`: the masked tiles ([`MicroKernel::masked`]) read B and
    /// bias and read/write C only in these (B, C and bias then need only `cols` valid values
    /// per row); the others use all NR.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))] // only the AVX-512 tiles mask
    pub cols: usize,
    /// Null, or where [`MicroKernel::pack_b_tile`] copies the `k x NR` B values it reads
    /// (`NR` apart, aligned): the first tile of a panel packs it for the tiles after it.
    pub b_pack: *mut f32,
    /// A is read in place and the tile M rows down reads it next, from memory: the x86 full
    /// tiles then prefetch those rows as they go (the driver sets this on the first panel of
    /// a row block, whose A rows nobody has read yet).
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    pub prefetch_next_a: bool,
}

impl Tile {
    /// A short K loop (k < 256), where the tile's fixed costs show: kernels skip the C
    /// prefetch then (it cannot finish in time and C is usually hot; 64^3 +2%, 128^3 +1.5% on
    /// AVX-512, Zen 4).
    pub fn is_short(&self) -> bool {
        self.k < 256
    }

    /// Short, with a plain `C = alpha*acc` epilogue (beta = 0, no bias, no activation): the
    /// case [`MicroKernel::rows_short_plain`] is specialised for.
    pub fn is_short_plain(&self) -> bool {
        self.is_short() && self.beta == 0.0 && self.bias.is_null() && matches!(self.act, Activation::Identity)
    }
}

/// A tile kernel: `C[0..m, 0..NR] = act(alpha * A*B + beta*C + bias)`.
///
/// # Safety
/// Every pointer in `Tile` must be valid for the reads/writes described on its field, and the
/// CPU must support the kernel's ISA (guaranteed by only reaching kernels through
/// [`MicroKernel::for_isa`], which checks availability).
pub(crate) type TileFn = unsafe fn(&Tile);

/// GEMV by whole rows of B: `acc[j] = sum_p a[p*csa] * b[p*ldb + j]` for `j < n`, `p < k`.
///
/// # Safety
/// `a` readable at `p*csa`, `b` at `p*ldb + j` for `p < k`, `j < n`; `acc` writable for `n`
/// values; the kernel's ISA is available.
pub(crate) type GemvRowsFn = unsafe fn(usize, usize, *const f32, isize, *const f32, isize, *mut f32);

/// One microkernel family: an `MR x NR` register tile plus its `m < MR` variants and blocking.
pub struct MicroKernel {
    /// Self-describing name, e.g. `sgemm_4x64_avx512`.
    pub name: &'static str,
    pub isa: Isa,
    pub mr: usize,
    pub nr: usize,
    /// Cache blocking: depth (`KC`), rows of A per packed block (`MC`), columns of B per packed block (`NC`).
    pub kc: usize,
    pub mc: usize,
    pub nc: usize,
    /// `(kernel, width)` pairs, widest first: `1 x width` tiles (same contract as `rows`) for
    /// M = 1 with row-major B, with enough independent accumulators to stream B at memory
    /// speed without packing it. Empty when the ISA has none.
    pub(crate) gemv: &'static [(TileFn, usize)],
    /// GEMV that streams whole rows of B (partial sums in a row buffer), used instead of the
    /// `gemv` strips when set: for targets without prefetch instructions, where strips wait
    /// on memory at every row (wasm). The epilogue then runs as a k = 1 product.
    pub(crate) gemv_rows: Option<GemvRowsFn>,
    /// `rows[m - 1]` computes an `m x NR` tile, for `m` in `1..=mr`.
    pub(crate) rows: &'static [TileFn],
    /// The same tiles specialised for [`Tile::is_short_plain`] (empty: use `rows`): a
    /// branch-free store loop instead of the general epilogue. A separate function, because
    /// adding that loop to the general one cost 1.5-3% on long tiles (LLVM lays out the K loop
    /// differently) while it gains 2.5-4% at 64^3 and 128^3 (AVX-512 and AVX2, Zen 4).
    pub(crate) rows_short_plain: &'static [TileFn],
    /// Whether row-major B may be read in place by several row tiles (the driver then decides
    /// by shape; see `driver::run`). False packs it whenever more than one row of tiles reads
    /// it: the 6x16 AVX2 tile reads one cache line of B per k step, which streams badly from
    /// L2 and doubles on misaligned rows (Zen 4, B in place vs packed: 512^3 85 vs 108 GFLOP/s
    /// with 16-byte aligned operands, 102 vs 109 aligned; 512x512x4608 84 vs 102; 16x3072x768
    /// 54 vs 61; only 64^3 and 128^3 with 64-byte aligned rows lose, 2-4%).
    pub(crate) b_in_place: bool,
    /// Masked tiles for panels narrower than NR: `masked[v - 1][m - 1]` is an `m x (v*G)`
    /// tile, `G = NR / masked.len()` columns per vector, that reads and writes only
    /// `Tile::cols` columns of B, C and bias (AVX-512 masks). A partial panel of `cols`
    /// columns runs the narrowest one that covers it, reading B and writing C in place; it
    /// costs `ceil(cols / G)` vectors per row, not NR/G (empty: such panels are packed, zero-
    /// padded to NR, and their tiles go through a stack tile).
    pub(crate) masked: &'static [&'static [TileFn]],
    /// The full `MR x NR` tile that also copies its B panel to `Tile::b_pack` as it reads it
    /// (`None`: the driver packs panels in a separate pass). Packing costs two stores per k
    /// step in a loop bound by FMAs, instead of a pass over B that waits on memory.
    pub(crate) pack_b_tile: Option<TileFn>,
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
    /// Tiles for a panel of `cols < NR` columns are masked: they read B and write C only in
    /// those columns (so B can be read, and C written, in place).
    pub(crate) fn masks(&self, cols: usize) -> bool {
        cols < self.nr && !self.masked.is_empty()
    }

    /// The narrowest masked `m`-row tile that covers `cols` columns (`masks(cols)` or
    /// `cols == NR` with masked tiles present).
    pub(crate) fn masked_fn(&self, m: usize, cols: usize) -> TileFn {
        let granule = self.nr / self.masked.len();
        self.masked[cols.div_ceil(granule) - 1][m - 1]
    }

    /// A tile of `cols` columns can write C in place (C's column stride 1).
    pub(crate) fn writes_cols_in_place(&self, cols: usize) -> bool {
        cols == self.nr || self.masks(cols)
    }

    /// The function for the `m`-row tile `t` (`1 <= m <= MR`) of a panel of `cols` columns;
    /// `t` must be complete (its bias and epilogue set), since that decides between `rows` and
    /// `rows_short_plain`.
    pub(crate) fn tile_fn(&self, m: usize, cols: usize, t: &Tile) -> TileFn {
        if self.masks(cols) {
            return self.masked_fn(m, cols);
        }
        if !t.b_pack.is_null() {
            // The driver asks for packing only with a full tile of a kernel that has the variant.
            assert!(m == self.mr, "{}: b_pack on a {m}-row tile", self.name);
            if let Some(f) = self.pack_b_tile {
                return f;
            }
        }
        match self.rows_short_plain.get(m - 1) {
            Some(&f) if t.is_short_plain() => f,
            _ => self.rows[m - 1],
        }
    }

    /// Width of the widest GEMV tile (0 without a GEMV path).
    pub fn gemv_width(&self) -> usize {
        self.gemv.first().map_or(0, |g| g.1)
    }

    /// The depth-block size for a product of depth `k`: at most `KC`, with all blocks equal
    /// but the last (e.g. k = 576 with KC = 512 gives 288 + 288, not 512 + 64), so no block
    /// runs a short, inefficient K loop.
    pub fn depth_block(&self, k: usize) -> usize {
        if k == 0 {
            return 0;
        }
        k.div_ceil(k.div_ceil(self.kc))
    }

    /// The kernel for `isa`, only if the CPU can run it: holding the reference is the proof
    /// that calling its functions is sound.
    pub fn for_isa(isa: Isa) -> Option<&'static MicroKernel> {
        if !isa.is_available() {
            return None;
        }
        KERNELS.iter().copied().find(|k| k.isa == isa)
    }
}

impl MicroKernel {
    /// Runs the full `MR x NR` tile `reps` times on `k`-deep packed panels that stay in L1/L2,
    /// and returns the seconds taken: the kernel's ceiling, without packing or edge tiles.
    /// For benchmarks and tuning.
    pub fn time_full_tile(&self, k: usize, reps: usize) -> f64 {
        let a: Vec<f32> = (0..self.mr * k).map(|i| (i % 7) as f32 * 0.01).collect();
        let b: Vec<f32> = (0..self.nr * k).map(|i| (i % 5) as f32 * 0.01).collect();
        let mut c = vec![0.0f32; self.mr * self.nr];
        let f = self.rows[self.mr - 1];
        assert!(self.isa.is_available(), "{} needs {}", self.name, self.isa);
        let start = std::time::Instant::now();
        for _ in 0..reps {
            let t = Tile {
                k,
                a: a.as_ptr(),
                rsa: 1,
                csa: self.mr as isize,
                b: b.as_ptr(),
                ldb: self.nr as isize,
                c: c.as_mut_ptr(),
                rsc: self.nr as isize,
                alpha: 1.0,
                beta: 1.0,
                bias: std::ptr::null(),
                act: Activation::Identity,
                cols: self.nr,
                b_pack: std::ptr::null_mut(),
                prefetch_next_a: false,
            };
            // SAFETY: the CPU supports the kernel's ISA (asserted above, before timing); the
            // buffers hold exactly the MR x k, k x NR and MR x NR values the tile reads and writes.
            unsafe { f(&t) };
        }
        std::hint::black_box(&c);
        start.elapsed().as_secs_f64()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table's invariants that the driver relies on (checked for every compiled kernel,
    /// available on this CPU or not).
    #[test]
    fn every_kernel_entry_is_consistent() {
        for k in microkernels() {
            assert_eq!(k.rows.len(), k.mr, "{}: one row function per m", k.name);
            assert!(k.rows_short_plain.is_empty() || k.rows_short_plain.len() == k.mr, "{}", k.name);
            assert!(k.masked.is_empty() || k.nr % k.masked.len() == 0, "{}: NR splits into masked widths", k.name);
            assert!(k.masked.iter().all(|rows| rows.len() == k.mr), "{}: masked tiles for every m", k.name);
            // PackedB blocks are NC wide and panels NR wide: NC must be a whole number of panels.
            assert_eq!(k.nc % k.nr, 0, "{}: NC must be a multiple of NR", k.name);
            use crate::gemm::driver::{MAX_NR, MAX_TILE};
            assert!(
                k.mr * k.nr <= MAX_TILE && k.nr <= MAX_NR,
                "{}: edge tiles must fit the driver's stack buffer",
                k.name
            );
            assert!(k.kc > 0 && k.mc >= k.mr, "{}", k.name);
            assert!(k.gemv.windows(2).all(|w| w[0].1 > w[1].1), "{}: GEMV strips widest first", k.name);
        }
    }
}
