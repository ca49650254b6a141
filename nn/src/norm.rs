//! Normalisation layers: [`BatchNorm2d`] (per channel over the batch and the pixels, NHWC;
//! folds into the convolution before it for inference) and [`LayerNorm`] (per row).

use crate::conv::Conv2d;
use crate::error::{NnError, Result};
use crate::layers::{Layer, Param};
use crate::tensor::{rows, rows_mut, Tensor};
use lanes_kernels::ops::layout::{fold_batch_norm, BatchNorm};
use lanes_kernels::{Eltwise, MatMut};

/// Batch normalisation of NHWC activations (any rank: the last axis is the channel). Training
/// normalises with the batch's mean and biased variance and updates running statistics
/// (`running = (1 - momentum) * running + momentum * batch`, the unbiased variance, as
/// PyTorch); inference uses the running statistics.
pub struct BatchNorm2d {
    gamma: Vec<f32>,
    beta: Vec<f32>,
    running_mean: Vec<f32>,
    running_var: Vec<f32>,
    eps: f32,
    momentum: f32,
    grad_gamma: Vec<f32>,
    grad_beta: Vec<f32>,
    /// Normalised input and `1 / sqrt(var + eps)` per channel, of the last training forward.
    saved: Option<(Tensor, Vec<f32>)>,
}

impl BatchNorm2d {
    /// `channels` channels, unit scale, zero shift, running mean 0 and variance 1, PyTorch's
    /// defaults `eps = 1e-5`, `momentum = 0.1`.
    pub fn new(channels: usize) -> Self {
        BatchNorm2d {
            gamma: vec![1.0; channels],
            beta: vec![0.0; channels],
            running_mean: vec![0.0; channels],
            running_var: vec![1.0; channels],
            eps: 1e-5,
            momentum: 0.1,
            grad_gamma: vec![0.0; channels],
            grad_beta: vec![0.0; channels],
            saved: None,
        }
    }

    /// Running mean and variance.
    pub fn running_stats(&self) -> (&[f32], &[f32]) {
        (&self.running_mean, &self.running_var)
    }

    /// Folds this normalisation (with its running statistics) into `conv`, the convolution
    /// before it: afterwards `conv` alone computes `bn(conv(x))`, and this layer can be dropped
    /// from an inference model.
    pub fn fold_into(&self, conv: &mut Conv2d) -> Result<()> {
        let bn = BatchNorm {
            gamma: &self.gamma,
            beta: &self.beta,
            mean: &self.running_mean,
            var: &self.running_var,
            eps: self.eps,
        };
        let channels = self.gamma.len();
        let (weight, bias) = conv.weights_mut();
        let (w, b) = fold_batch_norm(weight, channels, Some(bias), &bn)?;
        weight.copy_from_slice(&w);
        bias.copy_from_slice(&b);
        Ok(())
    }

    fn channels_of(&self, x: &Tensor) -> Result<usize> {
        let c = self.gamma.len();
        if x.shape().last() != Some(&c) || c == 0 {
            let mut expected = x.shape().to_vec();
            if let Some(last) = expected.last_mut() {
                *last = c;
            }
            return Err(NnError::Shape {
                what: "BatchNorm2d input (channels last)".into(),
                expected,
                found: x.shape().to_vec(),
            });
        }
        Ok(c)
    }
}

