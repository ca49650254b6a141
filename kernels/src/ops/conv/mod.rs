//! 2-D (and 1-D) convolution on NHWC activations with filters packed once: `output =
//! act(conv(input, filter) + bias [+ residual])`.
//!
//! Paths (chosen from the geometry):
//! - depthwise (groups == C_in == C_out): a direct kernel vectorised over channels
//!   (`depthwise.rs`), filter packed once as `[KH][KW][C]`; chosen at [`Conv2d::new`].
//! - a few input channels (one group, C_in <= 4: a first layer on grey or RGB images): a direct
//!   kernel vectorised over output channels (`direct.rs`), chosen at [`Conv2d::new`].
//! - 1x1, stride 1, no padding: a plain GEMM per group (the input is already the A matrix).
//! - everything else: one implicit GEMM per group over the whole batch. An offset table holds,
//!   for each output pixel and kernel tap, where the input pixel's channels are (or the padding,
//!   read from a zero row); the GEMM's tiles read A through row pointers derived from it (or,
//!   on kernels without such tiles and for under 4 channels per tap, gather packed panels), so
//!   no im2col copy of the input is ever made.
//!
//! Not there (yet): transposed convolution, 3-D convolution, asymmetric per-group shapes.

pub(crate) mod depthwise;
mod direct;
mod geometry;

use depthwise::DepthwiseFilter;
use direct::{DirectFilter, DIRECT_MAX_CIN};
pub use geometry::{Conv2dGeometry, Conv2dParams, Padding};

use crate::activation::Activation;
use crate::buffer::{checked_len, try_filled, try_to_vec, try_with_capacity};
use crate::error::KernelError;
use crate::ops::gemm::{Epilogue, Gemm, Indirection, PackedB, Parallelism, ReadPtr};
use crate::view::{MatMut, MatRef};
use std::mem::MaybeUninit;
use std::sync::{Arc, Mutex};

/// How a filter given to [`Conv2d::new`] is laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FilterLayout {
    /// `[C_out][C_in / groups][KH][KW]` (PyTorch, ONNX).
    Oihw,
    /// `[KH][KW][C_in / groups][C_out]` (TensorFlow).
    Hwio,
}

/// A convolution with its filter packed for the GEMM microkernel, ready to run on any input
/// size. Build once, run many times.
///
/// ```
/// use lanes_kernels::ops::conv::{Conv2d, Conv2dParams, FilterLayout, Padding};
/// use lanes_kernels::Activation;
/// // 3x3, 2 -> 4 channels, "same" padding, on one 5x5 image.
/// let params = Conv2dParams::new(2, 4, (3, 3)).padding(Padding::Same);
/// let filter = vec![0.1f32; params.filter_len()?];
/// let conv = Conv2d::new(params, &filter, FilterLayout::Oihw, None, Activation::Relu)?;
/// let input = vec![1.0f32; 5 * 5 * 2];
/// let mut output = vec![0.0f32; 5 * 5 * 4];
/// let g = conv.run(&input, 1, 5, 5, &mut output)?;
/// assert_eq!((g.out_h, g.out_w), (5, 5));
/// assert!((output[(2 * 5 + 2) * 4] - 1.8).abs() < 1e-5); // centre: 9 taps x 2 channels x 0.1
/// # Ok::<(), lanes_kernels::KernelError>(())
/// ```
pub struct Conv2d {
    params: Conv2dParams,
    gemm: Gemm,
    path: Path,
    bias: Option<Vec<f32>>,
    activation: Activation,
    /// The GEMM path's offset table of the last input size run, `(in_h, in_w)` with it: built
    /// once for a model that runs one image size (at batch 1 it cost about 9% of a small CNN).
    offsets: Mutex<Option<CachedOffsets>>,
}

/// A pooled output and its `(height, width)`.
pub(crate) type PooledOutput = (Vec<f32>, (usize, usize));

/// An offset table and the `(in_h, in_w)` it was built for.
type CachedOffsets = ((usize, usize), Arc<Vec<usize>>);

/// Which kernel a convolution runs on, with its packed filter.
enum Path {
    /// Per group: B = the filter as a `(KH * KW * C_in/g) x (C_out/g)` matrix, tap-major rows.
    Gemm(Vec<PackedB>),
    /// groups == C_in == C_out.
    Depthwise(DepthwiseFilter),
    /// One group, C_in <= DIRECT_MAX_CIN.
    Direct(DirectFilter),
}

