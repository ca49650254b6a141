//! The planner: `plan(kernel, problem, threads) -> Strategy`, a pure function that makes
//! every decision of a GEMM call (path, blocking, packing, thread split) so the executors only
//! carry them out, and tests can assert them. The measurements behind each rule are in
//! docs/gemm-tuning.md; one line of why stays at each decision.

use super::problem::{BSource, Problem};
use super::ukernel::{BInPlace, MicroKernel, DOT_ROWS};
use crate::isa::Isa;
use crate::CacheSizes;

/// How a GEMM call runs (see [`crate::Gemm::plan`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Strategy {
    /// `m == 0` or `n == 0`: nothing to compute.
    Nothing,
    /// M = 1 with row-major B on a kernel with a whole-row GEMV (AVX2, wasm): B's rows stream
    /// into a row of partial sums, then the epilogue runs as a `1 x n x 1` product. With
    /// `threads > 1`, each thread streams its own share of the columns.
    GemvRows {
        /// Parallel tasks (column shares), 1 for none.
        threads: usize,
    },
    /// M = 1 with row-major B: `1 x w` strips read B in place, no packing.
    GemvStrips(GemvPlan),
    /// N <= 3 with row-major A (or, transposed, M <= 3 with column-major B): dot products of
    /// A's rows (B's columns) with the few columns of B (rows of A), each row streamed once.
    GemvDot(DotPlan),
    /// A small product (one depth block, one row block, one thread) whose tiles all read A and
    /// B and write C in place: one tile per panel moved down the rows, nothing else.
    SweepInPlace,
    /// The blocked loop nest (BLIS order) with the packing and thread split below.
    Blocked(BlockedPlan),
}

/// The GEMV strips of [`Strategy::GemvStrips`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GemvPlan {
    /// Leading columns computed by the blocked path first, so the strips start on a 32-byte
    /// boundary of B (kernels without masked tiles: unaligned wide loads cost a quarter).
    pub head: usize,
    /// One group per thread: strips `(first column, width)`, widest first.
    pub groups: Vec<Vec<Strip>>,
    /// Columns after the last strip, computed by the blocked path.
    pub tail: usize,
    /// Rows of B per depth block when a group has several strips (all its strips sweep one
    /// block of B's rows before the next; C holds the partial sums in between).
    pub depth_block: usize,
    /// Threads for the head and tail columns.
    pub threads: usize,
}

/// The dot-product GEMV of [`Strategy::GemvDot`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DotPlan {
    /// Computes `C^T = B^T A^T`: the rows streamed are B's columns (column-major B), the
    /// vectors they meet are A's `m <= 3` rows.
    pub transposed: bool,
    /// The vectors (B's columns, or A's rows when transposed) are copied to a contiguous
    /// buffer first (their elements are not adjacent).
    pub gather: bool,
    /// Rows streamed per task: all of them on one thread; with threads a multiple of 4 (the
    /// rows a kernel call shares loads across).
    pub rows_per_task: usize,
    /// Threads the tasks run on.
    pub threads: usize,
}

/// One `1 x width` GEMV strip.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Strip {
    /// First column.
    pub col: usize,
    /// Columns.
    pub width: usize,
    /// A masked tile (reads and writes only `width` columns) rather than a GEMV strip kernel.
    pub masked: bool,
}

/// The blocked loop nest of [`Strategy::Blocked`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockedPlan {
    /// How A reaches the tiles.
    pub a: APlan,
    /// How B reaches the tiles.
    pub b: BPlan,
    /// Depth of each block (balanced: all equal but the last).
    pub kc: usize,
    /// Columns of each B block (`n` when B is not packed into a shared buffer).
    pub nc: usize,
    /// Threads the tasks run on.
    pub threads: usize,
    /// One block, one row block, one thread: the tile loops run without the task machinery.
    pub single_pass: bool,
    /// Each task runs every depth block of its rows, rather than all tasks one depth block
    /// after another: with prepacked B small enough to stay in L2 whole (half of
    /// [`CacheSizes::l2`]), C's rows stay in cache between depth blocks and the threads
    /// meet once instead of once per block.
    pub depth_in_task: bool,
}

/// How A reaches the tiles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum APlan {
    /// Row-major A read in place.
    InPlace,
    /// Packed by each task into `MR`-row panels.
    Packed,
    /// Gathered through an indirection buffer into `MR`-row panels by each task (convolution).
    Indirect,
    /// Read by the tiles through row pointers that each task derives from the indirection
    /// buffer (convolution with enough channels per tap: no copy of A at all).
    IndirectRows,
}

