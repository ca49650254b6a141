//! NEON vector math: primitives on `float32x4_t` (4 lanes, tails through a stack buffer),
//! `exp`, and the derived math of `simd::derived_math!` (sigmoid, tanh, GELUs, SiLU, clamp);
//! `activate` applies a GEMM epilogue activation. `fma` is the fused `fmla` (one rounding),
//! as on AVX2. Every function is compiled with `#[target_feature(enable = "neon")]`; callers
//! hold an `AvailableKernel` (or otherwise checked the CPU) before reaching them.

use crate::simd::{EXP_NORMAL_LIMIT, EXP_POLY, EXP_ROUND_MAGIC};
use core::arch::aarch64::*;

pub(crate) type V = float32x4_t;
/// Lanes per vector.
pub(crate) const L: usize = 4;

/// `e^x`: x = n ln2 + r, |r| <= ln2/2, degree-6 polynomial for e^r (`EXP_POLY`), times 2^n.
/// Vectors whose lanes all lie in [-87.33, 87.33] (or are NaN) take `exp_normal_range`'s single
/// scale; the others `exp_any_range`, which reaches subnormal results and overflow like libm.
#[target_feature(enable = "neon")]
#[inline]
pub(crate) fn exp(x: V) -> V {
    if vmaxvq_u32(vcagtq_f32(x, vdupq_n_f32(EXP_NORMAL_LIMIT))) != 0 {
        return exp_any_range(x);
    }
    exp_normal_range(x)
}

/// `e^x` for `x <= 0` or NaN (softmax's `x - max`): `exp` with the check on one side only.
#[target_feature(enable = "neon")]
#[inline]
pub(crate) fn exp_le0(x: V) -> V {
    if vmaxvq_u32(vcltq_f32(x, vdupq_n_f32(-EXP_NORMAL_LIMIT))) != 0 {
        return exp_any_range(x);
    }
    exp_normal_range(x)
}

/// `e^x` for |x| <= 87.33 or NaN, where 2^n is a normal float: n is rounded by adding
/// 1.5 * 2^23 + 127 (its low bits are then n + 127, shifted into the exponent: one scale, no
/// rounding instruction, no conversions).
#[target_feature(enable = "neon")]
#[inline]
fn exp_normal_range(x: V) -> V {
    let magic = vdupq_n_f32(EXP_ROUND_MAGIC);
    let biased = vfmaq_f32(magic, x, vdupq_n_f32(std::f32::consts::LOG2_E));
    let scale = vreinterpretq_f32_s32(vshlq_n_s32::<23>(vreinterpretq_s32_f32(biased)));
    let n = vsubq_f32(biased, magic);
    let r = vfmsq_f32(x, n, vdupq_n_f32(0.693_145_75));
    let r = vfmsq_f32(r, n, vdupq_n_f32(1.428_606_8e-6));
    let mut p = vdupq_n_f32(EXP_POLY[0]);
    for c in &EXP_POLY[1..] {
        p = vfmaq_f32(vdupq_n_f32(*c), p, r);
    }
    vmulq_f32(p, scale)
}

/// `e^x` for any x: 2^n built in the exponent bits as 2^(n/2) * 2^(n - n/2), so n may span
/// [-150, 128]: results near f32::MAX stay finite, larger ones overflow to +inf, tiny ones come
/// out subnormal or 0, like libm. NaN propagates (`fmax`/`fmin` return NaN when either operand
/// is NaN).
#[target_feature(enable = "neon")]
#[inline]
fn exp_any_range(x: V) -> V {
    let x = vminq_f32(vdupq_n_f32(88.8), vmaxq_f32(vdupq_n_f32(-104.0), x));
    let n = vrndnq_f32(vmulq_f32(x, vdupq_n_f32(std::f32::consts::LOG2_E)));
    let r = vfmsq_f32(x, n, vdupq_n_f32(0.693_145_75));
    let r = vfmsq_f32(r, n, vdupq_n_f32(1.428_606_8e-6));
    let mut p = vdupq_n_f32(EXP_POLY[0]);
    for c in &EXP_POLY[1..] {
        p = vfmaq_f32(vdupq_n_f32(*c), p, r);
    }
    // n is integral and in [-150, 128] (NaN converts to 0; p is NaN then).
    let ni = vcvtq_s32_f32(n);
    let n1 = vshrq_n_s32::<1>(ni);
    let n2 = vsubq_s32(ni, n1);
    let pow2 = |k: int32x4_t| vreinterpretq_f32_s32(vshlq_n_s32::<23>(vaddq_s32(k, vdupq_n_s32(127))));
    vmulq_f32(vmulq_f32(p, pow2(n1)), pow2(n2))
}

