//! The blocked loop nest (after BLIS/matrixmultiply): `jc` over NC columns, `pc` over balanced
//! KC depth blocks, then tasks over (row block x column chunk) that sweep `jr` (NR) and `ir`
//! (MR) tiles with the microkernel. Row-major operands are read in place; others are packed
//! (B once per block and shared, or per panel by the task that uses it when M is small).
//! M = 1 takes the GEMV strips. Tasks run on rayon when more than one thread is asked for.
//! See docs/architecture.md for the measurements behind each choice.

use super::epilogue::Activation;
use super::kernel::{MicroKernel, Tile, TileFn};
use super::pack::{pack_a, pack_b, pack_b_panel, AlignedVec};
use super::packed::PackedB;
use std::cell::RefCell;

/// A strided read-only operand: element `(i, j)` at `ptr + i*rs + j*cs`.
#[derive(Clone, Copy)]
pub(crate) struct Strided {
    pub ptr: *const f32,
    pub rs: isize,
    pub cs: isize,
}

impl Strided {
    /// Address of element `(i, j)` (computed with wrapping arithmetic; valid when in range).
    fn at(&self, i: usize, j: usize) -> *const f32 {
        self.ptr.wrapping_offset((i as isize).wrapping_mul(self.rs).wrapping_add((j as isize).wrapping_mul(self.cs)))
    }
}

/// Where B comes from.
#[derive(Clone, Copy)]
pub(crate) enum BSource<'a> {
    Strided(Strided),
    Packed(&'a PackedB),
}

/// One GEMM call after validation: `C = act(alpha*A*B + beta*C + bias)`, A `m x k`, B `k x n`.
#[derive(Clone, Copy)]
pub(crate) struct Problem<'a> {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub alpha: f32,
    pub a: Strided,
    pub b: BSource<'a>,
    pub beta: f32,
    pub c: *mut f32,
    pub rsc: isize,
    pub csc: isize,
    pub bias: Option<&'a [f32]>,
    pub act: Activation,
}

/// Largest depth block of B (`kc x n`) read in place by several row blocks: the L2 size of the
/// x86 cores we tune on (Zen 4 1 MiB, Sapphire Rapids 2 MiB).
const DIRECT_B_MAX_BYTES: usize = 1 << 20;

/// Most rows of A for which row-major B is always read in place (see `run`).
const DIRECT_B_MAX_M: usize = 64;

/// Rows of B per depth block of the GEMV strips (`run_gemv`). Sweeping all strips over a
/// block of rows before the next, instead of each strip over all of B, measured +5-9% at
/// 1x3072x768 and +15-25% at 1x4096x1024 and 1x1024x4096, with B 64- or 16-byte aligned
/// (128, 192 and 256 rows within 2-3% of each other; 32 rows or 1024 lose).
const GEMV_DEPTH_BLOCK: usize = 192;

/// Tasks per thread in each parallel section (see `Plan`).
const TASKS_PER_THREAD: usize = 4;

/// Largest `MR * NR` and `NR` of any kernel, for the stack buffers of edge tiles (checked by
/// the kernel table's test). Kept tight: the buffer is zeroed for every edge tile that goes
/// through it (1 KiB instead of 4 KiB: AVX2 100^3 +3%, 1000x100x500 +1%).
pub(crate) const MAX_TILE: usize = 4 * 64;
pub(crate) const MAX_NR: usize = 64;

thread_local! {
    static A_SCRATCH: RefCell<AlignedVec> = RefCell::new(AlignedVec::zeroed(0));
    static B_SCRATCH: RefCell<AlignedVec> = RefCell::new(AlignedVec::zeroed(0));
    static PANEL_SCRATCH: RefCell<AlignedVec> = RefCell::new(AlignedVec::zeroed(0));
    static GEMV_SCRATCH: RefCell<AlignedVec> = RefCell::new(AlignedVec::zeroed(0));
}

/// Runs `f` with a thread-local scratch buffer of at least `len` values (a fresh one when the
/// thread's buffer is already in use, e.g. a nested call from a rayon job).
fn with_scratch<R>(
    key: &'static std::thread::LocalKey<RefCell<AlignedVec>>,
    len: usize,
    f: impl FnOnce(&mut [f32]) -> R,
) -> R {
    key.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            buf.ensure(len);
            f(&mut buf.as_mut_slice()[..len])
        }
        Err(_) => f(AlignedVec::zeroed(len).as_mut_slice()),
    })
}

