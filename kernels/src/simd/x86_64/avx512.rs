//! AVX-512F vector math: `exp`, `sigmoid` and the activations on `__m512`.

use crate::activation::{Activation, GELU_C, GELU_K};
use core::arch::x86_64::*;

/// Applies `act` lane-wise; NaN propagates (max/min return their second operand on NaN).
#[target_feature(enable = "avx512f")]
#[inline]
pub(crate) fn activate(x: __m512, act: Activation) -> __m512 {
    match act {
        Activation::Identity => x,
        Activation::Relu | Activation::Clamp { .. } => {
            let (lo, hi) = act.bounds();
            _mm512_min_ps(_mm512_set1_ps(hi), _mm512_max_ps(_mm512_set1_ps(lo), x))
        }
        Activation::Gelu => {
            let x3 = _mm512_mul_ps(_mm512_mul_ps(x, x), x);
            let z = _mm512_mul_ps(_mm512_set1_ps(GELU_K), _mm512_fmadd_ps(_mm512_set1_ps(GELU_C), x3, x));
            _mm512_mul_ps(x, sigmoid(z))
        }
        Activation::Silu => _mm512_mul_ps(x, sigmoid(x)),
    }
}

#[target_feature(enable = "avx512f")]
#[inline]
pub(crate) fn sigmoid(z: __m512) -> __m512 {
    let one = _mm512_set1_ps(1.0);
    _mm512_div_ps(one, _mm512_add_ps(one, exp(_mm512_sub_ps(_mm512_setzero_ps(), z))))
}

/// `e^x`: x = n ln2 + r, |r| <= ln2/2, degree-6 polynomial for e^r (rel. error < 2e-7),
/// scaled by 2^n with `vscalefps` (overflows to +inf, underflows to 0 like libm).
#[target_feature(enable = "avx512f")]
#[inline]
pub(crate) fn exp(x: __m512) -> __m512 {
    let x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-104.0)), _mm512_set1_ps(89.0));
    let n = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(_mm512_mul_ps(
        x,
        _mm512_set1_ps(std::f32::consts::LOG2_E),
    ));
    let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693_145_75), x);
    let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428_606_8e-6), r);
    let mut p = _mm512_set1_ps(1.0 / 720.0);
    for c in [1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0] {
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(c));
    }
    _mm512_scalef_ps(p, n)
}
