//! The pieces of a transformer encoder: [`Embedding`], [`MultiHeadSelfAttention`]
//! and the post-norm [`EncoderBlock`] of BERT (with [`LayerNorm`] from [`crate::norm`]).
//!
//! A batch of token sequences is one `[tokens, hidden]` tensor, the sequences one after the
//! other, with their lengths beside it: the dense layers run once over every token of the batch,
//! attention within each sequence, and no padding is ever computed.

use crate::error::{NnError, Result};
use crate::layers::{Linear, Param};
use crate::norm::LayerNorm;
use crate::tensor::{rows, Tensor};
use lanes_kernels::{Activation, Eltwise, Gemm, MatMut, MatRef, Parallelism};

/// A lookup table from token ids to rows of `[vocab, dim]` weights.
pub struct Embedding {
    vocab: usize,
    dim: usize,
    weight: Vec<f32>,
    grad: Vec<f32>,
    ids: Option<Vec<u32>>,
}

impl Embedding {
    /// A table of `vocab` rows of `dim` values.
    pub fn from_weights(vocab: usize, dim: usize, weight: Vec<f32>) -> Result<Self> {
        if Some(weight.len()) != vocab.checked_mul(dim) {
            return Err(NnError::Shape {
                what: "Embedding weight".into(),
                expected: vec![vocab, dim],
                found: vec![weight.len()],
            });
        }
        Ok(Embedding { vocab, dim, grad: vec![0.0; weight.len()], weight, ids: None })
    }

    /// Rows and width of the table.
    pub fn dims(&self) -> (usize, usize) {
        (self.vocab, self.dim)
    }

    /// Row `id`; an id outside the table is an error.
    pub fn row(&self, id: u32) -> Result<&[f32]> {
        let i = id as usize;
        if i >= self.vocab {
            return Err(NnError::InvalidArgument(format!("token id {id} is outside the vocabulary of {}", self.vocab)));
        }
        Ok(&self.weight[i * self.dim..(i + 1) * self.dim])
    }

    /// The `[ids.len(), dim]` rows of `ids`; with `train`, remembers them for [`Self::backward`].
    pub fn forward(&mut self, ids: &[u32], train: bool) -> Result<Tensor> {
        let mut out = Vec::with_capacity(ids.len() * self.dim);
        for &id in ids {
            out.extend_from_slice(self.row(id)?);
        }
        if train {
            self.ids = Some(ids.to_vec());
        }
        Tensor::new(&[ids.len(), self.dim], out)
    }

    /// Accumulates `grad_out` (`[ids, dim]`) into the rows of the last training forward pass
    /// (the gradient of the other rows is zero).
    pub fn backward(&mut self, grad_out: &Tensor) -> Result<()> {
        let ids = self
            .ids
            .as_ref()
            .ok_or_else(|| NnError::InvalidArgument("Embedding backward before a training forward".into()))?;
        if grad_out.shape() != [ids.len(), self.dim] {
            return Err(NnError::Shape {
                what: "Embedding gradient".into(),
                expected: vec![ids.len(), self.dim],
                found: grad_out.shape().to_vec(),
            });
        }
        self.grad.fill(0.0);
        for (&id, g) in ids.iter().zip(rows(grad_out.data(), self.dim)) {
            let row = &mut self.grad[id as usize * self.dim..][..self.dim];
            row.iter_mut().zip(g).for_each(|(r, g)| *r += g);
        }
        Ok(())
    }

    /// The table and its gradient.
    pub fn params(&mut self) -> Vec<Param<'_>> {
        vec![Param { name: "weight", shape: vec![self.vocab, self.dim], value: &mut self.weight, grad: &self.grad }]
    }
}

/// Multi-head self-attention (inference): one fused Q/K/V projection, `softmax(Q K^T / sqrt(d))
/// V` per head within each sequence, the output projection.
pub struct MultiHeadSelfAttention {
    hidden: usize,
    heads: usize,
    /// `[3 * hidden, hidden]`: the query, key and value weights stacked.
    qkv: Linear,
    out: Linear,
}

impl MultiHeadSelfAttention {
    /// From the projections: `qkv` maps `hidden` to `3 * hidden` (query, key, value in that
    /// order), `out` maps `hidden` to `hidden`; `heads` must divide `hidden`.
    pub fn new(heads: usize, qkv: Linear, out: Linear) -> Result<Self> {
        let (hidden, three) = qkv.dims();
        if three != 3 * hidden || out.dims() != (hidden, hidden) {
            return Err(NnError::Shape {
                what: "attention projections (qkv [3h, h], out [h, h])".into(),
                expected: vec![3 * hidden, hidden, hidden, hidden],
                found: vec![three, hidden, out.dims().1, out.dims().0],
            });
        }
        if heads == 0 || !hidden.is_multiple_of(heads) {
            return Err(NnError::InvalidArgument(format!("{heads} heads do not divide the width {hidden}")));
        }
        Ok(MultiHeadSelfAttention { hidden, heads, qkv, out })
    }

