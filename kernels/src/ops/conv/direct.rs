//! Direct convolution for a few input channels (`C_in <= DIRECT_MAX_CIN`, one group): the
//! first layer of an image network (grey or RGB input). With so few channels a GEMM's depth is
//! only `KH * KW * C_in` (9 for a 3x3 grey layer): gathering A and the tiles' fixed costs
//! outweigh the multiply-adds. Here each output pixel's channels are vectors, and each
//! (tap, input channel) is one broadcast of an input value times one weight vector, for
//! `PIXELS` pixels at a time (independent accumulators hide the multiply-add latency).
//!
//! The filter is packed once as `[KH][KW][C_in][C_out rounded up to CO_ALIGN]`. Each output row
//! clips its kernel rows to the input once; its interior pixels (every kernel column inside
//! the input) run without checks, its border pixels clip their kernel columns. Bias, residual
//! and activation are applied in registers before the one store. Rows are split across rayon
//! threads like the depthwise kernel's. Written once, generic over [`F32Vector`].

use super::depthwise::tap_range;
use super::{Conv2dGeometry, Conv2dParams, FilterLayout};
use crate::activation::Activation;
use crate::buffer::{checked_len, try_collect, try_filled};
use crate::error::KernelError;
use crate::isa::Isa;
use crate::simd::vector::{select_per_isa, F32Vector};
use std::mem::MaybeUninit;

/// Most input channels (per group, with one group) that take the direct path.
pub(crate) const DIRECT_MAX_CIN: usize = 4;

/// Output channels of the packed filter are padded to a multiple of this (the widest vector),
/// so a partial last vector of channels loads weights and bias whole.
const CO_ALIGN: usize = 16;

/// Interior pixels computed together.
const PIXELS: usize = 8;

/// The packed weights of a direct convolution and the ISA it runs on.
pub(crate) struct DirectFilter {
    /// `[KH][KW][C_in][co_pad]`, zero in the padding channels.
    weights: Vec<f32>,
    /// `co_pad` values (zeros without a bias, and in the padding).
    bias: Vec<f32>,
    co_pad: usize,
    rows: RowFn,
}

impl DirectFilter {
    /// Packs the filter of `params` (one group, `C_in <= DIRECT_MAX_CIN`; lengths validated by
    /// the caller) for `isa` (an error when unavailable).
    pub(crate) fn new(
        isa: Isa,
        params: &Conv2dParams,
        filter: &[f32],
        layout: FilterLayout,
        bias: Option<&[f32]>,
    ) -> Result<Self, KernelError> {
        let rows = select(isa)?;
        let (cin, cout) = (params.in_channels, params.out_channels);
        let (kh, kw) = params.kernel;
        let co_pad = cout.next_multiple_of(CO_ALIGN);
        let what = "direct convolution filter";
        let mut weights = try_filled(what, checked_len::<f32>(what, kh * kw * cin, co_pad)?, 0.0f32)?;
        for tap in 0..kh * kw {
            for ci in 0..cin {
                for co in 0..cout {
                    let src = match layout {
                        FilterLayout::Oihw => (co * cin + ci) * kh * kw + tap,
                        FilterLayout::Hwio => (tap * cin + ci) * cout + co,
                    };
                    weights[(tap * cin + ci) * co_pad + co] = filter[src];
                }
            }
        }
        let mut padded_bias = try_filled("bias", co_pad, 0.0f32)?;
        if let Some(b) = bias {
            padded_bias[..cout].copy_from_slice(b);
        }
        Ok(DirectFilter { weights, bias: padded_bias, co_pad, rows })
    }

