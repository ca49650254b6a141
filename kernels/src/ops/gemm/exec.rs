//! The executors: one function per [`Strategy`], each carrying out what the planner decided.
//! The blocked loop nest (after BLIS/matrixmultiply): `jc` over NC columns, `pc` over depth
//! blocks, then tasks over (row block x column chunk) that sweep `jr` (NR) and `ir` (MR) tiles.

use super::gemv;
use super::operand::{ReadPtr, Strided};
use super::pack::{broadcast_packed_a, pack_a, pack_a_indirect, pack_b, pack_b_panel, RowPointers};
use super::plan::{plan, APlan, BPlan, BlockedPlan, Strategy, TaskSplit};
use super::problem::{BSource, Problem};
use super::registry::AvailableKernel;
use super::ukernel::{MicroKernel, Tile, TileFn, A_BROADCAST_LANES, MAX_NR, MAX_TILE};
use crate::activation::Activation;
use crate::buffer::{checked_len, try_reserve_scratch, try_with_scratch, with_scratch, AlignedVec, Scratch};
use crate::error::KernelError;
use std::cell::RefCell;

thread_local! {
    // The blocked path's packing buffers: sizes bounded by the kernel's block sizes.
    static A_SCRATCH: Scratch = const { RefCell::new(AlignedVec::new()) };
    static B_SCRATCH: Scratch = const { RefCell::new(AlignedVec::new()) };
    static PANEL_SCRATCH: Scratch = const { RefCell::new(AlignedVec::new()) };
    // The GEMV paths' workspace (a row of A, gathered vectors, a row of partial sums): sizes
    // from k or n, which the caller's views set (a zero-stride view can make k anything).
    static WORKSPACE: Scratch = const { RefCell::new(AlignedVec::new()) };
    // APlan::IndirectRows: a task's row pointers and run lengths (sizes bounded by MC and KC).
    static ROW_POINTERS: RefCell<RowPointers> = const { RefCell::new(RowPointers::new()) };
}

/// Plans and runs `p` on `threads` threads (1 = the calling thread only). Every buffer the
/// plan allocates on this thread (the workspace, the packing buffers) is allocated first, so
/// an allocation error (`TooLarge`, `AllocationFailed`) returns before anything is written.
///
/// # Safety
/// The pointers in `p` must be valid for every element of their `m x k`, `k x n`, `m x n`
/// views, and C must not overlap A or B.
pub(crate) unsafe fn run(kern: AvailableKernel, p: &Problem, threads: usize) -> Result<(), KernelError> {
    let strategy = plan(&kern, p, threads);
    // Called from outside the pool, each parallel section would wake a worker and put the
    // caller to sleep (30-50 us a section on a 2-vCPU guest): the whole call moves to a worker
    // instead, so only its first section pays (128^3 and 256^3 on 2 threads +10%).
    #[cfg(feature = "rayon")]
    if runs_parallel(&strategy) && rayon::current_thread_index().is_none() {
        // SAFETY: forwarded contract; the caller blocks in `scope` until the call returns.
        return rayon::scope(|_| unsafe { reserve_and_execute(kern, p, &strategy) });
    }
    // SAFETY: forwarded contract.
    unsafe { reserve_and_execute(kern, p, &strategy) }
}

/// Whether `strategy` has parallel sections.
#[cfg(feature = "rayon")]
fn runs_parallel(strategy: &Strategy) -> bool {
    match strategy {
        Strategy::Blocked(b) => b.threads > 1,
        Strategy::GemvStrips(g) => g.groups.len() > 1 || g.threads > 1,
        Strategy::GemvDot(d) => d.threads > 1,
        Strategy::GemvRows { threads } => *threads > 1,
        Strategy::Nothing | Strategy::SweepInPlace => false,
    }
}

/// Allocates what `strategy` needs on this thread, then runs it (its parallel sections on the
/// current pool).
///
/// # Safety
/// As for [`run`], and `strategy == plan(kern, p, _)`.
unsafe fn reserve_and_execute(kern: AvailableKernel, p: &Problem, strategy: &Strategy) -> Result<(), KernelError> {
    let workspace = reserve(&kern, p, strategy)?;
    // SAFETY: forwarded contract; the workspace has the length `reserve` computed for it.
    try_with_scratch(&WORKSPACE, "GEMM workspace", workspace, |ws| unsafe { execute(kern, p, strategy, ws) })
}

