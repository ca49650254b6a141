//! Direct convolution for a few input channels (`C_in <= DIRECT_MAX_CIN`, one group): the
//! first layer of an image network (grey or RGB input). With so few channels a GEMM's depth is
//! only `KH * KW * C_in` (9 for a 3x3 grey layer): gathering A and the tiles' fixed costs
//! outweigh the multiply-adds. Here each output pixel's channels are vectors, and each
//! (tap, input channel) is one broadcast of an input value times one weight vector, for
//! `PIXELS` pixels at a time (independent accumulators hide the multiply-add latency).
//!
//! The filter is packed once as `[KH][KW][C_in][C_out rounded up to CO_ALIGN]`. Each output row
//! runs in segments of up to `SEGMENT` pixels: the input rows under a segment are copied, with
//! zeros for the padding, into a small buffer on the stack, so every pixel reads all its taps
//! without checks and pixels go `PIXELS` at a time (the last block of a segment overlaps the
//! one before rather than running pixel by pixel, which is latency-bound). Bias, residual and
//! activation are applied in registers before the one store. Rows are split across rayon
//! threads like the depthwise kernel's. Written once, generic over [`F32Vector`].
//!
//! A max pool after the convolution (stride = window) can run in the same pass
//! ([`DirectFilter::run_max_pooled`]): the convolution rows under a run of pooled pixels go to a
//! second stack buffer and are reduced from there, so they never reach memory.

use super::depthwise::tap_range;
use super::{Conv2dGeometry, Conv2dParams, FilterLayout};
use crate::activation::Activation;
use crate::buffer::{checked_len, try_collect, try_filled};
use crate::error::KernelError;
use crate::isa::Isa;
use crate::simd::vector::{load_n, select_per_isa, store_n, F32Vector};
use std::mem::MaybeUninit;

/// Most input channels (per group, with one group) that take the direct path.
pub(crate) const DIRECT_MAX_CIN: usize = 4;

/// Output channels of the packed filter are padded to a multiple of this (the widest vector),
/// so a partial last vector of channels loads weights and bias whole.
const CO_ALIGN: usize = 16;

/// Pixels computed together: 8, and 6 with 8-lane vectors (AVX2, 16 registers) unless the
/// pixels are adjacent values (one input channel, stride 1). LLVM issues all of a block's
/// broadcasts before its multiply-adds, so 8 pixels held 8 accumulators + 8 broadcasts + the
/// weights and spilled on every tap (Zen 3: the RGB stem layer 1.5-1.9x faster with 6; the grey
/// MNIST layer, whose broadcasts are offsets of one address, 10% slower).
const PIXELS: usize = 8;
const PIXELS_8_LANES: usize = 6;
/// With two vectors of channels on AVX2 (12 accumulators at 6 pixels), adjacent pixels go 4 at
/// a time: Zen 3, against one vector of 8 pixels, the grey MNIST layer with its pool 1.20x at 4
/// pixels and 1.11x at 6; the RGB stem (stride 2, 6 pixels) 1.36x.
const PIXELS_8_LANES_PAIRED_ADJACENT: usize = 4;

/// Most output pixels of a segment (the buffer holds the input under them).
const SEGMENT: usize = 64;

/// Values of the stack buffer of one segment's input rows (16 KiB).
const SEGMENT_BUFFER: usize = 4096;

/// Values of the stack buffer of the convolution rows under a run of max-pooled pixels (16 KiB).
const POOL_SCRATCH: usize = 4096;

