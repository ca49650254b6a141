//! AVX2+FMA vector math: primitives on `__m256` (8 lanes, tails through a stack buffer),
//! `exp`, and the derived math of `simd::derived_math!` (sigmoid, tanh, GELUs, SiLU, clamp);
//! `activate` applies a GEMM epilogue activation.

use crate::simd::{EXP_NORMAL_LIMIT, EXP_POLY, EXP_ROUND_MAGIC};
use core::arch::x86_64::*;

pub(crate) type V = __m256;
/// Lanes per vector.
pub(crate) const L: usize = 8;

/// `e^x`: x = n ln2 + r, |r| <= ln2/2, degree-6 polynomial for e^r (`EXP_POLY`), times 2^n.
/// Vectors whose lanes all lie in [-87.33, 87.33] (or are NaN) take `exp_normal_range`'s single
/// scale; the others `exp_any_range`, which reaches subnormal results and overflow like libm.
#[target_feature(enable = "avx2,fma")]
#[inline]
pub(crate) fn exp(x: __m256) -> __m256 {
    let big = _mm256_cmp_ps::<_CMP_GT_OQ>(abs(x), _mm256_set1_ps(EXP_NORMAL_LIMIT));
    if _mm256_movemask_ps(big) != 0 {
        return exp_any_range(x);
    }
    exp_normal_range(x)
}

/// `e^x` for `x <= 0` or NaN (softmax's `x - max`): `exp` with the check on one side only.
#[target_feature(enable = "avx2,fma")]
#[inline]
pub(crate) fn exp_le0(x: __m256) -> __m256 {
    let tiny = _mm256_cmp_ps::<_CMP_LT_OQ>(x, _mm256_set1_ps(-EXP_NORMAL_LIMIT));
    if _mm256_movemask_ps(tiny) != 0 {
        return exp_any_range(x);
    }
    exp_normal_range(x)
}

/// `e^x` for |x| <= 87.33 or NaN, where 2^n is a normal float: n is rounded by adding
/// 1.5 * 2^23 + 127 (its low bits are then n + 127, shifted into the exponent: one scale, no
/// rounding instruction, no conversions).
#[target_feature(enable = "avx2,fma")]
#[inline]
fn exp_normal_range(x: __m256) -> __m256 {
    let magic = _mm256_set1_ps(EXP_ROUND_MAGIC);
    let biased = _mm256_fmadd_ps(x, _mm256_set1_ps(std::f32::consts::LOG2_E), magic);
    let scale = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_castps_si256(biased)));
    let n = _mm256_sub_ps(biased, magic);
    let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693_145_75), x);
    let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.428_606_8e-6), r);
    let mut p = _mm256_set1_ps(EXP_POLY[0]);
    for c in &EXP_POLY[1..] {
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(*c));
    }
    _mm256_mul_ps(p, scale)
}

/// `e^x` for any x: 2^n built in the exponent bits as 2^(n/2) * 2^(n - n/2), so n may span
/// [-150, 128]: results near f32::MAX stay finite, larger ones overflow to +inf, tiny ones
/// come out subnormal or 0, like libm. NaN propagates (`max`/`min` return their second
/// operand, x).
#[target_feature(enable = "avx2,fma")]
#[inline]
fn exp_any_range(x: __m256) -> __m256 {
    let x = _mm256_min_ps(_mm256_set1_ps(88.8), _mm256_max_ps(_mm256_set1_ps(-104.0), x));
    let n = _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(_mm256_mul_ps(
        x,
        _mm256_set1_ps(std::f32::consts::LOG2_E),
    ));
    let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693_145_75), x);
    let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.428_606_8e-6), r);
    let mut p = _mm256_set1_ps(EXP_POLY[0]);
    for c in &EXP_POLY[1..] {
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(*c));
    }
    let ni = _mm256_cvtps_epi32(n);
    let n1 = _mm256_srai_epi32::<1>(ni);
    let n2 = _mm256_sub_epi32(ni, n1);
    let pow2 = |k: __m256i| _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(k, _mm256_set1_epi32(127))));
    _mm256_mul_ps(_mm256_mul_ps(p, pow2(n1)), pow2(n2))
}

