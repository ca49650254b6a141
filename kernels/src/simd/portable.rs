//! Portable vector math on `wide::f32x8` (the build's baseline features: SSE2, NEON,
//! simd128 or scalar): primitives and the derived math of `simd::derived_math!`. `exp` is
//! libm's, lane by lane: the portable tier favours exactness over speed in transcendentals
//! (the arithmetic, the reductions and the polynomial parts stay vectorised).

use wide::{f32x8, CmpGt, CmpLt};

pub(crate) type V = f32x8;
/// Lanes per vector.
pub(crate) const L: usize = 8;

/// `e^x` lane by lane with libm's `expf`.
#[inline(always)]
pub(crate) fn exp(x: V) -> V {
    f32x8::from(x.to_array().map(f32::exp))
}

/// `e^x` for `x <= 0` (softmax's `x - max`): `exp` itself here (libm).
#[inline(always)]
pub(crate) fn exp_le0(x: V) -> V {
    exp(x)
}

crate::simd::derived_math!();

#[inline(always)]
pub(crate) fn splat(x: f32) -> V {
    f32x8::splat(x)
}
#[inline(always)]
pub(crate) fn add(a: V, b: V) -> V {
    a + b
}
#[inline(always)]
pub(crate) fn sub(a: V, b: V) -> V {
    a - b
}
#[inline(always)]
pub(crate) fn mul(a: V, b: V) -> V {
    a * b
}
#[inline(always)]
pub(crate) fn div(a: V, b: V) -> V {
    a / b
}
/// `a*b + c` (fused where the build's baseline has FMA).
#[inline(always)]
pub(crate) fn fma(a: V, b: V, c: V) -> V {
    a.mul_add(b, c)
}
#[inline(always)]
pub(crate) fn min(a: V, b: V) -> V {
    a.min(b)
}
#[inline(always)]
pub(crate) fn max(a: V, b: V) -> V {
    a.max(b)
}
#[inline(always)]
pub(crate) fn abs(a: V) -> V {
    a.abs()
}
#[inline(always)]
pub(crate) fn lt(a: V, b: V) -> V {
    a.cmp_lt(b)
}
#[inline(always)]
pub(crate) fn gt(a: V, b: V) -> V {
    a.cmp_gt(b)
}
#[inline(always)]
pub(crate) fn is_nan(a: V) -> V {
    a.is_nan()
}
/// `m ? a : b` lane-wise (`m` from a comparison).
#[inline(always)]
pub(crate) fn select(m: V, a: V, b: V) -> V {
    m.blend(a, b)
}
#[inline(always)]
pub(crate) fn hsum(a: V) -> f32 {
    a.reduce_add()
}
#[inline(always)]
pub(crate) fn hmax(a: V) -> f32 {
    a.to_array().into_iter().fold(f32::NEG_INFINITY, f32::max)
}
/// # Safety
/// `p` valid for reading 8 f32.
#[inline(always)]
pub(crate) unsafe fn load(p: *const f32) -> V {
    // SAFETY: forwarded from the caller; read_unaligned has no alignment requirement.
    f32x8::from(unsafe { p.cast::<[f32; L]>().read_unaligned() })
}
/// # Safety
/// `p` valid for writing 8 f32.
#[inline(always)]
pub(crate) unsafe fn store(p: *mut f32, v: V) {
    // SAFETY: forwarded from the caller.
    unsafe { p.cast::<[f32; L]>().write_unaligned(v.to_array()) }
}
/// The first `n < 8` values at `p`, the other lanes `fill`.
///
/// # Safety
/// `p` valid for reading `n` f32.
#[inline(always)]
pub(crate) unsafe fn load_partial(p: *const f32, n: usize, fill: f32) -> V {
    let mut buf = [fill; L];
    // SAFETY: n < L values readable at p (caller), writable in buf.
    unsafe { core::ptr::copy_nonoverlapping(p, buf.as_mut_ptr(), n.min(L)) };
    f32x8::from(buf)
}
/// Stores the first `n < 8` lanes of `v` at `p`.
///
/// # Safety
/// `p` valid for writing `n` f32.
#[inline(always)]
pub(crate) unsafe fn store_partial(p: *mut f32, n: usize, v: V) {
    let buf = v.to_array();
    // SAFETY: n < L values writable at p (caller).
    unsafe { core::ptr::copy_nonoverlapping(buf.as_ptr(), p, n.min(L)) };
}
