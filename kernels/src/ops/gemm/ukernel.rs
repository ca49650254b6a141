//! The GEMM microkernel contract: what a tile function computes, what it may read and write,
//! and the descriptor ([`MicroKernel`]) each kernel file fills in. A leaf module: it imports no
//! kernel, no driver and no arch code; kernels import it, the registry lists them.

use crate::activation::Activation;
use crate::isa::Isa;

/// Largest `MR * NR` and `NR` a kernel may have: the driver's stack buffers for edge tiles
/// (checked by the registry's test). Kept tight: the buffer is zeroed for every edge tile.
pub(crate) const MAX_TILE: usize = 10 * 32;
pub(crate) const MAX_NR: usize = 64;

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
    /// Columns of the tile, `1..=NR`: the masked tiles ([`MicroKernel::masked`], and the
    /// indirect ones of kernels with masked tiles) read B and bias and read/write C only in
    /// these (B, C and bias then need only `cols` valid values per row); the others use all
    /// NR. A masked tile `v` vectors wide takes more columns than `v - 1` vectors hold (the
    /// narrowest that covers them: only its last vector is masked).
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
    /// Null, or A read through row pointers (the [`MicroKernel::indirect`] tiles, for
    /// convolution: no packed copy of A): the `k` depth steps come in `runs` runs, run `r`
    /// `run_len[r]` steps long, row `i`'s values of run `r` contiguous from
    /// `a_rows[r * m + i]` (`m` the tile's rows). `a`, `rsa` and `csa` are then unused.
    pub a_rows: *const *const f32,
    pub run_len: *const usize,
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    pub runs: usize,
    /// A is packed with each value repeated [`A_BROADCAST_LANES`] times (element `(i, p)` and
    /// its copies at `a + i*rsa + p*csa`): [`MicroKernel::tile_fn`] then picks the kernel's
    /// [`MicroKernel::rows_a_broadcast`] tiles, which read it so.
    pub a_broadcast: bool,
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
/// CPU must support the kernel's ISA: callers hold an `AvailableKernel` (see the registry),
/// which only the CPU check constructs.
pub(crate) type TileFn = unsafe fn(&Tile);

/// GEMV by whole rows of B: `acc[j] = sum_p a[p*csa] * b[p*ldb + j]` for `j < n`, `p < k`.
///
/// # Safety
/// `a` readable at `p*csa`, `b` at `p*ldb + j` for `p < k`, `j < n`; `acc` writable for `n`
/// values; the kernel's ISA is available (as for [`TileFn`]).
pub(crate) type GemvRowsFn = unsafe fn(usize, usize, *const f32, isize, *const f32, isize, *mut f32);

/// Rows of A that a dot-product GEMV kernel ([`GemvDotFn`]) streams at once (they share the
/// loads of x); the last `m % DOT_ROWS` rows go one at a time. Tasks split rows in multiples
/// of it.
pub(crate) const DOT_ROWS: usize = 4;

/// Arguments of a dot-product GEMV call: `C[i, j] = act(alpha * dot(A[i, ..], x[.., j]) +
/// beta*C[i, j] + bias[i, j])` for `i < m`, `j < N` (the function's column count, 1..=3).
pub(crate) struct Dot {
    /// Rows of A (and of C).
    pub m: usize,
    /// Length of the dot products (may be 0: then only the epilogue runs).
    pub k: usize,
    /// A: row `i` at `a + i*lda`, `k` contiguous values.
    pub a: *const f32,
    pub lda: isize,
    /// x: column `j` at `x + j*ldx`, `k` contiguous values.
    pub x: *const f32,
    pub ldx: isize,
    /// C: element `(i, j)` at `c + i*rsc + j*csc`.
    pub c: *mut f32,
    pub rsc: isize,
    pub csc: isize,
    pub alpha: f32,
    /// `beta == 0.0` means C is not read (BLAS semantics).
    pub beta: f32,
    /// Null, or the bias of `(i, j)` at `bias + i*bias_rs + j*bias_cs` (`(0, 1)`: one value
    /// per column of C; `(1, 0)`: one per row, for the transposed product).
    pub bias: *const f32,
    pub bias_rs: isize,
    pub bias_cs: isize,
    pub act: Activation,
}