/// The packed weights of a direct convolution and the ISA it runs on.
pub(crate) struct DirectFilter {
    /// `[KH][KW][C_in][co_pad]`, zero in the padding channels.
    weights: Vec<f32>,
    /// `co_pad` values (zeros without a bias, and in the padding).
    bias: Vec<f32>,
    co_pad: usize,
    rows: RowFn,
    pooled: PooledFn,
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
        let (rows, pooled) = (select(isa)?, select_pooled(isa)?);
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
        Ok(DirectFilter { weights, bias: padded_bias, co_pad, rows, pooled })
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
        let job = self.job(g, input, residual, act)?;
        let f = self.rows;
        super::for_row_blocks(output, g.out_w * g.out_c, threads, |first, block| {
            // SAFETY: `f` was selected for an ISA that `select` checked; `block` holds whole
            // rows starting at row `first`; `job`'s slices have the geometry's lengths (checked
            // by Conv2d) and its tables were built for it.
            unsafe { f(&job, first, block) }
        });
        Ok(())
    }

    /// Whether [`DirectFilter::run_max_pooled`] can run `g` with `window`: the window is not
    /// empty and fits the output, its convolution values fit the scratch buffer, and the rows
    /// run in segments.
    pub(crate) fn fuses_max_pool(g: &Conv2dGeometry, (ph, pw): (usize, usize)) -> bool {
        let fits = ph.checked_mul(pw).and_then(|w| w.checked_mul(g.out_c)).is_some_and(|v| v <= POOL_SCRATCH);
        ph > 0 && pw > 0 && ph <= g.out_h && pw <= g.out_w && fits && segments(g).0 > 0
    }

    /// Like [`DirectFilter::run`] followed by a max pool of `window` (stride = window, no
    /// padding, trailing rows and columns dropped) in the same pass, writing every value of
    /// the pooled output (`batch x out_h / PH x out_w / PW x C_out`). `InvalidArgument`
    /// (nothing written) unless [`DirectFilter::fuses_max_pool`].
    pub(crate) fn run_max_pooled(
        &self,
        g: &Conv2dGeometry,
        input: &[f32],
        act: Activation,
        window: (usize, usize),
        output: &mut [MaybeUninit<f32>],
        threads: usize,
    ) -> Result<(), KernelError> {
        if !Self::fuses_max_pool(g, window) {
            return Err(KernelError::InvalidArgument { what: "max pool that the direct convolution cannot fuse" });
        }
        let job = self.job(g, input, None, act)?;
        let (ph, pw) = window;
        let f = self.pooled;
        debug_assert_eq!(output.len(), g.batch * (g.out_h / ph) * (g.out_w / pw) * g.out_c);
        super::for_row_blocks(output, g.out_w / pw * g.out_c, threads, |first, block| {
            // SAFETY: as in `run`, for whole rows of the pooled output from `first`; the job has
            // segments and the window fits the output and the scratch (checked above).
            unsafe { f(&job, window, first, block) }
        });
        Ok(())
    }

    /// The tables of one call.
    fn job<'a>(
        &'a self,
        g: &Conv2dGeometry,
        input: &'a [f32],
        residual: Option<&'a [f32]>,
        act: Activation,
    ) -> Result<Job<'a>, KernelError> {
        let (kh, kw) = g.kernel;
        let cin = g.in_c;
        let (seg, buf_w) = segments(g);
        // Offset of each (ky, kx, ci): in the buffer from a pixel's first value, and in the
        // input from the pixel's top-left tap. (Wrapping: a tap that lands outside every image,
        // with a huge dilation, is clipped and never read.)
        let offsets = |row_step: usize| {
            move |t: usize| {
                let (ky, kx, ci) = (t / (kw * cin), t / cin % kw, t % cin);
                (ky.wrapping_mul(row_step))
                    .wrapping_add(kx.wrapping_mul(g.dilation.1))
                    .wrapping_mul(cin)
                    .wrapping_add(ci)
            }
        };
        let buf_off = try_collect("direct convolution tap offsets", (0..kh * kw * cin).map(offsets(buf_w)))?;
        let (tap_off, xr) = if seg == 0 {
            let tap_off = try_collect(
                "direct convolution tap offsets",
                (0..kh * kw * cin).map(offsets(g.dilation.0.wrapping_mul(g.in_w))),
            )?;
            let xr = try_collect(
                "direct convolution column table",
                (0..g.out_w).map(|ox| tap_range(ox * g.stride.1, g.dilation.1, g.pad_left, g.in_w, kw)),
            )?;
            (tap_off, xr)
        } else {
            (Vec::new(), Vec::new())
        };
        Ok(Job {
            g: *g,
            input,
            weights: &self.weights,
            bias: &self.bias,
            co_pad: self.co_pad,
            residual,
            act,
            seg,
            buf_w,
            buf_off,
            tap_off,
            xr,
        })
    }
}

