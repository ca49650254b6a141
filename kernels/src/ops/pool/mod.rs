//! Pooling on NHWC activations: max pool, average pool, global average pool, vectorised over
//! channels (one vector holds the same pixel of `N` channels) on every ISA, with the same
//! generic loop instantiated per ISA as the depthwise convolution (`simd/vector.rs`).
//!
//! Padding follows [`Padding`]: padded positions never win a max (they are not `0`, they are
//! absent), and an average divides by the taps inside the input unless
//! [`PoolKind::Avg`]`{ count_include_pad: true }` (then by `KH * KW`, PyTorch's default;
//! `false` is TensorFlow's and ONNX's default, and ours). Each explicit padding must be smaller
//! than the kernel on its axis, so every window covers at least one input pixel.
//! A NaN in a max window makes the output NaN (as in PyTorch). Single-threaded.

use crate::buffer::try_collect;
use crate::error::KernelError;
use crate::isa::Isa;
use crate::ops::conv::depthwise::tap_range;
use crate::ops::conv::{Conv2d, Conv2dGeometry, Conv2dParams, Padding};
use crate::simd::vector::{load_n, select_per_isa, store_n, F32Vector};

/// Max or average.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolKind {
    /// The largest value of the window (padding excluded).
    Max,
    /// The mean of the window.
    Avg {
        /// Divide by `KH * KW` (padding counted as zeros) instead of by the taps inside the
        /// input.
        count_include_pad: bool,
    },
}

/// The parameters of a 2-D pooling on NHWC activations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool2dParams {
    /// Max or average.
    pub kind: PoolKind,
    /// Channels.
    pub channels: usize,
    /// Window height and width.
    pub kernel: (usize, usize),
    /// Vertical and horizontal stride (>= 1).
    pub stride: (usize, usize),
    /// Padding (each side smaller than the kernel).
    pub padding: Padding,
}

impl Pool2dParams {
    /// A `kh x kw` pooling with stride = kernel (non-overlapping windows), no padding.
    pub fn new(kind: PoolKind, channels: usize, kernel: (usize, usize)) -> Self {
        Pool2dParams { kind, channels, kernel, stride: kernel, padding: Padding::VALID }
    }

    /// With this stride.
    pub fn stride(self, sh: usize, sw: usize) -> Self {
        Pool2dParams { stride: (sh, sw), ..self }
    }

    /// With this padding.
    pub fn padding(self, padding: Padding) -> Self {
        Pool2dParams { padding, ..self }
    }

    /// The geometry for `batch` images of `height x width` (a depthwise convolution's, with
    /// `in_c == out_c == channels`), or a typed error: zero sizes or stride, an empty image
    /// (zero height or width), a window larger than the padded input, a padding not smaller
    /// than the window.
    pub fn geometry(&self, batch: usize, height: usize, width: usize) -> Result<Conv2dGeometry, KernelError> {
        let (kh, kw) = self.kernel;
        if let Padding::Explicit { top, bottom, left, right } = self.padding {
            for (param, pad, k) in [
                ("padding top (not smaller than the window)", top, kh),
                ("padding bottom (not smaller than the window)", bottom, kh),
                ("padding left (not smaller than the window)", left, kw),
                ("padding right (not smaller than the window)", right, kw),
            ] {
                if k > 0 && pad >= k {
                    return Err(KernelError::InvalidGeometry { param, value: pad });
                }
            }
        }
        // An empty image: every window would be padding only (a max of nothing).
        if height == 0 || width == 0 {
            let (param, value) = if height == 0 { ("input height", height) } else { ("input width", width) };
            return Err(KernelError::InvalidGeometry { param, value });
        }
        Conv2dParams::new(self.channels, self.channels, self.kernel)
            .groups(self.channels.max(1))
            .stride(self.stride.0, self.stride.1)
            .padding(self.padding)
            .geometry(batch, height, width)
    }
}