crate::simd::derived_math!(#[target_feature(enable = "avx2,fma")]);
crate::activation::vector_activate!(#[target_feature(enable = "avx2,fma")]);

#[target_feature(enable = "avx2,fma")]
#[inline]
pub(crate) fn splat(x: f32) -> V {
    _mm256_set1_ps(x)
}
#[target_feature(enable = "avx2,fma")]
#[inline]
pub(crate) fn add(a: V, b: V) -> V {
    _mm256_add_ps(a, b)
}
#[target_feature(enable = "avx2,fma")]
#[inline]
pub(crate) fn sub(a: V, b: V) -> V {
    _mm256_sub_ps(a, b)
}
#[target_feature(enable = "avx2,fma")]
#[inline]
pub(crate) fn mul(a: V, b: V) -> V {
    _mm256_mul_ps(a, b)
}
#[target_feature(enable = "avx2,fma")]
#[inline]
pub(crate) fn div(a: V, b: V) -> V {
    _mm256_div_ps(a, b)
}
/// `a*b + c`, one rounding.
#[target_feature(enable = "avx2,fma")]
#[inline]
pub(crate) fn fma(a: V, b: V, c: V) -> V {
    _mm256_fmadd_ps(a, b, c)
}
#[target_feature(enable = "avx2,fma")]
#[inline]
pub(crate) fn min(a: V, b: V) -> V {
    _mm256_min_ps(a, b)
}
#[target_feature(enable = "avx2,fma")]
#[inline]
pub(crate) fn max(a: V, b: V) -> V {
    _mm256_max_ps(a, b)
}
#[target_feature(enable = "avx2,fma")]
#[inline]
pub(crate) fn abs(a: V) -> V {
    _mm256_andnot_ps(_mm256_set1_ps(-0.0), a)
}
#[target_feature(enable = "avx2,fma")]
#[inline]
pub(crate) fn lt(a: V, b: V) -> V {
    _mm256_cmp_ps::<_CMP_LT_OQ>(a, b)
}
#[target_feature(enable = "avx2,fma")]
#[inline]
pub(crate) fn gt(a: V, b: V) -> V {
    _mm256_cmp_ps::<_CMP_GT_OQ>(a, b)
}
#[target_feature(enable = "avx2,fma")]
#[inline]
pub(crate) fn is_nan(a: V) -> V {
    _mm256_cmp_ps::<_CMP_UNORD_Q>(a, a)
}
/// `m ? a : b` lane-wise (`m` from a comparison).
#[target_feature(enable = "avx2,fma")]
#[inline]
pub(crate) fn select(m: V, a: V, b: V) -> V {
    _mm256_blendv_ps(b, a, m)
}
#[target_feature(enable = "avx2,fma")]
#[inline]
pub(crate) fn hsum(a: V) -> f32 {
    let s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps::<1>(a));
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    _mm_cvtss_f32(_mm_add_ss(s, _mm_shuffle_ps::<1>(s, s)))
}
#[target_feature(enable = "avx2,fma")]
#[inline]
pub(crate) fn hmax(a: V) -> f32 {
    let s = _mm_max_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps::<1>(a));
    let s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    _mm_cvtss_f32(_mm_max_ss(s, _mm_shuffle_ps::<1>(s, s)))
}

/// # Safety
/// `p` valid for reading 8 f32.
#[target_feature(enable = "avx2,fma")]
#[inline]
pub(crate) unsafe fn load(p: *const f32) -> V {
    // SAFETY: forwarded from the caller; loadu has no alignment requirement.
    unsafe { _mm256_loadu_ps(p) }
}
/// # Safety
/// `p` valid for writing 8 f32.
#[target_feature(enable = "avx2,fma")]
#[inline]
pub(crate) unsafe fn store(p: *mut f32, v: V) {
    // SAFETY: forwarded from the caller.
    unsafe { _mm256_storeu_ps(p, v) }
}
/// The first `n < 8` values at `p`, the other lanes `fill` (copied through a stack buffer:
/// nothing past `p + n` is touched).
///
/// # Safety
/// `p` valid for reading `n` f32.
#[target_feature(enable = "avx2,fma")]
#[inline]
pub(crate) unsafe fn load_partial(p: *const f32, n: usize, fill: f32) -> V {
    let mut buf = [fill; L];
    // SAFETY: n < L values readable at p (caller), writable in buf.
    unsafe { core::ptr::copy_nonoverlapping(p, buf.as_mut_ptr(), n.min(L)) };
    // SAFETY: buf holds L values.
    unsafe { _mm256_loadu_ps(buf.as_ptr()) }
}
/// Stores the first `n < 8` lanes of `v` at `p`.
///
/// # Safety
/// `p` valid for writing `n` f32.
#[target_feature(enable = "avx2,fma")]
#[inline]
pub(crate) unsafe fn store_partial(p: *mut f32, n: usize, v: V) {
    let mut buf = [0.0f32; L];
    // SAFETY: buf holds L values.
    unsafe { _mm256_storeu_ps(buf.as_mut_ptr(), v) };
    // SAFETY: n < L values writable at p (caller).
    unsafe { core::ptr::copy_nonoverlapping(buf.as_ptr(), p, n.min(L)) };
}