impl Conv2d {
    /// Packs `filter` (laid out as `layout`) for the default [`Gemm`] (detected ISA,
    /// automatic threads). `bias` has `C_out` values.
    pub fn new(
        params: Conv2dParams,
        filter: &[f32],
        layout: FilterLayout,
        bias: Option<&[f32]>,
        activation: Activation,
    ) -> Result<Self, KernelError> {
        Self::with_gemm(Gemm::new(), params, filter, layout, bias, activation)
    }

    /// Like [`Conv2d::new`] on a configured [`Gemm`] (forced ISA or kernel, threads).
    pub fn with_gemm(
        gemm: Gemm,
        params: Conv2dParams,
        filter: &[f32],
        layout: FilterLayout,
        bias: Option<&[f32]>,
        activation: Activation,
    ) -> Result<Self, KernelError> {
        params.validate()?;
        activation.validate()?;
        let len = params.filter_len()?;
        if filter.len() != len {
            return Err(KernelError::LengthMismatch { what: "filter", expected: len, found: filter.len() });
        }
        if let Some(b) = bias {
            if b.len() != params.out_channels {
                return Err(KernelError::LengthMismatch {
                    what: "bias",
                    expected: params.out_channels,
                    found: b.len(),
                });
            }
        }
        let direct_path = if params.groups == params.in_channels && params.groups == params.out_channels {
            Some(Path::Depthwise(DepthwiseFilter::new(gemm.isa()?, &params, filter, layout, bias)?))
        } else if params.groups == 1 && params.in_channels <= DIRECT_MAX_CIN {
            Some(Path::Direct(DirectFilter::new(gemm.isa()?, &params, filter, layout, bias)?))
        } else {
            None
        };
        if let Some(path) = direct_path {
            let bias = bias.map(|b| try_to_vec("bias", b)).transpose()?;
            return Ok(Conv2d { params, gemm, path, bias, activation, offsets: Mutex::new(None) });
        }
        let (kh, kw) = params.kernel;
        let (cin, cout) = (params.in_per_group(), params.out_per_group());
        let k = kh * kw * cin;
        let mut packed = try_with_capacity("packed filters", params.groups)?;
        for g in 0..params.groups {
            // Row (ky, kx, ci), column co of this group's B, as a strided view of the filter.
            let view = match layout {
                // [co][ci][ky][kx]: rows (ky, kx, ci) are not one stride apart, so gather.
                FilterLayout::Oihw => {
                    let mut b = try_filled("filter as B", checked_len::<f32>("filter as B", k, cout)?, 0.0f32)?;
                    for co in 0..cout {
                        for ci in 0..cin {
                            for ky in 0..kh {
                                for kx in 0..kw {
                                    let src = (((g * cout + co) * cin + ci) * kh + ky) * kw + kx;
                                    b[((ky * kw + kx) * cin + ci) * cout + co] = filter[src];
                                }
                            }
                        }
                    }
                    packed.push(gemm.pack_b(MatRef::row_major(&b, k, cout)?)?);
                    continue;
                }
                // [ky][kx][ci][C_out]: row (ky, kx, ci) at ((ky*kw + kx)*cin + ci) * C_out.
                FilterLayout::Hwio => MatRef::with_offset(filter, g * cout, k, cout, params.out_channels as isize, 1)?,
            };
            packed.push(gemm.pack_b(view)?);
        }
        let bias = bias.map(|b| try_to_vec("bias", b)).transpose()?;
        Ok(Conv2d { params, gemm, path: Path::Gemm(packed), bias, activation, offsets: Mutex::new(None) })
    }

    /// The parameters.
    pub fn params(&self) -> &Conv2dParams {
        &self.params
    }

    /// Changes how many threads later runs may use, keeping the packed filter (e.g. one layer
    /// run on the calling thread for small images and on the rayon pool for large ones).
    pub fn set_parallelism(&mut self, parallelism: Parallelism) {
        self.gemm = self.gemm.parallelism(parallelism);
    }

    /// Whether this convolution runs on the depthwise kernel (groups == C_in == C_out) rather
    /// than on GEMMs.
    pub fn is_depthwise(&self) -> bool {
        matches!(self.path, Path::Depthwise(_))
    }

    /// The geometry for `batch` images of `height x width` (output size, padding).
    pub fn geometry(&self, batch: usize, height: usize, width: usize) -> Result<Conv2dGeometry, KernelError> {
        self.params.geometry(batch, height, width)
    }

