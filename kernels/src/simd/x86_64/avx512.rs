//! AVX-512F vector math: primitives on `__m512` (16 lanes, masked tails), `exp`, and the
//! derived math of `simd::derived_math!` (sigmoid, tanh, GELUs, SiLU, clamp); `activate`
//! applies a GEMM epilogue activation.

use crate::simd::EXP_POLY;
use core::arch::x86_64::*;

pub(crate) type V = __m512;
/// Lanes per vector.
pub(crate) const L: usize = 16;

/// `e^x`: x = n ln2 + r, |r| <= ln2/2, degree-6 polynomial for e^r (`EXP_POLY`), scaled by
/// 2^n with `vscalefps` (overflows to +inf, subnormal results and underflow to 0 like libm).
/// NaN propagates (`max`/`min` return their second operand, x, for NaN).
#[target_feature(enable = "avx512f")]
#[inline]
pub(crate) fn exp(x: __m512) -> __m512 {
    let x = _mm512_min_ps(_mm512_set1_ps(89.0), _mm512_max_ps(_mm512_set1_ps(-104.0), x));
    let n = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(_mm512_mul_ps(
        x,
        _mm512_set1_ps(std::f32::consts::LOG2_E),
    ));
    let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693_145_75), x);
    let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428_606_8e-6), r);
    let mut p = _mm512_set1_ps(EXP_POLY[0]);
    for c in &EXP_POLY[1..] {
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(*c));
    }
    _mm512_scalef_ps(p, n)
}

/// `e^x` for `x <= 0` (softmax's `x - max`): `exp` itself here (`vscalefps` already scales in one instruction).
#[target_feature(enable = "avx512f")]
#[inline]
pub(crate) fn exp_le0(x: V) -> V {
    exp(x)
}

crate::simd::derived_math!(#[target_feature(enable = "avx512f")]);
crate::activation::vector_activate!(#[target_feature(enable = "avx512f")]);

#[target_feature(enable = "avx512f")]
#[inline]
pub(crate) fn splat(x: f32) -> V {
    _mm512_set1_ps(x)
}
#[target_feature(enable = "avx512f")]
#[inline]
pub(crate) fn add(a: V, b: V) -> V {
    _mm512_add_ps(a, b)
}
#[target_feature(enable = "avx512f")]
#[inline]
pub(crate) fn sub(a: V, b: V) -> V {
    _mm512_sub_ps(a, b)
}
#[target_feature(enable = "avx512f")]
#[inline]
pub(crate) fn mul(a: V, b: V) -> V {
    _mm512_mul_ps(a, b)
}
#[target_feature(enable = "avx512f")]
#[inline]
pub(crate) fn div(a: V, b: V) -> V {
    _mm512_div_ps(a, b)
}
/// `a*b + c`, one rounding.
#[target_feature(enable = "avx512f")]
#[inline]
pub(crate) fn fma(a: V, b: V, c: V) -> V {
    _mm512_fmadd_ps(a, b, c)
}
#[target_feature(enable = "avx512f")]
#[inline]
pub(crate) fn min(a: V, b: V) -> V {
    _mm512_min_ps(a, b)
}
#[target_feature(enable = "avx512f")]
#[inline]
pub(crate) fn max(a: V, b: V) -> V {
    _mm512_max_ps(a, b)
}
#[target_feature(enable = "avx512f")]
#[inline]
pub(crate) fn abs(a: V) -> V {
    _mm512_abs_ps(a)
}
#[target_feature(enable = "avx512f")]
#[inline]
pub(crate) fn lt(a: V, b: V) -> __mmask16 {
    _mm512_cmp_ps_mask::<_CMP_LT_OQ>(a, b)
}
#[target_feature(enable = "avx512f")]
#[inline]
pub(crate) fn gt(a: V, b: V) -> __mmask16 {
    _mm512_cmp_ps_mask::<_CMP_GT_OQ>(a, b)
}
#[target_feature(enable = "avx512f")]
#[inline]
pub(crate) fn is_nan(a: V) -> __mmask16 {
    _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(a, a)
}
/// `m ? a : b` lane-wise.
#[target_feature(enable = "avx512f")]
#[inline]
pub(crate) fn select(m: __mmask16, a: V, b: V) -> V {
    _mm512_mask_blend_ps(m, b, a)
}
#[target_feature(enable = "avx512f")]
#[inline]
pub(crate) fn hsum(a: V) -> f32 {
    _mm512_reduce_add_ps(a)
}
#[target_feature(enable = "avx512f")]
#[inline]
pub(crate) fn hmax(a: V) -> f32 {
    _mm512_reduce_max_ps(a)
}

/// # Safety
/// `p` valid for reading 16 f32.
#[target_feature(enable = "avx512f")]
#[inline]
pub(crate) unsafe fn load(p: *const f32) -> V {
    // SAFETY: forwarded from the caller; loadu has no alignment requirement.
    unsafe { _mm512_loadu_ps(p) }
}
/// # Safety
/// `p` valid for writing 16 f32.
#[target_feature(enable = "avx512f")]
#[inline]
pub(crate) unsafe fn store(p: *mut f32, v: V) {
    // SAFETY: forwarded from the caller.
    unsafe { _mm512_storeu_ps(p, v) }
}
#[inline(always)]
fn tail_mask(n: usize) -> __mmask16 {
    ((1u32 << n.min(L)) - 1) as __mmask16
}
/// The first `n < 16` values at `p`, the other lanes `fill` (masked load: nothing past
/// `p + n` is touched).
///
/// # Safety
/// `p` valid for reading `n` f32.
#[target_feature(enable = "avx512f")]
#[inline]
pub(crate) unsafe fn load_partial(p: *const f32, n: usize, fill: f32) -> V {
    // SAFETY: masked-off lanes are not accessed (and cannot fault); the rest is in bounds.
    unsafe { _mm512_mask_loadu_ps(_mm512_set1_ps(fill), tail_mask(n), p) }
}
/// Stores the first `n < 16` lanes of `v` at `p` (masked store).
///
/// # Safety
/// `p` valid for writing `n` f32.
#[target_feature(enable = "avx512f")]
#[inline]
pub(crate) unsafe fn store_partial(p: *mut f32, n: usize, v: V) {
    // SAFETY: masked-off lanes are not accessed; the rest is in bounds.
    unsafe { _mm512_mask_storeu_ps(p, tail_mask(n), v) }
}
