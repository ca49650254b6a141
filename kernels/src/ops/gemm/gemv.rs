//! The M = 1 executors: [`Strategy::GemvStrips`](super::plan::Strategy::GemvStrips) streams
//! row-major B once in `1 x w` strips (no packing); [`Strategy::GemvRows`](super::plan::Strategy::GemvRows)
//! streams whole rows of B into a row of partial sums. [`Strategy::GemvDot`](super::plan::Strategy::GemvDot)
//! (N <= 3) streams A's rows once against the few columns of B.

use super::operand::{ReadPtr, Strided};
use super::pack::pack_a;
use super::plan::{DotPlan, GemvPlan, Strip, GEMV_ROWS_TASK_COLS};
use super::problem::{BSource, Problem};
use super::registry::AvailableKernel;
use super::ukernel::{Dot, Tile, TileFn};
use crate::activation::Activation;

/// [`Strategy::GemvDot`](super::plan::Strategy::GemvDot): `C = act(alpha*A*B + beta*C +
/// bias)` as dot products of the streamed rows (A's, or B's columns when transposed) with
/// the `w <= 3` vectors (B's columns, or A's rows), gathered to a buffer first when strided;
/// row chunks of `d.rows_per_task` run as parallel tasks. `ws`: room for the gathered vectors
/// (`w * k` values) when `d.gather`.
///
/// # Safety
/// As for `exec::execute`, with the planner's conditions (see `plan::plan_dot`).
pub(super) unsafe fn dot(kern: AvailableKernel, p: &Problem, d: &DotPlan, ws: &mut [f32]) {
    let BSource::Strided(b) = p.b else { unreachable!("planned for strided B only") };
    let k = p.depth();
    // The streamed matrix (unit column stride), the vectors (`(element, vector)` strides), and
    // C's and the bias's strides along the streamed rows and along the vectors.
    let (rows, w, a, lda, x, x_strides, c_strides, bias_strides) = if d.transposed {
        (p.n, p.m, b.ptr, b.cs, p.a.ptr, (p.a.cs, p.a.rs), (p.c.cs, p.c.rs), (1, 0))
    } else {
        (p.m, p.n, p.a.ptr, p.a.rs, b.ptr, (b.rs, b.cs), (p.c.rs, p.c.cs), (0, 1))
    };
    let f = kern.gemv_dot[w - 1];
    {
        let buf = &mut ws[..if d.gather { w * k } else { 0 }];
        let (x, ldx) = if d.gather {
            for j in 0..w {
                for q in 0..k {
                    let at =
                        (q as isize).wrapping_mul(x_strides.0).wrapping_add((j as isize).wrapping_mul(x_strides.1));
                    // SAFETY: element q < k of vector j < w: an element of A or B (forwarded
                    // contract).
                    buf[j * k + q] = unsafe { *x.wrapping_offset(at) };
                }
            }
            (buf.as_ptr(), k as isize)
        } else {
            (x, x_strides.1)
        };
        // By reference: a closure would capture a field `.0` (a raw pointer) alone.
        let (a, x) = (&ReadPtr(a), &ReadPtr(x));
        let task = |t: usize| {
            let i0 = t * d.rows_per_task;
            let dot = Dot {
                m: d.rows_per_task.min(rows - i0),
                k,
                a: a.0.wrapping_offset((i0 as isize).wrapping_mul(lda)),
                lda,
                x: x.0,
                ldx,
                c: p.c.ptr.wrapping_offset((i0 as isize).wrapping_mul(c_strides.0)),
                rsc: c_strides.0,
                csc: c_strides.1,
                alpha: p.alpha,
                beta: p.beta,
                bias: p.bias.map_or(std::ptr::null(), |bias| bias.as_ptr().wrapping_add(i0 * bias_strides.0)),
                bias_rs: bias_strides.0 as isize,
                bias_cs: bias_strides.1 as isize,
                act: p.act,
            };
            // SAFETY: rows i0..i0+m of the streamed matrix hold k values each (unit column
            // stride: the planner's condition, or k <= 1), the w vectors k values ldx apart
            // (in place with unit element stride, or gathered), C's elements (i0.., j < w) are
            // its own; tasks cover disjoint rows; the bias holds one value per row or column
            // of C (validated); the ISA is available (AvailableKernel).
            unsafe { f(&dot) };
        };
        let tasks = rows.div_ceil(d.rows_per_task);
        #[cfg(feature = "rayon")]
        if d.threads > 1 && tasks > 1 {
            use rayon::prelude::*;
            (0..tasks).into_par_iter().for_each(task);
            return;
        }
        (0..tasks).for_each(task);
    }
}