    /// Runs on `batch` NHWC images of `height x width x C_in`, writing the NHWC output
    /// (`batch x out_h x out_w x C_out`, see [`Conv2d::geometry`]). Returns the geometry.
    pub fn run(
        &self,
        input: &[f32],
        batch: usize,
        height: usize,
        width: usize,
        output: &mut [f32],
    ) -> Result<Conv2dGeometry, KernelError> {
        self.run_impl(input, batch, height, width, None, output)
    }

    /// Like [`Conv2d::run`], plus `residual` (shaped like the output) added before the
    /// activation: `output = act(conv + bias + residual)` (a ResNet block's skip connection).
    pub fn run_with_residual(
        &self,
        input: &[f32],
        batch: usize,
        height: usize,
        width: usize,
        residual: &[f32],
        output: &mut [f32],
    ) -> Result<Conv2dGeometry, KernelError> {
        self.run_impl(input, batch, height, width, Some(residual), output)
    }

    /// Like [`Conv2d::run`], into a new `Vec` (not zeroed first: every value is written).
    /// `AllocationFailed` when the output cannot be allocated.
    pub fn run_to_vec(
        &self,
        input: &[f32],
        batch: usize,
        height: usize,
        width: usize,
    ) -> Result<(Vec<f32>, Conv2dGeometry), KernelError> {
        let (g, out_len) = self.checked_geometry(input, batch, height, width)?;
        if let Path::Direct(d) = &self.path {
            let (kh, kw) = g.kernel;
            let threads = self.gemm.threads_for(out_len.saturating_mul(kh * kw * g.in_c));
            // SAFETY: the direct kernel writes every output value and reads none; `out` is the
            // Vec's uninitialised storage of out_len values, seen as such.
            let out = unsafe {
                crate::buffer::vec_written_by(("convolution output", out_len / g.out_c, g.out_c), |out| {
                    let out = std::slice::from_raw_parts_mut(out.cast::<MaybeUninit<f32>>(), out_len);
                    d.run(&g, input, None, self.activation, out, threads)
                })?
            };
            return Ok((out, g));
        }
        if !matches!(self.path, Path::Gemm(_)) {
            // (The depthwise kernels take a slice: a zeroed one.)
            let mut out = try_filled("convolution output", out_len, 0.0f32)?;
            self.run_impl(input, batch, height, width, None, &mut out)?;
            return Ok((out, g));
        }
        // SAFETY: `compute` with beta = 0 writes every output value (GEMMs over all of C) and
        // reads none of them; the storage holds `out_len` values.
        let out = unsafe {
            crate::buffer::vec_written_by(
                ("convolution output", out_len.checked_div(g.out_c).unwrap_or(0), g.out_c),
                |out| {
                    if out_len > 0 {
                        self.compute(&g, input, None, out)?;
                    }
                    Ok(())
                },
            )?
        };
        Ok((out, g))
    }

    /// [`crate::ops::pool::max_pool_after_conv`] in one pass, where the direct kernel can
    /// (C_in <= 4; see `DirectFilter::fuses_max_pool`); `None` (nothing computed) elsewhere.
    /// The window is checked by the caller: not empty, and not larger than the output.
    pub(crate) fn run_max_pooled_fused(
        &self,
        input: &[f32],
        batch: usize,
        height: usize,
        width: usize,
        window: (usize, usize),
    ) -> Result<Option<PooledOutput>, KernelError> {
        let (g, out_len) = self.checked_geometry(input, batch, height, width)?;
        let Path::Direct(d) = &self.path else {
            return Ok(None);
        };
        if !DirectFilter::fuses_max_pool(&g, window) {
            return Ok(None);
        }
        let pooled = (g.out_h / window.0, g.out_w / window.1);
        let (kh, kw) = g.kernel;
        let threads = self.gemm.threads_for(out_len.saturating_mul(kh * kw * g.in_c));
        // (pooled.0 * pooled.1 <= out_h * out_w: no overflow)
        let rows = batch * pooled.0 * pooled.1;
        // SAFETY: the fused kernel writes every pooled value and reads none; `out` is the Vec's
        // uninitialised storage of rows * C_out values, seen as such.
        let out = unsafe {
            crate::buffer::vec_written_by(("pooled convolution output", rows, g.out_c), |out| {
                let out = std::slice::from_raw_parts_mut(out.cast::<MaybeUninit<f32>>(), rows * g.out_c);
                d.run_max_pooled(&g, input, self.activation, window, out, threads)
            })?
        };
        Ok(Some((out, pooled)))
    }

