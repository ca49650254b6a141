//! Recommendation: matrix factorisation as a layer (user and item embeddings, scores by dot
//! product against every item through one GEMM), top-k retrieval that skips seen items, and the
//! ranking metrics recall@k and NDCG@k.

use crate::error::{NnError, Result};
use crate::layers::{Layer, Param};
use crate::tensor::{rows, Tensor};
use lanes_kernels::{Activation, Epilogue, Gemm, MatMut, MatRef, Parallelism};
use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

fn gemm() -> Gemm {
    Gemm::new().parallelism(Parallelism::Auto)
}

/// Matrix factorisation `score(u, i) = <p_u, q_i> + b_i`: a `users x dim` table of user
/// embeddings, an `items x dim` table of item embeddings and an item bias. As a [`Layer`], its
/// input is a `[batch]` or `[batch, 1]` tensor of user indices (whole numbers stored as f32) and
/// its output the `[batch, items]` scores of every item (one GEMM with the bias fused), so that
/// a softmax cross-entropy against the item each user interacted with trains it (the two-tower
/// retrieval loss with the full catalogue instead of sampled negatives). The user indices
/// receive no gradient: `backward` returns zeros.
pub struct MatrixFactorization {
    users: usize,
    items: usize,
    dim: usize,
    user: Vec<f32>,
    item: Vec<f32>,
    item_bias: Vec<f32>,
    grad_user: Vec<f32>,
    grad_item: Vec<f32>,
    grad_bias: Vec<f32>,
    /// The input shape, user indices and their gathered embeddings of the last training forward.
    batch: Option<(Vec<usize>, Vec<usize>, Vec<f32>)>,
}

impl MatrixFactorization {
    /// Embeddings drawn uniformly from `[-scale, scale]` by a generator seeded with `seed`, zero
    /// item bias.
    pub fn new(users: usize, items: usize, dim: usize, scale: f32, seed: u64) -> Result<Self> {
        if users == 0 || items == 0 || dim == 0 {
            return Err(NnError::InvalidArgument(format!(
                "matrix factorisation with {users} users, {items} items, dimension {dim}"
            )));
        }
        if !(scale >= 0.0 && scale.is_finite()) {
            return Err(NnError::InvalidArgument(format!("embedding scale {scale} is not a finite value >= 0")));
        }
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut draw = |what: &'static str, rows: usize| -> Result<Vec<f32>> {
            let len = rows
                .checked_mul(dim)
                .ok_or_else(|| NnError::InvalidArgument(format!("{what}: {rows} x {dim} values overflow")))?;
            let mut v = crate::tensor::filled(what, len, 0.0)?;
            v.iter_mut().for_each(|x| *x = rng.random_range(-scale..=scale));
            Ok(v)
        };
        let user = draw("user embeddings", users)?;
        let item = draw("item embeddings", items)?;
        Ok(MatrixFactorization {
            users,
            items,
            dim,
            grad_user: vec![0.0; user.len()],
            grad_item: vec![0.0; item.len()],
            grad_bias: vec![0.0; items],
            user,
            item,
            item_bias: vec![0.0; items],
            batch: None,
        })
    }

    /// Users, items and the embedding dimension.
    pub fn dims(&self) -> (usize, usize, usize) {
        (self.users, self.items, self.dim)
    }

    /// The user embeddings, `users x dim` row-major.
    pub fn user_embeddings(&self) -> &[f32] {
        &self.user
    }

    /// The item embeddings, `items x dim` row-major.
    pub fn item_embeddings(&self) -> &[f32] {
        &self.item
    }

    /// The item biases.
    pub fn item_bias(&self) -> &[f32] {
        &self.item_bias
    }

    /// The user indices of `x` (each a whole number below `users`).
    fn user_ids(&self, x: &Tensor) -> Result<Vec<usize>> {
        match x.shape() {
            [_] | [_, 1] => {}
            s => {
                return Err(NnError::Shape {
                    what: "matrix factorisation input (user indices)".into(),
                    expected: vec![s.first().copied().unwrap_or(0), 1],
                    found: s.to_vec(),
                })
            }
        }
        x.data()
            .iter()
            .enumerate()
            .map(|(row, &v)| {
                if v >= 0.0 && v.fract() == 0.0 && (v as usize) < self.users {
                    Ok(v as usize)
                } else {
                    Err(NnError::InvalidArgument(format!(
                        "row {row}: user index {v} is not a whole number below {}",
                        self.users
                    )))
                }
            })
            .collect()
    }

    /// The `[users.len(), items]` scores of every item for `users`: `P[users] Q^T + b` in one GEMM.
    pub fn scores(&self, users: &[usize]) -> Result<Tensor> {
        if let Some(&u) = users.iter().find(|&&u| u >= self.users) {
            return Err(NnError::InvalidArgument(format!("user index {u} is not below {}", self.users)));
        }
        let rows: Vec<f32> =
            users.iter().flat_map(|&u| self.user[u * self.dim..][..self.dim].iter().copied()).collect();
        self.scores_of(&rows, users.len())
    }

    fn scores_of(&self, rows: &[f32], batch: usize) -> Result<Tensor> {
        let mut y = Tensor::zeros(&[batch, self.items])?;
        let p = MatRef::row_major(rows, batch, self.dim)?;
        let qt = MatRef::row_major(&self.item, self.items, self.dim)?.t();
        let epi = Epilogue::new(Some(&self.item_bias), Activation::Identity);
        gemm().run_fused(1.0, p, qt, 0.0, MatMut::row_major(y.data_mut(), batch, self.items)?, &epi)?;
        Ok(y)
    }
}

