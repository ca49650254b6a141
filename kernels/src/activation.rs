//! The one definition of each activation: its scalar form (the definition every vector
//! implementation is tested against: the shared vector math of `simd` on one lane) and its
//! derivative (for backward passes). `vector_activate!` gives each `simd/<arch>` module the
//! `activate` that every operation fusing an activation calls.

use crate::error::KernelError;
use crate::simd::scalar;

/// An activation, fused into a GEMM store or applied element-wise.
///
/// NaN in the input propagates to the output for every activation. `Gelu` is the tanh
/// approximation (GPT-2): `0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3)))`; `GeluErf` the exact
/// form (BERT, PyTorch's default): `x Phi(x)`.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub enum Activation {
    /// `x`.
    #[default]
    Identity,
    /// `max(x, 0)`.
    Relu,
    /// `min(max(x, min), max)`; ReLU6 is `Clamp { min: 0.0, max: 6.0 }`.
    Clamp {
        /// Lower bound.
        min: f32,
        /// Upper bound (`>= min`).
        max: f32,
    },
    /// GELU, tanh approximation.
    Gelu,
    /// GELU, exact: `x * Phi(x) = x/2 (1 + erf(x / sqrt 2))` (relative error below 1e-6).
    GeluErf,
    /// SiLU / swish: `x * sigmoid(x)`.
    Silu,
}

impl Activation {
    /// ReLU6, as in MobileNet.
    pub const RELU6: Activation = Activation::Clamp { min: 0.0, max: 6.0 };

    /// The scalar definition every vector implementation is tested against.
    #[inline]
    pub fn apply(self, x: f32) -> f32 {
        match self {
            Activation::Identity => x,
            Activation::Relu => clamp(x, 0.0, f32::INFINITY),
            Activation::Clamp { min, max } => clamp(x, min, max),
            Activation::Gelu => scalar::gelu_tanh(x),
            Activation::GeluErf => scalar::gelu_erf(x),
            Activation::Silu => scalar::silu(x),
        }
    }

    /// The derivative `d apply(x) / dx`, for backward passes. At the kinks of ReLU and clamp
    /// (x exactly on a bound) it is 0, as in PyTorch; NaN gives NaN.
    #[inline]
    pub fn derivative(self, x: f32) -> f32 {
        if x.is_nan() {
            return x;
        }
        match self {
            Activation::Identity => 1.0,
            Activation::Relu => f32::from(x > 0.0),
            Activation::Clamp { min, max } => f32::from(x > min && x < max),
            Activation::Gelu => {
                // d/dx [x s(z)] = s(z) + x s(z)(1 - s(z)) z'(x), z = K(x + C x^3).
                let z = GELU_K * (x + GELU_C * x * x * x);
                let s = scalar::sigmoid(z);
                s + x * s * (1.0 - s) * GELU_K * (1.0 + 3.0 * GELU_C * x * x)
            }
            Activation::GeluErf => {
                // Phi(x) + x phi(x); Phi = gelu_erf(x) / x away from 0.
                let pdf = (-0.5 * x * x).exp() * 0.398_942_3;
                let cdf = if x == 0.0 { 0.5 } else { scalar::gelu_erf(x) / x };
                cdf + x * pdf
            }
            Activation::Silu => {
                let s = scalar::sigmoid(x);
                s * (1.0 + x * (1.0 - s))
            }
        }
    }