/// Raw pointers that rayon tasks share. Every task writes a disjoint part of C.
#[cfg(feature = "rayon")]
#[derive(Clone, Copy)]
struct Shared<T>(T);
#[cfg(feature = "rayon")]
impl<T: Copy> Shared<T> {
    /// By-method access, so closures capture the whole `Shared` (which is Send), not the field.
    fn get(&self) -> T {
        self.0
    }
}
// SAFETY: the driver only shares pointers to memory that outlives the parallel section; tasks
// read A/B/packed buffers and write disjoint tiles of C.
#[cfg(feature = "rayon")]
unsafe impl<T> Send for Shared<T> {}
// SAFETY: as above.
#[cfg(feature = "rayon")]
unsafe impl<T> Sync for Shared<T> {}

/// Computes the problem with `kern` on `threads` threads (1 = the calling thread only).
///
/// # Safety
/// The pointers in `p` must be valid for every element of their `m x k`, `k x n`, `m x n`
/// views, C must not overlap A or B, and `kern` must come from `MicroKernel::for_isa`.
pub(crate) unsafe fn run(kern: &'static MicroKernel, p: &Problem, threads: usize) {
    if p.m == 0 || p.n == 0 {
        return;
    }
    // BLAS: alpha == 0 means A and B are not read.
    let k = if p.alpha == 0.0 { 0 } else { p.k };
    if let BSource::Strided(b) = p.b {
        if p.m == 1 && b.cs == 1 && p.csc == 1 && !kern.gemv.is_empty() && p.n >= kern.gemv_width() {
            // SAFETY: forwarded contract.
            unsafe { run_gemv(kern, p, b, k, threads) };
            return;
        }
    }
    // Row-major A is read in place: packing it costs more than the broadcasts from a few
    // strided rows (measured: +10% at 3136x64x576, equal on large squares). Row strides that
    // are multiples of 4 KiB would put every row of a tile in the same L1 set: those are packed.
    let direct_a = p.a.cs == 1 && p.a.rs % 1024 != 0;
    let (nr, kc_max) = (kern.nr, kern.depth_block(k));
    // Row-major B is read in place too (NR contiguous values per k step) when few rows share
    // each panel (M <= 64): packing would cost about one more pass over B per panel, which
    // those rows do not earn back, whatever the stride (16x3072x768: 68 -> 104 GFLOP/s,
    // 40x3000x768 +3%, 64x1024x1024 +3%, 64x3072x768 -4%; 2 threads +13..50%). With more rows
    // B is read in place only when its row stride is not a multiple of 4 KiB (which puts a
    // panel's rows in the same L1 sets) and a depth block of it (`kc x n`) fits in L2: a larger
    // block comes from L3 again for every row block, where contiguous panels stream and rows
    // 2..12 KiB apart do not (512x512x4608 +7%, 128x3000x768 +6%; 512^3, whose block fits, -1%
    // if packed). With threads, each one reads part of the block into its own L2 (2 threads,
    // 512x512x1536: in place +3%; 512x512x4608: packed +5%). All of this on AVX-512; kernels
    // with `b_in_place == false` (AVX2) pack B unless a single row of tiles reads it.
    let direct_b = match p.b {
        BSource::Strided(b) => {
            let fits_l2 = kc_max.saturating_mul(p.n).saturating_mul(4) <= DIRECT_B_MAX_BYTES * threads.max(1);
            let shape_ok = p.m <= DIRECT_B_MAX_M || (b.rs % 1024 != 0 && fits_l2);
            b.cs == 1 && (p.m <= kern.mr || (kern.b_in_place && shape_ok))
        }
        BSource::Packed(_) => false,
    };
    let block = |jc: usize, nc: usize, pc: usize| {
        let kc = kc_max.min(k - pc);
        let last = pc + kc == k;
        Block {
            jc,
            nc,
            pc,
            kc,
            beta: if pc == 0 { p.beta } else { 1.0 },
            bias: if last { p.bias.map(|b| &b[jc..jc + nc]) } else { None },
            act: if last { p.act } else { Activation::Identity },
            direct_a,
        }
    };
    // Depth blocks: pc = 0, kc_max, 2*kc_max, ... (one block of depth 0 when k = 0).
    let depth_blocks = move || (0..k.div_ceil(kc_max.max(1)).max(1)).map(move |i| i * kc_max);

    // Small problems with B in place or prepacked (one depth block, one row block, one
    // thread): straight to the tile loops, without the task machinery (one 8x32x1 call: 90 ->
    // 70 ns in place, 104 -> 83 ns prepacked; 32x64x64 +0.8%, 64^3 +0.3%).
    if threads <= 1 && direct_a && k <= kern.kc && p.m <= kern.mc {
        if let BSource::Strided(b) = p.b {
            // Every tile reads B and writes C in place: a loop with nothing else in it (one
            // 4x64x1 call: 58 -> 41 ns; 64^3 +1%).
            if direct_b && p.csc == 1 && kern.writes_cols_in_place((p.n - 1) % nr + 1) {
                // SAFETY: forwarded contract, with the conditions just checked.
                unsafe { sweep_in_place(kern, p, b, k) };
                return;
            }
        }
        let src = match p.b {
            BSource::Strided(b) if direct_b => {
                Some(PanelSource::Direct { ptr: b.ptr, rsb: b.rs, csb: b.cs, pack: false })
            }
            BSource::Packed(pb) if pb.cols() > 0 => Some(PanelSource::Packed { ptr: pb.block_ptr(0, 0), kc: k }),
            _ => None,
        };
        if let Some(src) = src {
            let (blk, panels) = (block(0, p.n, 0), p.n.div_ceil(nr));
            let a = APanels { ptr: p.a.ptr, rsa: p.a.rs, packed: false };
            with_scratch(&PANEL_SCRATCH, k * nr, |panel_buf| {
                // SAFETY: forwarded contract; `src` is B in place or its only packed block.
                unsafe { sweep(kern, p, &blk, src, a, 0, p.m, 0..panels, panel_buf) }
            });
            return;
        }
    }
    // B that must be packed, with few rows (M <= MC): every panel feeds a single row block,
    // so the task that uses a panel packs it right before its tiles (hot in L1/L2, no shared
    // buffer, no NC blocking, packing spread over the threads). Row-major B is packed by the
    // panel's first tile as it reads it (`pack_b_tile`; 1 thread vs a separate banded pass:
    // 128x1024x1024 +4%, 96x3072x768 +4%); other layouts panel by panel, which pays only with
    // threads (2 threads, 16x3072x768: +35%; 1 thread, 128x3072x768: -7% against the banded
    // pass). Otherwise a (KC x NC) block is packed once, in row bands that stream from
    // memory, into a buffer that all tasks share.
    let fused_pack = matches!(p.b, BSource::Strided(b) if b.cs == 1) && kern.pack_b_tile.is_some();
    let pack_in_tasks =
        matches!(p.b, BSource::Strided(_)) && !direct_b && p.m <= kern.mc && (threads > 1 || fused_pack);
    let shared_b_pack = matches!(p.b, BSource::Strided(_)) && !direct_b && !pack_in_tasks;
    let nc_max = if shared_b_pack { kern.nc.next_multiple_of(nr) } else { p.n };
    // One parallel section per (jc, pc) block. (Running all depth blocks inside each task
    // instead, with one section per call, measured 7% slower at 512x512x4608: B blocks lose
    // their L2 reuse across row blocks.)
    for jc in (0..p.n).step_by(nc_max) {
        let nc = nc_max.min(p.n - jc);
        let plan = Plan::new(kern, p.m, nc, threads, !pack_in_tasks);
        for pc in depth_blocks() {
            let blk = block(jc, nc, pc);
            let tasks = |src: PanelSource| {
                // SAFETY: forwarded contract; `src` describes this block's B panels.
                for_each_task(plan.tasks, threads, |t| unsafe { run_task(kern, p, &blk, src, &plan, t) })
            };
            match p.b {
                BSource::Strided(b) if shared_b_pack => {
                    let len = nc.div_ceil(nr) * nr * blk.kc;
                    with_scratch(&B_SCRATCH, len, |buf| {
                        // SAFETY: the (pc, jc) block of kc x nc lies inside B (caller's contract).
                        unsafe { pack_b_parallel(buf, b.at(pc, jc), b.rs, b.cs, blk.kc, nc, nr, threads) };
                        tasks(PanelSource::Packed { ptr: buf.as_ptr(), kc: blk.kc });
                    });
                }
                BSource::Strided(b) => {
                    tasks(PanelSource::Direct { ptr: b.at(pc, jc), rsb: b.rs, csb: b.cs, pack: pack_in_tasks })
                }
                BSource::Packed(pb) => tasks(PanelSource::Packed { ptr: pb.block_ptr(pc, jc), kc: blk.kc }),
            }
        }
    }
}