/// Whole rows of B into a row of partial sums `acc` (`n` values), then `epilogue(p')` with `p'`
/// the product `[1] x acc` of depth 1 that applies alpha, beta, bias and activation.
///
/// # Safety
/// As for `exec::execute`, with the planner's conditions: M = 1, row-major B, `C.cs == 1`,
/// a kernel with `gemv_rows`; `epilogue` must compute the problem it is given.
pub(super) unsafe fn rows(
    kern: AvailableKernel,
    p: &Problem,
    threads: usize,
    acc: &mut [f32],
    epilogue: impl FnOnce(&Problem),
) {
    let (BSource::Strided(b), Some(rows)) = (p.b, kern.gemv_rows) else {
        unreachable!("planned for strided B and a kernel with gemv_rows")
    };
    assert_eq!(acc.len(), p.n, "one partial sum per column");
    {
        // By reference: a closure would capture a field `.0` (a raw pointer) alone.
        let (a, bp) = (&ReadPtr(p.a.ptr), &ReadPtr(b.ptr));
        let (k, csa, ldb) = (p.depth(), p.a.cs, b.rs);
        // Shares of `per` columns (a multiple of GEMV_ROWS_TASK_COLS), the last one the rest.
        let per = p.n / threads / GEMV_ROWS_TASK_COLS * GEMV_ROWS_TASK_COLS;
        let share = |t: usize, acc: &mut [f32]| {
            // SAFETY: A's row holds k values `csa` apart, B is k x n row-major (forwarded
            // contract), columns t * per.. < n of it; `acc` is this share's part of the row of
            // sums; the ISA is available (AvailableKernel).
            unsafe { rows(k, acc.len(), a.0, csa, bp.0.wrapping_add(t * per), ldb, acc.as_mut_ptr()) };
        };
        #[cfg(feature = "rayon")]
        if threads > 1 {
            use rayon::prelude::*;
            let (head, last) = acc.split_at_mut(per * (threads - 1));
            rayon::join(
                || head.par_chunks_mut(per).enumerate().for_each(|(t, c)| share(t, c)),
                || share(threads - 1, last),
            );
        } else {
            share(0, acc);
        }
        #[cfg(not(feature = "rayon"))]
        share(0, acc);
        let one = [1.0f32];
        epilogue(&Problem {
            k: 1,
            a: Strided { ptr: one.as_ptr(), rs: 1, cs: 1 },
            b: BSource::Strided(Strided { ptr: acc.as_ptr(), rs: p.n as isize, cs: 1 }),
            ..*p
        });
    }
}

/// The strip groups of `g` (its head and tail columns are the caller's). `arow`: room for A's
/// row (`k` values) when it is strided (`p.a.cs != 1`).
///
/// # Safety
/// As for `exec::execute`, with the planner's conditions: M = 1, row-major B, `C.cs == 1`.
pub(super) unsafe fn strips(kern: AvailableKernel, p: &Problem, g: &GemvPlan, arow: &mut [f32]) {
    let BSource::Strided(b) = p.b else { unreachable!("planned for strided B only") };
    let k = p.depth();
    let run_group = |a: ReadPtr, strips: &[Strip]| {
        // A group of several strips runs depth block by depth block; a lone strip in one go.
        let depth = if strips.len() > 1 { g.depth_block } else { k.max(1) };
        let blocks = k.div_ceil(depth).max(1);
        for blk in 0..blocks {
            let p0 = blk * depth;
            let (first, last) = (blk == 0, blk + 1 == blocks);
            for s in strips {
                let tile = Tile {
                    k: depth.min(k - p0),
                    a: a.0.wrapping_add(p0),
                    rsa: 0,
                    csa: 1,
                    b: b.at(p0, s.col),
                    ldb: b.rs,
                    c: p.c.at(0, s.col),
                    rsc: p.c.rs,
                    alpha: p.alpha,
                    beta: if first { p.beta } else { 1.0 },
                    bias: match p.bias {
                        Some(bias) if last => bias[s.col..].as_ptr(),
                        _ => std::ptr::null(),
                    },
                    act: if last { p.act } else { Activation::Identity },
                    cols: s.width,
                    b_pack: std::ptr::null_mut(),
                    prefetch_next_a: false,
                    a_rows: std::ptr::null(),
                    run_len: std::ptr::null(),
                    runs: 0,
                    a_broadcast: false,
                };
                // SAFETY: the strip covers columns col..col+width <= n of B and C (unit column
                // stride; a masked strip reads and writes only its columns) and rows
                // p0..p0+tile.k <= k of B; `a` holds the k values of A's row; the ISA is
                // available (AvailableKernel).
                unsafe { strip_fn(kern, s)(&tile) };
            }
        }
    };
    {
        let arow = &mut arow[..if p.a.cs == 1 { 0 } else { k }];
        let a = if p.a.cs == 1 {
            p.a.ptr
        } else {
            // SAFETY: row 0, columns 0..k of A are readable.
            unsafe { pack_a::<1>(arow, p.a.ptr, p.a.rs, p.a.cs, 1, k, 1) };
            arow.as_ptr()
        };
        let a = ReadPtr(a);
        #[cfg(feature = "rayon")]
        if g.groups.len() > 1 {
            use rayon::prelude::*;
            g.groups.par_iter().for_each(|group| run_group(a, group));
            return;
        }
        g.groups.iter().for_each(|group| run_group(a, group));
    }
}

/// The function of strip `s`.
fn strip_fn(kern: AvailableKernel, s: &Strip) -> TileFn {
    if s.masked {
        return kern.masked_fn(1, s.width);
    }
    kern.gemv.iter().find(|g| g.1 == s.width).expect("strip widths come from the kernel's table").0
}
