//! Packing of A and B panels into contiguous, 64-byte aligned buffers in the order the
//! microkernels read them. Padding columns of B are zero so full-width tiles stay exact.

use super::operand::Indirection;
use super::ukernel::A_BROADCAST_LANES;
use crate::simd::prefetch_row;

/// Packs the `mc x kc` block of A at `a` (strides `rsa`, `csa`) into panels of `mr` rows:
/// panel `p` holds `kc` steps of `min(mr, rows left)` values, each value written `L` times
/// (`L` = 1, or [`A_BROADCAST_LANES`] for the layout of
/// [`MicroKernel::rows_a_broadcast`](super::ukernel::MicroKernel::rows_a_broadcast)). Returns
/// nothing; `dst` must hold `mc * kc * L` values.
///
/// # Safety
/// `a + i*rsa + p*csa` must be readable for `i < mc`, `p < kc`.
pub(crate) unsafe fn pack_a<const L: usize>(
    dst: &mut [f32],
    a: *const f32,
    rsa: isize,
    csa: isize,
    mc: usize,
    kc: usize,
    mr: usize,
) {
    debug_assert!(dst.len() >= mc * kc * L);
    if kc == 0 {
        return;
    }
    let mut i0 = 0;
    for panel in dst[..mc * kc * L].chunks_mut(mr * kc * L) {
        let rows = mr.min(mc - i0);
        // SAFETY: rows i0..i0+rows < mc, columns < kc are inside the block the caller vouched for.
        let a0 = unsafe { a.offset(i0 as isize * rsa) };
        // SAFETY: as above.
        unsafe {
            match (rows, csa) {
                (10, 1) => pack_a_panel_rm::<10, L>(panel, a0, rsa, kc),
                (6, 1) => pack_a_panel_rm::<6, L>(panel, a0, rsa, kc),
                (4, 1) => pack_a_panel_rm::<4, L>(panel, a0, rsa, kc),
                (2, 1) => pack_a_panel_rm::<2, L>(panel, a0, rsa, kc),
                _ => pack_a_panel::<L>(panel, a0, rsa, csa, rows, kc),
            }
        }
        i0 += rows;
    }
}

/// Repeats each of the first `len` values of `buf` [`A_BROADCAST_LANES`] times in place (value
/// `i` to `buf[i*L..(i+1)*L]`): a compact packed A block becomes the layout of
/// [`MicroKernel::rows_a_broadcast`](super::ukernel::MicroKernel::rows_a_broadcast), panel
/// offsets and strides scaled by `L`. `buf` must hold `len * L` values.
pub(crate) fn broadcast_packed_a(buf: &mut [f32], len: usize) {
    const L: usize = A_BROADCAST_LANES;
    // Backwards: value i lands at i*L >= i, past every value still to be read.
    for i in (0..len).rev() {
        let v = buf[i];
        buf[i * L..(i + 1) * L].fill(v);
    }
}

/// Packs rows `i0..i0 + mc`, columns `pc..pc + kc` of the A read through `ind` into panels of
/// `mr` rows (as [`pack_a`]); taps in the padding give zeros.
///
/// # Safety
/// For rows `i0..i0 + mc`, every offset of `ind` other than `PAD` plus `ind.cin` values after it
/// is readable from the row's image base, and `ind.zero` holds `ind.cin` zeros; `mr <= MAX_MR`;
/// `dst` holds `mc * kc` values;
/// `pc + kc <= ind.taps * ind.cin`.
pub(crate) unsafe fn pack_a_indirect(
    dst: &mut [f32],
    ind: &Indirection,
    i0: usize,
    mc: usize,
    pc: usize,
    kc: usize,
    mr: usize,
) {
    // The image and pixel of row i0, then stepped row by row (no division per row: with
    // C_in = 1 a row is only `taps` values).
    let mut at = (i0 / ind.pixels, i0 % ind.pixels);
    let mut r0 = 0;
    for panel in dst[..mc * kc].chunks_mut(mr * kc) {
        let rows = mr.min(mc - r0);
        let (bases, tables) = next_rows(ind, &mut at, rows);
        // SAFETY: the caller's contract, for the rows of this panel.
        unsafe {
            if ind.cin == 1 {
                pack_indirect_c1(panel, rows, &bases, &tables, pc, kc);
            } else {
                match rows {
                    4 => pack_indirect_taps::<4>(panel, ind, &bases, &tables, pc, kc),
                    6 => pack_indirect_taps::<6>(panel, ind, &bases, &tables, pc, kc),
                    8 => pack_indirect_taps::<8>(panel, ind, &bases, &tables, pc, kc),
                    10 => pack_indirect_taps::<10>(panel, ind, &bases, &tables, pc, kc),
                    _ => pack_indirect_taps_any(panel, rows, ind, &bases, &tables, pc, kc),
                }
            }
        }
        r0 += rows;
    }
}