// SAFETY: a Problem's raw pointers are only dereferenced under `run`'s contract; tasks read
// A and B and write disjoint tiles of C, so sharing it between rayon threads is sound.
unsafe impl Sync for Problem<'_> {}
// SAFETY: operands are only read through these pointers during a call, under `run`'s contract.
unsafe impl Sync for Strided {}
// SAFETY: as above.
unsafe impl Send for Strided {}
// SAFETY: the panels are read-only for the duration of the parallel section.
unsafe impl Sync for PanelSource {}
// SAFETY: as above.
unsafe impl Send for PanelSource {}

/// M = 1 with row-major B: stream B once in strips as wide as the kernel's GEMV tiles allow
/// (widest first), no packing and no K blocking (the row of C stays in registers). Columns
/// left over go through the tiled path.
///
/// # Safety
/// As for [`run`], plus `b.cs == 1`, `p.csc == 1`, `p.m == 1`.
unsafe fn run_gemv(kern: &'static MicroKernel, p: &Problem, b: Strided, k: usize, threads: usize) {
    if let (Some(rows), true) = (kern.gemv_rows, k > 1) {
        with_scratch(&GEMV_SCRATCH, p.n, |acc| {
            // SAFETY: A's row holds k values `p.a.cs` apart, B is k x n row-major (forwarded
            // contract); acc holds n values.
            unsafe { rows(k, p.n, p.a.ptr, p.a.cs, b.ptr, b.rs, acc.as_mut_ptr()) };
            // The epilogue (alpha, beta, bias, activation) as the product [1] x acc (k = 1,
            // so this does not come back here).
            let one = [1.0f32];
            let epilogue = Problem {
                k: 1,
                a: Strided { ptr: one.as_ptr(), rs: 1, cs: 1 },
                b: BSource::Strided(Strided { ptr: acc.as_ptr(), rs: p.n as isize, cs: 1 }),
                ..*p
            };
            // SAFETY: `one` and `acc` outlive the call; C is the caller's, disjoint from both.
            unsafe { run(kern, &epilogue, threads) };
        });
        return;
    }
    // With masked tiles (they read only the columns they are given), the columns after the
    // last wide strip are masked strips too, instead of a packed tiled pass (1x1000x1000
    // +11%).
    let masked = !kern.masked.is_empty();
    // Without masked tiles (AVX2), ymm loads that straddle cache lines cost a quarter of the
    // speed: when every row of B has the same misalignment, the first few columns go through
    // the tiled path and the strips start on a 32-byte boundary (1x3072x768 with 16-byte
    // aligned B: +11%, 1x4096x1024 +41%). (With AVX-512 the same measured no gain.)
    if !masked && b.rs % 8 == 0 {
        let lead = (32 - (b.ptr as usize) % 32) % 32 / 4;
        if lead > 0 && p.n >= lead + kern.gemv_width() {
            // SAFETY: sub-views of the same operands; the head is narrower than any GEMV
            // strip (tiled path), the rest starts aligned (no lead again).
            unsafe {
                run(kern, &p.columns(b, 0, lead), threads);
                run(kern, &p.columns(b, lead, p.n - lead), threads);
            }
            return;
        }
    }
    // One group of strips per thread, each over an equal share of the columns (in multiples
    // of the narrowest strip, so only the last share has columns left over), widest first.
    let unit = kern.gemv.last().map_or(1, |g| g.1);
    let parts = threads.min(p.n / unit.max(1)).max(1);
    let mut groups: Vec<Vec<(usize, TileFn, usize)>> = Vec::with_capacity(parts);
    let mut j = 0;
    for t in 0..parts {
        let end = if t + 1 == parts { p.n } else { p.n * (t + 1) / parts / unit * unit };
        let mut strips = Vec::new();
        for &(f, w) in kern.gemv {
            while end - j >= w {
                strips.push((j, f, w));
                j += w;
            }
        }
        if masked {
            while j < end {
                let w = kern.nr.min(end - j);
                strips.push((j, kern.masked_fn(1, w), w));
                j += w;
            }
        }
        groups.push(strips);
    }
    let done = j;
    // A group of several strips runs depth block by depth block: all its strips over
    // GEMV_DEPTH_BLOCK rows of B, then the next rows (C holds the partial sums in between).
    // A lone strip gains nothing from it (2 threads, 1x768x3072: -11%) and runs in one go.
    // `move` captures `p` (a reference, Sync) whole instead of its raw-pointer fields.
    let run_strips = move |a: *const f32, strips: &[(usize, TileFn, usize)]| {
        let depth = if strips.len() > 1 { GEMV_DEPTH_BLOCK } else { k.max(1) };
        let blocks = k.div_ceil(depth).max(1);
        for blk in 0..blocks {
            let p0 = blk * depth;
            let (first, last) = (blk == 0, blk + 1 == blocks);
            for &(j, f, w) in strips {
                let tile = Tile {
                    k: depth.min(k - p0),
                    a: a.wrapping_add(p0),
                    rsa: 0,
                    csa: 1,
                    b: b.at(p0, j),
                    ldb: b.rs,
                    c: p.c.wrapping_add(j),
                    rsc: p.rsc,
                    alpha: p.alpha,
                    beta: if first { p.beta } else { 1.0 },
                    bias: match p.bias {
                        Some(bias) if last => bias[j..].as_ptr(),
                        _ => std::ptr::null(),
                    },
                    act: if last { p.act } else { Activation::Identity },
                    cols: w,
                    b_pack: std::ptr::null_mut(),
                    prefetch_next_a: false,
                };
                // SAFETY: the strip covers columns j..j+w <= n of B and C (unit column stride;
                // a masked strip reads and writes only its w columns) and rows p0..p0+tile.k
                // < k of B; `a` holds the k values of A's single row.
                unsafe { f(&tile) };
            }
        }
    };
    with_scratch(&A_SCRATCH, if p.a.cs == 1 { 0 } else { k }, |arow| {
        let a = if p.a.cs == 1 {
            p.a.ptr
        } else {
            // SAFETY: row 0, columns 0..k of A are readable.
            unsafe { pack_a(arow, p.a.ptr, p.a.rs, p.a.cs, 1, k, 1) };
            arow.as_ptr()
        };
        #[cfg(feature = "rayon")]
        if groups.len() > 1 {
            use rayon::prelude::*;
            let a = Shared(a);
            groups.par_iter().for_each(|group| run_strips(a.get(), group));
            return;
        }
        groups.iter().for_each(|group| run_strips(a, group));
    });
    if done < p.n {
        // SAFETY: the tail is a sub-view of the same operands; it is narrower than the
        // narrowest GEMV tile, so this does not recurse into the GEMV path.
        unsafe { run(kern, &p.columns(b, done, p.n - done), threads) };
    }
}

