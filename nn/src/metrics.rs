//! Metrics on held-out predictions: RMSE and R^2 for regression, accuracy and log-loss for
//! binary classification from logits.

use crate::error::{NnError, Result};

fn same_len(what: &str, a: usize, b: usize) -> Result<()> {
    if a != b || a == 0 {
        return Err(NnError::Shape { what: format!("{what} targets"), expected: vec![a], found: vec![b] });
    }
    Ok(())
}

/// Root mean squared error of `pred` against `target` (same non-zero length).
pub fn rmse(pred: &[f32], target: &[f32]) -> Result<f64> {
    same_len("RMSE", pred.len(), target.len())?;
    let sse: f64 = pred.iter().zip(target).map(|(&p, &t)| (f64::from(p) - f64::from(t)).powi(2)).sum();
    Ok((sse / pred.len() as f64).sqrt())
}

/// Coefficient of determination `1 - SS_res / SS_tot`, `SS_tot` around the mean of `target`
/// (as scikit-learn's `r2_score`): 1 is perfect, 0 is predicting the target's own mean.
pub fn r2(pred: &[f32], target: &[f32]) -> Result<f64> {
    same_len("R^2", pred.len(), target.len())?;
    let mean = target.iter().map(|&t| f64::from(t)).sum::<f64>() / target.len() as f64;
    let ss_res: f64 = pred.iter().zip(target).map(|(&p, &t)| (f64::from(p) - f64::from(t)).powi(2)).sum();
    let ss_tot: f64 = target.iter().map(|&t| (f64::from(t) - mean).powi(2)).sum();
    Ok(1.0 - ss_res / ss_tot)
}

/// Fraction of examples whose logit has the sign of its 0/1 label (logit > 0 predicts 1).
pub fn binary_accuracy(logits: &[f32], labels: &[f32]) -> Result<f64> {
    same_len("accuracy", logits.len(), labels.len())?;
    let right = logits.iter().zip(labels).filter(|&(&z, &t)| (z > 0.0) == (t > 0.5)).count();
    Ok(right as f64 / logits.len() as f64)
}

/// Mean log-loss (binary cross-entropy) of `logits` against 0/1 `labels`, in f64, computed
/// stably: `max(z, 0) - z t + ln(1 + e^-|z|)`.
pub fn log_loss(logits: &[f32], labels: &[f32]) -> Result<f64> {
    same_len("log-loss", logits.len(), labels.len())?;
    let total: f64 = logits
        .iter()
        .zip(labels)
        .map(|(&z, &t)| {
            let (z, t) = (f64::from(z), f64::from(t));
            z.max(0.0) - z * t + (-z.abs()).exp().ln_1p()
        })
        .sum();
    Ok(total / logits.len() as f64)
}
