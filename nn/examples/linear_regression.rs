//! Linear regression on the diabetes data set (442 patients, 10 features; from scikit-learn's
//! wheel, extracted by scripts/setup.sh), two ways: (a) the closed form, least squares through
//! the normal equations (Gram matrix by lanes' GEMM, Cholesky solve with a tiny ridge term) and
//! (b) full-batch gradient descent with `Linear` + `loss::mse` + SGD with momentum. Features
//! are standardised with the training set's statistics; fixed split: the first 353 rows train,
//! the last 89 test. Reports test RMSE and R^2 of both and of the baseline that predicts the
//! training mean.
//!
//! `cargo run --release -p lanes-nn --example linear_regression [-- STEPS]` (default 3000)

use lanes_nn::data::{diabetes, sklearn_dir, DIABETES_FEATURES};
use lanes_nn::layers::Linear;
use lanes_nn::optim::Sgd;
use lanes_nn::{linalg, loss, metrics, NnError, Sequential, Tensor};

/// Test metrics of the three predictors.
#[derive(Clone, Copy, Debug)]
pub struct Report {
    /// Predicting the training mean: test RMSE and R^2.
    pub baseline: (f64, f64),
    /// Closed-form least squares: test RMSE and R^2.
    pub closed_form: (f64, f64),
    /// Gradient descent: test RMSE and R^2.
    pub gradient_descent: (f64, f64),
    /// Largest difference between a closed-form and a gradient-descent coefficient.
    pub max_coef_diff: f64,
}

const NAMES: [&str; DIABETES_FEATURES] = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"];

/// Loads the data, fits both ways (`steps` full-batch gradient steps) and evaluates.
pub fn run(steps: usize, verbose: bool) -> Result<Report, NnError> {
    let mut data = diabetes(&sklearn_dir())?;
    data.standardize()?;
    let (train, test) = (&data.train, &data.test);
    if verbose {
        println!("diabetes: {} training, {} test rows, {} features", train.len(), test.len(), train.features);
    }
    let (x_train, x_test) = (train.inputs_tensor()?, test.inputs_tensor()?);

    let mean = train.target_mean();
    let baseline_pred = vec![mean; test.len()];
    let baseline = (metrics::rmse(&baseline_pred, &test.targets)?, metrics::r2(&baseline_pred, &test.targets)?);

    // (a) Closed form. The ridge term only keeps the solve safe: 1e-6 of a diagonal entry
    // (each is the row count for standardised features).
    let (w, b) = linalg::least_squares(&x_train, &train.targets, 1e-6 * train.len() as f64)?;
    let mut closed = Sequential::new().push(Linear::from_weights(train.features, 1, w.clone(), vec![b])?);
    let pred = closed.forward(&x_test, false)?;
    let closed_form = (metrics::rmse(pred.data(), &test.targets)?, metrics::r2(pred.data(), &test.targets)?);

    // (b) Gradient descent on the standardised target (so one learning rate suits every
    // weight); predictions are scaled back.
    let sd =
        (train.targets.iter().map(|&t| f64::from(t - mean).powi(2)).sum::<f64>() / train.len() as f64).sqrt() as f32;
    let y = Tensor::new(&[train.len(), 1], train.targets.iter().map(|&t| (t - mean) / sd).collect())?;
    let mut model = Sequential::new().push(Linear::new(train.features, 1, 42)?);
    let mut sgd = Sgd::new(0.05, 0.9);
    for step in 0..steps {
        let (l, grad) = loss::mse(&model.forward(&x_train, true)?, &y)?;
        if !l.is_finite() {
            return Err(NnError::NonFinite { what: "training loss", batch: step });
        }
        model.backward(&grad)?;
        sgd.step(&mut model);
        if verbose && (step + 1) % (steps / 5).max(1) == 0 {
            println!("  GD step {:5}: training MSE {:.1}", step + 1, l * sd * sd);
        }
    }
    let pred: Vec<f32> = model.forward(&x_test, false)?.data().iter().map(|&p| p * sd + mean).collect();
    let gradient_descent = (metrics::rmse(&pred, &test.targets)?, metrics::r2(&pred, &test.targets)?);
    let params = model.params();
    let gd_w: Vec<f32> = params[0].param.value.iter().map(|&v| v * sd).collect();
    let gd_b = params[1].param.value[0] * sd + mean;
    let max_coef_diff = w.iter().zip(&gd_w).map(|(a, g)| f64::from((a - g).abs())).fold(0.0, f64::max);
    if verbose {
        println!("coefficients per standard deviation of each feature (closed form / gradient descent):");
        for ((name, a), g) in NAMES.iter().zip(&w).zip(&gd_w) {
            println!("  {name:>4}: {a:8.2} / {g:8.2}");
        }
        println!("  bias: {b:8.2} / {gd_b:8.2}");
    }
    Ok(Report { baseline, closed_form, gradient_descent, max_coef_diff })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let steps: usize = std::env::args().nth(1).map(|s| s.parse()).transpose()?.unwrap_or(3000);
    let r = run(steps, true)?;
    println!("test set (89 rows):          RMSE     R^2");
    println!("  training-mean baseline  {:7.2}  {:6.3}", r.baseline.0, r.baseline.1);
    println!("  closed form             {:7.2}  {:6.3}", r.closed_form.0, r.closed_form.1);
    println!("  gradient descent        {:7.2}  {:6.3}", r.gradient_descent.0, r.gradient_descent.1);
    let gap = 100.0 * (r.gradient_descent.0 / r.closed_form.0 - 1.0);
    println!(
        "gradient descent's test RMSE is {gap:+.2}% of the closed form's; largest coefficient difference {:.3}",
        r.max_coef_diff
    );
    Ok(())
}
