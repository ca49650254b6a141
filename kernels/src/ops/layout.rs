//! Tensor layout conversion (NCHW <-> NHWC) and batch-norm folding into convolution weights.
//! Plain scalar code: both run once per model (at load time) or at the edges of a network,
//! and the conversion is a transpose bound by memory, done in tiles so that both sides are
//! read and written a cache line at a time.

use crate::error::KernelError;

/// Side of the square tiles the transposes copy (a 64-byte line of f32 on each side).
const TILE: usize = 16;

fn tensor_len(batch: usize, c: usize, h: usize, w: usize) -> Result<usize, KernelError> {
    [c, h, w]
        .iter()
        .try_fold(batch, |a, &x| a.checked_mul(x))
        .ok_or(KernelError::InvalidGeometry { param: "tensor size", value: usize::MAX })
}

/// Values of one image, `None` when there is nothing to convert (zero or overflowing: the latter
/// only with `batch == 0`, as the whole tensor's length was checked).
fn image_len(c: usize, h: usize, w: usize) -> Option<usize> {
    c.checked_mul(h)?.checked_mul(w).filter(|&n| n > 0)
}

fn check(what: &'static str, expected: usize, found: usize) -> Result<(), KernelError> {
    if expected == found {
        Ok(())
    } else {
        Err(KernelError::LengthMismatch { what, expected, found })
    }
}

/// Per image, the `rows x cols` matrix `src` (row-major) transposed into `dst` (`cols x rows`).
fn transpose(src: &[f32], dst: &mut [f32], rows: usize, cols: usize) {
    for r0 in (0..rows).step_by(TILE) {
        for c0 in (0..cols).step_by(TILE) {
            for r in r0..(r0 + TILE).min(rows) {
                for c in c0..(c0 + TILE).min(cols) {
                    dst[c * rows + r] = src[r * cols + c];
                }
            }
        }
    }
}

/// `batch x C x H x W` (NCHW) to `batch x H x W x C` (NHWC).
pub fn nchw_to_nhwc(
    input: &[f32],
    batch: usize,
    channels: usize,
    height: usize,
    width: usize,
    output: &mut [f32],
) -> Result<(), KernelError> {
    let len = tensor_len(batch, channels, height, width)?;
    check("input (batch x C x H x W)", len, input.len())?;
    check("output (batch x H x W x C)", len, output.len())?;
    // With no images the per-image size may overflow (it is never used then).
    let Some(image) = image_len(channels, height, width) else {
        return Ok(());
    };
    for (src, dst) in input.chunks_exact(image).zip(output.chunks_exact_mut(image)) {
        transpose(src, dst, channels, height * width);
    }
    Ok(())
}

/// `batch x H x W x C` (NHWC) to `batch x C x H x W` (NCHW).
pub fn nhwc_to_nchw(
    input: &[f32],
    batch: usize,
    channels: usize,
    height: usize,
    width: usize,
    output: &mut [f32],
) -> Result<(), KernelError> {
    let len = tensor_len(batch, channels, height, width)?;
    check("input (batch x H x W x C)", len, input.len())?;
    check("output (batch x C x H x W)", len, output.len())?;
    // With no images the per-image size may overflow (it is never used then).
    let Some(image) = image_len(channels, height, width) else {
        return Ok(());
    };
    for (src, dst) in input.chunks_exact(image).zip(output.chunks_exact_mut(image)) {
        transpose(src, dst, height * width, channels);
    }
    Ok(())
}

/// A batch normalisation's parameters (per output channel) and epsilon, as in inference:
/// `y = gamma * (x - mean) / sqrt(var + eps) + beta`.
#[derive(Clone, Copy, Debug)]
pub struct BatchNorm<'a> {
    /// Scale (`gamma`, PyTorch's `weight`).
    pub gamma: &'a [f32],
    /// Shift (`beta`, PyTorch's `bias`).
    pub beta: &'a [f32],
    /// Running mean.
    pub mean: &'a [f32],
    /// Running variance.
    pub var: &'a [f32],
    /// Added to the variance (PyTorch's default is `1e-5`).
    pub eps: f32,
}

/// Folds a batch norm that follows a convolution into the convolution's OIHW filter
/// (`[C_out][...]`: any number of values per output channel, so grouped and depthwise filters
/// too) and bias: with `s[o] = gamma[o] / sqrt(var[o] + eps)`,
///
/// `W'[o][..] = W[o][..] * s[o]`, `b'[o] = (b[o] - mean[o]) * s[o] + beta[o]` (`b = 0` without
/// a bias),
///
/// so `conv(x, W') + b' == bn(conv(x, W) + b)`. The scale is computed in f64. Returns
/// `(filter, bias)`. Errors: lengths (`bias`, `gamma`, `beta`, `mean`, `var` must have
/// `out_channels` values, the filter a non-zero multiple), `var + eps` not positive, NaN eps.
pub fn fold_batch_norm(
    filter_oihw: &[f32],
    out_channels: usize,
    bias: Option<&[f32]>,
    bn: &BatchNorm<'_>,
) -> Result<(Vec<f32>, Vec<f32>), KernelError> {
    if out_channels == 0 {
        return Err(KernelError::InvalidGeometry { param: "out_channels", value: 0 });
    }
    if filter_oihw.is_empty() || !filter_oihw.len().is_multiple_of(out_channels) {
        return Err(KernelError::LengthMismatch {
            what: "filter (a non-zero multiple of out_channels)",
            expected: filter_oihw.len().div_ceil(out_channels).max(1) * out_channels,
            found: filter_oihw.len(),
        });
    }
    for (what, v) in [("gamma", bn.gamma), ("beta", bn.beta), ("running mean", bn.mean), ("running var", bn.var)]
        .into_iter()
        .chain(bias.map(|b| ("bias", b)))
    {
        check(what, out_channels, v.len())?;
    }
    if bn.eps.is_nan() {
        return Err(KernelError::InvalidArgument { what: "batch norm eps is NaN" });
    }
    let per = filter_oihw.len() / out_channels;
    let mut filter = crate::buffer::try_to_vec("folded filter", filter_oihw)?;
    let mut out_bias = crate::buffer::try_filled("folded bias", out_channels, 0.0f32)?;
    for o in 0..out_channels {
        let denom = bn.var[o] as f64 + bn.eps as f64;
        if denom.is_nan() || denom <= 0.0 {
            return Err(KernelError::InvalidArgument { what: "batch norm var + eps must be positive" });
        }
        let s = bn.gamma[o] as f64 / denom.sqrt();
        for w in &mut filter[o * per..(o + 1) * per] {
            *w = (*w as f64 * s) as f32;
        }
        let b = bias.map_or(0.0, |b| b[o] as f64);
        out_bias[o] = ((b - bn.mean[o] as f64) * s + bn.beta[o] as f64) as f32;
    }
    Ok((filter, out_bias))
}