    /// Runs on validated operands (`input`, `output`, `residual` of the geometry's lengths,
    /// one group) with up to `threads` threads, writing every output value (which may be
    /// uninitialised before). `AllocationFailed` (before anything is written) when its tables
    /// cannot be allocated.
    pub(crate) fn run(
        &self,
        g: &Conv2dGeometry,
        input: &[f32],
        residual: Option<&[f32]>,
        act: Activation,
        output: &mut [MaybeUninit<f32>],
        threads: usize,
    ) -> Result<(), KernelError> {
        let (kh, kw) = g.kernel;
        let cin = g.in_c;
        // Offset of each (ky, kx, ci) from a pixel's top-left tap. (Wrapping: a tap that lands
        // outside every image, with a huge dilation, is clipped and never read.)
        let tap_off = try_collect(
            "direct convolution tap offsets",
            (0..kh * kw * cin).map(|t| {
                let (ky, kx, ci) = (t / (kw * cin), t / cin % kw, t % cin);
                (ky.wrapping_mul(g.dilation.0).wrapping_mul(g.in_w))
                    .wrapping_add(kx.wrapping_mul(g.dilation.1))
                    .wrapping_mul(cin)
                    .wrapping_add(ci)
            }),
        )?;
        let xr = try_collect(
            "direct convolution column table",
            (0..g.out_w).map(|ox| tap_range(ox * g.stride.1, g.dilation.1, g.pad_left, g.in_w, kw)),
        )?;
        let ox_lo = xr.iter().position(|&r| r == (0, kw)).unwrap_or(g.out_w);
        let ox_hi = xr.iter().rposition(|&r| r == (0, kw)).map_or(ox_lo, |i| i + 1);
        let job = Job {
            g: *g,
            input,
            weights: &self.weights,
            bias: &self.bias,
            co_pad: self.co_pad,
            residual,
            act,
            tap_off,
            xr,
            ox_lo,
            ox_hi,
        };
        let f = self.rows;
        super::for_row_blocks(output, g.out_w * g.out_c, threads, |first, block| {
            // SAFETY: `f` was selected for an ISA that `select` checked; `block` holds whole
            // rows starting at row `first`; `job`'s slices have the geometry's lengths (checked
            // by Conv2d) and its tables were built for it.
            unsafe { f(&job, first, block) }
        });
        Ok(())
    }
}

/// One call's operands and tables.
struct Job<'a> {
    g: Conv2dGeometry,
    input: &'a [f32],
    weights: &'a [f32],
    bias: &'a [f32],
    co_pad: usize,
    residual: Option<&'a [f32]>,
    act: Activation,
    /// `[KH][KW][C_in]`: offset of each tap's value from the pixel's top-left tap.
    tap_off: Vec<usize>,
    /// Per output column, its kernel columns inside the input.
    xr: Vec<(usize, usize)>,
    /// Output columns `ox_lo..ox_hi` have every kernel column inside the input.
    ox_lo: usize,
    ox_hi: usize,
}

