//! Optimisers: SGD with momentum and Adam/AdamW. State is kept per parameter name, so the
//! update is deterministic for a given model, data order and thread count.

use crate::model::Sequential;
use std::collections::BTreeMap;

/// Stochastic gradient descent with momentum: `v = mu v + g; w -= lr v`.
pub struct Sgd {
    /// Learning rate.
    pub lr: f32,
    /// Momentum (0: plain SGD).
    pub momentum: f32,
    velocity: BTreeMap<String, Vec<f32>>,
}

impl Sgd {
    /// SGD with learning rate `lr` and `momentum`.
    pub fn new(lr: f32, momentum: f32) -> Self {
        Sgd { lr, momentum, velocity: BTreeMap::new() }
    }

    /// One update of every parameter of `model` from its gradients.
    pub fn step(&mut self, model: &mut Sequential) {
        for p in model.params() {
            let v = self.velocity.entry(p.name).or_insert_with(|| vec![0.0; p.param.value.len()]);
            for ((w, &g), v) in p.param.value.iter_mut().zip(p.param.grad).zip(v.iter_mut()) {
                *v = self.momentum * *v + g;
                *w -= self.lr * *v;
            }
        }
    }
}

/// Adam, or AdamW with `weight_decay > 0` (decoupled decay).
pub struct Adam {
    /// Learning rate.
    pub lr: f32,
    /// First-moment decay.
    pub beta1: f32,
    /// Second-moment decay.
    pub beta2: f32,
    /// Added to the root of the second moment.
    pub eps: f32,
    /// Decoupled weight decay (AdamW); 0 for Adam.
    pub weight_decay: f32,
    t: i32,
    moments: BTreeMap<String, (Vec<f32>, Vec<f32>)>,
}

impl Adam {
    /// Adam with learning rate `lr` and the usual defaults (0.9, 0.999, 1e-8).
    pub fn new(lr: f32) -> Self {
        Adam { lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.0, t: 0, moments: BTreeMap::new() }
    }

    /// AdamW: Adam with decoupled weight decay.
    pub fn adamw(lr: f32, weight_decay: f32) -> Self {
        Adam { weight_decay, ..Self::new(lr) }
    }

    /// One update of every parameter of `model` from its gradients.
    pub fn step(&mut self, model: &mut Sequential) {
        self.t += 1;
        let (b1, b2) = (self.beta1, self.beta2);
        let (c1, c2) = (1.0 - b1.powi(self.t), 1.0 - b2.powi(self.t));
        for p in model.params() {
            let n = p.param.value.len();
            let (m, v) = self.moments.entry(p.name).or_insert_with(|| (vec![0.0; n], vec![0.0; n]));
            for (((w, &g), m), v) in p.param.value.iter_mut().zip(p.param.grad).zip(m.iter_mut()).zip(v.iter_mut()) {
                *m = b1 * *m + (1.0 - b1) * g;
                *v = b2 * *v + (1.0 - b2) * g * g;
                let update = (*m / c1) / ((*v / c2).sqrt() + self.eps);
                *w -= self.lr * (update + self.weight_decay * *w);
            }
        }
    }
}
