//! Convolutional layers on NHWC tensors: `Conv2d` (forward through lanes-kernels' `Conv2d`,
//! backward through two GEMMs over an im2col matrix), `MaxPool2d` and `Reshape`.

use crate::error::{NnError, Result};
use crate::layers::{Layer, Param};
use crate::tensor::{filled, rows, rows_mut, uniform, Tensor};
use lanes_kernels::ops::conv::{Conv2d as ConvKernel, Conv2dGeometry, Conv2dParams, FilterLayout, Padding};
use lanes_kernels::ops::pool::{max_pool_after_conv, Pool2d, Pool2dParams, PoolKind};
use lanes_kernels::{Activation, Gemm, MatMut, MatRef, Parallelism};

fn gemm() -> Gemm {
    Gemm::new().parallelism(Parallelism::Auto)
}

/// A 2-D convolution layer (one group), weights `[C_out][C_in][KH][KW]` as in PyTorch. Input
/// `[N, H, W, C_in]`, output `[N, OH, OW, C_out]`.
pub struct Conv2d {
    params: Conv2dParams,
    weight: Vec<f32>,
    bias: Vec<f32>,
    grad_weight: Vec<f32>,
    grad_bias: Vec<f32>,
    input: Option<Tensor>,
    /// The filter packed for the kernels with the activation fused into its store, rebuilt
    /// after the weights change.
    packed: Option<(Activation, ConvKernel)>,
}

impl Conv2d {
    /// A layer with weights uniform in `[-1/sqrt(fan_in), 1/sqrt(fan_in)]` (seeded), zero bias.
    pub fn new(params: Conv2dParams, seed: u64) -> Result<Self> {
        params.validate()?;
        if params.groups != 1 {
            return Err(NnError::InvalidArgument(format!(
                "Conv2d layer: groups = {} (only 1 is trainable yet)",
                params.groups
            )));
        }
        let len = params.filter_len()?;
        let fan_in = params.kernel.0 * params.kernel.1 * params.in_channels;
        let bound = 1.0 / (fan_in.max(1) as f32).sqrt();
        Ok(Conv2d {
            params,
            weight: uniform("Conv2d filter", len, 1, bound, seed)?,
            bias: filled("Conv2d bias", params.out_channels, 0.0)?,
            grad_weight: filled("Conv2d gradients", len, 0.0)?,
            grad_bias: filled("Conv2d gradients", params.out_channels, 0.0)?,
            input: None,
            packed: None,
        })
    }

    fn geometry(&self, x: &Tensor) -> Result<(Conv2dGeometry, usize, usize, usize)> {
        let &[n, h, w, c] = x.shape() else {
            return Err(NnError::Shape {
                what: "Conv2d input (N, H, W, C)".into(),
                expected: vec![0, 0, 0, self.params.in_channels],
                found: x.shape().to_vec(),
            });
        };
        if c != self.params.in_channels {
            return Err(NnError::Shape {
                what: "Conv2d input channels".into(),
                expected: vec![n, h, w, self.params.in_channels],
                found: x.shape().to_vec(),
            });
        }
        Ok((self.params.geometry(n, h, w)?, n, h, w))
    }

    /// The weights (`[C_out][C_in][KH][KW]`) and bias, for editing in place (e.g.
    /// [`crate::norm::BatchNorm2d::fold_into`]); the packed filter is rebuilt on the next forward.
    pub fn weights_mut(&mut self) -> (&mut [f32], &mut [f32]) {
        self.packed = None;
        (&mut self.weight, &mut self.bias)
    }

    /// `act(conv(x) + bias)` through the packed filter (packed again when `act` changes).
    fn run(&mut self, x: &Tensor, act: Activation) -> Result<Tensor> {
        let (g, n, h, w) = self.geometry(x)?;
        let (y, _) = self.packed_for(act)?.run_to_vec(x.data(), n, h, w)?;
        Tensor::new(&[n, g.out_h, g.out_w, g.out_c], y)
    }

