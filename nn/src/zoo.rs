//! Ready-made architectures of the examples, shared with the benchmarks and the browser demo.

use crate::conv::{Conv2d, MaxPool2d, Reshape};
use crate::error::Result;
use crate::layers::{Act, Dropout, Linear};
use crate::model::Sequential;
use crate::train::TrainConfig;
use lanes_kernels::ops::conv::{Conv2dParams, Padding};

/// The MNIST multi-layer perceptron: 784-512-256-10, ReLU, dropout 0.2 (input: flat 784 pixels).
pub fn mnist_mlp() -> Result<Sequential> {
    Ok(Sequential::new()
        .push(Linear::new(784, 512, 1)?)
        .push(Act::relu())
        .push(Dropout::new(0.2, 11)?)
        .push(Linear::new(512, 256, 2)?)
        .push(Act::relu())
        .push(Dropout::new(0.2, 12)?)
        .push(Linear::new(256, 10, 3)?))
}

/// The MNIST CNN: conv 3x3 1->16 + ReLU + 2x2 max pool, conv 3x3 16->32 + ReLU + 2x2 max pool,
/// linear 1568->128 + ReLU + dropout 0.3, linear 128->10 (input: flat 784 pixels, read as a
/// 28x28x1 NHWC image).
pub fn mnist_cnn() -> Result<Sequential> {
    Ok(Sequential::new()
        .push(Reshape::new(&[28, 28, 1]))
        .push(Conv2d::new(Conv2dParams::new(1, 16, (3, 3)).padding(Padding::Same), 1)?)
        .push(Act::relu())
        .push(MaxPool2d::new(2)?)
        .push(Conv2d::new(Conv2dParams::new(16, 32, (3, 3)).padding(Padding::Same), 2)?)
        .push(Act::relu())
        .push(MaxPool2d::new(2)?)
        .push(Reshape::new(&[7 * 7 * 32]))
        .push(Linear::new(7 * 7 * 32, 128, 3)?)
        .push(Act::relu())
        .push(Dropout::new(0.3, 4)?)
        .push(Linear::new(128, 10, 5)?))
}

/// How the examples train [`mnist_mlp`]: Adam at 1e-3, batches of 64, random shifts of up to 2
/// pixels (8,000 images are few for a 784-input network), seed 7, a progress bar.
pub fn mnist_mlp_training(epochs: usize) -> TrainConfig {
    TrainConfig { epochs, batch: 64, lr: 1e-3, seed: 7, progress: true, image_side: 28, shift: 2 }
}

/// How the examples train [`mnist_cnn`]: as [`mnist_mlp_training`] with Adam at 2e-3.
pub fn mnist_cnn_training(epochs: usize) -> TrainConfig {
    TrainConfig { lr: 2e-3, ..mnist_mlp_training(epochs) }
}