/// A pooling bound to an ISA. Cheap to create.
///
/// ```
/// use lanes_kernels::ops::pool::{Pool2d, Pool2dParams, PoolKind};
/// // 2x2 max pool, stride 2, on one 4x4 image of 1 channel.
/// let pool = Pool2d::new(Pool2dParams::new(PoolKind::Max, 1, (2, 2)))?;
/// let input: Vec<f32> = (0..16).map(|x| x as f32).collect();
/// let mut output = [0.0f32; 4];
/// pool.run(&input, 1, 4, 4, &mut output)?;
/// assert_eq!(output, [5.0, 7.0, 13.0, 15.0]);
/// # Ok::<(), lanes_kernels::KernelError>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Pool2d {
    params: Pool2dParams,
    isa: Isa,
}

impl Pool2d {
    /// On the ISA from `LANES_ISA`, else the best this CPU has.
    pub fn new(params: Pool2dParams) -> Result<Self, KernelError> {
        Self::with_isa(Isa::selected()?, params)
    }

    /// On `isa`; an error if this CPU/build cannot run it.
    pub fn with_isa(isa: Isa, params: Pool2dParams) -> Result<Self, KernelError> {
        select(isa)?;
        if params.channels == 0 {
            return Err(KernelError::InvalidGeometry { param: "channels", value: 0 });
        }
        Ok(Pool2d { params, isa })
    }

    /// The parameters.
    pub fn params(&self) -> &Pool2dParams {
        &self.params
    }

    /// Runs on `batch` NHWC images of `height x width x channels`, writing
    /// `batch x out_h x out_w x channels` (see [`Pool2dParams::geometry`]).
    pub fn run(
        &self,
        input: &[f32],
        batch: usize,
        height: usize,
        width: usize,
        output: &mut [f32],
    ) -> Result<Conv2dGeometry, KernelError> {
        let g = self.checked_geometry(input, batch, height, width)?;
        check_len("output (batch x out_h x out_w x channels)", g.output_len()?, output.len())?;
        // SAFETY: `output` is a unique borrow of the output's length.
        unsafe { self.pool_into(&g, input, output.as_mut_ptr())? };
        Ok(g)
    }

    /// Like [`Pool2d::run`], into a new `Vec` (not zeroed first: every value is written).
    /// `AllocationFailed` when the output cannot be allocated.
    pub fn run_to_vec(
        &self,
        input: &[f32],
        batch: usize,
        height: usize,
        width: usize,
    ) -> Result<(Vec<f32>, Conv2dGeometry), KernelError> {
        let g = self.checked_geometry(input, batch, height, width)?;
        let rows = g.output_len()?.checked_div(g.out_c).unwrap_or(0);
        // SAFETY: `pool_into` writes every output value, into storage of the output's length.
        let out = unsafe {
            crate::buffer::vec_written_by(("pooling output", rows, g.out_c), |dst| self.pool_into(&g, input, dst))?
        };
        Ok((out, g))
    }

    /// The geometry, after checking the input's length.
    fn checked_geometry(
        &self,
        input: &[f32],
        batch: usize,
        height: usize,
        width: usize,
    ) -> Result<Conv2dGeometry, KernelError> {
        let g = self.params.geometry(batch, height, width)?;
        check_len("input (batch x height x width x channels)", g.input_len()?, input.len())?;
        Ok(g)
    }

    /// Pools `input` (checked against `g`) into `output`, writing every one of its values.
    ///
    /// # Safety
    /// `output` is writable (it need not be initialised) for `g`'s output length and nothing else
    /// accesses it during the call.
    unsafe fn pool_into(&self, g: &Conv2dGeometry, input: &[f32], output: *mut f32) -> Result<(), KernelError> {
        let f = select(self.isa)?;
        if g.output_len()? == 0 {
            // No images (the row sizes may not even fit in memory): nothing to do.
            return Ok(());
        }
        let xr = column_table(g)?;
        // SAFETY: `select` checked the ISA; the lengths match the geometry, whose image is not
        // empty (`geometry`), so every window covers at least one input pixel; `xr` has one
        // entry per output column; `output` as the caller guarantees.
        unsafe { f(g, self.params.kind, &xr, input, output) };
        Ok(())
    }
}

