//! What happens to a GEMM result before it is stored: `act(alpha*A*B + beta*C + bias)`.

use crate::error::KernelError;

/// An activation fused into the GEMM store.
///
/// NaN in the input propagates to the output for every activation. GELU uses the tanh
/// approximation (as in BERT/GPT-2): `0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3)))`.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub enum Activation {
    #[default]
    Identity,
    /// `max(x, 0)`.
    Relu,
    /// `min(max(x, min), max)`; ReLU6 is `Clamp { min: 0.0, max: 6.0 }`.
    Clamp { min: f32, max: f32 },
    /// GELU, tanh approximation.
    Gelu,
    /// SiLU / swish: `x * sigmoid(x)`.
    Silu,
}

impl Activation {
    pub const RELU6: Activation = Activation::Clamp { min: 0.0, max: 6.0 };

    /// The scalar definition every vector implementation is tested against.
    #[inline]
    pub fn apply(self, x: f32) -> f32 {
        match self {
            Activation::Identity => x,
            Activation::Relu => relu(x),
            Activation::Clamp { min, max } => clamp(x, min, max),
            Activation::Gelu => x * sigmoid(GELU_K * (x + GELU_C * x * x * x)),
            Activation::Silu => x * sigmoid(x),
        }
    }

    /// The clamp bounds as (lo, hi), for vector code: ReLU is `[0, +inf]`.
    /// (Unused in builds with no vector kernel, e.g. wasm without simd128.)
    #[cfg_attr(not(any(target_arch = "x86_64", target_feature = "simd128")), allow(dead_code))]
    pub(crate) fn bounds(self) -> (f32, f32) {
        match self {
            Activation::Relu => (0.0, f32::INFINITY),
            Activation::Clamp { min, max } => (min, max),
            _ => (f32::NEG_INFINITY, f32::INFINITY),
        }
    }

    pub(crate) fn validate(self) -> Result<(), KernelError> {
        if let Activation::Clamp { min, max } = self {
            if min.is_nan() || max.is_nan() || min > max {
                return Err(KernelError::InvalidArgument { what: "clamp bounds must be ordered and not NaN" });
            }
        }
        Ok(())
    }
}

/// `2*sqrt(2/pi)`: GELU(x) = x * sigmoid(GELU_K * (x + GELU_C x^3)).
pub(crate) const GELU_K: f32 = 1.595_769;
pub(crate) const GELU_C: f32 = 0.044_715;

#[inline]
fn relu(x: f32) -> f32 {
    clamp(x, 0.0, f32::INFINITY)
}

#[inline]
fn clamp(x: f32, lo: f32, hi: f32) -> f32 {
    // NaN propagates. The explicit test matters: built with relaxed-simd, LLVM vectorises the
    // two compare-and-selects into `f32x4.relaxed_min/max`, whose result for NaN is up to the
    // engine (V8 on x86 returned `hi` here; found by the wasm run of tests/gemm.rs).
    if x.is_nan() {
        x
    } else if x < lo {
        lo
    } else if x > hi {
        hi
    } else {
        x
    }
}

#[inline]
fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}

/// Bias and activation applied after the matrix product.
#[derive(Clone, Copy, Debug, Default)]
pub struct Epilogue<'a> {
    /// One value per output column (length `n`), added before the activation.
    pub bias: Option<&'a [f32]>,
    pub activation: Activation,
}

impl<'a> Epilogue<'a> {
    pub const NONE: Epilogue<'static> = Epilogue { bias: None, activation: Activation::Identity };

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