/// Grows this thread's packing buffers to what `strategy` uses on this thread, and returns the
/// workspace length it needs ([`execute`]'s `ws`).
fn reserve(kern: &AvailableKernel, p: &Problem, strategy: &Strategy) -> Result<usize, KernelError> {
    let k = p.depth();
    Ok(match strategy {
        Strategy::Nothing | Strategy::SweepInPlace => 0,
        Strategy::GemvDot(d) if d.gather => {
            checked_len::<f32>("GEMV gathered vectors", if d.transposed { p.m } else { p.n }, k)?
        }
        Strategy::GemvDot(_) => 0,
        // The row of partial sums (its epilogue, a product of depth 1, needs no workspace).
        Strategy::GemvRows { .. } => checked_len::<f32>("GEMV partial sums", 1, p.n)?,
        Strategy::GemvStrips(g) => {
            let BSource::Strided(b) = p.b else { unreachable!("planned for strided B only") };
            let a_row = if p.a.cs == 1 { 0 } else { checked_len::<f32>("GEMV row of A", 1, k)? };
            // The head and tail columns run one after the other, after the row of A.
            let mut edges = 0;
            for (j0, cols) in [(0, g.head), (p.n - g.tail, g.tail)] {
                if cols > 0 {
                    let sub = p.columns(b, j0, cols);
                    edges = edges.max(reserve(kern, &sub, &plan(kern, &sub, g.threads))?);
                }
            }
            checked_len::<f32>("GEMV workspace", 1, a_row.saturating_add(edges))?
        }
        Strategy::Blocked(b) => {
            reserve_blocked(kern, p, b)?;
            0
        }
    })
}

/// Grows this thread's packing buffers to what [`blocked`] will use on it: B's shared block
/// (always packed by the calling thread) and, on one thread, the A block and the B panel
/// (with threads, the tasks run on rayon's workers, whose own buffers the block sizes bound).
fn reserve_blocked(kern: &AvailableKernel, p: &Problem, plan: &BlockedPlan) -> Result<(), KernelError> {
    let (k, nr) = (p.depth(), kern.nr);
    let nc = plan.nc.min(p.n);
    if matches!(p.b, BSource::Strided(_)) && plan.b == BPlan::PackedShared {
        try_reserve_scratch(&B_SCRATCH, "packed B block", nc.div_ceil(nr).saturating_mul(nr).saturating_mul(plan.kc))?;
    }
    if plan.threads <= 1 {
        let depth = if plan.single_pass { k } else { plan.kc };
        try_reserve_scratch(&PANEL_SCRATCH, "packed B panel", depth.saturating_mul(nr))?;
        if matches!(plan.a, APlan::Packed | APlan::Indirect) {
            let split = TaskSplit::new(kern, p.m, nc, plan.threads, splits_rows(kern, plan, p.m));
            let len = split.mc.min(p.m).saturating_mul(plan.kc).saturating_mul(kern.packed_a_lanes());
            try_reserve_scratch(&A_SCRATCH, "packed A block", len)?;
        }
    }
    Ok(())
}