    /// The output projection of the attention over `x` (`[tokens, hidden]`, sequences of
    /// `lens` one after the other), plus `residual` when given (fused into the projection).
    pub fn forward(&mut self, x: &Tensor, lens: &[usize], residual: Option<Tensor>) -> Result<Tensor> {
        let ctx = self.context(x, lens)?;
        self.out.infer(&ctx, Activation::Identity, residual)
    }

    /// `x + attention(x)`, the sum accumulated into `x`'s own storage (no copy of `x`).
    pub fn forward_residual(&mut self, x: Tensor, lens: &[usize]) -> Result<Tensor> {
        let ctx = self.context(&x, lens)?;
        self.out.infer(&ctx, Activation::Identity, Some(x))
    }

    /// Every head's `softmax(Q K^T / sqrt(d)) V`, side by side: `[tokens, hidden]`, before the
    /// output projection.
    fn context(&mut self, x: &Tensor, lens: &[usize]) -> Result<Tensor> {
        let (tokens, width) = x.dims2("attention input")?;
        check_lens(tokens, lens)?;
        if width != self.hidden {
            return Err(NnError::Shape {
                what: "attention input".into(),
                expected: vec![tokens, self.hidden],
                found: x.shape().to_vec(),
            });
        }
        let qkv = self.qkv.infer(x, Activation::Identity, None)?;
        let mut ctx = Tensor::zeros(&[tokens, self.hidden])?;
        let (h, d) = (self.hidden, self.hidden / self.heads);
        let longest = lens.iter().copied().max().unwrap_or(0);
        let mut scores = vec![0.0f32; longest * longest];
        let gemm = Gemm::new().parallelism(Parallelism::Sequential);
        let scale = 1.0 / (d as f32).sqrt();
        let (q, ctx_data) = (qkv.data(), ctx.data_mut());
        let mut start = 0;
        for &len in lens {
            let s = &mut scores[..len * len];
            for head in 0..self.heads {
                let at = |part: usize| start * 3 * h + part * h + head * d;
                // scores = Q K^T / sqrt(d): K^T is K's rows read as columns.
                let qv = MatRef::with_offset(q, at(0), len, d, 3 * h as isize, 1)?;
                let kt = MatRef::with_offset(q, at(1), d, len, 1, 3 * h as isize)?;
                gemm.run(scale, qv, kt, 0.0, MatMut::row_major(s, len, len)?)?;
                Eltwise::new().softmax_inplace(MatMut::row_major(s, len, len)?)?;
                let vv = MatRef::with_offset(q, at(2), len, d, 3 * h as isize, 1)?;
                let out = MatMut::with_offset(ctx_data, start * h + head * d, len, d, h as isize, 1)?;
                gemm.run(1.0, MatRef::row_major(s, len, len)?, vv, 0.0, out)?;
            }
            start += len;
        }
        Ok(ctx)
    }
}

/// `tokens` must be the sum of `lens`.
pub(crate) fn check_lens(tokens: usize, lens: &[usize]) -> Result<()> {
    let sum = lens.iter().try_fold(0usize, |a, &l| a.checked_add(l));
    if sum != Some(tokens) {
        return Err(NnError::Shape {
            what: "sequence lengths (their sum is the token count)".into(),
            expected: vec![tokens],
            found: lens.to_vec(),
        });
    }
    Ok(())
}

/// A post-norm transformer encoder block (BERT): `h = LN(x + attention(x))`,
/// `y = LN(h + W2 GELU(W1 h + b1) + b2)`, GELU in its exact (erf) form.
pub struct EncoderBlock {
    /// Self-attention.
    pub attention: MultiHeadSelfAttention,
    /// Norm after attention.
    pub attention_norm: LayerNorm,
    /// Feed-forward expansion (`hidden -> intermediate`).
    pub ffn_in: Linear,
    /// Feed-forward projection (`intermediate -> hidden`).
    pub ffn_out: Linear,
    /// Norm after the feed-forward network.
    pub output_norm: LayerNorm,
}

impl EncoderBlock {
    /// The block's output for `x` (`[tokens, hidden]`, sequences of `lens`).
    pub fn forward(&mut self, x: Tensor, lens: &[usize]) -> Result<Tensor> {
        let mut h = self.attention.forward_residual(x, lens)?;
        self.attention_norm.apply_inplace(&mut h)?;
        let inner = self.ffn_in.infer(&h, Activation::GeluErf, None)?;
        let mut y = self.ffn_out.infer(&inner, Activation::Identity, Some(h))?;
        self.output_norm.apply_inplace(&mut y)?;
        Ok(y)
    }
}