/// Computes whole output rows `first..first + out.len() / row_len` (row = image * out_h + oy).
///
/// # Safety
/// The ISA of the instantiation is available; the job's slices have the geometry's lengths,
/// its tables were built for it, and `out` holds whole rows that exist.
type RowFn = unsafe fn(&Job<'_>, usize, &mut [MaybeUninit<f32>]);

select_per_isa! {
    /// The entry point of `isa`, or why it cannot run.
    fn select -> RowFn = rows(job: &Job<'_>, first: usize, out: &mut [MaybeUninit<f32>])
}

/// See [`RowFn`].
#[inline(always)]
unsafe fn rows<V: F32Vector>(job: &Job<'_>, first: usize, out: &mut [MaybeUninit<f32>]) {
    let g = &job.g;
    let (kw, cin, cout) = (g.kernel.1, g.in_c, g.out_c);
    let row_len = g.out_w * cout;
    let image_len = g.in_h * g.in_w * cin;
    // (Wrapping: with a huge stride there is one output column and the step is never used.)
    let pixel_step = g.stride.1.wrapping_mul(cin);
    for (r, out_row) in out.chunks_exact_mut(row_len).enumerate() {
        let row = first + r;
        let (image, oy) = (row / g.out_h, row % g.out_h);
        // Kernel rows inside the input: taps ky_lo * kw * cin .. ky_hi * kw * cin.
        let (ky_lo, ky_hi) = tap_range(oy * g.stride.0, g.dilation.0, g.pad_top, g.in_h, g.kernel.0);
        let taps = (ky_lo * kw * cin)..(ky_hi * kw * cin).max(ky_lo * kw * cin);
        // The pixel (oy, ox)'s top-left tap, which may lie in the padding (wrapping: only taps
        // inside the input are read).
        let iy0 = ((oy * g.stride.0) as isize).wrapping_sub(g.pad_top as isize);
        let corner = |ox: usize| {
            let ix0 = ((ox * g.stride.1) as isize).wrapping_sub(g.pad_left as isize);
            let off = iy0.wrapping_mul(g.in_w as isize).wrapping_add(ix0).wrapping_mul(cin as isize);
            job.input.as_ptr().wrapping_add(image * image_len).wrapping_offset(off)
        };
        let res_row = job.residual.map(|res| res[row * row_len..(row + 1) * row_len].as_ptr());
        let mut co = 0;
        while co < cout {
            let n = V::N.min(cout - co);
            let px = Pixels { job, taps: taps.clone(), co, n, res_row };
            let mut ox = job.ox_lo;
            // SAFETY: interior columns: every tap of rows ky_lo..ky_hi is inside the image, so
            // each corner plus a tap offset in `taps` is a value of `input`; the outputs are
            // pixels of this row (in `out_row`), channels co..co + n.
            unsafe {
                while ox + PIXELS <= job.ox_hi {
                    px.interior::<V, PIXELS>(corner(ox), pixel_step, out_row, ox);
                    ox += PIXELS;
                }
                while ox < job.ox_hi {
                    px.interior::<V, 1>(corner(ox), pixel_step, out_row, ox);
                    ox += 1;
                }
            }
            for ox in (0..job.ox_lo).chain(job.ox_hi.max(job.ox_lo)..g.out_w) {
                // SAFETY: as above, with the kernel columns clipped to the input.
                unsafe { px.border::<V>(corner(ox), job.xr[ox], out_row, ox) };
            }
            co += V::N;
        }
    }
}

/// One output row's channels `co..co + n` (one vector): what its pixels share.
struct Pixels<'a> {
    job: &'a Job<'a>,
    /// The `[KH][KW][C_in]` indices of the kernel rows inside the input.
    taps: std::ops::Range<usize>,
    co: usize,
    n: usize,
    /// The residual's row, when there is one.
    res_row: Option<*const f32>,
}

impl Pixels<'_> {
    /// `P` pixels from column `ox`, `step` values apart in the input, every kernel column
    /// inside it.
    ///
    /// # Safety
    /// Each `corner + p * step + tap_off[t]`, `t` in `taps`, is a value of the input; pixels
    /// `ox..ox + P` exist in the row `out` (and in the residual's row).
    #[inline(always)]
    unsafe fn interior<V: F32Vector, const P: usize>(
        &self,
        corner: *const f32,
        step: usize,
        out: &mut [MaybeUninit<f32>],
        ox: usize,
    ) {
        let job = self.job;
        // SAFETY: bias and weights hold co_pad >= co + N values per tap (padded); the caller's
        // contract for the input.
        unsafe {
            let mut acc = [V::load(job.bias.as_ptr().add(self.co)); P];
            for t in self.taps.clone() {
                let w = V::load(job.weights.as_ptr().add(t * job.co_pad + self.co));
                let src = corner.wrapping_add(*job.tap_off.get_unchecked(t));
                for (p, a) in acc.iter_mut().enumerate() {
                    *a = V::madd(V::splat(*src.add(p * step)), w, *a);
                }
            }
            for (p, &a) in acc.iter().enumerate() {
                self.store::<V>(a, out, ox + p);
            }
        }
    }

    /// One pixel whose kernel columns `kx_lo..kx_hi` are inside the input.
    ///
    /// # Safety
    /// Each `corner + tap_off[t]` for `t` in `taps` with kernel column in `kx_lo..kx_hi` is a
    /// value of the input; pixel `ox` exists in the row `out`.
    #[inline(always)]
    unsafe fn border<V: F32Vector>(
        &self,
        corner: *const f32,
        (kx_lo, kx_hi): (usize, usize),
        out: &mut [MaybeUninit<f32>],
        ox: usize,
    ) {
        let job = self.job;
        let (kw, cin) = (job.g.kernel.1, job.g.in_c);
        // SAFETY: as in `interior`, for the clipped taps only.
        unsafe {
            let mut acc = V::load(job.bias.as_ptr().add(self.co));
            // Kernel row by kernel row (`taps` holds whole rows), its columns kx_lo..kx_hi.
            for row in self.taps.clone().step_by(kw * cin) {
                for t in row + kx_lo * cin..row + kx_hi.max(kx_lo) * cin {
                    let w = V::load(job.weights.as_ptr().add(t * job.co_pad + self.co));
                    acc = V::madd(V::splat(*corner.wrapping_add(job.tap_off[t])), w, acc);
                }
            }
            self.store::<V>(acc, out, ox);
        }
    }

    /// Residual, activation and the store of pixel `ox`'s channels `co..co + n`.
    ///
    /// # Safety
    /// Pixel `ox` exists in the row `out` (and in the residual's row); the ISA of `V` is
    /// available.
    #[inline(always)]
    unsafe fn store<V: F32Vector>(&self, mut v: V, out: &mut [MaybeUninit<f32>], ox: usize) {
        let at = ox * self.job.g.out_c + self.co;
        debug_assert!(at + self.n <= out.len());
        // SAFETY: channels co..co + n of pixel ox lie in the row (and in the residual's row).
        unsafe {
            if let Some(res) = self.res_row {
                let r = if self.n == V::N { V::load(res.add(at)) } else { V::load_part(res.add(at), self.n) };
                v = V::add(v, r);
            }
            v = V::activate(v, self.job.act);
            let dst = out.as_mut_ptr().add(at).cast::<f32>();
            if self.n == V::N {
                V::store(dst, v);
            } else {
                V::store_part(dst, self.n, v);
            }
        }
    }
}