/// Runs `p` the way `strategy` (planned for `kern` and `p`) says, with the workspace `ws`
/// ([`reserve`]'s length).
///
/// # Safety
/// As for [`run`], and `strategy == plan(kern, p, _)`.
pub(crate) unsafe fn execute(kern: AvailableKernel, p: &Problem, strategy: &Strategy, ws: &mut [f32]) {
    match strategy {
        Strategy::Nothing => {}
        // SAFETY: forwarded contract (the planner checked the strategy's conditions). The
        // epilogue problem reads `[1]` and the row of sums, which outlive it, and writes C;
        // of depth 1, it needs no workspace.
        Strategy::GemvRows { threads } => unsafe {
            gemv::rows(kern, p, *threads, &mut ws[..p.n], |e| execute(kern, e, &plan(&kern, e, 1), &mut []))
        },
        Strategy::GemvStrips(g) => {
            let BSource::Strided(b) = p.b else { unreachable!("planned for strided B only") };
            let (a_row, rest) = ws.split_at_mut(if p.a.cs == 1 { 0 } else { p.depth() });
            // SAFETY: as above; head and tail are sub-views of the same operands, narrower
            // than any strip, planned as `reserve` planned them.
            let mut edge = |j0: usize, cols: usize| unsafe {
                let sub = p.columns(b, j0, cols);
                execute(kern, &sub, &plan(&kern, &sub, g.threads), rest)
            };
            if g.head > 0 {
                edge(0, g.head);
            }
            // SAFETY: as above; `a_row` holds k values when A's row is strided.
            unsafe { gemv::strips(kern, p, g, a_row) };
            if g.tail > 0 {
                edge(p.n - g.tail, g.tail);
            }
        }
        // SAFETY: as above.
        Strategy::GemvDot(d) => unsafe { gemv::dot(kern, p, d, ws) },
        // SAFETY: as above.
        Strategy::SweepInPlace => unsafe { sweep_in_place(kern, p) },
        // SAFETY: as above.
        Strategy::Blocked(b) => unsafe { blocked(kern, p, b) },
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
}

impl<'a> Block<'a> {
    /// The block at column `jc` (`nc` wide) and depth `pc` of a product of depth `k`: beta in
    /// the first depth block, bias and activation in the last.
    fn new(p: &Problem<'a>, plan: &BlockedPlan, k: usize, jc: usize, nc: usize, pc: usize) -> Self {
        let kc = plan.kc.min(k - pc);
        let last = pc + kc == k;
        Block {
            jc,
            nc,
            pc,
            kc,
            beta: if pc == 0 { p.beta } else { 1.0 },
            bias: if last { p.bias.map(|b| &b[jc..jc + nc]) } else { None },
            act: if last { p.act } else { Activation::Identity },
        }
    }
}

/// Where the B panels of the current block live.
#[derive(Clone, Copy)]
enum PanelSource {
    /// Packed panels of `kc x NR`, panel `j` at `ptr + j*kc*NR`.
    Packed { ptr: ReadPtr, kc: usize },
    /// Unpacked B from the block's (pc, jc) element: read in place (`b.cs == 1`) or, with
    /// `pack`, each panel packed by the task that uses it, right before its tiles.
    Direct { b: Strided, pack: bool },
}

/// [`Strategy::Blocked`].
///
/// # Safety
/// As for [`execute`].
unsafe fn blocked(kern: AvailableKernel, p: &Problem, plan: &BlockedPlan) {
    let k = p.depth();
    let threads = plan.threads;
    if plan.single_pass {
        let blk = Block::new(p, plan, k, 0, p.n, 0);
        let src = match p.b {
            BSource::Packed(pb) => PanelSource::Packed { ptr: ReadPtr(pb.block_ptr(0, 0)), kc: k },
            BSource::Strided(b) => PanelSource::Direct { b, pack: false },
        };
        with_scratch(&PANEL_SCRATCH, k * kern.nr, |panel_buf| {
            // SAFETY: forwarded contract; `src` is B in place or its only packed block.
            unsafe {
                sweep(
                    kern,
                    p,
                    &blk,
                    src,
                    APanels::in_place(p.a.ptr, p.a.rs),
                    0,
                    p.m,
                    0..p.n.div_ceil(kern.nr),
                    panel_buf,
                )
            }
        });
        return;
    }
    // Depth blocks: pc = 0, kc, 2*kc, ... (one block of depth 0 when k = 0).
    let depth_blocks = (0..k.div_ceil(plan.kc.max(1)).max(1)).map(|i| i * plan.kc);
    // One parallel section per (jc, pc) block (all depth blocks inside each task instead lose
    // the B blocks' L2 reuse across row blocks), unless all of B stays in L2 (`depth_in_task`).
    for jc in (0..p.n).step_by(plan.nc) {
        let nc = plan.nc.min(p.n - jc);
        let split = TaskSplit::new(&kern, p.m, nc, threads, splits_rows(&kern, plan, p.m));
        if let (true, BSource::Packed(pb)) = (plan.depth_in_task, p.b) {
            for_each_task(split.tasks, threads, |t| {
                for pc in depth_blocks.clone() {
                    let blk = Block::new(p, plan, k, jc, nc, pc);
                    let src = PanelSource::Packed { ptr: ReadPtr(pb.block_ptr(pc, jc)), kc: blk.kc };
                    // SAFETY: forwarded contract; `src` describes this block's B panels.
                    unsafe { run_task(kern, p, &blk, src, plan.a, &split, t) }
                }
            });
            continue;
        }
        for pc in depth_blocks.clone() {
            let blk = Block::new(p, plan, k, jc, nc, pc);
            let tasks = |src: PanelSource| {
                // SAFETY: forwarded contract; `src` describes this block's B panels.
                for_each_task(split.tasks, threads, |t| unsafe { run_task(kern, p, &blk, src, plan.a, &split, t) })
            };
            match (p.b, plan.b) {
                (BSource::Strided(b), BPlan::PackedShared) => {
                    let len = nc.div_ceil(kern.nr) * kern.nr * blk.kc;
                    with_scratch(&B_SCRATCH, len, |buf| {
                        // SAFETY: the (pc, jc) block of kc x nc lies inside B (caller's contract).
                        unsafe { pack_b_parallel(buf, b.at(pc, jc), b.rs, b.cs, blk.kc, nc, kern.nr, threads) };
                        tasks(PanelSource::Packed { ptr: ReadPtr(buf.as_ptr()), kc: blk.kc });
                    });
                }
                (BSource::Strided(b), b_plan) => tasks(PanelSource::Direct {
                    b: Strided { ptr: b.at(pc, jc), ..b },
                    pack: b_plan == BPlan::PackedPerTask,
                }),
                (BSource::Packed(pb), _) => {
                    tasks(PanelSource::Packed { ptr: ReadPtr(pb.block_ptr(pc, jc)), kc: blk.kc })
                }
            }
        }
    }
}

/// Whether the tasks of a block split its rows as well as its columns: not when each task
/// packs its own B panels (each panel then feeds one task), nor with fewer than two full tiles
/// of rows per thread (16 rows on 2 threads made a 10-row and a 6-row block, one thread with
/// 62% of the work; all rows in every task and the columns split evenly instead).
fn splits_rows(kern: &MicroKernel, plan: &BlockedPlan, m: usize) -> bool {
    plan.b != BPlan::PackedPerTask && m > 2 * kern.mr * plan.threads
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
        let panels = nc.div_ceil(nr);
        let per_thread = panels.div_ceil(threads);
        let b = ReadPtr(b);
        buf[..panels * nr * kc].par_chunks_mut(per_thread * nr * kc).enumerate().for_each(|(t, out)| {
            let j0 = t * per_thread * nr;
            let cols = (per_thread * nr).min(nc - j0);
            let b = &b; // capture the ReadPtr (Sync), not its raw field
                        // SAFETY: columns j0..j0+cols are inside the block the caller vouched for.
            unsafe { pack_b(out, b.0.wrapping_offset(j0 as isize * csb), rsb, csb, kc, cols, nr) };
        });
        return;
    }
    let _ = threads;
    // SAFETY: the caller vouched for the block.
    unsafe { pack_b(buf, b, rsb, csb, kc, nc, nr) };
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
/// As for [`execute`]; `src` describes readable panels for this block.
unsafe fn run_task(
    kern: AvailableKernel,
    p: &Problem,
    blk: &Block,
    src: PanelSource,
    a_plan: APlan,
    split: &TaskSplit,
    t: usize,
) {
    let (rb, cb) = (t / split.col_chunks, t % split.col_chunks);
    let i0 = rb * split.mc;
    let rows = split.mc.min(p.m - i0);
    let j_panels = (cb * split.panels_per_chunk)..((cb + 1) * split.panels_per_chunk).min(split.panels);
    let a0 = p.a.at(i0, blk.pc);
    with_scratch(&PANEL_SCRATCH, blk.kc * kern.nr, |panel_buf| {
        if a_plan == APlan::InPlace {
            // SAFETY: rows i0..i0+rows, columns pc..pc+kc are inside A (row-major, csa = 1).
            unsafe { sweep(kern, p, blk, src, APanels::in_place(a0, p.a.rs), i0, rows, j_panels, panel_buf) };
            return;
        }
        if let (APlan::IndirectRows, Some(ind)) = (a_plan, p.a_indirect) {
            let mut run = |ptrs: &mut RowPointers| {
                // SAFETY: rows i0..i0+rows, columns pc..pc+kc are inside A through the
                // indirection (its offsets address readable pixels, its zero row cin zeros);
                // the tiles read each row's runs through the table built here.
                unsafe {
                    ptrs.build(&ind, i0, rows, blk.pc, blk.kc, kern.mr);
                    let rows_a = TileRows {
                        table: ptrs.table.as_ptr(),
                        run_len: ptrs.run_len.as_ptr(),
                        runs: ptrs.run_len.len(),
                    };
                    let a =
                        APanels { ptr: std::ptr::null(), rsa: 0, packed: true, broadcast: false, rows: Some(rows_a) };
                    sweep(kern, p, blk, src, a, i0, rows, j_panels.clone(), panel_buf);
                }
            };
            ROW_POINTERS.with(|cell| match cell.try_borrow_mut() {
                Ok(mut bufs) => run(&mut bufs),
                // A nested call on this thread (a GEMM inside a rayon job of another): its own.
                Err(_) => run(&mut RowPointers::new()),
            });
            return;
        }
        let lanes = kern.packed_a_lanes();
        let broadcast = lanes > 1;
        with_scratch(&A_SCRATCH, rows * blk.kc * lanes, |abuf| {
            // SAFETY: rows i0..i0+rows, columns pc..pc+kc are inside A (through the
            // indirection buffer when there is one: its pointers address readable rows).
            unsafe {
                match p.a_indirect {
                    Some(ind) => {
                        pack_a_indirect(abuf, &ind, i0, rows, blk.pc, blk.kc, kern.mr);
                        if broadcast {
                            broadcast_packed_a(abuf, rows * blk.kc);
                        }
                    }
                    None if broadcast => pack_a::<A_BROADCAST_LANES>(abuf, a0, p.a.rs, p.a.cs, rows, blk.kc, kern.mr),
                    None => pack_a::<1>(abuf, a0, p.a.rs, p.a.cs, rows, blk.kc, kern.mr),
                }
                let a = APanels { ptr: abuf.as_ptr(), rsa: lanes as isize, packed: true, broadcast, rows: None };
                sweep(kern, p, blk, src, a, i0, rows, j_panels, panel_buf);
            }
        });
    });
}

/// The A block of a task: packed panels (`MR x kc` each, contiguous; with `broadcast`, each
/// value `rsa` times), row-major A in place, or row pointers into a convolution's input.
#[derive(Clone, Copy)]
struct APanels {
    ptr: *const f32,
    rsa: isize,
    packed: bool,
    broadcast: bool,
    rows: Option<TileRows>,
}

/// [`APlan::IndirectRows`]: the block's row pointers, tile after tile (`runs` per row), and
/// the run lengths every row shares (the `Tile::a_rows` layout).
#[derive(Clone, Copy)]
struct TileRows {
    table: *const *const f32,
    run_len: *const usize,
    runs: usize,
}

impl APanels {
    fn in_place(ptr: *const f32, rsa: isize) -> Self {
        APanels { ptr, rsa, packed: false, broadcast: false, rows: None }
    }
}

/// The tile of C at `(row, col)`, `m` rows, `cols` columns of the panel at `b` (`ldb` apart),
/// A at `a`: everything but the per-call fields that the caller sets.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn tile(p: &Problem, k: usize, a: *const f32, rsa: isize, csa: isize, b: *const f32, ldb: isize, cols: usize) -> Tile {
    Tile {
        k,
        a,
        rsa,
        csa,
        b,
        ldb,
        c: p.c.ptr,
        rsc: p.c.rs,
        alpha: p.alpha,
        beta: p.beta,
        bias: std::ptr::null(),
        act: p.act,
        cols,
        b_pack: std::ptr::null_mut(),
        prefetch_next_a: false,
        a_rows: std::ptr::null(),
        run_len: std::ptr::null(),
        runs: 0,
        a_broadcast: false,
    }
}