    /// The filter packed with `act` fused (packed again when `act` changes).
    fn packed_for(&mut self, act: Activation) -> Result<&ConvKernel> {
        if self.packed.as_ref().is_none_or(|(a, _)| *a != act) {
            let (weight, bias) = (&self.weight, Some(&self.bias[..]));
            let kernel = ConvKernel::with_gemm(gemm(), self.params, weight, FilterLayout::Oihw, bias, act)?;
            self.packed = Some((act, kernel));
        }
        match &self.packed {
            Some((_, kernel)) => Ok(kernel),
            None => Err(NnError::InvalidArgument("Conv2d filter not packed".into())),
        }
    }

    /// The im2col matrix of `x`: row `(n, oy, ox)`, column `(ky, kx, ci)`, zeros in the padding.
    fn im2col(&self, g: &Conv2dGeometry, x: &[f32]) -> Result<Vec<f32>> {
        let (kh, kw) = g.kernel;
        let k = kh * kw * g.in_c;
        // (pixels x k: a saturated size is refused by the allocator like any too large one)
        let mut col = filled("Conv2d im2col matrix", (g.batch * g.out_h * g.out_w).saturating_mul(k), 0.0f32)?;
        for n in 0..g.batch {
            for oy in 0..g.out_h {
                for ox in 0..g.out_w {
                    let row = &mut col[((n * g.out_h + oy) * g.out_w + ox) * k..][..k];
                    for ky in 0..kh {
                        for kx in 0..kw {
                            if let Some((iy, ix)) = g.input_at(oy, ox, ky, kx) {
                                let src = &x[((n * g.in_h + iy) * g.in_w + ix) * g.in_c..][..g.in_c];
                                row[(ky * kw + kx) * g.in_c..][..g.in_c].copy_from_slice(src);
                            }
                        }
                    }
                }
            }
        }
        Ok(col)
    }
}

impl Layer for Conv2d {
    fn kind(&self) -> &'static str {
        "Conv2d"
    }

    fn forward(&mut self, x: &Tensor, train: bool) -> Result<Tensor> {
        let y = self.run(x, Activation::Identity)?;
        if train {
            self.input = Some(x.clone());
        }
        Ok(y)
    }

    fn infer_fused(&mut self, x: &Tensor, act: Activation) -> Option<Result<Tensor>> {
        Some(self.run(x, act))
    }

    fn infer_fused_max_pool(&mut self, x: &Tensor, act: Activation, window: (usize, usize)) -> Option<Result<Tensor>> {
        let (g, n, h, w) = match self.geometry(x) {
            Ok(geometry) => geometry,
            Err(e) => return Some(Err(e)),
        };
        if window.0 == 0 || window.1 == 0 || window.0 > g.out_h || window.1 > g.out_w {
            return None; // (MaxPool2d's own error)
        }
        Some((|| {
            let kernel = self.packed_for(act)?;
            let (y, (ph, pw)) = max_pool_after_conv(kernel, x.data(), n, h, w, window)?;
            Tensor::new(&[n, ph, pw, g.out_c], y)
        })())
    }

    fn backward(&mut self, grad_out: &Tensor) -> Result<Tensor> {
        let x = self
            .input
            .as_ref()
            .ok_or_else(|| NnError::InvalidArgument("Conv2d backward before a training forward".into()))?;
        let (g, ..) = self.geometry(x)?;
        if grad_out.shape() != [g.batch, g.out_h, g.out_w, g.out_c] {
            return Err(NnError::Shape {
                what: "Conv2d output gradient".into(),
                expected: vec![g.batch, g.out_h, g.out_w, g.out_c],
                found: grad_out.shape().to_vec(),
            });
        }
        let (kh, kw) = g.kernel;
        let (cin, cout) = (g.in_c, g.out_c);
        let k = kh * kw * cin;
        let p = g.batch * g.out_h * g.out_w;
        let col = self.im2col(&g, x.data())?;
        let dy = MatRef::row_major(grad_out.data(), p, cout)?;
        // dW (as [K, C_out], rows (ky, kx, ci)) = col^T dY, then back to [C_out][C_in][KH][KW].
        let mut dw = vec![0.0f32; k * cout];
        gemm().run(1.0, MatRef::row_major(&col, p, k)?.t(), dy, 0.0, MatMut::row_major(&mut dw, k, cout)?)?;
        for co in 0..cout {
            for ci in 0..cin {
                for ky in 0..kh {
                    for kx in 0..kw {
                        self.grad_weight[((co * cin + ci) * kh + ky) * kw + kx] =
                            dw[((ky * kw + kx) * cin + ci) * cout + co];
                    }
                }
            }
        }
        self.grad_bias.fill(0.0);
        for row in rows(grad_out.data(), cout) {
            for (g, d) in self.grad_bias.iter_mut().zip(row) {
                *g += d;
            }
        }
        // dX: dcol = dY W' with W' = [C_out, K] (rows co, columns (ky, kx, ci)), then col2im.
        let mut w_ohwi = vec![0.0f32; cout * k];
        for co in 0..cout {
            for ci in 0..cin {
                for ky in 0..kh {
                    for kx in 0..kw {
                        w_ohwi[co * k + (ky * kw + kx) * cin + ci] = self.weight[((co * cin + ci) * kh + ky) * kw + kx];
                    }
                }
            }
        }
        let mut dcol = filled("Conv2d input gradient columns", p.saturating_mul(k), 0.0f32)?;
        gemm().run(1.0, dy, MatRef::row_major(&w_ohwi, cout, k)?, 0.0, MatMut::row_major(&mut dcol, p, k)?)?;
        let mut dx = Tensor::zeros(x.shape())?;
        let dxd = dx.data_mut();
        for n in 0..g.batch {
            for oy in 0..g.out_h {
                for ox in 0..g.out_w {
                    let row = &dcol[((n * g.out_h + oy) * g.out_w + ox) * k..][..k];
                    for ky in 0..kh {
                        for kx in 0..kw {
                            if let Some((iy, ix)) = g.input_at(oy, ox, ky, kx) {
                                let dst = &mut dxd[((n * g.in_h + iy) * g.in_w + ix) * cin..][..cin];
                                for (d, s) in dst.iter_mut().zip(&row[(ky * kw + kx) * cin..][..cin]) {
                                    *d += s;
                                }
                            }
                        }
                    }
                }
            }
        }
        Ok(dx)
    }

    fn params(&mut self) -> Vec<Param<'_>> {
        self.packed = None;
        let (kh, kw) = self.params.kernel;
        vec![
            Param {
                name: "weight",
                shape: vec![self.params.out_channels, self.params.in_channels, kh, kw],
                value: &mut self.weight,
                grad: &self.grad_weight,
            },
            Param { name: "bias", shape: vec![self.params.out_channels], value: &mut self.bias, grad: &self.grad_bias },
        ]
    }
}