/// Pixels per segment and the segment buffer's row width: the most pixels whose input rows fit
/// the buffer (kh rows of `buf_w` pixels); 0 when not even one pixel's do (a huge dilation),
/// and then every pixel reads the input directly with its taps clipped.
fn segments(g: &Conv2dGeometry) -> (usize, usize) {
    let (kh, kw) = g.kernel;
    let span = (kw - 1).checked_mul(g.dilation.1).and_then(|s| s.checked_add(1));
    let fits = (SEGMENT_BUFFER / kh.saturating_mul(g.in_c).max(1)).checked_sub(span.unwrap_or(usize::MAX));
    let seg = fits.map_or(0, |room| (room / g.stride.1 + 1).min(SEGMENT).min(g.out_w));
    let buf_w = span.map_or(0, |span| if seg == 0 { 0 } else { (seg - 1) * g.stride.1 + span });
    (seg, buf_w)
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
    /// Most pixels of a segment; 0: no segments, every pixel reads the input.
    seg: usize,
    /// Pixels of each input row of a segment's buffer.
    buf_w: usize,
    /// `[KH][KW][C_in]`: offset of each tap's value in the buffer from the pixel's first.
    buf_off: Vec<usize>,
    /// Without segments: offset of each tap's value in the input from the pixel's top-left tap.
    tap_off: Vec<usize>,
    /// Without segments: per output column, its kernel columns inside the input.
    xr: Vec<(usize, usize)>,
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
    let row_len = g.out_w * g.out_c;
    let mut buf = [MaybeUninit::<f32>::uninit(); SEGMENT_BUFFER];
    for (r, out_row) in out.chunks_exact_mut(row_len).enumerate() {
        let row = first + r;
        let (image, oy) = (row / g.out_h, row % g.out_h);
        let res_row = job.residual.map(|res| res[row * row_len..(row + 1) * row_len].as_ptr());
        if job.seg == 0 {
            // SAFETY: `job` was built for the geometry with no segments (tap_off, xr filled);
            // `out_row` is row `row`.
            unsafe { unsegmented_row::<V>(job, image, oy, res_row, out_row) };
            continue;
        }
        // SAFETY: `out_row` (and the residual's row) is row `row`, all of its pixels; `job` has
        // segments.
        unsafe { row_span::<V>(job, &mut buf, image, oy, 0..g.out_w, res_row, out_row) };
    }
}