/// The tile function of the last `(rows, columns, packs B)` asked for: inside one sweep
/// everything else `MicroKernel::tile_fn` looks at is fixed, and with short K (a convolution
/// over 16 channels: 144) its divisions and branches were 3% of the layer.
struct TileFnMemo {
    kern: AvailableKernel,
    last: Option<((usize, usize, bool), TileFn)>,
}

impl TileFnMemo {
    fn new(kern: AvailableKernel) -> Self {
        TileFnMemo { kern, last: None }
    }

    /// `kern.tile_fn(m, cols, t)` for the tiles of one sweep.
    fn get(&mut self, m: usize, cols: usize, t: &Tile) -> TileFn {
        let key = (m, cols, t.b_pack.is_null());
        match self.last {
            Some((k, f)) if k == key => f,
            _ => {
                let f = self.kern.tile_fn(m, cols, t);
                self.last = Some((key, f));
                f
            }
        }
    }
}

/// The `jr` / `ir` loops over one A block and a range of B panels.
///
/// # Safety
/// As for [`run_task`]; `a` describes the `rows x kc` A block starting at row `i0`;
/// `panel_buf` holds `kc * NR` values (for panels packed on the spot).
#[allow(clippy::too_many_arguments)]
unsafe fn sweep(
    kern: AvailableKernel,
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
    let mut tile_fns = TileFnMemo::new(kern);
    for jp in j_panels {
        let j = jp * nr; // column inside the block
        let cols = nr.min(blk.nc - j);
        let no_pack = std::ptr::null_mut();
        let (mut bptr, mut ldb, mut b_pack) = match src {
            PanelSource::Packed { ptr, kc } => (ptr.0.wrapping_add(jp * kc * nr), nr as isize, no_pack),
            // In place: a whole panel, or one whose tiles are masked (they read only its
            // `cols` columns).
            PanelSource::Direct { b, pack: false } if b.cs == 1 && (cols == nr || kern.masks(cols)) => {
                (b.ptr.wrapping_add(j), b.rs, no_pack)
            }
            // A full row-major panel to pack, and a full first tile: that tile reads B in place
            // and packs it for the tiles after it (`MicroKernel::pack_b_tile`).
            PanelSource::Direct { b, .. } if b.cs == 1 && cols == nr && rows >= mr && kern.pack_b_tile.is_some() => {
                (b.ptr.wrapping_add(j), b.rs, panel_buf.as_mut_ptr())
            }
            PanelSource::Direct { b, .. } => {
                // Packed here: a panel the task asked to pack, or one narrower than its tiles
                // (zero-padded).
                // SAFETY: columns j..j+cols of the block are inside B.
                unsafe { pack_b_panel(panel_buf, b.ptr.wrapping_offset(j as isize * b.cs), b.rs, b.cs, kc, cols, nr) };
                (panel_buf.as_ptr(), nr as isize, no_pack)
            }
        };
        let bias = blk.bias.map(|b| &b[j..j + cols]);
        let mut i = 0;
        let mut apanel = a.ptr;
        while i < rows {
            let m = mr.min(rows - i);
            // Packed: k steps of m values (each `a.rsa` wide).
            let csa = if a.packed { m as isize * a.rsa } else { 1 };
            let mut t = tile(p, kc, apanel, a.rsa, csa, bptr, ldb, cols);
            t.c = p.c.at(i0 + i, blk.jc + j);
            (t.beta, t.act, t.b_pack, t.a_broadcast) = (blk.beta, blk.act, b_pack, a.broadcast);
            // The first panel's tiles are the first to read their A rows.
            t.prefetch_next_a = !a.packed && jp == first_panel && i + 2 * mr <= rows;
            if let Some(r) = a.rows {
                // This tile's pointers follow the i rows of tiles above it.
                (t.a_rows, t.run_len, t.runs) = (r.table.wrapping_add(i * r.runs), r.run_len, r.runs);
            }
            // SAFETY: forwarded contract; (i0 + i, jc + j) is inside C and the tile is
            // m x cols; `b_pack`, when set, is `panel_buf` (kc * NR values).
            unsafe { run_tile(kern, t, m, cols, p.c.cs, bias, &mut tile_fns) };
            if !b_pack.is_null() {
                (bptr, ldb, b_pack) = (panel_buf.as_ptr(), nr as isize, no_pack);
            }
            // Wrapping: after the last tile this points past the view (never dereferenced), and
            // with an extreme row stride the product itself may overflow.
            apanel = if a.packed {
                apanel.wrapping_add(m * kc * a.rsa as usize)
            } else {
                apanel.wrapping_offset((m as isize).wrapping_mul(a.rsa))
            };
            i += m;
        }
    }
}