/// Dot-product GEMV over rows of A (unit column stride) against `N` contiguous columns:
/// the N < 4 products, which the tiles would run with one to three of their NR columns
/// (see [`Dot`]).
///
/// # Safety
/// Every pointer in `Dot` valid for the reads/writes described on its field; the kernel's ISA
/// is available (as for [`TileFn`]).
pub(crate) type GemvDotFn = unsafe fn(&Dot);

/// When a kernel reads row-major B in place rather than packing it, beyond the cases every
/// kernel reads it in place (one row of tiles; a depth block of B that fits in L1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BInPlace {
    /// Never: B is packed whenever more than one row of tiles reads it (tiles that stream one
    /// cache line of B per k step, badly from L2: the 6x16 AVX2 tile, docs/gemm-tuning.md).
    Never,
    /// With very few rows of A (at most 8) and B's rows not a multiple of 4 KiB apart (which
    /// would map a panel's rows to a few L1 sets): tiles that read B from L1 at every k step.
    FewRows,
    /// With few rows, or when a depth block of B fits in L2 and its rows do not conflict in L1.
    ByShape,
}

/// One microkernel family: an `MR x NR` register tile, its variants ([`Variant`]) and its
/// blocking. A descriptor only: its functions run through an `AvailableKernel`.
pub struct MicroKernel {
    /// Self-describing name, e.g. `sgemm_4x64_avx512` (also its file's name).
    pub name: &'static str,
    /// The instruction set the functions need.
    pub isa: Isa,
    /// Rows of the register tile.
    pub mr: usize,
    /// Columns of the register tile.
    pub nr: usize,
    /// Depth of a block (`KC`): a `KC x NR` panel of B stays in L1/L2.
    pub kc: usize,
    /// Rows of A per packed block (`MC`).
    pub mc: usize,
    /// Columns of B per packed block (`NC`, a multiple of NR).
    pub nc: usize,
    /// `(kernel, width)` pairs, widest first: `1 x width` tiles (same contract as `rows`) for
    /// M = 1 with row-major B, with enough independent accumulators to stream B at memory
    /// speed without packing it. Empty when the ISA has none.
    pub(crate) gemv: &'static [(TileFn, usize)],
    /// GEMV that streams whole rows of B (partial sums in a row buffer), used instead of the
    /// `gemv` strips when set: for targets without prefetch instructions, where strips wait
    /// on memory at every row (wasm). The epilogue then runs as a k = 1 product.
    pub(crate) gemv_rows: Option<GemvRowsFn>,
    /// `gemv_dot[n - 1]`: the dot-product GEMV against `n` columns ([`GemvDotFn`]), for
    /// products with N <= `gemv_dot.len()` and row-major A (or, transposed, M that small and
    /// column-major B). Empty: such products take the tiles.
    pub(crate) gemv_dot: &'static [GemvDotFn],
    /// `rows[m - 1]` computes an `m x NR` tile, for `m` in `1..=mr`.
    pub(crate) rows: &'static [TileFn],
    /// The same tiles specialised for [`Tile::is_short_plain`] (empty: use `rows`): a
    /// branch-free store loop instead of the general epilogue, in a separate function because
    /// in the general one it slows long tiles (docs/gemm-tuning.md).
    pub(crate) rows_short_plain: &'static [TileFn],
    /// When row-major B may be read in place by several rows of tiles.
    pub b_in_place: BInPlace,
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
    /// Tiles that read A through row pointers ([`Tile::a_rows`]): `indirect[v - 1][m - 1]`
    /// covers `v * NR / indirect.len()` columns, like `masked` (they mask when the kernel has
    /// masked tiles, else they are full `NR` wide). A convolution's implicit GEMM runs on them
    /// instead of gathering A into packed panels (empty: it gathers).
    pub(crate) indirect: &'static [&'static [TileFn]],
    /// `rows_a_broadcast[m - 1]`: the `rows` tiles reading A packed with each value repeated
    /// [`A_BROADCAST_LANES`] times (a ready 128-bit broadcast), for ISAs without a broadcast
    /// load (SSE2: `movss` + `shufps` per value of A). Non-empty: the driver packs A that way
    /// and runs these on it (empty: A is packed compact).
    pub(crate) rows_a_broadcast: &'static [TileFn],
}

