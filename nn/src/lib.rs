//! `lanes-nn`: layers and models on top of `lanes-kernels`.
//!
//! Work in progress: only a dense (fully-connected) layer exists so far.
#![forbid(unsafe_code)]

use lanes_kernels::{Activation, Epilogue, Gemm, KernelError, MatMut, MatRef, PackedB};

/// A fully-connected layer `y = act(x W + b)` with prepacked weights.
pub struct Dense {
    weights: PackedB,
    bias: Vec<f32>,
    activation: Activation,
}

impl Dense {
    /// `weights` is row-major `inputs x outputs`, `bias` has `outputs` entries.
    pub fn new(
        weights: &[f32],
        inputs: usize,
        outputs: usize,
        bias: Vec<f32>,
        activation: Activation,
    ) -> Result<Self, KernelError> {
        let w = MatRef::row_major(weights, inputs, outputs)?;
        let gemm = Gemm::new();
        Ok(Self { weights: gemm.pack_b(w)?, bias, activation })
    }

    /// Applies the layer to `batch` rows of `x` (row-major `batch x inputs`).
    pub fn forward(&self, x: &[f32], batch: usize) -> Result<Vec<f32>, KernelError> {
        let (inputs, outputs) = (self.weights.rows(), self.weights.cols());
        let a = MatRef::row_major(x, batch, inputs)?;
        let mut y = vec![0.0; batch * outputs];
        let c = MatMut::row_major(&mut y, batch, outputs)?;
        let epi = Epilogue { bias: Some(&self.bias), activation: self.activation };
        Gemm::new().run_packed(1.0, a, &self.weights, 0.0, c, &epi)?;
        Ok(y)
    }
}