/// Per output column: how many window columns fall inside the input, the first of them, and
/// the whole window's size (`KH * KW`).
fn column_table(g: &Conv2dGeometry) -> Result<Vec<(usize, usize, usize)>, KernelError> {
    let (kh, kw) = g.kernel;
    try_collect(
        "pooling column table",
        (0..g.out_w).map(|ox| {
            let (kx0, kx1) = tap_range(ox * g.stride.1, 1, g.pad_left, g.in_w, kw);
            (kx1 - kx0, ox * g.stride.1 + kx0 - g.pad_left, kh * kw)
        }),
    )
}

/// Global average pooling: `output[n][c] = mean over the pixels of input[n][..][c]`, input
/// `batch x pixels x channels` (NHWC with `pixels = H * W`), output `batch x channels`. On the
/// ISA from `LANES_ISA`, else the best this CPU has.
pub fn global_avg_pool(
    input: &[f32],
    batch: usize,
    pixels: usize,
    channels: usize,
    output: &mut [f32],
) -> Result<(), KernelError> {
    global_avg_pool_with_isa(Isa::selected()?, input, batch, pixels, channels, output)
}

/// [`global_avg_pool`] on `isa`.
pub fn global_avg_pool_with_isa(
    isa: Isa,
    input: &[f32],
    batch: usize,
    pixels: usize,
    channels: usize,
    output: &mut [f32],
) -> Result<(), KernelError> {
    let f = select_global(isa)?;
    if pixels == 0 {
        return Err(KernelError::InvalidGeometry { param: "pixels", value: 0 });
    }
    if channels == 0 {
        return Err(KernelError::InvalidGeometry { param: "channels", value: 0 });
    }
    let in_len = [pixels, channels]
        .iter()
        .try_fold(batch, |a, &x| a.checked_mul(x))
        .ok_or(KernelError::InvalidGeometry { param: "input size", value: usize::MAX })?;
    check_len("input (batch x pixels x channels)", in_len, input.len())?;
    check_len("output (batch x channels)", batch * channels, output.len())?;
    // SAFETY: `select_global` checked the ISA; the lengths match.
    unsafe { f(input, pixels, channels, output) };
    Ok(())
}

fn check_len(what: &'static str, expected: usize, found: usize) -> Result<(), KernelError> {
    if expected == found {
        Ok(())
    } else {
        Err(KernelError::LengthMismatch { what, expected, found })
    }
}

/// # Safety
/// The ISA of the instantiation is available; `input` has the geometry's length and `output`
/// is writable for the geometry's output length (it need not be initialised: only written);
/// the column table is [`column_table`]'s.
type PoolFn = unsafe fn(&Conv2dGeometry, PoolKind, &[(usize, usize, usize)], &[f32], *mut f32);
/// # Safety
/// The ISA is available; `input` is `batch x pixels x channels`, `output` `batch x channels`.
type GlobalFn = unsafe fn(&[f32], usize, usize, &mut [f32]);

select_per_isa! {
    fn select -> PoolFn = pool(
        g: &Conv2dGeometry,
        kind: PoolKind,
        xr: &[(usize, usize, usize)],
        input: &[f32],
        output: *mut f32,
    )
}