/// Copies of each value of A in a broadcast-packed panel (see [`MicroKernel::packed_a_lanes`]).
pub const A_BROADCAST_LANES: usize = 4;

impl std::fmt::Debug for MicroKernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (MR={}, NR={}, KC={}, MC={}, NC={})", self.name, self.mr, self.nr, self.kc, self.mc, self.nc)
    }
}

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
        if t.a_broadcast {
            // The driver packs A so only for kernels with these tiles, whose panels are full.
            return self.rows_a_broadcast[m - 1];
        }
        if !t.a_rows.is_null() {
            let granule = self.nr / self.indirect.len();
            return self.indirect[cols.div_ceil(granule) - 1][m - 1];
        }
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

    /// Copies of each value in this kernel's packed A: [`A_BROADCAST_LANES`] for kernels with
    /// `rows_a_broadcast` tiles (the portable kernel on x86-64), else 1. Such kernels get
    /// row-major A packed (not read in place) for products of more than one block.
    pub fn packed_a_lanes(&self) -> usize {
        if self.rows_a_broadcast.is_empty() {
            1
        } else {
            A_BROADCAST_LANES
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
}

/// Which of a kernel's functions a [`Variant`] is; the x86 tile bodies take it as their
/// `VARIANT` const parameter.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) mod variant {
    /// The general tile: any k, any epilogue, all NR columns.
    pub const GENERAL: u8 = 0;
    /// [`super::Tile::is_short_plain`] tiles: no C prefetch, store-only epilogue.
    pub const SHORT_PLAIN: u8 = 1;
    /// Also copies B to `Tile::b_pack` (`MicroKernel::pack_b_tile`).
    pub const PACK_B: u8 = 2;
    /// Reads and writes only the first `Tile::cols` columns of B, C and bias (AVX-512 masks),
    /// so a partial panel of B can be read in place.
    pub const MASKED: u8 = 3;
    /// Reads A through row pointers (`Tile::a_rows`); masked like `MASKED` on kernels with
    /// masked tiles (AVX-512, AVX2).
    pub const INDIRECT: u8 = 4;
}

/// What a [`Variant`] computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VariantKind {
    /// The general `m x NR` tile (`m <= MR`).
    Tile,
    /// The `m x NR` tile for short k with a plain `C = alpha*A*B` store.
    ShortPlain,
    /// The full `MR x NR` tile that also packs its B panel.
    PackB,
    /// An `m x width` tile that reads and writes only `cols <= width` columns.
    Masked,
    /// An `m x width` tile reading A through row pointers (`MicroKernel::indirect`), masked
    /// like `Masked` when the kernel has masked tiles.
    Indirect,
    /// The general `m x NR` tile reading A packed with each value repeated
    /// [`A_BROADCAST_LANES`] times (`Tile::a_broadcast`).
    ABroadcast,
    /// A `1 x width` GEMV strip over row-major B.
    GemvStrip,
    /// GEMV by whole rows of B into a row of partial sums (no epilogue).
    GemvRows,
    /// Dot products of any number of rows of A with `width` contiguous columns (1..=3),
    /// epilogue included.
    GemvDot,
}

#[derive(Clone, Copy)]
pub(crate) enum VariantFn {
    Tile(TileFn),
    Rows(GemvRowsFn),
    Dot(GemvDotFn),
}