impl<'a> Problem<'a> {
    /// Columns `j0..j0 + n` of the problem, B row-major in `b`, C with unit column stride
    /// (the GEMV path's pieces).
    fn columns(&self, b: Strided, j0: usize, n: usize) -> Problem<'a> {
        Problem {
            n,
            b: BSource::Strided(Strided { ptr: b.at(0, j0), ..b }),
            c: self.c.wrapping_add(j0),
            bias: self.bias.map(|bias| &bias[j0..j0 + n]),
            ..*self
        }
    }
}

/// One (jc, pc) block of the loop nest.
struct Block<'a> {
    jc: usize,
    nc: usize,
    pc: usize,
    kc: usize,
    beta: f32,
    bias: Option<&'a [f32]>,
    act: Activation,
    /// A is read in place (row-major), not packed.
    direct_a: bool,
}

/// Where the B panels of the current block live.
#[derive(Clone, Copy)]
enum PanelSource {
    /// Packed panels of `kc x NR`, panel `j` at `ptr + j*kc*NR`.
    Packed { ptr: *const f32, kc: usize },
    /// Unpacked B starting at the block's (pc, jc) element: read in place (`csb == 1`) or,
    /// with `pack`, each panel packed by the task that uses it, right before its tiles.
    Direct { ptr: *const f32, rsb: isize, csb: isize, pack: bool },
}

