//! What happens to a GEMM result before it is stored: `act(alpha*A*B + beta*C + bias)`.

use crate::activation::Activation;
use crate::error::KernelError;

/// Bias and activation applied after the matrix product.
#[derive(Clone, Copy, Debug, Default)]
pub struct Epilogue<'a> {
    /// One value per output column (length `n`), added before the activation.
    pub bias: Option<&'a [f32]>,
    /// Applied to every element last (after bias and `beta*C`), in registers.
    pub activation: Activation,
}

impl<'a> Epilogue<'a> {
    /// No bias, identity activation: a plain `alpha*A*B + beta*C`.
    pub const NONE: Epilogue<'static> = Epilogue { bias: None, activation: Activation::Identity };

    /// Bias (one value per output column) and activation; checked against the output when
    /// the GEMM runs ([`KernelError::LengthMismatch`] for a bias of the wrong length).
    pub fn new(bias: Option<&'a [f32]>, activation: Activation) -> Self {
        Self { bias, activation }
    }

    pub(crate) fn validate(&self, n: usize) -> Result<(), KernelError> {
        if let Some(b) = self.bias {
            if b.len() != n {
                return Err(KernelError::LengthMismatch { what: "bias", expected: n, found: b.len() });
            }
        }
        self.activation.validate()
    }
}