/// How B reaches the tiles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BPlan {
    /// Row-major B read in place (partial panels masked or packed on the spot).
    InPlace,
    /// Each task packs the panels it uses right before their tiles (the first full tile of a
    /// row-major panel packs it as it reads it, on kernels with a `PackB` variant).
    PackedPerTask,
    /// Each `KC x NC` block packed once into a buffer all tasks share.
    PackedShared,
    /// A [`crate::PackedB`].
    Prepacked,
}

/// Largest depth block of B (`kc x n`) read in place by several row blocks: an L2 of the x86
/// cores tuned on (Zen 4 1 MiB, Sapphire Rapids 2 MiB).
const DIRECT_B_MAX_BYTES: usize = 1 << 20;

/// A depth block of B (`kc x n`) this small stays in L1 (half of the smallest L1d tuned on).
const B_IN_L1_BYTES: usize = 16 << 10;

/// Most rows of A for which row-major B is always read in place.
const DIRECT_B_MAX_M: usize = 64;

/// Most rows of A for which a [`BInPlace::FewRows`] kernel reads B in place (the portable
/// 2x16 on Zen 3: in place 8 x 768 x 768 level with packed, 12 rows 0.87x, 16 x 1024 x 1024
/// 0.78x).
const FEW_ROWS_MAX_M: usize = 8;

/// Fewest channels per tap for which a convolution's tiles read A through row pointers
/// instead of a gathered copy: below it a run is too short to pay for its pointers.
const INDIRECT_ROWS_MIN_CIN: usize = 4;

/// Rows of B per depth block of a group of GEMV strips (128-256 measured alike).
pub(crate) const GEMV_DEPTH_BLOCK: usize = 192;

/// Rows of B per depth block of GEMV strips when B's rows are [`PAGE_BYTES`] or more apart:
/// a strip then touches one page per row, and 32 rows beat 192 with B of 64 MiB by 4-9%
/// (AVX-512) and 12-14% (AVX2) on Sapphire Rapids, within noise or better on the other shapes.
pub(crate) const GEMV_DEPTH_BLOCK_PAGED: usize = 32;

/// [`GEMV_DEPTH_BLOCK_PAGED`] for the AVX2 strips (96 columns: each visit of a row reads 6 cache
/// lines of its page). Zen 3, B of 64 MiB (1x4096x4096, 1x2048x8192): 16 rows 1.10-1.20x 32 at 1
/// and 2 threads, within noise with B in L3; 8 rows 1.34-1.42x at 64 MiB but 0.71-0.83x in L3.
pub(crate) const GEMV_DEPTH_BLOCK_PAGED_AVX2: usize = 16;

/// The smallest page size of x86-64 and AArch64.
const PAGE_BYTES: usize = 4096;

/// Row strides that are multiples of this many floats (4 KiB) put every row of a tile in the
/// same L1 set: such operands are packed.
const SET_CONFLICT_STRIDE: isize = 1024;

/// Smallest depth at which N = 2, 3 take the dot kernel (N = 1 always does): below it the
/// tiles' masked or edge columns are as fast (3136 x 2 x 8: 3.5 against 4.7 GFLOP/s; from
/// k = 16 the dot kernel wins, 1.3-3x at k = 16-64 on Sapphire Rapids, docs/gemm-tuning.md).
const DOT_MIN_K_MULTI: usize = 16;

/// Least multiply-adds per task of a threaded dot GEMV (and of a whole-row GEMV's share).
const DOT_TASK_MIN_WORK: usize = 1 << 16;

/// Fewest columns of a whole-row GEMV's per-thread share (a multiple of 16: shares start on a
/// cache line of each row when B's rows do).
pub(crate) const GEMV_ROWS_TASK_COLS: usize = 64;

/// Least multiply-adds for which an AVX2 whole-row GEMV runs with threads; below, the threaded
/// strips. Zen 3, 2 threads, rows against strips: 1x1024x1024 1.07-1.20x, 1x3072x768
/// 1.09-1.17x, B of 64 MiB 1.09-1.35x, but 1x768x768 0.72-0.81x (one thread: rows 1.0-1.57x
/// everywhere).
const GEMV_ROWS_MIN_THREADED_WORK: usize = 1 << 20;