    /// The ISA this layer runs on.
    pub(crate) fn isa(&self) -> Result<crate::isa::Isa, KernelError> {
        self.gemm.isa()
    }

    /// The geometry and output length, after checking the input's length.
    fn checked_geometry(
        &self,
        input: &[f32],
        batch: usize,
        height: usize,
        width: usize,
    ) -> Result<(Conv2dGeometry, usize), KernelError> {
        let g = self.params.geometry(batch, height, width)?;
        let (in_len, out_len) = (g.input_len()?, g.output_len()?);
        if input.len() != in_len {
            return Err(KernelError::LengthMismatch {
                what: "input (batch x height x width x C_in)",
                expected: in_len,
                found: input.len(),
            });
        }
        Ok((g, out_len))
    }

    fn run_impl(
        &self,
        input: &[f32],
        batch: usize,
        height: usize,
        width: usize,
        residual: Option<&[f32]>,
        output: &mut [f32],
    ) -> Result<Conv2dGeometry, KernelError> {
        let (g, out_len) = self.checked_geometry(input, batch, height, width)?;
        if output.len() != out_len {
            return Err(KernelError::LengthMismatch {
                what: "output (batch x out_h x out_w x C_out)",
                expected: out_len,
                found: output.len(),
            });
        }
        if let Some(r) = residual {
            if r.len() != out_len {
                return Err(KernelError::LengthMismatch { what: "residual", expected: out_len, found: r.len() });
            }
        }
        if out_len == 0 {
            // No images, or no output pixels: nothing to compute (and the per-row sizes of an
            // empty batch need not fit in memory).
            return Ok(g);
        }
        let (kh, kw) = g.kernel;
        match &self.path {
            Path::Depthwise(dw) => {
                let threads = self.gemm.threads_for(out_len.saturating_mul(kh * kw));
                dw.run(&g, input, residual, self.activation, output, threads)?;
                return Ok(g);
            }
            Path::Direct(d) => {
                let threads = self.gemm.threads_for(out_len.saturating_mul(kh * kw * g.in_c));
                // SAFETY: the same storage seen as possibly uninitialised, written only with f32s.
                let out = unsafe { &mut *(output as *mut [f32] as *mut [MaybeUninit<f32>]) };
                d.run(&g, input, residual, self.activation, out, threads)?;
                return Ok(g);
            }
            Path::Gemm(_) => {}
        }
        // SAFETY: `output` is a unique borrow of the output's length.
        unsafe { self.compute(&g, input, residual, output.as_mut_ptr())? };
        Ok(g)
    }

    /// The GEMM paths (not depthwise): `output = act(conv + bias [+ residual])`. The
    /// indirection is allocated before anything is written (its size is not bounded by the
    /// operands': a large kernel over a wide image makes it huge).
    ///
    /// # Safety
    /// `output` is writable for the geometry's output length, which is not zero, and does not
    /// overlap `input` or `residual` (each of the geometry's lengths); nothing else accesses it
    /// during the call.
    unsafe fn compute(
        &self,
        g: &Conv2dGeometry,
        input: &[f32],
        residual: Option<&[f32]>,
        output: *mut f32,
    ) -> Result<(), KernelError> {
        let Path::Gemm(packed) = &self.path else {
            return Err(KernelError::InvalidArgument { what: "compute runs the GEMM path only" });
        };
        let batch = g.batch;
        let (cin, cout) = (self.params.in_per_group(), self.params.out_per_group());
        let pixels = g.out_h * g.out_w;
        let indirection = if g.is_pointwise() {
            None
        } else {
            Some((self.offsets_for(g)?, try_filled("indirection zero row", cin, 0.0f32)?))
        };
        let beta = match residual {
            Some(r) => {
                // SAFETY: r and the output have the same length and do not overlap.
                unsafe { std::ptr::copy_nonoverlapping(r.as_ptr(), output, r.len()) };
                1.0
            }
            None => 0.0,
        };
        let m = batch * pixels;
        let Some((offsets, zero)) = indirection else {
            // The input is already A: (batch * pixels) x C_in, a column slice per group.
            for (grp, packed) in packed.iter().enumerate() {
                let a = MatRef::with_offset(input, grp * cin, m, cin, g.in_c as isize, 1)?;
                // SAFETY: this group's columns of the output (the caller's contract).
                let c = unsafe { MatMut::from_raw_parts(output.add(grp * cout), m, cout, g.out_c as isize, 1)? };
                self.gemm.run_packed(1.0, a, packed, beta, c, &self.epilogue(grp))?;
            }
            return Ok(());
        };
        for (grp, packed) in packed.iter().enumerate() {
            let ind = Indirection {
                offsets: &offsets,
                // (Wrapping: with an empty image every tap is PAD and the base is never read.)
                base: ReadPtr(input.as_ptr().wrapping_add(grp * cin)),
                zero: ReadPtr(zero.as_ptr()),
                image_stride: g.in_h * g.in_w * g.in_c,
                pixels,
                taps: g.kernel.0 * g.kernel.1,
                cin,
            };
            // SAFETY: this group's columns of the output (the caller's contract).
            let c = unsafe { MatMut::from_raw_parts(output.add(grp * cout), m, cout, g.out_c as isize, 1)? };
            // SAFETY: every offset (not PAD) is a pixel of an image, and from each image's start
            // (inside `input`, whose length was checked: batch images of image_stride values)
            // plus the group's channel offset, cin values are inside `input`; `zero` holds cin
            // values; both are shared borrows that the output (the caller's) cannot overlap.
            unsafe { self.gemm.run_indirect(ind, m, packed, beta, c, &self.epilogue(grp))? };
        }
        Ok(())
    }