/// Output pixels `span` of row `oy` of `image`, written to `out` from its start (pixel
/// `span.start` first), segment by segment through `buf`.
///
/// # Safety
/// `job` has segments (`seg > 0`); the pixels exist; `out` (and `res_row`, when given) holds
/// `span.len()` pixels of `C_out` values.
#[inline(always)]
unsafe fn row_span<V: F32Vector>(
    job: &Job<'_>,
    buf: &mut [MaybeUninit<f32>; SEGMENT_BUFFER],
    image: usize,
    oy: usize,
    span: std::ops::Range<usize>,
    res_row: Option<*const f32>,
    out: &mut [MaybeUninit<f32>],
) {
    let g = &job.g;
    let (cin, cout) = (g.in_c, g.out_c);
    // (Wrapping: with a huge stride a row has one pixel and the step is never used.)
    let step = g.stride.1.wrapping_mul(cin);
    let mut ox = span.start;
    while ox < span.end {
        let len = job.seg.min(span.end - ox);
        // SAFETY: the buffer holds kh * buf_w * cin >= what `fill` writes for `len <= seg`
        // pixels (checked when `seg` was chosen).
        unsafe { fill::<V>(job, buf.as_mut_ptr().cast(), image, oy, ox, len) };
        let base = buf.as_ptr().cast::<f32>();
        let mut co = 0;
        while co < cout {
            // Two vectors of channels per pass where the registers allow (AVX-512: 16
            // accumulators, AVX2: 12 or 8): each broadcast input value feeds two multiply-adds.
            let pair = V::TWO_VECTOR_BLOCKS && cout - co > V::N;
            let vectors = if pair { 2 } else { 1 };
            let n = V::N.min(cout - co - (vectors - 1) * V::N);
            let px = Pixels { job, tap_off: &job.buf_off, co, n, res_row };
            // SAFETY: pixel p of the segment reads buffer values p * step + buf_off[t], all
            // written by `fill`; the outputs are pixels ox..ox + len of the span, at
            // ox - span.start in `out` (and in the residual's span).
            unsafe {
                // Stride 1 over one channel (a grey first layer) with the step a constant: each
                // pixel's value is then an immediate offset, not a register of its own.
                match (pair, step) {
                    (true, 1) => px.segment::<V, 2>(base, 1, out, ox - span.start, len),
                    (true, _) => px.segment::<V, 2>(base, step, out, ox - span.start, len),
                    (false, 1) => px.segment::<V, 1>(base, 1, out, ox - span.start, len),
                    (false, _) => px.segment::<V, 1>(base, step, out, ox - span.start, len),
                }
            }
            co += vectors * V::N;
        }
        ox += len;
    }
}