/// One callable function of a microkernel, with a name of its own, e.g.
/// `sgemm_4x64_avx512.masked_3x32`: what the per-kernel tester and the benches iterate.
#[derive(Clone, Copy)]
pub struct Variant {
    /// The kernel it belongs to.
    pub kernel: &'static MicroKernel,
    /// What it computes.
    pub kind: VariantKind,
    /// Rows it computes (1 for the GEMV variants; 0 for `GemvDot`, any m).
    pub m: usize,
    /// Columns it covers (NR, a masked width, a strip width, the columns of x for `GemvDot`;
    /// 0 for `GemvRows`, any n).
    pub width: usize,
    pub(crate) f: VariantFn,
}

impl Variant {
    /// Copies of each value of A the variant reads: [`A_BROADCAST_LANES`] for `ABroadcast`
    /// variants, else 1.
    pub fn a_lanes(&self) -> usize {
        if self.kind == VariantKind::ABroadcast {
            A_BROADCAST_LANES
        } else {
            1
        }
    }

    /// `<kernel>.<kind>_<m>x<width>`, e.g. `sgemm_6x16_avx2_fma.tile_5x16`;
    /// `<kernel>.gemv_rows` and `<kernel>.dot_rows_x<width>` (any m).
    pub fn name(&self) -> String {
        let kind = match self.kind {
            VariantKind::Tile => "tile",
            VariantKind::ShortPlain => "short_plain",
            VariantKind::PackB => "pack_b",
            VariantKind::Masked => "masked",
            VariantKind::Indirect => "indirect",
            VariantKind::ABroadcast => "a_broadcast",
            VariantKind::GemvStrip => "gemv",
            VariantKind::GemvRows => return format!("{}.gemv_rows", self.kernel.name),
            VariantKind::GemvDot => return format!("{}.dot_rows_x{}", self.kernel.name, self.width),
        };
        format!("{}.{kind}_{}x{}", self.kernel.name, self.m, self.width)
    }
}

impl std::fmt::Debug for Variant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

impl MicroKernel {
    /// Every function of this kernel, each with its own name.
    pub fn variants(&'static self) -> Vec<Variant> {
        let mut out = Vec::new();
        let mut push = |kind, m, width, f| out.push(Variant { kernel: self, kind, m, width, f });
        for (i, &f) in self.rows.iter().enumerate() {
            push(VariantKind::Tile, i + 1, self.nr, VariantFn::Tile(f));
        }
        for (i, &f) in self.rows_short_plain.iter().enumerate() {
            push(VariantKind::ShortPlain, i + 1, self.nr, VariantFn::Tile(f));
        }
        if let Some(f) = self.pack_b_tile {
            push(VariantKind::PackB, self.mr, self.nr, VariantFn::Tile(f));
        }
        for (v, rows) in self.masked.iter().enumerate() {
            let width = (v + 1) * self.nr / self.masked.len();
            for (i, &f) in rows.iter().enumerate() {
                push(VariantKind::Masked, i + 1, width, VariantFn::Tile(f));
            }
        }
        for (v, rows) in self.indirect.iter().enumerate() {
            let width = (v + 1) * self.nr / self.indirect.len();
            for (i, &f) in rows.iter().enumerate() {
                push(VariantKind::Indirect, i + 1, width, VariantFn::Tile(f));
            }
        }
        for (i, &f) in self.rows_a_broadcast.iter().enumerate() {
            push(VariantKind::ABroadcast, i + 1, self.nr, VariantFn::Tile(f));
        }
        for &(f, width) in self.gemv {
            push(VariantKind::GemvStrip, 1, width, VariantFn::Tile(f));
        }
        if let Some(f) = self.gemv_rows {
            push(VariantKind::GemvRows, 1, 0, VariantFn::Rows(f));
        }
        for (i, &f) in self.gemv_dot.iter().enumerate() {
            push(VariantKind::GemvDot, 0, i + 1, VariantFn::Dot(f));
        }
        out
    }
}