/// Decides how `kern` computes `p` on `threads` threads.
pub(crate) fn plan(kern: &MicroKernel, p: &Problem, threads: usize) -> Strategy {
    if p.m == 0 || p.n == 0 {
        return Strategy::Nothing;
    }
    let k = p.depth();
    if p.a_indirect.is_some() {
        return plan_indirect(kern, p, k, threads);
    }
    if let Some(d) = plan_dot(kern, p, k, threads) {
        return Strategy::GemvDot(d);
    }
    if let BSource::Strided(b) = p.b {
        if p.m == 1 && b.cs == 1 && p.c.cs == 1 && !kern.gemv.is_empty() && p.n >= kern.gemv_width() {
            let work = k.saturating_mul(p.n);
            // AVX2 with threads: the strips scale better on small products (see the constant).
            let strips_scale_better = kern.isa == Isa::Avx2 && threads > 1 && work < GEMV_ROWS_MIN_THREADED_WORK;
            if kern.gemv_rows.is_some() && k > 1 && !strips_scale_better {
                // Column shares of at least GEMV_ROWS_TASK_COLS columns and DOT_TASK_MIN_WORK
                // multiply-adds each.
                let most = (p.n / GEMV_ROWS_TASK_COLS).min(work / DOT_TASK_MIN_WORK);
                return Strategy::GemvRows { threads: threads.min(most).max(1) };
            }
            return Strategy::GemvStrips(plan_gemv(kern, p.n, b.ptr as usize, b.rs, threads));
        }
    }
    let (nr, kc) = (kern.nr, kern.depth_block(k));
    // Row-major A is read in place: packing costs more than the broadcasts from a few rows.
    // Kernels whose tiles want A broadcast-packed get it packed, but for a product of one
    // block (then packing does not pay for itself: 64^3 0.8x).
    let one_block = threads <= 1 && k <= kern.kc && p.m <= kern.mc;
    let direct_a = p.a.cs == 1 && p.a.rs % SET_CONFLICT_STRIDE != 0 && (kern.packed_a_lanes() == 1 || one_block);
    let direct_b = match p.b {
        BSource::Strided(b) => {
            // With few rows B is read in place whatever its stride (packing would cost a pass
            // over B that few rows do not earn back); with more, only when a depth block of it
            // fits in L2 and its rows do not conflict in L1 (`BInPlace`).
            let few_rows = p.m <= DIRECT_B_MAX_M;
            let fits_l2 = kc.saturating_mul(p.n).saturating_mul(4) <= DIRECT_B_MAX_BYTES * threads.max(1);
            let by_kernel = match kern.b_in_place {
                BInPlace::Never => false,
                BInPlace::FewRows => p.m <= FEW_ROWS_MAX_M && b.rs % SET_CONFLICT_STRIDE != 0,
                BInPlace::ByShape => few_rows || (b.rs % SET_CONFLICT_STRIDE != 0 && fits_l2),
            };
            // A single row of tiles, or a block small enough to stay in L1: in place on every
            // kernel.
            let fits_l1 = kc.saturating_mul(p.n).saturating_mul(4) <= B_IN_L1_BYTES;
            b.cs == 1 && (p.m <= kern.mr || fits_l1 || by_kernel)
        }
        BSource::Packed(_) => false,
    };
    let a = if direct_a { APlan::InPlace } else { APlan::Packed };
    let single_block = direct_a && one_block;
    if single_block && direct_b && p.c.cs == 1 && kern.writes_cols_in_place((p.n - 1) % nr + 1) {
        return Strategy::SweepInPlace;
    }
    let blocked = |b, nc, single_pass| {
        Strategy::Blocked(BlockedPlan { a, b, kc, nc, threads, single_pass, depth_in_task: false })
    };
    match p.b {
        BSource::Strided(_) if direct_b => blocked(BPlan::InPlace, p.n, single_block),
        BSource::Packed(pb) => Strategy::Blocked(BlockedPlan {
            a,
            b: BPlan::Prepacked,
            kc,
            nc: p.n,
            threads,
            single_pass: single_block && pb.cols() > 0,
            depth_in_task: depth_blocks_in_task(k, kc, p.n),
        }),
        BSource::Strided(b) => {
            // With few rows (M <= MC) every panel feeds one row block: the task that uses a
            // panel packs it, hot in L1/L2, no shared buffer (with one thread only where the
            // first tile packs row-major B as it reads it).
            let fused_pack = b.cs == 1 && kern.pack_b_tile.is_some();
            // AVX2 also takes all rows in one block when A's block fits in half of L2: with
            // threads up to 2 MC rows, and any number when B's rows are under a page apart (the
            // packing tile reads one row of B per k step; 12 KiB apart, 128x3072x768 lost 8% on
            // one thread). No separate packing pass, no join after it, no short last row block
            // (128 = 120 + 8). Zen 3, in-process A/B: 1 thread 128^3-256^3, 128x512x512 +2-4%;
            // 2 threads 128^3 +17%, 256^3 +5-8%, 300x300x200 +5-16%, 128x3072x768 equal
            // (AVX-512 not measured).
            let a_in_l2 = p.m.saturating_mul(kc).saturating_mul(4) <= CacheSizes::for_planning().l2 / 2;
            let near_rows = b.rs.unsigned_abs().saturating_mul(4) < PAGE_BYTES;
            let all_rows = kern.isa == Isa::Avx2
                && direct_a
                && fused_pack
                && a_in_l2
                && ((threads > 1 && p.m <= 2 * kern.mc) || near_rows);
            if (p.m <= kern.mc || all_rows) && (threads > 1 || fused_pack) {
                blocked(BPlan::PackedPerTask, p.n, false)
            } else {
                blocked(BPlan::PackedShared, kern.nc.next_multiple_of(nr), false)
            }
        }
    }
}