/// For the tiles that read A through row pointers ([`Tile::a_rows`](super::ukernel::Tile)):
/// one task's pointers and run lengths, rebuilt per block by [`RowPointers::build`] (the
/// buffers are kept, per thread, from call to call).
#[derive(Default)]
pub(crate) struct RowPointers {
    /// Tile after tile of `mr` rows; inside a tile of `m` rows, run `r` of row `i` at
    /// `r * m + i`.
    pub table: Vec<*const f32>,
    /// Steps of each run, shared by every row.
    pub run_len: Vec<usize>,
    /// Each run's tap and first channel.
    run_start: Vec<(usize, usize)>,
}

impl RowPointers {
    pub(crate) const fn new() -> Self {
        RowPointers { table: Vec::new(), run_len: Vec::new(), run_start: Vec::new() }
    }

    /// The runs of columns `pc..pc + kc` (one per tap, split where the block cuts a tap) and,
    /// for rows `i0..i0 + mc` in tiles of `mr` rows, where each row's values of each run start:
    /// its input pixel's channels, or the zero row in the padding. Nothing is copied from A.
    ///
    /// # Safety
    /// As [`pack_a_indirect`] (the pointers are computed, not read; the tiles read through
    /// them).
    pub(crate) unsafe fn build(&mut self, ind: &Indirection, i0: usize, mc: usize, pc: usize, kc: usize, mr: usize) {
        self.run_len.clear();
        self.run_start.clear();
        for (_, tap, c, run) in tap_runs(ind.cin, pc, kc) {
            self.run_len.push(run);
            self.run_start.push((tap, c));
        }
        let runs = self.run_len.len();
        self.table.clear();
        if runs == 0 {
            return; // (an empty depth block: the tiles read nothing)
        }
        self.table.resize(mc * runs, std::ptr::null());
        let zero = ind.zero.0;
        let mut at = (i0 / ind.pixels, i0 % ind.pixels);
        let mut r0 = 0;
        for tile in self.table.chunks_mut(mr * runs) {
            let rows = mr.min(mc - r0);
            if at.1 + rows <= ind.pixels {
                // All rows in one image (most tiles): one base, and each run's offsets `taps`
                // apart in the table, so each pointer is one load and a select.
                let base = ind.base.0.wrapping_add(at.0 * ind.image_stride);
                let offs = &ind.offsets[at.1 * ind.taps..(at.1 + rows) * ind.taps];
                let one = OneImage { runs: &self.run_start, offs, taps: ind.taps, base, zero };
                // The rows unrolled for the tile heights of the kernels (a loop of 4-10 rows
                // behind each run's setup cost as much as the pointers themselves).
                // SAFETY: `offs` holds `rows` rows of `taps` offsets, and every run's tap < taps.
                unsafe {
                    match rows {
                        4 => one.fill(tile, 4),
                        5 => one.fill(tile, 5),
                        6 => one.fill(tile, 6),
                        8 => one.fill(tile, 8),
                        10 => one.fill(tile, 10),
                        _ => one.fill(tile, rows),
                    }
                }
                at = if at.1 + rows == ind.pixels { (at.0 + 1, 0) } else { (at.0, at.1 + rows) };
                r0 += rows;
                continue;
            }
            let (bases, tables) = next_rows(ind, &mut at, rows);
            for (run, &(tap, c)) in tile.chunks_exact_mut(rows).zip(&self.run_start) {
                for ((out, base), offs) in run.iter_mut().zip(&bases).zip(&tables) {
                    // SAFETY: each row's offsets hold `taps` entries and tap < taps (pc + kc <=
                    // taps * cin).
                    let off = unsafe { *offs.add(tap) };
                    // (Wrapping: computed, not read, for PAD too; the zero row holds cin >= run
                    // values from its start.)
                    let src = base.wrapping_add(off.wrapping_add(c));
                    *out = if off == Indirection::PAD { zero } else { src };
                }
            }
            r0 += rows;
        }
    }
}