/// [`Strategy::SweepInPlace`]: per panel, one `Tile` that moves down the rows and one
/// function for its full-height tiles.
///
/// # Safety
/// As for [`execute`], with the conditions the planner checked: `k <= KC`, row-major A and
/// B, `C.cs == 1`, and the last panel's tiles write C in place.
unsafe fn sweep_in_place(kern: AvailableKernel, p: &Problem) {
    let BSource::Strided(b) = p.b else { unreachable!("planned for strided B only") };
    let (mr, nr, k) = (kern.mr, kern.nr, p.depth());
    for j in (0..p.n).step_by(nr) {
        let cols = nr.min(p.n - j);
        let mut t = tile(p, k, p.a.ptr, p.a.rs, 1, b.ptr.wrapping_add(j), b.rs, cols);
        t.c = p.c.at(0, j);
        t.bias = p.bias.map_or(std::ptr::null(), |bias| bias[j..].as_ptr());
        let full = kern.tile_fn(mr, cols, &t);
        let mut i = 0;
        while i < p.m {
            let m = mr.min(p.m - i);
            let f = if m == mr { full } else { kern.tile_fn(m, cols, &t) };
            // The first panel's tiles are the first to read their A rows.
            t.prefetch_next_a = j == 0 && i + 2 * mr <= p.m;
            // SAFETY: rows i..i+m and columns j..j+cols of A, B and C are inside the views
            // (forwarded contract); the tile reads and writes only its `cols` columns; the
            // kernel's ISA is available (AvailableKernel).
            unsafe { f(&t) };
            // Wrapping: past the last tile these point outside the views (never dereferenced).
            t.a = t.a.wrapping_offset((m as isize).wrapping_mul(p.a.rs));
            t.c = t.c.wrapping_offset((m as isize).wrapping_mul(p.c.rs));
            i += m;
        }
    }
}