impl Layer for MatrixFactorization {
    fn kind(&self) -> &'static str {
        "MatrixFactorization"
    }

    fn forward(&mut self, x: &Tensor, train: bool) -> Result<Tensor> {
        let ids = self.user_ids(x)?;
        let rows: Vec<f32> = ids.iter().flat_map(|&u| self.user[u * self.dim..][..self.dim].iter().copied()).collect();
        let y = self.scores_of(&rows, ids.len())?;
        if train {
            self.batch = Some((x.shape().to_vec(), ids, rows));
        }
        Ok(y)
    }

    fn backward(&mut self, grad_out: &Tensor) -> Result<Tensor> {
        let (shape, ids, rows) = self
            .batch
            .as_ref()
            .ok_or_else(|| NnError::InvalidArgument("MatrixFactorization backward before a training forward".into()))?;
        let batch = ids.len();
        if grad_out.shape() != [batch, self.items] {
            return Err(NnError::Shape {
                what: "matrix factorisation output gradient".into(),
                expected: vec![batch, self.items],
                found: grad_out.shape().to_vec(),
            });
        }
        let dy = MatRef::row_major(grad_out.data(), batch, self.items)?;
        // dQ [items, dim] = dY^T P_batch; db = column sums of dY; dP_batch = dY Q, scattered
        // into the rows of its users (a user twice in the batch gets both).
        let p = MatRef::row_major(rows, batch, self.dim)?;
        gemm().run(1.0, dy.t(), p, 0.0, MatMut::row_major(&mut self.grad_item, self.items, self.dim)?)?;
        self.grad_bias.fill(0.0);
        for row in crate::tensor::rows(grad_out.data(), self.items) {
            for (g, d) in self.grad_bias.iter_mut().zip(row) {
                *g += d;
            }
        }
        let mut dp = vec![0.0f32; batch * self.dim];
        let q = MatRef::row_major(&self.item, self.items, self.dim)?;
        gemm().run(1.0, dy, q, 0.0, MatMut::row_major(&mut dp, batch, self.dim)?)?;
        self.grad_user.fill(0.0);
        for (&u, d) in ids.iter().zip(crate::tensor::rows(&dp, self.dim)) {
            for (g, v) in self.grad_user[u * self.dim..][..self.dim].iter_mut().zip(d) {
                *g += v;
            }
        }
        Tensor::zeros(shape)
    }

    fn params(&mut self) -> Vec<Param<'_>> {
        vec![
            Param { name: "user", shape: vec![self.users, self.dim], value: &mut self.user, grad: &self.grad_user },
            Param { name: "item", shape: vec![self.items, self.dim], value: &mut self.item, grad: &self.grad_item },
            Param { name: "item_bias", shape: vec![self.items], value: &mut self.item_bias, grad: &self.grad_bias },
        ]
    }
}