/// The pointers of a tile whose rows are pixels of one image: for each run (tap, first channel),
/// each row's input pixel from `base`, or `zero` where the tap is in the padding.
struct OneImage<'a> {
    runs: &'a [(usize, usize)],
    /// The rows' offsets, `taps` per row.
    offs: &'a [usize],
    taps: usize,
    base: *const f32,
    zero: *const f32,
}

impl OneImage<'_> {
    /// The source of row `r`'s run at `tap`, channel `c`.
    ///
    /// # Safety
    /// `r * taps + tap < offs.len()`.
    #[inline(always)]
    unsafe fn source(&self, r: usize, tap: usize, c: usize) -> *const f32 {
        // SAFETY: the caller's bound.
        let off = unsafe { *self.offs.get_unchecked(r * self.taps + tap) };
        // (Wrapping: computed, not read, for PAD too.)
        let src = self.base.wrapping_add(off.wrapping_add(c));
        if off == Indirection::PAD {
            self.zero
        } else {
            src
        }
    }

    /// `tile`: run after run, `rows` row pointers each (inlined, so a constant `rows` unrolls
    /// the inner loop).
    ///
    /// # Safety
    /// `offs` holds `rows` rows of `taps` offsets and every run's tap is below `taps`.
    #[inline(always)]
    unsafe fn fill(&self, tile: &mut [*const f32], rows: usize) {
        for (out, &(tap, c)) in tile.chunks_exact_mut(rows).zip(self.runs) {
            for (r, o) in out.iter_mut().enumerate() {
                // SAFETY: r < rows and tap < taps (the caller's bounds).
                *o = unsafe { self.source(r, tap, c) };
            }
        }
    }
}

/// The image starts and offset rows (`taps` offsets each) of the `rows <= MAX_MR` rows of `ind`
/// from the one at `at` = (image, pixel), which it steps past them.
fn next_rows(
    ind: &Indirection,
    at: &mut (usize, usize),
    rows: usize,
) -> ([*const f32; MAX_MR], [*const usize; MAX_MR]) {
    let mut bases = [std::ptr::null::<f32>(); MAX_MR];
    let mut tables = [std::ptr::null::<usize>(); MAX_MR];
    for (base, table) in bases.iter_mut().zip(&mut tables).take(rows) {
        let (image, pixel) = *at;
        *base = ind.base.0.wrapping_add(image * ind.image_stride);
        *table = ind.offsets[pixel * ind.taps..(pixel + 1) * ind.taps].as_ptr();
        *at = if pixel + 1 == ind.pixels { (image + 1, 0) } else { (image, pixel + 1) };
    }
    (bases, tables)
}

/// The most rows a panel of [`pack_a_indirect`] may have (its per-row state is on the stack;
/// the registry's test checks every kernel's MR against it).
pub(crate) const MAX_MR: usize = 16;

/// C_in = 1 (a first layer on grey images): one value per (row, tap), row by row.
///
/// # Safety
/// As [`pack_a_indirect`]; `bases` / `tables` hold each row's image start and offset row.
#[inline(always)]
unsafe fn pack_indirect_c1(
    panel: &mut [f32],
    rows: usize,
    bases: &[*const f32; MAX_MR],
    tables: &[*const usize; MAX_MR],
    pc: usize,
    kc: usize,
) {
    let out = panel.as_mut_ptr();
    for r in 0..rows {
        for p in 0..kc {
            // SAFETY: tap pc + p < taps of the row's offsets; a non-PAD offset is a readable
            // value of the row's image; r + p * rows < rows * kc, inside the panel.
            unsafe {
                let off = *tables[r].add(pc + p);
                *out.add(p * rows + r) = if off == Indirection::PAD { 0.0 } else { *bases[r].add(off) };
            }
        }
    }
}

/// The contiguous channel runs of columns `pc..pc + kc` of an indirect A: for each, its first
/// column inside the block, its tap, its first channel and its length.
fn tap_runs(cin: usize, pc: usize, kc: usize) -> impl Iterator<Item = (usize, usize, usize, usize)> {
    let (mut tap, mut c, mut p) = (pc / cin, pc % cin, 0);
    std::iter::from_fn(move || {
        (p < kc).then(|| {
            let run = (cin - c).min(kc - p);
            let item = (p, tap, c, run);
            (p, tap, c) = (p + run, tap + 1, 0);
            item
        })
    })
}