/// `pack_b` on `threads` threads (each a contiguous range of panels) when the block is big.
///
/// # Safety
/// As for `pack_b`: `b + p*rsb + j*csb` readable for `p < kc`, `j < nc`.
#[allow(clippy::too_many_arguments)]
unsafe fn pack_b_parallel(
    buf: &mut [f32],
    b: *const f32,
    rsb: isize,
    csb: isize,
    kc: usize,
    nc: usize,
    nr: usize,
    threads: usize,
) {
    #[cfg(feature = "rayon")]
    if threads > 1 && kc * nc >= 64 * 1024 {
        use rayon::prelude::*;
        // One contiguous range of panels per thread, each packed row by row.
        let panels = nc.div_ceil(nr);
        let per_thread = panels.div_ceil(threads);
        let b = Shared(b);
        buf[..panels * nr * kc].par_chunks_mut(per_thread * nr * kc).enumerate().for_each(|(t, out)| {
            let j0 = t * per_thread * nr;
            let cols = (per_thread * nr).min(nc - j0);
            // SAFETY: columns j0..j0+cols are inside the block the caller vouched for.
            unsafe { pack_b(out, b.get().offset(j0 as isize * csb), rsb, csb, kc, cols, nr) };
        });
        return;
    }
    let _ = threads;
    // SAFETY: the caller vouched for the block.
    unsafe { pack_b(buf, b, rsb, csb, kc, nc, nr) };
}

