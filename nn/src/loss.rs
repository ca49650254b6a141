//! Losses: each returns the mean loss over the batch and dLoss/dInput.

use crate::error::{NnError, Result};
use crate::tensor::{rows, Tensor};

/// Softmax cross-entropy of `logits` (`batch x classes`) against class `labels`: the mean of
/// `-log softmax(logits)[label]`, and its gradient `(softmax - onehot) / batch`.
pub fn softmax_cross_entropy(logits: &Tensor, labels: &[usize]) -> Result<(f32, Tensor)> {
    let (batch, classes) = logits.dims2("logits")?;
    if labels.len() != batch {
        return Err(NnError::Shape { what: "labels".into(), expected: vec![batch], found: vec![labels.len()] });
    }
    // Checked before the rows: with 0 classes there are no rows to find a label in.
    if let Some((i, &label)) = labels.iter().enumerate().find(|(_, &label)| label >= classes) {
        return Err(NnError::InvalidArgument(format!("label {label} of row {i} is not below {classes} classes")));
    }
    let mut grad = vec![0.0f32; batch * classes];
    let mut total = 0.0f64;
    for (i, (&label, row)) in labels.iter().zip(rows(logits.data(), classes)).enumerate() {
        let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
        let sum: f32 = row.iter().map(|&v| (v - max).exp()).sum();
        let log_sum = sum.ln();
        total += (log_sum - (row[label] - max)) as f64;
        let g = &mut grad[i * classes..(i + 1) * classes];
        for (j, (gj, &v)) in g.iter_mut().zip(row).enumerate() {
            *gj = ((v - max).exp() / sum - f32::from(j == label)) / batch as f32;
        }
    }
    Ok(((total / batch.max(1) as f64) as f32, Tensor::new(&[batch, classes], grad)?))
}

/// Mean squared error between `pred` and `target` (same shape) and its gradient.
pub fn mse(pred: &Tensor, target: &Tensor) -> Result<(f32, Tensor)> {
    if pred.shape() != target.shape() {
        return Err(NnError::Shape {
            what: "MSE target".into(),
            expected: pred.shape().to_vec(),
            found: target.shape().to_vec(),
        });
    }
    let n = pred.data().len().max(1) as f32;
    let mut total = 0.0f64;
    let grad = pred
        .data()
        .iter()
        .zip(target.data())
        .map(|(&p, &t)| {
            total += ((p - t) as f64).powi(2);
            2.0 * (p - t) / n
        })
        .collect();
    Ok(((total / n as f64) as f32, Tensor::new(pred.shape(), grad)?))
}

/// Binary cross-entropy of `logits` against 0/1 `targets` (same shape), computed stably from
/// logits: `max(z, 0) - z t + log(1 + e^-|z|)`; gradient `(sigmoid(z) - t) / n`.
pub fn binary_cross_entropy_with_logits(logits: &Tensor, targets: &Tensor) -> Result<(f32, Tensor)> {
    if logits.shape() != targets.shape() {
        return Err(NnError::Shape {
            what: "BCE target".into(),
            expected: logits.shape().to_vec(),
            found: targets.shape().to_vec(),
        });
    }
    let n = logits.data().len().max(1) as f32;
    let mut total = 0.0f64;
    let grad = logits
        .data()
        .iter()
        .zip(targets.data())
        .map(|(&z, &t)| {
            total += (z.max(0.0) - z * t + (-z.abs()).exp().ln_1p()) as f64;
            (1.0 / (1.0 + (-z).exp()) - t) / n
        })
        .collect();
    Ok(((total / n as f64) as f32, Tensor::new(logits.shape(), grad)?))
}