/// Runs one tile: straight into C when it is full width with unit column stride (or masked),
/// else through a stack buffer so the kernel always sees a full `m x NR` row-major tile.
///
/// # Safety
/// `t.c` addresses an `m x cols` tile of C with row stride `t.rsc`, column stride `csc`; the
/// other pointers in `t` satisfy the tile contract; `fns` was made for `kern` and only used for
/// tiles of one sweep.
#[inline]
unsafe fn run_tile(
    kern: AvailableKernel,
    mut t: Tile,
    m: usize,
    cols: usize,
    csc: isize,
    bias: Option<&[f32]>,
    fns: &mut TileFnMemo,
) {
    let nr = kern.nr;
    if csc == 1 && kern.writes_cols_in_place(cols) {
        t.bias = bias.map_or(std::ptr::null(), |b| b.as_ptr());
        // SAFETY: the tile writes its `cols` columns in place (whole or masked); the kernel's
        // ISA is available (AvailableKernel).
        unsafe { fns.get(m, cols, &t)(&t) };
        return;
    }
    // A hard check (edge tiles only): the kernel writes m x NR values into `tmp` through a raw pointer.
    assert!(m * nr <= MAX_TILE && nr <= MAX_NR, "{}: tile larger than the edge buffer", kern.name);
    let mut tmp = [0.0f32; MAX_TILE];
    let mut bias_tmp = [0.0f32; MAX_NR];
    let (c, rsc) = (t.c, t.rsc);
    let at = |i: usize, j: usize| c.wrapping_offset(i as isize * rsc + j as isize * csc);
    if t.beta != 0.0 {
        for i in 0..m {
            for j in 0..cols {
                // SAFETY: (i, j) is inside the tile.
                tmp[i * nr + j] = unsafe { *at(i, j) };
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
    // SAFETY: tmp holds m x NR values; the ISA is available. (The function is picked once the
    // tile is complete: `tile_fn` looks at its bias.)
    unsafe { fns.get(m, cols, &t)(&t) };
    for i in 0..m {
        for j in 0..cols {
            // SAFETY: (i, j) is inside the tile.
            unsafe { *at(i, j) = tmp[i * nr + j] };
        }
    }
}
