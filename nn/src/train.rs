//! A plain classification training loop: shuffled mini-batches, softmax cross-entropy, an
//! optimiser step per batch, progress output, accuracy on a held-out set.

use crate::data::Dataset;
use crate::error::{NnError, Result};
use crate::loss::softmax_cross_entropy;
use crate::model::Sequential;
use crate::optim::Adam;
use crate::progress::Progress;
// std's Instant panics on wasm32-unknown-unknown; web-time reads performance.now() there.
use web_time::Instant;

/// Settings of [`fit_classifier`].
#[derive(Clone, Copy, Debug)]
pub struct TrainConfig {
    /// Passes over the training set.
    pub epochs: usize,
    /// Examples per batch.
    pub batch: usize,
    /// Adam's learning rate.
    pub lr: f32,
    /// Seed of the batch order (epoch `e` uses `seed + e`).
    pub seed: u64,
    /// Show a progress bar.
    pub progress: bool,
    /// Square images of this side length get random shifts of up to `shift` pixels (0: none).
    pub image_side: usize,
    /// Largest random shift in pixels.
    pub shift: usize,
}

/// What one epoch gave.
#[derive(Clone, Copy, Debug)]
pub struct EpochReport {
    /// Mean training loss.
    pub loss: f32,
    /// Accuracy on the held-out set.
    pub accuracy: f32,
    /// Training examples per second.
    pub examples_per_s: f64,
}

/// Trains `model` on `train` with Adam, reporting after each epoch the accuracy on `test`.
pub fn fit_classifier(
    model: &mut Sequential,
    train: &Dataset,
    test: &Dataset,
    cfg: TrainConfig,
) -> Result<Vec<EpochReport>> {
    let mut adam = Adam::new(cfg.lr);
    let mut reports = Vec::new();
    for epoch in 0..cfg.epochs {
        // Cosine decay of the learning rate over the epochs.
        adam.lr = cfg.lr * 0.5 * (1.0 + (std::f32::consts::PI * epoch as f32 / cfg.epochs.max(1) as f32).cos());
        let batches = train.len().div_ceil(cfg.batch.max(1)) as u64;
        let mut progress =
            if cfg.progress { Progress::bar(batches, &format!("epoch {}", epoch + 1)) } else { Progress::silent() };
        let (loss, examples_per_s) = train_epoch(model, &mut adam, train, &cfg, epoch, &mut progress)?;
        progress.finish();
        let accuracy = accuracy(model, test)?;
        reports.push(EpochReport { loss, accuracy, examples_per_s });
    }
    Ok(reports)
}

/// One pass over `train` in shuffled batches (order from `cfg.seed + epoch`), one `adam` step
/// per batch, a `progress` step per batch. Returns the mean loss and examples per second.
pub fn train_epoch(
    model: &mut Sequential,
    adam: &mut Adam,
    train: &Dataset,
    cfg: &TrainConfig,
    epoch: usize,
    progress: &mut Progress,
) -> Result<(f32, f64)> {
    let batches = train.shuffled_batches(cfg.batch, cfg.seed + epoch as u64);
    let start = Instant::now();
    let mut total = 0.0f64;
    for (b, idx) in batches.iter().enumerate() {
        let (mut x, y) = train.batch(idx, b)?;
        if cfg.shift > 0 {
            crate::data::shift_augment(
                &mut x,
                cfg.image_side,
                cfg.image_side,
                cfg.shift,
                cfg.seed ^ ((epoch * 100_000 + b) as u64),
            )?;
        }
        let logits = model.forward(&x, true)?;
        let (loss, grad) = softmax_cross_entropy(&logits, &y)?;
        if !loss.is_finite() {
            return Err(NnError::NonFinite { what: "loss", batch: b });
        }
        total += loss as f64;
        model.backward(&grad)?;
        adam.step(model);
        progress.step("");
    }
    let examples_per_s = train.len() as f64 / start.elapsed().as_secs_f64();
    Ok(((total / batches.len().max(1) as f64) as f32, examples_per_s))
}

/// The fraction of `data` that `model` classifies right (inference mode, batches of 500).
pub fn accuracy(model: &mut Sequential, data: &Dataset) -> Result<f32> {
    let mut right = 0;
    let idx: Vec<usize> = (0..data.len()).collect();
    for (b, chunk) in idx.chunks(500).enumerate() {
        let (x, y) = data.batch(chunk, b)?;
        let pred = model.forward(&x, false)?.argmax_rows()?;
        right += pred.iter().zip(&y).filter(|(p, y)| p == y).count();
    }
    Ok(right as f32 / data.len().max(1) as f32)
}