/// How a block of `m x nc` is cut into tasks: row blocks of `mc` x chunks of B panels.
struct Plan {
    mc: usize,
    panels: usize,
    col_chunks: usize,
    panels_per_chunk: usize,
    tasks: usize,
}

impl Plan {
    /// `split_rows: false` keeps all rows in one block (each B panel is then used by exactly
    /// one task), so threads split N only.
    fn new(kern: &MicroKernel, m: usize, nc: usize, threads: usize, split_rows: bool) -> Self {
        let panels = nc.div_ceil(kern.nr);
        // With threads, cut M into a multiple of `threads` equal blocks (no straggler block).
        let mc = if !split_rows {
            m.max(1)
        } else if threads > 1 {
            let blocks = m.div_ceil(kern.mc).next_multiple_of(threads);
            m.div_ceil(blocks).next_multiple_of(kern.mr)
        } else {
            kern.mc
        };
        let row_blocks = m.div_ceil(mc);
        // Several tasks per thread, so rayon's work stealing absorbs a thread that starts late
        // or shares its core (one task per thread made every call as slow as its slowest thread).
        let target = if threads > 1 { TASKS_PER_THREAD * threads } else { 1 };
        let col_chunks = if row_blocks >= target { 1 } else { panels.min(target.div_ceil(row_blocks)) };
        let panels_per_chunk = panels.div_ceil(col_chunks);
        Plan { mc, panels, col_chunks, panels_per_chunk, tasks: row_blocks * col_chunks }
    }
}

/// Runs `task(0..tasks)`, on rayon when there are threads and more than one task.
fn for_each_task(tasks: usize, threads: usize, task: impl Fn(usize) + Sync + Send) {
    #[cfg(feature = "rayon")]
    if threads > 1 && tasks > 1 {
        use rayon::prelude::*;
        (0..tasks).into_par_iter().for_each(task);
        return;
    }
    let _ = threads;
    (0..tasks).for_each(task);
}

/// Task `t` of a block: its A rows (read in place or packed) against its chunk of B panels.
///
/// # Safety
/// As for [`run`]; `src` describes readable panels for this block.
unsafe fn run_task(kern: &'static MicroKernel, p: &Problem, blk: &Block, src: PanelSource, plan: &Plan, t: usize) {
    let (rb, cb) = (t / plan.col_chunks, t % plan.col_chunks);
    let i0 = rb * plan.mc;
    let rows = plan.mc.min(p.m - i0);
    let j_panels = (cb * plan.panels_per_chunk)..((cb + 1) * plan.panels_per_chunk).min(plan.panels);
    let a0 = p.a.at(i0, blk.pc);
    with_scratch(&PANEL_SCRATCH, blk.kc * kern.nr, |panel_buf| {
        if blk.direct_a {
            let a = APanels { ptr: a0, rsa: p.a.rs, packed: false };
            // SAFETY: rows i0..i0+rows, columns pc..pc+kc are inside A (row-major, csa = 1).
            unsafe { sweep(kern, p, blk, src, a, i0, rows, j_panels, panel_buf) };
            return;
        }
        with_scratch(&A_SCRATCH, rows * blk.kc, |abuf| {
            // SAFETY: rows i0..i0+rows, columns pc..pc+kc are inside A.
            unsafe {
                pack_a(abuf, a0, p.a.rs, p.a.cs, rows, blk.kc, kern.mr);
                let a = APanels { ptr: abuf.as_ptr(), rsa: 1, packed: true };
                sweep(kern, p, blk, src, a, i0, rows, j_panels, panel_buf);
            }
        });
    });
}