/// Max pooling over `kh x kw` windows with stride `(kh, kw)` (no padding), NHWC; `1 x k`
/// pools along the width only (time, for a 1-D signal laid out as `[N, 1, T, C]`).
pub struct MaxPool2d {
    kh: usize,
    kw: usize,
    /// Input shape and, per output value, the index of the input value that won.
    argmax: Option<(Vec<usize>, Vec<usize>)>,
}

impl MaxPool2d {
    /// `k x k` windows, stride `k`.
    pub fn new(k: usize) -> Result<Self> {
        Self::rect(k, k)
    }

    /// `kh x kw` windows, stride `(kh, kw)`.
    pub fn rect(kh: usize, kw: usize) -> Result<Self> {
        if kh == 0 || kw == 0 {
            return Err(NnError::InvalidArgument(format!("MaxPool2d window {kh}x{kw}")));
        }
        Ok(MaxPool2d { kh, kw, argmax: None })
    }
}

impl Layer for MaxPool2d {
    fn kind(&self) -> &'static str {
        "MaxPool2d"
    }

    fn max_pool_window(&self) -> Option<(usize, usize)> {
        Some((self.kh, self.kw))
    }

    fn forward(&mut self, x: &Tensor, train: bool) -> Result<Tensor> {
        let &[n, h, w, c] = x.shape() else {
            return Err(NnError::Shape {
                what: "MaxPool2d input (N, H, W, C)".into(),
                expected: vec![0; 4],
                found: x.shape().to_vec(),
            });
        };
        let (kh, kw) = (self.kh, self.kw);
        let (oh, ow) = (h / kh, w / kw);
        if oh == 0 || ow == 0 {
            return Err(NnError::Shape {
                what: format!("MaxPool2d input (smaller than the {kh}x{kw} window)"),
                expected: vec![n, kh, kw, c],
                found: x.shape().to_vec(),
            });
        }
        if !train {
            // No winners to remember: the vectorised pooling kernel.
            if c == 0 {
                return Tensor::zeros(&[n, oh, ow, c]);
            }
            let pool = Pool2d::new(Pool2dParams::new(PoolKind::Max, c, (kh, kw)))?;
            return Tensor::new(&[n, oh, ow, c], pool.run_to_vec(x.data(), n, h, w)?.0);
        }
        let xd = x.data();
        let mut y = filled("MaxPool2d output", n * oh * ow * c, 0.0f32)?;
        let mut arg = filled("MaxPool2d winners", y.len(), 0usize)?;
        // Channels innermost: every window position is a contiguous run of `c` values.
        for b in 0..n {
            for oy in 0..oh {
                for ox in 0..ow {
                    let o = ((b * oh + oy) * ow + ox) * c;
                    let (yo, ao) = (&mut y[o..o + c], &mut arg[o..o + c]);
                    for dy in 0..kh {
                        for dx in 0..kw {
                            let i = ((b * h + oy * kh + dy) * w + ox * kw + dx) * c;
                            let first = dy == 0 && dx == 0;
                            for (ch, ((yv, av), &v)) in yo.iter_mut().zip(ao.iter_mut()).zip(&xd[i..i + c]).enumerate()
                            {
                                // The first value, a larger one, or NaN (which then propagates) wins.
                                if first || v > *yv || (v.is_nan() && !yv.is_nan()) {
                                    *yv = v;
                                    *av = i + ch;
                                }
                            }
                        }
                    }
                }
            }
        }
        if train {
            self.argmax = Some((x.shape().to_vec(), arg));
        }
        Tensor::new(&[n, oh, ow, c], y)
    }

    fn backward(&mut self, grad_out: &Tensor) -> Result<Tensor> {
        let (shape, arg) = self
            .argmax
            .as_ref()
            .ok_or_else(|| NnError::InvalidArgument("MaxPool2d backward before a training forward".into()))?;
        if grad_out.data().len() != arg.len() {
            return Err(NnError::Shape {
                what: "MaxPool2d output gradient".into(),
                expected: vec![arg.len()],
                found: grad_out.shape().to_vec(),
            });
        }
        let mut dx = Tensor::zeros(shape)?;
        for (&i, &g) in arg.iter().zip(grad_out.data()) {
            dx.data_mut()[i] += g;
        }
        Ok(dx)
    }
}