    /// The offset table for `g`'s image size: the cached one, or a new one (then cached).
    fn offsets_for(&self, g: &Conv2dGeometry) -> Result<Arc<Vec<usize>>, KernelError> {
        let key = (g.in_h, g.in_w);
        // (A poisoned lock only means another thread panicked while holding it: the cache is
        // a plain value, still consistent.)
        let mut cache = self.offsets.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((k, table)) = cache.as_ref() {
            if *k == key {
                return Ok(Arc::clone(table));
            }
        }
        let table = Arc::new(indirection_offsets(g)?);
        *cache = Some((key, Arc::clone(&table)));
        Ok(table)
    }

    /// Bias (this group's slice) and activation.
    fn epilogue(&self, group: usize) -> Epilogue<'_> {
        let cout = self.params.out_per_group();
        Epilogue::new(self.bias.as_deref().map(|b| &b[group * cout..(group + 1) * cout]), self.activation)
    }
}

/// Runs `f(first_row, block)` over `output`'s whole rows of `row_len` values: in one call, or
/// with `threads > 1` (and the `rayon` feature) in about four blocks of rows per thread (the
/// direct and depthwise kernels' threading).
pub(crate) fn for_row_blocks<T: Send>(
    output: &mut [T],
    row_len: usize,
    threads: usize,
    f: impl Fn(usize, &mut [T]) + Sync + Send,
) {
    let rows = output.len().checked_div(row_len).unwrap_or(0);
    if rows == 0 {
        return;
    }
    #[cfg(feature = "rayon")]
    if threads > 1 && rows > 1 {
        use rayon::prelude::*;
        let per_task = rows.div_ceil(4 * threads).max(1);
        output.par_chunks_mut(per_task * row_len).enumerate().for_each(|(t, block)| f(t * per_task, block));
        return;
    }
    let _ = threads;
    f(0, output);
}

/// For each output pixel of one image and each tap, the offset (in values) of the input pixel
/// it reads from the image's start, or `Indirection::PAD` in the padding: one table for every
/// image and group.
fn indirection_offsets(g: &Conv2dGeometry) -> Result<Vec<usize>, KernelError> {
    let (kh, kw) = g.kernel;
    let what = "indirection buffer (pixels x taps)";
    let mut out = try_with_capacity(what, checked_len::<usize>(what, g.out_h * g.out_w, kh * kw)?)?;
    // Input row per (output row, ky) and column per (output column, kx), PAD outside.
    let rows: Vec<usize> = (0..g.out_h * kh).map(|i| g.input_row(i / kh, i % kh).unwrap_or(Indirection::PAD)).collect();
    let cols: Vec<usize> = (0..g.out_w * kw).map(|i| g.input_col(i / kw, i % kw).unwrap_or(Indirection::PAD)).collect();
    for oy in 0..g.out_h {
        for ox in 0..g.out_w {
            for ky in 0..kh {
                let iy = rows[oy * kh + ky];
                for kx in 0..kw {
                    let ix = cols[ox * kw + kx];
                    out.push(if iy == Indirection::PAD || ix == Indirection::PAD {
                        Indirection::PAD
                    } else {
                        (iy * g.in_w + ix) * g.in_c
                    });
                }
            }
        }
    }
    Ok(out)
}

impl std::fmt::Debug for Conv2d {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conv2d").field("params", &self.params).field("activation", &self.activation).finish()
    }
}
