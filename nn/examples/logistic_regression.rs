//! Logistic regression on the Wisconsin Diagnostic Breast Cancer data set (569 tumours, 30
//! features; from scikit-learn's wheel, extracted by scripts/setup.sh): `Linear` with one
//! output + `loss::binary_cross_entropy_with_logits` + Adam on shuffled mini-batches.
//! Features are standardised with the training set's statistics; fixed split: the first 455
//! rows train, the last 114 test. Reports test accuracy and log-loss, and those of the baseline
//! that predicts the training set's majority class (benign) with its training frequency.
//!
//! `cargo run --release -p lanes-nn --example logistic_regression [-- EPOCHS]` (default 100)

use lanes_nn::data::{breast_cancer, sklearn_dir};
use lanes_nn::layers::Linear;
use lanes_nn::optim::Adam;
use lanes_nn::{loss, metrics, NnError, Sequential};

/// Test metrics of the model and of the majority-class baseline.
#[derive(Clone, Copy, Debug)]
pub struct Report {
    /// Baseline: test accuracy and log-loss.
    pub baseline: (f64, f64),
    /// Logistic regression: test accuracy and log-loss.
    pub model: (f64, f64),
    /// Logistic regression: training accuracy.
    pub train_accuracy: f64,
}

/// Loads the data, trains for `epochs` epochs (batches of 32, Adam at 0.01) and evaluates.
pub fn run(epochs: usize, verbose: bool) -> Result<Report, NnError> {
    let mut data = breast_cancer(&sklearn_dir())?;
    data.standardize()?;
    let (train, test) = (&data.train, &data.test);
    if verbose {
        println!("breast cancer: {} training, {} test rows, {} features", train.len(), test.len(), train.features);
    }

    // Baseline: the training frequency of benign (label 1) as a constant probability.
    let p = f64::from(train.target_mean());
    let logit = (p / (1.0 - p)).ln() as f32;
    let constant = vec![logit; test.len()];
    let baseline = (metrics::binary_accuracy(&constant, &test.targets)?, metrics::log_loss(&constant, &test.targets)?);

    let mut model = Sequential::new().push(Linear::new(train.features, 1, 7)?);
    let mut adam = Adam::new(0.01);
    for epoch in 0..epochs {
        let mut total = 0.0f64;
        let batches = train.shuffled_batches(32, 1000 + epoch as u64);
        for (i, idx) in batches.iter().enumerate() {
            let (x, y) = train.batch(idx)?;
            let (l, grad) = loss::binary_cross_entropy_with_logits(&model.forward(&x, true)?, &y)?;
            if !l.is_finite() {
                return Err(NnError::NonFinite { what: "training loss", batch: i });
            }
            total += f64::from(l) * idx.len() as f64;
            model.backward(&grad)?;
            adam.step(&mut model);
        }
        if verbose && (epoch + 1) % (epochs / 5).max(1) == 0 {
            println!("  epoch {:4}: training log-loss {:.4}", epoch + 1, total / train.len() as f64);
        }
    }
    let logits = model.forward(&test.inputs_tensor()?, false)?;
    let acc = metrics::binary_accuracy(logits.data(), &test.targets)?;
    let ll = metrics::log_loss(logits.data(), &test.targets)?;
    let train_logits = model.forward(&train.inputs_tensor()?, false)?;
    let train_accuracy = metrics::binary_accuracy(train_logits.data(), &train.targets)?;
    Ok(Report { baseline, model: (acc, ll), train_accuracy })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let epochs: usize = std::env::args().nth(1).map(|s| s.parse()).transpose()?.unwrap_or(100);
    let r = run(epochs, true)?;
    println!("test set (114 rows):       accuracy  log-loss");
    println!("  majority-class baseline   {:6.2}%   {:.4}", 100.0 * r.baseline.0, r.baseline.1);
    println!("  logistic regression       {:6.2}%   {:.4}", 100.0 * r.model.0, r.model.1);
    println!("training accuracy {:.2}% (target: test accuracy >= 95%)", 100.0 * r.train_accuracy);
    Ok(())
}