/// Reshapes each example (the batch dimension stays): `[N, ...] -> [N, shape...]`; with
/// `shape = [d]` it flattens.
pub struct Reshape {
    shape: Vec<usize>,
    input_shape: Option<Vec<usize>>,
}

impl Reshape {
    /// Each example becomes `shape`.
    pub fn new(shape: &[usize]) -> Self {
        Reshape { shape: shape.to_vec(), input_shape: None }
    }
}

impl Layer for Reshape {
    fn kind(&self) -> &'static str {
        "Reshape"
    }

    fn forward(&mut self, x: &Tensor, _train: bool) -> Result<Tensor> {
        let n = *x.shape().first().unwrap_or(&0);
        let mut shape = vec![n];
        shape.extend_from_slice(&self.shape);
        self.input_shape = Some(x.shape().to_vec());
        x.clone().reshape(&shape)
    }

    fn backward(&mut self, grad_out: &Tensor) -> Result<Tensor> {
        let shape = self
            .input_shape
            .as_ref()
            .ok_or_else(|| NnError::InvalidArgument("Reshape backward before a forward".into()))?;
        grad_out.clone().reshape(shape)
    }
}

/// Global average pooling: `[N, H, W, C] -> [N, C]`, the mean of each channel over the pixels
/// (through the kernels' vectorised pooling).
#[derive(Default)]
pub struct GlobalAvgPool {
    input_shape: Option<Vec<usize>>,
}