/// The dot-product GEMV, when `p` is one: N <= 3 (the kernel's dot widths) with row-major A,
/// or M <= 3 with column-major B (transposed), N = 1 at any depth, N = 2, 3 from
/// [`DOT_MIN_K_MULTI`].
fn plan_dot(kern: &MicroKernel, p: &Problem, k: usize, threads: usize) -> Option<DotPlan> {
    let BSource::Strided(b) = p.b else { return None };
    let widths = kern.gemv_dot.len();
    let deep_enough = |cols: usize| cols == 1 || k >= DOT_MIN_K_MULTI;
    // (transposed, rows streamed, vectors' element stride)
    let (transposed, rows, x_stride) = if p.n <= widths && (p.a.cs == 1 || k <= 1) && deep_enough(p.n) {
        (false, p.m, b.rs)
    } else if p.m <= widths && (b.rs == 1 || k <= 1) && deep_enough(p.m) {
        (true, p.n, p.a.cs)
    } else {
        return None;
    };
    let threads = if threads > 1 && rows.saturating_mul(k) >= 2 * DOT_TASK_MIN_WORK { threads } else { 1 };
    let rows_per_task = if threads > 1 {
        // About TASKS_PER_THREAD tasks per thread, none under DOT_TASK_MIN_WORK.
        let min_rows = DOT_TASK_MIN_WORK.div_ceil(k.max(1));
        rows.div_ceil(TASKS_PER_THREAD * threads).max(min_rows).next_multiple_of(DOT_ROWS)
    } else {
        rows.max(1)
    };
    Some(DotPlan { transposed, gather: x_stride != 1 && k > 1, rows_per_task, threads })
}

/// An implicit GEMM (A through an indirection buffer): always blocked, A gathered per task.
fn plan_indirect(kern: &MicroKernel, p: &Problem, k: usize, threads: usize) -> Strategy {
    let kc = kern.depth_block(k);
    let (b, nc) = match p.b {
        BSource::Packed(_) => (BPlan::Prepacked, p.n),
        BSource::Strided(b) if b.cs == 1 && p.m <= kern.mr => (BPlan::InPlace, p.n),
        BSource::Strided(_) => (BPlan::PackedShared, kern.nc.next_multiple_of(kern.nr)),
    };
    let rows = !kern.indirect.is_empty() && p.a_indirect.is_some_and(|ind| ind.cin >= INDIRECT_ROWS_MIN_CIN);
    let a = if rows { APlan::IndirectRows } else { APlan::Indirect };
    let depth_in_task = b == BPlan::Prepacked && depth_blocks_in_task(k, kc, p.n);
    Strategy::Blocked(BlockedPlan { a, b, kc, nc, threads, single_pass: false, depth_in_task })
}