/// Where row `r`'s channels `c..` of `tap` are read from: its input pixel, or the zero row.
///
/// # Safety
/// `tables[r]` holds the row's offsets (at least `tap + 1`); a non-PAD offset plus `c` is
/// inside the row's image.
#[inline(always)]
unsafe fn tap_source(
    ind: &Indirection,
    bases: &[*const f32; MAX_MR],
    tables: &[*const usize; MAX_MR],
    r: usize,
    tap: usize,
    c: usize,
) -> *const f32 {
    // SAFETY: the caller's contract.
    unsafe {
        let off = *tables[r].add(tap);
        if off == Indirection::PAD {
            ind.zero.0
        } else {
            bases[r].add(off + c)
        }
    }
}

/// Tap by tap: each tap's channels are a contiguous run in each row, so the panel is filled k
/// step by k step, `R` values each (R sequential reads, contiguous writes).
///
/// # Safety
/// As [`pack_indirect_c1`], `rows == R`.
#[inline(always)]
unsafe fn pack_indirect_taps<const R: usize>(
    panel: &mut [f32],
    ind: &Indirection,
    bases: &[*const f32; MAX_MR],
    tables: &[*const usize; MAX_MR],
    pc: usize,
    kc: usize,
) {
    for (p, tap, c, run) in tap_runs(ind.cin, pc, kc) {
        let out = &mut panel[p * R..(p + run) * R];
        // SAFETY: each row's offset for `tap` exists; non-PAD ones address cin readable values.
        let src: [*const f32; R] = std::array::from_fn(|r| unsafe { tap_source(ind, bases, tables, r, tap, c) });
        for (q, step) in out.chunks_exact_mut(R).enumerate() {
            for (o, s) in step.iter_mut().zip(&src) {
                // SAFETY: q < run values of a readable row (zero rows hold cin values).
                *o = unsafe { *s.add(q) };
            }
        }
    }
}

/// [`pack_indirect_taps`] for any row count (edge panels).
///
/// # Safety
/// As [`pack_indirect_c1`].
unsafe fn pack_indirect_taps_any(
    panel: &mut [f32],
    rows: usize,
    ind: &Indirection,
    bases: &[*const f32; MAX_MR],
    tables: &[*const usize; MAX_MR],
    pc: usize,
    kc: usize,
) {
    for (p, tap, c, run) in tap_runs(ind.cin, pc, kc) {
        for r in 0..rows {
            // SAFETY: as in pack_indirect_taps; q < run values of a readable row.
            unsafe {
                let src = tap_source(ind, bases, tables, r, tap, c);
                for q in 0..run {
                    panel[(p + q) * rows + r] = *src.add(q);
                }
            }
        }
    }
}

/// Row-major A (`csa == 1`), `R` rows: reads `R` sequential streams, writes contiguously.
///
/// # Safety
/// `a + i*rsa + p` readable for `i < R`, `p < kc`; `dst` holds `R * kc * L` values.
#[inline(always)]
unsafe fn pack_a_panel_rm<const R: usize, const L: usize>(dst: &mut [f32], a: *const f32, rsa: isize, kc: usize) {
    // SAFETY: row starts are inside the panel (caller's contract).
    let rows: [*const f32; R] = std::array::from_fn(|i| unsafe { a.offset(i as isize * rsa) });
    for (p, step) in dst[..R * kc * L].chunks_exact_mut(R * L).enumerate() {
        for (out, row) in step.chunks_exact_mut(L).zip(&rows) {
            // SAFETY: column p < kc of a readable row.
            out.copy_from_slice(&[unsafe { *row.add(p) }; L]);
        }
    }
}

/// Any strides, any row count.
///
/// # Safety
/// `a + i*rsa + p*csa` readable for `i < rows`, `p < kc`; `dst` holds `rows * kc * L` values.
unsafe fn pack_a_panel<const L: usize>(dst: &mut [f32], a: *const f32, rsa: isize, csa: isize, rows: usize, kc: usize) {
    for (p, step) in dst[..rows * kc * L].chunks_exact_mut(rows * L).enumerate() {
        for (i, out) in step.chunks_exact_mut(L).enumerate() {
            // SAFETY: (i, p) inside the panel.
            out.fill(unsafe { *a.offset(i as isize * rsa + p as isize * csa) });
        }
    }
}