impl GlobalAvgPool {
    /// The layer.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Layer for GlobalAvgPool {
    fn kind(&self) -> &'static str {
        "GlobalAvgPool"
    }

    fn forward(&mut self, x: &Tensor, train: bool) -> Result<Tensor> {
        let &[n, h, w, c] = x.shape() else {
            return Err(NnError::Shape {
                what: "GlobalAvgPool input (N, H, W, C)".into(),
                expected: vec![0; 4],
                found: x.shape().to_vec(),
            });
        };
        let mut y = Tensor::zeros(&[n, c])?;
        lanes_kernels::ops::pool::global_avg_pool(x.data(), n, h * w, c, y.data_mut())?;
        if train {
            self.input_shape = Some(x.shape().to_vec());
        }
        Ok(y)
    }

    fn backward(&mut self, grad_out: &Tensor) -> Result<Tensor> {
        let shape = self
            .input_shape
            .clone()
            .ok_or_else(|| NnError::InvalidArgument("GlobalAvgPool backward before a training forward".into()))?;
        let (n, pixels, c) = (shape[0], shape[1] * shape[2], shape[3]);
        if grad_out.shape() != [n, c] {
            return Err(NnError::Shape {
                what: "GlobalAvgPool gradient".into(),
                expected: vec![n, c],
                found: grad_out.shape().to_vec(),
            });
        }
        let mut dx = Tensor::zeros(&shape)?;
        let inv = 1.0 / pixels as f32;
        for (img, g) in rows_mut(dx.data_mut(), pixels * c).zip(rows(grad_out.data(), c)) {
            for px in rows_mut(img, c) {
                px.iter_mut().zip(g).for_each(|(d, g)| *d = g * inv);
            }
        }
        Ok(dx)
    }
}

/// A 1-D convolution over `[N, T, C_in]` sequences (time steps, channels last), weights
/// `[C_out][C_in][K]` as PyTorch's `Conv1d`: the one-row case of [`Conv2d`] (a `1 x K` kernel on
/// `[N, 1, T, C_in]`), so it runs on the same kernels and backward pass.
pub struct Conv1d {
    inner: Conv2d,
}

impl Conv1d {
    /// `kernel` taps, `stride`, `dilation` and `padding` along time ([`Padding::Same`] or
    /// `Padding::Explicit` with its `left`/`right`; `top`/`bottom` must be 0); weights seeded
    /// as [`Conv2d::new`].
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        kernel: usize,
        stride: usize,
        dilation: usize,
        padding: Padding,
        seed: u64,
    ) -> Result<Self> {
        if let Padding::Explicit { top, bottom, .. } = padding {
            if top != 0 || bottom != 0 {
                return Err(NnError::InvalidArgument("Conv1d pads along time only (top and bottom must be 0)".into()));
            }
        }
        let params = Conv2dParams::new(in_channels, out_channels, (1, kernel))
            .stride(1, stride)
            .dilation(1, dilation)
            .padding(padding);
        Ok(Conv1d { inner: Conv2d::new(params, seed)? })
    }

    fn as_2d(x: &Tensor, what: &str) -> Result<Tensor> {
        match *x.shape() {
            [n, t, c] => x.clone().reshape(&[n, 1, t, c]),
            _ => Err(NnError::Shape {
                what: format!("{what} (N, T, C)"),
                expected: vec![0; 3],
                found: x.shape().to_vec(),
            }),
        }
    }

    fn as_1d(y: Tensor) -> Result<Tensor> {
        match *y.shape() {
            [n, 1, t, c] => y.reshape(&[n, t, c]),
            _ => Err(NnError::Shape {
                what: "Conv1d (one-row) result".into(),
                expected: vec![0, 1, 0, 0],
                found: y.shape().to_vec(),
            }),
        }
    }
}

impl Layer for Conv1d {
    fn kind(&self) -> &'static str {
        "Conv1d"
    }

    fn forward(&mut self, x: &Tensor, train: bool) -> Result<Tensor> {
        Self::as_1d(self.inner.forward(&Self::as_2d(x, "Conv1d input")?, train)?)
    }

    fn infer_fused(&mut self, x: &Tensor, act: Activation) -> Option<Result<Tensor>> {
        Some(Self::as_2d(x, "Conv1d input").and_then(|x| Self::as_1d(self.inner.run(&x, act)?)))
    }

    fn backward(&mut self, grad_out: &Tensor) -> Result<Tensor> {
        Self::as_1d(self.inner.backward(&Self::as_2d(grad_out, "Conv1d output gradient")?)?)
    }

    fn params(&mut self) -> Vec<Param<'_>> {
        let mut params = self.inner.params();
        if let Some(w) = params.first_mut() {
            w.shape.remove(2); // [C_out, C_in, 1, K] -> [C_out, C_in, K]
        }
        params
    }
}