impl Layer for BatchNorm2d {
    fn kind(&self) -> &'static str {
        "BatchNorm2d"
    }

    fn forward(&mut self, x: &Tensor, train: bool) -> Result<Tensor> {
        let c = self.channels_of(x)?;
        let rows = x.data().len() / c;
        let mut y = x.clone();
        if !train {
            // y = x * s + (beta - mean * s), s = gamma / sqrt(var + eps): one multiply-add per value.
            let scale: Vec<f32> =
                self.gamma.iter().zip(&self.running_var).map(|(g, v)| g / (v + self.eps).sqrt()).collect();
            let shift: Vec<f32> = (0..c).map(|i| self.beta[i] - self.running_mean[i] * scale[i]).collect();
            for row in y.data_mut().chunks_exact_mut(c) {
                for ((v, s), t) in row.iter_mut().zip(&scale).zip(&shift) {
                    *v = *v * s + t;
                }
            }
            return Ok(y);
        }
        if rows < 2 {
            return Err(NnError::InvalidArgument("BatchNorm2d training needs more than one value per channel".into()));
        }
        let (mut mean, mut var) = (vec![0.0f64; c], vec![0.0f64; c]);
        for row in x.data().chunks_exact(c) {
            mean.iter_mut().zip(row).for_each(|(m, &v)| *m += f64::from(v));
        }
        mean.iter_mut().for_each(|m| *m /= rows as f64);
        for row in x.data().chunks_exact(c) {
            var.iter_mut().zip(row).zip(&mean).for_each(|((s, &v), m)| *s += (f64::from(v) - m).powi(2));
        }
        var.iter_mut().for_each(|s| *s /= rows as f64);
        let inv: Vec<f32> = var.iter().map(|v| 1.0 / (*v as f32 + self.eps).sqrt()).collect();
        let mut xhat = x.clone();
        for (h, out) in xhat.data_mut().chunks_exact_mut(c).zip(y.data_mut().chunks_exact_mut(c)) {
            for i in 0..c {
                h[i] = (h[i] - mean[i] as f32) * inv[i];
                out[i] = h[i] * self.gamma[i] + self.beta[i];
            }
        }
        let unbiased = rows as f64 / (rows - 1) as f64;
        for i in 0..c {
            let m = self.momentum;
            self.running_mean[i] = (1.0 - m) * self.running_mean[i] + m * mean[i] as f32;
            self.running_var[i] = (1.0 - m) * self.running_var[i] + m * (var[i] * unbiased) as f32;
        }
        self.saved = Some((xhat, inv));
        Ok(y)
    }

    fn backward(&mut self, grad_out: &Tensor) -> Result<Tensor> {
        let (xhat, inv) = self
            .saved
            .as_ref()
            .ok_or_else(|| NnError::InvalidArgument("BatchNorm2d backward before a training forward".into()))?;
        if grad_out.shape() != xhat.shape() {
            return Err(NnError::Shape {
                what: "BatchNorm2d gradient".into(),
                expected: xhat.shape().to_vec(),
                found: grad_out.shape().to_vec(),
            });
        }
        let c = self.gamma.len();
        let rows = (xhat.data().len() / c) as f32;
        // Per channel: sum(dy) and sum(dy * xhat); dx = gamma * inv / N * (N dy - sum(dy) - xhat sum(dy xhat)).
        let (mut sum_dy, mut sum_dy_h) = (vec![0.0f32; c], vec![0.0f32; c]);
        for (h, dy) in xhat.data().chunks_exact(c).zip(grad_out.data().chunks_exact(c)) {
            for i in 0..c {
                sum_dy[i] += dy[i];
                sum_dy_h[i] += dy[i] * h[i];
            }
        }
        self.grad_beta.copy_from_slice(&sum_dy);
        self.grad_gamma.copy_from_slice(&sum_dy_h);
        let mut dx = Tensor::zeros(xhat.shape())?;
        let rows_iter = xhat.data().chunks_exact(c).zip(grad_out.data().chunks_exact(c));
        for ((h, dy), out) in rows_iter.zip(dx.data_mut().chunks_exact_mut(c)) {
            for i in 0..c {
                out[i] = self.gamma[i] * inv[i] / rows * (rows * dy[i] - sum_dy[i] - h[i] * sum_dy_h[i]);
            }
        }
        Ok(dx)
    }

    fn params(&mut self) -> Vec<Param<'_>> {
        // The trained ones: the first two of `tensors`.
        let mut tensors = self.tensors();
        tensors.truncate(2);
        tensors
    }

    fn tensors(&mut self) -> Vec<Param<'_>> {
        let c = self.gamma.len();
        vec![
            Param { name: "weight", shape: vec![c], value: &mut self.gamma, grad: &self.grad_gamma },
            Param { name: "bias", shape: vec![c], value: &mut self.beta, grad: &self.grad_beta },
            Param { name: "running_mean", shape: vec![c], value: &mut self.running_mean, grad: &[] },
            Param { name: "running_var", shape: vec![c], value: &mut self.running_var, grad: &[] },
        ]
    }
}

/// Layer normalisation over the last axis: `(x - mean) / sqrt(var + eps) * gamma + beta`.
pub struct LayerNorm {
    gamma: Vec<f32>,
    beta: Vec<f32>,
    eps: f32,
    grad_gamma: Vec<f32>,
    grad_beta: Vec<f32>,
    /// The normalised input and `1 / sqrt(var + eps)` per row, of the last training forward.
    saved: Option<(Tensor, Vec<f32>)>,
}

impl LayerNorm {
    /// Unit scale, zero shift over `dim` features.
    pub fn new(dim: usize, eps: f32) -> Result<Self> {
        Self::from_weights(vec![1.0; dim], vec![0.0; dim], eps)
    }

