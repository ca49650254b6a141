//! AVX2+FMA vector math: `exp`, `sigmoid` and the activations on `__m256`.

use crate::activation::{Activation, GELU_C, GELU_K};
use core::arch::x86_64::*;

/// Applies `act` lane-wise; NaN propagates (max/min return their second operand on NaN).
#[target_feature(enable = "avx2,fma")]
#[inline]
pub(crate) fn activate(x: __m256, act: Activation) -> __m256 {
    match act {
        Activation::Identity => x,
        Activation::Relu | Activation::Clamp { .. } => {
            let (lo, hi) = act.bounds();
            _mm256_min_ps(_mm256_set1_ps(hi), _mm256_max_ps(_mm256_set1_ps(lo), x))
        }
        Activation::Gelu => {
            let x3 = _mm256_mul_ps(_mm256_mul_ps(x, x), x);
            let z = _mm256_mul_ps(_mm256_set1_ps(GELU_K), _mm256_fmadd_ps(_mm256_set1_ps(GELU_C), x3, x));
            _mm256_mul_ps(x, sigmoid(z))
        }
        Activation::Silu => _mm256_mul_ps(x, sigmoid(x)),
    }
}

#[target_feature(enable = "avx2,fma")]
#[inline]
pub(crate) fn sigmoid(z: __m256) -> __m256 {
    let one = _mm256_set1_ps(1.0);
    _mm256_div_ps(one, _mm256_add_ps(one, exp(_mm256_sub_ps(_mm256_setzero_ps(), z))))
}

/// `e^x`: x = n ln2 + r, |r| <= ln2/2, degree-6 polynomial for e^r (rel. error < 2e-7),
/// times 2^n built in the exponent bits. x is clamped to [-87, 88.8] so n stays in
/// [-126, 128]: 2^128 is the bit pattern of +inf, so large inputs overflow to +inf like libm.
#[target_feature(enable = "avx2,fma")]
#[inline]
pub(crate) fn exp(x: __m256) -> __m256 {
    let x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.0)), _mm256_set1_ps(88.8));
    let n = _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(_mm256_mul_ps(
        x,
        _mm256_set1_ps(std::f32::consts::LOG2_E),
    ));
    let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693_145_75), x);
    let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.428_606_8e-6), r);
    let mut p = _mm256_set1_ps(1.0 / 720.0);
    for c in [1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0] {
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(c));
    }
    let pow2n =
        _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127))));
    _mm256_mul_ps(p, pow2n)
}