/// `conv` on `batch` NHWC images followed by a `PH x PW` max pool (`window`, stride = window,
/// no padding; trailing rows and columns that fill no window are dropped, like PyTorch's
/// `MaxPool2d(k)`): the pooled NHWC output and its `(height, width)`. Where the convolution
/// runs its direct kernel (C_in <= 4, a first layer) the two are one pass: the convolution rows
/// under a run of pooled pixels go through a small buffer instead of memory. Elsewhere they run
/// one after the other ([`Conv2d::run_to_vec`], then [`Pool2d`] on the layer's ISA). A NaN in a
/// window gives NaN, as in [`Pool2d`].
///
/// ```
/// use lanes_kernels::ops::conv::{Conv2d, Conv2dParams, FilterLayout, Padding};
/// use lanes_kernels::ops::pool::max_pool_after_conv;
/// use lanes_kernels::Activation;
/// // The identity filter on a 4x4 grey image, then a 2x2 max pool.
/// let params = Conv2dParams::new(1, 1, (3, 3)).padding(Padding::Same);
/// let filter = [0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0];
/// let conv = Conv2d::new(params, &filter, FilterLayout::Oihw, None, Activation::Identity)?;
/// let image: Vec<f32> = (0..16).map(|i| i as f32).collect();
/// let (pooled, (h, w)) = max_pool_after_conv(&conv, &image, 1, 4, 4, (2, 2))?;
/// assert_eq!((h, w), (2, 2));
/// assert_eq!(pooled, [5.0, 7.0, 13.0, 15.0]);
/// # Ok::<(), lanes_kernels::KernelError>(())
/// ```
pub fn max_pool_after_conv(
    conv: &Conv2d,
    input: &[f32],
    batch: usize,
    height: usize,
    width: usize,
    window: (usize, usize),
) -> Result<(Vec<f32>, (usize, usize)), KernelError> {
    let g = conv.geometry(batch, height, width)?;
    let (ph, pw) = window;
    if ph == 0 || pw == 0 {
        return Err(KernelError::InvalidArgument { what: "max pool window of size 0" });
    }
    if ph > g.out_h || pw > g.out_w {
        return Err(KernelError::InvalidArgument { what: "max pool window larger than the convolution output" });
    }
    if let Some(fused) = conv.run_max_pooled_fused(input, batch, height, width, window)? {
        return Ok(fused);
    }
    let (y, g) = conv.run_to_vec(input, batch, height, width)?;
    let pooled = (g.out_h / ph, g.out_w / pw);
    if y.is_empty() {
        return Ok((Vec::new(), pooled));
    }
    let pool = Pool2d::with_isa(conv.isa()?, Pool2dParams::new(PoolKind::Max, g.out_c, window))?;
    Ok((pool.run_to_vec(&y, batch, g.out_h, g.out_w)?.0, pooled))
}

select_per_isa! {
    fn select_global -> GlobalFn = global(input: &[f32], pixels: usize, channels: usize, output: &mut [f32])
}

/// See [`PoolFn`]. Per output pixel, the window clipped to the input, one channel block at a
/// time (max and average compiled separately: no test of the kind per value).
#[inline(always)]
unsafe fn pool<V: F32Vector>(
    g: &Conv2dGeometry,
    kind: PoolKind,
    xr: &[(usize, usize, usize)],
    input: &[f32],
    dst: *mut f32,
) {
    // SAFETY: forwarded contract.
    unsafe {
        match kind {
            PoolKind::Max => pool_windows::<V, true>(g, false, xr, input, dst),
            PoolKind::Avg { count_include_pad } => pool_windows::<V, false>(g, count_include_pad, xr, input, dst),
        }
    }
}