/// Computes whole rows `first..` of the max-pooled output (`window` = `(PH, PW)`, stride =
/// window, row = image * (out_h / PH) + py): the convolution rows under a run of pooled pixels
/// go to a stack buffer, which is reduced into `out`.
///
/// # Safety
/// As [`RowFn`], for the pooled output; `job` has segments; `PH * PW * C_out <= POOL_SCRATCH`
/// and `PH <= out_h`, `PW <= out_w`.
type PooledFn = unsafe fn(&Job<'_>, (usize, usize), usize, &mut [MaybeUninit<f32>]);

select_per_isa! {
    /// The entry point of `isa` for a convolution followed by a max pool, or why it cannot run.
    fn select_pooled -> PooledFn = pooled_rows(job: &Job<'_>, window: (usize, usize), first: usize, out: &mut [MaybeUninit<f32>])
}

/// See [`PooledFn`].
#[inline(always)]
unsafe fn pooled_rows<V: F32Vector>(
    job: &Job<'_>,
    (ph, pw): (usize, usize),
    first: usize,
    out: &mut [MaybeUninit<f32>],
) {
    let g = &job.g;
    let cout = g.out_c;
    let (pool_h, pool_w) = (g.out_h / ph, g.out_w / pw);
    // Pooled pixels per run: the convolution's PH x (run * PW) pixels fill at most the scratch.
    let run = (POOL_SCRATCH / (ph * pw * cout)).min(pool_w);
    let mut buf = [MaybeUninit::<f32>::uninit(); SEGMENT_BUFFER];
    let mut scratch = [MaybeUninit::<f32>::uninit(); POOL_SCRATCH];
    for (r, out_row) in out.chunks_exact_mut(pool_w * cout).enumerate() {
        let row = first + r;
        let (image, py) = (row / pool_h, row % pool_h);
        let mut px = 0;
        while px < pool_w {
            let n = run.min(pool_w - px);
            let conv_row = n * pw * cout;
            for dy in 0..ph {
                // SAFETY: convolution row py * ph + dy < out_h and pixels px * pw..(px + n) * pw
                // <= out_w exist; the scratch row holds n * pw pixels (ph * n * pw * cout <=
                // POOL_SCRATCH).
                unsafe {
                    row_span::<V>(
                        job,
                        &mut buf,
                        image,
                        py * ph + dy,
                        px * pw..(px + n) * pw,
                        None,
                        &mut scratch[dy * conv_row..(dy + 1) * conv_row],
                    )
                };
            }
            let src = scratch.as_ptr().cast::<f32>();
            // SAFETY: the scratch's first ph * conv_row values were written above; pooled
            // pixels px..px + n of this row exist in `out_row`; the ISA of `V` is available.
            unsafe {
                let dst = out_row.as_mut_ptr().add(px * cout).cast::<f32>();
                // The usual 2x2 window with its loop bounds known (a quarter of the fused time
                // went to the general loop's bookkeeping).
                if (ph, pw) == (2, 2) {
                    max_windows::<V>(src, conv_row, cout, n, (2, 2), dst);
                } else {
                    max_windows::<V>(src, conv_row, cout, n, (ph, pw), dst);
                }
            }
            px += n;
        }
    }
}

/// Max pools `n` windows of `ph x pw` pixels of `cout` channels, side by side in `ph` rows of
/// `conv_row` values from `src`, into `n` pixels from `dst`. (Inlined, so a call with a
/// constant window runs with fixed loops.)
///
/// # Safety
/// `src` holds `ph * conv_row` values with `conv_row >= n * pw * cout`; `dst` holds `n * cout`;
/// the ISA of `V` is available.
#[inline(always)]
unsafe fn max_windows<V: F32Vector>(
    src: *const f32,
    conv_row: usize,
    cout: usize,
    n: usize,
    (ph, pw): (usize, usize),
    dst: *mut f32,
) {
    // SAFETY: every read is inside the ph rows' first n * pw pixels, every write inside dst's
    // n pixels (the caller's contract).
    unsafe {
        for p in 0..n {
            let mut cb = 0;
            while cb < cout {
                let lanes = V::N.min(cout - cb);
                let at = |dy: usize, dx: usize| src.add(dy * conv_row + (p * pw + dx) * cout + cb);
                let mut acc = load_n::<V>(at(0, 0), lanes);
                for dy in 0..ph {
                    for dx in usize::from(dy == 0)..pw {
                        // (A NaN anywhere in the window wins, as in the pooling kernel.)
                        acc = V::max(acc, load_n::<V>(at(dy, dx), lanes));
                    }
                }
                store_n::<V>(dst.add(p * cout + cb), lanes, acc);
                cb += V::N;
            }
        }
    }
}

/// Copies the input under output pixels `ox..ox + len` of row `oy` of `image` into `buf`: its
/// kh kernel rows, each `(len - 1) * stride + span` pixels (`buf_w` apart), zero in the padding.
///
/// # Safety
/// `buf` holds `kh * buf_w * cin` values; `len <= seg`; the pixels exist.
#[inline(always)]
unsafe fn fill<V: F32Vector>(job: &Job<'_>, buf: *mut f32, image: usize, oy: usize, ox: usize, len: usize) {
    let g = &job.g;
    let (kh, kw, cin) = (g.kernel.0, g.kernel.1, g.in_c);
    let width = (len - 1) * g.stride.1 + (kw - 1) * g.dilation.1 + 1;
    // Buffer pixels j0..j1 are inside the input (columns x0 + j - pad_left).
    let x0 = ox * g.stride.1;
    let j0 = g.pad_left.saturating_sub(x0).min(width);
    let j1 = (g.pad_left + g.in_w).saturating_sub(x0).clamp(j0, width);
    for ky in 0..kh {
        // SAFETY: buffer row ky holds buf_w >= width pixels; input row iy (when inside) holds
        // the columns x0 + j0 - pad_left .. x0 + j1 - pad_left of the image.
        unsafe {
            let dst = buf.add(ky * job.buf_w * cin);
            match g.input_row(oy, ky) {
                Some(iy) if j0 < j1 => {
                    let src = job.input.as_ptr().add(((image * g.in_h + iy) * g.in_w + x0 + j0 - g.pad_left) * cin);
                    zero::<V>(dst, j0 * cin);
                    copy::<V>(dst.add(j0 * cin), src, (j1 - j0) * cin);
                    zero::<V>(dst.add(j1 * cin), (width - j1) * cin);
                }
                _ => zero::<V>(dst, width * cin),
            }
        }
    }
}

/// `n` values from `src` to `dst`, a vector at a time.
///
/// # Safety
/// Both hold `n` values; they do not overlap.
#[inline(always)]
unsafe fn copy<V: F32Vector>(dst: *mut f32, src: *const f32, n: usize) {
    let mut i = 0;
    // SAFETY: every access is below n.
    unsafe {
        while i + V::N <= n {
            V::store(dst.add(i), V::load(src.add(i)));
            i += V::N;
        }
        if i < n {
            V::store_part(dst.add(i), n - i, V::load_part(src.add(i), n - i));
        }
    }
}

/// `n` zeros to `dst`, a vector at a time.
///
/// # Safety
/// `dst` holds `n` values.
#[inline(always)]
unsafe fn zero<V: F32Vector>(dst: *mut f32, n: usize) {
    let mut i = 0;
    // SAFETY: every access is below n.
    unsafe {
        let z = V::splat(0.0);
        while i + V::N <= n {
            V::store(dst.add(i), z);
            i += V::N;
        }
        if i < n {
            V::store_part(dst.add(i), n - i, z);
        }
    }
}

/// An output row with no segments (not even one pixel's input rows fit the buffer): each
/// pixel reads the input directly, its kernel rows and columns clipped to the input.
///
/// # Safety
/// `job` has `tap_off` and `xr` (built when `seg` is 0); `out_row` is row `oy` of `image`.
#[inline(always)]
unsafe fn unsegmented_row<V: F32Vector>(
    job: &Job<'_>,
    image: usize,
    oy: usize,
    res_row: Option<*const f32>,
    out_row: &mut [MaybeUninit<f32>],
) {
    let g = &job.g;
    let (kw, cin, cout) = (g.kernel.1, g.in_c, g.out_c);
    let image_len = g.in_h * g.in_w * cin;
    // Kernel rows inside the input: taps ky_lo * kw * cin .. ky_hi * kw * cin.
    let (ky_lo, ky_hi) = tap_range(oy * g.stride.0, g.dilation.0, g.pad_top, g.in_h, g.kernel.0);
    let taps = (ky_lo * kw * cin)..(ky_hi * kw * cin).max(ky_lo * kw * cin);
    // The pixel (oy, ox)'s top-left tap, which may lie in the padding (wrapping: only taps
    // inside the input are read).
    let iy0 = ((oy * g.stride.0) as isize).wrapping_sub(g.pad_top as isize);
    let mut co = 0;
    while co < cout {
        let px = Pixels { job, tap_off: &job.tap_off, co, n: V::N.min(cout - co), res_row };
        for ox in 0..g.out_w {
            let ix0 = ((ox * g.stride.1) as isize).wrapping_sub(g.pad_left as isize);
            let off = iy0.wrapping_mul(g.in_w as isize).wrapping_add(ix0).wrapping_mul(cin as isize);
            let corner = job.input.as_ptr().wrapping_add(image * image_len).wrapping_offset(off);
            // SAFETY: the taps of rows ky_lo..ky_hi and columns xr[ox] are inside the image.
            unsafe { px.clipped::<V>(corner, taps.clone(), job.xr[ox], out_row, ox) };
        }
        co += V::N;
    }
}

/// One output row's channels from `co` (one or two vectors, the last `n` lanes): what its
/// pixels share.
#[derive(Clone, Copy)]
struct Pixels<'a> {
    job: &'a Job<'a>,
    /// `[KH][KW][C_in]`: each tap's offset from the pixel's first value.
    tap_off: &'a [usize],
    /// The first channel, and the lanes of the last vector of channels.
    co: usize,
    n: usize,
    /// The residual's row, when there is one.
    res_row: Option<*const f32>,
}

impl Pixels<'_> {
    /// Pixels `ox..ox + len` of one segment, `Q` vectors of channels from `co`: in blocks of
    /// [`PIXELS`] pixels (or [`PIXELS_8_LANES`]), of half that below, one by one below half.
    ///
    /// # Safety
    /// As [`Pixels::block`] for pixels `0..len` from `base`.
    #[inline(always)]
    unsafe fn segment<V: F32Vector, const Q: usize>(
        &self,
        base: *const f32,
        step: usize,
        out: &mut [MaybeUninit<f32>],
        ox: usize,
        len: usize,
    ) {
        // SAFETY: the caller's contract.
        unsafe {
            if V::N == 8 && Q == 2 && step == 1 {
                self.segment_in::<V, PIXELS_8_LANES_PAIRED_ADJACENT, { PIXELS_8_LANES_PAIRED_ADJACENT / 2 }, Q>(
                    base, step, out, ox, len,
                );
            } else if V::N == 8 && step != 1 {
                self.segment_in::<V, PIXELS_8_LANES, { PIXELS_8_LANES / 2 }, Q>(base, step, out, ox, len);
            } else {
                self.segment_in::<V, PIXELS, { PIXELS / 2 }, Q>(base, step, out, ox, len);
            }
        }
    }

    /// [`Pixels::segment`] in blocks of `P` pixels (`HALF = P / 2`).
    ///
    /// # Safety
    /// As [`Pixels::segment`].
    #[inline(always)]
    unsafe fn segment_in<V: F32Vector, const P: usize, const HALF: usize, const Q: usize>(
        &self,
        base: *const f32,
        step: usize,
        out: &mut [MaybeUninit<f32>],
        ox: usize,
        len: usize,
    ) {
        // SAFETY: the caller's contract.
        unsafe {
            if len >= P && len % P == HALF {
                // Exactly half a block left (a 28-pixel row: 8 + 8 + 8 + 4): a half block
                // instead of an overlapping whole one, which would compute 4 pixels twice.
                let whole = len - HALF;
                self.blocks::<V, P, Q>(base, step, out, ox, whole);
                self.blocks::<V, HALF, Q>(base.add(whole * step), step, out, ox + whole, HALF);
            } else if len >= P {
                self.blocks::<V, P, Q>(base, step, out, ox, len);
            } else if len >= HALF {
                self.blocks::<V, HALF, Q>(base, step, out, ox, len);
            } else {
                self.blocks::<V, 1, Q>(base, step, out, ox, len);
            }
        }
    }

    /// Pixels `ox..ox + len` (`len >= P`) in blocks of `P`, the last block overlapping the one
    /// before (the same values written twice) rather than a remainder.
    ///
    /// # Safety
    /// As [`Pixels::block`] for pixels `0..len` from `base`.
    #[inline(always)]
    unsafe fn blocks<V: F32Vector, const P: usize, const Q: usize>(
        &self,
        base: *const f32,
        step: usize,
        out: &mut [MaybeUninit<f32>],
        ox: usize,
        len: usize,
    ) {
        let mut p = 0;
        while p < len {
            let q = p.min(len - P);
            // SAFETY: pixels q..q + P lie in 0..len (the caller's contract).
            unsafe { self.block::<V, P, Q>(base.add(q * step), step, out, ox + q) };
            p += P;
        }
    }

    /// `P` pixels from column `ox`, `step` values apart, all taps read; `Q` vectors of
    /// channels from `co` (the last one `n` lanes).
    ///
    /// # Safety
    /// Each `corner + p * step + tap_off[t]` is readable; pixels `ox..ox + P` exist in the row
    /// `out` (and in the residual's row).
    #[inline(always)]
    unsafe fn block<V: F32Vector, const P: usize, const Q: usize>(
        &self,
        corner: *const f32,
        step: usize,
        out: &mut [MaybeUninit<f32>],
        ox: usize,
    ) {
        let job = self.job;
        // SAFETY: bias and weights hold co_pad >= co + Q * N values per tap (padded to 16, a
        // multiple of N, and co + (Q - 1) * N < C_out); the caller's contract for the input.
        unsafe {
            let mut acc: [[V; P]; Q] =
                core::array::from_fn(|q| [V::load(job.bias.as_ptr().add(self.co + q * V::N)); P]);
            for (t, &off) in self.tap_off.iter().enumerate() {
                let w: [V; Q] =
                    core::array::from_fn(|q| V::load(job.weights.as_ptr().add(t * job.co_pad + self.co + q * V::N)));
                let src = corner.add(off);
                // Pixel-outer, each broadcast feeding its Q multiply-adds (channel-major
                // accumulators: pixel-major ones measured 3-7% slower).
                #[allow(clippy::needless_range_loop)]
                for p in 0..P {
                    let x = V::splat(*src.add(p * step));
                    for q in 0..Q {
                        acc[q][p] = V::madd(x, w[q], acc[q][p]);
                    }
                }
            }
            for (q, acc) in acc.into_iter().enumerate() {
                let part = Pixels { co: self.co + q * V::N, n: if q + 1 == Q { self.n } else { V::N }, ..*self };
                part.store::<V, P>(acc, out, ox);
            }
        }
    }

    /// One pixel whose kernel rows `taps` (whole rows of `[KH][KW][C_in]` indices) and
    /// kernel columns `kx_lo..kx_hi` are inside the input.
    ///
    /// # Safety
    /// Each `corner + tap_off[t]` for `t` in `taps` with kernel column in `kx_lo..kx_hi` is a
    /// value of the input; pixel `ox` exists in the row `out`.
    #[inline(always)]
    unsafe fn clipped<V: F32Vector>(
        &self,
        corner: *const f32,
        taps: std::ops::Range<usize>,
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
            for row in taps.step_by(kw * cin) {
                for t in row + kx_lo * cin..row + kx_hi.max(kx_lo) * cin {
                    let w = V::load(job.weights.as_ptr().add(t * job.co_pad + self.co));
                    acc = V::madd(V::splat(*corner.wrapping_add(self.tap_off[t])), w, acc);
                }
            }
            self.store::<V, 1>([acc], out, ox);
        }
    }

    /// Residual, activation and the store of pixels `ox..ox + P`, channels `co..co + n`.
    ///
    /// # Safety
    /// The pixels exist in the row `out` (and in the residual's row); the ISA of `V` is
    /// available.
    #[inline(always)]
    unsafe fn store<V: F32Vector, const P: usize>(&self, mut acc: [V; P], out: &mut [MaybeUninit<f32>], ox: usize) {
        let cout = self.job.g.out_c;
        let at = ox * cout + self.co;
        debug_assert!(at + (P - 1) * cout + self.n <= out.len());
        // SAFETY: channels co..co + n of pixels ox..ox + P lie in the row (and in the
        // residual's row).
        unsafe {
            if let Some(res) = self.res_row {
                for (p, a) in acc.iter_mut().enumerate() {
                    let r = res.add(at + p * cout);
                    *a = V::add(*a, load_n::<V>(r, self.n));
                }
            }
            // One branch on the activation per block, not per pixel.
            match self.job.act {
                Activation::Identity => {}
                Activation::Relu => acc.iter_mut().for_each(|a| *a = V::activate(*a, Activation::Relu)),
                act => acc.iter_mut().for_each(|a| *a = V::activate(*a, act)),
            }
            let dst = out.as_mut_ptr().add(at).cast::<f32>();
            for (p, &a) in acc.iter().enumerate() {
                store_n::<V>(dst.add(p * cout), self.n, a);
            }
        }
    }
}
