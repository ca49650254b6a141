//! A depthwise convolution layer (one filter per channel, MobileNet's 3x3 and 5x5 layers) on
//! NHWC tensors: forward through lanes-kernels' dedicated depthwise kernels, backward as direct
//! loops over the taps with channels innermost.

use crate::error::{NnError, Result};
use crate::layers::{Layer, Param};
use crate::tensor::{filled, rows, uniform, Tensor};
use lanes_kernels::ops::conv::{Conv2d as ConvKernel, Conv2dGeometry, Conv2dParams, FilterLayout, Padding};
use lanes_kernels::{Activation, Gemm, Parallelism};

/// Depthwise 2-D convolution: `channels` filters of `KH x KW`, weights `[C][1][KH][KW]` as in
/// PyTorch (`groups = channels`). Input `[N, H, W, C]`, output `[N, OH, OW, C]`.
pub struct DepthwiseConv2d {
    params: Conv2dParams,
    weight: Vec<f32>,
    bias: Vec<f32>,
    grad_weight: Vec<f32>,
    grad_bias: Vec<f32>,
    input: Option<Tensor>,
    packed: Option<ConvKernel>,
}

impl DepthwiseConv2d {
    /// `channels` filters of `kernel`, with `stride`, `padding` and dilation 1; weights uniform
    /// in `[-1/sqrt(KH*KW), 1/sqrt(KH*KW)]` (seeded), zero bias.
    pub fn new(channels: usize, kernel: (usize, usize), stride: usize, padding: Padding, seed: u64) -> Result<Self> {
        let params =
            Conv2dParams::new(channels, channels, kernel).groups(channels).stride(stride, stride).padding(padding);
        params.validate()?;
        let len = params.filter_len()?;
        let bound = 1.0 / ((kernel.0 * kernel.1).max(1) as f32).sqrt();
        Ok(DepthwiseConv2d {
            params,
            weight: uniform("DepthwiseConv2d filter", len, 1, bound, seed)?,
            bias: filled("DepthwiseConv2d bias", channels, 0.0)?,
            grad_weight: filled("DepthwiseConv2d gradients", len, 0.0)?,
            grad_bias: filled("DepthwiseConv2d gradients", channels, 0.0)?,
            input: None,
            packed: None,
        })
    }

    fn geometry(&self, x: &Tensor) -> Result<Conv2dGeometry> {
        let c = self.params.in_channels;
        match *x.shape() {
            [n, h, w, xc] if xc == c => Ok(self.params.geometry(n, h, w)?),
            _ => Err(NnError::Shape {
                what: "DepthwiseConv2d input (N, H, W, C)".into(),
                expected: vec![0, 0, 0, c],
                found: x.shape().to_vec(),
            }),
        }
    }
}

impl Layer for DepthwiseConv2d {
    fn kind(&self) -> &'static str {
        "DepthwiseConv2d"
    }

    fn forward(&mut self, x: &Tensor, train: bool) -> Result<Tensor> {
        let g = self.geometry(x)?;
        if self.packed.is_none() {
            let gemm = Gemm::new().parallelism(Parallelism::Auto);
            let (w, b) = (&self.weight, Some(&self.bias[..]));
            self.packed =
                Some(ConvKernel::with_gemm(gemm, self.params, w, FilterLayout::Oihw, b, Activation::Identity)?);
        }
        let mut y = Tensor::zeros(&[g.batch, g.out_h, g.out_w, g.out_c])?;
        let packed = self.packed.as_ref().expect("packed above");
        packed.run(x.data(), g.batch, g.in_h, g.in_w, y.data_mut())?;
        if train {
            self.input = Some(x.clone());
        }
        Ok(y)
    }

    fn backward(&mut self, grad_out: &Tensor) -> Result<Tensor> {
        let x = self
            .input
            .as_ref()
            .ok_or_else(|| NnError::InvalidArgument("DepthwiseConv2d backward before a training forward".into()))?;
        let g = self.geometry(x)?;
        if grad_out.shape() != [g.batch, g.out_h, g.out_w, g.out_c] {
            return Err(NnError::Shape {
                what: "DepthwiseConv2d output gradient".into(),
                expected: vec![g.batch, g.out_h, g.out_w, g.out_c],
                found: grad_out.shape().to_vec(),
            });
        }
        let (c, (kh, kw)) = (g.in_c, g.kernel);
        // Weights per tap, channels innermost: w_t[(ky*kw + kx)*c + ch] = W[ch][0][ky][kx].
        let mut w_t = vec![0.0f32; kh * kw * c];
        let mut dw_t = vec![0.0f32; kh * kw * c];
        for ch in 0..c {
            for t in 0..kh * kw {
                w_t[t * c + ch] = self.weight[ch * kh * kw + t];
            }
        }
        let mut dx = Tensor::zeros(x.shape())?;
        let (xd, dxd, dyd) = (x.data(), dx.data_mut(), grad_out.data());
        for n in 0..g.batch {
            for oy in 0..g.out_h {
                for ox in 0..g.out_w {
                    let dy = &dyd[((n * g.out_h + oy) * g.out_w + ox) * c..][..c];
                    for ky in 0..kh {
                        for kx in 0..kw {
                            let Some((iy, ix)) = g.input_at(oy, ox, ky, kx) else { continue };
                            let at = ((n * g.in_h + iy) * g.in_w + ix) * c;
                            let t = (ky * kw + kx) * c;
                            for (ch, &d) in dy.iter().enumerate() {
                                dw_t[t + ch] += d * xd[at + ch];
                                dxd[at + ch] += d * w_t[t + ch];
                            }
                        }
                    }
                }
            }
        }
        for ch in 0..c {
            for t in 0..kh * kw {
                self.grad_weight[ch * kh * kw + t] = dw_t[t * c + ch];
            }
        }
        self.grad_bias.fill(0.0);
        for row in rows(dyd, c) {
            self.grad_bias.iter_mut().zip(row).for_each(|(g, d)| *g += d);
        }
        Ok(dx)
    }

    fn params(&mut self) -> Vec<Param<'_>> {
        self.packed = None;
        let (c, (kh, kw)) = (self.params.in_channels, self.params.kernel);
        vec![
            Param { name: "weight", shape: vec![c, 1, kh, kw], value: &mut self.weight, grad: &self.grad_weight },
            Param { name: "bias", shape: vec![c], value: &mut self.bias, grad: &self.grad_bias },
        ]
    }
}