/// The indices of the `k` largest values of `scores`, best first, skipping the indices in
/// `exclude` (ties: the lower index first; NaN scores are never picked).
pub fn top_k(scores: &[f32], k: usize, exclude: &[u32]) -> Vec<u32> {
    let mut skip = vec![false; scores.len()];
    for &e in exclude {
        if let Some(s) = skip.get_mut(e as usize) {
            *s = true;
        }
    }
    // A small sorted buffer: k is small next to the catalogue.
    let mut best: Vec<(f32, u32)> = Vec::with_capacity(k + 1);
    for (i, &s) in scores.iter().enumerate() {
        if skip[i] || s.is_nan() || k == 0 {
            continue;
        }
        if best.len() == k && s <= best[k - 1].0 {
            continue;
        }
        let at = best.partition_point(|&(b, _)| b >= s);
        best.insert(at, (s, i as u32));
        best.truncate(k);
    }
    best.into_iter().map(|(_, i)| i).collect()
}

/// For each row of `scores` (`[users, items]`), the top `k` items not in that user's `seen`.
pub fn recommend(scores: &Tensor, k: usize, seen: &[Vec<u32>]) -> Result<Vec<Vec<u32>>> {
    let (users, items) = scores.dims2("scores")?;
    if seen.len() != users {
        return Err(NnError::Shape {
            what: "seen items per user".into(),
            expected: vec![users],
            found: vec![seen.len()],
        });
    }
    Ok(rows(scores.data(), items).zip(seen).map(|(row, s)| top_k(row, k, s)).collect())
}

/// Mean over users with held-out items of `hits / min(k, held-out)`, the hits being the
/// recommended items (the first `k` of each list) that are held out for that user. With
/// `min(k, ...)` a perfect list scores 1 even for users with more than `k` held-out items.
pub fn recall_at_k(recommended: &[Vec<u32>], held_out: &[Vec<u32>], k: usize) -> Result<f64> {
    rank_metric(k, recommended, held_out, |rec, truth| {
        let hits = rec.iter().take(k).filter(|i| truth.contains(i)).count();
        hits as f64 / k.min(truth.len()) as f64
    })
}

/// Mean over users with held-out items of the NDCG of the first `k` recommendations with binary
/// relevance: `sum over hits at rank r (from 0) of 1 / log2(r + 2)`, divided by the same sum for
/// an ideal list (`min(k, held-out)` hits at the top).
pub fn ndcg_at_k(recommended: &[Vec<u32>], held_out: &[Vec<u32>], k: usize) -> Result<f64> {
    rank_metric(k, recommended, held_out, |rec, truth| {
        let gain = |r: usize| 1.0 / ((r + 2) as f64).log2();
        let dcg: f64 = rec.iter().take(k).enumerate().filter(|(_, i)| truth.contains(i)).map(|(r, _)| gain(r)).sum();
        let ideal: f64 = (0..k.min(truth.len())).map(gain).sum();
        dcg / ideal
    })
}

fn rank_metric(
    k: usize,
    recommended: &[Vec<u32>],
    held_out: &[Vec<u32>],
    f: impl Fn(&[u32], &[u32]) -> f64,
) -> Result<f64> {
    if k == 0 {
        return Err(NnError::InvalidArgument("a metric at k = 0 (no recommendation counted) is undefined".into()));
    }
    if recommended.len() != held_out.len() {
        return Err(NnError::Shape {
            what: "recommendation lists".into(),
            expected: vec![held_out.len()],
            found: vec![recommended.len()],
        });
    }
    let (mut total, mut users) = (0.0, 0usize);
    for (rec, truth) in recommended.iter().zip(held_out) {
        if !truth.is_empty() {
            total += f(rec, truth);
            users += 1;
        }
    }
    if users == 0 {
        return Err(NnError::InvalidArgument("no user has held-out items".into()));
    }
    Ok(total / users as f64)
}