/// The A block of a task: packed panels (`MR x kc` each, contiguous) or row-major A in place.
#[derive(Clone, Copy)]
struct APanels {
    ptr: *const f32,
    rsa: isize,
    packed: bool,
}

/// The `jr` / `ir` loops over one A block and a range of B panels.
///
/// # Safety
/// As for [`run_task`]; `a` describes the `rows x kc` A block starting at row `i0`;
/// `panel_buf` holds `kc * NR` values (for panels packed on the spot).
#[allow(clippy::too_many_arguments)]
unsafe fn sweep(
    kern: &'static MicroKernel,
    p: &Problem,
    blk: &Block,
    src: PanelSource,
    a: APanels,
    i0: usize,
    rows: usize,
    j_panels: std::ops::Range<usize>,
    panel_buf: &mut [f32],
) {
    let (mr, nr, kc) = (kern.mr, kern.nr, blk.kc);
    let first_panel = j_panels.start;
    for jp in j_panels {
        let j = jp * nr; // column inside the block
        let cols = nr.min(blk.nc - j);
        let no_pack = std::ptr::null_mut();
        let (mut bptr, mut ldb, mut b_pack) = match src {
            PanelSource::Packed { ptr, kc } => (ptr.wrapping_add(jp * kc * nr), nr as isize, no_pack),
            // In place: a whole panel, or one whose tiles are masked (they read only its
            // `cols` columns).
            PanelSource::Direct { ptr, rsb, csb: 1, pack: false } if cols == nr || kern.masks(cols) => {
                (ptr.wrapping_add(j), rsb, no_pack)
            }
            // A full row-major panel to pack, and a full first tile: that tile reads B in place
            // and packs it for the tiles after it (`MicroKernel::pack_b_tile`).
            PanelSource::Direct { ptr, rsb, csb: 1, .. } if cols == nr && rows >= mr && kern.pack_b_tile.is_some() => {
                (ptr.wrapping_add(j), rsb, panel_buf.as_mut_ptr())
            }
            PanelSource::Direct { ptr, rsb, csb, .. } => {
                // Packed here: a panel the task asked to pack, or one narrower than its tiles
                // (zero-padded).
                // SAFETY: columns j..j+cols of the block are inside B.
                unsafe { pack_b_panel(panel_buf, ptr.wrapping_offset(j as isize * csb), rsb, csb, kc, cols, nr) };
                (panel_buf.as_ptr(), nr as isize, no_pack)
            }
        };
        let bias = blk.bias.map(|b| &b[j..j + cols]);
        let mut i = 0;
        let mut apanel = a.ptr;
        while i < rows {
            let m = mr.min(rows - i);
            let row = i0 + i;
            let col = blk.jc + j;
            // SAFETY: (row, col) is inside C; the tile is m x cols.
            let c = unsafe { p.c.offset(row as isize * p.rsc + col as isize * p.csc) };
            let tile = Tile {
                k: kc,
                a: apanel,
                rsa: a.rsa,
                csa: if a.packed { m as isize } else { 1 },
                b: bptr,
                ldb,
                c,
                rsc: p.rsc,
                alpha: p.alpha,
                beta: blk.beta,
                bias: std::ptr::null(),
                act: blk.act,
                cols,
                b_pack,
                // The first panel's tiles are the first to read their A rows.
                prefetch_next_a: !a.packed && jp == first_panel && i + 2 * mr <= rows,
            };
            // SAFETY: forwarded contract; `b_pack`, when set, is `panel_buf` (kc * NR values).
            unsafe { run_tile(kern, tile, m, cols, p.csc, bias) };
            if !b_pack.is_null() {
                (bptr, ldb, b_pack) = (panel_buf.as_ptr(), nr as isize, no_pack);
            }
            // Wrapping: after the last tile this points past the view (never dereferenced), and
            // with an extreme row stride the product itself may overflow.
            apanel = if a.packed {
                apanel.wrapping_add(m * kc)
            } else {
                apanel.wrapping_offset((m as isize).wrapping_mul(a.rsa))
            };
            i += m;
        }
    }
}