crate::simd::derived_math!(#[target_feature(enable = "neon")]);
crate::activation::vector_activate!(#[target_feature(enable = "neon")]);

#[target_feature(enable = "neon")]
#[inline]
pub(crate) fn splat(x: f32) -> V {
    vdupq_n_f32(x)
}
#[target_feature(enable = "neon")]
#[inline]
pub(crate) fn add(a: V, b: V) -> V {
    vaddq_f32(a, b)
}
#[target_feature(enable = "neon")]
#[inline]
pub(crate) fn sub(a: V, b: V) -> V {
    vsubq_f32(a, b)
}
#[target_feature(enable = "neon")]
#[inline]
pub(crate) fn mul(a: V, b: V) -> V {
    vmulq_f32(a, b)
}
#[target_feature(enable = "neon")]
#[inline]
pub(crate) fn div(a: V, b: V) -> V {
    vdivq_f32(a, b)
}
/// `a*b + c`, one rounding.
#[target_feature(enable = "neon")]
#[inline]
pub(crate) fn fma(a: V, b: V, c: V) -> V {
    vfmaq_f32(c, a, b)
}
#[target_feature(enable = "neon")]
#[inline]
pub(crate) fn min(a: V, b: V) -> V {
    vminq_f32(a, b)
}
#[target_feature(enable = "neon")]
#[inline]
pub(crate) fn max(a: V, b: V) -> V {
    vmaxq_f32(a, b)
}
#[target_feature(enable = "neon")]
#[inline]
pub(crate) fn abs(a: V) -> V {
    vabsq_f32(a)
}
#[target_feature(enable = "neon")]
#[inline]
pub(crate) fn lt(a: V, b: V) -> uint32x4_t {
    vcltq_f32(a, b)
}
#[target_feature(enable = "neon")]
#[inline]
pub(crate) fn gt(a: V, b: V) -> uint32x4_t {
    vcgtq_f32(a, b)
}
#[target_feature(enable = "neon")]
#[inline]
pub(crate) fn is_nan(a: V) -> uint32x4_t {
    vmvnq_u32(vceqq_f32(a, a))
}
/// `m ? a : b` lane-wise (`m` from a comparison).
#[target_feature(enable = "neon")]
#[inline]
pub(crate) fn select(m: uint32x4_t, a: V, b: V) -> V {
    vbslq_f32(m, a, b)
}
#[target_feature(enable = "neon")]
#[inline]
pub(crate) fn hsum(a: V) -> f32 {
    vaddvq_f32(a)
}
#[target_feature(enable = "neon")]
#[inline]
pub(crate) fn hmax(a: V) -> f32 {
    vmaxvq_f32(a)
}

/// # Safety
/// `p` valid for reading 4 f32.
#[target_feature(enable = "neon")]
#[inline]
pub(crate) unsafe fn load(p: *const f32) -> V {
    // SAFETY: forwarded from the caller; `ld1` needs only element (4-byte) alignment, which
    // every f32 pointer has.
    unsafe { vld1q_f32(p) }
}
/// # Safety
/// `p` valid for writing 4 f32.
#[target_feature(enable = "neon")]
#[inline]
pub(crate) unsafe fn store(p: *mut f32, v: V) {
    // SAFETY: forwarded from the caller.
    unsafe { vst1q_f32(p, v) }
}
/// The first `n < 4` values at `p`, the other lanes `fill` (copied through a stack buffer:
/// nothing past `p + n` is touched).
///
/// # Safety
/// `p` valid for reading `n` f32.
#[target_feature(enable = "neon")]
#[inline]
pub(crate) unsafe fn load_partial(p: *const f32, n: usize, fill: f32) -> V {
    let mut buf = [fill; L];
    // SAFETY: n < L values readable at p (caller), writable in buf.
    unsafe { core::ptr::copy_nonoverlapping(p, buf.as_mut_ptr(), n.min(L)) };
    // SAFETY: buf holds L values.
    unsafe { vld1q_f32(buf.as_ptr()) }
}
/// Stores the first `n < 4` lanes of `v` at `p`.
///
/// # Safety
/// `p` valid for writing `n` f32.
#[target_feature(enable = "neon")]
#[inline]
pub(crate) unsafe fn store_partial(p: *mut f32, n: usize, v: V) {
    let mut buf = [0.0f32; L];
    // SAFETY: buf holds L values.
    unsafe { vst1q_f32(buf.as_mut_ptr(), v) };
    // SAFETY: n < L values writable at p (caller).
    unsafe { core::ptr::copy_nonoverlapping(buf.as_ptr(), p, n.min(L)) };
}