    /// Identity, ReLU or clamp (no transcendental function).
    #[cfg_attr(not(target_feature = "simd128"), allow(dead_code))]
    pub(crate) fn is_piecewise_linear(self) -> bool {
        matches!(self, Activation::Identity | Activation::Relu | Activation::Clamp { .. })
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

    /// Clamp bounds must be ordered and not NaN.
    pub(crate) fn validate(self) -> Result<(), KernelError> {
        if let Activation::Clamp { min, max } = self {
            if min.is_nan() || max.is_nan() || min > max {
                return Err(KernelError::InvalidArgument { what: "clamp bounds must be ordered and not NaN" });
            }
        }
        Ok(())
    }
}

use crate::simd::{GELU_C, GELU_K};

// (Unused in builds with no vector ISA, e.g. wasm without simd128.)
#[cfg_attr(not(any(target_arch = "x86_64", target_arch = "aarch64", target_feature = "simd128")), allow(unused_macros))]
/// `activate(x, act)` for a `simd/<arch>` module, over that module's vector math (`clamp`,
/// `gelu_tanh`, `gelu_erf`, `silu`, `splat`, type `V`), with its `#[target_feature]`.
macro_rules! vector_activate {
    ($(#[$attr:meta])*) => {
        /// Applies a GEMM epilogue activation lane-wise; NaN propagates. (The scalar and
        /// portable tiers apply `Activation::apply` instead.) One match, inlined by LLVM into
        /// the kernels: splitting it as for wasm below made the AVX2 GEMM with ReLU 2.4x slower
        /// (MNIST MLP, Zen 3).
        #[cfg(not(target_arch = "wasm32"))]
        $(#[$attr])*
        #[inline]
        #[allow(dead_code)]
        pub(crate) fn activate(x: V, act: $crate::activation::Activation) -> V {
            use $crate::activation::Activation;
            match act {
                Activation::Identity => x,
                Activation::Relu | Activation::Clamp { .. } => {
                    let (lo, hi) = act.bounds();
                    clamp(x, splat(lo), splat(hi))
                }
                Activation::Gelu => gelu_tanh(x),
                Activation::GeluErf => gelu_erf(x),
                Activation::Silu => silu(x),
            }
        }

        /// wasm: `activate` always inlined, the transcendental ones behind a call
        /// (`activate_transcendental`): as a call, even the identity cost the depthwise
        /// convolution a call per output vector and the spill of every live register around it
        /// (V8 saves no XMM register across calls).
        #[cfg(target_arch = "wasm32")]
        #[inline(always)]
        #[allow(dead_code)]
        pub(crate) fn activate(x: V, act: $crate::activation::Activation) -> V {
            use $crate::activation::Activation;
            match act {
                Activation::Gelu | Activation::GeluErf | Activation::Silu => activate_transcendental(x, act),
                _ => activate_piecewise(x, act),
            }
        }

        /// wasm: `activate` for the identity, ReLU and clamp; GELU and SiLU pass through
        /// unchanged (a tile epilogue applies those in a second pass, with nothing live across
        /// the call).
        #[cfg(target_arch = "wasm32")]
        #[inline(always)]
        #[allow(dead_code)]
        pub(crate) fn activate_piecewise(x: V, act: $crate::activation::Activation) -> V {
            use $crate::activation::Activation;
            match act {
                Activation::Relu | Activation::Clamp { .. } => {
                    let (lo, hi) = act.bounds();
                    clamp(x, splat(lo), splat(hi))
                }
                _ => x,
            }
        }

        /// wasm: GELU (both forms) and SiLU for `activate`, out of line (inlined at every
        /// epilogue they doubled the module to 2.9 MiB for no measured gain).
        #[cfg(target_arch = "wasm32")]
        #[inline(never)]
        #[allow(dead_code)]
        fn activate_transcendental(x: V, act: $crate::activation::Activation) -> V {
            use $crate::activation::Activation;
            match act {
                Activation::Gelu => gelu_tanh(x),
                Activation::GeluErf => gelu_erf(x),
                _ => silu(x),
            }
        }
    };
}
#[cfg_attr(
    not(any(target_arch = "x86_64", target_arch = "aarch64", target_feature = "simd128")),
    allow(unused_imports)
)]
pub(crate) use vector_activate;

#[inline]
fn clamp(x: f32, lo: f32, hi: f32) -> f32 {
    // NaN propagates. The explicit test matters: built with relaxed-simd, LLVM vectorises the
    // two compare-and-selects into `f32x4.relaxed_min/max`, whose result for NaN is up to the
    // engine (docs/wasm.md).
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

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Activation; 6] = [
        Activation::Identity,
        Activation::Relu,
        Activation::RELU6,
        Activation::Gelu,
        Activation::GeluErf,
        Activation::Silu,
    ];

    #[test]
    fn derivative_matches_central_differences() {
        for act in ALL {
            for i in -60..=60 {
                let x = i as f64 * 0.1 + 0.05; // off the kinks of ReLU and clamp
                let h = 1e-3;
                let f = |x: f64| act.apply(x as f32) as f64;
                let fd = (f(x + h) - f(x - h)) / (2.0 * h);
                let d = act.derivative(x as f32) as f64;
                assert!((d - fd).abs() < 2e-3, "{act:?} at {x}: derivative {d}, finite difference {fd}");
            }
        }
    }

    #[test]
    fn nan_propagates_through_value_and_derivative() {
        for act in ALL {
            assert!(act.apply(f32::NAN).is_nan(), "{act:?}");
            assert!(act.derivative(f32::NAN).is_nan(), "{act:?}");
        }
    }
}
