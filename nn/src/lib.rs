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
        if bias.len() != outputs {
            return Err(KernelError::LengthMismatch { what: "bias", expected: outputs, found: bias.len() });
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_matches_hand_computation() {
        // 2 inputs -> 3 outputs, ReLU.
        let w = [1.0, -1.0, 0.5, 2.0, 1.0, -0.5];
        let layer = Dense::new(&w, 2, 3, vec![0.0, 0.5, -10.0], Activation::Relu).unwrap();
        let y = layer.forward(&[1.0, 2.0, -1.0, 0.0], 2).unwrap();
        // row 0: [1+4, -1+2+0.5, 0.5-1-10] -> relu; row 1: [-1, 1+0.5, -0.5-10] -> relu
        assert_eq!(y, vec![5.0, 1.5, 0.0, 0.0, 1.5, 0.0]);
    }

    #[test]
    fn dense_rejects_bad_shapes() {
        assert!(Dense::new(&[0.0; 5], 2, 3, vec![0.0; 3], Activation::Identity).is_err());
        assert!(matches!(
            Dense::new(&[0.0; 6], 2, 3, vec![0.0; 2], Activation::Identity),
            Err(KernelError::LengthMismatch { expected: 3, found: 2, .. })
        ));
        let layer = Dense::new(&[0.0; 6], 2, 3, vec![0.0; 3], Activation::Identity).unwrap();
        assert!(matches!(layer.forward(&[0.0; 3], 2), Err(KernelError::SliceTooShort { .. })));
    }
}