/// The tiles of a one-block product whose A and B are read in place and whose tiles all
/// write C in place (unit column stride; full panels or masked ones): per panel, one `Tile`
/// that moves down the rows and one function for its full-height tiles.
///
/// # Safety
/// As for [`run`], plus: `k <= KC`, row-major A (`p.a.cs == 1`) and B (`b.cs == 1`),
/// `p.csc == 1`, and `kern.writes_cols_in_place` for the last panel's width.
unsafe fn sweep_in_place(kern: &'static MicroKernel, p: &Problem, b: Strided, k: usize) {
    let (mr, nr) = (kern.mr, kern.nr);
    for j in (0..p.n).step_by(nr) {
        let cols = nr.min(p.n - j);
        let mut t = Tile {
            k,
            a: p.a.ptr,
            rsa: p.a.rs,
            csa: 1,
            b: b.ptr.wrapping_add(j),
            ldb: b.rs,
            c: p.c.wrapping_add(j),
            rsc: p.rsc,
            alpha: p.alpha,
            beta: p.beta,
            bias: p.bias.map_or(std::ptr::null(), |bias| bias[j..].as_ptr()),
            act: p.act,
            cols,
            b_pack: std::ptr::null_mut(),
            prefetch_next_a: false,
        };
        let full = kern.tile_fn(mr, cols, &t);
        let mut i = 0;
        while i < p.m {
            let m = mr.min(p.m - i);
            let f = if m == mr { full } else { kern.tile_fn(m, cols, &t) };
            // The first panel's tiles are the first to read their A rows.
            t.prefetch_next_a = j == 0 && i + 2 * mr <= p.m;
            // SAFETY: rows i..i+m and columns j..j+cols of A, B and C are inside the views
            // (forwarded contract); the tile reads and writes only its `cols` columns.
            unsafe { f(&t) };
            // Wrapping: past the last tile these point outside the views (never dereferenced).
            t.a = t.a.wrapping_offset((m as isize).wrapping_mul(p.a.rs));
            t.c = t.c.wrapping_offset((m as isize).wrapping_mul(p.rsc));
            i += m;
        }
    }
}

/// Runs one tile: straight into C when it is full width with unit column stride, else through
/// a stack buffer so the kernel always sees a full `m x NR` row-major tile.
///
/// # Safety
/// `t.c` addresses an `m x cols` tile of C with row stride `t.rsc`, column stride `csc`.
#[inline]
unsafe fn run_tile(kern: &MicroKernel, mut t: Tile, m: usize, cols: usize, csc: isize, bias: Option<&[f32]>) {
    let nr = kern.nr;
    if csc == 1 && kern.writes_cols_in_place(cols) {
        t.bias = bias.map_or(std::ptr::null(), |b| b.as_ptr());
        // SAFETY: the tile writes its `cols` columns in place (whole or masked); the kernel's
        // ISA is available (kern from for_isa).
        unsafe { kern.tile_fn(m, cols, &t)(&t) };
        return;
    }
    // A hard check (edge tiles only): the kernel writes m x NR values into `tmp` through a raw pointer.
    assert!(m * nr <= MAX_TILE && nr <= MAX_NR, "{}: tile larger than the edge buffer", kern.name);
    let mut tmp = [0.0f32; MAX_TILE];
    let mut bias_tmp = [0.0f32; MAX_NR];
    let c = t.c;
    let rsc = t.rsc;
    if t.beta != 0.0 {
        for i in 0..m {
            for j in 0..cols {
                // SAFETY: (i, j) is inside the tile.
                tmp[i * nr + j] = unsafe { *c.offset(i as isize * rsc + j as isize * csc) };
            }
        }
    }
    if let Some(b) = bias {
        bias_tmp[..cols].copy_from_slice(b);
        t.bias = bias_tmp.as_ptr();
    }
    t.c = tmp.as_mut_ptr();
    t.rsc = nr as isize;
    // (t.cols stays `cols`: a masked tile may be reading a partial panel of B in place.)
    // SAFETY: tmp holds m x NR values; see above for the ISA. (The function is picked once
    // the tile is complete: `tile_fn` looks at its bias.)
    unsafe { kern.tile_fn(m, cols, &t)(&t) };
    for i in 0..m {
        for j in 0..cols {
            // SAFETY: (i, j) is inside the tile.
            unsafe { *c.offset(i as isize * rsc + j as isize * csc) = tmp[i * nr + j] };
        }
    }
}