/// Packs the `kc x nc` block of B at `b` into panels of `nr` columns, each `kc` steps of `nr`
/// values, zero-padded on the right. `dst` must hold `ceil(nc / nr) * nr * kc` values.
///
/// # Safety
/// `b + p*rsb + j*csb` must be readable for `p < kc`, `j < nc`.
pub(crate) unsafe fn pack_b(dst: &mut [f32], b: *const f32, rsb: isize, csb: isize, kc: usize, nc: usize, nr: usize) {
    let panels = nc.div_ceil(nr);
    debug_assert!(dst.len() >= panels * nr * kc);
    if kc == 0 {
        return;
    }
    if csb == 1 {
        // Row-major B: a band of ROWS rows at a time, swept left to right over all panels:
        // reads are a few sequential streams, writes ROWS * NR contiguous values per panel.
        const ROWS: usize = 8;
        for p0 in (0..kc).step_by(ROWS) {
            let rows = ROWS.min(kc - p0);
            for panel in 0..panels {
                let cols = nr.min(nc - panel * nr);
                for p in p0..p0 + rows {
                    let out = &mut dst[(panel * kc + p) * nr..(panel * kc + p + 1) * nr];
                    // SAFETY: row p < kc, columns panel*nr .. panel*nr+cols < nc of the block.
                    unsafe { copy_row(out, b.offset(p as isize * rsb).add(panel * nr), cols) };
                }
            }
        }
        return;
    }
    for (panel, out) in dst.chunks_exact_mut(nr * kc).take(panels).enumerate() {
        // SAFETY: the panel's first column is < nc.
        let b0 = unsafe { b.offset((panel * nr) as isize * csb) };
        // SAFETY: the panel's columns are a subset of the block the caller vouched for.
        unsafe { pack_b_panel(out, b0, rsb, csb, kc, nr.min(nc - panel * nr), nr) };
    }
}

/// Packs one `kc x cols` panel (`cols <= nr`) into `out` (`kc * nr` values).
///
/// # Safety
/// `b + p*rsb + j*csb` must be readable for `p < kc`, `j < cols`.
pub(crate) unsafe fn pack_b_panel(
    out: &mut [f32],
    b: *const f32,
    rsb: isize,
    csb: isize,
    kc: usize,
    cols: usize,
    nr: usize,
) {
    for p in 0..kc {
        let row = &mut out[p * nr..(p + 1) * nr];
        // SAFETY: row p < kc of the `kc x cols` elements the caller vouched for.
        let src = unsafe { b.offset(p as isize * rsb) };
        if csb == 1 {
            prefetch_row(src.wrapping_offset(PANEL_PREFETCH_ROWS.wrapping_mul(rsb)), cols);
            // SAFETY: the row's `cols` values are readable (caller's contract).
            unsafe { copy_row(row, src, cols) };
        } else {
            for (j, v) in row[..cols].iter_mut().enumerate() {
                // SAFETY: column j < cols of a readable row (caller's contract).
                *v = unsafe { *src.offset(j as isize * csb) };
            }
            row[cols..].fill(0.0);
        }
    }
}

/// Copies `cols` values from `src` into `out` and zeroes the rest of `out`. Full rows of the
/// usual widths are fixed-size copies (a runtime-length copy calls memmove per 32-128 bytes).
///
/// # Safety
/// `src` readable for `cols <= out.len()` values.
#[inline(always)]
unsafe fn copy_row(out: &mut [f32], src: *const f32, cols: usize) {
    match (out.len(), cols) {
        // SAFETY: `src` holds `cols` readable values; read_unaligned has no alignment needs.
        (64, 64) => out.copy_from_slice(&unsafe { src.cast::<[f32; 64]>().read_unaligned() }),
        // SAFETY: as above.
        (16, 16) => out.copy_from_slice(&unsafe { src.cast::<[f32; 16]>().read_unaligned() }),
        // SAFETY: as above.
        (8, 8) => out.copy_from_slice(&unsafe { src.cast::<[f32; 8]>().read_unaligned() }),
        _ => {
            // SAFETY: as above.
            out[..cols].copy_from_slice(unsafe { std::slice::from_raw_parts(src, cols) });
            out[cols..].fill(0.0);
        }
    }
}

/// Rows ahead that `pack_b_panel` prefetches: its rows are often pages apart, where hardware
/// prefetchers stop (12-64 rows measured alike).
const PANEL_PREFETCH_ROWS: isize = 32;