/// Whether a prepacked B of `k x n` in depth blocks of `kc` runs [`BlockedPlan::depth_in_task`]:
/// more than one depth block, and all of B in half of this CPU's L2 (each task reads all of it
/// for every row block). Zen 3, with the AVX2 KC then 256: the 3136x64x576 GEMM +7% at one
/// thread, the MNIST CNN's 32 -> 64 layer +12% at two (one join instead of two).
pub(crate) fn depth_blocks_in_task(k: usize, kc: usize, n: usize) -> bool {
    k > kc && k.saturating_mul(n).saturating_mul(4) <= CacheSizes::for_planning().l2 / 2
}

/// The strips of a GEMV over `n` columns of row-major B at address `b_addr`, row stride `rs`.
fn plan_gemv(kern: &MicroKernel, n: usize, b_addr: usize, rs: isize, threads: usize) -> GemvPlan {
    // With masked tiles the columns after the last wide strip are masked strips too.
    let masked = !kern.masked.is_empty();
    // When every row of B has the same misalignment, the first few columns go through the
    // blocked path so the strips start on a 32-byte boundary (AVX2: 1x4096x1024 +41% with
    // 16-byte aligned B); AVX-512 reads unaligned rows as they are.
    let mut head = 0;
    if kern.isa != Isa::Avx512 && rs % 8 == 0 {
        let lead = (32 - b_addr % 32) % 32 / 4;
        if lead > 0 && n >= lead + kern.gemv_width() {
            head = lead;
        }
    }
    let cols = n - head;
    // One group of strips per thread, each over an equal share of the columns (in multiples of
    // the narrowest strip, so only the last share has columns left over), widest first.
    let unit = kern.gemv.last().map_or(1, |g| g.1);
    let parts = threads.min(cols / unit.max(1)).max(1);
    let mut groups = Vec::with_capacity(parts);
    let mut j = head;
    for t in 0..parts {
        let end = head + if t + 1 == parts { cols } else { cols * (t + 1) / parts / unit * unit };
        let mut strips = Vec::new();
        for &(_, width) in kern.gemv {
            while end - j >= width {
                strips.push(Strip { col: j, width, masked: false });
                j += width;
            }
        }
        while masked && j < end {
            let width = kern.nr.min(end - j);
            strips.push(Strip { col: j, width, masked: true });
            j += width;
        }
        groups.push(strips);
    }
    // Rows of B a page or more apart: each row of a strip is on its own page, and a short
    // block keeps the pages one strip touches few (docs/gemm-tuning.md).
    let paged = rs.unsigned_abs().saturating_mul(4) >= PAGE_BYTES;
    let depth_block = match (paged, kern.isa) {
        (true, Isa::Avx2) => GEMV_DEPTH_BLOCK_PAGED_AVX2,
        (true, _) => GEMV_DEPTH_BLOCK_PAGED,
        (false, _) => GEMV_DEPTH_BLOCK,
    };
    GemvPlan { head, groups, tail: n - j, depth_block, threads }
}

/// How one `m x nc` block is cut into tasks: row blocks of `mc` rows x chunks of B panels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TaskSplit {
    pub mc: usize,
    pub panels: usize,
    pub col_chunks: usize,
    pub panels_per_chunk: usize,
    pub tasks: usize,
}

/// Tasks per thread in each parallel section: rayon's work stealing then absorbs a thread
/// that starts late or shares its core.
const TASKS_PER_THREAD: usize = 4;

impl TaskSplit {
    /// `split_rows: false` keeps all rows in one block (each B panel is then used by exactly
    /// one task, which packs it), so threads split N only.
    pub fn new(kern: &MicroKernel, m: usize, nc: usize, threads: usize, split_rows: bool) -> Self {
        let panels = nc.div_ceil(kern.nr);
        // With threads, M is cut into a multiple of `threads` equal blocks (no straggler).
        let mc = if !split_rows {
            m.max(1)
        } else if threads > 1 {
            let blocks = m.div_ceil(kern.mc).next_multiple_of(threads);
            m.div_ceil(blocks).next_multiple_of(kern.mr)
        } else {
            kern.mc
        };
        let row_blocks = m.div_ceil(mc);
        let target = if threads > 1 { TASKS_PER_THREAD * threads } else { 1 };
        let col_chunks = if row_blocks >= target { 1 } else { panels.min(target.div_ceil(row_blocks)) };
        let panels_per_chunk = panels.div_ceil(col_chunks);
        TaskSplit { mc, panels, col_chunks, panels_per_chunk, tasks: row_blocks * col_chunks }
    }
}