    /// The given scale and shift (same length); `eps` must be finite and >= 0.
    pub fn from_weights(gamma: Vec<f32>, beta: Vec<f32>, eps: f32) -> Result<Self> {
        if gamma.len() != beta.len() {
            return Err(NnError::Shape {
                what: "LayerNorm shift".into(),
                expected: vec![gamma.len()],
                found: vec![beta.len()],
            });
        }
        if !(eps >= 0.0 && eps.is_finite()) {
            return Err(NnError::InvalidArgument(format!("LayerNorm eps {eps} is not a finite value >= 0")));
        }
        let dim = gamma.len();
        Ok(LayerNorm { gamma, beta, eps, grad_gamma: vec![0.0; dim], grad_beta: vec![0.0; dim], saved: None })
    }

    /// Normalises each row of the 2-D `x` in place (inference, through the row kernel).
    pub fn apply_inplace(&self, x: &mut Tensor) -> Result<()> {
        let (rows, cols) = x.dims2("LayerNorm input")?;
        self.check_cols(x, cols)?;
        let view = MatMut::row_major(x.data_mut(), rows, cols)?;
        Eltwise::new().layer_norm_inplace(view, &self.gamma, &self.beta, self.eps)?;
        Ok(())
    }

    fn check_cols(&self, x: &Tensor, cols: usize) -> Result<()> {
        if cols != self.gamma.len() {
            return Err(NnError::Shape {
                what: "LayerNorm input".into(),
                expected: vec![x.shape()[0], self.gamma.len()],
                found: x.shape().to_vec(),
            });
        }
        Ok(())
    }
}

impl Layer for LayerNorm {
    fn kind(&self) -> &'static str {
        "LayerNorm"
    }

    fn forward(&mut self, x: &Tensor, train: bool) -> Result<Tensor> {
        let mut y = x.clone();
        if !train {
            self.apply_inplace(&mut y)?;
            return Ok(y);
        }
        let (_, cols) = x.dims2("LayerNorm input")?;
        self.check_cols(x, cols)?;
        let mut xhat = x.clone();
        let mut inv_std = Vec::new();
        for (row, out) in rows_mut(xhat.data_mut(), cols).zip(rows_mut(y.data_mut(), cols)) {
            let mean = row.iter().sum::<f32>() / cols as f32;
            let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / cols as f32;
            let r = 1.0 / (var + self.eps).sqrt();
            for (j, (h, o)) in row.iter_mut().zip(out.iter_mut()).enumerate() {
                *h = (*h - mean) * r;
                *o = *h * self.gamma[j] + self.beta[j];
            }
            inv_std.push(r);
        }
        self.saved = Some((xhat, inv_std));
        Ok(y)
    }

    fn backward(&mut self, grad_out: &Tensor) -> Result<Tensor> {
        let (xhat, inv_std) = self
            .saved
            .as_ref()
            .ok_or_else(|| NnError::InvalidArgument("LayerNorm backward before a training forward".into()))?;
        if grad_out.shape() != xhat.shape() {
            return Err(NnError::Shape {
                what: "LayerNorm gradient".into(),
                expected: xhat.shape().to_vec(),
                found: grad_out.shape().to_vec(),
            });
        }
        let cols = self.gamma.len();
        let mut dx = Tensor::zeros(xhat.shape())?;
        self.grad_gamma.fill(0.0);
        self.grad_beta.fill(0.0);
        let pairs = rows(xhat.data(), cols).zip(rows(grad_out.data(), cols));
        for (((h, dy), dxr), &r) in pairs.zip(rows_mut(dx.data_mut(), cols)).zip(inv_std) {
            // dxhat = dy * gamma; dx = r * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)).
            let (mut m1, mut m2) = (0.0f32, 0.0f32);
            for j in 0..cols {
                let d = dy[j] * self.gamma[j];
                m1 += d;
                m2 += d * h[j];
                self.grad_gamma[j] += dy[j] * h[j];
                self.grad_beta[j] += dy[j];
            }
            let (m1, m2) = (m1 / cols as f32, m2 / cols as f32);
            for j in 0..cols {
                dxr[j] = r * (dy[j] * self.gamma[j] - m1 - h[j] * m2);
            }
        }
        Ok(dx)
    }

    fn params(&mut self) -> Vec<Param<'_>> {
        let dim = self.gamma.len();
        vec![
            Param { name: "weight", shape: vec![dim], value: &mut self.gamma, grad: &self.grad_gamma },
            Param { name: "bias", shape: vec![dim], value: &mut self.beta, grad: &self.grad_beta },
        ]
    }
}