/// [`pool`] for max (`MAX`) or average pooling (`include_pad`: divide by the whole window).
///
/// # Safety
/// As [`PoolFn`].
#[inline(always)]
unsafe fn pool_windows<V: F32Vector, const MAX: bool>(
    g: &Conv2dGeometry,
    include_pad: bool,
    xr: &[(usize, usize, usize)],
    input: &[f32],
    dst: *mut f32,
) {
    let c = g.out_c;
    let kh = g.kernel.0;
    let in_row = g.in_w * c;
    let mut out = dst;
    for n in 0..g.batch {
        for oy in 0..g.out_h {
            let (ky0, ky1) = tap_range(oy * g.stride.0, 1, g.pad_top, g.in_h, kh);
            let rows = ky1 - ky0;
            // SAFETY: (whole block) the ISA is available (caller); the window's taps, rows
            // iy0..iy0 + rows and columns ix0..ix0 + cols, are inside the image (`tap_range`,
            // non-empty: padding < window); blocks read channels cb..cb + nl <= C of those
            // pixels and write them of output pixel `out`, which steps through the output.
            unsafe {
                let row0 = input.as_ptr().add((n * g.in_h + oy * g.stride.0 + ky0 - g.pad_top) * in_row);
                for &(cols, ix0, window) in xr {
                    let scale = V::splat(1.0 / if include_pad { window } else { rows * cols } as f32);
                    let base = row0.add(ix0 * c);
                    // The window's channels cb.. loaded by `$ld`, reduced.
                    macro_rules! reduce {
                        ($cb:expr, $ld:expr) => {{
                            let mut acc = $ld(base.add($cb));
                            for dy in 0..rows {
                                let row = base.add(dy * in_row + $cb);
                                for dx in usize::from(dy == 0)..cols {
                                    let x = $ld(row.add(dx * c));
                                    acc = if MAX { V::max(acc, x) } else { V::add(acc, x) };
                                }
                            }
                            if MAX {
                                acc
                            } else {
                                V::mul(acc, scale)
                            }
                        }};
                    }
                    // A whole 2x2 or 3x3 window (the usual pooling layers): its loads written
                    // out and reduced as a tree, so they and the pixels' chains overlap (the
                    // loop above is one dependent chain with data-dependent trip counts).
                    macro_rules! reduce_full {
                        ($k:literal, $cb:expr) => {{
                            let x: [V; $k * $k] =
                                std::array::from_fn(|t| V::load(base.add((t / $k) * in_row + (t % $k) * c + $cb)));
                            let op = |a, b| if MAX { V::max(a, b) } else { V::add(a, b) };
                            let mut acc = x[0];
                            for pair in x[1..].chunks(2) {
                                acc = op(acc, if pair.len() == 2 { op(pair[0], pair[1]) } else { pair[0] });
                            }
                            if MAX {
                                acc
                            } else {
                                V::mul(acc, scale)
                            }
                        }};
                    }
                    let full = rows == kh && cols == g.kernel.1 && kh == g.kernel.1;
                    let mut cb = 0;
                    match (full, kh) {
                        (true, 2) => {
                            while cb + V::N <= c {
                                V::store(out.add(cb), reduce_full!(2, cb));
                                cb += V::N;
                            }
                        }
                        (true, 3) => {
                            while cb + V::N <= c {
                                V::store(out.add(cb), reduce_full!(3, cb));
                                cb += V::N;
                            }
                        }
                        _ => {
                            while cb + V::N <= c {
                                V::store(out.add(cb), reduce!(cb, |p| V::load(p)));
                                cb += V::N;
                            }
                        }
                    }
                    if cb < c {
                        let nl = c - cb;
                        V::store_part(out.add(cb), nl, reduce!(cb, |p| V::load_part(p, nl)));
                    }
                    out = out.add(c);
                }
            }
        }
    }
}

/// See [`GlobalFn`]: sums per channel block, four pixels at a time into four accumulators,
/// then one multiply by `1 / pixels`.
#[inline(always)]
unsafe fn global<V: F32Vector>(input: &[f32], pixels: usize, c: usize, output: &mut [f32]) {
    let batch = output.len() / c;
    let scale = 1.0 / pixels as f32;
    let src = input.as_ptr();
    let dst = output.as_mut_ptr();
    // SAFETY: (whole body) the ISA is available (caller); every read is pixel p < pixels,
    // channels cb..cb + nl <= C of image n < batch; every write channels of output row n.
    unsafe {
        let scale_v = V::splat(scale);
        for n in 0..batch {
            let img = src.add(n * pixels * c);
            let mut cb = 0;
            while cb < c {
                let nl = (c - cb).min(V::N);
                let ld = |p: *const f32| load_n::<V>(p, nl);
                let zero = V::splat(0.0);
                let mut acc = [zero; 4];
                let mut p = 0;
                while p + 4 <= pixels {
                    for (j, a) in acc.iter_mut().enumerate() {
                        *a = V::add(*a, ld(img.add((p + j) * c + cb)));
                    }
                    p += 4;
                }
                while p < pixels {
                    acc[0] = V::add(acc[0], ld(img.add(p * c + cb)));
                    p += 1;
                }
                let sum = V::add(V::add(acc[0], acc[1]), V::add(acc[2], acc[3]));
                store_n::<V>(dst.add(n * c + cb), nl, V::mul(sum, scale_v));
                cb += V::N;
            }
        }
    }
}
